package slack_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/connectortest"
	"github.com/connector-gateway/connector/connectors/slack"
	"github.com/connector-gateway/connector/connectors/slack/slacktest"
)

// socketSink records what Poll hands over; fail makes the next calls fail.
type socketSink struct {
	mu    sync.Mutex
	calls [][]connectors.Keyed
	fail  int
	got   chan struct{}
	// during runs inside each call, before it returns.
	during func()
}

func newSocketSink() *socketSink { return &socketSink{got: make(chan struct{}, 100)} }

func (s *socketSink) sink(_ context.Context, evs []connectors.Keyed) error {
	if s.during != nil {
		s.during()
	}
	s.mu.Lock()
	defer func() { s.mu.Unlock(); s.got <- struct{}{} }()
	if s.fail > 0 {
		s.fail--
		return errors.New("database unavailable")
	}
	s.calls = append(s.calls, evs)
	return nil
}

func (s *socketSink) wait(t *testing.T) {
	t.Helper()
	select {
	case <-s.got:
	case <-time.After(20 * time.Second):
		t.Fatal("Poll handed nothing to the sink")
	}
}

func (s *socketSink) events() [][]connectors.Keyed {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

func startPoll(t *testing.T, cn *slack.Connector, c connectors.Conn, sk *socketSink) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- cn.Poll(ctx, c, sk.sink) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(20 * time.Second):
				err = errors.New("Poll did not return after cancel")
			}
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func TestSocketModeReceivesAndAcksAfterCommit(t *testing.T) {
	cn, c, srv := setup(t)
	c = connectortest.WithSettings(c, "mode", "socket", "signing_secret", "")
	sk := newSocketSink()
	// While the sink holds the events, Slack must not have been told they
	// arrived: give an early acknowledgement the chance to show up.
	sk.during = func() {
		deadline := time.Now().Add(200 * time.Millisecond)
		for time.Now().Before(deadline) {
			if slices.Contains(srv.Acks(), "env-1") {
				t.Error("envelope acknowledged before its events were stored")
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	stop := startPoll(t, cn, c, sk)
	srv.PushEvent(slacktest.EventCallback("EvSock1", slacktest.Message(dm, "im", cust, ":wave: hi *there*", "1700006000.000100")), "env-1", 0)
	sk.wait(t)
	if !srv.WaitAck(20*time.Second, "env-1") {
		t.Fatal("envelope never acknowledged")
	}
	evs := sk.events()
	if len(evs) != 1 || len(evs[0]) != 1 {
		t.Fatalf("sink got %v", evs)
	}
	ev := evs[0][0].Event
	if ev.Type != connectors.TypeMessageCreated || ev.Chat.ID != dm || ev.Message.Text != "👋 hi there" || ev.User.ID != cust {
		t.Fatalf("event = %+v / %+v", ev, ev.Message)
	}
	// Socket Mode needs no signing secret, and the same parser serves both
	// modes: the HTTP form of the event has the same key.
	http := one(t, cn, connectortest.WithSettings(c, "signing_secret", secret), slacktest.EventCallback("EvSock1", slacktest.Message(dm, "im", cust, ":wave: hi *there*", "1700006000.000100")))
	if http.DedupeKey != evs[0][0].DedupeKey {
		t.Fatalf("socket key %q, HTTP key %q", evs[0][0].DedupeKey, http.DedupeKey)
	}
	if err := stop(); err != nil {
		t.Fatalf("Poll after cancel: %v", err)
	}
}

// When the events cannot be stored the envelope is not acknowledged, and
// Slack's redelivery brings the same events again.
func TestSocketModeRedeliveryAfterFailedStore(t *testing.T) {
	cn, c, srv := setup(t)
	c = connectortest.WithSettings(c, "mode", "socket")
	sk := newSocketSink()
	sk.fail = 1
	startPoll(t, cn, c, sk)
	payload := slacktest.EventCallback("EvSock2", slacktest.Message(channel, "channel", cust, "urgent", "1700006100.000100"))
	srv.PushEvent(payload, "env-2", 0)
	sk.wait(t) // the failed call
	srv.PushEvent(payload, "env-2b", 1)
	sk.wait(t)
	if !srv.WaitAck(20*time.Second, "env-2b") {
		t.Fatal("redelivered envelope not acknowledged")
	}
	if slices.Contains(srv.Acks(), "env-2") {
		t.Fatal("an envelope whose events were not stored was acknowledged")
	}
	if evs := sk.events(); len(evs) != 1 || evs[0][0].Event.Message.Text != "urgent" {
		t.Fatalf("sink got %v", evs)
	}
}

// Slack recycles Socket Mode connections: Poll reconnects and keeps going;
// envelopes without anything for the portal are acknowledged too.
func TestSocketModeReconnectsAndAcksSkippedEvents(t *testing.T) {
	cn, c, srv := setup(t)
	c = connectortest.WithSettings(c, "mode", "socket")
	sk := newSocketSink()
	startPoll(t, cn, c, sk)
	srv.PushEvent(slacktest.EventCallback("EvSock3", slacktest.BotMessage(channel, "channel", "B0OTHER01", "beep", "1700006200.000100")), "env-3", 0)
	srv.PushEvent(slacktest.EventCallback("EvSock4", map[string]any{"type": "brand_new_event", "event_ts": "1700006200.000200"}), "env-4", 0)
	if !srv.WaitAck(20*time.Second, "env-3") || !srv.WaitAck(20*time.Second, "env-4") {
		t.Fatalf("skipped envelopes not acknowledged: %v", srv.Acks())
	}
	srv.Disconnect()
	deadline := time.Now().Add(20 * time.Second)
	for srv.Opened() < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if srv.Opened() < 2 {
		t.Fatal("Poll did not reconnect after Slack asked it to")
	}
	srv.PushEvent(slacktest.EventCallback("EvSock5", slacktest.Message(dm, "im", cust, "after reconnect", "1700006300.000100")), "env-5", 0)
	sk.wait(t)
	if !srv.WaitAck(20*time.Second, "env-5") {
		t.Fatal("envelope after reconnect not acknowledged")
	}
	if evs := sk.events(); len(evs) != 1 || evs[0][0].Event.Message.Text != "after reconnect" {
		t.Fatalf("sink got %v", evs)
	}
}

func TestSocketModeRefusedTokenEndsPoll(t *testing.T) {
	cn, c, _ := setup(t)
	c = connectortest.WithSettings(c, "mode", "socket", "app_token", "xapp-1-A0-revoked-0000")
	done := make(chan error, 1)
	go func() { done <- cn.Poll(t.Context(), c, newSocketSink().sink) }()
	select {
	case err := <-done:
		var pe *connectors.PermanentError
		if !errors.As(err, &pe) {
			t.Fatalf("Poll = %v, want a permanent error", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Poll kept going with a refused app-level token")
	}
	if err := cn.Poll(t.Context(), connectortest.WithSettings(c, "app_token", ""), newSocketSink().sink); err == nil {
		t.Fatal("Poll without an app-level token succeeded")
	}
}
