package botframework

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/connector-gateway/connector/connectors"
)

// defaultRetryAfter is used when a 429 names no Retry-After.
const defaultRetryAfter = time.Second

// permanent wraps a failure retrying will not fix as a PermanentError.
func permanent(format string, args ...any) error {
	return &connectors.PermanentError{Err: fmt.Errorf("botframework: "+format, args...)}
}

// retryAfter reads Retry-After (seconds or an HTTP date).
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if n, err := strconv.Atoi(v); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return defaultRetryAfter
}

// serviceError maps a non-2xx answer of the Connector service into the
// connectors error vocabulary:
//
//   - 429 → *connectors.RateLimitedError (Retry-After);
//   - 5xx and other codes → a plain error (transient);
//   - 400, 401 (after a fresh token), 403, 404, 405, 409, 413 →
//     *connectors.PermanentError with the reason in plain words.
//
// Bot Framework's own error text ({"error":{"code","message"}}) is kept,
// truncated; it never holds the access token.
func serviceError(op string, resp *http.Response, body []byte, now time.Time) error {
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
		Message string `json:"message"`
	}
	_ = json.Unmarshal(body, &e)
	detail := e.Error.Message
	if detail == "" {
		detail = e.Message
	}
	if e.Error.Code != "" {
		detail = e.Error.Code + ": " + detail
	}
	msg := fmt.Sprintf("botframework: %s: the Connector service answered %s", op, resp.Status)
	if detail != "" {
		msg += " (" + truncate(detail, 200) + ")"
	}
	if h := serviceHint(resp.StatusCode); h != "" {
		msg += ": " + h
	}
	err := fmt.Errorf("%s", msg)
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		return &connectors.RateLimitedError{RetryAfter: retryAfter(resp.Header, now), Err: err}
	case resp.StatusCode >= 500:
		return err
	case resp.StatusCode >= 400:
		return &connectors.PermanentError{Err: err}
	}
	return err
}

// serviceHint says what a refusal means for the portal.
func serviceHint(code int) string {
	switch code {
	case http.StatusUnauthorized:
		return "Bot Framework refused the bot's access token even freshly issued; check the App ID, password and tenant"
	case http.StatusForbidden:
		return "the bot may not write to this conversation (it was removed, blocked, or the conversation is in another tenant)"
	case http.StatusNotFound:
		return "no such conversation or message for this bot"
	case http.StatusRequestEntityTooLarge:
		return "the message is too large for the channel"
	}
	return ""
}
