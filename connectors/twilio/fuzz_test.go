package twilio_test

import (
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/twilio"
	"github.com/connector-gateway/connector/connectors/twilio/twiliotest"
)

// FuzzParse feeds arbitrary form bodies and kinds, correctly signed, to
// the webhook parser: it must never panic, must refuse only as
// ErrMalformed and then without events, and every event it makes must be
// well formed (ids, chat, content, links without a Twilio URL or secret)
// and encodable; every answer it gives must be TwiML.
func FuzzParse(f *testing.F) {
	for _, seed := range []url.Values{
		twiliotest.IncomingSMS("SM0123456789abcdef0123456789abcdef", "hi"),
		twiliotest.IncomingWhatsApp("MM0123456789abcdef0123456789abcdef", "pic", "A <b>", [2]string{
			"https://api.twilio.com/2010-04-01/Accounts/" + twiliotest.AccountSID + "/Messages/MM0123456789abcdef0123456789abcdef/Media/ME0123456789abcdef0123456789abcdef", "image/png"}),
		twiliotest.MessageStatus("SM0123456789abcdef0123456789abcdef", twiliotest.Customer, "failed", 30003),
		twiliotest.Call("CA0123456789abcdef0123456789abcdef", "completed", 4),
		{"NumMedia": {"99"}, "MessageSid": {"SM1"}, "From": {"x"}, "MediaUrl0": {"%"}, "Latitude": {"1e999"}, "Longitude": {"2"}},
	} {
		for _, kind := range []string{"", "message", "status", "voice", "call", "recording", "dial-end", "bogus"} {
			f.Add(seed.Encode(), kind)
		}
	}
	f.Add("", "")
	f.Add("%zz", "")
	f.Add("a=1&a=2&a=1;b", "call")

	cn := twilio.New(twilio.Options{})
	s, err := cn.ValidateSettings(connectors.Settings{
		"account_sid": twiliotest.AccountSID, "auth_token": twiliotest.AuthToken, "phone_number": twiliotest.Number,
		"voice_mode": "forward", "voice_forward_to": "client:agent",
	})
	if err != nil {
		f.Fatal(err)
	}
	c := connectors.Conn{ID: connID, LineID: lineID, EntryURL: entryURL, Settings: s, Files: &linker{}}

	f.Fuzz(func(t *testing.T, body, kind string) {
		u := entryURL
		if kind != "" {
			u += "?kind=" + url.QueryEscape(kind) + "&request=req_f"
		}
		form, perr := url.ParseQuery(body)
		h := twiliotest.Signed(twiliotest.AuthToken, u, url.Values{}).Header
		h.Set("X-Twilio-Signature", twiliotest.Sign(twiliotest.AuthToken, u, form))
		in, err := cn.Parse(t.Context(), c, asRequest(t, u, h, []byte(body)))
		if err != nil {
			if !errors.Is(err, connectors.ErrMalformed) {
				t.Fatalf("error with a valid signature is not ErrMalformed: %v", err)
			}
			if len(in.Events) != 0 {
				t.Fatalf("events along with error %v", err)
			}
			return
		}
		if perr != nil {
			t.Fatalf("a body url.ParseQuery refuses (%v) was accepted", perr)
		}
		if in.Response == nil || in.Response.ContentType != "text/xml; charset=utf-8" || !strings.HasPrefix(string(in.Response.Body), "<?xml") {
			t.Fatalf("answer %+v", in.Response)
		}
		if len(in.Events) > 1 {
			t.Fatalf("%d events from one webhook", len(in.Events))
		}
		for _, k := range in.Events {
			ev := k.Event
			if ev.ID == "" || k.DedupeKey == "" || ev.ID != connectors.EventID(k.DedupeKey) || !strings.HasPrefix(k.DedupeKey, "twilio:"+connID+":") {
				t.Fatalf("bad ids: key %q, id %q", k.DedupeKey, ev.ID)
			}
			if ev.Chat == nil {
				t.Fatalf("event without chat: %+v", ev)
			}
			switch {
			case ev.Message != nil:
				if ev.Message.ID == "" || ev.Chat.ID == "" || (ev.Message.Text == "" && len(ev.Message.Files) == 0 && ev.Message.Location == nil) {
					t.Fatalf("message %+v chat %+v", ev.Message, ev.Chat)
				}
			case ev.Status != nil:
				if ev.Status.RequestID != "req_f" {
					t.Fatalf("status %+v", ev.Status)
				}
			case ev.Call != nil:
				if ev.Call.ID == "" || !strings.HasPrefix(ev.Type, "call.") {
					t.Fatalf("call %+v", ev.Call)
				}
			default:
				t.Fatalf("event with no content: %+v", ev)
			}
			js, err := json.Marshal(ev)
			if err != nil {
				t.Fatalf("event does not encode: %v", err)
			}
			if strings.Contains(string(js), twiliotest.AuthToken) || strings.Contains(string(js), "api.twilio.com") {
				t.Fatalf("event carries a secret or a Twilio URL: %s", js)
			}
		}
	})
}
