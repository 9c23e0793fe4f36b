package slack_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/connectortest"
	"github.com/connector-gateway/connector/connectors/slack"
)

func TestValidateSettings(t *testing.T) {
	cn := slack.New(slack.Options{Logger: connectortest.QuietLogger()})
	t.Cleanup(func() { _ = cn.Close() })
	ok, err := cn.ValidateSettings(connectors.Settings{"bot_token": "  " + botToken + "\n", "signing_secret": secret, "extra": "kept"})
	if err != nil {
		t.Fatalf("valid events settings: %v", err)
	}
	if ok["bot_token"] != botToken || ok["mode"] != "events" || ok["extra"] != "kept" {
		t.Fatalf("normalized = %v", ok)
	}
	if _, err := cn.ValidateSettings(connectors.Settings{"bot_token": botToken, "mode": "SOCKET", "app_token": appToken}); err != nil {
		t.Fatalf("valid socket settings (no signing secret needed): %v", err)
	}
	cases := []struct {
		name  string
		in    connectors.Settings
		field string
		says  string
	}{
		{"no bot token", connectors.Settings{"signing_secret": secret}, "bot_token", "required"},
		{"user token", connectors.Settings{"bot_token": "xoxp-1234567890-123456", "signing_secret": secret}, "bot_token", "xoxp"},
		{"app token as bot token", connectors.Settings{"bot_token": appToken, "signing_secret": secret}, "bot_token", "app_token"},
		{"garbage bot token", connectors.Settings{"bot_token": "hello", "signing_secret": secret}, "bot_token", "xoxb-"},
		{"events without secret", connectors.Settings{"bot_token": botToken}, "signing_secret", "required"},
		{"verification token as secret", connectors.Settings{"bot_token": botToken, "signing_secret": "Jhj5dZrVaK7ZwHHjRyZWjbDl"}, "signing_secret", "32 hexadecimal"},
		{"socket without app token", connectors.Settings{"bot_token": botToken, "mode": "socket"}, "app_token", "required"},
		{"bot token as app token", connectors.Settings{"bot_token": botToken, "mode": "socket", "app_token": botToken}, "app_token", "xapp-"},
		{"unknown mode", connectors.Settings{"bot_token": botToken, "signing_secret": secret, "mode": "webhook"}, "mode", "events"},
	}
	for _, c := range cases {
		_, err := cn.ValidateSettings(c.in)
		var fe connectors.FieldErrors
		if !errors.As(err, &fe) || !strings.Contains(fe[c.field], c.says) {
			t.Errorf("%s: %v; want %s to say %q", c.name, err, c.field, c.says)
		}
	}
}

func TestDescribe(t *testing.T) {
	d := slack.New(slack.Options{Logger: connectortest.QuietLogger()}).Describe()
	if d.Type != "slack" || d.Title != "Slack" {
		t.Fatalf("describe = %+v", d)
	}
	secret := map[string]bool{}
	for _, f := range d.Fields {
		secret[f.Key] = f.Type == "secret"
	}
	for _, k := range []string{"bot_token", "signing_secret", "app_token"} {
		if !secret[k] {
			t.Errorf("%s is not a secret field: it would be shown back to portals", k)
		}
	}
}
