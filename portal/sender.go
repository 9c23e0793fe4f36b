package portal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/queue"
)

// Outbound operations a portal can request.
const (
	OpSend   = "send"
	OpEdit   = "edit"
	OpDelete = "delete"
	// OpRead shows the customer an agent read their message
	// (connectors.ReadMarker).
	OpRead = "read"
)

// SenderConfig tunes the outbound sender. Zero fields take the default.
// The tagged fields are the gateway's send.* config keys; the others are
// set by the program.
type SenderConfig struct {
	// Concurrency is the most requests in flight. Default 16.
	Concurrency int `mapstructure:"concurrency"`
	// Timeout bounds one messenger call. Default 30s.
	Timeout time.Duration `mapstructure:"timeout"`
	// GiveUpAfter is how long transient failures are retried before the
	// request is reported failed. Default 24h. Rate limits never give up.
	GiveUpAfter time.Duration `mapstructure:"give_up_after"`

	// Owner names this process in request leases. Default: a random id.
	Owner string `mapstructure:"-"`
	// Backoff is the wait after the 1st, 2nd... transient failure; the last
	// entry repeats. Default 1s 2s 5s 10s 30s 1m 2m 5m.
	Backoff []time.Duration `mapstructure:"-"`
	// Poll is how often due requests are looked for when nothing wakes
	// the sender. Default 1s.
	Poll   time.Duration    `mapstructure:"-"`
	Now    func() time.Time `mapstructure:"-"`
	Logger *slog.Logger     `mapstructure:"-"`
	// Observer hears every attempt's outcome (metrics). Default: none.
	Observer Observer `mapstructure:"-"`
	// Tracer traces each attempt; nil: none.
	Tracer SendTracer `mapstructure:"-"`
}

// DefaultSenderConfig is the send.* configuration used when nothing is set.
func DefaultSenderConfig() SenderConfig {
	return SenderConfig{Concurrency: 16, Timeout: 30 * time.Second, GiveUpAfter: 24 * time.Hour}
}

// Validate checks the configured fields and names the first bad one by its
// config key.
func (c SenderConfig) Validate() error {
	switch {
	case c.Concurrency < 1:
		return errors.New("concurrency: must be at least 1")
	case c.Timeout <= 0:
		return errors.New("timeout: must be positive")
	case c.GiveUpAfter <= 0:
		return errors.New("give_up_after: must be positive")
	}
	return nil
}

func (c *SenderConfig) setDefaults() {
	if c.Owner == "" {
		c.Owner = processID("snd")
	}
	if c.Concurrency == 0 {
		c.Concurrency = 16
	}
	if c.Timeout == 0 {
		c.Timeout = 30 * time.Second
	}
	if len(c.Backoff) == 0 {
		c.Backoff = []time.Duration{time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second,
			30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute}
	}
	if c.GiveUpAfter == 0 {
		c.GiveUpAfter = 24 * time.Hour
	}
	if c.Poll == 0 {
		c.Poll = time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Observer == nil {
		c.Observer = nopObserver{}
	}
}

// ConnectionSource returns connections with decrypted settings.
type ConnectionSource interface {
	GetConnection(ctx context.Context, id string) (Connection, error)
}

// Sender carries portals' outbound requests to the messengers, in order per
// chat, retrying transient failures, and reports each outcome to the portal
// as a status event (queue.Outbound writes it into the outbox).
type Sender struct {
	cfg      SenderConfig
	outbound *queue.Outbound
	conns    ConnectionSource
	registry *connectors.Registry
	views    *Views
	wake     chan struct{}
}

// NewSender returns a sender; Run starts it. views makes the connectors'
// views of connections.
func NewSender(outbound *queue.Outbound, conns ConnectionSource, registry *connectors.Registry, views *Views, cfg SenderConfig) *Sender {
	cfg.setDefaults()
	return &Sender{cfg: cfg, outbound: outbound, conns: conns, registry: registry, views: views, wake: make(chan struct{}, 1)}
}

// Wake makes the sender look for work now. It never blocks.
func (s *Sender) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run sends until ctx ends, then waits for the calls in flight.
func (s *Sender) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	sem := make(chan struct{}, s.cfg.Concurrency)
	done := make(chan struct{}, 1) // a wake-up; workers never block on it
	lease := s.cfg.Timeout + 30*time.Second
	for ctx.Err() == nil {
		free := s.cfg.Concurrency - len(sem)
		if free > 0 {
			reqs, err := s.outbound.Claim(ctx, s.cfg.Owner, free, lease)
			if err != nil && ctx.Err() == nil {
				s.cfg.Logger.Error("sender: claim", slog.Any("err", err))
			}
			for _, r := range reqs {
				sem <- struct{}{}
				wg.Add(1)
				go func(r queue.OutboundRequest) {
					defer wg.Done()
					s.handle(context.WithoutCancel(ctx), r)
					<-sem
					select {
					case done <- struct{}{}:
					default:
					}
				}(r)
			}
		}
		next := s.cfg.Poll
		if at, err := s.outbound.NextWake(ctx); err == nil && !at.IsZero() {
			if d := at.Sub(s.cfg.Now()); d < next {
				next = max(d, 5*time.Millisecond)
			}
		}
		t := time.NewTimer(next)
		select {
		case <-ctx.Done():
		case <-s.wake:
		case <-done:
		case <-t.C:
		}
		t.Stop()
	}
	wg.Wait()
	return nil
}

func (s *Sender) handle(ctx context.Context, r queue.OutboundRequest) {
	log := s.cfg.Logger.With(slog.String("request", r.ID), slog.String("connection", r.ConnectionID))
	// Parts of a split message an earlier attempt delivered: they are
	// reported with the outcome and never sent again.
	var d connectors.Delivery
	if r.Op == OpSend && r.Result != "" {
		_ = json.Unmarshal([]byte(r.Result), &d.MessageIDs)
	}
	c, err := s.conns.GetConnection(ctx, r.ConnectionID)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			s.finish(ctx, r, "", d, fmt.Errorf("connection %s no longer exists", r.ConnectionID), log)
			return
		}
		s.retry(ctx, r, d, err, log)
		return
	}
	conn, ok := s.registry.Get(c.Connector)
	if !ok {
		s.finish(ctx, r, c.Connector, d, fmt.Errorf("connector %q is not available in this gateway", c.Connector), log)
		return
	}
	cctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	if s.cfg.Tracer != nil {
		var end func(error)
		cctx, end = s.cfg.Tracer.StartSend(cctx, r.ID, c.Connector, r.Op)
		defer func() { end(err) }()
	}
	view := s.views.Conn(c)
	switch r.Op {
	case OpSend:
		var m connectors.Outbound
		if err = json.Unmarshal(r.Payload, &m); err == nil {
			m.SentParts = len(d.MessageIDs)
			m.RequestID = r.ID
			var more connectors.Delivery
			more, err = conn.Send(cctx, view, m)
			d.MessageIDs = append(d.MessageIDs, more.MessageIDs...)
		}
	case OpEdit:
		var e connectors.Edit
		if err = json.Unmarshal(r.Payload, &e); err == nil {
			if ed, ok := conn.(connectors.Editor); ok {
				d, err = ed.Edit(cctx, view, e)
			} else {
				err = connectors.ErrUnsupported
			}
		}
	case OpDelete:
		var del connectors.Delete
		if err = json.Unmarshal(r.Payload, &del); err == nil {
			if dl, ok := conn.(connectors.Deleter); ok {
				err = dl.Delete(cctx, view, del)
			} else {
				err = connectors.ErrUnsupported
			}
		}
	case OpRead:
		var rd connectors.Read
		if err = json.Unmarshal(r.Payload, &rd); err == nil {
			if rm, ok := conn.(connectors.ReadMarker); ok {
				err = rm.MarkRead(cctx, view, rd.ChatID, rd.MessageID)
			} else {
				err = connectors.ErrUnsupported
			}
		}
	default:
		err = fmt.Errorf("unknown operation %q", r.Op)
	}
	var rl *connectors.RateLimitedError
	obs := s.cfg.Observer
	switch {
	case err == nil:
		obs.SendDone(c.Connector, r.Op, "delivered")
		s.finish(ctx, r, c.Connector, d, nil, log)
	case errors.As(err, &rl):
		obs.SendDone(c.Connector, r.Op, "rate_limited")
		// A rate limit is the messenger asking to wait; it never makes a
		// reply fail.
		wait := max(rl.RetryAfter, time.Second)
		log.Info("sender: rate limited, will resend", slog.Duration("in", wait))
		keepProgress(&r, d)
		if rerr := s.outbound.Retry(ctx, r, s.cfg.Now().Add(wait), err.Error()); rerr != nil {
			log.Error("sender: reschedule", slog.Any("err", rerr))
		}
		s.Wake()
	case isPermanent(err):
		obs.SendDone(c.Connector, r.Op, "failed")
		s.finish(ctx, r, c.Connector, d, err, log)
	default:
		obs.SendDone(c.Connector, r.Op, "retry")
		s.retry(ctx, r, d, err, log)
	}
}

// keepProgress stores the ids of parts already delivered in r.Result, so
// the retry sends only the rest.
func keepProgress(r *queue.OutboundRequest, d connectors.Delivery) {
	if r.Op != OpSend || len(d.MessageIDs) == 0 {
		return
	}
	raw, _ := json.Marshal(d.MessageIDs)
	r.Result = string(raw)
}

func isPermanent(err error) bool {
	var pe *connectors.PermanentError
	return errors.As(err, &pe) || errors.Is(err, connectors.ErrUnsupported) || isJSONError(err)
}

func isJSONError(err error) bool {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	return errors.As(err, &se) || errors.As(err, &te)
}

func (s *Sender) retry(ctx context.Context, r queue.OutboundRequest, d connectors.Delivery, err error, log *slog.Logger) {
	if s.cfg.Now().Sub(r.CreatedAt) >= s.cfg.GiveUpAfter {
		s.finish(ctx, r, "", d, fmt.Errorf("gave up after %s: %w", s.cfg.GiveUpAfter, err), log)
		return
	}
	keepProgress(&r, d)
	wait := s.cfg.Backoff[min(r.Attempts, len(s.cfg.Backoff)-1)]
	log.Warn("sender: transient failure, will retry", slog.Duration("in", wait), slog.String("reason", err.Error()))
	if rerr := s.outbound.Retry(ctx, r, s.cfg.Now().Add(wait), err.Error()); rerr != nil {
		log.Error("sender: reschedule", slog.Any("err", rerr))
	}
}

// finish records the final outcome and enqueues the status event.
func (s *Sender) finish(ctx context.Context, r queue.OutboundRequest, connector string, d connectors.Delivery, sendErr error, log *slog.Logger) {
	state, typ := queue.OutboundDone, connectors.TypeStatusDelivered
	st := &connectors.Status{RequestID: r.ID, Operation: r.Op, MessengerMessageIDs: d.MessageIDs, Attempts: r.Attempts + 1}
	if sendErr != nil {
		state, typ = queue.OutboundFailed, connectors.TypeStatusFailed
		st.Error = sendErr.Error()
		r.LastError = sendErr.Error()
		log.Warn("sender: request failed", slog.String("reason", sendErr.Error()))
	}
	ev := connectors.Event{
		ID: connectors.EventID("status:" + r.ID), Type: typ, OccurredAt: s.cfg.Now().UTC(),
		Connector: connector, Channel: connector, Connection: r.ConnectionID, Line: r.LineID,
		Chat: &connectors.Chat{ID: r.ChatID}, Status: st,
	}
	rows, err := Rows(r.PortalID, r.LineID, []connectors.Keyed{{Event: ev}})
	if err != nil {
		log.Error("sender: encode status", slog.Any("err", err))
		return
	}
	result, _ := json.Marshal(d.MessageIDs)
	if err := s.outbound.Finish(ctx, r, state, string(result), rows[0]); err != nil {
		log.Error("sender: record outcome", slog.Any("err", err))
	}
}
