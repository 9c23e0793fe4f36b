package xmpp_test

import (
	"errors"
	"testing"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/xmpp"
)

func TestValidateSettings(t *testing.T) {
	cn := xmpp.New(xmpp.Options{})
	got, err := cn.ValidateSettings(connectors.Settings{"jid": " Support@Example.org/res ", "password": "p"})
	if err != nil {
		t.Fatal(err)
	}
	if got["jid"] != "support@example.org" || got["server"] != "example.org:5222" || got["nick"] != "support" {
		t.Errorf("normalized %v", got)
	}
	_, err = cn.ValidateSettings(connectors.Settings{"jid": "example.org", "server": "nohostport", "muc_service": "room@muc"})
	var fe connectors.FieldErrors
	if !errors.As(err, &fe) || fe["jid"] == "" || fe["password"] == "" || fe["server"] == "" || fe["muc_service"] == "" {
		t.Fatalf("errors %v", err)
	}
}
