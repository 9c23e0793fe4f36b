// Package bitrix24test is a contract fake of a Bitrix24 account and its
// authorization server, for the bitrix24 adapter's tests and the gateway's
// end-to-end tests.
package bitrix24test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// Server is a contract fake of a Bitrix24 account and its authorization
// server: a real HTTP server taking the REST calls as
// documented (POST <client_endpoint><method>.json, the access token in
// "auth"), answering {"result":…} or {"error":…,"error_description":…}
// with the documented statuses, checking each call's required fields, and
// keeping the Open Line state the calls build, so tests assert what an
// agent would see in Bitrix24. It also plays Bitrix24's side of the
// events: AgentEvent posts an agent's answer, form-encoded, to the handler
// bound with event.bind.
type Server struct {
	t   testing.TB
	srv *httptest.Server

	// The local application's credentials the fake accepts.
	ClientID, ClientSecret, ApplicationToken string

	mu sync.Mutex
	// uninstalled: app.info answers INSTALLED false (SetInstalled).
	uninstalled bool
	token       string
	refresh     string
	expired     map[string]bool
	renewed     int
	// failures queued per method: the next call of the method gets the
	// failure instead of its answer.
	failures map[string][]string
	calls    []Call

	registered map[string]bool
	bound      map[string]string // event → handler
	active     map[string]bool   // connector:line
	// messages is the Open Line's chats: chat → message id → text, in
	// the order posted; posts counts every send of a message id.
	messages map[string]map[string]string
	posts    map[string]int
	deleted  map[string]bool
	statuses []Status
}

// Call is one REST call as the fake received it.
type Call struct {
	Method string
	Auth   string
	Params map[string]any
}

// Status is a delivery or read status Bitrix24 was given.
type Status struct {
	Kind      string // delivery, reading
	IMChat    string
	IMMessage string
	IDs       []string
	Chat      string
}

// New starts a fake whose valid tokens are "access-1" and "refresh-1".
func New(t testing.TB) *Server {
	f := &Server{t: t, ClientID: "local.6e3f1a2b3c4d5e.12345678", ClientSecret: "fake-client-secret", ApplicationToken: "831c76b092f9f135d9b6b36c3a720757",
		token: "access-1", refresh: "refresh-1", expired: map[string]bool{}, failures: map[string][]string{},
		registered: map[string]bool{}, bound: map[string]string{}, active: map[string]bool{},
		messages: map[string]map[string]string{}, posts: map[string]int{}, deleted: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /rest/{method}", f.rest)
	mux.HandleFunc("GET /oauth/token/", f.oauth)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// Endpoint is the REST endpoint (Bitrix24's client_endpoint).
func (f *Server) Endpoint() string { return f.srv.URL + "/rest/" }

// OAuthURL is the authorization server's token URL.
func (f *Server) OAuthURL() string { return f.srv.URL + "/oauth/token/" }

// Fail queues what the next call of method meets: "ok" (its normal
// answer), "limit" (503 QUERY_LIMIT_EXCEEDED) or "expire" (the current
// token expires just before the call: 401 expired_token).
func (f *Server) Fail(method, kind string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failures[method] = append(f.failures[method], kind)
}

// SetInstalled sets whether app.info reports the application as fully
// installed (it is until told otherwise).
func (f *Server) SetInstalled(installed bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.uninstalled = !installed
}

// Expire makes the current access token an expired one.
func (f *Server) Expire() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.expired[f.token] = true
}

func (f *Server) answer(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *Server) error(w http.ResponseWriter, status int, code, desc string) {
	f.answer(w, status, map[string]string{"error": code, "error_description": desc})
}

func (f *Server) rest(w http.ResponseWriter, r *http.Request) {
	method, ok := strings.CutSuffix(r.PathValue("method"), ".json")
	if !ok {
		f.error(w, 404, "ERROR_METHOD_NOT_FOUND", "Method not found!")
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		f.t.Errorf("%s: Content-Type %q", method, ct)
	}
	var params map[string]any
	dec := json.NewDecoder(r.Body)
	dec.UseNumber()
	if err := dec.Decode(&params); err != nil {
		f.error(w, 400, "ERROR_ARGUMENT", "body is not JSON")
		return
	}
	auth, _ := params["auth"].(string)
	delete(params, "auth")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, Call{Method: method, Auth: auth, Params: params})
	if q := f.failures[method]; len(q) > 0 {
		f.failures[method] = q[1:]
		switch q[0] {
		case "limit":
			f.error(w, 503, "QUERY_LIMIT_EXCEEDED", "Too many requests")
			return
		case "expire":
			f.expired[f.token] = true
		}
	}
	switch {
	case f.expired[auth]:
		f.error(w, 401, "expired_token", "The access token provided has expired.")
		return
	case auth != f.token:
		f.error(w, 401, "NO_AUTH_FOUND", "Wrong authorization data")
		return
	}
	str := func(m map[string]any, k string) string {
		switch v := m[k].(type) {
		case string:
			return v
		case json.Number:
			return v.String()
		}
		return ""
	}
	obj := func(m map[string]any, k string) map[string]any { o, _ := m[k].(map[string]any); return o }
	need := func(names ...string) bool {
		for _, n := range names {
			if str(params, n) == "" {
				f.error(w, 400, "ERROR_ARGUMENT", fmt.Sprintf("Argument '%s' is null or empty", n))
				return false
			}
		}
		return true
	}
	messages := func() ([]map[string]any, bool) {
		list, _ := params["MESSAGES"].([]any)
		if len(list) == 0 {
			f.error(w, 400, "ERROR_ARGUMENT", "Argument 'MESSAGES' is null or empty")
			return nil, false
		}
		var out []map[string]any
		for _, e := range list {
			m, ok := e.(map[string]any)
			if !ok {
				f.error(w, 400, "ERROR_ARGUMENT", "The MESSAGES parameter must be an array of messages (arrays)")
				return nil, false
			}
			out = append(out, m)
		}
		return out, true
	}
	line := func() bool {
		if !f.registered[str(params, "CONNECTOR")] {
			f.error(w, 400, "IMCONNECTOR_NO_CORRECT_PROVIDER", "Failed to find a suitable provider for the connector")
			return false
		}
		if !f.active[str(params, "CONNECTOR")+":"+str(params, "LINE")] {
			f.error(w, 400, "NOT_ACTIVE_LINE", "The line with this ID is inactive or does not exist")
			return false
		}
		return true
	}
	switch method {
	case "app.info":
		f.answer(w, 200, map[string]any{"result": map[string]any{"ID": 5, "CODE": "local.gateway", "STATUS": "L", "INSTALLED": !f.uninstalled, "PAYMENT_EXPIRED": "N"}})
	case "imconnector.register":
		icon := obj(params, "ICON")
		if !need("ID", "NAME", "PLACEMENT_HANDLER") {
			return
		}
		if icon == nil || !strings.HasPrefix(str(icon, "DATA_IMAGE"), "data:image/svg+xml,") {
			f.answer(w, 200, map[string]any{"result": map[string]any{"result": false, "error": "ICON_REQUIRED", "error_description": "icon missing"}})
			return
		}
		f.registered[strings.ToLower(str(params, "ID"))] = true
		f.answer(w, 200, map[string]any{"result": map[string]any{"result": true}})
	case "event.bind":
		if !need("event", "handler") {
			return
		}
		ev := strings.ToUpper(str(params, "event"))
		if f.bound[ev] == str(params, "handler") {
			f.error(w, 400, "ERROR_CORE", "Handler already binded")
			return
		}
		f.bound[ev] = str(params, "handler")
		f.answer(w, 200, map[string]any{"result": true})
	case "imconnector.activate":
		if !need("CONNECTOR", "LINE", "ACTIVE") {
			return
		}
		if !f.registered[str(params, "CONNECTOR")] {
			f.error(w, 400, "IMCONNECTOR_NO_CORRECT_PROVIDER", "Failed to find a suitable provider for the connector")
			return
		}
		f.active[str(params, "CONNECTOR")+":"+str(params, "LINE")] = str(params, "ACTIVE") == "1"
		f.answer(w, 200, map[string]any{"result": true})
	case "imconnector.status":
		f.answer(w, 200, map[string]any{"result": map[string]any{"LINE": params["LINE"], "CONNECTOR": params["CONNECTOR"], "ERROR": false,
			"CONFIGURED": f.active[str(params, "CONNECTOR")+":"+str(params, "LINE")], "STATUS": f.active[str(params, "CONNECTOR")+":"+str(params, "LINE")]}})
	case "imconnector.send.messages", "imconnector.update.messages", "imconnector.delete.messages":
		if !need("CONNECTOR", "LINE") || !line() {
			return
		}
		msgs, ok := messages()
		if !ok {
			return
		}
		var results []any
		for _, m := range msgs {
			user, msg, chat := obj(m, "user"), obj(m, "message"), obj(m, "chat")
			if user == nil || msg == nil || chat == nil || str(user, "id") == "" || str(msg, "id") == "" || str(chat, "id") == "" {
				f.error(w, 400, "ERROR_ARGUMENT", "The incorrect structure of a message inside MESSAGES parameter")
				return
			}
			c, id := str(chat, "id"), str(msg, "id")
			res := map[string]any{"user": "585", "message": msg, "chat": chat, "SUCCESS": true}
			switch method {
			case "imconnector.send.messages":
				if str(msg, "date") == "" || (str(msg, "text") == "" && msg["files"] == nil) {
					f.error(w, 400, "ERROR_ARGUMENT", "The incorrect structure of a message inside MESSAGES parameter")
					return
				}
				if f.messages[c] == nil {
					f.messages[c] = map[string]string{}
				}
				f.messages[c][id] = str(msg, "text")
				f.posts[c+"/"+id]++
				res["session"] = map[string]any{"ID": "323", "CHAT_ID": "1767"}
			case "imconnector.update.messages":
				if _, ok := f.messages[c][id]; !ok {
					res["SUCCESS"], res["ERRORS"] = false, []string{"message not found"}
				} else {
					f.messages[c][id] = str(msg, "text")
				}
			case "imconnector.delete.messages":
				f.deleted[c+"/"+id] = true
			}
			results = append(results, res)
		}
		f.answer(w, 200, map[string]any{"result": map[string]any{"SUCCESS": true, "DATA": map[string]any{"RESULT": results}}})
	case "imconnector.send.status.delivery", "imconnector.send.status.reading":
		if !need("CONNECTOR", "LINE") {
			return
		}
		msgs, ok := messages()
		if !ok {
			return
		}
		for _, m := range msgs {
			im, msg, chat := obj(m, "im"), obj(m, "message"), obj(m, "chat")
			ids, _ := msg["id"].([]any)
			if im == nil || str(im, "chat_id") == "" || str(im, "message_id") == "" || len(ids) == 0 || str(chat, "id") == "" {
				f.error(w, 400, "ERROR_ARGUMENT", "Argument 'MESSAGES' is null or empty")
				return
			}
			// The documented types: integer im ids, an array of string ids.
			if _, isNum := im["message_id"].(json.Number); !isNum {
				f.t.Errorf("%s: im.message_id %v is not a number", method, im["message_id"])
			}
			st := Status{Kind: strings.TrimPrefix(method, "imconnector.send.status."), IMChat: str(im, "chat_id"), IMMessage: str(im, "message_id"), Chat: str(chat, "id")}
			for _, id := range ids {
				s, _ := id.(string)
				st.IDs = append(st.IDs, s)
			}
			f.statuses = append(f.statuses, st)
		}
		f.answer(w, 200, map[string]any{"result": map[string]any{"SUCCESS": true, "DATA": []any{}}})
	default:
		f.error(w, 404, "ERROR_METHOD_NOT_FOUND", "Method not found!")
	}
}

func (f *Server) oauth(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case q.Get("grant_type") != "refresh_token":
		f.error(w, 400, "invalid_request", "grant_type")
	case q.Get("client_id") != f.ClientID || q.Get("client_secret") != f.ClientSecret:
		f.error(w, 401, "invalid_client", "Invalid client")
	case q.Get("refresh_token") != f.refresh:
		f.error(w, 400, "invalid_grant", "Invalid grant")
	default:
		f.renewed++
		f.expired[f.token] = true
		f.token = fmt.Sprintf("access-%d", f.renewed+1)
		f.refresh = fmt.Sprintf("refresh-%d", f.renewed+1)
		f.answer(w, 200, map[string]any{"access_token": f.token, "refresh_token": f.refresh, "expires": 1893456000, "expires_in": 3600,
			"client_endpoint": f.Endpoint(), "server_endpoint": f.srv.URL + "/rest/", "domain": "oauth.bitrix.info", "member_id": "a223c6b3710f85df22e9377d6c4f7553", "status": "L"})
	}
}

// Methods lists the methods called so far, in order.
func (f *Server) Methods() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.calls {
		out = append(out, c.Method)
	}
	return out
}

// CallsOf lists the calls of one method, in order.
func (f *Server) CallsOf(method string) []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Call
	for _, c := range f.calls {
		if c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// Calls lists every call so far, in order.
func (f *Server) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Call(nil), f.calls...)
}

// Settings are the portal adapter settings of this account: its
// endpoints, the application's credentials and its current tokens.
func (f *Server) Settings() map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return map[string]string{
		"endpoint": f.Endpoint(), "oauth_url": f.OAuthURL(),
		"client_id": f.ClientID, "client_secret": f.ClientSecret,
		"access_token": f.token, "refresh_token": f.refresh,
		"application_token": f.ApplicationToken,
	}
}

// Renewed counts the token renewals the authorization server granted.
func (f *Server) Renewed() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.renewed
}

// SetRefreshToken replaces the valid refresh token (as a reinstallation of
// the application would), so the stored one is refused.
func (f *Server) SetRefreshToken(tok string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refresh = tok
}

// Posts counts the sends of message id into an Open Line chat (external
// chat id).
func (f *Server) Posts(chat, id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.posts[chat+"/"+id]
}

// Message returns the text the Open Line chat shows for message id.
func (f *Server) Message(chat, id string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.messages[chat][id]
	return t, ok
}

// Deleted tells whether message id was deleted from the chat.
func (f *Server) Deleted(chat, id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.deleted[chat+"/"+id]
}

// Statuses lists the delivery and read statuses Bitrix24 was given.
func (f *Server) Statuses() []Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Status(nil), f.statuses...)
}

// Handler is the URL bound to an event (OnImConnectorMessageAdd…), "" if
// none.
func (f *Server) Handler(event string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.bound[strings.ToUpper(event)]
}

// AgentMessage is one message of an Open Line event as Bitrix24 sends it.
type AgentMessage struct {
	IMChat, IMMessage int
	// Chat is the external chat id the connector gave the chat.
	Chat string
	Text string
	// IDs are the external ids of the message (update, delete events).
	IDs []string
}

// AgentEvent posts an event (ONIMCONNECTORMESSAGEADD, …UPDATE, …DELETE)
// as Bitrix24 does: form-encoded with nested keys, the application token
// in auth[application_token], to the handler bound to it. It returns the
// handler's status code.
func (f *Server) AgentEvent(event, connector string, line int, m AgentMessage) (int, error) {
	name := strings.ToUpper(event)
	handler := f.Handler(name)
	if handler == "" {
		return 0, fmt.Errorf("bitrix24test: no handler bound to %s", event)
	}
	form := url.Values{"event": {name}, "event_handler_id": {"555"}, "ts": {"1773759161"},
		"data[CONNECTOR]": {connector}, "data[LINE]": {fmt.Sprint(line)},
		"data[MESSAGES][0][im][chat_id]": {fmt.Sprint(m.IMChat)}, "data[MESSAGES][0][im][message_id]": {fmt.Sprint(m.IMMessage)},
		"data[MESSAGES][0][chat][id]": {m.Chat},
		"auth[domain]":                {"some-domain.bitrix24.com"}, "auth[member_id]": {"bac1cd5c8940947a75e0d71b1a84e348"},
		"auth[application_token]": {f.ApplicationToken}}
	if m.Text != "" {
		form.Set("data[MESSAGES][0][message][text]", m.Text)
	}
	switch {
	case name == "ONIMCONNECTORMESSAGEDELETE" && len(m.IDs) > 0:
		form.Set("data[MESSAGES][0][message][id]", m.IDs[0])
	default:
		for i, id := range m.IDs {
			form.Set(fmt.Sprintf("data[MESSAGES][0][message][id][%d]", i), id)
		}
	}
	resp, err := http.PostForm(handler, form)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
