// Package queue is the gateway's durable queue state, one type per concept:
// Outbox, the events bound for portals (enqueue with dedupe, per-line claim,
// ack, lock-out, expiry into dead letters, replay, status and depths);
// Outbound, portals' requests bound for messengers; Polls, the leases and
// positions of polling connections; Keys, the dedupe-key table. All of them
// live in one database (package sqldb) and run on MySQL/MariaDB and SQLite.
package queue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/connector-gateway/connector/queue/sqldb"
)

// Config sets the outbox's policy. Zero fields take the documented default.
// The tagged fields are the gateway's queue.* config keys; the others are
// set by the program.
type Config struct {
	// Schedule is the lock-out after the 1st, 2nd, ... failed delivery to a
	// line; the last entry repeats. Default: 1m 2m 5m 10m 30m 1h 2h 4h 8h 12h.
	Schedule []time.Duration `mapstructure:"schedule"`
	// Window is how long after a line's first failed attempt its events
	// expire into dead letters. Default 24h.
	Window time.Duration `mapstructure:"window"`
	// DedupeTTL is how long a messenger update id is remembered. Default 72h.
	DedupeTTL time.Duration `mapstructure:"dedupe_ttl"`

	// AckDelay is how long the ack of a batch that drained its line
	// (Outbox.AckLater) waits for other acks to share its commit. Default
	// 10ms.
	AckDelay time.Duration `mapstructure:"ack_delay"`

	// MaxGroup is the most enqueue requests one group commit carries.
	// Default 512.
	MaxGroup int `mapstructure:"-"`
	// Committers is how many group commits may be in flight at once.
	// Default 1: one committer takes everything that waited while the
	// previous commit flushed, so groups fill by themselves and each commit
	// carries as many webhooks as arrived during one flush (several
	// committers split the waiting requests into small groups and make
	// the database do several flushes' work for the same load). Only the
	// first committer waits for work; the others take a group only while
	// the first is busy and a full group (MaxGroup) is already waiting.
	Committers int `mapstructure:"-"`
	// Now is the clock. Default time.Now.
	Now func() time.Time `mapstructure:"-"`
	// OnEnqueue, when set, is called after each commit with the lines that
	// received events, so a local dispatcher can wake at once. It must not
	// block.
	OnEnqueue func(lines []LineRef) `mapstructure:"-"`
}

// DefaultConfig is the queue.* configuration used when nothing is set.
func DefaultConfig() Config {
	return Config{Schedule: DefaultSchedule(), Window: 24 * time.Hour, DedupeTTL: 72 * time.Hour, AckDelay: 10 * time.Millisecond}
}

// Validate checks the configured fields and names the first bad one by its
// config key.
func (c Config) Validate() error {
	if len(c.Schedule) == 0 {
		return errors.New("schedule: must list at least one duration")
	}
	for _, d := range c.Schedule {
		if d <= 0 {
			return fmt.Errorf("schedule: durations must be positive, got %s", d)
		}
	}
	if c.Window <= 0 {
		return errors.New("window: must be positive")
	}
	if c.DedupeTTL <= 0 {
		return errors.New("dedupe_ttl: must be positive")
	}
	if c.AckDelay < 0 || c.AckDelay > time.Second {
		return fmt.Errorf("ack_delay: want 0..1s, got %s", c.AckDelay)
	}
	return nil
}

// DefaultSchedule returns the lock-out schedule used when Config.Schedule is
// empty.
func DefaultSchedule() []time.Duration {
	return []time.Duration{
		time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 30 * time.Minute,
		time.Hour, 2 * time.Hour, 4 * time.Hour, 8 * time.Hour, 12 * time.Hour,
	}
}

func (c *Config) setDefaults() {
	if len(c.Schedule) == 0 {
		c.Schedule = DefaultSchedule()
	}
	if c.Window == 0 {
		c.Window = 24 * time.Hour
	}
	if c.DedupeTTL == 0 {
		c.DedupeTTL = 72 * time.Hour
	}
	if c.AckDelay == 0 {
		c.AckDelay = 10 * time.Millisecond
	}
	if c.MaxGroup == 0 {
		c.MaxGroup = 512
	}
	if c.Committers == 0 {
		c.Committers = 1
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

func (c *Config) validate() error {
	for i, d := range c.Schedule {
		if d <= 0 {
			return fmt.Errorf("queue: schedule[%d] must be positive, got %s", i, d)
		}
	}
	if c.Window <= 0 {
		return fmt.Errorf("queue: window must be positive, got %s", c.Window)
	}
	if c.MaxGroup < 1 {
		return fmt.Errorf("queue: max group must be at least 1, got %d", c.MaxGroup)
	}
	if c.Committers < 1 {
		return fmt.Errorf("queue: committers must be at least 1, got %d", c.Committers)
	}
	return nil
}

// NewEvent is one event to enqueue.
type NewEvent struct {
	// DedupeKey makes a repeat of the same messenger update a no-op. Empty
	// means the event is never a duplicate (gateway-made events).
	DedupeKey string
	PortalID  string
	LineID    string
	EventID   string
	// Payload is the event's JSON as delivered to the portal.
	Payload []byte
	// Supersedes are dedupe keys that, once this event is stored, make a
	// later event under them a duplicate (connectors.Keyed.Supersedes).
	Supersedes []string
}

// Outbox is the durable queue of events bound for portals. All methods are
// safe for concurrent use, also from several processes sharing one MySQL.
type Outbox struct {
	db  *sqldb.DB
	cfg Config

	reqs  chan *enqueueReq
	acks  chan *ackReq
	hurry chan struct{}
	quit  chan struct{}
	done  chan struct{}
	once  sync.Once

	// known holds lines whose line_queue row exists; rows are never
	// deleted, so once seen a line needs no check again.
	knownMu sync.Mutex
	known   map[string]bool
}

// committer is the outbox's group commit of enqueued events (the commit
// loops and what one commit writes); acker is its group commit of acks.
// Both are the Outbox seen from one concern, so its own method set stays
// the outbox's contract.
type (
	committer struct{ *Outbox }
	acker     struct{ *Outbox }
)

// NewOutbox starts the outbox's group committer. Call Close to stop it.
func NewOutbox(db *sqldb.DB, cfg Config) (*Outbox, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	o := &Outbox{
		db:    db,
		cfg:   cfg,
		reqs:  make(chan *enqueueReq, cfg.MaxGroup),
		acks:  make(chan *ackReq, 256),
		hurry: make(chan struct{}, 1),
		quit:  make(chan struct{}),
		done:  make(chan struct{}),
		known: make(map[string]bool),
	}
	var wg sync.WaitGroup
	for i := 0; i < cfg.Committers; i++ {
		wg.Add(1)
		go func(extra bool) {
			defer wg.Done()
			committer{o}.commitLoop(extra)
		}(i > 0)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		acker{o}.ackLoop()
	}()
	go func() {
		wg.Wait()
		close(o.done)
	}()
	return o, nil
}

// Close stops the group committer after it finishes the requests it holds.
// Enqueue calls made after Close fail with ErrClosed.
func (o *Outbox) Close() {
	o.once.Do(func() { close(o.quit) })
	<-o.done
}

// ErrClosed is returned by Enqueue after Close.
var ErrClosed = errors.New("queue: outbox closed")

type enqueueReq struct {
	events []NewEvent
	added  int
	err    error
	done   chan struct{}
}

// Enqueue stores events durably and returns how many were new (the rest were
// duplicates of earlier updates). It returns only after the commit, so a nil
// error means the events survive a crash. Concurrent calls share commits.
// If ctx ends first, Enqueue returns ctx.Err() but the events may still be
// committed; a messenger retry is then deduplicated.
func (o *Outbox) Enqueue(ctx context.Context, events []NewEvent) (int, error) {
	if len(events) == 0 {
		return 0, nil
	}
	r := &enqueueReq{events: events, done: make(chan struct{})}
	select {
	case <-o.quit:
		return 0, ErrClosed
	case o.reqs <- r:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	select {
	case <-r.done:
		return r.added, r.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// commitLoop takes whatever requests are waiting and commits them in one
// transaction. No timer: while one commit runs, the next group gathers, so
// the group size follows the load by itself and no request waits longer
// than one commit for its group to start. An extra committer helps only
// when the first is saturated: it polls for a full group's worth waiting.
func (o committer) commitLoop(extra bool) {
	group := make([]*enqueueReq, 0, o.cfg.MaxGroup)
	for {
		if extra {
			select {
			case <-o.quit:
				return
			case <-time.After(time.Millisecond):
			}
			if len(o.reqs) < o.cfg.MaxGroup {
				continue
			}
		}
		select {
		case r := <-o.reqs:
			group = append(group[:0], r)
		case <-o.quit:
			// Finish what was handed in before the quit.
			for {
				select {
				case r := <-o.reqs:
					o.commitGroup([]*enqueueReq{r})
				default:
					return
				}
			}
		}
	fill:
		for len(group) < o.cfg.MaxGroup {
			select {
			case r := <-o.reqs:
				group = append(group, r)
			default:
				break fill
			}
		}
		o.commitGroup(group)
	}
}

func (o committer) commitGroup(group []*enqueueReq) {
	// Background context: a request whose caller gave up is still committed
	// with its group, which is harmless (dedupe absorbs the retry).
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	lines, err := o.commit(ctx, group)
	if err != nil && len(group) > 1 {
		// One bad request must not fail its neighbours: retry one by one.
		lines = nil
		for _, r := range group {
			l, e := o.commit(ctx, []*enqueueReq{r})
			if e != nil {
				r.err = e
				r.added = 0
			}
			lines = append(lines, l...)
		}
		err = nil
	}
	for _, r := range group {
		if err != nil {
			r.err, r.added = err, 0
		}
		close(r.done)
	}
	o.Notify(lines)
}

// commit writes a group in one transaction and returns the lines touched.
func (o committer) commit(ctx context.Context, group []*enqueueReq) ([]LineRef, error) {
	if lines, done, err := o.commitScript(ctx, group); done {
		return lines, err
	}
	var lines []LineRef
	err := o.db.InTx(ctx, func(tx *sql.Tx) error {
		var all []NewEvent
		for _, r := range group {
			r.added = 0
		}
		fresh, err := o.freshKeys(ctx, tx, group)
		if err != nil {
			return err
		}
		if err := o.supersede(ctx, tx, group, fresh); err != nil {
			return err
		}
		for i, r := range group {
			for j, ev := range r.events {
				if fresh[i][j] {
					all = append(all, ev)
					r.added++
				}
			}
		}
		lines, err = o.insertEvents(ctx, tx, all)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("queue: enqueue: %w", err)
	}
	return lines, nil
}

// commitScript commits a group in one round trip (sqldb.Script) in the
// common case: every dedupe key is new and every line's row is known to
// exist. It assumes the first and lets the keys' insert check it: a
// duplicate rolls the script back and done is false, as it is when some
// line is new to this process, and commit takes the general path.
func (o committer) commitScript(ctx context.Context, group []*enqueueReq) (lines []LineRef, done bool, err error) {
	fresh, keys, firsts := groupKeys(group)
	// Every key is assumed new, so the first event under each is fresh.
	for _, at := range firsts {
		fresh[at.req][at.event] = true
	}
	superseded := dropSuperseded(group, fresh)
	added := make([]int, len(group))
	n := 0
	for _, r := range group {
		n += len(r.events)
	}
	all := make([]NewEvent, 0, n)
	for i, r := range group {
		for j, ev := range r.events {
			if fresh[i][j] {
				all = append(all, ev)
				added[i]++
			}
		}
	}
	refs, unknown := o.lineRefs(all)
	if len(unknown) > 0 {
		return nil, false, nil
	}
	now := ms(o.cfg.Now())
	stmts := keyStmts("INSERT INTO", keys, now)
	stmts = append(stmts, keyStmts(o.db.Dialect.InsertIgnore(), superseded, now)...)
	stmts = append(stmts, eventStmts(all, now)...)
	if len(stmts) == 0 {
		return nil, false, nil
	}
	if err := o.db.Script(ctx, stmts, nil); err != nil {
		if o.db.Dialect.IsDuplicate(err) {
			return nil, false, nil
		}
		return nil, true, fmt.Errorf("queue: enqueue: %w", err)
	}
	for i, r := range group {
		r.added = added[i]
	}
	return refs, true, nil
}

// freshKeys records the group's dedupe keys and reports, per request and
// event, whether the key is new. The fast path is one multi-row insert; on a
// conflict (a retried update, or a concurrent writer) that chunk falls back
// to one insert-or-ignore per key.
func (o committer) freshKeys(ctx context.Context, tx *sql.Tx, group []*enqueueReq) ([][]bool, error) {
	now := ms(o.cfg.Now())
	fresh, keys, firsts := groupKeys(group)
	if len(keys) == 0 {
		return fresh, nil
	}
	// The fast path, one statement per 500 keys: insert them all. A
	// messenger retry is rare, so the duplicate check is the insert itself;
	// only a chunk that hits an existing key is redone key by key (a failed
	// statement leaves the transaction usable on both backends).
	inserted := make(map[string]bool, len(keys))
	for c, s := range keyStmts("INSERT INTO", keys, now) {
		chunk := keys[c*500 : min((c+1)*500, len(keys))]
		_, err := tx.ExecContext(ctx, s.Query, s.Args...)
		if err == nil {
			for _, k := range chunk {
				inserted[k] = true
			}
			continue
		}
		if !o.db.Dialect.IsDuplicate(err) {
			return nil, fmt.Errorf("record dedupe keys: %w", err)
		}
		for _, k := range chunk {
			res, err := tx.ExecContext(ctx, o.db.Dialect.InsertIgnore()+" inbox_keys (dedupe_key, created_at) VALUES (?,?)", k, now)
			if err != nil {
				return nil, fmt.Errorf("record dedupe key: %w", err)
			}
			if n, _ := res.RowsAffected(); n == 1 {
				inserted[k] = true
			}
		}
	}
	for n, k := range keys {
		if inserted[k] {
			fresh[firsts[n].req][firsts[n].event] = true
		}
	}
	return fresh, nil
}

// groupKeys returns the group's distinct dedupe keys in order, where the
// first event under each is (firsts, by index into keys), and, per request
// and event, fresh set for the events without a key (the rest are decided
// by the keys' insert: the first event under a new key is fresh).
func groupKeys(group []*enqueueReq) (fresh [][]bool, keys []string, firsts []eventAt) {
	fresh = make([][]bool, len(group))
	seen := make(map[string]bool)
	for i, r := range group {
		fresh[i] = make([]bool, len(r.events))
		for j, ev := range r.events {
			if ev.DedupeKey == "" {
				fresh[i][j] = true
				continue
			}
			if seen[ev.DedupeKey] {
				continue
			}
			seen[ev.DedupeKey] = true
			keys = append(keys, ev.DedupeKey)
			firsts = append(firsts, eventAt{i, j})
		}
	}
	return fresh, keys, firsts
}

// eventAt places an event in a group: request req, its event-th event.
type eventAt struct{ req, event int }

// insertEvents appends events to the outbox in the caller's transaction and
// returns the lines touched. It writes no shared row (only new event rows
// and, for a line's first event ever, its line_queue row), so concurrent
// ingest never waits on delivery's row locks.
func (o committer) insertEvents(ctx context.Context, tx *sql.Tx, events []NewEvent) ([]LineRef, error) {
	if len(events) == 0 {
		return nil, nil
	}
	for _, s := range eventStmts(events, ms(o.cfg.Now())) {
		if _, err := tx.ExecContext(ctx, s.Query, s.Args...); err != nil {
			return nil, fmt.Errorf("insert events: %w", err)
		}
	}
	refs, unknown := o.lineRefs(events)
	if len(unknown) > 0 {
		if err := o.ensureLines(ctx, tx, unknown); err != nil {
			return nil, err
		}
	}
	return refs, nil
}

// eventStmts inserts events into the outbox in multi-row statements of up
// to 500 events.
func eventStmts(events []NewEvent, now int64) []sqldb.Stmt {
	return multiRow("INSERT INTO outbox_events (line_id, portal_id, event_id, payload, created_at) VALUES ", "(?,?,?,?,?)", len(events), func(i int, args []any) []any {
		ev := events[i]
		return append(args, ev.LineID, ev.PortalID, ev.EventID, ev.Payload, now)
	})
}

// lineRefs returns the lines events go to, and those of them whose
// line_queue row this process has not seen yet.
func (o committer) lineRefs(events []NewEvent) (refs, unknown []LineRef) {
	portals := make(map[string]string)
	for _, ev := range events {
		portals[ev.LineID] = ev.PortalID
	}
	refs = make([]LineRef, 0, len(portals))
	o.knownMu.Lock()
	for l, p := range portals {
		refs = append(refs, LineRef{LineID: l, PortalID: p})
		if !o.known[l] {
			unknown = append(unknown, LineRef{LineID: l, PortalID: p})
		}
	}
	o.knownMu.Unlock()
	return refs, unknown
}

// ensureLines creates missing line_queue rows. A plain (non-locking) read
// finds the missing ones; only those are inserted, ignoring a concurrent
// creator. Lines are marked known only after the caller commits (Notify).
func (o committer) ensureLines(ctx context.Context, tx *sql.Tx, lines []LineRef) error {
	sort.Slice(lines, func(i, j int) bool { return lines[i].LineID < lines[j].LineID })
	args := make([]any, len(lines))
	for i, l := range lines {
		args[i] = l.LineID
	}
	rows, err := tx.QueryContext(ctx, "SELECT line_id FROM line_queue WHERE line_id IN ("+placeholders(len(lines))+")", args...)
	if err != nil {
		return fmt.Errorf("read lines: %w", err)
	}
	have := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		have[id] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, l := range lines {
		if have[l.LineID] {
			continue
		}
		if _, err := tx.ExecContext(ctx, o.db.Dialect.InsertIgnore()+" line_queue (line_id, portal_id) VALUES (?,?)", l.LineID, l.PortalID); err != nil {
			return fmt.Errorf("create line row: %w", err)
		}
	}
	return nil
}

func (o committer) markKnown(lines []LineRef) {
	o.knownMu.Lock()
	defer o.knownMu.Unlock()
	if len(o.known) > 1_000_000 {
		clear(o.known)
	}
	for _, l := range lines {
		o.known[l.LineID] = true
	}
}

// EnqueueTx enqueues events inside the caller's transaction, without dedupe
// keys (for events the gateway itself makes together with another change).
// The caller must call Notify after committing.
func (o *Outbox) EnqueueTx(ctx context.Context, tx *sql.Tx, events []NewEvent) ([]LineRef, error) {
	return committer{o}.insertEvents(ctx, tx, events)
}

// Notify records that lines' rows exist and tells the local dispatcher they
// received events. Call it only after the transaction committed.
func (o *Outbox) Notify(lines []LineRef) {
	if len(lines) == 0 {
		return
	}
	committer{o}.markKnown(lines)
	if o.cfg.OnEnqueue != nil {
		o.cfg.OnEnqueue(lines)
	}
}
