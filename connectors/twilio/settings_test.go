package twilio_test

import (
	"errors"
	"testing"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/twilio"
	"github.com/connector-gateway/connector/connectors/twilio/twiliotest"
)

func TestValidateSettings(t *testing.T) {
	cn := twilio.New(twilio.Options{})
	good := func() connectors.Settings {
		return connectors.Settings{"account_sid": twiliotest.AccountSID, "auth_token": twiliotest.AuthToken, "phone_number": " " + twiliotest.Number + " "}
	}
	s, err := cn.ValidateSettings(good())
	if err != nil || s["voice_mode"] != "none" || s["phone_number"] != twiliotest.Number {
		t.Fatalf("%v %v", s, err)
	}
	s2 := good()
	s2["whatsapp_number"] = "whatsapp:+14155550100"
	s2["voice_mode"] = "voicemail"
	if s, err := cn.ValidateSettings(s2); err != nil || s["whatsapp_number"] != "+14155550100" || s["voice_message"] != twilio.DefaultVoiceMessage {
		t.Fatalf("%v %v", s, err)
	}
	for _, tc := range []struct {
		set   map[string]string
		field string
	}{
		{map[string]string{"account_sid": ""}, "account_sid"},
		{map[string]string{"account_sid": "AC123"}, "account_sid"},
		{map[string]string{"auth_token": "short"}, "auth_token"},
		{map[string]string{"api_key_sid": "SK0123456789abcdef0123456789abcdef"}, "api_key_secret"},
		{map[string]string{"api_key_secret": "x"}, "api_key_sid"},
		{map[string]string{"phone_number": "4155550100"}, "phone_number"},
		{map[string]string{"phone_number": ""}, "phone_number"},
		{map[string]string{"whatsapp_number": "+1 415"}, "whatsapp_number"},
		{map[string]string{"messaging_service_sid": "MGx"}, "messaging_service_sid"},
		{map[string]string{"voice_mode": "dance"}, "voice_mode"},
		{map[string]string{"voice_mode": "forward"}, "voice_forward_to"},
		{map[string]string{"voice_mode": "forward", "voice_forward_to": "sip:nohost"}, "voice_forward_to"},
		{map[string]string{"voice_mode": "forward", "voice_forward_to": "client:bad identity"}, "voice_forward_to"},
		{map[string]string{"voice_mode": "queue"}, "voice_queue"},
		{map[string]string{"voice_mode": "queue", "voice_queue": "q", "phone_number": "", "whatsapp_number": "+14155550100"}, "phone_number"},
	} {
		s := good()
		for k, v := range tc.set {
			s[k] = v
		}
		_, err := cn.ValidateSettings(s)
		var fe connectors.FieldErrors
		if !errors.As(err, &fe) || fe[tc.field] == "" {
			t.Errorf("%v: want an error on %s, got %v", tc.set, tc.field, err)
		}
	}
}
