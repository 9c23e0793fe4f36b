package api

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/portal"
)

// The portal API and the admin console test, activate and deactivate
// connections through these methods, so a bot set up in the browser behaves
// exactly like one set up through the API.

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

// errNoConnector is returned for a connection whose connector type this
// gateway does not have.
func errNoConnector(typ string) error {
	return fmt.Errorf("api: this gateway has no %s connector", typ)
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

// ActivateConnection starts receiving for c: the connector registers its
// webhook, or, for a polling connection, the gateway starts polling. The
// outcome is recorded on the connection (active and ok, or inactive with the
// error) and the updated connection returned. A messenger failure is an
// *ActivationError; a polling connection on a gateway that cannot poll,
// ErrPollingUnavailable.
func (s *Server) ActivateConnection(ctx context.Context, c portal.Connection) (portal.Connection, error) {
	conn, ok := s.Registry.Get(c.Connector)
	if !ok {
		return c, errNoConnector(c.Connector)
	}
	actx, cancel := context.WithTimeout(ctx, lifecycleTimeout)
	defer cancel()
	err := conn.Activate(actx, s.connView(c))
	if errors.Is(err, connectors.ErrNeedsPolling) {
		if s.Receivers == nil {
			_ = s.Records.SetState(ctx, c.ID, false, portal.ConnError, ErrPollingUnavailable.Error())
			c.Active, c.Status, c.LastError = false, portal.ConnError, ErrPollingUnavailable.Error()
			return c, ErrPollingUnavailable
		}
		err = s.Receivers.StartPolling(actx, c)
	}
	if err != nil {
		_ = s.Records.SetState(ctx, c.ID, false, portal.ConnError, err.Error())
		c.Active, c.Status, c.LastError = false, portal.ConnError, err.Error()
		return c, &ActivationError{Err: err}
	}
	if err := s.Records.SetState(ctx, c.ID, true, portal.ConnOK, ""); err != nil {
		return c, err
	}
	c.Active, c.Status, c.LastError, c.UpdatedAt = true, portal.ConnOK, "", time.Now().UTC()
	return c, nil
}

// DeactivateConnection stops receiving for c (stops polling, removes the
// webhook) and records it inactive. A messenger failure is an
// *ActivationError, and the connection is then left as it was.
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
	if err := conn.Deactivate(actx, s.connView(c)); err != nil {
		return c, &ActivationError{Err: err}
	}
	if err := s.Records.SetState(ctx, c.ID, false, portal.ConnNew, ""); err != nil {
		return c, err
	}
	c.Active, c.Status, c.LastError, c.UpdatedAt = false, portal.ConnNew, "", time.Now().UTC()
	return c, nil
}
