// Package nodeverify runs the Node.js verification snippet of
// docs/protocol.md (3.2), taken from the document itself so the two cannot
// drift, with the npm standardwebhooks package pinned in package-lock.json,
// against a real batch from a real gateway.
package nodeverify_test

import (
	"bufio"
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
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/connector-gateway/connector/cmd/connector/app"
	"github.com/connector-gateway/connector/connectors/telegram/telegramtest"
	"github.com/connector-gateway/connector/portal"
	"github.com/connector-gateway/connector/portal/sdk"
)

const botToken = "123456789:AAH-nodeverify-token-0123456789abcdef"

// nodeSnippet is the first js block after the Node.js heading of 3.2.
var nodeSnippet = regexp.MustCompile("(?s)Node\\.js \\(`npm install standardwebhooks`, shown with Express\\):\\s*```js\\n(.*?)```")

// harness supplies what the snippet leaves to the reader: a store (here:
// one JSON line per batch on stdout) and the listening port. Function
// declarations are hoisted, so it may follow the snippet.
const harness = `
// ---- test harness (not in the docs) ----
async function store(batch) {
  process.stdout.write(JSON.stringify({ stored: batch }) + "\n");
}
app.listen(Number(process.env.PORT), "127.0.0.1", () => process.stdout.write(JSON.stringify({ listening: true }) + "\n"));
`

func TestDocsNodeSnippetVerifiesARealBatch(t *testing.T) {
	node, nodeErr := exec.LookPath("node")
	npm, npmErr := exec.LookPath("npm")
	if nodeErr != nil || npmErr != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("node and npm are required under CI (node: %v, npm: %v)", nodeErr, npmErr)
		}
		t.Skip("node or npm not installed")
	}
	docs, err := os.ReadFile("../../docs/protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	m := nodeSnippet.FindSubmatch(docs)
	if m == nil {
		t.Fatal("docs/protocol.md: no Node.js snippet under 3.2 (heading or fence changed?)")
	}
	snippet := string(m[1])
	if _, err := os.Stat("node_modules/standardwebhooks"); err != nil {
		ci := exec.Command(npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund")
		if out, err := ci.CombinedOutput(); err != nil {
			t.Fatalf("npm ci: %v\n%s", err, out)
		}
	}
	// The file sits in this folder so that node finds node_modules.
	script, err := os.CreateTemp(".", "snippet-*.gen.mjs")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(script.Name()) })
	if _, err := script.WriteString(snippet + harness); err != nil {
		t.Fatal(err)
	}
	script.Close()

	// A gateway, a portal whose webhook is the snippet's server, a Telegram
	// connection (fake Bot API) to bring one message in.
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

	port := freePort(t)
	hookURL := "http://127.0.0.1:" + port + "/gateway/batches"
	pr, secret, err := gw.Store().Records.CreatePortal(ctx, "Node portal", hookURL)
	if err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(node, filepath.Base(script.Name()))
	cmd.Env = append(os.Environ(), "GATEWAY_SECRET="+secret, "PORT="+port)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := make(chan map[string]json.RawMessage, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 16<<20)
		for sc.Scan() {
			var v map[string]json.RawMessage
			if json.Unmarshal(sc.Bytes(), &v) == nil {
				lines <- v
			}
		}
		close(lines)
	}()
	next := func(what string) map[string]json.RawMessage {
		t.Helper()
		select {
		case v, ok := <-lines:
			if !ok {
				t.Fatalf("%s: node exited: %v\n%s", what, cmd.Wait(), stderr.String())
			}
			return v
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: nothing from node after 30s\n%s", what, stderr.String())
		}
		return nil
	}
	if _, ok := next("snippet listening")["listening"]; !ok {
		t.Fatal("snippet did not start")
	}

	// A forged batch is refused by the snippet's verification.
	forged, _ := http.NewRequest("POST", hookURL, strings.NewReader(`{"id":"bat_x","events":[]}`))
	forged.Header.Set("Content-Type", "application/json")
	if err := portal.SetHeaders(forged.Header, []string{portal.NewSecret()}, "bat_x", time.Now(), []byte(`{"id":"bat_x","events":[]}`)); err != nil {
		t.Fatal(err)
	}
	if resp, err := http.DefaultClient.Do(forged); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("forged batch: %v %v", resp, err)
	} else {
		resp.Body.Close()
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
	u, _ := url.Parse(conn.EntryURL)
	req, _ := http.NewRequest("POST", gwURL+u.Path, bytes.NewReader(tg.Update(7, 42, "Where is my parcel?")))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Telegram-Bot-Api-Secret-Token", "hook-secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("webhook: %v %v", resp, err)
	}
	resp.Body.Close()

	var batch sdk.Batch
	if err := json.Unmarshal(next("a verified batch")["stored"], &batch); err != nil {
		t.Fatal(err)
	}
	if batch.Portal != pr.ID || batch.Line != line.ID || len(batch.Events) != 1 || batch.Events[0].Message == nil ||
		batch.Events[0].Message.Text != "Where is my parcel?" {
		t.Fatalf("the snippet stored %+v", batch)
	}
	// Its 204 was the ack: the line's outbox empties.
	deadline := time.Now().Add(20 * time.Second)
	for {
		var st struct {
			Queue struct{ Pending int } `json:"queue"`
		}
		if err := client.Do(ctx, "GET", "/v1/lines/"+line.ID, nil, &st, nil); err == nil && st.Queue.Pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the gateway still holds the batch: the snippet's answer was no ack")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}
