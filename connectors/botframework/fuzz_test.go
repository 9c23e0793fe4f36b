package botframework_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/botframework"
	"github.com/connector-gateway/connector/connectors/botframework/bftest"
)

// FuzzParse feeds arbitrary activity bodies to the parser (after the token
// check, which a fuzzer cannot pass): it must not panic, and whatever it
// accepts must be well-formed events whose chat id decodes back to the
// activity's conversation.
func FuzzParse(f *testing.F) {
	svc := "https://smba.trafficmanager.net/amer/"
	f.Add(bftest.TeamsMessage(svc, appID, "a:1conv", "1700000000001", "hello").JSON())
	f.Add(bftest.WebChatMessage("https://webchat.botframework.com/", appID, "wc-1", "wc-1|0001", "hi").JSON())
	up := bftest.TeamsMessage(svc, appID, "19:x@thread.tacv2;messageid=1", "2", "e")
	up["type"] = "messageUpdate"
	f.Add(up.JSON())
	att := bftest.TeamsMessage(svc, appID, "a:1", "3", "")
	att["attachments"] = []map[string]any{{"contentType": "image/png", "contentUrl": svc + "v3/attachments/1/views/original"}, {"contentType": "application/vnd.microsoft.teams.file.download.info", "content": map[string]string{"downloadUrl": "https://x.sharepoint.com/d"}}}
	f.Add(att.JSON())
	f.Add([]byte(`{"type":"messageDelete","id":"1","conversation":{"id":"c"},"channelId":"msteams","serviceUrl":"https://x.botframework.com/"}`))
	f.Add([]byte(`{"type":"message","attachments":[{"content":1}],"entities":[{"type":"mention"}]}`))
	f.Add([]byte(`null`))

	cn, err := botframework.New(botframework.Options{})
	if err != nil {
		f.Fatal(err)
	}
	conn := connectors.Conn{ID: "conn-1", LineID: "line-1", Files: linker{}}
	f.Fuzz(func(t *testing.T, body []byte) {
		evs, err := cn.ParseActivity(conn, body)
		if err != nil {
			return
		}
		var a struct {
			ServiceURL   string `json:"serviceUrl"`
			Conversation struct {
				ID string `json:"id"`
			} `json:"conversation"`
		}
		_ = json.Unmarshal(body, &a)
		for _, k := range evs {
			e := k.Event
			if !strings.HasPrefix(k.DedupeKey, "botframework:conn-1:") || e.ID != connectors.EventID(k.DedupeKey) {
				t.Fatalf("key %q id %q", k.DedupeKey, e.ID)
			}
			if !strings.HasPrefix(e.Channel, "botframework.") || e.Chat == nil || e.Message == nil || e.Message.ID == "" {
				t.Fatalf("event %+v", e)
			}
			s, conv, ch, _, err := botframework.DecodeChatID(e.Chat.ID)
			if err != nil || s != a.ServiceURL || conv != a.Conversation.ID || e.Channel != "botframework."+ch {
				t.Fatalf("chat id %q: %q %q %q %v", e.Chat.ID, s, conv, ch, err)
			}
		}
	})
}
