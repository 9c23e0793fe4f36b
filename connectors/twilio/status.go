package twilio

import (
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/connector-gateway/connector/connectors"
)

// statusKey is the dedupe key of one status of one outbound message.
func statusKey(c connectors.Conn, sid, status string) string {
	return connectors.DedupeKey(Type, c.ID, sid, "status", status)
}

// parseStatus turns a message status callback into a status event for the
// portal request named in the callback URL:
//
//	delivered            → status.delivered
//	read                 → status.read (supersedes delivered and sent)
//	failed, undelivered  → status.failed with ErrorCode in plain words
//	queued, accepted, scheduled, sending, sent, receiving, received,
//	canceled, partially_delivered → nothing (the gateway already reported
//	    the request as delivered when Twilio accepted it)
//
// A callback without a request id (a status callback set on the number or
// a Messaging Service by hand) is not about a portal request: nothing.
func parseStatus(c connectors.Conn, requestID string, f url.Values) (connectors.Inbound, error) {
	sid, status := f.Get("MessageSid"), f.Get("MessageStatus")
	if status == "" {
		status = f.Get("SmsStatus")
	}
	if sid == "" || status == "" {
		return connectors.Inbound{}, fmt.Errorf("twilio: status callback without MessageSid or MessageStatus: %w", connectors.ErrMalformed)
	}
	out := connectors.Inbound{Response: twiml(emptyTwiML)}
	if requestID == "" {
		return out, nil
	}
	var typ, reason string
	var supersedes []string
	switch status {
	case "delivered":
		typ = connectors.TypeStatusDelivered
		supersedes = []string{statusKey(c, sid, "sent")}
	case "read":
		typ = connectors.TypeStatusRead
		supersedes = []string{statusKey(c, sid, "delivered"), statusKey(c, sid, "sent")}
	case "failed", "undelivered":
		typ = connectors.TypeStatusFailed
		code, _ := strconv.Atoi(f.Get("ErrorCode"))
		reason = "twilio: " + status + ": " + describeCode(code, f.Get("ErrorMessage"))
		supersedes = []string{statusKey(c, sid, "sent")}
	default:
		return out, nil
	}
	key := statusKey(c, sid, status)
	ev := base(c, key, typ, channelOf(f.Get("To")), time.Now())
	ev.Chat = &connectors.Chat{ID: f.Get("To")}
	ev.Status = &connectors.Status{RequestID: requestID, Operation: "send", MessengerMessageIDs: []string{sid}, Error: reason}
	out.Events = []connectors.Keyed{{DedupeKey: key, Event: ev, Supersedes: supersedes}}
	return out, nil
}
