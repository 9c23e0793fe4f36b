package app_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/telegram/telegramtest"
	"github.com/connector-gateway/connector/portal"
	"github.com/connector-gateway/connector/portal/portaltest"
	"github.com/connector-gateway/connector/queue/queuetest"
)

// Binding a bot that serves one line to a second line: the new binding
// wins; the first line's connection loses its settings and goes into
// emergency, the line is marked emergency naming the line that took the
// bot, and its portal gets a connection.emergency event. Messages then flow
// to the new line only. Works the same when the old connection polled.
func TestTelegramSameBotOnSecondLineEmergency(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b queuetest.Backend) {
		for _, oldMode := range []string{"webhook", "polling"} {
			t.Run("old "+oldMode, func(t *testing.T) {
				tg := telegramtest.New(t, botToken)
				first, second := portaltest.New(t), portaltest.New(t)
				g := startGateway(t, reachableConfig(t, b, tg.Endpoint()))
				a := connectTelegram(t, g, tg, first, oldMode)
				oldConn, oldLine, tok := a.Conns[0], a.Lines[0], a.Tokens[0]
				if oldMode == "polling" && !first.WaitFor(10*time.Second, func() bool { return slices.Contains(g.app.Receivers().Polling(), oldConn) }) {
					t.Fatal("old connection does not poll")
				}

				// Another portal connects the very same bot to its line.
				bw := connectTelegram(t, g, tg, second, "webhook")
				ctx := context.Background()
				var newLine portal.Line
				if err := bw.Client.Do(ctx, "POST", "/v1/lines", map[string]string{"name": "Sales"}, &newLine, nil); err != nil {
					t.Fatal(err)
				}
				nc := addConnection(t, bw.Client, newLine.ID, connectors.Settings{"bot_token": tok, "mode": "webhook", "webhook_secret": "new-secret"})
				if err := bw.Client.Do(ctx, "POST", "/v1/connections/"+nc.ID+"/activate", nil, nil, nil); err != nil {
					t.Fatalf("activate on the second line: %v", err)
				}

				if !first.WaitFor(10*time.Second, func() bool { return len(first.Events(oldLine)) == 1 }) {
					t.Fatalf("first portal got %d events, want the emergency", len(first.Events(oldLine)))
				}
				ev := first.Events(oldLine)[0]
				if ev.Type != connectors.TypeConnectionEmergency || ev.Connection != oldConn || ev.Line != oldLine || ev.Error == nil ||
					ev.Error.Code != portal.CodeBoundElsewhere || !strings.Contains(ev.Error.Message, newLine.ID) || !strings.Contains(ev.Error.Message, "Sales") {
					t.Fatalf("event = %+v %+v", ev, ev.Error)
				}
				var line portal.Line
				if err := a.Client.Do(ctx, "GET", "/v1/lines/"+oldLine, nil, &line, nil); err != nil {
					t.Fatal(err)
				}
				if line.Status != portal.LineEmergency || !strings.Contains(line.StatusDetail, newLine.ID) {
					t.Errorf("old line = %+v, want emergency naming %s", line, newLine.ID)
				}
				var old connView
				if err := a.Client.Do(ctx, "GET", "/v1/connections/"+oldConn, nil, &old, nil); err != nil {
					t.Fatal(err)
				}
				if old.Active || old.Status != portal.ConnEmergency || len(old.SecretsSet) != 0 || old.LastError == "" {
					t.Errorf("old connection = %+v, want inactive, emergency, settings removed", old)
				}
				if got := g.app.Receivers().Polling(); slices.Contains(got, oldConn) {
					t.Error("the old connection still polls the bot it lost")
				}
				hooks := tg.Requests("setWebhook")
				if last := hooks[len(hooks)-1]; last.Token != tok || !strings.HasSuffix(last.Form.Get("url"), strings.TrimPrefix(nc.EntryURL, g.URL)) {
					t.Errorf("Telegram delivers to %q, want the new connection's %s", last.Form.Get("url"), nc.EntryURL)
				}
				// The new line receives; the old entry URL does not.
				if oldMode == "webhook" {
					if code := postUpdate(t, g, a.Hashes[0], a.Secrets[0], tg.Update(50, 42, "to old")); code != http.StatusNotFound {
						t.Errorf("old entry URL answered %d, want 404", code)
					}
					// Deactivating the old connection must not remove the
					// webhook that now belongs to the new one.
					before := len(tg.Calls("deleteWebhook"))
					if err := a.Client.Do(ctx, "POST", "/v1/connections/"+oldConn+"/deactivate", nil, nil, nil); err != nil {
						t.Fatal(err)
					}
					if len(tg.Calls("deleteWebhook")) != before {
						t.Error("deactivating the evicted connection removed the new connection's webhook")
					}
				}
				hash := strings.TrimPrefix(nc.EntryURL, g.URL+"/hook/")
				if code := postUpdate(t, g, hash, "new-secret", tg.Update(51, 42, "to new")); code != http.StatusOK {
					t.Fatalf("new entry URL answered %d", code)
				}
				if !second.WaitFor(10*time.Second, func() bool { return len(second.Events(newLine.ID)) == 1 }) {
					t.Fatal("the new line did not receive")
				}
				if n := len(first.Events(oldLine)); n != 1 {
					t.Errorf("the old line got %d events, want only the emergency", n)
				}
				// Activating the old connection again fails clearly: its token is gone.
				err := a.Client.Do(ctx, "POST", "/v1/connections/"+oldConn+"/activate", nil, nil, nil)
				if !isStatus(err, http.StatusBadGateway) || !strings.Contains(err.Error(), "token") {
					t.Errorf("reactivating the evicted connection: %v", err)
				}
			})
		}
	})
}

// Test connection over the API: a bot whose webhook another system owns is
// reported in plain words, as is a token Telegram does not know.
func TestTelegramTestConnection(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b queuetest.Backend) {
		tg := telegramtest.New(t, botToken)
		p := portaltest.New(t)
		g := startGateway(t, reachableConfig(t, b, tg.Endpoint()))
		w := connectTelegram(t, g, tg, p, "polling")
		ctx := context.Background()
		tg.SetWebhookOf(w.Tokens[0], "https://crm.other.example/telegram")
		var rep connectors.TestReport
		if err := w.Client.Do(ctx, "POST", "/v1/connections/"+w.Conns[0]+"/test", nil, &rep, nil); err != nil {
			t.Fatal(err)
		}
		if rep.OK || len(rep.Checks) != 3 || rep.Checks[1].OK || !strings.Contains(rep.Checks[1].Detail, "crm.other.example") || rep.Checks[1].Fix == "" {
			t.Errorf("report = %+v", rep)
		}

		c := addConnection(t, w.Client, w.Lines[0], connectors.Settings{"bot_token": "555:AAWrongTokenForTests_abcdefghijklmn", "mode": "polling"})
		if err := w.Client.Do(ctx, "POST", "/v1/connections/"+c.ID+"/test", nil, &rep, nil); err != nil {
			t.Fatal(err)
		}
		if rep.OK || rep.Checks[0].OK || !strings.Contains(rep.Checks[0].Fix, "@BotFather") {
			t.Errorf("report = %+v", rep)
		}
		err := w.Client.Do(ctx, "POST", "/v1/connections/"+c.ID+"/activate", nil, nil, nil)
		if !isStatus(err, http.StatusBadGateway) {
			t.Errorf("activating with a wrong token: %v, want 502", err)
		}
	})
}
