package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func flagsFor(t *testing.T, args ...string) *pflag.FlagSet {
	t.Helper()
	root := newRoot(os.Stdout, os.Stderr)
	serve, _, err := root.Find([]string{"serve"})
	if err != nil {
		t.Fatal(err)
	}
	serve.InheritedFlags() // merge persistent flags
	fs := serve.Flags()
	fs.AddFlagSet(root.PersistentFlags())
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return fs
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPrecedenceFileEnvFlag(t *testing.T) {
	f := writeFile(t, "addr: 127.0.0.1:1111\nlog:\n  level: warn\ndispatch:\n  batch_size: 7\n")
	t.Setenv("CONNECTOR_LOG_LEVEL", "error")
	t.Setenv("CONNECTOR_QUEUE_SCHEDULE", "1s,2s 3s")
	cfg, err := loadConfig(flagsFor(t, "--config", f, "--addr", "127.0.0.1:2222"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != "127.0.0.1:2222" {
		t.Errorf("flag lost to file/env: addr %s", cfg.Addr)
	}
	if cfg.Log.Level != "error" {
		t.Errorf("env lost to file: level %s", cfg.Log.Level)
	}
	if cfg.Dispatch.BatchSize != 7 {
		t.Errorf("file value lost: batch_size %d", cfg.Dispatch.BatchSize)
	}
	if want := []time.Duration{time.Second, 2 * time.Second, 3 * time.Second}; len(cfg.Queue.Schedule) != 3 || cfg.Queue.Schedule[2] != want[2] {
		t.Errorf("schedule from env = %v", cfg.Queue.Schedule)
	}
	if cfg.Database.Driver != "sqlite" || cfg.Database.DSN != "connector.db" {
		t.Errorf("defaults lost: %+v", cfg.Database)
	}
}

func TestErrorsNameTheKey(t *testing.T) {
	cases := []struct {
		file, env, val, want string
	}{
		{file: "bogus_key: 1\n", want: "bogus_key"},
		{file: "database:\n  driver: oracle\n", want: "database.driver"},
		{env: "CONNECTOR_DISPATCH_BATCH_SIZE", val: "lots", want: "dispatch.batch_size"},
		{env: "CONNECTOR_QUEUE_WINDOW", val: "-1h", want: "queue.window"},
		{env: "CONNECTOR_PUBLIC_URL", val: "gateway.example", want: "public_url"},
		{file: "database:\n  driver: mysql\n  dsn: u:p@tcp(db)/c\n", want: "secrets.key"},
	}
	for _, c := range cases {
		args := []string{}
		if c.file != "" {
			args = append(args, "--config", writeFile(t, c.file))
		}
		if c.env != "" {
			t.Setenv(c.env, c.val)
		}
		_, err := loadConfig(flagsFor(t, args...))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q%s: error %v, want it to name %s", c.file, c.env, err, c.want)
		}
		if c.env != "" {
			os.Unsetenv(c.env)
		}
	}
}

// The sample config in deploy/ lists every key the binary reads, loads
// cleanly, and the README's configuration table names them all.
func TestSampleConfigAndReadmeCoverEveryKey(t *testing.T) {
	sample := "../../../deploy/connector.yaml"
	raw, err := os.ReadFile(sample)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := loadConfig(flagsFor(t, "--config", sample)); err != nil {
		t.Fatalf("sample config does not load: %v", err)
	}
	readme, err := os.ReadFile("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range Keys() {
		leaf := k[strings.LastIndex(k, ".")+1:]
		if !strings.Contains(string(raw), leaf+":") {
			t.Errorf("deploy/connector.yaml lacks %s", k)
		}
		if !strings.Contains(string(readme), "`"+k+"`") {
			t.Errorf("README configuration table lacks `%s`", k)
		}
	}
}
