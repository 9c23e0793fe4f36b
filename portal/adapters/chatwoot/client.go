package chatwoot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// apiError is an answer of Chatwoot's API outside 2xx.
type apiError struct {
	Method, Path string
	Status       int
	Body         string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("chatwoot answered %d to %s %s: %.200s", e.Status, e.Method, e.Path, e.Body)
}

// errNotJSON marks a 2xx answer that is not the JSON asked for: the URL
// is likely not Chatwoot's.
var errNotJSON = errors.New("not Chatwoot's JSON")

// statusOf is the HTTP status of a Chatwoot answer in err, 0 when err is
// not one (a network failure, a timeout).
func statusOf(err error) int {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

// call makes one Application API request on the portal's account:
// path is below /api/v1/accounts/{account_id}.
func (a *Adapter) call(ctx context.Context, p settings, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("chatwoot: encode %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(raw)
	}
	full := "/api/v1/accounts/" + p.account + path
	req, err := http.NewRequestWithContext(ctx, method, p.url+full, rd)
	if err != nil {
		return fmt.Errorf("chatwoot: %w", err)
	}
	req.Header.Set("api_access_token", p.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	c := a.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("chatwoot: %s %s: %w", method, full, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("chatwoot: %s %s: read answer: %w", method, full, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &apiError{Method: method, Path: full, Status: resp.StatusCode, Body: string(bytes.TrimSpace(data))}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("chatwoot: %s %s: %w (%v)", method, full, errNotJSON, err)
		}
	}
	return nil
}

// settings are a portal's adapter settings, trimmed.
type settings struct {
	url, account, inbox, token string
	secret, pathToken          string
}

func settingsOf(m map[string]string) settings {
	get := func(k string) string { return strings.TrimSpace(m[k]) }
	return settings{
		url: strings.TrimRight(get(SettingURL), "/"), account: get(SettingAccountID), inbox: get(SettingInboxID),
		token: get(SettingToken), secret: get(SettingWebhookSecret), pathToken: get(SettingWebhookToken),
	}
}

// check says what the delivery settings lack.
func (s settings) check() error {
	var missing []string
	for _, kv := range [][2]string{{SettingURL, s.url}, {SettingAccountID, s.account}, {SettingInboxID, s.inbox}, {SettingToken, s.token}} {
		if kv[1] == "" {
			missing = append(missing, kv[0])
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("the settings lack %s", strings.Join(missing, ", "))
	}
	if !digits(s.account) || !digits(s.inbox) {
		return fmt.Errorf("account_id and inbox_id are Chatwoot's numbers (got %q and %q)", s.account, s.inbox)
	}
	if u, err := url.Parse(s.url); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("url %q is not an http(s) address", s.url)
	}
	return nil
}

func digits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// id is a Chatwoot id: a JSON number (their ids are integers) kept as its
// decimal text, also accepted as a string.
type id string

func (i *id) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "null" {
		*i = ""
		return nil
	}
	if strings.HasPrefix(s, `"`) {
		var str string
		if err := json.Unmarshal(b, &str); err != nil {
			return err
		}
		*i = id(str)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("chatwoot: id %.40s is not a number", s)
	}
	*i = id(n.String())
	return nil
}
