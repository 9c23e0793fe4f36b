// Package metatest is a fake Meta Graph API for tests: a real HTTP server
// speaking the Graph API's JSON for what the gateway uses — the WhatsApp
// Cloud API's POST /{phone-number-id}/messages and media (GET /{media-id},
// then a download that needs the bearer token), the Messenger and
// Instagram POST /me/messages (messages and sender actions), and the
// object reads of the connection test — with Meta's error objects
// ({"error":{"message","type","code","error_subcode","error_data"}}) for
// a bad token, the 24-hour window, rate limits and outages. It records
// every request and every message sent.
//
// webhooks.go builds the webhook bodies Meta posts, in the documented
// shapes, and signs them (X-Hub-Signature-256) independently of the
// product code.
package metatest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Request is one request the fake received.
type Request struct {
	Method string
	// Path is the path after the version ("/123/messages").
	Path    string
	Version string
	// Auth is the Authorization header as sent.
	Auth  string
	Query string
	Body  []byte
}

// Sent is one message (or sender action) the fake accepted, as sent.
type Sent struct {
	// Channel is "whatsapp", "messenger" or "instagram".
	Channel string
	// From is the phone number id, page id or Instagram account id.
	From string
	// To is the recipient (wa_id, PSID, IGSID).
	To string
	// ID is the message id the fake answered with ("" for an action).
	ID string
	// Type is the WhatsApp message type or the Messenger attachment type
	// ("text" for a text, "" for a sender action).
	Type     string
	Text     string
	Link     string // a media link or attachment URL
	Caption  string
	Filename string
	// ReplyTo is WhatsApp's context.message_id.
	ReplyTo string
	// Callback is WhatsApp's biz_opaque_callback_data.
	Callback string
	// Action is a Messenger sender_action ("typing_on").
	Action string
	// MessagingType is Messenger's messaging_type.
	MessagingType string
}

// Server is the fake. It is safe for concurrent use.
type Server struct {
	srv *httptest.Server

	mu       sync.Mutex
	objects  map[string]object // id -> number, page, account or media
	tokens   map[string]string // token -> owner id
	closed   map[string]bool   // recipient -> outside the 24-hour window
	failures []failure
	requests []Request
	sent     []Sent
	seq      int
	notify   chan struct{}
}

type object struct {
	kind    string // "whatsapp", "messenger", "instagram", "media", "waba"
	token   string
	fields  map[string]any
	content []byte // media
	mime    string
	numbers []string // waba: phone number ids
}

type failure struct {
	status  int
	code    int
	subcode int
	message string
}

// New starts a fake and closes it when the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	s := &Server{objects: map[string]object{}, tokens: map[string]string{}, closed: map[string]bool{}, notify: make(chan struct{}, 1)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /media-download/{id}", s.serveDownload)
	mux.HandleFunc("/{version}/", s.serveGraph)
	s.srv = httptest.NewServer(mux)
	t.Cleanup(s.srv.Close)
	return s
}

// URL is the Graph API base URL (without version) to put in Options.APIURL.
func (s *Server) URL() string { return s.srv.URL }

// AddNumber registers a WhatsApp business phone number reachable with
// token; waba, when not empty, lists it among that account's numbers.
func (s *Server) AddNumber(phoneNumberID, token, display, waba string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.objects[phoneNumberID] = object{kind: "whatsapp", token: token, fields: map[string]any{
		"id": phoneNumberID, "display_phone_number": display, "verified_name": "Acme Support", "quality_rating": "GREEN"}}
	s.tokens[token] = phoneNumberID
	if waba != "" {
		w := s.objects[waba]
		w.kind, w.token = "waba", token
		w.numbers = append(w.numbers, phoneNumberID)
		s.objects[waba] = w
	}
}

// AddPage registers a Facebook Page reachable with its page token.
func (s *Server) AddPage(pageID, token, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.objects[pageID] = object{kind: "messenger", token: token, fields: map[string]any{"id": pageID, "name": name, "category": "Company"}}
	s.tokens[token] = pageID
}

// AddAccount registers an Instagram professional account and its token.
func (s *Server) AddAccount(accountID, token, username string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.objects[accountID] = object{kind: "instagram", token: token, fields: map[string]any{"id": accountID, "username": username, "name": "Acme"}}
	s.tokens[token] = accountID
}

// AddMedia registers a WhatsApp media id whose bytes the fake serves to
// requests carrying token.
func (s *Server) AddMedia(mediaID, token, mime string, content []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.objects[mediaID] = object{kind: "media", token: token, content: content, mime: mime}
}

// CloseWindow makes every later message to recipient fail as outside the
// 24-hour customer service window (WhatsApp 131047, Messenger 10/2018278).
func (s *Server) CloseWindow(recipient string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed[recipient] = true
}

// FailNext makes the next n message sends answer with HTTP status and
// Meta error code (and subcode).
func (s *Server) FailNext(n, status, code, subcode int, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := 0; i < n; i++ {
		s.failures = append(s.failures, failure{status: status, code: code, subcode: subcode, message: message})
	}
}

// Requests returns every request received, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Sent returns every accepted message and sender action, in order.
func (s *Server) Sent() []Sent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Sent(nil), s.sent...)
}

// WaitSent waits up to d for n accepted messages and returns what there is.
func (s *Server) WaitSent(d time.Duration, n int) []Sent {
	deadline := time.Now().Add(d)
	for {
		got := s.Sent()
		if len(got) >= n || time.Now().After(deadline) {
			return got
		}
		select {
		case <-s.notify:
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers a Graph API error object.
func writeError(w http.ResponseWriter, status, code, subcode int, message, details string) {
	e := map[string]any{"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AbCdEfFakeTrace"}
	if subcode != 0 {
		e["error_subcode"] = subcode
	}
	if details != "" {
		e["error_data"] = map[string]any{"messaging_product": "whatsapp", "details": details}
	}
	writeJSON(w, status, map[string]any{"error": e})
}

func badToken(w http.ResponseWriter) {
	writeError(w, http.StatusUnauthorized, 190, 0, "Invalid OAuth access token - Cannot parse access token", "")
}

func bearer(r *http.Request) string {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return tok
}

func (s *Server) serveGraph(w http.ResponseWriter, r *http.Request) {
	version := r.PathValue("version")
	rest := strings.TrimPrefix(r.URL.Path, "/"+version)
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.requests = append(s.requests, Request{Method: r.Method, Path: rest, Version: version, Auth: r.Header.Get("Authorization"), Query: r.URL.RawQuery, Body: body})
	s.mu.Unlock()
	if !strings.HasPrefix(version, "v") {
		writeError(w, http.StatusBadRequest, 2500, 0, "Unknown path components", "")
		return
	}
	segs := strings.Split(strings.Trim(rest, "/"), "/")
	switch {
	case r.Method == http.MethodPost && len(segs) == 2 && segs[0] == "me" && segs[1] == "messages":
		s.sendMessenger(w, r, body)
	case r.Method == http.MethodPost && len(segs) == 2 && segs[1] == "messages":
		s.sendWhatsApp(w, r, segs[0], body)
	case r.Method == http.MethodGet && len(segs) == 2 && segs[1] == "phone_numbers":
		s.phoneNumbers(w, r, segs[0])
	case r.Method == http.MethodGet && len(segs) == 1:
		s.read(w, r, segs[0])
	default:
		writeError(w, http.StatusBadRequest, 100, 0, "Unsupported request - method type: "+strings.ToLower(r.Method), "")
	}
}

// read answers GET /{id}: a number, page, account or media.
func (s *Server) read(w http.ResponseWriter, r *http.Request, id string) {
	s.mu.Lock()
	o, ok := s.objects[id]
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusBadRequest, 100, 33, fmt.Sprintf("Unsupported get request. Object with ID '%s' does not exist", id), "")
		return
	}
	if bearer(r) != o.token {
		badToken(w)
		return
	}
	if o.kind == "media" {
		writeJSON(w, http.StatusOK, map[string]any{
			"messaging_product": "whatsapp", "id": id, "mime_type": o.mime, "sha256": "fake",
			"file_size": fmt.Sprint(len(o.content)), "url": s.srv.URL + "/media-download/" + id + "?ext=1&hash=fake",
		})
		return
	}
	writeJSON(w, http.StatusOK, o.fields)
}

func (s *Server) phoneNumbers(w http.ResponseWriter, r *http.Request, waba string) {
	s.mu.Lock()
	o, ok := s.objects[waba]
	s.mu.Unlock()
	if !ok || o.kind != "waba" {
		writeError(w, http.StatusBadRequest, 100, 33, "Object with ID '"+waba+"' does not exist", "")
		return
	}
	if bearer(r) != o.token {
		badToken(w)
		return
	}
	var data []map[string]any
	for _, n := range o.numbers {
		data = append(data, map[string]any{"id": n})
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data})
}

func (s *Server) serveDownload(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	o, ok := s.objects[r.PathValue("id")]
	s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Auth: r.Header.Get("Authorization"), Query: r.URL.RawQuery})
	s.mu.Unlock()
	if !ok || o.kind != "media" {
		http.NotFound(w, r)
		return
	}
	if bearer(r) != o.token {
		// The media CDN answers a missing token with 401 and no body.
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	w.Header().Set("Content-Type", o.mime)
	_, _ = w.Write(o.content)
}

// takeFailure pops the next injected failure.
func (s *Server) takeFailure() (failure, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.failures) == 0 {
		return failure{}, false
	}
	f := s.failures[0]
	s.failures = s.failures[1:]
	return f, true
}

func (s *Server) record(m Sent) {
	s.mu.Lock()
	s.sent = append(s.sent, m)
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

func (s *Server) nextID(prefix string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	return fmt.Sprintf("%s%06d", prefix, s.seq)
}

func (s *Server) sendWhatsApp(w http.ResponseWriter, r *http.Request, number string, body []byte) {
	s.mu.Lock()
	o, ok := s.objects[number]
	s.mu.Unlock()
	if !ok || o.kind != "whatsapp" {
		writeError(w, http.StatusBadRequest, 100, 33, "Object with ID '"+number+"' does not exist", "")
		return
	}
	if bearer(r) != o.token {
		badToken(w)
		return
	}
	var in struct {
		Product   string `json:"messaging_product"`
		Status    string `json:"status"`
		MessageID string `json:"message_id"`
		To        string `json:"to"`
		Type      string `json:"type"`
		Callback  string `json:"biz_opaque_callback_data"`
		Context   struct {
			MessageID string `json:"message_id"`
		} `json:"context"`
		Text struct {
			Body string `json:"body"`
		} `json:"text"`
	}
	var media map[string]json.RawMessage
	// Marking a customer's message read: {"status":"read","message_id"}.
	if json.Unmarshal(body, &in) == nil && in.Product == "whatsapp" && in.Status != "" {
		if in.Status != "read" || !strings.HasPrefix(in.MessageID, "wamid.") {
			writeError(w, http.StatusBadRequest, 100, 0, "(#100) Invalid parameter", "status must be read and message_id a wamid")
			return
		}
		s.record(Sent{Channel: "whatsapp", From: number, Type: "read", ReplyTo: in.MessageID})
		writeJSON(w, http.StatusOK, map[string]any{"success": true})
		return
	}
	if json.Unmarshal(body, &in) != nil || json.Unmarshal(body, &media) != nil || in.Product != "whatsapp" || in.To == "" || in.Type == "" {
		writeError(w, http.StatusBadRequest, 100, 0, "(#100) Invalid parameter", "messaging_product, to and type are required")
		return
	}
	if f, ok := s.takeFailure(); ok {
		writeError(w, f.status, f.code, f.subcode, f.message, f.message)
		return
	}
	s.mu.Lock()
	closed := s.closed[in.To]
	s.mu.Unlock()
	if closed {
		writeError(w, http.StatusBadRequest, 131047, 0, "(#131047) Re-engagement message",
			"Message failed to send because more than 24 hours have passed since the customer last replied to this number.")
		return
	}
	m := Sent{Channel: "whatsapp", From: number, To: in.To, Type: in.Type, ReplyTo: in.Context.MessageID, Callback: in.Callback}
	switch in.Type {
	case "text":
		m.Text = in.Text.Body
	case "image", "video", "audio", "document", "sticker":
		var obj struct {
			Link, Caption, Filename string
		}
		if json.Unmarshal(media[in.Type], &obj) != nil || obj.Link == "" {
			writeError(w, http.StatusBadRequest, 100, 0, "(#100) Param "+in.Type+"['link'] is required", "")
			return
		}
		m.Link, m.Caption, m.Filename = obj.Link, obj.Caption, obj.Filename
	default:
		writeError(w, http.StatusBadRequest, 100, 0, "(#100) Param type must be one of {TEXT, IMAGE, ...}", "")
		return
	}
	m.ID = s.nextID("wamid.FAKE")
	s.record(m)
	writeJSON(w, http.StatusOK, map[string]any{
		"messaging_product": "whatsapp",
		"contacts":          []map[string]any{{"input": in.To, "wa_id": in.To}},
		"messages":          []map[string]any{{"id": m.ID}},
	})
}

func (s *Server) sendMessenger(w http.ResponseWriter, r *http.Request, body []byte) {
	s.mu.Lock()
	owner, ok := s.tokens[bearer(r)]
	o := s.objects[owner]
	s.mu.Unlock()
	if !ok || (o.kind != "messenger" && o.kind != "instagram") {
		badToken(w)
		return
	}
	var in struct {
		Recipient struct {
			ID string `json:"id"`
		} `json:"recipient"`
		MessagingType string `json:"messaging_type"`
		SenderAction  string `json:"sender_action"`
		Message       *struct {
			Text       string `json:"text"`
			Attachment *struct {
				Type    string `json:"type"`
				Payload struct {
					URL string `json:"url"`
				} `json:"payload"`
			} `json:"attachment"`
		} `json:"message"`
	}
	if json.Unmarshal(body, &in) != nil || in.Recipient.ID == "" || (in.Message == nil && in.SenderAction == "") {
		writeError(w, http.StatusBadRequest, 100, 0, "(#100) param recipient and message or sender_action must be non-empty", "")
		return
	}
	if f, ok := s.takeFailure(); ok {
		writeError(w, f.status, f.code, f.subcode, f.message, "")
		return
	}
	m := Sent{Channel: o.kind, From: owner, To: in.Recipient.ID, Action: in.SenderAction, MessagingType: in.MessagingType}
	if in.SenderAction != "" {
		s.record(m)
		writeJSON(w, http.StatusOK, map[string]any{"recipient_id": in.Recipient.ID})
		return
	}
	s.mu.Lock()
	closed := s.closed[in.Recipient.ID]
	s.mu.Unlock()
	if closed {
		writeError(w, http.StatusBadRequest, 10, 2018278, "(#10) This message is sent outside of allowed window.", "")
		return
	}
	switch {
	case in.Message.Attachment != nil:
		m.Type, m.Link = in.Message.Attachment.Type, in.Message.Attachment.Payload.URL
	case in.Message.Text != "":
		m.Type, m.Text = "text", in.Message.Text
	default:
		writeError(w, http.StatusBadRequest, 100, 0, "(#100) Message cannot be empty, must provide valid attachment or text", "")
		return
	}
	m.ID = s.nextID("m_FAKE")
	s.record(m)
	writeJSON(w, http.StatusOK, map[string]any{"recipient_id": in.Recipient.ID, "message_id": m.ID})
}
