package telegram_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/connectortest"
	"github.com/connector-gateway/connector/connectors/telegram"
)

// collector is a sink that records what it committed and can be told to
// fail.
type collector struct {
	mu     sync.Mutex
	events []connectors.Keyed
	fails  int // the next this many calls fail
	calls  int
	notify chan struct{}
}

func newCollector() *collector { return &collector{notify: make(chan struct{}, 1)} }

func (s *collector) sink(_ context.Context, ks []connectors.Keyed) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.fails > 0 {
		s.fails--
		return errors.New("database is down")
	}
	s.events = append(s.events, ks...)
	select {
	case s.notify <- struct{}{}:
	default:
	}
	return nil
}

func (s *collector) texts() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, k := range s.events {
		out = append(out, k.Event.Message.Text)
	}
	return out
}

func (s *collector) waitFor(t *testing.T, n int) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for len(s.texts()) < n {
		select {
		case <-s.notify:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			t.Fatalf("sink got %d events, want %d", len(s.texts()), n)
		}
	}
}

// runPoll runs Poll in the background until the test ends or stop is
// called; the returned channel yields Poll's result.
func runPoll(t *testing.T, cn *telegram.Connector, c connectors.Conn, sink func(context.Context, []connectors.Keyed) error) (stop func(), result <-chan error) {
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- cn.Poll(ctx, c, sink) }()
	t.Cleanup(cancel)
	return cancel, done
}

func pollingConn(c connectors.Conn, cur connectors.Cursor) connectors.Conn {
	c = connectortest.WithSettings(c, "mode", "polling")
	c.EntryURL = ""
	c.Cursor = cur
	return c
}

func TestPollDeliversInOrderAndSavesOffsetAfterCommit(t *testing.T) {
	cn, c, srv := setup(t)
	cur := &connectortest.MemCursor{}
	col := newCollector()
	srv.SetUpdatesPerCall(3)
	for i := 1; i <= 7; i++ {
		srv.Push(srv.Update(100+i, chatIDInt, fmt.Sprint(i)))
	}
	stop, done := runPoll(t, cn, pollingConn(c, cur), col.sink)
	col.waitFor(t, 7)
	if got := col.texts(); !slices.Equal(got, []string{"1", "2", "3", "4", "5", "6", "7"}) {
		t.Fatalf("texts = %v, want 1..7 in order", got)
	}
	// Same events as the webhook path: same dedupe key, same event id.
	in, err := cn.Parse(t.Context(), c, connectors.Request{Method: "POST", Header: secretHeader(secret), Body: srv.Update(101, chatIDInt, "1")})
	if err != nil {
		t.Fatal(err)
	}
	col.mu.Lock()
	first := col.events[0]
	col.mu.Unlock()
	if first.DedupeKey != in.Events[0].DedupeKey || first.Event.ID != in.Events[0].Event.ID {
		t.Errorf("polled key %q / id %q differ from webhook's %q / %q", first.DedupeKey, first.Event.ID, in.Events[0].DedupeKey, in.Events[0].Event.ID)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Poll returned %v after cancel, want nil", err)
	}
	if got := cur.Saves(); !slices.Equal(got, []string{"104", "107", "108"}) {
		t.Errorf("saved offsets %v, want 104, 107, 108 (after each committed call)", got)
	}
	calls := srv.Calls("getUpdates")
	var allowed []string
	if err := json.Unmarshal([]byte(calls[0].Get("allowed_updates")), &allowed); err != nil || !slices.Equal(allowed, []string{"message", "edited_message"}) {
		t.Errorf("allowed_updates = %q", calls[0].Get("allowed_updates"))
	}
	if calls[0].Get("timeout") != "1" || calls[0].Has("offset") {
		t.Errorf("first call = %v, want timeout=1 and no offset", calls[0])
	}
	if calls[1].Get("offset") != "104" {
		t.Errorf("second call offset = %q, want 104", calls[1].Get("offset"))
	}
}

func TestPollResumesAtSavedOffset(t *testing.T) {
	cn, c, srv := setup(t)
	cur := &connectortest.MemCursor{Pos: "205"}
	for i := 201; i <= 207; i++ { // 201..204 were committed before a restart
		srv.Push(srv.Update(i, chatIDInt, strconv.Itoa(i)))
	}
	col := newCollector()
	runPoll(t, cn, pollingConn(c, cur), col.sink)
	col.waitFor(t, 3)
	if got := col.texts(); !slices.Equal(got, []string{"205", "206", "207"}) {
		t.Fatalf("texts = %v, want only 205..207", got)
	}
	if got := srv.Calls("getUpdates")[0].Get("offset"); got != "205" {
		t.Errorf("first getUpdates offset = %q, want the saved 205", got)
	}
}

func TestPollSinkFailureLosesNothing(t *testing.T) {
	cn, c, srv := setup(t)
	cur := &connectortest.MemCursor{}
	col := newCollector()
	col.fails = 1
	srv.Push(srv.Update(1, chatIDInt, "a"), srv.Update(2, chatIDInt, "b"))
	runPoll(t, cn, pollingConn(c, cur), col.sink)
	col.waitFor(t, 2)
	if got := col.texts(); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("texts = %v", got)
	}
	// The poller saves its position right after the sink returned, so the
	// save may land just after the collector saw the events.
	var saves []string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if saves = cur.Saves(); len(saves) > 0 {
			break
		}
	}
	if len(saves) == 0 || saves[0] != "3" {
		t.Errorf("saves = %v: the offset moved before the events were committed", saves)
	}
}

func TestPollSkipsMalformedAndSkippedUpdates(t *testing.T) {
	cn, c, srv := setup(t)
	cur := &connectortest.MemCursor{}
	col := newCollector()
	srv.Push(
		[]byte(`{"update_id": 10, "message": {"message_id": "not a number", "chat": {"id": 1}}}`),
		[]byte(`{"update_id": 11, "callback_query": {"id": "x"}}`),
		srv.Update(12, chatIDInt, "after"),
	)
	runPoll(t, cn, pollingConn(c, cur), col.sink)
	col.waitFor(t, 1)
	if got := col.texts(); !slices.Equal(got, []string{"after"}) {
		t.Fatalf("texts = %v", got)
	}
	deadline := time.Now().Add(10 * time.Second)
	for pos, _ := cur.Load(t.Context()); pos != "13" && time.Now().Before(deadline); pos, _ = cur.Load(t.Context()) {
		time.Sleep(10 * time.Millisecond)
	}
	if got, _ := cur.Load(t.Context()); got != "13" {
		t.Errorf("offset = %q, want 13 (past the bad update)", got)
	}
}

func TestPollStopsOnRevokedToken(t *testing.T) {
	cn, c, srv := setup(t)
	srv.FailNext("getUpdates", 1, 401, "Unauthorized", 0)
	_, done := runPoll(t, cn, pollingConn(c, &connectortest.MemCursor{}), newCollector().sink)
	select {
	case err := <-done:
		wantPermanent(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Poll kept going with a revoked token")
	}
}

func TestPollStopsWhenLeaseLost(t *testing.T) {
	cn, c, srv := setup(t)
	cur := &connectortest.MemCursor{Fail: fmt.Errorf("cursor: %w", connectors.ErrLeaseLost)}
	srv.Push(srv.Update(1, chatIDInt, "x"))
	_, done := runPoll(t, cn, pollingConn(c, cur), newCollector().sink)
	select {
	case err := <-done:
		if !errors.Is(err, connectors.ErrLeaseLost) {
			t.Fatalf("Poll = %v, want ErrLeaseLost", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Poll went on after losing its lease")
	}
}

func TestPollRidesOutTransientFailures(t *testing.T) {
	cn, c, srv := setup(t)
	srv.FailNext("getUpdates", 1, 502, "Bad Gateway", 0)
	srv.Push(srv.Update(1, chatIDInt, "still here"))
	col := newCollector()
	runPoll(t, cn, pollingConn(c, &connectortest.MemCursor{}), col.sink)
	col.waitFor(t, 1)
}

func TestPollWaitsWhileAWebhookIsSet(t *testing.T) {
	cn, c, srv := setup(t)
	srv.SetWebhookOf(token, "https://other.example/hook") // another system's
	col := newCollector()
	stop, done := runPoll(t, cn, pollingConn(c, &connectortest.MemCursor{}), col.sink)
	deadline := time.Now().Add(10 * time.Second)
	for len(srv.Calls("getUpdates")) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	srv.SetWebhookOf(token, "")
	srv.Push(srv.Update(1, chatIDInt, "through"))
	col.waitFor(t, 1)
	stop()
	if err := <-done; err != nil {
		t.Errorf("Poll = %v", err)
	}
}

func TestPollNeedsToken(t *testing.T) {
	cn, c, _ := setup(t)
	err := cn.Poll(t.Context(), pollingConn(connectortest.WithSettings(c, "bot_token", ""), &connectortest.MemCursor{}), newCollector().sink)
	wantPermanent(t, err)
}
