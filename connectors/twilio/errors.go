package twilio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/connector-gateway/connector/connectors"
)

// defaultRetryAfter is used when Twilio answers 429 without Retry-After.
const defaultRetryAfter = time.Second

// APIError is an error answer of Twilio's REST API.
type APIError struct {
	// HTTPStatus is the answer's HTTP status.
	HTTPStatus int
	// Code is Twilio's error code (21211, 63016...), 0 when none was given.
	Code    int
	Message string
}

func (e *APIError) Error() string {
	if e.Code != 0 {
		return fmt.Sprintf("Twilio error %d (HTTP %d): %s", e.Code, e.HTTPStatus, e.Message)
	}
	return fmt.Sprintf("Twilio answered HTTP %d: %s", e.HTTPStatus, e.Message)
}

// apiError reads Twilio's error body ({"code":…,"message":…,"status":…}).
func apiError(resp *http.Response) *APIError {
	e := &APIError{HTTPStatus: resp.StatusCode}
	var body struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if json.Unmarshal(raw, &body) == nil {
		e.Code, e.Message = body.Code, body.Message
	}
	if e.Message == "" {
		e.Message = http.StatusText(resp.StatusCode)
	}
	return e
}

// classify turns a REST failure into the connectors error vocabulary:
//
//   - 429 (or Twilio's 20429) → *connectors.RateLimitedError, RetryAfter
//     from Retry-After;
//   - 5xx → a plain error (retried);
//   - any other 4xx (bad number, unsubscribed, outside WhatsApp's 24-hour
//     window, refused credentials...) → *connectors.PermanentError with a
//     plain reason.
func classify(op string, resp *http.Response) error {
	e := apiError(resp)
	wrapped := fmt.Errorf("twilio: %s: %s: %w", op, describeCode(e.Code, e.Message), e)
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || e.Code == 20429:
		wait := defaultRetryAfter
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
			wait = time.Duration(s) * time.Second
		}
		return &connectors.RateLimitedError{RetryAfter: wait, Err: wrapped}
	case resp.StatusCode >= 500:
		return wrapped
	default:
		return &connectors.PermanentError{Err: wrapped}
	}
}

// transportError is a failed request without an answer: ctx's error when
// it ended, else the transport's (its text names the URL, which holds the
// Account SID but no credential: those travel in a header).
func transportError(ctx context.Context, op string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("twilio: %s: %w", op, ctxErr)
	}
	return fmt.Errorf("twilio: %s: %w", op, err)
}

// describeCode puts a Twilio error code in plain words, for a REST answer
// or a status callback's ErrorCode; fallback (Twilio's own message) is used
// for codes it does not know.
func describeCode(code int, fallback string) string {
	switch code {
	case 63016:
		return "WhatsApp lets a business send free-form messages only within 24 hours of the customer's last message; answer with an approved template, or wait until the customer writes again (error 63016)"
	case 21211:
		return "the number is not a valid phone number (error 21211)"
	case 21610:
		return "the customer has unsubscribed from this number (they replied STOP); they must text START before they can receive messages again (error 21610)"
	case 21612:
		return "Twilio cannot send from this number to that destination (error 21612)"
	case 21614:
		return "the number is not a mobile number that can receive SMS (error 21614)"
	case 21408:
		return "the account is not allowed to send to that country or region; enable it in the Twilio Console's geo permissions (error 21408)"
	case 21606, 21659:
		return "the sending number is not a Twilio number of this account that can send to that destination (error " + strconv.Itoa(code) + ")"
	case 21617:
		return "the text is longer than the 1600 characters Twilio accepts (error 21617)"
	case 20003, 20404:
		return "Twilio refused the account credentials; check the Account SID, Auth Token or API key (error " + strconv.Itoa(code) + ")"
	case 63003, 63024:
		return "the number is not reachable on WhatsApp (error " + strconv.Itoa(code) + ")"
	case 63007:
		return "the WhatsApp sender is not set up on this account (error 63007)"
	case 63018:
		return "WhatsApp's rate limit for this sender was exceeded (error 63018)"
	case 30003:
		return "the handset is unreachable (switched off or out of coverage) (error 30003)"
	case 30004:
		return "the message was blocked by the recipient or their carrier (error 30004)"
	case 30005:
		return "the number is unknown to the carrier: it may no longer exist (error 30005)"
	case 30006:
		return "the number is a landline or cannot receive SMS (error 30006)"
	case 30007:
		return "the carrier filtered the message as spam (error 30007)"
	case 30008:
		return "the carrier could not deliver the message for an unknown reason (error 30008)"
	}
	fallback = strings.TrimSpace(fallback)
	switch {
	case code != 0 && fallback != "":
		return fmt.Sprintf("%s (error %d)", fallback, code)
	case code != 0:
		return fmt.Sprintf("Twilio error %d", code)
	case fallback != "":
		return fallback
	}
	return "Twilio gave no reason"
}

// permanent wraps a failure found before calling Twilio (bad input).
func permanent(format string, args ...any) error {
	return &connectors.PermanentError{Err: fmt.Errorf("twilio: "+format, args...)}
}

func asAPIError(err error, target **APIError) bool { return errors.As(err, target) }
