// Package traffic keeps the gateway's own recent history in memory, for the
// console: per portal and minute, events in, delivered and failed, and the
// queue depth, over the last hour; and the path of recent events (received,
// each batch attempt with its answer, delivered), so an admin can ask
// "where is my message?". It is lost on restart by design: the durable
// truth is the outbox; this is a window on it.
package traffic

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/portal"
	"github.com/connector-gateway/connector/queue"
)

// Window is how far back the per-minute series reach.
const Window = time.Hour

// keepTraces bounds the remembered event paths (oldest forgotten first;
// up to a quarter more are held between trims).
const keepTraces = 20000

// Minute is one portal's traffic in one minute.
type Minute struct {
	At time.Time
	// In counts new events from messengers (the gateway's own status
	// events are counted when delivered, not here).
	In        int
	Delivered int
	Failed    int
	// Depth is the most events seen waiting in that minute (sampled).
	Depth int64
}

// Attempt is one batch POST that carried an event, or a run of
// consecutive retries of the same batch that got the same failure.
type Attempt struct {
	Batch string
	// At is when the batch was posted (the first post of a run).
	At time.Time
	// Took is how long the portal took to answer (the last post of a run).
	Took time.Duration
	// Error is the failure (the portal's answer); empty when acknowledged.
	Error string
	// Count is how many posts the entry stands for: 1, or more when the
	// same batch was retried and failed the same way again; Last is when
	// the last of them was posted.
	Count int
	Last  time.Time
}

// Trace is the path of one event through the gateway.
type Trace struct {
	EventID    string
	Type       string
	Portal     string
	Line       string
	Connection string
	Connector  string
	ChatID     string
	// RequestID is the outbound request a status event reports on.
	RequestID  string
	ReceivedAt time.Time
	// Duplicates counts the messenger's repeats of it that the outbox
	// deduplicated.
	Duplicates int
	// Attempts are the first maxAttempts-1 entries and the latest one;
	// Omitted counts the posts of the entries between them that were not
	// kept.
	Attempts    []Attempt
	Omitted     int
	DeliveredAt time.Time
}

// OmittedBefore is the index of the entry the omitted posts came before
// (the latest one), or -1 when none were omitted.
func (t Trace) OmittedBefore() int {
	if t.Omitted == 0 {
		return -1
	}
	return len(t.Attempts) - 1
}

// Recorder hears the inbox and the dispatcher. It is safe for concurrent
// use; its methods are quick (one mutex, no I/O).
type Recorder struct {
	now func() time.Time

	mu      sync.Mutex
	minutes map[string]*[60]Minute // per portal, by minute of the hour
	traces  map[string]*Trace
	order   []string // event ids, oldest first, for forgetting
}

var (
	_ portal.Observer      = (*Recorder)(nil)
	_ portal.BatchObserver = (*Recorder)(nil)
)

// New returns an empty recorder; now is the clock (nil: time.Now).
func New(now func() time.Time) *Recorder {
	if now == nil {
		now = time.Now
	}
	return &Recorder{now: now, minutes: map[string]*[60]Minute{}, traces: map[string]*Trace{}}
}

// bucket returns the portal's minute for t, reset when it last held an
// hour-old minute. Callers hold mu.
func (r *Recorder) bucket(portalID string, t time.Time) *Minute {
	ring := r.minutes[portalID]
	if ring == nil {
		ring = &[60]Minute{}
		r.minutes[portalID] = ring
	}
	at := t.UTC().Truncate(time.Minute)
	m := &ring[at.Minute()]
	if !m.At.Equal(at) {
		*m = Minute{At: at}
	}
	return m
}

// Received records events the inbox committed for a portal line; added of
// them were new, the rest duplicates.
func (r *Recorder) Received(portalID, lineID string, events []connectors.Event, added int) {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.bucket(portalID, now).In += added
	for _, ev := range events {
		if t := r.traces[ev.ID]; t != nil {
			t.Duplicates++
			continue
		}
		t := &Trace{EventID: ev.ID, Type: ev.Type, Portal: portalID, Line: lineID, Connection: ev.Connection, Connector: ev.Connector, ReceivedAt: now}
		if ev.Chat != nil {
			t.ChatID = ev.Chat.ID
		}
		if ev.Status != nil {
			t.RequestID = ev.Status.RequestID
		}
		r.traces[ev.ID] = t
		r.order = append(r.order, ev.ID)
	}
	r.forget()
}

// forget drops the oldest traces beyond keepTraces. It trims only once a
// quarter more has gathered, so the copy of the kept ids is paid once per
// keepTraces/4 events, not on every event (which cost a 20,000-id copy per
// webhook once the window was full). Callers hold mu.
func (r *Recorder) forget() {
	if len(r.order) <= keepTraces+keepTraces/4 {
		return
	}
	over := len(r.order) - keepTraces
	for _, id := range r.order[:over] {
		delete(r.traces, id)
	}
	r.order = append(r.order[:0:0], r.order[over:]...)
}

// BatchDone counts delivered and failed events per portal.
func (r *Recorder) BatchDone(portalID string, events int, _ time.Duration, err error) {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.bucket(portalID, now)
	if err == nil {
		m.Delivered += events
	} else {
		m.Failed += events
	}
}

// BatchPosted records one attempt on each event the batch carried. An
// event this recorder did not see come in (the sender's status events,
// which commit in the sender's own transaction, or events enqueued before
// this process started) is read from its stored payload.
func (r *Recorder) BatchPosted(portalID, lineID, batchID string, items []queue.Item, took time.Duration, err error) {
	now := r.now()
	a := Attempt{Batch: batchID, At: now, Took: took, Count: 1, Last: now}
	if err != nil {
		a.Error = err.Error()
	}
	// Traces of events not seen coming in are decoded from their payloads
	// before taking the lock: decoding is the costly part (a drained
	// backlog is nothing but such events), and under the one lock it held
	// every other delivering worker waiting.
	var fresh map[string]*Trace
	r.mu.Lock()
	for _, it := range items {
		if r.traces[it.EventID] == nil {
			if fresh == nil {
				fresh = make(map[string]*Trace, len(items))
			}
			fresh[it.EventID] = nil
		}
	}
	r.mu.Unlock()
	if fresh != nil {
		for _, it := range items {
			if _, ok := fresh[it.EventID]; ok {
				fresh[it.EventID] = traceOf(portalID, lineID, it)
			}
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, it := range items {
		t := r.traces[it.EventID]
		if t == nil {
			t = fresh[it.EventID]
			if t == nil { // forgotten between the two locks
				t = traceOf(portalID, lineID, it)
			}
			r.traces[it.EventID] = t
			r.order = append(r.order, it.EventID)
		}
		if t.ReceivedAt.IsZero() {
			t.ReceivedAt = it.CreatedAt
		}
		t.attempt(a)
		if err == nil {
			t.DeliveredAt = now
		}
	}
	r.forget()
}

// maxAttempts bounds the entries a trace keeps: the first ones and the
// latest, so a path that ends in a delivery shows it.
const maxAttempts = 50

// attempt adds a to the trace. A retry of the batch that failed the same
// way as the entry before it joins that entry: while a portal is down the
// same batch is posted again at every retry, and an entry per post made
// the traffic window's memory grow with the outage (24 MB of heap in
// connector bench's backlog fill, with a 1 s retry schedule) and the path
// hard to read.
// Callers hold mu.
func (t *Trace) attempt(a Attempt) {
	if n := len(t.Attempts); n > 0 {
		if p := &t.Attempts[n-1]; a.Error != "" && p.Batch == a.Batch && p.Error == a.Error {
			p.Count++
			p.Last, p.Took = a.At, a.Took
			return
		}
	}
	if len(t.Attempts) < maxAttempts {
		t.Attempts = append(t.Attempts, a)
		return
	}
	p := &t.Attempts[len(t.Attempts)-1]
	t.Omitted += max(p.Count, 1)
	*p = a
}

// traceOf starts a trace from a stored event.
func traceOf(portalID, lineID string, it queue.Item) *Trace {
	t := &Trace{EventID: it.EventID, Portal: portalID, Line: lineID, ReceivedAt: it.CreatedAt}
	if f, ok := fieldsOf(it.Payload); ok {
		t.Type, t.Connection, t.Connector, t.ChatID, t.RequestID = f.Type, f.Connection, f.Connector, f.ChatID, f.RequestID
	}
	return t
}

// SendDone is part of portal.Observer; outbound attempts are not charted.
func (r *Recorder) SendDone(string, string, string) {}

// Depth records the events waiting per portal at this moment.
func (r *Recorder) Depth(byPortal map[string]int64) {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	for p := range r.minutes {
		if _, ok := byPortal[p]; !ok {
			byPortal[p] = 0
		}
	}
	for p, n := range byPortal {
		if m := r.bucket(p, now); n > m.Depth {
			m.Depth = n
		}
	}
}

// Sample calls depths every period and records them, until ctx ends.
func (r *Recorder) Sample(ctx context.Context, every time.Duration, depths func(context.Context) (map[string]int64, error)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if d, err := depths(ctx); err == nil {
			r.Depth(d)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Series is a portal's last hour, one Minute per minute, oldest first
// (minutes without traffic are zero).
func (r *Recorder) Series(portalID string) []Minute {
	now := r.now().UTC().Truncate(time.Minute)
	r.mu.Lock()
	defer r.mu.Unlock()
	ring := r.minutes[portalID]
	out := make([]Minute, 60)
	for i := range out {
		at := now.Add(time.Duration(i-59) * time.Minute)
		out[i] = Minute{At: at}
		if ring != nil && ring[at.Minute()].At.Equal(at) {
			out[i] = ring[at.Minute()]
		}
	}
	return out
}

// Find returns the remembered events that match q: an event id, a chat
// id, a batch id or an outbound request id (its status events), newest
// first, at most 50.
func (r *Recorder) Find(q string) []Trace {
	q = strings.TrimSpace(q)
	if q == "" {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Trace
	for i := len(r.order) - 1; i >= 0 && len(out) < 50; i-- {
		t := r.traces[r.order[i]]
		if t == nil {
			continue
		}
		hit := t.EventID == q || t.ChatID == q || t.RequestID == q
		for _, a := range t.Attempts {
			hit = hit || a.Batch == q
		}
		if hit {
			cp := *t
			cp.Attempts = append([]Attempt(nil), t.Attempts...)
			out = append(out, cp)
		}
	}
	return out
}

// Tee is an observer that tells both o (metrics) and r.
func Tee(o portal.Observer, r *Recorder) portal.Observer { return tee{o, r} }

type tee struct {
	o portal.Observer
	r *Recorder
}

func (t tee) BatchDone(p string, n int, took time.Duration, err error) {
	t.o.BatchDone(p, n, took, err)
	t.r.BatchDone(p, n, took, err)
}

func (t tee) SendDone(c, op, outcome string) {
	t.o.SendDone(c, op, outcome)
	t.r.SendDone(c, op, outcome)
}

func (t tee) BatchPosted(p, l, b string, items []queue.Item, took time.Duration, err error) {
	if bo, ok := t.o.(portal.BatchObserver); ok {
		bo.BatchPosted(p, l, b, items, took, err)
	}
	t.r.BatchPosted(p, l, b, items, took, err)
}
