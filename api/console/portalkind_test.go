package console_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/connector-gateway/connector/api/console"
	"github.com/connector-gateway/connector/api/console/consoletest"
	"github.com/connector-gateway/connector/portal"
	"github.com/connector-gateway/connector/portal/adapters/rt"
	"github.com/connector-gateway/connector/portal/adapters/rt/rttest"
)

// Step 1 in Chromium against a real Request Tracker: the admin picks the
// kind rt, gets a form made from the adapter's settings, sees the live
// test's plain words for a wrong password (nothing saved), then saves good
// settings; the portal's kind and settings are in the database and the
// password is never shown back.
func TestPortalKindRTInBrowser(t *testing.T) {
	r := rttest.Start(t)
	g := newGatewayWithAdapters(t, sqliteOnly(), console.Config{}, map[string]portal.Deliverer{portal.KindRT: &rt.Adapter{}})
	ctx := context.Background()
	p, _, err := g.Records.CreatePortal(ctx, "Acme RT", "https://helpdesk.example/unused")
	if err != nil {
		t.Fatal(err)
	}
	stored := func() portal.Portal {
		t.Helper()
		got, err := g.Records.GetPortal(ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	b := consoletest.NewBrowser(t)
	browserLogin(t, b, g.URL)
	b.Open("step 1", g.URL+"/console/wizard", "#portal-kind")
	b.Click("how it gets messages", "#portal-kind")
	b.WaitFor("the kind page", `!!document.getElementById("kind-choice")`, 10*time.Second)
	if got := b.Text("#kind option:checked"); !strings.HasPrefix(got, "Native") {
		t.Fatalf("the kind chosen by default is %q, want native", got)
	}
	b.SetValue("pick rt", "#kind", portal.KindRT)
	b.Click("choose", "#choose-kind")
	b.WaitFor("RT's settings form", `!!document.getElementById("kind-form") && !!document.getElementById("k-rt-gateway_user")`, 10*time.Second)
	for _, id := range []string{"k-rt-url", "k-rt-queue", "k-rt-token", "k-rt-user", "k-rt-password"} {
		if !consoletest.Eval[bool](b, "field "+id, `!!document.getElementById("`+id+`")`) {
			t.Fatalf("the form lacks %s:\n%s", id, b.HTML())
		}
	}
	if typ := consoletest.Eval[string](b, "password type", `document.getElementById("k-rt-password").type`); typ != "password" {
		t.Errorf("the password field is of type %q", typ)
	}

	fill := func(password string) {
		b.SetValue("url", "#k-rt-url", r.URL)
		b.SetValue("queue", "#k-rt-queue", rttest.Queue)
		b.SetValue("user", "#k-rt-user", rttest.RootUser)
		b.SetValue("password", "#k-rt-password", password)
		// Mark this page, so the result read is the next page's.
		consoletest.Eval[bool](b, "mark the page", `window.beforeSave = true`)
		b.Click("run the live test and save", "#save-kind")
		b.WaitFor("the live test's result", `!window.beforeSave && document.readyState === "complete" && !!document.getElementById("kind-test-report")`, 30*time.Second)
	}
	fill("not-the-password")
	t.Logf("screenshot: %s", b.Shot("portal-kind-rt-test-failed"))
	if got := b.Text("#kind-result"); got != "Live test failed" {
		t.Fatalf("wrong password: result %q", got)
	}
	if words := b.Text("#kind-test-words"); !strings.Contains(words, "RT refused the credentials") {
		t.Fatalf("wrong password: the test says %q", words)
	}
	if k := stored().Kind; k != portal.KindNative {
		t.Fatalf("a failed live test saved kind %q", k)
	}
	if v := consoletest.Eval[string](b, "url kept", `document.getElementById("k-rt-url").value`); v != r.URL {
		t.Errorf("the URL did not come back in the form: %q", v)
	}

	fill(rttest.RootPassword)
	if got := b.Text("#kind-result"); got != "Live test passed" {
		t.Fatalf("good settings: result %q: %s", got, b.Text("#kind-test-words"))
	}
	b.WaitText("saved", "Saved: the portal is now of kind rt", 10*time.Second)
	t.Logf("screenshot: %s", b.Shot("portal-kind-rt-saved"))
	got := stored()
	if got.Kind != portal.KindRT || got.Adapter[rt.SettingURL] != r.URL || got.Adapter[rt.SettingQueue] != rttest.Queue ||
		got.Adapter[rt.SettingUser] != rttest.RootUser || got.Adapter[rt.SettingPassword] != rttest.RootPassword {
		t.Fatalf("stored kind %q settings %v", got.Kind, got.Adapter)
	}
	if consoletest.Eval[bool](b, "password shown?", `[...document.querySelectorAll("input")].some(e => e.value === "`+rttest.RootPassword+`" || e.defaultValue === "`+rttest.RootPassword+`")`) {
		t.Error("the stored password is shown back")
	}
	if state := b.Text(`label[for="k-rt-password"] [data-secret-state]`); state != "set" {
		t.Errorf("the password's state reads %q, want set", state)
	}

	// The live test of what is stored, from its own button.
	consoletest.Eval[bool](b, "mark the page", `window.beforeTest = true`)
	b.Click("test the saved settings", "#test-kind")
	b.WaitFor("the stored settings' test", `!window.beforeTest && document.readyState === "complete" && !!document.getElementById("kind-test-report")`, 30*time.Second)
	if got := b.Text("#kind-result"); got != "Live test passed" {
		t.Fatalf("test of the stored settings: %q: %s", got, b.Text("#kind-test-words"))
	}
	if acts := g.auditActions(t); len(acts) == 0 || acts[0] != "portal.kind" {
		t.Errorf("audit trail: %v", acts)
	}
	b.Click("next", "#next")
	b.WaitFor("the line step", `location.pathname === "/console/wizard/line"`, 10*time.Second)
}

// Step 1 creates a portal for a helpdesk adapter without a webhook URL: the
// admin picks the kind in the create form and lands on the adapter's
// settings form; a native portal still needs its URL, and the adapter's
// portal cannot be switched to native later (nowhere to post batches).
func TestCreateAdapterPortalInBrowser(t *testing.T) {
	g := newGatewayWithAdapters(t, sqliteOnly(), console.Config{}, map[string]portal.Deliverer{portal.KindRT: &rt.Adapter{}})
	ctx := context.Background()
	b := consoletest.NewBrowser(t)
	browserLogin(t, b, g.URL)
	b.Open("step 1", g.URL+"/console/wizard", "#create-portal")
	if got := b.Text("#new-kind option:checked"); !strings.HasPrefix(got, "Native") {
		t.Fatalf("the new portal's kind is %q by default, want native", got)
	}
	// Native without a URL: refused in words.
	b.SetValue("name", "#portal-name", "Acme native")
	b.Click("create", "#create-portal")
	b.WaitText("the URL error", "Enter the URL your portal receives the gateway's batches at.", 10*time.Second)

	b.SetValue("name", "#portal-name", "Acme RT")
	b.SetValue("no url", "#portal-url", "")
	b.SetValue("pick rt", "#new-kind", portal.KindRT)
	b.Click("create", "#create-portal")
	b.WaitFor("RT's settings form", `!!document.getElementById("kind-form") && !!document.getElementById("k-rt-url")`, 10*time.Second)
	ps, err := g.Records.ListPortals(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1 || ps[0].Name != "Acme RT" || ps[0].Kind != portal.KindRT || ps[0].WebhookURL != "" {
		t.Fatalf("portals %+v", ps)
	}
	if err := g.Records.SetPortalKind(ctx, ps[0].ID, portal.KindNative, nil); !errors.Is(err, portal.ErrNoWebhookURL) {
		t.Fatalf("switching a portal without a webhook URL to native: %v", err)
	}
}
