// Package app wires the gateway together from its configuration: database,
// records, outbox, dispatcher, sender, connectors and HTTP server.
package app

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/connector-gateway/connector/api"
	"github.com/connector-gateway/connector/api/console"
	"github.com/connector-gateway/connector/connectors/botframework"
	"github.com/connector-gateway/connector/connectors/meta"
	"github.com/connector-gateway/connector/connectors/slack"
	"github.com/connector-gateway/connector/connectors/telegram"
	"github.com/connector-gateway/connector/connectors/twilio"
	"github.com/connector-gateway/connector/connectors/webchat"
	"github.com/connector-gateway/connector/connectors/xmpp"
	"github.com/connector-gateway/connector/portal"
	"github.com/connector-gateway/connector/portal/tracing"
	"github.com/connector-gateway/connector/queue"
	"github.com/connector-gateway/connector/queue/sqldb"
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

	// The gateway's own settings.
	Database DatabaseConfig `mapstructure:"database"`
	Secrets  SecretsConfig  `mapstructure:"secrets"`
	Log      LogConfig      `mapstructure:"log"`
	Debug    DebugConfig    `mapstructure:"debug"`
	Instance InstanceConfig `mapstructure:"instance"`

	// Each package's own configuration, documented (with its defaults and
	// checks) where it is used.
	Queue    queue.Config            `mapstructure:"queue"`
	Dispatch portal.DispatcherConfig `mapstructure:"dispatch"`
	Send     portal.SenderConfig     `mapstructure:"send"`
	Poll     portal.ReceiversConfig  `mapstructure:"poll"`
	Files    portal.FileLinksConfig  `mapstructure:"files"`
	HTTP     api.Config              `mapstructure:"http"`
	Console  console.Config          `mapstructure:"console"`
	Telegram telegram.Options        `mapstructure:"telegram"`
	Slack    slack.Options           `mapstructure:"slack"`
	Webchat  webchat.Options         `mapstructure:"webchat"`
	Meta     meta.Options            `mapstructure:"meta"`
	Twilio   twilio.Options          `mapstructure:"twilio"`
	XMPP     xmpp.Options            `mapstructure:"xmpp"`

	BotFramework botframework.Options `mapstructure:"botframework"`
	Tracing      tracing.Config       `mapstructure:"tracing"`

	// Demo runs the built-in demo portal; set by `connector demo`, not a
	// config key.
	Demo DemoConfig `mapstructure:"-"`
}

// DebugConfig holds diagnostics, off by default.
type DebugConfig struct {
	// PprofAddr, when set, serves net/http/pprof on this address (keep it
	// on loopback or a private network). Default "" (off).
	PprofAddr string `mapstructure:"pprof_addr"`
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
	// Key is 32 bytes, base64. With mysql it or KeyFile is required (all
	// replicas share the key).
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

// Defaults returns the configuration used when nothing is set; every key
// of the config file appears in it.
func Defaults() Config {
	return Config{
		Addr:         "127.0.0.1:8080",
		Database:     DatabaseConfig{Driver: sqldb.DriverSQLite, DSN: "connector.db"},
		Log:          LogConfig{Level: "info", Format: "text"},
		Instance:     DefaultInstanceConfig(),
		Queue:        queue.DefaultConfig(),
		Dispatch:     portal.DefaultDispatcherConfig(),
		Send:         portal.DefaultSenderConfig(),
		Poll:         portal.DefaultReceiversConfig(),
		Files:        portal.DefaultFileLinksConfig(),
		HTTP:         api.DefaultConfig(),
		Console:      console.DefaultConfig(),
		Telegram:     telegram.DefaultOptions(),
		Slack:        slack.DefaultOptions(),
		Webchat:      webchat.DefaultOptions(),
		Meta:         meta.DefaultOptions(),
		Twilio:       twilio.DefaultOptions(),
		XMPP:         xmpp.DefaultOptions(),
		BotFramework: botframework.DefaultOptions(),
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
	case sqldb.DriverSQLite, sqldb.DriverMySQL:
	default:
		return bad("database.driver", "want %q or %q, got %q", sqldb.DriverSQLite, sqldb.DriverMySQL, c.Database.Driver)
	}
	if c.Database.DSN == "" {
		return bad("database.dsn", "must not be empty")
	}
	if c.Database.Driver == sqldb.DriverMySQL && c.Secrets.Key == "" && c.Secrets.KeyFile == "" {
		return bad("secrets.key", "required with mysql, or secrets.key_file naming a file that holds it (every replica must use the same key); generate one with `connector keygen`")
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
	sections := []struct {
		key string
		v   interface{ Validate() error }
	}{
		{"queue", c.Queue}, {"dispatch", c.Dispatch}, {"send", c.Send}, {"poll", c.Poll}, {"files", c.Files}, {"http", c.HTTP},
		{"console", c.Console}, {"telegram", c.Telegram}, {"slack", c.Slack}, {"webchat", c.Webchat}, {"meta", c.Meta},
		{"twilio", c.Twilio}, {"xmpp", c.XMPP}, {"botframework", c.BotFramework}, {"tracing", c.Tracing}, {"instance", c.Instance},
	}
	for _, sec := range sections {
		if err := sec.v.Validate(); err != nil {
			return fmt.Errorf("config: %s.%w", sec.key, err)
		}
	}
	if c.Debug.PprofAddr != "" {
		if _, _, err := net.SplitHostPort(c.Debug.PprofAddr); err != nil {
			return bad("debug.pprof_addr", "want HOST:PORT, got %q", c.Debug.PprofAddr)
		}
	}
	return nil
}

// autoMigrate tells whether to migrate at start.
func (c *Config) autoMigrate() bool {
	if c.Database.AutoMigrate != nil {
		return *c.Database.AutoMigrate
	}
	return c.Database.Driver == sqldb.DriverSQLite
}

// keyFile is where the secrets key is read from (and, for sqlite, created).
func (c *Config) keyFile() string {
	if c.Secrets.KeyFile != "" {
		return c.Secrets.KeyFile
	}
	if c.Database.Driver == sqldb.DriverSQLite {
		dsn := strings.TrimPrefix(c.Database.DSN, "file:")
		if i := strings.IndexByte(dsn, '?'); i >= 0 {
			dsn = dsn[:i]
		}
		return filepath.Join(filepath.Dir(dsn), "connector.key")
	}
	return ""
}
