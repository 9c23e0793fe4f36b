package app_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/telegram/telegramtest"
	"github.com/connector-gateway/connector/portal/portaltest"
	"github.com/connector-gateway/connector/queue/queuetest"
)

// Every inbound kind reaches the portal as the protocol says, in both
// receive modes, on both databases: the customer's photos, files, voice
// notes, places, contacts, edits, replies and forwards, in private chats and
// groups; service messages are skipped.
func TestTelegramInboundKinds(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b queuetest.Backend) {
		for _, mode := range []string{"webhook", "polling"} {
			t.Run(mode, func(t *testing.T) {
				tg := telegramtest.New(t, botToken)
				p := portaltest.New(t)
				cfg := reachableConfig(t, b, tg.Endpoint())
				g := startGateway(t, cfg)
				w := connectTelegram(t, g, tg, p, mode)
				file := func(id string, extra map[string]any) map[string]any {
					m := map[string]any{"file_id": id, "file_unique_id": "u" + id, "file_size": 1234}
					for k, v := range extra {
						m[k] = v
					}
					return m
				}
				group := map[string]any{"id": -1001500, "type": "supergroup", "title": "Acme customers"}
				updates := []struct {
					body  []byte
					check func(ev connectors.Event) string
				}{
					{rawUpdate(1, "message", map[string]any{"text": "hello"}), func(ev connectors.Event) string {
						return fmt.Sprintf("%s %s", ev.Type, ev.Message.Text)
					}},
					{rawUpdate(2, "message", map[string]any{"caption": "broken", "photo": []any{
						file("PS", map[string]any{"width": 90, "height": 90}), file("PL", map[string]any{"width": 1280, "height": 1280}),
					}}), fileSummary},
					{rawUpdate(3, "message", map[string]any{"document": file("DO", map[string]any{"file_name": "invoice.pdf", "mime_type": "application/pdf"})}), fileSummary},
					{rawUpdate(4, "message", map[string]any{"audio": file("AU", map[string]any{"duration": 3, "mime_type": "audio/mpeg"})}), fileSummary},
					{rawUpdate(5, "message", map[string]any{"voice": file("VO", map[string]any{"duration": 3, "mime_type": "audio/ogg"})}), fileSummary},
					{rawUpdate(6, "message", map[string]any{"video": file("VI", map[string]any{"duration": 3, "width": 1, "height": 1, "mime_type": "video/mp4"})}), fileSummary},
					{rawUpdate(7, "message", map[string]any{"video_note": file("VN", map[string]any{"duration": 3, "length": 240})}), fileSummary},
					{rawUpdate(8, "message", map[string]any{
						"animation": file("AN", map[string]any{"duration": 1, "width": 1, "height": 1, "mime_type": "video/mp4"}),
						"document":  file("AN", map[string]any{"mime_type": "video/mp4"}),
					}), fileSummary},
					{rawUpdate(9, "message", map[string]any{"sticker": file("ST", map[string]any{"type": "regular", "width": 512, "height": 512, "is_animated": false, "is_video": false, "emoji": "👍"})}), fileSummary},
					{rawUpdate(10, "message", map[string]any{"location": map[string]any{"latitude": 52.5, "longitude": 13.4}}), placeSummary},
					{rawUpdate(11, "message", map[string]any{"venue": map[string]any{"location": map[string]any{"latitude": 48.85, "longitude": 2.29}, "title": "Tower", "address": "Champ de Mars"},
						"location": map[string]any{"latitude": 48.85, "longitude": 2.29}}), placeSummary},
					{rawUpdate(12, "message", map[string]any{"contact": map[string]any{"phone_number": "+491701234567", "first_name": "Bo"}}), func(ev connectors.Event) string {
						return ev.Message.Text
					}},
					{rawUpdate(13, "edited_message", map[string]any{"message_id": 1, "edit_date": time.Now().Unix(), "text": "hello, edited"}), func(ev connectors.Event) string {
						return fmt.Sprintf("%s id=%s %s edited=%v", ev.Type, ev.Message.ID, ev.Message.Text, ev.Message.EditedAt != nil)
					}},
					{rawUpdate(14, "message", map[string]any{"text": "answering", "reply_to_message": map[string]any{"message_id": 1, "date": 1, "chat": map[string]any{"id": 4242, "type": "private"}}}), func(ev connectors.Event) string {
						return "reply_to=" + ev.Message.ReplyTo
					}},
					{rawUpdate(15, "message", map[string]any{"text": "look at this", "forward_origin": map[string]any{"type": "user", "date": 1, "sender_user": map[string]any{"id": 9, "is_bot": false, "first_name": "Cy"}}}), func(ev connectors.Event) string {
						return fmt.Sprintf("forwarded=%v", ev.Message.Forwarded)
					}},
					{rawUpdate(16, "message", map[string]any{"chat": group, "text": "hi all"}), func(ev connectors.Event) string {
						return fmt.Sprintf("%s %s %q", ev.Chat.ID, ev.Chat.Type, ev.Chat.Title)
					}},
					{rawUpdate(17, "message", map[string]any{"chat": group, "new_chat_members": []any{map[string]any{"id": 77, "is_bot": false, "first_name": "Di"}}}), nil},
					{rawUpdate(18, "message", map[string]any{"text": "end"}), func(ev connectors.Event) string { return ev.Message.Text }},
				}
				want := []string{
					"message.created hello",
					"photo photo_uPL.jpg image/jpeg link \"broken\"",
					"document invoice.pdf application/pdf link \"\"",
					"audio audio_uAU.mp3 audio/mpeg link \"\"",
					"voice voice_uVO.ogg audio/ogg link \"\"",
					"video video_uVI.mp4 video/mp4 link \"\"",
					"video_note video_note_uVN.mp4 video/mp4 link \"\"",
					"animation animation_uAN.mp4 video/mp4 link \"\"",
					"sticker sticker_uST.webp image/webp link \"👍\"",
					"52.5,13.4 \"\" \"\"",
					"48.85,2.29 \"Tower\" \"Champ de Mars\"",
					"Contact: Bo, +491701234567",
					"message.updated id=1 hello, edited edited=true",
					"reply_to=1",
					"forwarded=true",
					"-1001500 supergroup \"Acme customers\"",
					"end",
				}
				for _, u := range updates {
					w.deliver(t, g, tg, mode, u.body)
				}
				line := w.Lines[0]
				if !p.WaitFor(30*time.Second, func() bool { return len(p.Events(line)) >= len(want) }) {
					t.Fatalf("portal got %d events, want %d", len(p.Events(line)), len(want))
				}
				evs := p.Events(line)
				if len(evs) != len(want) {
					t.Fatalf("portal got %d events, want %d (the service message skipped)", len(evs), len(want))
				}
				checks := []func(connectors.Event) string{}
				for _, u := range updates {
					if u.check != nil {
						checks = append(checks, u.check)
					}
				}
				for i, ev := range evs {
					if got := checks[i](ev); got != want[i] {
						t.Errorf("event %d: %s, want %s", i, got, want[i])
					}
					if ev.Connector != "telegram" || ev.Connection != w.Conns[0] || ev.Line != line {
						t.Errorf("event %d header: %+v", i, ev)
					}
					if ev.User == nil || ev.User.Name != "Ann Berg" || ev.User.Username != "annb" || ev.User.Language != "de" ||
						ev.User.ProfileHash == "" || !strings.HasPrefix(ev.User.AvatarURL, cfg.PublicURL+"/files/") {
						t.Errorf("event %d user: %+v", i, ev.User)
					}
				}
				hashes := map[string]bool{}
				for _, ev := range evs {
					hashes[ev.User.ProfileHash] = true
				}
				if len(hashes) != 1 {
					t.Errorf("profile hash changed %d times for one unchanged profile", len(hashes)-1)
				}
			})
		}
	})
}

func fileSummary(ev connectors.Event) string {
	if ev.Message == nil || len(ev.Message.Files) != 1 {
		return fmt.Sprintf("files: %+v", ev.Message)
	}
	f := ev.Message.Files[0]
	link := "no link"
	if strings.Contains(f.URL, "/files/") {
		link = "link"
	}
	return fmt.Sprintf("%s %s %s %s %q", f.Kind, f.Name, f.Mime, link, ev.Message.Text)
}

func placeSummary(ev connectors.Event) string {
	l := ev.Message.Location
	if l == nil {
		return "no location"
	}
	return fmt.Sprintf("%v,%v %q %q", l.Latitude, l.Longitude, l.Title, l.Address)
}
