// Package bench measures the whole gateway pipeline against this machine's
// own ceilings, in one run: the database's single-commit, multi-row and
// claim-and-delete rates and a bare HTTP round trip, then a real `serve`
// child process for ingest, end-to-end latency at a fixed offered rate,
// isolation from a dead portal, a backlog drain, and peak RSS.
package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/connector-gateway/connector/queue/sqldb"
)

// Options set a run. Zero fields take the defaults (or the short defaults).
type Options struct {
	// Driver and DSN name the database. The run writes to it: use a scratch
	// database. Default: SQLite in a new temp dir.
	Driver, DSN string
	// Short runs a few seconds per phase with small counts (CI).
	Short bool
	// Duration of each timed phase. Default 10s (short: 1s).
	Duration time.Duration
	// Concurrency of the webhook senders in the ingest phase. Default 64.
	Concurrency int
	// BatchSize of the gateway's dispatcher. Default 100.
	BatchSize int
	// Lines configured in all (scale). Default 10,000 (short: 300).
	Lines int
	// ActiveLines receive traffic. Default 100.
	ActiveLines int
	// Rate offered in the latency phases, events/s. Default 1,000.
	Rate int
	// Backlog is the number of events drained. Default 1,000,000 (short: 20,000).
	Backlog int
	// Binary is the connector executable run as the gateway. Default: this
	// executable.
	Binary string
	// PprofAddr, when set, makes the gateway child serve pprof there.
	PprofAddr string
	Out       io.Writer
	Log       *slog.Logger
}

func (o *Options) setDefaults() error {
	if o.Driver == "" {
		o.Driver = sqldb.DriverSQLite
	}
	if o.DSN == "" {
		if o.Driver != sqldb.DriverSQLite {
			return errors.New("bench: --dsn is required with mysql (a scratch database: the run writes to it)")
		}
		dir, err := os.MkdirTemp("", "connector-bench")
		if err != nil {
			return err
		}
		o.DSN = filepath.Join(dir, "bench.db")
	}
	def := func(v *int, full, short int) {
		if *v == 0 {
			*v = full
			if o.Short {
				*v = short
			}
		}
	}
	if o.Duration == 0 {
		o.Duration = 10 * time.Second
		if o.Short {
			o.Duration = time.Second
		}
	}
	def(&o.Concurrency, 64, 32)
	def(&o.BatchSize, 100, 100)
	def(&o.Lines, 10000, 300)
	def(&o.ActiveLines, 100, 100)
	def(&o.Rate, 1000, 1000)
	def(&o.Backlog, 1_000_000, 20_000)
	if o.ActiveLines > o.Lines {
		o.ActiveLines = o.Lines
	}
	if o.Binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		o.Binary = exe
	}
	if o.Out == nil {
		o.Out = os.Stdout
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return nil
}

// Result is the JSON line the run ends with.
type Result struct {
	Driver                  string  `json:"driver"`
	CeilingSingleCommitPerS float64 `json:"ceiling_single_commit_per_s"`
	CeilingMultirowPerS     float64 `json:"ceiling_multirow_per_s"`
	CeilingClaimDeletePerS  float64 `json:"ceiling_claim_delete_per_s"`
	CeilingHTTPPerS         float64 `json:"ceiling_http_per_s"`
	ReferencePerS           float64 `json:"reference_per_s"`
	IngestPerS              float64 `json:"ingest_per_s"`
	IngestReferenceRatio    float64 `json:"ingest_reference_ratio"`
	IngestPortalDownPerS    float64 `json:"ingest_portal_down_per_s"`
	DeliverPerS             float64 `json:"deliver_per_s"`
	OfferedPerS             float64 `json:"offered_per_s"`
	E2EP50ms                float64 `json:"e2e_p50_ms"`
	E2EP90ms                float64 `json:"e2e_p90_ms"`
	E2EP99ms                float64 `json:"e2e_p99_ms"`
	E2EMaxms                float64 `json:"e2e_max_ms"`
	IsolationP99ms          float64 `json:"isolation_p99_ms"`
	IsolationP99Ratio       float64 `json:"isolation_p99_ratio"`
	BacklogEvents           int     `json:"backlog_events"`
	BacklogDrainS           float64 `json:"backlog_drain_s"`
	Lines                   int     `json:"lines"`
	RSSPeakMB               float64 `json:"rss_peak_mb"`
	Short                   bool    `json:"short"`
	// Per-event costs of the reference server and of the gateway's
	// phases: server CPU, database CPU, statements (server-wide counters).
	// CeilingClaimDelete is the claim-and-delete ceiling's CPU per row:
	// its client (this process) as server_cpu_us, and the database's.
	CeilingClaimDelete cost `json:"ceiling_claim_delete_cost"`
	Reference          cost `json:"reference_cost"`
	Ingest             cost `json:"ingest_cost"`
	IngestPortalDown   cost `json:"ingest_portal_down_cost"`
	// Latency is the cost per event in the healthy windows at the offered
	// rate (ingest and delivery of a steady trickle over the active lines).
	Latency cost   `json:"latency_cost"`
	Deliver cost   `json:"deliver_cost"`
	LoadAvg string `json:"load_avg"`
}

// Run performs every phase and prints the table and the JSON line.
func Run(ctx context.Context, o Options) (Result, error) {
	if err := o.setDefaults(); err != nil {
		return Result{}, err
	}
	r := Result{Driver: o.Driver, Short: o.Short, Lines: o.Lines}
	say := func(format string, a ...any) { fmt.Fprintf(o.Out, format+"\n", a...) }
	say("connector bench: driver=%s short=%t phase=%s lines=%d active=%d rate=%d/s backlog=%d", o.Driver, o.Short, o.Duration, o.Lines, o.ActiveLines, o.Rate, o.Backlog)

	if err := ceilings(ctx, o, &r, say); err != nil {
		return r, fmt.Errorf("bench: ceilings: %w", err)
	}
	env, err := setup(ctx, o, say)
	if err != nil {
		return r, fmt.Errorf("bench: setup: %w", err)
	}
	defer env.close()
	if err := pipeline(ctx, o, env, &r, say); err != nil {
		return r, fmt.Errorf("bench: %w", err)
	}
	r.LoadAvg = loadAvg()
	printTable(o.Out, r)
	line, _ := json.Marshal(r)
	fmt.Fprintln(o.Out, string(line))
	return r, nil
}

func printTable(w io.Writer, r Result) {
	rows := []struct {
		name string
		val  string
	}{
		{"ceiling: one row per commit, 32 clients", fmt.Sprintf("%.0f rows/s", r.CeilingSingleCommitPerS)},
		{"ceiling: multi-row inserts", fmt.Sprintf("%.0f rows/s", r.CeilingMultirowPerS)},
		{"ceiling: claim-and-delete", fmt.Sprintf("%.0f rows/s", r.CeilingClaimDeletePerS)},
		{"  its cost per row", claimDeleteCost(r)},
		{"ceiling: HTTP POST loopback", fmt.Sprintf("%.0f req/s", r.CeilingHTTPPerS)},
		{"reference group-commit server", fmt.Sprintf("%.0f webhooks/s", r.ReferencePerS)},
		{"  its cost per webhook", r.Reference.String()},
		{"ingest (webhooks answered after commit)", fmt.Sprintf("%.0f events/s (%.2f× reference, %.2f× single-commit ceiling)", r.IngestPerS, r.IngestReferenceRatio, ratio(r.IngestPerS, r.CeilingSingleCommitPerS))},
		{"  its cost per webhook", r.Ingest.String()},
		{"ingest with the portal down (outage burst)", fmt.Sprintf("%.0f events/s (%.2f× single-commit ceiling)", r.IngestPortalDownPerS, ratio(r.IngestPortalDownPerS, r.CeilingSingleCommitPerS))},
		{"  its cost per webhook", r.IngestPortalDown.String()},
		{"deliver (backlog drain, signed batches)", fmt.Sprintf("%.0f events/s (%.2f× claim-delete ceiling)", r.DeliverPerS, ratio(r.DeliverPerS, r.CeilingClaimDeletePerS))},
		{"  its cost per event", r.Deliver.String()},
		{"latency offered", fmt.Sprintf("%.0f events/s", r.OfferedPerS)},
		{"latency p50 / p90 / p99 / max", fmt.Sprintf("%.1f / %.1f / %.1f / %.1f ms", r.E2EP50ms, r.E2EP90ms, r.E2EP99ms, r.E2EMaxms)},
		{"  its cost per event", r.Latency.String()},
		{"isolation: healthy p99 with a dead portal", fmt.Sprintf("%.1f ms (ratio %.2f)", r.IsolationP99ms, r.IsolationP99Ratio)},
		{"backlog drain", fmt.Sprintf("%d events in %.1f s", r.BacklogEvents, r.BacklogDrainS)},
		{"configured lines / gateway peak RSS", fmt.Sprintf("%d / %.1f MB", r.Lines, r.RSSPeakMB)},
		{"load average at the end (1, 5, 15 min)", r.LoadAvg},
	}
	fmt.Fprintln(w)
	for _, row := range rows {
		fmt.Fprintf(w, "  %-44s %s\n", row.name, row.val)
	}
	fmt.Fprintln(w)
}

// claimDeleteCost is the claim-and-delete ceiling's CPU per row.
func claimDeleteCost(r Result) string {
	c := r.CeilingClaimDelete
	if r.Driver == sqldb.DriverSQLite {
		return fmt.Sprintf("CPU %.0f µs/row (the database runs in the client)", c.ServerCPUus)
	}
	return fmt.Sprintf("client CPU %.0f µs/row, database CPU %.0f µs/row", c.ServerCPUus, c.DBCPUus)
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}
