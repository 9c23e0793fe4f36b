// Package botframework is the Microsoft Bot Framework connector: one Azure
// Bot (an App ID and its secret) carries many virtual channels — Microsoft
// Teams, Web Chat, Direct Line, Skype, Slack, e-mail, SMS... — and the
// portal sees each as its own channel ("botframework.msteams").
//
// Every request Bot Framework makes to the entry URL carries a JWT that is
// checked here (RS256, issuer, audience, lifetime, the serviceurl claim, the
// signing key's channel endorsements) against keys from Bot Framework's
// OpenID metadata, cached per Connector value. Replies go to the service
// URL the conversation came from; the connector keeps no state of its own,
// so that reference travels inside the chat id (see chatid.go). Outbound
// calls carry an access token got by OAuth2 client credentials and cached
// until shortly before it expires.
//
// The App password is a secret: it never appears in events, file links or
// error text, and neither do access tokens.
package botframework

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/connector-gateway/connector/connectors"
)

// Type is the connector type; events carry Channel "botframework.<channelId>".
const Type = "botframework"

// Setting keys.
const (
	SettingAppID          = "app_id"
	SettingAppPassword    = "app_password"
	SettingTenantID       = "tenant_id"
	SettingChannels       = "channels"
	SettingAcceptEmulator = "accept_emulator"
)

// Default endpoints (Microsoft's public cloud).
const (
	DefaultOpenIDURL         = "https://login.botframework.com/v1/.well-known/openidconfiguration"
	DefaultEmulatorOpenIDURL = "https://login.microsoftonline.com/botframework.com/v2.0/.well-known/openid-configuration"
	DefaultTokenURL          = "https://login.microsoftonline.com"
	// DefaultTenant is the token authority of multi-tenant bots.
	DefaultTenant = "botframework.com"
	// TokenScope is the scope of the access token outbound calls carry.
	TokenScope = "https://api.botframework.com/.default"
	// ChannelIssuer is the issuer of every token Bot Framework channels send.
	ChannelIssuer = "https://api.botframework.com"
)

// DefaultServiceURLs are the service URL patterns replies may go to when
// Options.ServiceURLs adds none: Bot Framework's own hosts and Teams'
// regional ones. A pattern is scheme://host[:port][/path-prefix]; a host
// starting with "*." matches any subdomain of the rest.
var DefaultServiceURLs = []string{
	"https://*.botframework.com",
	"https://smba.trafficmanager.net",
	"https://*.botframework.azure.us",
	"https://smba.infra.gcc.teams.microsoft.com",
	"https://smba.infra.gov.teams.microsoft.us",
}

// Options configure a Connector. The zero value talks to Microsoft's public
// cloud.
type Options struct {
	// OpenIDURL is the OpenID metadata whose jwks_uri names the keys that
	// sign Bot Framework's requests. Default DefaultOpenIDURL
	// ("https://login.botframework.com/v1/.well-known/openidconfiguration").
	OpenIDURL string `mapstructure:"openid_url"`
	// EmulatorOpenIDURL is the metadata of the Bot Framework Emulator's
	// tokens (Azure AD), used only by connections that accept them. Default
	// DefaultEmulatorOpenIDURL.
	EmulatorOpenIDURL string `mapstructure:"emulator_openid_url"`
	// TokenURL is the base of the OAuth2 token endpoint:
	// {TokenURL}/{tenant}/oauth2/v2.0/token. Default DefaultTokenURL
	// ("https://login.microsoftonline.com").
	TokenURL string `mapstructure:"token_url"`
	// ServiceURLs are extra service URL patterns replies may be posted to,
	// on top of DefaultServiceURLs (a test's fake Connector service, a
	// sovereign cloud): scheme://host[:port][/path], host optionally
	// "*.domain". Default none.
	ServiceURLs []string `mapstructure:"service_urls"`

	// HTTPClient makes every outgoing request. Default: a 15s timeout.
	HTTPClient *http.Client `mapstructure:"-"`
	// KeyRefresh is how often the signing keys are fetched again even when
	// every kid is known. Default 24h.
	KeyRefresh time.Duration `mapstructure:"-"`
	// KeyRetry is the least time between two fetches of the keys caused by
	// an unknown kid (or a failed fetch). Default 1m.
	KeyRetry time.Duration `mapstructure:"-"`
	// Now is the clock tokens are judged by. Default time.Now.
	Now func() time.Time `mapstructure:"-"`
	// Logger receives warnings (a key refresh that failed). Default
	// slog.Default().
	Logger *slog.Logger `mapstructure:"-"`
}

// DefaultOptions are the botframework.* config keys' defaults.
func DefaultOptions() Options {
	return Options{OpenIDURL: DefaultOpenIDURL, EmulatorOpenIDURL: DefaultEmulatorOpenIDURL, TokenURL: DefaultTokenURL}
}

// Validate checks the configured fields and names the first bad one by its
// config key.
func (o Options) Validate() error {
	for _, kv := range [][2]string{
		{"openid_url", o.OpenIDURL}, {"emulator_openid_url", o.EmulatorOpenIDURL}, {"token_url", o.TokenURL},
	} {
		if u, err := url.Parse(kv[1]); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("%s: want an absolute http(s) URL, got %q", kv[0], kv[1])
		}
	}
	for _, p := range o.ServiceURLs {
		if u, err := url.Parse(strings.Replace(p, "://*.", "://", 1)); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("service_urls: want scheme://host[:port][/path] patterns, got %q", p)
		}
	}
	return nil
}

// Connector is the Bot Framework connector. One value serves every
// connection of its type and holds the key caches and the access tokens
// they share; it is safe for concurrent use.
type Connector struct {
	client      *http.Client
	tokenURL    string
	serviceURLs []urlPattern
	now         func() time.Time
	log         *slog.Logger

	channelKeys  *keyCache
	emulatorKeys *keyCache
	tokens       *tokenCache

	refused atomic.Int64
}

var (
	_ connectors.Connector       = (*Connector)(nil)
	_ connectors.WebhookReceiver = (*Connector)(nil)
	_ connectors.Editor          = (*Connector)(nil)
	_ connectors.Deleter         = (*Connector)(nil)
	_ connectors.Typer           = (*Connector)(nil)
	_ connectors.FileFetcher     = (*Connector)(nil)
	_ connectors.Identifier      = (*Connector)(nil)
)

// New returns a Connector; zero Options fields take their defaults. A
// service URL pattern that does not parse is an error.
func New(opts Options) (*Connector, error) {
	cn := &Connector{client: opts.HTTPClient, tokenURL: opts.TokenURL, now: opts.Now, log: opts.Logger}
	if cn.client == nil {
		cn.client = &http.Client{Timeout: 15 * time.Second}
	}
	if cn.tokenURL == "" {
		cn.tokenURL = DefaultTokenURL
	}
	if cn.now == nil {
		cn.now = time.Now
	}
	if cn.log == nil {
		cn.log = slog.Default()
	}
	for _, p := range append(append([]string(nil), DefaultServiceURLs...), opts.ServiceURLs...) {
		pat, err := parsePattern(p)
		if err != nil {
			return nil, err
		}
		cn.serviceURLs = append(cn.serviceURLs, pat)
	}
	refresh, retry := opts.KeyRefresh, opts.KeyRetry
	if refresh <= 0 {
		refresh = 24 * time.Hour
	}
	if retry <= 0 {
		retry = time.Minute
	}
	openID, emu := opts.OpenIDURL, opts.EmulatorOpenIDURL
	if openID == "" {
		openID = DefaultOpenIDURL
	}
	if emu == "" {
		emu = DefaultEmulatorOpenIDURL
	}
	cn.channelKeys = newKeyCache(openID, cn.client, refresh, retry, cn.now, cn.log)
	cn.emulatorKeys = newKeyCache(emu, cn.client, refresh, retry, cn.now, cn.log)
	cn.tokens = newTokenCache(cn.client, cn.tokenURL, cn.now)
	return cn, nil
}

// Describe returns the connector's type, title and settings form.
func (*Connector) Describe() connectors.Description {
	return connectors.Description{
		Type:  Type,
		Title: "Microsoft Teams / Bot Framework",
		Fields: []connectors.Field{
			{Key: SettingAppID, Label: "Microsoft App ID", Help: "the Azure Bot's Microsoft App ID (a GUID)", Type: "text", Required: true},
			{Key: SettingAppPassword, Label: "App password (client secret)", Help: "a client secret of the App registration", Type: "secret", Required: true},
			{Key: SettingTenantID, Label: "Tenant ID", Help: "only for single-tenant bots; empty for multi-tenant", Type: "text"},
			{Key: SettingChannels, Label: "Accepted channels", Help: "comma-separated channel ids (msteams, webchat, directline...); empty accepts all", Type: "text"},
			{Key: SettingAcceptEmulator, Label: "Accept Bot Framework Emulator", Help: "accept tokens the Emulator signs (for development only)", Type: "bool", Default: "false"},
		},
	}
}

// Activate has nothing to register: the admin pastes the entry URL into the
// Azure Bot's "Messaging endpoint" (the connection test shows it).
func (*Connector) Activate(context.Context, connectors.Conn) error { return nil }

// Deactivate is a no-op for the same reason; Bot Framework's requests to a
// deactivated connection are refused by the gateway.
func (*Connector) Deactivate(context.Context, connectors.Conn) error { return nil }

// RefusedChannels is how many activities, since the Connector was made,
// came from a virtual channel their connection does not accept (answered
// 200, nothing enqueued).
func (cn *Connector) RefusedChannels() int64 { return cn.refused.Load() }

// BotKey identifies the bot by its App ID: "botframework:<app id>". It does
// not call Microsoft (an App ID names one bot registration).
func (*Connector) BotKey(_ context.Context, c connectors.Conn) (string, error) {
	id := normalizeAppID(c.Settings[SettingAppID])
	if id == "" {
		return "", permanent("identify bot: no App ID is set")
	}
	return Type + ":" + id, nil
}
