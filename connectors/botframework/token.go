package botframework

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/connector-gateway/connector/connectors"
)

// tokenMargin is how long before its expiry an access token is replaced.
const tokenMargin = 5 * time.Minute

// tokenCache gets and keeps the access tokens outbound calls carry, one per
// (tenant, App ID, secret), so every connection of one bot shares one
// token and a changed secret gets a new one at once. Callers of one key
// wait for a request in flight rather than starting their own.
type tokenCache struct {
	client *http.Client
	base   string
	now    func() time.Time

	mu      sync.Mutex
	entries map[[32]byte]*tokenEntry
}

type tokenEntry struct {
	mu      sync.Mutex
	token   string
	expires time.Time
}

func newTokenCache(client *http.Client, base string, now func() time.Time) *tokenCache {
	return &tokenCache{client: client, base: strings.TrimRight(base, "/"), now: now, entries: map[[32]byte]*tokenEntry{}}
}

// tokenError is a refusal of the token endpoint, in Azure AD's words.
type tokenError struct {
	Status      int
	Code        string // "invalid_client"
	Description string
	Codes       []int // AADSTS codes
}

func (e *tokenError) Error() string {
	msg := fmt.Sprintf("token endpoint answered %d %s", e.Status, e.Code)
	if h := e.hint(); h != "" {
		msg += ": " + h
	}
	return msg
}

// hasCode tells whether Azure AD named AADSTS code n.
func (e *tokenError) hasCode(n int) bool {
	for _, c := range e.Codes {
		if c == n {
			return true
		}
	}
	return strings.Contains(e.Description, fmt.Sprintf("AADSTS%d:", n))
}

// endpoint is the token URL of a tenant.
func (tc *tokenCache) endpoint(tenant string) string {
	return tc.base + "/" + url.PathEscape(tenant) + "/oauth2/v2.0/token"
}

// get returns a valid access token for s; fresh forces a new one (after a
// 401 with the cached one).
func (tc *tokenCache) get(ctx context.Context, s connectors.Settings, fresh bool) (string, error) {
	appID, secret, tenant := normalizeAppID(s[SettingAppID]), s[SettingAppPassword], tenantOf(s)
	if appID == "" || secret == "" {
		return "", permanent("the connection has no App ID or App password (its bot may have been bound to another line)")
	}
	k := sha256.Sum256([]byte(tenant + "\x00" + appID + "\x00" + secret))
	tc.mu.Lock()
	e := tc.entries[k]
	if e == nil {
		e = &tokenEntry{}
		tc.entries[k] = e
	}
	tc.mu.Unlock()

	e.mu.Lock()
	defer e.mu.Unlock()
	if !fresh && e.token != "" && tc.now().Before(e.expires.Add(-tokenMargin)) {
		return e.token, nil
	}
	tok, ttl, err := tc.request(ctx, tenant, appID, secret)
	if err != nil {
		e.token = ""
		return "", err
	}
	e.token, e.expires = tok, tc.now().Add(ttl)
	return tok, nil
}

// request makes one client-credentials request. A refusal is a
// *tokenError (wrapped in a PermanentError for 400/401: the credentials are
// wrong and retrying will not fix them).
func (tc *tokenCache) request(ctx context.Context, tenant, appID, secret string) (string, time.Duration, error) {
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {appID},
		"client_secret": {secret},
		"scope":         {TokenScope},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tc.endpoint(tenant), strings.NewReader(form.Encode()))
	if err != nil {
		return "", 0, fmt.Errorf("botframework: token: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := tc.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return "", 0, fmt.Errorf("botframework: token: %w", ctx.Err())
		}
		return "", 0, fmt.Errorf("botframework: token: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var out struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
		Codes       []int  `json:"error_codes"`
	}
	_ = json.Unmarshal(body, &out)
	if resp.StatusCode != http.StatusOK || out.AccessToken == "" {
		te := &tokenError{Status: resp.StatusCode, Code: out.Error, Description: out.Description, Codes: out.Codes}
		switch {
		case resp.StatusCode == http.StatusTooManyRequests:
			return "", 0, &connectors.RateLimitedError{RetryAfter: retryAfter(resp.Header, tc.now()), Err: fmt.Errorf("botframework: token: %w", te)}
		case resp.StatusCode >= 400 && resp.StatusCode < 500:
			return "", 0, &connectors.PermanentError{Err: fmt.Errorf("botframework: token: %w", te)}
		default:
			return "", 0, fmt.Errorf("botframework: token: %w", te)
		}
	}
	ttl := time.Duration(out.ExpiresIn) * time.Second
	if ttl <= 0 {
		ttl = time.Hour
	}
	return out.AccessToken, ttl, nil
}

// aadHints say in plain words what an AADSTS code means for the admin.
var aadHints = []struct {
	code int
	hint string
}{
	{7000215, "the App password (client secret) is wrong"},
	{7000222, "the App password (client secret) has expired; create a new one"},
	{700016, "no app with this App ID exists in the tenant (a wrong App ID, or a single-tenant bot without its tenant id)"},
	{90002, "the tenant does not exist (a wrong tenant id)"},
	{900023, "the tenant id is not a valid tenant"},
	{700024, "the App ID does not belong to this tenant"},
}

// hint is the plain-words meaning of the refusal, "" when unknown.
func (e *tokenError) hint() string {
	for _, h := range aadHints {
		if e.hasCode(h.code) {
			return h.hint
		}
	}
	return ""
}
