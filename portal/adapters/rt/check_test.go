package rt_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/connector-gateway/connector/portal"
	"github.com/connector-gateway/connector/portal/adapters/rt"
	"github.com/connector-gateway/connector/portal/adapters/rt/rttest"
)

// The live test against a real RT: what it says for good settings, for
// each kind of mistake an admin makes, and with a token made the way RT's
// own Auth Tokens page makes one.
func TestRealRTLiveTest(t *testing.T) {
	r := rttest.Start(t)
	ctx := context.Background()
	a := &rt.Adapter{}
	with := func(kv ...string) portal.Portal {
		p := portal.Portal{ID: "por_1", Kind: portal.KindRT, Adapter: map[string]string{}}
		for i := 0; i < len(kv); i += 2 {
			p.Adapter[kv[i]] = kv[i+1]
		}
		return p
	}
	good := []string{rt.SettingURL, r.URL, rt.SettingQueue, rttest.Queue, rt.SettingUser, rttest.RootUser, rt.SettingPassword, rttest.RootPassword}
	if err := a.Test(ctx, with(good...)); err != nil {
		t.Fatalf("good settings: %v", err)
	}
	for _, c := range []struct {
		name string
		p    portal.Portal
		want string
	}{
		{"no url", with(rt.SettingQueue, "Support", rt.SettingUser, "root", rt.SettingPassword, "x"), "no RT URL"},
		{"no credentials", with(rt.SettingURL, r.URL, rt.SettingQueue, "Support"), "no credentials"},
		{"wrong password", with(append(good[:6:6], rt.SettingPassword, "wrong")...), "RT refused the credentials"},
		{"wrong token", with(rt.SettingURL, r.URL, rt.SettingQueue, "Support", rt.SettingToken, "1-1-0123456789abcdef0123456789abcdef"), "RT refused the credentials"},
		{"missing queue", with(append(good, rt.SettingQueuePrefix+"lin_2", "Sales")...), `RT has no queue "Sales"`},
		{"not RT", with(rt.SettingURL, r.URL+"/NoSuchPath", rt.SettingQueue, "Support", rt.SettingUser, "root", rt.SettingPassword, "password"), "not with REST2's JSON"},
		{"unreachable", with(rt.SettingURL, "http://127.0.0.1:1", rt.SettingQueue, "Support", rt.SettingUser, "root", rt.SettingPassword, "password"), "cannot reach RT"},
	} {
		err := a.Test(ctx, c.p)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.name, err, c.want)
		}
	}

	// Token auth: a token of a gateway user, made by RT::AuthToken->Create.
	r.CreateUser("gateway", "gatewaypass1")
	tok := r.Token("gateway")
	req, _ := http.NewRequest("GET", r.URL+"/REST/2.0/rt", nil)
	req.Header.Set("Authorization", "token "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	t.Logf("token %s…: GET /REST/2.0/rt answered %d", tok[:6], resp.StatusCode)
	if err := a.Test(ctx, with(rt.SettingURL, r.URL, rt.SettingQueue, rttest.Queue, rt.SettingToken, tok)); err != nil {
		t.Fatalf("token auth: %v", err)
	}
}
