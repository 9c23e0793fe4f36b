package cli

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/connector-gateway/connector/cmd/connector/app"
)

// EnvPrefix starts every environment variable the gateway reads.
const EnvPrefix = "CONNECTOR"

// flagKeys maps command-line flags to config keys.
var flagKeys = map[string]string{
	"addr":       "addr",
	"public-url": "public_url",
	"db-driver":  "database.driver",
	"db-dsn":     "database.dsn",
	"log-level":  "log.level",
	"log-format": "log.format",
}

// Keys lists every config key with its default, in file order.
func Keys() []string {
	var keys []string
	walkKeys(reflect.TypeOf(app.Config{}), "", func(k string) { keys = append(keys, k) })
	return keys
}

func walkKeys(t reflect.Type, prefix string, fn func(string)) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("mapstructure")
		if tag == "" || tag == "-" {
			continue
		}
		key := prefix + tag
		ft := f.Type
		if ft.Kind() == reflect.Struct && ft.String() != "time.Duration" {
			walkKeys(ft, key+".", fn)
			continue
		}
		fn(key)
	}
}

// loadConfig reads, in rising priority: defaults, the config file (--config
// or CONNECTOR_CONFIG), CONNECTOR_* environment variables, flags. Unknown
// keys in the file are errors that name the key; so are bad values.
func loadConfig(flags *pflag.FlagSet) (app.Config, error) {
	v := viper.New()
	v.SetEnvPrefix(EnvPrefix)
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	def := map[string]any{}
	if err := mapstructure.Decode(app.Defaults(), &def); err != nil {
		return app.Config{}, err
	}
	for _, k := range Keys() {
		if err := v.BindEnv(k); err != nil {
			return app.Config{}, err
		}
	}
	setDefaults(v, "", def)
	file, _ := flags.GetString("config")
	if file == "" {
		file = os.Getenv(EnvPrefix + "_CONFIG")
	}
	if file != "" {
		v.SetConfigFile(file)
		if err := v.ReadInConfig(); err != nil {
			return app.Config{}, fmt.Errorf("config: read %s: %w", file, err)
		}
	}
	for name, key := range flagKeys {
		if f := flags.Lookup(name); f != nil {
			if err := v.BindPFlag(key, f); err != nil {
				return app.Config{}, err
			}
		}
	}
	cfg := app.Defaults()
	err := v.UnmarshalExact(&cfg, func(dc *mapstructure.DecoderConfig) {
		dc.DecodeHook = mapstructure.ComposeDecodeHookFunc(
			durationListHook,
			mapstructure.StringToTimeDurationHookFunc(),
			mapstructure.StringToSliceHookFunc(","),
		)
	})
	if err != nil {
		return cfg, fmt.Errorf("config: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// durationListHook lets a duration list be written "1m,2m" or "1m 2m" (an
// environment variable), or as a YAML list.
func durationListHook(from, to reflect.Type, data any) (any, error) {
	if to != reflect.TypeOf([]time.Duration(nil)) {
		return data, nil
	}
	var parts []string
	switch v := data.(type) {
	case string:
		parts = []string{v}
	case []string:
		parts = v
	case []any:
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return data, nil
			}
			parts = append(parts, s)
		}
	default:
		return data, nil
	}
	var out []time.Duration
	for _, p := range parts {
		for _, f := range strings.FieldsFunc(p, func(r rune) bool { return r == ',' || r == ' ' }) {
			d, err := time.ParseDuration(f)
			if err != nil {
				return nil, err
			}
			out = append(out, d)
		}
	}
	return out, nil
}

func setDefaults(v *viper.Viper, prefix string, m map[string]any) {
	for k, val := range m {
		if sub, ok := val.(map[string]any); ok {
			setDefaults(v, prefix+k+".", sub)
			continue
		}
		if rv := reflect.ValueOf(val); val == nil || (rv.Kind() == reflect.Pointer && rv.IsNil()) {
			continue
		}
		v.SetDefault(prefix+k, val)
	}
}

func newLogger(cfg app.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

var errUsage = errors.New("usage")
