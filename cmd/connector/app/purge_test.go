package app_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/connector-gateway/connector/connectors/telegram/telegramtest"
	"github.com/connector-gateway/connector/portal/portaltest"
	"github.com/connector-gateway/connector/portal/sdk"
	"github.com/connector-gateway/connector/queue/queuetest"
)

// Dead letters are purged by id or all of a line, through the signed API
// (only the portal's own) and the command line; every purge is in the audit
// trail, and a purge by another portal changes nothing.
func TestPurgeDeadLetters(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b queuetest.Backend) {
		ctx := context.Background()
		tg := telegramtest.New(t, botToken)
		pa, pb := portaltest.New(t), portaltest.New(t)
		dsn := b.DSN(t)
		cfg := testConfig(b, dsn, tg.Endpoint())
		// Failed events expire into dead letters at once.
		cfg.Queue.Schedule, cfg.Queue.Window = []time.Duration{50 * time.Millisecond}, 150*time.Millisecond
		g := startGateway(t, cfg)
		a := wire(t, g, tg, pa, 1)
		other := wire(t, g, tg, pb, 1)
		line := a.Lines[0]
		pa.FailLine(line, http.StatusServiceUnavailable)
		for i := 1; i <= 4; i++ {
			if code := postUpdate(t, g, a.Hashes[0], a.Secrets[0], tg.Update(i, 42, fmt.Sprint("m", i))); code != http.StatusOK {
				t.Fatalf("update %d answered %d", i, code)
			}
		}
		if !pa.WaitFor(20*time.Second, func() bool { return a.lineState(t, line).Queue.DeadLetters == 4 }) {
			t.Fatalf("no dead letters: %+v", a.lineState(t, line))
		}
		ids := func() []int64 {
			t.Helper()
			var out struct {
				DeadLetters []struct {
					ID int64 `json:"id"`
				} `json:"dead_letters"`
			}
			if err := a.Client.Do(ctx, "GET", "/v1/lines/"+line+"/dead-letters", nil, &out, nil); err != nil {
				t.Fatal(err)
			}
			var ids []int64
			for _, d := range out.DeadLetters {
				ids = append(ids, d.ID)
			}
			return ids
		}
		all := ids()
		purge := func(c *sdk.Client, line string, body any) (int64, error) {
			var out struct {
				Purged int64 `json:"purged"`
			}
			err := c.Do(ctx, "POST", "/v1/lines/"+line+"/dead-letters/purge", body, &out, nil)
			return out.Purged, err
		}
		status := func(err error) int {
			var ae *sdk.APIError
			if errors.As(err, &ae) {
				return ae.Status
			}
			return 0
		}

		// Portal B cannot purge portal A's line, nor A's ids through its own.
		if _, err := purge(other.Client, line, map[string]any{"all": true}); status(err) != http.StatusNotFound {
			t.Fatalf("portal B purging A's line: %v, want 404", err)
		}
		if n, err := purge(other.Client, other.Lines[0], map[string]any{"ids": all}); err != nil || n != 0 {
			t.Fatalf("portal B purging A's ids through its own line: %d, %v", n, err)
		}
		// Purging everything is never the default.
		if _, err := purge(a.Client, line, map[string]any{}); status(err) != http.StatusBadRequest {
			t.Fatalf("empty purge: %v, want 400", err)
		}
		if got := ids(); len(got) != 4 {
			t.Fatalf("refused purges changed dead letters: %v", got)
		}

		if n, err := purge(a.Client, line, map[string]any{"ids": []int64{all[0]}}); err != nil || n != 1 {
			t.Fatalf("purge by id: %d, %v", n, err)
		}
		if got := ids(); len(got) != 3 || got[0] != all[1] {
			t.Fatalf("after purging %d: %v", all[0], got)
		}

		// The command line, against the same database.
		cli := func(args ...string) (string, error) {
			cmd := exec.Command(binary(t), append([]string{"deadletters", "purge", "--line", line}, args...)...)
			cmd.Dir = t.TempDir()
			cmd.Env = append(cleanEnv(), "CONNECTOR_DATABASE_DRIVER="+b.Driver, "CONNECTOR_DATABASE_DSN="+dsn,
				"CONNECTOR_SECRETS_KEY="+cfg.Secrets.Key)
			out, err := cmd.CombinedOutput()
			return string(out), err
		}
		if out, err := cli(); err == nil {
			t.Fatalf("purge with neither ids nor --all succeeded: %s", out)
		}
		if out, err := cli(fmt.Sprint(all[1])); err != nil || !strings.Contains(out, "purged 1 dead letter(s)") {
			t.Fatalf("cli purge by id: %v\n%s", err, out)
		}
		if out, err := cli("--all"); err != nil || !strings.Contains(out, "purged 2 dead letter(s)") {
			t.Fatalf("cli purge --all: %v\n%s", err, out)
		}
		if got := ids(); len(got) != 0 {
			t.Fatalf("left after purging all: %v", got)
		}

		rows, err := g.app.Store().DB.SQL.QueryContext(ctx, "SELECT actor, target, detail FROM audit_log WHERE action = 'deadletters.purge' ORDER BY id")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var trail []string
		for rows.Next() {
			var actor, target, detail string
			if err := rows.Scan(&actor, &target, &detail); err != nil {
				t.Fatal(err)
			}
			trail = append(trail, actor+" "+target+" "+detail)
		}
		want := []string{
			"portal:" + other.PortalID + " " + other.Lines[0] + " purged 0",
			"portal:" + a.PortalID + " " + line + fmt.Sprintf(" purged 1: %d", all[0]),
			"cli:",
			"cli:",
		}
		if len(trail) != len(want) {
			t.Fatalf("audit trail:\n%s", strings.Join(trail, "\n"))
		}
		for i, w := range want {
			if !strings.HasPrefix(trail[i], w) {
				t.Fatalf("audit entry %d = %q, want %q…", i, trail[i], w)
			}
		}
		if !strings.HasSuffix(trail[3], fmt.Sprintf("all; purged 2: %d,%d", all[2], all[3])) {
			t.Fatalf("audit entry for --all = %q", trail[3])
		}
	})
}
