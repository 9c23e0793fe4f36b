package queue_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/connector-gateway/connector/queue"
	"github.com/connector-gateway/connector/queue/queuetest"
)

func newOutbox(t *testing.T, b queuetest.Backend, clock *queuetest.Clock) *queue.Outbox {
	t.Helper()
	o, err := queue.NewOutbox(queuetest.Open(t, b), queue.Config{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(o.Close)
	return o
}

// The poll lease lets exactly one process poll a connection: it is taken
// only when free or expired, renewed only by its holder, and a process that
// lost it can no longer move the connection's position.
func TestPollLease(t *testing.T) {
	for _, b := range queuetest.Backends() {
		t.Run(b.Driver, func(t *testing.T) {
			ctx := context.Background()
			clock := queuetest.NewClock(time.Unix(1_700_000_000, 0))
			p := queue.NewPolls(queuetest.Open(t, b), clock.Now)
			const conn, lease = "con_1", 30 * time.Second
			must := func(ok bool, err error) bool {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
				return ok
			}

			if must(p.TakeLease(ctx, conn, "A", lease)) {
				t.Fatal("took the lease of a connection that does not poll")
			}
			for range 2 {
				if err := p.Enable(ctx, conn); err != nil {
					t.Fatal(err)
				}
			}
			if st, err := p.States(ctx); err != nil || len(st) != 1 || st[0].ConnectionID != conn || st[0].Position != "" {
				t.Fatalf("PollStates = %+v, %v", st, err)
			}
			if !must(p.TakeLease(ctx, conn, "A", lease)) {
				t.Fatal("A could not take a free lease")
			}
			if must(p.TakeLease(ctx, conn, "B", lease)) {
				t.Fatal("B took a lease A holds")
			}
			if !must(p.TakeLease(ctx, conn, "A", lease)) || !must(p.RenewLease(ctx, conn, "A", lease)) {
				t.Fatal("A lost its own lease")
			}
			if err := p.SavePosition(ctx, conn, "A", "101"); err != nil {
				t.Fatal(err)
			}
			if err := p.SavePosition(ctx, conn, "A", "101"); err != nil {
				t.Fatalf("saving the same position again: %v", err)
			}

			// A stops renewing (it died); once the lease expired B takes over.
			clock.Advance(lease - time.Second)
			if must(p.TakeLease(ctx, conn, "B", lease)) {
				t.Fatal("B took the lease before it expired")
			}
			clock.Advance(2 * time.Second)
			if !must(p.TakeLease(ctx, conn, "B", lease)) {
				t.Fatal("B could not take an expired lease")
			}
			if must(p.RenewLease(ctx, conn, "A", lease)) {
				t.Fatal("A renewed a lease B holds")
			}
			if err := p.SavePosition(ctx, conn, "A", "150"); !errors.Is(err, queue.ErrLeaseLost) {
				t.Fatalf("A saving after losing the lease: %v, want ErrLeaseLost", err)
			}
			if pos, err := p.Position(ctx, conn); err != nil || pos != "101" {
				t.Fatalf("position = %q, %v; want A's last save 101 kept", pos, err)
			}

			// Released on shutdown: A may take it at once.
			if err := p.ReleaseLease(ctx, conn, "B"); err != nil {
				t.Fatal(err)
			}
			if !must(p.TakeLease(ctx, conn, "A", lease)) {
				t.Fatal("A could not take a released lease")
			}

			// Disabled: no one holds or takes it, the position is kept for later.
			if err := p.Disable(ctx, conn); err != nil {
				t.Fatal(err)
			}
			if must(p.RenewLease(ctx, conn, "A", lease)) || must(p.TakeLease(ctx, conn, "B", lease)) {
				t.Fatal("a lease of a disabled connection was held")
			}
			if st, _ := p.States(ctx); len(st) != 0 {
				t.Fatalf("disabled connection listed: %+v", st)
			}
			if err := p.Enable(ctx, conn); err != nil {
				t.Fatal(err)
			}
			if pos, _ := p.Position(ctx, conn); pos != "101" {
				t.Fatalf("position after re-enabling = %q, want 101", pos)
			}
		})
	}
}

// A request that got partly through keeps its progress across a retry.
func TestOutboundProgressSurvivesRetry(t *testing.T) {
	for _, b := range queuetest.Backends() {
		t.Run(b.Driver, func(t *testing.T) {
			ctx := context.Background()
			clock := queuetest.NewClock(time.Unix(1_700_000_000, 0))
			out := queue.NewOutbound(newOutbox(t, b, clock))
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
}
