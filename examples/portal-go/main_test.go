package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/connector-gateway/connector/cmd/connector/app"
	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/telegram/telegramtest"
	"github.com/connector-gateway/connector/portal/sdk"
)

const botToken = "123456789:AAH-example-token-0123456789abcdefgh"

// The example, built and run as its own process with only the environment
// its doc comment names, against a real gateway (in-process, SQLite) and a
// fake Telegram: a customer's message arrives verified and stored, is
// acknowledged, and the example's answer reaches the customer, whose
// delivery status comes back to the example.
func TestExamplePortalRoundTrip(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "portal-go")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	tg := telegramtest.New(t, botToken)
	cfg := app.Defaults()
	cfg.Addr = "127.0.0.1:0"
	cfg.PublicURL = "http://gateway.test"
	cfg.Database.DSN = filepath.Join(t.TempDir(), "connector.db")
	cfg.Telegram.APIEndpoint = tg.Endpoint()
	cfg.Console.Enabled = false
	cfg.Dispatch.Poll = 50 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	gw, err := app.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- gw.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	gwURL := "http://" + gw.Addr()

	listen := freeAddr(t)
	pr, secret, err := gw.Store().Records.CreatePortal(ctx, "Example portal", "http://"+listen+"/gateway/batches")
	if err != nil {
		t.Fatal(err)
	}
	client := &sdk.Client{BaseURL: gwURL, PortalID: pr.ID, Secret: secret}
	var line struct{ ID string }
	if err := client.Do(ctx, "POST", "/v1/lines", map[string]string{"name": "Support"}, &line, nil); err != nil {
		t.Fatal(err)
	}
	var conn struct {
		ID       string `json:"id"`
		EntryURL string `json:"entry_url"`
	}
	if err := client.Do(ctx, "POST", "/v1/lines/"+line.ID+"/connections", map[string]any{
		"connector": "telegram", "settings": map[string]string{"bot_token": botToken, "mode": "webhook", "webhook_secret": "hook-secret"},
	}, &conn, nil); err != nil {
		t.Fatal(err)
	}
	if err := client.Do(ctx, "POST", "/v1/connections/"+conn.ID+"/activate", nil, nil, nil); err != nil {
		t.Fatal(err)
	}

	store := filepath.Join(t.TempDir(), "events.jsonl")
	var logs bytes.Buffer
	run := exec.Command(bin)
	run.Env = append(os.Environ(), "GATEWAY_URL="+gwURL, "PORTAL_ID="+pr.ID, "GATEWAY_SECRET="+secret, "LISTEN="+listen, "STORE="+store)
	run.Stdout, run.Stderr = &logs, &logs
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = run.Process.Signal(os.Interrupt)
		_ = run.Wait()
		if t.Failed() {
			t.Logf("example's log:\n%s", logs.String())
		}
	})
	waitFor(t, "the example listens", func() bool {
		c, err := net.Dial("tcp", listen)
		if err == nil {
			c.Close()
		}
		return err == nil
	})

	u, _ := url.Parse(conn.EntryURL)
	req, _ := http.NewRequest("POST", gwURL+u.Path, bytes.NewReader(tg.Update(1, 42, "My teapot arrived broken")))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Telegram-Bot-Api-Secret-Token", "hook-secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("webhook: %v %v", resp, err)
	}
	resp.Body.Close()

	waitFor(t, "the example's answer reaches the customer", func() bool {
		for _, m := range tg.Messages(botToken, 42) {
			if strings.Contains(m.Text, "My teapot arrived broken") && strings.HasPrefix(m.Text, "Thanks, we got your message") {
				return true
			}
		}
		return false
	})
	var types []string
	waitFor(t, "the delivery status is stored by the example", func() bool {
		types = nil
		for _, ev := range listed(t, "http://"+listen+"/") {
			types = append(types, ev.Type)
		}
		return len(types) == 2 && types[0] == connectors.TypeMessageCreated && types[1] == connectors.TypeStatusDelivered
	})
	raw, err := os.ReadFile(store)
	if err != nil || strings.Count(string(raw), "\n") != 2 || !strings.Contains(string(raw), "My teapot arrived broken") {
		t.Fatalf("store file: %v\n%s", err, raw)
	}
	var st struct {
		Queue struct{ Pending int } `json:"queue"`
	}
	waitFor(t, "the gateway's outbox is empty (acknowledged)", func() bool {
		return client.Do(ctx, "GET", "/v1/lines/"+line.ID, nil, &st, nil) == nil && st.Queue.Pending == 0
	})
}

func listed(t *testing.T, u string) []connectors.Event {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var out struct{ Events []connectors.Event }
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return out.Events
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
