package meta

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/connector-gateway/connector/connectors"
)

// Check names, as shown to the admin.
const (
	checkToken     = "Access token"
	checkAccount   = "Business account"
	checkAppSecret = "App secret"
	checkWebhook   = "Webhook"
)

// webhookFields are the fields the app must subscribe to, per channel.
var webhookFields = map[string]string{
	TypeWhatsApp:  "messages",
	TypeMessenger: "messages, message_edits, message_deliveries, message_reads, messaging_postbacks",
	TypeInstagram: "messages, message_edit, messaging_seen, messaging_postbacks",
}

// Test checks the connection live: the token can read the phone number,
// page or account (and, for WhatsApp with a WABA id, that the number
// belongs to that account); the app secret has Meta's form; and it tells
// the admin what to paste into the app's webhook settings. Meta-side and
// network failures are checks with OK=false and a Fix, never an error.
func (w *WhatsApp) Test(ctx context.Context, c connectors.Conn) (connectors.TestReport, error) {
	ch := channels[TypeWhatsApp]
	var number struct {
		ID                 string `json:"id"`
		DisplayPhoneNumber string `json:"display_phone_number"`
		VerifiedName       string `json:"verified_name"`
	}
	checks := []connectors.Check{}
	id, token := c.Settings[ch.idKey], c.Settings[ch.tokenKey]
	err := w.g.call(ctx, "GET", "/"+url.PathEscape(id)+"?fields=display_phone_number,verified_name", token, nil, &number)
	if err != nil {
		checks = append(checks, failedCheck(ctx, TypeWhatsApp, err, "Create a System User access token with the whatsapp_business_messaging permission (Business settings → System users) and check the Phone number ID under WhatsApp → API Setup."))
	} else {
		checks = append(checks, connectors.Check{Name: checkToken, OK: true,
			Detail: fmt.Sprintf("The token can use the number %s (%s).", firstNonEmpty(number.DisplayPhoneNumber, id), firstNonEmpty(number.VerifiedName, "no verified name yet"))})
		if waba := c.Settings[SettingWABAID]; waba != "" {
			checks = append(checks, w.accountCheck(ctx, token, waba, id))
		}
	}
	checks = append(checks, secretCheck(c.Settings[SettingAppSecret]), webhookCheck(TypeWhatsApp, c))
	return report(checks...), nil
}

// accountCheck tells whether the number is one of the WABA's.
func (w *WhatsApp) accountCheck(ctx context.Context, token, waba, number string) connectors.Check {
	var list struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := w.g.call(ctx, "GET", "/"+url.PathEscape(waba)+"/phone_numbers", token, nil, &list); err != nil {
		ch := failedCheck(ctx, TypeWhatsApp, err, "Check the WhatsApp Business Account ID (WhatsApp → API Setup), or leave it empty.")
		ch.Name = checkAccount
		return ch
	}
	for _, n := range list.Data {
		if n.ID == number {
			return connectors.Check{Name: checkAccount, OK: true, Detail: "The number belongs to the WhatsApp Business Account " + waba + "."}
		}
	}
	return connectors.Check{Name: checkAccount, Detail: "The number is not one of the WhatsApp Business Account " + waba + "'s numbers.",
		Fix: "Check both ids under WhatsApp → API Setup, or leave the account id empty."}
}

// Test checks the connection live; see WhatsApp.Test.
func (ms *Messaging) Test(ctx context.Context, c connectors.Conn) (connectors.TestReport, error) {
	ch := channels[ms.typ]
	id, token := c.Settings[ch.idKey], c.Settings[ch.tokenKey]
	var obj struct {
		ID       string `json:"id"`
		Name     string `json:"name"`
		Username string `json:"username"`
	}
	fields := "id,name"
	fix := "Generate a Page access token with pages_messaging under Messenger → Messenger API Settings, and check the Page ID."
	if ms.typ == TypeInstagram {
		fields = "id,username"
		fix = "Generate an access token with instagram_manage_messages for the account under Instagram → API setup, and check the account id."
	}
	var checks []connectors.Check
	if err := ms.g.call(ctx, "GET", "/"+url.PathEscape(id)+"?fields="+fields, token, nil, &obj); err != nil {
		checks = append(checks, failedCheck(ctx, ms.typ, err, fix))
	} else {
		what := "the Page " + firstNonEmpty(obj.Name, id)
		if ms.typ == TypeInstagram {
			what = "the Instagram account @" + firstNonEmpty(obj.Username, id)
		}
		checks = append(checks, connectors.Check{Name: checkToken, OK: true, Detail: "The token can read " + what + "."})
	}
	checks = append(checks, secretCheck(c.Settings[SettingAppSecret]), webhookCheck(ms.typ, c))
	return report(checks...), nil
}

func report(checks ...connectors.Check) connectors.TestReport {
	r := connectors.TestReport{OK: true, Checks: checks}
	for _, ch := range checks {
		r.OK = r.OK && ch.OK
	}
	return r
}

// failedCheck explains a failed Graph API call in plain words.
func failedCheck(ctx context.Context, typ string, err error, fix string) connectors.Check {
	ch := connectors.Check{Name: checkToken}
	mapped := mapError(ctx, typ, "test", err)
	var rl *connectors.RateLimitedError
	var ae *apiError
	switch {
	case errors.As(mapped, &rl):
		ch.Detail = "Meta asks to wait before the next request."
		ch.Fix = "Wait a few minutes and test again."
	case errors.As(err, &ae) && ae.Code == codeBadToken:
		ch.Detail = "Meta does not accept the access token: " + ae.Error() + "."
		ch.Fix = fix
	case errors.As(err, &ae):
		ch.Detail = "The token cannot read the id it was given: " + ae.Error() + "."
		ch.Fix = fix
	case ctx.Err() != nil:
		ch.Detail = "The test was cancelled or timed out before Meta answered."
		ch.Fix = "Test again."
	default:
		ch.Detail = "The gateway could not reach the Graph API: " + err.Error() + "."
		ch.Fix = "Check that the gateway can make outgoing HTTPS requests to graph.facebook.com."
	}
	return ch
}

// secretCheck checks the app secret's shape; Meta's first signed webhook
// proves its value.
func secretCheck(secret string) connectors.Check {
	ch := connectors.Check{Name: checkAppSecret}
	if !appSecretShape.MatchString(secret) {
		ch.Detail = "The app secret is missing or not 32 hexadecimal digits, so every webhook from Meta would be refused."
		ch.Fix = "Copy the App secret from App settings → Basic in the app dashboard."
		return ch
	}
	ch.OK = true
	ch.Detail = "The app secret has Meta's form; Meta's signed webhooks prove its value."
	return ch
}

// webhookCheck tells the admin what to paste into the app's webhook
// settings; it fails only when Meta could not reach the gateway at all.
func webhookCheck(typ string, c connectors.Conn) connectors.Check {
	ch := connectors.Check{Name: checkWebhook}
	if c.EntryURL == "" {
		ch.Detail = "The gateway has no public URL, so Meta cannot post webhooks to it."
		ch.Fix = "Configure the gateway's public_url (HTTPS; Meta accepts no other), then test again."
		return ch
	}
	where := map[string]string{
		TypeWhatsApp:  "WhatsApp → Configuration",
		TypeMessenger: "Messenger → Messenger API Settings → Webhooks",
		TypeInstagram: "Instagram → API setup → Configure webhooks",
	}[typ]
	ch.OK = true
	ch.Detail = fmt.Sprintf("In the app dashboard under %s, enter the callback URL %s and the verify token %s, press Verify and save, then subscribe to the webhook fields: %s.",
		where, c.EntryURL, c.Settings[SettingVerifyToken], webhookFields[typ])
	if !strings.HasPrefix(c.EntryURL, "https://") {
		ch.Detail += " Meta posts only to HTTPS URLs; this one is not."
	}
	return ch
}

// activate: nothing to register by API — the admin pastes the callback URL
// into the app's settings. It only refuses a connection Meta could not
// reach or whose webhooks it could not verify.
func activate(typ string, c connectors.Conn) error {
	if c.EntryURL == "" {
		return fmt.Errorf("%s: activate: the gateway has no public URL configured, so Meta cannot post webhooks to it", typ)
	}
	if c.Settings[SettingAppSecret] == "" || c.Settings[SettingVerifyToken] == "" {
		return fmt.Errorf("%s: activate: app_secret and verify_token are needed (settings were not validated)", typ)
	}
	return nil
}

// Activate starts receiving; see activate. Idempotent.
func (*WhatsApp) Activate(_ context.Context, c connectors.Conn) error {
	return activate(TypeWhatsApp, c)
}

// Activate starts receiving; see activate. Idempotent.
func (ms *Messaging) Activate(_ context.Context, c connectors.Conn) error { return activate(ms.typ, c) }

// Deactivate stops receiving. The callback URL stays in the app's
// settings; the gateway refuses what arrives for an inactive connection.
// Nothing to undo; idempotent.
func (*WhatsApp) Deactivate(context.Context, connectors.Conn) error { return nil }

// Deactivate stops receiving; see WhatsApp.Deactivate.
func (*Messaging) Deactivate(context.Context, connectors.Conn) error { return nil }

// BotKey is "whatsapp:<phone number id>": one number, one binding.
func (*WhatsApp) BotKey(_ context.Context, c connectors.Conn) (string, error) {
	return botKey(TypeWhatsApp, c)
}

// BotKey is "messenger:<page id>" or "instagram:<account id>".
func (ms *Messaging) BotKey(_ context.Context, c connectors.Conn) (string, error) {
	return botKey(ms.typ, c)
}

func botKey(typ string, c connectors.Conn) (string, error) {
	id := c.Settings[channels[typ].idKey]
	if id == "" {
		return "", permanent(typ, "identify: no %s is set", channels[typ].idKey)
	}
	return typ + ":" + id, nil
}
