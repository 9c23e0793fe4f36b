// Package app wires the gateway together from its configuration: database,
// records, outbox, dispatcher, sender, connectors and HTTP server.
package app

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/connector-gateway/connector/queue"
)

// Config is the whole gateway configuration. Every field has a key in the
// config file (the mapstructure tag path), an environment variable
// (CONNECTOR_ + the key upper-cased, dots as underscores) and a default.
type Config struct {
	// Addr is the listen address. Default "127.0.0.1:8080".
	Addr string `mapstructure:"addr"`
	// PublicURL is the base URL messengers reach the gateway at (https in
	// production). Needed for webhook mode; default "" (polling only).
	PublicURL string `mapstructure:"public_url"`

	Database DatabaseConfig `mapstructure:"database"`
	Secrets  SecretsConfig  `mapstructure:"secrets"`
	Log      LogConfig      `mapstructure:"log"`
	Queue    QueueConfig    `mapstructure:"queue"`
	Dispatch DispatchConfig `mapstructure:"dispatch"`
	Send     SendConfig     `mapstructure:"send"`
	HTTP     HTTPConfig     `mapstructure:"http"`
	Files    FilesConfig    `mapstructure:"files"`
	Debug    DebugConfig    `mapstructure:"debug"`
	Poll     PollConfig     `mapstructure:"poll"`
	Telegram TelegramConfig `mapstructure:"telegram"`
	Webchat  WebchatConfig  `mapstructure:"webchat"`
	Slack    SlackConfig    `mapstructure:"slack"`
	Console  ConsoleConfig  `mapstructure:"console"`

	BotFramework BotFrameworkConfig `mapstructure:"botframework"`
}

// DebugConfig holds diagnostics, off by default.
type DebugConfig struct {
	// PprofAddr, when set, serves net/http/pprof on this address (keep it
	// on loopback or a private network). Default "" (off).
	PprofAddr string `mapstructure:"pprof_addr"`
}

// PollConfig sets how connections in polling mode are shared between
// gateway processes.
type PollConfig struct {
	// Lease is how long a process owns a polled connection without renewing
	// it (renewals come every third of it); when a process dies, another
	// takes its connections over after this. Default 30s.
	Lease time.Duration `mapstructure:"lease"`
}

// ConsoleConfig sets the admin console in the browser (/console/).
type ConsoleConfig struct {
	// Enabled serves the console. Default true.
	Enabled bool `mapstructure:"enabled"`
	// AdminUser names the first admin, created at the first start when
	// there is none. Default "admin".
	AdminUser string `mapstructure:"admin_user"`
	// AdminPassword is the first admin's password (at least 12
	// characters). Default "": a one-time password is printed to the log at
	// the first start, to be changed at the first sign-in.
	AdminPassword string `mapstructure:"admin_password"`
	// CookieSecure sets the session cookie's Secure flag: "auto" (default:
	// when the request came over HTTPS, directly or per
	// X-Forwarded-Proto), "always" or "never".
	CookieSecure string `mapstructure:"cookie_secure"`
	// SessionTTL signs an admin out after this long without a request.
	// Default 12h.
	SessionTTL time.Duration `mapstructure:"session_ttl"`
	// Refresh is how often the status page refreshes itself. Default 5s.
	Refresh time.Duration `mapstructure:"refresh"`
}

// FilesConfig sets the gateway's file links.
type FilesConfig struct {
	// LinkTTL is how long a file link in an event stays valid. Default 72h.
	LinkTTL time.Duration `mapstructure:"link_ttl"`
}

// DatabaseConfig selects the store.
type DatabaseConfig struct {
	// Driver is "sqlite" (default) or "mysql".
	Driver string `mapstructure:"driver"`
	// DSN is the SQLite file (default "connector.db" in the working
	// directory) or a MySQL DSN ("user:pw@tcp(host:3306)/connector").
	DSN string `mapstructure:"dsn"`
	// AutoMigrate applies pending migrations at start. Default true for
	// sqlite, false for mysql (run `connector migrate` on upgrades).
	AutoMigrate *bool `mapstructure:"auto_migrate"`
}

// SecretsConfig holds the key that encrypts connector settings and signing
// secrets at rest.
type SecretsConfig struct {
	// Key is 32 bytes, base64. Required for mysql (all replicas share it).
	Key string `mapstructure:"key"`
	// KeyFile is read when Key is empty. With sqlite and no key, a new key
	// is written to "connector.key" beside the database file.
	KeyFile string `mapstructure:"key_file"`
}

// LogConfig sets logging.
type LogConfig struct {
	// Level is debug, info (default), warn or error.
	Level string `mapstructure:"level"`
	// Format is text (default) or json.
	Format string `mapstructure:"format"`
}

// QueueConfig sets the outbox policy.
type QueueConfig struct {
	// Schedule is the lock-out after each failed delivery to a line; the
	// last repeats. Default 1m,2m,5m,10m,30m,1h,2h,4h,8h,12h.
	Schedule []time.Duration `mapstructure:"schedule"`
	// Window is how long after the first failed attempt a line's events
	// expire into dead letters. Default 24h.
	Window time.Duration `mapstructure:"window"`
	// DedupeTTL is how long a messenger update id is remembered. Default 72h.
	DedupeTTL time.Duration `mapstructure:"dedupe_ttl"`
}

// DispatchConfig tunes delivery to portals.
type DispatchConfig struct {
	// BatchSize is the most events per batch. Default 100.
	BatchSize int `mapstructure:"batch_size"`
	// Concurrency is the most lines in flight. Default 64.
	Concurrency int `mapstructure:"concurrency"`
	// PerPortal is the most lines of one portal in flight. Default 32.
	PerPortal int `mapstructure:"per_portal"`
	// Timeout bounds one batch POST. Default 10s.
	Timeout time.Duration `mapstructure:"timeout"`
	// Lease is how long a line stays claimed without renewal. Default 3×timeout.
	Lease time.Duration `mapstructure:"lease"`
	// Poll is the idle scan interval. Default 1s.
	Poll time.Duration `mapstructure:"poll"`
}

// SendConfig tunes delivery of portals' replies to messengers.
type SendConfig struct {
	// Concurrency is the most requests in flight. Default 16.
	Concurrency int `mapstructure:"concurrency"`
	// Timeout bounds one messenger call. Default 30s.
	Timeout time.Duration `mapstructure:"timeout"`
	// GiveUpAfter is how long transient failures are retried. Default 24h.
	GiveUpAfter time.Duration `mapstructure:"give_up_after"`
}

// HTTPConfig tunes the HTTP server.
type HTTPConfig struct {
	// BodyLimit caps request bodies, in bytes. Default 1048576 (1 MiB).
	BodyLimit int64 `mapstructure:"body_limit"`
	// ShutdownTimeout bounds the drain of in-flight requests. Default 15s.
	ShutdownTimeout time.Duration `mapstructure:"shutdown_timeout"`
}

// TelegramConfig configures the Telegram connector.
type TelegramConfig struct {
	// APIEndpoint is the Bot API URL pattern (token, method). Default
	// "https://api.telegram.org/bot%s/%s"; a local Bot API server or a
	// test server may be named here.
	APIEndpoint string `mapstructure:"api_endpoint"`
	// PollTimeout is how long one getUpdates call waits for updates in
	// polling mode. Default 25s.
	PollTimeout time.Duration `mapstructure:"poll_timeout"`
}

// SlackConfig configures the Slack connector.
type SlackConfig struct {
	// APIURL is the Slack Web API base URL, method names are appended to
	// it. Default "https://slack.com/api/"; a test server may be named here.
	APIURL string `mapstructure:"api_url"`
}

// BotFrameworkConfig configures the Bot Framework connector (Microsoft
// Teams, Web Chat, Direct Line...). The defaults are Microsoft's public
// cloud; tests and sovereign clouds name other endpoints here.
type BotFrameworkConfig struct {
	// OpenIDURL is the OpenID metadata whose jwks_uri names the keys that
	// sign Bot Framework's requests. Default
	// "https://login.botframework.com/v1/.well-known/openidconfiguration".
	OpenIDURL string `mapstructure:"openid_url"`
	// EmulatorOpenIDURL is the metadata of Bot Framework Emulator tokens
	// (used only by connections that accept them). Default
	// "https://login.microsoftonline.com/botframework.com/v2.0/.well-known/openid-configuration".
	EmulatorOpenIDURL string `mapstructure:"emulator_openid_url"`
	// TokenURL is the base of the OAuth2 token endpoint, to which
	// "/{tenant}/oauth2/v2.0/token" is appended. Default
	// "https://login.microsoftonline.com".
	TokenURL string `mapstructure:"token_url"`
	// ServiceURLs are extra service URL patterns replies may be posted to,
	// besides Bot Framework's own hosts (scheme://host[:port][/path], host
	// optionally "*.domain"). Default none.
	ServiceURLs []string `mapstructure:"service_urls"`
}

// WebchatConfig tunes the web chat widget (connector webchat).
type WebchatConfig struct {
	// MessageLimit is the longest visitor message, in characters. Default 4000.
	MessageLimit int `mapstructure:"message_limit"`
	// UploadLimit is the largest file a visitor may upload, in bytes.
	// Default 10485760 (10 MiB); at most 64 MiB. MySQL's
	// max_allowed_packet must be larger.
	UploadLimit int64 `mapstructure:"upload_limit"`
	// RatePerMinute is how many messages and uploads one visitor may send
	// per minute (bursts of 10 pass). Default 30.
	RatePerMinute int `mapstructure:"rate_per_minute"`
	// Poll is how often an open widget looks in the database for replies
	// another gateway process stored (mysql only). Default 2s.
	Poll time.Duration `mapstructure:"poll"`
}

// Defaults returns the configuration used when nothing is set; every key
// of the config file appears in it.
func Defaults() Config {
	return Config{
		Addr:     "127.0.0.1:8080",
		Database: DatabaseConfig{Driver: queue.DriverSQLite, DSN: "connector.db"},
		Log:      LogConfig{Level: "info", Format: "text"},
		Queue:    QueueConfig{Schedule: queue.DefaultSchedule(), Window: 24 * time.Hour, DedupeTTL: 72 * time.Hour},
		Dispatch: DispatchConfig{BatchSize: 100, Concurrency: 64, PerPortal: 32, Timeout: 10 * time.Second, Poll: time.Second},
		Send:     SendConfig{Concurrency: 16, Timeout: 30 * time.Second, GiveUpAfter: 24 * time.Hour},
		HTTP:     HTTPConfig{BodyLimit: 1 << 20, ShutdownTimeout: 15 * time.Second},
		Files:    FilesConfig{LinkTTL: 72 * time.Hour},
		Poll:     PollConfig{Lease: 30 * time.Second},
		Telegram: TelegramConfig{APIEndpoint: "https://api.telegram.org/bot%s/%s", PollTimeout: 25 * time.Second},
		Slack:    SlackConfig{APIURL: "https://slack.com/api/"},
		Webchat:  WebchatConfig{MessageLimit: 4000, UploadLimit: 10 << 20, RatePerMinute: 30, Poll: 2 * time.Second},
		Console: ConsoleConfig{Enabled: true, AdminUser: "admin", CookieSecure: "auto",
			SessionTTL: 12 * time.Hour, Refresh: 5 * time.Second},
		BotFramework: BotFrameworkConfig{
			OpenIDURL:         "https://login.botframework.com/v1/.well-known/openidconfiguration",
			EmulatorOpenIDURL: "https://login.microsoftonline.com/botframework.com/v2.0/.well-known/openid-configuration",
			TokenURL:          "https://login.microsoftonline.com",
		},
	}
}

// Validate checks the configuration and names the first bad key.
func (c *Config) Validate() error {
	bad := func(key, format string, a ...any) error {
		return fmt.Errorf("config: %s: %s", key, fmt.Sprintf(format, a...))
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return bad("addr", "want HOST:PORT, got %q", c.Addr)
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return bad("public_url", "want an absolute http(s) URL, got %q", c.PublicURL)
		}
	}
	switch c.Database.Driver {
	case queue.DriverSQLite, queue.DriverMySQL:
	default:
		return bad("database.driver", "want %q or %q, got %q", queue.DriverSQLite, queue.DriverMySQL, c.Database.Driver)
	}
	if c.Database.DSN == "" {
		return bad("database.dsn", "must not be empty")
	}
	if c.Database.Driver == queue.DriverMySQL && c.Secrets.Key == "" && c.Secrets.KeyFile == "" {
		return bad("secrets.key", "required with mysql (every replica must use the same key); generate one with `connector keygen`")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return bad("log.level", "want debug, info, warn or error, got %q", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		return bad("log.format", "want text or json, got %q", c.Log.Format)
	}
	if len(c.Queue.Schedule) == 0 {
		return bad("queue.schedule", "must list at least one duration")
	}
	for _, d := range c.Queue.Schedule {
		if d <= 0 {
			return bad("queue.schedule", "durations must be positive, got %s", d)
		}
	}
	if c.Queue.Window <= 0 {
		return bad("queue.window", "must be positive")
	}
	if c.Queue.DedupeTTL <= 0 {
		return bad("queue.dedupe_ttl", "must be positive")
	}
	if c.Dispatch.BatchSize < 1 || c.Dispatch.BatchSize > 10000 {
		return bad("dispatch.batch_size", "want 1..10000, got %d", c.Dispatch.BatchSize)
	}
	if c.Dispatch.Concurrency < 1 {
		return bad("dispatch.concurrency", "must be at least 1")
	}
	if c.Dispatch.PerPortal < 1 {
		return bad("dispatch.per_portal", "must be at least 1")
	}
	if c.Dispatch.Timeout <= 0 {
		return bad("dispatch.timeout", "must be positive")
	}
	if c.Dispatch.Lease != 0 && c.Dispatch.Lease <= c.Dispatch.Timeout {
		return bad("dispatch.lease", "must be longer than dispatch.timeout (%s)", c.Dispatch.Timeout)
	}
	if c.Dispatch.Poll <= 0 {
		return bad("dispatch.poll", "must be positive")
	}
	if c.Send.Concurrency < 1 {
		return bad("send.concurrency", "must be at least 1")
	}
	if c.Send.Timeout <= 0 {
		return bad("send.timeout", "must be positive")
	}
	if c.Send.GiveUpAfter <= 0 {
		return bad("send.give_up_after", "must be positive")
	}
	if c.HTTP.BodyLimit < 1024 {
		return bad("http.body_limit", "must be at least 1024 bytes")
	}
	if c.Debug.PprofAddr != "" {
		if _, _, err := net.SplitHostPort(c.Debug.PprofAddr); err != nil {
			return bad("debug.pprof_addr", "want HOST:PORT, got %q", c.Debug.PprofAddr)
		}
	}
	if c.Files.LinkTTL <= 0 {
		return bad("files.link_ttl", "must be positive")
	}
	if c.Poll.Lease < time.Second {
		return bad("poll.lease", "must be at least 1s, got %s", c.Poll.Lease)
	}
	if c.Telegram.PollTimeout < time.Second || c.Telegram.PollTimeout > 50*time.Second {
		return bad("telegram.poll_timeout", "want 1s..50s, got %s", c.Telegram.PollTimeout)
	}
	if strings.Count(c.Telegram.APIEndpoint, "%s") != 2 {
		return bad("telegram.api_endpoint", "must contain two %%s (token, method), got %q", c.Telegram.APIEndpoint)
	}
	if u, err := url.Parse(c.Slack.APIURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return bad("slack.api_url", "want an absolute http(s) URL, got %q", c.Slack.APIURL)
	}
	for _, kv := range [][2]string{
		{"botframework.openid_url", c.BotFramework.OpenIDURL},
		{"botframework.emulator_openid_url", c.BotFramework.EmulatorOpenIDURL},
		{"botframework.token_url", c.BotFramework.TokenURL},
	} {
		if u, err := url.Parse(kv[1]); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return bad(kv[0], "want an absolute http(s) URL, got %q", kv[1])
		}
	}
	for _, p := range c.BotFramework.ServiceURLs {
		if u, err := url.Parse(strings.Replace(p, "://*.", "://", 1)); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return bad("botframework.service_urls", "want scheme://host[:port][/path] patterns, got %q", p)
		}
	}
	if c.Webchat.MessageLimit < 1 || c.Webchat.MessageLimit > 100000 {
		return bad("webchat.message_limit", "want 1..100000 characters, got %d", c.Webchat.MessageLimit)
	}
	if c.Webchat.UploadLimit < 1024 || c.Webchat.UploadLimit > 64<<20 {
		return bad("webchat.upload_limit", "want 1024..67108864 bytes, got %d", c.Webchat.UploadLimit)
	}
	if c.Webchat.RatePerMinute < 1 {
		return bad("webchat.rate_per_minute", "must be at least 1")
	}
	if c.Webchat.Poll <= 0 {
		return bad("webchat.poll", "must be positive")
	}
	if u := strings.TrimSpace(c.Console.AdminUser); u == "" || len(u) > 100 {
		return bad("console.admin_user", "want 1 to 100 characters, got %q", c.Console.AdminUser)
	}
	if p := c.Console.AdminPassword; p != "" && len([]rune(p)) < 12 {
		return bad("console.admin_password", "must be at least 12 characters (or empty for a one-time password)")
	}
	switch c.Console.CookieSecure {
	case "auto", "always", "never":
	default:
		return bad("console.cookie_secure", "want auto, always or never, got %q", c.Console.CookieSecure)
	}
	if c.Console.SessionTTL < time.Minute {
		return bad("console.session_ttl", "must be at least 1m, got %s", c.Console.SessionTTL)
	}
	if c.Console.Refresh < 100*time.Millisecond {
		return bad("console.refresh", "must be at least 100ms, got %s", c.Console.Refresh)
	}
	return nil
}

// autoMigrate tells whether to migrate at start.
func (c *Config) autoMigrate() bool {
	if c.Database.AutoMigrate != nil {
		return *c.Database.AutoMigrate
	}
	return c.Database.Driver == queue.DriverSQLite
}

// keyFile is where the secrets key is read from (and, for sqlite, created).
func (c *Config) keyFile() string {
	if c.Secrets.KeyFile != "" {
		return c.Secrets.KeyFile
	}
	if c.Database.Driver == queue.DriverSQLite {
		dsn := strings.TrimPrefix(c.Database.DSN, "file:")
		if i := strings.IndexByte(dsn, '?'); i >= 0 {
			dsn = dsn[:i]
		}
		return filepath.Join(filepath.Dir(dsn), "connector.key")
	}
	return ""
}
