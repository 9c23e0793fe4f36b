package xmpp

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/xmpp/converse"
)

// The web chat: a site's visitors chat from the browser through Converse.js,
// logged in anonymously to the admin's XMPP server over its WebSocket, each
// in a room of the connection's pool. The gateway serves, under
// /pages/{hash}/ (connectors.PageServer):
//
//	embed.js   the script the snippet loads on the site's pages: a chat
//	           button and a frame; on first open it asks for a room
//	room       POST, from a page of an allowed site: hands out a pool room
//	chat       the page in the frame: Converse.js joining that room
//	chat.js    that page's start-up script
//	static/…   the vendored Converse.js release
//
// The same origin rules as the web chat widget apply: room answers only
// pages of the allowed sites, and the chat page may be framed only by them
// (Content-Security-Policy frame-ancestors).

//go:embed web
var webFiles embed.FS

var (
	_ connectors.PageServer    = (*Connector)(nil)
	_ connectors.Embedder      = (*Connector)(nil)
	_ connectors.Conversations = (*Connector)(nil)
)

// Snippet implements connectors.Embedder: the script tag for the pages of
// the allowed sites ("" while the web chat is off).
func (cn *Connector) Snippet(c connectors.Conn, publicURL string) string {
	if st, fe := parseSettings(c.Settings); fe != nil || st.WebchatWS == "" {
		return ""
	}
	src := strings.TrimRight(publicURL, "/") + "/pages/" + url.PathEscape(c.Hash) + "/embed.js"
	return `<script src="` + template.HTMLEscapeString(src) + `" async></script>`
}

// ServePage implements connectors.PageServer.
func (cn *Connector) ServePage(w http.ResponseWriter, r *http.Request, c connectors.Conn, rest string) {
	st, fe := parseSettings(c.Settings)
	if fe != nil || st.WebchatWS == "" {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	switch {
	case rest == "room" && r.Method == http.MethodPost:
		cn.serveRoom(w, r, c, st)
	case r.Method != http.MethodGet:
		h.Set("Allow", http.MethodGet)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	case rest == "chat":
		cn.serveChat(w, st)
	case rest == "embed.js":
		// Any page may load the script; what it calls checks the origin.
		h.Set("Cross-Origin-Resource-Policy", "cross-origin")
		serveFile(w, r, webFiles, "web/embed.js", 5*time.Minute)
	case rest == "chat.js":
		serveFile(w, r, webFiles, "web/chat.js", 5*time.Minute)
	case strings.HasPrefix(rest, "static/"):
		name := path.Clean("/" + strings.TrimPrefix(rest, "static/"))
		serveFile(w, r, converse.Static, "static"+name, 24*time.Hour)
	default:
		http.NotFound(w, r)
	}
}

// serveRoom hands a pool room to a page of an allowed site.
func (cn *Connector) serveRoom(w http.ResponseWriter, r *http.Request, c connectors.Conn, st settings) {
	origin := r.Header.Get("Origin")
	w.Header().Add("Vary", "Origin")
	if !connectors.OriginAllowed(st.WebchatOrigins, origin) {
		writeJSONError(w, http.StatusForbidden, "origin_not_allowed", "this site may not use this chat")
		return
	}
	w.Header().Set("Access-Control-Allow-Origin", origin)
	// The page's script waits as Retry-After says: let it read it.
	w.Header().Set("Access-Control-Expose-Headers", "Retry-After")
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	// ?resume=<room>: the tab's room, kept while its conversation is on.
	room, err := cn.resumeConversation(ctx, c, r.URL.Query().Get("resume"))
	var busy *connectors.RateLimitedError
	switch {
	case errors.Is(err, connectors.ErrElsewhere):
		w.Header().Set("Retry-After", "1")
		writeJSONError(w, http.StatusServiceUnavailable, "elsewhere", "the chat is starting; try again")
		return
	case errors.As(err, &busy):
		w.Header().Set("Retry-After", strconv.Itoa(max(2, int(busy.RetryAfter.Seconds()))))
		writeJSONError(w, http.StatusServiceUnavailable, "no_room", "no chat room is free right now; try again")
		return
	case errors.Is(err, connectors.ErrNotConnected):
		// The poller logs why (server down, pool not loaded); the visitor waits.
		w.Header().Set("Retry-After", "5")
		writeJSONError(w, http.StatusServiceUnavailable, "unavailable", "the chat is unavailable right now; try again")
		return
	case err != nil:
		cn.log.Warn("xmpp web chat: open a conversation", "connection", c.ID, "err", err)
		w.Header().Set("Retry-After", "5")
		writeJSONError(w, http.StatusServiceUnavailable, "unavailable", "the chat is unavailable right now; try again")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(map[string]string{"room": room})
}

// chatPage is the framed page: the vendored stylesheet and script, the
// start-up script, and its settings as JSON (html/template escapes them).
var chatPage = template.Must(template.New("chat").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Chat</title>
<link rel="stylesheet" href="static/converse.min.css">
<script id="xmpp-chat-config" type="application/json">{{.}}</script>
<script src="static/converse.min.js" type="module"></script>
<script src="chat.js" type="module"></script>
</head><body class="converse-fullscreen"></body></html>
`))

type chatConfig struct {
	WebSocket string `json:"websocket_url"`
	Domain    string `json:"domain"`
	Assets    string `json:"assets_path"`
}

func (cn *Connector) serveChat(w http.ResponseWriter, st settings) {
	cfg, _ := json.Marshal(chatConfig{WebSocket: st.WebchatWS, Domain: st.WebchatDomain, Assets: "static/"})
	var b bytes.Buffer
	if err := chatPage.Execute(&b, template.JS(cfg)); err != nil {
		http.Error(w, "page unavailable", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	var ancestors []string
	for _, o := range connectors.ParseOrigins(st.WebchatOrigins) {
		ancestors = append(ancestors, o.String())
	}
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "+
		"img-src 'self' data: blob:; font-src 'self'; media-src 'self' blob:; connect-src 'self' "+cspSource(st.WebchatWS)+"; "+
		"frame-ancestors "+strings.Join(ancestors, " ")+"; base-uri 'none'; form-action 'none'")
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	_, _ = w.Write(b.Bytes())
}

// cspSource is the WebSocket URL as a CSP source (scheme, host, port, path;
// no query, which CSP does not match).
func cspSource(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "'none'"
	}
	u.RawQuery, u.Fragment = "", ""
	return strings.NewReplacer(";", "%3B", ",", "%2C", " ", "%20").Replace(u.String())
}

// assets are the web chat's files as served, each prepared (gzipped, with
// its ETag) on its first request and kept: Converse.js is 1.3 MB raw.
var assets struct {
	mu    sync.Mutex
	files map[string]*connectors.Asset
}

// serveFile serves one embedded file with its type and a cache lifetime.
func serveFile(w http.ResponseWriter, r *http.Request, fsys fs.FS, name string, maxAge time.Duration) {
	a, err := asset(fsys, name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	a.Serve(w, r, "public, max-age="+strconv.Itoa(int(maxAge/time.Second)))
}

func asset(fsys fs.FS, name string) (*connectors.Asset, error) {
	assets.mu.Lock()
	defer assets.mu.Unlock()
	if a, ok := assets.files[name]; ok {
		return a, nil
	}
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, err
	}
	typ := mime.TypeByExtension(path.Ext(name))
	switch path.Ext(name) {
	case ".js":
		typ = "text/javascript; charset=utf-8"
	case ".ttf":
		typ = "font/ttf"
	case "":
		typ = "text/plain; charset=utf-8"
	}
	if typ == "" {
		typ = "application/octet-stream"
	}
	a, err := connectors.NewAsset(typ, b)
	if err != nil {
		return nil, err
	}
	if assets.files == nil {
		assets.files = map[string]*connectors.Asset{}
	}
	assets.files[name] = a
	return a, nil
}

func writeJSONError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg}})
}
