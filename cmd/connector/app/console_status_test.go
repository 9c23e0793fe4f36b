package app_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/connector-gateway/connector/api/console/consoletest"
	"github.com/connector-gateway/connector/connectors/telegram/telegramtest"
	"github.com/connector-gateway/connector/portal"
	"github.com/connector-gateway/connector/portal/portaltest"
	"github.com/connector-gateway/connector/portal/sdk"
	"github.com/connector-gateway/connector/queue/queuetest"
)

// consoleSignIn signs the browser in through the form.
func consoleSignIn(t *testing.T, br *consoletest.Browser, g *gateway) {
	t.Helper()
	br.Open("sign-in page", g.URL+"/console/", "#username")
	br.Type("user name", "#username", "admin")
	br.Type("password", "#password", consolePassword)
	br.Click("sign in", "#signin")
	br.WaitFor("status page", `location.pathname === "/console/" && !!document.getElementById("status")`, 10*time.Second)
}

// The status page shows what is broken and why: a line whose portal fails
// is locked out until a time it names, a line that lost its bot is in
// emergency with the story, a line's expired events are dead letters that
// replay from the page and reach the portal in order. It refreshes by
// itself and fits a phone.
func TestConsoleStatusShowsTroubleAndReplaysDeadLetters(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b queuetest.Backend) {
		tg := telegramtest.New(t, botToken)
		p := portaltest.New(t)
		cfg := testConfig(b, b.DSN(t), tg.Endpoint())
		cfg.PublicURL = "https://gateway.test" // Telegram takes webhooks over HTTPS only
		cfg.Console.AdminPassword = consolePassword
		cfg.Console.Refresh = 300 * time.Millisecond
		ctx := context.Background()

		// First run: a short delivery window, so the failing line's events
		// become dead letters within a second.
		cfg.Queue.Schedule, cfg.Queue.Window = []time.Duration{200 * time.Millisecond}, time.Second
		g := startGateway(t, cfg)
		w := wire(t, g, tg, p, 3) // lines: 0 dead letters, 1 locked out, 2 emergency
		dead, locked, emerg := w.Lines[0], w.Lines[1], w.Lines[2]
		p.FailLine(dead, http.StatusServiceUnavailable)
		for i := 0; i < 3; i++ {
			if code := postUpdate(t, g, w.Hashes[0], w.Secrets[0], tg.Update(100+i, 42, fmt.Sprintf("f%d", i))); code != http.StatusOK {
				t.Fatalf("webhook answered %d", code)
			}
		}
		if !p.WaitFor(20*time.Second, func() bool {
			st, err := g.app.Store().Outbox.Status(ctx, dead)
			return err == nil && st.DeadLetters == 3
		}) {
			t.Fatal("no dead letters after the window")
		}
		g.stop()

		// Second run on the same database: the production schedule, so the
		// next failing line stays locked out for an hour.
		cfg.Queue.Schedule, cfg.Queue.Window = []time.Duration{time.Hour}, 24*time.Hour
		g = startGateway(t, cfg)
		p.FailLine(locked, http.StatusInternalServerError)
		if code := postUpdate(t, g, w.Hashes[1], w.Secrets[1], tg.Update(200, 43, "stuck")); code != http.StatusOK {
			t.Fatalf("webhook answered %d", code)
		}
		var until time.Time
		if !p.WaitFor(20*time.Second, func() bool {
			st, err := g.app.Store().Outbox.Status(ctx, locked)
			if err == nil && st.LockedUntil != nil {
				until = *st.LockedUntil
			}
			return !until.IsZero()
		}) {
			t.Fatal("the failing line was not locked out")
		}
		// The third line loses its bot: another portal's line binds the same
		// bot, and the one-bot-one-binding rule puts the third line into
		// emergency.
		other := portaltest.New(t)
		op, osecret, err := g.app.Store().Records.CreatePortal(ctx, "Other helpdesk", other.URL)
		if err != nil {
			t.Fatal(err)
		}
		other.SetSecrets(osecret)
		oc := &sdk.Client{BaseURL: g.URL, PortalID: op.ID, Secret: osecret}
		var sales portal.Line
		if err := oc.Do(ctx, "POST", "/v1/lines", map[string]string{"name": "Sales"}, &sales, nil); err != nil {
			t.Fatal(err)
		}
		var taker struct {
			ID string `json:"id"`
		}
		if err := oc.Do(ctx, "POST", "/v1/lines/"+sales.ID+"/connections", map[string]any{
			"connector": "telegram", "settings": map[string]string{"bot_token": w.Tokens[2], "mode": "webhook"},
		}, &taker, nil); err != nil {
			t.Fatal(err)
		}
		if err := oc.Do(ctx, "POST", "/v1/connections/"+taker.ID+"/activate", nil, nil, nil); err != nil {
			t.Fatal(err)
		}

		br := consoletest.NewBrowser(t)
		start := time.Now()
		consoleSignIn(t, br, g)
		server, load := br.Timing()
		t.Logf("status page: signed in and shown after %s; the page itself: server %s, loaded %s", time.Since(start).Round(time.Millisecond),
			server.Round(100*time.Microsecond), load.Round(100*time.Microsecond))
		row := func(line, sel string) string {
			return consoletest.Eval[string](br, "read "+sel, fmt.Sprintf(`(document.querySelector('tr[data-line=%q] %s') || {innerText: ""}).innerText`, line, sel))
		}
		// Locked out, with its "until".
		if st := row(locked, ".state"); !strings.Contains(st, "locked out until "+until.UTC().Format("2006-01-02 15:04:05 UTC")) || !strings.Contains(st, "after 1 failed delivery") {
			t.Errorf("locked line state = %q, want locked out until %s", st, until.UTC().Format(time.RFC3339))
		}
		if e := row(locked, ".err"); !strings.Contains(e, "500") {
			t.Errorf("locked line's last error = %q", e)
		}
		if n := row(locked, "[data-pending]"); n != "1" {
			t.Errorf("locked line waiting = %q, want 1", n)
		}
		// Emergency stands out, and says which line took the bot.
		banner := consoletest.Eval[string](br, "banner", fmt.Sprintf(`(document.querySelector('[data-emergency=%q]') || {innerText: ""}).innerText`, emerg))
		if !strings.Contains(banner, "Emergency on line “Support C” of Acme helpdesk") || !strings.Contains(banner, `its bot was connected to line "Sales" (`+sales.ID+`)`) ||
			!strings.Contains(banner, "this line no longer receives its messages") {
			t.Errorf("emergency banner = %q", banner)
		}
		if cls := consoletest.Eval[string](br, "row class", fmt.Sprintf(`document.querySelector('tr[data-line=%q]').className`, emerg)); !strings.Contains(cls, "state-emergency") {
			t.Errorf("emergency row class = %q", cls)
		}
		if bg := consoletest.Eval[string](br, "row colour", fmt.Sprintf(`getComputedStyle(document.querySelector('tr[data-line=%q]')).backgroundColor`, emerg)); bg == "rgba(0, 0, 0, 0)" || bg == "rgb(255, 255, 255)" {
			t.Errorf("the emergency row does not stand out: background %s", bg)
		}
		if c := row(emerg, "[data-connection]"); !strings.Contains(c, "emergency") {
			t.Errorf("emergency connection = %q", c)
		}
		if got := br.Text("[data-problems]"); got != "3 lines need attention" {
			t.Errorf("summary = %q, want all three lines flagged", got)
		}
		if n := row(dead, "[data-dead-letters]"); n != "3" {
			t.Errorf("dead letters shown = %q, want 3", n)
		}
		if s := row(w.Lines[0], ".state"); !strings.Contains(s, "ok") {
			t.Errorf("dead-lettered line state = %q (its streak ended with the expiry)", s)
		}
		if !strings.Contains(br.PageText(), "signing secret: set") || strings.Contains(br.HTML(), w.Secret) {
			t.Error("the portal's signing secret is shown, or not shown as set")
		}

		// It refreshes by itself: a new event on the locked line shows up
		// without a reload.
		br.Do("mark the page", chromedp.Evaluate[chromedp.Void](`window.__notReloaded = true`))
		if code := postUpdate(t, g, w.Hashes[1], w.Secrets[1], tg.Update(201, 43, "still stuck")); code != http.StatusOK {
			t.Fatalf("webhook answered %d", code)
		}
		br.WaitFor("refreshed count", fmt.Sprintf(`document.querySelector('tr[data-line=%q] [data-pending]').innerText === "2"`, locked), 10*time.Second)
		if !consoletest.Eval[bool](br, "same page", `window.__notReloaded === true`) {
			t.Error("the page reloaded instead of refreshing itself")
		}
		t.Logf("screenshot: %s", br.Shot(b.Driver+"-status"))

		// Phone width: no sideways scrolling.
		br.Do("phone width", chromedp.EmulateViewport(375, 812))
		br.Open("status at phone width", g.URL+"/console/", "#status")
		if !consoletest.Eval[bool](br, "measure", noHorizontalOverflow) {
			t.Errorf("status page overflows at 375px")
		}
		t.Logf("screenshot: %s", br.Shot(b.Driver+"-status-phone"))
		br.Do("desktop width", chromedp.EmulateViewport(1280, 900))

		// Dead letters: listed on the line's page, replayed from it.
		p.FailLine(dead, 0)
		br.Click("open the dead letters", fmt.Sprintf(`tr[data-line=%q] [data-dead-letters] a`, dead))
		br.WaitFor("line page", `!!document.getElementById("replay-all")`, 10*time.Second)
		type dl struct{ Type, Text string }
		list := consoletest.Eval[[]dl](br, "read the dead letters", `[...document.querySelectorAll("tr[data-dead-letter]")].map(r => ({Type: r.cells[1].querySelector("label").innerText, Text: r.cells[1].querySelector(".summary-text").innerText}))`)
		if len(list) != 3 || list[0] != (dl{"message.created", "Ann: f0"}) || list[2].Text != "Ann: f2" {
			t.Fatalf("dead letters listed = %+v", list)
		}
		if reason := br.Text("tr[data-dead-letter] td.err"); !strings.Contains(reason, "expired after 1s of failed delivery") || !strings.Contains(reason, "503") {
			t.Errorf("dead letter reason = %q", reason)
		}
		t.Logf("screenshot: %s", br.Shot(b.Driver+"-line-dead-letters"))
		// Replay selected with nothing ticked replays nothing.
		br.Click("replay nothing", `button[value="selected"]`)
		br.WaitText("nothing replayed", "Tick at least one dead letter", 10*time.Second)
		if st, _ := g.app.Store().Outbox.Status(ctx, dead); st.DeadLetters != 3 {
			t.Fatalf("replaying nothing moved dead letters: %+v", st)
		}
		br.Open("line page again", g.URL+"/console/lines/"+dead, "#replay-all")
		br.Click("replay all", "#replay-all")
		br.WaitText("replayed notice", "3 dead letters were put back in the queue", 10*time.Second)
		if !p.WaitFor(20*time.Second, func() bool { return len(p.Events(dead)) == 3 }) {
			t.Fatalf("replayed events reached the portal: %d of 3", len(p.Events(dead)))
		}
		for i, ev := range p.Events(dead) {
			if ev.Message == nil || ev.Message.Text != fmt.Sprintf("f%d", i) {
				t.Fatalf("replayed event %d = %+v: order lost", i, ev)
			}
		}
		if n := br.Text("#dead-letters [data-dead-letters]"); n != "0" {
			t.Errorf("line page after replay shows %s dead letters", n)
		}
		br.Open("audit trail", g.URL+"/console/audit", "table.audit")
		if got := br.Text(`tr[data-action="deadletters.replay"]`); !strings.Contains(got, "admin") || !strings.Contains(got, "replayed 3 dead letter(s)") {
			t.Errorf("audit entry of the replay = %q", got)
		}
	})
}
