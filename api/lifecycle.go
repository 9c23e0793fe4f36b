package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/portal"
)

// The portal API and the admin console test, activate, deactivate and
// reconfigure connections through these methods, so a bot set up in the
// browser behaves exactly like one set up through the API.

// lifecycleTimeout bounds one test, activation or deactivation: each makes a
// few calls to the messenger.
const lifecycleTimeout = 20 * time.Second

// ErrPollingUnavailable means the connection receives by polling and this
// gateway has no poller; the connection is left inactive with that error.
var ErrPollingUnavailable = errors.New("polling mode is not available in this gateway")

// ActivationError is the messenger refusing or failing an activation or a
// deactivation; its text says why, in the messenger's words.
type ActivationError struct{ Err error }

func (e *ActivationError) Error() string { return e.Err.Error() }
func (e *ActivationError) Unwrap() error { return e.Err }

// SettingsError is a connector refusing settings. Err is a
// connectors.FieldErrors naming each bad field, or a general reason.
type SettingsError struct{ Err error }

func (e *SettingsError) Error() string { return e.Err.Error() }
func (e *SettingsError) Unwrap() error { return e.Err }

// errNoConnector is returned for a connection whose connector type this
// gateway does not have.
func errNoConnector(typ string) error {
	return fmt.Errorf("api: this gateway has no %s connector", typ)
}

// ctxLogger is the server's logger with the request id the context carries.
func (s *Server) ctxLogger(ctx context.Context) *slog.Logger {
	if id, ok := ctx.Value(requestIDKey).(string); ok {
		return s.cfg.Logger.With(slog.String("request_id", id))
	}
	return s.cfg.Logger
}

// TestConnection runs the connector's live test of c. Problems on the
// messenger's side are failed checks in the report; an error is the
// gateway's own failure.
func (s *Server) TestConnection(ctx context.Context, c portal.Connection) (connectors.TestReport, error) {
	conn, ok := s.Registry.Get(c.Connector)
	if !ok {
		return connectors.TestReport{}, errNoConnector(c.Connector)
	}
	ctx, cancel := context.WithTimeout(ctx, lifecycleTimeout)
	defer cancel()
	return conn.Test(ctx, s.connView(c))
}

// SaveSettings merges changes into c's stored settings (a secret sent empty
// keeps its stored value, since secrets are never shown to be sent back),
// has the connector validate them and stores them. A refusal is a
// *SettingsError; the stored connection is returned on success.
func (s *Server) SaveSettings(ctx context.Context, c portal.Connection, changes connectors.Settings) (portal.Connection, error) {
	conn, ok := s.Registry.Get(c.Connector)
	if !ok {
		return c, errNoConnector(c.Connector)
	}
	settings, err := conn.ValidateSettings(connectors.MergeSettings(conn.Describe(), c.Settings, changes))
	if err != nil {
		return c, &SettingsError{Err: err}
	}
	if err := s.Records.UpdateSettings(ctx, c.ID, settings); err != nil {
		return c, err
	}
	s.forget(c)
	c.Settings, c.UpdatedAt = settings, time.Now().UTC()
	return c, nil
}

// ActivateConnection identifies the connection's bot (connectors.Identifier),
// starts receiving (the connector registers its webhook, or the gateway
// polls), then binds the bot to c and marks it active in one transaction:
// a connection that held the same bot loses it and goes into emergency
// (portal.Records.Activate); that connection is returned as lost. A
// messenger failure is an *ActivationError and a polling connection on a
// gateway that cannot poll ErrPollingUnavailable; either is recorded on the
// connection (inactive, status error) and c is returned as recorded.
func (s *Server) ActivateConnection(ctx context.Context, c portal.Connection) (activated, lost portal.Connection, err error) {
	conn, ok := s.Registry.Get(c.Connector)
	if !ok {
		return c, lost, errNoConnector(c.Connector)
	}
	actx, cancel := context.WithTimeout(ctx, lifecycleTimeout)
	defer cancel()
	view := s.connView(c)
	fail := func(err error) (portal.Connection, portal.Connection, error) {
		_ = s.Records.SetState(ctx, c.ID, false, portal.ConnError, err.Error())
		s.forget(c)
		c.Active, c.Status, c.LastError = false, portal.ConnError, err.Error()
		return c, portal.Connection{}, err
	}
	botKey := ""
	if id, can := conn.(connectors.Identifier); can {
		key, err := id.BotKey(actx, view)
		if err != nil {
			return fail(&ActivationError{Err: err})
		}
		botKey = key
	}
	err = conn.Activate(actx, view)
	polling := errors.Is(err, connectors.ErrNeedsPolling)
	if polling {
		if s.Receivers == nil {
			return fail(ErrPollingUnavailable)
		}
		err = nil
	}
	if err != nil {
		return fail(&ActivationError{Err: err})
	}
	lost, err = s.Records.Activate(ctx, s.Outbox, s.Polls, c.ID, botKey)
	if err != nil {
		return c, portal.Connection{}, err
	}
	s.forget(c)
	if lost.ID != "" {
		s.ctxLogger(ctx).Warn("bot bound to a new connection; the old one is in emergency",
			slog.String("connection", c.ID), slog.String("line", c.LineID), slog.String("old_connection", lost.ID), slog.String("old_line", lost.LineID))
		if s.Receivers != nil {
			s.Receivers.StopPolling(actx, lost.ID)
		}
	}
	if s.Receivers != nil {
		if polling {
			if err := s.Receivers.StartPolling(actx, c); err != nil {
				return fail(&ActivationError{Err: err})
			}
		} else {
			s.Receivers.StopPolling(actx, c.ID)
		}
	}
	c.Active, c.Status, c.LastError, c.UpdatedAt = true, portal.ConnOK, "", time.Now().UTC()
	return c, lost, nil
}

// DeactivateConnection stops receiving for c and releases its bot. A
// connection in emergency is not touched at the messenger: its bot now
// belongs to another connection, whose webhook must stay. A messenger
// failure is an *ActivationError, and the connection is then left as it was.
func (s *Server) DeactivateConnection(ctx context.Context, c portal.Connection) (portal.Connection, error) {
	conn, ok := s.Registry.Get(c.Connector)
	if !ok {
		return c, errNoConnector(c.Connector)
	}
	actx, cancel := context.WithTimeout(ctx, lifecycleTimeout)
	defer cancel()
	if s.Receivers != nil {
		s.Receivers.StopPolling(actx, c.ID)
	}
	if c.Status != portal.ConnEmergency {
		if err := conn.Deactivate(actx, s.connView(c)); err != nil {
			return c, &ActivationError{Err: err}
		}
	}
	if err := s.Records.Deactivate(ctx, c.ID); err != nil {
		return c, err
	}
	s.forget(c)
	c.Active, c.Status, c.LastError, c.UpdatedAt = false, portal.ConnNew, "", time.Now().UTC()
	return c, nil
}
