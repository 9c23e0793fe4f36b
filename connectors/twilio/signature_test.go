package twilio_test

import (
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"strings"
	"testing"

	twilioclient "github.com/twilio/twilio-go/client"

	"github.com/connector-gateway/connector/connectors/twilio"
	"github.com/connector-gateway/connector/connectors/twilio/twiliotest"
)

// The worked example of Twilio's "Secure webhooks" guide: auth token
// 12345, this URL and these parameters sign to this value.
var docsExample = struct {
	token, url string
	params     url.Values
	signature  string
}{
	token: "12345",
	url:   "https://mycompany.com/myapp.php?foo=1&bar=2",
	params: url.Values{
		"CallSid": {"CA1234567890ABCDE"}, "Caller": {"+12349013030"}, "Digits": {"1234"},
		"From": {"+12349013030"}, "To": {"+18005551212"},
	},
	signature: "0/KCTR6DLpKmkAf8muzZqo1nDgQ=",
}

// The values of twilio-go's client/request_validator_test.go (v1.31.0).
var (
	goURL    = "https://mycompany.com/myapp.php?foo=1&bar=2"
	goParams = url.Values{
		"Digits": {"1234"}, "CallSid": {"CA1234567890ABCDE"}, "To": {"+18005551212"},
		"Caller": {"+14158675309"}, "From": {"+14158675309"},
		"ReasonConferenceEnded": {"test"}, "Reason": {"Participant"},
	}
	goJSONBody = []byte(`{"property": "value", "boolean": true}`)
	goFormBody = []byte(`property=value&boolean=true`)
	goBodyHash = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
)

func TestSignatureDocsExample(t *testing.T) {
	if got := twilio.Signature(docsExample.token, docsExample.url, docsExample.params); got != docsExample.signature {
		t.Fatalf("Signature = %s, the docs say %s", got, docsExample.signature)
	}
	if got := twiliotest.Sign(docsExample.token, docsExample.url, docsExample.params); got != docsExample.signature {
		t.Fatalf("the test signer gives %s, the docs say %s", got, docsExample.signature)
	}
	if !twilio.ValidSignature(docsExample.token, docsExample.url, docsExample.params, nil, docsExample.signature) {
		t.Fatal("the docs example is refused")
	}
}

// TestSignatureTwilioGoVectors runs the published vectors of twilio-go's
// validator through this package's check, and asserts twilio-go agrees on
// each, so the two cannot drift apart unnoticed.
func TestSignatureTwilioGoVectors(t *testing.T) {
	rv := twilioclient.NewRequestValidator("12345")
	cases := []struct {
		name   string
		url    string
		params url.Values
		body   []byte
		sig    string
		want   bool
	}{
		{"params", goURL, goParams, nil, "vOEb5UThFn24KEfnOFLQY2AE5FY=", true},
		{"wrong signature", goURL, goParams, nil, "WRONG SIGNATURE", false},
		{"https with port, signed without", strings.Replace(goURL, ".com", ".com:1234", 1), goParams, nil, "vOEb5UThFn24KEfnOFLQY2AE5FY=", true},
		{"http without port", strings.Replace(goURL, "https", "http", 1), goParams, nil, "n2xBNyzSW7rfYStDtOFiFMv7qNo=", true},
		{"http with port, signed without", strings.Replace(strings.Replace(goURL, ".com", ".com:1234", 1), "https", "http", 1), goParams, nil, "n2xBNyzSW7rfYStDtOFiFMv7qNo=", true},
		{"params sorted wrongly", goURL, goParams, nil, "95+Bu0JVPi0r/SsESZCVf0dWAjw=", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			flat := map[string]string{}
			for k, v := range tc.params {
				flat[k] = v[0]
			}
			if got := rv.Validate(tc.url, flat, tc.sig); got != tc.want {
				t.Fatalf("twilio-go says %v, the vector %v", got, tc.want)
			}
			if got := twilio.ValidSignature("12345", tc.url, tc.params, nil, tc.sig); got != tc.want {
				t.Fatalf("ValidSignature = %v, twilio-go and the vector %v", got, tc.want)
			}
		})
	}

	bodies := []struct {
		name string
		url  string
		body []byte
		sig  string
		want bool
	}{
		{"json body", goURL + "&bodySHA256=" + goBodyHash, goJSONBody, "a9nBmqA0ju/hNViExpshrM61xv4=", true},
		{"form body", goURL, goFormBody, "NBdBDr/T/lgjI+tlgpXjKZQZs/k=", true},
		{"json body, params signature", goURL, goJSONBody, "vOEb5UThFn24KEfnOFLQY2AE5FY=", false},
		{"json body only", "https://mycompany.com/myapp.php?bodySHA256=" + goBodyHash, goJSONBody, "y77kIzt2vzLz71DgmJGsen2scGs=", true},
		{"json body changed", "https://mycompany.com/myapp.php?bodySHA256=" + goBodyHash, []byte(`{"property": "other"}`), "y77kIzt2vzLz71DgmJGsen2scGs=", false},
	}
	for _, tc := range bodies {
		t.Run(tc.name, func(t *testing.T) {
			if got := rv.ValidateBody(tc.url, tc.body, tc.sig); got != tc.want {
				t.Fatalf("twilio-go says %v, the vector %v", got, tc.want)
			}
			var params url.Values
			if !strings.Contains(tc.url, "bodySHA256") {
				var err error
				if params, err = url.ParseQuery(string(tc.body)); err != nil {
					params = url.Values{}
				}
			}
			if got := twilio.ValidSignature("12345", tc.url, params, tc.body, tc.sig); got != tc.want {
				t.Fatalf("ValidSignature = %v, twilio-go and the vector %v", got, tc.want)
			}
		})
	}
	sum := sha256.Sum256(goJSONBody)
	if hex.EncodeToString(sum[:]) != goBodyHash {
		t.Fatal("the body hash vector does not hash its body")
	}
}

// TestSignatureMatchesTwilioGo compares the two on many generated
// single-valued requests (twilio-go's form validator keeps only the first
// value of a repeated name, so repeats are left to the next test).
func TestSignatureMatchesTwilioGo(t *testing.T) {
	rv := twilioclient.NewRequestValidator(twiliotest.AuthToken)
	for i := range 200 {
		f := twiliotest.IncomingSMS(twiliotest.NewSID("SM"), strings.Repeat("é&=+ ", i%7)+"hi")
		f.Set("Extra"+strings.Repeat("z", i%5), "v")
		u := entryURL + "?kind=status&request=req_" + twiliotest.NewSID("")[:8]
		flat := map[string]string{}
		for k, v := range f {
			flat[k] = v[0]
		}
		sig := twilio.Signature(twiliotest.AuthToken, u, f)
		if !rv.Validate(u, flat, sig) {
			t.Fatalf("twilio-go refuses our signature of %s %v", u, f)
		}
		if sig != twiliotest.Sign(twiliotest.AuthToken, u, f) {
			t.Fatal("the test signer and the product disagree")
		}
	}
}

func TestSignatureRepeatedParameters(t *testing.T) {
	u := "https://gw.example.com/hook/x"
	f := url.Values{"B": {"2"}, "A": {"z", "y", "z"}}
	// Name-sorted, each distinct value sorted, each after its name.
	want := twilio.Signature("tok", u+"AyAzB2", nil)
	if got := twilio.Signature("tok", u, f); got != want {
		t.Fatalf("repeated names sign as %s, want %s", got, want)
	}
	if twiliotest.Sign("tok", u, f) != want {
		t.Fatal("the test signer disagrees on repeated names")
	}
	if !twilio.ValidSignature("tok", u, f, nil, want) {
		t.Fatal("a signature over repeated names is refused")
	}
	if twilio.ValidSignature("tok", u, url.Values{"B": {"2"}, "A": {"z"}}, nil, want) {
		t.Fatal("dropping a repeated value still validates")
	}
}

func TestSignatureRefusals(t *testing.T) {
	f := docsExample.params
	sig := docsExample.signature
	for name, ok := range map[string]bool{
		"missing":         twilio.ValidSignature(docsExample.token, docsExample.url, f, nil, ""),
		"not base64":      twilio.ValidSignature(docsExample.token, docsExample.url, f, nil, "!!!"),
		"truncated":       twilio.ValidSignature(docsExample.token, docsExample.url, f, nil, sig[:20]),
		"other token":     twilio.ValidSignature("54321", docsExample.url, f, nil, sig),
		"no token":        twilio.ValidSignature("", docsExample.url, f, nil, sig),
		"other path":      twilio.ValidSignature(docsExample.token, "https://mycompany.com/other.php?foo=1&bar=2", f, nil, sig),
		"other query":     twilio.ValidSignature(docsExample.token, "https://mycompany.com/myapp.php?foo=1&bar=3", f, nil, sig),
		"other host":      twilio.ValidSignature(docsExample.token, "https://evil.example/myapp.php?foo=1&bar=2", f, nil, sig),
		"http for https":  twilio.ValidSignature(docsExample.token, "http://mycompany.com/myapp.php?foo=1&bar=2", f, nil, sig),
		"param changed":   twilio.ValidSignature(docsExample.token, docsExample.url, url.Values{"CallSid": {"CA1234567890ABCDE"}, "Caller": {"+12349013030"}, "Digits": {"9999"}, "From": {"+12349013030"}, "To": {"+18005551212"}}, nil, sig),
		"param added":     twilio.ValidSignature(docsExample.token, docsExample.url, url.Values{"CallSid": {"CA1234567890ABCDE"}, "Caller": {"+12349013030"}, "Digits": {"1234"}, "From": {"+12349013030"}, "To": {"+18005551212"}, "X": {"1"}}, nil, sig),
		"hash without it": twilio.ValidSignature(docsExample.token, docsExample.url+"&bodySHA256=00", f, []byte("{}"), sig),
	} {
		if ok {
			t.Errorf("%s: accepted", name)
		}
	}
}
