package twilio_test

import (
	"context"
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/twilio"
	"github.com/connector-gateway/connector/connectors/twilio/twiliotest"
)

const (
	entryURL = "https://gw.example.com/hook/h4sh"
	connID   = "con_1"
	lineID   = "lin_7"
)

// linker makes recognizable file links and remembers the references.
type linker struct {
	mu   sync.Mutex
	refs map[string]string // link → ref
}

func (l *linker) FileURL(ref, name, mime string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.refs == nil {
		l.refs = map[string]string{}
	}
	u := "https://gw.example.com/files/" + url.PathEscape(name) + "?t=" + url.QueryEscape(connectors.EventID(ref))
	l.refs[u] = ref
	return u
}

func (l *linker) Ref(link string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.refs[link]
}

// setup starts a fake Twilio and a connector talking to it, and returns a
// connection on the fake's account with normalized settings (the number
// for SMS, voice and WhatsApp; voice forwarded to an agent's client).
func setup(t testing.TB, extra ...string) (*twilio.Connector, connectors.Conn, *twiliotest.Server, *linker) {
	t.Helper()
	fake := twiliotest.New(t)
	cn := twilio.New(twilio.Options{APIURL: fake.URL()})
	raw := connectors.Settings{
		"account_sid": twiliotest.AccountSID, "auth_token": twiliotest.AuthToken,
		"phone_number": twiliotest.Number, "whatsapp_number": twiliotest.Number,
		"voice_mode": "forward", "voice_forward_to": "client:agent-1",
	}
	for i := 0; i+1 < len(extra); i += 2 {
		raw[extra[i]] = extra[i+1]
	}
	s, err := cn.ValidateSettings(raw)
	if err != nil {
		t.Fatalf("ValidateSettings: %v", err)
	}
	l := &linker{}
	return cn, connectors.Conn{ID: connID, PortalID: "prt_1", LineID: lineID, Hash: "h4sh", EntryURL: entryURL, Settings: s, Files: l}, fake, l
}

// request is a signed webhook to rawURL as the connector receives it.
func request(t testing.TB, rawURL string, form url.Values) connectors.Request {
	t.Helper()
	wh := twiliotest.Signed(twiliotest.AuthToken, rawURL, form)
	return asRequest(t, wh.URL, wh.Header, wh.Body)
}

func asRequest(t testing.TB, rawURL string, h http.Header, body []byte) connectors.Request {
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	return connectors.Request{Method: "POST", URL: rawURL, Query: u.Query(), Header: h, Body: body}
}

func parse(t testing.TB, cn *twilio.Connector, c connectors.Conn, rawURL string, form url.Values) connectors.Inbound {
	t.Helper()
	in, err := cn.Parse(context.Background(), c, request(t, rawURL, form))
	if err != nil {
		t.Fatalf("Parse %s: %v", rawURL, err)
	}
	return in
}

// one returns the only event of in.
func one(t testing.TB, in connectors.Inbound) connectors.Keyed {
	t.Helper()
	if len(in.Events) != 1 {
		t.Fatalf("want one event, got %d: %+v", len(in.Events), in.Events)
	}
	return in.Events[0]
}

func withKind(kind string, more ...string) string {
	q := url.Values{"kind": {kind}}
	for i := 0; i+1 < len(more); i += 2 {
		q.Set(more[i], more[i+1])
	}
	return entryURL + "?" + q.Encode()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
