package webchat

import (
	"fmt"
	"html"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/connector-gateway/connector/connectors"
)

// Setting keys.
const (
	SettingOrigins      = "allowed_origins"
	SettingTitle        = "title"
	SettingGreeting     = "greeting"
	SettingColor        = "color"
	SettingTextColor    = "text_color"
	SettingPosition     = "position"
	SettingPrechatName  = "prechat_name"
	SettingPrechatEmail = "prechat_email"
	SettingSound        = "sound"
)

// Values of the pre-chat settings.
const (
	PrechatOff      = "off"
	PrechatOptional = "optional"
	PrechatRequired = "required"
)

// Values of the position setting.
const (
	PositionRight = "right"
	PositionLeft  = "left"
)

const (
	defaultTitle     = "Chat with us"
	defaultGreeting  = "Hello! How can we help you?"
	defaultColor     = "#1f6feb"
	defaultTextColor = "#ffffff"
)

// hexColor is the only colour form accepted: it goes into the widget's CSS,
// so nothing but a plain colour may pass.
var hexColor = regexp.MustCompile(`^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$`)

// ValidateSettings checks s offline and returns a normalized copy with
// defaults filled in. Keys it does not know are copied unchanged; s is not
// modified. Bad fields are reported as a connectors.FieldErrors value.
func (*Connector) ValidateSettings(s connectors.Settings) (connectors.Settings, error) {
	out := make(connectors.Settings, len(s)+8)
	for k, v := range s {
		out[k] = v
	}
	fe := connectors.FieldErrors{}

	origins, err := connectors.ValidateOrigins(s[SettingOrigins])
	if err != "" {
		fe[SettingOrigins] = err
	}
	out[SettingOrigins] = connectors.JoinOrigins(origins)

	text := func(key, def string, max int, allowEmpty bool) {
		v, set := s[key]
		v = strings.TrimSpace(v)
		if !set || (v == "" && !allowEmpty) {
			v = def
		}
		if utf8.RuneCountInString(v) > max {
			fe[key] = fmt.Sprintf("at most %d characters", max)
		}
		out[key] = v
	}
	text(SettingTitle, defaultTitle, 80, false)
	text(SettingGreeting, defaultGreeting, 500, true)

	color := func(key, def string) {
		v := strings.TrimSpace(s[key])
		if v == "" {
			v = def
		}
		if !hexColor.MatchString(v) {
			fe[key] = "a colour as #rrggbb or #rgb"
		}
		out[key] = strings.ToLower(v)
	}
	color(SettingColor, defaultColor)
	color(SettingTextColor, defaultTextColor)

	choice := func(key, def string, options ...string) {
		v := strings.ToLower(strings.TrimSpace(s[key]))
		if v == "" {
			v = def
		}
		for _, o := range options {
			if v == o {
				out[key] = v
				return
			}
		}
		fe[key] = "one of " + strings.Join(options, ", ")
	}
	choice(SettingPosition, PositionRight, PositionRight, PositionLeft)
	choice(SettingPrechatName, PrechatOff, PrechatOff, PrechatOptional, PrechatRequired)
	choice(SettingPrechatEmail, PrechatOff, PrechatOff, PrechatOptional, PrechatRequired)
	choice(SettingSound, "false", "true", "false")

	if len(fe) > 0 {
		return nil, fe
	}
	return out, nil
}

// snippet is the script tag for a widget id on a gateway at publicURL.
func snippet(publicURL, widgetID string) string {
	src := strings.TrimRight(publicURL, "/") + "/widget.js"
	return `<script src="` + html.EscapeString(src) + `" data-widget="` + html.EscapeString(widgetID) + `" async></script>`
}

// publicConfig is what the widget needs to draw itself: display settings
// only (the allowed origins stay on the server).
type publicConfig struct {
	Title        string `json:"title"`
	Greeting     string `json:"greeting"`
	Color        string `json:"color"`
	TextColor    string `json:"text_color"`
	Position     string `json:"position"`
	PrechatName  string `json:"prechat_name"`
	PrechatEmail string `json:"prechat_email"`
	Sound        bool   `json:"sound"`
	MessageLimit int    `json:"message_limit"`
	UploadLimit  int64  `json:"upload_limit"`
}

func (cn *Connector) publicConfig(s connectors.Settings) publicConfig {
	// Settings were validated when saved; normalizing again fills in
	// defaults for keys added since.
	if norm, err := cn.ValidateSettings(s); err == nil {
		s = norm
	}
	color, text := s[SettingColor], s[SettingTextColor]
	if !hexColor.MatchString(color) {
		color = defaultColor
	}
	if !hexColor.MatchString(text) {
		text = defaultTextColor
	}
	return publicConfig{
		Title: s[SettingTitle], Greeting: s[SettingGreeting], Color: color, TextColor: text,
		Position: s[SettingPosition], PrechatName: s[SettingPrechatName], PrechatEmail: s[SettingPrechatEmail],
		Sound: s[SettingSound] == "true", MessageLimit: cn.opts.MessageLimit, UploadLimit: cn.opts.UploadLimit,
	}
}
