package meta

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"regexp"
	"strings"

	"github.com/connector-gateway/connector/connectors"
)

// Setting keys. app_secret and verify_token are shared by all three
// connectors; the others belong to one channel.
const (
	// WhatsApp.
	SettingPhoneNumberID = "phone_number_id"
	SettingWABAID        = "waba_id"
	SettingAccessToken   = "access_token" // also Instagram's token
	// Messenger.
	SettingPageID          = "page_id"
	SettingPageAccessToken = "page_access_token"
	// Instagram.
	SettingAccountID = "account_id"
	// All three.
	SettingAppSecret   = "app_secret"
	SettingVerifyToken = "verify_token"
)

var (
	// idShape is a Graph API object id: digits.
	idShape = regexp.MustCompile(`^[0-9]{1,32}$`)
	// tokenShape is an access token: no spaces, at least 20 characters
	// (Meta's are well over 100; the exact alphabet is not documented).
	tokenShape = regexp.MustCompile(`^[A-Za-z0-9_.|~+/=-]{20,1000}$`)
	// appSecretShape is what the app dashboard shows as the App Secret.
	appSecretShape = regexp.MustCompile(`^[0-9a-fA-F]{32}$`)
	// verifyTokenShape keeps the verify token safe to paste and to compare
	// as a query value.
	verifyTokenShape = regexp.MustCompile(`^[A-Za-z0-9_.~-]{1,256}$`)
)

// channel is what differs between the three connectors' settings.
type channel struct {
	typ, title string
	// idKey names the number, page or account id; tokenKey its token.
	idKey, tokenKey string
	idLabel, idHelp string
	tokenLabel      string
	tokenHelp       string
	// object is the webhook body's "object" value.
	object string
}

var channels = map[string]channel{
	TypeWhatsApp: {
		typ: TypeWhatsApp, title: "WhatsApp (Cloud API)",
		idKey: SettingPhoneNumberID, idLabel: "Phone number ID",
		idHelp:   "WhatsApp → API Setup in the app dashboard: the Phone number ID (digits), not the phone number itself",
		tokenKey: SettingAccessToken, tokenLabel: "Access token",
		tokenHelp: "a System User access token with whatsapp_business_messaging (and whatsapp_business_management)",
		object:    "whatsapp_business_account",
	},
	TypeMessenger: {
		typ: TypeMessenger, title: "Facebook Messenger",
		idKey: SettingPageID, idLabel: "Page ID",
		idHelp:   "the Facebook Page's id (Page → About → Page transparency, or Meta Business Suite)",
		tokenKey: SettingPageAccessToken, tokenLabel: "Page access token",
		tokenHelp: "Messenger → Messenger API Settings → Generate token, with pages_messaging",
		object:    "page",
	},
	TypeInstagram: {
		typ: TypeInstagram, title: "Instagram",
		idKey: SettingAccountID, idLabel: "Instagram account ID",
		idHelp:   "the Instagram professional account's id (Instagram → API setup in the app dashboard)",
		tokenKey: SettingAccessToken, tokenLabel: "Access token",
		tokenHelp: "the access token of the linked Page or Instagram account, with instagram_manage_messages",
		object:    "instagram",
	},
}

func describe(ch channel) connectors.Description {
	fields := []connectors.Field{
		{Key: ch.idKey, Label: ch.idLabel, Help: ch.idHelp, Type: "text", Required: true},
	}
	if ch.typ == TypeWhatsApp {
		fields = append(fields, connectors.Field{Key: SettingWABAID, Label: "WhatsApp Business Account ID",
			Help: "optional: lets the connection test check the number belongs to this account", Type: "text"})
	}
	fields = append(fields,
		connectors.Field{Key: ch.tokenKey, Label: ch.tokenLabel, Help: ch.tokenHelp, Type: "secret", Required: true},
		connectors.Field{Key: SettingAppSecret, Label: "App secret",
			Help: "App settings → Basic → App secret; Meta signs every webhook with it", Type: "secret", Required: true},
		connectors.Field{Key: SettingVerifyToken, Label: "Verify token",
			Help: "you paste it into the app's webhook settings next to the callback URL; generated when empty", Type: "secret"},
	)
	return connectors.Description{Type: ch.typ, Title: ch.title, Fields: fields}
}

// validate checks s offline for channel ch and returns a normalized copy:
// values trimmed, the verify token generated (32 URL-safe characters) when
// empty. Keys it does not know are copied unchanged; s is not modified.
func validate(ch channel, s connectors.Settings) (connectors.Settings, error) {
	out := make(connectors.Settings, len(s)+2)
	for k, v := range s {
		out[k] = v
	}
	fe := connectors.FieldErrors{}
	keys := []string{ch.idKey, ch.tokenKey, SettingAppSecret, SettingVerifyToken}
	if ch.typ == TypeWhatsApp {
		keys = append(keys, SettingWABAID)
	}
	for _, k := range keys {
		out[k] = strings.TrimSpace(s[k])
	}

	switch id := out[ch.idKey]; {
	case id == "":
		fe[ch.idKey] = "is required: " + ch.idHelp
	case strings.HasPrefix(id, "+") && ch.typ == TypeWhatsApp:
		fe[ch.idKey] = "is a phone number; paste the Phone number ID shown under WhatsApp → API Setup (digits only)"
	case !idShape.MatchString(id):
		fe[ch.idKey] = "must be the numeric id (digits only)"
	}
	if ch.typ == TypeWhatsApp {
		if w := out[SettingWABAID]; w != "" && !idShape.MatchString(w) {
			fe[SettingWABAID] = "must be the numeric WhatsApp Business Account id (digits only), or empty"
		}
	}
	switch tok := out[ch.tokenKey]; {
	case tok == "":
		fe[ch.tokenKey] = "is required: " + ch.tokenHelp
	case !tokenShape.MatchString(tok):
		fe[ch.tokenKey] = "does not look like a Meta access token (at least 20 characters, no spaces)"
	}
	switch sec := out[SettingAppSecret]; {
	case sec == "":
		fe[SettingAppSecret] = "is required: copy the App secret from App settings → Basic"
	case !appSecretShape.MatchString(sec):
		fe[SettingAppSecret] = "does not look like an App secret (32 hexadecimal digits, from App settings → Basic; not an access token)"
	}
	switch vt := out[SettingVerifyToken]; {
	case vt == "":
		gen, err := newSecret()
		if err != nil {
			return nil, fmt.Errorf("meta: generate verify token: %w", err)
		}
		out[SettingVerifyToken] = gen
	case !verifyTokenShape.MatchString(vt):
		fe[SettingVerifyToken] = "must be 1 to 256 letters, digits, '.', '_', '~' or '-'"
	}
	if len(fe) > 0 {
		return nil, fe
	}
	return out, nil
}

// newSecret returns 32 random characters from [A-Za-z0-9_-].
func newSecret() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Describe returns the connector's type, title and settings form.
func (*WhatsApp) Describe() connectors.Description { return describe(channels[TypeWhatsApp]) }

// Describe returns the connector's type, title and settings form.
func (m *Messaging) Describe() connectors.Description { return describe(channels[m.typ]) }

// ValidateSettings checks s offline and returns it normalized; bad fields
// are a connectors.FieldErrors value.
func (*WhatsApp) ValidateSettings(s connectors.Settings) (connectors.Settings, error) {
	return validate(channels[TypeWhatsApp], s)
}

// ValidateSettings checks s offline and returns it normalized; bad fields
// are a connectors.FieldErrors value.
func (m *Messaging) ValidateSettings(s connectors.Settings) (connectors.Settings, error) {
	return validate(channels[m.typ], s)
}
