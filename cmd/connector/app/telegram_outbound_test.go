package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/telegram/telegramtest"
	"github.com/connector-gateway/connector/portal/portaltest"
	"github.com/connector-gateway/connector/queue/queuetest"
)

// A customer's photo reaches the portal as a gateway link; fetching it
// returns the photo's bytes (and the avatar link the customer's picture);
// the bot token appears nowhere in the events, the links or the gateway's
// logs, not even when Telegram becomes unreachable. Both receive modes.
func TestTelegramPhotoLinkAndNoTokenLeak(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b queuetest.Backend) {
		for _, mode := range []string{"webhook", "polling"} {
			t.Run(mode, func(t *testing.T) {
				tg := telegramtest.New(t, botToken)
				p := portaltest.New(t)
				cfg := reachableConfig(t, b, tg.Endpoint())
				g, logs := startLoggedGateway(t, cfg)
				w := connectTelegram(t, g, tg, p, mode)
				tok, line := w.Tokens[0], w.Lines[0]

				photo := bytes.Repeat([]byte{0xFF, 0xD8, 0xFF, 0xE0, 'J', 'F', 'I', 'F'}, 4096)
				id, uid := tg.AddFile(photo)
				face := []byte("the customer's face")
				faceID, _ := tg.AddFile(face)
				tg.SetProfilePhoto(4242, faceID)
				big, bigUID := tg.AddBigFile(30 << 20)
				w.deliver(t, g, tg, mode,
					rawUpdate(1, "message", map[string]any{"caption": "my parcel", "photo": []any{
						map[string]any{"file_id": id + "-small", "file_unique_id": "s", "width": 90, "height": 90, "file_size": 900},
						map[string]any{"file_id": id, "file_unique_id": uid, "width": 1280, "height": 960, "file_size": len(photo)},
					}}),
					rawUpdate(2, "message", map[string]any{"document": map[string]any{"file_id": big, "file_unique_id": bigUID, "file_name": "film.mp4", "file_size": 30 << 20}}),
				)
				if !p.WaitFor(20*time.Second, func() bool { return len(p.Events(line)) == 2 }) {
					t.Fatalf("portal got %d events", len(p.Events(line)))
				}
				evs := p.Events(line)
				f := evs[0].Message.Files[0]
				if !strings.HasPrefix(f.URL, cfg.PublicURL+"/files/") || f.Kind != "photo" || evs[0].Message.Text != "my parcel" {
					t.Fatalf("photo = %+v", f)
				}
				code, body := get(t, f.URL)
				if code != http.StatusOK || !bytes.Equal(body, photo) {
					t.Fatalf("fetching the link: %d, %d bytes; want 200 and the photo's %d bytes", code, len(body), len(photo))
				}
				code, body = get(t, evs[0].User.AvatarURL)
				if code != http.StatusOK || !bytes.Equal(body, face) {
					t.Fatalf("fetching the avatar: %d %q", code, body)
				}
				// Over Telegram's download limit: a clear flag, no link, no
				// retries against Telegram.
				if bf := evs[1].Message.Files[0]; !bf.TooLarge || bf.URL != "" || bf.Name != "film.mp4" {
					t.Errorf("big file = %+v, want too_large without URL", bf)
				}
				for _, c := range tg.Calls("getFile") {
					if c.Get("file_id") == big {
						t.Error("the gateway asked Telegram for a file it knew was too large")
					}
				}
				// A forged or altered link is refused.
				if code, _ := get(t, f.URL+"x"); code != http.StatusNotFound {
					t.Errorf("altered link answered %d, want 404", code)
				}

				// Telegram unreachable: the fetch fails cleanly, and what is
				// logged about it carries no token.
				tg.Close()
				if code, _ := get(t, f.URL); code != http.StatusBadGateway {
					t.Errorf("fetch with Telegram down answered %d, want 502", code)
				}
				if mode == "polling" { // the poller, too, logs its failures
					deadline := time.Now().Add(15 * time.Second)
					for !strings.Contains(logs.String(), "telegram: poll:") && time.Now().Before(deadline) {
						time.Sleep(50 * time.Millisecond)
					}
					if !strings.Contains(logs.String(), "telegram: poll:") {
						t.Error("the poller logged nothing about Telegram being down")
					}
				}

				secretPart := tok[strings.Index(tok, ":")+1:]
				js, _ := json.Marshal(evs)
				for what, text := range map[string]string{"events": string(js), "logs": logs.String()} {
					if strings.Contains(text, secretPart) {
						t.Errorf("the bot token appears in the %s", what)
					}
				}
				if !strings.Contains(logs.String(), "<token>") {
					t.Error("no scrubbed transport error was logged; the leak check saw nothing to check")
				}
			})
		}
	})
}

// A 10,000-character reply arrives as ordered parts of at most 4,096
// characters, reported as one delivery with every part's id; a transient
// failure on a later part resends only what did not go out.
func TestTelegramLongReplySplitAndResumed(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b queuetest.Backend) {
		tg := telegramtest.New(t, botToken)
		p := portaltest.New(t)
		g := startGateway(t, reachableConfig(t, b, tg.Endpoint()))
		w := connectTelegram(t, g, tg, p, "webhook")
		var sb strings.Builder
		for i := 0; sb.Len() < 10000; i++ {
			sb.WriteString("Sentence number ")
			sb.WriteString(strings.Repeat("x", i%7))
			sb.WriteString(" of a long answer. ")
			if i%25 == 24 {
				sb.WriteString("\n\n")
			}
		}
		text := strings.TrimSpace(sb.String()[:10000])
		// The second part fails once with a server error.
		tg.FailAfter("sendMessage", 1, 500, "Internal Server Error", 0)
		acc, err := w.Client.Send(context.Background(), w.Conns[0], connectors.Outbound{ChatID: "4242", Text: text})
		if err != nil {
			t.Fatal(err)
		}
		st := statusOf(t, p, w.Lines[0], acc.ID)
		if st.Type != connectors.TypeStatusDelivered || st.Status.Attempts != 2 {
			t.Fatalf("status = %+v, want delivered on the 2nd attempt", st.Status)
		}
		msgs := tg.Messages(w.Tokens[0], 4242)
		if len(msgs) != 3 || len(st.Status.MessengerMessageIDs) != 3 {
			t.Fatalf("chat shows %d messages, status lists %v; want 3 parts, none twice", len(msgs), st.Status.MessengerMessageIDs)
		}
		joined := ""
		for i, m := range msgs {
			if n := utf8.RuneCountInString(m.Text); n > 4096 {
				t.Errorf("part %d has %d characters", i, n)
			}
			if want := st.Status.MessengerMessageIDs[i]; want != strconv.Itoa(m.ID) {
				t.Errorf("part %d has id %d, status lists %s", i, m.ID, want)
			}
			joined += m.Text
		}
		if strip(joined) != strip(text) {
			t.Error("the parts, in order, are not the reply")
		}
	})
}

func strip(s string) string { return strings.Join(strings.Fields(s), "") }

// Telegram's 429 on one chat delays that chat's reply until retry_after and
// the reply still arrives; meanwhile another chat's reply goes through.
func TestTelegramRateLimitedChatDoesNotBlockOthers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b queuetest.Backend) {
		tg := telegramtest.New(t, botToken)
		p := portaltest.New(t)
		g := startGateway(t, reachableConfig(t, b, tg.Endpoint()))
		w := connectTelegram(t, g, tg, p, "webhook")
		ctx := context.Background()
		tg.FailNext("sendMessage", 1, 429, "Too Many Requests: retry after 3", 3)
		slow, err := w.Client.Send(ctx, w.Conns[0], connectors.Outbound{ChatID: "1001", Text: "to the limited chat"})
		if err != nil {
			t.Fatal(err)
		}
		if !p.WaitFor(10*time.Second, func() bool { return len(tg.Calls("sendMessage")) == 1 }) {
			t.Fatal("first send never reached Telegram")
		}
		fast, err := w.Client.Send(ctx, w.Conns[0], connectors.Outbound{ChatID: "2002", Text: "to another chat"})
		if err != nil {
			t.Fatal(err)
		}
		fastSt := statusOf(t, p, w.Lines[0], fast.ID)
		for _, ev := range p.Events(w.Lines[0]) {
			if ev.Status != nil && ev.Status.RequestID == slow.ID {
				t.Fatal("the limited chat's reply was reported before retry_after passed")
			}
		}
		slowSt := statusOf(t, p, w.Lines[0], slow.ID)
		if fastSt.Type != connectors.TypeStatusDelivered || slowSt.Type != connectors.TypeStatusDelivered || slowSt.Status.Attempts != 2 {
			t.Fatalf("statuses: other chat %+v, limited chat %+v", fastSt.Status, slowSt.Status)
		}
		if msgs := tg.Messages(w.Tokens[0], 1001); len(msgs) != 1 || msgs[0].Text != "to the limited chat" {
			t.Fatalf("limited chat shows %+v, want the reply exactly once", msgs)
		}
		calls := tg.Requests("sendMessage")
		if gap := calls[len(calls)-1].At.Sub(calls[0].At); gap < 3*time.Second {
			t.Errorf("resent %s after the 429, before retry_after (3s)", gap)
		}
	})
}

// A customer who blocked the bot gets no endless retries: the portal hears
// status.failed in plain words after one attempt.
func TestTelegramBlockedUserFailsClearly(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b queuetest.Backend) {
		tg := telegramtest.New(t, botToken)
		p := portaltest.New(t)
		g := startGateway(t, reachableConfig(t, b, tg.Endpoint()))
		w := connectTelegram(t, g, tg, p, "webhook")
		tg.FailNext("sendMessage", 1, 403, "Forbidden: bot was blocked by the user", 0)
		acc, err := w.Client.Send(context.Background(), w.Conns[0], connectors.Outbound{ChatID: "4242", Text: "hello?"})
		if err != nil {
			t.Fatal(err)
		}
		st := statusOf(t, p, w.Lines[0], acc.ID)
		if st.Type != connectors.TypeStatusFailed || st.Status.Attempts != 1 || !strings.Contains(st.Status.Error, "blocked the bot") {
			t.Fatalf("status = %+v", st.Status)
		}
		if n := len(tg.Calls("sendMessage")); n != 1 {
			t.Errorf("sendMessage called %d times, want 1", n)
		}
	})
}

// Photo and document by URL, reply, edit of a text and of a caption,
// delete and typing, each through the portal API; each queued operation is
// reported delivered with the messenger's message id.
func TestTelegramOutboundOperations(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b queuetest.Backend) {
		tg := telegramtest.New(t, botToken)
		p := portaltest.New(t)
		g := startGateway(t, reachableConfig(t, b, tg.Endpoint()))
		w := connectTelegram(t, g, tg, p, "webhook")
		ctx := context.Background()
		line, conn, tok := w.Lines[0], w.Conns[0], w.Tokens[0]
		const chat = 4242

		acc, err := w.Client.Send(ctx, conn, connectors.Outbound{ChatID: "4242", Text: "Your label, see the terms too", ReplyTo: "17", Files: []connectors.OutFile{
			{URL: "https://cdn.example.com/label.png", Mime: "image/png"},
			{URL: "https://cdn.example.com/terms.pdf", Name: "terms.pdf", Mime: "application/pdf"},
		}})
		if err != nil {
			t.Fatal(err)
		}
		st := statusOf(t, p, line, acc.ID)
		msgs := tg.Messages(tok, chat)
		if st.Type != connectors.TypeStatusDelivered || len(st.Status.MessengerMessageIDs) != 2 || len(msgs) != 2 ||
			msgs[0].Kind != "photo" || msgs[0].Text != "Your label, see the terms too" || msgs[0].ReplyTo != 17 ||
			msgs[1].Kind != "document" || msgs[1].FileURL != "https://cdn.example.com/terms.pdf" {
			t.Fatalf("status %+v, chat %+v", st.Status, msgs)
		}
		photoID := st.Status.MessengerMessageIDs[0]

		acc, _ = w.Client.Send(ctx, conn, connectors.Outbound{ChatID: "4242", Text: "first words"})
		textID := statusOf(t, p, line, acc.ID).Status.MessengerMessageIDs[0]

		edit := func(id, text string) connectors.Event {
			t.Helper()
			var a struct {
				ID string `json:"id"`
			}
			if err := w.Client.Do(ctx, "PATCH", "/v1/connections/"+conn+"/messages/"+id, map[string]string{"chat_id": "4242", "text": text}, &a, nil); err != nil {
				t.Fatalf("edit: %v", err)
			}
			return statusOf(t, p, line, a.ID)
		}
		if st := edit(textID, "better words"); st.Type != connectors.TypeStatusDelivered || st.Status.Operation != "edit" || st.Status.MessengerMessageIDs[0] != textID {
			t.Fatalf("edit status %+v", st.Status)
		}
		if st := edit(photoID, "new caption"); st.Type != connectors.TypeStatusDelivered {
			t.Fatalf("caption edit status %+v", st.Status)
		}
		msgs = tg.Messages(tok, chat)
		if msgs[0].Text != "new caption" || msgs[2].Text != "better words" {
			t.Fatalf("after edits the chat shows %+v", msgs)
		}

		var del struct {
			ID string `json:"id"`
		}
		if err := w.Client.Do(ctx, "DELETE", "/v1/connections/"+conn+"/messages/"+textID+"?chat_id=4242", nil, &del, nil); err != nil {
			t.Fatal(err)
		}
		if st := statusOf(t, p, line, del.ID); st.Type != connectors.TypeStatusDelivered || st.Status.Operation != "delete" {
			t.Fatalf("delete status %+v", st.Status)
		}
		if n := len(tg.Messages(tok, chat)); n != 2 {
			t.Fatalf("after delete the chat shows %d messages, want 2", n)
		}
		// Deleting it again: Telegram says it is gone, in plain words.
		if err := w.Client.Do(ctx, "DELETE", "/v1/connections/"+conn+"/messages/"+textID+"?chat_id=4242", nil, &del, nil); err != nil {
			t.Fatal(err)
		}
		if st := statusOf(t, p, line, del.ID); st.Type != connectors.TypeStatusFailed || !strings.Contains(st.Status.Error, "does not exist") {
			t.Fatalf("second delete status %+v", st.Status)
		}

		if err := w.Client.Do(ctx, "POST", "/v1/connections/"+conn+"/typing", map[string]string{"chat_id": "4242"}, nil, nil); err != nil {
			t.Fatalf("typing: %v", err)
		}
		if calls := tg.Calls("sendChatAction"); len(calls) != 1 || calls[0].Get("action") != "typing" || calls[0].Get("chat_id") != "4242" {
			t.Fatalf("sendChatAction calls %v", calls)
		}
	})
}
