package xmpp

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/history"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/ping"
	"mellium.im/xmpp/stanza"

	"github.com/connector-gateway/connector/connectors"
)

// pollBackoff is the wait after the 1st, 2nd... failed stream in a row; the
// last entry repeats.
var pollBackoff = [...]time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second}

// keepalive is how often an idle stream is pinged (XEP-0199), so a dead TCP
// connection is noticed and replaced.
const keepalive = 30 * time.Second

// Poll implements connectors.Poller: it keeps one stream logged in as the
// connection's account until ctx ends.
//
// On every (re)connect it first announces presence (so live messages flow,
// held back for now), then reads the account's archive (XEP-0313) page by
// page from the position c.Cursor holds: the archive id of the last stanza
// whose events were committed. Each page's events go to sink; only after
// sink returned nil is the page's last archive id saved. When the archive
// is read to its end the held-back live messages follow, and from then on
// each live message is committed, then its archive id (the stanza-id the
// server stamped) saved. A crash anywhere re-reads from the last saved
// position; dedupe keys built from archive ids make the repeats nothing.
// With an empty cursor (first start) the whole archive is read.
//
// Delivery receipts a sender asked for are sent only after commit.
// Transient failures (network, server restart, sink errors) are logged and
// retried with growing pauses; a refused password returns a
// *connectors.PermanentError, a lost lease an error wrapping
// connectors.ErrLeaseLost.
func (cn *Connector) Poll(ctx context.Context, c connectors.Conn, sink connectors.Sink) error {
	st, fe := parseSettings(c.Settings)
	if fe != nil {
		return &connectors.PermanentError{Err: fmt.Errorf("xmpp: poll: %w", fe)}
	}
	if c.Cursor == nil {
		return errors.New("xmpp: poll: no cursor to keep the archive position in")
	}
	cn.mu.Lock()
	if cn.closed {
		cn.mu.Unlock()
		return nil
	}
	cn.polls.Add(1)
	cn.streams[c.ID] = "connecting to " + st.Server
	cn.mu.Unlock()
	defer cn.polls.Done()
	defer func() {
		cn.mu.Lock()
		delete(cn.streams, c.ID)
		cn.mu.Unlock()
	}()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-cn.stop:
			cancel()
		case <-ctx.Done():
		}
	}()

	log := cn.log.With(slog.String("connection", c.ID), slog.String("connector", Type))
	failures := 0
	for ctx.Err() == nil {
		began := time.Now()
		err := cn.stream(ctx, c, st, sink, log)
		if ctx.Err() != nil {
			return nil
		}
		switch {
		case errors.Is(err, errAuth):
			return &connectors.PermanentError{Err: fmt.Errorf("xmpp: poll: %w; put in the right password and activate the connection again", err)}
		case errors.Is(err, connectors.ErrLeaseLost):
			return fmt.Errorf("xmpp: poll: %w", err)
		}
		if time.Since(began) > time.Minute {
			failures = 0 // it ran fine for a while: start the backoff over
		}
		wait := pollBackoff[min(failures, len(pollBackoff)-1)]
		failures++
		log.Warn("xmpp: poll: stream ended, will reconnect", slog.Duration("in", wait), slog.String("reason", fmt.Sprint(err)))
		cn.setStreamState(c.ID, fmt.Sprintf("the stream to %s is down (%v); reconnecting", st.Server, err))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
	return nil
}

// item is what the stream's reader hands the poll loop, in stream order: a
// message, or the end of one archive page.
type item struct {
	msg  *inMessage
	page *pageEnd
}

type pageEnd struct {
	last     string
	complete bool
	err      error
	// unsupported: the server has no archive for the account.
	unsupported bool
}

// stream runs one connection: dial, catch up, then live, until an error.
func (cn *Connector) stream(ctx context.Context, c connectors.Conn, st settings, sink connectors.Sink, log *slog.Logger) error {
	began := time.Now()
	sess, err := cn.dial(ctx, st)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer func() { _ = sess.Conn().Close() }()

	items := make(chan item, 64)
	serveErr := make(chan error, 1)
	handler := xmpp.HandlerFunc(func(t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
		if start.Name.Local != "message" {
			return nil
		}
		var m inMessage
		if err := xml.NewTokenDecoder(xmlstream.MultiReader(xmlstream.Token(*start), t)).Decode(&m); err != nil {
			log.Warn("xmpp: poll: skipped an undecodable message", slog.String("reason", err.Error()))
			return nil
		}
		select {
		case items <- item{msg: &m}:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	go func() { serveErr <- sess.Serve(handler) }()
	cn.setLive(c.ID, sess)
	defer cn.setLive(c.ID, nil)

	component := st.Mode == ModeComponent
	if !component {
		if err := sess.Send(ctx, stanza.Presence{}.Wrap(nil)); err != nil {
			return fmt.Errorf("send presence: %w", err)
		}
	}
	pos, err := c.Cursor.Load(ctx)
	if err != nil {
		return fmt.Errorf("load position: %w", err)
	}
	queries := map[string]bool{}
	query := func(after string) {
		id := randomID()
		queries[id] = true
		go func() {
			end := cn.fetchPage(ctx, sess, id, after)
			select {
			case items <- item{page: &end}:
			case <-ctx.Done():
			}
		}()
	}
	touches := make(chan string, 64)
	if st.Pool > 0 {
		var poolDone sync.WaitGroup
		poolDone.Add(1)
		go func() {
			defer poolDone.Done()
			cn.runPool(ctx, &pool{cn: cn, c: c, st: st, sess: sess}, sink, touches, log)
		}()
		// The pool's goroutine ends with the stream, before a new one starts.
		defer func() { cancel(); poolDone.Wait() }()
	}
	// A component has no archive at the server (XEP-0313 is per account):
	// it goes live at once, and what was sent while it was away bounced.
	catching := !component
	if catching {
		query(pos)
	} else {
		log.Info("xmpp: poll: component connected", slog.Duration("since_connect", time.Since(began)))
	}
	me := self{Bare: st.JID.String(), Nick: st.Nick}
	// caught holds the archive ids read during catch-up: a held-back live
	// message among them (an offline message the server re-delivered on
	// presence) is already committed, and saving its older id would move
	// the position backwards.
	caught := map[string]bool{}
	var page, held []mapped
	tick := time.NewTicker(keepalive)
	defer tick.Stop()
	lastRead := time.Now()

	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-serveErr:
			return fmt.Errorf("stream closed: %v", err)
		case <-tick.C:
			if !component && time.Since(lastRead) >= keepalive {
				pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
				err := ping.Send(pctx, sess, jid.MustParse(st.JID.Domainpart()))
				pcancel()
				if err != nil && ctx.Err() == nil {
					var se stanza.Error
					if !errors.As(err, &se) { // an error reply is still a reply
						return fmt.Errorf("keepalive ping: %w", err)
					}
				}
			}
		case it := <-items:
			lastRead = time.Now()
			switch {
			case it.page != nil:
				end := it.page
				switch {
				case end.err != nil && pos != "" && isItemNotFound(end.err):
					// The archive no longer has our position (expired or
					// wiped): read all it has; dedupe absorbs repeats.
					log.Warn("xmpp: poll: the archive lost the stored position, reading it from the start", slog.String("position", pos))
					page, pos = nil, ""
					query("")
					continue
				case end.err != nil:
					return fmt.Errorf("archive query: %w", end.err)
				}
				last := end.last
				if last == "" {
					last = lastArchiveID(page)
				}
				if err := cn.commit(ctx, c, sess, sink, page, last, log); err != nil {
					return err
				}
				if last != "" {
					pos = last
				}
				page = nil
				if !end.complete && !end.unsupported && last != "" {
					query(last)
					continue
				}
				if end.unsupported {
					log.Warn("xmpp: poll: the server keeps no message archive for this account; messages sent while the gateway is offline may be lost")
				}
				catching = false
				fresh := held[:0]
				for _, mp := range held {
					if mp.ArchiveID == "" || !caught[mp.ArchiveID] {
						fresh = append(fresh, mp)
					}
				}
				if err := cn.commit(ctx, c, sess, sink, fresh, lastArchiveID(fresh), log); err != nil {
					return err
				}
				held, caught = nil, nil
				log.Info("xmpp: poll: caught up", slog.Duration("since_connect", time.Since(began)), slog.String("position", pos))
			case it.msg.Result != nil:
				mp := mapStanza(c, me, *it.msg, time.Now())
				if !queries[mp.QueryID] {
					continue
				}
				caught[mp.ArchiveID] = true
				page = append(page, mp)
			default:
				mp := mapStanza(c, me, *it.msg, time.Now())
				if st.Pool > 0 && it.msg.Type == "groupchat" && len(mp.Events) > 0 {
					select {
					case touches <- mp.Events[0].Event.Chat.ID:
					default:
					}
				}
				if catching {
					held = append(held, mp)
					continue
				}
				batch := []mapped{mp}
				// Take what else is already waiting, for one commit.
			drain:
				for len(batch) < 100 {
					select {
					case more := <-items:
						if more.msg == nil || more.msg.Result != nil {
							continue // no query is open once caught up
						}
						batch = append(batch, mapStanza(c, me, *more.msg, time.Now()))
					default:
						break drain
					}
				}
				if err := cn.commit(ctx, c, sess, sink, batch, lastArchiveID(batch), log); err != nil {
					return err
				}
			}
		}
	}
}

// commit hands the events of ms to sink (retrying until it takes them or
// ctx ends), then saves pos, then sends the receipts senders asked for.
func (cn *Connector) commit(ctx context.Context, c connectors.Conn, sess *xmpp.Session, sink connectors.Sink, ms []mapped, pos string, log *slog.Logger) error {
	var events []connectors.Keyed
	for _, m := range ms {
		events = append(events, m.Events...)
	}
	for tries := 0; len(events) > 0; tries++ {
		err := sink(ctx, events)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		wait := pollBackoff[min(tries, len(pollBackoff)-1)]
		log.Warn("xmpp: poll: storing events failed, will retry", slog.Duration("in", wait), slog.String("reason", err.Error()))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
	if pos != "" {
		if err := c.Cursor.Save(ctx, pos); err != nil {
			if errors.Is(err, connectors.ErrLeaseLost) {
				return err
			}
			// The events are committed; a restart before a later save
			// re-reads them and dedupe drops them.
			log.Warn("xmpp: poll: save position", slog.String("reason", err.Error()))
		}
	}
	for _, m := range ms {
		if m.ReceiptTo != "" && m.ReceiptID != "" {
			if err := sendReceipt(ctx, sess, m.ReceiptTo, m.ReceiptID); err != nil {
				return fmt.Errorf("send receipt: %w", err)
			}
		}
	}
	return nil
}

// fetchPage asks the account's archive for the page after the archive id
// after ("" = from the start). The results arrive as messages on the
// stream, before the answer this waits for.
func (cn *Connector) fetchPage(ctx context.Context, sess *xmpp.Session, queryID, after string) pageEnd {
	q := history.Query{ID: queryID, PageID: after, Limit: uint64(cn.opts.PageSize)}
	var res history.Result
	qctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	err := sess.UnmarshalIQElement(qctx, q.TokenReader(), stanza.IQ{Type: stanza.SetIQ}, &res)
	if err != nil {
		var se stanza.Error
		if errors.As(err, &se) && (se.Condition == stanza.FeatureNotImplemented || se.Condition == stanza.ServiceUnavailable) {
			return pageEnd{unsupported: true}
		}
		return pageEnd{err: err}
	}
	return pageEnd{last: res.Set.Last, complete: res.Complete}
}

func isItemNotFound(err error) bool {
	var se stanza.Error
	return errors.As(err, &se) && se.Condition == stanza.ItemNotFound
}

func lastArchiveID(ms []mapped) string {
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].ArchiveID != "" {
			return ms[i].ArchiveID
		}
	}
	return ""
}

// runPool owns c's room pool for the life of one stream: it loads the
// state, joins the rooms, refills, then serves open/close requests and the
// idle timeout one at a time. Its events go to sink directly (the pool's
// are not part of the archive position). It runs apart from the poll loop
// so IQ round trips never wait on the loop that reads the stream.
func (cn *Connector) runPool(ctx context.Context, p *pool, sink connectors.Sink, touches <-chan string, log *slog.Logger) {
	cn.setStreamState(p.c.ID, "loading the room pool")
	for ctx.Err() == nil {
		err := p.load(ctx)
		if err == nil {
			break
		}
		log.Warn("xmpp: pool: load, will retry", slog.String("reason", err.Error()))
		cn.setStreamState(p.c.ID, "it could not be loaded (retried every 5s): "+err.Error())
		select {
		case <-ctx.Done():
			return
		case <-time.After(5 * time.Second):
		}
	}
	reqs := make(chan poolReq)
	owner := poolOwner{reqs: reqs, done: make(chan struct{})}
	cn.mu.Lock()
	cn.pools[p.c.ID] = owner
	cn.mu.Unlock()
	defer func() {
		cn.mu.Lock()
		if cn.pools[p.c.ID].reqs == reqs {
			delete(cn.pools, p.c.ID)
		}
		cn.mu.Unlock()
		cn.setStreamState(p.c.ID, "the stream to "+p.st.Server+" ended; reconnecting")
		close(owner.done)
	}()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	rf := refiller{pool: p, log: log}
	closeRoom := func(room, reason string) error {
		ev, err := p.closeRoom(ctx, room, reason, time.Now())
		if err != nil {
			return err
		}
		if err := sink(ctx, []connectors.Keyed{ev}); err != nil {
			return fmt.Errorf("xmpp: pool: store conversation.closed: %w", err)
		}
		if err := p.save(ctx); err != nil {
			return err
		}
		rf.refill(ctx, time.Now()) // the conversation is closed either way
		return nil
	}
	for {
		select {
		case <-ctx.Done():
			return
		case room := <-touches:
			p.touch(room, time.Now())
		case <-tick.C:
			for _, room := range p.idle(time.Now()) {
				if err := closeRoom(room, "timeout"); err != nil {
					log.Warn("xmpp: pool: close idle room", slog.String("room", room), slog.String("reason", err.Error()))
				}
			}
			rf.refill(ctx, time.Now()) // after a failed refill; nothing to do at size
		case r := <-reqs:
			var rep poolReply
			opened := false
			if r.open && r.resume != "" && p.active(r.resume) {
				// The visitor's conversation is still on: the same room.
				rep = poolReply{room: r.resume}
			} else if r.open {
				room, ev, err := p.open(ctx, time.Now())
				if errors.Is(err, errNoRoom) {
					// Every room is taken because refills failed: one more
					// try now, unless the last failure was just now.
					rf.grow(ctx, time.Now(), 1)
					room, ev, err = p.open(ctx, time.Now())
				}
				if errors.Is(err, errNoRoom) {
					err = rf.busy(time.Now())
				}
				if err == nil {
					// Stored first: a crash after the save would leave an
					// active room without its opened event.
					if err = sink(ctx, []connectors.Keyed{ev}); err != nil {
						p.reopen(room)
					} else {
						err = p.save(ctx)
						opened = err == nil
					}
				}
				rep = poolReply{room: room, err: err}
			} else {
				rep.err = closeRoom(r.close, "portal")
			}
			r.reply <- rep
			if opened {
				rf.refill(ctx, time.Now()) // after the answer: the visitor need not wait for it
			}
		}
	}
}

// refiller keeps the pool at its size: a refill that failed (the group
// chat service refused or did not answer) is tried again on the pool's
// tick after a growing pause (pollBackoff, at most 30s), for as long as the
// pool is below its size.
type refiller struct {
	pool     *pool
	log      *slog.Logger
	failures int
	next     time.Time // no attempt before
	last     error     // the last attempt's failure, nil after a success
}

// refill makes the rooms the pool lacks, unless a failure asks to wait.
func (rf *refiller) refill(ctx context.Context, now time.Time) {
	rf.grow(ctx, now, rf.pool.st.Pool-rf.pool.waiting())
}

func (rf *refiller) grow(ctx context.Context, now time.Time, n int) {
	if n <= 0 || now.Before(rf.next) {
		return
	}
	err := rf.pool.grow(ctx, n)
	if err == nil {
		if rf.last != nil {
			rf.log.Info("xmpp: pool: refilled after failures", slog.Int("failures", rf.failures))
		}
		rf.failures, rf.next, rf.last = 0, time.Time{}, nil
		return
	}
	wait := pollBackoff[min(rf.failures, len(pollBackoff)-1)]
	rf.failures++
	rf.next, rf.last = time.Now().Add(wait), err
	rf.log.Warn("xmpp: pool: refill failed, will retry", slog.Duration("in", wait), slog.String("reason", err.Error()))
}

// busy is the answer to an open that found no waiting room.
func (rf *refiller) busy(now time.Time) error {
	if rf.last == nil {
		return &connectors.RateLimitedError{RetryAfter: 2 * time.Second,
			Err: errors.New("xmpp: pool: no waiting room (the pool is refilling; try again)")}
	}
	wait := max(2*time.Second, rf.next.Sub(now).Round(time.Second))
	return &connectors.RateLimitedError{RetryAfter: wait,
		Err: fmt.Errorf("xmpp: pool: no waiting room: making new rooms failed (%v); trying again in %s", rf.last, wait)}
}
