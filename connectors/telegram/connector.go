// Package telegram is the Telegram Bot API connector. It receives updates by
// webhook (or tells the caller to poll), normalizes text messages and their
// edits into connectors.Event values, and sends, edits and deletes text
// messages and typing indicators.
//
// Every Bot API call goes through github.com/go-telegram-bot-api/telegram-bot-api/v5.
// The bot token is a secret: it never appears in events or in error text.
package telegram

import (
	"context"
	"net/http"
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
	// ("https://api.telegram.org/bot%s/%s").
	APIEndpoint string
	// HTTPClient makes every Bot API request. Default: a client with a 15s
	// timeout.
	HTTPClient *http.Client
}

// Connector is the Telegram connector. One value serves every Telegram
// connection; it is safe for concurrent use.
type Connector struct {
	endpoint string
	client   *http.Client
	// bots caches one *tgbotapi.BotAPI per token (string -> *tgbotapi.BotAPI).
	// Cached values are never mutated after they are stored.
	bots sync.Map
}

var (
	_ connectors.Connector = (*Connector)(nil)
	_ connectors.Editor    = (*Connector)(nil)
	_ connectors.Deleter   = (*Connector)(nil)
	_ connectors.Typer     = (*Connector)(nil)
)

// New returns a Connector; zero Options fields take their defaults.
func New(opts Options) *Connector {
	cn := &Connector{endpoint: opts.APIEndpoint, client: opts.HTTPClient}
	if cn.endpoint == "" {
		cn.endpoint = tgbotapi.APIEndpoint
	}
	if cn.client == nil {
		cn.client = &http.Client{Timeout: 15 * time.Second}
	}
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
	v, ok := cn.bots.Load(token)
	if !ok {
		b := &tgbotapi.BotAPI{Token: token, Client: cn.client, Buffer: 100}
		b.SetAPIEndpoint(cn.endpoint)
		v, _ = cn.bots.LoadOrStore(token, b)
	}
	view := *v.(*tgbotapi.BotAPI)
	view.Client = ctxClient{ctx: ctx, client: cn.client}
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
