package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/slack/slacktest"
	"github.com/connector-gateway/connector/portal"
	"github.com/connector-gateway/connector/portal/portaltest"
	"github.com/connector-gateway/connector/portal/sdk"
	"github.com/connector-gateway/connector/queue/queuetest"
)

const (
	slackBotToken = "xoxb-2233445566-7788990011223-e2eTokenForTheGateway"
	slackAppToken = "xapp-1-A0APP0001-7788990011223-00112233445566778899aabbccddeeff"
	slackSecret   = "0123456789abcdef0123456789abcdef"
	slackChannel  = "C0CHAN001"
)

// slackLine is a portal with one line and an active Slack connection in
// events mode, made through the signed portal API as a portal would.
type slackLine struct {
	Client *sdk.Client
	Line   string
	Conn   string
	Hash   string
}

func wireSlack(t *testing.T, g *gateway, p *portaltest.Server) slackLine {
	t.Helper()
	ctx := context.Background()
	pr, secret, err := g.app.Store().Records.CreatePortal(ctx, "Acme helpdesk", p.URL)
	if err != nil {
		t.Fatal(err)
	}
	p.SetSecrets(secret)
	w := slackLine{Client: &sdk.Client{BaseURL: g.URL, PortalID: pr.ID, Secret: secret}}
	var line portal.Line
	if err := w.Client.Do(ctx, "POST", "/v1/lines", map[string]string{"name": "Slack support"}, &line, nil); err != nil {
		t.Fatalf("create line: %v", err)
	}
	var conn struct {
		ID         string            `json:"id"`
		EntryURL   string            `json:"entry_url"`
		Settings   map[string]string `json:"settings"`
		SecretsSet []string          `json:"secrets_set"`
	}
	err = w.Client.Do(ctx, "POST", "/v1/lines/"+line.ID+"/connections", map[string]any{
		"connector": "slack",
		"settings":  map[string]string{"bot_token": slackBotToken, "signing_secret": slackSecret, "mode": "events"},
	}, &conn, nil)
	if err != nil {
		t.Fatalf("create connection: %v", err)
	}
	if conn.Settings["mode"] != "events" || strings.Join(conn.SecretsSet, ",") != "bot_token,signing_secret" {
		t.Fatalf("connection as shown: %+v", conn)
	}
	var rep connectors.TestReport
	if err := w.Client.Do(ctx, "POST", "/v1/connections/"+conn.ID+"/test", nil, &rep, nil); err != nil || !rep.OK {
		t.Fatalf("test connection: %+v, %v", rep, err)
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

// postSlack posts body to the entry URL as Slack does, signed with secret
// at time at, with X-Slack-Retry-Num when retry > 0, and returns the status
// and body of the answer.
func postSlack(t *testing.T, g *gateway, hash, secret string, at time.Time, retry int, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest("POST", g.URL+"/hook/"+hash, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = slacktest.Sign(secret, at, body)
	if retry > 0 {
		req.Header.Set("X-Slack-Retry-Num", strconv.Itoa(retry))
		req.Header.Set("X-Slack-Retry-Reason", "http_timeout")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("post event: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func slackConfig(t *testing.T, b queuetest.Backend, fake *slacktest.Server) *gateway {
	cfg := testConfig(b, b.DSN(t), "http://127.0.0.1:1/bot%s/%s")
	cfg.Slack.APIURL = fake.APIURL()
	return startGateway(t, cfg)
}

// The Slack path end to end, on the real gateway: Slack verifies the entry
// URL; forged and stale requests are refused and store nothing; a thread
// reply Slack delivers four times reaches the portal once, converted; the
// agent's answer goes into that thread; its status comes back; a shared file
// is fetched through the gateway's link.
func TestSlackEndToEnd(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b queuetest.Backend) {
		fake := slacktest.New(t, slackBotToken, slackAppToken)
		fake.SetUser(slacktest.Customer)
		fake.SetChannel(slackChannel, "support")
		p := portaltest.New(t)
		g := slackConfig(t, b, fake)
		w := wireSlack(t, g, p)
		now := time.Now()

		// Slack's handshake when the admin pastes the Request URL.
		if code, body := postSlack(t, g, w.Hash, slackSecret, now, 0, slacktest.URLVerification("c4allenge-x1")); code != http.StatusOK || body != "c4allenge-x1" {
			t.Fatalf("url_verification answered %d %q", code, body)
		}

		root, reply := "1700000000.000100", "1700000050.000200"
		top := slacktest.EventCallback("Ev0TOP", slacktest.Message(slackChannel, "channel", slacktest.Customer.ID, ":smile: *bold*", root))
		threaded := slacktest.EventCallback("Ev0REPLY", slacktest.ThreadReply(slackChannel, "channel", slacktest.Customer.ID, "Still waiting for order #1042 &amp; invoice", reply, root))

		// Refused: nothing stored.
		if code, _ := postSlack(t, g, w.Hash, "ffffffffffffffffffffffffffffffff", now, 0, top); code != http.StatusUnauthorized {
			t.Fatalf("wrong signing secret answered %d", code)
		}
		if code, _ := postSlack(t, g, w.Hash, slackSecret, now.Add(-6*time.Minute), 0, top); code != http.StatusUnauthorized {
			t.Fatalf("6-minute-old request answered %d", code)
		}
		var st lineState
		if err := w.Client.Do(context.Background(), "GET", "/v1/lines/"+w.Line, nil, &st, nil); err != nil || st.Queue.Pending != 0 {
			t.Fatalf("after refused requests: pending %d, %v", st.Queue.Pending, err)
		}

		if code, _ := postSlack(t, g, w.Hash, slackSecret, now, 0, top); code != http.StatusOK {
			t.Fatalf("top-level message answered %d", code)
		}
		// The thread reply, then Slack's three retries of it.
		for retry := 0; retry <= 3; retry++ {
			if code, _ := postSlack(t, g, w.Hash, slackSecret, time.Now(), retry, threaded); code != http.StatusOK {
				t.Fatalf("delivery %d answered %d", retry, code)
			}
		}
		marker := slacktest.EventCallback("Ev0MARK", slacktest.Message(slackChannel, "channel", slacktest.Customer.ID, "marker", "1700000060.000300"))
		if code, _ := postSlack(t, g, w.Hash, slackSecret, time.Now(), 0, marker); code != http.StatusOK {
			t.Fatalf("marker answered %d", code)
		}
		if !p.WaitFor(15*time.Second, func() bool { return len(p.Events(w.Line)) >= 3 }) {
			t.Fatalf("portal got %d events", len(p.Events(w.Line)))
		}
		evs := p.Events(w.Line)
		// The marker came after the retries on the same line: anything they
		// added would be in by now.
		if len(evs) != 3 || evs[2].Message.Text != "marker" {
			t.Fatalf("portal got %d events: %+v", len(evs), evs)
		}
		if m := evs[0].Message; m.Text != "😄 bold" || evs[0].Chat.ID != slackChannel || evs[0].Chat.Type != "channel" {
			t.Fatalf("top-level event: chat %+v, text %q", evs[0].Chat, m.Text)
		}
		got := evs[1]
		if got.Type != connectors.TypeMessageCreated || got.Connector != "slack" || got.Connection != w.Conn ||
			got.Chat.ID != slackChannel+":"+root || got.Chat.Type != "thread" || got.Message.ID != reply ||
			got.Message.Text != "Still waiting for order #1042 & invoice" || got.User.ID != slacktest.Customer.ID {
			t.Fatalf("thread reply event: %+v chat %+v message %+v", got, got.Chat, got.Message)
		}

		// The agent answers in the chat the event named.
		acc, err := w.Client.Send(context.Background(), w.Conn, connectors.Outbound{ChatID: got.Chat.ID, Text: "Sorry! It ships today."})
		if err != nil {
			t.Fatalf("send: %v", err)
		}
		posted := fake.WaitPosted(15*time.Second, 1)
		if len(posted) != 1 || posted[0].Channel != slackChannel || posted[0].ThreadTS != root || posted[0].Text != "Sorry! It ships today." {
			t.Fatalf("chat.postMessage got %+v; want channel %s thread %s", posted, slackChannel, root)
		}
		if !p.WaitFor(15*time.Second, func() bool { return len(p.Events(w.Line)) >= 4 }) {
			t.Fatal("no status event")
		}
		status := p.Events(w.Line)[3]
		if status.Type != connectors.TypeStatusDelivered || status.Status.RequestID != acc.ID ||
			len(status.Status.MessengerMessageIDs) != 1 || status.Status.MessengerMessageIDs[0] != posted[0].TS {
			t.Fatalf("status event %+v / %+v", status, status.Status)
		}

		// A shared file reaches the portal as a gateway link that streams it.
		pdf := []byte("%PDF-1.7 receipt")
		f := fake.AddFile("F0REC0001", "receipt.pdf", "application/pdf", pdf, false)
		share := slacktest.EventCallback("Ev0FILE", slacktest.FileShare(slackChannel, "channel", slacktest.Customer.ID, "receipt attached", "1700000070.000400", f))
		if code, _ := postSlack(t, g, w.Hash, slackSecret, time.Now(), 0, share); code != http.StatusOK {
			t.Fatalf("file share answered %d", code)
		}
		if !p.WaitFor(15*time.Second, func() bool { return len(p.Events(w.Line)) >= 5 }) {
			t.Fatal("file event not delivered")
		}
		fe := p.Events(w.Line)[4]
		if len(fe.Message.Files) != 1 || !strings.HasPrefix(fe.Message.Files[0].URL, "http://gateway.test/files/") {
			t.Fatalf("file event files %+v", fe.Message.Files)
		}
		link, _ := url.Parse(fe.Message.Files[0].URL)
		resp, err := http.Get(g.URL + link.Path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !bytes.Equal(body, pdf) || resp.Header.Get("Content-Type") != "application/pdf" {
			t.Fatalf("file link answered %d %q (%s)", resp.StatusCode, body, resp.Header.Get("Content-Type"))
		}

		if p.BadSignatures() != 0 {
			t.Fatalf("%d batches failed signature verification", p.BadSignatures())
		}
		all, _ := json.Marshal(p.Events(w.Line))
		if bytes.Contains(all, []byte(slackBotToken)) || bytes.Contains(all, []byte(slackSecret)) {
			t.Fatal("a Slack secret leaked into an event")
		}
	})
}
