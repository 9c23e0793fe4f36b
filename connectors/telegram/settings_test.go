package telegram_test

import (
	"errors"
	"regexp"
	"testing"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/telegram"
)

func TestDescribe(t *testing.T) {
	d := telegram.New(telegram.Options{}).Describe()
	if d.Type != "telegram" || d.Title != "Telegram" {
		t.Fatalf("type/title = %q/%q", d.Type, d.Title)
	}
	byKey := map[string]connectors.Field{}
	for _, f := range d.Fields {
		byKey[f.Key] = f
	}
	if f := byKey["bot_token"]; f.Type != "secret" || !f.Required || f.Help != "from @BotFather" {
		t.Errorf("bot_token field = %+v", f)
	}
	if f := byKey["mode"]; f.Type != "select" || f.Default != "webhook" || len(f.Options) != 2 ||
		f.Options[0] != "webhook" || f.Options[1] != "polling" {
		t.Errorf("mode field = %+v", f)
	}
	if f := byKey["webhook_secret"]; f.Type != "secret" || f.Required || f.Help == "" {
		t.Errorf("webhook_secret field = %+v", f)
	}
	if len(d.Fields) != 3 {
		t.Errorf("got %d fields, want 3", len(d.Fields))
	}
}

func TestValidateSettingsNormalizes(t *testing.T) {
	cn := telegram.New(telegram.Options{})
	in := connectors.Settings{"bot_token": "  " + token + "\n", "other": "kept"}
	out, err := cn.ValidateSettings(in)
	if err != nil {
		t.Fatalf("ValidateSettings: %v", err)
	}
	if out["bot_token"] != token {
		t.Errorf("bot_token = %q, want trimmed", out["bot_token"])
	}
	if out["mode"] != "webhook" {
		t.Errorf("mode = %q, want default webhook", out["mode"])
	}
	if !regexp.MustCompile(`^[A-Za-z0-9_-]{32}$`).MatchString(out["webhook_secret"]) {
		t.Errorf("generated webhook_secret = %q, want 32 URL-safe chars", out["webhook_secret"])
	}
	if out["other"] != "kept" {
		t.Errorf("unknown key dropped: %v", out)
	}
	if len(in) != 2 || in["bot_token"] != "  "+token+"\n" {
		t.Errorf("input was mutated: %v", in)
	}

	again, err := cn.ValidateSettings(in)
	if err != nil {
		t.Fatal(err)
	}
	if again["webhook_secret"] == out["webhook_secret"] {
		t.Error("two generated secrets are equal")
	}

	kept, err := cn.ValidateSettings(connectors.Settings{"bot_token": token, "mode": "Polling", "webhook_secret": "abc"})
	if err != nil {
		t.Fatal(err)
	}
	if kept["mode"] != "polling" || kept["webhook_secret"] != "abc" {
		t.Errorf("got %v, want mode polling and the given secret", kept)
	}
}

func TestValidateSettingsRejects(t *testing.T) {
	long := make([]byte, 257)
	for i := range long {
		long[i] = 'a'
	}
	cases := []struct {
		name string
		in   connectors.Settings
		bad  []string
	}{
		{"missing token", connectors.Settings{}, []string{"bot_token"}},
		{"no colon", connectors.Settings{"bot_token": "123456789AAFakeTokenForTests_abcdefghijklmnopq"}, []string{"bot_token"}},
		{"short secret part", connectors.Settings{"bot_token": "123:abc"}, []string{"bot_token"}},
		{"letters in id", connectors.Settings{"bot_token": "12a:AAFakeTokenForTests_abcdefghijklmnopq"}, []string{"bot_token"}},
		{"bad mode", connectors.Settings{"bot_token": token, "mode": "push"}, []string{"mode"}},
		{"secret with space", connectors.Settings{"bot_token": token, "webhook_secret": "a b"}, []string{"webhook_secret"}},
		{"secret with slash", connectors.Settings{"bot_token": token, "webhook_secret": "a/b"}, []string{"webhook_secret"}},
		{"secret too long", connectors.Settings{"bot_token": token, "webhook_secret": string(long)}, []string{"webhook_secret"}},
		{"all bad", connectors.Settings{"bot_token": "x", "mode": "y", "webhook_secret": "!"}, []string{"bot_token", "mode", "webhook_secret"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := telegram.New(telegram.Options{}).ValidateSettings(tc.in)
			var fe connectors.FieldErrors
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v (out %v), want FieldErrors", err, out)
			}
			if len(fe) != len(tc.bad) {
				t.Errorf("field errors = %v, want keys %v", fe, tc.bad)
			}
			for _, k := range tc.bad {
				if fe[k] == "" {
					t.Errorf("no error for %q in %v", k, fe)
				}
			}
		})
	}
}
