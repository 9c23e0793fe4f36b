package meta_test

import (
	"errors"
	"testing"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/meta"
)

func TestDescribe(t *testing.T) {
	want := map[string][]string{
		meta.TypeWhatsApp:  {"phone_number_id", "waba_id", "access_token", "app_secret", "verify_token"},
		meta.TypeMessenger: {"page_id", "page_access_token", "app_secret", "verify_token"},
		meta.TypeInstagram: {"account_id", "access_token", "app_secret", "verify_token"},
	}
	for _, cn := range allThree() {
		d := cn.Describe()
		var keys []string
		for _, f := range d.Fields {
			keys = append(keys, f.Key)
			secret := f.Key == "access_token" || f.Key == "page_access_token" || f.Key == "app_secret" || f.Key == "verify_token"
			if secret != (f.Type == "secret") {
				t.Fatalf("%s: field %s has type %s", d.Type, f.Key, f.Type)
			}
		}
		if !equal(keys, want[d.Type]) || d.Title == "" {
			t.Fatalf("%s: fields %v", d.Type, keys)
		}
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestValidateSettings(t *testing.T) {
	cn := meta.NewWhatsApp(meta.Options{})
	out, err := cn.ValidateSettings(connectors.Settings{"phone_number_id": " " + numberID + " ", "access_token": waToken, "app_secret": appSecret, "extra": "kept"})
	if err != nil {
		t.Fatal(err)
	}
	if out["phone_number_id"] != numberID || len(out["verify_token"]) != 32 || out["extra"] != "kept" {
		t.Fatalf("normalized %v", out)
	}
	again, _ := cn.ValidateSettings(out)
	if again["verify_token"] != out["verify_token"] {
		t.Fatal("a set verify token was replaced")
	}

	_, err = cn.ValidateSettings(connectors.Settings{"phone_number_id": "+4915550001111", "waba_id": "acct", "access_token": "short", "app_secret": "EAAGxyz", "verify_token": "has space"})
	var fe connectors.FieldErrors
	if !errors.As(err, &fe) {
		t.Fatalf("error %v", err)
	}
	for _, k := range []string{"phone_number_id", "waba_id", "access_token", "app_secret", "verify_token"} {
		if fe[k] == "" {
			t.Fatalf("no complaint about %s: %v", k, fe)
		}
	}

	_, err = meta.NewMessenger(meta.Options{}).ValidateSettings(connectors.Settings{})
	if !errors.As(err, &fe) || fe["page_id"] == "" || fe["page_access_token"] == "" || fe["app_secret"] == "" {
		t.Fatalf("empty messenger settings: %v", err)
	}
	_, err = meta.NewInstagram(meta.Options{}).ValidateSettings(connectors.Settings{})
	if !errors.As(err, &fe) || fe["account_id"] == "" || fe["access_token"] == "" {
		t.Fatalf("empty instagram settings: %v", err)
	}
}

func TestBotKey(t *testing.T) {
	want := map[string]string{meta.TypeWhatsApp: "whatsapp:" + numberID, meta.TypeMessenger: "messenger:" + pageID, meta.TypeInstagram: "instagram:" + accountID}
	for _, cn := range allThree() {
		key, err := cn.(connectors.Identifier).BotKey(t.Context(), conn(t, cn))
		if err != nil || key != want[cn.Describe().Type] {
			t.Fatalf("%s: %q %v", cn.Describe().Type, key, err)
		}
	}
}
