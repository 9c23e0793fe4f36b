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
	"github.com/connector-gateway/connector/connectors/twilio/twiliotest"
	"github.com/connector-gateway/connector/portal"
	"github.com/connector-gateway/connector/portal/portaltest"
	"github.com/connector-gateway/connector/portal/sdk"
	"github.com/connector-gateway/connector/queue/queuetest"
)

// twilioLine is a portal with one line and an active Twilio connection,
// made through the signed portal API as a portal would.
type twilioLine struct {
	Client *sdk.Client
	Line   string
	Conn   string
	// Entry is the connection's entry URL as Twilio calls it (public_url
	// + /hook/{hash}), the URL its webhooks are signed over.
	Entry string
}

// twilioGateway starts a gateway whose public URL is its own address (so
// file links can be fetched), with the Twilio connector on the fake.
func twilioGateway(t *testing.T, b queuetest.Backend, fake *twiliotest.Server) *gateway {
	cfg := reachableConfig(t, b, "http://127.0.0.1:1/bot%s/%s")
	cfg.Twilio.APIURL = fake.URL()
	return startGateway(t, cfg)
}

func wireTwilio(t *testing.T, g *gateway, p *portaltest.Server, settings map[string]string) twilioLine {
	t.Helper()
	ctx := context.Background()
	w := newPortal(t, g, p)
	var line portal.Line
	if err := w.Client.Do(ctx, "POST", "/v1/lines", map[string]string{"name": "Phone and WhatsApp"}, &line, nil); err != nil {
		t.Fatalf("create line: %v", err)
	}
	s := map[string]string{
		"account_sid": twiliotest.AccountSID, "auth_token": twiliotest.AuthToken,
		"phone_number": twiliotest.Number, "whatsapp_number": twiliotest.Number,
		"voice_mode": "forward", "voice_forward_to": "client:agent-1",
	}
	for k, v := range settings {
		s[k] = v
	}
	var conn connView
	if err := w.Client.Do(ctx, "POST", "/v1/lines/"+line.ID+"/connections", map[string]any{"connector": "twilio", "settings": s}, &conn, nil); err != nil {
		t.Fatalf("create connection: %v", err)
	}
	if strings.Join(conn.SecretsSet, ",") != "auth_token" {
		t.Fatalf("secrets shown as set: %v", conn.SecretsSet)
	}
	var rep connectors.TestReport
	if err := w.Client.Do(ctx, "POST", "/v1/connections/"+conn.ID+"/test", nil, &rep, nil); err != nil || !rep.OK {
		t.Fatalf("test connection: %+v, %v", rep, err)
	}
	if err := w.Client.Do(ctx, "POST", "/v1/connections/"+conn.ID+"/activate", nil, nil, nil); err != nil {
		t.Fatalf("activate: %v", err)
	}
	if !strings.HasPrefix(conn.EntryURL, g.URL+"/hook/") {
		t.Fatalf("entry url %q, gateway at %s", conn.EntryURL, g.URL)
	}
	return twilioLine{Client: w.Client, Line: line.ID, Conn: conn.ID, Entry: conn.EntryURL}
}

// postTwilio posts a webhook to rawURL signed with token, as Twilio does,
// and returns the answer's status, content type and body.
func postTwilio(t *testing.T, token, rawURL string, form url.Values) (int, string, string) {
	t.Helper()
	wh := twiliotest.Signed(token, rawURL, form)
	req, err := http.NewRequest("POST", rawURL, bytes.NewReader(wh.Body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = wh.Header
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("post webhook: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

func (l twilioLine) post(t *testing.T, query string, form url.Values) {
	t.Helper()
	u := l.Entry
	if query != "" {
		u += "?" + query
	}
	if code, _, body := postTwilio(t, twiliotest.AuthToken, u, form); code != http.StatusOK {
		t.Fatalf("webhook %s answered %d %s", query, code, body)
	}
}

// waitEvents waits until the portal holds n events of the line.
func waitEvents(t *testing.T, p *portaltest.Server, line string, n int) []connectors.Event {
	t.Helper()
	if !p.WaitFor(15*time.Second, func() bool { return len(p.Events(line)) >= n }) {
		t.Fatalf("portal got %d events, want %d: %+v", len(p.Events(line)), n, p.Events(line))
	}
	return p.Events(line)
}

// Messaging end to end: a forged webhook is refused and stores nothing;
// an SMS reaches the portal; a WhatsApp photo reaches it as a gateway link
// serving the fake's bytes, with no credential in any URL; the agent's
// reply reaches the Messages API with a StatusCallback naming the request.
func TestTwilioMessagingEndToEnd(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b queuetest.Backend) {
		fake := twiliotest.New(t)
		p := portaltest.New(t)
		g := twilioGateway(t, b, fake)
		l := wireTwilio(t, g, p, nil)

		sms := twiliotest.IncomingSMS(twiliotest.NewSID("SM"), "Hi, where is order #1042?")
		// Forged, wrong URL, no signature: 401, nothing enqueued.
		if code, _, _ := postTwilio(t, "0000000000000000000000000000dead", l.Entry, sms); code != http.StatusUnauthorized {
			t.Fatalf("forged signature answered %d", code)
		}
		if code, _, _ := postTwilio(t, twiliotest.AuthToken, strings.Replace(l.Entry, "127.0.0.1", "localhost", 1), sms); code != http.StatusUnauthorized {
			// Signed for another URL than Twilio called (what a wrong
			// public_url behind a proxy looks like).
			t.Fatalf("a signature over another URL answered %d", code)
		}
		unsigned, _ := http.Post(l.Entry, "application/x-www-form-urlencoded", strings.NewReader(sms.Encode()))
		if unsigned.StatusCode != http.StatusUnauthorized {
			t.Fatalf("unsigned webhook answered %d", unsigned.StatusCode)
		}
		unsigned.Body.Close()
		if st := (wiring{Client: l.Client}).lineState(t, l.Line); st.Queue.Pending != 0 {
			t.Fatalf("refused webhooks left %d pending", st.Queue.Pending)
		}

		code, ctype, body := postTwilio(t, twiliotest.AuthToken, l.Entry, sms)
		if code != http.StatusOK || !strings.HasPrefix(ctype, "text/xml") || !strings.Contains(body, "<Response></Response>") {
			t.Fatalf("incoming SMS answered %d %s %q", code, ctype, body)
		}
		evs := waitEvents(t, p, l.Line, 1)
		got := evs[0]
		if got.Type != connectors.TypeMessageCreated || got.Connector != "twilio" || got.Channel != "twilio" || got.Connection != l.Conn ||
			got.Chat.ID != twiliotest.Customer || got.Message.Text != "Hi, where is order #1042?" || got.Message.ID != sms.Get("MessageSid") {
			t.Fatalf("first event (the refused ones must not be there) %+v %+v", got, got.Message)
		}

		// WhatsApp with a photo.
		wa := twiliotest.NewSID("MM")
		photo := []byte("\xff\xd8\xff\xe0 a jpeg")
		media := fake.AddMedia(wa, "image/jpeg", photo)
		l.post(t, "", twiliotest.IncomingWhatsApp(wa, "the box was broken", "Anna Berg", [2]string{media, "image/jpeg"}))
		evs = waitEvents(t, p, l.Line, 2)
		we := evs[1]
		if we.Channel != "twilio.whatsapp" || we.Chat.ID != "whatsapp:"+twiliotest.Customer || we.User.Name != "Anna Berg" || len(we.Message.Files) != 1 {
			t.Fatalf("whatsapp event %+v %+v", we, we.Message)
		}
		link := we.Message.Files[0].URL
		if !strings.HasPrefix(link, g.URL+"/files/") {
			t.Fatalf("file link %q is not a gateway link", link)
		}
		resp, err := http.Get(link)
		if err != nil {
			t.Fatal(err)
		}
		served, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !bytes.Equal(served, photo) || resp.Header.Get("Content-Type") != "image/jpeg" {
			t.Fatalf("file link answered %d %q (%s)", resp.StatusCode, served, resp.Header.Get("Content-Type"))
		}
		if r := fake.Requests("/Media/" + media[strings.LastIndex(media, "/")+1:]); len(r) != 1 || r[0].User != twiliotest.AccountSID {
			t.Fatalf("media fetched %+v", r)
		}

		// The agent answers on WhatsApp.
		acc, err := l.Client.Send(context.Background(), l.Conn, connectors.Outbound{ChatID: we.Chat.ID, Text: "Sorry! A new one ships today."})
		if err != nil {
			t.Fatalf("send: %v", err)
		}
		sent := fake.WaitSent(15*time.Second, 1)
		if len(sent) != 1 || sent[0].To != "whatsapp:"+twiliotest.Customer || sent[0].From != "whatsapp:"+twiliotest.Number || sent[0].Body != "Sorry! A new one ships today." {
			t.Fatalf("Messages API got %+v", sent)
		}
		cb, _ := url.Parse(sent[0].StatusCallback)
		if !strings.HasPrefix(sent[0].StatusCallback, l.Entry+"?") || cb.Query().Get("request") != acc.ID || cb.Query().Get("kind") != "status" {
			t.Fatalf("StatusCallback %q for request %s", sent[0].StatusCallback, acc.ID)
		}
		evs = waitEvents(t, p, l.Line, 3)
		if st := evs[2]; st.Type != connectors.TypeStatusDelivered || st.Status.RequestID != acc.ID || st.Status.MessengerMessageIDs[0] != sent[0].SID {
			t.Fatalf("status after send %+v %+v", st, st.Status)
		}

		all, _ := json.Marshal(p.Events(l.Line))
		for _, secret := range []string{twiliotest.AuthToken, fake.URL(), twiliotest.AccountSID} {
			if bytes.Contains(all, []byte(secret)) {
				t.Fatalf("events name %q: %s", secret, all)
			}
		}
		if strings.Contains(link, twiliotest.AuthToken) || strings.Contains(sent[0].StatusCallback, twiliotest.AuthToken) {
			t.Fatal("a credential in a URL")
		}
		if p.BadSignatures() != 0 {
			t.Fatalf("%d batches failed signature verification", p.BadSignatures())
		}
	})
}

// Statuses end to end: delivered then read, and read then delivered, both
// leave the portal at read for their request.
func TestTwilioStatusesEndToEnd(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b queuetest.Backend) {
		fake := twiliotest.New(t)
		p := portaltest.New(t)
		g := twilioGateway(t, b, fake)
		l := wireTwilio(t, g, p, nil)
		ctx := context.Background()

		send := func(text string, n int) (string, twiliotest.Message) {
			acc, err := l.Client.Send(ctx, l.Conn, connectors.Outbound{ChatID: twiliotest.Customer, Text: text})
			if err != nil {
				t.Fatalf("send: %v", err)
			}
			sent := fake.WaitSent(15*time.Second, n)
			if len(sent) != n {
				t.Fatalf("Messages API got %d", len(sent))
			}
			return acc.ID, sent[n-1]
		}
		callback := func(m twiliotest.Message, status string) {
			t.Helper()
			// Twilio calls the StatusCallback URL exactly as given.
			if code, _, body := postTwilio(t, twiliotest.AuthToken, m.StatusCallback, twiliotest.MessageStatus(m.SID, m.To, status, 0)); code != http.StatusOK {
				t.Fatalf("status callback %s answered %d %s", status, code, body)
			}
		}
		statuses := func(req string) []string {
			var out []string
			for _, e := range p.Events(l.Line) {
				if e.Status != nil && e.Status.RequestID == req {
					out = append(out, e.Type)
				}
			}
			return out
		}

		t.Run("delivered then read", func(t *testing.T) {
			// sent adds nothing: the gateway reported status.delivered
			// when Twilio accepted the message.
			req, m := send("first", 1)
			waitEvents(t, p, l.Line, 1)
			callback(m, "sent")
			callback(m, "delivered")
			callback(m, "read")
			waitEvents(t, p, l.Line, 3)
			if got := strings.Join(statuses(req), " "); got != "status.delivered status.delivered status.read" {
				t.Fatalf("the portal got %s", got)
			}
		})
		t.Run("read then delivered", func(t *testing.T) {
			// Then a marker SMS, so anything the late callback added has
			// arrived once the marker has.
			before := len(p.Events(l.Line))
			req, m := send("second", len(fake.Sent())+1)
			waitEvents(t, p, l.Line, before+1)
			callback(m, "read")
			callback(m, "delivered")
			l.post(t, "", twiliotest.IncomingSMS(twiliotest.NewSID("SM"), "marker"))
			evs := p.Events(l.Line)
			for !strings.HasSuffix(lastText(evs), "marker") {
				evs = waitEvents(t, p, l.Line, len(evs)+1)
			}
			// The read supersedes the late delivered: the portal ends at
			// read (after the gateway's own delivered on acceptance).
			if got := strings.Join(statuses(req), " "); got != "status.delivered status.read" {
				t.Fatalf("the portal got %s, want status.delivered status.read", got)
			}
		})
	})
}

func lastText(evs []connectors.Event) string {
	if len(evs) == 0 || evs[len(evs)-1].Message == nil {
		return ""
	}
	return evs[len(evs)-1].Message.Text
}

// Calls end to end: the incoming call is answered with TwiML (the
// caller's name escaped) and reported ringing; the callbacks of the leg
// dialled to the agent, initiated → ringing → in-progress → completed,
// reach the portal as call.* events in order, then the call's own end; a
// call whose callbacks skip ringing and answered still closes.
func TestTwilioCallsEndToEnd(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b queuetest.Backend) {
		fake := twiliotest.New(t)
		p := portaltest.New(t)
		g := twilioGateway(t, b, fake)
		l := wireTwilio(t, g, p, nil)

		call := twiliotest.NewSID("CA")
		voice := twiliotest.Call(call, "ringing", -1)
		voice.Set("CallerName", `Eve <"&">`)
		code, ctype, body := postTwilio(t, twiliotest.AuthToken, l.Entry+"?kind=voice", voice)
		if code != http.StatusOK || !strings.HasPrefix(ctype, "text/xml") || !strings.Contains(body, "<Dial") || !strings.Contains(body, "<Identity>agent-1</Identity>") ||
			!strings.Contains(body, `value="Eve &lt;&#34;&amp;&#34;&gt;"`) || !strings.Contains(body, `statusCallback="`+l.Entry+`?kind=call"`) {
			t.Fatalf("voice webhook answered %d %s:\n%s", code, ctype, body)
		}
		// The leg the answer dialled to the agent reports each step.
		leg := twiliotest.NewSID("CA")
		for i, st := range []string{"initiated", "ringing", "in-progress", "completed"} {
			f := twiliotest.Call(leg, st, i)
			f.Set("ParentCallSid", call)
			f.Set("Direction", "outbound-dial")
			f.Set("To", "client:agent-1")
			l.post(t, "kind=call", f)
		}
		// The caller's own call ends (the number's status callback).
		l.post(t, "kind=call", twiliotest.Call(call, "completed", 0))
		// A second call skips ringing and answered.
		short := twiliotest.NewSID("CA")
		l.post(t, "kind=call", twiliotest.Call(short, "initiated", 0))
		l.post(t, "kind=call", twiliotest.Call(short, "no-answer", 1))

		evs := waitEvents(t, p, l.Line, 8)
		steps := map[string][]string{}
		for _, e := range evs {
			if e.Call == nil {
				t.Fatalf("non-call event %+v", e)
			}
			if e.Chat.ID != twiliotest.Customer || e.Call.From != twiliotest.Customer {
				t.Fatalf("call event %+v %+v", e, e.Call)
			}
			steps[e.Call.ID] = append(steps[e.Call.ID], e.Type)
			if e.Call.ID == leg && (e.Call.ParentID != call || e.Call.To != "client:agent-1") {
				t.Fatalf("agent leg %+v", e.Call)
			}
		}
		for id, want := range map[string]string{
			call:  "call.ringing call.completed",
			leg:   "call.initiated call.ringing call.answered call.completed",
			short: "call.initiated call.failed",
		} {
			if got := strings.Join(steps[id], " "); got != want {
				t.Fatalf("call %s: %s, want %s", id, got, want)
			}
		}
		for _, e := range evs {
			if e.Type == connectors.TypeCallCompleted && e.Call.DurationSeconds != 42 {
				t.Fatalf("completed without its duration: %+v", e.Call)
			}
			if e.Type == connectors.TypeCallFailed && e.Call.Status != "no-answer" {
				t.Fatalf("failed call status %q", e.Call.Status)
			}
		}
	})
}

// One number, one binding: connecting the same Twilio number to a second
// line puts the first line into emergency, and its messages go to the new
// line only.
func TestTwilioSameNumberOnSecondLineEmergency(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b queuetest.Backend) {
		fake := twiliotest.New(t)
		first, second := portaltest.New(t), portaltest.New(t)
		g := twilioGateway(t, b, fake)
		a := wireTwilio(t, g, first, nil)
		bl := wireTwilio(t, g, second, map[string]string{"voice_mode": "none"})

		if !first.WaitFor(10*time.Second, func() bool { return len(first.Events(a.Line)) == 1 }) {
			t.Fatalf("first portal got %d events, want the emergency", len(first.Events(a.Line)))
		}
		if ev := first.Events(a.Line)[0]; ev.Type != connectors.TypeConnectionEmergency || ev.Connection != a.Conn {
			t.Fatalf("event %+v", ev)
		}
		var old connView
		if err := a.Client.Do(context.Background(), "GET", "/v1/connections/"+a.Conn, nil, &old, nil); err != nil {
			t.Fatal(err)
		}
		if old.Active || old.Status != portal.ConnEmergency {
			t.Fatalf("old connection %+v", old)
		}
		// The old entry URL no longer takes webhooks; the new one does.
		if code, _, _ := postTwilio(t, twiliotest.AuthToken, a.Entry, twiliotest.IncomingSMS(twiliotest.NewSID("SM"), "to old")); code != http.StatusNotFound {
			t.Fatalf("old entry URL answered %d", code)
		}
		bl.post(t, "", twiliotest.IncomingSMS(twiliotest.NewSID("SM"), "to new"))
		if evs := waitEvents(t, second, bl.Line, 1); evs[0].Message == nil || evs[0].Message.Text != "to new" {
			t.Fatalf("new line got %+v", evs)
		}
	})
}

// Voicemail end to end: the call is answered with <Say> and <Record>; the
// recording reaches the portal as call.recorded with a gateway link that
// serves the fake's recording.
func TestTwilioVoicemailEndToEnd(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b queuetest.Backend) {
		fake := twiliotest.New(t)
		p := portaltest.New(t)
		g := twilioGateway(t, b, fake)
		l := wireTwilio(t, g, p, map[string]string{"voice_mode": "voicemail", "voice_message": "We are closed & back at 9 <sharp>."})

		call := twiliotest.NewSID("CA")
		code, _, body := postTwilio(t, twiliotest.AuthToken, l.Entry+"?kind=voice", twiliotest.Call(call, "ringing", -1))
		if code != http.StatusOK || !strings.Contains(body, "<Say>We are closed &amp; back at 9 &lt;sharp&gt;.</Say>") ||
			!strings.Contains(body, `<Record action="`+l.Entry+`?kind=recording"`) {
			t.Fatalf("voice webhook answered %d:\n%s", code, body)
		}
		audio := []byte("ID3\x03 a voicemail")
		rec, recURL := fake.AddRecording(audio)
		f := twiliotest.Call(call, "in-progress", -1)
		f.Set("RecordingSid", rec)
		f.Set("RecordingUrl", recURL)
		f.Set("RecordingDuration", "9")
		code, _, body = postTwilio(t, twiliotest.AuthToken, l.Entry+"?kind=recording", f)
		if code != http.StatusOK || !strings.Contains(body, "<Hangup>") {
			t.Fatalf("recording webhook answered %d %s", code, body)
		}
		evs := waitEvents(t, p, l.Line, 2)
		ev := evs[1]
		if ev.Type != connectors.TypeCallRecorded || ev.Call.ID != call || ev.Call.DurationSeconds != 9 || !strings.HasPrefix(ev.Call.RecordingURL, g.URL+"/files/") {
			t.Fatalf("recording event %+v %+v", ev, ev.Call)
		}
		resp, err := http.Get(ev.Call.RecordingURL)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !bytes.Equal(got, audio) || resp.Header.Get("Content-Type") != "audio/mpeg" {
			t.Fatalf("recording link answered %d %q (%s)", resp.StatusCode, got, resp.Header.Get("Content-Type"))
		}
		if strings.Contains(ev.Call.RecordingURL, fake.URL()) || strings.Contains(ev.Call.RecordingURL, twiliotest.AuthToken) {
			t.Fatal("the recording link names Twilio or a credential")
		}
	})
}
