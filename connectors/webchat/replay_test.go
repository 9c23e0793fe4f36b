package webchat_test

import (
	"context"
	"testing"
	"time"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/webchat"
	"github.com/connector-gateway/connector/queue/queuetest"
)

// A reply carried out again for the same portal request (the gateway
// crashed after storing it, before recording the outcome) is stored once:
// the visitor sees it once, and both attempts report the same message id.
func TestReplyToTheSameRequestIsStoredOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b queuetest.Backend) {
		e := newEnv(t, queuetest.Open(t, b), webchat.Options{})
		c := shopConn(e)
		v := e.visitor(c)
		ctx := context.Background()
		first0 := e.open(c, v.Token, 0)
		first0.message("client-msg-0001", "hi") // the conversation exists now
		out := connectors.Outbound{ChatID: v.Visitor, Text: "On its way", RequestID: "req_crashed"}
		first, err := e.cn.Send(ctx, c, out)
		if err != nil {
			t.Fatal(err)
		}
		again, err := e.cn.Send(ctx, c, out)
		if err != nil {
			t.Fatal(err)
		}
		if len(first.MessageIDs) != 1 || len(again.MessageIDs) != 1 || first.MessageIDs[0] != again.MessageIDs[0] {
			t.Fatalf("attempts reported %v and %v, want one message id", first.MessageIDs, again.MessageIDs)
		}
		other, err := e.cn.Send(ctx, c, connectors.Outbound{ChatID: v.Visitor, Text: "On its way", RequestID: "req_next"})
		if err != nil || other.MessageIDs[0] == first.MessageIDs[0] {
			t.Fatalf("another request with the same text: %v %v, want a message of its own", other, err)
		}
		s := e.open(c, v.Token, 0) // catches up on the whole history
		n := 0
		for {
			f, err := s.read(time.Second)
			if err != nil {
				break
			}
			if f.Type == "message" && f.Text == "On its way" {
				n++
			}
		}
		if n != 2 {
			t.Fatalf("history holds %d copies, want 2 (one per request)", n)
		}
	})
}
