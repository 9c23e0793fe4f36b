package botframework_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/botframework/bftest"
	"github.com/connector-gateway/connector/connectors/connectortest"
)

// conformanceChat is the conversation the suite's sends go to.
const conformanceChat = "a:1conformance-personal-chat"

// The Bot Framework connector passes the conformance suite against the
// fake Bot Framework: Teams and Web Chat sample activities, forged tokens,
// and sends, edits, deletes and typing recorded by the fake Connector
// service.
func TestConformance(t *testing.T) {
	var f *fixture // the fixture of the last New; the suite uses one at a time
	connectortest.Run(t, connectortest.Harness{
		New: func(t *testing.T) (connectors.Connector, connectors.Conn, connectortest.Messenger) {
			f = newFixture(t)
			return f.cn, f.conn, conformanceMessenger{f}
		},
		Settings:     connectors.Settings{"app_id": appID, "app_password": appSecret},
		Capabilities: []string{"edit", "delete", "typing", "files", "identify", "webhook"},
		Samples: func(c connectors.Conn) []connectortest.Sample {
			svc := f.svc.URL()
			update := bftest.TeamsMessage(svc, appID, "a:1conv", "1700000000001", "edited")
			update["type"] = "messageUpdate"
			del := bftest.TeamsMessage(svc, appID, "a:1conv", "1700000000001", "")
			del["type"] = "messageDelete"
			var out []connectortest.Sample
			for name, a := range map[string]bftest.Activity{
				"teams message":  bftest.TeamsMessage(svc, appID, "a:1conv", "1700000000001", "Where is my order?"),
				"webchat":        bftest.WebChatMessage(svc, appID, "wc-1", "wc-1|0000001", "hello"),
				"teams edit":     update,
				"teams deletion": del,
			} {
				out = append(out, connectortest.Sample{Name: name, Request: request(f.bearer("k1", svc), a)})
			}
			return out
		},
		Forged: func(c connectors.Conn) []connectortest.Sample {
			svc := f.svc.URL()
			act := bftest.TeamsMessage(svc, appID, "a:1conv", "1700000000001", "hi")
			now := f.clock.Now()
			claims := func(edit func(bftest.Claims)) bftest.Claims {
				cl := bftest.ChannelClaims(appID, svc, now)
				edit(cl)
				return cl
			}
			return []connectortest.Sample{
				{Name: "no token", Request: request("", act)},
				{Name: "wrong audience", Request: request("Bearer "+f.world.Sign("k1", claims(func(c bftest.Claims) { c["aud"] = "00000000-0000-0000-0000-000000000001" })), act)},
				{Name: "expired", Request: request("Bearer "+f.world.Sign("k1", claims(func(c bftest.Claims) { c["exp"] = now.Add(-time.Hour).Unix() })), act)},
				{Name: "other service url", Request: request("Bearer "+f.world.Sign("k1", claims(func(c bftest.Claims) { c["serviceurl"] = "https://smba.trafficmanager.net/emea/" })), act)},
				{Name: "HS256", Request: request("Bearer "+f.world.SignHS256("k1", []byte(appSecret), claims(func(bftest.Claims) {})), act)},
			}
		},
		Sign: func(c connectors.Conn, body []byte) connectors.Request {
			// A token for whatever service URL the body names, as Bot
			// Framework would issue it.
			var a struct {
				ServiceURL string `json:"serviceUrl"`
			}
			svc := f.svc.URL()
			if json.Unmarshal(body, &a) == nil && a.ServiceURL != "" {
				svc = a.ServiceURL
			}
			return connectors.Request{Method: "POST", URL: "/hook/h1", Query: url.Values{},
				Header: http.Header{"Content-Type": {"application/json"}, "Authorization": {f.bearer("k1", svc)}}, Body: body}
		},
		BadCredentials: func(c connectors.Conn) connectors.Conn {
			return connectortest.WithSettings(c, "app_password", "not-the-secret")
		},
	})
}

// conformanceMessenger reads the fake Connector service back as the suite
// wants it.
type conformanceMessenger struct{ f *fixture }

func (m conformanceMessenger) Chat() string { return m.f.chat(conformanceChat) }

func (m conformanceMessenger) Received(t *testing.T) []connectortest.Op {
	var ops []connectortest.Op
	for _, c := range m.f.svc.Calls() {
		op := connectortest.Op{ChatID: m.f.chat(c.Conversation), MessageID: c.ActivityID, Text: c.Activity.Text()}
		switch {
		case c.Method == http.MethodPut:
			op.Kind = "edit"
		case c.Method == http.MethodDelete:
			op.Kind = "delete"
		case c.Activity.Type() == "typing":
			op.Kind = "typing"
		default:
			op.Kind = "send"
		}
		ops = append(ops, op)
	}
	return ops
}
