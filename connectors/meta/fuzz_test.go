package meta_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/connector-gateway/connector/connectors/meta"
	"github.com/connector-gateway/connector/connectors/meta/metatest"
)

// samples are one body of every kind the parsers map or skip.
func samples() [][]byte {
	return [][]byte{
		metatest.WAMessages(wabaID, numberID,
			metatest.WAText("wamid.1", "hi", at), metatest.WAReply("wamid.2", "re", "wamid.1", at),
			metatest.WAMedia("wamid.3", "image", "1", "image/jpeg", "c", "", at), metatest.WAMedia("wamid.4", "document", "2", "application/pdf", "", "a.pdf", at),
			metatest.WALocation("wamid.5", 1, 2, "n", "a", at), metatest.WAContacts("wamid.6", "Bob", "+1", at),
			metatest.WAButtonReply("wamid.7", "id", "t", at), metatest.WAListReply("wamid.8", "id", "t", "d", at),
			metatest.WATemplateButton("wamid.9", "t", "p", at), metatest.WAReaction("wamid.10", "wamid.1", "👍", at)),
		metatest.WAStatuses(wabaID, numberID, metatest.WAStatus("wamid.O", "sent", "r", at), metatest.WAStatus("wamid.O", "read", "r", at),
			metatest.WAFailed("wamid.P", "r", 131047, "Re-engagement message", "more than 24 hours", at)),
		metatest.MessagingWebhook("page", pageID, at,
			metatest.MText(psid, pageID, "m_1", "hi", at), metatest.MQuickReply(psid, pageID, "m_2", "y", "Y", at),
			metatest.MAttachment(psid, pageID, "m_3", "image", "https://cdn/x.jpg", at), metatest.MEcho(pageID, psid, "m_4", "e", at),
			metatest.MEdit(psid, pageID, "m_1", "hey", 1, at), metatest.MDelivery(psid, pageID, at, "m_9"), metatest.MRead(psid, pageID, at),
			metatest.MPostback(psid, pageID, "m_5", "T", "P", at)),
		metatest.MessagingWebhook("instagram", accountID, at,
			metatest.IGStoryReply(metatest.CustomerIGSID, accountID, "a1", "x", "https://cdn/s", at),
			metatest.IGStoryMention(metatest.CustomerIGSID, accountID, "a2", "https://cdn/m", at),
			metatest.IGRead(metatest.CustomerIGSID, accountID, "a3", at), metatest.IGUnsend(metatest.CustomerIGSID, accountID, "a4", at)),
		[]byte(`{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"messages":[{"type":"image","image":null}]}}]}]}`),
		[]byte(`{"object":"page","entry":[{"messaging":[{"message":null,"sender":{}}]}]}`),
	}
}

// FuzzParse: nothing panics on any body, and no output (events, errors)
// carries a secret of the connection.
func FuzzParse(f *testing.F) {
	for _, s := range samples() {
		f.Add(s)
	}
	cns := []receiver{meta.NewWhatsApp(meta.Options{}), meta.NewMessenger(meta.Options{}), meta.NewInstagram(meta.Options{})}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, cn := range cns {
			c := conn(t, cn)
			in, err := cn.Parse(context.Background(), c, post(body, appSecret))
			out, _ := json.Marshal(in)
			text := string(out)
			if err != nil {
				text += err.Error()
			}
			for _, secret := range []string{appSecret, verify, waToken, pageToken, igToken} {
				if strings.Contains(text, secret) {
					t.Fatalf("%s: a secret in the output: %s", cn.Describe().Type, text)
				}
			}
			for _, k := range in.Events {
				if k.DedupeKey == "" || k.Event.ID == "" || k.Event.Type == "" {
					t.Fatalf("incomplete event %+v", k)
				}
			}
		}
	})
}
