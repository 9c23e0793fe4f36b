package app_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/connector-gateway/connector/api/console/consoletest"
	"github.com/connector-gateway/connector/connectors/telegram/telegramtest"
	"github.com/connector-gateway/connector/queue/queuetest"
)

// A channel pages embed (the web chat widget) gets its snippet, not an
// entry URL, at the wizard's last step: the wizard knows it only from the
// registry, like any channel.
func TestConsoleWizardShowsTheWidgetSnippet(t *testing.T) {
	b := queuetest.Backend{Driver: "sqlite", DSN: queuetest.SQLiteDSN}
	tg := telegramtest.New(t, botToken)
	g, _ := consoleGateway(t, b, tg)
	ctx := context.Background()
	p, _, err := g.app.Store().Records.CreatePortal(ctx, "Acme", "https://helpdesk.example/hook")
	if err != nil {
		t.Fatal(err)
	}
	l, err := g.app.Store().Records.CreateLine(ctx, p.ID, "Website")
	if err != nil {
		t.Fatal(err)
	}
	c := consoletest.Client(t)
	page := func(method, path string, form url.Values) (int, string, string) {
		t.Helper()
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, err := http.NewRequest(method, g.URL+path, body)
		if err != nil {
			t.Fatal(err)
		}
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Location"), string(raw)
	}
	_, _, login := page("GET", "/console/login", nil)
	f := consoletest.Hidden(login)
	f.Set("username", "admin")
	f.Set("password", consolePassword)
	if code, _, _ := page("POST", "/console/login", f); code != http.StatusSeeOther {
		t.Fatalf("sign in: %d", code)
	}
	code, _, form := page("GET", "/console/wizard/channel?line="+l.ID+"&type=webchat", nil)
	if code != http.StatusOK || !strings.Contains(form, `id="f-webchat-allowed_origins"`) {
		t.Fatalf("web chat form: %d", code)
	}
	f = consoletest.Hidden(form)
	f.Set("s.allowed_origins", "https://www.acme.example")
	code, loc, _ := page("POST", "/console/wizard/channel", f)
	if code != http.StatusSeeOther || !strings.HasPrefix(loc, "/console/wizard/test?connection=") {
		t.Fatalf("save the web chat channel: %d %q", code, loc)
	}
	conn := strings.TrimPrefix(loc, "/console/wizard/test?connection=")
	_, _, act := page("GET", "/console/wizard/activate?connection="+conn, nil)
	code, _, done := page("POST", "/console/wizard/activate", consoletest.Hidden(act))
	if code != http.StatusOK || !strings.Contains(done, `id="snippet"`) || !strings.Contains(done, "/widget.js") ||
		!strings.Contains(done, "Send a message from your site now") || strings.Contains(done, `id="entry-url"`) {
		t.Fatalf("activation page (%d) lacks the snippet:\n%s", code, done)
	}
}
