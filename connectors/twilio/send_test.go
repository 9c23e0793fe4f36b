package twilio_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/twilio/twiliotest"
)

func TestSendSMSWithStatusCallback(t *testing.T) {
	cn, c, fake, _ := setup(t)
	d, err := cn.Send(context.Background(), c, connectors.Outbound{ChatID: twiliotest.Customer, Text: "It ships today.", RequestID: "req_42"})
	if err != nil {
		t.Fatal(err)
	}
	sent := fake.Sent()
	if len(sent) != 1 || len(d.MessageIDs) != 1 || d.MessageIDs[0] != sent[0].SID {
		t.Fatalf("delivery %+v sent %+v", d, sent)
	}
	m := sent[0]
	if m.To != twiliotest.Customer || m.From != twiliotest.Number || m.Body != "It ships today." || m.MessagingServiceSID != "" {
		t.Fatalf("sent %+v", m)
	}
	cb, err := url.Parse(m.StatusCallback)
	if err != nil || !strings.HasPrefix(m.StatusCallback, entryURL+"?") || cb.Query().Get("kind") != "status" || cb.Query().Get("request") != "req_42" {
		t.Fatalf("StatusCallback %q", m.StatusCallback)
	}
	req := fake.Requests("/Messages.json")[0]
	if req.User != twiliotest.AccountSID {
		t.Fatalf("authenticated as %q", req.User)
	}
}

func TestSendWhatsAppMediaAndAPIKey(t *testing.T) {
	const keySID, keySecret = "SK0123456789abcdef0123456789abcdef", "key-secret"
	cn, c, fake, _ := setup(t, "api_key_sid", keySID, "api_key_secret", keySecret)
	fake.AddAPIKey(keySID, keySecret)
	_, err := cn.Send(context.Background(), c, connectors.Outbound{ChatID: "whatsapp:" + twiliotest.Customer, Text: "two files", Files: []connectors.OutFile{
		{URL: "https://files.example.com/a.jpg"}, {URL: "https://files.example.com/b.pdf"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	sent := fake.Sent()
	// WhatsApp takes one media per message; the text rides on the first.
	if len(sent) != 2 || sent[0].From != "whatsapp:"+twiliotest.Number || sent[0].Body != "two files" ||
		strings.Join(sent[0].MediaURLs, ",") != "https://files.example.com/a.jpg" || sent[1].Body != "" || sent[1].MediaURLs[0] != "https://files.example.com/b.pdf" {
		t.Fatalf("sent %+v", sent)
	}
	if sent[0].StatusCallback != "" {
		t.Fatal("a StatusCallback without a request id")
	}
	for _, r := range fake.Requests("/Messages.json") {
		if r.User != keySID {
			t.Fatalf("REST call authenticated as %q, want the API key", r.User)
		}
	}
}

func TestSendThroughMessagingServiceSplitsLongText(t *testing.T) {
	const svc = "MG0123456789abcdef0123456789abcdef"
	cn, c, fake, _ := setup(t, "messaging_service_sid", svc)
	text := strings.Repeat("word ", 700) // 3500 characters
	d, err := cn.Send(context.Background(), c, connectors.Outbound{ChatID: twiliotest.Customer, Text: text})
	if err != nil {
		t.Fatal(err)
	}
	sent := fake.Sent()
	var joined string
	for _, m := range sent {
		if m.MessagingServiceSID != svc || m.From != "" || len([]rune(m.Body)) > 1600 {
			t.Fatalf("part %+v", m)
		}
		joined += m.Body
	}
	if len(sent) != 3 || len(d.MessageIDs) != 3 || joined != text {
		t.Fatalf("%d parts, joined equal: %v", len(sent), joined == text)
	}
	// A retry after two parts went out sends only the third.
	if _, err := cn.Send(context.Background(), c, connectors.Outbound{ChatID: twiliotest.Customer, Text: text, SentParts: 2}); err != nil {
		t.Fatal(err)
	}
	if all := fake.Sent(); len(all) != 4 || all[3].Body != sent[2].Body {
		t.Fatalf("retry sent %d", len(all)-3)
	}
}

func TestSendErrors(t *testing.T) {
	for _, tc := range []struct {
		name       string
		httpStatus int
		code       int
		retryAfter int
		permanent  bool
		limited    time.Duration
		says       string
	}{
		{"outside the WhatsApp window", 400, 63016, 0, true, 0, "24 hours"},
		{"invalid number", 400, 21211, 0, true, 0, "not a valid phone number"},
		{"unsubscribed", 400, 21610, 0, true, 0, "STOP"},
		{"unknown 4xx", 400, 21999, 0, true, 0, "error 21999"},
		{"bad credentials", 401, 20003, 0, true, 0, "credentials"},
		{"rate limited", 429, 20429, 7, false, 7 * time.Second, "Too Many"},
		{"server error", 503, 0, 0, false, 0, "HTTP 503"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cn, c, fake, _ := setup(t)
			fake.FailNext("/Messages.json", 1, tc.httpStatus, tc.code, "Too Many Requests or whatever Twilio says", tc.retryAfter)
			_, err := cn.Send(context.Background(), c, connectors.Outbound{ChatID: "whatsapp:" + twiliotest.Customer, Text: "hi"})
			var pe *connectors.PermanentError
			var rl *connectors.RateLimitedError
			switch {
			case err == nil:
				t.Fatal("no error")
			case errors.As(err, &pe) != tc.permanent:
				t.Fatalf("permanent = %v: %v", !tc.permanent, err)
			case tc.limited > 0 && (!errors.As(err, &rl) || rl.RetryAfter != tc.limited):
				t.Fatalf("want rate limited %s: %v", tc.limited, err)
			case tc.limited == 0 && errors.As(err, &rl):
				t.Fatalf("rate limited: %v", err)
			case !strings.Contains(err.Error(), tc.says):
				t.Fatalf("error %q does not say %q", err, tc.says)
			case strings.Contains(err.Error(), twiliotest.AuthToken):
				t.Fatal("the error names the auth token")
			}
		})
	}
}

func TestSendRefusesBadInput(t *testing.T) {
	cn, c, fake, _ := setup(t)
	for name, m := range map[string]connectors.Outbound{
		"not a number": {ChatID: "12345", Text: "x"},
		"empty":        {ChatID: twiliotest.Customer},
		"bad file url": {ChatID: twiliotest.Customer, Files: []connectors.OutFile{{URL: "file:///etc/passwd"}}},
	} {
		var pe *connectors.PermanentError
		if _, err := cn.Send(context.Background(), c, m); !errors.As(err, &pe) {
			t.Errorf("%s: %v", name, err)
		}
	}
	cn2, c2, _, _ := setup(t, "whatsapp_number", "")
	if _, err := cn2.Send(context.Background(), c2, connectors.Outbound{ChatID: "whatsapp:" + twiliotest.Customer, Text: "x"}); err == nil || !strings.Contains(err.Error(), "WhatsApp sender") {
		t.Errorf("whatsapp without a sender: %v", err)
	}
	if n := len(fake.Sent()); n != 0 {
		t.Fatalf("%d sent", n)
	}
}

func TestSendTransportError(t *testing.T) {
	cn, c, _, _ := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := cn.Send(ctx, c, connectors.Outbound{ChatID: twiliotest.Customer, Text: "x"})
	var pe *connectors.PermanentError
	if err == nil || errors.As(err, &pe) || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled send: %v", err)
	}
}
