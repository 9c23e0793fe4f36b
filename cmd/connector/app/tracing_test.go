package app_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/telegram/telegramtest"
	"github.com/connector-gateway/connector/portal/sdk"
	"github.com/connector-gateway/connector/queue/queuetest"
)

// With tracing on, one inbound message is one trace: the webhook's server
// span, the outbox commit, the batch POST (whose traceparent header names
// that trace, so the portal can join it) and the ack, in that order.
func TestTracingOneTraceFromHookToAck(t *testing.T) {
	var b queuetest.Backend
	for _, x := range queuetest.Backends() {
		if x.Driver == "sqlite" {
			b = x
		}
	}
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })

	tg := telegramtest.New(t, botToken)
	cfg := testConfig(b, b.DSN(t), tg.Endpoint())
	cfg.PublicURL = "https://gateway.test"
	cfg.Tracing.Enabled, cfg.Tracing.Provider = true, tp
	g := startGateway(t, cfg)

	// The portal: verifies, keeps the traceparent it was sent, acks.
	var mu sync.Mutex
	var parents []string
	var secret string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		s := secret
		mu.Unlock()
		if _, err := sdk.ReadBatch(r, []string{s}, 1<<20); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		mu.Lock()
		parents = append(parents, r.Header.Get("traceparent"))
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	pr, s2, err := g.app.Store().Records.CreatePortal(context.Background(), "Traced portal", srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	secret = s2
	mu.Unlock()
	client := &sdk.Client{BaseURL: g.URL, PortalID: pr.ID, Secret: s2}
	var line struct{ ID string }
	if err := client.Do(context.Background(), "POST", "/v1/lines", map[string]string{"name": "Traced"}, &line, nil); err != nil {
		t.Fatal(err)
	}
	tok := lineBot(tg, line.ID)
	var conn struct {
		ID       string `json:"id"`
		EntryURL string `json:"entry_url"`
	}
	if err := client.Do(context.Background(), "POST", "/v1/lines/"+line.ID+"/connections", map[string]any{
		"connector": "telegram", "settings": map[string]string{"bot_token": tok, "mode": "webhook", "webhook_secret": "traced-secret"},
	}, &conn, nil); err != nil {
		t.Fatal(err)
	}
	if err := client.Do(context.Background(), "POST", "/v1/connections/"+conn.ID+"/activate", nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	exp.Reset()
	hash := conn.EntryURL[strings.LastIndex(conn.EntryURL, "/")+1:]
	if code := postUpdate(t, g, hash, "traced-secret", tg.Update(9001, 55, "trace me")); code != http.StatusOK {
		t.Fatalf("webhook %d", code)
	}
	var names map[string]sdktrace.ReadOnlySpan
	deadline := time.Now().Add(10 * time.Second)
	for {
		names = map[string]sdktrace.ReadOnlySpan{}
		for _, s := range exp.GetSpans().Snapshots() {
			names[s.Name()] = s
		}
		if names["outbox.ack"] != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("spans so far: %v", keys(names))
		}
		time.Sleep(20 * time.Millisecond)
	}
	hook, enq, post, ack := names["POST /hook/{hash}"], names["outbox.enqueue"], names["batch POST"], names["outbox.ack"]
	if hook == nil || enq == nil || post == nil {
		t.Fatalf("spans: %v", keys(names))
	}
	id := hook.SpanContext().TraceID()
	for _, s := range []sdktrace.ReadOnlySpan{enq, post, ack} {
		if s.SpanContext().TraceID() != id {
			t.Errorf("span %s is in trace %s, want %s", s.Name(), s.SpanContext().TraceID(), id)
		}
	}
	if enq.Parent().SpanID() != hook.SpanContext().SpanID() || post.Parent().SpanID() != enq.SpanContext().SpanID() ||
		ack.Parent().SpanID() != post.SpanContext().SpanID() {
		t.Errorf("the spans do not chain hook → enqueue → batch POST → ack")
	}
	if !hook.StartTime().Before(post.StartTime()) || ack.StartTime().Before(post.EndTime()) {
		t.Errorf("out of order: post %v–%v, ack starts %v", post.StartTime(), post.EndTime(), ack.StartTime())
	}
	mu.Lock()
	if len(parents) != 1 || !strings.HasPrefix(parents[0], "00-"+id.String()+"-"+post.SpanContext().SpanID().String()+"-") {
		t.Errorf("traceparent sent to the portal = %q, want trace %s and the batch POST span", parents, id)
	}
	mu.Unlock()

	// A reply: the API call, the attempt at the messenger, and the batch
	// carrying its status event, in one trace.
	exp.Reset()
	acc, err := client.Send(context.Background(), conn.ID, connectors.Outbound{ChatID: "55", Text: "traced answer"})
	if err != nil {
		t.Fatal(err)
	}
	var api, send, status sdktrace.ReadOnlySpan
	deadline = time.Now().Add(10 * time.Second)
	for status == nil {
		for _, s := range exp.GetSpans().Snapshots() {
			switch s.Name() {
			case "POST /v1/connections/{connection}/messages":
				api = s
			case "messenger send":
				send = s
			case "batch POST":
				status = s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("reply spans: api %v, send %v, status batch %v", api != nil, send != nil, status != nil)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if api == nil || send == nil {
		t.Fatalf("reply spans: api %v, send %v", api != nil, send != nil)
	}
	rid := api.SpanContext().TraceID()
	if send.SpanContext().TraceID() != rid || status.SpanContext().TraceID() != rid || rid == id {
		t.Errorf("reply %s: api %s, send %s, status batch %s; want one new trace", acc.ID, rid, send.SpanContext().TraceID(), status.SpanContext().TraceID())
	}
	if send.Parent().SpanID() != api.SpanContext().SpanID() {
		t.Error("the messenger attempt is not a child of the API call")
	}
}

func keys(m map[string]sdktrace.ReadOnlySpan) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
