package app

import (
	"context"
	"errors"
	"log/slog"

	"github.com/connector-gateway/connector/api"
	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/webchat"
	"github.com/connector-gateway/connector/portal"
)

// serveWidget binds the web chat connector, when the registry has it, to
// the store and returns its HTTP surface (nil without the connector).
func serveWidget(reg *connectors.Registry, store *Store, views *portal.Views, log *slog.Logger) (*webchat.Handler, error) {
	c, ok := reg.Get(webchat.Type)
	wc, isWebchat := c.(*webchat.Connector)
	if !ok || !isWebchat {
		return nil, nil
	}
	return wc.Serve(webchat.Gateway{
		DB: store.DB, Outbox: store.Outbox, SecretsKey: store.SecretsKey, Logger: log,
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
			return views.Conn(conn), true, nil
		},
	})
}

// widgetSurface keeps a missing widget a nil interface (not a nil pointer
// in one).
func widgetSurface(h *webchat.Handler) api.Widget {
	if h == nil {
		return nil
	}
	return h
}
