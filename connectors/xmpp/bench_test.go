package xmpp_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/xmpp"
	"github.com/connector-gateway/connector/connectors/xmpp/xmpptest"
)

// Inbound through one stream: a person's client sends b.N messages as fast
// as Prosody takes them; measured until the last one is committed.
func BenchmarkInboundStream(b *testing.B) {
	srv := xmpptest.Start(b, map[string]string{"gw": gwPass, "alice": alicePass})
	cn := xmpp.New(xmpp.Options{})
	b.Cleanup(func() { _ = cn.Close() })
	sink := newSink()
	startPoll(b, cn, conn(srv, &memCursor{}), sink)
	alice := xmpptest.Dial(b, srv, "alice", alicePass)
	waitOnline(b, alice, sink, "probe")
	b.ResetTimer()
	began := time.Now()
	for i := 0; i < b.N; i++ {
		alice.Send(fmt.Sprintf(`<message xmlns="jabber:client" to="gw@localhost" type="chat" id="b%d"><body>bench %d</body></message>`, i, i))
	}
	sink.waitFor(b, 5*time.Minute, func(evs []connectors.Event) bool { return len(evs) >= b.N+1 })
	b.ReportMetric(float64(b.N)/time.Since(began).Seconds(), "msgs/s")
}

// Outbound through the poller's stream: b.N sends, measured until the
// person's client has them all.
func BenchmarkSend(b *testing.B) {
	srv := xmpptest.Start(b, map[string]string{"gw": gwPass, "alice": alicePass})
	cn := xmpp.New(xmpp.Options{})
	b.Cleanup(func() { _ = cn.Close() })
	sink := newSink()
	c := conn(srv, &memCursor{})
	startPoll(b, cn, c, sink)
	alice := xmpptest.Dial(b, srv, "alice", alicePass)
	waitOnline(b, alice, sink, "probe")
	b.ResetTimer()
	began := time.Now()
	for i := 0; i < b.N; i++ {
		if _, err := cn.Send(context.Background(), c, connectors.Outbound{ChatID: "alice@localhost", Text: fmt.Sprintf("reply %d", i), RequestID: fmt.Sprintf("r%d", i)}); err != nil {
			b.Fatal(err)
		}
	}
	last := fmt.Sprintf("reply %d", b.N-1)
	if _, ok := alice.WaitFor(5*time.Minute, func(m xmpptest.Message) bool { return m.Body == last }); !ok {
		b.Fatal("replies did not all arrive")
	}
	b.ReportMetric(float64(b.N)/time.Since(began).Seconds(), "msgs/s")
}

// Reconnect to caught up: b.N messages wait in the archive while the
// gateway is offline; measured from Poll's start until all are committed.
func BenchmarkCatchUp(b *testing.B) {
	srv := xmpptest.Start(b, map[string]string{"gw": gwPass, "alice": alicePass})
	cn := xmpp.New(xmpp.Options{})
	b.Cleanup(func() { _ = cn.Close() })
	sink, cur := newSink(), &memCursor{}
	c := conn(srv, cur)
	p := startPoll(b, cn, c, sink)
	alice := xmpptest.Dial(b, srv, "alice", alicePass)
	waitOnline(b, alice, sink, "probe")
	p.stop(b)
	for i := 0; i < b.N; i++ {
		alice.Send(fmt.Sprintf(`<message xmlns="jabber:client" to="gw@localhost" type="chat" id="c%d"><body>offline %d</body></message>`, i, i))
	}
	time.Sleep(200 * time.Millisecond) // let Prosody archive the last ones
	b.ResetTimer()
	began := time.Now()
	startPoll(b, cn, c, sink)
	sink.waitFor(b, 5*time.Minute, func(evs []connectors.Event) bool { return len(evs) >= b.N+1 })
	d := time.Since(began)
	b.ReportMetric(float64(d.Milliseconds()), "ms-to-caught-up")
	b.ReportMetric(float64(b.N)/d.Seconds(), "msgs/s")
}
