package meta

import (
	"context"
	"net/url"
	"path"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/connector-gateway/connector/connectors"
)

// Text limits per message.
const (
	waMaxText        = 4096
	waMaxCaption     = 1024
	messengerMaxText = 2000
	instagramMaxText = 1000
	// waMaxCallback is the longest biz_opaque_callback_data WhatsApp keeps.
	waMaxCallback = 512
)

// waIDShape is a WhatsApp user id (the phone number in international form,
// digits; a leading + is accepted).
var waIDShape = regexp.MustCompile(`^\+?[0-9]{5,20}$`)

// part is one message of an outbound message: a text, or a file with an
// optional caption.
type part struct {
	text    string
	file    *connectors.OutFile
	caption string
}

// plan cuts m into the messages the channel gets, in order: the text (split
// at maxText characters) and then one message per file; with captions
// (maxCaption > 0) a text that fits rides on the first file when that file
// can carry one. It depends only on m, so a retry that skips m.SentParts
// continues where the earlier attempt stopped.
func plan(typ string, m connectors.Outbound, maxText, maxCaption int) ([]part, error) {
	hasText := strings.TrimSpace(m.Text) != ""
	if !hasText && len(m.Files) == 0 {
		return nil, permanent(typ, "send: nothing to send: the text is empty and there are no files")
	}
	for i, f := range m.Files {
		u, err := url.Parse(f.URL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, permanent(typ, "send: file %d: %q is not an absolute http(s) URL Meta could fetch", i+1, f.URL)
		}
	}
	var parts []part
	caption := ""
	switch {
	case hasText && len(m.Files) > 0 && maxCaption > 0 && mediaType(m.Files[0]) != "audio" && utf8.RuneCountInString(m.Text) <= maxCaption:
		caption = m.Text
	case hasText:
		for _, t := range splitText(m.Text, maxText) {
			parts = append(parts, part{text: t})
		}
	}
	for i := range m.Files {
		p := part{file: &m.Files[i]}
		if i == 0 {
			p.caption = caption
		}
		parts = append(parts, p)
	}
	return parts, nil
}

// mediaType is the WhatsApp media type (and Messenger attachment type,
// with "document" as "file") a file goes out as, by MIME type or, without
// one, by the URL's extension.
func mediaType(f connectors.OutFile) string {
	mime := strings.ToLower(strings.TrimSpace(strings.SplitN(f.Mime, ";", 2)[0]))
	if mime == "" {
		if u, err := url.Parse(f.URL); err == nil {
			switch strings.ToLower(path.Ext(u.Path)) {
			case ".jpg", ".jpeg":
				mime = "image/jpeg"
			case ".png":
				mime = "image/png"
			case ".mp4":
				mime = "video/mp4"
			case ".mp3":
				mime = "audio/mpeg"
			case ".ogg":
				mime = "audio/ogg"
			}
		}
	}
	switch mime {
	case "image/jpeg", "image/png":
		return "image"
	case "video/mp4", "video/3gpp":
		return "video"
	case "audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg":
		return "audio"
	}
	return "document"
}

// splitText cuts s into pieces of at most limit characters, preferring to
// cut after a newline or a space in the second half of a piece.
func splitText(s string, limit int) []string {
	var out []string
	for utf8.RuneCountInString(s) > limit {
		runes := []rune(s)
		cut := limit
		for i := limit; i > limit/2; i-- {
			if runes[i-1] == '\n' || runes[i-1] == ' ' {
				cut = i
				break
			}
		}
		out = append(out, string(runes[:cut]))
		s = string(runes[cut:])
	}
	if strings.TrimSpace(s) != "" {
		out = append(out, s)
	}
	return out
}

// waSendAnswer is the answer to POST /{phone-number-id}/messages.
type waSendAnswer struct {
	Messages []struct {
		ID string `json:"id"`
	} `json:"messages"`
}

// Send delivers m to the WhatsApp user m.ChatID (their wa_id) as the
// messages plan makes of it — texts, then files by link (image, video,
// audio or document by MIME type) — skipping the m.SentParts parts an
// earlier attempt delivered. m.ReplyTo becomes the first message's
// context.message_id; m.RequestID rides along as biz_opaque_callback_data,
// which WhatsApp echoes in the message's statuses. Errors are mapped as
// mapError says (the 24-hour window is a *connectors.PermanentError).
func (w *WhatsApp) Send(ctx context.Context, c connectors.Conn, m connectors.Outbound) (connectors.Delivery, error) {
	token, number := c.Settings[SettingAccessToken], c.Settings[SettingPhoneNumberID]
	if token == "" || number == "" {
		return connectors.Delivery{}, permanent(TypeWhatsApp, "send: the connection has no access token or phone number id (its number may have been bound to another line)")
	}
	if !waIDShape.MatchString(m.ChatID) {
		return connectors.Delivery{}, permanent(TypeWhatsApp, "send: chat id %q is not a WhatsApp id (the customer's number, digits)", m.ChatID)
	}
	parts, err := plan(TypeWhatsApp, m, waMaxText, waMaxCaption)
	if err != nil {
		return connectors.Delivery{}, err
	}
	callback := m.RequestID
	if len(callback) > waMaxCallback {
		callback = ""
	}
	var d connectors.Delivery
	for i := max(m.SentParts, 0); i < len(parts); i++ {
		body := map[string]any{
			"messaging_product": "whatsapp",
			"recipient_type":    "individual",
			"to":                strings.TrimPrefix(m.ChatID, "+"),
		}
		if callback != "" {
			body["biz_opaque_callback_data"] = callback
		}
		if i == 0 && m.ReplyTo != "" {
			body["context"] = map[string]string{"message_id": m.ReplyTo}
		}
		p := parts[i]
		if p.file == nil {
			body["type"] = "text"
			body["text"] = map[string]any{"body": p.text, "preview_url": false}
		} else {
			typ := mediaType(*p.file)
			media := map[string]string{"link": p.file.URL}
			if p.caption != "" {
				media["caption"] = p.caption
			}
			if typ == "document" && p.file.Name != "" {
				media["filename"] = p.file.Name
			}
			body["type"] = typ
			body[typ] = media
		}
		var ans waSendAnswer
		if err := w.g.call(ctx, "POST", "/"+url.PathEscape(number)+"/messages", token, body, &ans); err != nil {
			return d, mapError(ctx, TypeWhatsApp, "send", err)
		}
		if len(ans.Messages) == 0 || ans.Messages[0].ID == "" {
			return d, mapError(ctx, TypeWhatsApp, "send", errNoMessageID)
		}
		d.MessageIDs = append(d.MessageIDs, ans.Messages[0].ID)
	}
	return d, nil
}

// msgSendAnswer is the answer to POST /me/messages.
type msgSendAnswer struct {
	MessageID string `json:"message_id"`
}

// Send delivers m to the Messenger user (page-scoped id) or Instagram user
// (Instagram-scoped id) m.ChatID with POST /me/messages as a RESPONSE (the
// 24-hour standard messaging window): texts (split at 2000 characters on
// Messenger, 1000 on Instagram), then one attachment per file by URL. The
// Send API takes no reply context, so m.ReplyTo is not sent. Errors are
// mapped as mapError says (outside the window, code 10 / subcode 2018278,
// is a *connectors.PermanentError).
func (ms *Messaging) Send(ctx context.Context, c connectors.Conn, m connectors.Outbound) (connectors.Delivery, error) {
	ch := channels[ms.typ]
	token := c.Settings[ch.tokenKey]
	if token == "" {
		return connectors.Delivery{}, permanent(ms.typ, "send: the connection has no access token (its page or account may have been bound to another line)")
	}
	if !idShape.MatchString(m.ChatID) {
		return connectors.Delivery{}, permanent(ms.typ, "send: chat id %q is not a %s user id (digits)", m.ChatID, ch.title)
	}
	limit := messengerMaxText
	if ms.typ == TypeInstagram {
		limit = instagramMaxText
	}
	parts, err := plan(ms.typ, m, limit, 0)
	if err != nil {
		return connectors.Delivery{}, err
	}
	var d connectors.Delivery
	for i := max(m.SentParts, 0); i < len(parts); i++ {
		p := parts[i]
		var message map[string]any
		if p.file == nil {
			message = map[string]any{"text": p.text}
		} else {
			typ := mediaType(*p.file)
			if typ == "document" {
				typ = "file"
			}
			message = map[string]any{"attachment": map[string]any{"type": typ, "payload": map[string]any{"url": p.file.URL}}}
		}
		body := map[string]any{
			"recipient":      map[string]string{"id": m.ChatID},
			"messaging_type": "RESPONSE",
			"message":        message,
		}
		var ans msgSendAnswer
		if err := ms.g.call(ctx, "POST", "/me/messages", token, body, &ans); err != nil {
			return d, mapError(ctx, ms.typ, "send", err)
		}
		if ans.MessageID == "" {
			return d, mapError(ctx, ms.typ, "send", errNoMessageID)
		}
		d.MessageIDs = append(d.MessageIDs, ans.MessageID)
	}
	return d, nil
}

// Typing shows the typing indicator (sender_action typing_on) in the chat
// with chatID; Messenger and Instagram show it for about 20 seconds.
func (ms *Messaging) Typing(ctx context.Context, c connectors.Conn, chatID string) error {
	token := c.Settings[channels[ms.typ].tokenKey]
	if token == "" {
		return permanent(ms.typ, "typing: the connection has no access token")
	}
	if !idShape.MatchString(chatID) {
		return permanent(ms.typ, "typing: chat id %q is not a user id (digits)", chatID)
	}
	body := map[string]any{"recipient": map[string]string{"id": chatID}, "sender_action": "typing_on"}
	return mapError(ctx, ms.typ, "typing", ms.g.call(ctx, "POST", "/me/messages", token, body, nil))
}

// MarkRead tells WhatsApp that the agents read the customer's message
// messageID (its wamid): the customer sees blue ticks on it and on their
// earlier messages (POST /{phone-number-id}/messages, status "read").
func (w *WhatsApp) MarkRead(ctx context.Context, c connectors.Conn, chatID, messageID string) error {
	token, number := c.Settings[SettingAccessToken], c.Settings[SettingPhoneNumberID]
	if token == "" || number == "" {
		return permanent(TypeWhatsApp, "read: the connection has no access token or phone number id")
	}
	if messageID == "" {
		return permanent(TypeWhatsApp, "read: no message id (the wamid of the customer's message)")
	}
	body := map[string]any{"messaging_product": "whatsapp", "status": "read", "message_id": messageID}
	return mapError(ctx, TypeWhatsApp, "read", w.g.call(ctx, "POST", "/"+number+"/messages", token, body, nil))
}

// MarkRead shows the customer that the page or account has seen the
// conversation (sender_action mark_seen). Messenger and Instagram mark the
// whole conversation, not one message: messageID only has to be given.
func (ms *Messaging) MarkRead(ctx context.Context, c connectors.Conn, chatID, messageID string) error {
	token := c.Settings[channels[ms.typ].tokenKey]
	if token == "" {
		return permanent(ms.typ, "read: the connection has no access token")
	}
	if !idShape.MatchString(chatID) {
		return permanent(ms.typ, "read: chat id %q is not a user id (digits)", chatID)
	}
	body := map[string]any{"recipient": map[string]string{"id": chatID}, "sender_action": "mark_seen"}
	return mapError(ctx, ms.typ, "read", ms.g.call(ctx, "POST", "/me/messages", token, body, nil))
}
