package queue_test

import (
	"context"
	"testing"
	"time"

	"github.com/connector-gateway/connector/queue"
	"github.com/connector-gateway/connector/queue/queuetest"
)

// A dead instance's line leases, outbound claims and poll leases are
// released once its heartbeat is stale, a live one's never; on SQLite a
// starting process frees everything any other owner holds.
func TestInstancesReleaseTheDeadOnesLeases(t *testing.T) {
	for _, b := range queuetest.Backends() {
		t.Run(b.Driver, func(t *testing.T) {
			ctx := context.Background()
			db := queuetest.Open(t, b)
			now := time.UnixMilli(1_700_000_000_000)
			clock := func() time.Time { return now }
			o, err := queue.NewOutbox(db, queue.Config{Now: clock})
			if err != nil {
				t.Fatal(err)
			}
			defer o.Close()
			out := queue.NewOutbound(o)
			polls := queue.NewPolls(db, clock)
			in := queue.NewInstances(db, clock)
			for _, l := range []string{"dead-line", "live-line"} {
				if _, err := o.Enqueue(ctx, []queue.NewEvent{{PortalID: "p1", LineID: l, EventID: "evt_" + l, Payload: []byte(`{}`)}}); err != nil {
					t.Fatal(err)
				}
			}
			hold := func(owner, line, conn string) {
				t.Helper()
				if err := in.Register(ctx, owner); err != nil {
					t.Fatal(err)
				}
				if got, err := o.ClaimLines(ctx, []queue.LineRef{{LineID: line, PortalID: "p1"}}, owner, time.Minute); err != nil || len(got) != 1 {
					t.Fatalf("claim %s: %v %v", line, got, err)
				}
				if _, _, err := out.Submit(ctx, queue.OutboundRequest{ID: "req-" + owner, PortalID: "p1", LineID: line, ConnectionID: conn, ChatID: "42", Op: "send", Payload: []byte(`{}`)}); err != nil {
					t.Fatal(err)
				}
				if rs, err := out.Claim(ctx, owner, 10, time.Minute); err != nil || len(rs) != 1 {
					t.Fatalf("claim request: %v %v", rs, err)
				}
				if err := polls.Enable(ctx, conn); err != nil {
					t.Fatal(err)
				}
				if ok, err := polls.TakeLease(ctx, conn, owner, time.Minute); err != nil || !ok {
					t.Fatalf("poll lease: %v %v", ok, err)
				}
			}
			hold("gw-dead", "dead-line", "con-dead")
			now = now.Add(4 * time.Second)
			hold("gw-live", "live-line", "con-live")

			now = now.Add(2 * time.Second) // dead: 6s without heartbeat, live: 2s
			rel, err := in.ReleaseStale(ctx, "gw-live", 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if rel.Instances != 1 || len(rel.Lines) != 1 || rel.Lines[0].LineID != "dead-line" || rel.Requests != 1 || rel.Polls != 1 {
				t.Fatalf("released %+v, want the dead instance's line, request and poll lease", rel)
			}
			// Free for anyone now, long before the one-minute leases end.
			if got, err := o.ClaimLines(ctx, []queue.LineRef{{LineID: "dead-line", PortalID: "p1"}, {LineID: "live-line", PortalID: "p1"}}, "gw-other", time.Minute); err != nil || len(got) != 1 || got[0].LineID != "dead-line" {
				t.Fatalf("after release, claimable: %+v %v (want only the dead one's line)", got, err)
			}
			if rs, err := out.Claim(ctx, "gw-other", 10, time.Minute); err != nil || len(rs) != 1 || rs[0].ID != "req-gw-dead" {
				t.Fatalf("after release, requests claimable: %+v %v", rs, err)
			}
			if ok, _ := polls.TakeLease(ctx, "con-dead", "gw-other", time.Minute); !ok {
				t.Fatal("the dead instance's poll lease was not freed")
			}
			if ok, _ := polls.TakeLease(ctx, "con-live", "gw-other", time.Minute); ok {
				t.Fatal("a live instance's poll lease was taken")
			}
			// The live one keeps beating; the dead one's row is gone, so if it
			// was only stalled it learns it was presumed dead.
			if alive, err := in.Heartbeat(ctx, "gw-live"); err != nil || !alive {
				t.Fatalf("live heartbeat: %v %v", alive, err)
			}
			if alive, err := in.Heartbeat(ctx, "gw-dead"); err != nil || alive {
				t.Fatalf("heartbeat of a released instance: %v %v, want false", alive, err)
			}

			// A restart on one database (SQLite's case): everything else is freed.
			rel, err = in.ReleaseOthers(ctx, "gw-new")
			if err != nil {
				t.Fatal(err)
			}
			if len(rel.Lines) != 2 || rel.Requests != 2 || rel.Polls != 2 {
				t.Fatalf("ReleaseOthers freed %+v, want both lines, both requests, both poll leases", rel)
			}
		})
	}
}
