package slack_test

import (
	"testing"
	"time"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/connectortest"
	"github.com/connector-gateway/connector/connectors/slack"
	"github.com/connector-gateway/connector/connectors/slack/slacktest"
)

// BenchmarkParse is the request-path cost of one Events API post: signature
// check, decoding, normalizing (profile known).
func BenchmarkParse(b *testing.B) {
	srv := slacktest.New(b, botToken, appToken)
	srv.SetUser(slacktest.Customer)
	cn := slack.New(slack.Options{APIURL: srv.APIURL(), Logger: connectortest.QuietLogger()})
	b.Cleanup(func() { _ = cn.Close() })
	c := connectors.Conn{ID: connID, LineID: lineID, Settings: connectors.Settings{"bot_token": botToken, "signing_secret": secret}, Files: &connectortest.Linker{}}
	body := slacktest.EventCallback("EvBench", slacktest.ThreadReply(channel, "channel", cust,
		"Hi <@U0BOT0001>, my order <https://shop.example/o/1042|#1042> has *not* arrived :cry: &amp; I need it by Friday", "1700000000.000200", "1700000000.000100"))
	h := slacktest.Sign(secret, time.Now(), body)
	if _, err := cn.Parse(b.Context(), c, connectors.Request{Method: "POST", Header: h, Body: body}); err != nil {
		b.Fatal(err)
	}
	cn.WaitLookups()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		in, err := cn.Parse(b.Context(), c, connectors.Request{Method: "POST", Header: h, Body: body})
		if err != nil || len(in.Events) != 1 {
			b.Fatal(err)
		}
	}
}
