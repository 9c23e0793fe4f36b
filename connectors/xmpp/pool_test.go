package xmpp_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/xmpp"
	"github.com/connector-gateway/connector/connectors/xmpp/xmpptest"
)

func poolConn(srv *xmpptest.Server, size string) connectors.Conn {
	c := conn(srv, &memCursor{})
	c.Settings["room_pool"] = size
	return c
}

func openRoom(t *testing.T, cn *xmpp.Connector, c connectors.Conn) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		room, err := cn.OpenConversation(ctx, c)
		cancel()
		if err == nil {
			return room
		}
		if time.Now().After(deadline) {
			t.Fatalf("open conversation: %v", err)
		}
		time.Sleep(100 * time.Millisecond) // the pool is not loaded yet
	}
}

// The room pool against Prosody's MUC: 20 concurrent conversations get 20
// distinct rooms from a pool of 5, which refills; a visitor in a room
// reaches the portal and gets its reply; closing returns nothing stale to
// the pool; lifecycle events come opened → closed per room; the pool's
// state survives a restart of the poller.
func TestRoomPool(t *testing.T) {
	srv := xmpptest.Start(t, map[string]string{"gw": gwPass, "alice": alicePass})
	cn := xmpp.New(xmpp.Options{Logger: testLog()})
	t.Cleanup(func() { _ = cn.Close() })
	sink := newSink()
	c := poolConn(srv, "5")
	if _, err := cn.ValidateSettings(c.Settings); err != nil {
		t.Fatal(err)
	}
	p := startPoll(t, cn, c, sink)
	first := openRoom(t, cn, c)

	rooms := map[string]bool{first: true}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 19 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := openRoom(t, cn, c)
			mu.Lock()
			defer mu.Unlock()
			if rooms[r] {
				t.Errorf("room %s handed out twice", r)
			}
			rooms[r] = true
		}()
	}
	wg.Wait()
	if len(rooms) != 20 {
		t.Fatalf("%d distinct rooms for 20 conversations", len(rooms))
	}

	// A visitor joins the first room and writes; the portal answers there.
	alice := xmpptest.Dial(t, srv, "alice", alicePass)
	alice.Send(fmt.Sprintf(`<presence xmlns="jabber:client" to="%s/Visitor"><x xmlns="http://jabber.org/protocol/muc"/></presence>`, first))
	time.Sleep(300 * time.Millisecond)
	alice.Send(fmt.Sprintf(`<message xmlns="jabber:client" to="%s" type="groupchat" id="v1"><body>I need help</body></message>`, first))
	evs := sink.waitFor(t, 10*time.Second, func(evs []connectors.Event) bool { return countType(evs, connectors.TypeMessageCreated) == 1 })
	for _, e := range evs {
		if e.Type == connectors.TypeMessageCreated && (e.Chat.ID != first || e.User.Name != "Visitor" || e.Message.Text != "I need help") {
			t.Fatalf("room message %+v %+v %+v", e.Chat, e.User, e.Message)
		}
	}
	if _, err := cn.Send(context.Background(), c, connectors.Outbound{ChatID: first, Text: "An agent is here", RequestID: "rp"}); err != nil {
		t.Fatal(err)
	}
	if m, ok := alice.WaitFor(10*time.Second, func(m xmpptest.Message) bool { return m.Body == "An agent is here" }); !ok || m.Type != "groupchat" {
		t.Fatalf("visitor did not get the reply: %+v", m)
	}

	for r := range rooms {
		if err := cn.CloseConversation(context.Background(), c, r); err != nil {
			t.Fatalf("close %s: %v", r, err)
		}
	}
	if err := cn.CloseConversation(context.Background(), c, first); err == nil {
		t.Error("closing a closed conversation succeeded")
	}
	evs = sink.all()
	opened, closed := map[string]int{}, map[string]int{}
	for i, e := range evs {
		switch e.Type {
		case connectors.TypeConversationOpened:
			opened[e.Chat.ID] = i + 1
			if e.Conversation.State != "active" || e.Conversation.OpenedAt.IsZero() {
				t.Errorf("opened %+v", e.Conversation)
			}
		case connectors.TypeConversationClosed:
			closed[e.Chat.ID] = i + 1
			if e.Conversation.State != "closed" || e.Conversation.ClosedAt == nil || e.Conversation.Reason != "portal" {
				t.Errorf("closed %+v", e.Conversation)
			}
		}
	}
	for r := range rooms {
		if opened[r] == 0 || closed[r] == 0 || opened[r] > closed[r] {
			t.Errorf("room %s: opened at %d, closed at %d", r, opened[r], closed[r])
		}
	}

	// After a restart of the poller the pool is the one it stored: the
	// next conversation gets a room made before the restart.
	p.stop(t)
	startPoll(t, cn, c, sink)
	again := openRoom(t, cn, c)
	if rooms[again] {
		t.Errorf("a closed room %s was handed out again", again)
	}
	t.Logf("20 conversations through a pool of 5; after restart got %s", again)
}

// A connection without a room pool has no conversations: the calls say so
// (ErrUnsupported, in plain words) instead of asking to try elsewhere. A
// pool connection this instance does not poll is ErrElsewhere.
func TestConversationsWithoutPool(t *testing.T) {
	cn := xmpp.New(xmpp.Options{Logger: testLog()})
	t.Cleanup(func() { _ = cn.Close() })
	ctx := context.Background()
	client := connectors.Conn{ID: "c1", Settings: connectors.Settings{"jid": "gw@example.org", "password": "x", "server": "127.0.0.1:1"}}
	component := connectors.Conn{ID: "c2", Settings: connectors.Settings{"mode": "component", "component_jid": "bridge.example.org", "component_secret": "x", "server": "127.0.0.1:1"}}
	for _, c := range []connectors.Conn{client, component} {
		_, err := cn.OpenConversation(ctx, c)
		if !errors.Is(err, connectors.ErrUnsupported) || errors.Is(err, connectors.ErrElsewhere) || !strings.Contains(err.Error(), "no room pool") {
			t.Errorf("open on %s: %v, want ErrUnsupported saying there is no room pool", c.Settings["mode"], err)
		}
		if err := cn.CloseConversation(ctx, c, "pool-1@conference.example.org"); !errors.Is(err, connectors.ErrUnsupported) {
			t.Errorf("close on %s: %v, want ErrUnsupported", c.Settings["mode"], err)
		}
	}
	pooled := connectors.Conn{ID: "c3", Settings: connectors.Settings{"jid": "gw@example.org", "password": "x", "server": "127.0.0.1:1",
		"muc_service": "conference.example.org", "room_pool": "2"}}
	if _, err := cn.OpenConversation(ctx, pooled); !errors.Is(err, connectors.ErrElsewhere) || errors.Is(err, connectors.ErrNotConnected) {
		t.Errorf("open on a pool this instance does not poll: %v, want ErrElsewhere", err)
	}
}

// A reply to a pool room goes out only on the stream whose pool joined the
// room: an instance that does not poll the connection (another replica)
// fails the send transiently, so the sender retries it, instead of
// sending from a fresh login the room refuses and reporting it delivered.
// A private chat still goes out from such an instance.
func TestRoomSendNeedsTheLiveStream(t *testing.T) {
	srv := xmpptest.Start(t, map[string]string{"gw": gwPass, "alice": alicePass})
	owner := xmpp.New(xmpp.Options{Logger: testLog()})
	t.Cleanup(func() { _ = owner.Close() })
	other := xmpp.New(xmpp.Options{Logger: testLog()})
	t.Cleanup(func() { _ = other.Close() })
	c := poolConn(srv, "1")
	startPoll(t, owner, c, newSink())
	room := openRoom(t, owner, c)
	alice := xmpptest.Dial(t, srv, "alice", alicePass)
	alice.Send(fmt.Sprintf(`<presence xmlns="jabber:client" to="%s/Visitor"><x xmlns="http://jabber.org/protocol/muc"/></presence>`, room))
	time.Sleep(300 * time.Millisecond)
	ctx := context.Background()

	var perm *connectors.PermanentError
	_, err := other.Send(ctx, c, connectors.Outbound{ChatID: room, Text: "from the wrong replica", RequestID: "r1"})
	if err == nil || errors.As(err, &perm) {
		t.Fatalf("send to a room from an instance without the stream: %v, want a transient error", err)
	}
	if err := other.Typing(ctx, c, room); err == nil || errors.As(err, &perm) {
		t.Fatalf("typing in a room from an instance without the stream: %v, want a transient error", err)
	}
	if _, err := owner.Send(ctx, c, connectors.Outbound{ChatID: room, Text: "from the stream's holder", RequestID: "r2"}); err != nil {
		t.Fatal(err)
	}
	if _, ok := alice.WaitFor(10*time.Second, func(m xmpptest.Message) bool { return m.Body == "from the stream's holder" }); !ok {
		t.Fatal("the visitor did not get the reply sent on the live stream")
	}
	if _, ok := alice.WaitFor(time.Second, func(m xmpptest.Message) bool { return m.Body == "from the wrong replica" }); ok {
		t.Fatal("the refused send reached the room")
	}
	if _, err := other.Send(ctx, c, connectors.Outbound{ChatID: xmpptest.JID("alice"), Text: "a private reply", RequestID: "r3"}); err != nil {
		t.Fatalf("private send from an instance without the stream: %v", err)
	}

	// Without a pool the gateway is in no room: a room reply cannot work.
	noPool := conn(srv, &memCursor{})
	if _, err := other.Send(ctx, noPool, connectors.Outbound{ChatID: room, Text: "x", RequestID: "r4"}); !errors.As(err, &perm) {
		t.Fatalf("send to a room without a pool: %v, want a PermanentError", err)
	}
}

// On a server without private storage (XEP-0049) the pool cannot keep its
// state: the connection test says so in plain words, and the process that
// polls answers conversation calls with ErrNotConnected saying why — not
// ErrElsewhere, which would have a single gateway's clients retry forever.
// Room replies wait too (the pool joined no room).
func TestPoolWithoutPrivateStorage(t *testing.T) {
	srv := xmpptest.StartWithout(t, map[string]string{"gw": gwPass}, "private")
	cn := xmpp.New(xmpp.Options{Logger: testLog()})
	t.Cleanup(func() { _ = cn.Close() })
	c := poolConn(srv, "2")
	ctx := context.Background()

	rep, err := cn.Test(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	var pool *connectors.Check
	for i := range rep.Checks {
		if rep.Checks[i].Name == "Room pool" {
			pool = &rep.Checks[i]
		}
	}
	if rep.OK || pool == nil || pool.OK || !strings.Contains(pool.Detail, "private XML storage (XEP-0049)") || !strings.Contains(pool.Fix, `"private"`) {
		t.Fatalf("connection test on a server without mod_private: %+v", rep)
	}

	startPoll(t, cn, c, newSink())
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err = cn.OpenConversation(ctx, c)
		if errors.Is(err, connectors.ErrNotConnected) && strings.Contains(err.Error(), "private storage") {
			break
		}
		if err == nil || time.Now().After(deadline) {
			t.Fatalf("open without private storage: %v, want ErrNotConnected naming private storage", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if errors.Is(err, connectors.ErrElsewhere) {
		t.Fatalf("open: %v also says elsewhere", err)
	}
	var perm *connectors.PermanentError
	if _, err := cn.Send(ctx, c, connectors.Outbound{ChatID: "pool-x@" + xmpptest.MUC, Text: "x", RequestID: "r1"}); err == nil || errors.As(err, &perm) {
		t.Fatalf("room send with the pool not loaded: %v, want a transient error", err)
	}
	t.Logf("open: %v", err)
}

// A refill that fails (the group chat service refuses new rooms for a
// while) is tried again by itself: once every waiting room is handed out
// opens answer busy saying refills fail, and after the service recovers an
// open succeeds again without any close or restart.
func TestPoolRefillRetried(t *testing.T) {
	srv := xmpptest.Start(t, map[string]string{"gw": gwPass})
	cn := xmpp.New(xmpp.Options{Logger: testLog()})
	t.Cleanup(func() { _ = cn.Close() })
	c := poolConn(srv, "1")
	startPoll(t, cn, c, newSink())
	openRoom(t, cn, c) // the pool is loaded
	xmpp.SetRefillFault(cn, func() error { return errors.New("the service refuses new rooms") })
	ctx := context.Background()
	var busy *connectors.RateLimitedError
	for i := 0; ; i++ {
		_, err := cn.OpenConversation(ctx, c)
		if errors.As(err, &busy) {
			break
		}
		if err != nil || i == 2 {
			t.Fatalf("open %d with refills failing: %v, want busy once the waiting room is taken", i, err)
		}
	}
	if !strings.Contains(busy.Error(), "refuses new rooms") || busy.RetryAfter < 2*time.Second || busy.RetryAfter > 30*time.Second {
		t.Fatalf("busy answer %q, retry after %s", busy.Error(), busy.RetryAfter)
	}
	xmpp.SetRefillFault(cn, nil)
	began := time.Now()
	openRoom(t, cn, c)
	t.Logf("busy said %q; an open succeeded %s after the service recovered", busy.Error(), time.Since(began).Round(time.Millisecond))
}
