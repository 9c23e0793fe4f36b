package webchat

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"
)

// A visitor is known only by the token the widget keeps in the browser's
// localStorage: "<payload>.<mac>", both base64url, where payload is
// "<connection id>|<visitor id>|<issued at>" and mac an HMAC-SHA256 under a
// key derived from the gateway's secrets key. Everything a visitor can read
// or write is looked up by the visitor id inside a token that checks, never
// by an id the browser chooses, so guessing ids gives nothing.
//
// Download tokens name an upload the same way, with an expiry:
// "<connection id>|<visitor id>|<upload id>|<expires at>".

// errBadToken is any token that does not check.
var errBadToken = errors.New("webchat: invalid token")

// signer makes and checks the widget's tokens.
type signer struct {
	key []byte
}

// newSigner derives the token key from the gateway's secrets key, so tokens
// survive restarts and work on every process that shares the key.
func newSigner(secretsKey string) (*signer, error) {
	if strings.TrimSpace(secretsKey) == "" {
		return nil, errors.New("webchat: the secrets key is empty")
	}
	m := hmac.New(sha256.New, []byte(secretsKey))
	m.Write([]byte("connector-gateway webchat tokens v1"))
	return &signer{key: m.Sum(nil)}, nil
}

func (s *signer) mac(kind, payload string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write([]byte(payload))
	return m.Sum(nil)
}

func (s *signer) sign(kind string, fields ...string) string {
	payload := strings.Join(fields, "|")
	return base64.RawURLEncoding.EncodeToString([]byte(payload)) + "." + base64.RawURLEncoding.EncodeToString(s.mac(kind, payload))
}

// open checks a token of a kind and returns its n fields.
func (s *signer) open(kind, token string, n int) ([]string, error) {
	if len(token) > 512 {
		return nil, errBadToken
	}
	enc, sig, ok := strings.Cut(token, ".")
	if !ok {
		return nil, errBadToken
	}
	raw, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		return nil, errBadToken
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.mac(kind, string(raw))) {
		return nil, errBadToken
	}
	fields := strings.Split(string(raw), "|")
	if len(fields) != n {
		return nil, errBadToken
	}
	return fields, nil
}

// visitorToken signs a visitor of a connection.
func (s *signer) visitorToken(connID, visitorID string, now time.Time) string {
	return s.sign("visitor", connID, visitorID, strconv.FormatInt(now.Unix(), 10))
}

// visitor returns the visitor id in a token issued for connID.
func (s *signer) visitor(token, connID string) (string, error) {
	f, err := s.open("visitor", token, 3)
	if err != nil {
		return "", err
	}
	if f[0] != connID || !validID(f[1], "vis_") {
		return "", errBadToken
	}
	return f[1], nil
}

// downloadToken signs a visitor's link to one of their conversation's
// uploads.
func (s *signer) downloadToken(connID, visitorID, uploadID string, exp time.Time) string {
	return s.sign("download", connID, visitorID, uploadID, strconv.FormatInt(exp.Unix(), 10))
}

// download returns the visitor and upload a download token of connID names;
// errLinkExpired when it is past its time.
func (s *signer) download(token, connID string, now time.Time) (visitorID, uploadID string, err error) {
	f, err := s.open("download", token, 4)
	if err != nil {
		return "", "", err
	}
	exp, perr := strconv.ParseInt(f[3], 10, 64)
	if f[0] != connID || perr != nil {
		return "", "", errBadToken
	}
	if now.Unix() > exp {
		return "", "", errLinkExpired
	}
	return f[1], f[2], nil
}

var errLinkExpired = errors.New("webchat: link expired")

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// newID returns prefix + 26 random base32 characters (128 bits).
func newID(prefix string) string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return prefix + strings.ToLower(idEncoding.EncodeToString(b))
}

// validID reports whether s has the shape newID gives with prefix.
func validID(s, prefix string) bool {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok || len(rest) != 26 {
		return false
	}
	for _, r := range rest {
		if !(r >= 'a' && r <= 'z' || r >= '2' && r <= '7') {
			return false
		}
	}
	return true
}
