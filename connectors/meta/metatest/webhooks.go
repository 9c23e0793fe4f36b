package metatest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// SignatureHeader is the header Meta signs webhook POSTs in.
const SignatureHeader = "X-Hub-Signature-256"

// Sign returns the X-Hub-Signature-256 value Meta sends with body:
// "sha256=" and the lower-case hex HMAC-SHA256 of the raw body, keyed with
// the app secret.
func Sign(appSecret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(appSecret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Header is the headers of a webhook POST as Meta sends it, signed with
// appSecret ("" leaves the signature out).
func Header(appSecret string, body []byte) http.Header {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "facebookexternalua")
	if appSecret != "" {
		h.Set(SignatureHeader, Sign(appSecret, body))
	}
	return h
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func unix(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

// --- WhatsApp -------------------------------------------------------------

// Customer is the default WhatsApp user of the builders.
const (
	CustomerWaID = "4915112345678"
	CustomerName = "Ann Berg"
)

// WAValue is one change's value: a phone number's messages and statuses,
// with the senders' profiles.
type WAValue struct {
	PhoneNumberID string
	Display       string
	Contacts      map[string]string // wa_id -> profile name
	Messages      []map[string]any
	Statuses      []map[string]any
}

// WhatsAppWebhook is a whatsapp_business_account webhook body with one
// entry for waba and one "messages" change per value.
func WhatsAppWebhook(waba string, values ...WAValue) []byte {
	var changes []any
	for _, v := range values {
		val := map[string]any{
			"messaging_product": "whatsapp",
			"metadata":          map[string]any{"display_phone_number": v.Display, "phone_number_id": v.PhoneNumberID},
		}
		if len(v.Contacts) > 0 {
			var cs []any
			for id, name := range v.Contacts {
				cs = append(cs, map[string]any{"profile": map[string]any{"name": name}, "wa_id": id})
			}
			val["contacts"] = cs
		}
		if len(v.Messages) > 0 {
			val["messages"] = v.Messages
		}
		if len(v.Statuses) > 0 {
			val["statuses"] = v.Statuses
		}
		changes = append(changes, map[string]any{"value": val, "field": "messages"})
	}
	return mustJSON(map[string]any{"object": "whatsapp_business_account", "entry": []any{map[string]any{"id": waba, "changes": changes}}})
}

// WAMessages is WhatsAppWebhook with one value holding msgs from the
// default customer to number.
func WAMessages(waba, number string, msgs ...map[string]any) []byte {
	return WhatsAppWebhook(waba, WAValue{PhoneNumberID: number, Display: "15550001111", Contacts: map[string]string{CustomerWaID: CustomerName}, Messages: msgs})
}

// WAStatuses is WhatsAppWebhook with one value holding statuses.
func WAStatuses(waba, number string, statuses ...map[string]any) []byte {
	return WhatsAppWebhook(waba, WAValue{PhoneNumberID: number, Display: "15550001111", Statuses: statuses})
}

// WAMessage is an incoming message of the given type from the default
// customer; content is the object under the type's key (nil for none).
func WAMessage(wamid, typ string, at time.Time, content any) map[string]any {
	m := map[string]any{"from": CustomerWaID, "id": wamid, "timestamp": unix(at), "type": typ}
	if content != nil {
		m[typ] = content
	}
	return m
}

// WAText is a text message.
func WAText(wamid, text string, at time.Time) map[string]any {
	return WAMessage(wamid, "text", at, map[string]any{"body": text})
}

// WAReply is a text message answering an earlier message (context).
func WAReply(wamid, text, replyTo string, at time.Time) map[string]any {
	m := WAText(wamid, text, at)
	m["context"] = map[string]any{"from": "15550001111", "id": replyTo}
	return m
}

// WAMedia is an image, audio, video, document or sticker message carrying
// a media id (caption and filename may be empty).
func WAMedia(wamid, typ, mediaID, mime, caption, filename string, at time.Time) map[string]any {
	c := map[string]any{"id": mediaID, "mime_type": mime, "sha256": "Yjc2ZmFrZQ=="}
	if caption != "" {
		c["caption"] = caption
	}
	if filename != "" {
		c["filename"] = filename
	}
	if typ == "audio" {
		c["voice"] = true
	}
	if typ == "sticker" {
		c["animated"] = false
	}
	return WAMessage(wamid, typ, at, c)
}

// WALocation is a shared location.
func WALocation(wamid string, lat, lon float64, name, address string, at time.Time) map[string]any {
	return WAMessage(wamid, "location", at, map[string]any{"latitude": lat, "longitude": lon, "name": name, "address": address})
}

// WAContacts is a shared contact card.
func WAContacts(wamid, name, phone string, at time.Time) map[string]any {
	m := WAMessage(wamid, "contacts", at, nil)
	m["contacts"] = []any{map[string]any{
		"name":   map[string]any{"formatted_name": name, "first_name": name},
		"phones": []any{map[string]any{"phone": phone, "type": "CELL", "wa_id": "1" + phone}},
	}}
	return m
}

// WAButtonReply is a reply button the customer pressed.
func WAButtonReply(wamid, id, title string, at time.Time) map[string]any {
	return WAMessage(wamid, "interactive", at, map[string]any{"type": "button_reply", "button_reply": map[string]any{"id": id, "title": title}})
}

// WAListReply is a list row the customer picked.
func WAListReply(wamid, id, title, description string, at time.Time) map[string]any {
	return WAMessage(wamid, "interactive", at, map[string]any{"type": "list_reply", "list_reply": map[string]any{"id": id, "title": title, "description": description}})
}

// WATemplateButton is a quick-reply button of a template message.
func WATemplateButton(wamid, text, payload string, at time.Time) map[string]any {
	return WAMessage(wamid, "button", at, map[string]any{"text": text, "payload": payload})
}

// WAReaction is a reaction to an earlier message.
func WAReaction(wamid, toMessage, emoji string, at time.Time) map[string]any {
	return WAMessage(wamid, "reaction", at, map[string]any{"message_id": toMessage, "emoji": emoji})
}

// WAStatus is a status of a message the business sent (sent, delivered,
// read), with the biz_opaque_callback_data it was sent with.
func WAStatus(wamid, status, callback string, at time.Time) map[string]any {
	s := map[string]any{"id": wamid, "status": status, "timestamp": unix(at), "recipient_id": CustomerWaID}
	if callback != "" {
		s["biz_opaque_callback_data"] = callback
	}
	if status != "read" {
		s["conversation"] = map[string]any{"id": "CONVERSATION_ID", "origin": map[string]any{"type": "service"}}
		s["pricing"] = map[string]any{"billable": true, "pricing_model": "PMP", "category": "service"}
	}
	return s
}

// WAFailed is a failed status with one error.
func WAFailed(wamid, callback string, code int, title, details string, at time.Time) map[string]any {
	s := WAStatus(wamid, "failed", callback, at)
	s["errors"] = []any{map[string]any{"code": code, "title": title, "message": title, "error_data": map[string]any{"details": details},
		"href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"}}
	return s
}

// --- Messenger and Instagram ---------------------------------------------

// Customer ids on Messenger (page-scoped) and Instagram (IG-scoped).
const (
	CustomerPSID  = "6012345678901234"
	CustomerIGSID = "1780012345678901"
)

// MessagingWebhook is a Messenger ("page") or Instagram ("instagram")
// webhook body with one entry for the page or account holding items.
func MessagingWebhook(object, ownerID string, at time.Time, items ...map[string]any) []byte {
	return mustJSON(map[string]any{"object": object, "entry": []any{map[string]any{"id": ownerID, "time": at.UnixMilli(), "messaging": items}}})
}

func item(sender, recipient string, at time.Time, key string, v any) map[string]any {
	return map[string]any{"sender": map[string]any{"id": sender}, "recipient": map[string]any{"id": recipient}, "timestamp": at.UnixMilli(), key: v}
}

// MText is a text message from sender to the page or account.
func MText(sender, owner, mid, text string, at time.Time) map[string]any {
	return item(sender, owner, at, "message", map[string]any{"mid": mid, "text": text})
}

// MQuickReply is a text message sent by tapping a quick reply.
func MQuickReply(sender, owner, mid, text, payload string, at time.Time) map[string]any {
	return item(sender, owner, at, "message", map[string]any{"mid": mid, "text": text, "quick_reply": map[string]any{"payload": payload}})
}

// MReply is a text message answering an earlier message.
func MReply(sender, owner, mid, text, replyTo string, at time.Time) map[string]any {
	return item(sender, owner, at, "message", map[string]any{"mid": mid, "text": text, "reply_to": map[string]any{"mid": replyTo}})
}

// MAttachment is a message with one attachment (image, video, audio,
// file...) at a CDN URL.
func MAttachment(sender, owner, mid, typ, url string, at time.Time) map[string]any {
	return item(sender, owner, at, "message", map[string]any{"mid": mid, "attachments": []any{map[string]any{"type": typ, "payload": map[string]any{"url": url}}}})
}

// MEcho is the echo of a message the page itself sent.
func MEcho(owner, recipient, mid, text string, at time.Time) map[string]any {
	return item(owner, recipient, at, "message", map[string]any{"mid": mid, "text": text, "is_echo": true, "app_id": 1517776481860111})
}

// MEdit is an edit of an earlier message.
func MEdit(sender, owner, mid, text string, numEdit int, at time.Time) map[string]any {
	return item(sender, owner, at, "message_edit", map[string]any{"mid": mid, "text": text, "num_edit": numEdit})
}

// MDelivery is Messenger's delivery report for mids.
func MDelivery(sender, owner string, watermark time.Time, mids ...string) map[string]any {
	d := map[string]any{"watermark": watermark.UnixMilli()}
	if len(mids) > 0 {
		d["mids"] = mids
	}
	return item(sender, owner, watermark, "delivery", d)
}

// MRead is Messenger's read report: everything up to watermark.
func MRead(sender, owner string, watermark time.Time) map[string]any {
	return item(sender, owner, watermark, "read", map[string]any{"watermark": watermark.UnixMilli()})
}

// IGRead is Instagram's read report (messaging_seen), naming the message.
func IGRead(sender, owner, mid string, at time.Time) map[string]any {
	return item(sender, owner, at, "read", map[string]any{"mid": mid})
}

// MPostback is a tapped postback button.
func MPostback(sender, owner, mid, title, payload string, at time.Time) map[string]any {
	return item(sender, owner, at, "postback", map[string]any{"mid": mid, "title": title, "payload": payload})
}

// IGStoryReply is a reply to the account's story.
func IGStoryReply(sender, owner, mid, text, storyURL string, at time.Time) map[string]any {
	return item(sender, owner, at, "message", map[string]any{"mid": mid, "text": text,
		"reply_to": map[string]any{"story": map[string]any{"url": storyURL, "id": "17900000000000001"}}})
}

// IGStoryMention is a mention of the account in the sender's story.
func IGStoryMention(sender, owner, mid, storyURL string, at time.Time) map[string]any {
	return MAttachment(sender, owner, mid, "story_mention", storyURL, at)
}

// IGUnsend is Instagram's report that the sender deleted a message.
func IGUnsend(sender, owner, mid string, at time.Time) map[string]any {
	return item(sender, owner, at, "message", map[string]any{"mid": mid, "is_deleted": true})
}

// Handshake is the query of Meta's verification GET.
func Handshake(verifyToken, challenge string) string {
	return url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {verifyToken}, "hub.challenge": {challenge}}.Encode()
}
