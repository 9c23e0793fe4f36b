package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/connector-gateway/connector/api/console/consoletest"
	"github.com/connector-gateway/connector/api/demo"
	"github.com/connector-gateway/connector/connectors/telegram/telegramtest"
	"github.com/connector-gateway/connector/queue/queuetest"
)

// demoGateway runs the gateway as `connector demo` does: the demo on, the
// public URL the gateway's own loopback address.
func demoGateway(t *testing.T, b queuetest.Backend) *gateway {
	t.Helper()
	cfg := testConfig(b, b.DSN(t), "http://127.0.0.1:1/bot%s/%s")
	cfg.Addr = freeAddr(t)
	cfg.PublicURL = "http://" + cfg.Addr
	cfg.Console.AdminPassword = consolePassword
	cfg.Demo.Enabled = true
	g := startGateway(t, cfg)
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(g.URL + demo.SitePath)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(body), `data-widget="`) {
				return g
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the demo site never carried the widget (%v)", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The demo, in two real browsers: a visitor on the demo site writes in
// the widget; the agent, signed in to the console, sees it in the demo
// inbox (which received it as a signed batch) and answers; the answer
// (a signed API call) shows up in the visitor's widget.
func TestDemoRoundTripInBrowser(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b queuetest.Backend) {
		g := demoGateway(t, b)
		ctx := context.Background()

		// The demo made a portal of its own whose webhook is the gateway's
		// loopback /demo/batches: the real signed path.
		ps, err := g.app.Store().Records.ListPortals(ctx)
		if err != nil || len(ps) != 1 || ps[0].Name != demo.PortalName || ps[0].WebhookURL != g.URL+demo.BatchesPath {
			t.Fatalf("portals = %+v, %v", ps, err)
		}

		visitor := consoletest.NewBrowser(t)
		visitor.Open("open the demo site", g.URL+demo.SitePath, "cgw-chat")
		visitor.WaitFor("the widget connects", jsState+` === 'connected'`, 20*time.Second)
		visitor.Do("open the chat", chromedp.Click(launcher()))
		question := "Hello from the demo site, is my teapot ready?"
		visitor.Do("write", chromedp.SendKeys(composer(), question+"\r"))
		visitor.WaitFor("the visitor's message shows", jsShows(question), 10*time.Second)

		agent := consoletest.NewBrowser(t)
		agent.Open("the demo inbox asks for a sign-in", g.URL+"/demo/", "#username")
		if loc := agent.Location(); !strings.Contains(loc, "/console/login?next=%2Fconsole%2Fdemo%2F") {
			t.Fatalf("without a session the inbox is at %s", loc)
		}
		agent.Type("user name", "#username", "admin")
		agent.Type("password", "#password", consolePassword)
		agent.Click("sign in", "#signin")
		agent.WaitFor("the inbox", `location.pathname === "/console/demo/" && !!document.getElementById("messages")`, 10*time.Second)
		agent.WaitText("the visitor's message in the inbox", question, 20*time.Second)
		agent.WaitText("the event list shows it", "message.created", 5*time.Second)
		if got := agent.Text("#conversations"); !strings.Contains(got, "webchat") {
			t.Errorf("conversation list = %q", got)
		}
		inboxShot := agent.Shot("demo-" + b.Driver + "-inbox")

		answer := "Yes, it is wrapped and waiting for you."
		agent.Type("the answer", "#text", answer)
		agent.Click("send", "#send")
		visitor.WaitFor("the answer in the widget", jsShows(answer), 20*time.Second)
		agent.WaitFor("the answer is delivered", `[...document.querySelectorAll('#messages li.out')].some(li => li.innerText.includes(`+jsString(answer)+`) && li.innerText.includes('delivered'))`, 20*time.Second)
		agent.WaitText("the status event arrived", "status.delivered", 5*time.Second)
		agent.Shot("demo-" + b.Driver + "-inbox-answered")
		siteShot := visitor.Shot("demo-" + b.Driver + "-site")
		t.Logf("screenshots: %s, %s", inboxShot, siteShot)

		// The web chat cannot edit: the inbox shows the gateway's own
		// refusal, from the signed API.
		agent.Click("edit the answer", "#messages li.out button")
		agent.SetValue("new text", "#text", "Edited answer")
		agent.Click("save the edit", "#send")
		agent.WaitText("the gateway's refusal", "unsupported", 10*time.Second)

		// Nothing was left in the outbox: the inbox acknowledged.
		lines, err := g.app.Store().Records.ListLines(ctx, ps[0].ID)
		if err != nil || len(lines) != 1 || lines[0].Name != demo.LineName {
			t.Fatalf("lines = %+v, %v", lines, err)
		}
	})
}

// With TELEGRAM_BOT_TOKEN the demo also connects that bot in polling mode
// (here: the fake Bot API): a Telegram message reaches the inbox, and the
// inbox's answer, edit and deletion reach Telegram, each a signed API call.
// The inbox is reached as the browser's script does, over HTTP with the
// console session and its CSRF token; without the token nothing is sent.
func TestDemoTelegramRepliesEditsDeletes(t *testing.T) {
	b := queuetest.Backends()[0]
	for _, x := range queuetest.Backends() {
		if x.Driver == "sqlite" {
			b = x
		}
	}
	tg := telegramtest.New(t, botToken)
	cfg := testConfig(b, b.DSN(t), tg.Endpoint())
	cfg.Addr = freeAddr(t)
	cfg.PublicURL = "http://" + cfg.Addr
	cfg.Console.AdminPassword = consolePassword
	cfg.Demo.Enabled, cfg.Demo.TelegramToken = true, botToken
	g := startGateway(t, cfg)

	c := consoletest.Client(t)
	page := func(method, path string, form url.Values) (int, string) {
		t.Helper()
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, _ := http.NewRequest(method, g.URL+path, body)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(raw)
	}
	_, login := page("GET", "/console/login", nil)
	f := consoletest.Hidden(login)
	f.Set("username", "admin")
	f.Set("password", consolePassword)
	if code, _ := page("POST", "/console/login", f); code != http.StatusSeeOther {
		t.Fatalf("sign in: %d", code)
	}
	_, inbox := page("GET", demo.InboxPath, nil)
	csrf := regexp.MustCompile(`data-csrf="([^"]+)"`).FindStringSubmatch(inbox)
	if csrf == nil {
		t.Fatalf("no CSRF token in the inbox page:\n%s", inbox)
	}
	type state struct {
		Conversations []demo.Conversation `json:"conversations"`
		Events        []demo.Received     `json:"events"`
	}
	read := func() state {
		_, raw := page("GET", demo.InboxPath+"state", nil)
		var s state
		_ = json.Unmarshal([]byte(raw), &s)
		return s
	}
	waitUntil := func(what string, ok func(state) bool) state {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			s := read()
			if ok(s) {
				return s
			}
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting until %s: %+v", what, s)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	waitUntil("the bot polls", func(state) bool { return len(tg.Calls("getUpdates")) > 0 })
	tg.Push(tg.Update(5001, 42, "Hi from Telegram"))
	s := waitUntil("the Telegram message is in the inbox", func(s state) bool {
		return len(s.Conversations) == 1 && len(s.Conversations[0].Items) == 1 && s.Conversations[0].Items[0].Text == "Hi from Telegram"
	})
	conv := s.Conversations[0]
	if conv.Connector != "telegram" || conv.ChatID != "42" {
		t.Fatalf("conversation = %+v", conv)
	}

	// Without the CSRF token the console refuses the form before the demo
	// runs.
	if code, _ := page("POST", demo.InboxPath+"reply", url.Values{"conversation": {conv.Key}, "text": {"forged"}}); code != http.StatusForbidden {
		t.Fatalf("reply without CSRF token: %d", code)
	}
	if code, body := page("POST", demo.InboxPath+"reply", url.Values{"csrf": {csrf[1]}, "conversation": {conv.Key}, "text": {"Hello from the inbox"}}); code != http.StatusOK {
		t.Fatalf("reply: %d %s", code, body)
	}
	s = waitUntil("the answer is delivered", func(s state) bool {
		it := s.Conversations[0].Items
		return len(it) == 2 && it[1].State == "delivered" && len(it[1].MessengerIDs) == 1
	})
	if ms := tg.Messages(botToken, 42); len(ms) != 1 || ms[0].Text != "Hello from the inbox" {
		t.Fatalf("Telegram got %+v", ms)
	}
	out := s.Conversations[0].Items[1]
	if code, body := page("POST", demo.InboxPath+"edit", url.Values{"csrf": {csrf[1]}, "conversation": {conv.Key}, "request": {out.RequestID}, "text": {"Hello, edited"}}); code != http.StatusOK {
		t.Fatalf("edit: %d %s", code, body)
	}
	s = waitUntil("the edit is confirmed", func(s state) bool {
		it := s.Conversations[0].Items[1]
		return it.Edited && it.Text == "Hello, edited"
	})
	if len(tg.Calls("editMessageText")) != 1 {
		t.Fatalf("editMessageText calls: %v", tg.Calls("editMessageText"))
	}
	out = s.Conversations[0].Items[1]
	if code, body := page("POST", demo.InboxPath+"delete", url.Values{"csrf": {csrf[1]}, "conversation": {conv.Key}, "request": {out.RequestID}}); code != http.StatusOK {
		t.Fatalf("delete: %d %s", code, body)
	}
	waitUntil("the deletion is confirmed", func(s state) bool { return s.Conversations[0].Items[1].Deleted })
	if len(tg.Calls("deleteMessage")) != 1 {
		t.Fatalf("deleteMessage calls: %v", tg.Calls("deleteMessage"))
	}
}
