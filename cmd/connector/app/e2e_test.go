package app_test

import (
	"context"
	"fmt"
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

func forEachBackend(t *testing.T, fn func(t *testing.T, b queuetest.Backend)) {
	for _, b := range queuetest.Backends() {
		t.Run(b.Driver, func(t *testing.T) { fn(t, b) })
	}
}

type lineState struct {
	Queue struct {
		Pending     int64      `json:"pending"`
		LockedUntil *time.Time `json:"locked_until"`
		Failures    int        `json:"failures"`
		DeadLetters int64      `json:"dead_letters"`
		LastError   string     `json:"last_error"`
	} `json:"queue"`
}

func (w wiring) lineState(t testing.TB, line string) lineState {
	t.Helper()
	var st lineState
	if err := w.Client.Do(context.Background(), "GET", "/v1/lines/"+line, nil, &st, nil); err != nil {
		t.Fatalf("line status: %v", err)
	}
	return st
}

// The whole path: messenger webhook → outbox → signed batch → ack; portal
// reply → messenger → delivery status back to the portal.
func TestEndToEnd(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b queuetest.Backend) {
		tg := telegramtest.New(t, botToken)
		p := portaltest.New(t)
		g := startGateway(t, testConfig(b, b.DSN(t), tg.Endpoint()))
		w := wire(t, g, tg, p, 1)

		hooks := tg.Calls("setWebhook")
		if len(hooks) != 1 || hooks[0].Get("secret_token") != w.Secrets[0] || !strings.HasSuffix(hooks[0].Get("url"), "/hook/"+w.Hashes[0]) {
			t.Fatalf("setWebhook calls = %v", hooks)
		}

		update := tg.Update(1001, 42, "Hello, is anyone there?")
		if code := postUpdate(t, g, w.Hashes[0], w.Secrets[0], update); code != http.StatusOK {
			t.Fatalf("webhook answered %d", code)
		}
		if !p.WaitFor(10*time.Second, func() bool { return len(p.Events(w.Lines[0])) == 1 }) {
			t.Fatalf("portal got %d events", len(p.Events(w.Lines[0])))
		}
		ev := p.Events(w.Lines[0])[0]
		if ev.Type != connectors.TypeMessageCreated || ev.Message == nil || ev.Message.Text != "Hello, is anyone there?" ||
			ev.Chat == nil || ev.Chat.ID != "42" || ev.Connection != w.Conns[0] || ev.Line != w.Lines[0] || ev.ID == "" {
			t.Fatalf("event = %+v", ev)
		}
		if p.BadSignatures() != 0 {
			t.Fatalf("%d batches failed signature verification", p.BadSignatures())
		}
		if !p.WaitFor(5*time.Second, func() bool { return w.lineState(t, w.Lines[0]).Queue.Pending == 0 }) {
			t.Fatalf("outbox still holds events after ack: %+v", w.lineState(t, w.Lines[0]))
		}

		acc, err := w.Client.Send(context.Background(), w.Conns[0], connectors.Outbound{ChatID: ev.Chat.ID, Text: "Yes! How can I help?", ReplyTo: ev.Message.ID})
		if err != nil {
			t.Fatalf("send: %v", err)
		}
		if !p.WaitFor(10*time.Second, func() bool { return len(p.Events(w.Lines[0])) == 2 }) {
			t.Fatalf("no status event; portal has %d events", len(p.Events(w.Lines[0])))
		}
		sent := tg.Calls("sendMessage")
		if len(sent) != 1 || sent[0].Get("chat_id") != "42" || sent[0].Get("text") != "Yes! How can I help?" {
			t.Fatalf("sendMessage calls = %v", sent)
		}
		st := p.Events(w.Lines[0])[1]
		if st.Type != connectors.TypeStatusDelivered || st.Status == nil || st.Status.RequestID != acc.ID || len(st.Status.MessengerMessageIDs) != 1 {
			t.Fatalf("status event = %+v", st)
		}
		if token := w.Tokens[0]; strings.Contains(fmt.Sprint(p.Events(w.Lines[0])), token) {
			t.Fatal("bot token leaked into events")
		}
	})
}

// Telegram retries a webhook it thinks failed: the same update twice is one event.
func TestDuplicateUpdateDeliveredOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b queuetest.Backend) {
		tg := telegramtest.New(t, botToken)
		p := portaltest.New(t)
		g := startGateway(t, testConfig(b, b.DSN(t), tg.Endpoint()))
		w := wire(t, g, tg, p, 1)
		update := tg.Update(7, 42, "once")
		for i := 0; i < 2; i++ {
			if code := postUpdate(t, g, w.Hashes[0], w.Secrets[0], update); code != http.StatusOK {
				t.Fatalf("attempt %d answered %d", i, code)
			}
		}
		second := tg.Update(8, 42, "marker")
		postUpdate(t, g, w.Hashes[0], w.Secrets[0], second)
		if !p.WaitFor(10*time.Second, func() bool { return len(p.Events(w.Lines[0])) >= 2 }) {
			t.Fatal("events not delivered")
		}
		// The marker came after the duplicate, in the same line: once it is
		// in, anything the duplicate added would be too.
		evs := p.Events(w.Lines[0])
		if len(evs) != 2 || evs[0].Message.Text != "once" || evs[1].Message.Text != "marker" {
			t.Fatalf("portal got %d events: %+v", len(evs), evs)
		}
	})
}

// 1,000 events over 10 lines arrive in per-line order, none missing, none twice.
func TestPerLineOrder(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b queuetest.Backend) {
		tg := telegramtest.New(t, botToken)
		p := portaltest.New(t)
		cfg := testConfig(b, b.DSN(t), tg.Endpoint())
		cfg.Dispatch.BatchSize = 7 // many batches per line
		g := startGateway(t, cfg)
		const lines, per = 10, 100
		w := wire(t, g, tg, p, lines)
		var wg sync.WaitGroup
		for l := 0; l < lines; l++ {
			wg.Add(1)
			go func(l int) {
				defer wg.Done()
				for i := 0; i < per; i++ {
					body := tg.Update(l*per+i+1, int64(100+l), fmt.Sprintf("%d", i))
					if code := postUpdate(t, g, w.Hashes[l], w.Secrets[l], body); code != http.StatusOK {
						t.Errorf("line %d update %d answered %d", l, i, code)
						return
					}
				}
			}(l)
		}
		wg.Wait()
		if !p.WaitFor(60*time.Second, func() bool { return p.Total() >= lines*per }) {
			t.Fatalf("portal got %d of %d events", p.Total(), lines*per)
		}
		for l := 0; l < lines; l++ {
			evs := p.Events(w.Lines[l])
			if len(evs) != per {
				t.Fatalf("line %d got %d events", l, len(evs))
			}
			for i, ev := range evs {
				if ev.Message.Text != fmt.Sprintf("%d", i) {
					t.Fatalf("line %d: event %d is %q: order broken", l, i, ev.Message.Text)
				}
			}
		}
	})
}

// Forged or broken input gets the right status and changes nothing.
func TestBadInput(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b queuetest.Backend) {
		tg := telegramtest.New(t, botToken)
		p := portaltest.New(t)
		g := startGateway(t, testConfig(b, b.DSN(t), tg.Endpoint()))
		w := wire(t, g, tg, p, 1)
		other := wire(t, g, tg, portaltest.New(t), 1) // portal B
		good := tg.Update(1, 42, "hi")
		cases := []struct {
			name, hash, secret string
			body               []byte
			want               int
		}{
			{"forged secret", w.Hashes[0], "not-the-secret", good, http.StatusUnauthorized},
			{"missing secret", w.Hashes[0], "", good, http.StatusUnauthorized},
			{"unknown hash", "no-such-hash", w.Secrets[0], good, http.StatusNotFound},
			{"2 MiB body", w.Hashes[0], w.Secrets[0], []byte(`{"update_id":1,"message":{"text":"` + strings.Repeat("a", 2<<20) + `"}}`), http.StatusRequestEntityTooLarge},
			{"malformed JSON", w.Hashes[0], w.Secrets[0], []byte(`{"update_id": 1, "message": {`), http.StatusBadRequest},
		}
		for _, c := range cases {
			if got := postUpdate(t, g, c.hash, c.secret, c.body); got != c.want {
				t.Errorf("%s: status %d, want %d", c.name, got, c.want)
			}
		}
		ctx := context.Background()
		// Portal B's credentials on portal A's line and connection.
		err := other.Client.Do(ctx, "GET", "/v1/lines/"+w.Lines[0], nil, nil, nil)
		if !isStatus(err, http.StatusNotFound) {
			t.Errorf("portal B reading A's line: %v, want 404", err)
		}
		_, err = other.Client.Send(ctx, w.Conns[0], connectors.Outbound{ChatID: "42", Text: "hijack"})
		if !isStatus(err, http.StatusNotFound) {
			t.Errorf("portal B sending on A's connection: %v, want 404", err)
		}
		err = other.Client.Do(ctx, "POST", "/v1/lines/"+w.Lines[0]+"/dead-letters/replay", map[string]any{}, nil, nil)
		if !isStatus(err, http.StatusNotFound) {
			t.Errorf("portal B replaying A's dead letters: %v, want 404", err)
		}
		// A portal's call signed with a wrong secret.
		forged := *w.Client
		forged.Secret = other.Secret
		if err := forged.Do(ctx, "GET", "/v1/lines", nil, nil, nil); !isStatus(err, http.StatusUnauthorized) {
			t.Errorf("call signed with another portal's secret: %v, want 401", err)
		}
		if st := w.lineState(t, w.Lines[0]); st.Queue.Pending != 0 {
			t.Errorf("bad input enqueued %d events", st.Queue.Pending)
		}
		if len(tg.Calls("sendMessage")) != 0 {
			t.Error("a refused send reached Telegram")
		}
		// The real update still goes through afterwards.
		if code := postUpdate(t, g, w.Hashes[0], w.Secrets[0], good); code != http.StatusOK {
			t.Fatalf("good update answered %d", code)
		}
		if !p.WaitFor(10*time.Second, func() bool { return len(p.Events(w.Lines[0])) == 1 }) {
			t.Fatal("good update not delivered")
		}
		if got := len(p.Events(w.Lines[0])); got != 1 {
			t.Fatalf("portal got %d events, want only the good one", got)
		}
	})
}

func isStatus(err error, status int) bool {
	type statuser interface{ error }
	if err == nil {
		return false
	}
	return strings.Contains(err.Error(), fmt.Sprintf("answered %d ", status))
}
