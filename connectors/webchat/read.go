package webchat

import (
	"context"
	"database/sql"
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
	var msgID string
	err := h.store.db.QueryRowContext(ctx, `SELECT m.message_id FROM webchat_messages m
		JOIN webchat_conversations v ON v.id = m.conversation_id
		WHERE m.conversation_id = ? AND v.connection_id = ? AND m.author = ? AND m.seq <= ?
		ORDER BY m.seq DESC LIMIT 1`, visitor, c.ID, fromAgent, seq).Scan(&msgID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // nothing of the agents' to have read
	}
	if err != nil {
		return fmt.Errorf("webchat: read: %w", err)
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
