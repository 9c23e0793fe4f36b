// Package chatwoottest is a contract fake of Chatwoot's Application API
// for tests of the chatwoot adapter and of the gateway end to end.
package chatwoottest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/connector-gateway/connector/portal/adapters/chatwoot"
)

// Server is a contract fake of Chatwoot's Application API for one
// account with one API channel inbox: the routes, fields and answers of
// Chatwoot's controllers and views (contacts, contact conversations,
// conversations, messages, inboxes), checking every request the adapter
// makes. A fault can be set on a route: a 500 before doing anything, or a
// hang after doing the work (the answer is lost, as on a timeout).
type Server struct {
	t   testing.TB
	srv *httptest.Server
	// URL is the fake's base URL.
	URL     string
	Token   string
	Account int
	Inbox   int
	// ChannelType is what GET inbox answers (Channel::Api by default);
	// set it before the first request.
	ChannelType string

	mu       sync.Mutex
	nextID   int
	lastConv int
	contacts []*Contact
	convs    []*Conversation
	msgs     []*Message
	calls    []string
	faults   map[string][]Fault
}

type Fault int

const (
	Fail500 Fault = iota + 1
	HangAfterDoing
)

type Contact struct {
	ID         int
	Name       string
	Identifier string
	SourceIDs  map[int]string // inbox → source_id
}

type Conversation struct {
	ID, InboxID, ContactID int
	SourceID               string
}

type Message struct {
	ID, Conv      int
	Type          string // incoming, outgoing
	Content       string
	SourceID      string
	Private       bool
	Status        string
	ExternalError string
	InReplyTo     int
	Deleted       bool
}

func New(t testing.TB) *Server {
	f := &Server{t: t, Token: "tok-" + strconv.FormatInt(time.Now().UnixNano(), 36), Account: 3, Inbox: 7,
		ChannelType: "Channel::Api", nextID: 100, faults: map[string][]Fault{}}
	mux := http.NewServeMux()
	route := func(pattern string, allowed []string, h func(w http.ResponseWriter, r *http.Request, body map[string]any)) {
		mux.HandleFunc(pattern, f.guard(pattern, allowed, h))
	}
	route("GET /api/v1/accounts/{account}/inboxes/{id}", nil, f.getInbox)
	route("POST /api/v1/accounts/{account}/contacts", []string{"inbox_id", "source_id", "identifier", "name", "avatar_url", "additional_attributes", "custom_attributes", "email", "phone_number"}, f.createContact)
	route("GET /api/v1/accounts/{account}/contacts/search", nil, f.searchContacts)
	route("GET /api/v1/accounts/{account}/contacts/{id}/conversations", nil, f.contactConversations)
	route("POST /api/v1/accounts/{account}/conversations", []string{"source_id", "inbox_id", "contact_id", "status", "additional_attributes", "custom_attributes"}, f.createConversation)
	route("GET /api/v1/accounts/{account}/conversations/{conv}/messages", nil, f.listMessages)
	route("POST /api/v1/accounts/{account}/conversations/{conv}/messages", []string{"content", "message_type", "private", "source_id", "content_type", "content_attributes"}, f.createMessage)
	route("PATCH /api/v1/accounts/{account}/conversations/{conv}/messages/{id}", []string{"status", "external_error"}, f.updateMessage)
	route("DELETE /api/v1/accounts/{account}/conversations/{conv}/messages/{id}", nil, f.deleteMessage)
	f.srv = httptest.NewServer(mux)
	f.URL = f.srv.URL
	t.Cleanup(f.srv.Close)
	return f
}

// Settings are the adapter settings that point at the fake.
func (f *Server) Settings(secret string) map[string]string {
	return map[string]string{
		chatwoot.SettingURL: f.URL, chatwoot.SettingAccountID: strconv.Itoa(f.Account),
		chatwoot.SettingInboxID: strconv.Itoa(f.Inbox), chatwoot.SettingToken: f.Token,
		chatwoot.SettingWebhookSecret: secret,
	}
}

// FailNext makes the next calls of a route (its pattern's method and last
// words, e.g. "POST messages") fail as listed, in order.
func (f *Server) FailNext(route string, faults ...Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults[route] = append(f.faults[route], faults...)
}

func routeName(pattern string) string {
	method, path, _ := strings.Cut(pattern, " ")
	parts := strings.Split(path, "/")
	last := parts[len(parts)-1]
	if strings.HasPrefix(last, "{") {
		last = parts[len(parts)-2]
	}
	return method + " " + last
}

func (f *Server) guard(pattern string, allowed []string, h func(http.ResponseWriter, *http.Request, map[string]any)) http.HandlerFunc {
	name := routeName(pattern)
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("api_access_token") != f.Token {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"errors":["You need to sign in or sign up before continuing."]}`))
			return
		}
		if r.PathValue("account") != strconv.Itoa(f.Account) {
			http.Error(w, `{"error":"Resource could not be found"}`, http.StatusNotFound)
			return
		}
		var body map[string]any
		if r.Method == http.MethodPost || r.Method == http.MethodPatch {
			if ct := r.Header.Get("Content-Type"); ct != "application/json" {
				f.t.Errorf("%s: Content-Type %q", name, ct)
			}
			dec := json.NewDecoder(r.Body)
			dec.UseNumber()
			if err := dec.Decode(&body); err != nil {
				f.t.Errorf("%s: body is not JSON: %v", name, err)
				http.Error(w, "bad json", http.StatusBadRequest)
				return
			}
			for k := range body {
				if !slices.Contains(allowed, k) {
					f.t.Errorf("%s: field %q is not one Chatwoot takes there", name, k)
				}
			}
		}
		f.mu.Lock()
		f.calls = append(f.calls, name)
		var ft Fault
		if q := f.faults[name]; len(q) > 0 {
			ft, f.faults[name] = q[0], q[1:]
		}
		f.mu.Unlock()
		if ft == Fail500 {
			http.Error(w, `{"error":"Internal Server Error"}`, http.StatusInternalServerError)
			return
		}
		rec := httptest.NewRecorder()
		f.mu.Lock()
		h(rec, r, body)
		f.mu.Unlock()
		if ft == HangAfterDoing {
			// Chatwoot did it; the client never hears.
			<-r.Context().Done()
			return
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func num(t testing.TB, v any, what string) int {
	t.Helper()
	n, ok := v.(json.Number)
	if !ok {
		t.Errorf("%s = %#v: Chatwoot's ids are JSON numbers", what, v)
		return 0
	}
	i, _ := strconv.Atoi(n.String())
	return i
}

func (f *Server) id() int { f.nextID++; return f.nextID }

func (f *Server) getInbox(w http.ResponseWriter, r *http.Request, _ map[string]any) {
	if r.PathValue("id") != strconv.Itoa(f.Inbox) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "Resource could not be found"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": f.Inbox, "name": "Gateway", "channel_type": f.ChannelType,
		"channel_id": 1, "webhook_url": "https://gateway.example/adapters/prt/x"})
}

func (f *Server) contactJSON(c *Contact) map[string]any {
	return map[string]any{"id": c.ID, "name": c.Name, "identifier": c.Identifier, "email": nil, "phone_number": nil,
		"additional_attributes": map[string]any{}, "custom_attributes": map[string]any{}, "type": "contact"}
}

func (f *Server) createContact(w http.ResponseWriter, _ *http.Request, b map[string]any) {
	ident, _ := b["identifier"].(string)
	name, _ := b["name"].(string)
	src, _ := b["source_id"].(string)
	if name == "" || ident == "" || src == "" {
		f.t.Errorf("POST contacts without name, identifier or source_id: %v", b)
	}
	inbox := num(f.t, b["inbox_id"], "contact inbox_id")
	for _, c := range f.contacts {
		if c.Identifier == ident {
			writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "Identifier has already been taken", "attributes": []string{"identifier"}})
			return
		}
	}
	c := &Contact{ID: f.id(), Name: name, Identifier: ident, SourceIDs: map[int]string{inbox: src}}
	f.contacts = append(f.contacts, c)
	writeJSON(w, http.StatusOK, map[string]any{"payload": map[string]any{
		"contact":       f.contactJSON(c),
		"contact_inbox": map[string]any{"inbox": map[string]any{"id": inbox, "channel_type": "Channel::Api"}, "source_id": src},
	}})
}

func (f *Server) searchContacts(w http.ResponseWriter, r *http.Request, _ map[string]any) {
	q := r.URL.Query().Get("q")
	if q == "" {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"error": "Specify search string with parameter q"})
		return
	}
	out := []any{}
	for _, c := range f.contacts {
		if strings.Contains(c.Identifier, q) || strings.Contains(c.Name, q) {
			out = append(out, f.contactJSON(c))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"meta": map[string]any{"count": len(out), "current_page": "1"}, "payload": out})
}

func (f *Server) convJSON(c *Conversation) map[string]any {
	return map[string]any{"id": c.ID, "inbox_id": c.InboxID, "account_id": f.Account, "status": "open",
		"contact_inbox": map[string]any{"source_id": c.SourceID},
		"meta":          map[string]any{"sender": map[string]any{"id": c.ContactID, "type": "contact"}}}
}

func (f *Server) contactConversations(w http.ResponseWriter, r *http.Request, _ map[string]any) {
	out := []any{}
	for _, c := range f.convs {
		if strconv.Itoa(c.ContactID) == r.PathValue("id") {
			out = append(out, f.convJSON(c))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"payload": out})
}

func (f *Server) createConversation(w http.ResponseWriter, _ *http.Request, b map[string]any) {
	inbox := num(f.t, b["inbox_id"], "conversation inbox_id")
	contact := num(f.t, b["contact_id"], "conversation contact_id")
	src, _ := b["source_id"].(string)
	var found *Contact
	for _, c := range f.contacts {
		if c.ID == contact {
			found = c
		}
	}
	if found == nil || inbox != f.Inbox {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "Resource could not be found"})
		return
	}
	found.SourceIDs[inbox] = src
	// Chatwoot numbers conversations per account (display_id), and that
	// number is what its URLs and answers call the conversation's id.
	f.lastConv++
	c := &Conversation{ID: f.lastConv, InboxID: inbox, ContactID: contact, SourceID: src}
	f.convs = append(f.convs, c)
	writeJSON(w, http.StatusOK, f.convJSON(c))
}

func (f *Server) conv(r *http.Request) *Conversation {
	for _, c := range f.convs {
		if strconv.Itoa(c.ID) == r.PathValue("conv") {
			return c
		}
	}
	return nil
}

func (f *Server) msgJSON(m *Message) map[string]any {
	types := map[string]int{"incoming": 0, "outgoing": 1}
	attrs := map[string]any{}
	if m.Deleted {
		attrs["deleted"] = true
	}
	if m.ExternalError != "" {
		attrs["external_error"] = m.ExternalError
	}
	if m.InReplyTo != 0 {
		attrs["in_reply_to"] = m.InReplyTo
	}
	return map[string]any{"id": m.ID, "content": m.Content, "inbox_id": f.Inbox, "conversation_id": m.Conv,
		"message_type": types[m.Type], "content_type": "text", "status": m.Status, "content_attributes": attrs,
		"created_at": time.Now().Unix(), "private": m.Private, "source_id": m.SourceID}
}

func (f *Server) listMessages(w http.ResponseWriter, r *http.Request, _ map[string]any) {
	c := f.conv(r)
	if c == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "Resource could not be found"})
		return
	}
	out := []any{}
	var mine []*Message
	for _, m := range f.msgs {
		if m.Conv == c.ID {
			mine = append(mine, m)
		}
	}
	// Chatwoot answers the latest 20.
	if len(mine) > 20 {
		mine = mine[len(mine)-20:]
	}
	for _, m := range mine {
		out = append(out, f.msgJSON(m))
	}
	writeJSON(w, http.StatusOK, map[string]any{"meta": map[string]any{"contact_id": c.ContactID}, "payload": out})
}

func (f *Server) createMessage(w http.ResponseWriter, r *http.Request, b map[string]any) {
	c := f.conv(r)
	if c == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "Resource could not be found"})
		return
	}
	if b["message_type"] != "incoming" || b["private"] != false {
		f.t.Errorf("POST messages: message_type %v, private %v; the gateway posts the customer's side", b["message_type"], b["private"])
	}
	m := &Message{ID: f.id(), Conv: c.ID, Type: "incoming", Status: "sent"}
	m.Content, _ = b["content"].(string)
	m.SourceID, _ = b["source_id"].(string)
	if attrs, ok := b["content_attributes"].(map[string]any); ok {
		m.InReplyTo = num(f.t, attrs["in_reply_to"], "in_reply_to")
	}
	f.msgs = append(f.msgs, m)
	writeJSON(w, http.StatusOK, f.msgJSON(m))
}

func (f *Server) findMsg(r *http.Request) *Message {
	for _, m := range f.msgs {
		if strconv.Itoa(m.ID) == r.PathValue("id") && strconv.Itoa(m.Conv) == r.PathValue("conv") {
			return m
		}
	}
	return nil
}

// updateMessage is the API inbox's status update
// (Messages::StatusUpdateService: read never goes back to delivered).
func (f *Server) updateMessage(w http.ResponseWriter, r *http.Request, b map[string]any) {
	m := f.findMsg(r)
	if m == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "Resource could not be found"})
		return
	}
	st, _ := b["status"].(string)
	if !slices.Contains([]string{"sent", "delivered", "read", "failed"}, st) {
		f.t.Errorf("PATCH message: status %q is not one of Chatwoot's", st)
	}
	if !(m.Status == "read" && st == "delivered") {
		m.Status = st
		m.ExternalError = ""
		if st == "failed" {
			m.ExternalError, _ = b["external_error"].(string)
		}
	}
	writeJSON(w, http.StatusOK, f.msgJSON(m))
}

func (f *Server) deleteMessage(w http.ResponseWriter, r *http.Request, _ map[string]any) {
	m := f.findMsg(r)
	if m == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "Resource could not be found"})
		return
	}
	m.Content, m.Deleted = "This message was deleted", true
	writeJSON(w, http.StatusOK, f.msgJSON(m))
}

// AgentReply is an agent answering in a conversation: the new message's
// id and the API inbox callback Chatwoot sends for it
// (Message#webhook_data with "event").
func (f *Server) AgentReply(conv int, text string, private bool) (int, []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := &Message{ID: f.id(), Conv: conv, Type: "outgoing", Content: text, Private: private, Status: "sent"}
	f.msgs = append(f.msgs, m)
	return m.ID, f.callback("message_created", m)
}

// AgentReplyTo is an agent answering a given message of the
// conversation (Chatwoot's "reply to": content_attributes.in_reply_to).
func (f *Server) AgentReplyTo(conv, inReplyTo int, text string) (int, []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := &Message{ID: f.id(), Conv: conv, Type: "outgoing", Content: text, Status: "sent", InReplyTo: inReplyTo}
	f.msgs = append(f.msgs, m)
	return m.ID, f.callback("message_created", m)
}

// AgentDeletes is an agent deleting their message, and the callback.
func (f *Server) AgentDeletes(id int) []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range f.msgs {
		if m.ID == id {
			m.Content, m.Deleted = "This message was deleted", true
			return f.callback("message_updated", m)
		}
	}
	f.t.Errorf("no message %d to delete", id)
	return nil
}

// MessageByID returns a copy of a message.
func (f *Server) MessageByID(id int) Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range f.msgs {
		if m.ID == id {
			return *m
		}
	}
	return Message{}
}

func (f *Server) callback(event string, m *Message) []byte {
	var src string
	for _, c := range f.convs {
		if c.ID == m.Conv {
			src = c.SourceID
		}
	}
	attrs := map[string]any{}
	if m.Deleted {
		attrs["deleted"] = true
	}
	if m.InReplyTo != 0 {
		attrs["in_reply_to"] = m.InReplyTo
	}
	raw, _ := json.Marshal(map[string]any{
		"event": event, "id": m.ID, "content": m.Content, "created_at": time.Now().UTC().Format(time.RFC3339),
		"message_type": m.Type, "content_type": "text", "content_attributes": attrs, "additional_attributes": map[string]any{},
		"private": m.Private, "source_id": nil,
		"sender":       map[string]any{"id": 1, "name": "Agent Smith", "email": "agent@example.com", "type": "user"},
		"inbox":        map[string]any{"id": f.Inbox, "name": "Gateway"},
		"conversation": map[string]any{"id": m.Conv, "inbox_id": f.Inbox, "status": "open", "contact_inbox": map[string]any{"source_id": src}},
		"account":      map[string]any{"id": f.Account, "name": "Acme"},
	})
	return raw
}

// Post delivers a callback as Chatwoot's Webhooks::Trigger does: JSON,
// and with a secret the X-Chatwoot-Timestamp / X-Chatwoot-Signature pair.
func Post(t testing.TB, url string, body []byte, secret string, at time.Time) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-Chatwoot-Delivery", fmt.Sprintf("%x", time.Now().UnixNano()))
	if secret != "" {
		ts := strconv.FormatInt(at.Unix(), 10)
		req.Header.Set("X-Chatwoot-Timestamp", ts)
		req.Header.Set("X-Chatwoot-Signature", "sha256="+HexHMAC(secret, ts+"."+string(body)))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("post callback: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (f *Server) Snapshot() (contacts []Contact, convs []Conversation, msgs []Message, calls []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.contacts {
		contacts = append(contacts, *c)
	}
	for _, c := range f.convs {
		convs = append(convs, *c)
	}
	for _, m := range f.msgs {
		msgs = append(msgs, *m)
	}
	return contacts, convs, msgs, slices.Clone(f.calls)
}

// HexHMAC is OpenSSL::HMAC.hexdigest('SHA256', key, data), as Chatwoot
// signs, computed here apart from the adapter's own code.
func HexHMAC(key, data string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(data))
	return hex.EncodeToString(m.Sum(nil))
}

// DeleteConversation is an admin deleting a conversation with its
// messages.
func (f *Server) DeleteConversation(id int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.convs = slices.DeleteFunc(f.convs, func(c *Conversation) bool { return c.ID == id })
	f.msgs = slices.DeleteFunc(f.msgs, func(m *Message) bool { return m.Conv == id })
}
