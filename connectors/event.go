// Package connectors holds the normalized event model every channel produces,
// the Connector contract each channel implements, and the Registry that maps a
// connector type to its implementation.
package connectors

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// Event types. The set is closed per protocol version; portals must ignore
// types they do not know.
const (
	// A messenger user wrote a message.
	TypeMessageCreated = "message.created"
	// A messenger user edited an earlier message (same message.id).
	TypeMessageUpdated = "message.updated"
	// A messenger user deleted an earlier message (message.id only).
	TypeMessageDeleted = "message.deleted"
	// An outbound request reached the messenger; status.messenger_message_id
	// is the id later edits and deletions refer to.
	TypeStatusDelivered = "status.delivered"
	// The messenger reports the user read the message (where it tells).
	TypeStatusRead = "status.read"
	// An outbound request could not be delivered; status.error says why.
	TypeStatusFailed = "status.failed"
	// The connection's bot was bound to another line; this line lost it.
	TypeConnectionEmergency = "connection.emergency"
	// The connection stopped working (revoked token, webhook removed...).
	TypeConnectionError = "connection.error"
	// The connection test checks the portal's webhook: portals acknowledge
	// it (2xx) and ignore it. It is sent directly, never queued.
	TypePing = "ping"
	// A conversation began in a chat the channel opened for it (a room
	// handed out from a pool); conversation.state is "active".
	TypeConversationOpened = "conversation.opened"
	// That conversation ended (closed by the portal or timed out);
	// conversation.state is "closed".
	TypeConversationClosed = "conversation.closed"
)

// Call event types, for channels that carry phone calls (Twilio). Each
// event carries a Call; events of one call arrive in this order, with gaps
// allowed (a call may go from initiated straight to completed), and one of
// call.completed / call.failed closes every call. A late event of an
// earlier step is dropped, so a call never moves backward.
const (
	// A call was placed or came in (Twilio: queued, initiated).
	TypeCallInitiated = "call.initiated"
	// The called side is ringing.
	TypeCallRinging = "call.ringing"
	// The call was answered (Twilio: in-progress, answered).
	TypeCallAnswered = "call.answered"
	// The call ended after it was answered; call.duration_seconds is set.
	TypeCallCompleted = "call.completed"
	// The call ended unanswered: call.status says how (busy, no-answer,
	// failed, canceled).
	TypeCallFailed = "call.failed"
	// A recording of the call (a voicemail) is ready at call.recording_url.
	TypeCallRecorded = "call.recorded"
)

// Event is the one JSON shape every channel is normalized into. It is what a
// portal receives inside a batch. Field names are part of the public protocol
// (docs/protocol.md) and must not change meaning.
type Event struct {
	// ID is stable across every delivery attempt and every messenger retry of
	// the same update: portals use it as their dedupe key. See EventID.
	ID string `json:"id"`
	// Type is one of the Type* constants.
	Type string `json:"type"`
	// OccurredAt is when the messenger says it happened (UTC, RFC 3339).
	OccurredAt time.Time `json:"occurred_at"`
	// Connector is the connector type that produced the event ("telegram").
	Connector string `json:"connector"`
	// Channel is the virtual channel; equal to Connector unless one connector
	// carries several networks (e.g. "botframework.skype").
	Channel string `json:"channel"`
	// Connection is the id of the gateway connection (bot binding) the event
	// came through. Replies are sent to this connection.
	Connection string `json:"connection"`
	// Line is the portal line the connection is bound to.
	Line string `json:"line"`
	// Chat is the conversation on the messenger side.
	Chat *Chat `json:"chat,omitempty"`
	// User is the messenger user who acted (absent for status events).
	User *User `json:"user,omitempty"`
	// Message is set for message.* events.
	Message *Message `json:"message,omitempty"`
	// Status is set for status.* events.
	Status *Status `json:"status,omitempty"`
	// Call is set for call.* events.
	Call *Call `json:"call,omitempty"`
	// Error is set for connection.* events.
	Error *ErrorInfo `json:"error,omitempty"`
	// Conversation is set for conversation.* events.
	Conversation *Conversation `json:"conversation,omitempty"`
}

// Conversation is the lifecycle of one conversation in a chat a channel
// opens per conversation (chat.id names the chat).
type Conversation struct {
	// State is "active" or "closed".
	State string `json:"state"`
	// OpenedAt is when it became active; ClosedAt when it closed.
	OpenedAt time.Time  `json:"opened_at"`
	ClosedAt *time.Time `json:"closed_at,omitempty"`
	// Reason says why it closed: "portal" or "timeout".
	Reason string `json:"reason,omitempty"`
}

// Chat identifies a conversation on the messenger. ID is opaque to portals and
// is what they pass back when replying.
type Chat struct {
	ID string `json:"id"`
	// Type is "private", "group", "supergroup", "channel" or "thread"
	// (the messenger's own word where it has one).
	Type  string `json:"type"`
	Title string `json:"title,omitempty"`
}

// User is a messenger user as far as the messenger tells.
type User struct {
	ID       string `json:"id"`
	Name     string `json:"name,omitempty"`
	Username string `json:"username,omitempty"`
	// Email is an address the user gave (the web chat's pre-chat form); the
	// gateway checks only its shape.
	Email    string `json:"email,omitempty"`
	Language string `json:"language,omitempty"`
	// AvatarURL is a gateway link (signed, expiring) where the messenger's own
	// link would carry a secret.
	AvatarURL string `json:"avatar_url,omitempty"`
	// ProfileHash changes exactly when a profile field above changes, so a
	// portal can skip profile updates cheaply.
	ProfileHash string `json:"profile_hash,omitempty"`
}

// Message is the content of a message.* event.
type Message struct {
	// ID is the messenger's message id, as a string.
	ID string `json:"id"`
	// Text is plain text (UTF-8); markup is converted as docs/protocol.md says.
	Text string `json:"text,omitempty"`
	// ReplyTo is the messenger message id this message answers, if any.
	ReplyTo string `json:"reply_to,omitempty"`
	// Forwarded is true when the user forwarded someone else's message.
	Forwarded bool       `json:"forwarded,omitempty"`
	Files     []File     `json:"files,omitempty"`
	Location  *Location  `json:"location,omitempty"`
	EditedAt  *time.Time `json:"edited_at,omitempty"`

	// Payload is the machine-readable value of the button, list entry or
	// quick reply the user picked (Text is then its visible title), on
	// channels that have them (WhatsApp interactive replies, Messenger and
	// Instagram postbacks and quick replies).
	Payload string `json:"payload,omitempty"`
}

// File is always a link the portal can fetch; never a messenger URL that
// carries a secret.
type File struct {
	Name string `json:"name,omitempty"`
	Mime string `json:"mime,omitempty"`
	Size int64  `json:"size,omitempty"`
	URL  string `json:"url,omitempty"`
	// Kind is "photo", "document", "audio", "voice", "video", "sticker"...
	Kind string `json:"kind,omitempty"`
	// TooLarge is set when the messenger will not let the gateway download
	// the file (URL is then empty).
	TooLarge bool `json:"too_large,omitempty"`
}

// Location is a point shared by the user.
type Location struct {
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
	Title     string  `json:"title,omitempty"`
	Address   string  `json:"address,omitempty"`
}

// Status reports the outcome of an outbound request made through the API.
type Status struct {
	// RequestID is the id the API answered with (202) for the request.
	RequestID string `json:"request_id"`
	// Operation is "send", "edit", "delete" or "read".
	Operation string `json:"operation"`
	// MessengerMessageIDs are the ids the messenger gave the sent message
	// (several when a long text was split).
	MessengerMessageIDs []string `json:"messenger_message_ids,omitempty"`
	// Error says why a status.failed request failed, in plain words.
	Error string `json:"error,omitempty"`
	// Attempts is how many times the gateway tried.
	Attempts int `json:"attempts"`
}

// Call is one phone call leg as a call.* event reports it. The gateway
// carries no audio; it tells what happened to the call.
type Call struct {
	// ID is the messenger's call id (Twilio's CallSid).
	ID string `json:"id"`
	// ParentID is the id of the call this leg was dialled from (a forwarded
	// call's leg to the agent), "" for the customer's own call.
	ParentID string `json:"parent_id,omitempty"`
	From     string `json:"from"`
	To       string `json:"to"`
	// Direction is "inbound", "outbound-dial" (a leg the gateway's
	// answer dialled) or "outbound-api".
	Direction string `json:"direction,omitempty"`
	// Status is the messenger's own word for the step ("ringing",
	// "in-progress", "busy", "no-answer"...).
	Status string `json:"status"`
	// AnsweredBy says who answered when the messenger tells ("human",
	// "machine_start"...).
	AnsweredBy string `json:"answered_by,omitempty"`
	// DurationSeconds is the call's length once it ended (or a
	// recording's length on call.recorded).
	DurationSeconds int `json:"duration_seconds,omitempty"`
	// RecordingURL is a gateway link (signed, expiring) to a recording.
	RecordingURL string `json:"recording_url,omitempty"`
}

// ErrorInfo explains a connection.* event.
type ErrorInfo struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// EventID derives a stable event id from a dedupe key, so the same messenger
// update always yields the same id, whichever process or attempt handles it.
func EventID(dedupeKey string) string {
	sum := sha256.Sum256([]byte(dedupeKey))
	return "evt_" + hex.EncodeToString(sum[:16])
}
