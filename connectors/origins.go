package connectors

import (
	"fmt"
	"net/url"
	"strings"
)

// The origin rules of every chat the gateway serves to browsers (the web
// chat widget, the XMPP web chat): a connection lists the sites that may
// show it, and each browser-facing endpoint checks the page's Origin header
// against that list. One implementation, so both chats answer the same site
// the same way.

// Origin is one allowed site; Wildcard allows every subdomain of Host (not
// Host itself).
type Origin struct {
	Scheme, Host, Port string
	Wildcard           bool
}

func (o Origin) String() string {
	h := o.Host
	if o.Wildcard {
		h = "*." + h
	}
	if o.Port != "" {
		h += ":" + o.Port
	}
	return o.Scheme + "://" + h
}

// ValidateOrigins parses an allowed-sites setting (origins separated by
// spaces, commas or new lines) and says what is wrong with it ("" when
// nothing is).
func ValidateOrigins(raw string) ([]Origin, string) {
	var out []Origin
	for _, f := range SplitList(raw) {
		o, err := ParseOrigin(f)
		if err != nil {
			return nil, err.Error()
		}
		out = append(out, o)
	}
	if len(out) == 0 {
		return nil, "list at least one site, e.g. https://www.example.com"
	}
	return out, ""
}

// ParseOrigins parses a setting that was validated before; bad entries are
// skipped.
func ParseOrigins(raw string) []Origin {
	var out []Origin
	for _, f := range SplitList(raw) {
		if o, err := ParseOrigin(f); err == nil {
			out = append(out, o)
		}
	}
	return out
}

// SplitList splits a setting on commas, semicolons and white space.
func SplitList(raw string) []string {
	return strings.FieldsFunc(raw, func(r rune) bool { return r == ',' || r == ';' || r == ' ' || r == '\n' || r == '\t' || r == '\r' })
}

// ParseOrigin parses one origin: scheme and host (and port) only; "*." in
// front of the host stands for its subdomains.
func ParseOrigin(s string) (Origin, error) {
	u, err := url.Parse(strings.TrimSuffix(s, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" {
		return Origin{}, fmt.Errorf("%q is not an origin: want scheme and host only, e.g. https://www.example.com", s)
	}
	o := Origin{Scheme: u.Scheme, Host: strings.ToLower(u.Hostname()), Port: u.Port()}
	if rest, ok := strings.CutPrefix(o.Host, "*."); ok {
		o.Host, o.Wildcard = rest, true
	}
	if o.Host == "" || strings.Contains(o.Host, "*") {
		return Origin{}, fmt.Errorf("%q: a wildcard may only stand for subdomains, as in https://*.example.com", s)
	}
	return o, nil
}

// JoinOrigins is the normalized form of a list, space separated.
func JoinOrigins(os []Origin) string {
	parts := make([]string, len(os))
	for i, o := range os {
		parts[i] = o.String()
	}
	return strings.Join(parts, " ")
}

// OriginAllowed reports whether the Origin header value names one of the
// sites in the allowed setting. Scheme and port must match exactly (default
// ports are implied); "null" and a missing header are never allowed.
func OriginAllowed(allowedRaw, header string) bool {
	if header == "" || header == "null" {
		return false
	}
	u, err := url.Parse(header)
	if err != nil || u.Host == "" || u.Path != "" {
		return false
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	for _, o := range ParseOrigins(allowedRaw) {
		if o.Scheme != u.Scheme || portOrDefault(o.Scheme, o.Port) != portOrDefault(u.Scheme, port) {
			continue
		}
		if host == o.Host && !o.Wildcard {
			return true
		}
		if o.Wildcard && strings.HasSuffix(host, "."+o.Host) {
			return true
		}
	}
	return false
}

func portOrDefault(scheme, port string) string {
	if port != "" {
		return port
	}
	if scheme == "https" {
		return "443"
	}
	return "80"
}
