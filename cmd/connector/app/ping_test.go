package app_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/telegram/telegramtest"
	"github.com/connector-gateway/connector/portal/portaltest"
	"github.com/connector-gateway/connector/queue/queuetest"
)

// The connection test also posts a signed ping to the portal and reports
// its answer as the last check: green when the portal acknowledges it (it
// verified the signature with the reference library), red with a fix when
// the portal refuses the signature or cannot be reached. The ping never
// enters the line's queue.
func TestConnectionTestPingsThePortal(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b queuetest.Backend) {
		ctx := context.Background()
		tg := telegramtest.New(t, botToken)
		pt := portaltest.New(t)
		g := startGateway(t, reachableConfig(t, b, tg.Endpoint()))
		w := connectTelegram(t, g, tg, pt, "polling")
		test := func() connectors.Check {
			t.Helper()
			var rep connectors.TestReport
			if err := w.Client.Do(ctx, "POST", "/v1/connections/"+w.Conns[0]+"/test", nil, &rep, nil); err != nil {
				t.Fatal(err)
			}
			last := rep.Checks[len(rep.Checks)-1]
			if rep.OK != last.OK {
				// The messenger side is healthy here, so the portal decides.
				t.Fatalf("report ok=%v but the portal check ok=%v: %+v", rep.OK, last.OK, rep)
			}
			return last
		}

		ok := test()
		if !ok.OK || !strings.Contains(ok.Detail, "acknowledged") {
			t.Fatalf("portal check against a healthy portal: %+v", ok)
		}
		if n := pt.Pings(w.Lines[0]); n != 1 || len(pt.Events(w.Lines[0])) != 0 {
			t.Fatalf("portal acknowledged %d pings and events %+v, want one ping", n, pt.Events(w.Lines[0]))
		}
		if pt.BadSignatures() != 0 {
			t.Fatal("the ping's signature did not verify")
		}

		pt.SetSecrets("whsec_" + strings.Repeat("A", 43) + "=") // the portal lost its secret
		bad := test()
		if bad.OK || !strings.Contains(bad.Detail, "401") || !strings.Contains(bad.Fix, "signing secret") {
			t.Fatalf("portal check against a portal that refuses the signature: %+v", bad)
		}
		pt.SetSecrets(w.Secret)

		pt.FailLine(w.Lines[0], http.StatusInternalServerError)
		failing := test()
		if failing.OK || !strings.Contains(failing.Detail, "500") || failing.Fix == "" {
			t.Fatalf("portal check against a failing portal: %+v", failing)
		}
		pt.FailLine(w.Lines[0], 0)

		down := "http://" + freeAddr(t) + "/gateway/batches" // nothing listens there
		if _, err := g.app.Store().DB.SQL.ExecContext(ctx, "UPDATE portals SET webhook_url = ?, version = version + 1 WHERE id = ?", down, w.PortalID); err != nil {
			t.Fatal(err)
		}
		off := test()
		if off.OK || !strings.Contains(off.Detail, "could not reach") || !strings.Contains(off.Fix, "running") {
			t.Fatalf("portal check against a portal that is down: %+v", off)
		}

		st := w.lineState(t, w.Lines[0])
		if st.Queue.Pending != 0 || st.Queue.Failures != 0 {
			t.Fatalf("pings touched the line's queue: %+v", st)
		}
	})
}
