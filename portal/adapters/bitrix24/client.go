package bitrix24

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/connector-gateway/connector/portal"
)

// DefaultOAuthURL is Bitrix24's authorization server, where refresh
// tokens are exchanged for new access tokens.
const DefaultOAuthURL = "https://oauth.bitrix.info/oauth/token/"

// Error is an error answer of Bitrix24's REST API:
// {"error":"…","error_description":"…"} with its HTTP status.
type Error struct {
	Method      string
	HTTPStatus  int
	Code        string
	Description string
}

func (e *Error) Error() string {
	what := e.Code
	if what == "" {
		what = "HTTP " + strconv.Itoa(e.HTTPStatus)
	}
	if e.Description != "" {
		what += " (" + e.Description + ")"
	}
	switch {
	case e.RateLimited():
		return fmt.Sprintf("%s: Bitrix24 is rate limiting the application: %s; the line waits and retries", e.Method, what)
	case e.Code == "NO_AUTH_FOUND" || e.Code == "INVALID_CREDENTIALS" || e.Code == "invalid_token":
		return fmt.Sprintf("%s: Bitrix24 does not accept the access token: %s", e.Method, what)
	}
	return fmt.Sprintf("%s: Bitrix24 answered %s", e.Method, what)
}

// RateLimited tells whether Bitrix24 refused the call for its request
// limits (503 QUERY_LIMIT_EXCEEDED, or the manual OVERLOAD_LIMIT block).
func (e *Error) RateLimited() bool {
	return e.Code == "QUERY_LIMIT_EXCEEDED" || e.Code == "OVERLOAD_LIMIT" || (e.HTTPStatus == http.StatusServiceUnavailable && e.Code == "")
}

// expired tells whether the access token ran out (renew it and retry).
func (e *Error) expired() bool { return e.Code == "expired_token" }

// session is one use of a portal's settings (a batch, a test): it holds its
// own copy of them, so a token renewed in the middle of a batch is used for
// the rest of it without touching the dispatcher's Portal value.
type session struct {
	a        *Adapter
	portalID string
	set      map[string]string
	// stored tells the session's tokens are (or were, when it began) the
	// portal's stored ones: a delivery, a webhook, a test of the stored
	// settings, or candidate settings that keep the stored tokens. Such
	// a session takes the stored tokens when they moved on (another
	// batch or replica renewed them); a session testing tokens given
	// only in the candidate never does.
	stored    bool
	refreshed bool
}

func (a *Adapter) session(p portal.Portal) *session {
	return &session{a: a, portalID: p.ID, set: copySettings(p.Adapter), stored: true}
}

func (s *session) endpoint() string {
	if e := strings.TrimSpace(s.set[SettingEndpoint]); e != "" {
		return strings.TrimRight(e, "/") + "/"
	}
	if d := strings.TrimSpace(s.set[SettingDomain]); d != "" {
		d = strings.TrimPrefix(strings.TrimPrefix(d, "https://"), "http://")
		return "https://" + strings.TrimRight(d, "/") + "/rest/"
	}
	return ""
}

func (s *session) connectorID() string {
	if id := strings.TrimSpace(s.set[SettingConnectorID]); id != "" {
		return strings.ToLower(id)
	}
	return DefaultConnectorID
}

// expiredByClock tells whether the stored expiry says the access token has
// run out already, so the first call would only fail.
func (s *session) expiredByClock() bool {
	exp, err := strconv.ParseInt(s.set[SettingExpires], 10, 64)
	if err != nil || exp == 0 {
		return false
	}
	return !s.a.now().Before(time.Unix(exp, 0))
}

// call runs one REST method with the portal's access token. An expired
// token is renewed once per session (and stored sealed) and the call is
// repeated with the new one.
func (s *session) call(ctx context.Context, method string, params map[string]any, out any) error {
	if !s.refreshed && s.expiredByClock() {
		if err := s.refresh(ctx, s.set[SettingAccessToken]); err != nil {
			return err
		}
	}
	token := s.set[SettingAccessToken]
	err := s.do(ctx, method, token, params, out)
	var be *Error
	if errors.As(err, &be) && be.expired() && !s.refreshed {
		if rerr := s.refresh(ctx, token); rerr != nil {
			return rerr
		}
		err = s.do(ctx, method, s.set[SettingAccessToken], params, out)
	}
	return err
}

func (s *session) do(ctx context.Context, method, token string, params map[string]any, out any) error {
	ep := s.endpoint()
	if ep == "" {
		return fmt.Errorf("%s: no Bitrix24 address: set %q (e.g. example.bitrix24.com) or %q", method, SettingDomain, SettingEndpoint)
	}
	body := make(map[string]any, len(params)+1)
	for k, v := range params {
		body[k] = v
	}
	body["auth"] = token
	raw, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("%s: encode: %w", method, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep+method+".json", bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := s.a.client().Do(req)
	if err != nil {
		return fmt.Errorf("%s: Bitrix24 is not reachable: %w", method, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s: read the answer: %w", method, err)
	}
	var env struct {
		Result      json.RawMessage `json:"result"`
		Error       string          `json:"error"`
		Description string          `json:"error_description"`
	}
	jerr := json.Unmarshal(data, &env)
	if resp.StatusCode < 200 || resp.StatusCode > 299 || env.Error != "" {
		e := &Error{Method: method, HTTPStatus: resp.StatusCode, Code: env.Error, Description: env.Description}
		if jerr != nil || (e.Code == "" && e.Description == "") {
			e.Description = fmt.Sprintf("%.200s", bytes.TrimSpace(data))
		}
		return e
	}
	if jerr != nil {
		return fmt.Errorf("%s: Bitrix24 answered something other than JSON: %.200s", method, bytes.TrimSpace(data))
	}
	if out != nil {
		if err := json.Unmarshal(env.Result, out); err != nil {
			return fmt.Errorf("%s: unexpected result %.200s: %w", method, env.Result, err)
		}
	}
	return nil
}

// tokenKeys are the settings a renewal changes.
var tokenKeys = []string{SettingAccessToken, SettingRefreshToken, SettingExpires}

// errNotStoredHere: the stored settings do not hold the refresh token a
// renewal spent, so the renewed pair is not theirs to store.
var errNotStoredHere = errors.New("bitrix24: the stored settings hold other tokens")

// refresh exchanges the session's refresh token for a new pair of tokens
// at the authorization server. Bitrix24 takes a refresh token only once,
// so the renewed pair replaces the spent one wherever it is stored: in
// the session, and in the portal record whenever the record holds the
// spent refresh token (a compare-and-swap, so a pair renewed meanwhile by
// another replica is not overwritten). stale is the access token that
// failed: when the stored tokens moved on since the session began (another
// batch of the same portal renewed them), a session working from them
// takes those instead, so two batches never spend the same refresh token
// twice.
func (s *session) refresh(ctx context.Context, stale string) error {
	s.refreshed = true
	a := s.a
	a.refreshMu.Lock()
	defer a.refreshMu.Unlock()
	if adopted, err := s.adoptStored(ctx, stale); err != nil || (adopted && s.set[SettingAccessToken] != stale) {
		return err
	}
	spent := s.set[SettingRefreshToken]
	renewed, err := s.renew(ctx)
	if err != nil {
		// Another process may have spent the same refresh token a moment
		// ago; its renewal is then in the record.
		if adopted, aerr := s.adoptStored(ctx, stale); aerr == nil && adopted && s.set[SettingAccessToken] != stale {
			return nil
		}
		return err
	}
	applyTokens(s.set, renewed)
	if a.Portals == nil {
		return nil
	}
	err = a.Portals.UpdatePortalAdapter(ctx, s.portalID, func(cur portal.Portal) (string, map[string]string, error) {
		if cur.Kind != portal.KindBitrix24 || cur.Adapter[SettingRefreshToken] != spent {
			return "", nil, errNotStoredHere
		}
		next := copySettings(cur.Adapter)
		applyTokens(next, renewed)
		return portal.KindBitrix24, next, nil
	})
	if err != nil && !errors.Is(err, errNotStoredHere) {
		return fmt.Errorf("the Bitrix24 access token was renewed but could not be stored: %w", err)
	}
	return nil
}

// adoptStored takes the portal record's tokens into a session working
// from the stored ones when they are no longer the session's: renewed by
// another batch, replica or test (the access token is not stale, or the
// refresh token is another).
func (s *session) adoptStored(ctx context.Context, stale string) (bool, error) {
	if !s.stored || s.a.Portals == nil {
		return false, nil
	}
	cur, err := s.a.Portals.GetPortal(ctx, s.portalID)
	if err != nil {
		return false, fmt.Errorf("the access token expired and the portal record could not be read to renew it: %w", err)
	}
	if cur.Kind != portal.KindBitrix24 {
		return false, nil
	}
	tok := cur.Adapter[SettingAccessToken]
	if tok == "" || (tok == stale && cur.Adapter[SettingRefreshToken] == s.set[SettingRefreshToken]) {
		return false, nil
	}
	applyTokens(s.set, map[string]string{SettingAccessToken: tok, SettingRefreshToken: cur.Adapter[SettingRefreshToken], SettingExpires: cur.Adapter[SettingExpires]})
	return true, nil
}

// renew asks the authorization server for a new pair of tokens with the
// session's credentials and refresh token, and returns them (tokenKeys;
// an empty expiry: unknown).
func (s *session) renew(ctx context.Context) (map[string]string, error) {
	a, base := s.a, s.set
	if base[SettingRefreshToken] == "" || base[SettingClientID] == "" || base[SettingClientSecret] == "" {
		return nil, fmt.Errorf("the Bitrix24 access token expired and cannot be renewed: set %q, %q and %q", SettingClientID, SettingClientSecret, SettingRefreshToken)
	}
	oauth := base[SettingOAuthURL]
	if oauth == "" {
		oauth = DefaultOAuthURL
	}
	q := url.Values{
		"grant_type":    {"refresh_token"},
		"client_id":     {base[SettingClientID]},
		"client_secret": {base[SettingClientSecret]},
		"refresh_token": {base[SettingRefreshToken]},
	}
	sep := "?"
	if strings.Contains(oauth, "?") {
		sep = "&"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, oauth+sep+q.Encode(), nil)
	if err != nil {
		return nil, fmt.Errorf("renew the Bitrix24 access token: %w", err)
	}
	resp, err := a.client().Do(req)
	if err != nil {
		// The URL carries the client secret and the refresh token: the
		// error names only what went wrong, never the URL.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("the Bitrix24 access token expired and the authorization server (%s) is not reachable to renew it: %w", oauth, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var tok struct {
		AccessToken  string      `json:"access_token"`
		RefreshToken string      `json:"refresh_token"`
		Expires      json.Number `json:"expires"`
		ExpiresIn    json.Number `json:"expires_in"`
		Error        string      `json:"error"`
		Description  string      `json:"error_description"`
	}
	if err := json.Unmarshal(data, &tok); err != nil || tok.Error != "" || tok.AccessToken == "" || resp.StatusCode > 299 {
		why := tok.Error
		if tok.Description != "" {
			why += " (" + tok.Description + ")"
		}
		if why == "" {
			why = fmt.Sprintf("HTTP %d %.200s", resp.StatusCode, bytes.TrimSpace(data))
		}
		hint := ""
		if tok.Error == "invalid_grant" {
			hint = "; the refresh token is no longer valid: reinstall the application in Bitrix24 and store its new tokens"
		} else if tok.Error == "invalid_client" {
			hint = "; check the client id and secret of the local application"
		}
		return nil, fmt.Errorf("the Bitrix24 access token expired and renewing it failed: the authorization server answered %s%s", why, hint)
	}
	out := map[string]string{SettingAccessToken: tok.AccessToken, SettingRefreshToken: base[SettingRefreshToken], SettingExpires: ""}
	if tok.RefreshToken != "" {
		out[SettingRefreshToken] = tok.RefreshToken
	}
	if exp, err := tok.Expires.Int64(); err == nil && exp > 0 {
		out[SettingExpires] = strconv.FormatInt(exp, 10)
	} else if in, err := tok.ExpiresIn.Int64(); err == nil && in > 0 {
		out[SettingExpires] = strconv.FormatInt(a.now().Add(time.Duration(in)*time.Second).Unix(), 10)
	}
	return out, nil
}

// applyTokens puts renewed tokens into settings; an empty value removes
// the key (an expiry the server did not give).
func applyTokens(settings, tokens map[string]string) {
	for _, k := range tokenKeys {
		if v := tokens[k]; v != "" {
			settings[k] = v
		} else {
			delete(settings, k)
		}
	}
}

func copySettings(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// num passes a Bitrix24 numeric id as a JSON number when it is one.
func num(s string) any {
	if _, err := strconv.ParseInt(s, 10, 64); err == nil {
		return json.Number(s)
	}
	return s
}
