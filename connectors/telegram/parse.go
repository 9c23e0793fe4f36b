package telegram

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/connector-gateway/connector/connectors"
)

// SecretHeader is the header Telegram puts the webhook secret_token in.
const SecretHeader = "X-Telegram-Bot-Api-Secret-Token"

// Parse checks the webhook secret and turns one update into events. It does
// not call Telegram.
//
//   - missing or wrong secret header (or no secret configured) → error
//     wrapping connectors.ErrUnauthorized;
//   - body that is not an update (bad JSON, update_id 0, message without
//     chat) → error wrapping connectors.ErrMalformed;
//   - message with text → one message.created event;
//   - edited_message with text → one message.updated event;
//   - any other update → no events and a nil error (skipped on purpose).
//
// The dedupe key is "telegram:<connection id>:<update_id>".
func (*Connector) Parse(_ context.Context, c connectors.Conn, h http.Header, body []byte) (connectors.Inbound, error) {
	want := c.Settings[SettingWebhookSecret]
	got := h.Get(SecretHeader)
	if want == "" || got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return connectors.Inbound{}, fmt.Errorf("telegram: %s header missing or wrong: %w", SecretHeader, connectors.ErrUnauthorized)
	}

	var u tgbotapi.Update
	if err := json.Unmarshal(body, &u); err != nil {
		return connectors.Inbound{}, fmt.Errorf("telegram: decode update: %w: %v", connectors.ErrMalformed, err)
	}
	if u.UpdateID == 0 {
		return connectors.Inbound{}, fmt.Errorf("telegram: update without update_id: %w", connectors.ErrMalformed)
	}

	typ, msg := connectors.TypeMessageCreated, u.Message
	if msg == nil {
		typ, msg = connectors.TypeMessageUpdated, u.EditedMessage
	}
	if msg == nil || msg.Text == "" {
		return connectors.Inbound{}, nil
	}
	if msg.Chat == nil {
		return connectors.Inbound{}, fmt.Errorf("telegram: message without chat: %w", connectors.ErrMalformed)
	}

	key := "telegram:" + c.ID + ":" + strconv.Itoa(u.UpdateID)
	ev := connectors.Event{
		ID:         connectors.EventID(key),
		Type:       typ,
		OccurredAt: time.Unix(int64(msg.Date), 0).UTC(),
		Connector:  Type,
		Channel:    Type,
		Connection: c.ID,
		Line:       c.LineID,
		Chat: &connectors.Chat{
			ID:    strconv.FormatInt(msg.Chat.ID, 10),
			Type:  msg.Chat.Type,
			Title: msg.Chat.Title,
		},
		User: user(msg.From),
		Message: &connectors.Message{
			ID:        strconv.Itoa(msg.MessageID),
			Text:      msg.Text,
			Forwarded: msg.ForwardDate != 0 || hasForwardOrigin(body, typ),
		},
	}
	if msg.ReplyToMessage != nil {
		ev.Message.ReplyTo = strconv.Itoa(msg.ReplyToMessage.MessageID)
	}
	if typ == connectors.TypeMessageUpdated && msg.EditDate != 0 {
		edited := time.Unix(int64(msg.EditDate), 0).UTC()
		ev.OccurredAt = edited
		ev.Message.EditedAt = &edited
	}
	return connectors.Inbound{Events: []connectors.Keyed{{DedupeKey: key, Event: ev}}}, nil
}

// user normalizes a Telegram user; nil stays nil.
func user(u *tgbotapi.User) *connectors.User {
	if u == nil {
		return nil
	}
	out := &connectors.User{
		ID:       strconv.FormatInt(u.ID, 10),
		Name:     strings.TrimSpace(u.FirstName + " " + u.LastName),
		Username: u.UserName,
		Language: u.LanguageCode,
	}
	out.ProfileHash = profileHash(out.ID, u.FirstName, u.LastName, out.Username, out.Language)
	return out
}

// profileHash is hex(sha256(fields)[:16]), each field length-prefixed so
// that no two different field lists hash the same input.
func profileHash(fields ...string) string {
	h := sha256.New()
	for _, f := range fields {
		fmt.Fprintf(h, "%d:%s", len(f), f)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// hasForwardOrigin reports whether the message carries forward_origin, the
// field Bot API 7.0 introduced in place of forward_date (which the library
// version we use does not know).
func hasForwardOrigin(body []byte, typ string) bool {
	var probe struct {
		Message *struct {
			ForwardOrigin json.RawMessage `json:"forward_origin"`
		} `json:"message"`
		EditedMessage *struct {
			ForwardOrigin json.RawMessage `json:"forward_origin"`
		} `json:"edited_message"`
	}
	if json.Unmarshal(body, &probe) != nil {
		return false
	}
	m := probe.Message
	if typ == connectors.TypeMessageUpdated {
		m = probe.EditedMessage
	}
	return m != nil && len(m.ForwardOrigin) > 0 && string(m.ForwardOrigin) != "null"
}
