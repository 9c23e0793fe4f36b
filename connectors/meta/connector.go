// Package meta holds the three Meta channels — WhatsApp Cloud API,
// Facebook Messenger and Instagram messaging — which share one webhook
// scheme (the hub.challenge handshake, X-Hub-Signature-256 on every POST)
// and one HTTP API, the Graph API. Each channel is its own connector type
// (whatsapp, messenger, instagram) with its own settings; the webhook,
// signature, Graph client and error vocabulary are shared.
//
// It talks to the Graph API with net/http and encoding/json only: the API
// is a few JSON endpoints, and no client library would spare more code than
// it costs. Tokens travel in the Authorization header, never in a URL, so
// they cannot leak through transport errors or logs.
package meta

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/connector-gateway/connector/connectors"
)

// Connector types, also the channel name of every event.
const (
	TypeWhatsApp  = "whatsapp"
	TypeMessenger = "messenger"
	TypeInstagram = "instagram"
)

// Defaults of Options.
const (
	DefaultAPIURL  = "https://graph.facebook.com"
	DefaultVersion = "v21.0"
)

// Options configure the Meta connectors. The zero value talks to
// graph.facebook.com with DefaultVersion.
type Options struct {
	// APIURL is the Graph API base URL, without a version. Default
	// DefaultAPIURL ("https://graph.facebook.com"); tests name a fake here.
	APIURL string `mapstructure:"api_url"`
	// Version is the Graph API version path element ("v21.0"). Default
	// DefaultVersion; Meta supports a version for about two years.
	Version string `mapstructure:"graph_version"`

	// HTTPClient makes every Graph API request. Default: a client with a
	// 15s timeout. Media downloads use its Transport with a longer timeout.
	HTTPClient *http.Client `mapstructure:"-"`
}

// DefaultOptions are the meta.* config keys' defaults.
func DefaultOptions() Options { return Options{APIURL: DefaultAPIURL, Version: DefaultVersion} }

// graphVersion is the shape of a Graph API version path element.
var graphVersion = regexp.MustCompile(`^v[0-9]{1,3}\.[0-9]{1,3}$`)

// Validate checks the configured fields and names the first bad one by its
// config key.
func (o Options) Validate() error {
	if u, err := url.Parse(o.APIURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("api_url: want an absolute http(s) URL, got %q", o.APIURL)
	}
	if !graphVersion.MatchString(o.Version) {
		return fmt.Errorf("graph_version: want a Graph API version such as v21.0, got %q", o.Version)
	}
	return nil
}

// graph is the Graph API client every Meta connector shares.
type graph struct {
	base       string // APIURL + "/" + Version
	client     *http.Client
	fileClient *http.Client
}

func newGraph(opts Options) *graph {
	base := strings.TrimRight(opts.APIURL, "/")
	if base == "" {
		base = DefaultAPIURL
	}
	version := strings.Trim(opts.Version, "/")
	if version == "" {
		version = DefaultVersion
	}
	client := opts.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 15 * time.Second}
	}
	return &graph{
		base:       base + "/" + version,
		client:     client,
		fileClient: &http.Client{Transport: client.Transport, Timeout: 10 * time.Minute},
	}
}

// WhatsApp is the WhatsApp Cloud API connector. One value serves every
// WhatsApp connection; it is safe for concurrent use.
type WhatsApp struct{ g *graph }

// Messaging is the Messenger or the Instagram connector (which one is fixed
// at construction): both receive entry[].messaging[] webhooks and send with
// POST /me/messages. One value serves every connection of its type; it is
// safe for concurrent use.
type Messaging struct {
	typ string
	g   *graph
}

var (
	_ connectors.Connector       = (*WhatsApp)(nil)
	_ connectors.WebhookReceiver = (*WhatsApp)(nil)
	_ connectors.ReadMarker      = (*WhatsApp)(nil)
	_ connectors.Handshaker      = (*WhatsApp)(nil)
	_ connectors.FileFetcher     = (*WhatsApp)(nil)
	_ connectors.Identifier      = (*WhatsApp)(nil)

	_ connectors.Connector       = (*Messaging)(nil)
	_ connectors.WebhookReceiver = (*Messaging)(nil)
	_ connectors.Handshaker      = (*Messaging)(nil)
	_ connectors.Typer           = (*Messaging)(nil)
	_ connectors.ReadMarker      = (*Messaging)(nil)
	_ connectors.Identifier      = (*Messaging)(nil)
)

// NewWhatsApp returns the whatsapp connector; zero Options fields take
// their defaults.
func NewWhatsApp(opts Options) *WhatsApp { return &WhatsApp{g: newGraph(opts)} }

// NewMessenger returns the messenger connector.
func NewMessenger(opts Options) *Messaging { return &Messaging{typ: TypeMessenger, g: newGraph(opts)} }

// NewInstagram returns the instagram connector.
func NewInstagram(opts Options) *Messaging { return &Messaging{typ: TypeInstagram, g: newGraph(opts)} }
