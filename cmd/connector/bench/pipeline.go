package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/connector-gateway/connector/queue"
)

// update renders an official-format Telegram update for a private text
// message.
func update(id int64, chat int, text string) []byte {
	b := make([]byte, 0, 320)
	b = fmt.Appendf(b, `{"update_id":%d,"message":{"message_id":%d,"from":{"id":%d,"is_bot":false,"first_name":"Ann","username":"ann","language_code":"en"},`, id, id, 1000+chat)
	b = fmt.Appendf(b, `"chat":{"id":%d,"first_name":"Ann","username":"ann","type":"private"},"date":%d,"text":%q}}`, 1000+chat, time.Now().Unix(), text)
	return b
}

func (e *env) post(ctx context.Context, hash string, body []byte) error {
	return e.postTo(ctx, e.addr, hash, body)
}

func (e *env) postTo(ctx context.Context, addr, hash string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/hook/"+hash, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Telegram-Bot-Api-Secret-Token", hookSecret)
	resp, err := e.client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("webhook answered %d", resp.StatusCode)
	}
	return nil
}

func waitUntil(ctx context.Context, timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

func pipeline(ctx context.Context, o Options, e *env, r *Result, say func(string, ...any)) error {
	var updateID atomic.Int64
	pr := newProbe(ctx, o)
	defer pr.close()
	gw := e.child.Process.Pid

	// The reference server, loaded the same way just before the gateway.
	if err := e.startReference(o); err != nil {
		return fmt.Errorf("reference: %w", err)
	}
	var refFailures atomic.Int64
	s0 := pr.sample(ctx, e.ref.Process.Pid)
	n, el, err := timed(o.Duration, o.Concurrency, func(w int) (int, error) {
		id := updateID.Add(1)
		i := int(id) % len(e.aHooks)
		if err := e.postTo(ctx, e.refAddr, e.aHooks[i], update(id, i, "ingest")); err != nil {
			refFailures.Add(1)
			return 0, nil
		}
		return 1, nil
	})
	s1 := pr.sample(ctx, e.ref.Process.Pid)
	stopChild(e.ref)
	e.ref = nil
	if err != nil || refFailures.Load() > 0 {
		return fmt.Errorf("reference: %d refused, %v (%s)", refFailures.Load(), err, e.stderr.String())
	}
	r.ReferencePerS = float64(n) / el.Seconds()
	r.Reference = pr.per(s0, s1, n)
	say("  reference group-commit server: %.0f webhooks/s (load %s); %s", r.ReferencePerS, loadAvg(), r.Reference)

	// Ingest: many concurrent webhook senders, each answered after commit.
	ackedBefore := e.a.acked.Load()
	var failures atomic.Int64
	s0 = pr.sample(ctx, gw)
	n, el, err = timed(o.Duration, o.Concurrency, func(w int) (int, error) {
		id := updateID.Add(1)
		i := int(id) % len(e.aHooks)
		if err := e.post(ctx, e.aHooks[i], update(id, i, "ingest")); err != nil {
			failures.Add(1)
			return 0, nil
		}
		return 1, nil
	})
	if err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	if f := failures.Load(); f > 0 {
		return fmt.Errorf("ingest: %d webhooks were refused (%s)", f, e.stderr.String())
	}
	s1 = pr.sample(ctx, gw)
	r.IngestPerS = float64(n) / el.Seconds()
	r.Ingest = pr.per(s0, s1, n)
	r.IngestReferenceRatio = ratio(r.IngestPerS, r.ReferencePerS)
	say("  ingest: %d webhooks in %.1fs = %.0f events/s (%.2f× reference, load %s); %s", n, el.Seconds(), r.IngestPerS, r.IngestReferenceRatio, loadAvg(), r.Ingest)
	if !waitUntil(ctx, 5*time.Minute, func() bool { return e.a.acked.Load()-ackedBefore >= n }) {
		return fmt.Errorf("ingest: only %d of %d events reached the portal", e.a.acked.Load()-ackedBefore, n)
	}

	// Ingest again with portal A down: a burst during an outage, and the
	// share of the ingest figure above that concurrent delivery costs on
	// this machine.
	e.a.mode.Store(modeDown)
	s0 = pr.sample(ctx, gw)
	n, el, err = timed(o.Duration/2, o.Concurrency, func(w int) (int, error) {
		id := updateID.Add(1)
		i := int(id) % len(e.aHooks)
		if err := e.post(ctx, e.aHooks[i], update(id, i, "outage")); err != nil {
			failures.Add(1)
			return 0, nil
		}
		return 1, nil
	})
	if err != nil || failures.Load() > 0 {
		return fmt.Errorf("ingest during outage: %d refused, %v", failures.Load(), err)
	}
	s1 = pr.sample(ctx, gw)
	r.IngestPortalDownPerS = float64(n) / el.Seconds()
	r.IngestPortalDown = pr.per(s0, s1, n)
	say("  ingest with the portal down: %.0f events/s (load %s); %s", r.IngestPortalDownPerS, loadAvg(), r.IngestPortalDown)
	ackedBefore = e.a.acked.Load()
	e.a.mode.Store(modeUp)
	if !waitUntil(ctx, 5*time.Minute, func() bool { return e.a.acked.Load()-ackedBefore >= n }) {
		return fmt.Errorf("after the outage only %d of %d events reached the portal", e.a.acked.Load()-ackedBefore, n)
	}

	// Latency with every portal healthy, and with portal B dead, in
	// interleaved windows so that drift of this shared machine hits both
	// alike; the windows of each kind are pooled.
	rounds := 3
	if o.Short {
		rounds = 1
	}
	window := o
	window.Duration = o.Duration / time.Duration(rounds)
	var healthy, dead latencies
	var offered float64
	base := 0
	for round := 0; round < rounds; round++ {
		e.b.mode.Store(modeUp)
		// "All healthy" means portal B has caught up on what it missed
		// while dead, so its lines are not mid-recovery in this window.
		if !waitUntil(ctx, 2*time.Minute, func() bool { return e.waiting(ctx, e.bPortal) == 0 }) {
			return fmt.Errorf("latency: portal B did not catch up after coming back")
		}
		w0 := pr.sample(ctx, gw)
		lat, off, err := latency(ctx, window, e, &updateID, true, base)
		if err != nil {
			return fmt.Errorf("latency: %w", err)
		}
		wc := pr.per(w0, pr.sample(ctx, gw), int64(len(lat.all)))
		r.Latency = r.Latency.mix(int64(len(healthy.all)), wc, int64(len(lat.all)))
		base += 10_000_000
		offered += off / float64(rounds)
		healthy.all, healthy.a = append(healthy.all, lat.all...), append(healthy.a, lat.a...)
		e.b.mode.Store(modeDead)
		lat2, _, err := latency(ctx, window, e, &updateID, false, base)
		if err != nil {
			return fmt.Errorf("isolation: %w", err)
		}
		base += 10_000_000
		dead.a = append(dead.a, lat2.a...)
	}
	r.OfferedPerS = offered
	r.E2EP50ms, r.E2EP90ms, r.E2EP99ms, r.E2EMaxms = pct(healthy.all, 50), pct(healthy.all, 90), pct(healthy.all, 99), pct(healthy.all, 100)
	say("  latency at %.0f events/s: p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms; %s", offered, r.E2EP50ms, r.E2EP90ms, r.E2EP99ms, r.E2EMaxms, r.Latency)
	healthyP99 := pct(healthy.a, 99)
	r.IsolationP99ms = pct(dead.a, 99)
	r.IsolationP99Ratio = ratio(r.IsolationP99ms, healthyP99)
	say("  isolation (%d interleaved windows each): healthy lines' p99 %.1f ms with portal B dead vs %.1f ms all healthy (ratio %.2f)", rounds, r.IsolationP99ms, healthyP99, r.IsolationP99Ratio)

	// Backlog: portal A down while the outbox fills, then up; time the drain.
	e.a.mode.Store(modeDown)
	fillStart := time.Now()
	if err := fill(ctx, e, o.Backlog); err != nil {
		return fmt.Errorf("backlog fill: %w", err)
	}
	say("  backlog: filled %d events in %.1fs with the portal down", o.Backlog, time.Since(fillStart).Seconds())
	before := e.a.acked.Load()
	s0 = pr.sample(ctx, gw)
	start := time.Now()
	e.a.mode.Store(modeUp)
	if !waitUntil(ctx, 15*time.Minute, func() bool { return e.a.acked.Load()-before >= int64(o.Backlog) }) {
		return fmt.Errorf("backlog: drained %d of %d", e.a.acked.Load()-before, o.Backlog)
	}
	r.BacklogEvents = o.Backlog
	r.BacklogDrainS = time.Since(start).Seconds()
	s1 = pr.sample(ctx, gw)
	r.DeliverPerS = float64(o.Backlog) / r.BacklogDrainS
	r.Deliver = pr.per(s0, s1, int64(o.Backlog))
	say("  backlog drained in %.1fs = %.0f events/s delivered (load %s); %s", r.BacklogDrainS, r.DeliverPerS, loadAvg(), r.Deliver)
	if bad := e.a.badSig.Load() + e.b.badSig.Load(); bad > 0 {
		return fmt.Errorf("%d batches failed signature verification", bad)
	}
	r.RSSPeakMB = e.rssPeakMB()
	return nil
}

type latencies struct{ all, a []float64 }

// latency offers o.Rate events/s for o.Duration, open loop (each event has
// a scheduled send time, and its latency counts from then, so a slow
// gateway cannot hide queueing in the sender), one in ten to portal B's
// lines. It waits for every event that should arrive.
func latency(ctx context.Context, o Options, e *env, updateID *atomic.Int64, bHealthy bool, base int) (latencies, float64, error) {
	e.a.mu.Lock()
	e.a.received = map[int]time.Time{}
	e.a.mu.Unlock()
	e.b.mu.Lock()
	e.b.received = map[int]time.Time{}
	e.b.mu.Unlock()
	e.a.track.Store(true)
	e.b.track.Store(true)
	defer e.a.track.Store(false)
	defer e.b.track.Store(false)

	total := int(float64(o.Rate) * o.Duration.Seconds())
	interval := time.Second / time.Duration(o.Rate)
	scheduled := make([]time.Time, total)
	toB := func(i int) bool { return i%10 == 9 }
	jobs := make(chan int, 1024)
	var wg sync.WaitGroup
	var failures atomic.Int64
	for w := 0; w < 256; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				id := updateID.Add(1)
				hash := e.aHooks[i%len(e.aHooks)]
				if toB(i) {
					hash = e.bHooks[i%len(e.bHooks)]
				}
				if err := e.post(ctx, hash, update(id, i, "lat:"+strconv.Itoa(base+i))); err != nil {
					failures.Add(1)
				}
			}
		}()
	}
	start := time.Now()
	for i := 0; i < total; i++ {
		at := start.Add(time.Duration(i) * interval)
		if d := time.Until(at); d > 0 {
			time.Sleep(d)
		}
		scheduled[i] = at
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	sent := time.Since(start)
	if f := failures.Load(); f > 0 {
		return latencies{}, 0, fmt.Errorf("%d webhooks refused", f)
	}
	wantA, wantB := 0, 0
	for i := 0; i < total; i++ {
		if toB(i) {
			wantB++
		} else {
			wantA++
		}
	}
	count := func(p *benchPortal) int {
		p.mu.Lock()
		defer p.mu.Unlock()
		n := 0
		for k := range p.received {
			if k >= base && k < base+total {
				n++
			}
		}
		return n
	}
	ok := waitUntil(ctx, 2*time.Minute, func() bool {
		return count(e.a) >= wantA && (!bHealthy || count(e.b) >= wantB)
	})
	if !ok {
		return latencies{}, 0, fmt.Errorf("only %d/%d (A) and %d/%d (B) events arrived", count(e.a), wantA, count(e.b), wantB)
	}
	var l latencies
	e.a.mu.Lock()
	for n, at := range e.a.received {
		if i := n - base; i >= 0 && i < total {
			ms := float64(at.Sub(scheduled[i]).Microseconds()) / 1000
			l.a = append(l.a, ms)
			l.all = append(l.all, ms)
		}
	}
	e.a.mu.Unlock()
	if bHealthy {
		e.b.mu.Lock()
		for n, at := range e.b.received {
			if i := n - base; i >= 0 && i < total {
				l.all = append(l.all, float64(at.Sub(scheduled[i]).Microseconds())/1000)
			}
		}
		e.b.mu.Unlock()
	}
	return l, float64(total) / sent.Seconds(), nil
}

// pct is the q-th percentile (nearest rank); q=100 is the maximum.
func pct(v []float64, q float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	i := int(math.Ceil(q/100*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

// fill enqueues n realistic normalized events over portal A's active lines,
// straight into the outbox in large groups.
func fill(ctx context.Context, e *env, n int) error {
	const group = 2000
	portalID, err := e.portalOf(ctx, e.aLines[0])
	if err != nil {
		return err
	}
	for done := 0; done < n; {
		k := min(group, n-done)
		evs := make([]queue.NewEvent, k)
		for j := range evs {
			i := done + j
			line := e.aLines[i%len(e.aLines)]
			id := fmt.Sprintf("evt_backlog_%d", i)
			evs[j] = queue.NewEvent{PortalID: portalID, LineID: line, EventID: id, Payload: fmt.Appendf(nil,
				`{"id":%q,"type":"message.created","occurred_at":"2026-01-01T00:00:00Z","connector":"telegram","channel":"telegram","connection":"con_bench","line":%q,"chat":{"id":"1042","type":"private"},"user":{"id":"1042","name":"Ann","username":"ann","language":"en","profile_hash":"0123456789abcdef0123456789abcdef"},"message":{"id":"%d","text":"backlog event %d"}}`,
				id, line, i, i)}
		}
		if _, err := e.store.Outbox.Enqueue(ctx, evs); err != nil {
			return err
		}
		done += k
	}
	return nil
}

// waiting counts a portal's events still in the outbox.
func (e *env) waiting(ctx context.Context, portalID string) int {
	depths, err := e.store.Outbox.Depths(ctx)
	if err != nil {
		return -1
	}
	n := 0
	for _, d := range depths {
		if d.PortalID == portalID {
			n += int(d.Pending)
		}
	}
	return n
}

func (e *env) portalOf(ctx context.Context, lineID string) (string, error) {
	l, err := e.store.Records.GetLine(ctx, lineID)
	if err != nil {
		return "", err
	}
	return l.PortalID, nil
}
