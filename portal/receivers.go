package portal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/queue"
)

// ReceiversConfig tunes the poll supervisor. Zero fields take the default.
// The tagged field is the gateway's poll.* config key.
type ReceiversConfig struct {
	// Lease is how long this process owns a polled connection without
	// renewing; another process takes the connection over only after it
	// expired. Renewals happen every Lease/3. Default 30s.
	Lease time.Duration `mapstructure:"lease"`

	// Owner names this process in poll leases. Default: a random id.
	Owner  string       `mapstructure:"-"`
	Logger *slog.Logger `mapstructure:"-"`
}

// DefaultReceiversConfig is the poll.* configuration used when nothing is
// set.
func DefaultReceiversConfig() ReceiversConfig { return ReceiversConfig{Lease: 30 * time.Second} }

// Validate checks the configured fields and names the first bad one by its
// config key.
func (c ReceiversConfig) Validate() error {
	if c.Lease < time.Second {
		return fmt.Errorf("lease: must be at least 1s, got %s", c.Lease)
	}
	return nil
}

func (c *ReceiversConfig) setDefaults() {
	if c.Owner == "" {
		c.Owner = NewID("rcv")
	}
	if c.Lease == 0 {
		c.Lease = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Receivers runs the pollers of connections that receive by polling
// (connectors.Poller) instead of webhooks. Which connections poll is kept in
// the database (queue poll state), so Run starts the pollers of every active
// polling connection at boot, and several gateway processes sharing one
// database elect exactly one poller per connection through a lease row: a
// process polls only while its lease is unexpired, renews it every Lease/3,
// stops polling before it runs out when a renewal fails, and releases it on
// shutdown; another process takes over an expired lease. The methods are
// safe for concurrent use.
type Receivers struct {
	cfg      ReceiversConfig
	polls    *queue.Polls
	records  *Records
	registry *connectors.Registry
	views    *Views
	inbox    *Inbox
	wake     chan struct{}

	mu      sync.Mutex
	base    context.Context // Run's context; nil while not running
	running map[string]*runningPoller
	wg      sync.WaitGroup
}

type runningPoller struct {
	cancel context.CancelFunc
	done   chan struct{}
	// expire stops the poller shortly before its lease would run out
	// unless a renewal resets it first.
	expire *time.Timer
}

// NewReceivers returns the supervisor; Run starts it. Pollers' events go
// into inbox; views makes the pollers' views of connections.
func NewReceivers(polls *queue.Polls, inbox *Inbox, records *Records, registry *connectors.Registry, views *Views, cfg ReceiversConfig) *Receivers {
	cfg.setDefaults()
	return &Receivers{cfg: cfg, polls: polls, inbox: inbox, records: records, registry: registry, views: views,
		wake: make(chan struct{}, 1), running: map[string]*runningPoller{}}
}

// StartPolling makes a connection one to poll and starts its poller here
// at once when no other process holds it. A poller already running here is
// restarted, so changed settings take effect.
func (rs *Receivers) StartPolling(ctx context.Context, c Connection) error {
	conn, ok := rs.registry.Get(c.Connector)
	if !ok {
		return fmt.Errorf("receivers: connector %q is not available", c.Connector)
	}
	if _, can := conn.(connectors.Poller); !can {
		return fmt.Errorf("receivers: %s cannot poll: %w", c.Connector, connectors.ErrUnsupported)
	}
	if err := rs.polls.Enable(ctx, c.ID); err != nil {
		return fmt.Errorf("receivers: %w", err)
	}
	rs.stopLocal(c.ID)
	rs.Wake()
	return nil
}

// StopPolling stops polling a connection, here and (at their next renewal)
// in other processes. Errors are logged: the caller has nothing to undo.
func (rs *Receivers) StopPolling(ctx context.Context, connectionID string) {
	if err := rs.polls.Disable(ctx, connectionID); err != nil {
		rs.cfg.Logger.Error("receivers: disable polling", slog.String("connection", connectionID), slog.Any("err", err))
	}
	rs.stopLocal(connectionID)
}

// Wake makes the supervisor look at the poll states now. It never blocks.
func (rs *Receivers) Wake() {
	select {
	case rs.wake <- struct{}{}:
	default:
	}
}

// Run supervises pollers until ctx ends, then stops them and releases
// their leases so another process can take over at once.
func (rs *Receivers) Run(ctx context.Context) error {
	rs.mu.Lock()
	rs.base = ctx
	rs.mu.Unlock()
	every := rs.cfg.Lease / 3
	for ctx.Err() == nil {
		rs.scan(ctx)
		t := time.NewTimer(every)
		select {
		case <-ctx.Done():
		case <-rs.wake:
		case <-t.C:
		}
		t.Stop()
	}
	rs.mu.Lock()
	ids := make([]string, 0, len(rs.running))
	for id := range rs.running {
		ids = append(ids, id)
	}
	rs.base = nil
	rs.mu.Unlock()
	for _, id := range ids {
		rs.stopLocal(id)
	}
	rs.wg.Wait()
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	for _, id := range ids {
		if err := rs.polls.ReleaseLease(rctx, id, rs.cfg.Owner); err != nil {
			rs.cfg.Logger.Warn("receivers: release poll lease", slog.String("connection", id), slog.Any("err", err))
		}
	}
	return nil
}

// Polling lists the connections polled by this process now.
func (rs *Receivers) Polling() []string {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	out := make([]string, 0, len(rs.running))
	for id := range rs.running {
		out = append(out, id)
	}
	return out
}

// HeldElsewhere reports whether another gateway process polls the
// connection now: it holds the connection's unexpired poll lease.
func (rs *Receivers) HeldElsewhere(ctx context.Context, connectionID string) (bool, error) {
	held, err := rs.polls.HeldByOther(ctx, connectionID, rs.cfg.Owner)
	if err != nil {
		return false, fmt.Errorf("receivers: %w", err)
	}
	return held, nil
}

// scan renews the leases of local pollers, takes free or expired leases of
// connections to poll, and stops pollers that must not run any more.
func (rs *Receivers) scan(ctx context.Context) {
	log := rs.cfg.Logger
	states, err := rs.polls.States(ctx)
	if err != nil {
		if ctx.Err() == nil {
			log.Error("receivers: list poll states", slog.Any("err", err))
		}
		return // local pollers stop by themselves if this lasts
	}
	wanted := map[string]bool{}
	for _, st := range states {
		c, err := rs.records.GetConnection(ctx, st.ConnectionID)
		if errors.Is(err, ErrNotFound) {
			_ = rs.polls.Disable(ctx, st.ConnectionID)
			continue
		}
		if err != nil {
			log.Error("receivers: load connection", slog.String("connection", st.ConnectionID), slog.Any("err", err))
			if rs.isRunning(st.ConnectionID) {
				wanted[st.ConnectionID] = true
			}
			continue
		}
		conn, ok := rs.registry.Get(c.Connector)
		p, can := conn.(connectors.Poller)
		if !c.Active || !ok || !can {
			continue
		}
		wanted[c.ID] = true
		if rs.isRunning(c.ID) {
			held, err := rs.polls.RenewLease(ctx, c.ID, rs.cfg.Owner, rs.cfg.Lease)
			switch {
			case err != nil:
				log.Warn("receivers: renew poll lease", slog.String("connection", c.ID), slog.Any("err", err))
			case !held:
				log.Info("receivers: another process polls this connection now", slog.String("connection", c.ID))
				rs.stopLocal(c.ID)
			default:
				rs.extend(c.ID)
			}
			continue
		}
		held, err := rs.polls.TakeLease(ctx, c.ID, rs.cfg.Owner, rs.cfg.Lease)
		if err != nil {
			log.Warn("receivers: take poll lease", slog.String("connection", c.ID), slog.Any("err", err))
			continue
		}
		if held {
			rs.start(c, p)
		}
	}
	for _, id := range rs.Polling() {
		if !wanted[id] {
			rs.stopLocal(id)
			if err := rs.polls.ReleaseLease(ctx, id, rs.cfg.Owner); err != nil {
				log.Warn("receivers: release poll lease", slog.String("connection", id), slog.Any("err", err))
			}
		}
	}
}

func (rs *Receivers) isRunning(id string) bool {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	_, ok := rs.running[id]
	return ok
}

// safety is how long before the lease runs out an unrenewed poller stops.
func (rs *Receivers) safety() time.Duration { return rs.cfg.Lease / 5 }

func (rs *Receivers) extend(id string) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if p, ok := rs.running[id]; ok {
		p.expire.Reset(rs.cfg.Lease - rs.safety())
	}
}

// start runs a poller for c; the caller holds its lease.
func (rs *Receivers) start(c Connection, p connectors.Poller) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.base == nil || rs.running[c.ID] != nil {
		return
	}
	ctx, cancel := context.WithCancel(rs.base)
	rp := &runningPoller{cancel: cancel, done: make(chan struct{})}
	rp.expire = time.AfterFunc(rs.cfg.Lease-rs.safety(), func() {
		rs.cfg.Logger.Warn("receivers: poll lease not renewed in time, stopping the poller", slog.String("connection", c.ID))
		cancel()
	})
	rs.running[c.ID] = rp
	view := rs.views.Conn(c)
	view.Cursor = pollCursor{polls: rs.polls, conn: c.ID, owner: rs.cfg.Owner}
	log := rs.cfg.Logger.With(slog.String("connection", c.ID), slog.String("connector", c.Connector))
	log.Info("receivers: polling started")
	rs.wg.Add(1)
	go func() {
		defer rs.wg.Done()
		defer close(rp.done)
		err := p.Poll(ctx, view, rs.inbox.Sink(c))
		rp.expire.Stop()
		cancel()
		// While this poller still counts as running, a scan does not start
		// another one: settle what its end means first.
		var perm *connectors.PermanentError
		restart := false
		switch {
		case err == nil || ctx.Err() != nil && !errors.As(err, &perm):
			log.Info("receivers: polling stopped")
			// Hand the connection over at once (shutdown, deactivation):
			// Run's own release at shutdown misses a poller that ended
			// before Run listed the running ones, and the next process
			// would wait for the lease to run out. The release is
			// conditional on this owner, so a lease lost meanwhile stays.
			rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if rerr := rs.polls.ReleaseLease(rctx, c.ID, rs.cfg.Owner); rerr != nil {
				log.Warn("receivers: release poll lease", slog.Any("err", rerr))
			}
			rcancel()
		case errors.Is(err, connectors.ErrLeaseLost):
			log.Info("receivers: another process polls this connection now")
		case errors.As(err, &perm):
			log.Error("receivers: connection stopped receiving", slog.Any("err", err))
			sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			if serr := rs.records.Stopped(sctx, c.ID, err.Error()); serr != nil {
				log.Error("receivers: record stopped connection", slog.Any("err", serr))
			}
			scancel()
		default:
			log.Warn("receivers: poller ended, restarting", slog.Any("err", err))
			restart = true
		}
		rs.mu.Lock()
		if rs.running[c.ID] == rp {
			delete(rs.running, c.ID)
		}
		rs.mu.Unlock()
		if restart {
			rs.Wake()
		}
	}()
}

// stopLocal stops this process's poller of a connection, if any, and waits
// for it.
func (rs *Receivers) stopLocal(id string) {
	rs.mu.Lock()
	rp := rs.running[id]
	delete(rs.running, id)
	rs.mu.Unlock()
	if rp == nil {
		return
	}
	rp.expire.Stop()
	rp.cancel()
	select {
	case <-rp.done:
	case <-time.After(30 * time.Second):
		rs.cfg.Logger.Error("receivers: poller did not stop within 30s", slog.String("connection", id))
	}
}

// pollCursor keeps a poller's position in poll_state, writable only while
// this process holds the connection's lease.
type pollCursor struct {
	polls *queue.Polls
	conn  string
	owner string
}

func (pc pollCursor) Load(ctx context.Context) (string, error) {
	return pc.polls.Position(ctx, pc.conn)
}

func (pc pollCursor) Save(ctx context.Context, pos string) error {
	err := pc.polls.SavePosition(ctx, pc.conn, pc.owner, pos)
	if errors.Is(err, queue.ErrLeaseLost) {
		return fmt.Errorf("receivers: %s: %w", pc.conn, connectors.ErrLeaseLost)
	}
	return err
}
