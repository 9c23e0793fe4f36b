package xmpptest

import (
	"context"
	"encoding/xml"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"mellium.im/sasl"
	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"github.com/connector-gateway/connector/connectors/xmpp/internal/deadline"
)

// Message is a message a test Client received, with the parts tests look
// at.
type Message struct {
	ID       string    `xml:"id,attr"`
	From     string    `xml:"from,attr"`
	Type     string    `xml:"type,attr"`
	Body     string    `xml:"body"`
	Request  *struct{} `xml:"urn:xmpp:receipts request"`
	Received *struct {
		ID string `xml:"id,attr"`
	} `xml:"urn:xmpp:receipts received"`
	Replace *struct {
		ID string `xml:"id,attr"`
	} `xml:"urn:xmpp:message-correct:0 replace"`
	Retract *struct {
		ID string `xml:"id,attr"`
	} `xml:"urn:xmpp:message-retract:1 retract"`
	Composing *struct{} `xml:"http://jabber.org/protocol/chatstates composing"`
	OriginID  *struct {
		ID string `xml:"id,attr"`
	} `xml:"urn:xmpp:sid:0 origin-id"`
	OOB *struct {
		URL string `xml:"url"`
	} `xml:"jabber:x:oob x"`
}

// Client is a plain XMPP client of the same library, standing in for a
// person writing to the gateway's account.
type Client struct {
	t    testing.TB
	JID  string
	sess *xmpp.Session
	mu   sync.Mutex
	got  []Message
	wake chan struct{}
	done chan struct{}
}

// Dial logs name in on s (SCRAM over the loopback port, no TLS) and sends
// initial presence. The client is closed when the test ends.
func Dial(t testing.TB, s *Server, name, password string) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", s.C2S)
	if err != nil {
		t.Fatalf("xmpptest: dial: %v", err)
	}
	j := jid.MustParse(JID(name))
	// Loopback without TLS: tell mellium the stream is secure so it runs SASL.
	sess, err := deadline.Login(ctx, conn, func(ctx context.Context, c net.Conn) (*xmpp.Session, error) {
		return xmpp.NewSession(ctx, j.Domain(), j, c, xmpp.Secure, xmpp.NewNegotiator(func(*xmpp.Session, *xmpp.StreamConfig) xmpp.StreamConfig {
			return xmpp.StreamConfig{Features: []xmpp.StreamFeature{xmpp.SASL("", password, sasl.ScramSha256, sasl.ScramSha1), xmpp.BindResource()}}
		}))
	})
	if err != nil {
		conn.Close()
		t.Fatalf("xmpptest: log in %s: %v", name, err)
	}
	c := &Client{t: t, JID: j.String(), sess: sess, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		_ = sess.Serve(xmpp.HandlerFunc(func(r xmlstream.TokenReadEncoder, start *xml.StartElement) error {
			if start.Name.Local != "message" {
				return nil
			}
			var m Message
			if err := xml.NewTokenDecoder(xmlstream.MultiReader(xmlstream.Token(*start), r)).Decode(&m); err != nil {
				return nil
			}
			c.mu.Lock()
			c.got = append(c.got, m)
			c.mu.Unlock()
			select {
			case c.wake <- struct{}{}:
			default:
			}
			return nil
		}))
	}()
	if err := sess.Send(ctx, stanza.Presence{}.Wrap(nil)); err != nil {
		t.Fatalf("xmpptest: presence: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// Send writes one raw stanza, e.g. `<message xmlns="jabber:client"
// to="gw@localhost" type="chat" id="m1"><body>hi</body></message>`.
func (c *Client) Send(raw string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.sess.Send(ctx, xml.NewDecoder(strings.NewReader(raw))); err != nil {
		c.t.Fatalf("xmpptest: send: %v", err)
	}
}

// Received returns the messages received so far.
func (c *Client) Received() []Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Message(nil), c.got...)
}

// WaitFor waits until a received message satisfies ok and returns it.
func (c *Client) WaitFor(timeout time.Duration, ok func(Message) bool) (Message, bool) {
	until := time.After(timeout)
	for {
		for _, m := range c.Received() {
			if ok(m) {
				return m, true
			}
		}
		select {
		case <-c.wake:
		case <-until:
			return Message{}, false
		}
	}
}

// Close ends the client's stream. Idempotent.
func (c *Client) Close() {
	_ = c.sess.Close()
	select {
	case <-c.done:
	case <-time.After(2 * time.Second):
	}
	_ = c.sess.Conn().Close()
}
