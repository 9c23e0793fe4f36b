package webchat

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/connector-gateway/connector/connectors"
)

// visitorRead turns a widget's "seen up to seq" into a status.read event
// for the newest agent reply at or before seq: the visitor's open widget,
// in a visible tab, showed it (and everything before it). Like a
// messenger's read watermark, one event covers the replies before it. A
// repeat (another tab, a reconnect) is a no-op through the dedupe key.
func (h *Handler) visitorRead(ctx context.Context, c connectors.Conn, visitor string, seq int64) error {
	msgID, err := h.store.newestAgentMessageUpTo(ctx, c.ID, visitor, seq)
	if err != nil {
		return fmt.Errorf("webchat: read: %w", err)
	}
	if msgID == "" {
		return nil // nothing of the agents' to have read
	}
	key := connectors.DedupeKey(Type, c.ID, visitor, "read", msgID)
	ev := connectors.Event{
		ID: connectors.EventID(key), Type: connectors.TypeStatusRead, OccurredAt: h.store.now().UTC().Truncate(time.Millisecond),
		Connector: Type, Channel: Type, Connection: c.ID, Line: c.LineID,
		Chat:   &connectors.Chat{ID: visitor, Type: "private"},
		Status: &connectors.Status{Operation: "send", MessengerMessageIDs: []string{msgID}},
	}
	if err := h.gw.Sink(c)(ctx, []connectors.Keyed{{DedupeKey: key, Event: ev}}); err != nil {
		return fmt.Errorf("webchat: read: enqueue: %w", err)
	}
	return nil
}

// MarkRead records that the agents read the visitor's message messageID
// (and so every earlier one) and shows it in the visitor's open tabs: at
// once on this process, within the poll interval on others, and with the
// history on a reload. An unknown visitor or message fails for good.
func (cn *Connector) MarkRead(ctx context.Context, c connectors.Conn, chatID, messageID string) error {
	h := cn.h
	if !validID(chatID, "vis_") {
		return &connectors.PermanentError{Err: fmt.Errorf("webchat: %q is not a visitor id", chatID)}
	}
	err := h.store.markAgentRead(ctx, c.ID, chatID, messageID)
	if errors.Is(err, errNotFound) {
		return &connectors.PermanentError{Err: fmt.Errorf("webchat: visitor %s has no message %q on this chat", chatID, messageID)}
	}
	if err != nil {
		return err
	}
	h.hub.notify(convKey(c.ID, chatID))
	return nil
}
