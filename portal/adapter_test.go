package portal_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/connector-gateway/connector/portal"
	"github.com/connector-gateway/connector/queue"
	"github.com/connector-gateway/connector/queue/queuetest"
)

// recordingAdapter fails its first call after accepting the batch's first
// event, as a helpdesk that goes away mid-batch, and remembers what it
// accepted in AdapterIDs so the retry does not post that event again.
type recordingAdapter struct {
	ids    *portal.AdapterIDs
	mu     sync.Mutex
	calls  int
	posted []string
}

func (a *recordingAdapter) Deliver(ctx context.Context, p portal.Portal, b portal.DeliveryBatch) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls++
	for i, it := range b.Items {
		if _, done, err := a.ids.Get(ctx, p.ID, "event:"+it.EventID); err != nil || done {
			if err != nil {
				return err
			}
			continue
		}
		if a.calls == 1 && i == 1 {
			return errors.New("helpdesk went away")
		}
		a.posted = append(a.posted, it.EventID)
		if err := a.ids.Put(ctx, p.ID, map[string]string{"event:" + it.EventID: "msg-" + it.EventID}); err != nil {
			return err
		}
	}
	return nil
}

// A portal of an adapter kind gets its batches through the adapter, with
// the native settings kept sealed; a failure in the middle of a batch
// locks the line out and the retry posts only what was not yet accepted.
func TestAdapterKindDeliversThroughAdapterOnce(t *testing.T) {
	for _, b := range queuetest.Backends() {
		t.Run(b.Driver, func(t *testing.T) {
			ctx := context.Background()
			db := queuetest.Open(t, b)
			sealer, err := portal.NewSealer(portal.NewKey())
			if err != nil {
				t.Fatal(err)
			}
			recs := portal.NewRecords(db, sealer, nil, nil)
			p, _, err := recs.CreatePortal(ctx, "RT", "http://127.0.0.1:1/unused")
			if err != nil {
				t.Fatal(err)
			}
			if err := recs.SetPortalKind(ctx, p.ID, portal.KindRT, map[string]string{"token": "s3cret"}); err != nil {
				t.Fatal(err)
			}
			got, err := recs.GetPortal(ctx, p.ID)
			if err != nil || got.Kind != portal.KindRT || got.Adapter["token"] != "s3cret" {
				t.Fatalf("portal after SetPortalKind: %+v, %v", got, err)
			}
			if err := recs.SetPortalKind(ctx, p.ID, "smoke-signals", nil); err == nil {
				t.Fatal("an unknown kind was accepted")
			}
			ob, err := queue.NewOutbox(db, queue.Config{Schedule: []time.Duration{50 * time.Millisecond}})
			if err != nil {
				t.Fatal(err)
			}
			defer ob.Close()
			var evs []queue.NewEvent
			for _, id := range []string{"evt_1", "evt_2", "evt_3"} {
				evs = append(evs, queue.NewEvent{DedupeKey: "k" + id, PortalID: p.ID, LineID: "lin_1", EventID: id, Payload: []byte(`{"id":"` + id + `"}`)})
			}
			if _, err := ob.Enqueue(ctx, evs); err != nil {
				t.Fatal(err)
			}
			a := &recordingAdapter{ids: portal.NewAdapterIDs(db)}
			d, err := portal.NewDispatcher(ob, recs, portal.DispatcherConfig{Poll: 20 * time.Millisecond, Timeout: time.Second,
				Adapters: map[string]portal.Deliverer{portal.KindRT: a}})
			if err != nil {
				t.Fatal(err)
			}
			runCtx, cancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- d.Run(runCtx) }()
			deadline := time.Now().Add(10 * time.Second)
			for time.Now().Before(deadline) {
				st, err := ob.Status(ctx, "lin_1")
				if err == nil && st.Pending == 0 {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			cancel()
			<-done
			a.mu.Lock()
			defer a.mu.Unlock()
			if len(a.posted) != 3 || a.posted[0] != "evt_1" || a.posted[1] != "evt_2" || a.posted[2] != "evt_3" || a.calls < 2 {
				t.Fatalf("posted %v in %d calls; want each event once, in order, over a retry", a.posted, a.calls)
			}
		})
	}
}
