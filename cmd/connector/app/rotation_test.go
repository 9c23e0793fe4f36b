package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/connector-gateway/connector/cmd/connector/app"
	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/telegram/telegramtest"
	"github.com/connector-gateway/connector/portal"
	"github.com/connector-gateway/connector/portal/sdk"
	"github.com/connector-gateway/connector/queue/queuetest"
)

// strictPortal accepts a batch only when it verifies with exactly the secret
// it was told to accept and carries no signature by a secret it was told to
// refuse: a portal that switches the moment the operator's command returns.
type strictPortal struct {
	srv *httptest.Server

	mu       sync.Mutex
	accept   string
	refuse   string
	answers  []int
	received []string // message texts acknowledged
}

func newStrictPortal(t *testing.T) *strictPortal {
	p := &strictPortal{}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		p.mu.Lock()
		accept, refuse := p.accept, p.refuse
		p.mu.Unlock()
		ok := verifies(accept, body, r.Header) && (refuse == "" || !verifiesAny(refuse, body, r.Header))
		status := http.StatusOK
		if !ok {
			status = http.StatusUnauthorized
		}
		var b sdk.Batch
		_ = json.Unmarshal(body, &b)
		p.mu.Lock()
		p.answers = append(p.answers, status)
		if ok {
			for _, ev := range b.Events {
				p.received = append(p.received, ev.Message.Text)
			}
		}
		p.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func verifies(secret string, body []byte, h http.Header) bool {
	wh, err := standardwebhooks.NewWebhook(secret)
	return err == nil && wh.Verify(body, h) == nil
}

// verifiesAny tells whether any one of the signatures in the header is by
// secret (the header carries one per secret of the portal).
func verifiesAny(secret string, body []byte, h http.Header) bool {
	for _, sig := range strings.Fields(h.Get("webhook-signature")) {
		one := h.Clone()
		one.Set("webhook-signature", sig)
		if verifies(secret, body, one) {
			return true
		}
	}
	return false
}

func (p *strictPortal) set(accept, refuse string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.accept, p.refuse = accept, refuse
}

func (p *strictPortal) state() ([]int, []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]int(nil), p.answers...), append([]string(nil), p.received...)
}

// After `portal rotate-secret` returns (run as the CLI runs it: its own
// connection to the database, not through the serving process), the very
// next batch verifies with the new secret alone; after `finish-rotation`
// returns, the very next batch no longer carries the old secret's
// signature. The line is never refused, so never locked out.
func TestRotationTakesEffectForTheNextBatch(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b queuetest.Backend) {
		ctx := context.Background()
		tg := telegramtest.New(t, botToken)
		dsn := b.DSN(t)
		cfg := testConfig(b, dsn, tg.Endpoint())
		g := startGateway(t, cfg)
		sp := newStrictPortal(t)
		rec := g.app.Store().Records
		pr, secret, err := rec.CreatePortal(ctx, "Acme", sp.srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		sp.set(secret, "")
		line, err := rec.CreateLine(ctx, pr.ID, "Support")
		if err != nil {
			t.Fatal(err)
		}
		conn, err := rec.CreateConnection(ctx, line.ID, "telegram", connectors.Settings{"bot_token": botToken, "mode": "webhook", "webhook_secret": "hooksecret"})
		if err != nil {
			t.Fatal(err)
		}
		if err := rec.SetState(ctx, conn.ID, true, portal.ConnOK, ""); err != nil {
			t.Fatal(err)
		}

		send := func(i int) {
			t.Helper()
			if code := postUpdate(t, g, conn.Hash, "hooksecret", tg.Update(i, 42, fmt.Sprint("m", i))); code != http.StatusOK {
				t.Fatalf("update %d answered %d", i, code)
			}
		}
		waitReceived := func(n int) {
			t.Helper()
			deadline := time.Now().Add(10 * time.Second)
			for {
				answers, got := sp.state()
				if len(got) >= n {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("portal acknowledged %d of %d events; answers %v", len(got), n, answers)
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
		send(1)
		waitReceived(1) // the portal row is now in any cache there is

		cli, err := app.OpenStore(ctx, cfg, testLogger(t), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer cli.Close()
		newSecret, err := cli.Records.AddSecret(ctx, pr.ID) // rotate-secret
		if err != nil {
			t.Fatal(err)
		}
		sp.set(newSecret, "")
		send(2)
		waitReceived(2)

		if err := cli.Records.KeepOnlySecret(ctx, pr.ID, newSecret); err != nil { // finish-rotation
			t.Fatal(err)
		}
		sp.set(newSecret, secret)
		send(3)
		waitReceived(3)

		answers, got := sp.state()
		for i, a := range answers {
			if a != http.StatusOK {
				t.Fatalf("batch %d refused (%d): the rotation was not in force for it; answers %v", i+1, a, answers)
			}
		}
		if strings.Join(got, ",") != "m1,m2,m3" {
			t.Fatalf("portal received %v", got)
		}
	})
}
