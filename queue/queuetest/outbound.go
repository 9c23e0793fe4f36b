package queuetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/connector-gateway/connector/queue"
)

// runOutbound: portals' requests to messengers, in order per chat.
func runOutbound(t *testing.T, b Backend) {
	ctx := context.Background()
	t.Run("OutboundPerChatOrderAndIdempotency", func(t *testing.T) {
		clk := NewClock(time.Unix(1_700_000_000, 0))
		o := newOutbox(t, Open(t, b), queue.Config{Now: clk.Now})
		out := queue.NewOutbound(o)
		sub := func(id, chat, idem string) string {
			got, _, err := out.Submit(ctx, queue.OutboundRequest{ID: id, PortalID: "p1", LineID: "l1", ConnectionID: "c1", ChatID: chat, Op: "send", Payload: []byte("{}"), IdemKey: idem})
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		sub("r1", "chatA", "x1")
		sub("r2", "chatA", "")
		sub("r3", "chatB", "")
		if got := sub("r4", "chatA", "x1"); got != "r1" {
			t.Fatalf("repeat idempotency key gave %s, want r1", got)
		}
		reqs, err := out.Claim(ctx, "w", 10, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if len(reqs) != 2 || reqs[0].ID != "r1" || reqs[1].ID != "r3" {
			t.Fatalf("claimed %v, want heads r1 and r3", ids(reqs))
		}
		// r1 fails transiently: r2 must wait behind it.
		if err := out.Retry(ctx, reqs[0], clk.Now().Add(time.Minute), "timeout"); err != nil {
			t.Fatal(err)
		}
		if more, _ := out.Claim(ctx, "w", 10, time.Minute); len(more) != 0 {
			t.Fatalf("claimed %v while r1 waits for retry", ids(more))
		}
		clk.Advance(time.Minute)
		reqs2, _ := out.Claim(ctx, "w", 10, time.Minute)
		if len(reqs2) != 1 || reqs2[0].ID != "r1" {
			t.Fatalf("after backoff claimed %v, want r1", ids(reqs2))
		}
		status := queue.NewEvent{PortalID: "p1", LineID: "l1", EventID: "st-r1", Payload: []byte(`{}`)}
		if err := out.Finish(ctx, reqs2[0], queue.OutboundDone, `["42"]`, status); err != nil {
			t.Fatal(err)
		}
		reqs3, _ := out.Claim(ctx, "w", 10, time.Minute)
		if len(reqs3) != 1 || reqs3[0].ID != "r2" {
			t.Fatalf("after r1 done claimed %v, want r2", ids(reqs3))
		}
		got, err := out.Get(ctx, "p1", "r1")
		if err != nil || got.State != queue.OutboundDone || got.Attempts != 2 {
			t.Fatalf("r1 = %+v, %v", got, err)
		}
		if _, err := out.Get(ctx, "p2", "r1"); !errors.Is(err, queue.ErrNotFound) {
			t.Fatalf("other portal reads r1: %v", err)
		}
		st, _ := o.Status(ctx, "l1")
		if st.Pending != 1 {
			t.Fatalf("status event not enqueued: pending %d", st.Pending)
		}
		if n, err := out.Pending(ctx); err != nil || n != 2 {
			t.Fatalf("pending requests = %d, %v; want r2 and r3", n, err)
		}
	})

	// A request that got partly through keeps its progress across a retry.
	t.Run("OutboundProgressSurvivesRetry", func(t *testing.T) {
		clock := NewClock(time.Unix(1_700_000_000, 0))
		out := queue.NewOutbound(newOutbox(t, Open(t, b), queue.Config{Now: clock.Now}))
		if _, _, err := out.Submit(ctx, queue.OutboundRequest{ID: "req_1", PortalID: "p", LineID: "l", ConnectionID: "c", ChatID: "42", Op: "send", Payload: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
		reqs, err := out.Claim(ctx, "s1", 10, time.Minute)
		if err != nil || len(reqs) != 1 || reqs[0].Result != "" {
			t.Fatalf("claim = %+v, %v", reqs, err)
		}
		r := reqs[0]
		r.Result = `["7","8"]`
		if err := out.Retry(ctx, r, clock.Now(), "part 3 failed"); err != nil {
			t.Fatal(err)
		}
		reqs, err = out.Claim(ctx, "s1", 10, time.Minute)
		if err != nil || len(reqs) != 1 || reqs[0].Result != `["7","8"]` || reqs[0].Attempts != 1 {
			t.Fatalf("second claim = %+v, %v; want the progress back", reqs, err)
		}
	})
}

func ids(rs []queue.OutboundRequest) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}
