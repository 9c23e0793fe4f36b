package queuetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/connector-gateway/connector/queue"
)

// runPolls: one poller per connection across processes.
func runPolls(t *testing.T, b Backend) {
	ctx := context.Background()
	// The poll lease lets exactly one process poll a connection: it is taken
	// only when free or expired, renewed only by its holder, and a process that
	// lost it can no longer move the connection's position.
	t.Run("PollLease", func(t *testing.T) {
		clock := NewClock(time.Unix(1_700_000_000, 0))
		p := queue.NewPolls(Open(t, b), clock.Now)
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
		if !must(p.HeldByOther(ctx, conn, "B")) || must(p.HeldByOther(ctx, conn, "A")) {
			t.Fatal("HeldByOther: want held by A, seen from B, and not by another, seen from A")
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
		if must(p.HeldByOther(ctx, conn, "B")) {
			t.Fatal("HeldByOther: an expired lease counts as held")
		}
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
		if must(p.HeldByOther(ctx, conn, "B")) {
			t.Fatal("HeldByOther: a disabled connection's lease counts as held")
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
