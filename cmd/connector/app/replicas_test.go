package app_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/connector-gateway/connector/connectors/telegram/telegramtest"
	"github.com/connector-gateway/connector/portal/portaltest"
)

// Two gateways (separate pools, as two processes would have) on one MariaDB
// share the work without delivering any event twice.
func TestTwoDispatchersOneMariaDB(t *testing.T) {
	b := mysqlBackend()
	tg := telegramtest.New(t, botToken)
	p := portaltest.New(t)
	dsn := b.DSN(t)
	cfg := testConfig(b, dsn, tg.Endpoint())
	cfg.Dispatch.BatchSize = 5
	g1 := startGateway(t, cfg)
	g2 := startGateway(t, cfg) // same database and secrets key
	const lines, per = 5, 100
	w := wire(t, g1, tg, p, lines)
	var wg sync.WaitGroup
	for l := 0; l < lines; l++ {
		wg.Add(1)
		go func(l int) {
			defer wg.Done()
			for i := 0; i < per; i++ {
				g := g1
				if i%2 == 1 {
					g = g2
				}
				if code := postUpdate(t, g, w.Hashes[l], w.Secrets[l], tg.Update(l*per+i+1, int64(100+l), fmt.Sprint(i))); code != http.StatusOK {
					t.Errorf("webhook answered %d", code)
					return
				}
			}
		}(l)
	}
	wg.Wait()
	if !p.WaitFor(60*time.Second, func() bool { return p.Total() >= lines*per }) {
		t.Fatalf("delivered %d of %d", p.Total(), lines*per)
	}
	time.Sleep(300 * time.Millisecond) // room for a double delivery to show
	seen := map[string]int{}
	for _, l := range w.Lines {
		for _, ev := range p.Events(l) {
			seen[ev.ID]++
		}
	}
	if len(seen) != lines*per || p.Total() != lines*per {
		t.Fatalf("distinct %d, total %d, want %d each", len(seen), p.Total(), lines*per)
	}
	for id, n := range seen {
		if n > 1 {
			t.Fatalf("event %s delivered %d times", id, n)
		}
	}
}
