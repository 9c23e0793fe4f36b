package twilio_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/twilio"
	"github.com/connector-gateway/connector/connectors/twilio/twiliotest"
)

func TestTestReport(t *testing.T) {
	cn, c, fake, _ := setup(t)
	rep, err := cn.Test(context.Background(), c)
	if err != nil || !rep.OK || len(rep.Checks) != 4 {
		t.Fatalf("report %+v, %v", rep, err)
	}
	hooks := rep.Checks[3].Detail
	for _, want := range []string{entryURL + " (HTTP POST)", entryURL + "?kind=voice", entryURL + "?kind=call"} {
		if !strings.Contains(hooks, want) {
			t.Errorf("webhook check does not name %s: %s", want, hooks)
		}
	}
	if !strings.Contains(rep.Checks[0].Detail, twiliotest.FriendlyName) {
		t.Errorf("account check %+v", rep.Checks[0])
	}
	if reqs := fake.Requests("/IncomingPhoneNumbers.json"); len(reqs) != 1 || reqs[0].Query.Get("PhoneNumber") != twiliotest.Number {
		t.Errorf("number lookups %+v", reqs)
	}
}

func TestTestReportFailures(t *testing.T) {
	t.Run("bad credentials", func(t *testing.T) {
		cn, c, _, _ := setup(t, "auth_token", "00000000000000000000000000000000")
		rep, _ := cn.Test(context.Background(), c)
		if rep.OK || rep.Checks[0].Fix == "" || strings.Contains(rep.Checks[0].Detail, "00000000000000000000000000000000") {
			t.Fatalf("%+v", rep)
		}
	})
	t.Run("number not on the account", func(t *testing.T) {
		cn, c, _, _ := setup(t, "phone_number", "+14155550177")
		rep, _ := cn.Test(context.Background(), c)
		if rep.OK || rep.Checks[1].OK || rep.Checks[1].Fix == "" {
			t.Fatalf("%+v", rep)
		}
	})
	t.Run("suspended", func(t *testing.T) {
		cn, c, fake, _ := setup(t)
		fake.SetAccountStatus("suspended")
		rep, _ := cn.Test(context.Background(), c)
		if rep.OK || rep.Checks[0].Fix == "" {
			t.Fatalf("%+v", rep)
		}
	})
	t.Run("no public URL", func(t *testing.T) {
		cn, c, _, _ := setup(t)
		c.EntryURL = ""
		rep, _ := cn.Test(context.Background(), c)
		last := rep.Checks[len(rep.Checks)-1]
		if rep.OK || last.OK || !strings.Contains(last.Fix, "public_url") {
			t.Fatalf("%+v", rep)
		}
		if err := cn.Activate(context.Background(), c); err == nil {
			t.Fatal("activated without a public URL")
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		cn := twilio.New(twilio.Options{APIURL: "http://127.0.0.1:1"})
		_, c, _, _ := setup(t)
		rep, _ := cn.Test(context.Background(), c)
		if rep.OK || !strings.Contains(rep.Checks[0].Fix, "twilio.api_url") {
			t.Fatalf("%+v", rep)
		}
	})
}

func TestActivateDeactivateIdempotent(t *testing.T) {
	cn, c, fake, _ := setup(t)
	for range 2 {
		if err := cn.Activate(context.Background(), c); err != nil {
			t.Fatal(err)
		}
		if err := cn.Deactivate(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(fake.Requests("")); n != 0 {
		t.Fatalf("%d REST calls", n)
	}
}

func TestBotKey(t *testing.T) {
	cn, c, _, _ := setup(t)
	if k, err := cn.BotKey(context.Background(), c); err != nil || k != "twilio:"+twiliotest.AccountSID+":"+twiliotest.Number {
		t.Fatalf("%q %v", k, err)
	}
	c.Settings = connectors.Settings{"account_sid": twiliotest.AccountSID, "whatsapp_number": "+14155550123"}
	if k, _ := cn.BotKey(context.Background(), c); k != "twilio:"+twiliotest.AccountSID+":whatsapp:+14155550123" {
		t.Fatalf("whatsapp-only key %q", k)
	}
}

func TestActivateConfiguresTheNumber(t *testing.T) {
	cn, c, fake, _ := setup(t, "configure_number", "true")
	for range 2 {
		if err := cn.Activate(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
	n, _ := fake.Number(twiliotest.Number)
	if n.SMSURL != entryURL || n.SMSMethod != "POST" || n.VoiceURL != entryURL+"?kind=voice" || n.StatusCallback != entryURL+"?kind=call" {
		t.Fatalf("number after activate %+v", n)
	}
	// Another system takes the voice URL over; deactivating clears only
	// what is still ours.
	other := "https://pbx.example.com/voice"
	setVoice(t, fake, n.SID, other)
	for range 2 {
		if err := cn.Deactivate(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
	n, _ = fake.Number(twiliotest.Number)
	if n.SMSURL != "" || n.StatusCallback != "" || n.VoiceURL != other {
		t.Fatalf("number after deactivate %+v", n)
	}
	// A number the account does not have: a plain refusal.
	cn2, c2, _, _ := setup(t, "configure_number", "true", "phone_number", "+14155550177")
	var pe *connectors.PermanentError
	if err := cn2.Activate(context.Background(), c2); !errors.As(err, &pe) || !strings.Contains(err.Error(), "not a phone number of this account") {
		t.Fatalf("activate with a foreign number: %v", err)
	}
}

// setVoice changes a number's voice URL as another system would.
func setVoice(t *testing.T, fake *twiliotest.Server, sid, voiceURL string) {
	t.Helper()
	req, _ := http.NewRequest("POST", fake.URL()+"/2010-04-01/Accounts/"+twiliotest.AccountSID+"/IncomingPhoneNumbers/"+sid+".json",
		strings.NewReader(url.Values{"VoiceUrl": {voiceURL}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(twiliotest.AccountSID, twiliotest.AuthToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("set voice url: %v %v", resp, err)
	}
	resp.Body.Close()
}
