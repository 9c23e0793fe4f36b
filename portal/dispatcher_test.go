package portal_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connector-gateway/connector/portal"
	"github.com/connector-gateway/connector/queue"
	"github.com/connector-gateway/connector/queue/queuetest"
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
			sealer, err := portal.NewSealer(portal.NewKey())
			if err != nil {
				t.Fatal(err)
			}
			recs := portal.NewRecords(db, sealer, nil, nil)
			p, _, err := recs.CreatePortal(ctx, "Redirecting", srv.URL)
			if err != nil {
				t.Fatal(err)
			}
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
