package xmpp_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/xmpp"
	"github.com/connector-gateway/connector/connectors/xmpp/xmpptest"
)

// The whole 1:1 conversation against a real Prosody: a person writes (with
// a receipt request) and gets the receipt only once the event is
// committed; the gateway replies and the person's client gets the reply
// with a receipt request; the person's receipt and displayed marker become
// status events (read superseding delivered); a correction, a file link
// and a retraction become message.updated, a file and message.deleted.
func TestConversation(t *testing.T) {
	srv := xmpptest.Start(t, map[string]string{"gw": gwPass, "alice": alicePass})
	cn := xmpp.New(xmpp.Options{Logger: testLog()})
	t.Cleanup(func() { _ = cn.Close() })
	cur, sink := &memCursor{}, newSink()
	c := conn(srv, cur)
	startPoll(t, cn, c, sink)
	alice := xmpptest.Dial(t, srv, "alice", alicePass)
	waitOnline(t, alice, sink, "hello-probe")

	alice.Send(`<message xmlns="jabber:client" to="gw@localhost" type="chat" id="a1"><body>My order is late</body><request xmlns="urn:xmpp:receipts"/><nick xmlns="http://jabber.org/protocol/nick">Alice A.</nick></message>`)
	evs := sink.waitFor(t, 10*time.Second, func(evs []connectors.Event) bool { return len(evs) >= 2 })
	ev := evs[1]
	if ev.Type != connectors.TypeMessageCreated || ev.Message.Text != "My order is late" || ev.Message.ID != "a1" ||
		ev.Chat.ID != "alice@localhost" || ev.User.Name != "Alice A." || ev.Connection != "conn1" || ev.Line != "l1" {
		t.Fatalf("event %+v %+v %+v", ev, ev.Message, ev.User)
	}
	if _, ok := alice.WaitFor(10*time.Second, func(m xmpptest.Message) bool { return m.Received != nil && m.Received.ID == "a1" }); !ok {
		t.Fatal("alice got no delivery receipt for a1")
	}
	if cur.get() == "" {
		t.Error("cursor not saved after commit")
	}

	d, err := cn.Send(context.Background(), c, connectors.Outbound{ChatID: "alice@localhost", Text: "We are on it", RequestID: "req_1",
		Files: []connectors.OutFile{{URL: "https://files.example/label.pdf"}}})
	if err != nil || len(d.MessageIDs) != 2 {
		t.Fatalf("send: %v %v", d, err)
	}
	reply, ok := alice.WaitFor(10*time.Second, func(m xmpptest.Message) bool { return m.Body == "We are on it" })
	if !ok || reply.ID != d.MessageIDs[0] || reply.Request == nil || reply.OriginID == nil || reply.OriginID.ID != reply.ID {
		t.Fatalf("reply %+v ok=%v", reply, ok)
	}
	if f, ok := alice.WaitFor(10*time.Second, func(m xmpptest.Message) bool { return m.OOB != nil }); !ok || f.OOB.URL != "https://files.example/label.pdf" {
		t.Fatalf("file message %+v", f)
	}

	alice.Send(fmt.Sprintf(`<message xmlns="jabber:client" to="gw@localhost" type="chat" id="r1"><received xmlns="urn:xmpp:receipts" id="%s"/></message>`, reply.ID))
	alice.Send(fmt.Sprintf(`<message xmlns="jabber:client" to="gw@localhost" type="chat" id="r2"><displayed xmlns="urn:xmpp:chat-markers:0" id="%s"/></message>`, reply.ID))
	// A late receipt after "read" must add nothing.
	alice.Send(fmt.Sprintf(`<message xmlns="jabber:client" to="gw@localhost" type="chat" id="r3"><received xmlns="urn:xmpp:receipts" id="%s"/></message>`, reply.ID))
	alice.Send(`<message xmlns="jabber:client" to="gw@localhost" type="chat" id="a2"><body>My order is very late</body><replace xmlns="urn:xmpp:message-correct:0" id="a1"/></message>`)
	alice.Send(`<message xmlns="jabber:client" to="gw@localhost" type="chat" id="a3"><body>https://upload.localhost/abc/photo.jpg</body><x xmlns="jabber:x:oob"><url>https://upload.localhost/abc/photo.jpg</url></x></message>`)
	alice.Send(`<message xmlns="jabber:client" to="gw@localhost" type="chat" id="a4"><body>retracted</body><retract xmlns="urn:xmpp:message-retract:1" id="a3"/><store xmlns="urn:xmpp:hints"/></message>`)
	evs = sink.waitFor(t, 10*time.Second, func(evs []connectors.Event) bool { return countType(evs, connectors.TypeMessageDeleted) == 1 })

	var kinds []string
	for _, e := range evs[2:] {
		kinds = append(kinds, e.Type)
	}
	want := "status.delivered status.read message.updated message.created message.deleted"
	if strings.Join(kinds, " ") != want {
		t.Fatalf("events %v, want %s", kinds, want)
	}
	del, read, upd, file, gone := evs[2], evs[3], evs[4], evs[5], evs[6]
	if del.Status.RequestID != "req_1" || read.Status.RequestID != "req_1" || del.Status.MessengerMessageIDs[0] != reply.ID {
		t.Errorf("statuses %+v %+v", del.Status, read.Status)
	}
	if upd.Message.ID != "a1" || upd.Message.Text != "My order is very late" || upd.Message.EditedAt == nil {
		t.Errorf("update %+v", upd.Message)
	}
	if file.Message.Text != "" || len(file.Message.Files) != 1 || file.Message.Files[0].Name != "photo.jpg" {
		t.Errorf("file %+v", file.Message)
	}
	if gone.Message.ID != "a3" {
		t.Errorf("deleted %+v", gone.Message)
	}

	// Outbound correction, retraction and typing reach the person.
	if _, err := cn.Edit(context.Background(), c, connectors.Edit{ChatID: "alice@localhost", MessageID: reply.ID, Text: "We are on it, sorry"}); err != nil {
		t.Fatal(err)
	}
	if m, ok := alice.WaitFor(10*time.Second, func(m xmpptest.Message) bool { return m.Replace != nil }); !ok || m.Replace.ID != reply.ID || m.Body != "We are on it, sorry" {
		t.Fatalf("correction %+v", m)
	}
	if err := cn.Delete(context.Background(), c, connectors.Delete{ChatID: "alice@localhost", MessageID: reply.ID}); err != nil {
		t.Fatal(err)
	}
	if m, ok := alice.WaitFor(10*time.Second, func(m xmpptest.Message) bool { return m.Retract != nil }); !ok || m.Retract.ID != reply.ID {
		t.Fatalf("retraction %+v", m)
	}
	if err := cn.Typing(context.Background(), c, "alice@localhost"); err != nil {
		t.Fatal(err)
	}
	if _, ok := alice.WaitFor(10*time.Second, func(m xmpptest.Message) bool { return m.Composing != nil }); !ok {
		t.Fatal("no chat state")
	}
}

// Messages sent while the gateway is offline arrive when it polls again,
// from the archive, once each, after those it had; the probe sent before
// the gap is not repeated.
func TestCatchUpAfterOffline(t *testing.T) {
	srv := xmpptest.Start(t, map[string]string{"gw": gwPass, "alice": alicePass})
	cn := xmpp.New(xmpp.Options{PageSize: 7, Logger: testLog()}) // several pages
	t.Cleanup(func() { _ = cn.Close() })
	cur, sink := &memCursor{}, newSink()
	c := conn(srv, cur)
	p := startPoll(t, cn, c, sink)
	alice := xmpptest.Dial(t, srv, "alice", alicePass)
	waitOnline(t, alice, sink, "before")
	p.stop(t)

	const n = 30
	for i := range n {
		alice.Send(fmt.Sprintf(`<message xmlns="jabber:client" to="gw@localhost" type="chat" id="off%d"><body>offline %d</body></message>`, i, i))
	}
	began := time.Now()
	startPoll(t, cn, c, sink)
	evs := sink.waitFor(t, 30*time.Second, func(evs []connectors.Event) bool { return len(evs) >= n+1 })
	t.Logf("reconnect to caught up (%d archived messages, pages of 7): %s", n, time.Since(began).Round(time.Millisecond))
	time.Sleep(300 * time.Millisecond)
	evs = sink.all()
	if len(evs) != n+1 {
		t.Fatalf("%d events, want %d", len(evs), n+1)
	}
	for i, e := range evs[1:] {
		if e.Message.Text != fmt.Sprintf("offline %d", i) {
			t.Fatalf("event %d is %q: out of order", i, e.Message.Text)
		}
	}
	if sink.calls > 1+(n/7+2)+1 {
		t.Errorf("%d sink calls: archive pages are not committed as batches", sink.calls)
	}

	// The position now stands after the last message (it did not move back
	// to the offline copies the server re-delivered on presence): another
	// restart reads nothing again.
	before := sink.offeredCount()
	p2 := startPoll(t, cn, c, sink)
	waitOnline(t, alice, sink, "again")
	p2.stop(t)
	if again := sink.offeredCount() - before; again != 1 {
		t.Errorf("restart after catch-up handed %d events to the sink, want only the new one", again)
	}
}

// Prosody restarts under a running poller: it reconnects with backoff and
// catches up what was sent after the restart and before it was back.
func TestReconnectAfterServerRestart(t *testing.T) {
	srv := xmpptest.Start(t, map[string]string{"gw": gwPass, "alice": alicePass})
	cn := xmpp.New(xmpp.Options{Logger: testLog()})
	t.Cleanup(func() { _ = cn.Close() })
	cur, sink := &memCursor{}, newSink()
	startPoll(t, cn, conn(srv, cur), sink)
	alice := xmpptest.Dial(t, srv, "alice", alicePass)
	waitOnline(t, alice, sink, "before")

	srv.Restart()
	alice = xmpptest.Dial(t, srv, "alice", alicePass)
	began := time.Now()
	for i := range 5 {
		alice.Send(fmt.Sprintf(`<message xmlns="jabber:client" to="gw@localhost" type="chat" id="after%d"><body>after %d</body></message>`, i, i))
	}
	sink.waitFor(t, 30*time.Second, func(evs []connectors.Event) bool { return len(evs) >= 6 })
	t.Logf("server restart: messages caught up %s after the server was back", time.Since(began).Round(time.Millisecond))
}

// A wrong password is permanent: Poll returns a PermanentError instead of
// retrying, and the connection test says what to fix.
func TestWrongPassword(t *testing.T) {
	srv := xmpptest.Start(t, map[string]string{"gw": gwPass})
	cn := xmpp.New(xmpp.Options{Logger: testLog()})
	t.Cleanup(func() { _ = cn.Close() })
	c := conn(srv, &memCursor{})
	c.Settings["password"] = "wrong"
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := cn.Poll(ctx, c, newSink().sink)
	var perm *connectors.PermanentError
	if !errors.As(err, &perm) {
		t.Fatalf("Poll = %v, want a PermanentError", err)
	}
	rep, err := cn.Test(ctx, c)
	if err != nil || rep.OK || rep.Checks[0].OK || rep.Checks[0].Fix == "" {
		t.Fatalf("report %+v err %v", rep, err)
	}
}

// The connection test logs in, sees the archive, finds the MUC service.
func TestConnectionTest(t *testing.T) {
	srv := xmpptest.Start(t, map[string]string{"gw": gwPass})
	cn := xmpp.New(xmpp.Options{Logger: testLog()})
	t.Cleanup(func() { _ = cn.Close() })
	c := conn(srv, nil)
	delete(c.Settings, "muc_service")
	rep, err := cn.Test(context.Background(), c)
	if err != nil || !rep.OK || len(rep.Checks) != 3 || !rep.Checks[2].OK || !strings.Contains(rep.Checks[2].Detail, xmpptest.MUC) {
		t.Fatalf("report %+v err %v", rep, err)
	}
	key, err := cn.BotKey(context.Background(), c)
	if err != nil || key != "xmpp:gw@localhost" {
		t.Fatalf("bot key %q %v", key, err)
	}
	if err := cn.Activate(context.Background(), c); !errors.Is(err, connectors.ErrNeedsPolling) {
		t.Fatalf("activate = %v", err)
	}

	// With a pool, the test makes and removes a room as the pool would.
	c.Settings["muc_service"], c.Settings["room_pool"] = xmpptest.MUC, "3"
	rep, err = cn.Test(context.Background(), c)
	if err != nil || !rep.OK || len(rep.Checks) != 4 || rep.Checks[3].Name != "Room pool" || !rep.Checks[3].OK {
		t.Fatalf("report with a pool %+v err %v", rep, err)
	}
	// A group chat service that does not exist: the pool check says so.
	c.Settings["muc_service"] = "nochat.localhost"
	rep, err = cn.Test(context.Background(), c)
	if err != nil || rep.OK || rep.Checks[len(rep.Checks)-1].OK || rep.Checks[len(rep.Checks)-1].Fix == "" {
		t.Fatalf("report with a missing service %+v err %v", rep, err)
	}
}

// Component mode (XEP-0114): the gateway connects to Prosody's component
// port as bridge.localhost; a person writes to it, the portal's reply comes
// back from it, and a wrong secret is permanent.
func TestComponentMode(t *testing.T) {
	srv := xmpptest.Start(t, map[string]string{"alice": alicePass})
	cn := xmpp.New(xmpp.Options{Logger: testLog()})
	t.Cleanup(func() { _ = cn.Close() })
	sink := newSink()
	c := connectors.Conn{ID: "comp1", LineID: "l1", Cursor: &memCursor{}, Settings: connectors.Settings{
		"mode": "component", "component_jid": xmpptest.Component, "component_secret": xmpptest.ComponentSecret, "server": srv.ComponentAddr}}
	if _, err := cn.ValidateSettings(c.Settings); err != nil {
		t.Fatal(err)
	}
	rep, err := cn.Test(context.Background(), c)
	if err != nil || !rep.OK {
		t.Fatalf("test report %+v %v", rep, err)
	}
	startPoll(t, cn, c, sink)
	alice := xmpptest.Dial(t, srv, "alice", alicePass)
	// The component may not be connected yet: Prosody bounces until it is.
	deadline := time.Now().Add(20 * time.Second)
	for len(sink.all()) == 0 && time.Now().Before(deadline) {
		alice.Send(`<message xmlns="jabber:client" to="bridge.localhost" type="chat" id="c1"><body>hello component</body><request xmlns="urn:xmpp:receipts"/></message>`)
		time.Sleep(200 * time.Millisecond)
	}
	evs := sink.all()
	if len(evs) == 0 || evs[0].Message.Text != "hello component" || evs[0].Chat.ID != "alice@localhost" {
		t.Fatalf("events %+v", evs)
	}
	if _, err := cn.Send(context.Background(), c, connectors.Outbound{ChatID: "alice@localhost", Text: "hello from the component", RequestID: "rq"}); err != nil {
		t.Fatal(err)
	}
	m, ok := alice.WaitFor(10*time.Second, func(m xmpptest.Message) bool { return m.Body == "hello from the component" })
	if !ok || m.From != xmpptest.Component {
		t.Fatalf("reply %+v", m)
	}
	if _, ok := alice.WaitFor(10*time.Second, func(m xmpptest.Message) bool { return m.Received != nil && m.Received.ID == "c1" }); !ok {
		t.Error("no receipt from the component")
	}
	key, _ := cn.BotKey(context.Background(), c)
	if key != "xmpp:bridge.localhost" {
		t.Errorf("bot key %q", key)
	}

	bad := c
	bad.Settings = connectors.Settings{"mode": "component", "component_jid": xmpptest.Component, "component_secret": "wrong", "server": srv.ComponentAddr}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var perm *connectors.PermanentError
	if err := cn.Poll(ctx, bad, newSink().sink); !errors.As(err, &perm) {
		t.Fatalf("wrong secret: Poll = %v, want a PermanentError", err)
	}
}
