// Package metrics exposes the gateway's Prometheus metrics. Labels are
// bounded by configuration (connector types, portals, lines, routes), never
// by traffic (no chat or user labels).
package metrics

import (
	"context"
	"database/sql"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/connector-gateway/connector/queue"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds every series. Its methods are safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	received   *prometheus.CounterVec
	enqueued   *prometheus.CounterVec
	duplicates *prometheus.CounterVec
	refused    *prometheus.CounterVec
	batches    *prometheus.CounterVec
	batchEvts  *prometheus.CounterVec
	batchTime  *prometheus.HistogramVec
	sends      *prometheus.CounterVec
	httpTime   *prometheus.HistogramVec
}

// New registers every series, the Go runtime and process collectors, and
// the database pool stats of db.
func New(db *sql.DB) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	f := func(c prometheus.Collector) { m.reg.MustRegister(c) }
	m.received = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "connector_events_received_total",
		Help: "Events parsed from messenger webhooks, by connector."}, []string{"connector"})
	m.enqueued = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "connector_events_enqueued_total",
		Help: "Events committed to the outbox, by connector."}, []string{"connector"})
	m.duplicates = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "connector_events_deduplicated_total",
		Help: "Events dropped as repeats of an earlier messenger update, by connector."}, []string{"connector"})
	m.refused = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "connector_webhooks_refused_total",
		Help: "Messenger webhooks refused, by connector and reason (unauthorized, malformed, too_large, unavailable)."}, []string{"connector", "reason"})
	m.batches = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "connector_batches_total",
		Help: "Batch POSTs to portals, by portal and result (delivered, failed)."}, []string{"portal", "result"})
	m.batchEvts = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "connector_events_delivered_total",
		Help: "Events acknowledged by portals, by portal."}, []string{"portal"})
	m.batchTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "connector_batch_duration_seconds",
		Help: "Time of one batch POST to a portal.", Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12)}, []string{"portal"})
	m.sends = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "connector_outbound_total",
		Help: "Outbound attempts to messengers, by connector, operation and outcome (delivered, failed, retry, rate_limited)."}, []string{"connector", "op", "outcome"})
	m.httpTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "connector_http_request_duration_seconds",
		Help: "HTTP request latency, by route pattern and status class.", Buckets: prometheus.ExponentialBuckets(0.0005, 2.5, 12)}, []string{"route", "code"})
	for _, c := range []prometheus.Collector{m.received, m.enqueued, m.duplicates, m.refused, m.batches, m.batchEvts, m.batchTime, m.sends, m.httpTime,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		f(c)
	}
	if db != nil {
		f(collectors.NewDBStatsCollector(db, "connector"))
	}
	return m
}

// Register adds a collector (the queue collector).
func (m *Metrics) Register(c prometheus.Collector) { m.reg.MustRegister(c) }

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Webhook records one parsed webhook: events parsed, how many were new.
func (m *Metrics) Webhook(connector string, parsed, added int) {
	m.received.WithLabelValues(connector).Add(float64(parsed))
	m.enqueued.WithLabelValues(connector).Add(float64(added))
	m.duplicates.WithLabelValues(connector).Add(float64(parsed - added))
}

// Refused records a refused webhook.
func (m *Metrics) Refused(connector, reason string) {
	m.refused.WithLabelValues(connector, reason).Inc()
}

// BatchDone implements portal.Observer.
func (m *Metrics) BatchDone(portalID string, events int, took time.Duration, err error) {
	m.batchTime.WithLabelValues(portalID).Observe(took.Seconds())
	if err != nil {
		m.batches.WithLabelValues(portalID, "failed").Inc()
		return
	}
	m.batches.WithLabelValues(portalID, "delivered").Inc()
	m.batchEvts.WithLabelValues(portalID).Add(float64(events))
}

// SendDone implements portal.Observer.
func (m *Metrics) SendDone(connector, op, outcome string) {
	m.sends.WithLabelValues(connector, op, outcome).Inc()
}

// Instrument wraps a handler registered under pattern with a latency
// histogram.
func (m *Metrics) Instrument(pattern string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		start := time.Now()
		h.ServeHTTP(sw, r)
		m.httpTime.WithLabelValues(pattern, strconv.Itoa(sw.code/100)+"xx").Observe(time.Since(start).Seconds())
	})
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// QueueSource is what the queue collector reads at scrape time: the
// outbox's per-line depths (queue.Outbox satisfies it). It is called from
// concurrent scrapes; an error means nothing was read.
type QueueSource interface {
	Depths(ctx context.Context) ([]queue.LineDepth, error)
}

// OutboundSource counts the outbound requests not yet finished
// (queue.Outbound satisfies it).
type OutboundSource interface {
	Pending(ctx context.Context) (int64, error)
}

// QueueCollector reads the queue's state at scrape time: depth and oldest
// event age per line, locked-out lines, dead letters, pending outbound
// requests.
type QueueCollector struct {
	queue    QueueSource
	outbound OutboundSource
	log      *slog.Logger

	depth, age, locked, dead, lockedTotal, outboundPending *prometheus.Desc
}

// NewQueueCollector reads the outbox's depths from q and the pending
// outbound requests from out.
func NewQueueCollector(q QueueSource, out OutboundSource, log *slog.Logger) *QueueCollector {
	return &QueueCollector{
		queue: q, outbound: out, log: log,
		depth:           prometheus.NewDesc("connector_queue_depth", "Events waiting in the outbox, by line.", []string{"portal", "line"}, nil),
		age:             prometheus.NewDesc("connector_queue_oldest_age_seconds", "Age of the oldest waiting event, by line.", []string{"portal", "line"}, nil),
		locked:          prometheus.NewDesc("connector_line_locked_out", "1 while a line is locked out after failed deliveries.", []string{"portal", "line"}, nil),
		lockedTotal:     prometheus.NewDesc("connector_lines_locked_out", "Lines locked out now.", nil, nil),
		dead:            prometheus.NewDesc("connector_dead_letters", "Events that expired undelivered and wait for replay, by line.", []string{"portal", "line"}, nil),
		outboundPending: prometheus.NewDesc("connector_outbound_pending", "Outbound requests not yet delivered or failed.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *QueueCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.depth, c.age, c.locked, c.lockedTotal, c.dead, c.outboundPending} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *QueueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	now := time.Now()
	depths, err := c.queue.Depths(ctx)
	if err != nil {
		c.log.Warn("metrics: queue depth", slog.Any("err", err))
	}
	var lockedN int
	for _, d := range depths {
		if d.Pending > 0 {
			ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(d.Pending), d.PortalID, d.LineID)
			ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, now.Sub(d.OldestAt).Seconds(), d.PortalID, d.LineID)
		}
		if d.LockedOut {
			lockedN++
			ch <- prometheus.MustNewConstMetric(c.locked, prometheus.GaugeValue, 1, d.PortalID, d.LineID)
		}
		if d.DeadLetters > 0 {
			ch <- prometheus.MustNewConstMetric(c.dead, prometheus.GaugeValue, float64(d.DeadLetters), d.PortalID, d.LineID)
		}
	}
	ch <- prometheus.MustNewConstMetric(c.lockedTotal, prometheus.GaugeValue, float64(lockedN))
	if pending, err := c.outbound.Pending(ctx); err == nil {
		ch <- prometheus.MustNewConstMetric(c.outboundPending, prometheus.GaugeValue, float64(pending))
	}
}
