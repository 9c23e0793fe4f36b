package telegram_test

import (
	"strings"
	"testing"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/connectortest"
)

func findCheck(r connectors.TestReport, name string) (connectors.Check, bool) {
	for _, c := range r.Checks {
		if c.Name == name {
			return c, true
		}
	}
	return connectors.Check{}, false
}

func TestTestGoodToken(t *testing.T) {
	cn, c, srv := setup(t)
	r, err := cn.Test(t.Context(), c)
	if err != nil {
		t.Fatalf("Test: %v", err)
	}
	if !r.OK || len(r.Checks) != 2 {
		t.Fatalf("report = %+v, want OK with 2 checks", r)
	}
	tok, _ := findCheck(r, "Bot token")
	if !tok.OK || !strings.Contains(tok.Detail, "@test_bot") {
		t.Errorf("token check = %+v, want the bot's username", tok)
	}
	hook, _ := findCheck(r, "Webhook")
	if !hook.OK || !strings.Contains(hook.Detail, "0 update(s) waiting") {
		t.Errorf("webhook check = %+v", hook)
	}
	if len(srv.Calls("getMe")) != 1 || len(srv.Calls("getWebhookInfo")) != 1 {
		t.Errorf("calls: getMe %d, getWebhookInfo %d", len(srv.Calls("getMe")), len(srv.Calls("getWebhookInfo")))
	}
}

func TestTestWrongToken(t *testing.T) {
	cn, c, srv := setup(t)
	wrong := connectortest.WithSettings(c, "bot_token", "987654321:AAWrongTokenForTests_abcdefghijklmn")
	r, err := cn.Test(t.Context(), wrong)
	if err != nil {
		t.Fatalf("Test returned an error for a Telegram-side failure: %v", err)
	}
	if r.OK || len(r.Checks) != 1 {
		t.Fatalf("report = %+v, want not OK with only the token check", r)
	}
	ch := r.Checks[0]
	if ch.OK || ch.Name != "Bot token" || ch.Fix != "Copy the token again from @BotFather" {
		t.Errorf("check = %+v", ch)
	}
	if n := len(srv.Calls("getMe")); n != 0 {
		t.Errorf("fake recorded %d getMe calls with the right token", n)
	}
}

func TestTestWebhookElsewhere(t *testing.T) {
	cn, c, _ := setup(t)
	other := c
	other.EntryURL = "https://other.example.org/bot"
	if err := cn.Activate(t.Context(), other); err != nil {
		t.Fatal(err)
	}
	r, err := cn.Test(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	hook, ok := findCheck(r, "Webhook")
	if r.OK || !ok || hook.OK || hook.Fix == "" || !strings.Contains(hook.Detail, other.EntryURL) {
		t.Errorf("report = %+v, want a failed webhook check naming %s", r, other.EntryURL)
	}
}

func TestTestDeliveryTrouble(t *testing.T) {
	cn, c, srv := setup(t)
	if err := cn.Activate(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	srv.SetDeliveryTrouble(12, "Wrong response from the webhook: 502 Bad Gateway")
	r, err := cn.Test(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	hook, _ := findCheck(r, "Webhook")
	if r.OK || hook.OK || hook.Fix == "" {
		t.Errorf("report = %+v, want a failed webhook check", r)
	}
	for _, want := range []string{entryURL, "12 update(s) waiting", "502 Bad Gateway"} {
		if !strings.Contains(hook.Detail, want) {
			t.Errorf("webhook detail %q lacks %q", hook.Detail, want)
		}
	}
}

func TestTestUnreachable(t *testing.T) {
	cn, c, srv := setup(t)
	srv.Close()
	r, err := cn.Test(t.Context(), c)
	if err != nil {
		t.Fatalf("Test: %v", err)
	}
	if r.OK || len(r.Checks) != 1 || r.Checks[0].Fix == "" {
		t.Fatalf("report = %+v, want one failed check with a fix", r)
	}
	if strings.Contains(r.Checks[0].Detail, token) {
		t.Errorf("detail leaks the token: %q", r.Checks[0].Detail)
	}
}

func TestTestEmptyToken(t *testing.T) {
	cn, c, _ := setup(t)
	r, err := cn.Test(t.Context(), connectortest.WithSettings(c, "bot_token", ""))
	if err != nil || r.OK || len(r.Checks) != 1 || !strings.Contains(r.Checks[0].Fix, "@BotFather") {
		t.Errorf("report = %+v, %v", r, err)
	}
}

func TestTestEntryURLTelegramCannotUse(t *testing.T) {
	cn, c, _ := setup(t)
	for name, tc := range map[string]struct{ url, want string }{
		"no public URL": {"", "no public URL"},
		"plain HTTP":    {"http://gw.example.com/hook/h4sh", "only over HTTPS"},
		"odd port":      {"https://gw.example.com:8080/hook/h4sh", "port 8080"},
	} {
		conn := c
		conn.EntryURL = tc.url
		r, err := cn.Test(t.Context(), conn)
		if err != nil {
			t.Fatal(err)
		}
		hook, _ := findCheck(r, "Webhook")
		if r.OK || hook.OK || hook.Fix == "" || !strings.Contains(hook.Detail, tc.want) {
			t.Errorf("%s: webhook check = %+v, want a failure saying %q", name, hook, tc.want)
		}
	}
	// Polling needs no URL at all.
	polling := connectortest.WithSettings(c, "mode", "polling")
	polling.EntryURL = ""
	if r, err := cn.Test(t.Context(), polling); err != nil || !r.OK {
		t.Errorf("polling without URL: %+v, %v", r, err)
	}
}

func TestTestUnreachableWebhookInPlainWords(t *testing.T) {
	cn, c, srv := setup(t)
	if err := cn.Activate(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	srv.SetDeliveryTrouble(3, "Connection timed out")
	r, _ := cn.Test(t.Context(), c)
	hook, _ := findCheck(r, "Webhook")
	if hook.OK || !strings.Contains(hook.Detail, "cannot reach the gateway") {
		t.Errorf("webhook check = %+v", hook)
	}
	srv.SetDeliveryTrouble(3, "SSL error {error:14094418:SSL routines:ssl3_read_bytes:tlsv1 alert unknown ca}")
	r, _ = cn.Test(t.Context(), c)
	hook, _ = findCheck(r, "Webhook")
	if hook.OK || !strings.Contains(hook.Detail, "certificate") {
		t.Errorf("webhook check = %+v", hook)
	}
}
