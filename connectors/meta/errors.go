package meta

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/connector-gateway/connector/connectors"
)

// Meta error codes the connectors act on. The Graph API puts them in
// error.code (and error.error_subcode); WhatsApp repeats them in failed
// statuses.
const (
	codeUnknown        = 1
	codeService        = 2
	codeTooManyCalls   = 4   // application request limit
	codePermission     = 10  // Messenger: with subcode 2018278, outside the window
	codeUserLimit      = 17  // user request limit
	codePageLimit      = 32  // page request limit
	codeRateLimit      = 613 // calls exceeded the rate limit
	codeBadToken       = 190 // the access token expired or was revoked
	codeUnavailable    = 551 // Messenger: this person isn't available right now
	subcodeOutOfWindow = 2018278
	subcodeNoUser      = 2018001

	waGeneric       = 131000 // something went wrong
	waServiceDown   = 131016 // service unavailable
	waUndeliverable = 131026
	waOutOfWindow   = 131047 // re-engagement message: over 24 hours since the customer wrote
	waSpamLimit     = 131048
	waPairLimit     = 131056 // too many messages to one number
	waThroughput    = 130429
	waServerDown    = 133004
)

// Default waits for rate limits; the Graph API gives no retry-after.
const (
	defaultRetryAfter = time.Minute
	pairRetryAfter    = 6 * time.Second // WhatsApp allows about one message per 6s to one number
)

// mapError turns an error of a Graph API call into the connectors error
// vocabulary, following connectors/telegram:
//
//   - HTTP 429 or a rate-limit code (4, 17, 32, 613, 130429, 131048,
//     131056) → *connectors.RateLimitedError;
//   - HTTP 5xx or a "try again" code (1, 2, 131000, 131016, 133004), a
//     transport failure or an unreadable answer → a plain error (retried);
//   - any other 4xx (the 24-hour window, a revoked token, a customer who
//     cannot be reached, a bad request) → *connectors.PermanentError, with
//     the reason in plain words.
//
// Tokens travel only in headers, so no error text can hold one.
func mapError(ctx context.Context, typ, op string, err error) error {
	if err == nil {
		return nil
	}
	var ae *apiError
	if !errors.As(err, &ae) {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return fmt.Errorf("%s: %s: %w", typ, op, ctxErr)
		}
		return fmt.Errorf("%s: %s: %w", typ, op, err)
	}
	why := ""
	if h := hint(typ, ae.Code, ae.Subcode); h != "" {
		why = h + ": "
	}
	wrapped := fmt.Errorf("%s: %s: %s%w", typ, op, why, ae)
	switch ae.Code {
	case codeTooManyCalls, codeUserLimit, codePageLimit, codeRateLimit, waThroughput, waSpamLimit:
		return &connectors.RateLimitedError{RetryAfter: defaultRetryAfter, Err: wrapped}
	case waPairLimit:
		return &connectors.RateLimitedError{RetryAfter: pairRetryAfter, Err: wrapped}
	case codeUnknown, codeService, waGeneric, waServiceDown, waServerDown:
		return wrapped
	}
	switch {
	case ae.HTTPStatus == 429:
		return &connectors.RateLimitedError{RetryAfter: defaultRetryAfter, Err: wrapped}
	case ae.HTTPStatus >= 500:
		return wrapped
	case ae.HTTPStatus >= 400:
		return &connectors.PermanentError{Err: wrapped}
	}
	return wrapped
}

// hint says in plain words what a Meta refusal means for the portal (""
// when Meta's own words must do).
func hint(typ string, code, subcode int) string {
	switch {
	case code == waOutOfWindow:
		return "more than 24 hours have passed since the customer last wrote, so WhatsApp accepts only an approved message template until they write again"
	case code == codePermission && subcode == subcodeOutOfWindow:
		return "the message is outside the 24-hour window since the customer last wrote; it can be sent only after they write again"
	case code == codeBadToken:
		return "Meta no longer accepts the access token (expired or revoked); put in a new one"
	case code == codeUnavailable || subcode == subcodeNoUser:
		return "the customer cannot be reached on " + typ + " (they blocked the page, left, or the id is wrong)"
	case code == waUndeliverable:
		return "WhatsApp could not deliver the message to this number (not on WhatsApp, old app, or not accepting messages)"
	case code == waPairLimit:
		return "too many messages to this customer in a short time"
	}
	return ""
}

// permanent is a failure found before calling Meta (bad input).
func permanent(typ, format string, args ...any) error {
	return &connectors.PermanentError{Err: fmt.Errorf(typ+": "+format, args...)}
}

// errNoMessageID: Meta accepted a send but named no message (retried:
// Meta's answer, not the request, was wrong).
var errNoMessageID = errors.New("the Graph API answered without a message id")
