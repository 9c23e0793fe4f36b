// Package tracing traces the gateway's message path with OpenTelemetry:
// one trace per inbound message, from the messenger's webhook through the
// outbox commit to the batch POST and the portal's acknowledgement; and one
// per reply, from the portal's API call (joining the portal's own trace
// when it sends a traceparent) through each attempt at the messenger to
// the batch that carries its status event. Batch POSTs carry a W3C
// traceparent header, so a portal can join the trace. Off by default;
// spans go to an OTLP/HTTP collector.
//
// The outbox is durable but a trace context is not stored with the
// events: the link from an event to its trace is kept in memory, so a
// batch sent after a restart, or by another gateway process, starts a
// trace of its own.
package tracing

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/connector-gateway/connector/portal"
	"github.com/connector-gateway/connector/queue"
)

// keepEvents bounds the remembered event → trace links.
const keepEvents = 100000

// Config is the gateway's tracing.* configuration.
type Config struct {
	// Enabled turns tracing on. Default false.
	Enabled bool `mapstructure:"enabled"`
	// OTLPEndpoint is the OTLP/HTTP collector's base URL, e.g.
	// "http://127.0.0.1:4318". Default "": the OTEL_EXPORTER_OTLP_* environment
	// variables, else http://localhost:4318.
	OTLPEndpoint string `mapstructure:"otlp_endpoint"`

	// Provider replaces the OTLP exporter (tests use an in-memory one).
	Provider trace.TracerProvider `mapstructure:"-"`
}

// Validate checks the configured fields.
func (c Config) Validate() error {
	if c.OTLPEndpoint != "" && !strings.HasPrefix(c.OTLPEndpoint, "http://") && !strings.HasPrefix(c.OTLPEndpoint, "https://") {
		return fmt.Errorf("otlp_endpoint: want an http:// or https:// URL, got %q", c.OTLPEndpoint)
	}
	return nil
}

// Tracer traces the gateway. A nil *Tracer traces nothing.
type Tracer struct {
	t        trace.Tracer
	prop     propagation.TraceContext
	shutdown func(context.Context) error

	mu       sync.Mutex
	events   map[string]trace.SpanContext // event id → its enqueue span
	requests map[string]trace.SpanContext // request id → its API call's span
	order    []string
}

var (
	_ portal.BatchTracer   = (*Tracer)(nil)
	_ portal.EnqueueTracer = (*Tracer)(nil)
	_ portal.SendTracer    = (*Tracer)(nil)
)

// New starts tracing as configured; it returns nil when tracing is off.
func New(ctx context.Context, cfg Config, version string) (*Tracer, error) {
	if !cfg.Enabled {
		return nil, nil
	}
	tp, shutdown := cfg.Provider, func(context.Context) error { return nil }
	if tp == nil {
		var opts []otlptracehttp.Option
		if cfg.OTLPEndpoint != "" {
			opts = append(opts, otlptracehttp.WithEndpointURL(cfg.OTLPEndpoint))
		}
		exp, err := otlptracehttp.New(ctx, opts...)
		if err != nil {
			return nil, fmt.Errorf("tracing: OTLP exporter: %w", err)
		}
		res := resource.NewSchemaless(semconv.ServiceName("connector-gateway"), semconv.ServiceVersion(version))
		sdk := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
		tp, shutdown = sdk, sdk.Shutdown
	}
	return &Tracer{t: tp.Tracer("github.com/connector-gateway/connector"), shutdown: shutdown, events: map[string]trace.SpanContext{}, requests: map[string]trace.SpanContext{}}, nil
}

// Shutdown flushes spans still buffered.
func (t *Tracer) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	return t.shutdown(ctx)
}

// Handler wraps the gateway's HTTP handler: a messenger's webhook
// (POST /hook/...) starts a server span, the root of its messages' traces.
func (t *Tracer) Handler(next http.Handler) http.Handler {
	if t == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		route, reply := traced(r)
		if route == "" {
			next.ServeHTTP(w, r)
			return
		}
		// A portal that traces may send its own traceparent: the reply
		// joins its trace.
		ctx := r.Context()
		if reply {
			ctx = t.prop.Extract(ctx, propagation.HeaderCarrier(r.Header))
		}
		ctx, span := t.t.Start(ctx, r.Method+" "+route, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.request.method", r.Method), attribute.String("http.route", route)))
		defer span.End()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK, keep: reply}
		next.ServeHTTP(sw, r.WithContext(ctx))
		span.SetAttributes(attribute.Int("http.response.status_code", sw.status))
		if sw.status >= 500 {
			span.SetStatus(codes.Error, http.StatusText(sw.status))
		}
		if reply && sw.status == http.StatusAccepted {
			var acc struct {
				ID string `json:"id"`
			}
			if json.Unmarshal(sw.body.Bytes(), &acc) == nil && acc.ID != "" {
				span.SetAttributes(attribute.String("connector.request", acc.ID))
				t.remember(t.requests, acc.ID, span.SpanContext())
			}
		}
	})
}

// traced names the route of a request that starts a trace: a messenger's
// webhook, or a portal's send, edit or delete (reply is true).
func traced(r *http.Request) (route string, reply bool) {
	p := r.URL.Path
	switch {
	case r.Method == http.MethodPost && strings.HasPrefix(p, "/hook/"):
		return "/hook/{hash}", false
	case strings.HasPrefix(p, "/v1/connections/") && strings.Contains(p, "/messages"):
		switch r.Method {
		case http.MethodPost:
			return "/v1/connections/{connection}/messages", true
		case http.MethodPatch, http.MethodDelete:
			return "/v1/connections/{connection}/messages/{message}", true
		}
	}
	return "", false
}

type statusWriter struct {
	http.ResponseWriter
	status int
	// keep: the body is kept (a 202's request id, small).
	keep bool
	body bytes.Buffer
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.keep && w.body.Len() < 4096 {
		w.body.Write(b)
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// StartEnqueue traces one outbox commit and remembers it as the trace of
// its events.
func (t *Tracer) StartEnqueue(ctx context.Context, portalID, lineID string, events []string) func(int, error) {
	_, span := t.t.Start(ctx, "outbox.enqueue", trace.WithAttributes(
		attribute.String("connector.portal", portalID), attribute.String("connector.line", lineID), attribute.Int("connector.events", len(events))))
	return func(added int, err error) {
		defer span.End()
		span.SetAttributes(attribute.Int("connector.events_added", added))
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
			return
		}
		for _, id := range events {
			t.remember(t.events, id, span.SpanContext())
		}
	}
}

// remember links an event or request id to its trace, forgetting the
// oldest links beyond keepEvents.
func (t *Tracer) remember(m map[string]trace.SpanContext, id string, sc trace.SpanContext) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := m[id]; ok {
		return
	}
	m[id] = sc
	t.order = append(t.order, id)
	if over := len(t.order) - keepEvents; over > 0 {
		for _, old := range t.order[:over] {
			delete(t.events, old)
			delete(t.requests, old)
		}
		t.order = append(t.order[:0:0], t.order[over:]...)
	}
}

// StartSend traces one attempt on a portal's request, in the trace of the
// API call that made it.
func (t *Tracer) StartSend(ctx context.Context, requestID, connector, op string) (context.Context, func(error)) {
	t.mu.Lock()
	parent, ok := t.requests[requestID]
	t.mu.Unlock()
	if ok {
		ctx = trace.ContextWithRemoteSpanContext(ctx, parent)
	}
	ctx, span := t.t.Start(ctx, "messenger "+op, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
		attribute.String("connector.request", requestID), attribute.String("connector.connector", connector)))
	return ctx, func(err error) {
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}
}

// statusRequest is the request id a stored status event reports on.
func statusRequest(payload []byte) string {
	if !bytes.Contains(payload, []byte(`"request_id"`)) {
		return ""
	}
	var ev struct {
		Status *struct {
			RequestID string `json:"request_id"`
		} `json:"status"`
	}
	if json.Unmarshal(payload, &ev) != nil || ev.Status == nil {
		return ""
	}
	return ev.Status.RequestID
}

// StartBatch starts a batch POST's span: a child of the first event's
// trace (the others are linked), or a new trace when none is known.
func (t *Tracer) StartBatch(ctx context.Context, portalID, lineID, batchID string, items []queue.Item) portal.BatchSpan {
	var parent trace.SpanContext
	var links []trace.Link
	t.mu.Lock()
	for _, it := range items {
		sc, ok := t.events[it.EventID]
		if !ok {
			// A status event continues the trace of its request.
			if req := statusRequest(it.Payload); req != "" {
				sc, ok = t.requests[req]
			}
		}
		if !ok {
			continue
		}
		if !parent.IsValid() {
			parent = sc
		} else if sc.TraceID() != parent.TraceID() && len(links) < 32 {
			links = append(links, trace.Link{SpanContext: sc})
		}
	}
	t.mu.Unlock()
	if parent.IsValid() {
		ctx = trace.ContextWithRemoteSpanContext(ctx, parent)
	}
	ctx, span := t.t.Start(ctx, "batch POST", trace.WithSpanKind(trace.SpanKindClient), trace.WithLinks(links...),
		trace.WithAttributes(attribute.String("connector.portal", portalID), attribute.String("connector.line", lineID),
			attribute.String("connector.batch", batchID), attribute.Int("connector.events", len(items))))
	h := http.Header{}
	t.prop.Inject(ctx, propagation.HeaderCarrier(h))
	return &batchSpan{t: t, ctx: ctx, span: span, header: h, items: items}
}

type batchSpan struct {
	t      *Tracer
	ctx    context.Context
	span   trace.Span
	header http.Header
	items  []queue.Item
}

func (b *batchSpan) Header() http.Header { return b.header }

func (b *batchSpan) Posted(err error) {
	defer b.span.End()
	if err != nil {
		b.span.RecordError(err)
		b.span.SetStatus(codes.Error, err.Error())
	}
}

// Acked records the acknowledgement (the rows deleted): the end of the
// events' path, so their links are forgotten.
func (b *batchSpan) Acked(err error) {
	_, span := b.t.t.Start(b.ctx, "outbox.ack")
	if err != nil && !errors.Is(err, context.Canceled) {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
	if err == nil {
		b.t.mu.Lock()
		for _, it := range b.items {
			delete(b.t.events, it.EventID)
		}
		b.t.mu.Unlock()
	}
}
