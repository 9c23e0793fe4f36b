package botframework

import (
	"fmt"
	"net/url"
	"strings"
)

// chatIDBudget is the longest chat id that still carries the tenant. The
// gateway keys a chat by connection id and chat id in 255 characters, so
// chat ids stay short: the tenant (not needed to post into an existing
// conversation) is left out of ids that would pass this.
const chatIDBudget = 200

// conversationRef is everything a reply to a conversation needs: where to
// post (the service URL the conversation came from, which differs by region
// and channel), the conversation, its channel and tenant. The connector
// keeps no state, so the chat id a portal sees is this reference, encoded:
// a reply, or a proactive message days later and after any number of
// gateway restarts, carries it back.
type conversationRef struct {
	ServiceURL     string
	ConversationID string
	ChannelID      string
	TenantID       string
}

// chatID encodes ref as "<channelId>|<service>|<conversationId>[|<tenant>]"
// where service is the service URL without its "https://" (an http URL,
// which only tests and the Emulator use, keeps its scheme) and each part
// has '%' and '|' percent-escaped. The same conversation seen through the
// same service URL always gives the same string.
func (ref conversationRef) chatID() string {
	svc := ref.ServiceURL
	if rest, ok := strings.CutPrefix(svc, "https://"); ok && !hasScheme(rest) {
		svc = rest
	}
	id := escapePart(ref.ChannelID) + "|" + escapePart(svc) + "|" + escapePart(ref.ConversationID)
	if ref.TenantID != "" {
		if withTenant := id + "|" + escapePart(ref.TenantID); len(withTenant) <= chatIDBudget {
			return withTenant
		}
	}
	return id
}

// hasScheme tells whether a service part of a chat id is a whole URL.
func hasScheme(s string) bool {
	return strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://")
}

var partEscaper = strings.NewReplacer("%", "%25", "|", "%7C")

func escapePart(s string) string { return partEscaper.Replace(s) }

// decodeChatID reverses chatID. Whatever it returns must still pass the
// service URL allow-list before anything is posted there: a portal could
// make up a chat id.
func decodeChatID(s string) (conversationRef, error) {
	parts := strings.Split(s, "|")
	if len(parts) != 3 && len(parts) != 4 {
		return conversationRef{}, permanent("chat id %q is not a Bot Framework chat id (it must be one an event named)", truncate(s, 40))
	}
	for i, p := range parts {
		u, err := url.PathUnescape(p)
		if err != nil {
			return conversationRef{}, permanent("chat id %q is not a Bot Framework chat id (bad escaping)", truncate(s, 40))
		}
		parts[i] = u
	}
	ref := conversationRef{ChannelID: parts[0], ServiceURL: parts[1], ConversationID: parts[2]}
	if len(parts) == 4 {
		ref.TenantID = parts[3]
	}
	if !hasScheme(ref.ServiceURL) {
		ref.ServiceURL = "https://" + ref.ServiceURL
	}
	if !channelIDShape.MatchString(ref.ChannelID) || ref.ConversationID == "" || len(parts[1]) == 0 {
		return conversationRef{}, permanent("chat id %q is not a Bot Framework chat id (incomplete conversation reference)", truncate(s, 40))
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

// fileHosts are hosts, besides the service URLs, whose attachment links
// need the bot's access token: Teams serves inline images from its
// "AMS" object store.
var fileHosts = []urlPattern{{scheme: "https", host: "asm.skype.com", port: "443", wildcard: true}}

// allowedFileURL checks an attachment link the gateway would fetch with
// the bot's access token: a service URL host or one of fileHosts.
func (cn *Connector) allowedFileURL(raw string) (*url.URL, error) {
	u, err := cn.allowedServiceURL(raw)
	if err == nil {
		return u, nil
	}
	if pu, perr := url.Parse(raw); perr == nil && pu.Host != "" {
		for _, p := range fileHosts {
			if p.match(pu) {
				return pu, nil
			}
		}
	}
	return nil, err
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
