// Package consoletest drives the admin console in a real headless Chromium
// (Debian's chromium package) for tests, with chromedp: a fresh browser per
// test, a few helpers that fail the test with the page's text when a step
// goes wrong, and screenshots kept as test artifacts.
package consoletest

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// EnvChromium names the Chromium binary (scripts/test.sh sets it); without
// it, "chromium" is looked up on PATH.
const EnvChromium = "CONNECTOR_TEST_CHROMIUM"

// EnvArtifacts names the directory screenshots are saved under (in a
// "console" subdirectory). Default: <temp dir>/connector-test-artifacts.
const EnvArtifacts = "CONNECTOR_TEST_ARTIFACTS"

// stepTimeout bounds one browser step.
const stepTimeout = 30 * time.Second

// Browser is one headless Chromium with one tab.
type Browser struct {
	t   testing.TB
	ctx context.Context
}

// NewBrowser starts a fresh Chromium (its own profile, no network beyond
// loopback) for the test and closes it when the test ends. Without Chromium
// the test is skipped, or failed when CI is set.
func NewBrowser(t testing.TB) *Browser {
	t.Helper()
	path := os.Getenv(EnvChromium)
	if path == "" {
		for _, name := range []string{"chromium", "chromium-browser"} {
			if p, err := exec.LookPath(name); err == nil {
				path = p
				break
			}
		}
	}
	if path == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("no Chromium: set %s or install the chromium package (scripts/test.sh does)", EnvChromium)
		}
		t.Skipf("browser test skipped: no Chromium (set %s or install the chromium package)", EnvChromium)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.WindowSize(1280, 900),
		// The machine has no network: nothing may try to reach out.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-features", "Translate,OptimizationHints,MediaRouter,AutofillServerCommunication"),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("use-mock-keychain", true),
		chromedp.Flag("metrics-recording-only", true),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium (%s): %v", path, err)
	}
	return &Browser{t: t, ctx: ctx}
}

// Context is the chromedp context of the browser's tab.
func (b *Browser) Context() context.Context { return b.ctx }

// Do runs actions in order; a failure fails the test, naming the step and
// showing the page's URL and text.
func (b *Browser) Do(step string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v\n%s", step, err, b.describe())
	}
}

// Click clicks the element matching the CSS selector once the page has
// loaded. A click that found the node replaced by the next page (the tree
// changes under chromedp while a page loads) is tried again: it never
// reached the page.
func (b *Browser) Click(step, sel string) {
	b.t.Helper()
	b.retryOnStale(step, sel, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
}

// Type types text into the element matching the CSS selector, as keys.
func (b *Browser) Type(step, sel, text string) {
	b.t.Helper()
	b.retryOnStale(step, sel, chromedp.SendKeys(chromedp.CSS(sel), text, chromedp.NodeVisible))
}

// SetValue sets the value of the form field matching the CSS selector, as
// a script would (for selects and for replacing a field's text).
func (b *Browser) SetValue(step, sel, value string) {
	b.t.Helper()
	b.WaitFor(step+" (waiting for "+sel+")", "document.readyState === 'complete' && !!document.querySelector("+jsString(sel)+")", stepTimeout)
	Eval[bool](b, step, "(e => { e.value = "+jsString(value)+"; e.dispatchEvent(new Event('input', {bubbles: true})); e.dispatchEvent(new Event('change', {bubbles: true})); return true })(document.querySelector("+jsString(sel)+"))")
}

// Open navigates to u and waits until the element matching sel is there.
func (b *Browser) Open(step, u, sel string) {
	b.t.Helper()
	b.Do(step, chromedp.Navigate(u))
	b.WaitFor(step, "document.readyState === 'complete' && !!document.querySelector("+jsString(sel)+")", stepTimeout)
}

func (b *Browser) retryOnStale(step, sel string, a chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	b.WaitFor(step+" (waiting for "+sel+")", "document.readyState === 'complete' && !!document.querySelector("+jsString(sel)+")", stepTimeout)
	for attempt := 0; ; attempt++ {
		ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
		err := chromedp.Do(ctx, a)
		cancel()
		if err == nil {
			return
		}
		if attempt >= 4 || !stale(err) {
			b.t.Fatalf("%s: %v\n%s", step, err, b.describe())
		}
		time.Sleep(200 * time.Millisecond)
		b.WaitFor(step+" (waiting for "+sel+")", "document.readyState === 'complete' && !!document.querySelector("+jsString(sel)+")", stepTimeout)
	}
}

// stale tells the errors of a node that went away with its page.
func stale(err error) bool {
	msg := err.Error()
	for _, s := range []string{"Could not find node", "could not set value on node", "Inspected target navigated", "Cannot find context with specified id", "Node is detached", "No node with given id"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// Run runs one action that returns a value.
func Run[T any](b *Browser, step string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatalf("%s: %v\n%s", step, err, b.describe())
	}
	return v
}

// Eval evaluates a JavaScript expression and decodes its value.
func Eval[T any](b *Browser, step, expr string) T {
	b.t.Helper()
	return Run(b, step, chromedp.Evaluate[T](expr))
}

// Text is the visible text of the first element matching the CSS selector
// (read by script, like HTML); a missing element fails the test.
func (b *Browser) Text(sel string) string {
	b.t.Helper()
	v := Eval[*string](b, "read "+sel, "(e => e ? e.innerText : null)(document.querySelector("+jsString(sel)+"))")
	if v == nil {
		b.t.Fatalf("no element %s\n%s", sel, b.describe())
	}
	return *v
}

// HTML is the page's current markup (read by script, so it never meets a
// node the page replaced meanwhile).
func (b *Browser) HTML() string {
	b.t.Helper()
	return Eval[string](b, "read the page's HTML", "document.documentElement.outerHTML")
}

// PageText is the visible text of the whole page.
func (b *Browser) PageText() string {
	b.t.Helper()
	return Eval[string](b, "read the page", "document.body.innerText")
}

// WaitFor waits until the JavaScript predicate is truthy, failing the test
// with the page's text after timeout. Evaluation errors (a page being
// replaced by the next one) count as "not yet".
func (b *Browser) WaitFor(step, predicate string, timeout time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+predicate+")"))
		cancel()
		if err == nil && ok {
			return
		}
		if err != nil {
			last = err
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("%s: still not true after %s (last error: %v)\n%s", step, timeout, last, b.describe())
		}
		select {
		case <-b.ctx.Done():
			b.t.Fatalf("%s: browser gone: %v", step, b.ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// WaitText waits until the page's text contains want.
func (b *Browser) WaitText(step, want string, timeout time.Duration) {
	b.t.Helper()
	b.WaitFor(step, "document.body && document.body.innerText.includes("+jsString(want)+")", timeout)
}

// Timing is the current page's navigation timing: how long the server took
// to answer (request start to last byte) and how long until the page's load
// event ended, from the navigation start.
func (b *Browser) Timing() (server, load time.Duration) {
	b.t.Helper()
	ms := Eval[[]float64](b, "navigation timing", `(n => n ? [n.responseEnd - n.requestStart, n.loadEventEnd - n.startTime] : [0, 0])(performance.getEntriesByType("navigation")[0])`)
	if len(ms) != 2 {
		return 0, 0
	}
	return time.Duration(ms[0] * float64(time.Millisecond)), time.Duration(ms[1] * float64(time.Millisecond))
}

// Location is the tab's current URL.
func (b *Browser) Location() string {
	b.t.Helper()
	return Run(b, "read the location", chromedp.Location())
}

func (b *Browser) describe() string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	text, _ := chromedp.Run(ctx, chromedp.Evaluate[string]("document.body ? document.body.innerText : ''"))
	if len(text) > 4000 {
		text = text[:4000] + "…"
	}
	return "page " + loc + ":\n" + text
}

// Shot saves a full-page PNG screenshot as a test artifact and returns its
// path.
func (b *Browser) Shot(name string) string {
	b.t.Helper()
	var png []byte
	for attempt := 0; ; attempt++ {
		b.WaitFor("screenshot "+name+" (page ready)", "document.readyState === 'complete' && document.body && document.body.getBoundingClientRect().width > 0", stepTimeout)
		ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
		var err error
		png, err = chromedp.Run(ctx, chromedp.FullScreenshot(100))
		cancel()
		if err == nil {
			break
		}
		// A page still laying out has no size yet; that passes.
		if attempt >= 4 {
			b.t.Fatalf("screenshot %s: %v\n%s", name, err, b.describe())
		}
		time.Sleep(200 * time.Millisecond)
	}
	dir := ArtifactsDir(b.t)
	path := filepath.Join(dir, sanitize(name)+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatalf("save screenshot: %v", err)
	}
	return path
}

// ArtifactsDir is where console screenshots are saved: $CONNECTOR_TEST_ARTIFACTS/console,
// or <temp dir>/connector-test-artifacts/console. It is created if needed.
func ArtifactsDir(t testing.TB) string {
	t.Helper()
	root := os.Getenv(EnvArtifacts)
	if root == "" {
		root = filepath.Join(os.TempDir(), "connector-test-artifacts")
	}
	dir := filepath.Join(root, "console")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("artifacts dir: %v", err)
	}
	return dir
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func sanitize(s string) string { return unsafeName.ReplaceAllString(s, "-") }

func jsString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`, "\u2028", `\u2028`, "\u2029", `\u2029`)
	return `"` + r.Replace(s) + `"`
}

// Client is an HTTP client with a cookie jar that does not follow
// redirects, for requests made without the browser.
func Client(t testing.TB) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

// hiddenValue finds the value of a hidden input in an HTML page.
var hiddenValue = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`)

// Hidden returns the hidden form fields of an HTML page, by name (the last
// one wins when a name repeats).
func Hidden(html string) url.Values {
	v := url.Values{}
	for _, m := range hiddenValue.FindAllStringSubmatch(html, -1) {
		v.Set(m[1], m[2])
	}
	return v
}
