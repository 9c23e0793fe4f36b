package app_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/connector-gateway/connector/connectors/telegram/telegramtest"
	"github.com/connector-gateway/connector/portal/portaltest"
	"github.com/connector-gateway/connector/queue/queuetest"
)

// Three lines on two portals, one portal failing: the failing line is locked
// out with growing periods, the healthy lines keep flowing meanwhile, after
// the window the failing line's events are dead letters, and replay
// delivers them in their original order once the portal is back.
func TestFailingPortalIsIsolatedThenDeadLettersReplay(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b queuetest.Backend) {
		tg := telegramtest.New(t, botToken)
		healthy, failing := portaltest.New(t), portaltest.New(t)
		cfg := testConfig(b, b.DSN(t), tg.Endpoint())
		schedule := []time.Duration{300 * time.Millisecond, 600 * time.Millisecond, 1200 * time.Millisecond}
		cfg.Queue.Schedule, cfg.Queue.Window = schedule, 3*time.Second
		cfg.Dispatch.Timeout = 5 * time.Second
		g := startGateway(t, cfg)
		a := wire(t, g, tg, healthy, 2) // lines 0 and 1 of the healthy portal
		f := wire(t, g, tg, failing, 1) // the failing portal's line
		fl := f.Lines[0]
		failing.FailLine(fl, http.StatusServiceUnavailable)
		failing.HangLine(fl, 2*time.Second)

		update := 1
		post := func(w wiring, i int, text string) {
			t.Helper()
			update++
			if code := postUpdate(t, g, w.Hashes[i], w.Secrets[i], tg.Update(update, int64(500+i), text)); code != http.StatusOK {
				t.Fatalf("webhook answered %d", code)
			}
		}
		for i := 0; i < 5; i++ {
			post(f, 0, fmt.Sprintf("f%d", i))
		}
		if !failing.WaitFor(10*time.Second, func() bool { return failing.InFlight() == 1 }) {
			t.Fatal("failing portal never got a request")
		}
		// While the failing portal holds its request, the healthy lines flow.
		for i := 0; i < 20; i++ {
			post(a, 0, fmt.Sprintf("a%d", i))
			post(a, 1, fmt.Sprintf("b%d", i))
		}
		if !healthy.WaitFor(10*time.Second, func() bool { return healthy.Total() == 40 }) {
			t.Fatalf("healthy portal got %d of 40 while the other hung", healthy.Total())
		}
		if failing.InFlight() != 1 {
			t.Fatal("healthy lines were delivered only after the failing portal let go: they waited for it")
		}
		failing.HangLine(fl, 0)

		// The failing line ends in dead letters after the window.
		if !failing.WaitFor(20*time.Second, func() bool { return f.lineState(t, fl).Queue.DeadLetters == 5 }) {
			t.Fatalf("no dead letters after the window: %+v", f.lineState(t, fl))
		}
		st := f.lineState(t, fl)
		if st.Queue.Pending != 0 || st.Queue.LastError == "" {
			t.Fatalf("line state after expiry: %+v", st)
		}
		attempts := failing.Attempts(fl)
		if len(attempts) < 3 {
			t.Fatalf("only %d attempts before expiry", len(attempts))
		}
		// Each retry waits at least its lock-out period: the periods grow.
		for i := 1; i < len(attempts)-1 && i < len(schedule); i++ {
			if gap := attempts[i+1].At.Sub(attempts[i].At); gap < schedule[i] {
				t.Fatalf("retry %d came %s after the previous failure, before its %s lock-out ended", i+1, gap, schedule[i])
			}
		}
		// Healthy lines still flow while the failing line is locked out.
		post(a, 0, "after")
		if !healthy.WaitFor(10*time.Second, func() bool { return healthy.Total() == 41 }) {
			t.Fatal("healthy line stalled")
		}

		failing.FailLine(fl, 0)
		var out struct {
			Replayed int `json:"replayed"`
		}
		if err := f.Client.Do(context.Background(), "POST", "/v1/lines/"+fl+"/dead-letters/replay", map[string]any{}, &out, nil); err != nil || out.Replayed != 5 {
			t.Fatalf("replay = %+v, %v", out, err)
		}
		if !failing.WaitFor(10*time.Second, func() bool { return len(failing.Events(fl)) == 5 }) {
			t.Fatalf("replayed events not delivered: %d", len(failing.Events(fl)))
		}
		for i, ev := range failing.Events(fl) {
			if ev.Message.Text != fmt.Sprintf("f%d", i) {
				t.Fatalf("replayed event %d is %q: original order lost", i, ev.Message.Text)
			}
		}
		// The portal records a batch before it answers; the gateway's ack
		// follows the answer.
		if !failing.WaitFor(10*time.Second, func() bool {
			st := f.lineState(t, fl)
			return st.Queue.DeadLetters == 0 && st.Queue.Pending == 0
		}) {
			t.Fatalf("after replay: %+v", f.lineState(t, fl))
		}
	})
}
