package chatwoot

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/portal"
	"github.com/connector-gateway/connector/queue"
)

// signatureWindow is how far a signed callback's timestamp may be from
// the gateway's clock. Chatwoot signs each attempt afresh, so its own
// retries are inside it.
const signatureWindow = 5 * time.Minute

// webhook is the part of Chatwoot's API inbox callback the gateway reads
// (Message#webhook_data plus "event").
type webhook struct {
	Event       string `json:"event"`
	ID          id     `json:"id"`
	Content     string `json:"content"`
	MessageType kind   `json:"message_type"`
	Private     bool   `json:"private"`
	Attrs       struct {
		Deleted   bool `json:"deleted"`
		InReplyTo id   `json:"in_reply_to"`
	} `json:"content_attributes"`
	Conversation struct {
		ID id `json:"id"`
	} `json:"conversation"`
	Inbox struct {
		ID id `json:"id"`
	} `json:"inbox"`
	Account struct {
		ID id `json:"id"`
	} `json:"account"`
	Attachments []struct {
		DataURL   string `json:"data_url"`
		FileType  string `json:"file_type"`
		Extension string `json:"extension"`
	} `json:"attachments"`
}

// kind is a message_type: webhooks spell it ("outgoing"), the API's own
// answers number it (1).
type kind string

func (k *kind) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*k = kind(s)
		return nil
	}
	var n int
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("chatwoot: message_type %.20s", b)
	}
	names := []string{"incoming", "outgoing", "activity", "template"}
	if n >= 0 && n < len(names) {
		*k = kind(names[n])
	} else {
		*k = kind(strconv.Itoa(n))
	}
	return nil
}

// decodeWebhook reads a callback body.
func decodeWebhook(body []byte) (webhook, error) {
	var w webhook
	if err := json.Unmarshal(body, &w); err != nil {
		return webhook{}, err
	}
	if w.Event == "" {
		return webhook{}, errors.New("chatwoot: callback without an event name")
	}
	return w, nil
}

// authentic checks a callback: the secret token ending its URL when one
// is set, Chatwoot's signature (HMAC-SHA256 of "<timestamp>.<body>" with
// the inbox's webhook secret) when a secret is set, and refuses all when
// neither is. It returns the HTTP status to refuse with, 0 when authentic.
func (a *Adapter) authentic(r *http.Request, s settings, body []byte) int {
	if s.secret == "" && s.pathToken == "" {
		return http.StatusNotFound
	}
	if s.pathToken != "" && subtle.ConstantTimeCompare([]byte(r.PathValue("rest")), []byte(s.pathToken)) != 1 {
		return http.StatusNotFound
	}
	if s.secret == "" {
		return 0
	}
	ts := r.Header.Get("X-Chatwoot-Timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return http.StatusUnauthorized
	}
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	if d := now().Sub(time.Unix(sec, 0)); d > signatureWindow || d < -signatureWindow {
		return http.StatusUnauthorized
	}
	got, ok := strings.CutPrefix(r.Header.Get("X-Chatwoot-Signature"), "sha256=")
	sig, err := hex.DecodeString(got)
	if !ok || err != nil {
		return http.StatusUnauthorized
	}
	if !hmac.Equal(sig, Sign(s.secret, ts, body)) {
		return http.StatusUnauthorized
	}
	return 0
}

// Sign is Chatwoot's callback signature: HMAC-SHA256 of
// "<timestamp>.<body>" keyed with the inbox's webhook secret (the header
// carries it hex-encoded after "sha256=").
func Sign(secret, timestamp string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(timestamp))
	m.Write([]byte("."))
	m.Write(body)
	return m.Sum(nil)
}

// ServeHook takes the API inbox's callbacks: an agent's reply
// (message_created, outgoing, not private) becomes an outbound request to
// the conversation's chat, keyed by the Chatwoot message id so a repeated
// callback submits once; an agent's deletion (message_updated marked
// deleted) becomes delete requests for what the messenger got. Other
// callbacks are answered 200 and dropped. 200 comes only once the request
// is stored.
func (a *Adapter) ServeHook(w http.ResponseWriter, r *http.Request, p portal.Portal) {
	s := settingsOf(p.Adapter)
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "request body unreadable or too large", http.StatusRequestEntityTooLarge)
		return
	}
	if st := a.authentic(r, s, body); st != 0 {
		http.Error(w, http.StatusText(st), st)
		return
	}
	cb, err := decodeWebhook(body)
	if err != nil {
		http.Error(w, "not a Chatwoot callback: "+err.Error(), http.StatusBadRequest)
		return
	}
	if err := a.take(r, p, s, cb); err != nil {
		log := a.Logger
		if log == nil {
			log = slog.Default()
		}
		log.Error("chatwoot: webhook", slog.String("portal", p.ID), slog.String("event", cb.Event), slog.Any("err", err))
		http.Error(w, "try again", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"ok":true}`)
}

func (a *Adapter) take(r *http.Request, p portal.Portal, s settings, cb webhook) error {
	if cb.MessageType != "outgoing" || cb.Private || cb.ID == "" {
		return nil // the customer's own messages (the gateway posted them), notes, activity
	}
	if (cb.Inbox.ID != "" && string(cb.Inbox.ID) != s.inbox) || (cb.Account.ID != "" && string(cb.Account.ID) != s.account) {
		return nil
	}
	ctx := r.Context()
	raw, ok, err := a.IDs.Get(ctx, p.ID, keyChatOf+string(cb.Conversation.ID))
	if err != nil || !ok {
		return err // a conversation the gateway did not open
	}
	var to chatRef
	if err := json.Unmarshal([]byte(raw), &to); err != nil {
		return fmt.Errorf("chatwoot: chat of conversation %s: %w", cb.Conversation.ID, err)
	}
	switch {
	case cb.Event == "message_created" && !cb.Attrs.Deleted:
		return a.submitReply(r, p, to, cb)
	case cb.Event == "message_updated" && cb.Attrs.Deleted:
		return a.submitDelete(r, p, to, cb)
	}
	return nil
}

func (a *Adapter) submitReply(r *http.Request, p portal.Portal, to chatRef, cb webhook) error {
	ctx := r.Context()
	m := connectors.Outbound{ChatID: to.Chat, Text: strings.TrimSpace(cb.Content)}
	for _, f := range cb.Attachments {
		if f.DataURL != "" {
			m.Files = append(m.Files, connectors.OutFile{URL: f.DataURL})
		}
	}
	if m.Text == "" && len(m.Files) == 0 {
		return nil
	}
	if cb.Attrs.InReplyTo != "" {
		// The customer's message the agent answered, when the gateway
		// posted it.
		if mid, ok, err := a.IDs.Get(ctx, p.ID, keyIn+string(cb.Attrs.InReplyTo)); err == nil && ok {
			m.ReplyTo = mid
		}
	}
	payload, err := json.Marshal(m)
	if err != nil {
		return err
	}
	ref, _ := json.Marshal(msgRef{Conversation: string(cb.Conversation.ID), Message: string(cb.ID)})
	reqID := portal.NewID("out")
	// The request's way back to the Chatwoot message is stored before the
	// request exists, so its status can never arrive first.
	if err := a.IDs.Put(ctx, p.ID, map[string]string{keyRequest + reqID: string(ref)}); err != nil {
		return err
	}
	got, existing, err := a.Outbound.Submit(ctx, queue.OutboundRequest{
		ID: reqID, PortalID: p.ID, LineID: to.Line, ConnectionID: to.Connection, ChatID: to.Chat,
		Op: portal.OpSend, Payload: payload, IdemKey: "chatwoot-message-" + string(cb.ID),
	})
	if err != nil {
		return fmt.Errorf("chatwoot: submit reply of message %s: %w", cb.ID, err)
	}
	if existing {
		if err := a.IDs.Put(ctx, p.ID, map[string]string{keyRequest + got: string(ref)}); err != nil {
			return err
		}
	}
	a.wake()
	return nil
}

func (a *Adapter) submitDelete(r *http.Request, p portal.Portal, to chatRef, cb webhook) error {
	ctx := r.Context()
	raw, ok, err := a.IDs.Get(ctx, p.ID, keySent+string(cb.ID))
	if err != nil || !ok {
		// Not delivered (yet): there is nothing on the messenger to take
		// back. A reply still on its way is sent; Chatwoot shows it deleted.
		return err
	}
	var ids []string
	if err := json.Unmarshal([]byte(raw), &ids); err != nil {
		return fmt.Errorf("chatwoot: messenger ids of message %s: %w", cb.ID, err)
	}
	for i, mid := range ids {
		payload, _ := json.Marshal(connectors.Delete{ChatID: to.Chat, MessageID: mid})
		if _, _, err := a.Outbound.Submit(ctx, queue.OutboundRequest{
			ID: portal.NewID("out"), PortalID: p.ID, LineID: to.Line, ConnectionID: to.Connection, ChatID: to.Chat,
			Op: portal.OpDelete, Payload: payload, IdemKey: "chatwoot-delete-" + string(cb.ID) + "-" + strconv.Itoa(i),
		}); err != nil {
			return fmt.Errorf("chatwoot: submit deletion of message %s: %w", cb.ID, err)
		}
	}
	a.wake()
	return nil
}

func (a *Adapter) wake() {
	if a.Wake != nil {
		a.Wake()
	}
}
