package app_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/telegram/telegramtest"
	"github.com/connector-gateway/connector/portal/portaltest"
	"github.com/connector-gateway/connector/portal/sdk"
	"github.com/connector-gateway/connector/queue/queuetest"
	"github.com/connector-gateway/connector/queue/sqldb"
)

// hangingBotAPI stands in front of the fake Bot API and, while hanging,
// holds sendMessage calls until let go. A held call whose caller died is
// still passed on when let go: Telegram had the message, the gateway never
// heard the answer (the at-least-once window of a reply).
type hangingBotAPI struct {
	srv      *httptest.Server
	tg       *telegramtest.Server
	mu       sync.Mutex
	hang     chan struct{} // closed to let held calls go; nil: not hanging
	inflight atomic.Int64
}

func newHangingBotAPI(t *testing.T, tg *telegramtest.Server) *hangingBotAPI {
	h := &hangingBotAPI{tg: tg}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		hang := h.hang
		h.mu.Unlock()
		if hang != nil && strings.HasSuffix(r.URL.Path, "/sendMessage") {
			h.inflight.Add(1)
			<-hang
			h.inflight.Add(-1)
		}
		req, _ := http.NewRequest(r.Method, tg.URL()+r.URL.RequestURI(), bytes.NewReader(body))
		req.Header = r.Header.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	t.Cleanup(func() { h.release(); h.srv.Close() })
	return h
}

func (h *hangingBotAPI) Endpoint() string { return h.srv.URL + "/bot%s/%s" }

func (h *hangingBotAPI) hold() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.hang = make(chan struct{})
}

func (h *hangingBotAPI) release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.hang != nil {
		close(h.hang)
		h.hang = nil
	}
}

// inFlightWork is a line with a batch held by the portal and a chat with a
// reply held by Telegram, both in the hands of one gateway process.
type inFlightWork struct {
	line, conn string
	client     sdk.Client
	texts      int
}

// makeInFlight posts updates and two replies to one chat through gw, and
// returns once the portal holds a batch of the line and Telegram holds the
// first reply.
func makeInFlight(t *testing.T, gw *process, pt *portaltest.Server, tg *telegramtest.Server, bot *hangingBotAPI, w *inFlightWork, hash string) {
	t.Helper()
	pt.HangLine(w.line, 2*time.Minute)
	bot.hold()
	w.client.BaseURL = "http://" + gw.addr
	g := &gateway{URL: w.client.BaseURL}
	for i := 1; i <= w.texts; i++ {
		if code := postUpdate(t, g, hash, "hooksecret", tg.Update(i, 42, fmt.Sprint(i))); code != http.StatusOK {
			t.Fatalf("update %d answered %d", i, code)
		}
	}
	for _, text := range []string{"reply-1", "reply-2"} {
		if _, err := w.client.Send(context.Background(), w.conn, connectors.Outbound{ChatID: "42", Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	if !pt.WaitFor(20*time.Second, func() bool { return pt.InFlight() > 0 && bot.inflight.Load() > 0 }) {
		t.Fatalf("nothing in flight: portal %d, Telegram %d", pt.InFlight(), bot.inflight.Load())
	}
}

// checkAllArrived waits until every update reached the portal and both
// replies reached the chat, checks that a repeated event kept its id, and
// reports the repeats.
func checkAllArrived(t *testing.T, pt *portaltest.Server, tg *telegramtest.Server, w inFlightWork) (eventRepeats, replyRepeats int) {
	t.Helper()
	ids := func() map[string]string {
		m := map[string]string{}
		for _, ev := range pt.Events(w.line) {
			if ev.Type != connectors.TypeMessageCreated {
				continue
			}
			if prev, ok := m[ev.Message.Text]; ok && prev != ev.ID {
				t.Fatalf("message %q redelivered with a new id %s (was %s)", ev.Message.Text, ev.ID, prev)
			}
			m[ev.Message.Text] = ev.ID
		}
		return m
	}
	replies := func() map[string]int {
		m := map[string]int{}
		for _, s := range tg.Messages(botToken, 42) {
			m[s.Text]++
		}
		return m
	}
	if !pt.WaitFor(60*time.Second, func() bool {
		r := replies()
		return len(ids()) == w.texts && r["reply-1"] > 0 && r["reply-2"] > 0
	}) {
		t.Fatalf("after the crash: %d of %d events delivered, replies %v", len(ids()), w.texts, replies())
	}
	created := 0
	for _, ev := range pt.Events(w.line) {
		if ev.Type == connectors.TypeMessageCreated {
			created++
		}
	}
	r := replies()
	return created - w.texts, r["reply-1"] + r["reply-2"] - 2
}

// firstAfter returns the time of the first call at or after i whose time is
// after t0 (zero when there is none yet).
func firstPortalAttemptAfter(pt *portaltest.Server, line string, t0 time.Time) time.Time {
	for _, a := range pt.Attempts(line) {
		if a.At.After(t0) {
			return a.At
		}
	}
	return time.Time{}
}

func firstSendAfter(tg *telegramtest.Server, t0 time.Time) time.Time {
	for _, c := range tg.Requests("sendMessage") {
		if c.At.After(t0) {
			return c.At
		}
	}
	return time.Time{}
}

func recoveryEnv(b queuetest.Backend, dsn, key, endpoint string) []string {
	return []string{
		"CONNECTOR_DATABASE_DRIVER=" + b.Driver, "CONNECTOR_DATABASE_DSN=" + dsn, "CONNECTOR_DATABASE_AUTO_MIGRATE=true",
		"CONNECTOR_SECRETS_KEY=" + key, "CONNECTOR_TELEGRAM_API_ENDPOINT=" + endpoint,
		// Long enough that a held batch never times out during the test;
		// the line's lease is 3 × this (90s), and an in-flight reply's is
		// send.timeout + 30s (60s): without instances, recovery would wait
		// them out. Everything else is at its default.
		"CONNECTOR_DISPATCH_TIMEOUT=30s",
	}
}

// SQLite, one process: after kill -9 with a batch held by the portal and a
// reply held by Telegram, the restarted gateway delivers the line and
// resends the reply at once (within 2 s of being up), not after the dead
// process's leases run out. Every event arrives; a repeat keeps its id.
func TestRecoverSQLiteAfterKill(t *testing.T) {
	b := queuetest.Backend{Driver: sqldb.DriverSQLite, DSN: queuetest.SQLiteDSN}
	tg := telegramtest.New(t, botToken)
	bot := newHangingBotAPI(t, tg)
	pt := portaltest.New(t)
	dsn := b.DSN(t)
	cfg := testConfig(b, dsn, bot.Endpoint())
	line, conn, client := adminSetup(t, cfg, pt, connectors.Settings{"bot_token": botToken, "mode": "webhook", "webhook_secret": "hooksecret"}, true)
	env := recoveryEnv(b, dsn, cfg.Secrets.Key, bot.Endpoint())
	dir := t.TempDir()
	w := inFlightWork{line: line.ID, conn: conn.ID, client: client, texts: 10}

	gw := startProcess(t, dir, env)
	makeInFlight(t, gw, pt, tg, bot, &w, conn.Hash)
	if err := gw.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-gw.done
	gw.done <- nil
	pt.HangLine(line.ID, 0)
	bot.release() // Telegram had reply-1: it shows in the chat
	if !pt.WaitFor(5*time.Second, func() bool { return pt.InFlight() == 0 && bot.inflight.Load() == 0 }) {
		t.Fatal("held calls not let go")
	}

	startAt := time.Now()
	startProcess(t, dir, env)
	upAt := time.Now()
	var batchAt, sendAt time.Time
	if !pt.WaitFor(30*time.Second, func() bool {
		batchAt, sendAt = firstPortalAttemptAfter(pt, line.ID, startAt), firstSendAfter(tg, startAt)
		return !batchAt.IsZero() && !sendAt.IsZero()
	}) {
		t.Fatalf("after restart: batch at %v, reply at %v", batchAt, sendAt)
	}
	evRep, replyRep := checkAllArrived(t, pt, tg, w)
	t.Logf("SQLite kill -9: restarted process up %s after exec; first batch of the in-flight line %s after up (%s after exec), in-flight reply resent %s after up; %d event(s) delivered twice (same ids), %d reply(ies) sent twice",
		upAt.Sub(startAt).Round(time.Millisecond), batchAt.Sub(upAt).Round(time.Millisecond), batchAt.Sub(startAt).Round(time.Millisecond),
		sendAt.Sub(upAt).Round(time.Millisecond), evRep, replyRep)
	if d := batchAt.Sub(upAt); d > 2*time.Second {
		t.Errorf("the in-flight line was delivered %s after the restarted gateway was up, want within 2s", d)
	}
	if d := sendAt.Sub(upAt); d > 2*time.Second {
		t.Errorf("the in-flight reply was resent %s after the restarted gateway was up, want within 2s", d)
	}
}

// MariaDB, two replicas: while A holds a batch and a reply in flight, B
// leaves them alone (A's heartbeat is fresh, even past instance.stale_after);
// once A is killed, B takes the line and the reply over as soon as A's
// heartbeat is stale (5s by default), not after A's leases (90s, 60s).
func TestRecoverReplicaTakesOverDeadOnesWork(t *testing.T) {
	b := mysqlBackend()
	tg := telegramtest.New(t, botToken)
	bot := newHangingBotAPI(t, tg)
	pt := portaltest.New(t)
	dsn := b.DSN(t)
	cfg := testConfig(b, dsn, bot.Endpoint())
	line, conn, client := adminSetup(t, cfg, pt, connectors.Settings{"bot_token": botToken, "mode": "webhook", "webhook_secret": "hooksecret"}, true)
	env := recoveryEnv(b, dsn, cfg.Secrets.Key, bot.Endpoint())
	w := inFlightWork{line: line.ID, conn: conn.ID, client: client, texts: 10}
	const staleAfter = 5 * time.Second // the default

	a := startProcess(t, t.TempDir(), env)
	makeInFlight(t, a, pt, tg, bot, &w, conn.Hash)
	startProcess(t, t.TempDir(), env) // B
	time.Sleep(staleAfter + 2*time.Second)
	if n := len(pt.Attempts(line.ID)); n != 0 || pt.InFlight() != 1 || bot.inflight.Load() != 1 {
		t.Fatalf("while A was alive: %d finished attempts, %d batches and %d replies in flight (want 0, 1, 1): B took A's work", n, pt.InFlight(), bot.inflight.Load())
	}

	killAt := time.Now()
	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-a.done
	a.done <- nil
	pt.HangLine(line.ID, 0)
	bot.release()
	// A's held calls end now (the portal records its batch, Telegram gets
	// reply-1); what comes after them is B's.
	if !pt.WaitFor(5*time.Second, func() bool { return len(pt.Attempts(line.ID)) == 1 && len(tg.Requests("sendMessage")) == 1 }) {
		t.Fatalf("A's held calls did not end: %d attempts, %d sends", len(pt.Attempts(line.ID)), len(tg.Requests("sendMessage")))
	}
	var batchAt, sendAt time.Time
	if !pt.WaitFor(30*time.Second, func() bool {
		if at := pt.Attempts(line.ID); len(at) > 1 {
			batchAt = at[1].At
		}
		if s := tg.Requests("sendMessage"); len(s) > 1 {
			sendAt = s[1].At
		}
		return !batchAt.IsZero() && !sendAt.IsZero()
	}) {
		t.Fatalf("B never took over: batch at %v, reply at %v", batchAt, sendAt)
	}
	evRep, replyRep := checkAllArrived(t, pt, tg, w)
	t.Logf("MariaDB, 2 replicas, kill -9 of the one holding the work: survivor's first batch of the line %s after the kill, in-flight reply resent %s after the kill (instance.stale_after %s); %d event(s) delivered twice (same ids), %d reply(ies) sent twice",
		batchAt.Sub(killAt).Round(time.Millisecond), sendAt.Sub(killAt).Round(time.Millisecond), staleAfter, evRep, replyRep)
	bound := staleAfter + 3*time.Second // heartbeat period, scan, slack for a loaded machine
	if d := batchAt.Sub(killAt); d > bound {
		t.Errorf("the survivor took the line %s after the kill, want within %s", d, bound)
	}
	if d := sendAt.Sub(killAt); d > bound {
		t.Errorf("the survivor resent the reply %s after the kill, want within %s", d, bound)
	}
}
