package bftest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Call is one request a Connector service received.
type Call struct {
	Method string
	// Path is the request's path as sent (escaped).
	Path string
	// Conversation and ActivityID are the unescaped path elements.
	Conversation string
	ActivityID   string
	Auth         string
	Activity     Activity
}

// Service is a fake Bot Framework Connector service at one service URL.
type Service struct {
	w   *World
	srv *httptest.Server

	mu    sync.Mutex
	calls []Call
	seq   int
	fail  []failure
	files map[string]file
}

type failure struct {
	status     int
	retryAfter string
}

type file struct {
	mime string
	data []byte
}

// NewService starts a Connector service; it accepts only access tokens the
// world's token endpoint issued.
func (w *World) NewService() *Service {
	s := &Service{w: w, files: map[string]file{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	w.t.Cleanup(s.srv.Close)
	return s
}

// URL is the service URL activities name (with the trailing slash Bot
// Framework sends).
func (s *Service) URL() string { return s.srv.URL + "/" }

// Base is the service's scheme://host:port (an allow-list pattern).
func (s *Service) Base() string { return s.srv.URL }

// FailNext makes the next call answer status (with Retry-After when set).
func (s *Service) FailNext(status int, retryAfter string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = append(s.fail, failure{status, retryAfter})
}

// AddFile serves data at /v3/attachments/{id}/views/original to callers
// with a valid access token and returns its URL.
func (s *Service) AddFile(id, mime string, data []byte) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := "/v3/attachments/" + id + "/views/original"
	s.files[p] = file{mime, data}
	return s.srv.URL + p
}

// Calls returns the calls so far.
func (s *Service) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// WaitCalls waits until n calls arrived (or timeout) and returns them.
func (s *Service) WaitCalls(timeout time.Duration, n int) []Call {
	deadline := time.Now().Add(timeout)
	for {
		c := s.Calls()
		if len(c) >= n || time.Now().After(deadline) {
			return c
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *Service) serve(rw http.ResponseWriter, r *http.Request) {
	auth := r.Header.Get("Authorization")
	tok, _ := strings.CutPrefix(auth, "Bearer ")
	if !s.w.ValidAccessToken(tok) {
		writeJSON(rw, http.StatusUnauthorized, map[string]any{"message": "Authorization has been denied for this request."})
		return
	}
	if f, ok := s.file(r.URL.Path); ok && r.Method == http.MethodGet {
		rw.Header().Set("Content-Type", f.mime)
		rw.Write(f.data)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/v3/conversations/")
	if !ok {
		writeJSON(rw, http.StatusNotFound, map[string]any{"error": map[string]string{"code": "NotFound", "message": "no such route"}})
		return
	}
	conv, act, _ := strings.Cut(rest, "/activities")
	act = strings.TrimPrefix(act, "/")
	call := Call{Method: r.Method, Path: r.URL.EscapedPath(), Conversation: conv, ActivityID: act, Auth: auth}
	body, _ := io.ReadAll(r.Body)
	if len(body) > 0 {
		if err := json.Unmarshal(body, &call.Activity); err != nil {
			writeJSON(rw, http.StatusBadRequest, map[string]any{"error": map[string]string{"code": "BadArgument", "message": "bad JSON"}})
			return
		}
	}
	s.mu.Lock()
	var f *failure
	if len(s.fail) > 0 {
		f = &s.fail[0]
		s.fail = s.fail[1:]
	}
	if f == nil {
		s.calls = append(s.calls, call)
	}
	s.seq++
	id := fmt.Sprintf("1%012d", s.seq)
	s.mu.Unlock()
	if f != nil {
		if f.retryAfter != "" {
			rw.Header().Set("Retry-After", f.retryAfter)
		}
		writeJSON(rw, f.status, map[string]any{"error": map[string]string{"code": "Failure", "message": http.StatusText(f.status)}})
		return
	}
	switch r.Method {
	case http.MethodDelete:
		rw.WriteHeader(http.StatusOK)
	case http.MethodPut:
		writeJSON(rw, http.StatusOK, map[string]string{"id": act})
	default:
		writeJSON(rw, http.StatusOK, map[string]string{"id": id})
	}
}

func (s *Service) file(p string) (file, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.files[p]
	return f, ok
}

// Activity is a Bot Framework activity as JSON.
type Activity map[string]any

// JSON is the activity's JSON.
func (a Activity) JSON() []byte {
	b, _ := json.Marshal(a)
	return b
}

// Text is the activity's text.
func (a Activity) Text() string { s, _ := a["text"].(string); return s }

// Type is the activity's type.
func (a Activity) Type() string { s, _ := a["type"].(string); return s }

// Tenant, a fixed Azure AD tenant of the Teams activities built here.
const Tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"

// TeamsMessage is a message activity as Microsoft Teams sends it in a
// personal (1:1) chat with the bot appID.
func TeamsMessage(serviceURL, appID, conversationID, id, text string) Activity {
	return Activity{
		"type":       "message",
		"id":         id,
		"timestamp":  "2026-12-01T20:00:00.123Z",
		"serviceUrl": serviceURL,
		"channelId":  "msteams",
		"from":       map[string]any{"id": "29:1customer-aad-id", "name": "Megan Bowen", "aadObjectId": "00000000-0000-0000-0000-0000000000aa"},
		"conversation": map[string]any{
			"id": conversationID, "conversationType": "personal", "tenantId": Tenant,
		},
		"recipient":   map[string]any{"id": "28:" + appID, "name": "Support bot"},
		"text":        text,
		"textFormat":  "plain",
		"locale":      "en-US",
		"channelData": map[string]any{"tenant": map[string]any{"id": Tenant}},
	}
}

// WebChatMessage is a message activity from Web Chat.
func WebChatMessage(serviceURL, appID, conversationID, id, text string) Activity {
	return Activity{
		"type":         "message",
		"id":           id,
		"timestamp":    "2026-12-01T20:00:00.5Z",
		"serviceUrl":   serviceURL,
		"channelId":    "webchat",
		"from":         map[string]any{"id": "dl_visitor-1", "name": "Visitor"},
		"conversation": map[string]any{"id": conversationID},
		"recipient":    map[string]any{"id": appID + "@abc", "name": "Support bot"},
		"text":         text,
	}
}
