package twilio_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/connectortest"
	"github.com/connector-gateway/connector/connectors/twilio"
	"github.com/connector-gateway/connector/connectors/twilio/twiliotest"
)

// TestConformance runs the connector suite against the fake Twilio.
func TestConformance(t *testing.T) {
	var fake *twiliotest.Server
	connectortest.Run(t, connectortest.Harness{
		New: func(t *testing.T) (connectors.Connector, connectors.Conn, connectortest.Messenger) {
			cn, c, srv, _ := setup(t)
			fake = srv
			c.Files = &connectortest.Linker{}
			return cn, c, fakeTwilio{srv}
		},
		Settings: connectors.Settings{
			twilio.SettingAccountSID: twiliotest.AccountSID, twilio.SettingAuthToken: twiliotest.AuthToken,
			twilio.SettingPhoneNumber: twiliotest.Number, twilio.SettingWhatsAppNumber: twiliotest.Number,
			twilio.SettingVoiceMode: twilio.VoiceForward, twilio.SettingVoiceForwardTo: "client:agent-1",
		},
		Capabilities: []string{"files", "identify", "webhook"},
		Samples: func(c connectors.Conn) []connectortest.Sample {
			sms := twiliotest.NewSID("SM")
			wa := twiliotest.NewSID("MM")
			media := fake.AddMedia(wa, "image/jpeg", []byte("jpeg"))
			rec, recURL := fake.AddRecording([]byte("mp3"))
			recording := twiliotest.Call(twiliotest.NewSID("CA"), "completed", -1)
			recording.Set("RecordingSid", rec)
			recording.Set("RecordingUrl", recURL)
			return []connectortest.Sample{
				{Name: "incoming SMS", Request: signed(t, entryURL, twiliotest.IncomingSMS(sms, "Hi, my order #1042?"))},
				{Name: "incoming WhatsApp with a photo", Request: signed(t, entryURL, twiliotest.IncomingWhatsApp(wa, "broken", "Anna", [2]string{media, "image/jpeg"}))},
				{Name: "status delivered", Request: signed(t, entryURL+"?kind=status&request=req_1", twiliotest.MessageStatus(sms, twiliotest.Customer, "delivered", 0))},
				{Name: "status read", Request: signed(t, entryURL+"?kind=status&request=req_1", twiliotest.MessageStatus(sms, "whatsapp:"+twiliotest.Customer, "read", 0))},
				{Name: "status failed", Request: signed(t, entryURL+"?kind=status&request=req_1", twiliotest.MessageStatus(sms, "whatsapp:"+twiliotest.Customer, "failed", 63016))},
				{Name: "status sent", Request: signed(t, entryURL+"?kind=status&request=req_1", twiliotest.MessageStatus(sms, twiliotest.Customer, "sent", 0))},
				{Name: "incoming call", Request: signed(t, entryURL+"?kind=voice", twiliotest.Call(twiliotest.NewSID("CA"), "ringing", -1))},
				{Name: "call completed", Request: signed(t, entryURL+"?kind=call", twiliotest.Call(twiliotest.NewSID("CA"), "completed", 3))},
				{Name: "voicemail", Request: signed(t, entryURL+"?kind=recording", recording)},
			}
		},
		Forged: func(c connectors.Conn) []connectortest.Sample {
			f := twiliotest.IncomingSMS(twiliotest.NewSID("SM"), "hi")
			unsigned := twiliotest.Signed(twiliotest.AuthToken, entryURL, f)
			unsigned.Header.Del("X-Twilio-Signature")
			return []connectortest.Sample{
				{Name: "wrong auth token", Request: asRequest(t, entryURL, twiliotest.Signed("0000000000000000000000000000beef", entryURL, f).Header, []byte(f.Encode()))},
				{Name: "signed for another URL", Request: asRequest(t, entryURL, twiliotest.Signed(twiliotest.AuthToken, "https://other.example.com/hook/h4sh", f).Header, []byte(f.Encode()))},
				{Name: "unsigned", Request: asRequest(t, entryURL, unsigned.Header, unsigned.Body)},
			}
		},
		Sign: func(c connectors.Conn, body []byte) connectors.Request {
			form, _ := url.ParseQuery(string(body))
			h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
			h.Set("X-Twilio-Signature", twiliotest.Sign(c.Settings[twilio.SettingAuthToken], entryURL, form))
			return asRequest(t, entryURL, h, body)
		},
		BadCredentials: func(c connectors.Conn) connectors.Conn {
			return connectortest.WithSettings(c, twilio.SettingAuthToken, "00000000000000000000000000000000")
		},
	})
}

func signed(t *testing.T, rawURL string, f url.Values) connectors.Request {
	return request(t, rawURL, f)
}

// fakeTwilio reads back what the fake Messages API received.
type fakeTwilio struct{ srv *twiliotest.Server }

func (fakeTwilio) Chat() string { return twiliotest.Customer }

func (f fakeTwilio) Received(*testing.T) []connectortest.Op {
	var ops []connectortest.Op
	for _, m := range f.srv.Sent() {
		ops = append(ops, connectortest.Op{Kind: "send", ChatID: m.To, MessageID: m.SID, Text: m.Body})
	}
	return ops
}
