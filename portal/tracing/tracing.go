// Package tracing traces the gateway's message path with OpenTelemetry:
// one trace per inbound message, from the messenger's webhook through the
// outbox commit to the batch POST and the portal's acknowledgement. The
// batch POST carries a W3C traceparent header, so a portal can join the
// trace. Off by default; spans go to an OTLP/HTTP collector.
//
// The outbox is durable but a trace context is not stored with the
// events: the link from an event to its trace is kept in memory, so a
// batch sent after a restart, or by another gateway process, starts a
// trace of its own.
package tracing

import (
	"context"
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

	mu     sync.Mutex
	events map[string]trace.SpanContext
	order  []string
}

var (
	_ portal.BatchTracer   = (*Tracer)(nil)
	_ portal.EnqueueTracer = (*Tracer)(nil)
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
	return &Tracer{t: tp.Tracer("github.com/connector-gateway/connector"), shutdown: shutdown, events: map[string]trace.SpanContext{}}, nil
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
		if r.Method != http.MethodPost || !strings.HasPrefix(r.URL.Path, "/hook/") {
			next.ServeHTTP(w, r)
			return
		}
		ctx, span := t.t.Start(r.Context(), "POST /hook/{hash}", trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.request.method", r.Method), attribute.String("http.route", "/hook/{hash}")))
		defer span.End()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r.WithContext(ctx))
		span.SetAttributes(attribute.Int("http.response.status_code", sw.status))
		if sw.status >= 500 {
			span.SetStatus(codes.Error, http.StatusText(sw.status))
		}
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
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
		sc := span.SpanContext()
		t.mu.Lock()
		defer t.mu.Unlock()
		for _, id := range events {
			if _, ok := t.events[id]; !ok {
				t.events[id] = sc
				t.order = append(t.order, id)
			}
		}
		if over := len(t.order) - keepEvents; over > 0 {
			for _, id := range t.order[:over] {
				delete(t.events, id)
			}
			t.order = append(t.order[:0:0], t.order[over:]...)
		}
	}
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
