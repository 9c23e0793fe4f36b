package chatwoot

import (
	"encoding/hex"
	"testing"
)

// The signature matches one computed outside Go (Python's hmac, as
// Chatwoot's OpenSSL::HMAC.hexdigest('SHA256', secret, "ts.body")), so a
// change in what is signed fails here.
func TestSignMatchesAFixedVector(t *testing.T) {
	got := hex.EncodeToString(Sign("whsec-test-vector", "1764633600", []byte(`{"event":"message_created","id":5}`)))
	if want := "07cf4df5fdf23210c07bc0dd694cd2aabbae059ac3be579787e2c5cd9cd6c602"; got != want {
		t.Fatalf("signature %s, want %s", got, want)
	}
}

func TestDecodeWebhook(t *testing.T) {
	for _, c := range []struct {
		name, body string
		ok         bool
		check      func(w webhook) bool
	}{
		{"agent reply", `{"event":"message_created","id":101,"content":"Hi","message_type":"outgoing","private":false,
			"conversation":{"id":4,"inbox_id":7},"inbox":{"id":7,"name":"G"},"account":{"id":3},"sender":{"type":"user"},
			"attachments":[{"data_url":"https://cw/f.png","file_type":"image"}]}`, true,
			func(w webhook) bool {
				return w.ID == "101" && w.MessageType == "outgoing" && w.Conversation.ID == "4" && w.Inbox.ID == "7" &&
					w.Account.ID == "3" && len(w.Attachments) == 1 && w.Attachments[0].DataURL == "https://cw/f.png"
			}},
		{"numbered message type and string ids", `{"event":"message_created","id":"9","message_type":1,"conversation":{"id":"2"}}`, true,
			func(w webhook) bool { return w.ID == "9" && w.MessageType == "outgoing" && w.Conversation.ID == "2" }},
		{"deletion", `{"event":"message_updated","id":9,"message_type":"outgoing","content_attributes":{"deleted":true,"in_reply_to":null}}`, true,
			func(w webhook) bool { return w.Attrs.Deleted && w.Attrs.InReplyTo == "" }},
		{"other event", `{"event":"conversation_status_changed","id":4,"status":"resolved"}`, true,
			func(w webhook) bool { return w.Event == "conversation_status_changed" }},
		{"no event", `{"id":1}`, false, nil},
		{"not JSON", `<html>`, false, nil},
		{"id not a number", `{"event":"message_created","id":{"x":1}}`, false, nil},
		{"message type object", `{"event":"message_created","message_type":{}}`, false, nil},
	} {
		w, err := decodeWebhook([]byte(c.body))
		if (err == nil) != c.ok {
			t.Errorf("%s: err %v", c.name, err)
			continue
		}
		if c.ok && !c.check(w) {
			t.Errorf("%s: decoded %+v", c.name, w)
		}
	}
}

// Callback bodies are untrusted input (signed only when a secret is set).
func FuzzDecodeWebhook(f *testing.F) {
	f.Add([]byte(`{"event":"message_created","id":101,"content":"Hi","message_type":"outgoing","conversation":{"id":4}}`))
	f.Add([]byte(`{"event":"message_updated","id":"9","message_type":1,"content_attributes":{"deleted":true}}`))
	f.Add([]byte(`{"event":"x","id":1e400}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		w, err := decodeWebhook(body)
		if err == nil && w.Event == "" {
			t.Fatal("decoded a callback without an event name")
		}
	})
}
