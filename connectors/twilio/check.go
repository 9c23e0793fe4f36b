package twilio

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/connector-gateway/connector/connectors"
)

// Check names, as shown to the admin.
const (
	checkAccount  = "Account"
	checkNumber   = "Phone number"
	checkWhatsApp = "WhatsApp sender"
	checkWebhooks = "Webhook URLs"
)

// Test checks the connection live: the account answers with the
// credentials (GET the account) and the phone number is one of its
// IncomingPhoneNumbers; then it lists, in plain words, the URLs to paste
// into the number's configuration. Twilio-side and network failures are
// checks with OK false and a Fix, never an error.
func (cn *Connector) Test(ctx context.Context, c connectors.Conn) (connectors.TestReport, error) {
	acct, err := cn.account(ctx, c)
	if err != nil {
		return report(failedCheck(ctx, checkAccount, err)), nil
	}
	if acct.Status != "active" {
		return report(connectors.Check{Name: checkAccount, Detail: fmt.Sprintf("The account %q is %s.", acct.FriendlyName, acct.Status),
			Fix: "Reactivate the account in the Twilio Console (or use an active one)."}), nil
	}
	checks := []connectors.Check{{Name: checkAccount, OK: true, Detail: fmt.Sprintf("The credentials open the account %q.", acct.FriendlyName)}}
	if p := c.Settings[SettingPhoneNumber]; p != "" {
		checks = append(checks, cn.numberCheck(ctx, c, p))
	}
	if wa := c.Settings[SettingWhatsAppNumber]; wa != "" {
		checks = append(checks, connectors.Check{Name: checkWhatsApp, OK: true,
			Detail: "whatsapp:" + wa + " is used as the WhatsApp sender (the gateway cannot check WhatsApp senders; Twilio reports error 63007 on the first reply if it is not set up)."})
	}
	checks = append(checks, webhookCheck(c))
	return report(checks...), nil
}

type account struct {
	FriendlyName string `json:"friendly_name"`
	Status       string `json:"status"`
}

func (cn *Connector) account(ctx context.Context, c connectors.Conn) (account, error) {
	var a account
	err := cn.getJSON(ctx, c, ".json", &a)
	return a, err
}

func (cn *Connector) getJSON(ctx context.Context, c connectors.Conn, path string, v any) error {
	resp, err := cn.do(ctx, c, http.MethodGet, path, nil)
	if err != nil {
		return transportError(ctx, "request", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return classify("request", resp)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4<<20)).Decode(v); err != nil {
		return fmt.Errorf("twilio: request: unreadable answer: %w", err)
	}
	return nil
}

// numberCheck looks the phone number up among the account's numbers.
func (cn *Connector) numberCheck(ctx context.Context, c connectors.Conn, number string) connectors.Check {
	var list struct {
		Numbers []struct {
			PhoneNumber string `json:"phone_number"`
			SMSURL      string `json:"sms_url"`
			VoiceURL    string `json:"voice_url"`
		} `json:"incoming_phone_numbers"`
	}
	if err := cn.getJSON(ctx, c, "/IncomingPhoneNumbers.json?PhoneNumber="+url.QueryEscape(number), &list); err != nil {
		return failedCheck(ctx, checkNumber, err)
	}
	for _, n := range list.Numbers {
		if n.PhoneNumber == number {
			return connectors.Check{Name: checkNumber, OK: true, Detail: number + " is a number of this account."}
		}
	}
	return connectors.Check{Name: checkNumber, Detail: number + " is not a phone number of this account.",
		Fix: "Copy the number exactly as the Twilio Console lists it under Phone Numbers > Active numbers, in E.164 (+14155550100), or buy it on this account."}
}

// webhookCheck lists the URLs to paste into the number's configuration.
func webhookCheck(c connectors.Conn) connectors.Check {
	if c.EntryURL == "" {
		return connectors.Check{Name: checkWebhooks, Detail: "The gateway has no public URL, so Twilio has nowhere to deliver messages and calls.",
			Fix: "Set public_url in the gateway's configuration to the address Twilio reaches the gateway at (exactly as Twilio will call it: Twilio signs that URL)."}
	}
	detail := fmt.Sprintf("In the Twilio Console, on the number's configuration, set \"A message comes in\" to %s (HTTP POST)", c.EntryURL)
	if c.Settings[SettingMessagingService] != "" {
		detail = fmt.Sprintf("In the Messaging Service's Integration, choose \"Send a webhook\" with the request URL %s (HTTP POST)", c.EntryURL)
	}
	if c.Settings[SettingPhoneNumber] != "" {
		detail += fmt.Sprintf("; under Voice set \"A call comes in\" to %s and \"Call status changes\" to %s (both HTTP POST)",
			hookURL(c, kindVoice), hookURL(c, kindCall))
	}
	if c.Settings[SettingWhatsAppNumber] != "" {
		detail += fmt.Sprintf("; for the WhatsApp sender set \"Webhook URL for incoming messages\" to %s", c.EntryURL)
	}
	detail += ". Status callbacks of replies are requested by the gateway itself."
	if c.Settings[SettingConfigureNumber] == "true" {
		detail = "Activating the connection sets the phone number's URLs through Twilio's API. " + detail
	}
	return connectors.Check{Name: checkWebhooks, OK: true, Detail: detail}
}

// failedCheck explains a failed REST call in plain words.
func failedCheck(ctx context.Context, name string, err error) connectors.Check {
	ch := connectors.Check{Name: name, Detail: err.Error() + "."}
	var api *APIError
	switch {
	case asAPIError(err, &api) && (api.HTTPStatus == http.StatusUnauthorized || api.Code == 20003):
		ch.Detail = "Twilio does not accept these credentials."
		ch.Fix = "Copy the Account SID and Auth Token again from the Twilio Console (or the API key SID and secret, if set)."
	case asAPIError(err, &api) && api.HTTPStatus == http.StatusNotFound:
		ch.Detail = "Twilio knows no account with this Account SID for these credentials."
		ch.Fix = "Check the Account SID; an API key must belong to the same account."
	case asAPIError(err, &api) && api.HTTPStatus == http.StatusTooManyRequests:
		ch.Fix = "Wait a minute and test again."
	case ctx.Err() != nil:
		ch.Detail = "The test was cancelled or timed out before Twilio answered."
		ch.Fix = "Test again."
	case asAPIError(err, &api):
		ch.Fix = "Test again later; if it persists, check Twilio's status page."
	default:
		ch.Detail = "The gateway could not reach Twilio: " + err.Error() + "."
		ch.Fix = "Check that the gateway can make outgoing HTTPS requests to api.twilio.com (or the configured twilio.api_url)."
	}
	return ch
}

// report builds a TestReport that is OK when every check is.
func report(checks ...connectors.Check) connectors.TestReport {
	r := connectors.TestReport{OK: true, Checks: checks}
	for _, ch := range checks {
		r.OK = r.OK && ch.OK
	}
	return r
}

// Activate starts receiving. It needs the gateway's public URL. With
// configure_number on, it sets the phone number's "A message comes in",
// "A call comes in" and "Call status changes" URLs to the connection's
// through the IncomingPhoneNumbers API (the same values each time, so it
// is idempotent); otherwise the admin pastes them (Test lists them) and
// Activate calls nothing.
func (cn *Connector) Activate(ctx context.Context, c connectors.Conn) error {
	if c.EntryURL == "" {
		return permanent("activate: the gateway has no public URL configured, so Twilio cannot deliver messages or calls; set public_url")
	}
	if c.Settings[SettingConfigureNumber] != "true" {
		return nil
	}
	return cn.configureNumber(ctx, c, url.Values{
		"SmsUrl": {c.EntryURL}, "SmsMethod": {"POST"},
		"VoiceUrl": {hookURL(c, kindVoice)}, "VoiceMethod": {"POST"},
		"StatusCallback": {hookURL(c, kindCall)}, "StatusCallbackMethod": {"POST"},
	}, false)
}

// Deactivate stops receiving. The gateway refuses webhooks for inactive
// connections on its own. With configure_number on, it also clears the
// number's URLs that still point at this connection (URLs another system
// set since are left alone). Idempotent.
func (cn *Connector) Deactivate(ctx context.Context, c connectors.Conn) error {
	if c.Settings[SettingConfigureNumber] != "true" || c.EntryURL == "" {
		return nil
	}
	return cn.configureNumber(ctx, c, url.Values{
		"SmsUrl": {c.EntryURL}, "VoiceUrl": {hookURL(c, kindVoice)}, "StatusCallback": {hookURL(c, kindCall)},
	}, true)
}

// configureNumber sets the given URLs on the connection's number, or, with
// clear, empties those of them that still have the given values.
func (cn *Connector) configureNumber(ctx context.Context, c connectors.Conn, want url.Values, clear bool) error {
	number := c.Settings[SettingPhoneNumber]
	var list struct {
		Numbers []struct {
			SID            string `json:"sid"`
			PhoneNumber    string `json:"phone_number"`
			SMSURL         string `json:"sms_url"`
			VoiceURL       string `json:"voice_url"`
			StatusCallback string `json:"status_callback"`
		} `json:"incoming_phone_numbers"`
	}
	if err := cn.getJSON(ctx, c, "/IncomingPhoneNumbers.json?PhoneNumber="+url.QueryEscape(number), &list); err != nil {
		return fmt.Errorf("twilio: configure number: %w", err)
	}
	for _, n := range list.Numbers {
		if n.PhoneNumber != number {
			continue
		}
		form := want
		if clear {
			form = url.Values{}
			for key, now := range map[string]string{"SmsUrl": n.SMSURL, "VoiceUrl": n.VoiceURL, "StatusCallback": n.StatusCallback} {
				if now != "" && now == want.Get(key) {
					form.Set(key, "")
				}
			}
			if len(form) == 0 {
				return nil
			}
		}
		resp, err := cn.do(ctx, c, http.MethodPost, "/IncomingPhoneNumbers/"+url.PathEscape(n.SID)+".json", form)
		if err != nil {
			return transportError(ctx, "configure number", err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return classify("configure number", resp)
		}
		return nil
	}
	return permanent("configure number: %s is not a phone number of this account", number)
}
