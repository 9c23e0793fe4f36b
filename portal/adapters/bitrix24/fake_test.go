package bitrix24_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// fakeBitrix24 is a contract fake of a Bitrix24 account and its
// authorization server: a real HTTP server taking the REST calls as
// documented (POST <client_endpoint><method>.json, the access token in
// "auth"), answering {"result":…} or {"error":…,"error_description":…}
// with the documented statuses, checking each call's required fields, and
// keeping the Open Line state the calls build, so tests assert what an
// agent would see in Bitrix24.
type fakeBitrix24 struct {
	t   *testing.T
	srv *httptest.Server

	clientID, clientSecret string

	mu      sync.Mutex
	token   string
	refresh string
	expired map[string]bool
	renewed int
	// failures queued per method: the next call of the method gets the
	// failure instead of its answer.
	failures map[string][]string
	calls    []fakeCall

	registered map[string]bool
	bound      map[string]string // event → handler
	active     map[string]bool   // connector:line
	// messages is the Open Line's chats: chat → message id → text, in
	// the order posted; posts counts every send of a message id.
	messages map[string]map[string]string
	posts    map[string]int
	deleted  map[string]bool
	statuses []fakeStatus
}

type fakeCall struct {
	Method string
	Auth   string
	Params map[string]any
}

type fakeStatus struct {
	Kind      string // delivery, reading
	IMChat    string
	IMMessage string
	IDs       []string
	Chat      string
}

func newFakeBitrix24(t *testing.T) *fakeBitrix24 {
	f := &fakeBitrix24{t: t, clientID: "local.6e3f1a2b3c4d5e.12345678", clientSecret: "fake-client-secret",
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

func (f *fakeBitrix24) endpoint() string { return f.srv.URL + "/rest/" }
func (f *fakeBitrix24) oauthURL() string { return f.srv.URL + "/oauth/token/" }

// fail queues what the next call of method meets: "ok" (its normal
// answer), "limit" (503 QUERY_LIMIT_EXCEEDED) or "expire" (the current
// token expires just before the call: 401 expired_token).
func (f *fakeBitrix24) fail(method, kind string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failures[method] = append(f.failures[method], kind)
}

// expire makes the current access token an expired one.
func (f *fakeBitrix24) expire() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.expired[f.token] = true
}

func (f *fakeBitrix24) answer(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeBitrix24) error(w http.ResponseWriter, status int, code, desc string) {
	f.answer(w, status, map[string]string{"error": code, "error_description": desc})
}

func (f *fakeBitrix24) rest(w http.ResponseWriter, r *http.Request) {
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
	f.calls = append(f.calls, fakeCall{Method: method, Auth: auth, Params: params})
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
		f.answer(w, 200, map[string]any{"result": map[string]any{"ID": 5, "CODE": "local.gateway", "STATUS": "L", "INSTALLED": true, "PAYMENT_EXPIRED": "N"}})
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
			st := fakeStatus{Kind: strings.TrimPrefix(method, "imconnector.send.status."), IMChat: str(im, "chat_id"), IMMessage: str(im, "message_id"), Chat: str(chat, "id")}
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

func (f *fakeBitrix24) oauth(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case q.Get("grant_type") != "refresh_token":
		f.error(w, 400, "invalid_request", "grant_type")
	case q.Get("client_id") != f.clientID || q.Get("client_secret") != f.clientSecret:
		f.error(w, 401, "invalid_client", "Invalid client")
	case q.Get("refresh_token") != f.refresh:
		f.error(w, 400, "invalid_grant", "Invalid grant")
	default:
		f.renewed++
		f.expired[f.token] = true
		f.token = fmt.Sprintf("access-%d", f.renewed+1)
		f.refresh = fmt.Sprintf("refresh-%d", f.renewed+1)
		f.answer(w, 200, map[string]any{"access_token": f.token, "refresh_token": f.refresh, "expires": 1893456000, "expires_in": 3600,
			"client_endpoint": f.endpoint(), "server_endpoint": f.srv.URL + "/rest/", "domain": "oauth.bitrix.info", "member_id": "a223c6b3710f85df22e9377d6c4f7553", "status": "L"})
	}
}

// methods lists the methods called so far, in order.
func (f *fakeBitrix24) methods() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.calls {
		out = append(out, c.Method)
	}
	return out
}

func (f *fakeBitrix24) callsOf(method string) []fakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakeCall
	for _, c := range f.calls {
		if c.Method == method {
			out = append(out, c)
		}
	}
	return out
}
