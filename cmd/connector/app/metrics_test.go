package app_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/telegram/telegramtest"
	"github.com/connector-gateway/connector/portal/portaltest"
	"github.com/connector-gateway/connector/queue/queuetest"
)

func scrape(t *testing.T, g *gateway) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(g.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// value sums the samples of a family whose labels include all of want.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	f, ok := fams[name]
	if !ok {
		return -1
	}
	var sum float64
	for _, m := range f.GetMetric() {
		match := true
		for k, v := range want {
			found := false
			for _, l := range m.GetLabel() {
				if l.GetName() == k && l.GetValue() == v {
					found = true
				}
			}
			match = match && found
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum
}

// /metrics exposes the series operators need, and they move with traffic.
func TestMetricsMoveWithTraffic(t *testing.T) {
	b := queuetest.Backends()[1] // SQLite: the series do not depend on the store
	tg := telegramtest.New(t, botToken)
	p := portaltest.New(t)
	g := startGateway(t, testConfig(b, b.DSN(t), tg.Endpoint()))
	w := wire(t, g, tg, p, 2)
	failingLine := w.Lines[1]
	p.FailLine(failingLine, http.StatusServiceUnavailable)

	for i := 1; i <= 3; i++ {
		postUpdate(t, g, w.Hashes[0], w.Secrets[0], tg.Update(i, 42, "hi"))
	}
	postUpdate(t, g, w.Hashes[0], w.Secrets[0], tg.Update(3, 42, "hi")) // a messenger retry
	postUpdate(t, g, w.Hashes[0], "forged", tg.Update(9, 42, "x"))
	postUpdate(t, g, w.Hashes[1], w.Secrets[1], tg.Update(100, 43, "to the failing line"))
	if !p.WaitFor(10*time.Second, func() bool { return len(p.Events(w.Lines[0])) == 3 && len(p.Attempts(failingLine)) > 0 }) {
		t.Fatal("traffic not delivered")
	}
	if _, err := w.Client.Send(context.Background(), w.Conns[0], connectors.Outbound{ChatID: "42", Text: "hello"}); err != nil {
		t.Fatal(err)
	}
	if !p.WaitFor(10*time.Second, func() bool { return len(p.Events(w.Lines[0])) == 4 }) {
		t.Fatal("status event not delivered")
	}

	tgl := map[string]string{"connector": "telegram"}
	checks := []struct {
		name string
		lbl  map[string]string
		want func(float64) bool
		text string
	}{
		{"connector_events_received_total", tgl, func(v float64) bool { return v == 5 }, "5 parsed (4 + 1 on the failing line)"},
		{"connector_events_enqueued_total", tgl, func(v float64) bool { return v == 4 }, "4 new"},
		{"connector_events_deduplicated_total", tgl, func(v float64) bool { return v == 1 }, "1 repeat"},
		{"connector_webhooks_refused_total", map[string]string{"connector": "telegram", "reason": "unauthorized"}, func(v float64) bool { return v == 1 }, "1 forged"},
		{"connector_events_delivered_total", map[string]string{"portal": w.PortalID}, func(v float64) bool { return v == 4 }, "3 messages + 1 status"},
		{"connector_batches_total", map[string]string{"portal": w.PortalID, "result": "failed"}, func(v float64) bool { return v >= 1 }, "the failing line's attempt"},
		{"connector_outbound_total", map[string]string{"connector": "telegram", "op": "send", "outcome": "delivered"}, func(v float64) bool { return v == 1 }, "1 reply"},
		{"connector_lines_locked_out", nil, func(v float64) bool { return v == 1 }, "the failing line"},
		{"connector_line_locked_out", map[string]string{"line": failingLine}, func(v float64) bool { return v == 1 }, "per line"},
		{"connector_queue_depth", map[string]string{"line": failingLine}, func(v float64) bool { return v == 1 }, "its event waits"},
		{"connector_queue_oldest_age_seconds", map[string]string{"line": failingLine}, func(v float64) bool { return v >= 0 }, "age present"},
		{"connector_http_request_duration_seconds", map[string]string{"route": "POST /hook/{hash}"}, func(v float64) bool { return v == 6 }, "6 webhooks timed"},
		{"connector_batch_duration_seconds", map[string]string{"portal": w.PortalID}, func(v float64) bool { return v >= 3 }, "batches timed"},
		{"go_sql_max_open_connections", map[string]string{"db_name": "connector"}, func(v float64) bool { return v >= 1 }, "DB pool stats"},
	}
	// Counters move when the gateway has the portal's answer, a moment
	// after the portal saw the batch: scrape until they settle.
	var fams map[string]*dto.MetricFamily
	var bad []string
	for deadline := time.Now().Add(10 * time.Second); ; {
		fams, bad = scrape(t, g), nil
		for _, c := range checks {
			if v := value(fams, c.name, c.lbl); !c.want(v) {
				bad = append(bad, fmt.Sprintf("%s%v = %v; want %s", c.name, c.lbl, v, c.text))
			}
		}
		if len(bad) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, b := range bad {
		t.Error(b)
	}
	for name := range fams {
		if strings.Contains(name, "chat") || strings.Contains(name, "user") {
			t.Errorf("series %s suggests per-chat or per-user cardinality", name)
		}
	}
}
