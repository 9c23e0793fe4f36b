package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/connector-gateway/connector/connectors/slack/slacktest"
	"github.com/connector-gateway/connector/portal"
	"github.com/connector-gateway/connector/portal/portaltest"
	"github.com/connector-gateway/connector/portal/sdk"
	"github.com/connector-gateway/connector/queue/queuetest"
)

// A Slack connection in Socket Mode needs no public URL: activating it
// starts the gateway's poll supervisor, which opens the socket; an event
// Slack pushes (and pushes again as a retry) reaches the portal once, and
// is acknowledged to Slack only after it was stored.
func TestSlackSocketModeThroughTheGateway(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b queuetest.Backend) {
		fake := slacktest.New(t, slackBotToken, slackAppToken)
		fake.SetUser(slacktest.Customer)
		p := portaltest.New(t)
		cfg := testConfig(b, b.DSN(t), "http://127.0.0.1:1/bot%s/%s")
		cfg.PublicURL = "" // Socket Mode is for gateways nobody can reach
		cfg.Slack.APIURL = fake.APIURL()
		g := startGateway(t, cfg)
		ctx := context.Background()
		pr, secret, err := g.app.Store().Records.CreatePortal(ctx, "Acme", p.URL)
		if err != nil {
			t.Fatal(err)
		}
		p.SetSecrets(secret)
		c := &sdk.Client{BaseURL: g.URL, PortalID: pr.ID, Secret: secret}
		var line portal.Line
		if err := c.Do(ctx, "POST", "/v1/lines", map[string]string{"name": "Slack"}, &line, nil); err != nil {
			t.Fatal(err)
		}
		var conn struct {
			ID string `json:"id"`
		}
		if err := c.Do(ctx, "POST", "/v1/lines/"+line.ID+"/connections", map[string]any{"connector": "slack",
			"settings": map[string]string{"bot_token": slackBotToken, "signing_secret": slackSecret, "mode": "socket", "app_token": slackAppToken}}, &conn, nil); err != nil {
			t.Fatal(err)
		}
		if err := c.Do(ctx, "POST", "/v1/connections/"+conn.ID+"/activate", nil, nil, nil); err != nil {
			t.Fatalf("activate in socket mode: %v", err)
		}
		if !p.WaitFor(15*time.Second, func() bool { return fake.Connected() == 1 }) {
			t.Fatalf("the gateway opened %d sockets", fake.Connected())
		}
		payload := slacktest.EventCallback("Ev0SOCKET01", slacktest.Message(slackChannel, "channel", slacktest.Customer.ID, "hello over the socket", "1700000000.000100"))
		fake.PushEvent(payload, "env-1", 0)
		if !fake.WaitAck(15*time.Second, "env-1") {
			t.Fatal("the envelope was never acknowledged")
		}
		fake.PushEvent(payload, "env-2", 1) // Slack's retry of the same event
		if !fake.WaitAck(15*time.Second, "env-2") {
			t.Fatal("the retry was never acknowledged")
		}
		if !p.WaitFor(15*time.Second, func() bool { return len(p.Events(line.ID)) >= 1 }) {
			t.Fatal("the socket event never reached the portal")
		}
		time.Sleep(300 * time.Millisecond) // room for a duplicate to show
		evs := p.Events(line.ID)
		if len(evs) != 1 || evs[0].Message == nil || evs[0].Message.Text != "hello over the socket" || evs[0].Connection != conn.ID {
			t.Fatalf("portal got %d events: %+v", len(evs), evs)
		}
		if err := c.Do(ctx, "POST", "/v1/connections/"+conn.ID+"/deactivate", nil, nil, nil); err != nil {
			t.Fatalf("deactivate: %v", err)
		}
		if !p.WaitFor(15*time.Second, func() bool { return fake.Connected() == 0 }) {
			t.Fatal("deactivation left the socket open")
		}
	})
}
