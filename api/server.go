// Package api is the gateway's HTTP surface: messenger entry URLs
// (/hook/{hash}), the signed portal API (/v1/...), health endpoints, and the
// mount point of the admin console (/console/, package api/console).
package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/connector-gateway/connector/api/httpjson"
	"github.com/connector-gateway/connector/api/metrics"
	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/portal"
	"github.com/connector-gateway/connector/queue"
)

// Config tunes the HTTP surface. Zero fields take the documented default.
// The tagged fields are the gateway's http.* config keys.
type Config struct {
	// BodyLimit caps every request body, in bytes. Default 1048576 (1 MiB).
	BodyLimit int64 `mapstructure:"body_limit"`
	// ShutdownTimeout bounds the drain of in-flight requests when the
	// gateway stops (the program that serves the handler applies it).
	// Default 15s.
	ShutdownTimeout time.Duration `mapstructure:"shutdown_timeout"`

	Logger *slog.Logger `mapstructure:"-"`
}

// DefaultConfig is the http.* configuration used when nothing is set.
func DefaultConfig() Config { return Config{BodyLimit: 1 << 20, ShutdownTimeout: 15 * time.Second} }

// Validate checks the configured fields and names the first bad one by its
// config key.
func (c Config) Validate() error {
	if c.BodyLimit < 1024 {
		return errors.New("body_limit: must be at least 1024 bytes")
	}
	if c.ShutdownTimeout < 0 {
		return errors.New("shutdown_timeout: must not be negative")
	}
	return nil
}

func (c *Config) setDefaults() {
	if c.BodyLimit == 0 {
		c.BodyLimit = 1 << 20
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Deps are the parts the API works with.
type Deps struct {
	Records *portal.Records
	Outbox  *queue.Outbox
	// Outbound stores portals' send/edit/delete requests.
	Outbound *queue.Outbound
	// Keys refuses replayed signed requests.
	Keys     *queue.Keys
	Registry *connectors.Registry
	// Inbox takes the events webhooks carry.
	Inbox *portal.Inbox
	// Views makes connectors' views of connections (and knows the public
	// URL messengers call).
	Views *portal.Views
	// Lifecycle tests, activates, deactivates and reconfigures connections.
	Lifecycle *portal.Lifecycle
	// Streams tells whether another gateway process holds a polled
	// connection's stream (the poll supervisor; nil: none does).
	Streams StreamHolders
	// Metrics records HTTP and webhook metrics and serves /metrics (nil:
	// no metrics).
	Metrics *metrics.Metrics
	// Cache serves the hook path's connection lookups (nil: no cache).
	Cache *portal.Cache
	// Files signs and checks file links (nil: no file links).
	Files *portal.FileLinks
	// Widget serves the web chat widget (nil: no webchat connector).
	Widget Widget
	// Adapters are the helpdesk adapters by portal kind; those that are
	// portal.HookReceiver take the helpdesk's webhooks at
	// POST /adapters/{portal}/... (nil: none).
	Adapters map[string]portal.Deliverer
	// WakeSender is called after an outbound request is stored.
	WakeSender func()
	// Ready reports whether the gateway can serve (database reachable,
	// schema current, workers running); nil error means ready.
	Ready func(ctx context.Context) error
}

// StreamHolders is what the API asks about polled connections' streams
// (portal.Receivers). Safe for concurrent use.
type StreamHolders interface {
	// HeldElsewhere reports whether another gateway process holds the
	// connection's stream now.
	HeldElsewhere(ctx context.Context, connectionID string) (bool, error)
}

// Server serves the gateway's HTTP API. It routes; the handlers live in
// groups by concept (hooks: what messengers call; lineAPI, connectionAPI,
// messageAPI: the signed portal API), each over the same base.
type Server struct {
	*base
	mux *http.ServeMux
	// console serves /console/ (nil: not found); see MountConsole.
	console http.Handler
}

// base is what every handler group works with: the configuration, the
// deps, and the helpers that find a portal's own lines and connections.
type base struct {
	cfg Config
	Deps
}

// The handler groups.
type (
	hooks         struct{ *base }
	lineAPI       struct{ *base }
	connectionAPI struct{ *base }
	messageAPI    struct{ *base }
)

// New builds the server and its routes.
func New(cfg Config, deps Deps) *Server {
	cfg.setDefaults()
	s := &Server{base: &base{cfg: cfg, Deps: deps}, mux: http.NewServeMux()}
	s.routes()
	return s
}

// MountConsole has the server pass every request under /console/ to h (the
// admin console). Call it before serving.
func (s *Server) MountConsole(h http.Handler) { s.console = h }

func (s *Server) serveConsole(w http.ResponseWriter, r *http.Request) {
	if s.console == nil {
		http.NotFound(w, r)
		return
	}
	s.console.ServeHTTP(w, r)
}

// ServeHTTP implements http.Handler. Every request gets a request id (the
// caller's X-Request-Id when it is a sane token, else a new one), echoed in
// the answer and attached to every log line of the request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := r.Header.Get("X-Request-Id")
	if !saneID(id) {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		id = hex.EncodeToString(b)
	}
	w.Header().Set("X-Request-Id", id)
	s.mux.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey, id)))
}

func saneID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// logger is the server's logger with the request's id.
func (s *base) logger(r *http.Request) *slog.Logger {
	if id, ok := r.Context().Value(requestIDKey).(string); ok {
		return s.cfg.Logger.With(slog.String("request_id", id))
	}
	return s.cfg.Logger
}

// Route is one portal API route, listed for the OpenAPI check.
type Route struct{ Method, Pattern string }

// PortalRoutes lists the signed portal API routes.
func PortalRoutes() []Route {
	return []Route{
		{"GET", "/v1/connectors"},
		{"GET", "/v1/lines"},
		{"POST", "/v1/lines"},
		{"GET", "/v1/lines/{line}"},
		{"GET", "/v1/lines/{line}/connections"},
		{"POST", "/v1/lines/{line}/connections"},
		{"GET", "/v1/lines/{line}/dead-letters"},
		{"POST", "/v1/lines/{line}/dead-letters/replay"},
		{"POST", "/v1/lines/{line}/dead-letters/purge"},
		{"GET", "/v1/connections/{connection}"},
		{"PUT", "/v1/connections/{connection}/settings"},
		{"POST", "/v1/connections/{connection}/test"},
		{"POST", "/v1/connections/{connection}/activate"},
		{"POST", "/v1/connections/{connection}/deactivate"},
		{"POST", "/v1/connections/{connection}/messages"},
		{"PATCH", "/v1/connections/{connection}/messages/{message}"},
		{"DELETE", "/v1/connections/{connection}/messages/{message}"},
		{"POST", "/v1/connections/{connection}/typing"},
		{"POST", "/v1/connections/{connection}/read"},
		{"POST", "/v1/connections/{connection}/conversations"},
		{"POST", "/v1/connections/{connection}/conversations/{chat}/close"},
		{"GET", "/v1/requests/{request}"},
	}
}

func (s *Server) routes() {
	s.handle("GET /healthz", http.HandlerFunc(s.healthz))
	s.handle("GET /readyz", http.HandlerFunc(s.readyz))
	hk, lines, conns, msgs := hooks{s.base}, lineAPI{s.base}, connectionAPI{s.base}, messageAPI{s.base}
	s.handle("POST /hook/{hash}", http.HandlerFunc(hk.hook))
	s.handle("GET /hook/{hash}", http.HandlerFunc(hk.handshake))
	s.handle("GET /files/{token}", http.HandlerFunc(hk.file))
	s.handle("POST /adapters/{portal}/{rest...}", http.HandlerFunc(hk.adapterHook))
	s.handle("GET /pages/{hash}/{rest...}", http.HandlerFunc(hk.page))
	s.handle("POST /pages/{hash}/{rest...}", http.HandlerFunc(hk.page))
	s.handle("GET /console/", http.HandlerFunc(s.serveConsole))
	s.handle("POST /console/", http.HandlerFunc(s.serveConsole))
	metricsHandler := http.NotFoundHandler()
	if s.Metrics != nil {
		metricsHandler = s.Metrics.Handler()
	}
	s.mux.Handle("GET /metrics", metricsHandler)
	s.widgetRoutes()

	handlers := map[string]portalHandler{
		"GET /v1/connectors":                                           lines.listConnectors,
		"GET /v1/lines":                                                lines.listLines,
		"POST /v1/lines":                                               lines.createLine,
		"GET /v1/lines/{line}":                                         lines.getLine,
		"GET /v1/lines/{line}/connections":                             conns.listConnections,
		"POST /v1/lines/{line}/connections":                            conns.createConnection,
		"GET /v1/lines/{line}/dead-letters":                            lines.listDeadLetters,
		"POST /v1/lines/{line}/dead-letters/replay":                    lines.replayDeadLetters,
		"POST /v1/lines/{line}/dead-letters/purge":                     lines.purgeDeadLetters,
		"GET /v1/connections/{connection}":                             conns.getConnection,
		"PUT /v1/connections/{connection}/settings":                    conns.saveSettings,
		"POST /v1/connections/{connection}/test":                       conns.testConnection,
		"POST /v1/connections/{connection}/activate":                   conns.activate,
		"POST /v1/connections/{connection}/deactivate":                 conns.deactivate,
		"POST /v1/connections/{connection}/messages":                   msgs.sendMessage,
		"PATCH /v1/connections/{connection}/messages/{message}":        msgs.editMessage,
		"DELETE /v1/connections/{connection}/messages/{message}":       msgs.deleteMessage,
		"POST /v1/connections/{connection}/typing":                     msgs.typing,
		"POST /v1/connections/{connection}/read":                       msgs.markRead,
		"POST /v1/connections/{connection}/conversations":              conns.openConversation,
		"POST /v1/connections/{connection}/conversations/{chat}/close": conns.closeConversation,
		"GET /v1/requests/{request}":                                   msgs.getRequest,
	}
	for _, rt := range PortalRoutes() {
		h, ok := handlers[rt.Method+" "+rt.Pattern]
		if !ok {
			panic("api: no handler for " + rt.Method + " " + rt.Pattern)
		}
		s.handle(rt.Method+" "+rt.Pattern, s.authenticated(h))
	}
	s.mux.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such route")
	})
}

// handle registers a route, timed under its pattern when metrics are on.
func (s *Server) handle(pattern string, h http.Handler) {
	if s.Metrics != nil {
		h = s.Metrics.Instrument(pattern, h)
	}
	s.mux.Handle(pattern, h)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	httpjson.Error(w, status, code, msg, nil)
}

func writeErrorFields(w http.ResponseWriter, status int, code, msg string, fields map[string]string) {
	httpjson.Error(w, status, code, msg, fields)
}

func writeJSON(w http.ResponseWriter, status int, v any) { httpjson.Write(w, status, v) }

func (s *base) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *base) readyz(w http.ResponseWriter, r *http.Request) {
	if s.Ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		if err := s.Ready(ctx); err != nil {
			s.logger(r).Warn("not ready", slog.Any("err", err))
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": err.Error()})
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// errTooLarge is how readBody reports an over-limit body.
var errTooLarge = errors.New("request body too large")
