package app_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/connector-gateway/connector/cmd/connector/app"
	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/telegram/telegramtest"
	"github.com/connector-gateway/connector/portal"
	"github.com/connector-gateway/connector/portal/portaltest"
)

// leasesOf counts line leases held by the process with this pid.
func leasesOf(t *testing.T, db *sql.DB, pid int) int {
	t.Helper()
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM line_queue WHERE lease_owner LIKE ?", fmt.Sprintf("gw-%%-%d-%%", pid)).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// Three serve processes on one MariaDB share 50 lines and 10,000 events.
// One is killed with SIGKILL mid-run: its lines resume on the others once
// its heartbeat is stale (instance.stale_after), well before its leases
// would run out. One is stopped with SIGTERM: it releases its leases
// as it exits, so nothing waits for them. Every event arrives, per-line
// order holds, and a redelivery (only possible for a batch in flight at the
// SIGKILL) carries the same event id.
func TestThreeReplicasShareWorkAndHandOver(t *testing.T) {
	b := mysqlBackend()
	tg := telegramtest.New(t, botToken)
	pt := portaltest.New(t)
	dsn := b.DSN(t)
	cfg := testConfig(b, dsn, tg.Endpoint())
	ctx := context.Background()
	store, err := app.OpenStore(ctx, cfg, testLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	pr, secret, err := store.Records.CreatePortal(ctx, "Acme", pt.URL)
	if err != nil {
		t.Fatal(err)
	}
	pt.SetSecrets(secret)
	const lines, per = 50, 200
	var hashes, lineIDs []string
	for i := 0; i < lines; i++ {
		l, err := store.Records.CreateLine(ctx, pr.ID, "line "+strconv.Itoa(i))
		if err != nil {
			t.Fatal(err)
		}
		c, err := store.Records.CreateConnection(ctx, l.ID, "telegram", connectors.Settings{"bot_token": botToken, "mode": "webhook", "webhook_secret": "hooksecret"})
		if err != nil {
			t.Fatal(err)
		}
		if err := store.Records.SetState(ctx, c.ID, true, portal.ConnOK, ""); err != nil {
			t.Fatal(err)
		}
		hashes, lineIDs = append(hashes, c.Hash), append(lineIDs, l.ID)
		pt.HangLine(l.ID, 5*time.Millisecond) // keep batches in flight
	}
	const leaseTimeout = 2 * time.Second // lease = 3 × dispatch.timeout = 6s
	env := []string{
		"CONNECTOR_DATABASE_DRIVER=mysql", "CONNECTOR_DATABASE_DSN=" + dsn, "CONNECTOR_DATABASE_AUTO_MIGRATE=true",
		"CONNECTOR_SECRETS_KEY=" + cfg.Secrets.Key, "CONNECTOR_TELEGRAM_API_ENDPOINT=" + tg.Endpoint(),
		"CONNECTOR_DISPATCH_BATCH_SIZE=10", "CONNECTOR_DISPATCH_POLL=100ms", "CONNECTOR_DISPATCH_TIMEOUT=" + leaseTimeout.String(),
	}
	procs := []*process{startProcess(t, t.TempDir(), env), startProcess(t, t.TempDir(), env), startProcess(t, t.TempDir(), env)}
	var aliveMu sync.Mutex
	alive := []*process{procs[0], procs[1], procs[2]}
	post := func(line, i int) {
		body := tg.Update(line*per+i+1, int64(100+line), strconv.Itoa(i))
		for attempt := 0; attempt < 20; attempt++ {
			aliveMu.Lock()
			p := alive[(i+attempt)%len(alive)]
			aliveMu.Unlock()
			if code := postUpdate2(p.addr, hashes[line], body); code == http.StatusOK {
				return
			}
			time.Sleep(20 * time.Millisecond) // a load balancer would retry elsewhere
		}
		t.Errorf("line %d update %d never accepted", line, i)
	}
	var wg sync.WaitGroup
	for w := 0; w < 10; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < per; i++ {
				for line := w; line < lines; line += 10 {
					post(line, i)
				}
			}
		}(w)
	}
	drop := func(p *process) {
		aliveMu.Lock()
		defer aliveMu.Unlock()
		for i, q := range alive {
			if q == p {
				alive = append(alive[:i], alive[i+1:]...)
			}
		}
	}
	// SIGKILL one replica mid-run.
	if !pt.WaitFor(60*time.Second, func() bool { return pt.Total() >= 2000 }) {
		t.Fatalf("only %d delivered before the kill", pt.Total())
	}
	killed := procs[2]
	drop(killed)
	killedAt := time.Now()
	_ = killed.cmd.Process.Signal(syscall.SIGKILL)
	<-killed.done
	killed.done <- nil
	heldAtKill := leasesOf(t, store.DB.SQL, killed.cmd.Process.Pid)
	takeoverCh := make(chan time.Duration, 1)
	go func() {
		for leasesOf(t, store.DB.SQL, killed.cmd.Process.Pid) > 0 && time.Since(killedAt) < 2*time.Minute {
			time.Sleep(20 * time.Millisecond)
		}
		takeoverCh <- time.Since(killedAt)
	}()

	// SIGTERM another: it must hand its lines over as it exits.
	if !pt.WaitFor(60*time.Second, func() bool { return pt.Total() >= 5000 }) {
		t.Fatalf("only %d delivered before the stop", pt.Total())
	}
	stopped := procs[1]
	drop(stopped)
	_ = stopped.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-stopped.done:
		if err != nil {
			t.Fatalf("SIGTERM exit: %v", err)
		}
		stopped.done <- nil
	case <-time.After(30 * time.Second):
		t.Fatal("no exit 30s after SIGTERM")
	}
	if n := leasesOf(t, store.DB.SQL, stopped.cmd.Process.Pid); n != 0 {
		t.Fatalf("the SIGTERMed replica left %d line leases for others to wait out", n)
	}

	wg.Wait()
	distinct := func() int {
		seen := map[string]bool{}
		for _, l := range lineIDs {
			for _, ev := range pt.Events(l) {
				seen[ev.ID] = true
			}
		}
		return len(seen)
	}
	if !pt.WaitFor(120*time.Second, func() bool { return distinct() == lines*per }) {
		t.Fatalf("%d of %d events delivered", distinct(), lines*per)
	}
	takeover := <-takeoverCh
	dups := 0
	for li, l := range lineIDs {
		ids := map[string]bool{}
		next := 0
		for _, ev := range pt.Events(l) {
			if ids[ev.ID] {
				dups++
				continue
			}
			ids[ev.ID] = true
			if ev.Message.Text != strconv.Itoa(next) {
				t.Fatalf("line %d: got %q, want %d: per-line order broken", li, ev.Message.Text, next)
			}
			next++
		}
	}
	t.Logf("10,000 events over 3 replicas: %d redelivered after SIGKILL (same ids); killed replica held %d leases; its lines were all released %.1fs after the kill (instance.stale_after 5s, lease %s)",
		dups, heldAtKill, takeover.Seconds(), 3*leaseTimeout)
	// The survivors release a dead replica's leases once its heartbeat is
	// stale (5s by default), not when the leases run out.
	if heldAtKill > 0 && takeover > 5*time.Second+3*time.Second {
		t.Errorf("the killed replica's leases were released %s after the kill, later than instance.stale_after + margin", takeover)
	}
}

func postUpdate2(addr, hash string, body []byte) int {
	g := &gateway{URL: "http://" + addr}
	req, _ := http.NewRequest("POST", g.URL+"/hook/"+hash, bytesReader(body))
	req.Header.Set("X-Telegram-Bot-Api-Secret-Token", "hooksecret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}
