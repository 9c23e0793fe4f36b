package slack

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/connector-gateway/connector/connectors"
)

var (
	// botTokenShape is a bot user OAuth token: "xoxb-" then dash-separated
	// letters and digits.
	botTokenShape = regexp.MustCompile(`^xoxb-[A-Za-z0-9-]{10,250}$`)
	// appTokenShape is an app-level token: "xapp-" then the same.
	appTokenShape = regexp.MustCompile(`^xapp-[A-Za-z0-9-]{10,250}$`)
	// signingSecretShape is what Slack shows as the signing secret: 32
	// hexadecimal digits.
	signingSecretShape = regexp.MustCompile(`^[0-9a-fA-F]{32}$`)
)

// ValidateSettings checks s offline and returns a normalized copy: values
// trimmed, mode lower-cased and defaulted to events. The bot token is
// always required; the signing secret in events mode, the app-level token
// in socket mode (a value given for the other mode is still checked, so a
// later switch works). Keys it does not know are copied unchanged; s is not
// modified. Bad fields are reported as a connectors.FieldErrors value.
func (*Connector) ValidateSettings(s connectors.Settings) (connectors.Settings, error) {
	out := make(connectors.Settings, len(s)+4)
	for k, v := range s {
		out[k] = v
	}
	fe := connectors.FieldErrors{}
	for _, k := range []string{SettingBotToken, SettingSigningSecret, SettingMode, SettingAppToken} {
		out[k] = strings.TrimSpace(s[k])
	}

	mode := strings.ToLower(out[SettingMode])
	if mode == "" {
		mode = ModeEvents
	}
	if mode != ModeEvents && mode != ModeSocket {
		fe[SettingMode] = fmt.Sprintf("must be %q or %q", ModeEvents, ModeSocket)
	}
	out[SettingMode] = mode

	switch token := out[SettingBotToken]; {
	case token == "":
		fe[SettingBotToken] = "is required: paste the Bot User OAuth Token from OAuth & Permissions (it starts with xoxb-)"
	case strings.HasPrefix(token, "xoxp-"):
		fe[SettingBotToken] = "is a user token (xoxp-); paste the Bot User OAuth Token, which starts with xoxb-"
	case strings.HasPrefix(token, "xapp-"):
		fe[SettingBotToken] = "is an app-level token (xapp-); it belongs in app_token. Paste the Bot User OAuth Token (xoxb-) here"
	case !botTokenShape.MatchString(token):
		fe[SettingBotToken] = "does not look like a Bot User OAuth Token (xoxb- followed by letters, digits and dashes)"
	}

	switch secret := out[SettingSigningSecret]; {
	case secret == "" && mode == ModeEvents:
		fe[SettingSigningSecret] = "is required in events mode: copy the Signing Secret from Basic Information → App Credentials"
	case secret != "" && !signingSecretShape.MatchString(secret):
		fe[SettingSigningSecret] = "does not look like a Slack signing secret (32 hexadecimal digits, from Basic Information → App Credentials; not the verification token or client secret)"
	}

	switch app := out[SettingAppToken]; {
	case app == "" && mode == ModeSocket:
		fe[SettingAppToken] = "is required in socket mode: create an App-Level Token with the connections:write scope under Basic Information (it starts with xapp-)"
	case app != "" && strings.HasPrefix(app, "xoxb-"):
		fe[SettingAppToken] = "is a bot token (xoxb-); paste the App-Level Token, which starts with xapp-"
	case app != "" && !appTokenShape.MatchString(app):
		fe[SettingAppToken] = "does not look like an App-Level Token (xapp- followed by letters, digits and dashes)"
	}

	if len(fe) > 0 {
		return nil, fe
	}
	return out, nil
}
