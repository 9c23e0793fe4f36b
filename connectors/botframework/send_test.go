package botframework_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/botframework"
	"github.com/connector-gateway/connector/connectors/botframework/bftest"
)

// chat is the chat id of a Teams conversation on the fixture's service.
func (f *fixture) chat(conv string) string {
	return botframework.EncodeChatID(f.svc.URL(), conv, "msteams", bftest.Tenant)
}

func TestSendPostsToTheConversationsServiceURL(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	conv := "19:abc@thread.tacv2;messageid=1700000000001"
	d, err := f.cn.Send(ctx, f.conn, connectors.Outbound{ChatID: f.chat(conv), Text: "Hello *there*",
		Files: []connectors.OutFile{{URL: "https://files.example/a.pdf", Name: "a.pdf"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.cn.Send(ctx, f.conn, connectors.Outbound{ChatID: f.chat(conv), Text: "reply", ReplyTo: "1700000000005"}); err != nil {
		t.Fatal(err)
	}
	calls := f.svc.Calls()
	if len(calls) != 2 || len(d.MessageIDs) != 1 {
		t.Fatalf("calls %+v delivery %+v", calls, d)
	}
	c := calls[0]
	if c.Method != "POST" || c.Conversation != conv || c.ActivityID != "" || !strings.HasPrefix(c.Auth, "Bearer bf-access-") || !f.world.ValidAccessToken(strings.TrimPrefix(c.Auth, "Bearer ")) {
		t.Fatalf("call %+v", c)
	}
	if !strings.Contains(c.Path, "19:abc@thread.tacv2%3Bmessageid=1700000000001") {
		t.Fatalf("path %q: the conversation id must be one escaped segment", c.Path)
	}
	a := c.Activity
	atts, _ := a["attachments"].([]any)
	if a.Type() != "message" || a.Text() != "Hello *there*" || a["textFormat"] != "plain" || len(atts) != 1 {
		t.Fatalf("activity %+v", a)
	}
	if att := atts[0].(map[string]any); att["contentUrl"] != "https://files.example/a.pdf" || att["contentType"] != "application/pdf" {
		t.Fatalf("attachment %+v", att)
	}
	if from := a["from"].(map[string]any); from["id"] != "28:"+appID {
		t.Fatalf("from %+v", from)
	}
	if calls[1].ActivityID != "1700000000005" || calls[1].Activity["replyToId"] != "1700000000005" {
		t.Fatalf("reply call %+v", calls[1])
	}
	if n := f.world.TokenRequests(); n != 1 {
		t.Fatalf("%d token requests for two sends, want 1 (cached)", n)
	}
	// A retry after the message went out sends nothing.
	if _, err := f.cn.Send(ctx, f.conn, connectors.Outbound{ChatID: f.chat(conv), Text: "x", SentParts: 1}); err != nil || len(f.svc.Calls()) != 2 {
		t.Fatalf("retry of a sent message: %v, %d calls", err, len(f.svc.Calls()))
	}
}

// A chat id naming a host off the allow-list is refused before any token
// is sent anywhere.
func TestSendRefusesForeignServiceURL(t *testing.T) {
	f := newFixture(t)
	evil := botframework.EncodeChatID("https://attacker.example/", "a:1conv", "msteams", "")
	_, err := f.cn.Send(context.Background(), f.conn, connectors.Outbound{ChatID: evil, Text: "x"})
	var pe *connectors.PermanentError
	if !errors.As(err, &pe) || f.world.TokenRequests() != 0 {
		t.Fatalf("Send = %v; %d token requests", err, f.world.TokenRequests())
	}
	for _, bad := range []string{"https://botframework.com.attacker.example/", "http://smba.trafficmanager.net/amer/", "https://x.botframework.com@attacker.example/"} {
		id := botframework.EncodeChatID(bad, "c", "msteams", "")
		if _, err := f.cn.Send(context.Background(), f.conn, connectors.Outbound{ChatID: id, Text: "x"}); !errors.As(err, &pe) {
			t.Errorf("%s: %v", bad, err)
		}
	}
	if _, err := f.cn.Send(context.Background(), f.conn, connectors.Outbound{ChatID: "12345", Text: "x"}); !errors.As(err, &pe) {
		t.Errorf("not a chat id: %v", err)
	}
}

func TestSendErrors(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	chat := f.chat("a:1conv")
	send := func() error {
		_, err := f.cn.Send(ctx, f.conn, connectors.Outbound{ChatID: chat, Text: "x"})
		return err
	}
	f.svc.FailNext(http.StatusTooManyRequests, "7")
	var rl *connectors.RateLimitedError
	if err := send(); !errors.As(err, &rl) || rl.RetryAfter != 7*time.Second {
		t.Fatalf("429: %v", err)
	}
	f.svc.FailNext(http.StatusBadGateway, "")
	var pe *connectors.PermanentError
	if err := send(); err == nil || errors.As(err, &pe) || errors.As(err, &rl) {
		t.Fatalf("502 should be transient: %v", err)
	}
	f.svc.FailNext(http.StatusForbidden, "")
	if err := send(); !errors.As(err, &pe) || !strings.Contains(err.Error(), "may not write") {
		t.Fatalf("403: %v", err)
	}
	// A revoked token is replaced once.
	f.world.RevokeAccessTokens()
	if err := send(); err != nil {
		t.Fatalf("after revocation: %v", err)
	}
	if n := f.world.TokenRequests(); n != 2 {
		t.Fatalf("%d token requests, want 2", n)
	}
	// A wrong secret is permanent and names the cause.
	f.conn.Settings["app_password"] = "nope-secret-value"
	if err := send(); !errors.As(err, &pe) || !strings.Contains(err.Error(), "client secret") || strings.Contains(err.Error(), "nope-secret-value") {
		t.Fatalf("wrong secret: %v", err)
	}
}

func TestEditDeleteTyping(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	chat := f.chat("a:1conv")
	if d, err := f.cn.Edit(ctx, f.conn, connectors.Edit{ChatID: chat, MessageID: "1700000000007", Text: "fixed"}); err != nil || len(d.MessageIDs) != 1 {
		t.Fatalf("edit: %+v %v", d, err)
	}
	if err := f.cn.Delete(ctx, f.conn, connectors.Delete{ChatID: chat, MessageID: "1700000000007"}); err != nil {
		t.Fatal(err)
	}
	if err := f.cn.Typing(ctx, f.conn, chat); err != nil {
		t.Fatal(err)
	}
	c := f.svc.Calls()
	if len(c) != 3 || c[0].Method != "PUT" || c[0].ActivityID != "1700000000007" || c[0].Activity.Text() != "fixed" ||
		c[1].Method != "DELETE" || c[1].ActivityID != "1700000000007" ||
		c[2].Method != "POST" || c[2].Activity.Type() != "typing" {
		t.Fatalf("calls %+v", c)
	}
}

func TestTestConnection(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	rep, err := f.cn.Test(ctx, f.conn)
	if err != nil || !rep.OK || len(rep.Checks) != 2 || !strings.Contains(rep.Checks[1].Detail, f.conn.EntryURL) {
		t.Fatalf("good credentials: %+v %v", rep, err)
	}
	for name, tc := range map[string]struct {
		key, value, want string
	}{
		"wrong secret": {"app_password", "nope", "password"},
		"unknown app":  {"app_id", "11111111-2222-4333-8444-555555555555", "App ID"},
		"wrong tenant": {"tenant_id", "99999999-2222-4333-8444-555555555555", "tenant"},
	} {
		c := f.conn
		c.Settings = connectors.Settings{}
		for k, v := range f.conn.Settings {
			c.Settings[k] = v
		}
		c.Settings[tc.key] = tc.value
		rep, err := f.cn.Test(ctx, c)
		if err != nil || rep.OK || rep.Checks[0].OK || !strings.Contains(rep.Checks[0].Detail, tc.want) || rep.Checks[0].Fix == "" {
			t.Errorf("%s: %+v %v", name, rep, err)
		}
		if strings.Contains(rep.Checks[0].Detail, "nope") {
			t.Errorf("%s: the secret is in the report", name)
		}
	}
	c := f.conn
	c.EntryURL = ""
	if rep, _ := f.cn.Test(ctx, c); rep.OK || rep.Checks[1].OK {
		t.Fatalf("no public URL: %+v", rep)
	}
	c.EntryURL = "http://gateway.example/hook/h1"
	if rep, _ := f.cn.Test(ctx, c); rep.OK || rep.Checks[1].OK || !strings.Contains(rep.Checks[1].Detail, "HTTPS") {
		t.Fatalf("http entry URL: %+v", rep)
	}
	c.Settings = connectors.Settings{"app_id": appID}
	before := f.world.TokenRequests()
	if rep, err := f.cn.Test(ctx, c); err != nil || rep.OK || rep.Checks[0].Fix == "" || f.world.TokenRequests() != before {
		t.Fatalf("no password: %+v %v (%d token requests)", rep, err, f.world.TokenRequests())
	}
}

func TestValidateSettingsAndBotKey(t *testing.T) {
	f := newFixture(t)
	s, err := f.cn.ValidateSettings(connectors.Settings{"app_id": " 8F1A2B3C-4D5E-4F60-8A7B-9C0D1E2F3A4B ", "app_password": "x", "channels": "WebChat, msteams,,msteams"})
	if err != nil || s["app_id"] != appID || s["channels"] != "msteams,webchat" || s["accept_emulator"] != "false" || s["tenant_id"] != "" {
		t.Fatalf("%v %v", s, err)
	}
	_, err = f.cn.ValidateSettings(connectors.Settings{"app_id": "not-a-guid", "channels": "ms teams", "tenant_id": "bad tenant!", "accept_emulator": "maybe"})
	var fe connectors.FieldErrors
	if !errors.As(err, &fe) || len(fe) != 5 {
		t.Fatalf("bad settings: %v", err)
	}
	key, err := f.cn.BotKey(context.Background(), f.conn)
	if err != nil || key != "botframework:"+appID {
		t.Fatalf("BotKey %q %v", key, err)
	}
}
