package twilio_test

import (
	"context"
	"testing"

	"github.com/connector-gateway/connector/connectors/twilio"
	"github.com/connector-gateway/connector/connectors/twilio/twiliotest"
)

// BenchmarkParse is one incoming SMS through Parse: form parsing, the
// signature check and the event.
func BenchmarkParse(b *testing.B) {
	cn, c, _, _ := setup(b)
	req := request(b, entryURL, twiliotest.IncomingSMS("SM0123456789abcdef0123456789abcdef", "Hello, my order #1042 has not arrived yet."))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cn.Parse(context.Background(), c, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseCall is an incoming call: event and TwiML answer.
func BenchmarkParseCall(b *testing.B) {
	cn, c, _, _ := setup(b)
	req := request(b, entryURL+"?kind=voice", twiliotest.Call("CA0123456789abcdef0123456789abcdef", "ringing", -1))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cn.Parse(context.Background(), c, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSignature is the signature check alone on an incoming SMS's
// parameters (about 20 of them, as Twilio sends).
func BenchmarkSignature(b *testing.B) {
	f := twiliotest.IncomingSMS("SM0123456789abcdef0123456789abcdef", "Hello, my order #1042 has not arrived yet.")
	sig := twiliotest.Sign(twiliotest.AuthToken, entryURL, f)
	b.ReportAllocs()
	for b.Loop() {
		if !twilio.ValidSignature(twiliotest.AuthToken, entryURL, f, nil, sig) {
			b.Fatal("refused")
		}
	}
}
