package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/connector-gateway/connector/cmd/connector/app"
	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/botframework/bftest"
	"github.com/connector-gateway/connector/portal"
	"github.com/connector-gateway/connector/portal/portaltest"
	"github.com/connector-gateway/connector/portal/sdk"
	"github.com/connector-gateway/connector/queue/queuetest"
)

const (
	bfAppID  = "3c5d7e9f-1a2b-4c3d-8e4f-5a6b7c8d9e0f"
	bfSecret = "e2e~Client.Secret-For_The-Gateway"
)

// bfWorld is a fake Bot Framework with two Connector services in two
// "regions" (service URLs).
type bfWorld struct {
	*bftest.World
	amer, emea *bftest.Service
}

func newBFWorld(t *testing.T) bfWorld {
	w := bftest.New(t)
	w.AddKey("bf-key-1", "msteams", "webchat", "directline")
	w.AddApp(bfAppID, bfSecret, "botframework.com")
	return bfWorld{World: w, amer: w.NewService(), emea: w.NewService()}
}

// bfConfig points a gateway's Bot Framework endpoints at the fake.
func bfConfig(b queuetest.Backend, dsn string, w bfWorld) app.Config {
	cfg := testConfig(b, dsn, "http://127.0.0.1:1/bot%s/%s")
	cfg.PublicURL = "https://gateway.test" // Azure takes only HTTPS messaging endpoints
	cfg.BotFramework.OpenIDURL = w.OpenIDURL()
	cfg.BotFramework.TokenURL = w.TokenURL()
	cfg.BotFramework.ServiceURLs = []string{w.amer.Base(), w.emea.Base()}
	return cfg
}

// wireBotFramework creates, through the signed portal API, a line with an
// active Bot Framework connection, tested live against the fake.
func wireBotFramework(t *testing.T, g *gateway, p *portaltest.Server) slackLine {
	t.Helper()
	return wireBotFrameworkWith(t, g, p, map[string]string{"app_id": bfAppID, "app_password": bfSecret})
}

// wireBotFrameworkWith is wireBotFramework with the given settings.
func wireBotFrameworkWith(t *testing.T, g *gateway, p *portaltest.Server, settings map[string]string) slackLine {
	t.Helper()
	ctx := context.Background()
	pw := newPortal(t, g, p)
	w := slackLine{Client: pw.Client}
	var line portal.Line
	if err := w.Client.Do(ctx, "POST", "/v1/lines", map[string]string{"name": "Teams support"}, &line, nil); err != nil {
		t.Fatalf("create line: %v", err)
	}
	var conn struct {
		ID       string `json:"id"`
		EntryURL string `json:"entry_url"`
	}
	err := w.Client.Do(ctx, "POST", "/v1/lines/"+line.ID+"/connections", map[string]any{
		"connector": "botframework",
		"settings":  settings,
	}, &conn, nil)
	if err != nil {
		t.Fatalf("create connection: %v", err)
	}
	var rep connectors.TestReport
	if err := w.Client.Do(ctx, "POST", "/v1/connections/"+conn.ID+"/test", nil, &rep, nil); err != nil || !rep.OK {
		t.Fatalf("test connection: %+v, %v", rep, err)
	}
	if !strings.Contains(rep.Checks[1].Detail, conn.EntryURL) {
		t.Fatalf("the test does not show the messaging endpoint %s: %+v", conn.EntryURL, rep.Checks)
	}
	if err := w.Client.Do(ctx, "POST", "/v1/connections/"+conn.ID+"/activate", nil, nil, nil); err != nil {
		t.Fatalf("activate: %v", err)
	}
	u, err := url.Parse(conn.EntryURL)
	if err != nil || !strings.HasPrefix(u.Path, "/hook/") {
		t.Fatalf("entry url %q", conn.EntryURL)
	}
	w.Line, w.Conn, w.Hash = line.ID, conn.ID, strings.TrimPrefix(u.Path, "/hook/")
	return w
}

// postActivity posts an activity to the entry URL as Bot Framework does,
// with a token signed for its serviceUrl (or the given Authorization).
func postActivity(t *testing.T, g *gateway, w bfWorld, hash string, a bftest.Activity, auth string) int {
	t.Helper()
	if auth == "" {
		auth = "Bearer " + w.Sign("bf-key-1", bftest.ChannelClaims(bfAppID, a["serviceUrl"].(string), time.Now()))
	}
	req, err := http.NewRequest("POST", g.URL+"/hook/"+hash, bytes.NewReader(a.JSON()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", auth)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("post activity: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// bfMessages are the portal's message.created events of a line.
func bfMessages(p *portaltest.Server, line string) []connectors.Event {
	var out []connectors.Event
	for _, e := range p.Events(line) {
		if e.Type == connectors.TypeMessageCreated {
			out = append(out, e)
		}
	}
	return out
}

// Bot Framework end to end on the real gateway: forged tokens are refused
// and store nothing; a Teams message reaches the portal once however often
// Teams re-sends it; replies go to the service URL each conversation came
// from, with the fake token endpoint's bearer token; and a proactive
// message to a conversation the portal kept works after a restart.
func TestBotFrameworkTeamsEndToEnd(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b queuetest.Backend) {
		bf := newBFWorld(t)
		p := portaltest.New(t)
		cfg := bfConfig(b, b.DSN(t), bf)
		g := startGateway(t, cfg)
		w := wireBotFramework(t, g, p)
		ctx := context.Background()

		teams := bftest.TeamsMessage(bf.amer.URL(), bfAppID, "a:1TeamsPersonalChat", "1700000000001", "Hi, my invoice is wrong")

		// Refused: 401 and nothing stored.
		other := bftest.ChannelClaims("00000000-0000-0000-0000-000000000009", bf.amer.URL(), time.Now())
		for name, auth := range map[string]string{
			"wrong audience": "Bearer " + bf.Sign("bf-key-1", other),
			"wrong service":  "Bearer " + bf.Sign("bf-key-1", bftest.ChannelClaims(bfAppID, bf.emea.URL(), time.Now())),
			"no token":       "Basic x",
		} {
			if code := postActivity(t, g, bf, w.Hash, teams, auth); code != http.StatusUnauthorized {
				t.Fatalf("%s answered %d", name, code)
			}
		}
		var st lineState
		if err := w.Client.Do(ctx, "GET", "/v1/lines/"+w.Line, nil, &st, nil); err != nil || st.Queue.Pending != 0 {
			t.Fatalf("after refused requests: pending %d, %v", st.Queue.Pending, err)
		}

		// Teams sends the message, then re-sends it after 15 s unanswered.
		for i := 0; i < 2; i++ {
			if code := postActivity(t, g, bf, w.Hash, teams, ""); code != http.StatusOK {
				t.Fatalf("delivery %d answered %d", i, code)
			}
		}
		emea := bftest.TeamsMessage(bf.emea.URL(), bfAppID, "a:1OtherRegionChat", "1700000000002", "Hallo aus Europa")
		if code := postActivity(t, g, bf, w.Hash, emea, ""); code != http.StatusOK {
			t.Fatalf("second conversation answered %d", code)
		}
		if !p.WaitFor(15*time.Second, func() bool { return len(bfMessages(p, w.Line)) >= 2 }) {
			t.Fatalf("portal got %d messages", len(bfMessages(p, w.Line)))
		}
		evs := bfMessages(p, w.Line)
		if len(evs) != 2 || evs[1].Message.Text != "Hallo aus Europa" {
			t.Fatalf("portal got %d messages: %+v", len(evs), evs)
		}
		first := evs[0]
		if first.Channel != "botframework.msteams" || first.Connector != "botframework" || first.Connection != w.Conn ||
			first.Message.Text != "Hi, my invoice is wrong" || first.User.Name != "Megan Bowen" || first.Chat.Type != "private" {
			t.Fatalf("event %+v chat %+v message %+v", first, first.Chat, first.Message)
		}

		// Replies go where each conversation came from.
		if _, err := w.Client.Send(ctx, w.Conn, connectors.Outbound{ChatID: first.Chat.ID, Text: "Sorry! A corrected invoice is on its way.", ReplyTo: first.Message.ID}); err != nil {
			t.Fatalf("send: %v", err)
		}
		if _, err := w.Client.Send(ctx, w.Conn, connectors.Outbound{ChatID: evs[1].Chat.ID, Text: "Guten Tag!"}); err != nil {
			t.Fatalf("send: %v", err)
		}
		amer, em := bf.amer.WaitCalls(15*time.Second, 1), bf.emea.WaitCalls(15*time.Second, 1)
		if len(amer) != 1 || len(em) != 1 {
			t.Fatalf("service calls: amer %+v emea %+v", amer, em)
		}
		c := amer[0]
		if c.Method != "POST" || c.Conversation != "a:1TeamsPersonalChat" || c.ActivityID != first.Message.ID ||
			c.Activity.Text() != "Sorry! A corrected invoice is on its way." || !bf.ValidAccessToken(strings.TrimPrefix(c.Auth, "Bearer ")) {
			t.Fatalf("amer call %+v", c)
		}
		if em[0].Conversation != "a:1OtherRegionChat" || em[0].Activity.Text() != "Guten Tag!" {
			t.Fatalf("emea call %+v", em[0])
		}
		if !p.WaitFor(15*time.Second, func() bool { return len(p.Events(w.Line)) >= 4 }) {
			t.Fatal("no status events")
		}
		for _, e := range p.Events(w.Line)[2:] {
			if e.Type != connectors.TypeStatusDelivered || len(e.Status.MessengerMessageIDs) != 1 {
				t.Fatalf("status %+v %+v", e, e.Status)
			}
		}

		// The gateway restarts; days later the agent writes first.
		g.stop()
		before := bf.TokenRequests()
		g2 := startGateway(t, cfg)
		client := sdk.Client{BaseURL: g2.URL, PortalID: w.Client.PortalID, Secret: w.Client.Secret}
		if _, err := client.Send(ctx, w.Conn, connectors.Outbound{ChatID: first.Chat.ID, Text: "Your corrected invoice is attached.",
			Files: []connectors.OutFile{{URL: "https://files.example.com/invoice-1042.pdf", Name: "invoice-1042.pdf"}}}); err != nil {
			t.Fatalf("proactive send: %v", err)
		}
		amer = bf.amer.WaitCalls(15*time.Second, 2)
		if len(amer) != 2 {
			t.Fatalf("after the restart the amer service got %d calls", len(amer))
		}
		pro := amer[1]
		atts, _ := pro.Activity["attachments"].([]any)
		if pro.Conversation != "a:1TeamsPersonalChat" || pro.ActivityID != "" || pro.Activity.Text() != "Your corrected invoice is attached." || len(atts) != 1 ||
			!bf.ValidAccessToken(strings.TrimPrefix(pro.Auth, "Bearer ")) || bf.TokenRequests() != before+1 {
			t.Fatalf("proactive call %+v (token requests %d → %d)", pro, before, bf.TokenRequests())
		}
		if len(bf.emea.Calls()) != 1 {
			t.Fatalf("the emea service got %d calls", len(bf.emea.Calls()))
		}

		if p.BadSignatures() != 0 {
			t.Fatalf("%d batches failed signature verification", p.BadSignatures())
		}
		all, _ := json.Marshal(p.Events(w.Line))
		if bytes.Contains(all, []byte(bfSecret)) || bytes.Contains(all, []byte("bf-access-")) {
			t.Fatal("a Bot Framework secret leaked into an event")
		}
	})
}

// One App ID, one binding: connecting the same Azure Bot on a second line
// puts the first line in emergency, and Bot Framework's requests then
// reach the new line only.
func TestBotFrameworkSameAppOnSecondLineEmergency(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b queuetest.Backend) {
		bf := newBFWorld(t)
		first, second := portaltest.New(t), portaltest.New(t)
		g := startGateway(t, bfConfig(b, b.DSN(t), bf))
		old := wireBotFramework(t, g, first)
		nw := wireBotFramework(t, g, second)

		if !first.WaitFor(10*time.Second, func() bool { return len(first.Events(old.Line)) == 1 }) {
			t.Fatalf("first portal got %d events, want the emergency", len(first.Events(old.Line)))
		}
		if ev := first.Events(old.Line)[0]; ev.Type != connectors.TypeConnectionEmergency || ev.Connection != old.Conn || ev.Error == nil || ev.Error.Code != portal.CodeBoundElsewhere {
			t.Fatalf("event %+v", ev)
		}
		msg := bftest.TeamsMessage(bf.amer.URL(), bfAppID, "a:1conv", "1700000000100", "who gets this?")
		if code := postActivity(t, g, bf, old.Hash, msg, ""); code == http.StatusOK {
			t.Fatal("the old entry URL still takes activities")
		}
		if code := postActivity(t, g, bf, nw.Hash, msg, ""); code != http.StatusOK {
			t.Fatalf("new entry URL answered %d", code)
		}
		if !second.WaitFor(10*time.Second, func() bool { return len(bfMessages(second, nw.Line)) == 1 }) {
			t.Fatal("the new line did not get the message")
		}
		if n := len(first.Events(old.Line)); n != 1 {
			t.Fatalf("the old line got %d events", n)
		}
	})
}

// A connection limited to Teams answers Web Chat activities 200, stores
// nothing, and counts them in connector_botframework_channels_refused_total.
func TestBotFrameworkRefusedChannelCounted(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b queuetest.Backend) {
		bf := newBFWorld(t)
		p := portaltest.New(t)
		g := startGateway(t, bfConfig(b, b.DSN(t), bf))
		w := wireBotFrameworkWith(t, g, p, map[string]string{"app_id": bfAppID, "app_password": bfSecret, "channels": "msteams"})
		web := bftest.WebChatMessage(bf.amer.URL(), bfAppID, "wc-conv-1", "wc-conv-1|0000001", "from the web site")
		if code := postActivity(t, g, bf, w.Hash, web, ""); code != http.StatusOK {
			t.Fatalf("refused channel answered %d, want 200 (so Bot Framework does not retry)", code)
		}
		teams := bftest.TeamsMessage(bf.amer.URL(), bfAppID, "a:1conv", "1700000000200", "from Teams")
		if code := postActivity(t, g, bf, w.Hash, teams, ""); code != http.StatusOK {
			t.Fatalf("teams answered %d", code)
		}
		if !p.WaitFor(10*time.Second, func() bool { return len(bfMessages(p, w.Line)) >= 1 }) {
			t.Fatal("the Teams message did not arrive")
		}
		if evs := bfMessages(p, w.Line); len(evs) != 1 || evs[0].Channel != "botframework.msteams" {
			t.Fatalf("portal got %+v", evs)
		}
		if v := value(scrape(t, g), "connector_botframework_channels_refused_total", nil); v != 1 {
			t.Fatalf("connector_botframework_channels_refused_total = %v, want 1", v)
		}
	})
}

// An image a Teams user attaches is on Bot Framework's service, which
// wants the bot's token: the portal gets a gateway link that streams it.
func TestBotFrameworkTeamsAttachmentThroughGatewayLink(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b queuetest.Backend) {
		bf := newBFWorld(t)
		p := portaltest.New(t)
		g := startGateway(t, bfConfig(b, b.DSN(t), bf))
		w := wireBotFramework(t, g, p)
		png := []byte("\x89PNG\r\n\x1a\nscreenshot")
		contentURL := bf.amer.AddFile("0-wus-d2-screenshot", "image/png", png)
		a := bftest.TeamsMessage(bf.amer.URL(), bfAppID, "a:1conv", "1700000000300", "see the screenshot")
		a["attachments"] = []map[string]any{{"contentType": "image/png", "contentUrl": contentURL, "name": "screenshot.png"}}
		if code := postActivity(t, g, bf, w.Hash, a, ""); code != http.StatusOK {
			t.Fatalf("activity answered %d", code)
		}
		if !p.WaitFor(10*time.Second, func() bool { return len(bfMessages(p, w.Line)) == 1 }) {
			t.Fatal("no message")
		}
		files := bfMessages(p, w.Line)[0].Message.Files
		if len(files) != 1 || !strings.HasPrefix(files[0].URL, "https://gateway.test/files/") || files[0].Name != "screenshot.png" || files[0].Kind != "photo" {
			t.Fatalf("files %+v", files)
		}
		link, _ := url.Parse(files[0].URL)
		resp, err := http.Get(g.URL + link.Path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !bytes.Equal(body, png) || resp.Header.Get("Content-Type") != "image/png" {
			t.Fatalf("file link answered %d %q (%s)", resp.StatusCode, body, resp.Header.Get("Content-Type"))
		}
	})
}
