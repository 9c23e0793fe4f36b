package xmpp

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"fmt"

	"mellium.im/xmpp"
	"mellium.im/xmpp/stanza"

	"github.com/connector-gateway/connector/connectors"
)

// outMessage is a <message/> the gateway sends. Empty parts are left out.
type outMessage struct {
	XMLName   xml.Name `xml:"message"` // the stream's namespace is filled in by mellium
	ID        string   `xml:"id,attr"`
	To        string   `xml:"to,attr"`
	Type      string   `xml:"type,attr"`
	Body      string   `xml:"body,omitempty"`
	OOB       *outOOB  `xml:"jabber:x:oob x,omitempty"`
	Request   *empty   `xml:"urn:xmpp:receipts request,omitempty"`
	Markable  *empty   `xml:"urn:xmpp:chat-markers:0 markable,omitempty"`
	Received  *outRef  `xml:"urn:xmpp:receipts received,omitempty"`
	Replace   *outRef  `xml:"urn:xmpp:message-correct:0 replace,omitempty"`
	Retract   *outRef  `xml:"urn:xmpp:message-retract:1 retract,omitempty"`
	ApplyTo   *outFast `xml:"urn:xmpp:fasten:0 apply-to,omitempty"`
	Fallback  *outFall `xml:"urn:xmpp:fallback:0 fallback,omitempty"`
	Composing *empty   `xml:"http://jabber.org/protocol/chatstates composing,omitempty"`
	Store     *empty   `xml:"urn:xmpp:hints store,omitempty"`
	NoStore   *empty   `xml:"urn:xmpp:hints no-store,omitempty"`
	OriginID  *outRef  `xml:"urn:xmpp:sid:0 origin-id,omitempty"`
}

type empty struct{}

type outRef struct {
	ID string `xml:"id,attr"`
}

type outOOB struct {
	URL string `xml:"url"`
}

type outFast struct {
	ID      string `xml:"id,attr"`
	Retract *empty `xml:"urn:xmpp:message-retract:0 retract"`
}

type outFall struct {
	For string `xml:"for,attr"`
}

// Send implements connectors.Connector: the text as one message, then each
// file as a message of its own whose body is the link with an OOB element
// (what XMPP clients show as an attachment). Each part asks for a
// delivery receipt and is markable; its id and origin-id are derived from
// the request id and the part's index, so a resend after a crash carries
// the same ids. Parts before m.SentParts are not sent again.
func (cn *Connector) Send(ctx context.Context, c connectors.Conn, m connectors.Outbound) (connectors.Delivery, error) {
	to, typ, err := chatJID(c, m.ChatID)
	if err != nil {
		return connectors.Delivery{}, err
	}
	var parts []outMessage
	if m.Text != "" {
		parts = append(parts, outMessage{Body: m.Text})
	}
	for _, f := range m.Files {
		parts = append(parts, outMessage{Body: f.URL, OOB: &outOOB{URL: f.URL}})
	}
	if len(parts) == 0 {
		return connectors.Delivery{}, &connectors.PermanentError{Err: fmt.Errorf("xmpp: send: %w: nothing to send", connectors.ErrMalformed)}
	}
	req := m.RequestID
	if req == "" {
		req = randomID()
	}
	s, done, err := cn.session(ctx, c, typ)
	if err != nil {
		return connectors.Delivery{}, err
	}
	defer done()
	var d connectors.Delivery
	for i := m.SentParts; i < len(parts); i++ {
		p := parts[i]
		p.ID, p.To, p.Type = outID(req, i), to.String(), string(typ)
		p.OriginID = &outRef{ID: p.ID}
		p.Request, p.Markable = &empty{}, &empty{}
		if err := s.Encode(ctx, p); err != nil {
			return d, fmt.Errorf("xmpp: send: %w", err)
		}
		d.MessageIDs = append(d.MessageIDs, p.ID)
	}
	return d, nil
}

// Edit implements connectors.Editor with a last message correction
// (XEP-0308) that refers to the original id, as every later correction of
// it must.
func (cn *Connector) Edit(ctx context.Context, c connectors.Conn, e connectors.Edit) (connectors.Delivery, error) {
	to, typ, err := chatJID(c, e.ChatID)
	if err != nil {
		return connectors.Delivery{}, err
	}
	if e.MessageID == "" || e.Text == "" {
		return connectors.Delivery{}, &connectors.PermanentError{Err: fmt.Errorf("xmpp: edit: %w: message id and text are required", connectors.ErrMalformed)}
	}
	s, done, err := cn.session(ctx, c, typ)
	if err != nil {
		return connectors.Delivery{}, err
	}
	defer done()
	id := randomID()
	msg := outMessage{ID: id, To: to.String(), Type: string(typ), Body: e.Text, Replace: &outRef{ID: e.MessageID}, OriginID: &outRef{ID: id}}
	if err := s.Encode(ctx, msg); err != nil {
		return connectors.Delivery{}, fmt.Errorf("xmpp: edit: %w", err)
	}
	return connectors.Delivery{MessageIDs: []string{e.MessageID}}, nil
}

// Delete implements connectors.Deleter with a retraction (XEP-0424), in
// the current form and the older fastening form clients still read, with a
// fallback body for clients that know neither.
func (cn *Connector) Delete(ctx context.Context, c connectors.Conn, d connectors.Delete) error {
	to, typ, err := chatJID(c, d.ChatID)
	if err != nil {
		return err
	}
	if d.MessageID == "" {
		return &connectors.PermanentError{Err: fmt.Errorf("xmpp: delete: %w: message id is required", connectors.ErrMalformed)}
	}
	s, done, err := cn.session(ctx, c, typ)
	if err != nil {
		return err
	}
	defer done()
	id := randomID()
	msg := outMessage{
		ID: id, To: to.String(), Type: string(typ),
		Body:     "This message was deleted.",
		Retract:  &outRef{ID: d.MessageID},
		ApplyTo:  &outFast{ID: d.MessageID, Retract: &empty{}},
		Fallback: &outFall{For: nsRetract},
		Store:    &empty{},
		OriginID: &outRef{ID: id},
	}
	if err := s.Encode(ctx, msg); err != nil {
		return fmt.Errorf("xmpp: delete: %w", err)
	}
	return nil
}

// Typing implements connectors.Typer with a "composing" chat state
// (XEP-0085), marked not to be archived.
func (cn *Connector) Typing(ctx context.Context, c connectors.Conn, chatID string) error {
	to, typ, err := chatJID(c, chatID)
	if err != nil {
		return err
	}
	s, done, err := cn.session(ctx, c, typ)
	if err != nil {
		return err
	}
	defer done()
	msg := outMessage{ID: randomID(), To: to.String(), Type: string(typ), Composing: &empty{}, NoStore: &empty{}}
	if err := s.Encode(ctx, msg); err != nil {
		return fmt.Errorf("xmpp: typing: %w", err)
	}
	return nil
}

// sendReceipt acknowledges a message whose sender asked (XEP-0184); called
// only after the message's events were committed.
func sendReceipt(ctx context.Context, s *xmpp.Session, to, id string) error {
	return s.Encode(ctx, outMessage{ID: randomID(), To: to, Type: string(stanza.ChatMessage), Received: &outRef{ID: id}})
}

func randomID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
