package botframework

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/connector-gateway/connector/connectors"
)

// outActivity is an activity the bot posts.
type outActivity struct {
	Type         string          `json:"type"`
	ID           string          `json:"id,omitempty"`
	From         *account        `json:"from,omitempty"`
	Conversation *convAccount    `json:"conversation,omitempty"`
	Text         string          `json:"text,omitempty"`
	TextFormat   string          `json:"textFormat,omitempty"`
	ReplyToID    string          `json:"replyToId,omitempty"`
	Attachments  []attachment    `json:"attachments,omitempty"`
	ChannelData  json.RawMessage `json:"channelData,omitempty"`
}

// newActivity is an activity of typ from the bot into ref's conversation.
// In Teams the bot is "28:<App ID>"; other channels fill in the sender
// themselves. Teams wants the tenant on proactive messages; it does no harm
// on replies.
func newActivity(typ string, ref conversationRef, s connectors.Settings) outActivity {
	a := outActivity{Type: typ, Conversation: &convAccount{ID: ref.ConversationID, TenantID: ref.TenantID}}
	if ref.ChannelID == "msteams" {
		a.From = &account{ID: "28:" + normalizeAppID(s[SettingAppID])}
	}
	if ref.TenantID != "" {
		a.ChannelData, _ = json.Marshal(map[string]any{"tenant": map[string]string{"id": ref.TenantID}})
	}
	return a
}

// Send posts m to the conversation its chat id encodes, as one message
// activity: the text (plain, not Markdown) with every file attached by its
// URL. With m.ReplyTo it goes to /activities/{replyToId} (a reply in the
// thread, where the channel has threads). A message is one part, so a
// retry with m.SentParts ≥ 1 sends nothing. The Delivery holds the
// activity id Bot Framework answered, which Edit and Delete take.
func (cn *Connector) Send(ctx context.Context, c connectors.Conn, m connectors.Outbound) (connectors.Delivery, error) {
	if m.SentParts >= 1 {
		return connectors.Delivery{}, nil
	}
	ref, err := decodeChatID(m.ChatID)
	if err != nil {
		return connectors.Delivery{}, err
	}
	if strings.TrimSpace(m.Text) == "" && len(m.Files) == 0 {
		return connectors.Delivery{}, permanent("send: nothing to send: the text is empty and there are no files")
	}
	a := newActivity("message", ref, c.Settings)
	if m.Text != "" {
		a.Text, a.TextFormat = m.Text, "plain"
	}
	for i, f := range m.Files {
		if u, err := url.Parse(f.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return connectors.Delivery{}, permanent("send: file %d: %q is not an absolute http(s) URL", i+1, truncate(f.URL, 80))
		}
		mime := f.Mime
		if mime == "" {
			mime = mimeByName(f.Name, "")
		}
		a.Attachments = append(a.Attachments, attachment{ContentType: mime, ContentURL: f.URL, Name: f.Name})
	}
	p := activitiesPath(ref.ConversationID, "")
	if m.ReplyTo != "" {
		a.ReplyToID = m.ReplyTo
		p = activitiesPath(ref.ConversationID, m.ReplyTo)
	}
	id, err := cn.call(ctx, c, "send", ref, http.MethodPost, p, a)
	if err != nil {
		return connectors.Delivery{}, err
	}
	d := connectors.Delivery{}
	if id != "" {
		d.MessageIDs = []string{id}
	}
	return d, nil
}

// Edit replaces the text of an activity the bot sent (PUT).
func (cn *Connector) Edit(ctx context.Context, c connectors.Conn, e connectors.Edit) (connectors.Delivery, error) {
	if strings.TrimSpace(e.Text) == "" {
		return connectors.Delivery{}, permanent("edit: text is empty")
	}
	if e.MessageID == "" {
		return connectors.Delivery{}, permanent("edit: no message id")
	}
	ref, err := decodeChatID(e.ChatID)
	if err != nil {
		return connectors.Delivery{}, err
	}
	a := newActivity("message", ref, c.Settings)
	a.ID, a.Text, a.TextFormat = e.MessageID, e.Text, "plain"
	if _, err := cn.call(ctx, c, "edit", ref, http.MethodPut, activitiesPath(ref.ConversationID, e.MessageID), a); err != nil {
		return connectors.Delivery{}, err
	}
	return connectors.Delivery{MessageIDs: []string{e.MessageID}}, nil
}

// Delete deletes an activity the bot sent.
func (cn *Connector) Delete(ctx context.Context, c connectors.Conn, d connectors.Delete) error {
	if d.MessageID == "" {
		return permanent("delete: no message id")
	}
	ref, err := decodeChatID(d.ChatID)
	if err != nil {
		return err
	}
	_, err = cn.call(ctx, c, "delete", ref, http.MethodDelete, activitiesPath(ref.ConversationID, d.MessageID), nil)
	return err
}

// Typing posts a typing activity (channels show it for a few seconds).
func (cn *Connector) Typing(ctx context.Context, c connectors.Conn, chatID string) error {
	ref, err := decodeChatID(chatID)
	if err != nil {
		return err
	}
	_, err = cn.call(ctx, c, "typing", ref, http.MethodPost, activitiesPath(ref.ConversationID, ""), newActivity("typing", ref, c.Settings))
	return err
}

// activitiesPath is /v3/conversations/{id}/activities[/{activityId}], each
// id escaped as one path segment (Teams ids hold ':', '@' and ';').
func activitiesPath(convID, activityID string) string {
	p := "/v3/conversations/" + url.PathEscape(convID) + "/activities"
	if activityID != "" {
		p += "/" + url.PathEscape(activityID)
	}
	return p
}

// call makes one request to the conversation's service URL with the bot's
// access token; on a 401 it gets a fresh token and tries once more. It
// returns the id of a ResourceResponse, when the answer has one.
func (cn *Connector) call(ctx context.Context, c connectors.Conn, op string, ref conversationRef, method, p string, body any) (string, error) {
	base, err := cn.allowedServiceURL(ref.ServiceURL)
	if err != nil {
		return "", fmt.Errorf("%s: %w", op, err)
	}
	target := strings.TrimRight(base.String(), "/") + p
	var payload []byte
	if body != nil {
		if payload, err = json.Marshal(body); err != nil {
			return "", fmt.Errorf("botframework: %s: %w", op, err)
		}
	}
	for attempt := 0; ; attempt++ {
		token, err := cn.tokens.get(ctx, c.Settings, attempt > 0)
		if err != nil {
			return "", err
		}
		req, err := http.NewRequestWithContext(ctx, method, target, bytes.NewReader(payload))
		if err != nil {
			return "", permanent("%s: %v", op, err)
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/json; charset=utf-8")
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := cn.client.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return "", fmt.Errorf("botframework: %s: %w", op, ctx.Err())
			}
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err // the URL is in the message already
			}
			return "", fmt.Errorf("botframework: %s: %s %s: %v", op, method, base.Host, err)
		}
		rb, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if resp.StatusCode == http.StatusUnauthorized && attempt == 0 {
			continue
		}
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return "", serviceError(op, resp, rb, cn.now())
		}
		var rr struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(rb, &rr)
		return rr.ID, nil
	}
}
