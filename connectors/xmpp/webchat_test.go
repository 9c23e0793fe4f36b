package xmpp_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/xmpp"
)

func webchatConn() connectors.Conn {
	return connectors.Conn{ID: "con_1", Hash: "h1", EntryURL: "https://gw.example/hook/h1", Settings: connectors.Settings{
		xmpp.SettingJID: "gw@example.org", xmpp.SettingPassword: "pw", xmpp.SettingMUCService: "conference.example.org",
		xmpp.SettingRoomPool: "3", xmpp.SettingWebchatWS: "wss://xmpp.example.org/xmpp-websocket",
		xmpp.SettingWebchatDomain: "anon.example.org", xmpp.SettingWebchatOrigins: "https://shop.example.com https://*.example.net",
	}}
}

func servePage(t *testing.T, cn *xmpp.Connector, c connectors.Conn, method, rest, origin string) *http.Response {
	t.Helper()
	r := httptest.NewRequest(method, "/pages/h1/"+rest, nil)
	if origin != "" {
		r.Header.Set("Origin", origin)
	}
	w := httptest.NewRecorder()
	cn.ServePage(w, r, c, rest)
	return w.Result()
}

// The web chat's files and page: the vendored Converse.js, our scripts,
// and a chat page only the allowed sites may frame.
func TestWebchatPages(t *testing.T) {
	cn := xmpp.New(xmpp.Options{})
	c := webchatConn()
	if _, err := cn.ValidateSettings(c.Settings); err != nil {
		t.Fatal(err)
	}
	for rest, typ := range map[string]string{
		"static/converse.min.js": "text/javascript", "static/converse.min.css": "text/css",
		"static/webfonts/muli.ttf": "font/ttf", "embed.js": "text/javascript", "chat.js": "text/javascript",
		"chat": "text/html",
	} {
		resp := servePage(t, cn, c, "GET", rest, "")
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), typ) || len(body) == 0 {
			t.Errorf("GET %s: %d %q, %d bytes", rest, resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: no nosniff", rest)
		}
	}
	resp := servePage(t, cn, c, "GET", "chat", "")
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"frame-ancestors https://shop.example.com https://*.example.net;", "connect-src 'self' wss://xmpp.example.org/xmpp-websocket;", "script-src 'self';"} {
		if !strings.Contains(csp, want) {
			t.Errorf("chat page CSP %q lacks %q", csp, want)
		}
	}
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), `"websocket_url":"wss://xmpp.example.org/xmpp-websocket"`) || !strings.Contains(string(body), `"domain":"anon.example.org"`) {
		t.Errorf("chat page config: %s", body)
	}
	for _, rest := range []string{"static/../webchat.go", "static/nothing.js", "nothing", "static/"} {
		if resp := servePage(t, cn, c, "GET", rest, ""); resp.StatusCode != 404 {
			t.Errorf("GET %s: %d, want 404", rest, resp.StatusCode)
		}
	}
	// A site not on the list gets no room, and no CORS grant.
	for _, o := range []string{"https://evil.example", "", "null", "http://shop.example.com"} {
		resp := servePage(t, cn, c, "POST", "room", o)
		if resp.StatusCode != 403 || resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("room for origin %q: %d", o, resp.StatusCode)
		}
	}
	// An allowed site, but this process does not hold the stream: try again.
	resp = servePage(t, cn, c, "POST", "room", "https://a.example.net")
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || resp.Header.Get("Access-Control-Allow-Origin") != "https://a.example.net" ||
		resp.Header.Get("Access-Control-Expose-Headers") != "Retry-After" {
		t.Errorf("room without the stream: %d %v", resp.StatusCode, resp.Header)
	}
	// Without the web chat settings there is nothing under /pages/ and no
	// snippet.
	off := webchatConn()
	delete(off.Settings, xmpp.SettingWebchatWS)
	delete(off.Settings, xmpp.SettingWebchatDomain)
	delete(off.Settings, xmpp.SettingWebchatOrigins)
	if resp := servePage(t, cn, off, "GET", "chat", ""); resp.StatusCode != 404 {
		t.Errorf("chat page with the web chat off: %d", resp.StatusCode)
	}
	if s := cn.Snippet(off, "https://gw.example"); s != "" {
		t.Errorf("snippet with the web chat off: %q", s)
	}
	if s := cn.Snippet(c, "https://gw.example/"); s != `<script src="https://gw.example/pages/h1/embed.js" async></script>` {
		t.Errorf("snippet %q", s)
	}
}

func TestWebchatSettings(t *testing.T) {
	cn := xmpp.New(xmpp.Options{})
	for name, tc := range map[string]struct {
		set   map[string]string
		field string
	}{
		"ws in clear off loopback": {map[string]string{xmpp.SettingWebchatWS: "ws://xmpp.example.org/ws"}, xmpp.SettingWebchatWS},
		"not a websocket":          {map[string]string{xmpp.SettingWebchatWS: "https://xmpp.example.org/ws"}, xmpp.SettingWebchatWS},
		"domain with a user":       {map[string]string{xmpp.SettingWebchatDomain: "a@anon.example.org"}, xmpp.SettingWebchatDomain},
		"no sites":                 {map[string]string{xmpp.SettingWebchatOrigins: ""}, xmpp.SettingWebchatOrigins},
		"a path as a site":         {map[string]string{xmpp.SettingWebchatOrigins: "https://shop.example.com/chat"}, xmpp.SettingWebchatOrigins},
		"no pool":                  {map[string]string{xmpp.SettingRoomPool: "0"}, xmpp.SettingRoomPool},
	} {
		s := webchatConn().Settings
		for k, v := range tc.set {
			s[k] = v
		}
		_, err := cn.ValidateSettings(s)
		fe, ok := err.(connectors.FieldErrors)
		if !ok || fe[tc.field] == "" {
			t.Errorf("%s: %v, want an error on %s", name, err, tc.field)
		}
	}
	s := webchatConn().Settings
	s[xmpp.SettingWebchatWS] = "ws://127.0.0.1:5280/xmpp-websocket"
	if _, err := cn.ValidateSettings(s); err != nil {
		t.Errorf("ws:// on loopback: %v", err)
	}
}
