package app_test

import (
	"context"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/connector-gateway/connector/portal/portaltest"
	"github.com/connector-gateway/connector/portal/sdk"
	"github.com/connector-gateway/connector/queue/queuetest"
)

// chromiumPath finds the browser for the tests: CONNECTOR_TEST_CHROMIUM
// (scripts/test.sh sets it), else chromium on PATH. Without one the test is
// skipped, or fails under CI.
func chromiumPath(t testing.TB) string {
	if p := os.Getenv("CONNECTOR_TEST_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no Chromium found; CI must run the browser tests (scripts/test.sh installs it)")
	}
	t.Skip("browser tests skipped: install chromium or set CONNECTOR_TEST_CHROMIUM")
	return ""
}

// browser is a headless Chromium of its own (fresh profile, no network
// beyond loopback) for one test.
type browser struct {
	t   testing.TB
	ctx context.Context // the first tab
	// dialogs counts JavaScript dialogs (alert, confirm...) any tab opened.
	dialogs atomic.Int32
	// exceptions collects uncaught script errors of the tabs.
	mu         sync.Mutex
	exceptions []string
}

func newBrowser(t testing.TB) *browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-features", "Translate,MediaRouter,OptimizationHints"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b := &browser{t: t, ctx: ctx}
	b.watch(ctx)
	return b
}

// newVisitor opens a tab in a new browser context: another visitor, with
// storage of its own.
func (b *browser) newVisitor() context.Context {
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	b.t.Cleanup(cancel)
	b.watch(ctx)
	return ctx
}

// watch dismisses and counts dialogs and records script errors of a tab.
func (b *browser) watch(ctx context.Context) {
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	console := chromedp.Console(ctx)
	go func() {
		for _, err := range dialogs {
			if err != nil {
				return
			}
			b.dialogs.Add(1)
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	}()
	go func() {
		for m, err := range console {
			if err != nil {
				return
			}
			if os.Getenv("CONNECTOR_TEST_LOG") != "" {
				b.t.Logf("console: %s", m)
			}
			if m.IsException() {
				b.mu.Lock()
				b.exceptions = append(b.exceptions, m.String())
				b.mu.Unlock()
			}
		}
	}()
}

func (b *browser) scriptErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.exceptions...)
}

// do runs actions in a tab, failing the test on error.
func do(t testing.TB, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression in a tab.
func eval[T any](t testing.TB, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitJS waits until a JavaScript expression is truthy in a tab.
func waitJS(t testing.TB, ctx context.Context, what, expr string, timeout time.Duration) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr,
		chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(timeout))); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

// The widget's parts, as the page's scripts (and the tests) reach them.
const (
	widgetRoot = `document.querySelector('cgw-chat').shadowRoot`
	jsState    = `(document.querySelector('cgw-chat') || {getAttribute: () => null}).getAttribute('data-state')`
	// jsBubbles lists the conversation's bubbles: class and text.
	jsBubbles = `Array.from(` + widgetRoot + `.querySelectorAll('ol li:not(.sys)')).filter(li => !li.hidden).map(li => ({cls: li.className, text: li.textContent}))`
)

func launcher() chromedp.JSPath { return chromedp.JSPath(widgetRoot + `.querySelector('button.l')`) }
func closer() chromedp.JSPath   { return chromedp.JSPath(widgetRoot + `.querySelector('button.x')`) }
func composer() chromedp.JSPath { return chromedp.JSPath(widgetRoot + `.querySelector('textarea')`) }
func fileInput() chromedp.JSPath {
	return chromedp.JSPath(widgetRoot + `.querySelector('input[type=file]')`)
}

type bubble struct {
	Cls  string `json:"cls"`
	Text string `json:"text"`
}

func bubbles(t testing.TB, ctx context.Context) []bubble {
	t.Helper()
	return eval[[]bubble](t, ctx, jsBubbles)
}

// count is how many bubbles show exactly text.
func count(bs []bubble, text string) int {
	n := 0
	for _, b := range bs {
		if b.Text == text {
			n++
		}
	}
	return n
}

// jsShows is an expression that is true once a bubble shows exactly text.
func jsShows(text string) string {
	return fmt.Sprintf(`%s.some(b => b.text === %s)`, jsBubbles, jsString(text))
}

func jsString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`, "<", `\x3c`)
	return "'" + r.Replace(s) + "'"
}

// hostPage serves a shop's page that embeds a snippet, with CSS that would
// wreck any widget it reached (the shadow root keeps it out).
type hostPage struct {
	snippet atomic.Value // template.HTML
	srv     *httptest.Server
}

var hostTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Acme Shop</title>
<style>
  * { font-family: "Comic Sans MS", cursive !important; color: #c000c0 !important; }
  button { display: none !important; }
  li { list-style: square !important; background: yellow !important; }
  div, section, ol { border: 3px dashed lime !important; }
  body { margin: 0; padding: 24px; background: #fdfbf6; }
  .hero { padding: 40px; background: #e9e4d8; }
</style></head>
<body>
<div class="hero"><h1>Acme Shop</h1><p>Hand-made teapots since 1907. Free shipping over 50 EUR.</p></div>
<p>Questions about an order? Use the chat button.</p>
{{.}}
</body></html>`))

func newHostPage(t testing.TB) *hostPage {
	h := &hostPage{}
	h.snippet.Store(template.HTML(""))
	h.srv = httptest.NewServer(h)
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hostPage) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = hostTemplate.Execute(w, h.snippet.Load())
}

// widgetGateway starts a gateway whose public URL is its real loopback
// address (the browser loads the widget from it, the portal fetches files
// from it).
func widgetGateway(t testing.TB, b queuetest.Backend) *gateway {
	t.Helper()
	cfg := testConfig(b, b.DSN(t), "http://127.0.0.1:1/bot%s/%s")
	cfg.Addr = freeAddr(t)
	cfg.PublicURL = "http://" + cfg.Addr
	return startGateway(t, cfg)
}

// widgetWiring is a portal with one line and an active webchat connection.
type widgetWiring struct {
	Client  *sdk.Client
	Line    string
	Conn    string
	Snippet string
}

// wireWidget sets up, through the signed portal API as a portal would, a
// web chat connection that allows pages of origin.
func wireWidget(t testing.TB, g *gateway, p *portaltest.Server, origin string) widgetWiring {
	t.Helper()
	ctx := context.Background()
	pr, secret, err := g.app.Store().Records.CreatePortal(ctx, "Acme helpdesk", p.URL)
	if err != nil {
		t.Fatal(err)
	}
	p.SetSecrets(append(p.Secrets(), secret)...)
	w := widgetWiring{Client: &sdk.Client{BaseURL: g.URL, PortalID: pr.ID, Secret: secret}}
	var line struct{ ID string }
	if err := w.Client.Do(ctx, "POST", "/v1/lines", map[string]string{"name": "Web shop"}, &line, nil); err != nil {
		t.Fatalf("create line: %v", err)
	}
	var conn struct {
		ID      string `json:"id"`
		Snippet string `json:"snippet"`
	}
	err = w.Client.Do(ctx, "POST", "/v1/lines/"+line.ID+"/connections", map[string]any{
		"connector": "webchat",
		"settings": map[string]string{
			"allowed_origins": origin, "title": "Acme support", "greeting": "Hi! Ask us anything about your order.",
			"color": "#0b6e4f", "prechat_name": "off",
		},
	}, &conn, nil)
	if err != nil {
		t.Fatalf("create connection: %v", err)
	}
	if err := w.Client.Do(ctx, "POST", "/v1/connections/"+conn.ID+"/activate", nil, nil, nil); err != nil {
		t.Fatalf("activate: %v", err)
	}
	w.Line, w.Conn, w.Snippet = line.ID, conn.ID, conn.Snippet
	return w
}

// cutProxy forwards TCP to the gateway until cut: then it drops every
// connection and refuses new ones until restored, as a network outage would.
type cutProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	cut    bool
}

func newCutProxy(t testing.TB, target string) *cutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.Cut() })
	return p
}

func (p *cutProxy) URL() string { return "http://" + p.ln.Addr().String() }

func (p *cutProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c], p.conns[up] = struct{}{}, struct{}{}
		p.mu.Unlock()
		go p.pipe(c, up)
		go p.pipe(up, c)
	}
}

func (p *cutProxy) pipe(dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
	dst.Close()
	src.Close()
	p.mu.Lock()
	delete(p.conns, dst)
	delete(p.conns, src)
	p.mu.Unlock()
}

// Cut drops every open connection and refuses new ones.
func (p *cutProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		c.Close()
	}
}

// Restore lets connections through again.
func (p *cutProxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
}
