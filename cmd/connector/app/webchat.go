package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/connector-gateway/connector/api"
	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/webchat"
	"github.com/connector-gateway/connector/portal"
	"github.com/connector-gateway/connector/queue"
)

// newWebchat builds the web chat connector on the store: its tables, a
// sink into the outbox, and the lookup of a widget's connection.
func newWebchat(cfg Config, log *slog.Logger, store *Store, files *portal.FileLinks) (*webchat.Connector, error) {
	return webchat.New(webchat.Gateway{
		DB: store.DB.SQL, Driver: store.DB.Dialect.Name(), Sink: outboxSink(store),
		SecretsKey: store.SecretsKey, Logger: log,
		Connection: func(ctx context.Context, widgetID string) (connectors.Conn, bool, error) {
			conn, err := store.Records.ConnectionByHash(ctx, widgetID)
			if errors.Is(err, portal.ErrNotFound) {
				return connectors.Conn{}, false, nil
			}
			if err != nil {
				return connectors.Conn{}, false, err
			}
			if conn.Connector != webchat.Type || !conn.Active {
				return connectors.Conn{}, false, nil
			}
			v := conn.Conn(cfg.PublicURL)
			v.Files = files.For(conn.ID)
			return v, true, nil
		},
	}, webchat.Options{MessageLimit: cfg.Webchat.MessageLimit, UploadLimit: cfg.Webchat.UploadLimit, RatePerMinute: cfg.Webchat.RatePerMinute, Poll: cfg.Webchat.Poll})
}

// outboxSink commits a connector's events to the outbox, each for the
// portal of its line, and returns once they are committed. It stands in
// until the portal's inbox takes events (portal.Inbox.Put).
func outboxSink(store *Store) connectors.Sink {
	return func(ctx context.Context, ks []connectors.Keyed) error {
		evs := make([]queue.NewEvent, 0, len(ks))
		for _, k := range ks {
			line, err := store.Records.GetLine(ctx, k.Event.Line)
			if err != nil {
				return fmt.Errorf("line of event %s: %w", k.Event.ID, err)
			}
			payload, err := json.Marshal(k.Event)
			if err != nil {
				return fmt.Errorf("encode event: %w", err)
			}
			evs = append(evs, queue.NewEvent{DedupeKey: k.DedupeKey, PortalID: line.PortalID, LineID: line.ID, EventID: k.Event.ID, Payload: payload})
		}
		_, err := store.Outbox.Enqueue(ctx, evs)
		return err
	}
}

// widgetOf returns the web chat's HTTP surface when the registry has the
// connector (nil without it).
func widgetOf(reg *connectors.Registry) *webchat.Handler {
	c, ok := reg.Get(webchat.Type)
	wc, isWebchat := c.(*webchat.Connector)
	if !ok || !isWebchat {
		return nil
	}
	return wc.Handler()
}

// widgetSurface keeps a missing widget a nil interface (not a nil pointer
// in one).
func widgetSurface(h *webchat.Handler) api.Widget {
	if h == nil {
		return nil
	}
	return h
}
