package app_test

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/telegram/telegramtest"
	"github.com/connector-gateway/connector/portal/portaltest"
	"github.com/connector-gateway/connector/queue/queuetest"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds the connector command once per test run.
func binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "connector-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "connector")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/connector-gateway/connector/cmd/connector").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// cleanEnv is the environment without any CONNECTOR_ setting of the caller.
func cleanEnv() []string {
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "CONNECTOR_") {
			env = append(env, e)
		}
	}
	return env
}

type process struct {
	cmd  *exec.Cmd
	addr string
	log  *strings.Builder
	done chan error
}

func startProcess(t testing.TB, dir string, env []string, args ...string) *process {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(binary(t), append([]string{"serve", "--addr", addr}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(cleanEnv(), env...)
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &syncWriter{b: &log}, &syncWriter{b: &log}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, addr: addr, log: &log, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("gateway log:\n%s", log.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		select {
		case err := <-p.done:
			t.Fatalf("gateway exited: %v\n%s", err, log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("gateway not healthy in 30s:\n%s", log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type syncWriter struct {
	mu sync.Mutex
	b  *strings.Builder
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// `connector serve` with no configuration in an empty directory starts on
// SQLite there and is healthy; SIGTERM stops it cleanly.
func TestServeWithNoConfig(t *testing.T) {
	dir := t.TempDir()
	p := startProcess(t, dir, nil)
	if _, err := os.Stat(filepath.Join(dir, "connector.db")); err != nil {
		t.Fatalf("no SQLite file in the working directory: %v", err)
	}
	resp, err := http.Get("http://" + p.addr + "/readyz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("readyz: %v %v", resp, err)
	}
	resp.Body.Close()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
		p.done <- nil
	case <-time.After(20 * time.Second):
		t.Fatal("no exit 20s after SIGTERM")
	}
}

// A gateway killed with SIGKILL while batches are in flight loses nothing:
// after a restart every event arrives, and a redelivered event keeps its id.
func TestCrashLosesNothing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b queuetest.Backend) {
		tg := telegramtest.New(t, botToken)
		pt := portaltest.New(t)
		dsn := b.DSN(t)
		cfg := testConfig(b, dsn, tg.Endpoint())

		// Records made as an admin would, before the gateway runs.
		line, conn, _ := adminSetup(t, cfg, pt, connectors.Settings{"bot_token": botToken, "mode": "webhook", "webhook_secret": "hooksecret"}, true)

		env := []string{
			"CONNECTOR_DATABASE_DRIVER=" + b.Driver, "CONNECTOR_DATABASE_DSN=" + dsn, "CONNECTOR_DATABASE_AUTO_MIGRATE=true",
			"CONNECTOR_SECRETS_KEY=" + cfg.Secrets.Key, "CONNECTOR_TELEGRAM_API_ENDPOINT=" + tg.Endpoint(),
			"CONNECTOR_DISPATCH_BATCH_SIZE=5", "CONNECTOR_DISPATCH_POLL=100ms",
			// The dead process's leases run out after 3 × timeout.
			"CONNECTOR_DISPATCH_TIMEOUT=2s",
		}
		pt.HangLine(line.ID, 100*time.Millisecond) // keep batches in flight
		gw := startProcess(t, t.TempDir(), env)
		const total = 200
		for i := 1; i <= total; i++ {
			g := &gateway{URL: "http://" + gw.addr}
			if code := postUpdate(t, g, conn.Hash, "hooksecret", tg.Update(i, 42, fmt.Sprint(i))); code != http.StatusOK {
				t.Fatalf("update %d answered %d", i, code)
			}
		}
		if !pt.WaitFor(30*time.Second, func() bool { return len(pt.Events(line.ID)) >= 20 && pt.InFlight() > 0 }) {
			t.Fatal("no batch in flight to interrupt")
		}
		if err := gw.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-gw.done
		gw.done <- nil
		before := len(pt.Events(line.ID))
		if before >= total {
			t.Fatalf("all %d events were delivered before the kill; the test interrupted nothing", before)
		}
		pt.HangLine(line.ID, 0)
		startProcess(t, t.TempDir(), env)
		distinct := func() map[string]string {
			m := map[string]string{}
			for _, ev := range pt.Events(line.ID) {
				if prev, ok := m[ev.Message.Text]; ok && prev != ev.ID {
					t.Fatalf("message %q redelivered with a new id %s (was %s)", ev.Message.Text, ev.ID, prev)
				}
				m[ev.Message.Text] = ev.ID
			}
			return m
		}
		if !pt.WaitFor(60*time.Second, func() bool { return len(distinct()) == total }) {
			t.Fatalf("after restart %d of %d events delivered", len(distinct()), total)
		}
		t.Logf("%d delivered before SIGKILL, %d deliveries in all for %d events", before, len(pt.Events(line.ID)), total)
	})
}
