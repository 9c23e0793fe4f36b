// Package demo is the gateway's built-in demo portal (`connector demo`): a
// small helpdesk inbox that is a real portal. It receives batches through
// the real signed path (its webhook URL is the gateway's own /demo/batches
// on loopback), verifies and acknowledges them with sdk.ReadBatch, and
// replies, edits and deletes through the real signed API, calling the
// gateway over HTTP with sdk.Client. Nothing in it reaches past the outbox,
// the dispatcher, the signatures or the API; the only thing it does as an
// admin is what `connector portal create` does: create its portal.
//
// Its pages: /demo/site, a test web site carrying the web chat widget, and
// the inbox at /console/demo/ (behind the console's sign-in; /demo/ leads
// there). The inbox keeps what it received in memory: a restart starts an
// empty inbox (the gateway's own records and queue are unaffected).
package demo

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/connector-gateway/connector/api/console"
	"github.com/connector-gateway/connector/portal"
	"github.com/connector-gateway/connector/portal/sdk"
)

// Names of what the demo creates on its first start.
const (
	PortalName = "Demo helpdesk"
	LineName   = "Demo inbox"
)

// Paths.
const (
	// BatchesPath is the demo portal's webhook.
	BatchesPath = "/demo/batches"
	// SitePath is the test web site with the widget.
	SitePath = "/demo/site"
	// InboxPath is the inbox, inside the console.
	InboxPath = console.Prefix + "demo/"
)

//go:embed templates static
var embedded embed.FS

// Config tunes the demo.
type Config struct {
	// BaseURL is where the demo reaches the gateway over loopback, e.g.
	// "http://127.0.0.1:8080": its API calls go there, and its webhook URL
	// is BaseURL + BatchesPath. Required.
	BaseURL string
	// PublicURL is where browsers reach the gateway (the widget's site
	// origin). Default: BaseURL.
	PublicURL string
	// TelegramToken, when set, also connects that bot in polling mode.
	TelegramToken string
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Demo is the demo portal. It is safe for concurrent use.
type Demo struct {
	cfg     Config
	records *portal.Records
	inbox   *inbox
	pages   *template.Template
	static  http.Handler

	mu     sync.Mutex
	client *sdk.Client // set by Setup
	secret string
	line   string
	chat   string // the webchat connection
	snip   string
	tgConn string
	setup  error // the last Setup's outcome, shown in the inbox
}

// New builds the demo. records is used only to find or create the demo's
// portal (an admin's act); everything else goes through the API.
func New(cfg Config, records *portal.Records) (*Demo, error) {
	if cfg.BaseURL == "" || records == nil {
		return nil, errors.New("demo: BaseURL and records are required")
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	if cfg.PublicURL == "" {
		cfg.PublicURL = cfg.BaseURL
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	pages, err := template.ParseFS(embedded, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("demo: templates: %w", err)
	}
	for _, name := range []string{"inbox.html", "site.html"} {
		if pages.Lookup(name) == nil {
			return nil, fmt.Errorf("demo: template %s is missing", name)
		}
	}
	static, err := fs.Sub(embedded, "static")
	if err != nil {
		return nil, err
	}
	return &Demo{cfg: cfg, records: records, inbox: newInbox(), pages: pages,
		static: http.StripPrefix(InboxPath+"static/", http.FileServerFS(static))}, nil
}

// WebhookURL is the demo portal's webhook.
func (d *Demo) WebhookURL() string { return d.cfg.BaseURL + BatchesPath }

// Public serves the demo's pages outside the console: the webhook, the
// test site, and /demo/ (which leads to the inbox).
func (d *Demo) Public() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+BatchesPath, d.batches)
	mux.HandleFunc("GET "+SitePath, d.sitePage)
	mux.HandleFunc("GET /demo/{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, InboxPath, http.StatusSeeOther)
	})
	return mux
}

// MountInbox mounts the inbox pages in the console.
func (d *Demo) MountInbox(c *console.Console) {
	c.Mount("GET "+InboxPath+"{$}", d.inboxPage)
	c.Mount("GET "+InboxPath+"state", d.state)
	c.Mount("GET "+InboxPath+"static/", func(w http.ResponseWriter, r *http.Request, _ string) { d.static.ServeHTTP(w, r) })
	c.Mount("POST "+InboxPath+"reply", d.reply)
	c.Mount("POST "+InboxPath+"edit", d.edit)
	c.Mount("POST "+InboxPath+"delete", d.remove)
}

// Setup makes sure, on every start, that the demo portal, its line and its
// web chat connection exist and are active (creating them on the first
// start), and the Telegram bot too when a token is configured. It calls
// the gateway's API, so the gateway must be serving. It retries until ctx
// ends or it succeeds.
func (d *Demo) Setup(ctx context.Context) error {
	for attempt := 0; ; attempt++ {
		err := d.setupOnce(ctx)
		d.mu.Lock()
		d.setup = err
		d.mu.Unlock()
		if err == nil {
			d.cfg.Logger.Info("demo ready: open the test site and the inbox",
				slog.String("site", d.cfg.PublicURL+SitePath), slog.String("inbox", d.cfg.PublicURL+InboxPath))
			return nil
		}
		d.cfg.Logger.Warn("demo setup", slog.Any("err", err))
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(min(attempt+1, 10)) * time.Second):
		}
	}
}

// Prepare finds or creates the demo's portal, so its webhook verifies
// batches from the first one on (events left from an earlier run may be
// sent before Setup is done). It needs only the records.
func (d *Demo) Prepare(ctx context.Context) error {
	p, secret, err := d.findPortal(ctx)
	if err != nil {
		return err
	}
	client := &sdk.Client{BaseURL: d.cfg.BaseURL, PortalID: p.ID, Secret: secret, HTTP: &http.Client{Timeout: 30 * time.Second}}
	d.mu.Lock()
	d.client, d.secret = client, secret
	d.mu.Unlock()
	return nil
}

func (d *Demo) setupOnce(ctx context.Context) error {
	d.mu.Lock()
	client := d.client
	d.mu.Unlock()
	if client == nil {
		if err := d.Prepare(ctx); err != nil {
			return err
		}
		d.mu.Lock()
		client = d.client
		d.mu.Unlock()
	}

	var lines struct {
		Lines []struct{ ID, Name string } `json:"lines"`
	}
	if err := client.Do(ctx, http.MethodGet, "/v1/lines", nil, &lines, nil); err != nil {
		return fmt.Errorf("demo: list lines: %w", err)
	}
	lineID := ""
	for _, l := range lines.Lines {
		if l.Name == LineName {
			lineID = l.ID
		}
	}
	if lineID == "" {
		var l struct{ ID string }
		if err := client.Do(ctx, http.MethodPost, "/v1/lines", map[string]string{"name": LineName}, &l, nil); err != nil {
			return fmt.Errorf("demo: create line: %w", err)
		}
		lineID = l.ID
	}
	chat, err := d.ensureConnection(ctx, client, lineID, "webchat", map[string]string{
		"allowed_origins": strings.Join(d.origins(), " "),
		"title":           "Demo helpdesk", "greeting": "Hi! This is the demo chat: write anything, then answer it from the inbox.",
		"prechat_name": "off",
	})
	if err != nil {
		return err
	}
	d.mu.Lock()
	d.line, d.chat, d.snip = lineID, chat.ID, chat.Snippet
	d.mu.Unlock()
	if d.cfg.TelegramToken != "" {
		tg, err := d.ensureConnection(ctx, client, lineID, "telegram", map[string]string{"bot_token": d.cfg.TelegramToken, "mode": "polling"})
		if err != nil {
			// The web chat works without it; say why the bot does not.
			d.cfg.Logger.Warn("demo: Telegram bot not connected", slog.Any("err", err))
		} else {
			d.mu.Lock()
			d.tgConn = tg.ID
			d.mu.Unlock()
		}
	}
	return nil
}

// findPortal returns the demo's portal, creating it on the first start.
func (d *Demo) findPortal(ctx context.Context) (portal.Portal, string, error) {
	ps, err := d.records.ListPortals(ctx)
	if err != nil {
		return portal.Portal{}, "", fmt.Errorf("demo: %w", err)
	}
	for _, p := range ps {
		if p.WebhookURL == d.WebhookURL() && len(p.Secrets) > 0 {
			return p, p.Secrets[len(p.Secrets)-1], nil
		}
	}
	p, secret, err := d.records.CreatePortal(ctx, PortalName, d.WebhookURL())
	if err != nil {
		return p, "", fmt.Errorf("demo: create portal: %w", err)
	}
	d.cfg.Logger.Info("demo: created the demo portal", slog.String("portal", p.ID), slog.String("webhook_url", p.WebhookURL))
	return p, secret, nil
}

type connView struct {
	ID        string `json:"id"`
	Connector string `json:"connector"`
	Active    bool   `json:"active"`
	Snippet   string `json:"snippet"`
}

// ensureConnection finds the line's connection of a connector type or
// creates it, and activates it when it is not active.
func (d *Demo) ensureConnection(ctx context.Context, client *sdk.Client, lineID, connector string, settings map[string]string) (connView, error) {
	var list struct {
		Connections []connView `json:"connections"`
	}
	if err := client.Do(ctx, http.MethodGet, "/v1/lines/"+lineID+"/connections", nil, &list, nil); err != nil {
		return connView{}, fmt.Errorf("demo: list connections: %w", err)
	}
	var c connView
	for _, x := range list.Connections {
		if x.Connector == connector {
			c = x
		}
	}
	if c.ID == "" {
		if err := client.Do(ctx, http.MethodPost, "/v1/lines/"+lineID+"/connections",
			map[string]any{"connector": connector, "settings": settings}, &c, nil); err != nil {
			return c, fmt.Errorf("demo: create %s connection: %w", connector, err)
		}
	}
	if !c.Active {
		if err := client.Do(ctx, http.MethodPost, "/v1/connections/"+c.ID+"/activate", nil, &c, nil); err != nil {
			return c, fmt.Errorf("demo: activate %s connection: %w", connector, err)
		}
	}
	if c.Snippet == "" {
		if err := client.Do(ctx, http.MethodGet, "/v1/connections/"+c.ID, nil, &c, nil); err != nil {
			return c, fmt.Errorf("demo: read %s connection: %w", connector, err)
		}
	}
	return c, nil
}

// origins are the sites allowed to show the demo widget: the gateway's
// public origin and its loopback spellings (a browser may use either).
func (d *Demo) origins() []string {
	seen := map[string]bool{}
	var out []string
	for _, raw := range []string{d.cfg.PublicURL, d.cfg.BaseURL} {
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			continue
		}
		hosts := []string{u.Host}
		if h, port := u.Hostname(), u.Port(); h == "127.0.0.1" || h == "localhost" {
			hosts = []string{"127.0.0.1:" + port, "localhost:" + port}
		}
		for _, h := range hosts {
			o := u.Scheme + "://" + strings.TrimSuffix(h, ":")
			if !seen[o] {
				seen[o] = true
				out = append(out, o)
			}
		}
	}
	return out
}

// current is the setup's state.
func (d *Demo) current() (client *sdk.Client, secret, chat, snippet, tg string, setupErr error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.client, d.secret, d.chat, d.snip, d.tgConn, d.setup
}
