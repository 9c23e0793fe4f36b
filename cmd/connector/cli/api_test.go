package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/connector-gateway/connector/cmd/connector/app"
	"github.com/connector-gateway/connector/portal"
)

// apiGateway runs a gateway in-process on SQLite in a temp dir and returns
// its URL, the database flags a CLI beside it would pass, and the app.
func apiGateway(t *testing.T) (string, []string, *app.App) {
	t.Helper()
	dsn := filepath.Join(t.TempDir(), "connector.db")
	cfg := app.Defaults()
	cfg.Addr = "127.0.0.1:0"
	cfg.Database.DSN = dsn
	cfg.Console.Enabled = false
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("gateway did not stop")
		}
	})
	return "http://" + a.Addr(), []string{"--db-driver", "sqlite", "--db-dsn", dsn}, a
}

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Main(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestAPICommandListsLinesAndShowsRefusals(t *testing.T) {
	url, dbFlags, a := apiGateway(t)
	ctx := context.Background()
	p, secret, err := a.Store().Records.CreatePortal(ctx, "Acme helpdesk", "http://127.0.0.1:1/batches")
	if err != nil {
		t.Fatal(err)
	}
	line, err := a.Store().Records.CreateLine(ctx, p.ID, "Support")
	if err != nil {
		t.Fatal(err)
	}

	// The secret from the database, by portal id.
	code, out, errOut := runCLI(t, append([]string{"api", "GET", "/v1/lines", "--portal", p.ID, "--url", url}, dbFlags...)...)
	if code != 0 {
		t.Fatalf("exit %d, stderr %s", code, errOut)
	}
	var lines struct {
		Lines []portal.Line `json:"lines"`
	}
	if err := json.Unmarshal([]byte(out), &lines); err != nil {
		t.Fatalf("answer is not JSON: %v\n%s", err, out)
	}
	if len(lines.Lines) != 1 || lines.Lines[0].ID != line.ID {
		t.Fatalf("lines = %s", out)
	}
	if !strings.Contains(out, "\n  ") {
		t.Errorf("answer not pretty-printed:\n%s", out)
	}

	// The only portal is found without --portal; a body is sent and signed.
	code, out, errOut = runCLI(t, append([]string{"api", "POST", "/v1/lines", "--data", `{"name": "Sales"}`, "--url", url}, dbFlags...)...)
	if code != 0 || !strings.Contains(out, `"name": "Sales"`) {
		t.Fatalf("create line: exit %d\n%s%s", code, out, errOut)
	}

	// From elsewhere: id and secret from the environment, no database.
	t.Setenv(envPortalID, p.ID)
	t.Setenv(envPortalSecret, secret)
	t.Setenv(envURL, url)
	code, out, errOut = runCLI(t, "api", "GET", "/v1/lines", "--db-dsn", filepath.Join(t.TempDir(), "none", "x.db"))
	if code != 0 || strings.Count(out, `"id": "lin_`) != 2 {
		t.Fatalf("env secret: exit %d\n%s%s", code, out, errOut)
	}

	// A wrong secret: the gateway's 401 body is printed, the exit is not 0.
	t.Setenv(envPortalSecret, portal.NewSecret())
	code, out, errOut = runCLI(t, "api", "GET", "/v1/lines")
	if code == 0 {
		t.Fatalf("wrong secret exited 0:\n%s", out)
	}
	var refusal struct {
		Error struct{ Code string } `json:"error"`
	}
	if err := json.Unmarshal([]byte(out), &refusal); err != nil || refusal.Error.Code != "unauthorized" {
		t.Fatalf("want the 401 body on stdout, got %q (stderr %q)", out, errOut)
	}
	if !strings.Contains(errOut, "HTTP 401") {
		t.Errorf("stderr = %q", errOut)
	}

	// A body that is not JSON never leaves the CLI.
	if code, _, errOut = runCLI(t, "api", "POST", "/v1/lines", "--data", "{name"); code == 0 || !strings.Contains(errOut, "not valid JSON") {
		t.Errorf("bad --data: exit %d, %q", code, errOut)
	}
}
