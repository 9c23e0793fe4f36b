package slack_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/connectortest"
	"github.com/connector-gateway/connector/connectors/slack"
	"github.com/connector-gateway/connector/connectors/slack/slacktest"
)

// FuzzParse feeds correctly signed bodies to the event parser: whatever
// Slack (or someone with the signing secret) sends, Parse answers with
// events or an ErrMalformed, never panics, and every event is sound.
func FuzzParse(f *testing.F) {
	f.Add(slacktest.EventCallback("Ev1", slacktest.Message(dm, "im", cust, ":smile: *bold* <@U0ANNA001|anna>", "1700000000.000100")))
	f.Add(slacktest.EventCallback("Ev2", slacktest.ThreadReply(channel, "channel", cust, "x", "1700000001.000100", "1700000000.000100")))
	f.Add(slacktest.EventCallback("Ev3", slacktest.MessageChanged(dm, "im", cust, "1700000000.000100", "a", "b", "1700000002.000100")))
	f.Add(slacktest.EventCallback("Ev4", slacktest.MessageDeleted(dm, "im", cust, "1700000000.000100", "a", "1700000003.000100")))
	f.Add(slacktest.EventCallback("Ev5", slacktest.AppMention(channel, cust, "<@U0BOT0001> hi", "1700000004.000100")))
	f.Add(slacktest.EventCallback("Ev6", slacktest.FileShare(dm, "im", cust, "f", "1700000005.000100", map[string]any{"id": "F1", "name": "a.pdf", "mimetype": "application/pdf", "url_private": "https://files.slack.com/a.pdf", "size": 3})))
	f.Add(slacktest.EventCallback("Ev7", slacktest.UserChange(slacktest.Customer, "1700000006.000100")))
	f.Add(slacktest.URLVerification("challenge"))
	f.Add([]byte(`{"type":"event_callback","event":{"type":"message","subtype":"message_changed","message":null}}`))
	f.Add([]byte(`{"type":"event_callback","event":{"type":"message","blocks":[{"type":"rich_text","elements":[{}]}]}}`))
	f.Add([]byte(`{"type":"app_rate_limited"}`))
	f.Add([]byte(`null`))
	f.Add([]byte{})

	cn := slack.New(slack.Options{APIURL: "http://127.0.0.1:1/api/", Logger: connectortest.QuietLogger()})
	f.Cleanup(func() { _ = cn.Close() })
	c := connectors.Conn{ID: connID, LineID: lineID, Settings: connectors.Settings{
		"bot_token": botToken, "signing_secret": secret, "mode": "events",
	}, Files: &connectortest.Linker{}}

	f.Fuzz(func(t *testing.T, body []byte) {
		in, err := cn.Parse(t.Context(), c, connectors.Request{Method: "POST", Header: slacktest.Sign(secret, time.Now(), body), Body: body})
		if err != nil {
			if !errors.Is(err, connectors.ErrMalformed) {
				t.Fatalf("error for a signed body is not ErrMalformed: %v", err)
			}
			if len(in.Events) != 0 || in.Response != nil {
				t.Fatalf("result returned along with error %v", err)
			}
			return
		}
		for _, k := range in.Events {
			ev := k.Event
			if k.DedupeKey == "" || ev.ID != connectors.EventID(k.DedupeKey) || !strings.HasPrefix(k.DedupeKey, "slack:"+connID+":") {
				t.Fatalf("bad ids: key %q, id %q", k.DedupeKey, ev.ID)
			}
			if ev.Chat == nil || ev.Chat.ID == "" || ev.Message == nil || ev.Message.ID == "" || ev.OccurredAt.IsZero() {
				t.Fatalf("incomplete event: %+v", ev)
			}
			// Every chat id handed out must be usable for an answer.
			// (An empty text stops Send right after it read the chat id.)
			if _, err := cn.Send(t.Context(), c, connectors.Outbound{ChatID: ev.Chat.ID}); err == nil || !strings.Contains(err.Error(), "text is empty") {
				t.Fatalf("chat id %q is not one Send accepts: %v", ev.Chat.ID, err)
			}
			if ev.Type != connectors.TypeMessageDeleted && (ev.User == nil || ev.User.ID == "" || ev.User.ProfileHash == "") {
				t.Fatalf("message event without user: %+v", ev)
			}
		}
	})
}
