package app_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/connector-gateway/connector/connectors/telegram/telegramtest"
	"github.com/connector-gateway/connector/portal"
	"github.com/connector-gateway/connector/portal/adapters/bitrix24/bitrix24test"
	"github.com/connector-gateway/connector/portal/portaltest"
	"github.com/connector-gateway/connector/queue/queuetest"
)

// A Telegram customer's message reaches a Bitrix24 Open Line through the
// running gateway; the agent's answer, posted by Bitrix24 to the event
// handler the gateway bound, reaches the customer in Telegram; and
// Bitrix24 is told the answer was delivered, with the Telegram message id.
// Bitrix24's rate limit locks the line out; the waiting message then
// arrives once.
func TestBitrix24OpenLineRoundTrip(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b queuetest.Backend) {
		ctx := context.Background()
		tg := telegramtest.New(t, botToken)
		p := portaltest.New(t)
		cfg := reachableConfig(t, b, tg.Endpoint())
		cfg.Queue.Schedule = []time.Duration{300 * time.Millisecond}
		g := startGateway(t, cfg)
		w := connectTelegram(t, g, tg, p, "webhook")
		b24 := bitrix24test.New(t)
		settings := b24.Settings()
		settings["line."+w.Lines[0]] = "7"
		if err := g.app.Store().Records.SetPortalKind(ctx, w.PortalID, portal.KindBitrix24, settings); err != nil {
			t.Fatal(err)
		}
		w.deliver(t, g, tg, "webhook", telegramtest.Update(31, 4242, map[string]any{"text": "Where is my order?"}))
		chat := w.Conns[0] + ":4242"
		waitFor(t, "the customer's message in the Open Line", func() bool { _, ok := b24.Message(chat, "31"); return ok })
		if text, _ := b24.Message(chat, "31"); text != "Where is my order?" || b24.Posts(chat, "31") != 1 {
			t.Fatalf("Open Line shows %q (%d posts)", text, b24.Posts(chat, "31"))
		}
		if len(p.Events(w.Lines[0])) != 0 {
			t.Fatal("a bitrix24 portal also got a native batch")
		}

		code, err := b24.AgentEvent("ONIMCONNECTORMESSAGEADD", "connector_gateway", 7, bitrix24test.AgentMessage{
			IMChat: 1807, IMMessage: 86497, Chat: chat, Text: "[b]Klaus Weber:[/b] [br]It ships today."})
		if err != nil || code != 200 {
			t.Fatalf("agent's answer: %d %v", code, err)
		}
		var sent []telegramtest.Sent
		waitFor(t, "the answer in Telegram", func() bool { sent = tg.Messages(w.Tokens[0], 4242); return len(sent) == 1 })
		if sent[0].Text != "Klaus Weber:\nIt ships today." {
			t.Fatalf("Telegram got %q", sent[0].Text)
		}
		want := strconv.Itoa(sent[0].ID)
		waitFor(t, "the delivery status in Bitrix24", func() bool { return len(b24.Statuses()) == 1 })
		st := b24.Statuses()[0]
		if st.Kind != "delivery" || st.IMChat != "1807" || st.IMMessage != "86497" || st.Chat != chat || fmt.Sprint(st.IDs) != "["+want+"]" {
			t.Fatalf("status in Bitrix24: %+v; want delivery of 86497 as Telegram message %s", st, want)
		}

		b24.Fail("imconnector.send.messages", "limit")
		w.deliver(t, g, tg, "webhook", telegramtest.Update(32, 4242, map[string]any{"text": "Thanks!"}))
		waitFor(t, "the line locked out by the rate limit", func() bool {
			st := w.lineState(t, w.Lines[0])
			return st.Queue.Failures > 0 && strings.Contains(st.Queue.LastError, "QUERY_LIMIT_EXCEEDED")
		})
		waitFor(t, "the message after the lock-out", func() bool { return b24.Posts(chat, "32") > 0 })
		waitFor(t, "the line drained", func() bool { return w.lineState(t, w.Lines[0]).Queue.Pending == 0 })
		if n := b24.Posts(chat, "32"); n != 1 {
			t.Fatalf("the message after the rate limit was posted %d times", n)
		}
	})
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
