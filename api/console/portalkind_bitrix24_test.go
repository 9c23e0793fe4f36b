package console_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/connector-gateway/connector/api/console"
	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/portal"
	"github.com/connector-gateway/connector/portal/adapters/bitrix24"
	"github.com/connector-gateway/connector/portal/adapters/bitrix24/bitrix24test"
	"github.com/connector-gateway/connector/queue"
	"github.com/connector-gateway/connector/queue/queuetest"
)

// b24Console is the console with the bitrix24 adapter, a portal and the
// fake Bitrix24 account it may feed.
type b24Console struct {
	t    *testing.T
	ctx  context.Context
	g    *gateway
	a    *bitrix24.Adapter
	fake *bitrix24test.Server
	c    *http.Client
	csrf string
	id   string
	seq  int
}

func newB24Console(t *testing.T, b queuetest.Backend) *b24Console {
	e := &b24Console{t: t, ctx: context.Background(), fake: bitrix24test.New(t)}
	e.a = &bitrix24.Adapter{PublicURL: "https://gateway.example"}
	e.g = newGatewayWithAdapters(t, b, console.Config{}, map[string]portal.Deliverer{portal.KindBitrix24: e.a})
	e.a.IDs, e.a.Portals = portal.NewAdapterIDs(e.g.DB), e.g.Records
	p, _, err := e.g.Records.CreatePortal(e.ctx, "Acme Bitrix24", "https://helpdesk.example/unused")
	if err != nil {
		t.Fatal(err)
	}
	e.id = p.ID
	e.c = e.g.login(t, "admin", adminPassword)
	e.csrf = e.g.csrf(t, e.c)
	return e
}

func (e *b24Console) stored() portal.Portal {
	e.t.Helper()
	p, err := e.g.Records.GetPortal(e.ctx, e.id)
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

// save posts the kind form as the browser does: every field the form
// shows, secret ones empty unless given.
func (e *b24Console) save(fields map[string]string) (int, string) {
	e.t.Helper()
	form := url.Values{"csrf": {e.csrf}, "portal": {e.id}, "kind": {portal.KindBitrix24}}
	p := e.stored()
	for _, st := range e.a.Settings() {
		if strings.Contains(st.Key, "<") {
			continue
		}
		v := ""
		if !st.Secret && p.Kind == portal.KindBitrix24 {
			v = p.Adapter[st.Key] // the form shows the stored value
		}
		if given, ok := fields[st.Key]; ok {
			v = given
		}
		form.Set("s."+st.Key, v)
	}
	resp, body := post(e.t, e.c, e.g.URL+"/console/wizard/portal/kind", form)
	return resp.StatusCode, body
}

// deliver hands one customer message to the adapter as the dispatcher
// does: with the portal as stored now.
func (e *b24Console) deliver() error {
	e.t.Helper()
	e.seq++
	id := "evt_" + string(rune('a'+e.seq))
	ev := connectors.Event{ID: id, Type: connectors.TypeMessageCreated, OccurredAt: time.Unix(1796119200, 0).UTC(),
		Connector: "telegram", Channel: "telegram", Connection: "con_1", Line: "lin_1", Chat: &connectors.Chat{ID: "42", Type: "private"},
		User: &connectors.User{ID: "u1", Name: "Ann Lee"}, Message: &connectors.Message{ID: "m" + id, Text: "Hello"}}
	raw, err := json.Marshal(ev)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.a.Deliver(e.ctx, e.stored(), portal.DeliveryBatch{ID: "bat_" + id, LineID: "lin_1", Items: []queue.Item{{Seq: 1, EventID: id, Payload: raw}}})
}

// Saving a bitrix24 portal's settings in the console after its access
// token expired: the live test renews it, the renewed pair is what stays
// stored, and the next delivery needs no renewal and meets no
// invalid_grant.
func TestPortalKindBitrix24ConsoleKeepsRenewedTokens(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b queuetest.Backend) {
		e := newB24Console(t, b)
		settings := e.fake.Settings()
		settings["line.lin_1"], settings["domain"] = "7", "example.bitrix24.com"
		if err := e.g.Records.SetPortalKind(e.ctx, e.id, portal.KindBitrix24, settings); err != nil {
			t.Fatal(err)
		}
		if err := e.deliver(); err != nil {
			t.Fatalf("first delivery: %v", err)
		}
		e.fake.Expire()
		code, body := e.save(map[string]string{bitrix24.SettingConnectorID: "connector_gateway"})
		if code != http.StatusOK || !strings.Contains(body, "Live test passed") || !strings.Contains(body, "Saved: the portal is now of kind") {
			t.Fatalf("save after the token expired: %d\n%s", code, body)
		}
		p := e.stored()
		if p.Adapter[bitrix24.SettingAccessToken] != "access-2" || p.Adapter[bitrix24.SettingRefreshToken] != "refresh-2" ||
			p.Adapter[bitrix24.SettingExpires] != "1893456000" || p.Adapter["line.lin_1"] != "7" || p.Adapter[bitrix24.SettingConnectorID] != "connector_gateway" {
			t.Fatalf("stored after the save: %v", p.Adapter)
		}
		if strings.Contains(body, "access-2") || strings.Contains(body, "refresh-2") {
			t.Error("the page shows the stored tokens")
		}
		if err := e.deliver(); err != nil || e.fake.Renewed() != 1 {
			t.Fatalf("delivery after the save: %v (%d renewals)", err, e.fake.Renewed())
		}
	})
}

// A native portal switched to bitrix24 in the console with every
// credential in the form and an expired access token passes the live test
// (it renews with the refresh token entered) and stores the renewed pair.
// When the test renews and then fails, nothing is saved, and the form
// comes back holding the renewed tokens, which pass the next attempt.
func TestPortalKindBitrix24ConsoleFromNative(t *testing.T) {
	e := newB24Console(t, sqliteOnly())
	e.fake.Expire()
	e.fake.SetInstalled(false)
	fields := e.fake.Settings()
	fields["domain"], fields["line"] = "example.bitrix24.com", "7"
	code, body := e.save(fields)
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, "Live test failed") || !strings.Contains(body, "not fully installed") ||
		!strings.Contains(body, `id="kind-renewed"`) {
		t.Fatalf("test failing after renewing the tokens entered: %d\n%s", code, body)
	}
	if p := e.stored(); p.Kind != portal.KindNative || len(p.Adapter) != 0 {
		t.Fatalf("a failed test saved kind %q settings %v", p.Kind, p.Adapter)
	}
	for _, k := range []string{bitrix24.SettingAccessToken, bitrix24.SettingRefreshToken} {
		if !strings.Contains(body, `id="k-bitrix24-`+k+`" name="s.`+k+`" type="password" value="`+strings.Replace(k, "_token", "-2", 1)+`"`) {
			t.Fatalf("the form does not hold the renewed %s:\n%s", k, body)
		}
	}

	e.fake.SetInstalled(true)
	fields[bitrix24.SettingAccessToken], fields[bitrix24.SettingRefreshToken], fields[bitrix24.SettingExpires] = "access-2", "refresh-2", "1893456000"
	code, body = e.save(fields)
	if code != http.StatusOK || !strings.Contains(body, "Live test passed") {
		t.Fatalf("again with the renewed tokens: %d\n%s", code, body)
	}
	if p := e.stored(); p.Kind != portal.KindBitrix24 || p.Adapter[bitrix24.SettingAccessToken] != "access-2" || p.Adapter[bitrix24.SettingRefreshToken] != "refresh-2" {
		t.Fatalf("stored kind %q settings %v", p.Kind, p.Adapter)
	}

	// Once more from native, the entered tokens expired and everything in
	// order: the test passes on its first try.
	if err := e.g.Records.SetPortalKind(e.ctx, e.id, portal.KindNative, nil); err != nil {
		t.Fatal(err)
	}
	e.fake.Expire()
	fields = e.fake.Settings()
	fields["domain"], fields["line"] = "example.bitrix24.com", "7"
	code, body = e.save(fields)
	if code != http.StatusOK || !strings.Contains(body, "Live test passed") {
		t.Fatalf("native → bitrix24 with an expired access token: %d\n%s", code, body)
	}
	if p := e.stored(); p.Kind != portal.KindBitrix24 || p.Adapter[bitrix24.SettingAccessToken] != "access-3" || p.Adapter[bitrix24.SettingRefreshToken] != "refresh-3" {
		t.Fatalf("stored kind %q settings %v", p.Kind, p.Adapter)
	}
	if err := e.deliver(); err != nil || e.fake.Renewed() != 2 {
		t.Fatalf("delivery: %v (%d renewals)", err, e.fake.Renewed())
	}
}
