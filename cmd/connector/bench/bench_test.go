package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/connector-gateway/connector/cmd/connector/bench"
	"github.com/connector-gateway/connector/queue/queuetest"
)

// `connector bench --short` runs to completion on both backends and ends
// with one JSON line carrying every key the issue names.
func TestShortBenchRuns(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "connector")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/connector-gateway/connector/cmd/connector").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, b := range queuetest.Backends() {
		t.Run(b.Driver, func(t *testing.T) {
			var out bytes.Buffer
			res, err := bench.Run(context.Background(), bench.Options{
				Driver: b.Driver, DSN: b.DSN(t), Short: true, Backlog: 5000, Binary: bin, Out: &out,
			})
			if err != nil {
				t.Fatalf("bench: %v\n%s", err, out.String())
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			var m map[string]any
			if err := json.Unmarshal([]byte(lines[len(lines)-1]), &m); err != nil {
				t.Fatalf("last line is not JSON: %q", lines[len(lines)-1])
			}
			for _, k := range []string{"ceiling_single_commit_per_s", "ceiling_multirow_per_s", "ceiling_claim_delete_per_s",
				"ceiling_http_per_s", "reference_per_s", "ingest_reference_ratio", "ingest_per_s", "deliver_per_s", "offered_per_s", "e2e_p50_ms", "e2e_p90_ms", "e2e_p99_ms",
				"backlog_events", "backlog_drain_s", "lines", "rss_peak_mb", "isolation_p99_ratio", "driver"} {
				v, ok := m[k]
				if !ok {
					t.Errorf("JSON lacks %s", k)
					continue
				}
				if f, isNum := v.(float64); isNum && f <= 0 {
					t.Errorf("%s = %v, want a measured positive value", k, f)
				}
			}
			// The bench's own CPU (loader, portals) is measured in every
			// gateway phase, and the claim-and-delete ceiling's per row.
			if res.Ingest.BenchCPUus <= 0 || res.Deliver.BenchCPUus <= 0 || res.CeilingClaimDelete.ServerCPUus <= 0 {
				t.Errorf("bench CPU per event: ingest %v, deliver %v; claim-and-delete client CPU per row %v; want measured values",
					res.Ingest.BenchCPUus, res.Deliver.BenchCPUus, res.CeilingClaimDelete.ServerCPUus)
			}
			if m["driver"] != b.Driver || res.BacklogEvents != 5000 {
				t.Errorf("driver %v, backlog %d", m["driver"], res.BacklogEvents)
			}
			t.Logf("%s", lines[len(lines)-1])
		})
	}
	_ = os.Remove(bin)
}
