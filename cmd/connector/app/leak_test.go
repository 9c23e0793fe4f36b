package app_test

import (
	"net/http"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/connector-gateway/connector/connectors/slack/slacktest"
	"github.com/connector-gateway/connector/connectors/telegram/telegramtest"
	"github.com/connector-gateway/connector/portal/portaltest"
	"github.com/connector-gateway/connector/queue/queuetest"
	"github.com/connector-gateway/connector/queue/sqldb"
)

// A stopped gateway leaves nothing running: after a Telegram webhook and a
// Slack event from a member it has not seen have reached the portal, and
// while the background profile lookup that event started still waits for
// Slack, stopping serve ends every goroutine the gateway started.
func TestLeakNoGoroutineOutlivesServe(t *testing.T) {
	// Whatever runs before the test (the test runner, earlier tests'
	// leftovers) is not the gateway's.
	before := goleak.IgnoreCurrent()
	t.Run("work", func(t *testing.T) {
		b := queuetest.Backend{Driver: sqldb.DriverSQLite, DSN: queuetest.SQLiteDSN}
		tg := telegramtest.New(t, botToken)
		sl := slacktest.New(t, slackBotToken, slackAppToken)
		sl.SetUser(slacktest.Customer)
		p := portaltest.New(t)
		cfg := testConfig(b, b.DSN(t), tg.Endpoint())
		cfg.Slack.APIURL = sl.APIURL()
		g := startGateway(t, cfg)

		w := wire(t, g, tg, p, 1)
		if code := postUpdate(t, g, w.Hashes[0], w.Secrets[0], tg.Update(1, 555000111, "hello from Telegram")); code != http.StatusOK {
			t.Fatalf("telegram webhook answered %d", code)
		}
		// Before Slack's portal (on the same test portal server) takes
		// over its signing secret.
		if !p.WaitFor(15*time.Second, func() bool { return len(p.Events(w.Lines[0])) == 1 }) {
			t.Fatalf("portal got %d telegram events", len(p.Events(w.Lines[0])))
		}
		s := wireSlack(t, g, p)
		// Slack is slow to answer users.info: the lookup is in flight when
		// the gateway stops.
		release := sl.Hold("users.info")
		ev := slacktest.EventCallback("Ev0LEAK", slacktest.Message("D0DM00001", "im", slacktest.Customer.ID, "hello from Slack", "1700000000.000100"))
		if code, _ := postSlack(t, g, s.Hash, slackSecret, time.Now(), 0, ev); code != http.StatusOK {
			t.Fatalf("slack event answered %d", code)
		}
		if !p.WaitFor(15*time.Second, func() bool { return len(p.Events(s.Line)) == 1 }) {
			t.Fatalf("portal got %d slack events", len(p.Events(s.Line)))
		}
		if !waitCalls(sl, "users.info", 10*time.Second) {
			t.Fatal("no profile lookup started")
		}
		// Stop while Slack still holds the lookup and before the fakes
		// close, as an operator stops the gateway while messengers stay up.
		g.stop()
		// The lookup must have given up now, not when Slack answers or its
		// 15 s timeout passes. Ignored only here, because they end when the
		// fakes close (checked below without them): the fakes' HTTP
		// servers and their connections, and idle keep-alive client
		// connections to them.
		goleak.VerifyNone(t, before,
			goleak.IgnoreAnyFunction("net/http/httptest.(*Server).goServe.func1"),
			goleak.IgnoreAnyFunction("net/http.(*conn).serve"),
			goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
			goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"))
		release()
	})
	// The test's own client keeps idle connections to the gateway.
	http.DefaultClient.CloseIdleConnections()
	goleak.VerifyNone(t, before)
}

// waitCalls waits until the fake Slack got a call of method.
func waitCalls(s *slacktest.Server, method string, d time.Duration) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if len(s.Calls(method)) > 0 {
			return true
		}
	}
	return false
}
