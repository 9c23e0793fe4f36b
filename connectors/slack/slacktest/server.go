// Package slacktest is a fake Slack for tests: a Web API server speaking
// Slack's official JSON ({"ok":true,…} or {"ok":false,"error":"…"}, HTTP 429
// with Retry-After when rate limited) for the methods the gateway uses,
// private file downloads that need the bot token, a Socket Mode websocket
// endpoint, and builders for Events API payloads with their v0 signatures.
// It records every call and can be told to fail or to hold a method.
package slacktest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Identity of the fake workspace and app.
const (
	TeamID    = "T0TEAM001"
	TeamName  = "Acme"
	TeamURL   = "https://acme.slack.com/"
	AppID     = "A0APP0001"
	BotID     = "B0BOT0001"
	BotUserID = "U0BOT0001"
	BotName   = "helpdesk"
	// Scopes is what auth.test reports in X-OAuth-Scopes by default.
	Scopes = "chat:write,im:history,channels:history,groups:history,mpim:history,app_mentions:read,users:read,files:read,channels:read,groups:read"
)

// User is a workspace member the fake's users.info knows.
type User struct {
	ID          string
	Name        string // legacy handle
	RealName    string
	DisplayName string
	Image192    string
	Locale      string
}

// Posted is a message the app posted (chat.postMessage), as the fake holds
// it now (chat.update changes Text, chat.delete sets Deleted).
type Posted struct {
	Channel  string
	TS       string
	ThreadTS string
	Text     string
	Mrkdwn   string // the mrkdwn parameter as sent ("false" when off)
	Deleted  bool
}

// Server is the fake. Its state sits behind a mutex; it is safe for
// concurrent use.
type Server struct {
	// BotToken and AppToken are the tokens the fake accepts.
	BotToken, AppToken string
	// socketMode is the Socket Mode side (PushEvent, Acks, Disconnect…);
	// the Server's own methods are the Web API's.
	socketMode

	srv *httptest.Server

	mu       sync.Mutex
	calls    map[string][]url.Values
	failures map[string][]failure
	held     map[string]chan struct{}
	scopes   string
	users    map[string]User
	channels map[string]string // id -> name
	files    map[string]file   // id -> file
	posted   []Posted
	seq      int

	// Socket Mode.
	sockets  []*websocket.Conn
	socketMu sync.Mutex // serializes websocket writes
	pending  [][]byte   // envelopes pushed while no client was connected
	acks     []string
	opened   int
	notify   chan struct{}
}

// socketMode is the fake's Socket Mode endpoint and the events pushed
// through it.
type socketMode struct{ *Server }

type failure struct {
	code       string
	retryAfter int // seconds; > 0 answers HTTP 429
	status     int // plain HTTP status (5xx)
}

type file struct {
	id, name, mime string
	content        []byte
	hidden         bool // no url_private in events (Slack Connect)
}

// New starts a fake that accepts botToken and appToken and closes it when
// the test ends.
func New(t testing.TB, botToken, appToken string) *Server {
	t.Helper()
	s := &Server{
		BotToken: botToken, AppToken: appToken,
		calls: map[string][]url.Values{}, failures: map[string][]failure{}, held: map[string]chan struct{}{},
		scopes: Scopes, users: map[string]User{}, channels: map[string]string{}, files: map[string]file{},
		notify: make(chan struct{}, 1),
	}
	s.socketMode = socketMode{s}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/{method}", s.serveAPI)
	mux.HandleFunc("GET /files-pri/{id}/{name}", s.serveFile)
	mux.HandleFunc("GET /files-pri/{id}/download/{name}", s.serveFile)
	mux.HandleFunc("GET /signin", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte("<!DOCTYPE html><title>Sign in | Slack</title>"))
	})
	mux.HandleFunc("GET /link/", s.socketMode.serveSocket)
	s.srv = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

// APIURL is the value for the connector's API URL option.
func (s *Server) APIURL() string { return s.srv.URL + "/api/" }

// Close closes Socket Mode connections and stops the server.
func (s *Server) Close() {
	s.mu.Lock()
	socks := s.sockets
	s.sockets = nil
	for _, ch := range s.held {
		close(ch)
	}
	s.held = map[string]chan struct{}{}
	s.mu.Unlock()
	for _, c := range socks {
		_ = c.Close()
	}
	s.srv.Close()
}

// Calls returns the parameters of every call of method made with an
// accepted token (failed ones included), oldest first.
func (s *Server) Calls(method string) []url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]url.Values, len(s.calls[method]))
	for i, v := range s.calls[method] {
		out[i] = clone(v)
	}
	return out
}

// FailNext makes the next n calls of method answer {"ok":false,"error":code}.
func (s *Server) FailNext(method string, n int, code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures[method] = append(s.failures[method], failure{code: code})
	}
}

// RateLimitNext makes the next n calls of method answer HTTP 429 with
// Retry-After: retryAfter (seconds) and {"ok":false,"error":"ratelimited"}.
func (s *Server) RateLimitNext(method string, n, retryAfter int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures[method] = append(s.failures[method], failure{code: "ratelimited", retryAfter: retryAfter})
	}
}

// ServerErrorNext makes the next n calls of method answer the HTTP status
// (5xx) with an HTML body, as Slack's front end does.
func (s *Server) ServerErrorNext(method string, n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures[method] = append(s.failures[method], failure{status: status})
	}
}

// Hold makes calls of method wait until the returned release is called (or
// the server closes). Calls made while held are recorded when they arrive.
func (s *Server) Hold(method string) (release func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := make(chan struct{})
	s.held[method] = ch
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			if s.held[method] == ch {
				delete(s.held, method)
				close(ch)
			}
			s.mu.Unlock()
		})
	}
}

// SetScopes sets what auth.test reports in X-OAuth-Scopes ("" omits it).
func (s *Server) SetScopes(scopes string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scopes = scopes
}

// SetUser adds or changes a member users.info answers for.
func (s *Server) SetUser(u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[u.ID] = u
}

// SetChannel adds or renames a channel conversations.info answers for.
func (s *Server) SetChannel(id, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.channels[id] = name
}

// Posted returns the messages the app posted, oldest first.
func (s *Server) Posted() []Posted {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Posted(nil), s.posted...)
}

// WaitPosted waits up to d for at least n posted messages.
func (s *Server) WaitPosted(d time.Duration, n int) []Posted {
	deadline := time.Now().Add(d)
	for {
		p := s.Posted()
		if len(p) >= n || time.Now().After(deadline) {
			return p
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func clone(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// params reads a call's parameters from the query, a form or a JSON body,
// and its token from the Authorization header or the token parameter.
func params(r *http.Request) (url.Values, string, error) {
	v := url.Values{}
	for k, vs := range r.URL.Query() {
		v[k] = vs
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil && err.Error() != "EOF" {
			return nil, "", err
		}
		for k, val := range body {
			if str, ok := val.(string); ok {
				v.Set(k, str)
			} else {
				b, _ := json.Marshal(val)
				v.Set(k, string(b))
			}
		}
	} else if r.Method == http.MethodPost {
		if err := r.ParseForm(); err != nil {
			return nil, "", err
		}
		for k, vs := range r.PostForm {
			v[k] = vs
		}
	}
	token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if token == "" {
		token = v.Get("token")
	}
	v.Del("token")
	return v, token, nil
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, code string) {
	writeJSON(w, map[string]any{"ok": false, "error": code})
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	method := r.PathValue("method")
	v, token, err := params(r)
	if err != nil {
		writeErr(w, "invalid_form_data")
		return
	}
	if method == "apps.connections.open" {
		switch token {
		case s.AppToken:
		case s.BotToken:
			writeErr(w, "not_allowed_token_type")
			return
		case "":
			writeErr(w, "not_authed")
			return
		default:
			writeErr(w, "invalid_auth")
			return
		}
	} else {
		switch token {
		case s.BotToken:
		case "":
			writeErr(w, "not_authed")
			return
		default:
			writeErr(w, "invalid_auth")
			return
		}
	}
	s.mu.Lock()
	s.calls[method] = append(s.calls[method], clone(v))
	held := s.held[method]
	var fail *failure
	if fs := s.failures[method]; len(fs) > 0 {
		fail, s.failures[method] = &fs[0], fs[1:]
	}
	s.mu.Unlock()
	if held != nil {
		select {
		case <-held:
		case <-r.Context().Done():
			return
		}
	}
	if fail != nil {
		switch {
		case fail.status != 0:
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(fail.status)
			_, _ = w.Write([]byte("<html><body>Slack is having trouble</body></html>"))
		case fail.retryAfter > 0:
			w.Header().Set("Retry-After", strconv.Itoa(fail.retryAfter))
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.WriteHeader(http.StatusTooManyRequests)
			_ = json.NewEncoder(w).Encode(map[string]any{"ok": false, "error": "ratelimited"})
		default:
			writeErr(w, fail.code)
		}
		return
	}
	switch method {
	case "auth.test":
		s.mu.Lock()
		scopes := s.scopes
		s.mu.Unlock()
		if scopes != "" {
			w.Header().Set("X-OAuth-Scopes", scopes)
		}
		writeJSON(w, map[string]any{"ok": true, "url": TeamURL, "team": TeamName, "user": BotName,
			"team_id": TeamID, "user_id": BotUserID, "bot_id": BotID, "is_enterprise_install": false})
	case "chat.postMessage":
		s.postMessage(w, v)
	case "chat.update":
		s.updateMessage(w, v)
	case "chat.delete":
		s.deleteMessage(w, v)
	case "users.info":
		s.userInfo(w, v)
	case "conversations.info":
		s.conversationInfo(w, v)
	case "files.info":
		s.fileInfo(w, v)
	case "apps.connections.open":
		s.mu.Lock()
		s.opened++
		n := s.opened
		s.mu.Unlock()
		writeJSON(w, map[string]any{"ok": true, "url": "ws" + strings.TrimPrefix(s.srv.URL, "http") + "/link/?ticket=t" + strconv.Itoa(n) + "&app_id=" + AppID})
	default:
		writeErr(w, "unknown_method")
	}
}

// nextTS returns a fresh message ts.
func (s *Server) nextTS() string {
	s.seq++
	return fmt.Sprintf("%d.%06d", time.Now().Unix(), s.seq)
}

func (s *Server) postMessage(w http.ResponseWriter, v url.Values) {
	ch, text := v.Get("channel"), v.Get("text")
	switch {
	case ch == "":
		writeErr(w, "channel_not_found")
		return
	case strings.TrimSpace(text) == "" && v.Get("blocks") == "" && v.Get("attachments") == "":
		writeErr(w, "no_text")
		return
	case len([]rune(text)) > 40000:
		writeErr(w, "msg_too_long")
		return
	}
	s.mu.Lock()
	p := Posted{Channel: ch, TS: s.nextTS(), ThreadTS: v.Get("thread_ts"), Text: text, Mrkdwn: v.Get("mrkdwn")}
	s.posted = append(s.posted, p)
	s.mu.Unlock()
	msg := map[string]any{"type": "message", "user": BotUserID, "bot_id": BotID, "app_id": AppID, "text": text, "ts": p.TS, "team": TeamID}
	if p.ThreadTS != "" {
		msg["thread_ts"] = p.ThreadTS
	}
	writeJSON(w, map[string]any{"ok": true, "channel": ch, "ts": p.TS, "message": msg})
}

// find returns the index of a posted message, -1 if none.
func (s *Server) find(ch, ts string) int {
	for i, p := range s.posted {
		if p.Channel == ch && p.TS == ts && !p.Deleted {
			return i
		}
	}
	return -1
}

func (s *Server) updateMessage(w http.ResponseWriter, v url.Values) {
	ch, ts, text := v.Get("channel"), v.Get("ts"), v.Get("text")
	s.mu.Lock()
	i := s.find(ch, ts)
	if i >= 0 && strings.TrimSpace(text) != "" {
		s.posted[i].Text = text
	}
	s.mu.Unlock()
	switch {
	case i < 0:
		writeErr(w, "message_not_found")
	case strings.TrimSpace(text) == "":
		writeErr(w, "no_text")
	default:
		writeJSON(w, map[string]any{"ok": true, "channel": ch, "ts": ts, "text": text,
			"message": map[string]any{"type": "message", "text": text, "user": BotUserID, "bot_id": BotID}})
	}
}

func (s *Server) deleteMessage(w http.ResponseWriter, v url.Values) {
	ch, ts := v.Get("channel"), v.Get("ts")
	s.mu.Lock()
	i := s.find(ch, ts)
	if i >= 0 {
		s.posted[i].Deleted = true
	}
	s.mu.Unlock()
	if i < 0 {
		writeErr(w, "message_not_found")
		return
	}
	writeJSON(w, map[string]any{"ok": true, "channel": ch, "ts": ts})
}

func (s *Server) userInfo(w http.ResponseWriter, v url.Values) {
	s.mu.Lock()
	u, ok := s.users[v.Get("user")]
	s.mu.Unlock()
	if !ok {
		writeErr(w, "user_not_found")
		return
	}
	writeJSON(w, map[string]any{"ok": true, "user": UserJSON(u)})
}

// UserJSON is a member as users.info and user_change events carry it.
func UserJSON(u User) map[string]any {
	return map[string]any{
		"id": u.ID, "team_id": TeamID, "name": u.Name, "deleted": false, "real_name": u.RealName,
		"tz": "Europe/Berlin", "tz_label": "Central European Time", "tz_offset": 3600, "is_bot": false,
		"is_admin": false, "is_app_user": false, "updated": 1700000000, "locale": u.Locale,
		"profile": map[string]any{
			"real_name": u.RealName, "real_name_normalized": u.RealName,
			"display_name": u.DisplayName, "display_name_normalized": u.DisplayName,
			"avatar_hash": "g0123456789a", "image_72": u.Image192, "image_192": u.Image192,
			"image_512": u.Image192, "team": TeamID, "status_text": "", "status_emoji": "",
		},
	}
}

func (s *Server) conversationInfo(w http.ResponseWriter, v url.Values) {
	id := v.Get("channel")
	s.mu.Lock()
	name, ok := s.channels[id]
	s.mu.Unlock()
	if !ok {
		writeErr(w, "channel_not_found")
		return
	}
	writeJSON(w, map[string]any{"ok": true, "channel": map[string]any{
		"id": id, "name": name, "is_channel": strings.HasPrefix(id, "C"), "is_group": false, "is_im": false,
		"is_mpim": false, "is_private": strings.HasPrefix(id, "G"), "created": 1600000000, "is_archived": false,
		"is_general": false, "name_normalized": name, "is_member": true, "is_ext_shared": false, "is_shared": false,
		"topic":   map[string]any{"value": "", "creator": "", "last_set": 0},
		"purpose": map[string]any{"value": "", "creator": "", "last_set": 0},
	}})
}

// AddFile stores a file the fake serves at its private URLs, and returns it
// as a message event's "files" entry carries it. With hidden, the entry is
// the partial one Slack sends in Slack Connect channels ("file_access":
// "check_file_info"); files.info then gives the full one.
func (s *Server) AddFile(id, name, mime string, content []byte, hidden bool) map[string]any {
	s.mu.Lock()
	s.files[id] = file{id: id, name: name, mime: mime, content: content, hidden: hidden}
	s.mu.Unlock()
	if hidden {
		return map[string]any{"id": id, "mode": "file_access", "file_access": "check_file_info", "created": 0,
			"timestamp": 0, "user": "", "editable": false, "size": 0, "is_external": false, "external_type": ""}
	}
	return s.fileJSON(file{id: id, name: name, mime: mime, content: content})
}

// FileURL is the private download URL of a stored file.
func (s *Server) FileURL(id, name string) string {
	return s.srv.URL + "/files-pri/" + TeamID + "-" + id + "/download/" + url.PathEscape(name)
}

func (s *Server) fileJSON(f file) map[string]any {
	priv := s.srv.URL + "/files-pri/" + TeamID + "-" + f.id + "/" + url.PathEscape(f.name)
	ft := f.name[strings.LastIndexByte(f.name, '.')+1:]
	return map[string]any{
		"id": f.id, "created": 1700000000, "timestamp": 1700000000, "name": f.name, "title": f.name,
		"mimetype": f.mime, "filetype": ft, "pretty_type": strings.ToUpper(ft), "user": "U0CUST001",
		"user_team": TeamID, "editable": false, "size": len(f.content), "mode": "hosted", "is_external": false,
		"external_type": "", "is_public": false, "public_url_shared": false, "display_as_bot": false,
		"username": "", "url_private": priv, "url_private_download": s.FileURL(f.id, f.name),
		"permalink": TeamURL + "files/U0CUST001/" + f.id + "/" + f.name, "is_starred": false, "has_rich_preview": false,
		"file_access": "visible",
	}
}

func (s *Server) fileInfo(w http.ResponseWriter, v url.Values) {
	s.mu.Lock()
	f, ok := s.files[v.Get("file")]
	s.mu.Unlock()
	if !ok {
		writeErr(w, "file_not_found")
		return
	}
	writeJSON(w, map[string]any{"ok": true, "file": s.fileJSON(f), "comments": []any{}, "response_metadata": map[string]any{"next_cursor": ""}})
}

// serveFile serves url_private(_download): the content with the bot token as
// bearer; without it, like Slack, a redirect to a sign-in page.
func (s *Server) serveFile(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.calls["files-pri"] = append(s.calls["files-pri"], url.Values{"path": {r.URL.Path}, "authorization": {r.Header.Get("Authorization")}})
	s.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer "+s.BotToken {
		http.Redirect(w, r, "/signin?redir="+url.QueryEscape(r.URL.Path), http.StatusFound)
		return
	}
	id := strings.TrimPrefix(r.PathValue("id"), TeamID+"-")
	s.mu.Lock()
	f, ok := s.files[id]
	s.mu.Unlock()
	if !ok || f.name != r.PathValue("name") {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", f.mime)
	w.Header().Set("Content-Length", strconv.Itoa(len(f.content)))
	_, _ = w.Write(f.content)
}

// Socket Mode.

var upgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}

// pingInterval is how often the fake pings Socket Mode clients, as Slack does.
const pingInterval = 2 * time.Second

func (s socketMode) serveSocket(w http.ResponseWriter, r *http.Request) {
	c, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	s.mu.Lock()
	s.sockets = append(s.sockets, c)
	pending := s.pending
	s.pending = nil
	s.mu.Unlock()
	s.write(c, map[string]any{"type": "hello", "num_connections": 1,
		"debug_info":      map[string]any{"host": "applink-fake", "build_number": 1, "approximate_connection_time": 18060},
		"connection_info": map[string]any{"app_id": AppID}})
	for _, env := range pending {
		s.writeRaw(c, env)
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		t := time.NewTicker(pingInterval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				s.socketMu.Lock()
				err := c.WriteControl(websocket.PingMessage, []byte("ping"), time.Now().Add(time.Second))
				s.socketMu.Unlock()
				if err != nil {
					return
				}
			}
		}
	}()
	for {
		_, msg, err := c.ReadMessage()
		if err != nil {
			break
		}
		var ack struct {
			EnvelopeID string `json:"envelope_id"`
		}
		if json.Unmarshal(msg, &ack) == nil && ack.EnvelopeID != "" {
			s.mu.Lock()
			s.acks = append(s.acks, ack.EnvelopeID)
			s.mu.Unlock()
			select {
			case s.notify <- struct{}{}:
			default:
			}
		}
	}
	s.mu.Lock()
	for i, x := range s.sockets {
		if x == c {
			s.sockets = append(s.sockets[:i], s.sockets[i+1:]...)
			break
		}
	}
	s.mu.Unlock()
	_ = c.Close()
}

func (s socketMode) write(c *websocket.Conn, v any) {
	b, _ := json.Marshal(v)
	s.writeRaw(c, b)
}

func (s socketMode) writeRaw(c *websocket.Conn, b []byte) {
	s.socketMu.Lock()
	defer s.socketMu.Unlock()
	_ = c.WriteMessage(websocket.TextMessage, b)
}

// PushEvent sends an Events API payload (as EventCallback builds it) over
// Socket Mode in an events_api envelope, to the newest connection (or the
// next one to connect). retry is the envelope's retry_attempt (0 for a
// first delivery).
func (s socketMode) PushEvent(payload []byte, envelopeID string, retry int) {
	env, _ := json.Marshal(map[string]any{
		"envelope_id": envelopeID, "type": "events_api", "payload": json.RawMessage(payload),
		"accepts_response_payload": false, "retry_attempt": retry, "retry_reason": retryReason(retry),
	})
	s.mu.Lock()
	var c *websocket.Conn
	if n := len(s.sockets); n > 0 {
		c = s.sockets[n-1]
	} else {
		s.pending = append(s.pending, env)
	}
	s.mu.Unlock()
	if c != nil {
		s.writeRaw(c, env)
	}
}

func retryReason(n int) string {
	if n == 0 {
		return ""
	}
	return "timeout"
}

// Disconnect asks every Socket Mode client to reconnect, as Slack does
// before it recycles a connection.
func (s socketMode) Disconnect() {
	s.mu.Lock()
	socks := append([]*websocket.Conn(nil), s.sockets...)
	s.mu.Unlock()
	for _, c := range socks {
		s.write(c, map[string]any{"type": "disconnect", "reason": "refresh_requested",
			"debug_info": map[string]any{"host": "applink-fake"}})
	}
}

// Acks returns the envelope ids clients acknowledged, in order.
func (s socketMode) Acks() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.acks...)
}

// WaitAck waits up to d for envelope id to be acknowledged.
func (s socketMode) WaitAck(d time.Duration, id string) bool {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		for _, a := range s.Acks() {
			if a == id {
				return true
			}
		}
		select {
		case <-s.notify:
		case <-deadline.C:
			return false
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Connected counts the Socket Mode clients connected now.
func (s socketMode) Connected() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sockets)
}

// Opened counts apps.connections.open calls that got a URL.
func (s socketMode) Opened() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opened
}
