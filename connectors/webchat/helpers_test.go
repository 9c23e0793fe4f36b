package webchat_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/webchat"
	"github.com/connector-gateway/connector/queue"
	"github.com/connector-gateway/connector/queue/queuetest"
	"github.com/connector-gateway/connector/queue/sqldb"
)

const (
	site      = "https://shop.example"
	otherSite = "https://evil.example"
)

func forEachBackend(t *testing.T, fn func(t *testing.T, b queuetest.Backend)) {
	for _, b := range queuetest.Backends() {
		t.Run(b.Driver, func(t *testing.T) { fn(t, b) })
	}
}

// env is one gateway's worth of webchat: a real database and outbox, the
// connector bound to them, and its HTTP surface on a loopback server routed
// as the API server routes it.
type env struct {
	t      *testing.T
	db     *sqldb.DB
	outbox *queue.Outbox
	cn     *webchat.Connector
	h      *webchat.Handler
	srv    *httptest.Server

	mu    sync.Mutex
	conns map[string]connectors.Conn // by widget id (hash)
	n     int
}

type linker struct{ conn string }

func (l linker) FileURL(ref, name, mime string) string {
	return "https://gateway.test/files/" + l.conn + "/" + ref
}

// serverTimeout is the test server's read and write timeout.
const serverTimeout = time.Second

const secretsKey = "c2VjcmV0cyBrZXkgZm9yIHRoZSB3ZWJjaGF0IHRlc3RzIQ=="

func newEnv(t *testing.T, db *sqldb.DB, opts webchat.Options) *env {
	t.Helper()
	outbox, err := queue.NewOutbox(db, queue.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(outbox.Close)
	e := &env{t: t, db: db, outbox: outbox, conns: map[string]connectors.Conn{}}
	e.cn, err = webchat.New(webchat.Gateway{DB: db.SQL, Driver: db.Dialect.Name(), Sink: func(connectors.Conn) connectors.Sink { return e.enqueue }, SecretsKey: secretsKey, Connection: e.lookup}, opts)
	if err != nil {
		t.Fatal(err)
	}
	e.h = e.cn.Handler()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /widget.js", e.h.Script)
	mux.HandleFunc("POST /widget/{widget}/session", e.h.Session)
	mux.HandleFunc("GET /widget/{widget}/ws", e.h.Socket)
	mux.HandleFunc("POST /widget/{widget}/uploads", e.h.Upload)
	mux.HandleFunc("GET /widget/{widget}/files/{token}", e.h.Download)
	e.srv = httptest.NewUnstartedServer(mux)
	// The gateway's server has request timeouts; sockets must outlive them.
	e.srv.Config.ReadTimeout, e.srv.Config.WriteTimeout = serverTimeout, serverTimeout
	e.srv.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = e.h.Shutdown(ctx)
		e.srv.Close()
	})
	return e
}

// enqueue is the widget's sink: the events go to the outbox, for the portal
// of their connection, as the gateway's sink puts them.
func (e *env) enqueue(ctx context.Context, ks []connectors.Keyed) error {
	var evs []queue.NewEvent
	for _, k := range ks {
		e.mu.Lock()
		var portalID string
		for _, c := range e.conns {
			if c.ID == k.Event.Connection {
				portalID = c.PortalID
			}
		}
		e.mu.Unlock()
		payload, err := json.Marshal(k.Event)
		if err != nil {
			return err
		}
		evs = append(evs, queue.NewEvent{DedupeKey: k.DedupeKey, PortalID: portalID, LineID: k.Event.Line, EventID: k.Event.ID, Payload: payload})
	}
	_, err := e.outbox.Enqueue(ctx, evs)
	return err
}

func (e *env) lookup(_ context.Context, id string) (connectors.Conn, bool, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.conns[id]
	return c, ok, nil
}

// addConn adds an active widget connection with validated settings.
func (e *env) addConn(settings connectors.Settings) connectors.Conn {
	e.t.Helper()
	s, err := e.cn.ValidateSettings(settings)
	if err != nil {
		e.t.Fatalf("settings: %v", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.n++
	id := string(rune('a' + e.n))
	c := connectors.Conn{ID: "con_" + id, PortalID: "prt_1", LineID: "lin_" + id, Hash: "widget" + id + strings.Repeat("x", 20), Settings: s}
	c.Files = linker{conn: c.ID}
	e.conns[c.Hash] = c
	return c
}

func (e *env) removeConn(c connectors.Conn) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.conns, c.Hash)
}

type sessionAnswer struct {
	Token   string `json:"token"`
	Visitor string `json:"visitor"`
	Profile struct {
		Name  string `json:"name"`
		Email string `json:"email"`
	} `json:"profile"`
	Config map[string]any `json:"config"`
	Error  struct {
		Code   string            `json:"code"`
		Fields map[string]string `json:"fields"`
	} `json:"error"`
}

// session posts to the session endpoint as a page on origin would.
func (e *env) session(c connectors.Conn, origin string, body any) (int, sessionAnswer, http.Header) {
	e.t.Helper()
	raw, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", e.srv.URL+"/widget/"+c.Hash+"/session", bytes.NewReader(raw))
	req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("session: %v", err)
	}
	defer resp.Body.Close()
	var a sessionAnswer
	_ = json.NewDecoder(resp.Body).Decode(&a)
	return resp.StatusCode, a, resp.Header
}

// visitor starts a new visitor's session from the allowed site.
func (e *env) visitor(c connectors.Conn) sessionAnswer {
	e.t.Helper()
	st, a, _ := e.session(c, site, map[string]string{})
	if st != http.StatusOK || a.Token == "" || a.Visitor == "" {
		e.t.Fatalf("session answered %d %+v", st, a)
	}
	return a
}

// socket is a widget's WebSocket, driven by the test.
type socket struct {
	t  *testing.T
	ws *websocket.Conn
}

func (e *env) dial(c connectors.Conn, origin string) (*socket, *http.Response, error) {
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, strings.Replace(e.srv.URL, "http", "ws", 1)+"/widget/"+c.Hash+"/ws", &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		return nil, resp, err
	}
	s := &socket{t: e.t, ws: ws}
	e.t.Cleanup(func() { ws.CloseNow() })
	return s, resp, nil
}

// open dials from the allowed site and says hello; it returns after ready.
func (e *env) open(c connectors.Conn, token string, after int64) *socket {
	e.t.Helper()
	s, _, err := e.dial(c, site)
	if err != nil {
		e.t.Fatalf("dial: %v", err)
	}
	s.send(map[string]any{"type": "hello", "token": token, "after": after, "language": "de-DE"})
	if f := s.next(); f.Type != "ready" {
		e.t.Fatalf("after hello got %+v, want ready", f)
	}
	return s
}

type frame struct {
	Type    string `json:"type"`
	Visitor string `json:"visitor"`
	Seq     int64  `json:"seq"`
	ID      string `json:"id"`
	From    string `json:"from"`
	Text    string `json:"text"`
	Files   []struct {
		Name  string `json:"name"`
		Mime  string `json:"mime"`
		Size  int64  `json:"size"`
		Token string `json:"token"`
		URL   string `json:"url"`
	} `json:"files"`
	Code       string `json:"code"`
	Message    string `json:"message"`
	RetryAfter int64  `json:"retry_after_ms"`
}

func (s *socket) send(v any) {
	s.t.Helper()
	raw, _ := json.Marshal(v)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.ws.Write(ctx, websocket.MessageText, raw); err != nil {
		s.t.Fatalf("write: %v", err)
	}
}

// next reads the next frame (10 s at most).
func (s *socket) next() frame {
	s.t.Helper()
	f, err := s.read(10 * time.Second)
	if err != nil {
		s.t.Fatalf("read: %v", err)
	}
	return f
}

func (s *socket) read(d time.Duration) (frame, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	_, raw, err := s.ws.Read(ctx)
	if err != nil {
		return frame{}, err
	}
	var f frame
	if err := json.Unmarshal(raw, &f); err != nil {
		s.t.Fatalf("frame %s: %v", raw, err)
	}
	return f, nil
}

// until reads frames until one of type typ (others are returned too).
func (s *socket) until(typ string) (frame, []frame) {
	s.t.Helper()
	var seen []frame
	for {
		f := s.next()
		if f.Type == typ {
			return f, seen
		}
		seen = append(seen, f)
	}
}

// message sends a visitor message and returns the frames up to its ack or
// error.
func (s *socket) message(id, text string, files ...string) (frame, []frame) {
	s.t.Helper()
	if files == nil {
		files = []string{}
	}
	s.send(map[string]any{"type": "message", "id": id, "text": text, "files": files})
	var seen []frame
	for {
		f := s.next()
		if (f.Type == "ack" || f.Type == "error") && f.ID == id {
			return f, seen
		}
		seen = append(seen, f)
	}
}

// history returns the first history message among frames already read,
// or reads on until one comes.
func (s *socket) history(before []frame) frame {
	s.t.Helper()
	for _, f := range before {
		if f.Type == "message" {
			return f
		}
	}
	f, _ := s.until("message")
	return f
}

// closeStatus waits for the server to close the socket and returns the code.
func (s *socket) closeStatus() websocket.StatusCode {
	s.t.Helper()
	for {
		_, err := s.read(10 * time.Second)
		if err != nil {
			return websocket.CloseStatus(err)
		}
	}
}

// queued returns the events waiting in the outbox for a line, oldest first.
func (e *env) queued(line string) []connectors.Event {
	e.t.Helper()
	ctx := context.Background()
	l, err := queuetest.ClaimLine(ctx, e.outbox, queue.LineRef{LineID: line}, "test", time.Minute)
	if err != nil {
		e.t.Fatal(err)
	}
	if l == nil {
		return nil
	}
	defer e.outbox.Release(ctx, l)
	b, err := e.outbox.Next(ctx, l, 1000)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []connectors.Event
	for _, it := range b.Items {
		var ev connectors.Event
		if err := json.Unmarshal(it.Payload, &ev); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, ev)
	}
	return out
}

// upload posts a file as the widget does.
func (e *env) upload(c connectors.Conn, origin, token, name, mime string, content []byte) (int, map[string]any) {
	e.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("token", token)
	h := make(map[string][]string)
	h["Content-Disposition"] = []string{`form-data; name="file"; filename="` + name + `"`}
	h["Content-Type"] = []string{mime}
	pw, _ := mw.CreatePart(h)
	_, _ = pw.Write(content)
	_ = mw.Close()
	req, _ := http.NewRequest("POST", e.srv.URL+"/widget/"+c.Hash+"/uploads", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Origin", origin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("upload: %v", err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}
