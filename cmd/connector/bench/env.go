package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/connector-gateway/connector/cmd/connector/app"
	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/portal"
)

const (
	hookSecret = "bench-hook-secret"
	botToken   = "100200300:AAbenchbenchbenchbenchbenchbenchbench"
)

// Portal modes.
const (
	modeUp   = iota // verify and ack
	modeDown        // verify, answer 503
	modeDead        // close the connection without an answer
)

// benchPortal is a helpdesk portal that verifies every batch with the
// reference Standard Webhooks library and counts what it acknowledges.
type benchPortal struct {
	srv      *http.Server
	url      string
	wh       []*standardwebhooks.Webhook
	mode     atomic.Int32
	acked    atomic.Int64
	badSig   atomic.Int64
	track    atomic.Bool
	mu       sync.Mutex
	received map[int]time.Time // latency event number → arrival
}

var (
	typeMarker = []byte(`"type":"message.created"`)
	latMarker  = []byte(`"text":"lat:`)
)

func newBenchPortal() (*benchPortal, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &benchPortal{url: "http://" + ln.Addr().String() + "/batches", received: map[int]time.Time{}}
	p.srv = &http.Server{Handler: http.HandlerFunc(p.handle)}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

func (p *benchPortal) setSecret(secret string) error {
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		return err
	}
	p.wh = []*standardwebhooks.Webhook{wh}
	return nil
}

func (p *benchPortal) handle(w http.ResponseWriter, r *http.Request) {
	if p.mode.Load() == modeDead {
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
				return
			}
		}
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	now := time.Now()
	if p.wh[0].Verify(body, r.Header) != nil {
		p.badSig.Add(1)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if p.mode.Load() != modeUp {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	if p.track.Load() {
		p.mu.Lock()
		rest := body
		for {
			i := bytes.Index(rest, latMarker)
			if i < 0 {
				break
			}
			rest = rest[i+len(latMarker):]
			j := bytes.IndexByte(rest, '"')
			if n, err := strconv.Atoi(string(rest[:j])); err == nil {
				if _, dup := p.received[n]; !dup {
					p.received[n] = now
				}
			}
		}
		p.mu.Unlock()
	}
	p.acked.Add(int64(bytes.Count(body, typeMarker)))
	w.WriteHeader(http.StatusOK)
}

func (p *benchPortal) close() { _ = p.srv.Close() }

// env is the prepared run: records, portals and the gateway child.
type env struct {
	store  *app.Store
	a, b   *benchPortal
	aHooks []string // entry hashes of portal A's active lines
	bHooks []string // entry hashes of portal B's lines
	aLines []string
	// bPortal is the id of portal B, the one that goes dead.
	bPortal string
	child   *exec.Cmd
	addr    string
	// ref is the reference server child (reference.go) at refAddr.
	ref     *exec.Cmd
	refAddr string
	stderr  *lockedBuf
	client  *http.Client
}

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 1<<20 {
		l.b.Reset()
	}
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

const deadLines = 10

func setup(ctx context.Context, o Options, say func(string, ...any)) (*env, error) {
	cfg := app.Defaults()
	cfg.Database.Driver, cfg.Database.DSN = o.Driver, o.DSN
	yes := true
	cfg.Database.AutoMigrate = &yes
	cfg.Secrets.Key = portal.NewKey()
	cfg.Queue.Schedule = []time.Duration{time.Second}
	store, err := app.OpenStore(ctx, cfg, o.Log, nil)
	if err != nil {
		return nil, err
	}
	e := &env{store: store, stderr: &lockedBuf{}, client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 512, MaxConnsPerHost: 512}}}
	if e.a, err = newBenchPortal(); err != nil {
		e.close()
		return nil, err
	}
	if e.b, err = newBenchPortal(); err != nil {
		e.close()
		return nil, err
	}
	start := time.Now()
	for _, pp := range []struct {
		p     *benchPortal
		name  string
		lines int
		hooks *[]string
		ids   *[]string
		id    *string
	}{
		{e.a, "bench A", o.Lines - deadLines, &e.aHooks, &e.aLines, new(string)},
		{e.b, "bench B (goes dead)", deadLines, &e.bHooks, nil, &e.bPortal},
	} {
		pr, secret, err := store.Records.CreatePortal(ctx, pp.name, pp.p.url)
		if err != nil {
			e.close()
			return nil, err
		}
		*pp.id = pr.ID
		if err := pp.p.setSecret(secret); err != nil {
			e.close()
			return nil, err
		}
		hashes, ids, err := makeLines(ctx, store, pr.ID, pp.lines)
		if err != nil {
			e.close()
			return nil, err
		}
		active := min(len(hashes), o.ActiveLines)
		*pp.hooks = hashes[:active]
		if pp.ids != nil {
			*pp.ids = ids[:active]
		}
	}
	say("  configured %d lines with a Telegram connection each in %.1fs", o.Lines, time.Since(start).Seconds())
	if err := e.startChild(o); err != nil {
		e.close()
		return nil, err
	}
	return e, nil
}

// makeLines creates n lines, each with an active Telegram connection, using
// a few workers.
func makeLines(ctx context.Context, store *app.Store, portalID string, n int) (hashes, ids []string, err error) {
	hashes, ids = make([]string, n), make([]string, n)
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				l, err := store.Records.CreateLine(ctx, portalID, fmt.Sprintf("line %d", i))
				if err == nil {
					var c portal.Connection
					c, err = store.Records.CreateConnection(ctx, l.ID, "telegram", connectors.Settings{"bot_token": botToken, "mode": "webhook", "webhook_secret": hookSecret})
					if err == nil {
						err = store.Records.SetState(ctx, c.ID, true, portal.ConnOK, "")
						hashes[i], ids[i] = c.Hash, l.ID
					}
				}
				if err != nil {
					once.Do(func() { firstErr = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	return hashes, ids, firstErr
}

// freeAddr picks a loopback port for a child to listen on.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startReference starts the reference server (reference.go) as a child.
func (e *env) startReference(o Options) error {
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	cmd := exec.Command(o.Binary, "bench", "reference-server", "--driver", o.Driver, "--dsn", o.DSN, "--addr", addr)
	cmd.Stdout, cmd.Stderr = e.stderr, e.stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start reference server: %w", err)
	}
	e.ref, e.refAddr = cmd, addr
	return e.waitReady(addr)
}

func (e *env) waitReady(addr string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := e.client.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready in 30s: %s", addr, e.stderr.String())
}

func stopChild(c *exec.Cmd) {
	if c == nil || c.Process == nil {
		return
	}
	_ = c.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = c.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = c.Process.Kill()
		<-done
	}
}

func (e *env) startChild(o Options) error {
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	e.addr = addr
	cmd := exec.Command(o.Binary, "serve")
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CONNECTOR_") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env,
		"CONNECTOR_ADDR="+e.addr,
		"CONNECTOR_DATABASE_DRIVER="+o.Driver,
		"CONNECTOR_DATABASE_DSN="+o.DSN,
		"CONNECTOR_DATABASE_AUTO_MIGRATE=true",
		"CONNECTOR_SECRETS_KEY="+e.store.SecretsKey,
		"CONNECTOR_TELEGRAM_API_ENDPOINT=http://127.0.0.1:9/bot%s/%s",
		"CONNECTOR_DISPATCH_BATCH_SIZE="+strconv.Itoa(o.BatchSize),
		"CONNECTOR_DISPATCH_TIMEOUT=5s",
		"CONNECTOR_QUEUE_SCHEDULE=1s",
		"CONNECTOR_LOG_LEVEL=warn",
	)
	if o.PprofAddr != "" {
		cmd.Env = append(cmd.Env, "CONNECTOR_DEBUG_PPROF_ADDR="+o.PprofAddr)
	}
	cmd.Stdout, cmd.Stderr = e.stderr, e.stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start gateway: %w", err)
	}
	e.child = cmd
	if err := e.waitReady(e.addr); err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	return nil
}

// rssPeakMB reads the child's peak resident set size.
func (e *env) rssPeakMB() float64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", e.child.Process.Pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

func (e *env) close() {
	stopChild(e.ref)
	stopChild(e.child)
	if e.a != nil {
		e.a.close()
	}
	if e.b != nil {
		e.b.close()
	}
	if e.store != nil {
		e.store.Close()
	}
}
