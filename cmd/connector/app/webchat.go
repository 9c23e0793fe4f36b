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

// newWebchat builds the web chat connector on the store: its tables, the
// inbox as the sink of its events, and the lookup of a widget's connection.
func newWebchat(cfg Config, log *slog.Logger, store *Store, views *portal.Views) (*webchat.Connector, error) {
	return webchat.New(webchat.Gateway{
		DB: store.DB.SQL, Driver: store.DB.Dialect.Name(),
		Sink:       func(c connectors.Conn) connectors.Sink { return store.Inbox.SinkFor(c.PortalID, c.LineID) },
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
			return views.Conn(conn), true, nil
		},
	}, cfg.Webchat)
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
