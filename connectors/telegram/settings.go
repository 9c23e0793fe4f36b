package telegram

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"regexp"
	"strings"

	"github.com/connector-gateway/connector/connectors"
)

var (
	// tokenShape is what @BotFather hands out: the bot id, a colon, a secret.
	tokenShape = regexp.MustCompile(`^\d+:[A-Za-z0-9_-]{30,}$`)
	// secretShape is what Telegram accepts as a webhook secret_token.
	secretShape = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`)
)

// ValidateSettings checks s offline and returns a normalized copy: values
// trimmed, mode defaulted to webhook, webhook_secret generated (32 URL-safe
// characters) when empty. Keys it does not know are copied unchanged. s is
// not modified. Bad fields are reported as a connectors.FieldErrors value.
func (*Connector) ValidateSettings(s connectors.Settings) (connectors.Settings, error) {
	out := make(connectors.Settings, len(s)+2)
	for k, v := range s {
		out[k] = v
	}
	fe := connectors.FieldErrors{}

	token := strings.TrimSpace(s[SettingBotToken])
	switch {
	case token == "":
		fe[SettingBotToken] = "is required: paste the token @BotFather gave you"
	case !tokenShape.MatchString(token):
		fe[SettingBotToken] = "does not look like a @BotFather token (digits, a colon, then at least 30 letters, digits, _ or -)"
	}
	out[SettingBotToken] = token

	mode := strings.ToLower(strings.TrimSpace(s[SettingMode]))
	if mode == "" {
		mode = ModeWebhook
	}
	if mode != ModeWebhook && mode != ModePolling {
		fe[SettingMode] = fmt.Sprintf("must be %q or %q", ModeWebhook, ModePolling)
	}
	out[SettingMode] = mode

	secret := strings.TrimSpace(s[SettingWebhookSecret])
	if secret == "" {
		gen, err := newSecret()
		if err != nil {
			return nil, fmt.Errorf("telegram: generate webhook secret: %w", err)
		}
		secret = gen
	} else if !secretShape.MatchString(secret) {
		fe[SettingWebhookSecret] = "must be 1 to 256 letters, digits, _ or -"
	}
	out[SettingWebhookSecret] = secret

	if len(fe) > 0 {
		return nil, fe
	}
	return out, nil
}

// newSecret returns 32 random characters from [A-Za-z0-9_-].
func newSecret() (string, error) {
	b := make([]byte, 24) // 24 bytes encode to exactly 32 characters
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
