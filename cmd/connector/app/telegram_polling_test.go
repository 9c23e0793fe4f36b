package app_test

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/connector-gateway/connector/cmd/connector/app"
	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/telegram/telegramtest"
	"github.com/connector-gateway/connector/portal/portaltest"
	"github.com/connector-gateway/connector/portal/sdk"
	"github.com/connector-gateway/connector/queue/queuetest"
)

// pollingSetup creates, as an admin would before the gateway runs, a portal
// with one line and a Telegram connection in polling mode for the fake's
// first bot. It returns the line, the connection and a client for the
// portal (BaseURL to be set).
func pollingSetup(t *testing.T, cfg app.Config, pt *portaltest.Server) (lineID, connID string, client sdk.Client) {
	t.Helper()
	line, conn, client := adminSetup(t, cfg, pt, connectors.Settings{"bot_token": botToken, "mode": "polling", "webhook_secret": "unused"}, false)
	return line.ID, conn.ID, client
}

func pollingEnv(b queuetest.Backend, dsn string, cfg app.Config, endpoint string) []string {
	return []string{
		"CONNECTOR_DATABASE_DRIVER=" + b.Driver, "CONNECTOR_DATABASE_DSN=" + dsn, "CONNECTOR_DATABASE_AUTO_MIGRATE=true",
		"CONNECTOR_SECRETS_KEY=" + cfg.Secrets.Key, "CONNECTOR_TELEGRAM_API_ENDPOINT=" + endpoint,
		"CONNECTOR_TELEGRAM_POLL_TIMEOUT=1s", "CONNECTOR_POLL_LEASE=2s",
		"CONNECTOR_DISPATCH_POLL=100ms", "CONNECTOR_DISPATCH_TIMEOUT=2s",
	}
}

// distinctByText maps each message text to its event id and fails the test
// if one update reached the portal under two ids.
func distinctByText(t *testing.T, evs []connectors.Event) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, ev := range evs {
		if ev.Message == nil {
			continue
		}
		if prev, ok := m[ev.Message.Text]; ok && prev != ev.ID {
			t.Fatalf("update %q reached the portal as two events, %s and %s", ev.Message.Text, prev, ev.ID)
		}
		m[ev.Message.Text] = ev.ID
	}
	return m
}

// Polling mode: the gateway process is killed (SIGKILL) in the middle of a
// stream of updates and started again. It resumes at the offset it stored,
// and every update reaches the portal, none lost, none as two events.
func TestTelegramPollingRestartMidStream(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b queuetest.Backend) {
		tg := telegramtest.New(t, botToken)
		pt := portaltest.New(t)
		dsn := b.DSN(t)
		cfg := testConfig(b, dsn, tg.Endpoint())
		line, conn, client := pollingSetup(t, cfg, pt)
		env := pollingEnv(b, dsn, cfg, tg.Endpoint())

		tg.SetUpdatesPerCall(5)
		tg.SetPollDelay(20 * time.Millisecond) // a stream, not one gulp
		const total = 300
		for i := 1; i <= total; i++ {
			tg.Push(tg.Update(1000+i, 42, strconv.Itoa(i)))
		}
		gw := startProcess(t, t.TempDir(), env)
		client.BaseURL = "http://" + gw.addr
		if err := client.Do(context.Background(), "POST", "/v1/connections/"+conn+"/activate", nil, nil, nil); err != nil {
			t.Fatalf("activate: %v", err)
		}
		if !pt.WaitFor(30*time.Second, func() bool { return len(pt.Events(line)) >= 30 }) {
			t.Fatalf("only %d events before the kill", len(pt.Events(line)))
		}
		if err := gw.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-gw.done
		gw.done <- nil
		left := tg.Unconfirmed(botToken)
		if left == 0 || len(pt.Events(line)) >= total {
			t.Fatalf("the kill came after the stream ended (%d unconfirmed, %d delivered)", left, len(pt.Events(line)))
		}
		before := len(tg.Requests("getUpdates"))

		startProcess(t, t.TempDir(), env) // no activation: it resumes by itself
		if !pt.WaitFor(60*time.Second, func() bool { return len(distinctByText(t, pt.Events(line))) == total }) {
			t.Fatalf("after restart %d of %d updates delivered", len(distinctByText(t, pt.Events(line))), total)
		}
		calls := tg.Requests("getUpdates")
		resumed, _ := strconv.Atoi(calls[before].Form.Get("offset"))
		if resumed <= 1001 {
			t.Errorf("the restarted gateway asked from offset %d, not from where it stopped", resumed)
		}
		t.Logf("killed with %d updates unconfirmed; resumed at offset %d; %d deliveries for %d updates", left, resumed, len(pt.Events(line)), total)
	})
}

// Two gateway processes on one MariaDB with one polling connection: only
// one of them polls, every update reaches the portal exactly once, and when
// the polling process dies the other takes over once its lease expired.
func TestTelegramPollingTwoGatewaysOneConnection(t *testing.T) {
	b := mysqlBackend()
	tg := telegramtest.New(t, botToken)
	pt := portaltest.New(t)
	dsn := b.DSN(t)
	cfg := testConfig(b, dsn, tg.Endpoint())
	line, conn, client := pollingSetup(t, cfg, pt)
	tg.SetUpdatesPerCall(5)

	procs := map[string]*process{}
	for _, name := range []string{"a", "b"} {
		procs[name] = startProcess(t, t.TempDir(), pollingEnv(b, dsn, cfg, tg.EndpointVia(name)))
	}
	client.BaseURL = "http://" + procs["b"].addr
	if err := client.Do(context.Background(), "POST", "/v1/connections/"+conn+"/activate", nil, nil, nil); err != nil {
		t.Fatalf("activate: %v", err)
	}
	push := func(from, to int) {
		for i := from; i <= to; i++ {
			tg.Push(tg.Update(i, 42, strconv.Itoa(i)))
		}
	}
	push(1, 60)
	if !pt.WaitFor(30*time.Second, func() bool { return len(pt.Events(line)) >= 60 }) {
		t.Fatalf("portal got %d of 60", len(pt.Events(line)))
	}
	pollers := map[string]bool{}
	for _, c := range tg.Requests("getUpdates") {
		pollers[c.Via] = true
	}
	if len(pollers) != 1 {
		t.Fatalf("getUpdates came from %v; want exactly one gateway polling", pollers)
	}
	var holder, other string
	for v := range pollers {
		holder = v
	}
	other = map[string]string{"a": "b", "b": "a"}[holder]
	// Everything acknowledged, so the kill interrupts no batch.
	w := wiring{Client: &client}
	client.BaseURL = "http://" + procs[other].addr
	if !pt.WaitFor(10*time.Second, func() bool { return w.lineState(t, line).Queue.Pending == 0 }) {
		t.Fatal("events still pending")
	}
	if err := procs[holder].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-procs[holder].done
	procs[holder].done <- nil
	// A getUpdates the holder sent just before it died may still reach
	// the fake after the kill; count only what comes once it is gone.
	time.Sleep(200 * time.Millisecond)
	before := len(tg.Requests("getUpdates"))

	push(61, 120)
	if !pt.WaitFor(60*time.Second, func() bool { return len(pt.Events(line)) >= 120 }) {
		t.Fatalf("after the holder died the portal got %d of 120", len(pt.Events(line)))
	}
	for _, c := range tg.Requests("getUpdates")[before:] {
		if c.Via != other {
			t.Fatalf("a getUpdates after the kill came from %q, want only %q", c.Via, other)
		}
	}
	time.Sleep(300 * time.Millisecond) // room for a duplicate to show
	evs := pt.Events(line)
	seen := distinctByText(t, evs)
	if len(evs) != 120 || len(seen) != 120 {
		t.Fatalf("%d events for %d distinct updates, want 120 each: every update exactly once", len(evs), len(seen))
	}
	texts := make([]int, 0, len(evs))
	for _, ev := range evs {
		n, _ := strconv.Atoi(ev.Message.Text)
		texts = append(texts, n)
	}
	if !slices.IsSorted(texts) {
		t.Errorf("updates arrived out of order: %v", texts)
	}
	if n := tg.MaxConcurrentPolls(botToken); n != 1 {
		t.Errorf("%d getUpdates calls were in flight at once", n)
	}
}

// Deactivating a polling connection stops its poller at once; activating it
// again resumes it.
func TestTelegramPollingDeactivate(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b queuetest.Backend) {
		tg := telegramtest.New(t, botToken)
		p := portaltest.New(t)
		g := startGateway(t, reachableConfig(t, b, tg.Endpoint()))
		w := connectTelegram(t, g, tg, p, "polling")
		conn := w.Conns[0]
		if !p.WaitFor(10*time.Second, func() bool { return slices.Contains(g.app.Receivers().Polling(), conn) }) {
			t.Fatal("no poller after activation")
		}
		ctx := context.Background()
		if err := w.Client.Do(ctx, "POST", "/v1/connections/"+conn+"/deactivate", nil, nil, nil); err != nil {
			t.Fatal(err)
		}
		if got := g.app.Receivers().Polling(); len(got) != 0 {
			t.Fatalf("still polling %v after deactivate", got)
		}
		w.deliver(t, g, tg, "polling", tg.Update(5, 42, "while off"))
		if err := w.Client.Do(ctx, "POST", "/v1/connections/"+conn+"/activate", nil, nil, nil); err != nil {
			t.Fatal(err)
		}
		if !p.WaitFor(20*time.Second, func() bool { return len(p.Events(w.Lines[0])) == 1 }) {
			t.Fatal("the update sent while the connection was off did not arrive after reactivation")
		}
	})
}

// A polled bot whose token was revoked stops polling for good: the
// connection turns inactive with status error and the portal hears of it
// with a connection.error event, instead of the gateway asking Telegram in
// a loop.
func TestTelegramPollingRevokedToken(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b queuetest.Backend) {
		tg := telegramtest.New(t, botToken)
		p := portaltest.New(t)
		g := startGateway(t, reachableConfig(t, b, tg.Endpoint()))
		w := connectTelegram(t, g, tg, p, "polling")
		tg.FailNext("getUpdates", 1, 401, "Unauthorized", 0)
		line := w.Lines[0]
		if !p.WaitFor(20*time.Second, func() bool { return len(p.Events(line)) == 1 }) {
			t.Fatal("no event about the revoked token")
		}
		ev := p.Events(line)[0]
		if ev.Type != connectors.TypeConnectionError || ev.Error == nil || ev.Error.Code != "receiving_stopped" || !strings.Contains(ev.Error.Message, "@BotFather") {
			t.Fatalf("event = %+v %+v", ev, ev.Error)
		}
		var c connView
		if err := w.Client.Do(context.Background(), "GET", "/v1/connections/"+w.Conns[0], nil, &c, nil); err != nil {
			t.Fatal(err)
		}
		if c.Active || c.Status != "error" || !strings.Contains(c.LastError, "no longer accepts") {
			t.Errorf("connection = %+v", c)
		}
		if !p.WaitFor(10*time.Second, func() bool { return len(g.app.Receivers().Polling()) == 0 }) {
			t.Errorf("still polling %v", g.app.Receivers().Polling())
		}
		calls := len(tg.Calls("getUpdates"))
		time.Sleep(1500 * time.Millisecond) // longer than a scan: a restarted poller would call again
		if n := len(tg.Calls("getUpdates")); n != calls {
			t.Errorf("%d more getUpdates calls after the token was found revoked", n-calls)
		}
	})
}
