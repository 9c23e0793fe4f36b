package chatwoot_test

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

// fakeChatwoot is a contract fake of Chatwoot's Application API for one
// account with one API channel inbox: the routes, fields and answers of
// Chatwoot's controllers and views (contacts, contact conversations,
// conversations, messages, inboxes), checking every request the adapter
// makes. A fault can be set on a route: a 500 before doing anything, or a
// hang after doing the work (the answer is lost, as on a timeout).
type fakeChatwoot struct {
	t       *testing.T
	srv     *httptest.Server
	token   string
	account int
	inbox   int
	// channelType is what GET inbox answers (Channel::Api by default).
	channelType string

	mu       sync.Mutex
	nextID   int
	lastConv int
	contacts []*fContact
	convs    []*fConv
	msgs     []*fMsg
	calls    []string
	faults   map[string][]fault
}

type fault int

const (
	fail500 fault = iota + 1
	hangAfterDoing
)

type fContact struct {
	ID         int
	Name       string
	Identifier string
	SourceIDs  map[int]string // inbox → source_id
}

type fConv struct {
	ID, InboxID, ContactID int
	SourceID               string
}

type fMsg struct {
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

func newFake(t *testing.T) *fakeChatwoot {
	f := &fakeChatwoot{t: t, token: "tok-" + strconv.FormatInt(time.Now().UnixNano(), 36), account: 3, inbox: 7,
		channelType: "Channel::Api", nextID: 100, faults: map[string][]fault{}}
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
	t.Cleanup(f.srv.Close)
	return f
}

// settings are the adapter settings that point at the fake.
func (f *fakeChatwoot) settings(secret string) map[string]string {
	return map[string]string{
		chatwoot.SettingURL: f.srv.URL, chatwoot.SettingAccountID: strconv.Itoa(f.account),
		chatwoot.SettingInboxID: strconv.Itoa(f.inbox), chatwoot.SettingToken: f.token,
		chatwoot.SettingWebhookSecret: secret,
	}
}

// failNext makes the next calls of a route (its pattern's method and last
// words, e.g. "POST messages") fail as listed, in order.
func (f *fakeChatwoot) failNext(route string, faults ...fault) {
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

func (f *fakeChatwoot) guard(pattern string, allowed []string, h func(http.ResponseWriter, *http.Request, map[string]any)) http.HandlerFunc {
	name := routeName(pattern)
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("api_access_token") != f.token {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"errors":["You need to sign in or sign up before continuing."]}`))
			return
		}
		if r.PathValue("account") != strconv.Itoa(f.account) {
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
		var ft fault
		if q := f.faults[name]; len(q) > 0 {
			ft, f.faults[name] = q[0], q[1:]
		}
		f.mu.Unlock()
		if ft == fail500 {
			http.Error(w, `{"error":"Internal Server Error"}`, http.StatusInternalServerError)
			return
		}
		rec := httptest.NewRecorder()
		f.mu.Lock()
		h(rec, r, body)
		f.mu.Unlock()
		if ft == hangAfterDoing {
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

func num(t *testing.T, v any, what string) int {
	t.Helper()
	n, ok := v.(json.Number)
	if !ok {
		t.Errorf("%s = %#v: Chatwoot's ids are JSON numbers", what, v)
		return 0
	}
	i, _ := strconv.Atoi(n.String())
	return i
}

func (f *fakeChatwoot) id() int { f.nextID++; return f.nextID }

func (f *fakeChatwoot) getInbox(w http.ResponseWriter, r *http.Request, _ map[string]any) {
	if r.PathValue("id") != strconv.Itoa(f.inbox) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "Resource could not be found"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": f.inbox, "name": "Gateway", "channel_type": f.channelType,
		"channel_id": 1, "webhook_url": "https://gateway.example/adapters/prt/x"})
}

func (f *fakeChatwoot) contactJSON(c *fContact) map[string]any {
	return map[string]any{"id": c.ID, "name": c.Name, "identifier": c.Identifier, "email": nil, "phone_number": nil,
		"additional_attributes": map[string]any{}, "custom_attributes": map[string]any{}, "type": "contact"}
}

func (f *fakeChatwoot) createContact(w http.ResponseWriter, _ *http.Request, b map[string]any) {
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
	c := &fContact{ID: f.id(), Name: name, Identifier: ident, SourceIDs: map[int]string{inbox: src}}
	f.contacts = append(f.contacts, c)
	writeJSON(w, http.StatusOK, map[string]any{"payload": map[string]any{
		"contact":       f.contactJSON(c),
		"contact_inbox": map[string]any{"inbox": map[string]any{"id": inbox, "channel_type": "Channel::Api"}, "source_id": src},
	}})
}

func (f *fakeChatwoot) searchContacts(w http.ResponseWriter, r *http.Request, _ map[string]any) {
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

func (f *fakeChatwoot) convJSON(c *fConv) map[string]any {
	return map[string]any{"id": c.ID, "inbox_id": c.InboxID, "account_id": f.account, "status": "open",
		"contact_inbox": map[string]any{"source_id": c.SourceID},
		"meta":          map[string]any{"sender": map[string]any{"id": c.ContactID, "type": "contact"}}}
}

func (f *fakeChatwoot) contactConversations(w http.ResponseWriter, r *http.Request, _ map[string]any) {
	out := []any{}
	for _, c := range f.convs {
		if strconv.Itoa(c.ContactID) == r.PathValue("id") {
			out = append(out, f.convJSON(c))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"payload": out})
}

func (f *fakeChatwoot) createConversation(w http.ResponseWriter, _ *http.Request, b map[string]any) {
	inbox := num(f.t, b["inbox_id"], "conversation inbox_id")
	contact := num(f.t, b["contact_id"], "conversation contact_id")
	src, _ := b["source_id"].(string)
	var found *fContact
	for _, c := range f.contacts {
		if c.ID == contact {
			found = c
		}
	}
	if found == nil || inbox != f.inbox {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "Resource could not be found"})
		return
	}
	found.SourceIDs[inbox] = src
	// Chatwoot numbers conversations per account (display_id), and that
	// number is what its URLs and answers call the conversation's id.
	f.lastConv++
	c := &fConv{ID: f.lastConv, InboxID: inbox, ContactID: contact, SourceID: src}
	f.convs = append(f.convs, c)
	writeJSON(w, http.StatusOK, f.convJSON(c))
}

func (f *fakeChatwoot) conv(r *http.Request) *fConv {
	for _, c := range f.convs {
		if strconv.Itoa(c.ID) == r.PathValue("conv") {
			return c
		}
	}
	return nil
}

func (f *fakeChatwoot) msgJSON(m *fMsg) map[string]any {
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
	return map[string]any{"id": m.ID, "content": m.Content, "inbox_id": f.inbox, "conversation_id": m.Conv,
		"message_type": types[m.Type], "content_type": "text", "status": m.Status, "content_attributes": attrs,
		"created_at": time.Now().Unix(), "private": m.Private, "source_id": m.SourceID}
}

func (f *fakeChatwoot) listMessages(w http.ResponseWriter, r *http.Request, _ map[string]any) {
	c := f.conv(r)
	if c == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "Resource could not be found"})
		return
	}
	out := []any{}
	var mine []*fMsg
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

func (f *fakeChatwoot) createMessage(w http.ResponseWriter, r *http.Request, b map[string]any) {
	c := f.conv(r)
	if c == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "Resource could not be found"})
		return
	}
	if b["message_type"] != "incoming" || b["private"] != false {
		f.t.Errorf("POST messages: message_type %v, private %v; the gateway posts the customer's side", b["message_type"], b["private"])
	}
	m := &fMsg{ID: f.id(), Conv: c.ID, Type: "incoming", Status: "sent"}
	m.Content, _ = b["content"].(string)
	m.SourceID, _ = b["source_id"].(string)
	if attrs, ok := b["content_attributes"].(map[string]any); ok {
		m.InReplyTo = num(f.t, attrs["in_reply_to"], "in_reply_to")
	}
	f.msgs = append(f.msgs, m)
	writeJSON(w, http.StatusOK, f.msgJSON(m))
}

func (f *fakeChatwoot) findMsg(r *http.Request) *fMsg {
	for _, m := range f.msgs {
		if strconv.Itoa(m.ID) == r.PathValue("id") && strconv.Itoa(m.Conv) == r.PathValue("conv") {
			return m
		}
	}
	return nil
}

// updateMessage is the API inbox's status update
// (Messages::StatusUpdateService: read never goes back to delivered).
func (f *fakeChatwoot) updateMessage(w http.ResponseWriter, r *http.Request, b map[string]any) {
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

func (f *fakeChatwoot) deleteMessage(w http.ResponseWriter, r *http.Request, _ map[string]any) {
	m := f.findMsg(r)
	if m == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "Resource could not be found"})
		return
	}
	m.Content, m.Deleted = "This message was deleted", true
	writeJSON(w, http.StatusOK, f.msgJSON(m))
}

// agentReply is an agent answering in a conversation: the message as
// Chatwoot stores it and the API inbox callback it sends
// (Message#webhook_data with "event").
func (f *fakeChatwoot) agentReply(conv int, text string, private bool) (*fMsg, []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := &fMsg{ID: f.id(), Conv: conv, Type: "outgoing", Content: text, Private: private, Status: "sent"}
	f.msgs = append(f.msgs, m)
	return m, f.callback("message_created", m)
}

// agentDeletes is an agent deleting their message, and the callback.
func (f *fakeChatwoot) agentDeletes(m *fMsg) []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	m.Content, m.Deleted = "This message was deleted", true
	return f.callback("message_updated", m)
}

func (f *fakeChatwoot) callback(event string, m *fMsg) []byte {
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
	raw, _ := json.Marshal(map[string]any{
		"event": event, "id": m.ID, "content": m.Content, "created_at": time.Now().UTC().Format(time.RFC3339),
		"message_type": m.Type, "content_type": "text", "content_attributes": attrs, "additional_attributes": map[string]any{},
		"private": m.Private, "source_id": nil,
		"sender":       map[string]any{"id": 1, "name": "Agent Smith", "email": "agent@example.com", "type": "user"},
		"inbox":        map[string]any{"id": f.inbox, "name": "Gateway"},
		"conversation": map[string]any{"id": m.Conv, "inbox_id": f.inbox, "status": "open", "contact_inbox": map[string]any{"source_id": src}},
		"account":      map[string]any{"id": f.account, "name": "Acme"},
	})
	return raw
}

// post delivers a callback as Chatwoot's Webhooks::Trigger does: JSON,
// and with a secret the X-Chatwoot-Timestamp / X-Chatwoot-Signature pair.
func post(t *testing.T, url string, body []byte, secret string, at time.Time) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-Chatwoot-Delivery", fmt.Sprintf("%x", time.Now().UnixNano()))
	if secret != "" {
		ts := strconv.FormatInt(at.Unix(), 10)
		req.Header.Set("X-Chatwoot-Timestamp", ts)
		req.Header.Set("X-Chatwoot-Signature", "sha256="+hexHMAC(secret, ts+"."+string(body)))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("post callback: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (f *fakeChatwoot) snapshot() (contacts []fContact, convs []fConv, msgs []fMsg, calls []string) {
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

// hexHMAC is OpenSSL::HMAC.hexdigest('SHA256', key, data), as Chatwoot
// signs, computed here apart from the adapter's own code.
func hexHMAC(key, data string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(data))
	return hex.EncodeToString(m.Sum(nil))
}

// deleteConversation is an admin deleting a conversation with its
// messages.
func (f *fakeChatwoot) deleteConversation(id int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.convs = slices.DeleteFunc(f.convs, func(c *fConv) bool { return c.ID == id })
	f.msgs = slices.DeleteFunc(f.msgs, func(m *fMsg) bool { return m.Conv == id })
}
