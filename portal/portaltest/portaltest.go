// Package portaltest is a helpdesk portal for tests: a real HTTP server that
// verifies every batch with the reference Standard Webhooks library, records
// what arrives, and can be told to fail or hang.
package portaltest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/portal/sdk"
)

// Attempt is one batch POST as the portal saw it.
type Attempt struct {
	At       time.Time
	Line     string
	BatchID  string
	Events   int
	Answered int
}

// Server is the test portal.
type Server struct {
	URL string
	srv *httptest.Server

	mu       sync.Mutex
	secrets  []string
	status   map[string]int // per line; 0 = 200
	hang     map[string]time.Duration
	events   map[string][]connectors.Event
	pings    map[string]int
	attempts []Attempt
	badSigs  int
	notify   chan struct{}
	inflight atomic.Int64
}

// New starts a portal; Close it with the test.
func New(t testing.TB) *Server {
	s := &Server{status: map[string]int{}, hang: map[string]time.Duration{}, events: map[string][]connectors.Event{}, pings: map[string]int{}, notify: make(chan struct{}, 1)}
	s.srv = httptest.NewServer(http.HandlerFunc(s.handle))
	s.URL = s.srv.URL + "/gateway/batches"
	t.Cleanup(s.srv.Close)
	return s
}

// SetSecrets sets the secrets batches must be signed with.
func (s *Server) SetSecrets(secrets ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secrets = secrets
}

// Secrets returns the secrets batches are verified with.
func (s *Server) Secrets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.secrets...)
}

// FailLine makes batches of a line get this status (0 restores 200).
func (s *Server) FailLine(line string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status[line] = status
}

// HangLine makes the portal hold a line's batches for d before answering.
func (s *Server) HangLine(line string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hang[line] = d
}

// InFlight is how many batch requests are being answered right now.
func (s *Server) InFlight() int64 { return s.inflight.Load() }

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	s.inflight.Add(1)
	defer s.inflight.Add(-1)
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "read", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	secrets := s.secrets
	s.mu.Unlock()
	verified := false
	for _, sec := range secrets {
		wh, err := standardwebhooks.NewWebhook(sec)
		if err == nil && wh.Verify(body, r.Header) == nil {
			verified = true
			break
		}
	}
	if !verified {
		s.mu.Lock()
		s.badSigs++
		s.mu.Unlock()
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var b sdk.Batch
	if err := json.Unmarshal(body, &b); err != nil || b.ID != r.Header.Get("webhook-id") {
		http.Error(w, "bad batch", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	hang, status := s.hang[b.Line], s.status[b.Line]
	s.mu.Unlock()
	if hang > 0 {
		select {
		case <-time.After(hang):
		case <-r.Context().Done():
		}
	}
	if status == 0 {
		status = http.StatusOK
	}
	s.mu.Lock()
	s.attempts = append(s.attempts, Attempt{At: time.Now(), Line: b.Line, BatchID: b.ID, Events: len(b.Events), Answered: status})
	if status/100 == 2 {
		// Like a real portal: pings (the connection test) are acked and
		// ignored, only counted.
		for _, ev := range b.Events {
			if ev.Type == connectors.TypePing {
				s.pings[b.Line]++
				continue
			}
			s.events[b.Line] = append(s.events[b.Line], ev)
		}
	}
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
	w.WriteHeader(status)
}

// Events returns the events acknowledged on a line, in arrival order.
func (s *Server) Events(line string) []connectors.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]connectors.Event(nil), s.events[line]...)
}

// Pings counts the connection test's pings acknowledged on a line (they
// are not in Events).
func (s *Server) Pings(line string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pings[line]
}

// Total counts acknowledged events over all lines.
func (s *Server) Total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, evs := range s.events {
		n += len(evs)
	}
	return n
}

// Attempts returns every batch POST seen (acknowledged or not).
func (s *Server) Attempts(line string) []Attempt {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Attempt
	for _, a := range s.attempts {
		if line == "" || a.Line == line {
			out = append(out, a)
		}
	}
	return out
}

// BadSignatures counts batches that failed verification.
func (s *Server) BadSignatures() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.badSigs
}

// WaitFor polls cond until it holds or the timeout passes; it reports
// whether it held.
func (s *Server) WaitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.After(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline:
			return cond()
		case <-s.notify:
		case <-tick.C:
		}
	}
	return true
}
