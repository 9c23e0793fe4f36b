package console_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/connector-gateway/connector/api/console"
	"github.com/connector-gateway/connector/api/console/consoletest"
	"github.com/connector-gateway/connector/connectors"
)

// acmeChat is a connector that exists only in this test: the wizard must
// render its form from its description alone, with every field type.
type acmeChat struct{}

var _ connectors.Connector = acmeChat{}

const acmeGoodKey = "acme-key-0123456789"

func (acmeChat) Describe() connectors.Description {
	return connectors.Description{Type: "acmechat", Title: "Acme Chat", Fields: []connectors.Field{
		{Key: "api_url", Label: "API address", Help: "where Acme Chat's API answers", Type: "url", Required: true},
		{Key: "api_key", Label: "API key", Help: "from Acme's developer page", Type: "secret", Required: true},
		{Key: "region", Label: "Data region", Type: "select", Options: []string{"eu", "us", "apac"}, Default: "us"},
		{Key: "greeting", Label: "Greeting text", Type: "text"},
		{Key: "threads", Label: "Answer in threads", Type: "bool"},
	}}
}

func (acmeChat) ValidateSettings(s connectors.Settings) (connectors.Settings, error) {
	fe := connectors.FieldErrors{}
	if !strings.HasPrefix(s["api_url"], "https://") {
		fe["api_url"] = "must start with https://"
	}
	if len(s["api_key"]) < 10 {
		fe["api_key"] = "is too short to be an Acme key"
	}
	if len(fe) > 0 {
		return nil, fe
	}
	return s, nil
}

func (acmeChat) Test(_ context.Context, c connectors.Conn) (connectors.TestReport, error) {
	ok := c.Settings["api_key"] == acmeGoodKey
	ch := connectors.Check{Name: "API key", OK: ok, Detail: "Acme knows this key."}
	if !ok {
		ch.Detail, ch.Fix = "Acme does not know this key.", "Create a new key on Acme's developer page and paste it."
	}
	return connectors.TestReport{OK: ok, Checks: []connectors.Check{ch, {Name: "Region", OK: true, Detail: "Region " + c.Settings["region"] + " is up."}}}, nil
}

func (acmeChat) Activate(_ context.Context, c connectors.Conn) error {
	if strings.Contains(c.Settings["api_url"], "refuse") {
		return errors.New("Acme refused the webhook: address not allowed")
	}
	return nil
}
func (acmeChat) Deactivate(context.Context, connectors.Conn) error { return nil }
func (acmeChat) Parse(context.Context, connectors.Conn, http.Header, []byte) (connectors.Inbound, error) {
	return connectors.Inbound{}, nil
}
func (acmeChat) Send(context.Context, connectors.Conn, connectors.Outbound) (connectors.Delivery, error) {
	return connectors.Delivery{}, nil
}

// browserLogin signs in through the browser's form.
func browserLogin(t *testing.T, b *consoletest.Browser, base string) {
	t.Helper()
	b.Open("sign-in page", base+"/console/", "#username")
	b.Type("user name", "#username", "admin")
	b.Type("password", "#password", adminPassword)
	b.Click("sign in", "#signin")
	b.WaitFor("status page after sign-in", `location.pathname === "/console/" && !!document.getElementById("status")`, 10*time.Second)
}

// The channel step renders a connector it has never heard of from its
// description: labelled inputs of the right types, defaults, messages next
// to the fields, secrets never shown back; the test step shows its checks
// and fixes.
func TestFormGeneratedFromDescription(t *testing.T) {
	g := newGateway(t, sqliteOnly(), console.Config{}, acmeChat{})
	ctx := context.Background()
	// The connection test pings the portal: one on loopback that acks.
	helpdesk := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer helpdesk.Close()
	p, _, err := g.Records.CreatePortal(ctx, "Acme helpdesk", helpdesk.URL+"/hook")
	if err != nil {
		t.Fatal(err)
	}
	l, err := g.Records.CreateLine(ctx, p.ID, "Support")
	if err != nil {
		t.Fatal(err)
	}
	b := consoletest.NewBrowser(t)
	browserLogin(t, b, g.URL)
	b.Open("channel step", g.URL+"/console/wizard/channel?line="+l.ID, `[data-channel="acmechat"]`)
	b.Click("pick Acme Chat", `[data-channel="acmechat"]`)
	// Wait for the whole form (its last field), not only its start: under
	// load the page can be read while it is still being parsed.
	b.WaitFor("Acme Chat's form", `!!document.getElementById("channel-form") && !!document.getElementById("f-acmechat-threads")`, 10*time.Second)

	// Each field: a label tied to the input, the input type from the field type.
	type field struct{ ID, Tag, Type, Label, Value string }
	fields := consoletest.Eval[[]field](b, "read the form", `[...document.querySelectorAll("#channel-form input:not([type=hidden]), #channel-form select")].map(e => ({
		ID: e.id, Tag: e.tagName.toLowerCase(), Type: e.type || "", Value: e.type === "checkbox" ? String(e.checked) : e.value,
		Label: (e.labels && e.labels[0] ? e.labels[0].innerText : "")}))`)
	want := []field{
		{"f-acmechat-api_url", "input", "url", "API address (required)", ""},
		{"f-acmechat-api_key", "input", "password", "API key (required) not set", ""},
		{"f-acmechat-region", "select", "select-one", "Data region", "us"},
		{"f-acmechat-greeting", "input", "text", "Greeting text", ""},
		{"f-acmechat-threads", "input", "checkbox", "Answer in threads", "false"},
	}
	if len(fields) != len(want) {
		t.Fatalf("form fields = %+v", fields)
	}
	for i := range want {
		got := fields[i]
		got.Label = strings.Join(strings.Fields(got.Label), " ")
		if got != want[i] {
			t.Errorf("field %d = %+v, want %+v", i, got, want[i])
		}
	}

	// Bad values: each message sits next to its field and is announced with it.
	b.Type("API address", "#f-acmechat-api_url", "http://acme.example")
	b.Type("API key", "#f-acmechat-api_key", "short")
	b.SetValue("region", "#f-acmechat-region", "eu")
	b.Click("threads", "#f-acmechat-threads")
	b.Click("save", "#save-channel")
	b.WaitText("validation messages", "must start with https://", 10*time.Second)
	type msg struct{ Field, Text, Described string }
	msgs := consoletest.Eval[[]msg](b, "read messages", `[...document.querySelectorAll(".field .error")].map(e => ({
		Field: e.closest(".field").querySelector("input,select").id, Text: e.innerText,
		Described: e.closest(".field").querySelector("input,select").getAttribute("aria-describedby") || ""}))`)
	if len(msgs) != 2 || msgs[0].Field != "f-acmechat-api_url" || msgs[0].Text != "must start with https://" ||
		msgs[1].Field != "f-acmechat-api_key" || msgs[1].Text != "is too short to be an Acme key" {
		t.Fatalf("messages = %+v", msgs)
	}
	for _, m := range msgs {
		if !strings.Contains(m.Described, m.Field+"-error") {
			t.Errorf("%s: message not tied to the field (aria-describedby %q)", m.Field, m.Described)
		}
	}
	// The values typed come back (the secret does not), the choice is kept.
	if v := b.Text("#f-acmechat-api_url-error"); v == "" {
		t.Fatal("no message element")
	}
	kept := consoletest.Eval[[]string](b, "read values", `["f-acmechat-api_url","f-acmechat-api_key","f-acmechat-region"].map(id => document.getElementById(id).value).concat([String(document.getElementById("f-acmechat-threads").checked)])`)
	if strings.Join(kept, "|") != "http://acme.example||eu|true" {
		t.Fatalf("values after the round trip = %q", kept)
	}

	b.SetValue("fix the address", "#f-acmechat-api_url", "https://api.acme.example")
	b.Type("another key", "#f-acmechat-api_key", "acme-key-wrong-one")
	b.Click("save", "#save-channel")
	b.WaitFor("test step", `location.pathname === "/console/wizard/test"`, 10*time.Second)
	b.Click("run the test", "#run-test")
	b.WaitFor("test report", `!!document.getElementById("test-report")`, 10*time.Second)
	report := b.Text("#test-report")
	for _, want := range []string{"1 of 3 checks failed", "API key: not working. Acme does not know this key.", "What to do: Create a new key on Acme's developer page and paste it.", "Region: fine. Region eu is up."} {
		if !strings.Contains(report, want) {
			t.Errorf("test report lacks %q:\n%s", want, report)
		}
	}
	if n := consoletest.Eval[int](b, "next button", `document.querySelectorAll("#to-activate").length`); n != 0 {
		t.Error("a failed test offers to activate")
	}

	// Change settings: the stored secret is shown only as "set".
	b.Click("change settings", "#change-settings")
	// Wait for the form itself, not only the URL: under load the old page
	// can still be on screen when the location has changed.
	b.WaitFor("settings form", `location.pathname.endsWith("/settings") && document.readyState === "complete" && document.body.innerText.includes("API key (required)")`, 10*time.Second)
	if page := b.PageText(); strings.Contains(page, "acme-key-wrong-one") || !strings.Contains(page, "API key (required) set") {
		t.Fatalf("settings page shows the secret, or not its state:\n%s", page)
	}
	html := b.HTML()
	if strings.Contains(html, "acme-key-wrong-one") {
		t.Fatal("the secret is in the page's HTML")
	}
	b.Type("paste the good key", "#f-acmechat-api_key", acmeGoodKey)
	b.Click("save", `button[type="submit"].primary`)
	b.WaitFor("back at the test step", `location.pathname === "/console/wizard/test"`, 10*time.Second)
	b.WaitText("saved", "The settings were saved.", 5*time.Second)
	b.Click("test again", "#run-test")
	b.WaitFor("test passed", `!!document.getElementById("to-activate")`, 10*time.Second)
	if r := b.Text("#test-report"); !strings.Contains(r, "All checks passed") {
		t.Fatalf("after fixing the key: %s", r)
	}
	cs, err := g.Records.ListConnections(ctx, l.ID)
	if err != nil || len(cs) != 1 || cs[0].Settings["api_key"] != acmeGoodKey || cs[0].Settings["region"] != "eu" || cs[0].Settings["threads"] != "true" || cs[0].Settings["api_url"] != "https://api.acme.example" {
		t.Fatalf("stored connection = %+v, %v", cs, err)
	}
}
