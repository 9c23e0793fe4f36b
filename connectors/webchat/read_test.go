package webchat_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/webchat"
	"github.com/connector-gateway/connector/queue/queuetest"
)

// When the widget reports that the visitor saw the conversation up to a
// seq, the portal gets one status.read naming the newest agent reply up to
// there; a repeat (another tab, a reconnect) adds nothing, and a seq with
// no agent reply before it adds nothing.
func TestVisitorReadBecomesStatusRead(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b queuetest.Backend) {
		e := newEnv(t, queuetest.Open(t, b), webchat.Options{})
		c := shopConn(e)
		v := e.visitor(c)
		s := e.open(c, v.Token, 0)
		first, before := s.message("client-msg-0001", "hi")
		s.history(before)
		s.send(map[string]any{"type": "read", "seq": first.Seq}) // only the visitor's own message
		d, err := e.cn.Send(context.Background(), c, connectors.Outbound{ChatID: v.Visitor, Text: "Hello!", RequestID: "req_1"})
		if err != nil {
			t.Fatal(err)
		}
		reply, _ := s.until("message")
		s.send(map[string]any{"type": "read", "seq": reply.Seq})
		s.send(map[string]any{"type": "read", "seq": reply.Seq}) // a second tab
		var reads []connectors.Event
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			reads = reads[:0]
			for _, ev := range e.queued(c.LineID) {
				if ev.Type == connectors.TypeStatusRead {
					reads = append(reads, ev)
				}
			}
			if len(reads) > 0 {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(200 * time.Millisecond) // let the repeat land, if it were to
		reads = reads[:0]
		for _, ev := range e.queued(c.LineID) {
			if ev.Type == connectors.TypeStatusRead {
				reads = append(reads, ev)
			}
		}
		if len(reads) != 1 {
			t.Fatalf("%d status.read events, want 1: %+v", len(reads), reads)
		}
		r := reads[0]
		if r.Chat == nil || r.Chat.ID != v.Visitor || r.Status == nil || len(r.Status.MessengerMessageIDs) != 1 || r.Status.MessengerMessageIDs[0] != d.MessageIDs[0] {
			t.Fatalf("status.read = %+v (status %+v), want the reply %s", r, r.Status, d.MessageIDs[0])
		}
		// A bad read frame is answered with an error, the socket stays.
		s.send(map[string]any{"type": "read", "seq": 0})
		if f, _ := s.until("error"); f.Code != "invalid" {
			t.Fatalf("read with seq 0 answered %+v", f)
		}
	})
}

// The portal's "agent read message X" reaches the visitor's open tab as a
// read frame at once, comes again with the history after a reload, never
// moves back for an older mark, and an unknown message fails for good.
func TestAgentReadReachesTheVisitor(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b queuetest.Backend) {
		e := newEnv(t, queuetest.Open(t, b), webchat.Options{})
		c := shopConn(e)
		v := e.visitor(c)
		s := e.open(c, v.Token, 0)
		first, before := s.message("client-msg-0001", "hi")
		s.history(before)
		second, _ := s.message("client-msg-0002", "are you there?")
		ctx := context.Background()
		if err := e.cn.MarkRead(ctx, c, v.Visitor, "client-msg-0002"); err != nil {
			t.Fatal(err)
		}
		if f, _ := s.until("read"); f.Seq != second.Seq {
			t.Fatalf("read frame %+v, want seq %d", f, second.Seq)
		}
		if err := e.cn.MarkRead(ctx, c, v.Visitor, "client-msg-0001"); err != nil {
			t.Fatal(err)
		}
		// A reload gets the newer watermark, the older mark changed nothing.
		r := e.open(c, v.Token, 0)
		if f, _ := r.until("read"); f.Seq != second.Seq {
			t.Fatalf("after reload read frame %+v, want seq %d (first was %d)", f, second.Seq, first.Seq)
		}
		var pe *connectors.PermanentError
		if err := e.cn.MarkRead(ctx, c, v.Visitor, "no-such-message"); !errors.As(err, &pe) {
			t.Fatalf("unknown message: %v, want a PermanentError", err)
		}
		if err := e.cn.MarkRead(ctx, c, "vis_nobody", "client-msg-0001"); !errors.As(err, &pe) {
			t.Fatalf("unknown visitor: %v, want a PermanentError", err)
		}
	})
}
