package webchat_test

import (
	"sync"
	"testing"
	"time"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/connectortest"
	"github.com/connector-gateway/connector/connectors/webchat"
	"github.com/connector-gateway/connector/queue/queuetest"
	"github.com/connector-gateway/connector/queue/sqldb"
)

// TestConformance runs the connector suite with the widget itself as the
// messenger: a visitor's open socket receives what the connector sends.
// The widget declares no webhook (browsers talk to its own handler), so
// the suite's Parse checks do not apply.
func TestConformance(t *testing.T) {
	connectortest.Run(t, connectortest.Harness{
		New: func(t *testing.T) (connectors.Connector, connectors.Conn, connectortest.Messenger) {
			e := newEnv(t, queuetest.Open(t, queuetest.Backend{Driver: sqldb.DriverSQLite, DSN: queuetest.SQLiteDSN}), webchat.Options{})
			c := shopConn(e)
			c.EntryURL = e.srv.URL
			return e.cn, c, newVisitorTab(t, e, c)
		},
		Settings:     connectors.Settings{webchat.SettingOrigins: site},
		Capabilities: []string{"typing", "files", "embed", "read"},
		BadCredentials: func(c connectors.Conn) connectors.Conn {
			// No credentials to get wrong: settings that cannot work.
			return connectortest.WithSettings(c, webchat.SettingOrigins, "")
		},
	})
}

// visitorTab is a visitor's open widget: it has written once (so the
// conversation exists) and collects every frame the gateway sends it.
type visitorTab struct {
	visitor string
	mu      sync.Mutex
	ops     []connectortest.Op
}

func newVisitorTab(t *testing.T, e *env, c connectors.Conn) *visitorTab {
	v := e.visitor(c)
	s := e.open(c, v.Token, 0)
	if ack, _ := s.message("conformance-0001", "hello"); ack.Type != "ack" {
		t.Fatalf("visitor's first message answered %+v", ack)
	}
	tab := &visitorTab{visitor: v.Visitor}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			// Reads end when the test's cleanup closes the socket.
			f, err := s.read(time.Minute)
			if err != nil {
				return
			}
			tab.mu.Lock()
			switch {
			case f.Type == "message" && f.From == "agent":
				tab.ops = append(tab.ops, connectortest.Op{Kind: "send", ChatID: v.Visitor, MessageID: f.ID, Text: f.Text})
			case f.Type == "typing":
				tab.ops = append(tab.ops, connectortest.Op{Kind: "typing", ChatID: v.Visitor})
			}
			tab.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		s.ws.CloseNow()
		<-done
	})
	return tab
}

func (v *visitorTab) Chat() string { return v.visitor }

func (v *visitorTab) Received(*testing.T) []connectortest.Op {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]connectortest.Op(nil), v.ops...)
}
