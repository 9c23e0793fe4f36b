// Package slack is the Slack connector. It receives Events API requests over
// HTTP (each verified with the app's signing secret) or through Socket Mode,
// normalizes messages, edits, deletions and file shares in DMs, channels,
// private channels, group DMs and threads into connectors.Event values, and
// sends, edits and deletes messages with the bot token.
//
// Every Slack Web API call goes through github.com/slack-go/slack. Tokens and
// the signing secret are secrets: they never appear in events or error text.
//
// Chat ids are the Slack channel id ("C0123ABCD", "D0456EFGH"), or for a
// thread the channel id and the thread's root ts joined by a colon
// ("C0123ABCD:1700000000.000100"); a reply to such a chat goes into that
// thread.
package slack

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/connector-gateway/connector/connectors"
)

// Type is the connector type and the channel name of every event.
const Type = "slack"

// Setting keys.
const (
	SettingBotToken      = "bot_token"
	SettingSigningSecret = "signing_secret"
	SettingMode          = "mode"
	SettingAppToken      = "app_token"
)

// Receive modes.
const (
	// ModeEvents receives Events API requests at the connection's entry URL.
	ModeEvents = "events"
	// ModeSocket receives through a Socket Mode websocket (no public URL).
	ModeSocket = "socket"
)

// DefaultAPIURL is Slack's Web API base URL.
const DefaultAPIURL = slackapi.APIURL

// Options configure a Connector. The zero value talks to slack.com.
type Options struct {
	// APIURL is the Web API base URL, method names are appended to it.
	// Default DefaultAPIURL ("https://slack.com/api/"); tests name a fake.
	APIURL string `mapstructure:"api_url"`

	// HTTPClient makes every Web API request and file download. Default: a
	// client with a 20s timeout (downloads use a client without one, bounded
	// by the caller's context).
	HTTPClient *http.Client `mapstructure:"-"`
	// ChannelInterval is the pause between two messages to one channel
	// (Slack allows about one per second). Default 1s; negative disables.
	ChannelInterval time.Duration `mapstructure:"-"`
	// ProfileTTL is how long a looked-up user profile or channel title is
	// used before it is looked up again (in the background). Default 1h.
	ProfileTTL time.Duration `mapstructure:"-"`
	// Logger receives background failures (profile lookups, Socket Mode).
	// Default slog.Default().
	Logger *slog.Logger `mapstructure:"-"`
}

// DefaultOptions are the slack.* config keys' defaults.
func DefaultOptions() Options { return Options{APIURL: DefaultAPIURL} }

// Validate checks the configured fields and names the first bad one by its
// config key.
func (o Options) Validate() error {
	if u, err := url.Parse(o.APIURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("api_url: want an absolute http(s) URL, got %q", o.APIURL)
	}
	return nil
}

// Connector is the Slack connector. One value serves every Slack connection;
// it is safe for concurrent use. Close stops its background lookups.
type Connector struct {
	apiURL   string
	client   *http.Client
	download *http.Client
	log      *slog.Logger
	pacer    *pacer
	dir      *directory
	seen     sync.Map // connection id -> time.Time of the last verified request
}

var (
	_ connectors.Connector       = (*Connector)(nil)
	_ connectors.Editor          = (*Connector)(nil)
	_ connectors.Deleter         = (*Connector)(nil)
	_ connectors.Poller          = (*Connector)(nil)
	_ connectors.FileFetcher     = (*Connector)(nil)
	_ connectors.Identifier      = (*Connector)(nil)
	_ connectors.WebhookReceiver = (*Connector)(nil)
	_ io.Closer                  = (*Connector)(nil)
)

// New returns a Connector; zero Options fields take their defaults.
func New(opts Options) *Connector {
	cn := &Connector{apiURL: opts.APIURL, client: opts.HTTPClient, log: opts.Logger}
	if cn.apiURL == "" {
		cn.apiURL = DefaultAPIURL
	}
	if !strings.HasSuffix(cn.apiURL, "/") {
		cn.apiURL += "/"
	}
	if cn.client == nil {
		cn.client = &http.Client{Timeout: 20 * time.Second}
	}
	cn.download = &http.Client{Transport: cn.client.Transport, CheckRedirect: cn.client.CheckRedirect, Jar: cn.client.Jar}
	if cn.log == nil {
		cn.log = slog.Default()
	}
	interval := opts.ChannelInterval
	if interval == 0 {
		interval = time.Second
	}
	cn.pacer = newPacer(max(interval, 0))
	ttl := opts.ProfileTTL
	if ttl <= 0 {
		ttl = time.Hour
	}
	cn.dir = newDirectory(ttl, cn.log, cn.api)
	return cn
}

// Close stops background profile lookups and waits for those in flight
// (io.Closer, so the registry closes it on shutdown; it never fails). The
// connector still serves calls afterwards, but no longer looks profiles up.
func (cn *Connector) Close() error {
	cn.dir.close()
	return nil
}

// Describe returns the connector's type, title and settings form.
func (*Connector) Describe() connectors.Description {
	return connectors.Description{
		Type:  Type,
		Title: "Slack",
		Fields: []connectors.Field{
			{
				Key:      SettingBotToken,
				Label:    "Bot token",
				Help:     "OAuth & Permissions → Bot User OAuth Token (xoxb-…)",
				Type:     "secret",
				Required: true,
			},
			{
				Key:   SettingSigningSecret,
				Label: "Signing secret",
				Help:  "Basic Information → App Credentials → Signing Secret; required in events mode",
				Type:  "secret",
			},
			{
				Key:     SettingMode,
				Label:   "Receive mode",
				Help:    "events: Slack posts to the gateway's public URL; socket: Socket Mode, no public URL needed",
				Type:    "select",
				Options: []string{ModeEvents, ModeSocket},
				Default: ModeEvents,
			},
			{
				Key:   SettingAppToken,
				Label: "App-level token",
				Help:  "Basic Information → App-Level Tokens, with connections:write (xapp-…); required in socket mode",
				Type:  "secret",
			},
		},
	}
}

// api returns a Web API client for a bot token (and, for Socket Mode, an
// app-level token). Clients are cheap; one is made per call so a changed
// token is used at once.
func (cn *Connector) api(botToken, appToken string) *slackapi.Client {
	opts := []slackapi.Option{
		slackapi.OptionAPIURL(cn.apiURL),
		slackapi.OptionHTTPClient(cn.client),
		slackapi.OptionLog(discardLog{}),
	}
	if appToken != "" {
		opts = append(opts, slackapi.OptionAppLevelToken(appToken))
	}
	return slackapi.New(botToken, opts...)
}

// discardLog silences the library's own logger (it would print to stderr);
// the connector logs what matters through slog.
type discardLog struct{}

func (discardLog) Output(int, string) error { return nil }

// markSeen records that a verified request from Slack reached a connection.
func (cn *Connector) markSeen(connID string, at time.Time) { cn.seen.Store(connID, at) }

// lastSeen is when a verified request last reached a connection (zero if
// never, in this process).
func (cn *Connector) lastSeen(connID string) time.Time {
	if v, ok := cn.seen.Load(connID); ok {
		return v.(time.Time)
	}
	return time.Time{}
}
