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

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/meta/metatest"
	"github.com/connector-gateway/connector/portal"
	"github.com/connector-gateway/connector/portal/portaltest"
	"github.com/connector-gateway/connector/portal/sdk"
	"github.com/connector-gateway/connector/queue/queuetest"
)

const (
	metaAppSecret   = "00112233445566778899aabbccddeeff"
	metaVerify      = "verify_e2e-token"
	waNumberID      = "106540352242922"
	waBusinessID    = "102290129340398"
	waAccessToken   = "EAAGe2eWhatsAppSystemUserToken0123456789abcdef"
	fbPageID        = "112233445566778"
	fbPageToken     = "EAAGe2eMessengerPageToken0123456789abcdefghij"
	metaTestTimeout = 20 * time.Second
)

// metaLine is a portal with one line and an active Meta connection, made
// through the signed portal API as a portal would.
type metaLine struct {
	Client *sdk.Client
	Line   string
	Conn   string
	Hash   string
}

func metaGateway(t *testing.T, b queuetest.Backend, fake *metatest.Server) *gateway {
	cfg := testConfig(b, b.DSN(t), "http://127.0.0.1:1/bot%s/%s")
	cfg.Meta.APIURL = fake.URL()
	return startGateway(t, cfg)
}

func wireMeta(t *testing.T, g *gateway, p *portaltest.Server, connector string, settings map[string]string) metaLine {
	t.Helper()
	ctx := context.Background()
	pr, secret, err := g.app.Store().Records.CreatePortal(ctx, "Acme helpdesk", p.URL)
	if err != nil {
		t.Fatal(err)
	}
	p.SetSecrets(secret)
	w := metaLine{Client: &sdk.Client{BaseURL: g.URL, PortalID: pr.ID, Secret: secret}}
	var line portal.Line
	if err := w.Client.Do(ctx, "POST", "/v1/lines", map[string]string{"name": connector + " support"}, &line, nil); err != nil {
		t.Fatalf("create line: %v", err)
	}
	var conn connView
	if err := w.Client.Do(ctx, "POST", "/v1/lines/"+line.ID+"/connections", map[string]any{"connector": connector, "settings": settings}, &conn, nil); err != nil {
		t.Fatalf("create connection: %v", err)
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

// postMeta posts body to the entry URL as Meta does, signed with secret
// ("" unsigned), and returns the answer's status.
func postMeta(t *testing.T, g *gateway, hash, secret string, body []byte) int {
	t.Helper()
	req, err := http.NewRequest("POST", g.URL+"/hook/"+hash, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = metatest.Header(secret, body)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("post webhook: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// verifyMeta makes Meta's verification GET and returns status and body.
func verifyMeta(t *testing.T, g *gateway, hash, token, challenge string) (int, string) {
	t.Helper()
	code, body := get(t, g.URL+"/hook/"+hash+"?"+metatest.Handshake(token, challenge))
	return code, string(body)
}

// waitEvent waits for an event on line that match accepts.
func waitEvent(t *testing.T, p *portaltest.Server, line, what string, match func(connectors.Event) bool) connectors.Event {
	t.Helper()
	return waitEventFor(t, p, line, what, metaTestTimeout, match)
}

// waitEventFor is waitEvent with its own timeout.
func waitEventFor(t testing.TB, p *portaltest.Server, line, what string, timeout time.Duration, match func(connectors.Event) bool) connectors.Event {
	t.Helper()
	var found connectors.Event
	if !p.WaitFor(timeout, func() bool {
		for _, ev := range p.Events(line) {
			if match(ev) {
				found = ev
				return true
			}
		}
		return false
	}) {
		t.Fatalf("no %s; the line has %d events", what, len(p.Events(line)))
	}
	return found
}

func waSettings() map[string]string {
	return map[string]string{"phone_number_id": waNumberID, "waba_id": waBusinessID, "access_token": waAccessToken, "app_secret": metaAppSecret, "verify_token": metaVerify}
}

func noMetaSecrets(t *testing.T, p *portaltest.Server, line string) {
	t.Helper()
	all, _ := json.Marshal(p.Events(line))
	for _, s := range []string{waAccessToken, fbPageToken, metaAppSecret, metaVerify} {
		if bytes.Contains(all, []byte(s)) {
			t.Fatal("a Meta secret leaked into an event")
		}
	}
	if p.BadSignatures() != 0 {
		t.Fatalf("%d batches failed signature verification", p.BadSignatures())
	}
}

// WhatsApp end to end on the real gateway: Meta verifies the callback URL;
// unsigned and forged webhooks are refused and store nothing; a text
// reaches the portal once however often Meta retries it; a photo reaches
// it as a gateway link serving the fake's bytes, with no token in any URL;
// the agent's reply goes out with its reply context and request id.
func TestWhatsAppEndToEnd(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b queuetest.Backend) {
		fake := metatest.New(t)
		fake.AddNumber(waNumberID, waAccessToken, "15550001111", waBusinessID)
		p := portaltest.New(t)
		g := metaGateway(t, b, fake)
		w := wireMeta(t, g, p, "whatsapp", waSettings())

		if code, body := verifyMeta(t, g, w.Hash, metaVerify, "1158201444"); code != http.StatusOK || body != "1158201444" {
			t.Fatalf("handshake answered %d %q", code, body)
		}
		if code, _ := verifyMeta(t, g, w.Hash, "not-the-token", "1158201444"); code != http.StatusForbidden {
			t.Fatalf("handshake with a wrong token answered %d", code)
		}

		now := time.Now()
		text := metatest.WAMessages(waBusinessID, waNumberID, metatest.WAText("wamid.E2E1", "Where is order #1042?", now))
		if code := postMeta(t, g, w.Hash, "", text); code != http.StatusUnauthorized {
			t.Fatalf("unsigned webhook answered %d", code)
		}
		if code := postMeta(t, g, w.Hash, "ffeeddccbbaa99887766554433221100", text); code != http.StatusUnauthorized {
			t.Fatalf("forged webhook answered %d", code)
		}
		var st lineState
		if err := w.Client.Do(context.Background(), "GET", "/v1/lines/"+w.Line, nil, &st, nil); err != nil || st.Queue.Pending != 0 {
			t.Fatalf("after refused webhooks: pending %d, %v", st.Queue.Pending, err)
		}
		// Meta retries until it gets a 200: the same body three times.
		for i := 0; i < 3; i++ {
			if code := postMeta(t, g, w.Hash, metaAppSecret, text); code != http.StatusOK {
				t.Fatalf("webhook answered %d", code)
			}
		}

		jpeg := []byte("\xff\xd8\xff\xe0 a photo of the parcel")
		fake.AddMedia("880011223344", waAccessToken, "image/jpeg", jpeg)
		photo := metatest.WAMessages(waBusinessID, waNumberID, metatest.WAMedia("wamid.E2E2", "image", "880011223344", "image/jpeg", "the parcel", "", now))
		if code := postMeta(t, g, w.Hash, metaAppSecret, photo); code != http.StatusOK {
			t.Fatalf("photo webhook answered %d", code)
		}
		if !p.WaitFor(metaTestTimeout, func() bool { return len(p.Events(w.Line)) >= 2 }) {
			t.Fatalf("portal got %d events", len(p.Events(w.Line)))
		}
		evs := p.Events(w.Line)
		if len(evs) != 2 {
			t.Fatalf("portal got %d events (a retry was delivered again?): %+v", len(evs), evs)
		}
		got := evs[0]
		if got.Type != connectors.TypeMessageCreated || got.Connector != "whatsapp" || got.Connection != w.Conn || got.Chat.ID != metatest.CustomerWaID ||
			got.User.Name != metatest.CustomerName || got.Message.ID != "wamid.E2E1" || got.Message.Text != "Where is order #1042?" {
			t.Fatalf("text event %+v / %+v / %+v", got, got.User, got.Message)
		}
		files := evs[1].Message.Files
		if len(files) != 1 || evs[1].Message.Text != "the parcel" || !strings.HasPrefix(files[0].URL, "http://gateway.test/files/") || strings.Contains(files[0].URL, waAccessToken) {
			t.Fatalf("photo event %+v", evs[1].Message)
		}
		link, _ := url.Parse(files[0].URL)
		code, body := get(t, g.URL+link.RequestURI())
		if code != http.StatusOK || !bytes.Equal(body, jpeg) {
			t.Fatalf("file link answered %d %q", code, body)
		}
		for _, r := range fake.Requests() {
			if strings.Contains(r.Path+"?"+r.Query, waAccessToken) {
				t.Fatalf("the token was in a URL: %+v", r)
			}
		}

		// The agent answers the customer's message.
		acc, err := w.Client.Send(context.Background(), w.Conn, connectors.Outbound{ChatID: got.Chat.ID, Text: "It left the warehouse today.", ReplyTo: got.Message.ID})
		if err != nil {
			t.Fatalf("send: %v", err)
		}
		sent := fake.WaitSent(metaTestTimeout, 1)
		if len(sent) != 1 || sent[0].To != metatest.CustomerWaID || sent[0].Text != "It left the warehouse today." || sent[0].ReplyTo != "wamid.E2E1" || sent[0].Callback != acc.ID {
			t.Fatalf("the Graph API got %+v", sent)
		}
		delivered := statusOf(t, p, w.Line, acc.ID)
		if delivered.Type != connectors.TypeStatusDelivered || len(delivered.Status.MessengerMessageIDs) != 1 || delivered.Status.MessengerMessageIDs[0] != sent[0].ID {
			t.Fatalf("status %+v / %+v", delivered, delivered.Status)
		}
		noMetaSecrets(t, p, w.Line)
	})
}

// A reply outside WhatsApp's 24-hour window fails at once (131047) and the
// portal learns why in plain words.
func TestWhatsAppOutsideWindowFails(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b queuetest.Backend) {
		fake := metatest.New(t)
		fake.AddNumber(waNumberID, waAccessToken, "15550001111", waBusinessID)
		p := portaltest.New(t)
		g := metaGateway(t, b, fake)
		w := wireMeta(t, g, p, "whatsapp", waSettings())
		fake.CloseWindow(metatest.CustomerWaID)
		acc, err := w.Client.Send(context.Background(), w.Conn, connectors.Outbound{ChatID: metatest.CustomerWaID, Text: "Following up on yesterday"})
		if err != nil {
			t.Fatalf("send: %v", err)
		}
		ev := statusOf(t, p, w.Line, acc.ID)
		if ev.Type != connectors.TypeStatusFailed || !strings.Contains(ev.Status.Error, "more than 24 hours") || !strings.Contains(ev.Status.Error, "template") ||
			ev.Status.Attempts != 1 || strings.Contains(ev.Status.Error, waAccessToken) {
			t.Fatalf("status %+v / %+v", ev, ev.Status)
		}
		if len(fake.Sent()) != 0 {
			t.Fatalf("the fake accepted %+v", fake.Sent())
		}
	})
}

// WhatsApp reports statuses out of order: a read that arrives before the
// delivered of the same message must leave the portal at read — the late
// delivered adds nothing. This needs the outbox to honour Keyed.Supersedes.
func TestWhatsAppStatusesNeverMoveBackward(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b queuetest.Backend) {
		fake := metatest.New(t)
		fake.AddNumber(waNumberID, waAccessToken, "15550001111", waBusinessID)
		p := portaltest.New(t)
		g := metaGateway(t, b, fake)
		w := wireMeta(t, g, p, "whatsapp", waSettings())
		acc, err := w.Client.Send(context.Background(), w.Conn, connectors.Outbound{ChatID: metatest.CustomerWaID, Text: "Your parcel is on its way."})
		if err != nil {
			t.Fatalf("send: %v", err)
		}
		sent := fake.WaitSent(metaTestTimeout, 1)
		if len(sent) != 1 {
			t.Fatalf("sent %+v", sent)
		}
		statusOf(t, p, w.Line, acc.ID) // the gateway's own status.delivered
		wamid, now := sent[0].ID, time.Now()
		for _, s := range []map[string]any{
			metatest.WAStatus(wamid, "read", acc.ID, now.Add(2*time.Second)),
			metatest.WAStatus(wamid, "delivered", acc.ID, now.Add(time.Second)),
			metatest.WAStatus(wamid, "sent", acc.ID, now),
		} {
			if code := postMeta(t, g, w.Hash, metaAppSecret, metatest.WAStatuses(waBusinessID, waNumberID, s)); code != http.StatusOK {
				t.Fatalf("status webhook answered %d", code)
			}
		}
		// A customer message after the statuses, on the same line: once it
		// is in, anything the statuses added is in too.
		marker := metatest.WAMessages(waBusinessID, waNumberID, metatest.WAText("wamid.MARK", "thanks", now))
		if code := postMeta(t, g, w.Hash, metaAppSecret, marker); code != http.StatusOK {
			t.Fatalf("marker answered %d", code)
		}
		waitEvent(t, p, w.Line, "marker", func(ev connectors.Event) bool { return ev.Message != nil && ev.Message.ID == "wamid.MARK" })
		var trail []string
		for _, ev := range p.Events(w.Line) {
			if ev.Status != nil && ev.Status.RequestID == acc.ID {
				trail = append(trail, ev.Type)
			}
		}
		want := []string{connectors.TypeStatusDelivered, connectors.TypeStatusRead}
		if strings.Join(trail, ",") != strings.Join(want, ",") {
			t.Fatalf("the portal saw %v for the message, want %v (the late delivered must add nothing; needs the outbox to honour Keyed.Supersedes)", trail, want)
		}
	})
}

// Messenger end to end: the handshake, a customer's text in, the agent's
// answer out to the same person.
func TestMessengerEndToEnd(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b queuetest.Backend) {
		fake := metatest.New(t)
		fake.AddPage(fbPageID, fbPageToken, "Acme Support")
		p := portaltest.New(t)
		g := metaGateway(t, b, fake)
		w := wireMeta(t, g, p, "messenger", map[string]string{"page_id": fbPageID, "page_access_token": fbPageToken, "app_secret": metaAppSecret, "verify_token": metaVerify})
		if code, body := verifyMeta(t, g, w.Hash, metaVerify, "c0ffee"); code != http.StatusOK || body != "c0ffee" {
			t.Fatalf("handshake answered %d %q", code, body)
		}
		now := time.Now()
		body := metatest.MessagingWebhook("page", fbPageID, now,
			metatest.MText(metatest.CustomerPSID, fbPageID, "m_E2E1", "Are you open on Sunday?", now),
			metatest.MEcho(fbPageID, metatest.CustomerPSID, "m_ECHO", "our earlier answer", now))
		if code := postMeta(t, g, w.Hash, "ffeeddccbbaa99887766554433221100", body); code != http.StatusUnauthorized {
			t.Fatalf("forged webhook answered %d", code)
		}
		if code := postMeta(t, g, w.Hash, metaAppSecret, body); code != http.StatusOK {
			t.Fatalf("webhook answered %d", code)
		}
		in := waitEvent(t, p, w.Line, "message", func(ev connectors.Event) bool { return ev.Type == connectors.TypeMessageCreated })
		if in.Connector != "messenger" || in.Chat.ID != metatest.CustomerPSID || in.Message.ID != "m_E2E1" || in.Message.Text != "Are you open on Sunday?" {
			t.Fatalf("event %+v / %+v", in, in.Message)
		}
		acc, err := w.Client.Send(context.Background(), w.Conn, connectors.Outbound{ChatID: in.Chat.ID, Text: "Yes, 10 to 4."})
		if err != nil {
			t.Fatalf("send: %v", err)
		}
		sent := fake.WaitSent(metaTestTimeout, 1)
		if len(sent) != 1 || sent[0].Channel != "messenger" || sent[0].To != metatest.CustomerPSID || sent[0].Text != "Yes, 10 to 4." || sent[0].MessagingType != "RESPONSE" {
			t.Fatalf("the Graph API got %+v", sent)
		}
		st := statusOf(t, p, w.Line, acc.ID)
		if st.Type != connectors.TypeStatusDelivered || len(st.Status.MessengerMessageIDs) != 1 || st.Status.MessengerMessageIDs[0] != sent[0].ID {
			t.Fatalf("status %+v / %+v", st, st.Status)
		}
		if n := len(p.Events(w.Line)); n != 2 {
			t.Fatalf("the line has %d events (the echo was delivered?)", n)
		}
		noMetaSecrets(t, p, w.Line)
	})
}
