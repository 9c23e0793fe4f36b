package portal_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connector-gateway/connector/portal"
	"github.com/connector-gateway/connector/queue"
	"github.com/connector-gateway/connector/queue/queuetest"
	"github.com/connector-gateway/connector/queue/sqldb"
)

// A portal that answers a batch with a redirect has not acknowledged it:
// the events stay queued and the line is locked out.
func TestRedirectIsNotAnAck(t *testing.T) {
	for _, b := range queuetest.Backends() {
		t.Run(b.Driver, func(t *testing.T) {
			ctx := context.Background()
			db := queuetest.Open(t, b)
			var gets, posts atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodGet {
					gets.Add(1)
					w.WriteHeader(http.StatusOK)
					return
				}
				posts.Add(1)
				http.Redirect(w, r, "/elsewhere", http.StatusFound)
			}))
			defer srv.Close()
			recs, p := newPortal(t, db, "Redirecting", srv.URL)
			ob, err := queue.NewOutbox(db, queue.Config{})
			if err != nil {
				t.Fatal(err)
			}
			defer ob.Close()
			if _, err := ob.Enqueue(ctx, []queue.NewEvent{{DedupeKey: "k", PortalID: p.ID, LineID: "lin_1", EventID: "evt_1", Payload: []byte(`{"id":"evt_1"}`)}}); err != nil {
				t.Fatal(err)
			}
			d, err := portal.NewDispatcher(ob, recs, portal.DispatcherConfig{Poll: 20 * time.Millisecond, Timeout: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			runCtx, cancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- d.Run(runCtx) }()
			deadline := time.Now().Add(10 * time.Second)
			var st queue.LineStatus
			for time.Now().Before(deadline) {
				st, err = ob.Status(ctx, "lin_1")
				if err != nil {
					t.Fatal(err)
				}
				if st.Failures > 0 {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if st.Failures == 0 || st.LockedUntil == nil || st.Pending != 1 {
				t.Fatalf("after a 302: %+v; want the event kept and the line locked out", st)
			}
			if posts.Load() == 0 || gets.Load() != 0 {
				t.Fatalf("posts %d, gets %d: the redirect was followed", posts.Load(), gets.Load())
			}
		})
	}
}

// A line whose queue ran dry keeps its lease for dispatch.linger, so its
// next events start without a claim; then the lease goes back and another
// replica may claim the line.
func TestDrainedLineKeepsItsLeaseForLinger(t *testing.T) {
	for _, b := range queuetest.Backends() {
		t.Run(b.Driver, func(t *testing.T) {
			ctx := context.Background()
			db := queuetest.Open(t, b)
			var posts atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				posts.Add(1)
				w.WriteHeader(http.StatusNoContent)
			}))
			t.Cleanup(srv.Close)
			recs, p := newPortal(t, db, "Lingering", srv.URL)
			var d *portal.Dispatcher
			ob, err := queue.NewOutbox(db, queue.Config{OnEnqueue: func(l []queue.LineRef) { d.Wake(l) }})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ob.Close() })
			const linger = time.Second
			d, err = portal.NewDispatcher(ob, recs, portal.DispatcherConfig{Poll: 50 * time.Millisecond, Timeout: time.Second, Lease: 8 * time.Second, Linger: linger})
			if err != nil {
				t.Fatal(err)
			}
			runDispatcher(t, d)
			line := queue.LineRef{LineID: "lin_1", PortalID: p.ID}
			delivered := func(n int64) {
				t.Helper()
				for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
					if st, _ := ob.Status(ctx, line.LineID); posts.Load() >= n && st.Pending == 0 {
						return
					}
				}
				t.Fatalf("event %d not delivered", n)
			}
			for i := range 2 {
				id := fmt.Sprintf("evt_%d", i+1)
				if _, err := ob.Enqueue(ctx, []queue.NewEvent{{DedupeKey: id, PortalID: p.ID, LineID: line.LineID, EventID: id, Payload: []byte(`{}`)}}); err != nil {
					t.Fatal(err)
				}
				drained := time.Now()
				delivered(int64(i + 1))
				got, err := ob.ClaimLines(ctx, []queue.LineRef{line}, "other", time.Minute)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != 0 && time.Since(drained) < linger/2 {
					t.Fatalf("turn %d: another owner claimed the line right after it drained: the lease was not kept", i+1)
				}
			}
			// Idle for longer than linger: the kept lease is given back.
			began := time.Now()
			for {
				got, err := ob.ClaimLines(ctx, []queue.LineRef{line}, "other", time.Minute)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) == 1 {
					if waited := time.Since(began); waited > linger+5*time.Second {
						t.Fatalf("kept lease released after %s (linger %s)", waited, linger)
					}
					_ = ob.Release(ctx, got[0])
					return
				}
				if time.Since(began) > linger+5*time.Second {
					t.Fatal("the kept lease was never released")
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

// newPortal creates a native portal posting to url.
func newPortal(t *testing.T, db *sqldb.DB, name, url string) (*portal.Records, portal.Portal) {
	t.Helper()
	sealer, err := portal.NewSealer(portal.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	recs := portal.NewRecords(db, sealer, nil, nil)
	p, _, err := recs.CreatePortal(context.Background(), name, url)
	if err != nil {
		t.Fatal(err)
	}
	return recs, p
}

// runDispatcher runs d until the test ends, then checks it stopped cleanly.
func runDispatcher(t *testing.T, d *portal.Dispatcher) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
}

// The ack of a batch that drained its line commits later, together with
// other lines' acks (queue.ack_delay). A line that gets its next event
// before that commit waits for it: no event is posted twice, none is lost,
// and order holds. Stopping the dispatcher commits the acks still waiting.
func TestDeferredAcksNeverRepostAnEvent(t *testing.T) {
	for _, b := range queuetest.Backends() {
		t.Run(b.Driver, func(t *testing.T) {
			ctx := context.Background()
			db := queuetest.Open(t, b)
			var mu sync.Mutex
			var got []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var body struct {
					Events []struct {
						N string `json:"n"`
					} `json:"events"`
				}
				if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
					w.WriteHeader(http.StatusBadRequest)
					return
				}
				mu.Lock()
				for _, e := range body.Events {
					got = append(got, e.N)
				}
				mu.Unlock()
				w.WriteHeader(http.StatusNoContent)
			}))
			t.Cleanup(srv.Close)
			recs, p := newPortal(t, db, "Deferred", srv.URL)
			var d *portal.Dispatcher
			// A long delay: every event but the first arrives while the
			// previous one's ack still waits.
			ob, err := queue.NewOutbox(db, queue.Config{AckDelay: 300 * time.Millisecond, OnEnqueue: func(l []queue.LineRef) { d.Wake(l) }})
			if err != nil {
				t.Fatal(err)
			}
			d, err = portal.NewDispatcher(ob, recs, portal.DispatcherConfig{Poll: 50 * time.Millisecond, Timeout: time.Second, Lease: 8 * time.Second, Linger: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			runCtx, cancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- d.Run(runCtx) }()
			received := func() []string {
				mu.Lock()
				defer mu.Unlock()
				return append([]string(nil), got...)
			}
			const n = 6
			for i := range n {
				id := fmt.Sprintf("evt_%d", i)
				payload := fmt.Sprintf(`{"n":"%d"}`, i)
				if _, err := ob.Enqueue(ctx, []queue.NewEvent{{DedupeKey: id, PortalID: p.ID, LineID: "lin_1", EventID: id, Payload: []byte(payload)}}); err != nil {
					t.Fatal(err)
				}
				for end := time.Now().Add(10 * time.Second); len(received()) <= i && time.Now().Before(end); time.Sleep(2 * time.Millisecond) {
				}
			}
			// Long enough for a wrongly re-read batch to be posted again.
			time.Sleep(400 * time.Millisecond)
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			want := []string{"0", "1", "2", "3", "4", "5"}
			if r := received(); fmt.Sprint(r) != fmt.Sprint(want) {
				t.Fatalf("portal received %v, want %v once each, in order", r, want)
			}
			// The last ack was deferred; the dispatcher's stop committed it.
			ob.Close()
			ob2, err := queue.NewOutbox(db, queue.Config{})
			if err != nil {
				t.Fatal(err)
			}
			defer ob2.Close()
			if st, _ := ob2.Status(ctx, "lin_1"); st.Pending != 0 {
				t.Fatalf("pending = %d after the dispatcher stopped, want 0", st.Pending)
			}
		})
	}
}
