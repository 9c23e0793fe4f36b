package telegram_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/connectortest"
)

// officialUpdate has the shape of the Bot API documentation's example
// update: a private text message.
const officialUpdate = `{
  "update_id": 10000,
  "message": {
    "message_id": 1365,
    "from": {"id": 1111111, "is_bot": false, "first_name": "Test", "last_name": "Lastname",
             "username": "Test", "language_code": "en"},
    "chat": {"id": 1111111, "first_name": "Test", "last_name": "Lastname", "username": "Test", "type": "private"},
    "date": 1441645532,
    "text": "/start"
  }
}`

func secretHeader(v string) http.Header {
	h := http.Header{}
	h.Set("X-Telegram-Bot-Api-Secret-Token", v)
	return h
}

func TestParseOfficialUpdate(t *testing.T) {
	cn, c, _ := setup(t)
	in, err := cn.Parse(t.Context(), c, connectors.Request{Method: "POST", Header: secretHeader(secret), Body: []byte(officialUpdate)})
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if in.Response != nil {
		t.Errorf("Response = %+v, want nil (default 200)", in.Response)
	}
	if len(in.Events) != 1 {
		t.Fatalf("got %d events, want 1", len(in.Events))
	}
	k := in.Events[0]
	if k.DedupeKey != "telegram:conn_1:10000" {
		t.Errorf("DedupeKey = %q", k.DedupeKey)
	}
	ev := k.Event
	want := connectors.Event{
		ID:         connectors.EventID("telegram:conn_1:10000"),
		Type:       connectors.TypeMessageCreated,
		OccurredAt: time.Date(2015, 9, 7, 17, 5, 32, 0, time.UTC),
		Connector:  "telegram",
		Channel:    "telegram",
		Connection: connID,
		Line:       lineID,
	}
	if ev.ID != want.ID || ev.Type != want.Type || !ev.OccurredAt.Equal(want.OccurredAt) ||
		ev.OccurredAt.Location() != time.UTC || ev.Connector != want.Connector ||
		ev.Channel != want.Channel || ev.Connection != want.Connection || ev.Line != want.Line {
		t.Errorf("event header = %+v\nwant %+v", ev, want)
	}
	if ev.Chat == nil || *ev.Chat != (connectors.Chat{ID: "1111111", Type: "private"}) {
		t.Errorf("Chat = %+v", ev.Chat)
	}
	if ev.User == nil {
		t.Fatal("User is nil")
	}
	if u := *ev.User; u.ID != "1111111" || u.Name != "Test Lastname" || u.Username != "Test" ||
		u.Language != "en" || len(u.ProfileHash) != 32 {
		t.Errorf("User = %+v", u)
	}
	if m := ev.Message; m == nil || m.ID != "1365" || m.Text != "/start" || m.ReplyTo != "" ||
		m.Forwarded || m.EditedAt != nil || m.Files != nil || m.Location != nil {
		t.Errorf("Message = %+v", ev.Message)
	}
	if ev.Status != nil || ev.Error != nil {
		t.Errorf("unexpected status/error: %+v %+v", ev.Status, ev.Error)
	}
	js, _ := json.Marshal(in)
	if strings.Contains(string(js), token) || strings.Contains(string(js), secret) {
		t.Error("event carries the token or the webhook secret")
	}
}

func TestParseEditedReplyForwardAndGroups(t *testing.T) {
	cn, c, _ := setup(t)
	body := `{"update_id": 77, "edited_message": {
		"message_id": 9, "date": 1700000000, "edit_date": 1700000600,
		"from": {"id": 42, "is_bot": false, "first_name": "Bo"},
		"chat": {"id": -1001234, "type": "supergroup", "title": "Team"},
		"reply_to_message": {"message_id": 5, "date": 1690000000, "chat": {"id": -1001234, "type": "supergroup"}},
		"forward_date": 1600000000,
		"text": "fixed typo"}}`
	in, err := cn.Parse(t.Context(), c, connectors.Request{Method: "POST", Header: secretHeader(secret), Body: []byte(body)})
	if err != nil || len(in.Events) != 1 {
		t.Fatalf("Parse = %+v, %v", in, err)
	}
	ev := in.Events[0].Event
	edited := time.Unix(1700000600, 0).UTC()
	if ev.Type != connectors.TypeMessageUpdated || !ev.OccurredAt.Equal(edited) {
		t.Errorf("type %q at %v, want message.updated at edit_date %v", ev.Type, ev.OccurredAt, edited)
	}
	if *ev.Chat != (connectors.Chat{ID: "-1001234", Type: "supergroup", Title: "Team"}) {
		t.Errorf("Chat = %+v", *ev.Chat)
	}
	if ev.User.Name != "Bo" || ev.User.Username != "" {
		t.Errorf("User = %+v", *ev.User)
	}
	m := ev.Message
	if m.ID != "9" || m.ReplyTo != "5" || !m.Forwarded || m.Text != "fixed typo" ||
		m.EditedAt == nil || !m.EditedAt.Equal(edited) {
		t.Errorf("Message = %+v", *m)
	}

	// Bot API 7+ reports forwards with forward_origin instead of forward_date.
	origin := `{"update_id": 78, "message": {"message_id": 10, "date": 1700000000,
		"chat": {"id": 42, "type": "private"}, "from": {"id": 42, "is_bot": false, "first_name": "Bo"},
		"forward_origin": {"type": "hidden_user", "sender_user_name": "X", "date": 1600000000},
		"text": "fwd"}}`
	in, err = cn.Parse(t.Context(), c, connectors.Request{Method: "POST", Header: secretHeader(secret), Body: []byte(origin)})
	if err != nil || len(in.Events) != 1 {
		t.Fatalf("Parse = %+v, %v", in, err)
	}
	if !in.Events[0].Event.Message.Forwarded {
		t.Error("forward_origin message not marked Forwarded")
	}
	if in.Events[0].Event.Message.EditedAt != nil {
		t.Error("new message has EditedAt")
	}
}

func TestParseProfileHashTracksProfile(t *testing.T) {
	cn, c, srv := setup(t)
	hash := func(body string) string {
		t.Helper()
		in, err := cn.Parse(t.Context(), c, connectors.Request{Method: "POST", Header: secretHeader(secret), Body: []byte(body)})
		if err != nil || len(in.Events) != 1 {
			t.Fatalf("Parse = %+v, %v", in, err)
		}
		return in.Events[0].Event.User.ProfileHash
	}
	base := hash(string(srv.Update(1, 42, "hi")))
	if again := hash(string(srv.Update(2, 42, "other text"))); again != base {
		t.Error("hash changed though the profile did not")
	}
	renamed := strings.Replace(string(srv.Update(3, 42, "hi")), `"first_name":"Ann"`, `"first_name":"Anna"`, -1)
	if hash(renamed) == base {
		t.Error("hash did not change with the first name")
	}
	lang := strings.Replace(string(srv.Update(4, 42, "hi")), `"language_code":"en"`, `"language_code":"de"`, 1)
	if hash(lang) == base {
		t.Error("hash did not change with the language")
	}
}

func TestParseSkipsOtherUpdates(t *testing.T) {
	cn, c, _ := setup(t)
	for name, body := range map[string]string{
		"game (not carried)": `{"update_id": 5, "message": {"message_id": 1, "date": 1, "chat": {"id": 1, "type": "private"},
			"game": {"title": "g", "description": "d", "photo": []}}}`,
		"callback query": `{"update_id": 6, "callback_query": {"id": "1", "from": {"id": 1, "is_bot": false, "first_name": "A"}, "chat_instance": "c", "data": "d"}}`,
		"channel post":   `{"update_id": 7, "channel_post": {"message_id": 1, "date": 1, "chat": {"id": -100, "type": "channel"}, "text": "news"}}`,
		"unknown kind":   `{"update_id": 8, "message_reaction": {}}`,
	} {
		in, err := cn.Parse(t.Context(), c, connectors.Request{Method: "POST", Header: secretHeader(secret), Body: []byte(body)})
		if err != nil || len(in.Events) != 0 {
			t.Errorf("%s: Parse = %+v, %v; want no events, nil error", name, in, err)
		}
	}
}

func TestParseRejectsBadSecret(t *testing.T) {
	cn, c, srv := setup(t)
	body := srv.Update(1, chatIDInt, "hi")
	for name, h := range map[string]http.Header{
		"missing":     {},
		"empty":       secretHeader(""),
		"wrong":       secretHeader("s3cret_webhook-valuE"),
		"prefix only": secretHeader(secret[:5]),
		"longer":      secretHeader(secret + "x"),
	} {
		if _, err := cn.Parse(t.Context(), c, connectors.Request{Method: "POST", Header: h, Body: body}); !errors.Is(err, connectors.ErrUnauthorized) {
			t.Errorf("%s header: err = %v, want ErrUnauthorized", name, err)
		}
	}
	// A connection without a secret accepts nothing, not everything.
	noSecret := connectortest.WithSettings(c, "webhook_secret", "")
	if _, err := cn.Parse(t.Context(), noSecret, connectors.Request{Method: "POST", Header: secretHeader(""), Body: body}); !errors.Is(err, connectors.ErrUnauthorized) {
		t.Errorf("no configured secret: err = %v, want ErrUnauthorized", err)
	}
}

func TestParseRejectsMalformed(t *testing.T) {
	cn, c, _ := setup(t)
	for name, body := range map[string]string{
		"empty":            ``,
		"not json":         `<html>`,
		"truncated":        `{"update_id": 1, "message": {"text": "hi"`,
		"null":             `null`,
		"no update_id":     `{"message": {"message_id": 1, "date": 1, "chat": {"id": 1, "type": "private"}, "text": "hi"}}`,
		"string id":        `{"update_id": "1"}`,
		"array":            `[1,2]`,
		"text, no chat":    `{"update_id": 3, "message": {"message_id": 1, "date": 1, "text": "hi"}}`,
		"wrong field type": `{"update_id": 4, "message": {"message_id": "one", "chat": {"id": 1}, "text": "hi"}}`,
	} {
		in, err := cn.Parse(t.Context(), c, connectors.Request{Method: "POST", Header: secretHeader(secret), Body: []byte(body)})
		if !errors.Is(err, connectors.ErrMalformed) {
			t.Errorf("%s: Parse = %+v, %v; want ErrMalformed", name, in, err)
		}
	}
}
