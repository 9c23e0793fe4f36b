package telegram

import (
	"context"
	"crypto/subtle"
	"fmt"

	"github.com/connector-gateway/connector/connectors"
)

// SecretHeader is the header Telegram puts the webhook secret_token in.
const SecretHeader = "X-Telegram-Bot-Api-Secret-Token"

// Parse checks the webhook secret and turns one update into events. It does
// not call Telegram.
//
//   - missing or wrong secret header (or no secret configured) → error
//     wrapping connectors.ErrUnauthorized;
//   - body that is not an update (bad JSON, no update_id, message without
//     chat or id) → error wrapping connectors.ErrMalformed;
//   - message → one message.created event, edited_message → one
//     message.updated event, for every content kind docs/protocol.md lists
//     (text, media as file links, location, venue, contact...);
//   - any other update, service messages and contents the gateway does not
//     carry → no events and a nil error (skipped on purpose).
//
// The dedupe key is "telegram:<connection id>:<update_id>", the same in
// webhook and polling mode.
func (cn *Connector) Parse(_ context.Context, c connectors.Conn, r connectors.Request) (connectors.Inbound, error) {
	h, body := r.Header, r.Body
	want := c.Settings[SettingWebhookSecret]
	got := h.Get(SecretHeader)
	if want == "" || got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return connectors.Inbound{}, fmt.Errorf("telegram: %s header missing or wrong: %w", SecretHeader, connectors.ErrUnauthorized)
	}
	events, err := parseUpdate(c, cn.users, body)
	if err != nil {
		return connectors.Inbound{}, err
	}
	return connectors.Inbound{Events: events}, nil
}
