package telegram_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/connectortest"
	"github.com/connector-gateway/connector/connectors/telegram"
	"github.com/connector-gateway/connector/connectors/telegram/telegramtest"
)

// FuzzParse feeds arbitrary bodies, with a valid secret, to the update
// parser: it must never panic, must refuse garbage as ErrMalformed without
// events, and every event it does make must be well formed (ids, chat,
// content, links without the token) and encodable.
func FuzzParse(f *testing.F) {
	f.Add([]byte(officialUpdate))
	f.Add([]byte(`{"update_id": 2, "edited_message": {"message_id": 3, "date": 1, "edit_date": 2,
		"chat": {"id": -5, "type": "group", "title": "G"}, "reply_to_message": {"message_id": 1},
		"forward_origin": {"type": "user"}, "text": "x"}}`))
	f.Add([]byte(`{"update_id": 3, "message": {"message_id": 1, "text": "no chat"}}`))
	f.Add([]byte(`{"update_id": 0}`))
	f.Add([]byte(`null`))
	f.Add([]byte{})
	for i, content := range []map[string]any{
		{"photo": []map[string]any{{"file_id": "a", "file_unique_id": "b", "width": 9, "height": 9, "file_size": 5}}, "caption": "c"},
		{"document": map[string]any{"file_id": "d", "file_unique_id": "e", "file_name": "x.pdf", "file_size": 30 << 20}},
		{"sticker": map[string]any{"file_id": "s", "file_unique_id": "t", "is_video": true, "emoji": "😀"}},
		{"venue": map[string]any{"location": map[string]any{"latitude": 1.5, "longitude": 2}, "title": "T", "address": "A"}},
		{"contact": map[string]any{"phone_number": "+1", "first_name": "A"}},
		{"text": "go 📦 here", "entities": []map[string]any{{"type": "text_link", "offset": 3, "length": 2, "url": "https://x"}}},
		{"new_chat_members": []map[string]any{{"id": 1, "is_bot": false, "first_name": "A"}}},
		{"poll": map[string]any{"question": "q", "options": []map[string]any{{"text": "a"}}}},
	} {
		f.Add(telegramtest.Update(10+i, 77, content))
	}

	cn := telegram.New(telegram.Options{})
	c := connectors.Conn{ID: connID, LineID: lineID, Files: &connectortest.Linker{}, Settings: connectors.Settings{
		"bot_token": token, "mode": "webhook", "webhook_secret": secret,
	}}
	h := http.Header{}
	h.Set("X-Telegram-Bot-Api-Secret-Token", secret)

	f.Fuzz(func(t *testing.T, body []byte) {
		in, err := cn.Parse(t.Context(), c, connectors.Request{Method: "POST", Header: h, Body: body})
		if err != nil {
			if !errors.Is(err, connectors.ErrMalformed) {
				t.Fatalf("error with a valid secret is not ErrMalformed: %v", err)
			}
			if len(in.Events) != 0 {
				t.Fatalf("events returned along with error %v", err)
			}
			return
		}
		if len(in.Events) > 1 {
			t.Fatalf("%d events from one update", len(in.Events))
		}
		for _, k := range in.Events {
			ev := k.Event
			if ev.ID == "" || k.DedupeKey == "" || ev.ID != connectors.EventID(k.DedupeKey) {
				t.Fatalf("bad ids: key %q, id %q", k.DedupeKey, ev.ID)
			}
			if ev.Chat == nil || ev.Chat.ID == "" || ev.Chat.ID == "0" {
				t.Fatalf("event without chat: %+v", ev)
			}
			m := ev.Message
			if m == nil || m.ID == "" {
				t.Fatalf("message event without message id: %+v", ev)
			}
			if m.Text == "" && len(m.Files) == 0 && m.Location == nil {
				t.Fatalf("message event with no content: %+v", m)
			}
			for _, fl := range m.Files {
				if fl.Kind == "" || (fl.URL == "") != fl.TooLarge {
					t.Fatalf("file %+v: want a kind, and a URL exactly when not too large", fl)
				}
			}
			js, err := json.Marshal(ev)
			if err != nil {
				t.Fatalf("event does not encode: %v", err)
			}
			if strings.Contains(string(js), token) {
				t.Fatal("event carries the token")
			}
		}
	})
}
