// Package telegramtest is a fake Telegram Bot API server for tests. It speaks
// the official JSON envelope ({"ok":true,"result":...} or
// {"ok":false,"error_code":...,"description":...,"parameters":{...}}) for the
// methods the gateway uses — getMe, setWebhook, deleteWebhook,
// getWebhookInfo, getUpdates (long polling with offsets), getFile and file
// downloads, getUserProfilePhotos, sendMessage, sendPhoto, sendDocument,
// editMessageText, editMessageCaption, deleteMessage, sendChatAction —
// serves several bots (one per token), records every call, and can be told
// to fail.
//
// Requests may carry a path prefix "/via-<name>" before "/bot<token>/" (see
// EndpointVia), which the server records with each call, so a test can tell
// which of several gateway processes made a call.
package telegramtest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// BotUsername is the username getMe answers with.
const BotUsername = "test_bot"

// MaxDownload is the largest file the fake lets a bot download (Telegram's
// 20 MB limit).
const MaxDownload = 20 << 20

// Call is one recorded Bot API call.
type Call struct {
	// Via is the name from an EndpointVia prefix ("" without one).
	Via    string
	Token  string
	Method string
	Form   url.Values
	At     time.Time
}

// Sent is a message a bot sent, as the chat shows it now.
type Sent struct {
	ID      int
	ChatID  int64
	Kind    string // "text", "photo" or "document"
	Text    string // text, or caption of a photo/document
	FileURL string // the URL a photo/document was sent by
	ReplyTo int
}

// Server is a fake Bot API. It is safe for concurrent use; its state sits
// behind a mutex.
type Server struct {
	srv *httptest.Server

	mu       sync.Mutex
	primary  string
	bots     map[string]*bot
	calls    []Call
	failures map[string][]apiError
	files    map[string]*file // by file_id
	byPath   map[string]*file // by file_path
	photos   map[int64]string // user id → profile photo file_id
	perCall  int              // most updates one getUpdates returns (0: Telegram's 100)
	delay    time.Duration    // added to each getUpdates answer that carries updates
	nextFile int
}

type bot struct {
	token    string
	webhook  webhook
	lastID   int
	messages map[int]*Sent
	order    []int
	updates  []queued
	// arrived is closed and replaced whenever updates are queued.
	arrived chan struct{}
	// polling counts getUpdates calls in flight; maxPolling is its peak.
	polling, maxPolling int
}

type queued struct {
	id   int64
	body json.RawMessage
}

type file struct {
	id, unique, path string
	content          []byte
	size             int64
}

type webhook struct {
	url            string
	secret         string
	allowedUpdates []string
	pending        int
	lastErrorDate  int64
	lastError      string
}

// New starts a fake Bot API that accepts token and closes it when the test
// ends. Requests go to /bot<token>/<method>; a token no bot of the server
// has is answered 401 Unauthorized, as Telegram does.
func New(t testing.TB, token string) *Server {
	t.Helper()
	s := &Server{
		primary:  token,
		bots:     map[string]*bot{},
		failures: map[string][]apiError{},
		files:    map[string]*file{},
		byPath:   map[string]*file{},
		photos:   map[int64]string{},
	}
	s.addBot(token)
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

// AddBot makes the server accept another token, a bot of its own.
func (s *Server) AddBot(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addBot(token)
}

func (s *Server) addBot(token string) {
	if s.bots[token] == nil {
		s.bots[token] = &bot{token: token, messages: map[int]*Sent{}, arrived: make(chan struct{})}
	}
}

// Endpoint is the value for telegram.Options.APIEndpoint.
func (s *Server) Endpoint() string { return s.srv.URL + "/bot%s/%s" }

// EndpointVia is Endpoint with a prefix naming the caller, recorded as
// Call.Via.
func (s *Server) EndpointVia(name string) string {
	return s.srv.URL + "/via-" + name + "/bot%s/%s"
}

// URL is the server's base URL.
func (s *Server) URL() string { return s.srv.URL }

// Close stops the server now (later requests fail at the transport level).
func (s *Server) Close() { s.srv.Close() }

// Calls returns the form values of every call to method made with a known
// token (including calls FailNext failed), oldest first.
func (s *Server) Calls(method string) []url.Values {
	var out []url.Values
	for _, c := range s.Requests(method) {
		out = append(out, c.Form)
	}
	return out
}

// Requests returns every call to method made with a known token, oldest
// first ("" for all methods).
func (s *Server) Requests(method string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if method == "" || c.Method == method {
			c.Form = cloneValues(c.Form)
			out = append(out, c)
		}
	}
	return out
}

// FailNext makes the next n calls of method (by any bot) answer
// {"ok":false,"error_code":code,"description":description} with HTTP status
// code, plus "parameters":{"retry_after":retryAfter} when retryAfter > 0.
func (s *Server) FailNext(method string, n int, code int, description string, retryAfter int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures[method] = append(s.failures[method], apiError{code: code, description: description, retryAfter: retryAfter})
	}
}

// FailAfter lets the next skip calls of method succeed and makes the one
// after them fail as FailNext describes.
func (s *Server) FailAfter(method string, skip int, code int, description string, retryAfter int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures[method] = append(s.failures[method], apiError{code: code, description: description, retryAfter: retryAfter, skip: skip})
}

// SetPollDelay makes each getUpdates answer that carries updates wait d
// first, as a slow network would.
func (s *Server) SetPollDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// SetDeliveryTrouble makes getWebhookInfo of the first bot report pending
// updates and a last delivery error (empty lastError clears it).
func (s *Server) SetDeliveryTrouble(pending int, lastError string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.bots[s.primary]
	b.webhook.pending = pending
	b.webhook.lastError = lastError
	b.webhook.lastErrorDate = 0
	if lastError != "" {
		b.webhook.lastErrorDate = time.Now().Unix()
	}
}

// SetWebhookOf sets a bot's webhook as another system would have.
func (s *Server) SetWebhookOf(token, url string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b := s.bots[token]; b != nil {
		b.webhook = webhook{url: url}
	}
}

// Push queues updates for the first bot's getUpdates.
func (s *Server) Push(updates ...[]byte) { s.PushTo(s.primary, updates...) }

// PushTo queues updates for a bot's getUpdates. Each must have an
// update_id; they are handed out in the order pushed.
func (s *Server) PushTo(token string, updates ...[]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.bots[token]
	for _, u := range updates {
		var head struct {
			UpdateID int64 `json:"update_id"`
		}
		if err := json.Unmarshal(u, &head); err != nil {
			panic(fmt.Sprintf("telegramtest: pushed update without update_id: %s", u))
		}
		b.updates = append(b.updates, queued{id: head.UpdateID, body: append(json.RawMessage(nil), u...)})
	}
	close(b.arrived)
	b.arrived = make(chan struct{})
}

// Unconfirmed counts a bot's queued updates getUpdates has not been told
// (by a higher offset) to forget.
func (s *Server) Unconfirmed(token string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.bots[token].updates)
}

// MaxConcurrentPolls is the most getUpdates calls of a bot that were in
// flight at one time (Telegram answers 409 Conflict to the older of two).
func (s *Server) MaxConcurrentPolls(token string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bots[token].maxPolling
}

// SetUpdatesPerCall caps how many updates one getUpdates returns (0:
// Telegram's limit of 100, or the call's smaller limit).
func (s *Server) SetUpdatesPerCall(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.perCall = n
}

// AddFile stores a file any bot can getFile and download; it returns the
// file_id and file_unique_id to put into updates.
func (s *Server) AddFile(content []byte) (fileID, uniqueID string) {
	return s.addFile(content, int64(len(content)))
}

// AddBigFile stores a file of size bytes without content, for the download
// limit.
func (s *Server) AddBigFile(size int64) (fileID, uniqueID string) {
	return s.addFile(nil, size)
}

func (s *Server) addFile(content []byte, size int64) (string, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextFile++
	n := s.nextFile
	f := &file{
		id:      fmt.Sprintf("AgACAgIAAxkBAAI%04d-file", n),
		unique:  fmt.Sprintf("AQAD%04d", n),
		path:    fmt.Sprintf("documents/file_%d.bin", n),
		content: content, size: size,
	}
	s.files[f.id] = f
	s.byPath[f.path] = f
	return f.id, f.unique
}

// SetProfilePhoto gives a user a profile photo (a file from AddFile).
func (s *Server) SetProfilePhoto(userID int64, fileID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.photos[userID] = fileID
}

// Messages returns what a bot sent to a chat and what is left of it
// (deleted messages are gone, edits applied), oldest first.
func (s *Server) Messages(token string, chatID int64) []Sent {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.bots[token]
	var out []Sent
	for _, id := range b.order {
		if m := b.messages[id]; m != nil && m.ChatID == chatID {
			out = append(out, *m)
		}
	}
	return out
}

// Update returns an official-format update JSON: a private text message
// (message_id = updateID, dated now) from user chatID, Ann (@ann, "en").
func (s *Server) Update(updateID int, chatID int64, text string) []byte {
	return Update(updateID, chatID, map[string]any{"text": text})
}

// Update returns an official-format update: a private message
// (message_id = updateID, dated now) from user chatID, Ann (@ann, "en"),
// whose content fields are given (e.g. {"text": "hi"} or {"photo": [...],
// "caption": "look"}).
func Update(updateID int, chatID int64, content map[string]any) []byte {
	msg := map[string]any{
		"message_id": updateID,
		"from": map[string]any{
			"id": chatID, "is_bot": false, "first_name": "Ann",
			"username": "ann", "language_code": "en",
		},
		"chat": map[string]any{
			"id": chatID, "first_name": "Ann", "username": "ann", "type": "private",
		},
		"date": time.Now().Unix(),
	}
	for k, v := range content {
		msg[k] = v
	}
	b, err := json.Marshal(map[string]any{"update_id": updateID, "message": msg})
	if err != nil {
		panic(err) // a map of plain values always marshals
	}
	return b
}

// apiError is a Bot API failure answer.
type apiError struct {
	code        int
	description string
	retryAfter  int
	skip        int // calls to let through first (FailAfter)
}

func badRequest(what string) *apiError {
	return &apiError{code: 400, description: "Bad Request: " + what}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	via := ""
	if strings.HasPrefix(p, "/via-") {
		rest := p[len("/via-"):]
		i := strings.IndexByte(rest, '/')
		if i < 0 {
			writeError(w, &apiError{code: 404, description: "Not Found"})
			return
		}
		via, p = rest[:i], rest[i:]
	}
	if strings.HasPrefix(p, "/file/bot") {
		s.download(w, strings.TrimPrefix(p, "/file/bot"))
		return
	}
	token, method, ok := strings.Cut(strings.TrimPrefix(p, "/bot"), "/")
	if !ok || !strings.HasPrefix(p, "/bot") {
		writeError(w, &apiError{code: 404, description: "Not Found"})
		return
	}
	if err := r.ParseMultipartForm(1 << 20); err != nil && !errors.Is(err, http.ErrNotMultipart) {
		writeError(w, badRequest("can't parse request"))
		return
	}

	s.mu.Lock()
	b := s.bots[token]
	if b == nil {
		s.mu.Unlock()
		writeError(w, &apiError{code: 401, description: "Unauthorized"})
		return
	}
	s.calls = append(s.calls, Call{Via: via, Token: token, Method: method, Form: cloneValues(r.Form), At: time.Now()})
	if fs := s.failures[method]; len(fs) > 0 {
		if fs[0].skip > 0 {
			fs[0].skip--
		} else {
			s.failures[method] = fs[1:]
			s.mu.Unlock()
			writeError(w, &fs[0])
			return
		}
	}
	if method == "getUpdates" {
		s.mu.Unlock()
		s.getUpdates(w, r, b)
		return
	}
	result, apiErr := s.call(b, method, r.Form)
	s.mu.Unlock()
	if apiErr != nil {
		writeError(w, apiErr)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "result": result})
}

// download serves /file/bot<token>/<file_path>.
func (s *Server) download(w http.ResponseWriter, rest string) {
	token, path, ok := strings.Cut(rest, "/")
	s.mu.Lock()
	b, f := s.bots[token], s.byPath[path]
	s.mu.Unlock()
	if !ok || b == nil || f == nil || f.content == nil {
		http.NotFound(w, nil)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(f.content)))
	_, _ = w.Write(f.content)
}

// getUpdates answers with the bot's queued updates from offset on, waiting
// up to the timeout for some to arrive. Updates below offset are forgotten,
// as Telegram confirms them so.
func (s *Server) getUpdates(w http.ResponseWriter, r *http.Request, b *bot) {
	f := r.Form
	offset, _ := strconv.ParseInt(f.Get("offset"), 10, 64)
	limit, _ := strconv.Atoi(f.Get("limit"))
	if limit <= 0 || limit > 100 {
		limit = 100
	}
	timeout, _ := strconv.Atoi(f.Get("timeout"))
	deadline := time.After(time.Duration(max(timeout, 0)) * time.Second)

	s.mu.Lock()
	if b.webhook.url != "" {
		s.mu.Unlock()
		writeError(w, &apiError{code: 409, description: "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"})
		return
	}
	b.polling++
	b.maxPolling = max(b.maxPolling, b.polling)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		b.polling--
		s.mu.Unlock()
	}()

	for {
		s.mu.Lock()
		if offset > 0 {
			kept := b.updates[:0]
			for _, u := range b.updates {
				if u.id >= offset {
					kept = append(kept, u)
				}
			}
			b.updates = kept
		}
		n := min(limit, len(b.updates))
		if s.perCall > 0 {
			n = min(n, s.perCall)
		}
		out := make([]json.RawMessage, 0, n)
		for _, u := range b.updates[:n] {
			out = append(out, u.body)
		}
		arrived, delay := b.arrived, s.delay
		s.mu.Unlock()
		if len(out) > 0 {
			if delay > 0 {
				select {
				case <-time.After(delay):
				case <-r.Context().Done():
					return
				}
			}
			writeJSON(w, http.StatusOK, map[string]any{"ok": true, "result": out})
			return
		}
		select {
		case <-arrived:
		case <-deadline:
			writeJSON(w, http.StatusOK, map[string]any{"ok": true, "result": out})
			return
		case <-r.Context().Done():
			return
		}
	}
}

// call runs one method against the state; s.mu is held.
func (s *Server) call(b *bot, method string, f url.Values) (any, *apiError) {
	switch method {
	case "getMe":
		return map[string]any{
			"id": botID(b.token), "is_bot": true, "first_name": "Test Bot", "username": BotUsername,
			"can_join_groups": true, "can_read_all_group_messages": false, "supports_inline_queries": false,
		}, nil
	case "setWebhook":
		return b.setWebhook(f)
	case "deleteWebhook":
		b.webhook.url, b.webhook.secret, b.webhook.allowedUpdates = "", "", nil
		if f.Get("drop_pending_updates") == "true" {
			b.webhook.pending = 0
			b.updates = nil
		}
		return true, nil
	case "getWebhookInfo":
		info := map[string]any{
			"url":                    b.webhook.url,
			"has_custom_certificate": false,
			"pending_update_count":   b.webhook.pending + len(b.updates),
		}
		if b.webhook.lastError != "" {
			info["last_error_date"] = b.webhook.lastErrorDate
			info["last_error_message"] = b.webhook.lastError
		}
		if b.webhook.url != "" && b.webhook.allowedUpdates != nil {
			info["allowed_updates"] = b.webhook.allowedUpdates
		}
		return info, nil
	case "getFile":
		fl := s.files[f.Get("file_id")]
		switch {
		case fl == nil:
			return nil, badRequest("invalid file_id")
		case fl.size > MaxDownload:
			return nil, badRequest("file is too big")
		}
		return map[string]any{"file_id": fl.id, "file_unique_id": fl.unique, "file_size": fl.size, "file_path": fl.path}, nil
	case "getUserProfilePhotos":
		uid, err := strconv.ParseInt(f.Get("user_id"), 10, 64)
		if err != nil || uid == 0 {
			return nil, badRequest("user not found")
		}
		id, ok := s.photos[uid]
		if !ok {
			return map[string]any{"total_count": 0, "photos": []any{}}, nil
		}
		return map[string]any{"total_count": 1, "photos": [][]map[string]any{{
			{"file_id": id + "-small", "file_unique_id": "small", "width": 160, "height": 160, "file_size": 100},
			{"file_id": id, "file_unique_id": s.files[id].unique, "width": 640, "height": 640, "file_size": s.files[id].size},
		}}}, nil
	case "sendMessage":
		return b.send(f, "text", "text", "")
	case "sendPhoto":
		return b.send(f, "photo", "caption", "photo")
	case "sendDocument":
		return b.send(f, "document", "caption", "document")
	case "editMessageText", "editMessageCaption":
		return b.edit(method, f)
	case "deleteMessage":
		if _, ok := chatID(f); !ok {
			return nil, badRequest("chat not found")
		}
		id, _ := strconv.Atoi(f.Get("message_id"))
		if id == 0 {
			return nil, badRequest("message identifier is not specified")
		}
		if b.messages[id] == nil {
			return nil, badRequest("message to delete not found")
		}
		delete(b.messages, id)
		return true, nil
	case "sendChatAction":
		if _, ok := chatID(f); !ok {
			return nil, badRequest("chat not found")
		}
		if f.Get("action") == "" {
			return nil, badRequest("wrong parameter action in request")
		}
		return true, nil
	default:
		return nil, &apiError{code: 404, description: "Not Found"}
	}
}

func (b *bot) setWebhook(f url.Values) (any, *apiError) {
	var allowed []string
	if raw := f.Get("allowed_updates"); raw != "" {
		if err := json.Unmarshal([]byte(raw), &allowed); err != nil {
			return nil, badRequest("can't parse allowed updates")
		}
	}
	b.webhook.url = f.Get("url")
	b.webhook.secret = f.Get("secret_token")
	b.webhook.allowedUpdates = allowed
	if f.Get("drop_pending_updates") == "true" {
		b.webhook.pending = 0
	}
	return true, nil // as on Telegram, an empty url removes the webhook
}

// send stores and returns a message; textKey is the form field of its text
// ("text" or "caption"), fileKey the field of its file URL ("" for text).
func (b *bot) send(f url.Values, kind, textKey, fileKey string) (any, *apiError) {
	chat, ok := chatID(f)
	if !ok {
		return nil, badRequest("chat not found")
	}
	text := f.Get(textKey)
	m := &Sent{ChatID: chat, Kind: kind, Text: text}
	if fileKey == "" {
		if apiErr := checkText(text); apiErr != nil {
			return nil, apiErr
		}
	} else {
		m.FileURL = f.Get(fileKey)
		if u, err := url.Parse(m.FileURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, badRequest("wrong file identifier/HTTP URL specified")
		}
		if utf8.RuneCountInString(text) > 1024 {
			return nil, badRequest("message caption is too long")
		}
	}
	if reply := f.Get("reply_to_message_id"); reply != "" {
		id, err := strconv.Atoi(reply)
		if err != nil {
			return nil, badRequest("message to be replied not found")
		}
		m.ReplyTo = id
	}
	b.lastID++
	m.ID = b.lastID
	b.messages[m.ID] = m
	b.order = append(b.order, m.ID)
	return b.wire(m), nil
}

func (b *bot) edit(method string, f url.Values) (any, *apiError) {
	chat, ok := chatID(f)
	if !ok {
		return nil, badRequest("chat not found")
	}
	id, err := strconv.Atoi(f.Get("message_id"))
	m := b.messages[id]
	if err != nil || m == nil || m.ChatID != chat {
		return nil, badRequest("message to edit not found")
	}
	key := "text"
	if method == "editMessageCaption" {
		key = "caption"
	}
	switch {
	case key == "text" && m.Kind != "text":
		return nil, badRequest("there is no text in the message to edit")
	case key == "caption" && m.Kind == "text":
		return nil, badRequest("there is no caption in the message to edit")
	}
	text := f.Get(key)
	if key == "text" {
		if apiErr := checkText(text); apiErr != nil {
			return nil, apiErr
		}
	}
	if text == m.Text {
		return nil, badRequest("message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message")
	}
	m.Text = text
	out := b.wire(m)
	out["edit_date"] = time.Now().Unix()
	return out, nil
}

// wire is a sent message in the Bot API's Message shape.
func (b *bot) wire(m *Sent) map[string]any {
	out := map[string]any{
		"message_id": m.ID,
		"from":       map[string]any{"id": botID(b.token), "is_bot": true, "first_name": "Test Bot", "username": BotUsername},
		"chat":       map[string]any{"id": m.ChatID, "type": "private"},
		"date":       time.Now().Unix(),
	}
	switch m.Kind {
	case "text":
		out["text"] = m.Text
	case "photo":
		out["photo"] = []map[string]any{{"file_id": "sent-photo-" + strconv.Itoa(m.ID), "file_unique_id": "sp" + strconv.Itoa(m.ID), "width": 800, "height": 600}}
	case "document":
		out["document"] = map[string]any{"file_id": "sent-doc-" + strconv.Itoa(m.ID), "file_unique_id": "sd" + strconv.Itoa(m.ID)}
	}
	if m.Kind != "text" && m.Text != "" {
		out["caption"] = m.Text
	}
	if m.ReplyTo != 0 {
		out["reply_to_message"] = map[string]any{"message_id": m.ReplyTo, "date": out["date"], "chat": out["chat"]}
	}
	return out
}

func checkText(text string) *apiError {
	switch {
	case strings.TrimSpace(text) == "":
		return badRequest("message text is empty")
	case utf8.RuneCountInString(text) > 4096:
		return badRequest("message is too long")
	}
	return nil
}

// chatID is the form's numeric chat_id; ok is false when it has none.
func chatID(f url.Values) (id int64, ok bool) {
	id, err := strconv.ParseInt(f.Get("chat_id"), 10, 64)
	return id, err == nil && id != 0
}

// botID is the numeric part of a token, the bot's user id.
func botID(token string) int64 {
	id, _ := strconv.ParseInt(strings.SplitN(token, ":", 2)[0], 10, 64)
	return id
}

func writeError(w http.ResponseWriter, e *apiError) {
	body := map[string]any{"ok": false, "error_code": e.code, "description": e.description}
	if e.retryAfter > 0 {
		body["parameters"] = map[string]any{"retry_after": e.retryAfter}
	}
	writeJSON(w, e.code, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}
