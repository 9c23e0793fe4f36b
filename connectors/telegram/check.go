package telegram

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/connector-gateway/connector/connectors"
)

// Check names, as shown to the admin.
const (
	checkToken   = "Bot token"
	checkWebhook = "Webhook"
)

// Test checks the connection live: getMe (is the token valid, which bot is
// it) and, when that works, getWebhookInfo (where Telegram delivers updates
// and whether it is failing). Telegram-side and network failures are
// reported as checks with OK=false and a Fix, never as an error; the error
// result is reserved for the gateway's own failures (there are none yet).
func (cn *Connector) Test(ctx context.Context, c connectors.Conn) (connectors.TestReport, error) {
	token := c.Settings[SettingBotToken]
	if token == "" {
		return report(connectors.Check{
			Name:   checkToken,
			Detail: "No bot token is set.",
			Fix:    "Copy the token again from @BotFather",
		}), nil
	}
	bot := cn.bot(ctx, token)

	me, err := bot.GetMe()
	if err != nil {
		return report(failedCheck(ctx, checkToken, token, err)), nil
	}
	tokenOK := connectors.Check{Name: checkToken, OK: true, Detail: fmt.Sprintf("The token belongs to @%s.", me.UserName)}

	info, err := bot.GetWebhookInfo()
	if err != nil {
		return report(tokenOK, failedCheck(ctx, checkWebhook, token, err)), nil
	}
	return report(tokenOK, webhookCheck(c, info)), nil
}

// report builds a TestReport that is OK when every check is.
func report(checks ...connectors.Check) connectors.TestReport {
	r := connectors.TestReport{OK: true, Checks: checks}
	for _, ch := range checks {
		r.OK = r.OK && ch.OK
	}
	return r
}

// failedCheck explains a failed Bot API call in plain words.
func failedCheck(ctx context.Context, name, token string, err error) connectors.Check {
	ch := connectors.Check{Name: name}
	var apiErr *tgbotapi.Error
	switch {
	case errors.As(err, &apiErr) && (apiErr.Code == 401 || apiErr.Code == 404):
		ch.Detail = "Telegram does not know this bot token (" + scrub(apiErr.Message, token) + ")."
		ch.Fix = "Copy the token again from @BotFather"
	case errors.As(err, &apiErr) && apiErr.Code == 429:
		ch.Detail = fmt.Sprintf("Telegram asks to wait %ds before the next request.", apiErr.RetryAfter)
		ch.Fix = "Wait a minute and test again."
	case errors.As(err, &apiErr):
		ch.Detail = fmt.Sprintf("Telegram answered with error %d: %s.", apiErr.Code, scrub(apiErr.Message, token))
		ch.Fix = "Test again later; if it persists, check Telegram's status."
	case ctx.Err() != nil:
		ch.Detail = "The test was cancelled or timed out before Telegram answered."
		ch.Fix = "Test again."
	default:
		ch.Detail = "The gateway could not reach Telegram: " + mapError(ctx, "request", token, err).Error()
		ch.Fix = "Check that the gateway can make outgoing HTTPS requests to api.telegram.org."
	}
	return ch
}

// webhookPorts are the ports Telegram delivers webhooks to.
var webhookPorts = map[string]bool{"443": true, "80": true, "88": true, "8443": true}

// entryURLProblem says why Telegram could not deliver to the entry URL ("" when
// it can): it must exist, be HTTPS and use one of the ports Telegram allows.
func entryURLProblem(entry string) (problem, fix string) {
	if entry == "" {
		return "The gateway has no public URL, so Telegram has nowhere to deliver updates.",
			"Set public_url in the gateway's configuration to an HTTPS address reachable from the internet, or switch the connection to polling mode."
	}
	u, err := url.Parse(entry)
	if err != nil || u.Host == "" {
		return fmt.Sprintf("The entry URL %s is not a valid URL.", entry), "Fix public_url in the gateway's configuration."
	}
	if u.Scheme != "https" {
		return fmt.Sprintf("Telegram delivers webhooks only over HTTPS, and the entry URL %s is not HTTPS.", entry),
			"Serve the gateway behind HTTPS and set public_url to the https:// address, or switch the connection to polling mode."
	}
	port := u.Port()
	if port == "" {
		port = "443"
	}
	if !webhookPorts[port] {
		return fmt.Sprintf("Telegram delivers webhooks only to ports 443, 80, 88 or 8443, and the entry URL %s uses port %s.", entry, port),
			"Publish the gateway on one of those ports and update public_url, or switch the connection to polling mode."
	}
	return "", ""
}

// deliveryProblem puts Telegram's last delivery error in plain words.
func deliveryProblem(msg string) string {
	m := strings.ToLower(msg)
	switch {
	case strings.Contains(m, "ssl") || strings.Contains(m, "certificate"):
		return "Telegram does not trust the gateway's HTTPS certificate (it must be valid, not self-signed unless uploaded)"
	case strings.Contains(m, "connection refused"), strings.Contains(m, "connection timed out"), strings.Contains(m, "read timeout"),
		strings.Contains(m, "failed to resolve host"), strings.Contains(m, "no route to host"):
		return "Telegram cannot reach the gateway at its public URL"
	case strings.Contains(m, "wrong response from the webhook"):
		return "the gateway (or a proxy in front of it) answered Telegram with an error"
	}
	return ""
}

// webhookCheck judges getWebhookInfo against the connection's mode.
func webhookCheck(c connectors.Conn, info tgbotapi.WebhookInfo) connectors.Check {
	ch := connectors.Check{Name: checkWebhook, OK: true}
	pending := fmt.Sprintf("%d update(s) waiting", info.PendingUpdateCount)
	polling := c.Settings[SettingMode] == ModePolling
	if !polling {
		if problem, fix := entryURLProblem(c.EntryURL); problem != "" {
			ch.OK, ch.Detail, ch.Fix = false, problem+" "+strings.ToUpper(pending[:1])+pending[1:]+".", fix
			return ch
		}
	}
	switch {
	case info.URL == "" && polling:
		ch.Detail = "No webhook is set, as polling needs; " + pending + "."
	case info.URL == "":
		ch.Detail = "No webhook is set yet; activating the connection sets it. " + pending + "."
	case polling:
		ch.OK = false
		ch.Detail = fmt.Sprintf("Telegram delivers to %s, so polling receives nothing; %s.", info.URL, pending)
		ch.Fix = "Activate the connection again to remove the webhook, or stop the other tool that uses this bot."
	case c.EntryURL != "" && info.URL != c.EntryURL:
		ch.OK = false
		ch.Detail = fmt.Sprintf("Telegram delivers this bot's updates to %s, which belongs to another system, not to this gateway (%s); %s.", info.URL, c.EntryURL, pending)
		ch.Fix = "Activate the connection again to take the bot over (the other system then stops receiving), or stop the other tool that uses this bot."
	default:
		ch.Detail = fmt.Sprintf("Telegram delivers to %s; %s.", info.URL, pending)
	}
	if info.LastErrorMessage != "" {
		when := time.Unix(int64(info.LastErrorDate), 0).UTC().Format(time.RFC3339)
		ch.Detail += fmt.Sprintf(" Last delivery error (%s): %s.", when, info.LastErrorMessage)
		if p := deliveryProblem(info.LastErrorMessage); p != "" {
			ch.Detail += " That means " + p + "."
		}
		if info.URL != "" && info.PendingUpdateCount > 0 && ch.OK {
			ch.OK = false
			ch.Fix = "Telegram cannot deliver to the gateway: check that its public URL is reachable from the internet over HTTPS with a valid certificate."
		}
	}
	return ch
}
