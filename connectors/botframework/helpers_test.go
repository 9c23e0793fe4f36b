package botframework_test

import (
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/botframework"
	"github.com/connector-gateway/connector/connectors/botframework/bftest"
)

const (
	appID     = "8f1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b"
	appSecret = "s3cr3t~Value.From-Azure_Portal"
)

// clock is a settable clock shared by the connector and the test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fixture is a fake Bot Framework world with key k1 (endorsed for msteams
// and webchat), one Connector service, and a connector pointed at both.
type fixture struct {
	world *bftest.World
	svc   *bftest.Service
	cn    *botframework.Connector
	clock *clock
	conn  connectors.Conn
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	w := bftest.New(t)
	w.AddKey("k1", "msteams", "webchat")
	w.AddApp(appID, appSecret, "botframework.com")
	svc := w.NewService()
	clk := &clock{t: time.Now()}
	cn, err := botframework.New(botframework.Options{
		OpenIDURL:   w.OpenIDURL(),
		TokenURL:    w.TokenURL(),
		ServiceURLs: []string{svc.Base()},
		Now:         clk.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	settings, err := cn.ValidateSettings(connectors.Settings{"app_id": appID, "app_password": appSecret})
	if err != nil {
		t.Fatal(err)
	}
	conn := connectors.Conn{ID: "conn-1", PortalID: "p-1", LineID: "line-1", Hash: "h1", EntryURL: "https://gateway.example/hook/h1", Settings: settings, Files: linker{}}
	return &fixture{world: w, svc: svc, cn: cn, clock: clk, conn: conn}
}

// bearer is a valid channel token for serviceURL, signed by kid.
func (f *fixture) bearer(kid, serviceURL string) string {
	return "Bearer " + f.world.Sign(kid, bftest.ChannelClaims(appID, serviceURL, f.clock.Now()))
}

// request is a webhook request carrying activity a and header auth.
func request(auth string, a bftest.Activity) connectors.Request {
	h := http.Header{"Content-Type": {"application/json"}}
	if auth != "" {
		h.Set("Authorization", auth)
	}
	return connectors.Request{Method: "POST", URL: "/hook/h1", Query: url.Values{}, Header: h, Body: a.JSON()}
}

// linker makes recognizable gateway links.
type linker struct{}

func (linker) FileURL(ref, name, mime string) string {
	return "https://gateway.example/files/" + url.PathEscape(ref) + "?name=" + url.QueryEscape(name)
}
