package app_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/telegram/telegramtest"
	"github.com/connector-gateway/connector/portal/portaltest"
	"github.com/connector-gateway/connector/queue/queuetest"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Logs at info level carry request ids and never a secret or a message body.
func TestLogsCarryRequestIDsAndNoSecrets(t *testing.T) {
	b := queuetest.Backends()[1]
	tg := telegramtest.New(t, botToken)
	p := portaltest.New(t)
	var buf syncBuf
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	g := startGatewayLog(t, testConfig(b, b.DSN(t), tg.Endpoint()), log)
	w := wire(t, g, tg, p, 1)
	p.FailLine(w.Lines[0], http.StatusBadGateway) // failures get logged

	const body = "my card number is 4111 1111 1111 1111"
	postUpdate(t, g, w.Hashes[0], w.Secrets[0], tg.Update(1, 42, body))
	postUpdate(t, g, w.Hashes[0], "forged-secret", tg.Update(2, 42, body))
	postUpdate(t, g, w.Hashes[0], w.Secrets[0], []byte(`{"update_id": 3, "message": {"text": "`+body+`"`))
	if _, err := w.Client.Send(context.Background(), w.Conns[0], connectors.Outbound{ChatID: "42", Text: body}); err != nil {
		t.Fatal(err)
	}
	if !p.WaitFor(10*time.Second, func() bool { return len(p.Attempts(w.Lines[0])) > 0 }) {
		t.Fatal("no delivery attempt")
	}
	req, _ := http.NewRequest("POST", g.URL+"/hook/"+w.Hashes[0], strings.NewReader("{"))
	req.Header.Set("X-Request-Id", "trace-abc-123")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("X-Request-Id") != "trace-abc-123" {
		t.Errorf("request id not echoed: %q", resp.Header.Get("X-Request-Id"))
	}
	time.Sleep(100 * time.Millisecond)
	logs := buf.String()
	if !strings.Contains(logs, `"request_id":"trace-abc-123"`) {
		t.Errorf("the caller's request id is not in the logs:\n%s", logs)
	}
	if !strings.Contains(logs, "bad secret") {
		t.Errorf("the forged webhook was not logged:\n%s", logs)
	}
	for _, secret := range []string{botToken, w.Secrets[0], w.Secret, "4111 1111"} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain a secret or message body %q:\n%s", secret, logs)
		}
	}
}
