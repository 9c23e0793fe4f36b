package app_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/connector-gateway/connector/api/console/consoletest"
	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/telegram/telegramtest"
	"github.com/connector-gateway/connector/portal/portaltest"
	"github.com/connector-gateway/connector/queue/queuetest"
)

const consolePassword = "console test passphrase"

// consoleGateway starts a gateway whose first admin has a known password.
func consoleGateway(t *testing.T, b queuetest.Backend, tg *telegramtest.Server) (*gateway, string) {
	t.Helper()
	dsn := b.DSN(t)
	cfg := testConfig(b, dsn, tg.Endpoint())
	cfg.PublicURL = "https://gateway.test" // Telegram takes webhooks over HTTPS only
	cfg.Console.AdminPassword = consolePassword
	cfg.Console.Refresh = 300 * time.Millisecond
	return startGateway(t, cfg), dsn
}

// activeID is the id of the element that has the keyboard focus.
func activeID(b *consoletest.Browser) string {
	return consoletest.Eval[string](b, "read the focus", "document.activeElement ? document.activeElement.id : ''")
}

// noHorizontalOverflow tells whether the page fits the viewport's width.
const noHorizontalOverflow = `document.documentElement.scrollWidth <= window.innerWidth &&
	document.querySelector("main").scrollWidth <= document.querySelector("main").clientWidth`

// A newcomer connects a Telegram bot in the browser: signs in (keyboard
// only), creates a portal and a line, picks Telegram, enters a wrong token
// (step 4 says so, with the fix), fixes it (green), activates, and a
// message posted to the entry URL shown turns the last check green and
// reaches the portal. A form without its CSRF token is refused on the way.
func TestConsoleWizardConnectsATelegramBot(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b queuetest.Backend) {
		tg := telegramtest.New(t, botToken)
		p := portaltest.New(t)
		g, _ := consoleGateway(t, b, tg)
		br := consoletest.NewBrowser(t)
		shot := func(name string) { t.Logf("screenshot: %s", br.Shot(b.Driver+"-"+name)) }
		start := time.Now()

		// Not signed in: the wizard leads to the sign-in page.
		br.Open("open the wizard", g.URL+"/console/wizard", "#username")
		if loc := br.Location(); !strings.Contains(loc, "/console/login?next=%2Fconsole%2Fwizard") {
			t.Fatalf("without a session the wizard is at %s, want the sign-in page", loc)
		}
		shot("0-sign-in")

		// Keyboard only: the name field has the focus, Tab moves to the
		// password and the button, Enter sends. A wrong password first.
		signIn := func(name, password string) {
			if id := activeID(br); id != "username" {
				t.Fatalf("focus at start is on %q, want the user name field", id)
			}
			br.Do("type the name", chromedp.KeyEvent(name), chromedp.KeyEvent("\t"))
			if id := activeID(br); id != "password" {
				t.Fatalf("Tab from the name went to %q, want the password", id)
			}
			br.Do("type the password", chromedp.KeyEvent(password), chromedp.KeyEvent("\t"))
			if id := activeID(br); id != "signin" {
				t.Fatalf("Tab from the password went to %q, want the sign-in button", id)
			}
			br.Do("press Enter", chromedp.KeyEvent("\r"))
		}
		signIn("admin", "not the password")
		br.WaitText("wrong password refused", "Wrong user name or password.", 10*time.Second)
		br.WaitFor("sign-in form again", `document.activeElement && document.activeElement.id === "username"`, 5*time.Second)
		// The name is kept: the admin only tabs on to the password.
		if v := consoletest.Eval[string](br, "name kept", `document.getElementById("username").value`); v != "admin" {
			t.Fatalf("user name after a wrong password = %q", v)
		}
		signIn("", consolePassword)
		br.WaitFor("step 1 after sign-in", `location.pathname === "/console/wizard" && !!document.getElementById("create-portal")`, 10*time.Second)
		signedIn := time.Since(start)

		// Step 1: a portal. Empty fields come back with messages next to them.
		br.Click("send the empty portal form", "#create-portal")
		br.WaitFor("messages next to the fields", `!!document.getElementById("portal-name-error") && !!document.getElementById("portal-url-error")`, 10*time.Second)
		shot("1-portal-invalid")
		br.Type("portal name", "#portal-name", "Acme helpdesk")
		br.Type("portal URL", "#portal-url", p.URL)
		br.Click("create the portal", "#create-portal")
		br.WaitFor("secret shown", `!!document.getElementById("signing-secret")`, 10*time.Second)
		secret := consoletest.Eval[string](br, "read the secret", `document.getElementById("signing-secret").value`)
		if !strings.HasPrefix(secret, "whsec_") {
			t.Fatalf("signing secret shown = %q", secret)
		}
		p.SetSecrets(secret)
		if !strings.Contains(br.PageText(), "it is shown only this once") || !strings.Contains(br.PageText(), "wh.Verify(body, r.Header)") {
			t.Error("the secret page lacks the warning or the verify snippet")
		}
		br.Click("copy the secret", `[data-copy="signing-secret"]`)
		br.WaitFor("copy confirmed", `document.querySelector('[data-copy="signing-secret"]').textContent === "Copied"`, 5*time.Second)
		shot("1-portal-secret")

		// Step 2: a line.
		br.Click("to step 2", "#next")
		br.Type("name the line", "#line-name", "Support")
		shot("2-line")
		br.Click("create the line", "#create-line")

		// Step 3: the channel list comes from the registry; Telegram's form
		// from its description.
		br.Click("pick Telegram", `[data-channel="telegram"]`)
		br.WaitFor("Telegram's form", `!!document.getElementById("f-telegram-bot_token")`, 10*time.Second)
		if mode := consoletest.Eval[string](br, "mode", `document.getElementById("f-telegram-mode").value`); mode != "webhook" {
			t.Errorf("mode defaults to %q, want webhook", mode)
		}
		wrongToken := "987654321:AAH-wrong-token-0123456789abcdefghijk"
		br.Type("paste a wrong token", "#f-telegram-bot_token", wrongToken)
		shot("3-channel")
		br.Click("save the channel", "#save-channel")

		// Step 4: the wrong token is named, with what to do.
		br.Click("run the test", "#run-test")
		br.WaitFor("test report", `!!document.getElementById("test-report")`, 20*time.Second)
		report := br.Text("#test-report")
		if !strings.Contains(report, "Telegram does not know this bot token") || !strings.Contains(report, "What to do: Copy the token again from @BotFather") {
			t.Fatalf("test with a wrong token says:\n%s", report)
		}
		if strings.Contains(br.HTML(), "AAH-wrong-token") {
			t.Fatal("the token is in the page")
		}
		shot("4-test-wrong-token")

		// Fix the token: the stored one is only "set".
		br.Click("change settings", "#change-settings")
		br.WaitFor("settings form", `location.pathname.endsWith("/settings") && !!document.getElementById("f-telegram-bot_token")`, 10*time.Second)
		if state := br.Text(`label[for="f-telegram-bot_token"] [data-secret-state]`); state != "set" {
			t.Fatalf("stored token shows as %q, want set", state)
		}
		br.Type("paste the right token", "#f-telegram-bot_token", botToken)
		br.Click("save the settings", `button[type="submit"].primary`)
		br.WaitFor("back at the test step", `location.pathname === "/console/wizard/test"`, 10*time.Second)
		br.Click("test again", "#run-test")
		br.WaitFor("test passed", `!!document.getElementById("to-activate")`, 20*time.Second)
		if report := br.Text("#test-report"); !strings.Contains(report, "All checks passed") || !strings.Contains(report, "@"+telegramtest.BotUsername) {
			t.Fatalf("test with the right token says:\n%s", report)
		}
		shot("4-test-green")

		// Step 5, first with the CSRF token taken out of the form: refused.
		br.Click("to step 5", "#to-activate")
		br.WaitFor("step 5", `!!document.getElementById("activate")`, 10*time.Second)
		activateURL := br.Location()
		br.Do("drop the CSRF token", chromedp.Evaluate[chromedp.Void](`document.querySelectorAll('input[name="csrf"]').forEach(e => e.remove())`))
		br.Click("activate without the token", "#activate")
		br.WaitText("form refused", "nothing was changed", 10*time.Second)
		if n := len(tg.Calls("setWebhook")); n != 0 {
			t.Fatalf("a refused form still activated: %d setWebhook calls", n)
		}
		br.Open("back to step 5", activateURL, "#activate")
		br.Click("activate", "#activate")
		br.WaitFor("activated", `!!document.getElementById("first-message")`, 20*time.Second)
		entry := consoletest.Eval[string](br, "read the entry URL", `document.getElementById("entry-url").value`)
		hooks := tg.Calls("setWebhook")
		if len(hooks) != 1 || hooks[0].Get("url") != entry || hooks[0].Get("secret_token") == "" {
			t.Fatalf("entry URL shown %q; setWebhook calls %v", entry, hooks)
		}
		server, load := br.Timing()
		t.Logf("activation page: server %s (includes setWebhook at the fake Bot API), loaded %s", server.Round(100*time.Microsecond), load.Round(100*time.Microsecond))
		shot("5-activate-waiting")
		if cls := consoletest.Eval[string](br, "check state", `document.getElementById("first-message").className`); cls != "check waiting" {
			t.Fatalf("before any message the check is %q", cls)
		}

		// The messenger posts to the entry URL shown: the check turns green.
		u, err := url.Parse(entry)
		if err != nil {
			t.Fatal(err)
		}
		if code := postUpdate(t, g, strings.TrimPrefix(u.Path, "/hook/"), hooks[0].Get("secret_token"), tg.Update(5001, 42, "Hello from a new customer")); code != http.StatusOK {
			t.Fatalf("webhook answered %d", code)
		}
		br.WaitFor("first message check green", `document.getElementById("first-message").className === "check ok"`, 20*time.Second)
		check := br.Text("#first-message")
		if !strings.Contains(check, "Message received at") || !strings.Contains(check, "Delivered to your portal") {
			t.Fatalf("check says:\n%s", check)
		}
		ls, err := g.app.Store().Records.ListLines(context.Background(), "")
		if err != nil || len(ls) != 1 {
			t.Fatalf("lines = %v, %v", ls, err)
		}
		evs := p.Events(ls[0].ID)
		if len(evs) != 1 || evs[0].Type != connectors.TypeMessageCreated || evs[0].Message.Text != "Hello from a new customer" || p.BadSignatures() != 0 {
			t.Fatalf("the portal did not get the message (verified with the secret shown): %+v, %d bad signatures", evs, p.BadSignatures())
		}
		shot("5-activate-green")
		t.Logf("wizard: signed in after %s, whole wizard %s", signedIn.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))

		// The connection page: receiving, secrets only "set".
		br.Click("connection details", `main a[href^="/console/connections/"]`)
		br.WaitFor("connection page", `location.pathname.startsWith("/console/connections/") && !!document.querySelector("dl.summary [data-secret-state]")`, 10*time.Second)
		type secretState struct{ Label, State string }
		states := consoletest.Eval[[]secretState](br, "secret states", `[...document.querySelectorAll("dl.summary [data-secret-state]")].map(e => ({Label: e.closest("dd").previousElementSibling.innerText, State: e.innerText}))`)
		if len(states) != 2 || states[0] != (secretState{"Bot token", "set"}) || states[1] != (secretState{"Webhook secret", "set"}) {
			t.Errorf("connection page shows the secrets as %+v, want both set", states)
		}
		if html := br.HTML(); strings.Contains(html, botToken) || strings.Contains(html, hooks[0].Get("secret_token")) {
			t.Fatal("a secret is in the connection page")
		}

		// The audit trail has every change, by whom.
		br.Open("audit trail", g.URL+"/console/audit", "table.audit")
		type entry2 struct{ Who, What string }
		entries := consoletest.Eval[[]entry2](br, "read the audit trail", `[...document.querySelectorAll("table.audit tbody tr")].map(r => ({Who: r.cells[1].innerText, What: r.cells[2].innerText}))`)
		seen := map[string]string{}
		for _, e := range entries {
			seen[e.What] = e.Who
		}
		for _, want := range []string{"login.failed", "login", "portal.create", "line.create", "connection.create", "connection.settings", "connection.activate"} {
			if seen[want] == "" || (want != "login.failed" && seen[want] != "admin") {
				t.Errorf("audit trail lacks %s by admin: %v", want, entries)
			}
		}
		shot("6-audit-trail")

		// The same bot connected to a second line: the first line loses it,
		// and both the wizard and the status page say so.
		ps, err := g.app.Store().Records.ListPortals(context.Background())
		if err != nil || len(ps) != 1 {
			t.Fatalf("portals = %v, %v", ps, err)
		}
		br.Open("step 2 again", g.URL+"/console/wizard/line?portal="+ps[0].ID, "#line-name")
		br.Type("name the second line", "#line-name", "Sales")
		br.Click("create the second line", "#create-line")
		br.Click("pick Telegram again", `[data-channel="telegram"]`)
		br.Type("the same bot's token", "#f-telegram-bot_token", botToken)
		br.Click("save the second channel", "#save-channel")
		br.WaitFor("test step of the second connection", `location.pathname === "/console/wizard/test"`, 10*time.Second)
		second := strings.TrimPrefix(br.Location(), g.URL+"/console/wizard/test?connection=")
		br.Open("step 5 of the second connection", g.URL+"/console/wizard/activate?connection="+second, "#activate")
		br.Click("activate the second connection", "#activate")
		br.WaitFor("took notice", `!!document.getElementById("took")`, 20*time.Second)
		if took := br.Text("#took"); !strings.Contains(took, "This bot was connected to line “Support” of Acme helpdesk before") {
			t.Errorf("activation notice = %q", took)
		}
		br.Open("status page", g.URL+"/console/", "#status")
		banner := br.Text("[data-emergency]")
		if !strings.Contains(banner, "Emergency on line “Support” of Acme helpdesk") || !strings.Contains(banner, `its bot was connected to line "Sales"`) {
			t.Errorf("emergency banner = %q", banner)
		}
		shot("6-status-emergency")

		// Phone width: the wizard and the status page fit without sideways scrolling.
		br.Do("phone width", chromedp.EmulateViewport(375, 812))
		for _, path := range []string{"/console/audit", "/console/wizard", "/console/"} {
			br.Open("open "+path, g.URL+path, "main")
			if !consoletest.Eval[bool](br, "measure", noHorizontalOverflow) {
				w := consoletest.Eval[[]int](br, "widths", `[document.documentElement.scrollWidth, window.innerWidth, document.querySelector("main").scrollWidth, document.querySelector("main").clientWidth]`)
				t.Errorf("%s overflows at 375px: widths %v", path, w)
			}
		}
		shot("7-status-phone")
	})
}
