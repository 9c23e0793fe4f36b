package meta_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/meta"
	"github.com/connector-gateway/connector/connectors/meta/metatest"
)

func messenger() *meta.Messaging { return meta.NewMessenger(meta.Options{}) }
func instagram() *meta.Messaging { return meta.NewInstagram(meta.Options{}) }

func page(items ...map[string]any) []byte {
	return metatest.MessagingWebhook("page", pageID, at, items...)
}

func ig(items ...map[string]any) []byte {
	return metatest.MessagingWebhook("instagram", accountID, at, items...)
}

const psid = metatest.CustomerPSID

func TestMessengerText(t *testing.T) {
	k := one(t, messenger(), page(metatest.MText(psid, pageID, "m_AbC1", "Is the shop open on Sunday?", at)))
	ev := k.Event
	if k.DedupeKey != "messenger:"+connID+":m_AbC1" || ev.ID != connectors.EventID(k.DedupeKey) {
		t.Fatalf("key %s", k.DedupeKey)
	}
	if ev.Type != connectors.TypeMessageCreated || ev.Connector != "messenger" || ev.Channel != "messenger" || !ev.OccurredAt.Equal(at) ||
		ev.Chat.ID != psid || ev.Chat.Type != "private" || ev.User.ID != psid || ev.Message.ID != "m_AbC1" || ev.Message.Text != "Is the shop open on Sunday?" {
		t.Fatalf("event %+v chat %+v message %+v", ev, ev.Chat, ev.Message)
	}
}

func TestMessagingKinds(t *testing.T) {
	cdn := "https://scontent.xx.fbcdn.net/v/t1.15752-9/photo.jpg?_nc_cat=1&oh=abc"
	cases := []struct {
		name string
		cn   *meta.Messaging
		body []byte
		typ  string
		key  string
		want connectors.Message
	}{
		{"quick reply", messenger(), page(metatest.MQuickReply(psid, pageID, "m_Q", "Yes please", "CONFIRM_YES", at)),
			connectors.TypeMessageCreated, "m_Q", connectors.Message{ID: "m_Q", Text: "Yes please", Payload: "CONFIRM_YES"}},
		{"reply", messenger(), page(metatest.MReply(psid, pageID, "m_R", "that one", "m_EARLIER", at)),
			connectors.TypeMessageCreated, "m_R", connectors.Message{ID: "m_R", Text: "that one", ReplyTo: "m_EARLIER"}},
		{"image", messenger(), page(metatest.MAttachment(psid, pageID, "m_I", "image", cdn, at)),
			connectors.TypeMessageCreated, "m_I", connectors.Message{ID: "m_I", Files: []connectors.File{{Kind: "photo", URL: cdn}}}},
		{"file", messenger(), page(metatest.MAttachment(psid, pageID, "m_F", "file", "https://cdn.fbsbx.com/v/t59/receipt.pdf?dl=1", at)),
			connectors.TypeMessageCreated, "m_F", connectors.Message{ID: "m_F", Files: []connectors.File{{Kind: "document", URL: "https://cdn.fbsbx.com/v/t59/receipt.pdf?dl=1"}}}},
		{"postback", messenger(), page(metatest.MPostback(psid, pageID, "m_P", "Talk to a human", "HUMAN", at)),
			connectors.TypeMessageCreated, "m_P", connectors.Message{ID: "m_P", Text: "Talk to a human", Payload: "HUMAN"}},
		{"story reply", instagram(), ig(metatest.IGStoryReply(metatest.CustomerIGSID, accountID, "aWdS", "love it", "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=1", at)),
			connectors.TypeMessageCreated, "aWdS", connectors.Message{ID: "aWdS", Text: "love it", Files: []connectors.File{{Kind: "story", Name: "story", URL: "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=1"}}}},
		{"story mention", instagram(), ig(metatest.IGStoryMention(metatest.CustomerIGSID, accountID, "aWdM", "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=2", at)),
			connectors.TypeMessageCreated, "aWdM", connectors.Message{ID: "aWdM", Files: []connectors.File{{Kind: "story_mention", URL: "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=2"}}}},
		{"instagram unsend", instagram(), ig(metatest.IGUnsend(metatest.CustomerIGSID, accountID, "aWdD", at)),
			connectors.TypeMessageDeleted, "aWdD:deleted", connectors.Message{ID: "aWdD"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			k := one(t, tc.cn, tc.body)
			typ := tc.cn.Describe().Type
			if k.Event.Type != tc.typ || k.DedupeKey != typ+":"+connID+":"+tc.key || k.Event.Connector != typ {
				t.Fatalf("type %s key %s", k.Event.Type, k.DedupeKey)
			}
			if !reflect.DeepEqual(*k.Event.Message, tc.want) {
				t.Fatalf("message\n got %+v\nwant %+v", *k.Event.Message, tc.want)
			}
		})
	}
}

func TestMessengerEdit(t *testing.T) {
	k := one(t, messenger(), page(metatest.MEdit(psid, pageID, "m_E", "Sunday, not Saturday", 2, at)))
	if k.Event.Type != connectors.TypeMessageUpdated || k.DedupeKey != "messenger:"+connID+":m_E:edit:2" ||
		k.Event.Message.ID != "m_E" || k.Event.Message.Text != "Sunday, not Saturday" || k.Event.Message.EditedAt == nil || !k.Event.Message.EditedAt.Equal(at) {
		t.Fatalf("edit %+v %+v", k, k.Event.Message)
	}
}

func TestMessagingStatuses(t *testing.T) {
	evs := parse(t, messenger(), page(metatest.MDelivery(psid, pageID, at, "m_OUT1", "m_OUT2")))
	if len(evs) != 2 || evs[0].Event.Type != connectors.TypeStatusDelivered || evs[0].DedupeKey != "messenger:"+connID+":m_OUT1:status:delivered" ||
		!reflect.DeepEqual(evs[1].Event.Status.MessengerMessageIDs, []string{"m_OUT2"}) {
		t.Fatalf("delivery events %+v", evs)
	}
	k := one(t, messenger(), page(metatest.MRead(psid, pageID, at)))
	if k.Event.Type != connectors.TypeStatusRead || k.Event.Chat.ID != psid || !k.Event.OccurredAt.Equal(at) || k.Event.Status == nil ||
		!strings.HasPrefix(k.DedupeKey, "messenger:"+connID+":"+psid+":read:") {
		t.Fatalf("read event %+v", k)
	}
	k = one(t, instagram(), ig(metatest.IGRead(metatest.CustomerIGSID, accountID, "aWdOUT", at)))
	if k.Event.Type != connectors.TypeStatusRead || k.DedupeKey != "instagram:"+connID+":aWdOUT:status:read" ||
		!reflect.DeepEqual(k.Supersedes, []string{"instagram:" + connID + ":aWdOUT:status:delivered"}) {
		t.Fatalf("instagram read %+v", k)
	}
}

func TestMessagingSkips(t *testing.T) {
	skipped := page(
		metatest.MEcho(pageID, psid, "m_ECHO", "our own answer", at),
		map[string]any{"sender": map[string]any{"id": psid}, "recipient": map[string]any{"id": pageID}, "timestamp": at.UnixMilli(),
			"reaction": map[string]any{"mid": "m_X", "action": "react", "emoji": "❤"}},
		map[string]any{"sender": map[string]any{"id": psid}, "recipient": map[string]any{"id": pageID}, "timestamp": at.UnixMilli(),
			"optin": map[string]any{"type": "notification_messages"}},
	)
	if evs := parse(t, messenger(), skipped); len(evs) != 0 {
		t.Fatalf("skipped items made %d events: %+v", len(evs), evs)
	}
	// Instagram marks no echo flag on some deliveries of the account's own
	// messages: the sender is the account itself.
	own := ig(metatest.MText(accountID, metatest.CustomerIGSID, "aWdOWN", "our own answer", at))
	if evs := parse(t, instagram(), own); len(evs) != 0 {
		t.Fatalf("the account's own message made %d events", len(evs))
	}
	// Another page's entry (one app, several pages) is not this connection's.
	other := metatest.MessagingWebhook("page", "999", at, metatest.MText(psid, "999", "m_OTHER", "hi", at))
	if evs := parse(t, messenger(), other); len(evs) != 0 {
		t.Fatalf("another page's message made %d events", len(evs))
	}
	// Messenger's body is not Instagram's.
	if _, err := instagram().Parse(t.Context(), conn(t, instagram()), post(page(metatest.MText(psid, pageID, "m_1", "hi", at)), appSecret)); err == nil {
		t.Fatal("instagram accepted a page webhook")
	}
}
