package connectors

import "context"

// Read is a portal's report that an agent read a customer's message:
// MessageID is the message's id as the portal received it (message.id of a
// message.created event).
type Read struct {
	ChatID    string `json:"chat_id"`
	MessageID string `json:"message_id"`
}

// ReadMarker is a connector that can show the customer that an agent read
// their message. Connectors whose messenger offers bots no read receipt
// (Telegram, Slack) do not implement it, and the portal API answers such a
// request with 422 unsupported. An error has the meaning Send's errors
// have (transient, PermanentError, RateLimitedError).
type ReadMarker interface {
	MarkRead(ctx context.Context, c Conn, chatID, messageID string) error
}
