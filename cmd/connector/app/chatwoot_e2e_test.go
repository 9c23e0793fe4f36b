package app_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/telegram/telegramtest"
	"github.com/connector-gateway/connector/portal"
	"github.com/connector-gateway/connector/portal/adapters/chatwoot/chatwoottest"
	"github.com/connector-gateway/connector/portal/portaltest"
	"github.com/connector-gateway/connector/queue/queuetest"
)

// A Telegram customer's message reaches a Chatwoot API inbox as an incoming
// message in the chat's conversation; the agent's reply, posted by Chatwoot
// to the gateway's adapter route with its signature, reaches the customer
// in Telegram once (Chatwoot repeats the callback), and the Chatwoot
// message is marked delivered. A forged callback sends nothing.
func TestChatwootEndToEnd(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b queuetest.Backend) {
		ctx := context.Background()
		tg := telegramtest.New(t, botToken)
		cw := chatwoottest.New(t)
		p := portaltest.New(t)
		cfg := reachableConfig(t, b, tg.Endpoint())
		cfg.Dispatch.Poll = 20 * time.Millisecond
		g := startGateway(t, cfg)
		w := connectTelegram(t, g, tg, p, "webhook")
		if err := g.app.Store().Records.SetPortalKind(ctx, w.PortalID, portal.KindChatwoot, cw.Settings("cw-secret")); err != nil {
			t.Fatal(err)
		}
		w.deliver(t, g, tg, "webhook", rawUpdate(1, "message", map[string]any{"text": "Where is my parcel?"}))
		waitChatwoot(t, "the message in Chatwoot", func() bool {
			_, _, msgs, _ := cw.Snapshot()
			return len(msgs) == 1 && msgs[0].Content == "Where is my parcel?" && msgs[0].Type == "incoming"
		})
		contacts, convs, _, _ := cw.Snapshot()
		if len(contacts) != 1 || contacts[0].Name != "Ann Berg" || len(convs) != 1 {
			t.Fatalf("contacts %+v conversations %+v", contacts, convs)
		}

		hook := g.URL + "/adapters/" + w.PortalID + "/"
		reply, body := cw.AgentReply(convs[0].ID, "It left the depot this morning", false)
		forged := []byte(strings.Replace(string(body), "It left the depot this morning", "Click this link", 1))
		if st := chatwoottest.Post(t, hook, forged, "not-the-secret", time.Now()); st != http.StatusUnauthorized {
			t.Fatalf("forged callback: %d", st)
		}
		for i := 0; i < 2; i++ {
			if st := chatwoottest.Post(t, hook, body, "cw-secret", time.Now()); st != http.StatusOK {
				t.Fatalf("callback %d: %d", i, st)
			}
		}
		waitChatwoot(t, "the delivered status on the Chatwoot message", func() bool {
			return cw.MessageByID(reply).Status == "delivered"
		})
		sent := tg.Messages(w.Tokens[0], 4242)
		if len(sent) != 1 || sent[0].Text != "It left the depot this morning" {
			t.Fatalf("Telegram got %+v; want the agent's reply once", sent)
		}
	})
}

func waitChatwoot(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 30s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The connection test of a line whose portal an adapter feeds checks the
// helpdesk through the adapter's live test, not by posting a ping to the
// portal's (unused) webhook URL: passing against Chatwoot, failing in plain
// words when Chatwoot refuses the token.
func TestConnectionTestOfAnAdapterPortal(t *testing.T) {
	b := queuetest.Backend{Driver: "sqlite", DSN: queuetest.SQLiteDSN}
	ctx := context.Background()
	tg := telegramtest.New(t, botToken)
	cw := chatwoottest.New(t)
	p := portaltest.New(t)
	g := startGateway(t, reachableConfig(t, b, tg.Endpoint()))
	w := connectTelegram(t, g, tg, p, "webhook")
	p.FailLine(w.Lines[0], http.StatusInternalServerError) // the native webhook would fail the ping
	settings := cw.Settings("cw-secret")
	if err := g.app.Store().Records.SetPortalKind(ctx, w.PortalID, portal.KindChatwoot, settings); err != nil {
		t.Fatal(err)
	}
	portalCheck := func() connectors.Check {
		var rep connectors.TestReport
		if err := w.Client.Do(ctx, "POST", "/v1/connections/"+w.Conns[0]+"/test", nil, &rep, nil); err != nil {
			t.Fatal(err)
		}
		for _, c := range rep.Checks {
			if c.Name == "Your portal accepts the gateway's events" {
				return c
			}
		}
		t.Fatalf("no portal check in %+v", rep)
		return connectors.Check{}
	}
	if c := portalCheck(); !c.OK || !strings.Contains(c.Detail, "chatwoot adapter") {
		t.Fatalf("portal check %+v", c)
	}
	settings["api_access_token"] = "not-the-token"
	if err := g.app.Store().Records.SetPortalKind(ctx, w.PortalID, portal.KindChatwoot, settings); err != nil {
		t.Fatal(err)
	}
	if c := portalCheck(); c.OK || !strings.Contains(c.Detail, "live test") || c.Fix == "" {
		t.Fatalf("portal check with a refused token %+v", c)
	}
}
