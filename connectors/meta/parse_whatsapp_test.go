package meta_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/meta"
	"github.com/connector-gateway/connector/connectors/meta/metatest"
)

func wa() *meta.WhatsApp { return meta.NewWhatsApp(meta.Options{}) }

func TestWhatsAppText(t *testing.T) {
	k := one(t, wa(), metatest.WAMessages(wabaID, numberID, metatest.WAText("wamid.HBgLTEXT", "Does it come in blue?", at)))
	ev := k.Event
	wantKey := "whatsapp:" + connID + ":wamid.HBgLTEXT"
	if k.DedupeKey != wantKey || ev.ID != connectors.EventID(wantKey) {
		t.Fatalf("key %q id %q", k.DedupeKey, ev.ID)
	}
	if ev.Type != connectors.TypeMessageCreated || ev.Connector != "whatsapp" || ev.Channel != "whatsapp" || ev.Connection != connID || ev.Line != lineID || !ev.OccurredAt.Equal(at) {
		t.Fatalf("event %+v", ev)
	}
	if ev.Chat.ID != metatest.CustomerWaID || ev.Chat.Type != "private" || ev.User.ID != metatest.CustomerWaID || ev.User.Name != metatest.CustomerName {
		t.Fatalf("chat %+v user %+v", ev.Chat, ev.User)
	}
	if ev.Message.ID != "wamid.HBgLTEXT" || ev.Message.Text != "Does it come in blue?" {
		t.Fatalf("message %+v", ev.Message)
	}
}

func TestWhatsAppKinds(t *testing.T) {
	cases := []struct {
		name string
		msg  map[string]any
		want connectors.Message
	}{
		{"reply", metatest.WAReply("wamid.R", "this one", "wamid.EARLIER", at),
			connectors.Message{ID: "wamid.R", Text: "this one", ReplyTo: "wamid.EARLIER"}},
		{"image", metatest.WAMedia("wamid.I", "image", "1111", "image/jpeg", "the box", "", at),
			connectors.Message{ID: "wamid.I", Text: "the box", Files: []connectors.File{{Name: "photo.jpg", Mime: "image/jpeg", Kind: "photo",
				URL: "https://gw.example.com/files/media:1111?mime=image%2Fjpeg&name=photo.jpg"}}}},
		{"voice", metatest.WAMedia("wamid.V", "audio", "2222", "audio/ogg; codecs=opus", "", "", at),
			connectors.Message{ID: "wamid.V", Files: []connectors.File{{Name: "voice.ogg", Mime: "audio/ogg; codecs=opus", Kind: "voice",
				URL: "https://gw.example.com/files/media:2222?mime=audio%2Fogg%3B+codecs%3Dopus&name=voice.ogg"}}}},
		{"video", metatest.WAMedia("wamid.VI", "video", "3333", "video/mp4", "", "", at),
			connectors.Message{ID: "wamid.VI", Files: []connectors.File{{Name: "video.mp4", Mime: "video/mp4", Kind: "video",
				URL: "https://gw.example.com/files/media:3333?mime=video%2Fmp4&name=video.mp4"}}}},
		{"document", metatest.WAMedia("wamid.D", "document", "4444", "application/pdf", "invoice", "INV-1042.pdf", at),
			connectors.Message{ID: "wamid.D", Text: "invoice", Files: []connectors.File{{Name: "INV-1042.pdf", Mime: "application/pdf", Kind: "document",
				URL: "https://gw.example.com/files/media:4444?mime=application%2Fpdf&name=INV-1042.pdf"}}}},
		{"sticker", metatest.WAMedia("wamid.S", "sticker", "5555", "image/webp", "", "", at),
			connectors.Message{ID: "wamid.S", Files: []connectors.File{{Name: "sticker.webp", Mime: "image/webp", Kind: "sticker",
				URL: "https://gw.example.com/files/media:5555?mime=image%2Fwebp&name=sticker.webp"}}}},
		{"location", metatest.WALocation("wamid.L", 52.52, 13.405, "Acme HQ", "Unter den Linden 1, Berlin", at),
			connectors.Message{ID: "wamid.L", Location: &connectors.Location{Latitude: 52.52, Longitude: 13.405, Title: "Acme HQ", Address: "Unter den Linden 1, Berlin"}}},
		{"contacts", metatest.WAContacts("wamid.C", "Bob Stone", "+49 30 1234567", at),
			connectors.Message{ID: "wamid.C", Text: "Shared contact: Bob Stone +49 30 1234567"}},
		{"button reply", metatest.WAButtonReply("wamid.B", "order-status", "Where is my order?", at),
			connectors.Message{ID: "wamid.B", Text: "Where is my order?", Payload: "order-status"}},
		{"list reply", metatest.WAListReply("wamid.LR", "size-m", "Medium", "chest 96-101 cm", at),
			connectors.Message{ID: "wamid.LR", Text: "Medium", Payload: "size-m"}},
		{"template button", metatest.WATemplateButton("wamid.TB", "Stop promotions", "STOP", at),
			connectors.Message{ID: "wamid.TB", Text: "Stop promotions", Payload: "STOP"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			k := one(t, wa(), metatest.WAMessages(wabaID, numberID, tc.msg))
			if !reflect.DeepEqual(*k.Event.Message, tc.want) {
				got, _ := json.Marshal(k.Event.Message)
				want, _ := json.Marshal(tc.want)
				t.Fatalf("message\n got %s\nwant %s", got, want)
			}
		})
	}
}

func TestWhatsAppSkips(t *testing.T) {
	skipped := []map[string]any{
		metatest.WAReaction("wamid.RX", "wamid.EARLIER", "👍", at),
		metatest.WAMessage("wamid.U", "unsupported", at, map[string]any{"type": "poll"}),
		metatest.WAMessage("wamid.O", "order", at, map[string]any{"catalog_id": "1"}),
		metatest.WAMessage("wamid.N", "brand_new_kind", at, map[string]any{"x": 1}),
	}
	if evs := parse(t, wa(), metatest.WAMessages(wabaID, numberID, skipped...)); len(evs) != 0 {
		t.Fatalf("skipped kinds made %d events: %+v", len(evs), evs)
	}
	// A change for another number of the same app is not this connection's.
	other := metatest.WAMessages(wabaID, "999999999999999", metatest.WAText("wamid.OTHER", "hi", at))
	if evs := parse(t, wa(), other); len(evs) != 0 {
		t.Fatalf("another number's message made %d events", len(evs))
	}
	// "sent" is already reported by the gateway when the Graph API accepts.
	if evs := parse(t, wa(), metatest.WAStatuses(wabaID, numberID, metatest.WAStatus("wamid.OUT", "sent", "req_1", at))); len(evs) != 0 {
		t.Fatalf("sent status made %d events", len(evs))
	}
}

func TestWhatsAppManyEntriesAndChanges(t *testing.T) {
	body := metatest.WhatsAppWebhook(wabaID,
		metatest.WAValue{PhoneNumberID: numberID, Contacts: map[string]string{metatest.CustomerWaID: metatest.CustomerName},
			Messages: []map[string]any{metatest.WAText("wamid.1", "one", at), metatest.WAText("wamid.2", "two", at)}},
		metatest.WAValue{PhoneNumberID: numberID, Statuses: []map[string]any{metatest.WAStatus("wamid.OUT", "delivered", "req_9", at)}},
	)
	// A second entry in the same body.
	var doc map[string]any
	_ = json.Unmarshal(body, &doc)
	entries := doc["entry"].([]any)
	var second map[string]any
	_ = json.Unmarshal(metatest.WAMessages(wabaID, numberID, metatest.WAText("wamid.3", "three", at)), &second)
	doc["entry"] = append(entries, second["entry"].([]any)...)
	body, _ = json.Marshal(doc)

	evs := parse(t, wa(), body)
	var got []string
	for _, k := range evs {
		got = append(got, k.Event.Type+" "+k.DedupeKey)
	}
	want := []string{
		"message.created whatsapp:conn_1:wamid.1",
		"message.created whatsapp:conn_1:wamid.2",
		"status.delivered whatsapp:conn_1:wamid.OUT:status:delivered",
		"message.created whatsapp:conn_1:wamid.3",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("events\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestWhatsAppStatuses(t *testing.T) {
	base := "whatsapp:" + connID + ":wamid.OUT:status:"
	cases := []struct {
		status     map[string]any
		typ        string
		supersedes []string
		errText    string
	}{
		{metatest.WAStatus("wamid.OUT", "delivered", "req_1", at), connectors.TypeStatusDelivered, []string{base + "sent"}, ""},
		{metatest.WAStatus("wamid.OUT", "read", "req_1", at), connectors.TypeStatusRead, []string{base + "delivered", base + "sent"}, ""},
		{metatest.WAFailed("wamid.OUT", "req_1", 131047, "Re-engagement message", "Message failed to send because more than 24 hours have passed since the customer last replied to this number.", at),
			connectors.TypeStatusFailed, nil, "more than 24 hours"},
	}
	for _, tc := range cases {
		k := one(t, wa(), metatest.WAStatuses(wabaID, numberID, tc.status))
		st := k.Event.Status
		if k.Event.Type != tc.typ || k.DedupeKey != base+tc.status["status"].(string) || !reflect.DeepEqual(k.Supersedes, tc.supersedes) {
			t.Fatalf("%v: type %s key %s supersedes %v", tc.status["status"], k.Event.Type, k.DedupeKey, k.Supersedes)
		}
		if st == nil || st.RequestID != "req_1" || st.Operation != "send" || !reflect.DeepEqual(st.MessengerMessageIDs, []string{"wamid.OUT"}) {
			t.Fatalf("%v: status %+v", tc.status["status"], st)
		}
		if k.Event.User != nil || k.Event.Message != nil || k.Event.Chat.ID != metatest.CustomerWaID {
			t.Fatalf("status event carries %+v %+v %+v", k.Event.User, k.Event.Message, k.Event.Chat)
		}
		if tc.errText != "" && (!strings.Contains(st.Error, tc.errText) || !strings.Contains(st.Error, "131047") || !strings.Contains(st.Error, "template")) {
			t.Fatalf("failed status error %q", st.Error)
		}
	}
}

// Graph API versions add fields; the parser must not care.
func TestWhatsAppUnknownFieldsIgnored(t *testing.T) {
	body := []byte(`{"object":"whatsapp_business_account","entry":[{"id":"` + wabaID + `","future_entry_field":{"a":[1,2]},"changes":[{"field":"messages","value":{
		"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550001111","phone_number_id":"` + numberID + `","new_meta":true},
		"contacts":[{"profile":{"name":"Ann","pronouns":"she"},"wa_id":"4915112345678","user_id":"US.123"}],
		"messages":[{"from":"4915112345678","id":"wamid.NEW","timestamp":"1764494100","type":"text","text":{"body":"hi","entities":[]},"referral":{"source_url":"x"},"brand_new":{"nested":[{}]}}]}}]}]}`)
	k := one(t, wa(), body)
	if k.Event.Message.Text != "hi" || k.Event.User.Name != "Ann" {
		t.Fatalf("event %+v", k.Event)
	}
	// Other webhook fields (account updates, template status) are skipped.
	other := []byte(`{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"message_template_status_update","value":{"event":"APPROVED"}}]}]}`)
	if evs := parse(t, wa(), other); len(evs) != 0 {
		t.Fatalf("template status update made %d events", len(evs))
	}
}

func TestWhatsAppNoLinkerNoURL(t *testing.T) {
	cn := wa()
	c := conn(t, cn)
	c.Files = nil
	body := metatest.WAMessages(wabaID, numberID, metatest.WAMedia("wamid.I", "image", "1111", "image/jpeg", "", "", at))
	in, err := cn.Parse(t.Context(), c, post(body, appSecret))
	if err != nil || len(in.Events) != 1 || in.Events[0].Event.Message.Files[0].URL != "" {
		t.Fatalf("without a public URL: %+v %v", in, err)
	}
}
