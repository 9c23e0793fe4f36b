package console_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/connector-gateway/connector/api/console"
	"github.com/connector-gateway/connector/api/console/consoletest"
	"github.com/connector-gateway/connector/queue/queuetest"
)

// Every console page and form needs a session: without one, the answer is
// the sign-in page and nothing changes.
func TestNothingWithoutSignIn(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b queuetest.Backend) {
		g := newGateway(t, b, console.Config{})
		ctx := context.Background()
		p, _, err := g.Records.CreatePortal(ctx, "Acme", "https://helpdesk.example/hook")
		if err != nil {
			t.Fatal(err)
		}
		c := consoletest.Client(t)
		for _, path := range []string{
			"/console/", "/console/status", "/console/audit", "/console/password",
			"/console/wizard", "/console/wizard/line?portal=" + p.ID, "/console/wizard/channel?line=x",
			"/console/wizard/test?connection=x", "/console/wizard/activate?connection=x",
			"/console/lines/x", "/console/connections/x", "/console/connections/x/settings",
			"/console/connections/x/received?since=0", "/console/no-such-page",
		} {
			resp, body := get(t, c, g.URL+path)
			loc := resp.Header.Get("Location")
			if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/console/login?next=") {
				t.Errorf("GET %s without a session: %d, Location %q; want 303 to the sign-in page", path, resp.StatusCode, loc)
			}
			if next, _ := url.ParseQuery(strings.TrimPrefix(loc, "/console/login?")); next.Get("next") != path {
				t.Errorf("GET %s: the sign-in page would not lead back (next=%q)", path, next.Get("next"))
			}
			if strings.Contains(body, "Acme") {
				t.Errorf("GET %s without a session shows data", path)
			}
		}
		for _, path := range []string{"/console/wizard/portal", "/console/wizard/line", "/console/lines/x/replay", "/console/logout", "/console/connections/x/deactivate"} {
			resp, _ := post(t, c, g.URL+path, url.Values{"name": {"Sneaky"}, "webhook_url": {"https://x.example/"}, "nonce": {"n"}})
			if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/console/login") {
				t.Errorf("POST %s without a session: %d %q; want 303 to sign-in", path, resp.StatusCode, resp.Header.Get("Location"))
			}
		}
		ps, _ := g.Records.ListPortals(ctx)
		if len(ps) != 1 {
			t.Fatalf("a form without a session changed the records: %d portals", len(ps))
		}
		// The static files hold nothing secret and style the sign-in page.
		if resp, _ := get(t, c, g.URL+"/console/static/console.css"); resp.StatusCode != http.StatusOK {
			t.Errorf("style sheet: %d", resp.StatusCode)
		}
	})
}

func TestSignIn(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b queuetest.Backend) {
		g := newGateway(t, b, console.Config{})
		c := consoletest.Client(t)
		_, page := get(t, c, g.URL+"/console/login")
		form := consoletest.Hidden(page)

		// Wrong password: refused, no session, one message for name and password.
		for _, creds := range [][2]string{{"admin", "not the password"}, {"nobody", adminPassword}} {
			f := url.Values{"csrf": form["csrf"], "next": {"/console/"}, "username": {creds[0]}, "password": {creds[1]}}
			resp, body := post(t, c, g.URL+"/console/login", f)
			if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "Wrong user name or password.") {
				t.Fatalf("sign in as %s/%s: %d", creds[0], creds[1], resp.StatusCode)
			}
			for _, ck := range resp.Cookies() {
				if ck.Name == "connector_console" && ck.Value != "" {
					t.Fatal("a wrong password got a session cookie")
				}
			}
			form = consoletest.Hidden(body)
		}
		if resp, _ := get(t, c, g.URL+"/console/"); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("after wrong passwords the console answered %d", resp.StatusCode)
		}

		// The sign-in form without its CSRF token is refused.
		resp, body := post(t, c, g.URL+"/console/login", url.Values{"username": {"admin"}, "password": {adminPassword}})
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "nothing was changed") {
			t.Fatalf("sign in without CSRF token: %d", resp.StatusCode)
		}

		// Right password: a session cookie with the safe attributes, and the
		// page the sign-in was asked for.
		f := url.Values{"csrf": form["csrf"], "next": {"/console/audit"}, "username": {" Admin "}, "password": {adminPassword}}
		resp, _ = post(t, c, g.URL+"/console/login", f)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/audit" {
			t.Fatalf("sign in: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		setCookie := strings.Join(resp.Header.Values("Set-Cookie"), "\n")
		if !regexp.MustCompile(`connector_console=[A-Za-z0-9_-]{40,}; Path=/console/; HttpOnly; SameSite=Lax`).MatchString(setCookie) {
			t.Fatalf("session cookie = %q", setCookie)
		}
		if strings.Contains(setCookie, "Secure") {
			t.Fatal("Secure cookie over plain HTTP: the browser would never send it back")
		}
		if resp, _ := get(t, c, g.URL+"/console/"); resp.StatusCode != http.StatusOK {
			t.Fatalf("console after sign-in: %d", resp.StatusCode)
		}
		// The database keeps only a hash of the cookie value.
		var stored string
		if err := g.DB.SQL.QueryRow("SELECT token_hash FROM console_sessions").Scan(&stored); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(setCookie, stored) {
			t.Fatal("the session token is stored in clear")
		}

		// Behind an HTTPS proxy the cookie is Secure.
		c2 := consoletest.Client(t)
		_, page = get(t, c2, g.URL+"/console/login", "X-Forwarded-Proto", "https")
		f = consoletest.Hidden(page)
		f.Set("username", "admin")
		f.Set("password", adminPassword)
		resp, _ = post(t, c2, g.URL+"/console/login", f, "X-Forwarded-Proto", "https")
		if !strings.Contains(strings.Join(resp.Header.Values("Set-Cookie"), "\n"), "; Secure") {
			t.Fatalf("over HTTPS the session cookie is not Secure: %q", resp.Header.Values("Set-Cookie"))
		}

		// Sign out ends the session on the server, not only in the browser.
		old := c.Jar.Cookies(mustURL(t, g.URL+"/console/"))
		tok := g.csrf(t, c)
		if resp, _ := post(t, c, g.URL+"/console/logout", url.Values{"csrf": {tok}}); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign out: %d", resp.StatusCode)
		}
		replay := consoletest.Client(t)
		replay.Jar.SetCookies(mustURL(t, g.URL+"/console/"), old)
		if resp, _ := get(t, replay, g.URL+"/console/"); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("the signed-out session cookie still works: %d", resp.StatusCode)
		}
		acts := g.auditActions(t)
		for _, want := range []string{"login.failed", "login", "logout"} {
			if !slices.Contains(acts, want) {
				t.Errorf("audit trail lacks %s: %v", want, acts)
			}
		}
	})
}

// A signed-in admin's form without the session's CSRF token changes nothing.
func TestFormWithoutCSRFTokenIsRefused(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b queuetest.Backend) {
		g := newGateway(t, b, console.Config{})
		c := g.login(t, "admin", adminPassword)
		_, page := get(t, c, g.URL+"/console/wizard")
		form := consoletest.Hidden(page)
		form.Set("name", "Acme")
		form.Set("webhook_url", "https://helpdesk.example/hook")
		for _, tok := range []string{"", "forged-token", strings.ToUpper(form.Get("csrf"))} {
			f := url.Values{}
			for k, v := range form {
				f[k] = v
			}
			if tok == "" {
				f.Del("csrf")
			} else {
				f.Set("csrf", tok)
			}
			resp, body := post(t, c, g.URL+"/console/wizard/portal", f)
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "Form refused") {
				t.Fatalf("token %q: %d", tok, resp.StatusCode)
			}
		}
		if ps, _ := g.Records.ListPortals(context.Background()); len(ps) != 0 {
			t.Fatalf("a refused form created %d portals", len(ps))
		}
		// With the token the same form works, once: a second send of the
		// same form (reload, double click) does not create a second portal.
		resp, body := post(t, c, g.URL+"/console/wizard/portal", form)
		if resp.StatusCode != http.StatusCreated || !strings.Contains(body, "whsec_") {
			t.Fatalf("create portal with the token: %d", resp.StatusCode)
		}
		if resp, _ := post(t, c, g.URL+"/console/wizard/portal", form); resp.StatusCode != http.StatusConflict {
			t.Fatalf("second send of one form: %d, want 409", resp.StatusCode)
		}
		if ps, _ := g.Records.ListPortals(context.Background()); len(ps) != 1 {
			t.Fatalf("%d portals after a repeated form, want 1", len(ps))
		}
	})
}

// Without a configured password the first admin gets a one-time password in
// the log, and must replace it before anything else.
func TestOneTimePasswordMustBeChanged(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b queuetest.Backend) {
		g := newGateway(t, b, console.Config{AdminPassword: "-", AdminUser: "Root"})
		m := regexp.MustCompile(`one-time password.* user=root password=([A-Z2-7]{26})`).FindStringSubmatch(g.Log.String())
		if m == nil {
			t.Fatalf("no one-time password in the log:\n%s", g.Log.String())
		}
		c := g.login(t, "root", m[1])
		for _, path := range []string{"/console/", "/console/wizard", "/console/audit"} {
			resp, _ := get(t, c, g.URL+path)
			if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/password" {
				t.Fatalf("%s with a one-time password: %d to %q, want the password form", path, resp.StatusCode, resp.Header.Get("Location"))
			}
		}
		_, page := get(t, c, g.URL+"/console/password")
		tok := consoletest.Hidden(page).Get("csrf")
		// Validation messages come back next to the fields.
		resp, body := post(t, c, g.URL+"/console/password", url.Values{"csrf": {tok}, "current": {"wrong"}, "new": {"short"}, "again": {"other"}})
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("bad password change: %d", resp.StatusCode)
		}
		for _, id := range []string{"current-error", "new-error", "again-error"} {
			if !strings.Contains(body, `id="`+id+`"`) || !strings.Contains(body, `aria-describedby="`+id) {
				t.Errorf("no message %s tied to its field", id)
			}
		}
		resp, _ = post(t, c, g.URL+"/console/password", url.Values{"csrf": {tok}, "current": {m[1]}, "new": {"my own long password"}, "again": {"my own long password"}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("change password: %d", resp.StatusCode)
		}
		if resp, _ := get(t, c, g.URL+"/console/"); resp.StatusCode != http.StatusOK {
			t.Fatalf("console after the change: %d", resp.StatusCode)
		}
		g.login(t, "root", "my own long password")
		if !slices.Contains(g.auditActions(t), "password.change") {
			t.Error("password change not in the audit trail")
		}
		// The command line hands out a new one-time password.
		pw, err := console.ResetPassword(context.Background(), g.DB, "root")
		if err != nil {
			t.Fatal(err)
		}
		if resp, _ := get(t, c, g.URL+"/console/"); resp.StatusCode != http.StatusSeeOther {
			t.Fatal("a reset password left the old sessions signed in")
		}
		c = g.login(t, "root", pw)
		if resp, _ := get(t, c, g.URL+"/console/"); resp.Header.Get("Location") != "/console/password" {
			t.Fatal("a reset password is not a one-time password")
		}
	})
}

// Guessing is slowed: after five wrong passwords the account is locked for
// a while, even for the right password.
func TestRepeatedWrongPasswordsLockTheAccount(t *testing.T) {
	g := newGateway(t, sqliteOnly(), console.Config{})
	c := consoletest.Client(t)
	_, page := get(t, c, g.URL+"/console/login")
	form := consoletest.Hidden(page)
	for i := 0; i < 5; i++ {
		_, body := post(t, c, g.URL+"/console/login", url.Values{"csrf": form["csrf"], "username": {"admin"}, "password": {"guess"}})
		form = consoletest.Hidden(body)
	}
	resp, body := post(t, c, g.URL+"/console/login", url.Values{"csrf": form["csrf"], "username": {"admin"}, "password": {adminPassword}})
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(body, "locked until") {
		t.Fatalf("right password after 5 wrong ones: %d", resp.StatusCode)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
