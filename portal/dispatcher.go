package portal

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/connector-gateway/connector/queue"
)

// DispatcherConfig tunes delivery. Zero fields take the documented default.
// The tagged fields are the gateway's dispatch.* config keys; the others
// are set by the program.
type DispatcherConfig struct {
	// BatchSize is the most events in one batch. Default 100.
	BatchSize int `mapstructure:"batch_size"`
	// Concurrency is the most lines delivered at once. Default 64.
	Concurrency int `mapstructure:"concurrency"`
	// PerPortal is the most lines of one portal delivered at once, so a
	// portal that hangs can hold only this many workers. Default 32.
	PerPortal int `mapstructure:"per_portal"`
	// Timeout bounds one batch POST. Default 10s.
	Timeout time.Duration `mapstructure:"timeout"`
	// Lease is how long a line stays ours without renewal; it must outlast
	// Timeout. Default (0) 3×Timeout.
	Lease time.Duration `mapstructure:"lease"`
	// Poll is how often the queue is scanned when nothing wakes the
	// dispatcher (events enqueued by other processes). Default 1s.
	Poll time.Duration `mapstructure:"poll"`

	// Owner names this process in line leases. Default: a random id.
	Owner string `mapstructure:"-"`
	// UserAgent is sent with every batch.
	UserAgent string       `mapstructure:"-"`
	Logger    *slog.Logger `mapstructure:"-"`
	// Observer hears every batch outcome (metrics). Default: none.
	Observer Observer `mapstructure:"-"`
	// Tracer traces batch deliveries; nil: none.
	Tracer BatchTracer `mapstructure:"-"`
	// Adapters deliver the batches of portals whose Kind is not
	// KindNative, by kind. A portal of a kind missing here fails (and is
	// retried) rather than getting a native POST it cannot read.
	Adapters map[string]Deliverer `mapstructure:"-"`
}

// DefaultDispatcherConfig is the dispatch.* configuration used when
// nothing is set.
func DefaultDispatcherConfig() DispatcherConfig {
	return DispatcherConfig{BatchSize: 100, Concurrency: 64, PerPortal: 32, Timeout: 10 * time.Second, Poll: time.Second}
}

// Validate checks the configured fields and names the first bad one by its
// config key.
func (c DispatcherConfig) Validate() error {
	switch {
	case c.BatchSize < 1 || c.BatchSize > 10000:
		return fmt.Errorf("batch_size: want 1..10000, got %d", c.BatchSize)
	case c.Concurrency < 1:
		return errors.New("concurrency: must be at least 1")
	case c.PerPortal < 1:
		return errors.New("per_portal: must be at least 1")
	case c.Timeout <= 0:
		return errors.New("timeout: must be positive")
	case c.Lease != 0 && c.Lease <= c.Timeout:
		return fmt.Errorf("lease: must be longer than dispatch.timeout (%s)", c.Timeout)
	case c.Poll <= 0:
		return errors.New("poll: must be positive")
	}
	return nil
}

func (c *DispatcherConfig) setDefaults() {
	if c.Owner == "" {
		c.Owner = processID("dsp")
	}
	if c.BatchSize == 0 {
		c.BatchSize = 100
	}
	if c.Concurrency == 0 {
		c.Concurrency = 64
	}
	if c.PerPortal == 0 {
		c.PerPortal = 32
	}
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Second
	}
	if c.Lease == 0 {
		c.Lease = 3 * c.Timeout
	}
	if c.Poll == 0 {
		c.Poll = time.Second
	}
	if c.UserAgent == "" {
		c.UserAgent = "connector-gateway"
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Observer == nil {
		c.Observer = nopObserver{}
	}
}

// PortalSource returns a portal's delivery details.
type PortalSource interface {
	GetPortal(ctx context.Context, id string) (Portal, error)
}

// VersionedPortalSource is a PortalSource that can answer from memory for a
// known row version (queue.Batch.PortalVersion; 0: unknown, read it).
type VersionedPortalSource interface {
	PortalSource
	PortalAt(ctx context.Context, id string, version int64) (Portal, error)
}

// Dispatcher claims lines with waiting events and posts their batches to the
// portals, one batch in flight per line, many lines at once.
//
// It learns of work two ways: Wake hands it the lines a local commit just
// wrote to (the hot path: no query to find them), and a scan of the queue
// every Poll, or when a lock-out or lease ends, finds the rest (events
// written by other replicas, lines whose lock-out is over).
type Dispatcher struct {
	cfg     DispatcherConfig
	outbox  *queue.Outbox
	portals PortalSource
	client  *http.Client
	wake    chan struct{}

	mu    sync.Mutex
	hints map[string]hint
	// lockedOut remembers lines this process locked out after a failure,
	// so wake-ups for them cost nothing until the lock ends (the scan
	// at the lock's end picks them up).
	lockedOut map[string]time.Time
	inflight  map[string]bool
	// held are leases a worker kept when it finished a line that received
	// events during its last post (the ack renewed the lease instead of
	// releasing it), so the line's next turn needs no claim: a busy line
	// pays one lease write per batch, not two. A held lease is taken by
	// the line's next turn or released at the next scan.
	held      map[string]*queue.Lease
	perPortal map[string]int
	running   bool
}

// hint is a line known to have received events. gen counts wake-ups; seen
// is the gen the line's worker had observed when it last read the queue,
// so a wake-up that came after the worker's last read is never lost.
type hint struct {
	portal    string
	gen, seen uint64
}

// NewDispatcher returns a dispatcher; Run starts it.
func NewDispatcher(outbox *queue.Outbox, portals PortalSource, cfg DispatcherConfig) (*Dispatcher, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("portal: dispatcher: %w", err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = cfg.PerPortal * 2
	return &Dispatcher{
		cfg:     cfg,
		outbox:  outbox,
		portals: portals,
		client: &http.Client{Transport: tr, Timeout: cfg.Timeout,
			// A redirect is not an ack: following it would turn the POST
			// into a body-less GET whose 2xx would delete the batch.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		wake:      make(chan struct{}, 1),
		hints:     make(map[string]hint),
		lockedOut: make(map[string]time.Time),
		inflight:  make(map[string]bool),
		held:      make(map[string]*queue.Lease),
		perPortal: make(map[string]int),
	}, nil
}

// Owner is the id this dispatcher holds leases under.
func (d *Dispatcher) Owner() string { return d.cfg.Owner }

// Wake tells the dispatcher that lines received events. It never blocks.
func (d *Dispatcher) Wake(lines []queue.LineRef) {
	if len(lines) > 0 {
		d.mu.Lock()
		for _, l := range lines {
			h := d.hints[l.LineID]
			h.portal = l.PortalID
			h.gen++
			d.hints[l.LineID] = h
		}
		d.mu.Unlock()
	}
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Running tells whether Run is active (for readiness).
func (d *Dispatcher) Running() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.running
}

// Run delivers until ctx ends. Then it stops claiming, lets batches already
// posted finish (bounded by Timeout) and acks or fails them, releases every
// lease it holds, and returns.
func (d *Dispatcher) Run(ctx context.Context) error {
	d.mu.Lock()
	d.running = true
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		d.running = false
		d.mu.Unlock()
	}()
	var wg sync.WaitGroup
	// done wakes the loop when a worker frees a slot; one pending signal
	// is enough, so workers never block on it.
	done := make(chan struct{}, 1)
	timer := time.NewTimer(0)
	defer timer.Stop()
	scan, nextScan := true, time.Now()
	for ctx.Err() == nil {
		if scan {
			nextScan = time.Now().Add(d.cfg.Poll)
			ready, err := d.outbox.ReadyLines(ctx, 4*d.cfg.Concurrency)
			if err != nil && ctx.Err() == nil {
				d.cfg.Logger.Error("dispatcher: list ready lines", slog.Any("err", err))
			}
			// The database says these may be worked now (a replay or another
			// replica may have ended a lock-out early).
			d.mu.Lock()
			for _, r := range ready {
				delete(d.lockedOut, r.LineID)
			}
			d.mu.Unlock()
			d.Wake(ready)
			d.releaseHeld(context.WithoutCancel(ctx))
			if wake, err := d.outbox.NextWake(ctx); err == nil && !wake.IsZero() && wake.Before(nextScan) {
				nextScan = wake
			}
		}
		if lines := d.startable(); len(lines) > 0 {
			// One statement claims every line about to start, but those
			// whose lease this dispatcher kept from their last turn.
			held, claim := d.takeHeld(lines)
			leases, err := d.outbox.ClaimLines(context.WithoutCancel(ctx), claim, d.cfg.Owner, d.cfg.Lease)
			if err != nil {
				d.cfg.Logger.Error("dispatcher: claim", slog.Any("err", err))
			}
			leases = append(leases, held...)
			// And one statement reads their first batches (a worker whose
			// batch is missing reads its own).
			for _, l := range leases {
				d.observe(l.LineID)
			}
			first, err := d.outbox.NextLines(context.WithoutCancel(ctx), leases, d.cfg.BatchSize)
			if err != nil {
				d.cfg.Logger.Error("dispatcher: read batches", slog.Any("err", err))
			}
			got := map[string]bool{}
			for _, l := range leases {
				got[l.LineID] = true
				wg.Add(1)
				go func(l *queue.Lease, b *queue.Batch) {
					defer wg.Done()
					r := queue.LineRef{LineID: l.LineID, PortalID: l.PortalID}
					drop := d.deliverLine(ctx, l, b)
					d.finish(r, drop)
					select {
					case done <- struct{}{}:
					default:
					}
				}(l, first[l.LineID])
			}
			for _, r := range lines {
				if !got[r.LineID] {
					// Locked out or leased elsewhere: the scan finds it
					// when it can be worked.
					d.finish(r, true)
				}
			}
		}
		timer.Reset(max(time.Until(nextScan), time.Millisecond))
		scan = false
		select {
		case <-ctx.Done():
		case <-d.wake:
		case <-done:
		case <-timer.C:
			scan = true
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
	wg.Wait()
	rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Held leases too: ReleaseOwner gives back every lease of this owner.
	d.mu.Lock()
	clear(d.held)
	d.mu.Unlock()
	return d.outbox.ReleaseOwner(rctx, d.cfg.Owner)
}

// takeHeld splits lines about to start into those whose kept lease can be
// used as it is and those to claim. A kept lease is used only while it
// outlasts a whole post with room to spare; an older one is claimed anew
// (the claim accepts a line this owner holds).
func (d *Dispatcher) takeHeld(lines []queue.LineRef) (held []*queue.Lease, claim []queue.LineRef) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.held) == 0 {
		return nil, lines
	}
	fresh := time.Now().Add(d.cfg.Timeout + d.cfg.Lease/4)
	for _, r := range lines {
		l, ok := d.held[r.LineID]
		delete(d.held, r.LineID)
		if ok && l.Until.After(fresh) {
			held = append(held, l)
			continue
		}
		claim = append(claim, r)
	}
	return held, claim
}

// releaseHeld gives back the kept leases no turn took since the last scan
// (the line's hint went away, or the concurrency limits kept it waiting),
// so other replicas can deliver those lines.
func (d *Dispatcher) releaseHeld(ctx context.Context) {
	d.mu.Lock()
	var idle []*queue.Lease
	for line, l := range d.held {
		// A line still in its worker is about to start its next turn.
		if !d.inflight[line] {
			idle = append(idle, l)
			delete(d.held, line)
		}
	}
	d.mu.Unlock()
	for _, l := range idle {
		if err := d.outbox.Release(ctx, l); err != nil {
			d.cfg.Logger.Error("dispatcher: release kept lease", slog.String("line", l.LineID), slog.Any("err", err))
		}
	}
}

// busySince tells whether the line received events since its worker last
// read the queue (a wake-up its read may not have covered).
func (d *Dispatcher) busySince(line string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	h, ok := d.hints[line]
	return ok && h.gen != h.seen
}

// keep holds a renewed lease for the line's next turn.
func (d *Dispatcher) keep(l *queue.Lease) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.held[l.LineID] = l
}

// startable marks as in flight, and returns, the hinted lines that may start
// now within the concurrency limits.
func (d *Dispatcher) startable() []queue.LineRef {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []queue.LineRef
	now := time.Now()
	for line, h := range d.hints {
		if len(d.inflight) >= d.cfg.Concurrency {
			break
		}
		if until, ok := d.lockedOut[line]; ok {
			if now.Before(until) {
				delete(d.hints, line)
				continue
			}
			delete(d.lockedOut, line)
		}
		if d.inflight[line] || d.perPortal[h.portal] >= d.cfg.PerPortal {
			continue
		}
		d.inflight[line] = true
		d.perPortal[h.portal]++
		out = append(out, queue.LineRef{LineID: line, PortalID: h.portal})
	}
	return out
}

// observe records that the line's worker is about to read the queue, which
// covers every wake-up so far.
func (d *Dispatcher) observe(line string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if h, ok := d.hints[line]; ok {
		h.seen = h.gen
		d.hints[line] = h
	}
}

// finish ends a line's turn. The hint is dropped when the worker's last
// read covered every wake-up, or when the line cannot be worked now
// (covered=true); otherwise it stays and the line starts again.
func (d *Dispatcher) finish(r queue.LineRef, dropHint bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.inflight, r.LineID)
	if d.perPortal[r.PortalID]--; d.perPortal[r.PortalID] <= 0 {
		delete(d.perPortal, r.PortalID)
	}
	if h, ok := d.hints[r.LineID]; ok && (dropHint || h.seen == h.gen) {
		delete(d.hints, r.LineID)
	}
}

// deliverLine drains one claimed line while the portal acknowledges,
// holding its lease throughout. It reports whether the line's hint should be
// dropped regardless of new wake-ups (the line is failing: the scan finds it
// again when it can be worked). first, when not nil, is the line's first
// batch, read (after observe) together with other lines' by the claimer.
func (d *Dispatcher) deliverLine(ctx context.Context, lease *queue.Lease, first *queue.Batch) (drop bool) {
	r := queue.LineRef{LineID: lease.LineID, PortalID: lease.PortalID}
	// Built only when something is logged.
	log := func() *slog.Logger {
		return d.cfg.Logger.With(slog.String("line", r.LineID), slog.String("portal", r.PortalID))
	}
	// Queue bookkeeping must complete even while shutting down, so it runs
	// on a context that is not cancelled with ctx.
	bg := context.WithoutCancel(ctx)
	for {
		if ctx.Err() != nil {
			_ = d.outbox.Release(bg, lease)
			return true
		}
		batch, err := first, error(nil)
		if first == nil {
			d.observe(r.LineID)
			batch, err = d.outbox.Next(bg, lease, d.cfg.BatchSize)
		}
		first = nil
		if err != nil {
			log().Error("dispatcher: read batch", slog.Any("err", err))
			_ = d.outbox.Release(bg, lease)
			return true
		}
		if len(batch.Items) == 0 {
			_ = d.outbox.Release(bg, lease)
			return false
		}
		began := time.Now()
		var span BatchSpan = nopSpan{}
		if d.cfg.Tracer != nil {
			span = d.cfg.Tracer.StartBatch(bg, r.PortalID, r.LineID, BatchID(batch.Items), batch.Items)
		}
		err = d.post(bg, batch, span.Header())
		span.Posted(err)
		d.cfg.Observer.BatchDone(r.PortalID, len(batch.Items), time.Since(began), err)
		if bo, ok := d.cfg.Observer.(BatchObserver); ok {
			bo.BatchPosted(r.PortalID, r.LineID, BatchID(batch.Items), batch.Items, time.Since(began), err)
		}
		if err != nil {
			var ge *gatewayError
			if errors.As(err, &ge) {
				// Our own fault (database, secrets): not the portal's, so no
				// lock-out; the line is tried again at the next scan.
				log().Error("dispatcher: cannot prepare batch", slog.Any("err", err))
				_ = d.outbox.Release(bg, lease)
				return true
			}
			lo, ferr := d.outbox.Fail(bg, batch, err.Error())
			if ferr != nil {
				log().Error("dispatcher: record failure", slog.Any("err", ferr))
				return true
			}
			if !lo.Until.IsZero() {
				d.mu.Lock()
				d.lockedOut[r.LineID] = lo.Until
				d.mu.Unlock()
			}
			if lo.Expired > 0 {
				log().Warn("dispatcher: events expired into dead letters", slog.Int64("events", lo.Expired), slog.String("reason", err.Error()))
			} else {
				log().Warn("dispatcher: delivery failed, line locked out", slog.Int("failures", lo.Failures),
					slog.Time("until", lo.Until), slog.String("reason", err.Error()))
			}
			return true
		}
		// A short batch drained the line: release in the ack's own
		// transaction. A wake-up that came since is kept by finish; when
		// one came already, the ack renews the lease instead and the line's
		// next turn (which the wake-up starts) uses it without a claim.
		last := len(batch.Items) < d.cfg.BatchSize
		hold := last && d.busySince(r.LineID)
		renew := d.cfg.Lease
		if last && !hold {
			renew = 0
		}
		err = d.outbox.Ack(bg, batch, renew)
		span.Acked(err)
		if err != nil {
			if !errors.Is(err, queue.ErrLeaseLost) {
				log().Error("dispatcher: ack", slog.Any("err", err))
			}
			return true
		}
		if hold {
			d.keep(lease)
		}
		if last {
			return false
		}
	}
}

// processID names this process in leases: host and pid (so an operator, or
// a test, can tell whose lease a row holds) and a random part (so a
// restarted process with a reused pid is not mistaken for its predecessor).
func processID(prefix string) string {
	host, _ := os.Hostname()
	host = strings.Map(func(r rune) rune {
		if r < 128 && (r == '-' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return r
		}
		return -1
	}, host)
	if len(host) > 20 {
		host = host[:20]
	}
	return fmt.Sprintf("%s-%s-%d-%s", prefix, host, os.Getpid(), NewID("")[1:9])
}

// gatewayError is a delivery failure on the gateway's side.
type gatewayError struct{ err error }

func (e *gatewayError) Error() string { return e.err.Error() }
func (e *gatewayError) Unwrap() error { return e.err }

// BatchID names a batch by the events in it, so a retry of the same events
// carries the same webhook-id (a retry that picked up newer events is a new
// batch with a new id; portals dedupe by event id).
func BatchID(items []queue.Item) string {
	h := sha256.New()
	for _, it := range items {
		h.Write([]byte(it.EventID))
		h.Write([]byte{0})
	}
	return "bat_" + hex.EncodeToString(h.Sum(nil)[:16])
}

// BatchBody renders the batch JSON from the stored event payloads.
func BatchBody(id, portalID, lineID string, items []queue.Item) []byte {
	size := 64 + len(id) + len(portalID) + len(lineID)
	for _, it := range items {
		size += len(it.Payload) + 1
	}
	b := bytes.NewBuffer(make([]byte, 0, size))
	fmt.Fprintf(b, `{"id":%q,"portal":%q,"line":%q,"events":[`, id, portalID, lineID)
	for i, it := range items {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(it.Payload)
	}
	b.WriteString("]}")
	return b.Bytes()
}

// post sends one signed batch; nil means the portal acknowledged it (2xx).
func (d *Dispatcher) post(ctx context.Context, batch *queue.Batch, extra http.Header) error {
	var p Portal
	var err error
	if vs, ok := d.portals.(VersionedPortalSource); ok {
		p, err = vs.PortalAt(ctx, batch.Lease.PortalID, batch.PortalVersion)
	} else {
		p, err = d.portals.GetPortal(ctx, batch.Lease.PortalID)
	}
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("portal %s does not exist", batch.Lease.PortalID)
	}
	if err != nil {
		return &gatewayError{fmt.Errorf("load portal %s: %w", batch.Lease.PortalID, err)}
	}
	if p.Status != "active" {
		return fmt.Errorf("portal %s is %s", p.ID, p.Status)
	}
	id := BatchID(batch.Items)
	if p.Kind != "" && p.Kind != KindNative {
		a, ok := d.cfg.Adapters[p.Kind]
		if !ok {
			return fmt.Errorf("portal %s is of kind %q, which this gateway has no adapter for", p.ID, p.Kind)
		}
		actx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
		defer cancel()
		return a.Deliver(actx, p, DeliveryBatch{ID: id, LineID: batch.Lease.LineID, Items: batch.Items})
	}
	body := BatchBody(id, p.ID, batch.Lease.LineID, batch.Items)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.WebhookURL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", d.cfg.UserAgent)
	for k, v := range extra {
		req.Header[k] = v
	}
	if err := SetHeaders(req.Header, p.Secrets, id, time.Now(), body); err != nil {
		return &gatewayError{err}
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return fmt.Errorf("post batch: %w", err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("portal answered %d: %s", resp.StatusCode, bytes.TrimSpace(snippet))
	}
	return nil
}
