package app_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/connector-gateway/connector/portal"
	"github.com/connector-gateway/connector/queue/queuetest"
	"github.com/connector-gateway/connector/queue/sqldb"
)

// The unsigned routes that hand a request to a channel's pages or a
// helpdesk adapter answer 404 alike for everything that is not theirs:
// an unknown connection or portal, a native portal, an adapter without
// webhooks, a channel without pages.
func TestPassThroughRoutesRefuseStrangers(t *testing.T) {
	b := queuetest.Backend{Driver: sqldb.DriverSQLite, DSN: queuetest.SQLiteDSN}
	g := startGateway(t, testConfig(b, b.DSN(t), "http://127.0.0.1:1/bot%s/%s"))
	ctx := context.Background()
	rec := g.app.Store().Records
	native, _, err := rec.CreatePortal(ctx, "Native", "http://127.0.0.1:1/portal")
	if err != nil {
		t.Fatal(err)
	}
	rtPortal, _, err := rec.CreatePortal(ctx, "RT", "http://127.0.0.1:1/portal")
	if err != nil {
		t.Fatal(err)
	}
	if err := rec.SetPortalKind(ctx, rtPortal.ID, portal.KindRT, map[string]string{"url": "http://127.0.0.1:1", "queue": "General", "token": "t"}); err != nil {
		t.Fatal(err)
	}
	b24, _, err := rec.CreatePortalOfKind(ctx, "Bitrix24", "", portal.KindBitrix24)
	if err != nil {
		t.Fatal(err)
	}
	if err := rec.SetPortalKind(ctx, b24.ID, portal.KindBitrix24, map[string]string{"domain": "b24.example", "application_token": "app-token"}); err != nil {
		t.Fatal(err)
	}
	line, err := rec.CreateLine(ctx, native.ID, "Support")
	if err != nil {
		t.Fatal(err)
	}
	tg, err := rec.CreateConnection(ctx, line.ID, "telegram", map[string]string{"token": "123:abc", "mode": "webhook"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ method, path string }{
		{"POST", "/adapters/prt_nosuchportal/hook"},
		{"POST", "/adapters/" + native.ID + "/hook"},
		{"POST", "/adapters/" + rtPortal.ID + "/hook"}, // RT is read by polling: no webhooks
		{"GET", "/pages/nosuchhash/chat"},
		{"POST", "/pages/nosuchhash/room"},
		{"GET", "/pages/" + tg.Hash + "/chat"}, // inactive, and Telegram serves no pages
	} {
		req, _ := http.NewRequest(tc.method, g.URL+tc.path, strings.NewReader("{}"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s %s: %d, want 404", tc.method, tc.path, resp.StatusCode)
		}
	}
	// An adapter's webhook over http.body_limit is 413, not "malformed".
	big := "event=ONIMCONNECTORMESSAGEADD&data=" + strings.Repeat("x", 2<<20)
	resp, err := http.Post(g.URL+"/adapters/"+b24.ID+"/events", "application/x-www-form-urlencoded", strings.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized Bitrix24 event: %d, want 413", resp.StatusCode)
	}
}
