package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/connector-gateway/connector/cmd/connector/app"
	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/portal"
	"github.com/connector-gateway/connector/portal/adapters/bitrix24"
	"github.com/connector-gateway/connector/portal/adapters/bitrix24/bitrix24test"
	"github.com/connector-gateway/connector/queue"
)

// b24Portal is a portal in a running gateway, the fake Bitrix24 account it
// may feed, and the CLI to change it.
type b24Portal struct {
	t    *testing.T
	ctx  context.Context
	a    *app.App
	fake *bitrix24test.Server
	id   string
	run  func(args ...string) (int, string, string)
	seq  int
}

func newB24Portal(t *testing.T) *b24Portal {
	_, dbFlags, a := apiGateway(t)
	e := &b24Portal{t: t, ctx: context.Background(), a: a, fake: bitrix24test.New(t)}
	p, _, err := a.Store().Records.CreatePortal(e.ctx, "Acme Bitrix24", "http://127.0.0.1:1/unused")
	if err != nil {
		t.Fatal(err)
	}
	e.id = p.ID
	e.run = func(args ...string) (int, string, string) {
		t.Helper()
		return runCLI(t, append(append([]string{"portal"}, args...), dbFlags...)...)
	}
	return e
}

func (e *b24Portal) stored() portal.Portal {
	e.t.Helper()
	p, err := e.a.Store().Records.GetPortal(e.ctx, e.id)
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

// deliver hands one customer message to the bitrix24 adapter as the
// dispatcher does: with the portal as stored now.
func (e *b24Portal) deliver() error {
	e.t.Helper()
	e.seq++
	ev := connectors.Event{ID: "evt_" + string(rune('a'+e.seq)), Type: connectors.TypeMessageCreated, OccurredAt: time.Unix(1796119200, 0).UTC(),
		Connector: "telegram", Channel: "telegram", Connection: "con_1", Line: "lin_1", Chat: &connectors.Chat{ID: "42", Type: "private"},
		User: &connectors.User{ID: "u1", Name: "Ann Lee"}, Message: &connectors.Message{ID: "m" + string(rune('a'+e.seq)), Text: "Hello"}}
	raw, err := json.Marshal(ev)
	if err != nil {
		e.t.Fatal(err)
	}
	ad := &bitrix24.Adapter{IDs: portal.NewAdapterIDs(e.a.Store().DB), Portals: e.a.Store().Records, PublicURL: "https://gateway.example"}
	return ad.Deliver(e.ctx, e.stored(), portal.DeliveryBatch{ID: "bat_" + ev.ID, LineID: "lin_1", Items: []queue.Item{{Seq: 1, EventID: ev.ID, Payload: raw}}})
}

func (e *b24Portal) tokens() (string, string) {
	p := e.stored()
	return p.Adapter[bitrix24.SettingAccessToken], p.Adapter[bitrix24.SettingRefreshToken]
}

// set-kind on a bitrix24 portal whose access token expired: the live test
// renews it, and the renewed pair is what stays stored (the refresh token
// the renewal spent is never written back), so the next delivery goes
// through without a second renewal and without invalid_grant.
func TestSetKindBitrix24KeepsTheTokensItsTestRenewed(t *testing.T) {
	e := newB24Portal(t)
	settings := e.fake.Settings()
	settings["line.lin_1"] = "7"
	settings["domain"] = "example.bitrix24.com" // the endpoint says where to call
	if err := e.a.Store().Records.SetPortalKind(e.ctx, e.id, portal.KindBitrix24, settings); err != nil {
		t.Fatal(err)
	}
	if err := e.deliver(); err != nil {
		t.Fatalf("first delivery: %v", err)
	}
	e.fake.Expire() // an hour later

	code, out, errOut := e.run("set-kind", e.id, "--kind", "bitrix24", "--set", "connector_id=connector_gateway")
	if code != 0 || !strings.Contains(out, "live test passed") {
		t.Fatalf("set-kind after the token expired: exit %d\n%s%s", code, out, errOut)
	}
	if e.fake.Renewed() != 1 {
		t.Fatalf("the live test renewed the token %d times, want once", e.fake.Renewed())
	}
	if acc, ref := e.tokens(); acc != "access-2" || ref != "refresh-2" {
		t.Fatalf("stored tokens after set-kind: %s, %s; want the renewed access-2, refresh-2", acc, ref)
	}
	if got := e.stored().Adapter[bitrix24.SettingConnectorID]; got != "connector_gateway" {
		t.Fatalf("connector_id %q not saved", got)
	}
	if err := e.deliver(); err != nil {
		t.Fatalf("delivery after set-kind: %v", err)
	}
	if e.fake.Renewed() != 1 {
		t.Fatalf("the delivery renewed the token again (%d renewals)", e.fake.Renewed())
	}

	// The same once the expiry is known by the clock (expires in the
	// past): the test renews before its first call.
	code, out, errOut = e.run("set-kind", e.id, "--kind", "bitrix24", "--set", "expires=1000000000")
	if code != 0 || !strings.Contains(out, "live test passed") || e.fake.Renewed() != 2 {
		t.Fatalf("set-kind with an expiry in the past: exit %d, %d renewals\n%s%s", code, e.fake.Renewed(), out, errOut)
	}
	if acc, ref := e.tokens(); acc != "access-3" || ref != "refresh-3" || e.stored().Adapter[bitrix24.SettingExpires] != "1893456000" {
		t.Fatalf("stored after the second set-kind: %v", e.stored().Adapter)
	}
	if err := e.deliver(); err != nil || e.fake.Renewed() != 2 {
		t.Fatalf("delivery after the second set-kind: %v (%d renewals)", err, e.fake.Renewed())
	}
}

// A native portal switched to bitrix24 with every credential given in the
// same call, its access token already expired: the live test renews it
// with the refresh token given (not with the portal's stored settings,
// which have none), passes, and the renewed pair is stored.
func TestSetKindBitrix24FromNativeWithCredentialsInTheCall(t *testing.T) {
	e := newB24Portal(t)
	e.fake.Expire()
	args := []string{"set-kind", e.id, "--kind", "bitrix24", "--set", "line.lin_1=7", "--set", "domain=example.bitrix24.com"}
	for k, v := range e.fake.Settings() {
		args = append(args, "--set", k+"="+v)
	}
	code, out, errOut := e.run(args...)
	if code != 0 || !strings.Contains(out, "live test passed") {
		t.Fatalf("native → bitrix24 with an expired access token: exit %d\n%s%s", code, out, errOut)
	}
	if p := e.stored(); p.Kind != portal.KindBitrix24 || p.Adapter[bitrix24.SettingAccessToken] != "access-2" || p.Adapter[bitrix24.SettingRefreshToken] != "refresh-2" {
		t.Fatalf("stored kind %q, settings %v; want bitrix24 with the renewed tokens", p.Kind, p.Adapter)
	}
	if err := e.deliver(); err != nil || e.fake.Renewed() != 1 {
		t.Fatalf("delivery after the switch: %v (%d renewals)", err, e.fake.Renewed())
	}
}

// A live test that renewed the portal's stored tokens and then failed on a
// later check saves none of the settings given, but the renewed pair is
// stored (the old refresh token is spent): the next delivery works.
func TestSetKindBitrix24FailedTestKeepsTheStoredTokensItRenewed(t *testing.T) {
	e := newB24Portal(t)
	settings := e.fake.Settings()
	settings["line.lin_1"] = "7"
	settings["domain"] = "example.bitrix24.com"
	if err := e.a.Store().Records.SetPortalKind(e.ctx, e.id, portal.KindBitrix24, settings); err != nil {
		t.Fatal(err)
	}
	if err := e.deliver(); err != nil { // registers the connector, activates Open Line 7
		t.Fatalf("first delivery: %v", err)
	}
	e.fake.Expire()
	code, out, errOut := e.run("set-kind", e.id, "--kind", "bitrix24", "--set", "line.lin_2=8")
	if code == 0 || !strings.Contains(errOut, "nothing saved") || !strings.Contains(errOut, "not active on Open Line 8") ||
		!strings.Contains(errOut, "renewed the portal's stored access_token, expires, refresh_token") {
		t.Fatalf("a later check failing: exit %d\n%s%s", code, out, errOut)
	}
	if strings.Contains(errOut, "access-2") || strings.Contains(errOut, "refresh-2") {
		t.Errorf("set-kind printed tokens that are stored anyway:\n%s", errOut)
	}
	p := e.stored()
	if _, ok := p.Adapter["line.lin_2"]; ok {
		t.Fatalf("a failed test saved line.lin_2: %v", p.Adapter)
	}
	if acc, ref := e.tokens(); acc != "access-2" || ref != "refresh-2" {
		t.Fatalf("stored tokens after the failed test: %s, %s; want the renewed access-2, refresh-2", acc, ref)
	}
	if err := e.deliver(); err != nil || e.fake.Renewed() != 1 {
		t.Fatalf("delivery after the failed test: %v (%d renewals)", err, e.fake.Renewed())
	}
}

// A live test that renewed tokens given only in the call and then failed
// saves nothing; the renewed tokens, which exist nowhere else now, are
// printed for the next attempt, and that attempt passes with them.
func TestSetKindBitrix24FailedTestHandsBackTokensGivenInTheCall(t *testing.T) {
	e := newB24Portal(t)
	e.fake.Expire()
	e.fake.SetInstalled(false)
	args := []string{"set-kind", e.id, "--kind", "bitrix24", "--set", "line.lin_1=7", "--set", "domain=example.bitrix24.com"}
	for k, v := range e.fake.Settings() {
		args = append(args, "--set", k+"="+v)
	}
	code, out, errOut := e.run(args...)
	if code == 0 || !strings.Contains(errOut, "nothing saved") || !strings.Contains(errOut, "not fully installed") ||
		!strings.Contains(errOut, "--set access_token=access-2 --set expires=1893456000 --set refresh_token=refresh-2") {
		t.Fatalf("test failing after renewing the given tokens: exit %d\n%s%s", code, out, errOut)
	}
	if p := e.stored(); p.Kind != portal.KindNative || len(p.Adapter) != 0 {
		t.Fatalf("a failed test saved kind %q settings %v", p.Kind, p.Adapter)
	}
	e.fake.SetInstalled(true)
	args = append(args, "--set", "access_token=access-2", "--set", "refresh_token=refresh-2", "--set", "expires=1893456000")
	code, out, errOut = e.run(args...)
	if code != 0 || !strings.Contains(out, "live test passed") || e.fake.Renewed() != 1 {
		t.Fatalf("again with the renewed tokens: exit %d, %d renewals\n%s%s", code, e.fake.Renewed(), out, errOut)
	}
	if err := e.deliver(); err != nil {
		t.Fatalf("delivery: %v", err)
	}
}
