package slack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/connector-gateway/connector/connectors"
)

// defaultRetryAfter is the wait when Slack asks to slow down without saying
// how long.
const defaultRetryAfter = time.Second

// transientCodes are Slack error codes that a later try can fix. Every other
// error code Slack answers with describes the request or the installation
// (a wrong channel, a revoked token, a missing scope…), which retrying does
// not change.
var transientCodes = map[string]bool{
	"internal_error":      true,
	"fatal_error":         true,
	"service_unavailable": true,
	"request_timeout":     true,
	"team_added_to_org":   true,
}

// hints explain common Slack error codes in plain words.
var hints = map[string]string{
	"channel_not_found":       "the channel does not exist or the app cannot see it",
	"not_in_channel":          "the app is not a member of the channel; invite it with /invite",
	"is_archived":             "the channel is archived",
	"invalid_auth":            "the bot token is not valid",
	"not_authed":              "no bot token was sent",
	"account_inactive":        "the bot token belongs to a deactivated app or user",
	"token_revoked":           "the bot token was revoked; reinstall the app",
	"token_expired":           "the bot token expired; reinstall the app",
	"missing_scope":           "the app lacks a permission scope this needs; add it under OAuth & Permissions and reinstall",
	"message_not_found":       "the message does not exist (deleted?)",
	"cant_update_message":     "only messages this app sent can be edited",
	"cant_delete_message":     "only messages this app sent can be deleted",
	"edit_window_closed":      "the workspace no longer allows editing this message",
	"msg_too_long":            "the message is too long",
	"no_text":                 "the message has no text",
	"restricted_action":       "a workspace setting prevents the app from posting here",
	"ekm_access_denied":       "the workspace's key management denied access",
	"not_allowed_token_type":  "this call needs a different kind of token",
	"invalid_arguments":       "Slack refused the request's arguments",
	"team_access_not_granted": "the app is not granted access to this workspace",
}

// mapError turns an error from a Web API call into the connectors error
// vocabulary:
//
//   - a rate limit (HTTP 429 or the "ratelimited" error) →
//     *connectors.RateLimitedError with Slack's Retry-After (at least 1s);
//   - the transient error codes above, HTTP 5xx, 408, network trouble →
//     a plain (transient) error;
//   - any other Slack error code or HTTP 4xx → *connectors.PermanentError
//     (channel_not_found, not_in_channel, invalid_auth, account_inactive…).
//
// Tokens are never part of the text: the library sends them in the body or
// an Authorization header, never in the URL.
func mapError(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	var rl *slackapi.RateLimitedError
	if errors.As(err, &rl) {
		wait := rl.RetryAfter
		if wait < defaultRetryAfter {
			wait = defaultRetryAfter
		}
		return &connectors.RateLimitedError{RetryAfter: wait, Err: fmt.Errorf("slack: %s: %w", op, err)}
	}
	var se slackapi.SlackErrorResponse
	if errors.As(err, &se) {
		wrapped := fmt.Errorf("slack: %s: %w", op, codeError{code: se.Err, needed: se.Needed})
		switch {
		case se.Err == "ratelimited":
			return &connectors.RateLimitedError{RetryAfter: defaultRetryAfter, Err: wrapped}
		case transientCodes[se.Err]:
			return wrapped
		default:
			return &connectors.PermanentError{Err: wrapped}
		}
	}
	var sc slackapi.StatusCodeError
	if errors.As(err, &sc) {
		wrapped := fmt.Errorf("slack: %s: Slack answered %s: %w", op, sc.Status, err)
		switch {
		case sc.Code == http.StatusTooManyRequests:
			return &connectors.RateLimitedError{RetryAfter: defaultRetryAfter, Err: wrapped}
		case sc.Code >= 500 || sc.Code == http.StatusRequestTimeout:
			return wrapped
		case sc.Code >= 400:
			return &connectors.PermanentError{Err: wrapped}
		}
		return wrapped
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("slack: %s: %w", op, ctxErr)
	}
	return fmt.Errorf("slack: %s: %w", op, err)
}

// codeError is a Slack error code with its explanation.
type codeError struct {
	code   string
	needed string
}

func (e codeError) Error() string {
	msg := e.code
	if h, ok := hints[e.code]; ok {
		msg += " (" + h + ")"
	}
	if e.needed != "" {
		msg += "; needed scope: " + e.needed
	}
	return msg
}

// Code returns the Slack error code.
func (e codeError) Code() string { return e.code }

// slackCode returns the Slack error code inside err, or "".
func slackCode(err error) string {
	var ce codeError
	if errors.As(err, &ce) {
		return ce.code
	}
	var se slackapi.SlackErrorResponse
	if errors.As(err, &se) {
		return se.Err
	}
	return ""
}

// permanent wraps a failure found before calling Slack (bad input) as a
// PermanentError.
func permanent(format string, args ...any) error {
	return &connectors.PermanentError{Err: fmt.Errorf("slack: "+format, args...)}
}
