package xmpp

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
	"time"

	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"github.com/connector-gateway/connector/connectors"
)

// The room pool (the HelpIM model): rooms made in advance on the group chat
// service, one handed out per new conversation, closed rooms destroyed and
// replaced so the pool stays at its size. A room is "waiting" in the pool
// or "active" with a conversation; closing destroys it (so the next visitor
// never sees the last one's history: the portal has all of it) and the
// pool makes a fresh one.
//
// The pool's state is kept at the XMPP server, in the gateway account's
// private XML storage (XEP-0049), so it survives restarts and a takeover
// by another gateway process without a table of its own. Only the process
// that polls the connection changes it: requests go to its poll loop.

const (
	nsPrivate  = "jabber:iq:private"
	nsPool     = "urn:connector-gateway:xmpp:pool:0"
	nsMUC      = "http://jabber.org/protocol/muc"
	nsMUCOwner = "http://jabber.org/protocol/muc#owner"
)

// Room states.
const (
	RoomWaiting = "waiting"
	RoomActive  = "active"
)

type poolState struct {
	Rooms []poolRoom `json:"rooms"`
}

type poolRoom struct {
	JID      string    `json:"jid"`
	State    string    `json:"state"`
	OpenedAt time.Time `json:"opened_at,omitzero"`
	// Last is the last activity, for the idle timeout.
	Last time.Time `json:"last,omitzero"`
}

// poolReq is a request to the poll loop that owns a connection's pool.
type poolReq struct {
	open   bool   // hand out a room…
	resume string // …or this one, when its conversation is still active
	close  string // close this room
	reply  chan poolReply
}

type poolReply struct {
	room string
	err  error
}

// ErrNotPolling: the pool is served by the process that polls the
// connection, and this one does not (or not yet).
// It wraps connectors.ErrElsewhere.
var ErrNotPolling = fmt.Errorf("xmpp: this process does not poll the connection (yet): %w", connectors.ErrElsewhere)

// noPoolError: the connection has no room pool, so it has no
// conversations to open or close. Its text is the plain reason; it is
// connectors.ErrUnsupported.
type noPoolError struct{ mode string }

func (e noPoolError) Error() string {
	if e.mode == ModeComponent {
		return "xmpp: a component has no room pool, so it has no conversations to open or close (the pool needs client mode)"
	}
	return "xmpp: this connection has no room pool (room_pool is 0), so it has no conversations to open or close; set room_pool and muc_service to have one"
}

func (e noPoolError) Is(target error) bool { return target == connectors.ErrUnsupported }

// poolDownError: this process polls the connection, but its pool does not
// serve: the stream is down, or the pool could not be loaded. It wraps
// connectors.ErrNotConnected.
type poolDownError struct{ why string }

func (e *poolDownError) Error() string { return "xmpp: the room pool is not ready: " + e.why }
func (e *poolDownError) Unwrap() error { return connectors.ErrNotConnected }

// OpenConversation hands out a waiting room of c's pool for a new
// conversation and reports conversation.opened; it returns the room's JID,
// which the visitor joins. It must run in the process that polls c.
func (cn *Connector) OpenConversation(ctx context.Context, c connectors.Conn) (string, error) {
	return cn.poolCall(ctx, c, poolReq{open: true})
}

// resumeConversation answers room itself while its conversation is
// active, else hands out a new room as OpenConversation does (the web
// chat's visitor coming back after the conversation was closed).
func (cn *Connector) resumeConversation(ctx context.Context, c connectors.Conn, room string) (string, error) {
	return cn.poolCall(ctx, c, poolReq{open: true, resume: room})
}

// CloseConversation ends the conversation in room, reports
// conversation.closed, destroys the room and refills the pool.
func (cn *Connector) CloseConversation(ctx context.Context, c connectors.Conn, room string) error {
	_, err := cn.poolCall(ctx, c, poolReq{close: room})
	return err
}

// poolCall hands r to the goroutine that owns c's pool. Without a pool in
// the settings it is noPoolError; when this process polls c but the pool
// does not serve (yet), a *poolDownError saying why; when it does not poll
// c, ErrNotPolling.
func (cn *Connector) poolCall(ctx context.Context, c connectors.Conn, r poolReq) (string, error) {
	st, fe := parseSettings(c.Settings)
	if fe != nil {
		return "", &connectors.PermanentError{Err: fmt.Errorf("xmpp: %w", fe)}
	}
	if st.Pool == 0 {
		return "", noPoolError{mode: st.Mode}
	}
	cn.mu.Lock()
	o, ok := cn.pools[c.ID]
	why, polling := cn.streams[c.ID]
	cn.mu.Unlock()
	if !ok {
		if polling {
			return "", &poolDownError{why: why}
		}
		return "", ErrNotPolling
	}
	r.reply = make(chan poolReply, 1)
	select {
	case o.reqs <- r:
	case <-o.done: // that stream just ended
		return "", cn.notServing(c.ID)
	case <-ctx.Done():
		return "", ctx.Err()
	}
	select {
	case rep := <-r.reply:
		return rep.room, rep.err
	case <-o.done:
		return "", cn.notServing(c.ID)
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// notServing is poolCall's error once the pool it reached stopped.
func (cn *Connector) notServing(connID string) error {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if why, polling := cn.streams[connID]; polling {
		return &poolDownError{why: why}
	}
	return ErrNotPolling
}

// setStreamState notes, while Poll runs for connID, why its pool does not
// serve; poolCall tells callers.
func (cn *Connector) setStreamState(connID, why string) {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if _, polling := cn.streams[connID]; polling {
		cn.streams[connID] = why
	}
}

// poolOwner is the goroutine that owns a connection's pool: its request
// channel, and done, closed when it has stopped serving.
type poolOwner struct {
	reqs chan poolReq
	done chan struct{}
}

// pool is one connection's pool as its poll loop holds it.
type pool struct {
	cn    *Connector
	c     connectors.Conn
	st    settings
	sess  *xmpp.Session
	state poolState
}

// load reads the pool's state from private storage and joins every room in
// it (re-creating any the service lost), then refills.
func (p *pool) load(ctx context.Context) error {
	var res struct {
		Pool string `xml:"urn:connector-gateway:xmpp:pool:0 pool"`
	}
	q := fmt.Sprintf(`<query xmlns=%q><pool xmlns=%q/></query>`, nsPrivate, nsPool)
	if err := p.iq(ctx, stanza.GetIQ, jid.JID{}, q, &res); err != nil {
		return fmt.Errorf("pool: read its state from the account's private storage (XEP-0049; Prosody: mod_private): %w", err)
	}
	p.state = poolState{}
	if s := strings.TrimSpace(res.Pool); s != "" {
		if err := json.Unmarshal([]byte(s), &p.state); err != nil {
			return fmt.Errorf("pool: stored state: %w", err)
		}
	}
	for _, r := range p.state.Rooms {
		if err := p.join(ctx, r.JID); err != nil {
			return err
		}
	}
	return p.refill(ctx)
}

func (p *pool) save(ctx context.Context) error {
	b, err := json.Marshal(p.state)
	if err != nil {
		return err
	}
	var esc bytes.Buffer
	_ = xml.EscapeText(&esc, b)
	q := fmt.Sprintf(`<query xmlns=%q><pool xmlns=%q>%s</pool></query>`, nsPrivate, nsPool, esc.String())
	if err := p.iq(ctx, stanza.SetIQ, jid.JID{}, q, nil); err != nil {
		return fmt.Errorf("pool: save: %w", err)
	}
	return nil
}

// refill makes rooms until the pool has its size of waiting ones.
func (p *pool) refill(ctx context.Context) error {
	return p.grow(ctx, p.st.Pool-p.waiting())
}

// grow makes n waiting rooms (none when n <= 0) and saves the pool. Rooms
// made before a failure stay in the pool (saved with the next save).
func (p *pool) grow(ctx context.Context, n int) error {
	if n <= 0 {
		return nil
	}
	if f := p.cn.fault(); f != nil {
		if err := f(); err != nil {
			return fmt.Errorf("pool: make a room: %w", err)
		}
	}
	for range n {
		room := "pool-" + randomID()[:16] + "@" + p.st.MUC
		if err := p.join(ctx, room); err != nil {
			return err
		}
		p.state.Rooms = append(p.state.Rooms, poolRoom{JID: room, State: RoomWaiting})
	}
	return p.save(ctx)
}

// waiting counts the pool's waiting rooms.
func (p *pool) waiting() int {
	n := 0
	for _, r := range p.state.Rooms {
		if r.State == RoomWaiting {
			n++
		}
	}
	return n
}

// join enters room as the gateway's nick, which creates it when missing,
// and configures it: persistent (it outlives the gateway's presence),
// hidden from the room list, archived.
func (p *pool) join(ctx context.Context, room string) error {
	pres := fmt.Sprintf(`<presence xmlns="jabber:client" to="%s/%s"><x xmlns=%q><history maxstanzas="50"/></x></presence>`, xmlAttr(room), xmlAttr(p.st.Nick), nsMUC)
	if err := p.sess.Send(ctx, xml.NewDecoder(strings.NewReader(pres))); err != nil {
		return fmt.Errorf("pool: join %s: %w", room, err)
	}
	rj, err := jid.Parse(room)
	if err != nil {
		return err
	}
	title := ""
	if p.st.WebchatTitle != "" {
		// What a web chat visitor sees at the top of the chat.
		title = `<field var="muc#roomconfig_roomname"><value>` + xmlAttr(p.st.WebchatTitle) + `</value></field>`
	}
	form := fmt.Sprintf(`<query xmlns=%q><x xmlns="jabber:x:data" type="submit">`+
		`<field var="FORM_TYPE"><value>http://jabber.org/protocol/muc#roomconfig</value></field>`+
		`<field var="muc#roomconfig_persistentroom"><value>1</value></field>`+
		`<field var="muc#roomconfig_publicroom"><value>0</value></field>`+
		`<field var="muc#roomconfig_enablearchiving"><value>1</value></field>`+
		title+`</x></query>`, nsMUCOwner)
	if err := p.iq(ctx, stanza.SetIQ, rj, form, nil); err != nil {
		return fmt.Errorf("pool: configure %s: %w", room, err)
	}
	return nil
}

// open hands out a waiting room.
func (p *pool) open(ctx context.Context, now time.Time) (string, connectors.Keyed, error) {
	for i, r := range p.state.Rooms {
		if r.State != RoomWaiting {
			continue
		}
		p.state.Rooms[i].State, p.state.Rooms[i].OpenedAt, p.state.Rooms[i].Last = RoomActive, now, now
		ev := p.event(connectors.TypeConversationOpened, r.JID, &connectors.Conversation{State: RoomActive, OpenedAt: now})
		return r.JID, ev, nil
	}
	return "", connectors.Keyed{}, errNoRoom
}

// errNoRoom: every room of the pool has a conversation.
var errNoRoom = errors.New("xmpp: pool: no waiting room")

// closeRoom ends room's conversation: it is destroyed and forgotten.
func (p *pool) closeRoom(ctx context.Context, room, reason string, now time.Time) (connectors.Keyed, error) {
	for i, r := range p.state.Rooms {
		if r.JID != room {
			continue
		}
		if r.State != RoomActive {
			return connectors.Keyed{}, &connectors.PermanentError{Err: fmt.Errorf("xmpp: pool: room %s has no conversation", room)}
		}
		rj, err := jid.Parse(room)
		if err != nil {
			return connectors.Keyed{}, err
		}
		q := fmt.Sprintf(`<query xmlns=%q><destroy><reason>The conversation was closed.</reason></destroy></query>`, nsMUCOwner)
		if err := p.iq(ctx, stanza.SetIQ, rj, q, nil); err != nil {
			return connectors.Keyed{}, fmt.Errorf("pool: destroy %s: %w", room, err)
		}
		p.state.Rooms = append(p.state.Rooms[:i], p.state.Rooms[i+1:]...)
		at := now
		ev := p.event(connectors.TypeConversationClosed, room, &connectors.Conversation{State: "closed", OpenedAt: r.OpenedAt, ClosedAt: &at, Reason: reason})
		return ev, nil
	}
	return connectors.Keyed{}, &connectors.PermanentError{Err: fmt.Errorf("xmpp: pool: %s is not a room of this connection's pool", room)}
}

// reopen puts a room handed out without its event stored back to waiting.
func (p *pool) reopen(room string) {
	for i := range p.state.Rooms {
		if p.state.Rooms[i].JID == room {
			p.state.Rooms[i].State, p.state.Rooms[i].OpenedAt = RoomWaiting, time.Time{}
		}
	}
}

// active reports whether room is one of the pool's rooms with an open
// conversation.
func (p *pool) active(room string) bool {
	for _, r := range p.state.Rooms {
		if r.JID == room {
			return r.State == RoomActive
		}
	}
	return false
}

// touch notes activity in room (for the idle timeout).
func (p *pool) touch(room string, at time.Time) {
	for i := range p.state.Rooms {
		if p.state.Rooms[i].JID == room && p.state.Rooms[i].State == RoomActive {
			p.state.Rooms[i].Last = at
		}
	}
}

// idle returns active rooms without activity for the timeout.
func (p *pool) idle(now time.Time) []string {
	if p.st.PoolIdle <= 0 {
		return nil
	}
	var out []string
	for _, r := range p.state.Rooms {
		if r.State == RoomActive && now.Sub(r.Last) >= p.st.PoolIdle {
			out = append(out, r.JID)
		}
	}
	return out
}

func (p *pool) event(typ, room string, conv *connectors.Conversation) connectors.Keyed {
	at := conv.OpenedAt
	if conv.ClosedAt != nil {
		at = *conv.ClosedAt
	}
	key := "xmpp:" + p.c.ID + ":" + typ + ":" + room
	rj, _ := jid.Parse(room)
	return connectors.Keyed{DedupeKey: key, Event: connectors.Event{
		ID: connectors.EventID(key), Type: typ, OccurredAt: at.UTC(), Connector: Type, Channel: Type,
		Connection: p.c.ID, Line: p.c.LineID, Chat: &connectors.Chat{ID: room, Type: "group", Title: rj.Localpart()},
		Conversation: conv,
	}}
}

// iq sends an IQ with a literal payload and decodes the answer's payload
// into out (nil: ignore it).
func (p *pool) iq(ctx context.Context, typ stanza.IQType, to jid.JID, payload string, out any) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return p.sess.UnmarshalIQElement(ctx, xml.NewDecoder(strings.NewReader(payload)), stanza.IQ{Type: typ, To: to}, out)
}

func xmlAttr(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
