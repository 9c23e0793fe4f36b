package botframework

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/connector-gateway/connector/connectors"
)

// Check names, as shown to the admin.
const (
	checkCredentials = "App ID and password"
	checkEndpoint    = "Messaging endpoint"
)

// Test checks the connection live: a client-credentials token request with
// the App ID and password (a fresh one, not the cache's) tells whether
// Azure AD knows the app, the secret and the tenant; then it shows the
// messaging endpoint to paste into the Azure Bot registration. Failures are
// checks with OK=false and a Fix in plain words, never an error.
func (cn *Connector) Test(ctx context.Context, c connectors.Conn) (connectors.TestReport, error) {
	creds := connectors.Check{Name: checkCredentials}
	if normalizeAppID(c.Settings[SettingAppID]) == "" || c.Settings[SettingAppPassword] == "" {
		creds.Detail = "The App ID or the App password is not set."
		creds.Fix = "Copy the Microsoft App ID from the Azure Bot's Configuration page and a client secret's Value from its App registration."
		return connectors.TestReport{Checks: []connectors.Check{creds}}, nil
	}
	_, err := cn.tokens.get(ctx, c.Settings, true)
	var te *tokenError
	var rl *connectors.RateLimitedError
	switch {
	case err == nil:
		creds.OK = true
		creds.Detail = fmt.Sprintf("Azure AD issued a Bot Framework token for App ID %s (tenant %s).", normalizeAppID(c.Settings[SettingAppID]), tenantOf(c.Settings))
	case errors.As(err, &te) && te.hasCode(7000215), errors.As(err, &te) && te.hasCode(7000222):
		creds.Detail = "Azure AD refused the App password: " + te.hint() + "."
		creds.Fix = "In the Azure portal, open the bot's App registration → Certificates & secrets, create a new client secret and paste its Value (not its Secret ID)."
	case errors.As(err, &te) && te.hasCode(700016):
		creds.Detail = "Azure AD does not know this App ID: " + te.hint() + "."
		creds.Fix = "Copy the Microsoft App ID from the Azure Bot's Configuration page; for a single-tenant bot, also fill in its tenant id."
	case errors.As(err, &te) && (te.hasCode(90002) || te.hasCode(900023) || te.hasCode(700024)):
		creds.Detail = "Azure AD refused the tenant: " + te.hint() + "."
		creds.Fix = "Copy the Directory (tenant) ID from the App registration's Overview page, or leave the tenant empty for a multi-tenant bot."
	case errors.As(err, &te):
		creds.Detail = fmt.Sprintf("Azure AD refused the token request (%d %s).", te.Status, te.Code)
		creds.Fix = "Check the App ID, password and tenant id against the App registration."
	case errors.As(err, &rl):
		creds.Detail = "Azure AD asks to wait before the next token request."
		creds.Fix = "Wait a minute and test again."
	case ctx.Err() != nil:
		creds.Detail = "The test was cancelled or timed out before Azure AD answered."
		creds.Fix = "Test again."
	default:
		creds.Detail = "The gateway could not get a token from Azure AD: " + err.Error()
		creds.Fix = "Check that the gateway can make outgoing HTTPS requests to login.microsoftonline.com."
	}

	ep := connectors.Check{Name: checkEndpoint}
	if c.EntryURL == "" {
		ep.Detail = "The gateway has no public URL, so Bot Framework has nowhere to deliver messages."
		ep.Fix = "Set public_url in the gateway's configuration to an HTTPS address reachable from the internet."
	} else if !strings.HasPrefix(c.EntryURL, "https://") {
		ep.Detail = "Azure accepts only HTTPS messaging endpoints, and the entry URL " + c.EntryURL + " is not HTTPS."
		ep.Fix = "Serve the gateway behind HTTPS and set public_url to the https:// address; then paste the entry URL into the Azure Bot's Configuration → Messaging endpoint."
	} else {
		ep.OK = true
		ep.Detail = "Paste " + c.EntryURL + " into the Azure Bot's Configuration → Messaging endpoint."
	}
	return connectors.TestReport{OK: creds.OK && ep.OK, Checks: []connectors.Check{creds, ep}}, nil
}
