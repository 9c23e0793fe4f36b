package webchat

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync"

	"github.com/connector-gateway/connector/connectors"
)

// Gateway is what the widget needs from the rest of the gateway.
type Gateway struct {
	// DB holds the webchat_* tables (migration 00004).
	DB *sql.DB
	// Driver is the database's driver name: "mysql" or "sqlite".
	Driver string
	// Sink returns the sink of one connection's events: visitors'
	// messages go there, and it returns once they are committed.
	Sink func(c connectors.Conn) connectors.Sink
	// Connection returns the connection behind a widget id (the
	// connection's hash, as in the snippet's data-widget), with file links.
	// ok is false when there is no such connection, it is not a webchat
	// connection, or it is inactive; err is for failures to look.
	Connection func(ctx context.Context, widgetID string) (c connectors.Conn, ok bool, err error)
	// SecretsKey is the gateway's secrets key; visitor tokens and download
	// links are signed with a key derived from it.
	SecretsKey string
	Logger     *slog.Logger
}

// Handler is the widget's HTTP surface: the script, the session and upload
// endpoints, the WebSocket and visitors' downloads. Its methods are
// http.HandlerFuncs the API server routes to (see api.Widget); each reads
// its path values ({widget}, {token}) from the request.
type Handler struct {
	cn    *Connector
	gw    Gateway
	store *store
	hub   *hub
	limit *limiter
	sign  *signer
	log   *slog.Logger
	js    *connectors.Asset
	// poll: whether sockets must look for other processes' messages (not
	// with SQLite, which one process has to itself).
	poll bool

	// ctx ends every socket on Shutdown.
	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

func newHandler(cn *Connector, g Gateway) (*Handler, error) {
	if g.DB == nil || g.Sink == nil || g.Connection == nil {
		return nil, errors.New("webchat: New needs the database, a sink and a connection lookup")
	}
	d, err := newDialect(g.Driver)
	if err != nil {
		return nil, err
	}
	sign, err := newSigner(g.SecretsKey)
	if err != nil {
		return nil, err
	}
	if g.Logger == nil {
		g.Logger = slog.Default()
	}
	js, err := loadScript()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Handler{
		cn: cn, gw: g, store: &store{db: g.DB, dialect: d, now: cn.opts.Now}, hub: newHub(cn.opts.MaxTabs),
		limit: newLimiter(cn.opts.RatePerMinute, cn.opts.Burst), sign: sign, log: g.Logger.With(slog.String("connector", Type)),
		js: js, poll: !d.oneProcess(), ctx: ctx, cancel: cancel,
	}, nil
}

// Shutdown closes every open widget socket (the widgets reconnect, to this
// or another process) and waits for their handlers to end or ctx to.
func (h *Handler) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	h.cancel()
	done := make(chan struct{})
	go func() { h.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// track counts a socket handler in; false once shutting down.
func (h *Handler) track() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.wg.Add(1)
	return true
}

// The widget's answers are per visitor: never cached.

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeErrorFields(w, status, code, msg, nil)
}

// errorBody is the gateway's one error shape
// ({"error":{"code","message","fields"}}, as api/httpjson writes it; the
// widget keeps its own few lines so it needs nothing of the API).
type errorBody struct {
	Error struct {
		Code    string            `json:"code"`
		Message string            `json:"message"`
		Fields  map[string]string `json:"fields,omitempty"`
	} `json:"error"`
}

func writeErrorFields(w http.ResponseWriter, status int, code, msg string, fields map[string]string) {
	var e errorBody
	e.Error.Code, e.Error.Message, e.Error.Fields = code, msg, fields
	writeJSON(w, status, e)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// widget loads the connection a request names and checks that the page
// calling is on one of its allowed sites. It answers the request itself
// when it returns false. The page's own origin is echoed for CORS even on
// a refusal, so the widget can read that it is refused (and stop) rather
// than see a network error (and retry).
func (h *Handler) widget(w http.ResponseWriter, r *http.Request) (connectors.Conn, bool) {
	c, ok := h.lookup(w, r)
	if !ok {
		return c, false
	}
	origin := r.Header.Get("Origin")
	if origin != "" && origin != "null" {
		w.Header().Set("Access-Control-Allow-Origin", origin)
	}
	w.Header().Add("Vary", "Origin")
	if !connectors.OriginAllowed(c.Settings[SettingOrigins], origin) {
		h.log.Debug("widget: refused a page of a site that is not allowed", slog.String("connection", c.ID), slog.String("origin", origin))
		writeError(w, http.StatusForbidden, "origin_not_allowed", "this site may not use this chat")
		return c, false
	}
	return c, true
}

// lookup loads the connection a request names, without the origin check.
func (h *Handler) lookup(w http.ResponseWriter, r *http.Request) (connectors.Conn, bool) {
	id := r.PathValue("widget")
	if id == "" || len(id) > 100 {
		writeError(w, http.StatusNotFound, "not_found", "no such chat")
		return connectors.Conn{}, false
	}
	c, ok, err := h.gw.Connection(r.Context(), id)
	if err != nil {
		h.log.Error("widget: look up connection", slog.Any("err", err))
		writeError(w, http.StatusServiceUnavailable, "unavailable", "the chat is unavailable, try again later")
		return c, false
	}
	if !ok {
		writeError(w, http.StatusNotFound, "not_found", "no such chat")
		return c, false
	}
	return c, true
}
