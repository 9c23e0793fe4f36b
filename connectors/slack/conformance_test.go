package slack_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/connectortest"
	"github.com/connector-gateway/connector/connectors/slack"
	"github.com/connector-gateway/connector/connectors/slack/slacktest"
)

// TestConformance runs the connector suite against the fake Slack.
func TestConformance(t *testing.T) {
	connectortest.Run(t, connectortest.Harness{
		New: func(t *testing.T) (connectors.Connector, connectors.Conn, connectortest.Messenger) {
			cn, c, srv := setup(t)
			return cn, c, fakeSlack{srv}
		},
		Settings:     connectors.Settings{slack.SettingBotToken: botToken, slack.SettingSigningSecret: secret, slack.SettingAppToken: appToken},
		Capabilities: []string{"edit", "delete", "files", "poll", "identify", "webhook"},
		Samples: func(c connectors.Conn) []connectortest.Sample {
			cust := slacktest.Customer.ID
			return []connectortest.Sample{
				{Name: "url_verification", Request: signedNow(c, slacktest.URLVerification("3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"))},
				{Name: "direct message", Request: signedNow(c, slacktest.EventCallback("Ev0C1", slacktest.Message(dm, "im", cust, "Hi, my order #1042?", "1700000000.000100")))},
				{Name: "thread reply in a channel", Request: signedNow(c, slacktest.EventCallback("Ev0C2", slacktest.ThreadReply(channel, "channel", cust, "and another thing", "1700000001.000200", "1700000000.000100")))},
				{Name: "app mention", Request: signedNow(c, slacktest.EventCallback("Ev0C3", slacktest.AppMention(channel, cust, "<@"+slacktest.BotUserID+"> help", "1700000002.000300")))},
				{Name: "message_changed", Request: signedNow(c, slacktest.EventCallback("Ev0C4", slacktest.MessageChanged(dm, "im", cust, "1700000000.000100", "Hi", "Hi, fixed", "1700000060.000400")))},
				{Name: "message_deleted", Request: signedNow(c, slacktest.EventCallback("Ev0C5", slacktest.MessageDeleted(dm, "im", cust, "1700000000.000100", "Hi", "1700000090.000500")))},
			}
		},
		Forged: func(c connectors.Conn) []connectortest.Sample {
			body := slacktest.EventCallback("Ev0F1", slacktest.Message(dm, "im", slacktest.Customer.ID, "hi", "1700000000.000100"))
			return []connectortest.Sample{
				{Name: "wrong secret", Request: connectors.Request{Method: "POST", Header: slacktest.Sign("0123456789abcdef0123456789abcdef", time.Now(), body), Body: body}},
				{Name: "stale timestamp", Request: connectors.Request{Method: "POST", Header: slacktest.Sign(secret, time.Now().Add(-10*time.Minute), body), Body: body}},
				{Name: "unsigned", Request: connectors.Request{Method: "POST", Header: http.Header{"Content-Type": {"application/json"}}, Body: body}},
			}
		},
		Sign: signedNow,
		BadCredentials: func(c connectors.Conn) connectors.Conn {
			return connectortest.WithSettings(c, slack.SettingBotToken, "xoxb-0000000000-nope")
		},
	})
}

// signedNow is body as Slack posts it to the Request URL, signed now.
func signedNow(c connectors.Conn, body []byte) connectors.Request {
	return connectors.Request{Method: "POST", URL: entryURL, Header: slacktest.Sign(c.Settings[slack.SettingSigningSecret], time.Now(), body), Body: body}
}

// fakeSlack reads back what the fake Web API received.
type fakeSlack struct{ srv *slacktest.Server }

func (fakeSlack) Chat() string { return dm }

func (f fakeSlack) Received(*testing.T) []connectortest.Op {
	var ops []connectortest.Op
	for _, v := range f.srv.Calls("chat.postMessage") {
		ops = append(ops, connectortest.Op{Kind: "send", ChatID: v.Get("channel"), Text: v.Get("text")})
	}
	for _, v := range f.srv.Calls("chat.update") {
		ops = append(ops, connectortest.Op{Kind: "edit", ChatID: v.Get("channel"), MessageID: v.Get("ts"), Text: v.Get("text")})
	}
	for _, v := range f.srv.Calls("chat.delete") {
		ops = append(ops, connectortest.Op{Kind: "delete", ChatID: v.Get("channel"), MessageID: v.Get("ts")})
	}
	return ops
}
