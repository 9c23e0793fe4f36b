package slack_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/connectortest"
	"github.com/connector-gateway/connector/connectors/slack"
	"github.com/connector-gateway/connector/connectors/slack/slacktest"
)

const (
	botToken = "xoxb-1234567890-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"
	appToken = "xapp-1-A0APP0001-1234567890123-0123456789abcdef0123456789abcdef"
	secret   = "8f742231b10e8888abcd99eeefff85a5"
	entryURL = "https://gw.example.com/hook/h4sh"
	connID   = "con_slack1"
	lineID   = "lin_7"
	dm       = "D0DM00001"
	channel  = "C0CHAN001"
)

// setup starts a fake Slack and a connector talking to it (no pacing), and
// returns an events-mode connection with normalized settings and a file
// linker.
func setup(t *testing.T) (*slack.Connector, connectors.Conn, *slacktest.Server) {
	t.Helper()
	srv := slacktest.New(t, botToken, appToken)
	srv.SetUser(slacktest.Customer)
	srv.SetChannel(channel, "support")
	cn := slack.New(slack.Options{APIURL: srv.APIURL(), ChannelInterval: -1, Logger: connectortest.QuietLogger()})
	t.Cleanup(func() { _ = cn.Close() })
	settings, err := cn.ValidateSettings(connectors.Settings{
		"bot_token":      botToken,
		"signing_secret": secret,
		"app_token":      appToken,
	})
	if err != nil {
		t.Fatalf("ValidateSettings: %v", err)
	}
	return cn, connectors.Conn{
		ID: connID, PortalID: "prt_1", LineID: lineID, Hash: "h4sh", EntryURL: entryURL,
		Settings: settings, Files: &connectortest.Linker{},
	}, srv
}

// post signs body as Slack would at time at and parses it.
func post(t *testing.T, cn *slack.Connector, c connectors.Conn, body []byte, at time.Time) (connectors.Inbound, error) {
	t.Helper()
	return cn.Parse(context.Background(), c, connectors.Request{Method: "POST", Header: slacktest.Sign(secret, at, body), Body: body})
}

// one parses a signed body (signed now) and requires exactly one event.
func one(t *testing.T, cn *slack.Connector, c connectors.Conn, body []byte) connectors.Keyed {
	t.Helper()
	in, err := post(t, cn, c, body, time.Now())
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if len(in.Events) != 1 {
		t.Fatalf("Parse gave %d events, want 1: %+v", len(in.Events), in.Events)
	}
	return in.Events[0]
}

// none parses a signed body and requires no events and no error.
func none(t *testing.T, cn *slack.Connector, c connectors.Conn, body []byte) {
	t.Helper()
	in, err := post(t, cn, c, body, time.Now())
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if len(in.Events) != 0 {
		t.Fatalf("Parse gave %d events, want none: %+v", len(in.Events), in.Events[0].Event)
	}
}

// httpServer starts a plain test server and returns its URL.
func httpServer(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}
