package app_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/connector-gateway/connector/connectors/telegram/telegramtest"
	"github.com/connector-gateway/connector/portal/portaltest"
	"github.com/connector-gateway/connector/portal/sdk"
	"github.com/connector-gateway/connector/queue/queuetest"
)

// A portal reporting "agent read message X" on a channel whose bots cannot
// mark messages read is told so at once (422 unsupported, in words), and
// nothing is queued for the messenger.
func TestReadOnTelegramIsUnsupported(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b queuetest.Backend) {
		tg := telegramtest.New(t, botToken)
		pt := portaltest.New(t)
		g := startGateway(t, testConfig(b, b.DSN(t), tg.Endpoint()))
		w := wire(t, g, tg, pt, 1)
		err := w.Client.Do(context.Background(), "POST", "/v1/connections/"+w.Conns[0]+"/read", map[string]string{"chat_id": "42", "message_id": "7"}, nil, nil)
		var ae *sdk.APIError
		if !errors.As(err, &ae) || ae.Status != http.StatusUnprocessableEntity || ae.Code != "unsupported" || !strings.Contains(ae.Message, "telegram") {
			t.Fatalf("read on Telegram: %v, want 422 unsupported naming the channel", err)
		}
		var n int
		if err := g.app.Store().DB.SQL.QueryRow("SELECT COUNT(*) FROM outbound_requests").Scan(&n); err != nil || n != 0 {
			t.Fatalf("%d outbound requests queued (%v), want none", n, err)
		}
	})
}
