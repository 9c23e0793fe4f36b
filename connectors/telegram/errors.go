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
