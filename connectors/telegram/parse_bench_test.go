package telegram_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/telegram"
)

// BenchmarkParseText normalizes one official-format text update.
func BenchmarkParseText(b *testing.B) {
	c := telegram.New(telegram.Options{})
	conn := connectors.Conn{ID: "con_1", LineID: "lin_1", Settings: connectors.Settings{"bot_token": "1:x", "webhook_secret": "s"}}
	h := http.Header{}
	h.Set("X-Telegram-Bot-Api-Secret-Token", "s")
	body := []byte(`{"update_id":10000,"message":{"message_id":1365,"from":{"id":1111111,"is_bot":false,"first_name":"Ann","last_name":"Lee","username":"ann","language_code":"en"},"chat":{"id":1111111,"first_name":"Ann","last_name":"Lee","username":"ann","type":"private"},"date":1441645532,"text":"Hello, I need help with my order"}}`)
	b.SetBytes(int64(len(body)))
	for i := 0; i < b.N; i++ {
		in, err := c.Parse(context.Background(), conn, h, body)
		if err != nil || len(in.Events) != 1 {
			b.Fatal(err)
		}
	}
}
