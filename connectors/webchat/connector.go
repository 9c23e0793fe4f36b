// Package webchat is the web chat widget channel: a script tag any site can
// include puts a chat button on its pages. Anonymous visitors get a signed
// token kept in their browser; their messages become normalized events
// through the outbox like any messenger's, and the portal's replies reach
// the visitor's open tabs over a WebSocket and are kept as history.
//
// Unlike other channels the gateway itself is the "messenger" here: the
// conversation history, visitors and uploads live in the gateway's
// database (tables webchat_*), so the connector is built with the
// database and a Sink for visitors' events (New), once the gateway's
// storage is open. Handler returns the HTTP surface the API server mounts
// under /widget.js and /widget/....
package webchat

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/connector-gateway/connector/connectors"
)

// Type is the connector type and the channel of every event.
const Type = "webchat"

// Options tune the connector. Zero fields take the documented default.
type Options struct {
	// MessageLimit is the longest visitor message, in characters. Default 4000.
	MessageLimit int `mapstructure:"message_limit"`
	// UploadLimit is the largest visitor upload, in bytes. Default
	// 10485760 (10 MiB); at most 64 MiB. MySQL's max_allowed_packet must
	// be larger.
	UploadLimit int64 `mapstructure:"upload_limit"`
	// RatePerMinute is how many messages and uploads one visitor may send
	// per minute; bursts of up to Burst pass at once. Default 30.
	RatePerMinute int `mapstructure:"rate_per_minute"`
	// Poll is how often an open widget socket looks in the database for
	// messages stored by another gateway process (mysql only). Default 2s.
	Poll time.Duration `mapstructure:"poll"`

	// Burst is the most messages a visitor may send at once. Default 10.
	Burst int `mapstructure:"-"`
	// MaxTabs is the most open sockets of one visitor. Default 8.
	MaxTabs int `mapstructure:"-"`
	// Recheck is how often an open socket checks that its connection is
	// still active and the page's site still allowed. Default 30s.
	Recheck time.Duration `mapstructure:"-"`
	// Now is the clock. Default time.Now.
	Now func() time.Time `mapstructure:"-"`
}

// DefaultOptions are the webchat.* config keys' defaults.
func DefaultOptions() Options {
	return Options{MessageLimit: 4000, UploadLimit: 10 << 20, RatePerMinute: 30, Poll: 2 * time.Second}
}

// Validate checks the configured fields and names the first bad one by its
// config key.
func (o Options) Validate() error {
	switch {
	case o.MessageLimit < 1 || o.MessageLimit > 100000:
		return fmt.Errorf("message_limit: want 1..100000 characters, got %d", o.MessageLimit)
	case o.UploadLimit < 1024 || o.UploadLimit > 64<<20:
		return fmt.Errorf("upload_limit: want 1024..67108864 bytes, got %d", o.UploadLimit)
	case o.RatePerMinute < 1:
		return errors.New("rate_per_minute: must be at least 1")
	case o.Poll <= 0:
		return errors.New("poll: must be positive")
	}
	return nil
}

func (o *Options) setDefaults() {
	if o.MessageLimit == 0 {
		o.MessageLimit = 4000
	}
	if o.UploadLimit == 0 {
		o.UploadLimit = 10 << 20
	}
	if o.RatePerMinute == 0 {
		o.RatePerMinute = 30
	}
	if o.Burst == 0 {
		o.Burst = 10
	}
	if o.Poll == 0 {
		o.Poll = 2 * time.Second
	}
	if o.MaxTabs == 0 {
		o.MaxTabs = 8
	}
	if o.Recheck == 0 {
		o.Recheck = 30 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Connector is the web chat connector. One value serves every widget
// connection; it is safe for concurrent use.
type Connector struct {
	opts Options
	h    *Handler
}

var (
	_ connectors.Connector   = (*Connector)(nil)
	_ connectors.Typer       = (*Connector)(nil)
	_ connectors.FileFetcher = (*Connector)(nil)
	_ connectors.Embedder    = (*Connector)(nil)
	_ connectors.ReadMarker  = (*Connector)(nil)
)

// New returns a connector on the gateway's storage.
func New(g Gateway, opts Options) (*Connector, error) {
	opts.setDefaults()
	cn := &Connector{opts: opts}
	h, err := newHandler(cn, g)
	if err != nil {
		return nil, err
	}
	cn.h = h
	return cn, nil
}

// Handler is the widget's HTTP surface.
func (cn *Connector) Handler() *Handler { return cn.h }

// Describe returns the connector's type, title and settings form.
func (*Connector) Describe() connectors.Description {
	prechat := []string{PrechatOff, PrechatOptional, PrechatRequired}
	return connectors.Description{
		Type:  Type,
		Title: "Web chat widget",
		Fields: []connectors.Field{
			{Key: SettingOrigins, Label: "Allowed sites", Type: "text", Required: true,
				Help: "origins of the pages that may show the widget, e.g. https://www.example.com; several separated by spaces or commas; https://*.example.com allows every subdomain"},
			{Key: SettingTitle, Label: "Title", Type: "text", Default: defaultTitle, Help: "shown at the top of the chat panel"},
			{Key: SettingGreeting, Label: "Greeting", Type: "text", Default: defaultGreeting, Help: "first message a visitor sees; leave empty for none"},
			{Key: SettingColor, Label: "Colour", Type: "text", Default: defaultColor, Help: "button and header colour, #rrggbb"},
			{Key: SettingTextColor, Label: "Text colour", Type: "text", Default: defaultTextColor, Help: "text on the button and header, #rrggbb"},
			{Key: SettingPosition, Label: "Position", Type: "select", Options: []string{PositionRight, PositionLeft}, Default: PositionRight},
			{Key: SettingPrechatName, Label: "Ask for the visitor's name", Type: "select", Options: prechat, Default: PrechatOff},
			{Key: SettingPrechatEmail, Label: "Ask for the visitor's e-mail", Type: "select", Options: prechat, Default: PrechatOff},
			{Key: SettingSound, Label: "Sound on new replies", Type: "bool", Default: "false"},
		},
	}
}

// Test checks the connection: its settings, that the gateway has a public
// URL for the snippet, and that the widget's storage answers.
func (cn *Connector) Test(ctx context.Context, c connectors.Conn) (connectors.TestReport, error) {
	var checks []connectors.Check
	if _, err := cn.ValidateSettings(c.Settings); err != nil {
		checks = append(checks, connectors.Check{Name: "Settings", Detail: err.Error(), Fix: "Correct the settings and save them again"})
	} else {
		checks = append(checks, connectors.Check{Name: "Settings", OK: true,
			Detail: "The widget may be shown on: " + connectors.JoinOrigins(connectors.ParseOrigins(c.Settings[SettingOrigins])) + "."})
	}
	if c.EntryURL == "" {
		checks = append(checks, connectors.Check{Name: "Public URL", Detail: "The gateway has no public URL, so there is no snippet to paste.",
			Fix: "Set public_url in the gateway's configuration to the address browsers reach it at"})
	} else {
		checks = append(checks, connectors.Check{Name: "Public URL", OK: true, Detail: "Browsers load the widget from the gateway's public URL."})
	}
	if err := cn.h.store.ping(ctx); err != nil {
		checks = append(checks, connectors.Check{Name: "Storage", Detail: err.Error(), Fix: "Check the gateway's database and run `connector migrate`"})
	} else {
		checks = append(checks, connectors.Check{Name: "Storage", OK: true, Detail: "Conversations can be stored."})
	}
	rep := connectors.TestReport{OK: true, Checks: checks}
	for _, ch := range checks {
		rep.OK = rep.OK && ch.OK
	}
	return rep, nil
}

// Activate makes the widget answer; there is no messenger to register with.
func (*Connector) Activate(context.Context, connectors.Conn) error { return nil }

// Deactivate makes the widget stop answering (the gateway marks the
// connection inactive; open sockets close at their next check).
func (*Connector) Deactivate(context.Context, connectors.Conn) error { return nil }

// Snippet is the HTML an admin pastes into the pages of the allowed sites.
func (*Connector) Snippet(c connectors.Conn, publicURL string) string {
	return snippet(publicURL, c.Hash)
}
