package webchat_test

import (
	"errors"
	"testing"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/webchat"
)

func TestValidateSettings(t *testing.T) {
	// ValidateSettings is offline: it needs no storage.
	var cn webchat.Connector
	out, err := cn.ValidateSettings(connectors.Settings{
		webchat.SettingOrigins: " https://Shop.Example/ ,https://*.example.org\nhttp://localhost:8080", "custom": "kept",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := connectors.Settings{
		webchat.SettingOrigins: "https://shop.example https://*.example.org http://localhost:8080", "custom": "kept",
		webchat.SettingTitle: "Chat with us", webchat.SettingGreeting: "Hello! How can we help you?",
		webchat.SettingColor: "#1f6feb", webchat.SettingTextColor: "#ffffff", webchat.SettingPosition: "right",
		webchat.SettingPrechatName: "off", webchat.SettingPrechatEmail: "off", webchat.SettingSound: "false",
	}
	for k, v := range want {
		if out[k] != v {
			t.Errorf("%s = %q, want %q", k, out[k], v)
		}
	}
	// An empty greeting is a choice, not a missing value.
	if out, err := cn.ValidateSettings(connectors.Settings{webchat.SettingOrigins: "https://a.example", webchat.SettingGreeting: ""}); err != nil || out[webchat.SettingGreeting] != "" {
		t.Errorf("empty greeting: %q %v", out[webchat.SettingGreeting], err)
	}

	_, err = cn.ValidateSettings(connectors.Settings{
		webchat.SettingOrigins: "https://shop.example/path", webchat.SettingColor: "red;background:url(x)",
		webchat.SettingTextColor: "#12345", webchat.SettingPosition: "middle", webchat.SettingPrechatName: "maybe",
	})
	var fe connectors.FieldErrors
	if !errors.As(err, &fe) {
		t.Fatalf("error %v, want field errors", err)
	}
	for _, k := range []string{webchat.SettingOrigins, webchat.SettingColor, webchat.SettingTextColor, webchat.SettingPosition, webchat.SettingPrechatName} {
		if fe[k] == "" {
			t.Errorf("%s not reported: %v", k, fe)
		}
	}
	for _, bad := range []string{"", "shop.example", "ftp://shop.example", "https://*", "https://shop.*.example", "https://user@shop.example", "https://shop.example?q=1"} {
		if _, err := cn.ValidateSettings(connectors.Settings{webchat.SettingOrigins: bad}); err == nil {
			t.Errorf("origins %q accepted", bad)
		}
	}
}
