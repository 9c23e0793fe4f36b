// Package console is the gateway's admin console in the browser: sign-in,
// the setup wizard that connects a bot to a portal line step by step, and
// the status pages (every portal, line and connection with its delivery
// state, dead letters and their replay, the audit trail).
//
// Pages are rendered on the server from templates embedded in the binary; a
// small script refreshes the status page and runs the wizard's live check.
// Every page but the sign-in page needs an admin session (a cookie whose
// hash is stored in the database); every form carries the session's CSRF
// token; every change is written to the audit trail.
package console

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/portal"
	"github.com/connector-gateway/connector/portal/traffic"
	"github.com/connector-gateway/connector/queue"
	"github.com/connector-gateway/connector/queue/sqldb"
)

// Prefix is the path the console is served under.
const Prefix = "/console/"

// Cookie security modes (Config.CookieSecure).
const (
	CookieSecureAuto   = "auto"
	CookieSecureAlways = "always"
	CookieSecureNever  = "never"
)

// Config tunes the console. Zero fields take the documented default. The
// tagged fields are the gateway's console.* config keys; the others are
// set by the program.
type Config struct {
	// Enabled serves the console (the gateway mounts it only then).
	// Default true.
	Enabled bool `mapstructure:"enabled"`
	// AdminUser names the first admin, created at the first start when
	// there is no admin yet. Default "admin".
	AdminUser string `mapstructure:"admin_user"`
	// AdminPassword is the first admin's password (at least 12
	// characters). Empty: a one-time password is generated and written to
	// the log, and must be changed at the first sign-in.
	AdminPassword string `mapstructure:"admin_password"`
	// CookieSecure is "auto" (default: the Secure flag is set when the
	// request came over HTTPS, directly or as X-Forwarded-Proto says),
	// "always" or "never".
	CookieSecure string `mapstructure:"cookie_secure"`
	// SessionTTL ends a session after this long without a request.
	// Default 12h.
	SessionTTL time.Duration `mapstructure:"session_ttl"`
	// Refresh is how often the status page refreshes itself. Default 5s.
	Refresh time.Duration `mapstructure:"refresh"`

	// Logger defaults to slog.Default().
	Logger *slog.Logger `mapstructure:"-"`
	// Templates replaces the embedded page templates and static files (a
	// directory with templates/ and static/). Default: the embedded ones.
	Templates fs.FS `mapstructure:"-"`
	// Now is the clock. Default time.Now.
	Now func() time.Time `mapstructure:"-"`
}

// DefaultConfig is the console.* configuration used when nothing is set.
func DefaultConfig() Config {
	return Config{Enabled: true, AdminUser: "admin", CookieSecure: CookieSecureAuto, SessionTTL: 12 * time.Hour, Refresh: 5 * time.Second}
}

func (c *Config) setDefaults() {
	if c.AdminUser == "" {
		c.AdminUser = "admin"
	}
	if c.CookieSecure == "" {
		c.CookieSecure = CookieSecureAuto
	}
	if c.SessionTTL == 0 {
		c.SessionTTL = 12 * time.Hour
	}
	if c.Refresh == 0 {
		c.Refresh = 5 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Templates == nil {
		c.Templates = embedded
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Validate checks the configured fields (defaults applied) and names the
// first bad one by its config key.
func (c Config) Validate() error {
	switch c.CookieSecure {
	case CookieSecureAuto, CookieSecureAlways, CookieSecureNever:
	default:
		return fmt.Errorf("cookie_secure: want auto, always or never, got %q", c.CookieSecure)
	}
	if c.SessionTTL < time.Minute {
		return fmt.Errorf("session_ttl: must be at least 1m, got %s", c.SessionTTL)
	}
	if c.Refresh < 100*time.Millisecond {
		return fmt.Errorf("refresh: must be at least 100ms, got %s", c.Refresh)
	}
	if u := normalizeUsername(c.AdminUser); u == "" || len(c.AdminUser) > 100 {
		return fmt.Errorf("admin_user: want 1 to 100 characters, got %q", c.AdminUser)
	}
	if c.AdminPassword != "" {
		if msg := validateNewPassword(c.AdminPassword, c.AdminUser); msg != "" {
			return fmt.Errorf("admin_password: %s (or empty for a one-time password)", msg)
		}
	}
	return nil
}

// Lifecycle tests, activates, deactivates and reconfigures connections:
// portal.Lifecycle, the service the portal API uses too, so a bot set up in
// the browser behaves exactly like one set up through the API (the same bot
// binding, polling and cache). Methods are called concurrently; errors are
// as portal.Lifecycle documents them.
type Lifecycle interface {
	Test(ctx context.Context, c portal.Connection) (connectors.TestReport, error)
	SaveSettings(ctx context.Context, c portal.Connection, changes connectors.Settings) (portal.Connection, error)
	Activate(ctx context.Context, c portal.Connection) (activated, lost portal.Connection, err error)
	Deactivate(ctx context.Context, c portal.Connection) (portal.Connection, error)
}

var _ Lifecycle = (*portal.Lifecycle)(nil)

// Deps are the parts the console works with.
type Deps struct {
	// DB holds the console's own tables (admins, sessions, audit trail).
	DB        *sqldb.DB
	Records   *portal.Records
	Outbox    *queue.Outbox
	Keys      *queue.Keys
	Registry  *connectors.Registry
	Lifecycle Lifecycle
	// Views gives the entry URLs and snippets the wizard shows.
	Views *portal.Views
	// Traffic is the gateway's recent history for the status page's charts
	// and the message lookup. Optional: without it neither is shown.
	Traffic Traffic
	// Outbound finds replies by request id for the message lookup.
	// Optional.
	Outbound *queue.Outbound
	// Adapters are the helpdesk adapters by portal kind (app.Adapters),
	// for the wizard's choice of portal kind, its settings forms and live
	// test. Optional: without them only native portals are offered.
	Adapters map[string]portal.Deliverer
}

// Traffic is the gateway's in-memory window on recent traffic
// (traffic.Recorder). Methods are called concurrently.
type Traffic interface {
	// Series is a portal's last hour, one entry per minute, oldest first.
	Series(portalID string) []traffic.Minute
	// Find returns the remembered events matching an event, chat, batch or
	// request id, newest first.
	Find(q string) []traffic.Trace
}

// Console serves the admin console under Prefix. It is safe for concurrent
// use.
//
// The pages live in groups by concept (authPages: sign-in and password;
// adminPages: status, lines, connections, audit; wizardPages: the setup
// wizard), each over the same base.
type Console struct {
	*base
	mux    *http.ServeMux
	static http.Handler
}

// base is what every page group works with: configuration, deps, the
// console's own store, the templates, and the shared look-ups and
// rendering.
type base struct {
	cfg   Config
	deps  Deps
	store *store
	pages *pages
	// hashing limits concurrent password hashes (each takes 19 MiB), so a
	// burst of sign-in attempts cannot exhaust memory.
	hashing chan struct{}
}

// The page groups.
type (
	authPages   struct{ *base }
	adminPages  struct{ *base }
	wizardPages struct{ *base }
)

// New builds the console: it parses every page template (refusing to start
// when one is missing or broken) and, when there is no admin yet, creates
// the first one from the configuration or with a one-time password that it
// logs.
func New(ctx context.Context, cfg Config, deps Deps) (*Console, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	if deps.DB == nil || deps.Records == nil || deps.Outbox == nil || deps.Keys == nil || deps.Registry == nil || deps.Lifecycle == nil || deps.Views == nil {
		return nil, errors.New("console: DB, Records, Outbox, Keys, Registry, Lifecycle and Views are required")
	}
	c := &Console{base: &base{cfg: cfg, deps: deps, store: &store{db: deps.DB, now: cfg.Now}, hashing: make(chan struct{}, 2)}, mux: http.NewServeMux()}
	var err error
	if c.pages, err = loadPages(cfg.Templates, c.funcs()); err != nil {
		return nil, err
	}
	static, err := fs.Sub(cfg.Templates, "static")
	if err != nil {
		return nil, fmt.Errorf("console: static files: %w", err)
	}
	for _, name := range []string{"console.css", "console.js"} {
		if _, err := fs.Stat(static, name); err != nil {
			return nil, fmt.Errorf("console: static file %s is missing: %w", name, err)
		}
	}
	c.static = http.StripPrefix(Prefix+"static/", http.FileServerFS(static))
	if err := c.ensureAdmin(ctx); err != nil {
		return nil, err
	}
	c.routes()
	return c, nil
}

// ensureAdmin creates the first admin when there is none.
func (c *base) ensureAdmin(ctx context.Context) error {
	n, err := c.store.countAdmins(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	pw, oneTime := c.cfg.AdminPassword, false
	if pw == "" {
		pw, oneTime = newOneTimePassword(), true
	}
	a, created, err := c.store.createAdmin(ctx, c.cfg.AdminUser, hashPassword(pw), oneTime)
	if err != nil {
		return err
	}
	if !created {
		return nil // another gateway process made it first
	}
	if err := c.store.audit(ctx, auditEntry{Actor: "system", Action: "admin.create", Target: a.ID, Detail: "first admin " + a.Username}); err != nil {
		return err
	}
	if oneTime {
		c.cfg.Logger.Warn("console: created the first admin with a one-time password; sign in at /console/ and choose a new one",
			slog.String("user", a.Username), slog.String("password", pw))
	} else {
		c.cfg.Logger.Info("console: created the first admin from the configuration", slog.String("user", a.Username))
	}
	return nil
}

// ServeHTTP implements http.Handler for paths under Prefix.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// Pages hold secrets shown once and CSRF tokens: never cache them,
	// never frame them, and run only the console's own script.
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	c.mux.ServeHTTP(w, r)
}

func (c *Console) routes() {
	auth, admin, wiz := authPages{c.base}, adminPages{c.base}, wizardPages{c.base}
	open := func(pattern string, h http.HandlerFunc) { c.mux.Handle(pattern, h) }
	authed := func(pattern string, h authedHandler) { c.mux.Handle(pattern, c.requireSession(h)) }

	open("GET /console/static/", c.static.ServeHTTP)
	open("GET /console/login", auth.loginPage)
	open("POST /console/login", auth.login)

	authed("POST /console/logout", auth.logout)
	authed("GET /console/password", auth.passwordPage)
	authed("POST /console/password", auth.changePassword)

	authed("GET /console/{$}", admin.statusPage)
	authed("GET /console/find", admin.findPage)
	authed("GET /console/status", admin.statusFragment)
	authed("GET /console/lines/{line}", admin.linePage)
	authed("POST /console/lines/{line}/replay", admin.replay)
	authed("GET /console/connections/{connection}", admin.connectionPage)
	authed("GET /console/connections/{connection}/settings", admin.settingsPage)
	authed("POST /console/connections/{connection}/settings", admin.saveSettings)
	authed("POST /console/connections/{connection}/deactivate", admin.deactivate)
	authed("GET /console/connections/{connection}/received", admin.received)
	authed("GET /console/audit", admin.auditPage)

	authed("GET /console/wizard", wiz.wizardPortalPage)
	authed("POST /console/wizard/portal", wiz.wizardCreatePortal)
	authed("GET /console/wizard/portal/kind", wiz.wizardKindPage)
	authed("POST /console/wizard/portal/kind", wiz.wizardSetKind)
	authed("POST /console/wizard/portal/kind/test", wiz.wizardTestKind)
	authed("GET /console/wizard/line", wiz.wizardLinePage)
	authed("POST /console/wizard/line", wiz.wizardCreateLine)
	authed("GET /console/wizard/channel", wiz.wizardChannelPage)
	authed("POST /console/wizard/channel", wiz.wizardCreateConnection)
	authed("GET /console/wizard/test", wiz.wizardTestPage)
	authed("POST /console/wizard/test", wiz.wizardRunTest)
	authed("GET /console/wizard/activate", wiz.wizardActivatePage)
	authed("POST /console/wizard/activate", wiz.wizardActivate)

	// Anything else: not found, but only a signed-in admin learns that.
	authed("/console/", func(w http.ResponseWriter, r *http.Request, s *session) {
		c.message(w, r, s, http.StatusNotFound, "Page not found", "There is no such page in the console.")
	})
}

// AdminPage is a page another package serves inside the console, behind
// its sign-in. csrf is the session's token: a POST under the console must
// carry it as the form field "csrf", or it is refused before h runs.
type AdminPage func(w http.ResponseWriter, r *http.Request, csrf string)

// Mount serves h at pattern (a path under Prefix, with a method) behind the
// console's sign-in and CSRF check, with the console's security headers
// (its script policy: 'self' only). Call it before serving.
func (c *Console) Mount(pattern string, h AdminPage) {
	c.mux.Handle(pattern, c.requireSession(func(w http.ResponseWriter, r *http.Request, s *session) { h(w, r, s.CSRF) }))
}
