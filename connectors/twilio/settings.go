package twilio

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/connector-gateway/connector/connectors"
)

var (
	accountSIDShape = regexp.MustCompile(`^AC[0-9a-fA-F]{32}$`)
	apiKeySIDShape  = regexp.MustCompile(`^SK[0-9a-fA-F]{32}$`)
	serviceSIDShape = regexp.MustCompile(`^MG[0-9a-fA-F]{32}$`)
	tokenShape      = regexp.MustCompile(`^[0-9a-zA-Z]{32}$`)
	e164Shape       = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	// A SIP URI as Twilio's <Sip> takes it; the user part may carry
	// parameters, the host a port.
	sipShape      = regexp.MustCompile(`^sips?:[^\s<>"]+@[A-Za-z0-9.-]+(:[0-9]+)?(;[^\s<>"]*)?$`)
	identityShape = regexp.MustCompile(`^[A-Za-z0-9_.@-]{1,121}$`)
)

// ValidateSettings checks s offline and returns a normalized copy: values
// trimmed, a "whatsapp:" prefix on the WhatsApp sender dropped, voice_mode
// defaulted to none. Keys it does not know are copied unchanged; s is not
// modified. Bad fields are reported as a connectors.FieldErrors value.
func (*Connector) ValidateSettings(s connectors.Settings) (connectors.Settings, error) {
	out := make(connectors.Settings, len(s)+2)
	for k, v := range s {
		out[k] = strings.TrimSpace(v)
	}
	fe := connectors.FieldErrors{}

	switch sid := out[SettingAccountSID]; {
	case sid == "":
		fe[SettingAccountSID] = "is required: copy the Account SID (AC…) from the Twilio Console"
	case !accountSIDShape.MatchString(sid):
		fe[SettingAccountSID] = "must be AC followed by 32 hexadecimal digits"
	}
	switch tok := out[SettingAuthToken]; {
	case tok == "":
		fe[SettingAuthToken] = "is required: Twilio signs every webhook with it, so the gateway can tell Twilio's requests from forgeries"
	case !tokenShape.MatchString(tok):
		fe[SettingAuthToken] = "must be 32 letters and digits, as the Twilio Console shows it"
	}
	keySID, keySecret := out[SettingAPIKeySID], out[SettingAPIKeySecret]
	switch {
	case keySID != "" && !apiKeySIDShape.MatchString(keySID):
		fe[SettingAPIKeySID] = "must be SK followed by 32 hexadecimal digits"
	case keySID != "" && keySecret == "":
		fe[SettingAPIKeySecret] = "is required with an API key SID"
	case keySID == "" && keySecret != "":
		fe[SettingAPIKeySID] = "is required with an API key secret"
	}

	phone := out[SettingPhoneNumber]
	if phone != "" && !e164Shape.MatchString(phone) {
		fe[SettingPhoneNumber] = "must be in E.164: a +, the country code and the number, no spaces (+14155550100)"
	}
	wa := strings.TrimPrefix(out[SettingWhatsAppNumber], "whatsapp:")
	out[SettingWhatsAppNumber] = wa
	if wa != "" && !e164Shape.MatchString(wa) {
		fe[SettingWhatsAppNumber] = "must be in E.164: a +, the country code and the number, no spaces (+14155550100)"
	}
	if svc := out[SettingMessagingService]; svc != "" && !serviceSIDShape.MatchString(svc) {
		fe[SettingMessagingService] = "must be MG followed by 32 hexadecimal digits"
	}
	if phone == "" && wa == "" {
		fe[SettingPhoneNumber] = "set the phone number, the WhatsApp sender, or both"
	}

	mode := strings.ToLower(out[SettingVoiceMode])
	if mode == "" {
		mode = VoiceNone
	}
	out[SettingVoiceMode] = mode
	switch mode {
	case VoiceNone:
	case VoiceForward:
		if msg := forwardProblem(out[SettingVoiceForwardTo]); msg != "" {
			fe[SettingVoiceForwardTo] = msg
		}
	case VoiceQueue:
		if q := out[SettingVoiceQueue]; q == "" || len(q) > 64 {
			fe[SettingVoiceQueue] = "is required in queue mode: a queue name of at most 64 characters"
		}
	case VoiceVoicemail:
		if out[SettingVoiceMessage] == "" {
			out[SettingVoiceMessage] = DefaultVoiceMessage
		}
		if len(out[SettingVoiceMessage]) > 4096 {
			fe[SettingVoiceMessage] = "is longer than the 4096 characters Twilio says at once"
		}
	default:
		fe[SettingVoiceMode] = fmt.Sprintf("must be %s, %s, %s or %s", VoiceNone, VoiceForward, VoiceQueue, VoiceVoicemail)
	}
	if mode != VoiceNone && phone == "" {
		fe[SettingPhoneNumber] = "is required to receive calls"
	}

	switch v := strings.ToLower(out[SettingConfigureNumber]); v {
	case "", "false", "0", "off", "no":
		out[SettingConfigureNumber] = "false"
	case "true", "1", "on", "yes":
		out[SettingConfigureNumber] = "true"
		if phone == "" {
			fe[SettingConfigureNumber] = "needs the phone number to configure"
		}
	default:
		fe[SettingConfigureNumber] = "must be true or false"
	}

	if len(fe) > 0 {
		return nil, fe
	}
	return out, nil
}

// forwardProblem says what is wrong with a voice_forward_to value ("" when
// it is fine).
func forwardProblem(to string) string {
	switch {
	case to == "":
		return "is required in forward mode: +E.164 number, sip:user@host or client:identity"
	case strings.HasPrefix(to, "client:"):
		if !identityShape.MatchString(strings.TrimPrefix(to, "client:")) {
			return "a client identity may hold letters, digits, _ . @ and -, at most 121 of them"
		}
	case strings.HasPrefix(to, "sip:"), strings.HasPrefix(to, "sips:"):
		if !sipShape.MatchString(to) {
			return "is not a SIP URI of the form sip:user@host"
		}
	case !e164Shape.MatchString(to):
		return "must be a number in E.164 (+14155550100), sip:user@host or client:identity"
	}
	return ""
}
