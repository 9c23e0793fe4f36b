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
	"maps"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
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
	// Linger is how long a line's lease is kept after its queue ran dry,
	// so the line's next events start without a claim. Another replica
	// waits up to this long (and its next scan) for a line kept here.
	// Default 250ms; at most a quarter of Lease.
	Linger time.Duration `mapstructure:"linger"`

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
	return DispatcherConfig{BatchSize: 100, Concurrency: 64, PerPortal: 32, Timeout: 10 * time.Second, Poll: time.Second, Linger: 250 * time.Millisecond}
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
	case c.Linger < 0:
		return errors.New("linger: must not be negative")
	case c.Linger > c.lease()/4:
		return fmt.Errorf("linger: at most a quarter of dispatch.lease (%s)", c.lease()/4)
	}
	return nil
}

// lease is Lease with its default applied.
func (c DispatcherConfig) lease() time.Duration {
	if c.Lease == 0 {
		return 3 * c.Timeout
	}
	return c.Lease
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
	c.Lease = c.lease()
	if c.Poll == 0 {
		c.Poll = time.Second
	}
	if c.Linger == 0 {
		c.Linger = 250 * time.Millisecond
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
	// held are leases a worker kept when its line ran dry (the last ack
	// renewed the lease instead of releasing it), so the line's next turn
	// needs no claim: a line receiving a steady trickle pays one lease
	// write per batch (the ack's), not two. A held lease is taken by the
	// line's next turn, or released, many in one statement, once it has
	// been idle for Linger. heldDue is when the oldest may fall due (zero:
	// none is held; it may be early, never late).
	held      map[string]heldLease
	heldDue   time.Time
	perPortal map[string]int
	running   bool
}

// heldLease is a kept lease and when its line's last turn ended. ack, when
// not nil, is that turn's last ack (Outbox.AckLater), which may still be
// waiting for its commit: until it is done the line is neither read nor
// released.
type heldLease struct {
	lease *queue.Lease
	since time.Time
	ack   *pendingAck
}

// pendingAck is a kept lease's last ack; acked is set once it is committed
// (or failed), when the ack loop calls back.
type pendingAck struct {
	p     *queue.PendingAck
	acked atomic.Bool
}

// signal wakes the loop without a line to add (a deferred ack is in, so a
// line waiting for it can start).
func (d *Dispatcher) signal() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
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
		held:      make(map[string]heldLease),
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
	scan, nextScan, release := true, time.Now(), false
	for ctx.Err() == nil {
		if release && !scan {
			d.releaseHeld(context.WithoutCancel(ctx))
		}
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
			// And one statement reads the claimed lines' first batches, one
			// more the kept lines' (which ran dry moments ago, so hold
			// little); a worker whose batch is missing reads its own.
			for _, l := range leases {
				d.observe(l.LineID)
			}
			for _, l := range held {
				d.observe(l.LineID)
			}
			first, err := d.outbox.NextLines(context.WithoutCancel(ctx), leases, d.cfg.BatchSize)
			if err != nil {
				d.cfg.Logger.Error("dispatcher: read batches", slog.Any("err", err))
			}
			if len(held) > 0 {
				recent, err := d.outbox.NextRecent(context.WithoutCancel(ctx), held, d.cfg.BatchSize)
				if err != nil {
					d.cfg.Logger.Error("dispatcher: read batches", slog.Any("err", err))
				}
				if first == nil {
					first = recent
				} else {
					maps.Copy(first, recent)
				}
			}
			leases = append(leases, held...)
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
		wait := time.Until(nextScan)
		if due := d.nextHeldDue(); !due.IsZero() {
			wait = min(wait, time.Until(due))
		}
		timer.Reset(max(wait, time.Millisecond))
		scan, release = false, false
		select {
		case <-ctx.Done():
		case <-d.wake:
		case <-done:
		case <-timer.C:
			scan = !time.Now().Before(nextScan)
			release = true
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
	// Held leases too: ReleaseOwner gives back every lease of this owner,
	// once their last acks are in.
	d.mu.Lock()
	for _, h := range d.held {
		if h.ack != nil {
			h.ack.p.Hurry()
			_ = h.ack.p.Wait(rctx)
		}
	}
	clear(d.held)
	d.mu.Unlock()
	return d.outbox.ReleaseOwner(rctx, d.cfg.Owner)
}

// takeHeld splits lines about to start into those whose kept lease can be
// used as it is and those to claim. A kept lease is used only while it
// outlasts a whole post with room to spare, and only if its last ack held
// it; another is claimed anew (the claim accepts a line this owner holds).
func (d *Dispatcher) takeHeld(lines []queue.LineRef) (held []*queue.Lease, claim []queue.LineRef) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.held) == 0 {
		return nil, lines
	}
	fresh := time.Now().Add(d.cfg.Timeout + d.cfg.Lease/4)
	for _, r := range lines {
		h, ok := d.held[r.LineID]
		delete(d.held, r.LineID)
		// startable lets a line start only once its last ack is in (and
		// no worker of the line runs meanwhile to keep a new one): Wait
		// returns at once, and renews the lease.
		if ok && h.ack != nil && h.ack.p.Wait(context.Background()) != nil {
			ok = false
		}
		if ok && h.lease.Until.After(fresh) {
			held = append(held, h.lease)
			continue
		}
		claim = append(claim, r)
	}
	return held, claim
}

// releaseHeld gives back, in one statement, the kept leases no turn took
// within Linger (the line got no new events, or the concurrency limits kept
// it waiting), so other replicas can deliver those lines.
func (d *Dispatcher) releaseHeld(ctx context.Context) {
	now := time.Now()
	d.mu.Lock()
	var idle []*queue.Lease
	var next time.Time
	for line, h := range d.held {
		due := h.since.Add(d.cfg.Linger)
		// A line still in its worker is about to start its next turn; one
		// whose last ack has not committed yet is looked at again later.
		acked := h.ack == nil || h.ack.acked.Load()
		if !d.inflight[line] && !due.After(now) && acked {
			idle = append(idle, h.lease)
			delete(d.held, line)
			continue
		}
		if next.IsZero() || due.Before(next) {
			next = due
		}
	}
	if !next.IsZero() {
		// A line in its worker is looked at again one Linger later.
		if soonest := now.Add(d.cfg.Linger / 4); next.Before(soonest) {
			next = soonest
		}
	}
	d.heldDue = next
	d.mu.Unlock()
	if len(idle) > 0 {
		if err := d.outbox.ReleaseLines(ctx, idle); err != nil {
			d.cfg.Logger.Error("dispatcher: release kept leases", slog.Int("lines", len(idle)), slog.Any("err", err))
		}
	}
}

// keep holds a renewed lease for the line's next turn; ack, when not nil,
// is the turn's last ack, still on its way.
func (d *Dispatcher) keep(l *queue.Lease, ack *pendingAck) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := time.Now()
	d.held[l.LineID] = heldLease{lease: l, since: now, ack: ack}
	if d.heldDue.IsZero() {
		d.heldDue = now.Add(d.cfg.Linger)
	}
}

// nextHeldDue is when releaseHeld should run next (zero: nothing is kept).
func (d *Dispatcher) nextHeldDue() time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.heldDue
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
		if k, ok := d.held[line]; ok && k.ack != nil && !k.ack.acked.Load() {
			// New events wait behind an ack that has not committed yet:
			// ask for it now; its call back wakes the loop.
			k.ack.p.Hurry()
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

// deferAcksUpTo is the most lines in flight at which a drained line's ack
// is deferred (Outbox.AckLater). Past it, concurrent acks share commits
// without waiting, and deferring them only adds wake-ups.
const deferAcksUpTo = 4

// quiet tells whether a drained line's ack should be deferred: few lines
// are in flight, and no wake-up for the line came after its worker's last
// read.
func (d *Dispatcher) quiet(line string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	h, ok := d.hints[line]
	return len(d.inflight) <= deferAcksUpTo && !(ok && h.gen != h.seen)
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
			// Nothing to send (the wake-up's events went with the last
			// batch): the lease lingers like a drained line's.
			d.keep(lease, nil)
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
		// A batch without more behind it drained the line: the ack
		// renews the lease and the line keeps it for Linger, so its next
		// events (a wake-up that came during the post starts that turn at
		// once) need no claim. When few lines are in flight that ack
		// would commit alone, and unless such a wake-up came nothing waits
		// for it: it goes to the outbox to share a commit with other
		// lines' acks, and the line's next turn waits for it before it
		// reads. (With many lines in flight, acks meet in one commit by
		// themselves; a line with new events acks at once.)
		if !batch.More && d.quiet(r.LineID) {
			pending := &pendingAck{}
			p, err := d.outbox.AckLater(bg, batch, d.cfg.Lease, func(err error) {
				span.Acked(err)
				if err != nil && !errors.Is(err, queue.ErrLeaseLost) {
					log().Error("dispatcher: ack", slog.Any("err", err))
				}
				pending.acked.Store(true)
				d.signal()
			})
			if err != nil {
				log().Error("dispatcher: ack", slog.Any("err", err))
				return true
			}
			pending.p = p
			d.keep(lease, pending)
			return false
		}
		err = d.outbox.Ack(bg, batch, d.cfg.Lease)
		span.Acked(err)
		if err != nil {
			if !errors.Is(err, queue.ErrLeaseLost) {
				log().Error("dispatcher: ack", slog.Any("err", err))
			}
			return true
		}
		if !batch.More {
			d.keep(lease, nil)
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
