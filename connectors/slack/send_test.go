package slack_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/connectortest"
	"github.com/connector-gateway/connector/connectors/slack"
	"github.com/connector-gateway/connector/connectors/slack/slacktest"
)

func TestSendToDirectMessage(t *testing.T) {
	cn, c, srv := setup(t)
	d, err := cn.Send(t.Context(), c, connectors.Outbound{ChatID: dm, Text: "Hi Anna, 5 < 7 & *not bold*"})
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	posted := srv.Posted()
	if len(posted) != 1 || len(d.MessageIDs) != 1 || d.MessageIDs[0] != posted[0].TS {
		t.Fatalf("delivery %v, posted %+v", d, posted)
	}
	p := posted[0]
	// Plain text: & < > escaped as Slack requires, formatting switched off.
	if p.Channel != dm || p.ThreadTS != "" || p.Text != "Hi Anna, 5 &lt; 7 &amp; *not bold*" || p.Mrkdwn != "false" {
		t.Fatalf("posted %+v", p)
	}
}

// The acceptance case: a reply to a threaded message lands in that thread.
func TestReplyToThreadLandsInThread(t *testing.T) {
	cn, c, srv := setup(t)
	root := "1700005000.000100"
	in := one(t, cn, c, slacktest.EventCallback("EvTh", slacktest.ThreadReply(channel, "channel", cust, "any news?", "1700005100.000200", root))).Event
	if _, err := cn.Send(t.Context(), c, connectors.Outbound{ChatID: in.Chat.ID, Text: "Yes, it shipped."}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	p := srv.Posted()
	if len(p) != 1 || p[0].Channel != channel || p[0].ThreadTS != root || p[0].Text != "Yes, it shipped." {
		t.Fatalf("posted %+v, want in channel %s thread %s", p, channel, root)
	}
}

// In a channel, answering a message (reply_to) starts or continues its
// thread, Slack's way of replying to a message.
func TestReplyToMessageInChannelUsesItsThread(t *testing.T) {
	cn, c, srv := setup(t)
	if _, err := cn.Send(t.Context(), c, connectors.Outbound{ChatID: channel, Text: "On it", ReplyTo: "1700005200.000100"}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if p := srv.Posted(); len(p) != 1 || p[0].ThreadTS != "1700005200.000100" {
		t.Fatalf("posted %+v", p)
	}
	_, err := cn.Send(t.Context(), c, connectors.Outbound{ChatID: channel, Text: "x", ReplyTo: "42"})
	var pe *connectors.PermanentError
	if !errors.As(err, &pe) {
		t.Fatalf("reply_to that is no ts: %v, want permanent", err)
	}
}

func TestSendFilesAsLinks(t *testing.T) {
	cn, c, srv := setup(t)
	_, err := cn.Send(t.Context(), c, connectors.Outbound{ChatID: dm, Text: "Your invoice:", Files: []connectors.OutFile{
		{URL: "https://portal.example/f/inv-1042.pdf?sig=a&exp=1", Name: "invoice-1042.pdf", Mime: "application/pdf"},
		{URL: "https://portal.example/f/label.png"},
	}})
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	want := "Your invoice:\ninvoice-1042.pdf: https://portal.example/f/inv-1042.pdf?sig=a&amp;exp=1\nhttps://portal.example/f/label.png"
	if p := srv.Posted(); len(p) != 1 || p[0].Text != want {
		t.Fatalf("posted %+v\nwant text %q", p, want)
	}
	// Files alone are enough.
	if _, err := cn.Send(t.Context(), c, connectors.Outbound{ChatID: dm, Files: []connectors.OutFile{{URL: "https://portal.example/x"}}}); err != nil {
		t.Fatalf("files only: %v", err)
	}
}

func TestLongTextIsSplit(t *testing.T) {
	cn, c, srv := setup(t)
	para := strings.Repeat("word ", 700) // 3500 characters
	text := para + "\n" + para + "\n" + para
	d, err := cn.Send(t.Context(), c, connectors.Outbound{ChatID: dm, Text: text})
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	p := srv.Posted()
	if len(p) != 3 || len(d.MessageIDs) != 3 {
		t.Fatalf("%d messages posted, %d ids", len(p), len(d.MessageIDs))
	}
	var joined strings.Builder
	for i, m := range p {
		if n := utf8.RuneCountInString(m.Text); n > 4000 {
			t.Fatalf("part %d is %d characters", i, n)
		}
		joined.WriteString(m.Text)
	}
	if joined.String() != text {
		t.Fatal("the parts do not add up to the text")
	}
	for _, s := range []string{strings.Repeat("é", 9000), "short"} {
		parts := slack.SplitText(s, 4000)
		if strings.Join(parts, "") != s || (len(s) > 4000 && len(parts) != 3) {
			t.Fatalf("SplitText(%d runes) = %d parts", utf8.RuneCountInString(s), len(parts))
		}
	}
}

func TestEditAndDelete(t *testing.T) {
	cn, c, srv := setup(t)
	root := "1700005300.000100"
	thread := channel + ":" + root
	d, err := cn.Send(t.Context(), c, connectors.Outbound{ChatID: thread, Text: "first"})
	if err != nil {
		t.Fatal(err)
	}
	ts := d.MessageIDs[0]
	ed, err := cn.Edit(t.Context(), c, connectors.Edit{ChatID: thread, MessageID: ts, Text: "first, corrected & better"})
	if err != nil {
		t.Fatalf("Edit: %v", err)
	}
	if len(ed.MessageIDs) != 1 || ed.MessageIDs[0] != ts {
		t.Fatalf("edit delivery %v", ed)
	}
	calls := srv.Calls("chat.update")
	if len(calls) != 1 || calls[0].Get("channel") != channel || calls[0].Get("ts") != ts {
		t.Fatalf("chat.update calls %v", calls)
	}
	if p := srv.Posted(); p[0].Text != "first, corrected &amp; better" {
		t.Fatalf("after edit: %+v", p[0])
	}
	if err := cn.Delete(t.Context(), c, connectors.Delete{ChatID: thread, MessageID: ts}); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if p := srv.Posted(); !p[0].Deleted {
		t.Fatalf("after delete: %+v", p[0])
	}
	// Deleting it again: Slack says message_not_found, which no retry fixes.
	var pe *connectors.PermanentError
	if err := cn.Delete(t.Context(), c, connectors.Delete{ChatID: thread, MessageID: ts}); !errors.As(err, &pe) || !strings.Contains(err.Error(), "message_not_found") {
		t.Fatalf("second delete: %v", err)
	}
	for _, bad := range []connectors.Edit{
		{ChatID: thread, MessageID: "12", Text: "x"},
		{ChatID: thread, MessageID: ts, Text: "  "},
		{ChatID: thread, MessageID: ts, Text: strings.Repeat("x", 4001)},
		{ChatID: "not-a-chat", MessageID: ts, Text: "x"},
	} {
		if _, err := cn.Edit(t.Context(), c, bad); !errors.As(err, &pe) {
			t.Errorf("Edit(%+v) = %v, want permanent", bad.MessageID, err)
		}
	}
}

func TestSendErrors(t *testing.T) {
	cn, c, srv := setup(t)
	send := func() error {
		_, err := cn.Send(t.Context(), c, connectors.Outbound{ChatID: channel, Text: "x"})
		return err
	}
	srv.RateLimitNext("chat.postMessage", 1, 7)
	var rl *connectors.RateLimitedError
	if err := send(); !errors.As(err, &rl) || rl.RetryAfter != 7*time.Second {
		t.Fatalf("rate limited: %v", err)
	}
	srv.FailNext("chat.postMessage", 1, "ratelimited")
	if err := send(); !errors.As(err, &rl) || rl.RetryAfter != time.Second {
		t.Fatalf("ratelimited error code: %v", err)
	}
	for _, code := range []string{"channel_not_found", "not_in_channel", "invalid_auth", "account_inactive", "is_archived", "token_revoked"} {
		srv.FailNext("chat.postMessage", 1, code)
		err := send()
		var pe *connectors.PermanentError
		if !errors.As(err, &pe) || !strings.Contains(err.Error(), code) {
			t.Errorf("%s: %v, want a permanent error naming it", code, err)
		}
	}
	srv.FailNext("chat.postMessage", 1, "internal_error")
	srv.ServerErrorNext("chat.postMessage", 1, 503)
	for _, what := range []string{"internal_error", "HTTP 503"} {
		err := send()
		var pe *connectors.PermanentError
		if err == nil || errors.As(err, &pe) || errors.As(err, &rl) {
			t.Errorf("%s: %v, want a transient error", what, err)
		}
	}
	if err := send(); err != nil {
		t.Fatalf("after the failures: %v", err)
	}
	for _, bad := range []connectors.Outbound{
		{ChatID: "42", Text: "x"},
		{ChatID: channel + ":notats", Text: "x"},
		{ChatID: channel, Text: " "},
	} {
		_, err := cn.Send(t.Context(), c, bad)
		var pe *connectors.PermanentError
		if !errors.As(err, &pe) {
			t.Errorf("Send(%+v) = %v, want permanent", bad, err)
		}
	}
	// A wrong bot token is permanent too, and never echoed.
	_, err := cn.Send(t.Context(), connectortest.WithSettings(c, "bot_token", "xoxb-0000000000-wrong"), connectors.Outbound{ChatID: dm, Text: "x"})
	var pe *connectors.PermanentError
	if !errors.As(err, &pe) || strings.Contains(err.Error(), "xoxb-") {
		t.Fatalf("wrong token: %v", err)
	}
}

// Messages to one channel are spaced about a second apart (threads of that
// channel included); other channels do not wait.
func TestSendIsPacedPerChannel(t *testing.T) {
	srv := slacktest.New(t, botToken, appToken)
	cn := slack.New(slack.Options{APIURL: srv.APIURL(), Logger: connectortest.QuietLogger()})
	t.Cleanup(func() { _ = cn.Close() })
	c := connectors.Conn{ID: connID, LineID: lineID, Settings: connectors.Settings{"bot_token": botToken}}
	var mu sync.Mutex
	now := time.Unix(1700000000, 0)
	var waits []time.Duration
	cn.SetPacerClock(func() time.Time { mu.Lock(); defer mu.Unlock(); return now },
		func(_ context.Context, d time.Duration) error {
			mu.Lock()
			defer mu.Unlock()
			waits = append(waits, d)
			return nil
		})
	for _, chat := range []string{channel, channel + ":1700000000.000100", "C0OTHER01", channel} {
		if _, err := cn.Send(t.Context(), c, connectors.Outbound{ChatID: chat, Text: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	// channel: now; its thread: +1s; other channel: now; channel again: +2s.
	if len(waits) != 2 || waits[0] != time.Second || waits[1] != 2*time.Second {
		t.Fatalf("pauses = %v, want [1s 2s]", waits)
	}
	// A rate limit holds the channel back for as long as Slack said.
	waits = nil
	srv.RateLimitNext("chat.postMessage", 1, 30)
	if _, err := cn.Send(t.Context(), c, connectors.Outbound{ChatID: "C0THIRD01", Text: "x"}); err == nil {
		t.Fatal("rate limit not reported")
	}
	if _, err := cn.Send(t.Context(), c, connectors.Outbound{ChatID: "C0THIRD01", Text: "x"}); err != nil {
		t.Fatal(err)
	}
	if len(waits) != 1 || waits[0] != 30*time.Second {
		t.Fatalf("pauses after a rate limit = %v, want [30s]", waits)
	}
}
