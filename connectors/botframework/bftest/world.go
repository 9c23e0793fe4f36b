// Package bftest is a fake Bot Framework world for tests, made of real HTTP
// servers: OpenID metadata and a JWKS of local RSA keys (each with its
// channel endorsements, rotatable), an Azure AD token endpoint for
// client credentials, and Connector services (one per service URL) that
// record every /v3/conversations call. Tokens are minted here by hand
// (crypto/rsa, no JWT library), independently of the validation code they
// test.
package bftest

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Issuer is the issuer of channel tokens.
const Issuer = "https://api.botframework.com"

// key is one signing key of the fake.
type key struct {
	priv         *rsa.PrivateKey
	endorsements []string
}

// World is the fake Bot Framework. Its methods are safe for concurrent use.
type World struct {
	t        testing.TB
	metadata *httptest.Server
	login    *httptest.Server

	mu        sync.Mutex
	keys      map[string]key
	published []string
	apps      map[string]app // app id → credentials
	issued    map[string]bool
	tokenReqs int
	metaGets  int
	keysGets  int
	seq       int
}

type app struct{ secret, tenant string }

// New starts the fake's metadata and login servers; they stop with the test.
func New(t testing.TB) *World {
	w := &World{t: t, keys: map[string]key{}, apps: map[string]app{}, issued: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/.well-known/openidconfiguration", w.serveMetadata)
	mux.HandleFunc("GET /v1/.well-known/keys", w.serveKeys)
	w.metadata = httptest.NewServer(mux)
	t.Cleanup(w.metadata.Close)
	lmux := http.NewServeMux()
	lmux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", w.serveToken)
	w.login = httptest.NewServer(lmux)
	t.Cleanup(w.login.Close)
	return w
}

// OpenIDURL is the metadata document's URL (botframework.openid_url).
func (w *World) OpenIDURL() string { return w.metadata.URL + "/v1/.well-known/openidconfiguration" }

// TokenURL is the token endpoint's base (botframework.token_url).
func (w *World) TokenURL() string { return w.login.URL }

// AddKey makes an RSA key kid endorsed for the given channels and
// publishes it.
func (w *World) AddKey(kid string, endorsements ...string) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		w.t.Fatal(err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.keys[kid] = key{priv: priv, endorsements: endorsements}
	w.published = append(w.published, kid)
}

// Publish replaces the published key set (a rotation); unpublished keys
// can still sign tokens, which are then refused.
func (w *World) Publish(kids ...string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.published = append([]string(nil), kids...)
}

// AddUnpublishedKey makes a key that signs but is never in the JWKS until
// Publish names it.
func (w *World) AddUnpublishedKey(kid string, endorsements ...string) {
	w.AddKey(kid, endorsements...)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.published = w.published[:len(w.published)-1]
}

// MetadataFetches is how many times the metadata document was fetched.
func (w *World) MetadataFetches() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.metaGets
}

func (w *World) serveMetadata(rw http.ResponseWriter, r *http.Request) {
	w.mu.Lock()
	w.metaGets++
	w.mu.Unlock()
	writeJSON(rw, http.StatusOK, map[string]any{
		"issuer":                                Issuer,
		"authorization_endpoint":                "https://invalid.botframework.com",
		"jwks_uri":                              w.metadata.URL + "/v1/.well-known/keys",
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"token_endpoint_auth_methods_supported": []string{"private_key_jwt"},
	})
}

func (w *World) serveKeys(rw http.ResponseWriter, r *http.Request) {
	w.mu.Lock()
	w.keysGets++
	var keys []map[string]any
	for _, kid := range w.published {
		k := w.keys[kid]
		keys = append(keys, map[string]any{
			"kty":          "RSA",
			"use":          "sig",
			"kid":          kid,
			"n":            b64(k.priv.N.Bytes()),
			"e":            b64(big.NewInt(int64(k.priv.E)).Bytes()),
			"endorsements": k.endorsements,
		})
	}
	w.mu.Unlock()
	writeJSON(rw, http.StatusOK, map[string]any{"keys": keys})
}

// Claims of a token, as a JSON object.
type Claims map[string]any

// ChannelClaims are the claims of a valid channel token for appID and
// serviceURL, issued now and valid for an hour.
func ChannelClaims(appID, serviceURL string, now time.Time) Claims {
	return Claims{
		"iss":        Issuer,
		"aud":        appID,
		"serviceurl": serviceURL,
		"nbf":        now.Add(-time.Minute).Unix(),
		"iat":        now.Add(-time.Minute).Unix(),
		"exp":        now.Add(time.Hour).Unix(),
	}
}

// Sign returns a compact RS256 JWS of claims by key kid (which must exist),
// with kid in the header.
func (w *World) Sign(kid string, claims Claims) string {
	w.mu.Lock()
	k, ok := w.keys[kid]
	w.mu.Unlock()
	if !ok {
		w.t.Fatalf("bftest: no key %q", kid)
	}
	head := encodeJSON(w.t, map[string]any{"alg": "RS256", "typ": "JWT", "kid": kid, "x5t": kid})
	input := head + "." + encodeJSON(w.t, claims)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, k.priv, crypto.SHA256, sum[:])
	if err != nil {
		w.t.Fatal(err)
	}
	return input + "." + b64(sig)
}

// SignRS384 is Sign with RS384 (which Bot Framework's rules here refuse,
// RS256 being the one algorithm its keys are published for).
func (w *World) SignRS384(kid string, claims Claims) string {
	w.mu.Lock()
	k, ok := w.keys[kid]
	w.mu.Unlock()
	if !ok {
		w.t.Fatalf("bftest: no key %q", kid)
	}
	input := encodeJSON(w.t, map[string]any{"alg": "RS384", "typ": "JWT", "kid": kid}) + "." + encodeJSON(w.t, claims)
	sum := sha512.Sum384([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, k.priv, crypto.SHA384, sum[:])
	if err != nil {
		w.t.Fatal(err)
	}
	return input + "." + b64(sig)
}

// SignHS256 returns an HS256 token keyed with secret (refused by Bot
// Framework's rules however the key is chosen).
func (w *World) SignHS256(kid string, secret []byte, claims Claims) string {
	input := encodeJSON(w.t, map[string]any{"alg": "HS256", "typ": "JWT", "kid": kid}) + "." + encodeJSON(w.t, claims)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(input))
	return input + "." + b64(m.Sum(nil))
}

// SignNone returns an unsigned token (alg none).
func (w *World) SignNone(kid string, claims Claims) string {
	return encodeJSON(w.t, map[string]any{"alg": "none", "typ": "JWT", "kid": kid}) + "." + encodeJSON(w.t, claims) + "."
}

// PublicKeyN is the base64url modulus of key kid (for tests that compare
// what they publish).
func (w *World) PublicKeyN(kid string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return b64(w.keys[kid].priv.N.Bytes())
}

// AddApp registers an Azure AD app the token endpoint issues tokens to,
// in tenant ("botframework.com" for multi-tenant bots).
func (w *World) AddApp(appID, secret, tenant string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.apps[strings.ToLower(appID)] = app{secret: secret, tenant: tenant}
}

// TokenRequests is how many token requests were made.
func (w *World) TokenRequests() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.tokenReqs
}

// RevokeAccessTokens makes every access token issued so far invalid (the
// Connector services then answer 401 to them).
func (w *World) RevokeAccessTokens() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.issued = map[string]bool{}
}

// ValidAccessToken tells whether tok is a live access token of the fake.
func (w *World) ValidAccessToken(tok string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.issued[tok]
}

// serveToken is Azure AD's client-credentials grant, with its error shapes.
func (w *World) serveToken(rw http.ResponseWriter, r *http.Request) {
	tenant := r.PathValue("tenant")
	_ = r.ParseForm()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.tokenReqs++
	aad := func(status int, code string, n int, msg string) {
		writeJSON(rw, status, map[string]any{
			"error":             code,
			"error_description": fmt.Sprintf("AADSTS%d: %s Trace ID: 0000", n, msg),
			"error_codes":       []int{n},
		})
	}
	if tenant != "botframework.com" && !w.knownTenant(tenant) {
		aad(http.StatusBadRequest, "invalid_request", 90002, "Tenant '"+tenant+"' not found.")
		return
	}
	if r.PostForm.Get("grant_type") != "client_credentials" || r.PostForm.Get("scope") != "https://api.botframework.com/.default" {
		aad(http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the grant_type and scope parameters.")
		return
	}
	a, ok := w.apps[strings.ToLower(r.PostForm.Get("client_id"))]
	if !ok || a.tenant != tenant {
		aad(http.StatusBadRequest, "unauthorized_client", 700016, "Application with identifier '"+r.PostForm.Get("client_id")+"' was not found in the directory.")
		return
	}
	if r.PostForm.Get("client_secret") != a.secret {
		aad(http.StatusUnauthorized, "invalid_client", 7000215, "Invalid client secret provided.")
		return
	}
	w.seq++
	tok := fmt.Sprintf("bf-access-%d-%s", w.seq, randHex(8))
	w.issued[tok] = true
	writeJSON(rw, http.StatusOK, map[string]any{"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": tok})
}

func (w *World) knownTenant(t string) bool {
	for _, a := range w.apps {
		if a.tenant == t {
			return true
		}
	}
	return false
}

func writeJSON(rw http.ResponseWriter, status int, v any) {
	rw.Header().Set("Content-Type", "application/json; charset=utf-8")
	rw.WriteHeader(status)
	_ = json.NewEncoder(rw).Encode(v)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func encodeJSON(t testing.TB, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b64(b)
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x", b)
}
