package app_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/connector-gateway/connector/api/console/consoletest"
	"github.com/connector-gateway/connector/api/demo"
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
