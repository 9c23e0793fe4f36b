package telegram_test

import (
	"errors"
	"net/http"
	"testing"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/telegram"
)

func FuzzParse(f *testing.F) {
	f.Add([]byte(officialUpdate))
	f.Add([]byte(`{"update_id": 2, "edited_message": {"message_id": 3, "date": 1, "edit_date": 2,
		"chat": {"id": -5, "type": "group", "title": "G"}, "reply_to_message": {"message_id": 1},
		"forward_origin": {"type": "user"}, "text": "x"}}`))
	f.Add([]byte(`{"update_id": 3, "message": {"message_id": 1, "text": "no chat"}}`))
	f.Add([]byte(`{"update_id": 0}`))
	f.Add([]byte(`null`))
	f.Add([]byte{})

	cn := telegram.New(telegram.Options{})
	c := connectors.Conn{ID: connID, LineID: lineID, Settings: connectors.Settings{
		"bot_token": token, "mode": "webhook", "webhook_secret": secret,
	}}
	h := http.Header{}
	h.Set("X-Telegram-Bot-Api-Secret-Token", secret)

	f.Fuzz(func(t *testing.T, body []byte) {
		in, err := cn.Parse(t.Context(), c, h, body)
		if err != nil {
			if !errors.Is(err, connectors.ErrMalformed) {
				t.Fatalf("error with a valid secret is not ErrMalformed: %v", err)
			}
			if len(in.Events) != 0 {
				t.Fatalf("events returned along with error %v", err)
			}
			return
		}
		for _, k := range in.Events {
			ev := k.Event
			if ev.ID == "" || k.DedupeKey == "" || ev.ID != connectors.EventID(k.DedupeKey) {
				t.Fatalf("bad ids: key %q, id %q", k.DedupeKey, ev.ID)
			}
			if ev.Chat == nil || ev.Chat.ID == "" {
				t.Fatalf("event without chat: %+v", ev)
			}
			if ev.Message == nil || ev.Message.Text == "" {
				t.Fatalf("message event without text: %+v", ev)
			}
		}
	})
}
