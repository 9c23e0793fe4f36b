package telegram_test

import (
	"net/http"
	"testing"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/connectortest"
	"github.com/connector-gateway/connector/connectors/telegram"
	"github.com/connector-gateway/connector/connectors/telegram/telegramtest"
)

// TestConformance runs the connector suite against the fake Bot API.
func TestConformance(t *testing.T) {
	connectortest.Run(t, connectortest.Harness{
		New: func(t *testing.T) (connectors.Connector, connectors.Conn, connectortest.Messenger) {
			cn, c, srv := setup(t)
			return cn, c, botAPI{srv}
		},
		Settings:     connectors.Settings{telegram.SettingBotToken: token, telegram.SettingWebhookSecret: secret},
		Capabilities: []string{"edit", "delete", "typing", "files", "poll", "identify", "webhook"},
		Samples: func(c connectors.Conn) []connectortest.Sample {
			return []connectortest.Sample{
				{Name: "official update", Request: signed(c, []byte(officialUpdate))},
				{Name: "text message", Request: signed(c, telegramtest.Update(1001, chatIDInt, map[string]any{"text": "Hallo! Where is my order?"}))},
				{Name: "photo with caption", Request: signed(c, telegramtest.Update(1002, chatIDInt, map[string]any{
					"caption": "look",
					"photo": []map[string]any{
						{"file_id": "AgACAgIAAxkBAAIBQ2", "file_unique_id": "AQADsm", "width": 90, "height": 67, "file_size": 1254},
						{"file_id": "AgACAgIAAxkBAAIBQ3", "file_unique_id": "AQADsn", "width": 320, "height": 240, "file_size": 15432},
					},
				}))},
				{Name: "edited message in a supergroup", Request: signed(c, []byte(`{"update_id": 1003, "edited_message": {
					"message_id": 9, "date": 1700000000, "edit_date": 1700000600,
					"from": {"id": 42, "is_bot": false, "first_name": "Bo", "language_code": "de"},
					"chat": {"id": -1001234, "type": "supergroup", "title": "Team"},
					"text": "fixed typo"}}`))},
			}
		},
		Forged: func(c connectors.Conn) []connectortest.Sample {
			body := telegramtest.Update(1001, chatIDInt, map[string]any{"text": "hi"})
			wrong := signed(c, body)
			wrong.Header.Set(telegram.SecretHeader, "not-the-secret")
			return []connectortest.Sample{
				{Name: "wrong secret", Request: wrong},
				{Name: "no secret", Request: connectors.Request{Method: "POST", Header: http.Header{}, Body: body}},
			}
		},
		Sign: signed,
		BadCredentials: func(c connectors.Conn) connectors.Conn {
			return connectortest.WithSettings(c, telegram.SettingBotToken, "987654321:AAUnknownTokenTheFakeRefuses_0123456")
		},
	})
}

// signed is body as Telegram posts it to the connection's webhook.
func signed(c connectors.Conn, body []byte) connectors.Request {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set(telegram.SecretHeader, c.Settings[telegram.SettingWebhookSecret])
	return connectors.Request{Method: "POST", URL: entryURL, Header: h, Body: body}
}

// botAPI reads back what the fake Bot API received.
type botAPI struct{ srv *telegramtest.Server }

func (botAPI) Chat() string { return chatID }

func (b botAPI) Received(*testing.T) []connectortest.Op {
	var ops []connectortest.Op
	for _, call := range b.srv.Requests("") {
		f := call.Form
		switch call.Method {
		case "sendMessage":
			ops = append(ops, connectortest.Op{Kind: "send", ChatID: f.Get("chat_id"), Text: f.Get("text")})
		case "editMessageText":
			ops = append(ops, connectortest.Op{Kind: "edit", ChatID: f.Get("chat_id"), MessageID: f.Get("message_id"), Text: f.Get("text")})
		case "deleteMessage":
			ops = append(ops, connectortest.Op{Kind: "delete", ChatID: f.Get("chat_id"), MessageID: f.Get("message_id")})
		case "sendChatAction":
			if f.Get("action") == "typing" {
				ops = append(ops, connectortest.Op{Kind: "typing", ChatID: f.Get("chat_id")})
			}
		}
	}
	return ops
}
