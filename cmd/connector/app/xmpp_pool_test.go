package app_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/xmpp/xmpptest"
	"github.com/connector-gateway/connector/portal"
	"github.com/connector-gateway/connector/portal/portaltest"
	"github.com/connector-gateway/connector/queue/queuetest"
)

// conversationAnswer is one answer of a conversation call.
type conversationAnswer struct {
	Status     int
	RetryAfter string
	Code       string
	Message    string
	ChatID     string
}

// callConversation makes the signed POST path on the gateway at base and
// returns its status, Retry-After and error code (the sdk client hides
// the headers).
func callConversation(t testing.TB, base string, w wiring, path string) conversationAnswer {
	t.Helper()
	req, err := http.NewRequest("POST", base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 12)
	_, _ = rand.Read(id)
	req.Header.Set(portal.HeaderPortal, w.PortalID)
	if err := portal.SetHeaders(req.Header, []string{w.Secret}, "msg_"+hex.EncodeToString(id), time.Now(), portal.APIPayload("POST", req.URL.RequestURI(), nil)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var body struct {
		ChatID string `json:"chat_id"`
		Error  struct{ Code, Message string }
	}
	_ = json.Unmarshal(raw, &body)
	return conversationAnswer{Status: resp.StatusCode, RetryAfter: resp.Header.Get("Retry-After"), Code: body.Error.Code, Message: body.Error.Message, ChatID: body.ChatID}
}

// xmppConnection creates an active XMPP connection with settings on a new
// line of w's portal.
func xmppConnection(t testing.TB, w wiring, settings connectors.Settings) (line, conn string) {
	t.Helper()
	ctx := context.Background()
	var l portal.Line
	if err := w.Client.Do(ctx, "POST", "/v1/lines", map[string]string{"name": "XMPP"}, &l, nil); err != nil {
		t.Fatalf("create line: %v", err)
	}
	var c struct{ ID string }
	if err := w.Client.Do(ctx, "POST", "/v1/lines/"+l.ID+"/connections", map[string]any{"connector": "xmpp", "settings": settings}, &c, nil); err != nil {
		t.Fatalf("create connection: %v", err)
	}
	if err := w.Client.Do(ctx, "POST", "/v1/connections/"+c.ID+"/activate", nil, nil, nil); err != nil {
		t.Fatalf("activate: %v", err)
	}
	return l.ID, c.ID
}

// On a single gateway the conversation routes never answer 503 elsewhere:
// a connection without a room pool is 422 unsupported, and a pool that
// cannot load (a server without private storage, XEP-0049) is 503
// unavailable saying why, after the connection test said so too.
func TestXMPPConversationsOnOneGateway(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b queuetest.Backend) {
		srv := xmpptest.StartWithout(t, map[string]string{"gw": xmppGwPass, "gw2": xmppGwPass}, "private")
		pt := portaltest.New(t)
		g := startGateway(t, testConfig(b, b.DSN(t), "http://telegram.invalid/bot%s/%s"))
		w := newPortal(t, g, pt)
		ctx := context.Background()

		_, plain := xmppConnection(t, w, xmppSettings(srv))
		got := callConversation(t, g.URL, w, "/v1/connections/"+plain+"/conversations")
		if got.Status != http.StatusUnprocessableEntity || got.Code != "unsupported" || !strings.Contains(got.Message, "no room pool") {
			t.Fatalf("open without a room pool: %+v, want 422 unsupported", got)
		}
		got = callConversation(t, g.URL, w, "/v1/connections/"+plain+"/conversations/pool-1@"+xmpptest.MUC+"/close")
		if got.Status != http.StatusUnprocessableEntity || got.Code != "unsupported" {
			t.Fatalf("close without a room pool: %+v, want 422 unsupported", got)
		}

		settings := xmppSettings(srv)
		settings["jid"], settings["muc_service"], settings["room_pool"] = xmpptest.JID("gw2"), xmpptest.MUC, "2"
		_, pooled := xmppConnection(t, w, settings)
		var report connectors.TestReport
		if err := w.Client.Do(ctx, "POST", "/v1/connections/"+pooled+"/test", nil, &report, nil); err != nil {
			t.Fatal(err)
		}
		if report.OK || !slices.ContainsFunc(report.Checks, func(c connectors.Check) bool {
			return c.Name == "Room pool" && !c.OK && strings.Contains(c.Detail, "XEP-0049")
		}) {
			t.Fatalf("connection test without private storage: %+v", report)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			got = callConversation(t, g.URL, w, "/v1/connections/"+pooled+"/conversations")
			if got.Code == "elsewhere" {
				t.Fatalf("a single gateway answered %+v", got)
			}
			if got.Status == http.StatusServiceUnavailable && got.Code == "unavailable" && got.RetryAfter == "5" && strings.Contains(got.Message, "private storage") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("open with a pool that cannot load: %+v, want 503 unavailable naming private storage", got)
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Logf("%s: %s", b.Driver, got.Message)
	})
}

// Two gateways on one MariaDB: only the one that polls the pool
// connection serves its conversations; the other answers 503 elsewhere
// with Retry-After: 1, since a retry may reach the holder.
func TestXMPPConversationsElsewhere(t *testing.T) {
	b := mysqlBackend()
	srv := xmpptest.Start(t, map[string]string{"gw": xmppGwPass})
	pt := portaltest.New(t)
	cfg := testConfig(b, b.DSN(t), "http://telegram.invalid/bot%s/%s")
	g1, g2 := startGateway(t, cfg), startGateway(t, cfg)
	w := newPortal(t, g1, pt)
	settings := xmppSettings(srv)
	settings["muc_service"], settings["room_pool"] = xmpptest.MUC, "1"
	_, conn := xmppConnection(t, w, settings)
	path := "/v1/connections/" + conn + "/conversations"

	var holder, other *gateway
	deadline := time.Now().Add(30 * time.Second)
	for holder == nil {
		for _, g := range []*gateway{g1, g2} {
			if slices.Contains(g.app.Receivers().Polling(), conn) {
				holder, other = g, g1
				if g == g1 {
					other = g2
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no gateway polls the connection")
		}
		time.Sleep(100 * time.Millisecond)
	}
	for {
		got := callConversation(t, holder.URL, w, path)
		if got.Status == http.StatusOK && got.ChatID != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the holder answered %+v", got)
		}
		time.Sleep(100 * time.Millisecond)
	}
	got := callConversation(t, other.URL, w, path)
	if got.Status != http.StatusServiceUnavailable || got.Code != "elsewhere" || got.RetryAfter != "1" {
		t.Fatalf("the other gateway answered %+v, want 503 elsewhere with Retry-After: 1", got)
	}
}
