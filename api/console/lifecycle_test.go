package console_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/connector-gateway/connector/api/console"
	"github.com/connector-gateway/connector/api/console/consoletest"
	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/portal"
	"github.com/connector-gateway/connector/queue/queuetest"
)

// Activation from the console goes through the portal API's code path: a
// refusal is shown in plain words and recorded on the connection; after a
// settings fix (the stored secret kept) it activates; deactivation stops it.
// Each step is in the audit trail.
func TestActivateFixDeactivate(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b queuetest.Backend) {
		g := newGateway(t, b, console.Config{}, acmeChat{})
		ctx := context.Background()
		p, _, err := g.Records.CreatePortal(ctx, "Acme", "https://gw:hunter2hunter2@helpdesk.example/hook")
		if err != nil {
			t.Fatal(err)
		}
		l, err := g.Records.CreateLine(ctx, p.ID, "Support")
		if err != nil {
			t.Fatal(err)
		}
		cn, err := g.Records.CreateConnection(ctx, l.ID, "acmechat", connectors.Settings{"api_url": "https://refuse.acme.example", "api_key": acmeGoodKey, "region": "us"})
		if err != nil {
			t.Fatal(err)
		}
		c := g.login(t, "admin", adminPassword)
		_, page := get(t, c, g.URL+"/console/wizard/activate?connection="+cn.ID)
		form := consoletest.Hidden(page)
		if form.Get("connection") != cn.ID || form.Get("csrf") == "" {
			t.Fatalf("activate form fields = %v", form)
		}
		resp, body := post(t, c, g.URL+"/console/wizard/activate", form)
		if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "The messenger refused: Acme refused the webhook: address not allowed") {
			t.Fatalf("refused activation: %d", resp.StatusCode)
		}
		got, _ := g.Records.GetConnection(ctx, cn.ID)
		if got.Active || got.Status != portal.ConnError || !strings.Contains(got.LastError, "address not allowed") {
			t.Fatalf("after a refusal the connection is %+v", got)
		}

		// Fix the address; the key field is left empty and keeps its value.
		_, page = get(t, c, g.URL+"/console/connections/"+cn.ID+"/settings")
		if strings.Contains(page, acmeGoodKey) {
			t.Fatal("the settings form shows the stored key")
		}
		f := consoletest.Hidden(page)
		f.Set("s.api_url", "https://api.acme.example")
		f.Set("s.api_key", "")
		f.Set("s.region", "us")
		resp, _ = post(t, c, g.URL+"/console/connections/"+cn.ID+"/settings", f)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("save settings: %d", resp.StatusCode)
		}
		got, _ = g.Records.GetConnection(ctx, cn.ID)
		if got.Settings["api_key"] != acmeGoodKey || got.Settings["api_url"] != "https://api.acme.example" {
			t.Fatalf("settings after the fix = %v", got.Settings)
		}

		resp, body = post(t, c, g.URL+"/console/wizard/activate", form)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Receiving.") || !strings.Contains(body, "https://gateway.example/hook/"+got.Hash) {
			t.Fatalf("activation: %d", resp.StatusCode)
		}
		if got, _ = g.Records.GetConnection(ctx, cn.ID); !got.Active || got.Status != portal.ConnOK {
			t.Fatalf("after activation the connection is %+v", got)
		}
		resp, _ = post(t, c, g.URL+"/console/connections/"+cn.ID+"/deactivate", url.Values{"csrf": form["csrf"]})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("deactivate: %d", resp.StatusCode)
		}
		if got, _ = g.Records.GetConnection(ctx, cn.ID); got.Active {
			t.Fatal("still active after deactivation")
		}
		acts := g.auditActions(t)
		for _, want := range []string{"connection.activate.failed", "connection.settings", "connection.activate", "connection.deactivate"} {
			if !slices.Contains(acts, want) {
				t.Errorf("audit trail lacks %s: %v", want, acts)
			}
		}
		var detail string
		if err := g.DB.SQL.QueryRow("SELECT detail FROM audit_log WHERE action = 'connection.settings'").Scan(&detail); err != nil || detail != "changed api_url, threads" {
			t.Errorf("settings audit detail = %q, %v (names only, no values)", detail, err)
		}

		// A password inside the portal's webhook URL is never shown.
		_, page = get(t, c, g.URL+"/console/")
		if strings.Contains(page, "hunter2") || !strings.Contains(page, "https://gw:xxxxx@helpdesk.example/hook") {
			t.Error("the status page shows the webhook URL's password")
		}
	})
}
