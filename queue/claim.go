package queue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/connector-gateway/connector/queue/sqldb"
)

// LineRef names a line that has events waiting and may be claimed now.
type LineRef struct {
	LineID   string
	PortalID string
}

// Lease is the right to deliver one line's events, held by one dispatcher
// (Owner) until Until. While it is held no other dispatcher, in this process
// or another, claims the line, which is what keeps per-line order and rules
// out two batches of one line in flight.
type Lease struct {
	LineID   string
	PortalID string
	Owner    string
	Until    time.Time
}

// Item is one queued event.
type Item struct {
	Seq       int64
	EventID   string
	Payload   []byte
	CreatedAt time.Time
}

// Batch is a run of the oldest events of a leased line, in order.
type Batch struct {
	Lease *Lease
	Items []Item
	// PortalVersion is the version of the line's portal row as the
	// statement that read Items saw it (0: no portal row, or not read),
	// so the dispatcher can tell without a read of its own whether the
	// portal changed (a secret rotation) since it last loaded it.
	PortalVersion int64
	// More tells that the line held more events than the batch when it
	// was read (the read looks one event ahead), so a full batch that
	// drained the line needs no empty read to find out.
	More bool
}

// portalVersion is the select-list expression that reads the version of a
// line's portal in the statement that reads the line's events. It does not
// depend on the event row, so the database evaluates it once per
// statement (or per union part), not per event.
const portalVersion = "(SELECT p.version FROM portals p WHERE p.id = ?)"

// ErrLeaseLost means the lease expired and another dispatcher may hold the
// line now; the holder must stop working on it.
var ErrLeaseLost = errors.New("queue: line lease lost")

// ReadyLines lists up to limit lines with events waiting that are neither
// locked out nor leased, the line served longest ago first (never-served
// lines first), so every line of a busy portal gets its turn.
func (o *Outbox) ReadyLines(ctx context.Context, limit int) ([]LineRef, error) {
	now := ms(o.cfg.Now())
	rows, err := o.db.SQL.QueryContext(ctx, `SELECT q.line_id, q.portal_id FROM line_queue q
		WHERE q.locked_until <= ? AND (q.lease_owner IS NULL OR q.lease_until <= ?)
		AND EXISTS (SELECT 1 FROM outbox_events e WHERE e.line_id = q.line_id)
		ORDER BY q.last_ok_at LIMIT ?`, now, now, limit)
	if err != nil {
		return nil, fmt.Errorf("queue: ready lines: %w", err)
	}
	defer rows.Close()
	var out []LineRef
	for rows.Next() {
		var r LineRef
		if err := rows.Scan(&r.LineID, &r.PortalID); err != nil {
			return nil, fmt.Errorf("queue: ready lines: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// NextWake returns the earliest future time a line's lock-out or lease ends
// (zero when there is none), so a dispatcher can sleep until then.
func (o *Outbox) NextWake(ctx context.Context) (time.Time, error) {
	var v sql.NullInt64
	now := ms(o.cfg.Now())
	err := o.db.SQL.QueryRowContext(ctx, `SELECT MIN(CASE WHEN locked_until > ? THEN locked_until ELSE lease_until END)
		FROM line_queue WHERE locked_until > ? OR (lease_owner IS NOT NULL AND lease_until > ?)`, now, now, now).Scan(&v)
	if err != nil {
		return time.Time{}, fmt.Errorf("queue: next wake: %w", err)
	}
	if !v.Valid {
		return time.Time{}, nil
	}
	return fromMS(v.Int64), nil
}

// Next reads up to max of the oldest events of a leased line. An empty batch
// means the line is drained; release the lease then.
func (o *Outbox) Next(ctx context.Context, l *Lease, max int) (*Batch, error) {
	rows, err := o.db.SQL.QueryContext(ctx, `SELECT seq, event_id, payload, created_at, `+portalVersion+` FROM `+o.lineEvents()+`
		WHERE line_id = ? ORDER BY seq LIMIT ?`, l.PortalID, l.LineID, max+1)
	if err != nil {
		return nil, fmt.Errorf("queue: read batch: %w", err)
	}
	defer rows.Close()
	b := &Batch{Lease: l}
	for rows.Next() {
		var it Item
		var created int64
		var version sql.NullInt64
		if err := rows.Scan(&it.Seq, &it.EventID, &it.Payload, &created, &version); err != nil {
			return nil, fmt.Errorf("queue: read batch: %w", err)
		}
		it.CreatedAt = fromMS(created)
		b.Items = append(b.Items, it)
		b.PortalVersion = version.Int64
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("queue: read batch: %w", err)
	}
	b.trim(max)
	return b, nil
}

// lineEvents is outbox_events read along its (line_id, seq) index, which
// every read of one line's oldest events must use: left to itself MariaDB
// may walk the primary key instead and examine every waiting event (see
// sqldb.Dialect.ByIndex).
func (o *Outbox) lineEvents() string {
	return o.db.Dialect.ByIndex("outbox_events", "outbox_line_seq")
}

// trim cuts a batch read one event ahead back to max, noting whether the
// line had more.
func (b *Batch) trim(max int) {
	if len(b.Items) > max {
		b.Items, b.More = b.Items[:max], true
	}
}

// NextLines is Next for several leased lines in one statement (one query
// per line would be the most frequent statement of delivery while events
// trickle in: a batch of one or two events per wake-up). It returns each
// line's batch, keyed by line id; a drained line's batch is empty.
func (o *Outbox) NextLines(ctx context.Context, leases []*Lease, max int) (map[string]*Batch, error) {
	out := make(map[string]*Batch, len(leases))
	const chunkLines = 64
	for start := 0; start < len(leases); start += chunkLines {
		chunk := leases[start:min(start+chunkLines, len(leases))]
		// A union of per-line range reads keeps each part on the
		// (line_id, seq) index with its own limit, so a line with a deep
		// backlog costs no more than its batch. MySQL takes the parts in
		// parentheses and streams them; wrapped as derived tables it would
		// materialize each into a temporary table, on disk for a BLOB
		// column. SQLite takes no parentheses, only derived tables.
		read := "SELECT line_id, seq, event_id, payload, created_at, " + portalVersion + " FROM " + o.lineEvents() + " WHERE line_id = ? ORDER BY seq LIMIT ?"
		part := "SELECT * FROM (" + read + ") t%d"
		if o.db.Dialect.Name() == sqldb.DriverMySQL {
			part = "(" + read + ")/*%d*/"
		}
		var q []byte
		args := make([]any, 0, 3*len(chunk))
		for i, l := range chunk {
			out[l.LineID] = &Batch{Lease: l}
			if i > 0 {
				q = append(q, " UNION ALL "...)
			}
			q = fmt.Appendf(q, part, i)
			args = append(args, l.PortalID, l.LineID, max+1)
		}
		rows, err := o.db.SQL.QueryContext(ctx, string(q), args...)
		if err != nil {
			return nil, fmt.Errorf("queue: read batches: %w", err)
		}
		for rows.Next() {
			if _, err := scanLineItem(rows, out); err != nil {
				rows.Close()
				return nil, fmt.Errorf("queue: read batches: %w", err)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("queue: read batches: %w", err)
		}
	}
	for _, b := range out {
		// A union does not promise its parts' order.
		sort.Slice(b.Items, func(i, j int) bool { return b.Items[i].Seq < b.Items[j].Seq })
		b.trim(max)
	}
	return out, nil
}

// scanLineItem scans a row of line_id, seq, event_id, payload, created_at
// and the portal's version into the batch of its line in batches, and
// returns the line.
func scanLineItem(rows *sql.Rows, batches map[string]*Batch) (string, error) {
	var it Item
	var line string
	var created int64
	var version sql.NullInt64
	if err := rows.Scan(&line, &it.Seq, &it.EventID, &it.Payload, &created, &version); err != nil {
		return "", err
	}
	it.CreatedAt = fromMS(created)
	if b := batches[line]; b != nil {
		b.Items = append(b.Items, it)
		b.PortalVersion = version.Int64
	}
	return line, nil
}

// NextRecent is NextLines for lines that ran dry moments ago (the leases a
// dispatcher kept), so each holds only what came since: one range read over
// all of them, in line and seq order, instead of a union of one read per
// line, whose parsing and planning cost MariaDB more than the one or two
// events each part finds. The read stops after max+1 events per line in
// all. A line it cannot tell complete (the one it stopped in, and those it
// may not have reached) is left out of the result: its caller reads that
// line alone (Next).
func (o *Outbox) NextRecent(ctx context.Context, leases []*Lease, max int) (map[string]*Batch, error) {
	out := make(map[string]*Batch, len(leases))
	// The statement reads one portal's version, so one per portal.
	byPortal := map[string][]*Lease{}
	var portals []string
	for _, l := range leases {
		if _, ok := byPortal[l.PortalID]; !ok {
			portals = append(portals, l.PortalID)
		}
		byPortal[l.PortalID] = append(byPortal[l.PortalID], l)
	}
	for _, p := range portals {
		ls := byPortal[p]
		for start := 0; start < len(ls); start += 64 {
			if err := o.readRecent(ctx, p, ls[start:min(start+64, len(ls))], max, out); err != nil {
				return nil, fmt.Errorf("queue: read batches: %w", err)
			}
		}
	}
	return out, nil
}

// readRecent reads the batches of one portal's leased lines for NextRecent
// into out.
func (o *Outbox) readRecent(ctx context.Context, portalID string, leases []*Lease, max int, out map[string]*Batch) error {
	limit := len(leases) * (max + 1)
	got := make(map[string]*Batch, len(leases))
	args := make([]any, 0, len(leases)+2)
	args = append(args, portalID)
	for _, l := range leases {
		got[l.LineID] = &Batch{Lease: l}
		args = append(args, l.LineID)
	}
	args = append(args, limit)
	rows, err := o.db.SQL.QueryContext(ctx, "SELECT line_id, seq, event_id, payload, created_at, "+portalVersion+" FROM "+o.lineEvents()+
		" WHERE line_id IN ("+placeholders(len(leases))+") ORDER BY line_id, seq LIMIT ?", args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	n, last := 0, ""
	for rows.Next() {
		if last, err = scanLineItem(rows, got); err != nil {
			return err
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for line, b := range got {
		// Stopped at the limit: the line it stopped in may go on past it
		// (unless it already has a batch and the event after it), and a
		// line without events may lie beyond it.
		if n == limit && (len(b.Items) == 0 || line == last && len(b.Items) <= max) {
			continue
		}
		b.trim(max)
		out[line] = b
	}
	return nil
}

// Ack records that the portal acknowledged the batch: its events are deleted
// and the line's lock-out is cleared, in one transaction. With d > 0 the
// lease is renewed for d (the caller goes on with the next batch); with
// d == 0 it is released (the caller is done with the line). If the lease was
// lost meanwhile the events are still deleted (they were delivered) and
// ErrLeaseLost is returned. Concurrent acks share one transaction.
func (o *Outbox) Ack(ctx context.Context, b *Batch, d time.Duration) error {
	p, err := o.ack(ctx, b, d, false, nil)
	if err != nil {
		return err
	}
	return p.Wait(ctx)
}

// AckLater is Ack without the wait, for a batch that drained its line: the
// ack joins the next group commit of acks, and when none comes it commits
// on its own after Config.AckDelay, so a trickle of events pays one commit
// for several lines' acks instead of one each. done, when not nil, is
// called with Ack's result once the ack is committed (from the outbox's ack
// loop: it must not block).
//
// Until the returned PendingAck is done the batch's events are still in the
// outbox: the caller must not read the line again, nor release its lease,
// before it is (a read would return them again).
func (o *Outbox) AckLater(ctx context.Context, b *Batch, d time.Duration, done func(error)) (*PendingAck, error) {
	return o.ack(ctx, b, d, true, done)
}

func (o *Outbox) ack(ctx context.Context, b *Batch, d time.Duration, deferred bool, then func(error)) (*PendingAck, error) {
	r := &ackReq{batch: b, renew: d, deferred: deferred, then: then, done: make(chan struct{})}
	select {
	case <-o.quit:
		// After Close: ack alone, so a batch finishing at shutdown is kept.
		acker{o}.ackGroup([]*ackReq{r})
	case o.acks <- r:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return &PendingAck{r: r, hurry: o.hurry}, nil
}

// PendingAck is an ack handed to the outbox's ack loop.
type PendingAck struct {
	r       *ackReq
	hurry   chan struct{}
	settled bool
}

// Hurry asks the ack loop to commit the deferred acks it gathers now
// rather than at the end of the delay (the line has new events waiting).
// It does not block.
func (p *PendingAck) Hurry() {
	select {
	case p.hurry <- struct{}{}:
	default:
	}
}

// Done is closed once the ack is committed or has failed.
func (p *PendingAck) Done() <-chan struct{} { return p.r.done }

// Wait waits for the ack and returns its result (Ack's). On success the
// batch's lease is renewed as Ack renews it. Call it from the goroutine
// that holds the lease.
func (p *PendingAck) Wait(ctx context.Context) error {
	select {
	case <-p.r.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	if !p.settled {
		p.settled = true
		if p.r.err == nil && p.r.renew > 0 {
			p.r.batch.Lease.Until = p.r.at.Add(p.r.renew)
		}
	}
	return p.r.err
}

type ackReq struct {
	batch *Batch
	renew time.Duration
	// deferred acks (AckLater) may wait up to AckDelay for company.
	deferred bool
	then     func(error)
	at       time.Time
	err      error
	done     chan struct{}
}

// ackLoop commits whatever acks wait, together, as commitLoop does for
// enqueues. A group of deferred acks only waits up to AckDelay for more
// (or for an ack someone waits on, which it then joins, or a Hurry).
func (o acker) ackLoop() {
	group := make([]*ackReq, 0, 256)
	delay := time.NewTimer(time.Hour)
	delay.Stop()
	for {
		select {
		case r := <-o.acks:
			group = append(group[:0], r)
		case <-o.quit:
			for {
				select {
				case r := <-o.acks:
					o.ackGroup([]*ackReq{r})
				default:
					return
				}
			}
		}
		waiting := !group[0].deferred
	fill:
		for len(group) < 256 {
			select {
			case r := <-o.acks:
				group = append(group, r)
				waiting = waiting || !r.deferred
			default:
				break fill
			}
		}
		if !waiting && len(group) < 256 {
			delay.Reset(o.cfg.AckDelay)
		gather:
			for len(group) < 256 {
				select {
				case r := <-o.acks:
					group = append(group, r)
					if !r.deferred {
						break gather
					}
				case <-delay.C:
					break gather
				case <-o.hurry:
					break gather
				case <-o.quit:
					break gather
				}
			}
			if !delay.Stop() {
				select {
				case <-delay.C:
				default:
				}
			}
		}
		o.ackGroup(group)
	}
}

func (o acker) ackGroup(group []*ackReq) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	now := o.cfg.Now()
	lost, err := o.ackMany(ctx, group, now)
	for _, r := range group {
		r.at = now
		switch {
		case err != nil:
			r.err = fmt.Errorf("queue: ack: %w", err)
		case lost[r.batch.Lease.LineID]:
			r.err = ErrLeaseLost
		}
		if r.then != nil {
			r.then(r.err)
		}
		close(r.done)
	}
}

// ackDeletes deletes the acked events by seq, up to 1,000 per statement.
func ackDeletes(d sqldb.Dialect, seqs []any) []sqldb.Stmt {
	var stmts []sqldb.Stmt
	for start := 0; start < len(seqs); start += 1000 {
		chunk := seqs[start:min(start+1000, len(seqs))]
		// In bench ingest MariaDB read 20,000 rows a second by scan here
		// (Handler_read_rnd_next) without ByKeys, and 5,000 with it.
		q := "DELETE FROM outbox_events WHERE seq IN (" + placeholders(len(chunk)) + ")" + d.ByKeys("seq", len(chunk))
		stmts = append(stmts, sqldb.Stmt{Query: q, Args: chunk})
	}
	return stmts
}

// ackMany deletes the acked events and updates the lines of a group of
// acks in one transaction, and reports the lines whose lease was lost.
func (o acker) ackMany(ctx context.Context, group []*ackReq, now time.Time) (map[string]bool, error) {
	var stmts []sqldb.Stmt
	var seqs []any
	for _, r := range group {
		for _, it := range r.batch.Items {
			seqs = append(seqs, it.Seq)
		}
	}
	stmts = append(stmts, ackDeletes(o.db.Dialect, seqs)...)
	deletes := len(stmts)
	// One UPDATE per (owner, renew or release) with the lines in it.
	type key struct {
		owner string
		renew bool
	}
	sets := map[key][]string{}
	var order []key
	for _, r := range group {
		k := key{r.batch.Lease.Owner, r.renew > 0}
		if _, ok := sets[k]; !ok {
			order = append(order, k)
		}
		sets[k] = append(sets[k], r.batch.Lease.LineID)
	}
	renewUntil := ms(now.Add(o.maxRenew(group)))
	for _, k := range order {
		lines := sets[k]
		lease, leaseArg := "lease_until = ?", any(renewUntil)
		if !k.renew {
			lease, leaseArg = "lease_owner = NULL, lease_until = ?", any(0)
		}
		args := []any{ms(now), leaseArg, k.owner}
		for _, l := range lines {
			args = append(args, l)
		}
		stmts = append(stmts, sqldb.Stmt{Query: `UPDATE line_queue SET fail_count = 0, first_failed_at = NULL,
			locked_until = 0, last_error = NULL, last_ok_at = ?, ` + lease + `
			WHERE lease_owner = ? AND line_id IN (` + placeholders(len(lines)) + `)`, Args: args})
	}
	var lost map[string]bool
	// The deletes and updates go in one round trip; the commit follows
	// once the updates' counts show every lease was still held (or the
	// lost ones are found, in the same transaction).
	err := o.db.Script(ctx, stmts, func(ctx context.Context, c sqldb.Conn, affected []int64) error {
		lost = map[string]bool{}
		for i, k := range order {
			lines := sets[k]
			if int(affected[deletes+i]) == len(lines) {
				continue
			}
			// Some lease moved on: find which (rare). Every row this UPDATE
			// touched now carries last_ok_at = now.
			// The UPDATE's arguments end with its lines.
			args := append([]any{ms(now)}, stmts[deletes+i].Args[3:]...)
			rows, err := c.QueryContext(ctx, "SELECT line_id FROM line_queue WHERE last_ok_at = ? AND line_id IN ("+placeholders(len(lines))+")", args...)
			if err != nil {
				return err
			}
			touched := map[string]bool{}
			for rows.Next() {
				var id string
				if err := rows.Scan(&id); err != nil {
					rows.Close()
					return err
				}
				touched[id] = true
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			for _, l := range lines {
				if !touched[l] {
					lost[l] = true
				}
			}
		}
		return nil
	})
	return lost, err
}

// maxRenew is the renewal period of a group (dispatchers of one outbox use
// one lease length).
func (o acker) maxRenew(group []*ackReq) time.Duration {
	var d time.Duration
	for _, r := range group {
		d = max(d, r.renew)
	}
	return d
}

// ClaimLines takes, in one statement, the leases of those lines that are
// claimable (not locked out, not leased by another), and returns a lease
// for each line it got.
func (o *Outbox) ClaimLines(ctx context.Context, lines []LineRef, owner string, d time.Duration) ([]*Lease, error) {
	if len(lines) == 0 {
		return nil, nil
	}
	now := o.cfg.Now()
	until := now.Add(d)
	ids := make([]any, len(lines))
	for i, l := range lines {
		ids[i] = l.LineID
	}
	args := append([]any{owner, ms(until), ms(now), ms(now), owner}, ids...)
	res, err := o.db.SQL.ExecContext(ctx, `UPDATE line_queue SET lease_owner = ?, lease_until = ?
		WHERE locked_until <= ? AND (lease_owner IS NULL OR lease_until <= ? OR lease_owner = ?)
		AND line_id IN (`+placeholders(len(ids))+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("queue: claim lines: %w", err)
	}
	got := map[string]bool{}
	if n, _ := res.RowsAffected(); int(n) == len(lines) {
		for _, l := range lines {
			got[l.LineID] = true
		}
	} else if n > 0 {
		rows, err := o.db.SQL.QueryContext(ctx, "SELECT line_id FROM line_queue WHERE lease_owner = ? AND lease_until = ? AND line_id IN ("+placeholders(len(ids))+")",
			append([]any{owner, ms(until)}, ids...)...)
		if err != nil {
			return nil, fmt.Errorf("queue: claim lines: %w", err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, fmt.Errorf("queue: claim lines: %w", err)
			}
			got[id] = true
		}
		rows.Close()
	}
	var out []*Lease
	for _, l := range lines {
		if got[l.LineID] {
			out = append(out, &Lease{LineID: l.LineID, PortalID: l.PortalID, Owner: owner, Until: until})
		}
	}
	return out, nil
}

func deleteSeqs(ctx context.Context, tx *sql.Tx, table, lineID string, items []Item) (int64, error) {
	if len(items) == 0 {
		return 0, nil
	}
	args := make([]any, 0, len(items)+1)
	args = append(args, lineID)
	for _, it := range items {
		args = append(args, it.Seq)
	}
	res, err := tx.ExecContext(ctx, "DELETE FROM "+table+" WHERE line_id = ? AND seq IN ("+placeholders(len(items))+")", args...)
	if err != nil {
		return 0, fmt.Errorf("delete from %s: %w", table, err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// Lockout is a line's delivery state after a failure.
type Lockout struct {
	// Failures counts consecutive failed attempts (0 after expiry).
	Failures int
	// Until is when the line may be tried again.
	Until time.Time
	// Expired is how many events went to dead letters with this failure.
	Expired int64
}

// Fail records a failed delivery of the batch: the line is locked out for the
// next period of the schedule (never past the end of the window), and the
// lease released. When the window since the first failed attempt is over,
// all the line's events move to dead letters and the failure streak ends.
func (o *Outbox) Fail(ctx context.Context, b *Batch, reason string) (Lockout, error) {
	now := o.cfg.Now()
	var lo Lockout
	err := o.db.InTx(ctx, func(tx *sql.Tx) error {
		lo = Lockout{}
		var (
			fails int
			first sql.NullInt64
			owner sql.NullString
		)
		err := tx.QueryRowContext(ctx, "SELECT fail_count, first_failed_at, lease_owner FROM line_queue WHERE line_id = ?"+o.db.Dialect.ForUpdate(),
			b.Lease.LineID).Scan(&fails, &first, &owner)
		if err != nil {
			return fmt.Errorf("read line: %w", err)
		}
		if !owner.Valid || owner.String != b.Lease.Owner {
			return ErrLeaseLost
		}
		start := now
		if first.Valid {
			start = fromMS(first.Int64)
		}
		end := start.Add(o.cfg.Window)
		if !now.Before(end) {
			moved, err := o.expireLine(ctx, tx, b.Lease.LineID, now, reason)
			if err != nil {
				return err
			}
			lo.Expired = moved
			_, err = tx.ExecContext(ctx, `UPDATE line_queue SET fail_count = 0, first_failed_at = NULL, locked_until = 0,
				last_error = ?, lease_owner = NULL, lease_until = 0 WHERE line_id = ?`, truncate(reason, 2000), b.Lease.LineID)
			return err
		}
		fails++
		period := o.cfg.Schedule[min(fails, len(o.cfg.Schedule))-1]
		until := now.Add(period)
		if until.After(end) {
			until = end
		}
		lo.Failures, lo.Until = fails, until
		_, err = tx.ExecContext(ctx, `UPDATE line_queue SET fail_count = ?, first_failed_at = ?, locked_until = ?,
			last_error = ?, lease_owner = NULL, lease_until = 0 WHERE line_id = ?`,
			fails, ms(start), ms(until), truncate(reason, 2000), b.Lease.LineID)
		return err
	})
	if err != nil {
		return Lockout{}, fmt.Errorf("queue: fail: %w", err)
	}
	return lo, nil
}

// Release gives a lease back without penalty (shutdown, or a drained line).
func (o *Outbox) Release(ctx context.Context, l *Lease) error {
	_, err := o.db.SQL.ExecContext(ctx, "UPDATE line_queue SET lease_owner = NULL, lease_until = 0 WHERE line_id = ? AND lease_owner = ?",
		l.LineID, l.Owner)
	if err != nil {
		return fmt.Errorf("queue: release: %w", err)
	}
	return nil
}

// ReleaseLines gives back several leases in one statement per owner (a
// dispatcher's idle kept leases).
func (o *Outbox) ReleaseLines(ctx context.Context, leases []*Lease) error {
	byOwner := map[string][]any{}
	for _, l := range leases {
		byOwner[l.Owner] = append(byOwner[l.Owner], l.LineID)
	}
	for owner, ids := range byOwner {
		for start := 0; start < len(ids); start += 500 {
			chunk := ids[start:min(start+500, len(ids))]
			_, err := o.db.SQL.ExecContext(ctx, "UPDATE line_queue SET lease_owner = NULL, lease_until = 0 WHERE lease_owner = ? AND line_id IN ("+placeholders(len(chunk))+")",
				append([]any{owner}, chunk...)...)
			if err != nil {
				return fmt.Errorf("queue: release lines: %w", err)
			}
		}
	}
	return nil
}

// ReleaseOwner gives back every lease an owner holds (graceful shutdown).
func (o *Outbox) ReleaseOwner(ctx context.Context, owner string) error {
	_, err := o.db.SQL.ExecContext(ctx, "UPDATE line_queue SET lease_owner = NULL, lease_until = 0 WHERE lease_owner = ?", owner)
	if err != nil {
		return fmt.Errorf("queue: release owner: %w", err)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
