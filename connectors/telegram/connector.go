// Package telegram is the Telegram Bot API connector. It receives updates by
// webhook or by long polling (getUpdates), normalizes messages of every
// content kind and their edits into connectors.Event values (files as
// gateway links), sends text, photos and documents, edits and deletes
// messages and shows typing indicators, paced to Telegram's rate limits.
//
// Every Bot API call goes through github.com/go-telegram-bot-api/telegram-bot-api/v5
// (raw parameters where the library lacks a field). The bot token is a
// secret: it never appears in events, file links or error text.
package telegram

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/connector-gateway/connector/connectors"
)

// Type is the connector type and the channel name of every event.
const Type = "telegram"

// Setting keys.
const (
	SettingBotToken      = "bot_token"
	SettingMode          = "mode"
	SettingWebhookSecret = "webhook_secret"
)

// Receive modes.
const (
	ModeWebhook = "webhook"
	ModePolling = "polling"
)

// Options configure a Connector. The zero value talks to api.telegram.org.
type Options struct {
	// APIEndpoint is a fmt format with two %s verbs, the token and the
	// method name. Default tgbotapi.APIEndpoint
	// ("https://api.telegram.org/bot%s/%s"); a local Bot API server or a
	// test server may be named here. Files are downloaded from the same
	// host: "/bot%s/" becomes "/file/bot%s/" (the Bot API's layout).
	APIEndpoint string `mapstructure:"api_endpoint"`
	// PollTimeout is how long one getUpdates call waits for updates in
	// polling mode. Default 25s.
	PollTimeout time.Duration `mapstructure:"poll_timeout"`

	// HTTPClient makes every Bot API request. Default: a client with a 15s
	// timeout. Long polls and file downloads use its Transport with longer
	// timeouts of their own.
	HTTPClient *http.Client `mapstructure:"-"`
	// ChatInterval is the least time between two messages to one private
	// chat (Telegram: about one per second). Default 1s.
	ChatInterval time.Duration `mapstructure:"-"`
	// GroupInterval is the same for groups (Telegram: 20 per minute).
	// Default 3s.
	GroupInterval time.Duration `mapstructure:"-"`
	// BotInterval is the least time between two messages of one bot to any
	// chat (Telegram: about 30 per second). Default 34ms.
	BotInterval time.Duration `mapstructure:"-"`
	// Logger receives the poller's warnings. Default slog.Default().
	Logger *slog.Logger `mapstructure:"-"`
}

// DefaultOptions are the telegram.* config keys' defaults.
func DefaultOptions() Options {
	return Options{APIEndpoint: tgbotapi.APIEndpoint, PollTimeout: 25 * time.Second}
}

// Validate checks the configured fields and names the first bad one by its
// config key.
func (o Options) Validate() error {
	if o.PollTimeout < time.Second || o.PollTimeout > 50*time.Second {
		return fmt.Errorf("poll_timeout: want 1s..50s, got %s", o.PollTimeout)
	}
	if strings.Count(o.APIEndpoint, "%s") != 2 {
		return fmt.Errorf("api_endpoint: must contain two %%s (token, method), got %q", o.APIEndpoint)
	}
	return nil
}

// Connector is the Telegram connector. One value serves every Telegram
// connection; it is safe for concurrent use.
type Connector struct {
	endpoint     string
	fileEndpoint string
	client       *http.Client
	pollClient   *http.Client
	fileClient   *http.Client
	pollTimeout  time.Duration
	log          *slog.Logger
	pace         *pacer
	// bots caches one *tgbotapi.BotAPI per token (string -> *tgbotapi.BotAPI).
	// Cached values are never mutated after they are stored.
	bots sync.Map
	// users caches recent senders' normalized profiles (users.go).
	users *userCache
}

var (
	_ connectors.Connector       = (*Connector)(nil)
	_ connectors.Editor          = (*Connector)(nil)
	_ connectors.Deleter         = (*Connector)(nil)
	_ connectors.Typer           = (*Connector)(nil)
	_ connectors.Poller          = (*Connector)(nil)
	_ connectors.FileFetcher     = (*Connector)(nil)
	_ connectors.Identifier      = (*Connector)(nil)
	_ connectors.WebhookReceiver = (*Connector)(nil)
)

// New returns a Connector; zero Options fields take their defaults.
func New(opts Options) *Connector {
	cn := &Connector{endpoint: opts.APIEndpoint, client: opts.HTTPClient, pollTimeout: opts.PollTimeout, log: opts.Logger}
	if cn.endpoint == "" {
		cn.endpoint = tgbotapi.APIEndpoint
	}
	cn.fileEndpoint = tgbotapi.FileEndpoint
	if i := strings.Index(cn.endpoint, "/bot%s/"); i >= 0 {
		cn.fileEndpoint = cn.endpoint[:i] + "/file" + cn.endpoint[i:]
	}
	if cn.client == nil {
		cn.client = &http.Client{Timeout: 15 * time.Second}
	}
	if cn.pollTimeout <= 0 {
		cn.pollTimeout = 25 * time.Second
	}
	if cn.log == nil {
		cn.log = slog.Default()
	}
	// A long poll outlasts the API client's timeout, and a 20 MB download
	// may too; both are bounded by their context as well.
	cn.pollClient = &http.Client{Transport: cn.client.Transport, Timeout: cn.pollTimeout + 15*time.Second}
	cn.fileClient = &http.Client{Transport: cn.client.Transport, Timeout: 10 * time.Minute}
	cn.pace = newPacer(opts.ChatInterval, opts.GroupInterval, opts.BotInterval)
	cn.users = newUserCache()
	return cn
}

// Describe returns the connector's type, title and settings form.
func (*Connector) Describe() connectors.Description {
	return connectors.Description{
		Type:  Type,
		Title: "Telegram",
		Fields: []connectors.Field{
			{
				Key:      SettingBotToken,
				Label:    "Bot token",
				Help:     "from @BotFather",
				Type:     "secret",
				Required: true,
			},
			{
				Key:     SettingMode,
				Label:   "Receive mode",
				Help:    "webhook needs the gateway's public URL; polling works without one",
				Type:    "select",
				Options: []string{ModeWebhook, ModePolling},
				Default: ModeWebhook,
			},
			{
				Key:   SettingWebhookSecret,
				Label: "Webhook secret",
				Help:  "Telegram sends it with every update; generated when empty",
				Type:  "secret",
			},
		},
	}
}

// bot returns a BotAPI for token whose requests carry ctx. The library's
// requests take no context, so each call gets a shallow copy of the cached
// BotAPI with an HTTP client that attaches ctx. No call here runs getMe
// implicitly.
func (cn *Connector) bot(ctx context.Context, token string) *tgbotapi.BotAPI {
	return cn.botWith(ctx, token, cn.client)
}

// botWith is bot with another HTTP client (long polls).
func (cn *Connector) botWith(ctx context.Context, token string, client *http.Client) *tgbotapi.BotAPI {
	v, ok := cn.bots.Load(token)
	if !ok {
		b := &tgbotapi.BotAPI{Token: token, Client: cn.client, Buffer: 100}
		b.SetAPIEndpoint(cn.endpoint)
		v, _ = cn.bots.LoadOrStore(token, b)
	}
	view := *v.(*tgbotapi.BotAPI)
	view.Client = ctxClient{ctx: ctx, client: client}
	return &view
}

// ctxClient sends each request with ctx attached.
type ctxClient struct {
	ctx    context.Context
	client *http.Client
}

func (cc ctxClient) Do(req *http.Request) (*http.Response, error) {
	return cc.client.Do(req.WithContext(cc.ctx))
}
