package slack_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/connectortest"
	"github.com/connector-gateway/connector/connectors/slack/slacktest"
)

func checkNamed(t *testing.T, r connectors.TestReport, name string) connectors.Check {
	t.Helper()
	for _, c := range r.Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check %q in %+v", name, r.Checks)
	return connectors.Check{}
}

func TestTestConnectionEventsMode(t *testing.T) {
	cn, c, srv := setup(t)
	r, err := cn.Test(t.Context(), c)
	if err != nil || !r.OK {
		t.Fatalf("Test = %+v, %v", r, err)
	}
	if ch := checkNamed(t, r, "Bot token"); !strings.Contains(ch.Detail, "@helpdesk") || !strings.Contains(ch.Detail, slacktest.TeamID) {
		t.Fatalf("bot token check = %+v", ch)
	}
	ev := checkNamed(t, r, "Event delivery")
	if !strings.Contains(ev.Detail, entryURL) || !strings.Contains(ev.Detail, "No signed request") {
		t.Fatalf("event delivery check before any request = %+v", ev)
	}
	// Reading scopes that are missing are named, without failing the test.
	srv.SetScopes("chat:write,im:history")
	r, _ = cn.Test(t.Context(), c)
	if ch := checkNamed(t, r, "Permissions"); !r.OK || !strings.Contains(ch.Detail, "users:read (customers' names and pictures)") || strings.Contains(ch.Detail, " im:history") {
		t.Fatalf("permissions with few scopes = %+v", ch)
	}
	srv.SetScopes(slacktest.Scopes)
	// Once Slack reached the entry URL, the test says so.
	if _, err := post(t, cn, c, slacktest.URLVerification("abc"), time.Now()); err != nil {
		t.Fatal(err)
	}
	r, _ = cn.Test(t.Context(), c)
	if ev := checkNamed(t, r, "Event delivery"); !strings.Contains(ev.Detail, "last signed request reached") {
		t.Fatalf("event delivery check after a request = %+v", ev)
	}
}

func TestTestConnectionFailuresSayWhatToDo(t *testing.T) {
	cn, c, srv := setup(t)
	cases := []struct {
		name  string
		conn  connectors.Conn
		prep  func()
		check string
		says  string
	}{
		{"wrong bot token", connectortest.WithSettings(c, "bot_token", "xoxb-0000000000-nope"), nil, "Bot token", "does not accept the token"},
		{"revoked", c, func() { srv.FailNext("auth.test", 1, "token_revoked") }, "Bot token", "token_revoked"},
		{"no chat:write", c, func() { srv.SetScopes("im:history,users:read") }, "Permissions", "chat:write"},
		{"no public URL", func() connectors.Conn { x := c; x.EntryURL = ""; return x }(), nil, "Event delivery", "no public URL"},
		{"verification token for secret", connectortest.WithSettings(c, "signing_secret", "Jhj5dZrVaK7ZwHHjRyZWjbDl"), nil, "Signing secret", "32 hexadecimal"},
		{"socket: wrong app token", connectortest.WithSettings(c, "mode", "socket", "app_token", "xapp-1-A0-nope-nope"), nil, "Socket Mode", "does not accept the app-level token"},
		{"socket: bot token as app token", connectortest.WithSettings(c, "mode", "socket", "app_token", botToken), nil, "Socket Mode", "cannot open Socket Mode"},
		{"Slack down", c, func() { srv.ServerErrorNext("auth.test", 1, 503) }, "Bot token", "could not reach Slack"},
	}
	for _, tc := range cases {
		srv.SetScopes(slacktest.Scopes)
		if tc.prep != nil {
			tc.prep()
		}
		r, err := cn.Test(t.Context(), tc.conn)
		if err != nil {
			t.Fatalf("%s: Test error %v (failures are checks, not errors)", tc.name, err)
		}
		ch := checkNamed(t, r, tc.check)
		if r.OK || ch.OK || ch.Fix == "" || !strings.Contains(ch.Detail+ch.Fix, tc.says) {
			t.Errorf("%s: report OK=%v, check %+v; want it failed, saying %q, with a fix", tc.name, r.OK, ch, tc.says)
		}
		text := ch.Detail + ch.Fix
		if strings.Contains(text, botToken) || strings.Contains(text, appToken) || strings.Contains(text, "nope") {
			t.Errorf("%s: a token shows in the report: %+v", tc.name, ch)
		}
	}
	// Socket mode with a working app token.
	r, _ := cn.Test(t.Context(), connectortest.WithSettings(c, "mode", "socket"))
	if ch := checkNamed(t, r, "Socket Mode"); !r.OK || !ch.OK {
		t.Fatalf("socket mode test = %+v", r)
	}
}

func TestActivate(t *testing.T) {
	cn, c, _ := setup(t)
	if err := cn.Activate(t.Context(), c); err != nil {
		t.Fatalf("events mode: %v", err)
	}
	if err := cn.Activate(t.Context(), connectortest.WithSettings(c, "mode", "socket")); !errors.Is(err, connectors.ErrNeedsPolling) {
		t.Fatalf("socket mode: %v, want ErrNeedsPolling", err)
	}
	var refused *connectors.PermanentError
	if err := cn.Activate(t.Context(), connectortest.WithSettings(c, "mode", "socket", "app_token", "xapp-1-A0-revoked-0000")); !errors.As(err, &refused) || errors.Is(err, connectors.ErrNeedsPolling) {
		t.Fatalf("socket mode, refused app token: %v", err)
	}
	noURL := c
	noURL.EntryURL = ""
	if err := cn.Activate(t.Context(), noURL); err == nil || !strings.Contains(err.Error(), "public URL") {
		t.Fatalf("events mode without public URL: %v", err)
	}
	var pe *connectors.PermanentError
	if err := cn.Activate(t.Context(), connectortest.WithSettings(c, "bot_token", "xoxb-0000000000-nope")); !errors.As(err, &pe) || !strings.Contains(err.Error(), "invalid_auth") {
		t.Fatalf("wrong token: %v", err)
	}
	if err := cn.Deactivate(t.Context(), c); err != nil {
		t.Fatalf("Deactivate: %v", err)
	}
}

// The same app in the same workspace has one key, whatever the token.
func TestBotKey(t *testing.T) {
	cn, c, srv := setup(t)
	key, err := cn.BotKey(t.Context(), c)
	if err != nil || key != "slack:"+slacktest.TeamID+":"+slacktest.BotID {
		t.Fatalf("BotKey = %q, %v", key, err)
	}
	srv.FailNext("auth.test", 1, "invalid_auth")
	if _, err := cn.BotKey(t.Context(), c); err == nil {
		t.Fatal("BotKey with a refused token succeeded")
	}
}
