package twilio

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net"
	"net/url"
	"slices"
	"sort"
	"strings"
)

// SignatureHeader is the header Twilio signs its webhooks in.
const SignatureHeader = "X-Twilio-Signature"

// Signature is X-Twilio-Signature as Twilio computes it: the base64 of
// HMAC-SHA1, keyed with the Auth Token, over the full URL Twilio called
// followed by every POST parameter's name and value, parameters sorted by
// name. A name sent several times contributes each of its distinct values,
// in sorted order, each preceded by the name (as Twilio's Python and Node
// helpers do; twilio-go's form validator keeps only the first value). For
// a JSON body Twilio signs the URL alone (params nil) and puts the body's
// SHA-256 into the URL's bodySHA256 parameter.
func Signature(authToken, rawURL string, params url.Values) string {
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(rawURL))
	mac.Write(signedParams(params))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// signedParams is the part of the signed string after the URL.
func signedParams(params url.Values) []byte {
	if len(params) == 0 {
		return nil
	}
	names := make([]string, 0, len(params))
	size := 0
	for k, vs := range params {
		names = append(names, k)
		for _, v := range vs {
			size += len(k) + len(v)
		}
	}
	sort.Strings(names)
	buf := make([]byte, 0, size)
	for _, k := range names {
		vs := params[k]
		if len(vs) > 1 {
			vs = slices.Clone(vs)
			sort.Strings(vs)
			vs = slices.Compact(vs)
		}
		for _, v := range vs {
			buf = append(buf, k...)
			buf = append(buf, v...)
		}
	}
	return buf
}

// validSignature tells whether got is Twilio's signature of a request to
// rawURL with body, whose form parameters (nil for a JSON body) are params.
// Like Twilio's own helpers it also accepts the signature of the URL with
// its default port added or removed, as Twilio's signing is inconsistent
// about ports. With a bodySHA256 query parameter the body must hash to it.
// Comparisons are constant-time.
func validSignature(authToken, rawURL string, params url.Values, body []byte, got string) bool {
	if got == "" || authToken == "" {
		return false
	}
	want, err := base64.StdEncoding.DecodeString(got)
	if err != nil || len(want) != sha1.Size {
		return false
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return false
	}
	if bodyHash := u.Query().Get("bodySHA256"); bodyHash != "" {
		sum := sha256.Sum256(body)
		if subtle.ConstantTimeCompare([]byte(hex.EncodeToString(sum[:])), []byte(strings.ToLower(bodyHash))) != 1 {
			return false
		}
		params = nil
	}
	signed := signedParams(params)
	mac := hmac.New(sha1.New, []byte(authToken))
	sum := make([]byte, 0, sha1.Size)
	for _, candidate := range urlVariants(rawURL, u) {
		mac.Reset()
		mac.Write([]byte(candidate))
		mac.Write(signed)
		if hmac.Equal(mac.Sum(sum[:0]), want) {
			return true
		}
	}
	return false
}

// urlVariants is rawURL as given, then with its scheme's default port
// added when it has none, or removed when it has one.
func urlVariants(rawURL string, u *url.URL) []string {
	alt := *u
	host, port, err := net.SplitHostPort(u.Host)
	switch {
	case err == nil && port != "":
		alt.Host = host
		if strings.HasPrefix(host, ":") || strings.Contains(host, ":") {
			alt.Host = "[" + host + "]"
		}
	case u.Scheme == "https":
		alt.Host = u.Host + ":443"
	case u.Scheme == "http":
		alt.Host = u.Host + ":80"
	default:
		return []string{rawURL}
	}
	return []string{rawURL, alt.String()}
}
