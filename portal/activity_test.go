package portal_test

import (
	"context"
	"testing"
	"time"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/portal"
	"github.com/connector-gateway/connector/queue/queuetest"
)

// The console asks "did the first message arrive since activation?": the
// first message after a change is always recorded, later ones at most about
// once a minute.
func TestNoteReceived(t *testing.T) {
	for _, b := range queuetest.Backends() {
		t.Run(b.Driver, func(t *testing.T) {
			ctx := context.Background()
			sealer, err := portal.NewSealer(portal.NewKey())
			if err != nil {
				t.Fatal(err)
			}
			r := portal.NewRecords(queuetest.Open(t, b), sealer)
			p, _, err := r.CreatePortal(ctx, "P", "https://p.example/")
			if err != nil {
				t.Fatal(err)
			}
			l, err := r.CreateLine(ctx, p.ID, "L")
			if err != nil {
				t.Fatal(err)
			}
			c, err := r.CreateConnection(ctx, l.ID, "telegram", connectors.Settings{})
			if err != nil {
				t.Fatal(err)
			}
			if at, err := r.LastReceived(ctx, c.ID); err != nil || !at.IsZero() {
				t.Fatalf("before any message: %v, %v", at, err)
			}
			before := time.Now().Add(-time.Millisecond)
			if err := r.NoteReceived(ctx, c); err != nil {
				t.Fatal(err)
			}
			first, err := r.LastReceived(ctx, c.ID)
			if err != nil || first.Before(before) {
				t.Fatalf("first message: %v, %v", first, err)
			}
			time.Sleep(5 * time.Millisecond)
			if err := r.NoteReceived(ctx, c); err != nil {
				t.Fatal(err)
			}
			if again, _ := r.LastReceived(ctx, c.ID); !again.Equal(first) {
				t.Fatalf("a second message within a minute was written (%v, then %v)", first, again)
			}
			// The connection changed (activated again): the next message counts at once.
			time.Sleep(5 * time.Millisecond)
			if err := r.SetState(ctx, c.ID, true, portal.ConnOK, ""); err != nil {
				t.Fatal(err)
			}
			c, err = r.GetConnection(ctx, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(5 * time.Millisecond)
			if err := r.NoteReceived(ctx, c); err != nil {
				t.Fatal(err)
			}
			if after, _ := r.LastReceived(ctx, c.ID); !after.After(c.UpdatedAt.Add(-time.Millisecond)) || !after.After(first) {
				t.Fatalf("first message after the change not recorded: %v (changed at %v)", after, c.UpdatedAt)
			}
			all, err := r.AllLastReceived(ctx)
			if err != nil || len(all) != 1 {
				t.Fatalf("all activity = %v, %v", all, err)
			}
		})
	}
}
