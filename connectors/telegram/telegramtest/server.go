// Package telegramtest is a fake Telegram Bot API server for tests. It speaks
// the official JSON envelope ({"ok":true,"result":...} or
// {"ok":false,"error_code":...,"description":...,"parameters":{...}}) for the
// methods the gateway uses, records every call, and can be told to fail.
package telegramtest

import (
	"encoding/json"
	"errors"
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

// Server is a fake Bot API for one bot token. It is safe for concurrent use;
// its state sits behind a mutex.
type Server struct {
	token string
	srv   *httptest.Server

	mu       sync.Mutex
	calls    map[string][]url.Values
	failures map[string][]apiError
	lastID   int
	webhook  webhook
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
// ends. Requests go to /bot<token>/<method>; any other token is answered
// 401 Unauthorized, as Telegram does.
func New(t testing.TB, token string) *Server {
	t.Helper()
	s := &Server{
		token:    token,
		calls:    map[string][]url.Values{},
		failures: map[string][]apiError{},
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

// Endpoint is the value for telegram.Options.APIEndpoint.
func (s *Server) Endpoint() string { return s.srv.URL + "/bot%s/%s" }

// Close stops the server now (later requests fail at the transport level).
func (s *Server) Close() { s.srv.Close() }

// Calls returns the form values of every call to method made with the right
// token (including calls FailNext failed), oldest first.
func (s *Server) Calls(method string) []url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]url.Values, len(s.calls[method]))
	for i, v := range s.calls[method] {
		out[i] = cloneValues(v)
	}
	return out
}

// FailNext makes the next n calls of method answer
// {"ok":false,"error_code":code,"description":description} with HTTP status
// code, plus "parameters":{"retry_after":retryAfter} when retryAfter > 0.
func (s *Server) FailNext(method string, n int, code int, description string, retryAfter int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures[method] = append(s.failures[method], apiError{code, description, retryAfter})
	}
}

// SetDeliveryTrouble makes getWebhookInfo report pending updates and a last
// delivery error (empty lastError clears it).
func (s *Server) SetDeliveryTrouble(pending int, lastError string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.webhook.pending = pending
	s.webhook.lastError = lastError
	s.webhook.lastErrorDate = 0
	if lastError != "" {
		s.webhook.lastErrorDate = time.Now().Unix()
	}
}

// Update returns an official-format update JSON: a private text message
// (message_id = updateID, dated now) from user chatID, Ann (@ann, "en").
func (s *Server) Update(updateID int, chatID int64, text string) []byte {
	u := map[string]any{
		"update_id": updateID,
		"message": map[string]any{
			"message_id": updateID,
			"from": map[string]any{
				"id": chatID, "is_bot": false, "first_name": "Ann",
				"username": "ann", "language_code": "en",
			},
			"chat": map[string]any{
				"id": chatID, "first_name": "Ann", "username": "ann", "type": "private",
			},
			"date": time.Now().Unix(),
			"text": text,
		},
	}
	b, err := json.Marshal(u)
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
}

func badRequest(what string) *apiError {
	return &apiError{code: 400, description: "Bad Request: " + what}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	token, method, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/bot"), "/")
	if !ok || !strings.HasPrefix(r.URL.Path, "/bot") {
		writeError(w, &apiError{code: 404, description: "Not Found"})
		return
	}
	if token != s.token {
		writeError(w, &apiError{code: 401, description: "Unauthorized"})
		return
	}
	if err := r.ParseMultipartForm(1 << 20); err != nil && !errors.Is(err, http.ErrNotMultipart) {
		writeError(w, badRequest("can't parse request"))
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[method] = append(s.calls[method], cloneValues(r.Form))
	if fs := s.failures[method]; len(fs) > 0 {
		s.failures[method] = fs[1:]
		writeError(w, &fs[0])
		return
	}
	result, apiErr := s.call(method, r.Form)
	if apiErr != nil {
		writeError(w, apiErr)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "result": result})
}

// call runs one method against the state; s.mu is held.
func (s *Server) call(method string, f url.Values) (any, *apiError) {
	switch method {
	case "getMe":
		return map[string]any{
			"id": s.botID(), "is_bot": true, "first_name": "Test Bot", "username": BotUsername,
			"can_join_groups": true, "can_read_all_group_messages": false, "supports_inline_queries": false,
		}, nil
	case "setWebhook":
		return s.setWebhook(f)
	case "deleteWebhook":
		s.webhook.url, s.webhook.secret, s.webhook.allowedUpdates = "", "", nil
		if f.Get("drop_pending_updates") == "true" {
			s.webhook.pending = 0
		}
		return true, nil
	case "getWebhookInfo":
		info := map[string]any{
			"url":                    s.webhook.url,
			"has_custom_certificate": false,
			"pending_update_count":   s.webhook.pending,
		}
		if s.webhook.lastError != "" {
			info["last_error_date"] = s.webhook.lastErrorDate
			info["last_error_message"] = s.webhook.lastError
		}
		if s.webhook.url != "" && s.webhook.allowedUpdates != nil {
			info["allowed_updates"] = s.webhook.allowedUpdates
		}
		return info, nil
	case "getUpdates":
		if s.webhook.url != "" {
			return nil, &apiError{code: 409, description: "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"}
		}
		return []any{}, nil
	case "sendMessage":
		return s.sendMessage(f)
	case "editMessageText":
		return s.editMessageText(f)
	case "deleteMessage", "sendChatAction":
		if _, ok := chatID(f); !ok {
			return nil, badRequest("chat not found")
		}
		if method == "deleteMessage" && f.Get("message_id") == "" {
			return nil, badRequest("message identifier is not specified")
		}
		if method == "sendChatAction" && f.Get("action") == "" {
			return nil, badRequest("wrong parameter action in request")
		}
		return true, nil
	default:
		return nil, &apiError{code: 404, description: "Not Found"}
	}
}

func (s *Server) setWebhook(f url.Values) (any, *apiError) {
	var allowed []string
	if raw := f.Get("allowed_updates"); raw != "" {
		if err := json.Unmarshal([]byte(raw), &allowed); err != nil {
			return nil, badRequest("can't parse allowed updates")
		}
	}
	s.webhook.url = f.Get("url")
	s.webhook.secret = f.Get("secret_token")
	s.webhook.allowedUpdates = allowed
	if f.Get("drop_pending_updates") == "true" {
		s.webhook.pending = 0
	}
	return true, nil // as on Telegram, an empty url removes the webhook
}

func (s *Server) sendMessage(f url.Values) (any, *apiError) {
	chat, ok := chatID(f)
	if !ok {
		return nil, badRequest("chat not found")
	}
	text := f.Get("text")
	if apiErr := checkText(text); apiErr != nil {
		return nil, apiErr
	}
	s.lastID++
	msg := s.message(s.lastID, chat, text)
	if reply := f.Get("reply_to_message_id"); reply != "" {
		id, err := strconv.Atoi(reply)
		if err != nil {
			return nil, badRequest("message to be replied not found")
		}
		msg["reply_to_message"] = map[string]any{
			"message_id": id, "date": msg["date"], "chat": msg["chat"],
		}
	}
	return msg, nil
}

func (s *Server) editMessageText(f url.Values) (any, *apiError) {
	chat, ok := chatID(f)
	if !ok {
		return nil, badRequest("chat not found")
	}
	id, err := strconv.Atoi(f.Get("message_id"))
	if err != nil || id <= 0 || id > s.lastID {
		return nil, badRequest("message to edit not found")
	}
	text := f.Get("text")
	if apiErr := checkText(text); apiErr != nil {
		return nil, apiErr
	}
	msg := s.message(id, chat, text)
	msg["edit_date"] = time.Now().Unix()
	return msg, nil
}

// message is a Message the bot sent to a private chat.
func (s *Server) message(id int, chat int64, text string) map[string]any {
	return map[string]any{
		"message_id": id,
		"from":       map[string]any{"id": s.botID(), "is_bot": true, "first_name": "Test Bot", "username": BotUsername},
		"chat":       map[string]any{"id": chat, "type": "private"},
		"date":       time.Now().Unix(),
		"text":       text,
	}
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

// botID is the numeric part of the token, the bot's user id.
func (s *Server) botID() int64 {
	id, _ := strconv.ParseInt(strings.SplitN(s.token, ":", 2)[0], 10, 64)
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
