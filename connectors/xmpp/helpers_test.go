package xmpp_test

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/xmpp"
	"github.com/connector-gateway/connector/connectors/xmpp/xmpptest"
)

const gwPass, alicePass = "gateway-password", "alice-password"

// memCursor is a cursor kept in memory, like poll_state but without a
// database.
type memCursor struct {
	mu    sync.Mutex
	pos   string
	saves int
}

func (m *memCursor) Load(context.Context) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pos, nil
}

func (m *memCursor) Save(_ context.Context, pos string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pos, m.saves = pos, m.saves+1
	return nil
}

func (m *memCursor) get() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pos
}

// memSink records committed events and drops repeats by dedupe key (and
// keys superseded), as the outbox does.
type memSink struct {
	mu     sync.Mutex
	seen   map[string]bool
	events []connectors.Event
	calls  int
	// offered counts events handed in, repeats included.
	offered int
	wake    chan struct{}
}

func newSink() *memSink { return &memSink{seen: map[string]bool{}, wake: make(chan struct{}, 1)} }

func (s *memSink) sink(_ context.Context, evs []connectors.Keyed) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	s.offered += len(evs)
	for _, k := range evs {
		if s.seen[k.DedupeKey] {
			continue
		}
		s.seen[k.DedupeKey] = true
		for _, sup := range k.Supersedes {
			s.seen[sup] = true
		}
		s.events = append(s.events, k.Event)
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return nil
}

func (s *memSink) offeredCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.offered
}

func (s *memSink) all() []connectors.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]connectors.Event(nil), s.events...)
}

func (s *memSink) waitFor(t testing.TB, timeout time.Duration, ok func([]connectors.Event) bool) []connectors.Event {
	t.Helper()
	deadline := time.After(timeout)
	for {
		evs := s.all()
		if ok(evs) {
			return evs
		}
		select {
		case <-s.wake:
		case <-deadline:
			t.Fatalf("timed out; events so far: %d", len(evs))
			return nil
		}
	}
}

func countType(evs []connectors.Event, typ string) int {
	n := 0
	for _, e := range evs {
		if e.Type == typ {
			n++
		}
	}
	return n
}

// poller runs Poll for one connection until stopped.
type poller struct {
	cancel context.CancelFunc
	done   chan error
}

func startPoll(t testing.TB, cn *xmpp.Connector, c connectors.Conn, s *memSink) *poller {
	ctx, cancel := context.WithCancel(context.Background())
	p := &poller{cancel: cancel, done: make(chan error, 1)}
	go func() { p.done <- cn.Poll(ctx, c, s.sink) }()
	t.Cleanup(func() { p.stop(t) })
	return p
}

func (p *poller) stop(t testing.TB) {
	if p.cancel == nil {
		return
	}
	p.cancel()
	p.cancel = nil
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("Poll returned %v after cancel", err)
		}
	case <-time.After(15 * time.Second):
		t.Error("Poll did not return within 15s of cancel")
	}
}

func testLog() *slog.Logger {
	if os.Getenv("CONNECTOR_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return nil
}

func conn(srv *xmpptest.Server, cur connectors.Cursor) connectors.Conn {
	return connectors.Conn{
		ID: "conn1", PortalID: "p1", LineID: "l1", Cursor: cur,
		Settings: connectors.Settings{"jid": xmpptest.JID("gw"), "password": gwPass, "server": srv.C2S, "muc_service": xmpptest.MUC},
	}
}

// waitOnline waits until the gateway account's stream is up: a message to
// it then reaches the live stream. It sends a probe and waits for its event.
func waitOnline(t testing.TB, alice *xmpptest.Client, s *memSink, id string) {
	t.Helper()
	alice.Send(`<message xmlns="jabber:client" to="gw@localhost" type="chat" id="` + id + `"><body>` + id + `</body></message>`)
	s.waitFor(t, 20*time.Second, func(evs []connectors.Event) bool {
		for _, e := range evs {
			if e.Message != nil && e.Message.Text == id {
				return true
			}
		}
		return false
	})
}
