// Package chatwoot delivers a portal's batches into a Chatwoot API channel
// inbox through Chatwoot's Application API: a contact and a conversation
// per chat, each customer message an incoming message, files as links;
// agent replies come back through the inbox's webhook (hooks.go) and go
// out as outbound requests, and their outcome is written back onto the
// Chatwoot message (delivered, or failed with the reason).
package chatwoot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/portal"
	"github.com/connector-gateway/connector/queue"
)

// Adapter settings keys (Portal.Adapter).
const (
	SettingURL       = "url"              // Chatwoot's base URL, e.g. https://chatwoot.example.com
	SettingAccountID = "account_id"       // the account the inbox belongs to
	SettingInboxID   = "inbox_id"         // the API channel inbox
	SettingToken     = "api_access_token" // an agent's or bot's access token
	// SettingWebhookSecret is the inbox's webhook secret: Chatwoot 4.13 and
	// later sign the API inbox's callbacks with it (X-Chatwoot-Signature).
	SettingWebhookSecret = "webhook_secret"
	// SettingWebhookToken is a random token the gateway expects as the last
	// part of the webhook URL, for Chatwoot versions that do not sign.
	SettingWebhookToken = "webhook_token"
)

// Adapter is the portal.Deliverer of portals of kind chatwoot.
type Adapter struct {
	IDs *portal.AdapterIDs
	// Outbound takes agent replies from the webhook (ServeHook).
	Outbound *queue.Outbound
	// Wake tells the sender there is work (optional).
	Wake   func()
	Client *http.Client
	// Now is the clock the webhook signature window is checked on.
	// Default time.Now.
	Now func() time.Time
	// Logger hears webhooks that could not be stored. Default
	// slog.Default().
	Logger *slog.Logger
}

var (
	_ portal.Deliverer    = (*Adapter)(nil)
	_ portal.HookReceiver = (*Adapter)(nil)
	_ portal.Tester       = (*Adapter)(nil)
	_ portal.Describer    = (*Adapter)(nil)
)

// Keys in AdapterIDs. <chat> is "<connection>:<chat id>".
const (
	keyEvent   = "event:"   // event id → what it became in Chatwoot ("skipped" for none)
	keyContact = "contact:" // <chat> → contact id
	keyConv    = "conv:"    // <chat> → conversation (display) id
	keyChatOf  = "cwconv:"  // conversation id → chatRef JSON, where replies go
	keyMsg     = "msg:"     // <chat>:<messenger message id> → Chatwoot message id
	keyIn      = "in:"      // Chatwoot message id of a customer's message → its messenger message id
	keyRequest = "req:"     // outbound request id → msgRef JSON of the agent's message
	keySent    = "sent:"    // Chatwoot message id → messenger message ids (JSON), once delivered
	// A try key is written before a create whose answer may be lost (a
	// timeout after Chatwoot did it): on the retry the adapter looks for
	// what it may have made before creating again.
	keyTry = "try:"
)

// chatRef is where a conversation's replies go.
type chatRef struct {
	Line       string `json:"line"`
	Connection string `json:"connection"`
	Chat       string `json:"chat"`
}

// msgRef names one Chatwoot message.
type msgRef struct {
	Conversation string `json:"conversation"`
	Message      string `json:"message"`
}

// Deliver posts each event of the batch that Chatwoot does not have yet, in
// order, recording each success before the next call.
func (a *Adapter) Deliver(ctx context.Context, p portal.Portal, b portal.DeliveryBatch) error {
	s := settingsOf(p.Adapter)
	if err := s.check(); err != nil {
		return fmt.Errorf("chatwoot: %w", err)
	}
	err := a.IDs.EachPending(ctx, p.ID, b, func(ev connectors.Event) error { return a.deliverEvent(ctx, p, s, b.LineID, ev) })
	if err != nil {
		return fmt.Errorf("chatwoot: %w", err)
	}
	return nil
}

func (a *Adapter) deliverEvent(ctx context.Context, p portal.Portal, s settings, lineID string, ev connectors.Event) error {
	switch ev.Type {
	case connectors.TypeMessageCreated, connectors.TypeMessageUpdated:
		if text := content(ev); text != "" && ev.Chat != nil {
			return a.postMessage(ctx, p, s, lineID, ev, text)
		}
	case connectors.TypeMessageDeleted:
		if ev.Chat != nil && ev.Message != nil {
			return a.deleteMessage(ctx, p, s, ev)
		}
	case connectors.TypeStatusDelivered, connectors.TypeStatusFailed, connectors.TypeStatusRead:
		if ev.Status != nil && ev.Status.RequestID != "" {
			return a.setStatus(ctx, p, s, ev)
		}
	}
	// Pings, connection, conversation and call events have no place in a
	// Chatwoot conversation: accepted and recorded as seen.
	return a.skip(ctx, p, ev)
}

func (a *Adapter) skip(ctx context.Context, p portal.Portal, ev connectors.Event) error {
	return a.IDs.Put(ctx, p.ID, map[string]string{keyEvent + ev.ID: "skipped"})
}

func chatKey(ev connectors.Event) string { return ev.Connection + ":" + ev.Chat.ID }

// sourceID is the stable id the chat's contact carries in Chatwoot (its
// identifier and its source_id in the inbox): a hash, so it has a bounded
// length whatever the messenger's chat ids look like.
func sourceID(ev connectors.Event) string {
	sum := sha256.Sum256([]byte(ev.Connection + "\x00" + ev.Chat.ID))
	return "gw-" + hex.EncodeToString(sum[:16])
}

func (a *Adapter) postMessage(ctx context.Context, p portal.Portal, s settings, lineID string, ev connectors.Event, text string) error {
	conv, err := a.conversation(ctx, p, s, lineID, ev)
	if err != nil {
		return err
	}
	path := "/conversations/" + conv + "/messages"
	// The message's source_id is the event id: a retry after a lost answer
	// finds the message it already made by it.
	tryKey := keyTry + keyEvent + ev.ID
	var made id
	if _, tried, err := a.IDs.Get(ctx, p.ID, tryKey); err != nil {
		return err
	} else if tried {
		if made, err = a.findMessage(ctx, s, path, ev.ID); err != nil {
			return err
		}
	}
	if made == "" {
		if err := a.IDs.Put(ctx, p.ID, map[string]string{tryKey: conv}); err != nil {
			return err
		}
		body := map[string]any{"content": text, "message_type": "incoming", "private": false, "source_id": ev.ID}
		if ev.Message.ReplyTo != "" {
			if to, ok, err := a.IDs.Get(ctx, p.ID, keyMsg+chatKey(ev)+":"+ev.Message.ReplyTo); err != nil {
				return err
			} else if ok {
				body["content_attributes"] = map[string]any{"in_reply_to": json.Number(to)}
			}
		}
		var created struct {
			ID id `json:"id"`
		}
		if err := a.call(ctx, s, http.MethodPost, path, body, &created); err != nil {
			if statusOf(err) == http.StatusNotFound {
				// The conversation (or the contact with it) was deleted in
				// Chatwoot: the retry finds or makes them again.
				if perr := a.IDs.Put(ctx, p.ID, map[string]string{keyConv + chatKey(ev): "", keyContact + chatKey(ev): ""}); perr != nil {
					return perr
				}
			}
			return fmt.Errorf("post message: %w", err)
		}
		made = created.ID
	}
	pairs := map[string]string{keyEvent + ev.ID: "message:" + string(made)}
	if ev.Type == connectors.TypeMessageCreated && ev.Message.ID != "" {
		pairs[keyMsg+chatKey(ev)+":"+ev.Message.ID] = string(made)
		pairs[keyIn+string(made)] = ev.Message.ID
	}
	return a.IDs.Put(ctx, p.ID, pairs)
}

// findMessage looks among the conversation's latest messages for the one
// made for an event.
func (a *Adapter) findMessage(ctx context.Context, s settings, path, eventID string) (id, error) {
	var page struct {
		Payload []struct {
			ID       id     `json:"id"`
			SourceID string `json:"source_id"`
		} `json:"payload"`
	}
	if err := a.call(ctx, s, http.MethodGet, path, nil, &page); err != nil {
		return "", fmt.Errorf("look for a message made before: %w", err)
	}
	for _, m := range page.Payload {
		if m.SourceID == eventID {
			return m.ID, nil
		}
	}
	return "", nil
}

// conversation returns the chat's conversation in the inbox, making the
// contact and the conversation the first time.
func (a *Adapter) conversation(ctx context.Context, p portal.Portal, s settings, lineID string, ev connectors.Event) (string, error) {
	ck := chatKey(ev)
	// An empty mapping is one given up (the conversation was deleted).
	if conv, ok, err := a.IDs.Get(ctx, p.ID, keyConv+ck); err != nil || (ok && conv != "") {
		return conv, err
	}
	contact, existed, err := a.contact(ctx, p, s, ev)
	if err != nil {
		return "", err
	}
	src := sourceID(ev)
	tryKey := keyTry + keyConv + ck
	var conv id
	if _, tried, err := a.IDs.Get(ctx, p.ID, tryKey); err != nil {
		return "", err
	} else if tried || existed {
		// A contact found rather than made may have its conversation.
		var list struct {
			Payload []struct {
				ID      id `json:"id"`
				InboxID id `json:"inbox_id"`
			} `json:"payload"`
		}
		if err := a.call(ctx, s, http.MethodGet, "/contacts/"+contact+"/conversations", nil, &list); err != nil {
			return "", fmt.Errorf("look for a conversation made before: %w", err)
		}
		for _, c := range list.Payload {
			if string(c.InboxID) == s.inbox {
				conv = c.ID
				break
			}
		}
	}
	if conv == "" {
		if err := a.IDs.Put(ctx, p.ID, map[string]string{tryKey: contact}); err != nil {
			return "", err
		}
		var created struct {
			ID id `json:"id"`
		}
		if err := a.call(ctx, s, http.MethodPost, "/conversations", map[string]any{
			"source_id": src, "inbox_id": json.Number(s.inbox), "contact_id": json.Number(contact),
		}, &created); err != nil {
			return "", fmt.Errorf("create conversation: %w", err)
		}
		conv = created.ID
	}
	if conv == "" {
		return "", errors.New("create conversation: Chatwoot answered without an id")
	}
	back, _ := json.Marshal(chatRef{Line: lineID, Connection: ev.Connection, Chat: ev.Chat.ID})
	return string(conv), a.IDs.Put(ctx, p.ID, map[string]string{keyConv + ck: string(conv), keyChatOf + string(conv): string(back)})
}

// contact returns the chat's contact, making it (with its place in the
// inbox) the first time; existed is set when it was found, not made. Its
// identifier is unique in the account, so a create that Chatwoot refuses
// as taken, or a retry after a lost answer, finds the contact by it.
func (a *Adapter) contact(ctx context.Context, p portal.Portal, s settings, ev connectors.Event) (contactID string, existed bool, err error) {
	ck := chatKey(ev)
	if c, ok, err := a.IDs.Get(ctx, p.ID, keyContact+ck); err != nil || (ok && c != "") {
		return c, ok, err
	}
	src := sourceID(ev)
	tryKey := keyTry + keyContact + ck
	var contact id
	_, tried, err := a.IDs.Get(ctx, p.ID, tryKey)
	if err != nil {
		return "", false, err
	}
	if tried {
		if contact, err = a.findContact(ctx, s, src); err != nil {
			return "", false, err
		}
		existed = contact != ""
	}
	if contact == "" {
		if err := a.IDs.Put(ctx, p.ID, map[string]string{tryKey: src}); err != nil {
			return "", false, err
		}
		body := map[string]any{
			"inbox_id": json.Number(s.inbox), "source_id": src, "identifier": src, "name": who(ev),
			"additional_attributes": map[string]string{"channel": ev.Channel, "connector": ev.Connector},
		}
		if ev.User != nil && ev.User.AvatarURL != "" {
			body["avatar_url"] = ev.User.AvatarURL
		}
		var created struct {
			Payload struct {
				Contact struct {
					ID id `json:"id"`
				} `json:"contact"`
			} `json:"payload"`
		}
		err := a.call(ctx, s, http.MethodPost, "/contacts", body, &created)
		switch {
		case err == nil:
			contact = created.Payload.Contact.ID
		case statusOf(err) == http.StatusUnprocessableEntity:
			found, ferr := a.findContact(ctx, s, src)
			if ferr != nil {
				return "", false, ferr
			}
			if found == "" {
				return "", false, fmt.Errorf("create contact: %w", err)
			}
			contact, existed = found, true
		default:
			return "", false, fmt.Errorf("create contact: %w", err)
		}
	}
	if contact == "" {
		return "", false, errors.New("create contact: Chatwoot answered without an id")
	}
	return string(contact), existed, a.IDs.Put(ctx, p.ID, map[string]string{keyContact + ck: string(contact)})
}

func (a *Adapter) findContact(ctx context.Context, s settings, identifier string) (id, error) {
	var found struct {
		Payload []struct {
			ID         id     `json:"id"`
			Identifier string `json:"identifier"`
		} `json:"payload"`
	}
	if err := a.call(ctx, s, http.MethodGet, "/contacts/search?include_contact_inboxes=false&q="+url.QueryEscape(identifier), nil, &found); err != nil {
		return "", fmt.Errorf("look for the contact: %w", err)
	}
	for _, c := range found.Payload {
		if c.Identifier == identifier {
			return c.ID, nil
		}
	}
	return "", nil
}

// deleteMessage withdraws the Chatwoot message a deleted messenger message
// became; Chatwoot keeps it as "This message was deleted".
func (a *Adapter) deleteMessage(ctx context.Context, p portal.Portal, s settings, ev connectors.Event) error {
	ck := chatKey(ev)
	msg, ok, err := a.IDs.Get(ctx, p.ID, keyMsg+ck+":"+ev.Message.ID)
	if err != nil {
		return err
	}
	conv, convOK, err := a.IDs.Get(ctx, p.ID, keyConv+ck)
	if err != nil {
		return err
	}
	if !ok || !convOK || conv == "" {
		return a.skip(ctx, p, ev) // a message Chatwoot never got
	}
	if err := a.call(ctx, s, http.MethodDelete, "/conversations/"+conv+"/messages/"+msg, nil, nil); err != nil && statusOf(err) != http.StatusNotFound {
		return fmt.Errorf("delete message %s: %w", msg, err)
	}
	return a.IDs.Put(ctx, p.ID, map[string]string{keyEvent + ev.ID: "deleted:" + msg})
}

// setStatus writes the outcome of an agent's reply onto its Chatwoot
// message (the API inbox's status update).
func (a *Adapter) setStatus(ctx context.Context, p portal.Portal, s settings, ev connectors.Event) error {
	raw, ok, err := a.IDs.Get(ctx, p.ID, keyRequest+ev.Status.RequestID)
	if err != nil {
		return err
	}
	var ref msgRef
	if !ok || json.Unmarshal([]byte(raw), &ref) != nil || ev.Status.Operation != portal.OpSend {
		return a.skip(ctx, p, ev) // not a reply that came from Chatwoot
	}
	body := map[string]any{"status": "delivered"}
	switch ev.Type {
	case connectors.TypeStatusFailed:
		reason := ev.Status.Error
		if reason == "" {
			reason = "the gateway could not deliver the message"
		}
		body = map[string]any{"status": "failed", "external_error": reason}
	case connectors.TypeStatusRead:
		body["status"] = "read"
	}
	path := "/conversations/" + ref.Conversation + "/messages/" + ref.Message
	if err := a.call(ctx, s, http.MethodPatch, path, body, nil); err != nil {
		if st := statusOf(err); st != http.StatusNotFound && st != http.StatusForbidden {
			return fmt.Errorf("update status of message %s: %w", ref.Message, err)
		}
		// The message or its conversation is gone, or the inbox is no
		// longer an API inbox: nothing left to tell.
	}
	pairs := map[string]string{keyEvent + ev.ID: "status:" + ref.Message}
	if ev.Type == connectors.TypeStatusDelivered && len(ev.Status.MessengerMessageIDs) > 0 {
		ids, _ := json.Marshal(ev.Status.MessengerMessageIDs)
		pairs[keySent+ref.Message] = string(ids)
	}
	return a.IDs.Put(ctx, p.ID, pairs)
}

// group tells a chat of several people: one contact stands for the chat,
// so each message names its author.
func group(ev connectors.Event) bool {
	return ev.Chat != nil && ev.Chat.Type != "" && ev.Chat.Type != "private"
}

// author is who wrote a message, as far as the messenger tells.
func author(ev connectors.Event) string {
	if ev.User == nil {
		return ""
	}
	if ev.User.Name != "" {
		return ev.User.Name
	}
	return ev.User.Username
}

func who(ev connectors.Event) string {
	if group(ev) && ev.Chat.Title != "" {
		return ev.Chat.Title
	}
	if ev.User != nil {
		if ev.User.Name != "" {
			return ev.User.Name
		}
		if ev.User.Username != "" {
			return ev.User.Username
		}
	}
	if ev.Chat.Title != "" {
		return ev.Chat.Title
	}
	return ev.Channel + " chat " + ev.Chat.ID
}

// content is the message an event becomes: its text, then its files as
// links (Chatwoot takes attachments only as uploads; the gateway's links
// expire), then a shared location.
func content(ev connectors.Event) string {
	if ev.Message == nil {
		return ""
	}
	var b strings.Builder
	if ev.Type == connectors.TypeMessageUpdated {
		b.WriteString("(edited) ")
	}
	if name := author(ev); group(ev) && name != "" {
		b.WriteString(name + ": ")
	}
	b.WriteString(ev.Message.Text)
	for _, f := range ev.Message.Files {
		name := f.Name
		if name == "" {
			name = f.Kind
		}
		switch {
		case f.TooLarge:
			fmt.Fprintf(&b, "\n[file] %s (too large for the gateway to fetch)", name)
		case f.URL != "":
			fmt.Fprintf(&b, "\n[file] %s %s", name, f.URL)
		}
	}
	if l := ev.Message.Location; l != nil {
		fmt.Fprintf(&b, "\n[location] %.6f,%.6f %s %s", l.Latitude, l.Longitude, l.Title, l.Address)
	}
	if ev.Message.Text == "" && len(ev.Message.Files) == 0 && ev.Message.Location == nil {
		return ""
	}
	return strings.TrimSpace(b.String())
}
