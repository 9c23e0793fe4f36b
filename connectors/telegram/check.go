package telegram

import (
	"context"
	"errors"
	"fmt"
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

// webhookCheck judges getWebhookInfo against the connection's mode.
func webhookCheck(c connectors.Conn, info tgbotapi.WebhookInfo) connectors.Check {
	ch := connectors.Check{Name: checkWebhook, OK: true}
	pending := fmt.Sprintf("%d update(s) waiting", info.PendingUpdateCount)
	polling := c.Settings[SettingMode] == ModePolling
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
		ch.Detail = fmt.Sprintf("Telegram delivers to %s, not to this gateway (%s); %s.", info.URL, c.EntryURL, pending)
		ch.Fix = "Activate the connection again, or stop the other tool that uses this bot."
	default:
		ch.Detail = fmt.Sprintf("Telegram delivers to %s; %s.", info.URL, pending)
	}
	if info.LastErrorMessage != "" {
		when := time.Unix(int64(info.LastErrorDate), 0).UTC().Format(time.RFC3339)
		ch.Detail += fmt.Sprintf(" Last delivery error (%s): %s.", when, info.LastErrorMessage)
		if info.URL != "" && info.PendingUpdateCount > 0 && ch.OK {
			ch.OK = false
			ch.Fix = "Telegram cannot deliver to the gateway: check that its public URL is reachable from the internet over HTTPS with a valid certificate."
		}
	}
	return ch
}
