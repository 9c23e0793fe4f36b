package app_test

import (
	"context"
	"html/template"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/portal/portaltest"
	"github.com/connector-gateway/connector/queue/queuetest"
	"github.com/connector-gateway/connector/queue/sqldb"
)

const greeting = "Hi! Ask us anything about your order."

// messages returns the message.created events the portal acknowledged.
func messages(p *portaltest.Server, line string) []connectors.Event {
	var out []connectors.Event
	for _, ev := range p.Events(line) {
		if ev.Type == connectors.TypeMessageCreated {
			out = append(out, ev)
		}
	}
	return out
}

// delivered counts status.delivered events.
func delivered(p *portaltest.Server, line string) int {
	n := 0
	for _, ev := range p.Events(line) {
		if ev.Type == connectors.TypeStatusDelivered {
			n++
		}
	}
	return n
}

// lastDeliveredID is the message id of the newest status.delivered.
func lastDeliveredID(p *portaltest.Server, line string) string {
	id := ""
	for _, ev := range p.Events(line) {
		if ev.Type == connectors.TypeStatusDelivered && ev.Status != nil && len(ev.Status.MessengerMessageIDs) > 0 {
			id = ev.Status.MessengerMessageIDs[0]
		}
	}
	return id
}

// readIDs are the message ids status.read events named.
func readIDs(p *portaltest.Server, line string) map[string]bool {
	m := map[string]bool{}
	for _, ev := range p.Events(line) {
		if ev.Type == connectors.TypeStatusRead && ev.Status != nil {
			for _, id := range ev.Status.MessengerMessageIDs {
				m[id] = true
			}
		}
	}
	return m
}

// waitMessage waits for the portal to hold n visitor messages and returns
// the last.
func waitMessage(t testing.TB, p *portaltest.Server, line string, n int) connectors.Event {
	t.Helper()
	if !p.WaitFor(20*time.Second, func() bool { return len(messages(p, line)) >= n }) {
		t.Fatalf("portal got %d visitor messages, want %d", len(messages(p, line)), n)
	}
	ms := messages(p, line)
	if len(ms) != n {
		t.Fatalf("portal got %d visitor messages, want %d: %+v", len(ms), n, ms)
	}
	return ms[n-1]
}

func (w widgetWiring) reply(t *testing.T, chat, text string) {
	t.Helper()
	if _, err := w.Client.Send(context.Background(), w.Conn, connectors.Outbound{ChatID: chat, Text: text}); err != nil {
		t.Fatalf("portal reply: %v", err)
	}
}

// screenshotDir is where the browser tests leave their screenshots:
// CONNECTOR_TEST_SCREENSHOTS, or the test's temp dir.
func screenshotDir(t *testing.T) string {
	if d := os.Getenv("CONNECTOR_TEST_SCREENSHOTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// A visitor on the shop's page writes through the widget; the portal gets it
// in a signed batch, answers through the API and the answer shows up in the
// page. Text from either side is shown as text; uploads reach the portal as
// gateway links; a reload shows the whole history once; a second visitor
// sees none of it.
func TestWidgetInBrowser(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b queuetest.Backend) {
		p := portaltest.New(t)
		g := widgetGateway(t, b)
		host := newHostPage(t)
		w := wireWidget(t, g, p, host.srv.URL)
		want := `<script src="` + g.URL + `/widget.js" data-widget="`
		if !strings.HasPrefix(w.Snippet, want) || !strings.HasSuffix(w.Snippet, `" async></script>`) {
			t.Fatalf("connection view snippet %q", w.Snippet)
		}
		host.snippet.Store(template.HTML(w.Snippet)) // pasted as the admin would
		br := newBrowser(t)
		a := br.ctx

		do(t, a, "open the shop's page", chromedp.Navigate(host.srv.URL))
		waitJS(t, a, "the widget to connect", jsState+` === 'connected'`, 20*time.Second)
		// The page's CSS hides every button and paints every li yellow; the
		// shadow root keeps the widget out of its reach.
		if !eval[bool](t, a, widgetRoot+`.querySelector('button.l').getBoundingClientRect().width > 40`) {
			t.Fatal("the host page's CSS hid the chat button")
		}
		do(t, a, "open the chat", chromedp.Click(launcher()))
		waitJS(t, a, "the panel", `!`+widgetRoot+`.querySelector('section.p').hidden`, 5*time.Second)
		if bs := bubbles(t, a); len(bs) != 1 || bs[0].Text != greeting {
			t.Fatalf("a new visitor sees %+v, want only the greeting", bs)
		}
		if bg := eval[string](t, a, `getComputedStyle(`+widgetRoot+`.querySelector('ol li')).backgroundColor`); bg == "rgb(255, 255, 0)" {
			t.Fatal("the host page's CSS reached the widget's messages")
		}

		first := "Hello, where is my teapot? Order 42."
		do(t, a, "type a message", chromedp.SendKeys(composer(), first+"\r"))
		ev := waitMessage(t, p, w.Line, 1)
		if ev.Connector != "webchat" || ev.Connection != w.Conn || ev.Message.Text != first || ev.Chat == nil || ev.Chat.ID == "" ||
			ev.User == nil || ev.User.ID != ev.Chat.ID || ev.User.Language == "" {
			t.Fatalf("portal got %+v", ev)
		}
		if p.BadSignatures() != 0 {
			t.Fatalf("%d batches failed signature verification", p.BadSignatures())
		}
		chat := ev.Chat.ID
		waitJS(t, a, "the message to be marked sent", jsBubbles+`.some(b => b.text === `+jsString(first)+` && b.cls === 'me')`, 10*time.Second)

		// The reply shows up live; the page notes when it first sees it.
		answer := "Hi! Your teapot ships today."
		eval[bool](t, a, `(() => { const r = `+widgetRoot+`; window.__seenAt = 0;
			new MutationObserver(() => { if (!window.__seenAt && Array.from(r.querySelectorAll('ol li')).some(li => li.textContent === `+jsString(answer)+`)) window.__seenAt = Date.now(); })
				.observe(r, {subtree: true, childList: true, characterData: true}); return true; })()`)
		sentAt := time.Now()
		w.reply(t, chat, answer)
		waitJS(t, a, "the reply in the page", `window.__seenAt > 0`, 20*time.Second)
		seenAt := eval[int64](t, a, `window.__seenAt`)
		t.Logf("portal reply to text on screen: %d ms (%s)", seenAt-sentAt.UnixMilli(), b.Driver)
		if !p.WaitFor(10*time.Second, func() bool { return delivered(p, w.Line) == 1 }) {
			t.Fatal("no status.delivered for the reply")
		}
		// The visitor saw it (panel open, tab visible): the portal hears so.
		replyID := lastDeliveredID(p, w.Line)
		if !p.WaitFor(10*time.Second, func() bool { return readIDs(p, w.Line)[replyID] }) {
			t.Fatalf("no status.read for the reply %s the visitor saw: %v", replyID, readIDs(p, w.Line))
		}

		// The agent's typing indicator.
		if err := w.Client.Do(context.Background(), "POST", "/v1/connections/"+w.Conn+"/typing", map[string]string{"chat_id": chat}, nil, nil); err != nil {
			t.Fatalf("typing: %v", err)
		}
		waitJS(t, a, "the typing indicator", `!`+widgetRoot+`.querySelector('.ty').hidden`, 10*time.Second)

		// Markup from either side stays text and runs nothing.
		xss := `<img src=x onerror=alert(1)>`
		do(t, a, "type markup", chromedp.SendKeys(composer(), xss+"\r"))
		if got := waitMessage(t, p, w.Line, 2); got.Message.Text != xss {
			t.Fatalf("portal got %q", got.Message.Text)
		}
		pwned := `<img src=x onerror="window.__pwned=1"><script>window.__pwned=1</script>`
		link := "Track it at https://example.com/track?id=42."
		for _, text := range []string{xss, pwned, link} {
			w.reply(t, chat, text)
		}
		waitJS(t, a, "the agent's markup as text", jsShows(pwned), 20*time.Second)
		waitJS(t, a, "the link", jsShows(link), 20*time.Second)
		if n := count(bubbles(t, a), xss); n != 2 {
			t.Fatalf("%q shown %d times, want 2 (visitor and agent)", xss, n)
		}
		if n := eval[int](t, a, widgetRoot+`.querySelectorAll('img, script, [onerror]').length`); n != 0 {
			t.Fatalf("%d elements made from message text", n)
		}
		if eval[bool](t, a, `window.__pwned !== undefined`) || br.dialogs.Load() != 0 {
			t.Fatalf("markup ran: __pwned set or %d dialogs", br.dialogs.Load())
		}
		href := eval[string](t, a, `Array.from(`+widgetRoot+`.querySelectorAll('ol li a')).map(a => a.href).join(' ')`)
		if href != "https://example.com/track?id=42" {
			t.Fatalf("links in messages: %q", href)
		}

		// An upload reaches the portal as a gateway link and is served inert.
		content := "Order 42 receipt <script>alert('x')</script>\n"
		path := filepath.Join(t.TempDir(), "receipt-42.html")
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		do(t, a, "attach a file", chromedp.SetUploadFiles(fileInput(), []string{path}))
		up := waitMessage(t, p, w.Line, 3)
		if len(up.Message.Files) != 1 || up.Message.Files[0].Name != "receipt-42.html" || up.Message.Files[0].Size != int64(len(content)) {
			t.Fatalf("upload event %+v", up.Message)
		}
		checkInert(t, up.Message.Files[0].URL, g.URL+"/files/", content)
		waitJS(t, a, "the file in the chat", jsBubbles+`.some(b => b.text.includes('receipt-42.html') && b.cls === 'me')`, 10*time.Second)
		own := eval[string](t, a, `Array.from(`+widgetRoot+`.querySelectorAll('ol li a')).map(a => a.href).find(h => h.includes('/files/'))`)
		checkInert(t, own, g.URL+"/widget/", content)

		// Replies to a closed panel raise the unread badge.
		do(t, a, "close the panel", chromedp.Click(closer()))
		last := "Anything else I can do?"
		w.reply(t, chat, last)
		waitJS(t, a, "the unread badge", `(() => { const b = `+widgetRoot+`.querySelector('.b'); return !b.hidden && b.textContent === '1'; })()`, 20*time.Second)
		shot(t, a, "widget-"+b.Driver+"-closed-unread.png")
		if !p.WaitFor(10*time.Second, func() bool { return delivered(p, w.Line) == 5 }) {
			t.Fatal("no status.delivered for the reply to the closed panel")
		}
		unseen := lastDeliveredID(p, w.Line)
		if readIDs(p, w.Line)[unseen] {
			t.Fatal("status.read for a reply the visitor has not seen (panel closed)")
		}
		do(t, a, "open the chat again", chromedp.Click(launcher()))
		waitJS(t, a, "the badge to clear", widgetRoot+`.querySelector('.b').hidden`, 5*time.Second)
		if !p.WaitFor(10*time.Second, func() bool { return readIDs(p, w.Line)[unseen] }) {
			t.Fatalf("no status.read once the visitor opened the panel on %s", unseen)
		}

		// A reload shows the whole conversation, in order, each message once.
		history := []string{greeting, first, answer, xss, xss, pwned, link, "receipt-42.html", last}
		do(t, a, "reload", chromedp.Reload())
		waitJS(t, a, "the history after reload", jsState+` === 'connected' && `+jsShows(last), 20*time.Second)
		var got []string
		for _, b := range bubbles(t, a) {
			got = append(got, b.Text)
		}
		if strings.Join(got, "|") != strings.Join(history, "|") {
			t.Fatalf("after reload the chat shows\n%q\nwant\n%q", got, history)
		}
		shoot(t, a, b.Driver)

		// Another visitor (own browser storage) sees none of it.
		o := br.newVisitor()
		do(t, o, "second visitor opens the shop", chromedp.Navigate(host.srv.URL))
		waitJS(t, o, "the second widget to connect", jsState+` === 'connected'`, 20*time.Second)
		do(t, o, "second visitor opens the chat", chromedp.Click(launcher()))
		do(t, o, "second visitor writes", chromedp.SendKeys(composer(), "I am someone else\r"))
		other := waitMessage(t, p, w.Line, 4)
		if other.Chat.ID == chat {
			t.Fatal("two browsers share one visitor")
		}
		private := "Only for the first visitor"
		w.reply(t, chat, private)
		waitJS(t, a, "the first visitor's reply", jsShows(private), 20*time.Second)
		ob := bubbles(t, o)
		if len(ob) != 2 || ob[0].Text != greeting || ob[1].Text != "I am someone else" {
			t.Fatalf("the second visitor sees %+v", ob)
		}
		if errs := br.scriptErrors(); len(errs) != 0 {
			t.Fatalf("script errors in the pages: %q", errs)
		}
	})
}

// checkInert fetches a file link and checks it is served so that no browser
// runs it.
func checkInert(t *testing.T, link, prefix, content string) {
	t.Helper()
	if !strings.HasPrefix(link, prefix) {
		t.Fatalf("file link %q, want one under %s", link, prefix)
	}
	resp, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	h := resp.Header
	if resp.StatusCode != http.StatusOK || string(body) != content || !strings.HasPrefix(h.Get("Content-Disposition"), "attachment") ||
		h.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(h.Get("Content-Security-Policy"), "sandbox") ||
		strings.Contains(h.Get("Content-Type"), "html") {
		t.Fatalf("%s answered %d %q with %v", link, resp.StatusCode, body, h)
	}
}

// shoot takes screenshots of the open widget at desktop and phone width and
// checks that on a phone the panel takes the whole screen.
func shoot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	for _, size := range []struct {
		label string
		w, h  int64
		opts  []chromedp.EmulateViewportOption
	}{
		{"desktop", 1280, 800, nil},
		{"phone", 375, 740, []chromedp.EmulateViewportOption{chromedp.EmulateMobile}},
	} {
		do(t, ctx, "resize to "+size.label, chromedp.EmulateViewport(size.w, size.h, size.opts...))
		waitJS(t, ctx, "the layout at "+size.label+" width", `innerWidth === `+strconv.FormatInt(size.w, 10), 5*time.Second)
		if size.label == "phone" {
			if w := eval[int64](t, ctx, `Math.round(`+widgetRoot+`.querySelector('section.p').getBoundingClientRect().width)`); w != size.w {
				t.Fatalf("on a phone the panel is %d px wide, want the screen's %d", w, size.w)
			}
		}
		shot(t, ctx, "widget-"+name+"-"+size.label+".png")
	}
	do(t, ctx, "back to desktop", chromedp.EmulateViewport(1280, 800))
}

// shot saves a screenshot of the tab under screenshotDir.
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	file := filepath.Join(screenshotDir(t), name)
	if err := os.WriteFile(file, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s", file)
}

// A page on a site that is not on the connection's list gets no session:
// the widget does not show, and the page's own attempts are refused.
func TestWidgetRefusedOrigin(t *testing.T) {
	b := queuetest.Backend{Driver: sqldb.DriverSQLite, DSN: queuetest.SQLiteDSN}
	p := portaltest.New(t)
	g := widgetGateway(t, b)
	allowed, elsewhere := newHostPage(t), newHostPage(t) // two loopback origins (ports)
	w := wireWidget(t, g, p, allowed.srv.URL)
	allowed.snippet.Store(template.HTML(w.Snippet))
	elsewhere.snippet.Store(template.HTML(w.Snippet))
	br := newBrowser(t)
	ctx := br.ctx

	do(t, ctx, "open the page elsewhere", chromedp.Navigate(elsewhere.srv.URL))
	waitJS(t, ctx, "the widget to give up", jsState+` === 'refused'`, 20*time.Second)
	if eval[bool](t, ctx, `!!document.querySelector('cgw-chat').shadowRoot`) {
		t.Fatal("the widget drew itself on a site that is not allowed")
	}
	widgetID := w.Snippet[strings.Index(w.Snippet, `data-widget="`)+len(`data-widget="`):]
	widgetID = widgetID[:strings.Index(widgetID, `"`)]
	base := g.URL + "/widget/" + widgetID
	// The page's own scripts cannot get a token or a socket either.
	status, err := chromedp.Run(ctx, chromedp.Evaluate[int](`fetch(`+jsString(base+"/session")+`, {method: 'POST', body: '{}'}).then(r => r.status, () => 0)`, chromedp.EvalAwaitPromise))
	if err != nil || status != http.StatusForbidden {
		t.Fatalf("session from elsewhere answered %d (%v), want 403", status, err)
	}
	res, err := chromedp.Run(ctx, chromedp.Evaluate[string](`new Promise(done => {
		const ws = new WebSocket(`+jsString(strings.Replace(base, "http", "ws", 1)+"/ws")+`);
		ws.onopen = () => done('open'); ws.onerror = () => done('refused'); })`, chromedp.EvalAwaitPromise))
	if err != nil || res != "refused" {
		t.Fatalf("socket from elsewhere: %q %v", res, err)
	}

	// The same snippet on the allowed site works.
	do(t, ctx, "open the allowed page", chromedp.Navigate(allowed.srv.URL))
	waitJS(t, ctx, "the widget to connect", jsState+` === 'connected'`, 20*time.Second)

	// The admin's "test" button reports the setup in plain words.
	var rep connectors.TestReport
	if err := w.Client.Do(context.Background(), "POST", "/v1/connections/"+w.Conn+"/test", nil, &rep, nil); err != nil {
		t.Fatal(err)
	}
	if !rep.OK || len(rep.Checks) != 4 || !strings.Contains(rep.Checks[0].Detail, allowed.srv.URL) {
		t.Fatalf("test report %+v", rep)
	}
}

// BenchmarkWidgetReplyToScreen measures the time from a portal's reply
// (the API call) to its text on the visitor's screen, in a real browser.
func BenchmarkWidgetReplyToScreen(bm *testing.B) {
	b := queuetest.Backend{Driver: sqldb.DriverSQLite, DSN: queuetest.SQLiteDSN}
	p := portaltest.New(bm)
	g := widgetGateway(bm, b)
	host := newHostPage(bm)
	w := wireWidget(bm, g, p, host.srv.URL)
	host.snippet.Store(template.HTML(w.Snippet))
	br := newBrowser(bm)
	a := br.ctx
	do(bm, a, "open the page", chromedp.Navigate(host.srv.URL))
	waitJS(bm, a, "the widget", jsState+` === 'connected'`, 20*time.Second)
	do(bm, a, "open the chat", chromedp.Click(launcher()), chromedp.SendKeys(composer(), "hi\r"))
	if !p.WaitFor(20*time.Second, func() bool { return len(messages(p, w.Line)) == 1 }) {
		bm.Fatal("no message")
	}
	chat := messages(p, w.Line)[0].Chat.ID
	var total time.Duration
	bm.ResetTimer()
	for i := 0; i < bm.N; i++ {
		text := "reply " + strconv.Itoa(i)
		eval[bool](bm, a, `(() => { const r = `+widgetRoot+`; window.__seenAt = 0;
			const o = new MutationObserver(() => { if (Array.from(r.querySelectorAll('ol li')).some(li => li.textContent === `+jsString(text)+`)) { window.__seenAt = Date.now(); o.disconnect(); } });
			o.observe(r, {subtree: true, childList: true, characterData: true}); return true; })()`)
		sent := time.Now()
		if _, err := w.Client.Send(context.Background(), w.Conn, connectors.Outbound{ChatID: chat, Text: text}); err != nil {
			bm.Fatal(err)
		}
		waitJS(bm, a, "the reply", `window.__seenAt > 0`, 20*time.Second)
		total += time.Duration(eval[int64](bm, a, `window.__seenAt`)-sent.UnixMilli()) * time.Millisecond
	}
	bm.ReportMetric(float64(total.Milliseconds())/float64(bm.N), "ms/reply-on-screen")
}

// The network drops while the visitor is on the page; replies sent
// meanwhile are delivered to the portal (stored), and appear once the
// widget is back, each once; what the visitor typed meanwhile reaches the
// portal once.
func TestWidgetReconnectCatchUp(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b queuetest.Backend) {
		p := portaltest.New(t)
		g := widgetGateway(t, b)
		host := newHostPage(t)
		w := wireWidget(t, g, p, host.srv.URL)
		proxy := newCutProxy(t, strings.TrimPrefix(g.URL, "http://"))
		host.snippet.Store(template.HTML(strings.Replace(w.Snippet, g.URL, proxy.URL(), 1)))
		br := newBrowser(t)
		a := br.ctx

		do(t, a, "open the shop's page", chromedp.Navigate(host.srv.URL))
		waitJS(t, a, "the widget to connect", jsState+` === 'connected'`, 20*time.Second)
		do(t, a, "open the chat", chromedp.Click(launcher()))
		do(t, a, "write", chromedp.SendKeys(composer(), "Is the blue teapot in stock?\r"))
		chat := waitMessage(t, p, w.Line, 1).Chat.ID
		w.reply(t, chat, "Let me check.")
		waitJS(t, a, "the live reply", jsShows("Let me check."), 20*time.Second)

		proxy.Cut()
		waitJS(t, a, "the widget to notice the cut", jsState+` === 'offline'`, 20*time.Second)
		away := []string{"Yes, 3 left.", "Shall I reserve one?", "It is reserved until Friday."}
		for _, text := range away {
			w.reply(t, chat, text)
		}
		// Delivered means stored for the visitor, who is not connected.
		if !p.WaitFor(20*time.Second, func() bool { return delivered(p, w.Line) == 4 }) {
			t.Fatalf("%d replies delivered, want 4", delivered(p, w.Line))
		}
		offline := "Great, thank you!"
		do(t, a, "write while offline", chromedp.SendKeys(composer(), offline+"\r"))
		if n := count(bubbles(t, a), away[0]); n != 0 {
			t.Fatal("a reply showed while the network was cut")
		}

		proxy.Restore()
		waitJS(t, a, "the replies sent while away", jsState+` === 'connected' && `+jsShows(away[2]), 40*time.Second)
		waitMessage(t, p, w.Line, 2)
		if got := messages(p, w.Line)[1].Message.Text; got != offline {
			t.Fatalf("portal got %q", got)
		}
		// Cut once more right away: the catch-up after the second return
		// must not repeat anything either.
		proxy.Cut()
		waitJS(t, a, "the second cut", jsState+` === 'offline'`, 20*time.Second)
		proxy.Restore()
		waitJS(t, a, "the second return", jsState+` === 'connected'`, 40*time.Second)
		w.reply(t, chat, "See you!")
		waitJS(t, a, "the last reply", jsShows("See you!"), 20*time.Second)

		want := []string{greeting, "Is the blue teapot in stock?", "Let me check.", away[0], away[1], away[2], offline, "See you!"}
		var got []string
		for _, b := range bubbles(t, a) {
			got = append(got, b.Text)
		}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("after the cuts the chat shows\n%q\nwant\n%q", got, want)
		}
		if n := len(messages(p, w.Line)); n != 2 {
			t.Fatalf("portal got %d visitor messages, want 2", n)
		}
		if errs := br.scriptErrors(); len(errs) != 0 {
			t.Fatalf("script errors in the page: %q", errs)
		}
	})
}
