package xmpp_test

import (
	"testing"
	"time"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/connectortest"
	"github.com/connector-gateway/connector/connectors/xmpp"
	"github.com/connector-gateway/connector/connectors/xmpp/xmpptest"
)

// TestConformance runs the connector suite against a real Prosody: the
// messenger is a plain XMPP client (alice) the connector sends to. XMPP is
// a stream, not a webhook, so the suite's Parse checks do not apply; what
// arrives is covered by the live tests.
func TestConformance(t *testing.T) {
	connectortest.Run(t, connectortest.Harness{
		New: func(t *testing.T) (connectors.Connector, connectors.Conn, connectortest.Messenger) {
			srv := xmpptest.Start(t, map[string]string{"gw": gwPass, "alice": alicePass})
			cn := xmpp.New(xmpp.Options{Logger: testLog()})
			t.Cleanup(func() { _ = cn.Close() })
			alice := xmpptest.Dial(t, srv, "alice", alicePass)
			c := conn(srv, &memCursor{})
			norm, err := cn.ValidateSettings(c.Settings)
			if err != nil {
				t.Fatal(err)
			}
			c.Settings = norm
			return cn, c, aliceMessenger{alice}
		},
		Settings: connectors.Settings{
			xmpp.SettingJID: xmpptest.JID("gw"), xmpp.SettingPassword: gwPass, xmpp.SettingServer: "127.0.0.1:5222",
		},
		Capabilities: []string{"edit", "delete", "typing", "poll", "identify", "embed", "pages", "conversations"},
		BadCredentials: func(c connectors.Conn) connectors.Conn {
			return connectortest.WithSettings(c, xmpp.SettingPassword, "not-the-password")
		},
	})
}

// aliceMessenger reads what alice's client received as the suite's
// operations: a message with a body is a send, a correction an edit, a
// retraction a delete, a bare "composing" chat state typing.
type aliceMessenger struct{ c *xmpptest.Client }

func (a aliceMessenger) Chat() string { return a.c.JID }

func (a aliceMessenger) Received(*testing.T) []connectortest.Op {
	time.Sleep(50 * time.Millisecond) // stanzas on their way
	var ops []connectortest.Op
	for _, m := range a.c.Received() {
		switch {
		case m.Replace != nil:
			ops = append(ops, connectortest.Op{Kind: "edit", ChatID: a.c.JID, MessageID: m.Replace.ID, Text: m.Body})
		case m.Retract != nil:
			ops = append(ops, connectortest.Op{Kind: "delete", ChatID: a.c.JID, MessageID: m.Retract.ID})
		case m.Body != "":
			ops = append(ops, connectortest.Op{Kind: "send", ChatID: a.c.JID, MessageID: m.ID, Text: m.Body})
		case m.Composing != nil:
			ops = append(ops, connectortest.Op{Kind: "typing", ChatID: a.c.JID})
		}
	}
	return ops
}
