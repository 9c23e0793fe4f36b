package meta

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"

	"github.com/connector-gateway/connector/connectors"
)

// signatureHeader carries Meta's signature of every webhook POST:
// "sha256=" and the hex HMAC-SHA256 of the raw body with the app secret.
const signatureHeader = "X-Hub-Signature-256"

// handshake answers Meta's verification request (GET with
// hub.mode=subscribe, hub.verify_token, hub.challenge) by echoing the
// challenge when the verify token is the connection's.
func handshake(c connectors.Conn, r connectors.Request) (connectors.Response, error) {
	q := r.Query
	if q.Get("hub.mode") != "subscribe" {
		return connectors.Response{}, fmt.Errorf("meta: handshake: hub.mode is %q, want subscribe: %w", q.Get("hub.mode"), connectors.ErrMalformed)
	}
	want := c.Settings[SettingVerifyToken]
	got := q.Get("hub.verify_token")
	if want == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return connectors.Response{}, fmt.Errorf("meta: handshake: the verify token is not this connection's: %w", connectors.ErrUnauthorized)
	}
	challenge := q.Get("hub.challenge")
	if challenge == "" {
		return connectors.Response{}, fmt.Errorf("meta: handshake: no hub.challenge: %w", connectors.ErrMalformed)
	}
	return connectors.Response{Status: http.StatusOK, ContentType: "text/plain; charset=utf-8", Body: []byte(challenge)}, nil
}

// verifySignature checks X-Hub-Signature-256 against the raw body, in
// constant time. A missing, malformed or wrong signature, or a connection
// without an app secret, is an error wrapping connectors.ErrUnauthorized.
func verifySignature(c connectors.Conn, r connectors.Request) error {
	secret := c.Settings[SettingAppSecret]
	if secret == "" {
		return fmt.Errorf("meta: the connection has no app secret to check signatures with: %w", connectors.ErrUnauthorized)
	}
	h := r.Header.Get(signatureHeader)
	hexSig, ok := strings.CutPrefix(h, "sha256=")
	if !ok {
		return fmt.Errorf("meta: no %s header: %w", signatureHeader, connectors.ErrUnauthorized)
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil || len(got) != sha256.Size {
		return fmt.Errorf("meta: %s is not a hex SHA-256: %w", signatureHeader, connectors.ErrUnauthorized)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(r.Body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return fmt.Errorf("meta: %s does not match the body: %w", signatureHeader, connectors.ErrUnauthorized)
	}
	return nil
}

// Handshake answers Meta's webhook verification request.
func (*WhatsApp) Handshake(_ context.Context, c connectors.Conn, r connectors.Request) (connectors.Response, error) {
	return handshake(c, r)
}

// Handshake answers Meta's webhook verification request.
func (*Messaging) Handshake(_ context.Context, c connectors.Conn, r connectors.Request) (connectors.Response, error) {
	return handshake(c, r)
}
