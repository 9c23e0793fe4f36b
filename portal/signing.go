package portal

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// Standard Webhooks header names.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
	// HeaderPortal names the portal that signed an API call.
	HeaderPortal = "X-Portal-Id"
)

// NewSecret returns a fresh signing secret in the Standard Webhooks form
// whsec_<base64 of 32 random bytes>.
func NewSecret() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

// Sign returns the webhook-signature header value for a message, with one
// v1 signature per secret (space separated), so a portal that knows any of
// them verifies it during a rotation.
//
// It computes what the reference library's Webhook.Sign computes,
// HMAC-SHA256(key, msgID + "." + unix seconds + "." + payload) in base64,
// but feeds the three parts to the MAC as they are: the library first
// formats them into one string, a copy of the whole batch body per secret.
// The vectors in testdata (and the portals' verification with the
// reference library in the tests and the bench) hold it to the scheme.
func Sign(secrets []string, msgID string, ts time.Time, payload []byte) (string, error) {
	if len(secrets) == 0 {
		return "", fmt.Errorf("portal: sign: no signing secret")
	}
	var prefix [80]byte
	head := append(append(prefix[:0], msgID...), '.')
	head = strconv.AppendInt(head, ts.Unix(), 10)
	head = append(head, '.')
	const sigLen = 3 + 44 // "v1," and base64 of 32 bytes
	out := make([]byte, 0, len(secrets)*(sigLen+1))
	var key [64]byte
	var sum [sha256.Size]byte
	for i, s := range secrets {
		raw := strings.TrimPrefix(s, secretPrefix)
		dst := key[:]
		if base64.StdEncoding.DecodedLen(len(raw)) > len(key) {
			dst = make([]byte, base64.StdEncoding.DecodedLen(len(raw)))
		}
		n, err := base64.StdEncoding.Decode(dst, []byte(raw))
		if err != nil {
			return "", fmt.Errorf("portal: sign: bad secret: %w", err)
		}
		mac := hmac.New(sha256.New, dst[:n])
		mac.Write(head)
		mac.Write(payload)
		if i > 0 {
			out = append(out, ' ')
		}
		out = append(out, "v1,"...)
		out = base64.StdEncoding.AppendEncode(out, mac.Sum(sum[:0]))
	}
	return string(out), nil
}

// secretPrefix starts every Standard Webhooks secret.
const secretPrefix = "whsec_"

// SetHeaders signs payload and sets the three Standard Webhooks headers.
func SetHeaders(h http.Header, secrets []string, msgID string, ts time.Time, payload []byte) error {
	sig, err := Sign(secrets, msgID, ts, payload)
	if err != nil {
		return err
	}
	h.Set(HeaderID, msgID)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(HeaderSignature, sig)
	return nil
}

// Verify checks a Standard Webhooks signature against any of the secrets,
// with the scheme's 5-minute timestamp tolerance.
func Verify(secrets []string, payload []byte, h http.Header) error {
	var last error = fmt.Errorf("portal: verify: no secret")
	for _, s := range secrets {
		wh, err := standardwebhooks.NewWebhook(s)
		if err != nil {
			last = err
			continue
		}
		if err = wh.Verify(payload, h); err == nil {
			return nil
		}
		last = err
	}
	return fmt.Errorf("portal: verify: %w", last)
}

// APIPayload is what a portal signs for an API call: the method, the request
// URI (path and query) and the body, so a signature can't be replayed on
// another route. Portals sign it with any Standard Webhooks library:
// sign(msg_id, timestamp, "POST /v1/lines\n" + body).
func APIPayload(method, requestURI string, body []byte) []byte {
	p := make([]byte, 0, len(method)+len(requestURI)+2+len(body))
	p = append(p, method...)
	p = append(p, ' ')
	p = append(p, requestURI...)
	p = append(p, '\n')
	return append(p, body...)
}
