package twilio_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/twilio"
	"github.com/connector-gateway/connector/connectors/twilio/twiliotest"
)

func TestIncomingSMS(t *testing.T) {
	cn, c, _, _ := setup(t)
	sid := twiliotest.NewSID("SM")
	f := twiliotest.IncomingSMS(sid, "Hello, my order #1042?")
	f.Set("SomethingTwilioAddsTomorrow", "x") // unknown parameters are ignored
	in := parse(t, cn, c, entryURL, f)
	k := one(t, in)
	ev := k.Event
	if k.DedupeKey != "twilio:"+connID+":"+sid || ev.ID != connectors.EventID(k.DedupeKey) {
		t.Fatalf("key %q id %q", k.DedupeKey, ev.ID)
	}
	if ev.Type != connectors.TypeMessageCreated || ev.Connector != "twilio" || ev.Channel != "twilio" || ev.Connection != connID || ev.Line != lineID {
		t.Fatalf("event %+v", ev)
	}
	if ev.Chat.ID != twiliotest.Customer || ev.Chat.Type != "private" || ev.User.ID != twiliotest.Customer || ev.User.ProfileHash == "" {
		t.Fatalf("chat %+v user %+v", ev.Chat, ev.User)
	}
	if ev.Message.ID != sid || ev.Message.Text != "Hello, my order #1042?" || len(ev.Message.Files) != 0 {
		t.Fatalf("message %+v", ev.Message)
	}
	if in.Response == nil || in.Response.ContentType != "text/xml; charset=utf-8" || !strings.Contains(string(in.Response.Body), "<Response></Response>") {
		t.Fatalf("an incoming message must be answered with empty TwiML (a text answer would be texted back): %+v", in.Response)
	}
	// The same message again (Twilio retries) has the same key and id.
	if again := one(t, parse(t, cn, c, entryURL, f)); again.DedupeKey != k.DedupeKey || again.Event.ID != ev.ID {
		t.Fatal("a retry got another key")
	}
}

func TestIncomingWhatsAppWithMediaAndReply(t *testing.T) {
	cn, c, fake, l := setup(t)
	sid := twiliotest.NewSID("MM")
	img := fake.AddMedia(sid, "image/jpeg", []byte("jpeg bytes"))
	pdf := fake.AddMedia(sid, "application/pdf", []byte("%PDF"))
	f := twiliotest.IncomingWhatsApp(sid, "see attached", "Anna Berg", [2]string{img, "image/jpeg"}, [2]string{pdf, "application/pdf"})
	f.Set("OriginalRepliedMessageSid", "SMfeedfeedfeedfeedfeedfeedfeedfeed")
	ev := one(t, parse(t, cn, c, entryURL, f)).Event
	if ev.Channel != twilio.ChannelWhatsApp || ev.Chat.ID != "whatsapp:"+twiliotest.Customer {
		t.Fatalf("channel %q chat %+v", ev.Channel, ev.Chat)
	}
	if ev.User.Name != "Anna Berg" || ev.User.Username != strings.TrimPrefix(twiliotest.Customer, "+") {
		t.Fatalf("user %+v", ev.User)
	}
	m := ev.Message
	if m.ReplyTo != "SMfeedfeedfeedfeedfeedfeedfeedfeed" || m.Text != "see attached" || len(m.Files) != 2 {
		t.Fatalf("message %+v", m)
	}
	if m.Files[0].Kind != "photo" || m.Files[0].Mime != "image/jpeg" || !strings.HasSuffix(m.Files[0].Name, ".jpg") ||
		m.Files[1].Kind != "document" || !strings.HasSuffix(m.Files[1].Name, ".pdf") {
		t.Fatalf("files %+v", m.Files)
	}
	js, _ := json.Marshal(ev)
	if strings.Contains(string(js), fake.URL()) || strings.Contains(string(js), twiliotest.AuthToken) {
		t.Fatalf("the event names Twilio's media URL or a secret: %s", js)
	}
	// The link's reference streams the bytes, fetched with the credentials.
	fc, err := cn.FetchFile(context.Background(), c, l.Ref(m.Files[0].URL))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(fc.Body)
	fc.Body.Close()
	if string(body) != "jpeg bytes" || fc.Mime != "image/jpeg" {
		t.Fatalf("fetched %q (%s)", body, fc.Mime)
	}
	reqs := fake.Requests("/Media/" + m.Files[0].Name[:34])
	if len(reqs) != 1 || reqs[0].User != twiliotest.AccountSID {
		t.Fatalf("media requests %+v", reqs)
	}
}

// A media reference is the path below the account only: whatever host a
// MediaUrl names, the file is fetched from the configured API, so the
// credentials never go anywhere else; a URL of another account or shape
// gets no link.
func TestMediaIsFetchedFromTheConfiguredAPIOnly(t *testing.T) {
	cn, c, fake, l := setup(t)
	sid := twiliotest.NewSID("MM")
	me := twiliotest.NewSID("ME")
	otherAccount := "https://api.twilio.com/2010-04-01/Accounts/ACffffffffffffffffffffffffffffffff/Messages/" + sid + "/Media/" + me
	f := twiliotest.IncomingWhatsApp(sid, "text", "A",
		[2]string{"https://evil.example/2010-04-01/Accounts/" + twiliotest.AccountSID + "/Messages/" + sid + "/Media/" + me, "image/png"},
		[2]string{otherAccount, "image/png"},
		[2]string{"https://evil.example/steal", "image/png"})
	ev := one(t, parse(t, cn, c, entryURL, f)).Event
	if len(ev.Message.Files) != 1 || ev.Message.Text != "text" {
		t.Fatalf("message %+v", ev.Message)
	}
	_, err := cn.FetchFile(context.Background(), c, l.Ref(ev.Message.Files[0].URL))
	if !errors.Is(err, connectors.ErrNoFile) {
		t.Fatalf("fetch: %v", err)
	}
	if reqs := fake.Requests("/Media/" + me); len(reqs) != 1 {
		t.Fatalf("the configured API got %d requests for the media", len(reqs))
	}
	for _, ref := range []string{"../../../etc/passwd", "Messages/x", "Recordings/RE1"} {
		if _, err := cn.FetchFile(context.Background(), c, ref); !errors.Is(err, connectors.ErrNoFile) {
			t.Fatalf("made-up reference %q: %v", ref, err)
		}
	}
}

func TestMessageWithoutContentIsSkipped(t *testing.T) {
	cn, c, _, _ := setup(t)
	f := twiliotest.IncomingSMS(twiliotest.NewSID("SM"), "")
	if in := parse(t, cn, c, entryURL, f); len(in.Events) != 0 || in.Response == nil {
		t.Fatalf("empty message: %+v", in)
	}
}

func TestSignatureRefusedOnParse(t *testing.T) {
	cn, c, _, _ := setup(t)
	f := twiliotest.IncomingSMS(twiliotest.NewSID("SM"), "hi")
	good := twiliotest.Signed(twiliotest.AuthToken, entryURL, f)
	forged := twiliotest.Signed("0000000000000000000000000000000f", entryURL, f)
	wrongURL := twiliotest.Signed(twiliotest.AuthToken, "https://other.example.com/hook/h4sh", f)
	noHeader := twiliotest.Signed(twiliotest.AuthToken, entryURL, f)
	noHeader.Header.Del("X-Twilio-Signature")
	tampered := twiliotest.Signed(twiliotest.AuthToken, entryURL, f)
	tampered.Body = []byte(strings.Replace(string(tampered.Body), "Body=hi", "Body=pay+now", 1))
	for name, wh := range map[string]twiliotest.Webhook{"forged": forged, "signed for another URL": wrongURL, "missing": noHeader, "tampered body": tampered} {
		in, err := cn.Parse(context.Background(), c, asRequest(t, entryURL, wh.Header, wh.Body))
		if !errors.Is(err, connectors.ErrUnauthorized) || len(in.Events) != 0 {
			t.Errorf("%s: err %v, %d events", name, err, len(in.Events))
		}
	}
	// Signed for the entry URL, but delivered with a query added.
	in, err := cn.Parse(context.Background(), c, asRequest(t, entryURL+"?kind=status&request=req_x", good.Header, good.Body))
	if !errors.Is(err, connectors.ErrUnauthorized) || len(in.Events) != 0 {
		t.Errorf("query added: err %v", err)
	}
	if _, err := cn.Parse(context.Background(), c, asRequest(t, entryURL, good.Header, good.Body)); err != nil {
		t.Fatalf("the good one: %v", err)
	}
}

func TestMalformed(t *testing.T) {
	cn, c, _, _ := setup(t)
	for name, body := range map[string]string{"bad escape": "Body=%zz&From=x", "no sids": "From=%2B1&Body=hi"} {
		h := twiliotest.Signed(twiliotest.AuthToken, entryURL, url.Values{}).Header
		form, _ := url.ParseQuery(body)
		h.Set("X-Twilio-Signature", twiliotest.Sign(twiliotest.AuthToken, entryURL, form))
		if _, err := cn.Parse(context.Background(), c, asRequest(t, entryURL, h, []byte(body))); !errors.Is(err, connectors.ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestStatusCallbacks(t *testing.T) {
	cn, c, _, _ := setup(t)
	sid := twiliotest.NewSID("SM")
	cb := withKind("status", "request", "req_abc")
	for _, tc := range []struct {
		status string
		code   int
		typ    string
		reason string
	}{
		{"queued", 0, "", ""},
		{"sent", 0, "", ""},
		{"delivered", 0, connectors.TypeStatusDelivered, ""},
		{"read", 0, connectors.TypeStatusRead, ""},
		{"undelivered", 30003, connectors.TypeStatusFailed, "unreachable"},
		{"failed", 63016, connectors.TypeStatusFailed, "24 hours"},
		{"failed", 21610, connectors.TypeStatusFailed, "unsubscribed"},
	} {
		in := parse(t, cn, c, cb, twiliotest.MessageStatus(sid, "whatsapp:"+twiliotest.Customer, tc.status, tc.code))
		if tc.typ == "" {
			if len(in.Events) != 0 {
				t.Errorf("%s: %d events", tc.status, len(in.Events))
			}
			continue
		}
		k := one(t, in)
		ev := k.Event
		if ev.Type != tc.typ || ev.Status.RequestID != "req_abc" || ev.Status.Operation != "send" || ev.Chat.ID != "whatsapp:"+twiliotest.Customer ||
			len(ev.Status.MessengerMessageIDs) != 1 || ev.Status.MessengerMessageIDs[0] != sid || ev.User != nil {
			t.Errorf("%s: %+v %+v", tc.status, ev, ev.Status)
		}
		if k.DedupeKey != "twilio:"+connID+":"+sid+":status:"+tc.status {
			t.Errorf("%s: key %s", tc.status, k.DedupeKey)
		}
		if !strings.Contains(ev.Status.Error, tc.reason) {
			t.Errorf("%s %d: reason %q, want it to say %q", tc.status, tc.code, ev.Status.Error, tc.reason)
		}
		if tc.status == "read" && (!contains(k.Supersedes, "twilio:"+connID+":"+sid+":status:delivered") || !contains(k.Supersedes, "twilio:"+connID+":"+sid+":status:sent")) {
			t.Errorf("read supersedes %v", k.Supersedes)
		}
	}
	// A status callback without a request id is not about a portal request.
	if in := parse(t, cn, c, withKind("status"), twiliotest.MessageStatus(sid, twiliotest.Customer, "delivered", 0)); len(in.Events) != 0 {
		t.Fatal("status without request id made an event")
	}
}

// twimlDoc is a generic parse of a TwiML answer.
type twimlNode struct {
	XMLName  xml.Name
	Attrs    []xml.Attr  `xml:",any,attr"`
	Text     string      `xml:",chardata"`
	Children []twimlNode `xml:",any"`
}

func parseTwiML(t *testing.T, b []byte) twimlNode {
	t.Helper()
	var n twimlNode
	if err := xml.Unmarshal(b, &n); err != nil {
		t.Fatalf("TwiML does not parse: %v\n%s", err, b)
	}
	if n.XMLName.Local != "Response" {
		t.Fatalf("root %s", n.XMLName.Local)
	}
	return n
}

func attr(n twimlNode, name string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func TestVoiceTwiMLPerMode(t *testing.T) {
	for _, tc := range []struct {
		settings []string
		verbs    string
		check    func(t *testing.T, r twimlNode)
	}{
		{[]string{"voice_mode", "none"}, "Reject", nil},
		{[]string{"voice_mode", "forward", "voice_forward_to", "+14155550111"}, "Dial", func(t *testing.T, r twimlNode) {
			n := r.Children[0].Children[0]
			if n.XMLName.Local != "Number" || n.Text != "+14155550111" || attr(n, "statusCallbackEvent") != "initiated ringing answered completed" ||
				attr(n, "statusCallback") != entryURL+"?kind=call" || attr(r.Children[0], "action") != entryURL+"?kind=dial-end" {
				t.Fatalf("dial %+v", r.Children[0])
			}
		}},
		{[]string{"voice_mode", "forward", "voice_forward_to", "sip:agent@pbx.example.com;transport=tls"}, "Dial", func(t *testing.T, r twimlNode) {
			n := r.Children[0].Children[0]
			if n.XMLName.Local != "Sip" || n.Text != "sip:agent@pbx.example.com;transport=tls" || attr(n, "statusCallback") == "" {
				t.Fatalf("sip %+v", n)
			}
		}},
		{[]string{"voice_mode", "forward", "voice_forward_to", "client:agent-1"}, "Dial", func(t *testing.T, r twimlNode) {
			n := r.Children[0].Children[0]
			if n.XMLName.Local != "Client" || n.Children[0].XMLName.Local != "Identity" || n.Children[0].Text != "agent-1" {
				t.Fatalf("client %+v", n)
			}
		}},
		{[]string{"voice_mode", "queue", "voice_queue", "support & sales"}, "Enqueue", func(t *testing.T, r twimlNode) {
			if r.Children[0].Text != "support & sales" || attr(r.Children[0], "action") != entryURL+"?kind=queue-end" {
				t.Fatalf("enqueue %+v", r.Children[0])
			}
		}},
		{[]string{"voice_mode", "voicemail", "voice_message", `Closed <now> & "back" at 9`}, "Say Record Hangup", func(t *testing.T, r twimlNode) {
			if r.Children[0].Text != `Closed <now> & "back" at 9` || attr(r.Children[1], "action") != entryURL+"?kind=recording" {
				t.Fatalf("voicemail %+v", r.Children)
			}
		}},
	} {
		t.Run(strings.Join(tc.settings, "="), func(t *testing.T) {
			cn, c, _, _ := setup(t, tc.settings...)
			in := parse(t, cn, c, withKind("voice"), twiliotest.Call(twiliotest.NewSID("CA"), "ringing", -1))
			if in.Response == nil || in.Response.ContentType != "text/xml; charset=utf-8" {
				t.Fatalf("response %+v", in.Response)
			}
			r := parseTwiML(t, in.Response.Body)
			var names []string
			for _, v := range r.Children {
				names = append(names, v.XMLName.Local)
			}
			if strings.Join(names, " ") != tc.verbs {
				t.Fatalf("verbs %v, want %s\n%s", names, tc.verbs, in.Response.Body)
			}
			if tc.check != nil {
				tc.check(t, r)
			}
			if k := one(t, in); k.Event.Type != connectors.TypeCallRinging {
				t.Fatalf("the incoming call is reported as %s", k.Event.Type)
			}
		})
	}
}

// A caller's name is handed to the agent's client as a parameter: markup
// in it must come out as text.
func TestVoiceTwiMLEscapesCallerValues(t *testing.T) {
	cn, c, _, _ := setup(t)
	f := twiliotest.Call(twiliotest.NewSID("CA"), "ringing", -1)
	evil := `Eve"/><Redirect>https://evil.example</Redirect><Say a="&amp;`
	f.Set("CallerName", evil)
	in := parse(t, cn, c, entryURL, f) // no kind: CallSid without MessageSid is a call
	body := string(in.Response.Body)
	if strings.Contains(body, "<Redirect>") || !strings.Contains(body, "&lt;Redirect&gt;") || !strings.Contains(body, "&#34;") || !strings.Contains(body, "&amp;amp;") {
		t.Fatalf("caller name not escaped:\n%s", body)
	}
	r := parseTwiML(t, in.Response.Body)
	client := r.Children[0].Children[0]
	var got string
	for _, p := range client.Children {
		if p.XMLName.Local == "Parameter" && attr(p, "name") == "caller_name" {
			got = attr(p, "value")
		}
	}
	if got != evil || len(r.Children) != 1 {
		t.Fatalf("caller_name parameter %q; verbs %d", got, len(r.Children))
	}
}

func TestCallLifecycle(t *testing.T) {
	cn, c, _, _ := setup(t)
	sid := twiliotest.NewSID("CA")
	want := map[string]string{
		"queued": connectors.TypeCallInitiated, "initiated": connectors.TypeCallInitiated, "ringing": connectors.TypeCallRinging,
		"in-progress": connectors.TypeCallAnswered, "completed": connectors.TypeCallCompleted,
		"busy": connectors.TypeCallFailed, "no-answer": connectors.TypeCallFailed, "failed": connectors.TypeCallFailed, "canceled": connectors.TypeCallFailed,
	}
	for status, typ := range want {
		f := twiliotest.Call(sid, status, 3)
		f.Set("AnsweredBy", "human")
		k := one(t, parse(t, cn, c, withKind("call"), f))
		ev := k.Event
		if ev.Type != typ || ev.Call.ID != sid || ev.Call.Status != status || ev.Call.From != twiliotest.Customer || ev.Call.To != twiliotest.Number ||
			ev.Call.Direction != "inbound" || ev.Call.AnsweredBy != "human" || ev.Chat.ID != twiliotest.Customer {
			t.Errorf("%s: %+v call %+v", status, ev, ev.Call)
		}
		if status == "completed" && ev.Call.DurationSeconds != 42 {
			t.Errorf("completed: duration %d", ev.Call.DurationSeconds)
		}
		if typ == connectors.TypeCallCompleted || typ == connectors.TypeCallFailed {
			for _, earlier := range []string{"call.initiated", "call.ringing", "call.answered"} {
				if !contains(k.Supersedes, "twilio:"+connID+":"+sid+":"+earlier) {
					t.Errorf("%s does not supersede %s: %v", status, earlier, k.Supersedes)
				}
			}
		}
	}
	// An unknown status is ignored, not refused.
	if in := parse(t, cn, c, withKind("call"), twiliotest.Call(sid, "someday", 9)); len(in.Events) != 0 {
		t.Fatal("unknown call status made an event")
	}
	// The end of a dial or queue hangs up and reports nothing itself.
	for _, kind := range []string{"dial-end", "queue-end"} {
		in := parse(t, cn, c, withKind(kind), twiliotest.Call(sid, "in-progress", -1))
		if len(in.Events) != 0 || !strings.Contains(string(in.Response.Body), "<Hangup></Hangup>") {
			t.Fatalf("%s: %+v", kind, in)
		}
	}
}

func TestDialledLegCarriesParent(t *testing.T) {
	cn, c, _, _ := setup(t)
	parent, child := twiliotest.NewSID("CA"), twiliotest.NewSID("CA")
	f := twiliotest.Call(child, "ringing", 1)
	f.Set("ParentCallSid", parent)
	f.Set("Direction", "outbound-dial")
	f.Set("To", "client:agent-1")
	ev := one(t, parse(t, cn, c, withKind("call"), f)).Event
	if ev.Call.ParentID != parent || ev.Call.Direction != "outbound-dial" || ev.Chat.ID != twiliotest.Customer {
		t.Fatalf("leg %+v chat %+v", ev.Call, ev.Chat)
	}
}

func TestVoicemailRecording(t *testing.T) {
	cn, c, fake, l := setup(t, "voice_mode", "voicemail")
	sid := twiliotest.NewSID("CA")
	rec, recURL := fake.AddRecording([]byte("ID3 mp3"))
	f := twiliotest.Call(sid, "completed", -1)
	f.Set("RecordingSid", rec)
	f.Set("RecordingUrl", recURL)
	f.Set("RecordingDuration", "7")
	in := parse(t, cn, c, withKind("recording"), f)
	ev := one(t, in).Event
	if ev.Type != connectors.TypeCallRecorded || ev.Call.DurationSeconds != 7 || ev.Call.RecordingURL == "" || strings.Contains(ev.Call.RecordingURL, fake.URL()) {
		t.Fatalf("recording %+v", ev.Call)
	}
	fc, err := cn.FetchFile(context.Background(), c, l.Ref(ev.Call.RecordingURL))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(fc.Body)
	fc.Body.Close()
	if string(b) != "ID3 mp3" || fc.Mime != "audio/mpeg" {
		t.Fatalf("recording fetched %q %s", b, fc.Mime)
	}
	if !strings.Contains(string(in.Response.Body), "<Hangup>") {
		t.Fatalf("answer %s", in.Response.Body)
	}
}

func TestJSONWebhooks(t *testing.T) {
	cn, c, _, _ := setup(t)
	body := []byte(`{"event":"something from Event Streams"}`)
	sum := sha256.Sum256(body)
	u := entryURL + "?bodySHA256=" + hex.EncodeToString(sum[:])
	h := http.Header{"Content-Type": {"application/json"}}
	h.Set("X-Twilio-Signature", twilio.Signature(twiliotest.AuthToken, u, nil))
	in, err := cn.Parse(context.Background(), c, asRequest(t, u, h, body))
	if err != nil || len(in.Events) != 0 || in.Response == nil {
		t.Fatalf("signed JSON: %+v %v", in, err)
	}
	// The body changed under the same signature.
	if _, err := cn.Parse(context.Background(), c, asRequest(t, u, h, []byte(`{"event":"forged"}`))); !errors.Is(err, connectors.ErrUnauthorized) {
		t.Fatalf("changed JSON body: %v", err)
	}
	// JSON signed over the URL alone, without bodySHA256: the body is not covered.
	h.Set("X-Twilio-Signature", twilio.Signature(twiliotest.AuthToken, entryURL, nil))
	if _, err := cn.Parse(context.Background(), c, asRequest(t, entryURL, h, body)); !errors.Is(err, connectors.ErrUnauthorized) {
		t.Fatalf("JSON without bodySHA256: %v", err)
	}
}

// What keeps a late delivered from following a read: the read names the
// exact key the late delivered arrives under (the outbox then drops it).
func TestReadSupersedesTheLateDelivered(t *testing.T) {
	cn, c, _, _ := setup(t)
	sid := twiliotest.NewSID("SM")
	cb := withKind("status", "request", "req_9")
	read := one(t, parse(t, cn, c, cb, twiliotest.MessageStatus(sid, "whatsapp:"+twiliotest.Customer, "read", 0)))
	late := one(t, parse(t, cn, c, cb, twiliotest.MessageStatus(sid, "whatsapp:"+twiliotest.Customer, "delivered", 0)))
	if !contains(read.Supersedes, late.DedupeKey) {
		t.Fatalf("read supersedes %v, the late delivered arrives as %s", read.Supersedes, late.DedupeKey)
	}
	// Likewise a call: completed supersedes a late ringing or answered.
	call := twiliotest.NewSID("CA")
	done := one(t, parse(t, cn, c, withKind("call"), twiliotest.Call(call, "completed", 5)))
	for _, st := range []string{"ringing", "in-progress", "initiated", "no-answer"} {
		if k := one(t, parse(t, cn, c, withKind("call"), twiliotest.Call(call, st, 1))); !contains(done.Supersedes, k.DedupeKey) {
			t.Errorf("completed does not supersede a late %s (%s): %v", st, k.DedupeKey, done.Supersedes)
		}
	}
}
