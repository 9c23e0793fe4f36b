package slack

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/connector-gateway/connector/connectors"
)

// Check names, as shown to the admin.
const (
	checkBotToken      = "Bot token"
	checkScopes        = "Permissions"
	checkSigningSecret = "Signing secret"
	checkEvents        = "Event delivery"
	checkAppToken      = "Socket Mode"
)

// requiredScope is the one scope the connector cannot work without.
const requiredScope = "chat:write"

// readingScopes are the scopes that let the app receive and enrich what
// customers write; each missing one silently loses something.
var readingScopes = map[string]string{
	"im:history":        "direct messages",
	"channels:history":  "messages in public channels",
	"groups:history":    "messages in private channels",
	"mpim:history":      "messages in group DMs",
	"app_mentions:read": "mentions of the app",
	"users:read":        "customers' names and pictures",
	"files:read":        "files customers share",
	"channels:read":     "names of public channels",
	"groups:read":       "names of private channels",
}

// Test checks the connection live: auth.test with the bot token (is it
// valid, which app and workspace), the token's scopes, and by mode either
// the signing secret and whether Slack has reached the entry URL, or the
// app-level token with apps.connections.open. Slack-side and network
// failures are reported as checks with OK=false and a Fix, never as an
// error.
func (cn *Connector) Test(ctx context.Context, c connectors.Conn) (connectors.TestReport, error) {
	token := c.Settings[SettingBotToken]
	if token == "" {
		return report(connectors.Check{Name: checkBotToken, Detail: "No bot token is set.",
			Fix: "Copy the Bot User OAuth Token (xoxb-…) from OAuth & Permissions in your app's settings at api.slack.com/apps."}), nil
	}
	var checks []connectors.Check
	me, err := cn.api(token, "").AuthTestContext(ctx)
	if err != nil {
		checks = append(checks, failedCheck(ctx, checkBotToken, err))
	} else {
		checks = append(checks,
			connectors.Check{Name: checkBotToken, OK: true, Detail: fmt.Sprintf("The token belongs to @%s in the workspace %s (%s).", me.User, me.Team, me.TeamID)},
			scopesCheck(me.Header.Get("X-OAuth-Scopes")))
	}
	if c.Settings[SettingMode] == ModeSocket {
		checks = append(checks, cn.socketCheck(ctx, c))
	} else {
		checks = append(checks, secretCheck(c.Settings[SettingSigningSecret]), cn.eventsCheck(c))
	}
	return report(checks...), nil
}

// report builds a TestReport that is OK when every check is.
func report(checks ...connectors.Check) connectors.TestReport {
	r := connectors.TestReport{OK: true, Checks: checks}
	for _, ch := range checks {
		r.OK = r.OK && ch.OK
	}
	return r
}

// scopesCheck judges the scopes auth.test reported.
func scopesCheck(header string) connectors.Check {
	ch := connectors.Check{Name: checkScopes, OK: true}
	if header == "" {
		ch.Detail = "Slack did not list the token's scopes; make sure the app has chat:write, users:read, files:read and the history scopes of the conversations it should read."
		return ch
	}
	have := map[string]bool{}
	for _, s := range strings.Split(header, ",") {
		have[strings.TrimSpace(s)] = true
	}
	var missing []string
	for s, what := range readingScopes {
		if !have[s] {
			missing = append(missing, fmt.Sprintf("%s (%s)", s, what))
		}
	}
	sort.Strings(missing)
	if !have[requiredScope] {
		ch.OK = false
		ch.Detail = "The app cannot post messages: the chat:write scope is missing."
		ch.Fix = "Add chat:write under OAuth & Permissions → Bot Token Scopes, reinstall the app, and paste the new bot token."
		if len(missing) > 0 {
			ch.Fix += " Consider adding " + strings.Join(missing, ", ") + " too."
		}
		return ch
	}
	ch.Detail = "The app can post messages."
	if len(missing) > 0 {
		ch.Detail += " Without " + strings.Join(missing, ", ") + " the gateway will not get those; add the scopes under OAuth & Permissions and reinstall the app if you need them."
	}
	return ch
}

// secretCheck checks the signing secret's shape; Slack's first signed
// request checks its value.
func secretCheck(secret string) connectors.Check {
	ch := connectors.Check{Name: checkSigningSecret}
	switch {
	case secret == "":
		ch.Detail = "No signing secret is set, so every request from Slack would be refused."
		ch.Fix = "Copy the Signing Secret from Basic Information → App Credentials."
	case !signingSecretShape.MatchString(secret):
		ch.Detail = "The signing secret does not have Slack's form (32 hexadecimal digits)."
		ch.Fix = "Copy the Signing Secret (not the Verification Token or Client Secret) from Basic Information → App Credentials."
	default:
		ch.OK = true
		ch.Detail = "The signing secret has Slack's form; Slack's signed requests prove its value."
	}
	return ch
}

// eventsCheck tells whether Slack can reach the entry URL and whether it
// has (as far as this gateway process saw).
func (cn *Connector) eventsCheck(c connectors.Conn) connectors.Check {
	ch := connectors.Check{Name: checkEvents}
	if c.EntryURL == "" {
		ch.Detail = "The gateway has no public URL, so Slack cannot post events to it."
		ch.Fix = "Configure the gateway's public_url, or switch this connection to socket mode (no public URL needed)."
		return ch
	}
	ch.OK = true
	subscribe := "subscribe to the bot events message.im, message.channels, message.groups, message.mpim and app_mention (and user_change for up-to-date names)"
	if at := cn.lastSeen(c.ID); !at.IsZero() {
		ch.Detail = fmt.Sprintf("Slack's last signed request reached %s at %s. Under Event Subscriptions, %s.", c.EntryURL, at.UTC().Format(time.RFC3339), subscribe)
		return ch
	}
	ch.Detail = fmt.Sprintf("No signed request from Slack has reached this gateway yet. Activate the connection, then under Event Subscriptions enter %s as the Request URL (Slack checks it at once) and %s.", c.EntryURL, subscribe)
	return ch
}

// socketCheck opens a Socket Mode connection URL with the app-level token
// (it does not dial it).
func (cn *Connector) socketCheck(ctx context.Context, c connectors.Conn) connectors.Check {
	app := c.Settings[SettingAppToken]
	if app == "" {
		return connectors.Check{Name: checkAppToken, Detail: "No app-level token is set; socket mode needs one.",
			Fix: "Create an App-Level Token with the connections:write scope under Basic Information → App-Level Tokens and paste it (xapp-…)."}
	}
	if _, _, err := cn.api(c.Settings[SettingBotToken], app).StartSocketModeContext(ctx); err != nil {
		ch := failedCheck(ctx, checkAppToken, err)
		switch slackCode(mapError(ctx, "", err)) {
		case "invalid_auth", "not_authed", "token_revoked":
			ch.Detail = "Slack does not accept the app-level token."
			ch.Fix = "Create an App-Level Token with the connections:write scope under Basic Information → App-Level Tokens and paste it (xapp-…)."
		case "not_allowed_token_type", "missing_scope":
			ch.Detail = "The app-level token cannot open Socket Mode connections."
			ch.Fix = "Give the App-Level Token the connections:write scope, and turn Socket Mode on under Settings → Socket Mode."
		}
		return ch
	}
	return connectors.Check{Name: checkAppToken, OK: true, Detail: "Socket Mode is on and the app-level token opens connections. Under Event Subscriptions, subscribe to the bot events message.im, message.channels, message.groups, message.mpim and app_mention."}
}

// failedCheck explains a failed Web API call in plain words.
func failedCheck(ctx context.Context, name string, err error) connectors.Check {
	ch := connectors.Check{Name: name}
	mapped := mapError(ctx, "", err)
	var rl *connectors.RateLimitedError
	code := slackCode(mapped)
	switch {
	case errors.As(mapped, &rl):
		ch.Detail = fmt.Sprintf("Slack asks to wait %s before the next request.", rl.RetryAfter)
		ch.Fix = "Wait a minute and test again."
	case code == "invalid_auth" || code == "not_authed" || code == "token_revoked" || code == "token_expired" || code == "account_inactive":
		ch.Detail = "Slack does not accept the token: " + codeError{code: code}.Error() + "."
		ch.Fix = "Copy the Bot User OAuth Token (xoxb-…) again from OAuth & Permissions; if the app was uninstalled, install it to the workspace first."
	case code != "":
		ch.Detail = "Slack answered with an error: " + codeError{code: code}.Error() + "."
		ch.Fix = "Check the app's settings at api.slack.com/apps, then test again."
	case ctx.Err() != nil:
		ch.Detail = "The test was cancelled or timed out before Slack answered."
		ch.Fix = "Test again."
	default:
		ch.Detail = "The gateway could not reach Slack: " + err.Error() + "."
		ch.Fix = "Check that the gateway can make outgoing HTTPS requests to slack.com."
	}
	return ch
}

// Activate starts receiving. It checks the bot token with auth.test (so a
// wrong token fails here, not on the first reply). In socket mode it then
// checks the app-level token with apps.connections.open and returns
// connectors.ErrNeedsPolling, and the caller runs Poll. In events
// mode there is nothing to register: Slack posts to the Request URL the
// admin entered in the app's settings, which is c.EntryURL; without a
// public URL activation fails with a plain explanation.
func (cn *Connector) Activate(ctx context.Context, c connectors.Conn) error {
	if _, err := cn.api(c.Settings[SettingBotToken], "").AuthTestContext(ctx); err != nil {
		return mapError(ctx, "check bot token", err)
	}
	switch mode := c.Settings[SettingMode]; mode {
	case ModeSocket:
		app := c.Settings[SettingAppToken]
		if app == "" {
			return errors.New("slack: activate: socket mode needs an app-level token (app_token)")
		}
		// Opening a connection URL (not dialing it) proves the app-level
		// token and Socket Mode before the poller starts.
		if _, _, err := cn.api(c.Settings[SettingBotToken], app).StartSocketModeContext(ctx); err != nil {
			return mapError(ctx, "check app-level token", err)
		}
		return connectors.ErrNeedsPolling
	case ModeEvents, "":
	default:
		return fmt.Errorf("slack: activate: unknown mode %q", mode)
	}
	if c.EntryURL == "" {
		return errors.New("slack: activate: the gateway has no public URL configured, so Slack cannot post events to it; configure one or use socket mode")
	}
	if c.Settings[SettingSigningSecret] == "" {
		return errors.New("slack: activate: events mode needs the app's signing secret (signing_secret)")
	}
	return nil
}

// Deactivate stops receiving. Slack keeps the Request URL in the app's
// settings; the gateway refuses what arrives there for an inactive
// connection. Socket Mode stops with the caller's Poll. Nothing to undo.
func (*Connector) Deactivate(context.Context, connectors.Conn) error { return nil }

// BotKey identifies the app's bot: "slack:<team id>:<bot id>" from
// auth.test, the same for every token of one app installed in one
// workspace.
func (cn *Connector) BotKey(ctx context.Context, c connectors.Conn) (string, error) {
	me, err := cn.api(c.Settings[SettingBotToken], "").AuthTestContext(ctx)
	if err != nil {
		return "", mapError(ctx, "identify bot", err)
	}
	return botKey(me)
}

func botKey(me *slackapi.AuthTestResponse) (string, error) {
	id := firstNonEmpty(me.BotID, me.UserID)
	if me.TeamID == "" || id == "" {
		return "", errors.New("slack: identify bot: auth.test named no team or bot")
	}
	return "slack:" + me.TeamID + ":" + id, nil
}
