// Command portal-go is a complete, small helpdesk portal on portal/sdk: it
// receives the gateway's signed batches, verifies them, stores every event
// once in a JSON-lines file (durably, before it acknowledges), acknowledges,
// and answers each customer message through the gateway's signed API.
//
// Run it beside a gateway (see README.md in this folder):
//
//	GATEWAY_URL=http://127.0.0.1:8080 PORTAL_ID=prt_... GATEWAY_SECRET=whsec_... \
//	  go run ./examples/portal-go
//
// and register http://127.0.0.1:9000/gateway/batches as the portal's webhook
// URL. GET / lists what was stored.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/portal/sdk"
)

// Config is what the portal needs; main reads it from the environment.
type Config struct {
	// GatewayURL is the gateway's base URL (GATEWAY_URL).
	GatewayURL string
	// PortalID and Secret are the portal's id and signing secret
	// (PORTAL_ID, GATEWAY_SECRET), as `connector portal create` printed them.
	PortalID, Secret string
	// Store is the JSON-lines file events are kept in (STORE, default
	// portal-events.jsonl).
	Store string
	// Reply is the text sent back to every customer message; %s is the
	// customer's text (REPLY). Empty: no answers.
	Reply string
}

func main() {
	cfg := Config{
		GatewayURL: os.Getenv("GATEWAY_URL"), PortalID: os.Getenv("PORTAL_ID"), Secret: os.Getenv("GATEWAY_SECRET"),
		Store: envOr("STORE", "portal-events.jsonl"), Reply: envOr("REPLY", "Thanks, we got your message: %q. An agent will answer soon."),
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", envOr("LISTEN", "127.0.0.1:9000"))
	if err != nil {
		log.Error("listen", slog.Any("err", err))
		os.Exit(1)
	}
	if err := Run(ctx, cfg, ln, log); err != nil {
		log.Error("portal stopped", slog.Any("err", err))
		os.Exit(1)
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// Run serves the portal on ln until ctx ends.
func Run(ctx context.Context, cfg Config, ln net.Listener, log *slog.Logger) error {
	if cfg.GatewayURL == "" || cfg.PortalID == "" || cfg.Secret == "" {
		return errors.New("GATEWAY_URL, PORTAL_ID and GATEWAY_SECRET are required")
	}
	st, err := openStore(cfg.Store)
	if err != nil {
		return err
	}
	defer st.close()
	p := &portal{cfg: cfg, log: log, store: st,
		client: &sdk.Client{BaseURL: cfg.GatewayURL, PortalID: cfg.PortalID, Secret: cfg.Secret, HTTP: &http.Client{Timeout: 30 * time.Second}}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /gateway/batches", p.batches)
	mux.HandleFunc("GET /{$}", p.list)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	log.Info("portal serving", slog.String("addr", ln.Addr().String()))
	err = srv.Serve(ln)
	p.replies.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

type portal struct {
	cfg     Config
	log     *slog.Logger
	store   *store
	client  *sdk.Client
	replies sync.WaitGroup
}

// batches is the webhook: verify, store, then acknowledge. Anything that
// goes wrong before the events are stored answers non-2xx, and the gateway
// sends the batch again later.
func (p *portal) batches(w http.ResponseWriter, r *http.Request) {
	batch, err := sdk.ReadBatch(r, []string{p.cfg.Secret}, 16<<20)
	if errors.Is(err, sdk.ErrTooLarge) {
		http.Error(w, "too large", http.StatusRequestEntityTooLarge)
		return
	}
	if err != nil {
		p.log.Warn("batch refused", slog.Any("err", err))
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	fresh, err := p.store.add(batch.Events)
	if err != nil {
		p.log.Error("store batch", slog.Any("err", err))
		http.Error(w, "try again later", http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusNoContent) // the ack
	p.log.Info("batch stored", slog.String("batch", batch.ID), slog.Int("events", len(batch.Events)), slog.Int("new", len(fresh)))
	for _, ev := range fresh {
		if ev.Type == connectors.TypeMessageCreated && ev.Message != nil && ev.Chat != nil && p.cfg.Reply != "" {
			p.replies.Add(1)
			go p.reply(ev)
		}
	}
}

// reply answers a customer through the signed API. The outcome comes back
// later as a status.delivered or status.failed event.
func (p *portal) reply(ev connectors.Event) {
	defer p.replies.Done()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	acc, err := p.client.Send(ctx, ev.Connection, connectors.Outbound{
		ChatID: ev.Chat.ID, Text: fmt.Sprintf(p.cfg.Reply, ev.Message.Text), ReplyTo: ev.Message.ID,
	})
	if err != nil {
		p.log.Error("reply", slog.String("event", ev.ID), slog.Any("err", err))
		return
	}
	p.log.Info("reply accepted", slog.String("event", ev.ID), slog.String("request", acc.ID))
}

func (p *portal) list(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"events": p.store.all()})
}

// store keeps events in a JSON-lines file, each event id once. A real
// portal uses its database; the contract is the same: durable before the
// ack, and a known id is skipped (delivery is at-least-once).
type store struct {
	mu     sync.Mutex
	f      *os.File
	seen   map[string]bool
	events []connectors.Event
}

func openStore(path string) (*store, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	s := &store{f: f, seen: map[string]bool{}}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		var ev connectors.Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			f.Close()
			return nil, fmt.Errorf("store: %s: %w", path, err)
		}
		s.seen[ev.ID] = true
		s.events = append(s.events, ev)
	}
	if err := sc.Err(); err != nil {
		f.Close()
		return nil, fmt.Errorf("store: %s: %w", path, err)
	}
	return s, nil
}

// add appends the events not seen before and syncs the file; it returns
// the new ones.
func (s *store) add(events []connectors.Event) ([]connectors.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var fresh []connectors.Event
	var buf []byte
	for _, ev := range events {
		if s.seen[ev.ID] {
			continue
		}
		line, err := json.Marshal(ev)
		if err != nil {
			return nil, err
		}
		buf = append(append(buf, line...), '\n')
		fresh = append(fresh, ev)
	}
	if len(fresh) == 0 {
		return nil, nil
	}
	if _, err := s.f.Write(buf); err != nil {
		return nil, err
	}
	if err := s.f.Sync(); err != nil {
		return nil, err
	}
	for _, ev := range fresh {
		s.seen[ev.ID] = true
	}
	s.events = append(s.events, fresh...)
	return fresh, nil
}

func (s *store) all() []connectors.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]connectors.Event{}, s.events...)
}

func (s *store) close() { s.f.Close() }
