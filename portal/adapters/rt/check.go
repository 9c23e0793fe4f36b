package rt

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sort"
	"strings"

	"github.com/connector-gateway/connector/portal"
)

var (
	_ portal.Tester    = (*Adapter)(nil)
	_ portal.Describer = (*Adapter)(nil)
)

// Settings lists the adapter's settings in the order a form shows them.
func (a *Adapter) Settings() []portal.AdapterSetting {
	return []portal.AdapterSetting{
		{Key: SettingURL, Label: "RT URL", Required: true,
			Help: "Request Tracker's base URL, e.g. https://rt.example.com (the REST2 API is under /REST/2.0)."},
		{Key: SettingQueue, Label: "Queue", Required: true,
			Help: "The RT queue new tickets go to. A line can have its own with the key queue.<line id>."},
		{Key: SettingToken, Label: "Auth token", Secret: true,
			Help: "An RT auth token (user menu → Settings → Auth Tokens), sent as \"Authorization: token …\". Or leave it empty and give a user and password."},
		{Key: SettingUser, Label: "User",
			Help: "RT user for basic auth, when no token is given."},
		{Key: SettingPassword, Label: "Password", Secret: true,
			Help: "That user's password."},
		{Key: SettingGatewayUser, Label: "Gateway's RT user",
			Help: "The RT user the gateway writes as, whose correspondence is not sent back to the chat. Default: the user above, or the token's owner."},
	}
}

// Test checks, without changing anything in RT, that RT answers at the
// URL, accepts the credentials and shows every configured queue.
func (a *Adapter) Test(ctx context.Context, p portal.Portal) error {
	base := strings.TrimSpace(p.Adapter[SettingURL])
	if base == "" {
		return errors.New("no RT URL is set (url)")
	}
	if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("the RT URL %q is not an http(s) URL", base)
	}
	if p.Adapter[SettingToken] == "" && (p.Adapter[SettingUser] == "" || p.Adapter[SettingPassword] == "") {
		return errors.New("no credentials: set an auth token (token), or a user and password")
	}
	var queues []string
	for k, v := range p.Adapter {
		if k == SettingQueue || strings.HasPrefix(k, SettingQueuePrefix) {
			if v != "" {
				queues = append(queues, v)
			}
		}
	}
	if len(queues) == 0 {
		return errors.New("no RT queue is set (queue)")
	}
	sort.Strings(queues)
	var about struct {
		Version string `json:"Version"`
	}
	if err := a.call(ctx, p, "GET", "/REST/2.0/rt", nil, &about); err != nil {
		return plain(base, "", err)
	}
	for i, q := range queues {
		if i > 0 && queues[i-1] == q {
			continue
		}
		var found struct {
			ID   any    `json:"id"`
			Name string `json:"Name"`
		}
		if err := a.call(ctx, p, "GET", "/REST/2.0/queue/"+url.PathEscape(q), nil, &found); err != nil {
			return plain(base, q, err)
		}
	}
	return nil
}

// plain turns a failed call of the test into words an admin can act on.
func plain(base, queue string, err error) error {
	var st *statusError
	switch {
	case errors.As(err, &st) && st.Code == 401:
		return errors.New("RT refused the credentials: check the auth token, or the user and password (and that the user is enabled)")
	case errors.As(err, &st) && st.Code == 403:
		return fmt.Errorf("RT refused the request (403): %s", st.Body)
	case errors.As(err, &st) && st.Code == 404 && queue != "":
		return fmt.Errorf("RT has no queue %q that this user may see: check its name and the user's SeeQueue and CreateTicket rights", queue)
	case errors.As(err, &st) && st.Code == 404:
		return fmt.Errorf("%s does not look like Request Tracker 5: /REST/2.0/rt answered 404 (is the URL RT's base URL?)", base)
	case errors.As(err, &st):
		return fmt.Errorf("RT answered %d: %s", st.Code, st.Body)
	}
	var ne net.Error
	var oe *net.OpError
	if errors.As(err, &oe) || errors.As(err, &ne) {
		return fmt.Errorf("cannot reach RT at %s: %v", base, err)
	}
	if strings.Contains(err.Error(), "invalid character") {
		return fmt.Errorf("%s answered, but not with REST2's JSON (is the URL RT's base URL?)", base)
	}
	return fmt.Errorf("RT at %s: %v", base, err)
}
