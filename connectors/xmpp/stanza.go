package xmpp

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"path"
	"strconv"
	"strings"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/connector-gateway/connector/connectors"
)

// Namespaces of the extensions the connector reads and writes.
const (
	nsSID       = "urn:xmpp:sid:0"                  // XEP-0359 stanza-id / origin-id
	nsDelay     = "urn:xmpp:delay"                  // XEP-0203
	nsReceipts  = "urn:xmpp:receipts"               // XEP-0184
	nsMarkers   = "urn:xmpp:chat-markers:0"         // XEP-0333
	nsCorrect   = "urn:xmpp:message-correct:0"      // XEP-0308
	nsRetract   = "urn:xmpp:message-retract:1"      // XEP-0424 (0.4+)
	nsRetract0  = "urn:xmpp:message-retract:0"      // XEP-0424 (older, with fastening)
	nsFasten    = "urn:xmpp:fasten:0"               // XEP-0422
	nsOOB       = "jabber:x:oob"                    // XEP-0066
	nsNick      = "http://jabber.org/protocol/nick" // XEP-0172
	nsMAM       = "urn:xmpp:mam:2"                  // XEP-0313
	nsForward   = "urn:xmpp:forward:0"              // XEP-0297
	nsReply     = "urn:xmpp:reply:0"                // XEP-0461
	nsChatState = "http://jabber.org/protocol/chatstates"
	nsHints     = "urn:xmpp:hints" // XEP-0334
	nsFallback  = "urn:xmpp:fallback:0"
	nsRSM       = "http://jabber.org/protocol/rsm"
	nsDataForm  = "jabber:x:data"
)

// inMessage is a <message/> stanza as received, live or inside a MAM
// result. Only the parts the mapping uses are decoded.
type inMessage struct {
	XMLName   xml.Name   `xml:"message"`
	ID        string     `xml:"id,attr"`
	From      string     `xml:"from,attr"`
	To        string     `xml:"to,attr"`
	Type      string     `xml:"type,attr"`
	Bodies    []string   `xml:"body"`
	OriginID  *idElem    `xml:"urn:xmpp:sid:0 origin-id"`
	StanzaIDs []stanzaID `xml:"urn:xmpp:sid:0 stanza-id"`
	Delay     *delay     `xml:"urn:xmpp:delay delay"`
	Request   *struct{}  `xml:"urn:xmpp:receipts request"`
	Received  *idElem    `xml:"urn:xmpp:receipts received"`
	Displayed *idElem    `xml:"urn:xmpp:chat-markers:0 displayed"`
	Replace   *idElem    `xml:"urn:xmpp:message-correct:0 replace"`
	Retract   *idElem    `xml:"urn:xmpp:message-retract:1 retract"`
	ApplyTo   *applyTo   `xml:"urn:xmpp:fasten:0 apply-to"`
	OOB       []oob      `xml:"jabber:x:oob x"`
	Nick      string     `xml:"http://jabber.org/protocol/nick nick"`
	Reply     *replyTo   `xml:"urn:xmpp:reply:0 reply"`
	Result    *mamResult `xml:"urn:xmpp:mam:2 result"`
}

type idElem struct {
	ID string `xml:"id,attr"`
}

type stanzaID struct {
	ID string `xml:"id,attr"`
	By string `xml:"by,attr"`
}

type delay struct {
	Stamp string `xml:"stamp,attr"`
}

type applyTo struct {
	ID      string    `xml:"id,attr"`
	Retract *struct{} `xml:"urn:xmpp:message-retract:0 retract"`
}

type oob struct {
	URL  string `xml:"url"`
	Desc string `xml:"desc"`
}

type replyTo struct {
	ID string `xml:"id,attr"`
}

type mamResult struct {
	QueryID   string `xml:"queryid,attr"`
	ID        string `xml:"id,attr"`
	Forwarded struct {
		Delay   *delay     `xml:"urn:xmpp:delay delay"`
		Message *inMessage `xml:"message"`
	} `xml:"urn:xmpp:forward:0 forwarded"`
}

// parseStanza decodes one <message/> element.
func parseStanza(raw []byte) (inMessage, error) {
	var m inMessage
	err := xml.Unmarshal(raw, &m)
	return m, err
}

// self is who the gateway is on the XMPP side, what the mapping needs to
// tell its own echoes and archives from other people's messages.
type self struct {
	// Bare is the gateway's bare JID (client mode) or component JID.
	Bare string
	// Nick is the gateway's nickname in rooms.
	Nick string
}

// mapped is what one stanza became.
type mapped struct {
	Events []connectors.Keyed
	// ArchiveID is the archive id (MAM result id, or stanza-id stamped by
	// the gateway's own server) of the stanza: the resume position once
	// its events are committed. "" when the stanza was not archived.
	ArchiveID string
	// QueryID is set for a MAM result: the query it answers.
	QueryID string
	// ReceiptTo/ReceiptID: the sender asked for a delivery receipt; send
	// <received id=ReceiptID/> to ReceiptTo once the events are committed.
	ReceiptTo, ReceiptID string
}

// outIDPrefix starts the id of every message the gateway sends, followed by
// the API request id, so a receipt or marker names the request it is for.
const outIDPrefix = "cg-"

// outID is the stanza id (and origin-id) of part n of the message sent for
// request: stable, so a resend after a crash carries the same id and the
// receiving client recognises it.
func outID(requestID string, part int) string {
	return outIDPrefix + requestID + "-" + strconv.Itoa(part)
}

// requestOf returns the API request id an outbound stanza id was made for.
func requestOf(id string) (string, bool) {
	rest, ok := strings.CutPrefix(id, outIDPrefix)
	if !ok {
		return "", false
	}
	i := strings.LastIndexByte(rest, '-')
	if i <= 0 {
		return "", false
	}
	return rest[:i], true
}

// mapStanza turns one received <message/> into normalized events.
//
// A MAM result is unwrapped (archive id = the result's id, time = the
// archive's delay stamp) and accepted only from the gateway's own account
// (from empty or its bare JID). A live stanza's archive id is the stanza-id
// its server stamped "by" the gateway's account (or by the room, for a room
// message); stanza-ids by anyone else are ignored, since the sender can
// write them. Skipped: errors, headlines, messages from the gateway itself
// (its own sends come back through the archive and room echoes), and
// messages that carry nothing the portal can use (chat states alone).
func mapStanza(c connectors.Conn, me self, m inMessage, now time.Time) mapped {
	var out mapped
	stamp := time.Time{}
	if m.Result != nil {
		if m.From != "" && bareOf(m.From) != me.Bare {
			return out
		}
		out.QueryID = m.Result.QueryID
		if m.Result.Forwarded.Message == nil || m.Result.ID == "" {
			return out
		}
		out.ArchiveID = m.Result.ID
		if d := m.Result.Forwarded.Delay; d != nil {
			stamp = parseStamp(d.Stamp)
		}
		inner := *m.Result.Forwarded.Message
		inner.Result = nil // a result inside a result is not ours to follow
		m = inner
	}
	if stamp.IsZero() && m.Delay != nil {
		stamp = parseStamp(m.Delay.Stamp)
	}
	if stamp.IsZero() {
		stamp = now
	}
	stamp = stamp.UTC()

	from, err := jid.Parse(m.From)
	if err != nil || m.From == "" {
		return out
	}
	group := m.Type == "groupchat"
	if out.ArchiveID == "" {
		by := me.Bare
		if group {
			by = from.Bare().String()
		}
		for _, sid := range m.StanzaIDs {
			if sid.By == by && sid.ID != "" {
				out.ArchiveID = sid.ID
				break
			}
		}
	}
	switch m.Type {
	case "error", "headline":
		return out
	}
	if group {
		if from.Resourcepart() == "" || from.Resourcepart() == me.Nick {
			return out // room subject/status, or our own echo
		}
	} else if from.Bare().String() == me.Bare {
		return out // sent by the gateway (archived copy)
	}

	chat := &connectors.Chat{ID: from.Bare().String(), Type: "private"}
	user := &connectors.User{ID: from.Bare().String(), Username: from.Bare().String(), Name: from.Localpart()}
	if group {
		chat.Type, chat.Title = "group", from.Localpart()
		user = &connectors.User{ID: from.String(), Name: from.Resourcepart()}
	}
	if m.Nick != "" {
		user.Name = strings.TrimSpace(m.Nick)
	}
	user.ProfileHash = profileHash(user)

	msgID := m.ID
	if msgID == "" && m.OriginID != nil {
		msgID = m.OriginID.ID
	}
	stable := out.ArchiveID
	if stable == "" && msgID != "" {
		stable = from.Bare().String() + "/" + msgID
	}
	if stable == "" {
		sum := sha256.Sum256([]byte(m.From + "\x00" + strings.Join(m.Bodies, "\x00") + "\x00" + stamp.Format(time.RFC3339Nano)))
		stable = "h" + hex.EncodeToString(sum[:8])
	}
	if msgID == "" {
		msgID = stable
	}
	base := connectors.Event{
		OccurredAt: stamp, Connector: Type, Channel: Type, Connection: c.ID, Line: c.LineID, Chat: chat,
	}
	add := func(key string, ev connectors.Event, supersedes ...string) {
		ev.ID = connectors.EventID(key)
		out.Events = append(out.Events, connectors.Keyed{DedupeKey: key, Event: ev, Supersedes: supersedes})
	}
	prefix := "xmpp:" + c.ID + ":"

	// Statuses of messages the gateway sent.
	if m.Received != nil && m.Received.ID != "" {
		if req, ok := requestOf(m.Received.ID); ok {
			ev := base
			ev.Type = connectors.TypeStatusDelivered
			ev.Status = &connectors.Status{RequestID: req, Operation: "send", MessengerMessageIDs: []string{m.Received.ID}}
			add(prefix+"delivered:"+m.Received.ID, ev)
		}
	}
	if m.Displayed != nil && m.Displayed.ID != "" {
		if req, ok := requestOf(m.Displayed.ID); ok {
			ev := base
			ev.Type = connectors.TypeStatusRead
			ev.Status = &connectors.Status{RequestID: req, Operation: "send", MessengerMessageIDs: []string{m.Displayed.ID}}
			add(prefix+"read:"+m.Displayed.ID, ev, prefix+"delivered:"+m.Displayed.ID)
		}
	}

	// Retraction.
	retracted := ""
	if m.Retract != nil {
		retracted = m.Retract.ID
	} else if m.ApplyTo != nil && m.ApplyTo.Retract != nil {
		retracted = m.ApplyTo.ID
	}
	if retracted != "" {
		ev := base
		ev.Type, ev.User = connectors.TypeMessageDeleted, user
		ev.Message = &connectors.Message{ID: retracted}
		add(prefix+stable, ev)
		return out
	}

	text := ""
	if len(m.Bodies) > 0 {
		text = m.Bodies[0]
	}
	var files []connectors.File
	for _, o := range m.OOB {
		u := strings.TrimSpace(o.URL)
		if !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
			continue
		}
		files = append(files, connectors.File{URL: u, Name: fileName(u), Kind: "document"})
		if strings.TrimSpace(text) == u {
			text = "" // the body is the link's fallback copy
		}
	}
	if text == "" && len(files) == 0 {
		if m.Request != nil {
			// Nothing to deliver, but the sender still waits for a receipt.
			out.ReceiptTo, out.ReceiptID = m.From, m.ID
		}
		return out
	}
	ev := base
	ev.User = user
	ev.Message = &connectors.Message{ID: msgID, Text: text, Files: files}
	if m.Reply != nil {
		ev.Message.ReplyTo = m.Reply.ID
	}
	ev.Type = connectors.TypeMessageCreated
	if m.Replace != nil && m.Replace.ID != "" {
		ev.Type = connectors.TypeMessageUpdated
		ev.Message.ID = m.Replace.ID
		at := stamp
		ev.Message.EditedAt = &at
	}
	add(prefix+stable, ev)
	if m.Request != nil && m.ID != "" {
		out.ReceiptTo, out.ReceiptID = m.From, m.ID
	}
	return out
}

func bareOf(s string) string {
	j, err := jid.Parse(s)
	if err != nil {
		return ""
	}
	return j.Bare().String()
}

func parseStamp(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

func fileName(u string) string {
	p := u
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	name := path.Base(p)
	if name == "/" || name == "." || strings.HasSuffix(p, "/") {
		return ""
	}
	return name
}

func profileHash(u *connectors.User) string {
	sum := sha256.Sum256([]byte(u.ID + "\x00" + u.Name + "\x00" + u.Username))
	return hex.EncodeToString(sum[:8])
}
