package portal_test

import (
	"context"
	"sync"
	"testing"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/portal"
	"github.com/connector-gateway/connector/queue"
	"github.com/connector-gateway/connector/queue/queuetest"
)

// Connections activated at the same moment with the same bot, on every
// backend: whatever the interleaving, the bot ends up bound to exactly one
// of them and every other one is in emergency, its settings gone, its
// portal told once per eviction.
func TestActivateSameBotConcurrently(t *testing.T) {
	for _, b := range queuetest.Backends() {
		t.Run(b.Driver, func(t *testing.T) {
			ctx := context.Background()
			db := queuetest.Open(t, b)
			sealer, err := portal.NewSealer(portal.NewKey())
			if err != nil {
				t.Fatal(err)
			}
			outbox, err := queue.NewOutbox(db, queue.Config{})
			if err != nil {
				t.Fatal(err)
			}
			defer outbox.Close()
			recs := portal.NewRecords(db, sealer, outbox, queue.NewPolls(db, nil))
			p, _, err := recs.CreatePortal(ctx, "Acme", "https://acme.example/hook")
			if err != nil {
				t.Fatal(err)
			}
			const n = 6
			var conns []portal.Connection
			for i := range n {
				l, err := recs.CreateLine(ctx, p.ID, "Line "+string(rune('A'+i)))
				if err != nil {
					t.Fatal(err)
				}
				c, err := recs.CreateConnection(ctx, l.ID, "telegram", connectors.Settings{"bot_token": "1:secret"})
				if err != nil {
					t.Fatal(err)
				}
				conns = append(conns, c)
			}
			var wg sync.WaitGroup
			evictions := make(chan string, n)
			for _, c := range conns {
				wg.Add(1)
				go func() {
					defer wg.Done()
					lost, err := recs.Activate(ctx, c.ID, "telegram:1")
					if err != nil {
						t.Errorf("activate %s: %v", c.ID, err)
					}
					if lost.ID != "" {
						evictions <- lost.ID
					}
				}()
			}
			wg.Wait()
			close(evictions)
			var holders int
			for _, c := range conns {
				got, err := recs.GetConnection(ctx, c.ID)
				if err != nil {
					t.Fatal(err)
				}
				var key *string
				if err := db.SQL.QueryRowContext(ctx, "SELECT bot_key FROM connections WHERE id = ?", c.ID).Scan(&key); err != nil {
					t.Fatal(err)
				}
				switch {
				case key != nil && *key == "telegram:1":
					holders++
					if !got.Active || got.Status != portal.ConnOK || got.Settings["bot_token"] == "" {
						t.Errorf("holder %+v", got)
					}
				case got.Active || got.Status != portal.ConnEmergency || len(got.Settings) != 0:
					t.Errorf("loser %+v, want inactive, emergency, no settings", got)
				}
			}
			if holders != 1 {
				t.Fatalf("%d connections hold the bot, want 1", holders)
			}
			seen := map[string]bool{}
			for id := range evictions {
				seen[id] = true
			}
			if len(seen) != n-1 {
				t.Errorf("%d connections were evicted, want %d", len(seen), n-1)
			}
			var events int
			if err := db.SQL.QueryRowContext(ctx, "SELECT COUNT(*) FROM outbox_events").Scan(&events); err != nil {
				t.Fatal(err)
			}
			if events < n-1 {
				t.Errorf("%d emergency events queued, want at least one per evicted connection", events)
			}

			// Deactivating the holder releases the bot: binding it anew
			// evicts no one.
			for _, c := range conns {
				got, _ := recs.GetConnection(ctx, c.ID)
				if got.Active {
					if err := recs.Deactivate(ctx, c.ID); err != nil {
						t.Fatal(err)
					}
				}
			}
			l, _ := recs.CreateLine(ctx, p.ID, "Fresh")
			fresh, _ := recs.CreateConnection(ctx, l.ID, "telegram", connectors.Settings{"bot_token": "1:secret"})
			if lost, err := recs.Activate(ctx, fresh.ID, "telegram:1"); err != nil || lost.ID != "" {
				t.Errorf("binding a released bot: lost %q, %v", lost.ID, err)
			}
		})
	}
}
