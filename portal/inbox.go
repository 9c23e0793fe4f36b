package portal

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/queue"
)

// Inbox is the one way events enter the outbox: the webhook path, the
// pollers, the web chat widget, the sender's status events and the records'
// own connection.* events all go through it, so an event is encoded,
// addressed and deduplicated the same way wherever it comes from.
type Inbox struct {
	outbox *queue.Outbox
	// heard, when set, hears every committed Put (the console's traffic
	// window).
	heard func(portalID, lineID string, events []connectors.Event, added int)
	// tracer, when set, traces each Put.
	tracer EnqueueTracer
	// note, when set, records the virtual channels connections receive
	// from; noted holds the pairs already recorded by this process.
	note  func(ctx context.Context, connectionID, channel string) error
	noted sync.Map
}

// NoteChannels has the inbox record, once per process, each virtual
// channel a connection receives from (an event whose channel is not its
// connector's own name, as "botframework.msteams"), so the console can show
// them. A failed note is tried again with the next event of the pair.
func (in *Inbox) NoteChannels(fn func(ctx context.Context, connectionID, channel string) error) {
	in.note = fn
}

func (in *Inbox) noteChannels(ctx context.Context, events []connectors.Keyed) {
	for _, k := range events {
		ev := &k.Event
		if ev.Channel == "" || ev.Channel == ev.Connector || ev.Connection == "" {
			continue
		}
		pair := ev.Connection + "\x00" + ev.Channel
		if _, seen := in.noted.Load(pair); seen {
			continue
		}
		if err := in.note(ctx, ev.Connection, ev.Channel); err == nil {
			in.noted.Store(pair, struct{}{})
		}
	}
}

// Trace has t trace every Put. Call it before the inbox is used.
func (in *Inbox) Trace(t EnqueueTracer) { in.tracer = t }

// Observe has fn hear every committed Put: the events and how many were
// new. fn must be quick and safe for concurrent use. Call it before the
// inbox is used.
func (in *Inbox) Observe(fn func(portalID, lineID string, events []connectors.Event, added int)) {
	in.heard = fn
}

// NewInbox puts events into outbox.
func NewInbox(outbox *queue.Outbox) *Inbox { return &Inbox{outbox: outbox} }

// Put commits events of the connection's line and returns how many were
// new (the rest were duplicates). It returns only after the commit; on an
// error nothing was stored. Safe for concurrent use.
func (in *Inbox) Put(ctx context.Context, portalID, lineID string, events []connectors.Keyed) (added int, err error) {
	rows, err := Rows(portalID, lineID, events)
	if err != nil {
		return 0, err
	}
	if in.tracer != nil {
		ids := make([]string, len(events))
		for i, k := range events {
			ids[i] = k.Event.ID
		}
		end := in.tracer.StartEnqueue(ctx, portalID, lineID, ids)
		defer func() { end(added, err) }()
	}
	added, err = in.outbox.Enqueue(ctx, rows)
	if err == nil && in.note != nil {
		in.noteChannels(ctx, events)
	}
	if err == nil && in.heard != nil {
		evs := make([]connectors.Event, len(events))
		for i, k := range events {
			evs[i] = k.Event
		}
		in.heard(portalID, lineID, evs, added)
	}
	return added, err
}

// PutTx writes events in the caller's transaction, for events that must
// commit with the state change that causes them (a connection going into
// emergency). They are not deduplicated. The caller calls Notify with the
// returned lines once the transaction committed.
func (in *Inbox) PutTx(ctx context.Context, tx *sql.Tx, portalID, lineID string, events ...connectors.Event) ([]queue.LineRef, error) {
	ks := make([]connectors.Keyed, len(events))
	for i, ev := range events {
		ks[i] = connectors.Keyed{Event: ev}
	}
	rows, err := Rows(portalID, lineID, ks)
	if err != nil {
		return nil, err
	}
	return in.outbox.EnqueueTx(ctx, tx, rows)
}

// Notify wakes the dispatcher for lines a committed PutTx wrote to.
func (in *Inbox) Notify(lines []queue.LineRef) { in.outbox.Notify(lines) }

// Sink is the connectors.Sink of one connection: a connector hands it what
// it received, and it returns once that is committed.
func (in *Inbox) Sink(c Connection) connectors.Sink { return in.SinkFor(c.PortalID, c.LineID) }

// SinkFor is the connectors.Sink of one portal line.
func (in *Inbox) SinkFor(portalID, lineID string) connectors.Sink {
	return func(ctx context.Context, events []connectors.Keyed) error {
		if _, err := in.Put(ctx, portalID, lineID, events); err != nil {
			return fmt.Errorf("inbox: %w", err)
		}
		return nil
	}
}

// Rows encodes events as outbox rows of one portal line. Storage code that
// commits an event inside its own transaction (the sender's status events)
// takes rows made here.
func Rows(portalID, lineID string, events []connectors.Keyed) ([]queue.NewEvent, error) {
	out := make([]queue.NewEvent, 0, len(events))
	for _, k := range events {
		payload, err := json.Marshal(k.Event)
		if err != nil {
			return nil, fmt.Errorf("inbox: encode event: %w", err)
		}
		out = append(out, queue.NewEvent{
			DedupeKey: k.DedupeKey, PortalID: portalID, LineID: lineID, EventID: k.Event.ID,
			Payload: payload, Supersedes: k.Supersedes,
		})
	}
	return out, nil
}
