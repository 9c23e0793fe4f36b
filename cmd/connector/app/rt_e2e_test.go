package app_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/connector-gateway/connector/connectors/telegram/telegramtest"
	"github.com/connector-gateway/connector/portal"
	"github.com/connector-gateway/connector/portal/adapters/rt"
	"github.com/connector-gateway/connector/portal/adapters/rt/rttest"
	"github.com/connector-gateway/connector/portal/portaltest"
	"github.com/connector-gateway/connector/queue/queuetest"
)

// A portal of kind rt fed into a real Request Tracker, end to end: a
// Telegram message becomes an RT ticket; an agent's correspondence in RT
// reaches the chat through the Bot API; RT stopped mid-run locks the line
// out, and once RT is back the waiting message is on the ticket exactly
// once, and the gateway's own correspondence never goes back to the chat.
// One RT serves both backends (each gateway has its own database, so its
// own tickets).
func TestRTPortalEndToEnd(t *testing.T) {
	r := rttest.Start(t)
	r.CreateUser("agent", "agentpass1")
	forEachBackend(t, func(t *testing.T, b queuetest.Backend) {
		ctx := context.Background()
		tg := telegramtest.New(t, botToken)
		p := portaltest.New(t)
		cfg := reachableConfig(t, b, tg.Endpoint())
		cfg.Queue.Schedule, cfg.Queue.Window = []time.Duration{300 * time.Millisecond}, 5*time.Minute
		g := startGateway(t, cfg)
		w := connectTelegram(t, g, tg, p, "webhook")
		store := g.app.Store()

		// The gateway's own RT user, with a token, as an RT admin would make.
		gwUser := "gateway-" + b.Driver
		r.CreateUser(gwUser, "gatewaypass1")
		if err := store.Records.SetPortalKind(ctx, w.PortalID, portal.KindRT, map[string]string{
			rt.SettingURL: r.URL, rt.SettingToken: r.Token(gwUser), rt.SettingQueue: rttest.Queue,
		}); err != nil {
			t.Fatal(err)
		}
		ids := portal.NewAdapterIDs(store.DB)
		line, chat := w.Lines[0], int64(4242)
		drained := func(what string) {
			t.Helper()
			deadline := time.Now().Add(30 * time.Second)
			for {
				st, err := store.Outbox.Status(ctx, line)
				if err == nil && st.Pending == 0 {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s: the line did not drain: %+v %v", what, st, err)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		sent := func(want ...string) {
			t.Helper()
			deadline := time.Now().Add(20 * time.Second)
			var got []string
			for {
				got = got[:0]
				for _, m := range tg.Messages(w.Tokens[0], chat) {
					got = append(got, m.Text)
				}
				if slices.Equal(got, want) {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("the Bot API's sendMessage got %q, want %q", got, want)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
		agentSays := func(ticket, text string) {
			t.Helper()
			r.RESTAs("agent", "agentpass1", "POST", "/REST/2.0/ticket/"+ticket+"/correspond",
				map[string]string{"Content": text, "ContentType": "text/plain"}, nil)
		}

		w.deliver(t, g, tg, "webhook", rawUpdate(1, "message", map[string]any{"text": "Hello, my order is late"}))
		drained("first message")
		ticket, ok, err := ids.Get(ctx, w.PortalID, fmt.Sprintf("chat:%s:%d", w.Conns[0], chat))
		if err != nil || !ok {
			t.Fatalf("no ticket for the chat: %v", err)
		}
		if got := r.Texts(ticket); !slices.Equal(got, []string{"Hello, my order is late"}) {
			t.Fatalf("ticket %s holds %q", ticket, got)
		}

		agentSays(ticket, "Your order ships today")
		sent("Your order ships today")

		r.Stop()
		w.deliver(t, g, tg, "webhook", rawUpdate(2, "message", map[string]any{"text": "Anyone there?"}))
		deadline := time.Now().Add(20 * time.Second)
		for {
			st, err := store.Outbox.Status(ctx, line)
			if err == nil && st.Failures > 0 && st.LockedUntil != nil {
				t.Logf("RT down: line locked out after %d failures: %s", st.Failures, st.LastError)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("RT down, yet the line was not locked out: %+v %v", st, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		r.Start()
		drained("after RT came back")
		if got := r.Texts(ticket); !slices.Equal(got, []string{"Hello, my order is late", "Your order ships today", "Anyone there?"}) {
			t.Fatalf("after the restart ticket %s holds %q", ticket, got)
		}
		if n := r.Transactions(ticket, "Correspond"); n != 2 {
			t.Fatalf("ticket %s has %d Correspond transactions, want 2 (the agent's and the one message sent while RT was down)", ticket, n)
		}
		// A second answer after the restart: it comes after the gateway's
		// own correspondence, which must not have been echoed to the chat.
		agentSays(ticket, "It left the warehouse")
		sent("Your order ships today", "It left the warehouse")
	})
}
