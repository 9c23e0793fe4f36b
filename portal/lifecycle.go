package portal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/connector-gateway/connector/connectors"
)

// Lifecycle tests, activates, deactivates and reconfigures connections:
// the portal API and the admin console both go through it, so a bot set up
// in the browser behaves exactly like one set up through the API. All
// methods are safe for concurrent use.
type Lifecycle struct {
	records   *Records
	registry  *connectors.Registry
	views     *Views
	receivers *Receivers
	cache     *Cache
	log       *slog.Logger
	// ping posts the connection test's ping to the portal (portal/ping.go).
	ping *http.Client
	// adapters test the helpdesk of a portal fed by an adapter instead.
	adapters map[string]Deliverer
}

// LifecycleDeps are what the lifecycle works with. Receivers nil means this
// gateway cannot poll (a polling connection then fails to activate); Cache
// nil means no lookup cache to keep fresh; Logger nil discards.
type LifecycleDeps struct {
	Records   *Records
	Registry  *connectors.Registry
	Views     *Views
	Receivers *Receivers
	Cache     *Cache
	Logger    *slog.Logger
	// Adapters are the helpdesk adapters by portal kind: the connection
	// test of a line whose portal one feeds runs its live test (Tester)
	// instead of posting a ping to the webhook URL.
	Adapters map[string]Deliverer
}

// NewLifecycle makes the lifecycle service.
func NewLifecycle(d LifecycleDeps) *Lifecycle {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	return &Lifecycle{records: d.Records, registry: d.Registry, views: d.Views, receivers: d.Receivers, cache: d.Cache, log: d.Logger,
		ping: newPingClient(), adapters: d.Adapters}
}

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
	return fmt.Errorf("portal: this gateway has no %s connector", typ)
}

// forget makes this process see a change to a connection at once.
func (s *Lifecycle) forget(c Connection) {
	if s.cache != nil {
		s.cache.Forget(c.Hash, "")
	}
}

// Test runs the connector's live test of c. Problems on the
// messenger's side are failed checks in the report; an error is the
// gateway's own failure.
func (s *Lifecycle) Test(ctx context.Context, c Connection) (connectors.TestReport, error) {
	conn, ok := s.registry.Get(c.Connector)
	if !ok {
		return connectors.TestReport{}, errNoConnector(c.Connector)
	}
	ctx, cancel := context.WithTimeout(ctx, lifecycleTimeout)
	defer cancel()
	rep, err := conn.Test(ctx, s.views.Conn(c))
	if err != nil {
		return rep, err
	}
	// The messenger side works; does the portal take what we would send?
	check := s.pingPortal(ctx, c)
	rep.Checks = append(rep.Checks, check)
	rep.OK = rep.OK && check.OK
	return rep, nil
}

// SaveSettings merges changes into c's stored settings (a secret sent empty
// keeps its stored value, since secrets are never shown to be sent back),
// has the connector validate them and stores them. A refusal is a
// *SettingsError; the stored connection is returned on success.
func (s *Lifecycle) SaveSettings(ctx context.Context, c Connection, changes connectors.Settings) (Connection, error) {
	conn, ok := s.registry.Get(c.Connector)
	if !ok {
		return c, errNoConnector(c.Connector)
	}
	settings, err := conn.ValidateSettings(connectors.MergeSettings(conn.Describe(), c.Settings, changes))
	if err != nil {
		return c, &SettingsError{Err: err}
	}
	if err := s.records.UpdateSettings(ctx, c.ID, settings); err != nil {
		return c, err
	}
	s.forget(c)
	c.Settings, c.UpdatedAt = settings, time.Now().UTC()
	return c, nil
}

// Activate identifies the connection's bot (connectors.Identifier),
// starts receiving (the connector registers its webhook, or the gateway
// polls), then binds the bot to c and marks it active in one transaction:
// a connection that held the same bot loses it and goes into emergency
// (Records.Activate); that connection is returned as lost. A
// messenger failure is an *ActivationError and a polling connection on a
// gateway that cannot poll ErrPollingUnavailable; either is recorded on the
// connection (inactive, status error) and c is returned as recorded.
func (s *Lifecycle) Activate(ctx context.Context, c Connection) (activated, lost Connection, err error) {
	conn, ok := s.registry.Get(c.Connector)
	if !ok {
		return c, lost, errNoConnector(c.Connector)
	}
	actx, cancel := context.WithTimeout(ctx, lifecycleTimeout)
	defer cancel()
	view := s.views.Conn(c)
	fail := func(err error) (Connection, Connection, error) {
		_ = s.records.SetState(ctx, c.ID, false, ConnError, err.Error())
		s.forget(c)
		c.Active, c.Status, c.LastError = false, ConnError, err.Error()
		return c, Connection{}, err
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
		if s.receivers == nil {
			return fail(ErrPollingUnavailable)
		}
		err = nil
	}
	if err != nil {
		return fail(&ActivationError{Err: err})
	}
	lost, err = s.records.Activate(ctx, c.ID, botKey)
	if err != nil {
		return c, Connection{}, err
	}
	s.forget(c)
	if lost.ID != "" {
		s.log.WarnContext(ctx, "bot bound to a new connection; the old one is in emergency",
			slog.String("connection", c.ID), slog.String("line", c.LineID), slog.String("old_connection", lost.ID), slog.String("old_line", lost.LineID))
		if s.receivers != nil {
			s.receivers.StopPolling(actx, lost.ID)
		}
	}
	if s.receivers != nil {
		if polling {
			if err := s.receivers.StartPolling(actx, c); err != nil {
				return fail(&ActivationError{Err: err})
			}
		} else {
			s.receivers.StopPolling(actx, c.ID)
		}
	}
	c.Active, c.Status, c.LastError, c.UpdatedAt = true, ConnOK, "", time.Now().UTC()
	return c, lost, nil
}

// Deactivate stops receiving for c and releases its bot. A
// connection in emergency is not touched at the messenger: its bot now
// belongs to another connection, whose webhook must stay. A messenger
// failure is an *ActivationError, and the connection is then left as it was.
func (s *Lifecycle) Deactivate(ctx context.Context, c Connection) (Connection, error) {
	conn, ok := s.registry.Get(c.Connector)
	if !ok {
		return c, errNoConnector(c.Connector)
	}
	actx, cancel := context.WithTimeout(ctx, lifecycleTimeout)
	defer cancel()
	if s.receivers != nil {
		s.receivers.StopPolling(actx, c.ID)
	}
	if c.Status != ConnEmergency {
		if err := conn.Deactivate(actx, s.views.Conn(c)); err != nil {
			return c, &ActivationError{Err: err}
		}
	}
	if err := s.records.Deactivate(ctx, c.ID); err != nil {
		return c, err
	}
	s.forget(c)
	c.Active, c.Status, c.LastError, c.UpdatedAt = false, ConnNew, "", time.Now().UTC()
	return c, nil
}
