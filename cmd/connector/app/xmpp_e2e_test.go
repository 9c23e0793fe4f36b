package app_test

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/connector-gateway/connector/cmd/connector/app"
	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/xmpp/xmpptest"
	"github.com/connector-gateway/connector/portal"
	"github.com/connector-gateway/connector/portal/portaltest"
	"github.com/connector-gateway/connector/portal/sdk"
	"github.com/connector-gateway/connector/queue/queuetest"
)

const xmppGwPass, xmppAlicePass = "gateway-password", "alice-password"

func xmppSettings(srv *xmpptest.Server) connectors.Settings {
	return connectors.Settings{"jid": xmpptest.JID("gw"), "password": xmppGwPass, "server": srv.C2S}
}

// xmppSetup creates, through the signed portal API, a line with an XMPP
// connection for gw@localhost and activates it (the gateway then polls it).
func xmppSetup(t testing.TB, g *gateway, pt *portaltest.Server, srv *xmpptest.Server) (w wiring, line, conn string) {
	t.Helper()
	ctx := context.Background()
	w = newPortal(t, g, pt)
	var l portal.Line
	if err := w.Client.Do(ctx, "POST", "/v1/lines", map[string]string{"name": "XMPP support"}, &l, nil); err != nil {
		t.Fatalf("create line: %v", err)
	}
	var c struct {
		ID string `json:"id"`
	}
	if err := w.Client.Do(ctx, "POST", "/v1/lines/"+l.ID+"/connections", map[string]any{"connector": "xmpp", "settings": xmppSettings(srv)}, &c, nil); err != nil {
		t.Fatalf("create connection: %v", err)
	}
	if err := w.Client.Do(ctx, "POST", "/v1/connections/"+c.ID+"/activate", nil, nil, nil); err != nil {
		t.Fatalf("activate: %v", err)
	}
	return w, l.ID, c.ID
}

// waitText waits until the portal has a message event with text on line.
func waitText(t testing.TB, pt *portaltest.Server, line, typ, text string) connectors.Event {
	t.Helper()
	return waitEventFor(t, pt, line, fmt.Sprintf("%s %q on the line", typ, text), 30*time.Second, func(ev connectors.Event) bool {
		return ev.Type == typ && ev.Message != nil && ev.Message.Text == text
	})
}

func chatFrom(id, text string) string {
	return fmt.Sprintf(`<message xmlns="jabber:client" to="gw@localhost" type="chat" id="%s"><body>%s</body><request xmlns="urn:xmpp:receipts"/></message>`, id, text)
}

// End to end against a real Prosody, on both backends: a person writes →
// the portal gets a batch; the portal replies → the person's client gets
// it; the person's receipt → status.delivered; a correction →
// message.updated; messages written while the gateway is stopped arrive
// after it starts again (from the archive), each once.
func TestXMPPEndToEnd(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b queuetest.Backend) {
		srv := xmpptest.Start(t, map[string]string{"gw": xmppGwPass, "alice": xmppAlicePass})
		pt := portaltest.New(t)
		cfg := testConfig(b, b.DSN(t), "http://telegram.invalid/bot%s/%s")
		g := startGateway(t, cfg)
		w, line, conn := xmppSetup(t, g, pt, srv)
		alice := xmpptest.Dial(t, srv, "alice", xmppAlicePass)
		ctx := context.Background()

		alice.Send(chatFrom("a1", "Where is my parcel?"))
		ev := waitText(t, pt, line, connectors.TypeMessageCreated, "Where is my parcel?")
		if ev.Chat.ID != "alice@localhost" || ev.Connector != "xmpp" || ev.Connection != conn || ev.Message.ID != "a1" {
			t.Fatalf("event %+v", ev)
		}
		if _, ok := alice.WaitFor(10*time.Second, func(m xmpptest.Message) bool { return m.Received != nil && m.Received.ID == "a1" }); !ok {
			t.Error("alice got no receipt for her message")
		}

		acc, err := w.Client.Send(ctx, conn, connectors.Outbound{ChatID: "alice@localhost", Text: "It is on its way"})
		if err != nil {
			t.Fatal(err)
		}
		reply, ok := alice.WaitFor(20*time.Second, func(m xmpptest.Message) bool { return m.Body == "It is on its way" })
		if !ok || reply.Request == nil {
			t.Fatalf("alice did not get the reply with a receipt request: %+v", reply)
		}
		alice.Send(fmt.Sprintf(`<message xmlns="jabber:client" to="gw@localhost" type="chat" id="rc1"><received xmlns="urn:xmpp:receipts" id="%s"/></message>`, reply.ID))
		receiptID := connectors.EventID("xmpp:" + conn + ":delivered:" + reply.ID)
		if !pt.WaitFor(20*time.Second, func() bool {
			for _, e := range pt.Events(line) {
				if e.ID == receiptID && e.Type == connectors.TypeStatusDelivered && e.Status.RequestID == acc.ID {
					return true
				}
			}
			return false
		}) {
			t.Fatalf("no status.delivered from alice's receipt for request %s", acc.ID)
		}

		alice.Send(`<message xmlns="jabber:client" to="gw@localhost" type="chat" id="a2"><body>Where is my parcel, please?</body><replace xmlns="urn:xmpp:message-correct:0" id="a1"/></message>`)
		upd := waitText(t, pt, line, connectors.TypeMessageUpdated, "Where is my parcel, please?")
		if upd.Message.ID != "a1" {
			t.Fatalf("update %+v", upd.Message)
		}

		g.stop()
		for i := range 5 {
			alice.Send(chatFrom(fmt.Sprintf("off%d", i), fmt.Sprintf("while you were away %d", i)))
		}
		began := time.Now()
		startGateway(t, cfg) // resumes polling by itself
		for i := range 5 {
			waitText(t, pt, line, connectors.TypeMessageCreated, fmt.Sprintf("while you were away %d", i))
		}
		t.Logf("%s: restart to caught up: %s", b.Driver, time.Since(began).Round(time.Millisecond))
		time.Sleep(500 * time.Millisecond)
		distinctByText(t, pt.Events(line))
		seen := map[string]int{}
		for _, e := range pt.Events(line) {
			seen[e.ID]++
		}
		for _, e := range pt.Events(line) {
			if e.Message != nil && e.Type == connectors.TypeMessageCreated && seen[e.ID] > 1 {
				t.Logf("redelivered (same id, allowed): %q", e.Message.Text)
			}
		}
	})
}

// The gateway process is killed (SIGKILL) while a person's messages flow
// and started again: every message reaches the portal, a repeat only under
// the same event id.
func TestXMPPKilledMidStream(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b queuetest.Backend) {
		srv := xmpptest.Start(t, map[string]string{"gw": xmppGwPass, "alice": xmppAlicePass})
		pt := portaltest.New(t)
		dsn := b.DSN(t)
		cfg := testConfig(b, dsn, "http://telegram.invalid/bot%s/%s")
		env := []string{
			"CONNECTOR_DATABASE_DRIVER=" + b.Driver, "CONNECTOR_DATABASE_DSN=" + dsn, "CONNECTOR_DATABASE_AUTO_MIGRATE=true",
			"CONNECTOR_SECRETS_KEY=" + cfg.Secrets.Key, "CONNECTOR_POLL_LEASE=2s",
			"CONNECTOR_DISPATCH_POLL=100ms", "CONNECTOR_DISPATCH_TIMEOUT=2s",
		}
		line, conn, client := xmppAdminSetup(t, cfg, pt, srv)
		gw := startProcess(t, t.TempDir(), env)
		client.BaseURL = "http://" + gw.addr
		if err := client.Do(context.Background(), "POST", "/v1/connections/"+conn+"/activate", nil, nil, nil); err != nil {
			t.Fatalf("activate: %v", err)
		}
		alice := xmpptest.Dial(t, srv, "alice", xmppAlicePass)
		alice.Send(chatFrom("probe", "probe"))
		waitText(t, pt, line, connectors.TypeMessageCreated, "probe")

		const total = 300
		sent := make(chan int, 1)
		go func() {
			for i := 1; i <= total; i++ {
				alice.Send(chatFrom(fmt.Sprintf("k%d", i), fmt.Sprintf("msg %d", i)))
				time.Sleep(2 * time.Millisecond)
			}
			sent <- total
		}()
		if !pt.WaitFor(30*time.Second, func() bool { return len(pt.Events(line)) >= 40 }) {
			t.Fatalf("only %d events before the kill", len(pt.Events(line)))
		}
		if err := gw.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-gw.done
		gw.done <- nil
		atKill := len(pt.Events(line))
		<-sent
		if atKill >= total+1 {
			t.Fatalf("the kill came after the stream ended (%d delivered)", atKill)
		}
		began := time.Now()
		startProcess(t, t.TempDir(), env)
		if !pt.WaitFor(60*time.Second, func() bool { return len(distinctByText(t, pt.Events(line))) == total+1 }) {
			t.Fatalf("after restart %d of %d messages delivered", len(distinctByText(t, pt.Events(line))), total+1)
		}
		t.Logf("%s: killed with %d of %d delivered; restart to caught up %s; %d deliveries for %d messages",
			b.Driver, atKill, total+1, time.Since(began).Round(time.Millisecond), len(pt.Events(line)), total+1)
	})
}

// The gateway's account disappears from the server: the poller stops
// (no retry loop against a refused login), the connection turns to error
// and the portal gets connection.error, on both backends.
func TestXMPPAccountRemoved(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b queuetest.Backend) {
		srv := xmpptest.Start(t, map[string]string{"gw": xmppGwPass, "alice": xmppAlicePass})
		pt := portaltest.New(t)
		g := startGateway(t, testConfig(b, b.DSN(t), "http://telegram.invalid/bot%s/%s"))
		w, line, conn := xmppSetup(t, g, pt, srv)
		alice := xmpptest.Dial(t, srv, "alice", xmppAlicePass)
		alice.Send(chatFrom("p1", "probe"))
		waitText(t, pt, line, connectors.TypeMessageCreated, "probe")

		srv.DeleteUser("gw")
		srv.Restart()
		if !pt.WaitFor(30*time.Second, func() bool {
			for _, e := range pt.Events(line) {
				if e.Type == connectors.TypeConnectionError {
					return true
				}
			}
			return false
		}) {
			t.Fatal("no connection.error after the account was removed")
		}
		var c connView
		if err := w.Client.Do(context.Background(), "GET", "/v1/connections/"+conn, nil, &c, nil); err != nil {
			t.Fatal(err)
		}
		if c.Active || c.Status != "error" || c.LastError == "" {
			t.Errorf("connection = %+v", c)
		}
	})
}

// xmppAdminSetup is adminSetup for an XMPP connection (created inactive;
// the test activates it through the API of the running process).
func xmppAdminSetup(t testing.TB, cfg app.Config, pt *portaltest.Server, srv *xmpptest.Server) (line, conn string, client sdk.Client) {
	t.Helper()
	l, c, client := adminSetupFor(t, cfg, pt, "xmpp", xmppSettings(srv), false)
	return l.ID, c.ID, client
}
