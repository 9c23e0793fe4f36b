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

// defaultRetryAfter is used when Telegram answers 429 without retry_after.
const defaultRetryAfter = time.Second

// mapError turns an error from a Bot API call into the connectors error
// vocabulary, with the token scrubbed from every message:
//
//   - 429 → *connectors.RateLimitedError (RetryAfter from retry_after);
//   - 400, 401, 403, 404 → *connectors.PermanentError (bad chat or message,
//     token revoked, bot blocked or kicked: retrying will not help);
//   - any other Telegram error (5xx, 409...), a transport failure or an
//     unreadable answer → a plain error (transient).
//
// Transport errors from net/http carry the request URL, which embeds the
// token, so they are never wrapped: only their scrubbed text is kept, plus
// ctx's error when ctx ended.
func mapError(ctx context.Context, op, token string, err error) error {
	if err == nil {
		return nil
	}
	var apiErr *tgbotapi.Error
	if errors.As(err, &apiErr) {
		clean := *apiErr
		clean.Message = scrub(clean.Message, token)
		if h := hint(clean.Code, clean.Message); h != "" {
			clean.Message += " (" + h + ")"
		}
		wrapped := fmt.Errorf("telegram: %s: %w", op, &clean)
		switch clean.Code {
		case 429:
			wait := time.Duration(clean.RetryAfter) * time.Second
			if wait <= 0 {
				wait = defaultRetryAfter
			}
			return &connectors.RateLimitedError{RetryAfter: wait, Err: wrapped}
		case 400, 401, 403, 404:
			return &connectors.PermanentError{Err: wrapped}
		default:
			return wrapped
		}
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("telegram: %s: %w", op, ctxErr)
	}
	return &scrubbedError{msg: "telegram: " + op + ": " + scrub(err.Error(), token)}
}

// hint says in plain words what a Telegram refusal means for the portal
// ("" when Telegram's own words are clear enough).
func hint(code int, desc string) string {
	d := strings.ToLower(desc)
	switch {
	case code == 403 && strings.Contains(d, "blocked by the user"):
		return "the customer blocked the bot; nothing can be sent to them until they unblock it"
	case code == 403 && strings.Contains(d, "kicked"):
		return "the bot was removed from this group; add it again to write there"
	case code == 403 && strings.Contains(d, "user is deactivated"):
		return "the customer's Telegram account was deleted"
	case code == 403 && strings.Contains(d, "can't initiate conversation"):
		return "the customer has never written to the bot, and bots may not write first"
	case code == 401 || code == 404 && strings.Contains(d, "not found") && !strings.Contains(d, "chat"):
		return "Telegram no longer accepts the bot token; put in a new one from @BotFather"
	case code == 400 && strings.Contains(d, "chat not found"):
		return "no chat with this id exists for this bot"
	case code == 400 && (strings.Contains(d, "message to edit not found") || strings.Contains(d, "message to delete not found")):
		return "the message does not exist any more, or is not one the bot sent"
	case code == 400 && strings.Contains(d, "message can't be deleted"):
		return "Telegram lets bots delete messages only within 48 hours"
	case code == 400 && (strings.Contains(d, "wrong file identifier/http url") || strings.Contains(d, "failed to get http url content")):
		return "Telegram could not download the file from its URL"
	}
	return ""
}

// scrubbedError is an error whose text was cleaned of the token. It
// deliberately wraps nothing: the original error's text holds the token.
type scrubbedError struct{ msg string }

func (e *scrubbedError) Error() string { return e.msg }

// scrub replaces every spelling of token in s (raw and URL-escaped) with
// "<token>".
func scrub(s, token string) string {
	if token == "" {
		return s
	}
	for _, t := range []string{token, url.PathEscape(token), url.QueryEscape(token)} {
		s = strings.ReplaceAll(s, t, "<token>")
	}
	return s
}

// permanent wraps a failure found before calling Telegram (bad input) as a
// PermanentError.
func permanent(format string, args ...any) error {
	return &connectors.PermanentError{Err: fmt.Errorf("telegram: "+format, args...)}
}
