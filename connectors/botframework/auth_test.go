package botframework_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/botframework"
	"github.com/connector-gateway/connector/connectors/botframework/bftest"
)

// Every way a request can fail Bot Framework's authentication rules is a
// refusal wrapping ErrUnauthorized, and Parse then hands the gateway no
// events (it answers 401, nothing is enqueued).
func TestParseRefusesBadTokens(t *testing.T) {
	f := newFixture(t)
	f.world.AddUnpublishedKey("k-unknown", "msteams")
	svc := f.svc.URL()
	act := bftest.TeamsMessage(svc, appID, "a:1conv", "1700000000001", "hello")
	now := f.clock.Now()
	with := func(edit func(bftest.Claims)) string {
		c := bftest.ChannelClaims(appID, svc, now)
		edit(c)
		return "Bearer " + f.world.Sign("k1", c)
	}
	cases := []struct {
		name, auth string
		act        bftest.Activity
	}{
		{"missing header", "", act},
		{"not Bearer", "Basic " + f.world.Sign("k1", bftest.ChannelClaims(appID, svc, now)), act},
		{"empty Bearer", "Bearer ", act},
		{"garbage", "Bearer not.a.jwt", act},
		{"wrong issuer", with(func(c bftest.Claims) { c["iss"] = "https://sts.windows.net/d6d49420-f39b-4df7-a1dc-d59a935871db/" }), act},
		{"wrong audience", with(func(c bftest.Claims) { c["aud"] = "00000000-0000-0000-0000-000000000001" }), act},
		{"expired beyond skew", with(func(c bftest.Claims) { c["exp"] = now.Add(-6 * time.Minute).Unix() }), act},
		{"no expiry", with(func(c bftest.Claims) { delete(c, "exp") }), act},
		{"nbf beyond skew", with(func(c bftest.Claims) { c["nbf"] = now.Add(6 * time.Minute).Unix() }), act},
		{"serviceurl claim differs", with(func(c bftest.Claims) { c["serviceurl"] = "https://smba.trafficmanager.net/emea/" }), act},
		{"no serviceurl claim", with(func(c bftest.Claims) { delete(c, "serviceurl") }), act},
		{"channel not endorsed", f.bearer("k1", svc), func() bftest.Activity {
			a := bftest.TeamsMessage(svc, appID, "a:1conv", "1700000000001", "hello")
			a["channelId"] = "skype"
			return a
		}()},
		{"unknown kid after refresh", "Bearer " + f.world.Sign("k-unknown", bftest.ChannelClaims(appID, svc, now)), act},
		{"HS256", "Bearer " + f.world.SignHS256("k1", []byte(appSecret), bftest.ChannelClaims(appID, svc, now)), act},
		{"alg none", "Bearer " + f.world.SignNone("k1", bftest.ChannelClaims(appID, svc, now)), act},
		{"signature of another key", "Bearer " + func() string {
			good := f.world.Sign("k-unknown", bftest.ChannelClaims(appID, svc, now))
			// k1's header and claims, k-unknown's signature.
			head := f.world.Sign("k1", bftest.ChannelClaims(appID, svc, now))
			return head[:lastDot(head)] + good[lastDot(good):]
		}(), act},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in, err := f.cn.Parse(context.Background(), f.conn, request(tc.auth, tc.act))
			t.Log(err)
			if !errors.Is(err, connectors.ErrUnauthorized) {
				t.Fatalf("Parse = %v, want ErrUnauthorized", err)
			}
			if len(in.Events) != 0 {
				t.Fatalf("refused request gave %d events", len(in.Events))
			}
		})
	}
}

func lastDot(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '.' {
			return i
		}
	}
	return 0
}

// Five minutes of clock skew are allowed either way.
func TestParseAllowsClockSkew(t *testing.T) {
	f := newFixture(t)
	svc := f.svc.URL()
	now := f.clock.Now()
	for name, edit := range map[string]func(bftest.Claims){
		"expired 4 minutes ago": func(c bftest.Claims) { c["exp"] = now.Add(-4 * time.Minute).Unix() },
		"valid in 4 minutes":    func(c bftest.Claims) { c["nbf"] = now.Add(4 * time.Minute).Unix() },
	} {
		c := bftest.ChannelClaims(appID, svc, now)
		edit(c)
		in, err := f.cn.Parse(context.Background(), f.conn, request("Bearer "+f.world.Sign("k1", c), bftest.TeamsMessage(svc, appID, "a:1conv", "1700000000001", "hi")))
		if err != nil || len(in.Events) != 1 {
			t.Errorf("%s: %d events, %v", name, len(in.Events), err)
		}
	}
}

// A token signed by a key Bot Framework rotated to is accepted after one
// refresh of the keys; unknown kids refresh at most once a minute, and the
// keys are fetched again a day later even when every kid is known.
func TestKeyRotationAndRefreshLimits(t *testing.T) {
	f := newFixture(t)
	f.world.AddUnpublishedKey("k2", "msteams")
	f.world.AddUnpublishedKey("k3", "msteams")
	svc := f.svc.URL()
	ctx := context.Background()
	parse := func(kid string) error {
		act := bftest.TeamsMessage(svc, appID, "a:1conv", "1700000000001", "hi")
		_, err := f.cn.Parse(ctx, f.conn, request(f.bearer(kid, svc), act))
		return err
	}
	if err := parse("k1"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		if err := parse("k1"); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.world.MetadataFetches(); n != 1 {
		t.Fatalf("21 requests with a known key fetched the metadata %d times, want 1", n)
	}

	// Bot Framework rotates to k2.
	f.world.Publish("k1", "k2")
	f.clock.Add(2 * time.Minute)
	if err := parse("k2"); err != nil {
		t.Fatalf("token of the new key: %v", err)
	}
	if n := f.world.MetadataFetches(); n != 2 {
		t.Fatalf("after the rotation: %d metadata fetches, want 2", n)
	}

	// A flood of unknown kids within the minute fetches nothing more.
	for i := 0; i < 50; i++ {
		if err := parse("k3"); !errors.Is(err, connectors.ErrUnauthorized) {
			t.Fatalf("unknown kid: %v", err)
		}
	}
	if n := f.world.MetadataFetches(); n != 2 {
		t.Fatalf("unknown kids within a minute of a refresh fetched: %d metadata fetches, want 2", n)
	}
	f.clock.Add(61 * time.Second)
	for i := 0; i < 50; i++ {
		if err := parse("k3"); !errors.Is(err, connectors.ErrUnauthorized) {
			t.Fatalf("unknown kid: %v", err)
		}
	}
	if n := f.world.MetadataFetches(); n != 3 {
		t.Fatalf("a minute later: %d metadata fetches, want 3 (one refresh)", n)
	}

	// The daily refresh.
	f.clock.Add(24 * time.Hour)
	if err := parse("k1"); err != nil {
		t.Fatal(err)
	}
	if n := f.world.MetadataFetches(); n != 4 {
		t.Fatalf("a day later: %d metadata fetches, want 4", n)
	}
}

// Emulator tokens are refused unless the connection accepts them.
func TestEmulatorTokensOffByDefault(t *testing.T) {
	f := newFixture(t)
	svc := f.svc.URL()
	c := bftest.ChannelClaims(appID, svc, f.clock.Now())
	c["iss"] = "https://sts.windows.net/d6d49420-f39b-4df7-a1dc-d59a935871db/"
	c["appid"] = appID
	c["ver"] = "1.0"
	act := bftest.TeamsMessage(svc, appID, "a:1conv", "1700000000001", "hi")
	act["channelId"] = "emulator"
	if _, err := f.cn.Parse(context.Background(), f.conn, request("Bearer "+f.world.Sign("k1", c), act)); !errors.Is(err, connectors.ErrUnauthorized) {
		t.Fatalf("emulator token on a connection that does not accept them: %v", err)
	}
}

// A connection that accepts the Emulator takes its Azure AD tokens (keys
// from the Emulator metadata, issuer one of the Emulator's, appid = the
// bot's App ID), without serviceurl or endorsements; others still refuse.
func TestEmulatorTokensWhenAccepted(t *testing.T) {
	w := bftest.New(t)
	w.AddKey("aad-1") // Azure AD keys carry no endorsements
	cn, err := botframework.New(botframework.Options{OpenIDURL: w.OpenIDURL(), EmulatorOpenIDURL: w.OpenIDURL(), ServiceURLs: []string{"http://localhost:3978"}})
	if err != nil {
		t.Fatal(err)
	}
	s, err := cn.ValidateSettings(connectors.Settings{"app_id": appID, "app_password": appSecret, "accept_emulator": "true"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	emu := func(edit func(bftest.Claims)) string {
		c := bftest.Claims{"iss": "https://sts.windows.net/d6d49420-f39b-4df7-a1dc-d59a935871db/", "aud": appID, "appid": appID, "ver": "1.0",
			"nbf": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Hour).Unix()}
		if edit != nil {
			edit(c)
		}
		return "Bearer " + w.Sign("aad-1", c)
	}
	ctx := context.Background()
	if err := cn.Authenticate(ctx, s, emu(nil), "http://localhost:3978/", "emulator"); err != nil {
		t.Fatalf("emulator token: %v", err)
	}
	v2 := emu(func(c bftest.Claims) {
		c["iss"], c["ver"], c["azp"] = "https://login.microsoftonline.com/f8cdef31-a31e-4b4a-93e4-5f571e91255a/v2.0", "2.0", appID
		delete(c, "appid")
	})
	if err := cn.Authenticate(ctx, s, v2, "http://localhost:3978/", "emulator"); err != nil {
		t.Fatalf("emulator v2 token: %v", err)
	}
	for name, tok := range map[string]string{
		"other app":      emu(func(c bftest.Claims) { c["appid"] = "00000000-0000-0000-0000-000000000002" }),
		"unknown issuer": emu(func(c bftest.Claims) { c["iss"] = "https://sts.windows.net/00000000-0000-0000-0000-000000000003/" }),
		"expired":        emu(func(c bftest.Claims) { c["exp"] = now.Add(-time.Hour).Unix() }),
	} {
		if err := cn.Authenticate(ctx, s, tok, "http://localhost:3978/", "emulator"); !errors.Is(err, connectors.ErrUnauthorized) {
			t.Errorf("%s: %v", name, err)
		}
	}
	s["accept_emulator"] = "false"
	if err := cn.Authenticate(ctx, s, emu(nil), "http://localhost:3978/", "emulator"); !errors.Is(err, connectors.ErrUnauthorized) {
		t.Errorf("emulator token with accept_emulator off: %v", err)
	}
}

// Requests arriving together at a cold cache share one fetch of the keys.
func TestColdKeyCacheFetchesOnce(t *testing.T) {
	f := newFixture(t)
	svc := f.svc.URL()
	req := request(f.bearer("k1", svc), bftest.TeamsMessage(svc, appID, "a:1conv", "1700000000001", "hi"))
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.cn.Parse(context.Background(), f.conn, req)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := f.world.MetadataFetches(); n != 1 {
		t.Fatalf("20 concurrent requests fetched the metadata %d times, want 1", n)
	}
}
