package meta

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/connector-gateway/connector/connectors"
)

// The Messenger / Instagram webhook body, as far as the gateway reads it.
type msgBody struct {
	Object string `json:"object"`
	Entry  []struct {
		ID        string         `json:"id"`
		Messaging []msgMessaging `json:"messaging"`
	} `json:"entry"`
}

type msgMessaging struct {
	Sender struct {
		ID string `json:"id"`
	} `json:"sender"`
	Recipient struct {
		ID string `json:"id"`
	} `json:"recipient"`
	Timestamp int64 `json:"timestamp"`
	Message   *struct {
		MID        string `json:"mid"`
		Text       string `json:"text"`
		IsEcho     bool   `json:"is_echo"`
		IsDeleted  bool   `json:"is_deleted"`
		QuickReply *struct {
			Payload string `json:"payload"`
		} `json:"quick_reply"`
		ReplyTo *struct {
			MID   string `json:"mid"`
			Story *struct {
				URL string `json:"url"`
				ID  string `json:"id"`
			} `json:"story"`
		} `json:"reply_to"`
		Attachments []struct {
			Type    string `json:"type"`
			Payload *struct {
				URL   string `json:"url"`
				Title string `json:"title"`
			} `json:"payload"`
		} `json:"attachments"`
	} `json:"message"`
	Edit *struct {
		MID     string `json:"mid"`
		Text    string `json:"text"`
		NumEdit int    `json:"num_edit"`
	} `json:"message_edit"`
	Delivery *struct {
		MIDs      []string `json:"mids"`
		Watermark int64    `json:"watermark"`
	} `json:"delivery"`
	Read *struct {
		MID       string `json:"mid"`
		Watermark int64  `json:"watermark"`
	} `json:"read"`
	Postback *struct {
		MID     string `json:"mid"`
		Title   string `json:"title"`
		Payload string `json:"payload"`
	} `json:"postback"`
}

// attachmentKinds maps Messenger's and Instagram's attachment types to file
// kinds. Their payload URLs are CDN links that need no token, so they go to
// the portal as they are.
var attachmentKinds = map[string]string{
	"image":         "photo",
	"video":         "video",
	"audio":         "audio",
	"file":          "document",
	"story_mention": "story_mention",
	"share":         "share",
	"ig_reel":       "reel",
	"reel":          "reel",
}

// Parse checks the request's signature and turns a Messenger or Instagram
// webhook into events: each entry[].messaging[] item is at most one event
// per message id (see docs/protocol.md, "Messenger and Instagram"). Echoes
// of the page's own messages, entries of another page or account than the
// connection's, and item kinds the gateway does not carry are skipped.
func (m *Messaging) Parse(_ context.Context, c connectors.Conn, r connectors.Request) (connectors.Inbound, error) {
	if err := verifySignature(c, r); err != nil {
		return connectors.Inbound{}, err
	}
	ch := channels[m.typ]
	var body msgBody
	if err := json.Unmarshal(r.Body, &body); err != nil {
		return connectors.Inbound{}, fmt.Errorf("meta: %s: %v: %w", m.typ, err, connectors.ErrMalformed)
	}
	if body.Object != ch.object {
		return connectors.Inbound{}, fmt.Errorf("meta: %s: object is %q, want %q: %w", m.typ, body.Object, ch.object, connectors.ErrMalformed)
	}
	own := c.Settings[ch.idKey]
	var out connectors.Inbound
	for _, e := range body.Entry {
		if own != "" && e.ID != "" && e.ID != own {
			continue
		}
		for i := range e.Messaging {
			out.Events = m.appendEvents(out.Events, c, own, &e.Messaging[i])
		}
	}
	return out, nil
}

// appendEvents appends the events of one messaging item.
func (m *Messaging) appendEvents(evs []connectors.Keyed, c connectors.Conn, own string, it *msgMessaging) []connectors.Keyed {
	sender := it.Sender.ID
	if sender == "" || (own != "" && sender == own) {
		return evs // the page's own message (Instagram echoes say so only this way)
	}
	// Keys are connectors.DedupeKey(type, connection, ...) spelled out:
	// the prefix and the message id with a suffix per item kind.
	prefix := connectors.DedupeKeyPrefix(m.typ, c.ID)
	event := func(key, typ string) connectors.Keyed {
		return connectors.Keyed{DedupeKey: key, Event: connectors.Event{
			ID: connectors.EventID(key), Type: typ, OccurredAt: unixMillis(it.Timestamp),
			Connector: m.typ, Channel: m.typ, Connection: c.ID, Line: c.LineID,
			Chat: &connectors.Chat{ID: sender, Type: "private"},
		}}
	}
	user := &connectors.User{ID: sender, ProfileHash: connectors.ProfileHash(sender)}
	switch {
	case it.Message != nil:
		in := it.Message
		if in.IsEcho || in.MID == "" {
			return evs
		}
		if in.IsDeleted {
			k := event(prefix+in.MID+":deleted", connectors.TypeMessageDeleted)
			k.Event.User, k.Event.Message = user, &connectors.Message{ID: in.MID}
			return append(evs, k)
		}
		msg := &connectors.Message{ID: in.MID, Text: in.Text}
		if in.QuickReply != nil {
			msg.Payload = in.QuickReply.Payload
		}
		if in.ReplyTo != nil {
			msg.ReplyTo = in.ReplyTo.MID
			if st := in.ReplyTo.Story; st != nil && st.URL != "" {
				msg.Files = append(msg.Files, connectors.File{Kind: "story", URL: st.URL, Name: "story"})
			}
		}
		for _, a := range in.Attachments {
			kind, ok := attachmentKinds[a.Type]
			if !ok || a.Payload == nil || a.Payload.URL == "" {
				continue // fallback, template, location: nothing to link
			}
			msg.Files = append(msg.Files, connectors.File{Kind: kind, URL: a.Payload.URL, Name: a.Payload.Title})
		}
		if msg.Text == "" && len(msg.Files) == 0 {
			return evs
		}
		k := event(prefix+in.MID, connectors.TypeMessageCreated)
		k.Event.User, k.Event.Message = user, msg
		return append(evs, k)
	case it.Edit != nil:
		if it.Edit.MID == "" {
			return evs
		}
		k := event(prefix+it.Edit.MID+":edit:"+strconv.Itoa(it.Edit.NumEdit), connectors.TypeMessageUpdated)
		at := k.Event.OccurredAt
		k.Event.User, k.Event.Message = user, &connectors.Message{ID: it.Edit.MID, Text: it.Edit.Text, EditedAt: &at}
		return append(evs, k)
	case it.Postback != nil:
		key := prefix + it.Postback.MID
		if it.Postback.MID == "" {
			key = prefix + "postback:" + sender + ":" + strconv.FormatInt(it.Timestamp, 10)
		}
		k := event(key, connectors.TypeMessageCreated)
		k.Event.User = user
		k.Event.Message = &connectors.Message{ID: it.Postback.MID, Text: it.Postback.Title, Payload: it.Postback.Payload}
		return append(evs, k)
	case it.Delivery != nil:
		if len(it.Delivery.MIDs) == 0 {
			k := event(prefix+sender+":delivered:"+strconv.FormatInt(it.Delivery.Watermark, 10), connectors.TypeStatusDelivered)
			k.Event.OccurredAt = unixMillis(it.Delivery.Watermark)
			k.Event.Status = &connectors.Status{Operation: "send"}
			return append(evs, k)
		}
		for _, mid := range it.Delivery.MIDs {
			k := event(prefix+mid+":status:delivered", connectors.TypeStatusDelivered)
			k.Event.Status = &connectors.Status{Operation: "send", MessengerMessageIDs: []string{mid}}
			evs = append(evs, k)
		}
		return evs
	case it.Read != nil:
		if it.Read.MID != "" {
			k := event(prefix+it.Read.MID+":status:read", connectors.TypeStatusRead)
			k.Supersedes = []string{prefix + it.Read.MID + ":status:delivered"}
			k.Event.Status = &connectors.Status{Operation: "send", MessengerMessageIDs: []string{it.Read.MID}}
			return append(evs, k)
		}
		// Messenger tells only a watermark: everything the page sent to
		// this chat up to it is read.
		k := event(prefix+sender+":read:"+strconv.FormatInt(it.Read.Watermark, 10), connectors.TypeStatusRead)
		k.Event.OccurredAt = unixMillis(it.Read.Watermark)
		k.Event.Status = &connectors.Status{Operation: "send"}
		return append(evs, k)
	}
	return evs
}
