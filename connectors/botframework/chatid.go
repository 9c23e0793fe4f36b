package botframework

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
)

// chatIDPrefix versions the chat id encoding.
const chatIDPrefix = "bf1."

// conversationRef is everything a reply to a conversation needs: where to
// post (the service URL the conversation came from, which differs by region
// and channel), the conversation, and who the bot is in it. The connector
// keeps no state, so the chat id a portal sees is this reference, encoded:
// a reply, or a proactive message days later and after any number of
// gateway restarts, carries it back.
type conversationRef struct {
	ServiceURL     string `json:"s"`
	ConversationID string `json:"c"`
	ChannelID      string `json:"ch"`
	TenantID       string `json:"t,omitempty"`
	BotID          string `json:"b,omitempty"`
	BotName        string `json:"bn,omitempty"`
}

// chatID encodes ref as "bf1." + base64url (no padding) of its JSON. The
// same conversation seen through the same service URL always gives the
// same string.
func (ref conversationRef) chatID() string {
	b, _ := json.Marshal(ref)
	return chatIDPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// decodeChatID reverses chatID. Whatever it returns must still pass the
// service URL allow-list before anything is posted there: a portal could
// make up a chat id.
func decodeChatID(s string) (conversationRef, error) {
	enc, ok := strings.CutPrefix(s, chatIDPrefix)
	if !ok {
		return conversationRef{}, permanent("chat id %q is not a Bot Framework chat id (it must be one an event named)", truncate(s, 40))
	}
	raw, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		return conversationRef{}, permanent("chat id is not a Bot Framework chat id (bad encoding)")
	}
	var ref conversationRef
	if err := json.Unmarshal(raw, &ref); err != nil || ref.ServiceURL == "" || ref.ConversationID == "" || ref.ChannelID == "" {
		return conversationRef{}, permanent("chat id is not a Bot Framework chat id (incomplete conversation reference)")
	}
	return ref, nil
}

// urlPattern is one entry of the service URL allow-list.
type urlPattern struct {
	scheme, host, port, path string
	wildcard                 bool // host is a suffix: "*.botframework.com"
}

// parsePattern reads scheme://host[:port][/path-prefix], host optionally
// starting with "*.".
func parsePattern(p string) (urlPattern, error) {
	wild := false
	raw := p
	if i := strings.Index(raw, "://*."); i >= 0 {
		wild = true
		raw = raw[:i+3] + raw[i+5:]
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Hostname() == "" || u.RawQuery != "" || u.User != nil {
		return urlPattern{}, fmt.Errorf("botframework: service URL pattern %q: want scheme://host[:port][/path], host optionally starting with *.", p)
	}
	return urlPattern{scheme: u.Scheme, host: strings.ToLower(u.Hostname()), port: portOf(u), path: strings.TrimRight(u.Path, "/"), wildcard: wild}, nil
}

func portOf(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if u.Scheme == "http" {
		return "80"
	}
	return "443"
}

func (p urlPattern) match(u *url.URL) bool {
	if u.Scheme != p.scheme || portOf(u) != p.port || u.User != nil {
		return false
	}
	host := strings.ToLower(u.Hostname())
	if p.wildcard {
		if !strings.HasSuffix(host, "."+p.host) {
			return false
		}
	} else if host != p.host {
		return false
	}
	if p.path == "" {
		return true
	}
	return u.Path == p.path || strings.HasPrefix(u.Path, p.path+"/")
}

// allowedServiceURL parses a service URL and checks it against the
// allow-list, so no chat id (which a portal hands in) can make the gateway
// post the bot's access token to a host that is not Bot Framework's.
func (cn *Connector) allowedServiceURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, permanent("service URL %q is not an absolute URL", truncate(raw, 80))
	}
	for _, p := range cn.serviceURLs {
		if p.match(u) {
			return u, nil
		}
	}
	return nil, permanent("service URL %q is not a Bot Framework host the gateway posts to (see botframework.service_urls)", truncate(raw, 80))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
