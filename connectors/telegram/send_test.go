package telegram_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/telegram"
	"github.com/connector-gateway/connector/connectors/telegram/telegramtest"
)

// longText builds n runes of prose: words (some multi-byte), sentences,
// lines and paragraphs, from a fixed seed.
func longText(n int) string {
	r := rand.New(rand.NewPCG(1, 2))
	words := []string{"telegram", "gateway", "message", "été", "naïve", "東京", "ok", "a", "connector", "😀"}
	var b strings.Builder
	count := 0
	for count < n {
		w := words[r.IntN(len(words))]
		sep := " "
		switch r.IntN(40) {
		case 0:
			sep = ". "
		case 1:
			sep = "\n"
		case 2:
			sep = ".\n\n"
		}
		b.WriteString(w + sep)
		count += utf8.RuneCountInString(w + sep)
	}
	runes := []rune(b.String())
	return string(runes[:n])
}

// assertReassembles checks that parts, in order, are text with only
// whitespace dropped between them.
func assertReassembles(t *testing.T, text string, parts []string) {
	t.Helper()
	rest := text
	for i, p := range parts {
		rest = strings.TrimLeftFunc(rest, unicode.IsSpace)
		if !strings.HasPrefix(rest, p) {
			t.Fatalf("part %d does not continue the text:\npart starts %q\ntext continues %q", i, head(p), head(rest))
		}
		rest = rest[len(p):]
	}
	if strings.TrimSpace(rest) != "" {
		t.Fatalf("text left over after the parts: %q", head(rest))
	}
}

func head(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

func TestSendSplitsLongText(t *testing.T) {
	cn, c, srv := setup(t)
	text := longText(10000)
	d, err := cn.Send(t.Context(), c, connectors.Outbound{ChatID: chatID, Text: text, ReplyTo: "17"})
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	calls := srv.Calls("sendMessage")
	if len(calls) < 3 {
		t.Fatalf("sent %d parts, want at least 3 for 10000 runes", len(calls))
	}
	var parts []string
	for i, call := range calls {
		p := call.Get("text")
		parts = append(parts, p)
		if n := utf8.RuneCountInString(p); n > 4096 || n == 0 {
			t.Errorf("part %d has %d runes", i, n)
		}
		if call.Get("chat_id") != chatID {
			t.Errorf("part %d chat_id = %q", i, call.Get("chat_id"))
		}
		wantReply := ""
		if i == 0 {
			wantReply = "17"
		}
		if got := call.Get("reply_to_message_id"); got != wantReply {
			t.Errorf("part %d reply_to_message_id = %q, want %q", i, got, wantReply)
		}
	}
	assertReassembles(t, text, parts)
	// The fake numbers messages 1, 2, 3... in arrival order.
	if len(d.MessageIDs) != len(calls) {
		t.Fatalf("Delivery has %d ids for %d parts", len(d.MessageIDs), len(calls))
	}
	for i, id := range d.MessageIDs {
		if id != strconv.Itoa(i+1) {
			t.Errorf("MessageIDs = %v, want 1..%d in order", d.MessageIDs, len(calls))
			break
		}
	}
}

func TestSendSplitPrefersBetterBreaks(t *testing.T) {
	para := strings.Repeat("word ", 600)              // 3000 runes
	lines := strings.Repeat("line of text\n", 250)    // 3250 runes
	sentences := strings.Repeat("A short one. ", 350) // 4550 runes
	cases := []struct {
		name      string
		text      string
		wantFirst string
	}{
		{"paragraph over newline", strings.TrimSpace(para) + "\n\n" + lines, strings.TrimSpace(para)},
		{"newline over sentence", strings.Repeat("Sentence here. ", 200) + "\n" + sentences, strings.TrimSpace(strings.Repeat("Sentence here. ", 200))},
		{"sentence over space", sentences, strings.TrimSpace(strings.Repeat("A short one. ", 315))},
		{"space over hard cut", strings.Repeat("abc ", 1100), strings.TrimSpace(strings.Repeat("abc ", 1024))},
		{"hard cut", strings.Repeat("é", 9000), strings.Repeat("é", 4096)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cn, c, srv := setup(t)
			if _, err := cn.Send(t.Context(), c, connectors.Outbound{ChatID: chatID, Text: tc.text}); err != nil {
				t.Fatalf("Send: %v", err)
			}
			var parts []string
			for _, call := range srv.Calls("sendMessage") {
				parts = append(parts, call.Get("text"))
			}
			if len(parts) < 2 || parts[0] != tc.wantFirst {
				t.Fatalf("first of %d parts = %q…(%d runes), want %q…(%d runes)", len(parts),
					head(parts[0]), utf8.RuneCountInString(parts[0]), head(tc.wantFirst), utf8.RuneCountInString(tc.wantFirst))
			}
			assertReassembles(t, tc.text, parts)
		})
	}
}

func TestSendShortTextIsOneMessage(t *testing.T) {
	cn, c, srv := setup(t)
	text := strings.Repeat("ü", 4096)
	d, err := cn.Send(t.Context(), c, connectors.Outbound{ChatID: chatID, Text: text})
	if err != nil {
		t.Fatal(err)
	}
	calls := srv.Calls("sendMessage")
	if len(calls) != 1 || calls[0].Get("text") != text || len(d.MessageIDs) != 1 || d.MessageIDs[0] != "1" {
		t.Fatalf("got %d calls, delivery %v", len(calls), d)
	}
	if calls[0].Has("reply_to_message_id") {
		t.Error("reply_to_message_id sent without ReplyTo")
	}
}

func TestSendRejectsBadInputWithoutCalling(t *testing.T) {
	cn, c, srv := setup(t)
	for name, m := range map[string]connectors.Outbound{
		"empty text":   {ChatID: chatID},
		"blank text":   {ChatID: chatID, Text: " \n\t "},
		"bad chat":     {ChatID: "@someone", Text: "hi"},
		"empty chat":   {Text: "hi"},
		"bad reply":    {ChatID: chatID, Text: "hi", ReplyTo: "msg-1"},
		"file by path": {ChatID: chatID, Text: "hi", Files: []connectors.OutFile{{URL: "/tmp/y.png"}}},
		"file by ftp":  {ChatID: chatID, Files: []connectors.OutFile{{URL: "ftp://x/y.png"}}},
	} {
		_, err := cn.Send(t.Context(), c, m)
		var perm *connectors.PermanentError
		if !errors.As(err, &perm) {
			t.Errorf("%s: err = %v, want PermanentError", name, err)
		}
	}
	if n := len(srv.Calls("sendMessage")); n != 0 {
		t.Errorf("sendMessage called %d times for bad input", n)
	}
}

func TestSendErrorMapping(t *testing.T) {
	cases := []struct {
		code       int
		desc       string
		retryAfter int
		check      func(t *testing.T, err error)
	}{
		{429, "Too Many Requests: retry after 7", 7, func(t *testing.T, err error) {
			var rl *connectors.RateLimitedError
			if !errors.As(err, &rl) || rl.RetryAfter != 7*time.Second {
				t.Errorf("err = %#v, want RateLimitedError 7s", err)
			}
		}},
		{403, "Forbidden: bot was blocked by the user", 0, wantPermanent},
		{403, "Forbidden: bot was kicked from the group chat", 0, wantPermanent},
		{400, "Bad Request: chat not found", 0, wantPermanent},
		{401, "Unauthorized", 0, wantPermanent},
		{500, "Internal Server Error", 0, wantTransient},
		{502, "Bad Gateway", 0, wantTransient},
	}
	for _, tc := range cases {
		t.Run(strconv.Itoa(tc.code)+" "+tc.desc, func(t *testing.T) {
			cn, c, srv := setup(t)
			srv.FailNext("sendMessage", 1, tc.code, tc.desc, tc.retryAfter)
			d, err := cn.Send(t.Context(), c, connectors.Outbound{ChatID: chatID, Text: "hello"})
			if err == nil {
				t.Fatalf("Send succeeded: %v", d)
			}
			if !strings.Contains(err.Error(), "telegram: send: "+tc.desc) {
				t.Errorf("error text %q does not say what Telegram said", err)
			}
			tc.check(t, err)
			if n := len(srv.Calls("sendMessage")); n != 1 {
				t.Errorf("sendMessage called %d times, want 1 (no retry inside Send)", n)
			}
			if tc.code == 429 {
				// The chat stays closed for retry_after: a send that cannot
				// wait that long is refused without calling Telegram...
				ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
				defer cancel()
				var rl *connectors.RateLimitedError
				if _, err := cn.Send(ctx, c, connectors.Outbound{ChatID: chatID, Text: "again"}); !errors.As(err, &rl) || rl.RetryAfter <= 2*time.Second {
					t.Errorf("send to the limited chat: err = %v, want RateLimitedError for the rest of retry_after", err)
				}
				if n := len(srv.Calls("sendMessage")); n != 1 {
					t.Errorf("sendMessage called %d times, want 1", n)
				}
				// ...while other chats are not held up.
				if _, err := cn.Send(t.Context(), c, connectors.Outbound{ChatID: "777", Text: "other chat"}); err != nil {
					t.Errorf("send to another chat: %v", err)
				}
				return
			}
			// The failure was one-off: the next send goes through.
			if _, err := cn.Send(t.Context(), c, connectors.Outbound{ChatID: chatID, Text: "again"}); err != nil {
				t.Errorf("second Send: %v", err)
			}
		})
	}
}

func wantPermanent(t *testing.T, err error) {
	t.Helper()
	var perm *connectors.PermanentError
	var rl *connectors.RateLimitedError
	if !errors.As(err, &perm) || errors.As(err, &rl) {
		t.Errorf("err = %#v, want PermanentError only", err)
	}
}

func wantTransient(t *testing.T, err error) {
	t.Helper()
	var perm *connectors.PermanentError
	var rl *connectors.RateLimitedError
	if errors.As(err, &perm) || errors.As(err, &rl) {
		t.Errorf("err = %#v, want a plain transient error", err)
	}
}

func TestSendRateLimitWithoutRetryAfter(t *testing.T) {
	cn, c, srv := setup(t)
	srv.FailNext("sendMessage", 1, 429, "Too Many Requests", 0)
	_, err := cn.Send(t.Context(), c, connectors.Outbound{ChatID: chatID, Text: "hi"})
	var rl *connectors.RateLimitedError
	if !errors.As(err, &rl) || rl.RetryAfter <= 0 {
		t.Fatalf("err = %v, want RateLimitedError with a positive wait", err)
	}
}

// failSecondSend is a transport that makes the fake fail the second
// sendMessage with 403, as if the user blocked the bot mid-way.
type failSecondSend struct {
	srv   *telegramtest.Server
	sends atomic.Int32
}

func (f *failSecondSend) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.HasSuffix(req.URL.Path, "/sendMessage") && f.sends.Add(1) == 2 {
		f.srv.FailNext("sendMessage", 1, 403, "Forbidden: bot was blocked by the user", 0)
	}
	return http.DefaultTransport.RoundTrip(req)
}

func TestSendLaterPartFailureReportsSentParts(t *testing.T) {
	_, c, srv := setup(t)
	opts := fastOptions(srv.Endpoint())
	opts.HTTPClient = &http.Client{Transport: &failSecondSend{srv: srv}}
	cn := telegram.New(opts)
	text := strings.Repeat("x", 4096) + " " + strings.Repeat("y", 4096) + " z"
	d, err := cn.Send(t.Context(), c, connectors.Outbound{ChatID: chatID, Text: text})
	wantPermanent(t, err)
	if len(d.MessageIDs) != 1 || d.MessageIDs[0] != "1" {
		t.Errorf("Delivery = %v, want the id of the part that was sent", d)
	}
	if n := len(srv.Calls("sendMessage")); n != 2 {
		t.Errorf("sendMessage called %d times, want 2 (stop at the failed part)", n)
	}
}

func TestSendNeverLeaksToken(t *testing.T) {
	cn, c, srv := setup(t)
	srv.Close() // every request now fails in the transport, whose errors quote the URL
	ops := map[string]func() error{
		"send": func() error {
			_, err := cn.Send(t.Context(), c, connectors.Outbound{ChatID: chatID, Text: "hi"})
			return err
		},
		"edit": func() error {
			_, err := cn.Edit(t.Context(), c, connectors.Edit{ChatID: chatID, MessageID: "1", Text: "hi"})
			return err
		},
		"delete":     func() error { return cn.Delete(t.Context(), c, connectors.Delete{ChatID: chatID, MessageID: "1"}) },
		"typing":     func() error { return cn.Typing(t.Context(), c, chatID) },
		"activate":   func() error { return cn.Activate(t.Context(), c) },
		"deactivate": func() error { return cn.Deactivate(t.Context(), c) },
	}
	secretPart := token[strings.Index(token, ":")+1:]
	for name, op := range ops {
		err := op()
		if err == nil {
			t.Errorf("%s: no error from a closed server", name)
			continue
		}
		for e := err; e != nil; e = errors.Unwrap(e) {
			if strings.Contains(e.Error(), secretPart) {
				t.Errorf("%s: error leaks the token: %q", name, e.Error())
			}
		}
		if !strings.Contains(err.Error(), "<token>") {
			t.Errorf("%s: error %q lost the scrubbed URL", name, err)
		}
		wantTransient(t, err)
	}
}

func TestSendHonoursContext(t *testing.T) {
	cn, c, _ := setup(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := cn.Send(ctx, c, connectors.Outbound{ChatID: chatID, Text: "hi"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if strings.Contains(err.Error(), token) {
		t.Errorf("error leaks the token: %q", err)
	}
}

func TestEditDeleteTyping(t *testing.T) {
	cn, c, srv := setup(t)
	sent, err := cn.Send(t.Context(), c, connectors.Outbound{ChatID: chatID, Text: "first"})
	if err != nil {
		t.Fatal(err)
	}
	id := sent.MessageIDs[0]

	d, err := cn.Edit(t.Context(), c, connectors.Edit{ChatID: chatID, MessageID: id, Text: "second"})
	if err != nil || len(d.MessageIDs) != 1 || d.MessageIDs[0] != id {
		t.Fatalf("Edit = %v, %v", d, err)
	}
	if calls := srv.Calls("editMessageText"); len(calls) != 1 || calls[0].Get("chat_id") != chatID ||
		calls[0].Get("message_id") != id || calls[0].Get("text") != "second" {
		t.Errorf("editMessageText calls = %v", calls)
	}

	if err := cn.Typing(t.Context(), c, chatID); err != nil {
		t.Fatal(err)
	}
	if calls := srv.Calls("sendChatAction"); len(calls) != 1 || calls[0].Get("action") != "typing" ||
		calls[0].Get("chat_id") != chatID {
		t.Errorf("sendChatAction calls = %v", calls)
	}

	if err := cn.Delete(t.Context(), c, connectors.Delete{ChatID: chatID, MessageID: id}); err != nil {
		t.Fatal(err)
	}
	if calls := srv.Calls("deleteMessage"); len(calls) != 1 || calls[0].Get("message_id") != id ||
		calls[0].Get("chat_id") != chatID {
		t.Errorf("deleteMessage calls = %v", calls)
	}

	// Same error mapping as Send.
	srv.FailNext("editMessageText", 1, 400, "Bad Request: message to edit not found", 0)
	if _, err := cn.Edit(t.Context(), c, connectors.Edit{ChatID: chatID, MessageID: id, Text: "x"}); err != nil {
		wantPermanent(t, err)
	} else {
		t.Error("Edit succeeded despite the failure")
	}
	srv.FailNext("deleteMessage", 1, 429, "Too Many Requests: retry after 3", 3)
	var rl *connectors.RateLimitedError
	if err := cn.Delete(t.Context(), c, connectors.Delete{ChatID: chatID, MessageID: id}); !errors.As(err, &rl) || rl.RetryAfter != 3*time.Second {
		t.Errorf("Delete err = %v, want RateLimitedError 3s", err)
	}
	srv.FailNext("sendChatAction", 1, 403, "Forbidden: bot was blocked by the user", 0)
	if err := cn.Typing(t.Context(), c, chatID); err != nil {
		wantPermanent(t, err)
	} else {
		t.Error("Typing succeeded despite the failure")
	}

	// Bad input is refused before calling Telegram.
	before := len(srv.Calls("editMessageText"))
	for name, e := range map[string]connectors.Edit{
		"empty":    {ChatID: chatID, MessageID: id},
		"too long": {ChatID: chatID, MessageID: id, Text: strings.Repeat("x", 4097)},
		"bad id":   {ChatID: chatID, MessageID: "abc", Text: "x"},
	} {
		_, err := cn.Edit(t.Context(), c, e)
		wantPermanent(t, err)
		if err == nil {
			t.Errorf("%s: Edit succeeded", name)
		}
	}
	if after := len(srv.Calls("editMessageText")); after != before {
		t.Errorf("bad edits reached Telegram (%d calls)", after-before)
	}
}
