package xmpp

import (
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"mellium.im/xmpp/jid"

	"github.com/connector-gateway/connector/connectors"
)

// Setting keys.
const (
	// SettingMode is "client" (default: log in as an account) or
	// "component" (connect as an external component, XEP-0114).
	SettingMode = "mode"
	// SettingComponentJID is the component's address in component mode,
	// e.g. "support.example.org"; people write to it.
	SettingComponentJID = "component_jid"
	// SettingSecret is the component's shared secret.
	SettingSecret = "component_secret"
	// SettingJID is the gateway's account (client mode), e.g.
	// "support@example.org".
	SettingJID = "jid"
	// SettingPassword is the account's password.
	SettingPassword = "password"
	// SettingServer is host:port of the server's client port. Default: the
	// JID's domain, port 5222 (no DNS SRV lookup).
	SettingServer = "server"
	// SettingNick is the name the gateway uses in rooms. Default "support".
	SettingNick = "nick"
	// SettingMUCService is the multi-user chat service to use, e.g.
	// "conference.example.org". No default: the connection test names the
	// server's when it is empty, but does not store it.
	SettingMUCService = "muc_service"
	// SettingRoomPool is how many waiting rooms the pool keeps on the
	// group chat service (client mode). Default 0: no pool.
	SettingRoomPool = "room_pool"
	// SettingRoomIdle closes a pool conversation after this long without
	// a room message from the visitor that became an event (the gateway's
	// own replies do not count; a Go duration, like "30m"). Default 0:
	// never.
	SettingRoomIdle = "room_idle_timeout"

	// The web chat (Converse.js in visitors' browsers, anonymous login,
	// one pool room per conversation). Set all three to turn it on; it
	// needs a room pool.

	// SettingWebchatWS is the XMPP server's WebSocket endpoint as browsers
	// reach it, like wss://xmpp.example.org/xmpp-websocket (ws:// only on
	// loopback).
	SettingWebchatWS = "webchat_websocket_url"
	// SettingWebchatDomain is the server's anonymous VirtualHost, like
	// anon.example.org: visitors log in there without an account.
	SettingWebchatDomain = "webchat_anonymous_domain"
	// SettingWebchatOrigins lists the sites that may show the chat, as
	// for the web chat widget: https://www.example.com https://*.example.org
	SettingWebchatOrigins = "webchat_allowed_origins"
	// SettingWebchatTitle names the pool's rooms, which is what visitors
	// see at the top of the chat. Default "Chat with us".
	SettingWebchatTitle = "webchat_title"
)

// Modes.
const (
	ModeClient    = "client"
	ModeComponent = "component"
)

// settings are a connection's validated settings.
type settings struct {
	Mode string
	// JID is the account (client mode) or the component's address.
	JID      jid.JID
	Password string // the account's password, or the component's secret
	Server   string
	Nick     string
	MUC      string
	Pool     int
	PoolIdle time.Duration
	// Web chat; WebchatWS is empty when it is off.
	WebchatWS      string
	WebchatDomain  string
	WebchatOrigins string
	WebchatTitle   string
}

// loopback reports whether the server is on this machine, the one case in
// which the connector does without TLS (a test server, or a Prosody next to
// the gateway).
func (s settings) loopback() bool {
	host, _, err := net.SplitHostPort(s.Server)
	if err != nil {
		return false
	}
	return loopbackHost(host)
}

func parseSettings(in connectors.Settings) (settings, connectors.FieldErrors) {
	fe := connectors.FieldErrors{}
	s := settings{Mode: strings.TrimSpace(in[SettingMode])}
	if s.Mode == "" {
		s.Mode = ModeClient
	}
	switch s.Mode {
	case ModeClient:
		raw := strings.TrimSpace(in[SettingJID])
		j, err := jid.Parse(raw)
		switch {
		case raw == "":
			fe[SettingJID] = "required: the gateway's XMPP account, like support@example.org"
		case err != nil:
			fe[SettingJID] = "not a valid JID: " + err.Error()
		case j.Localpart() == "":
			fe[SettingJID] = "needs an account name before the @, like support@example.org"
		default:
			s.JID = j.Bare()
		}
		s.Password = in[SettingPassword]
		if s.Password == "" {
			fe[SettingPassword] = "required: the account's password"
		}
	case ModeComponent:
		raw := strings.TrimSpace(in[SettingComponentJID])
		j, err := jid.Parse(raw)
		switch {
		case raw == "":
			fe[SettingComponentJID] = "required: the component's address, like support.example.org"
		case err != nil || j.Localpart() != "" || j.Resourcepart() != "":
			fe[SettingComponentJID] = "want a bare domain, like support.example.org"
		default:
			s.JID = j
		}
		s.Password = in[SettingSecret]
		if s.Password == "" {
			fe[SettingSecret] = "required: the component_secret from the server's config"
		}
		if strings.TrimSpace(in[SettingServer]) == "" {
			fe[SettingServer] = "required in component mode: host:port of the server's component port (Prosody: 5347)"
		}
	default:
		fe[SettingMode] = `want "client" or "component"`
	}
	s.Server = strings.TrimSpace(in[SettingServer])
	if s.Server == "" && s.Mode == ModeClient && fe[SettingJID] == "" {
		s.Server = net.JoinHostPort(s.JID.Domainpart(), "5222")
	} else if s.Server != "" {
		if _, port, err := net.SplitHostPort(s.Server); err != nil || port == "" {
			fe[SettingServer] = "want host:port, like xmpp.example.org:5222"
		}
	}
	s.Nick = strings.TrimSpace(in[SettingNick])
	if s.Nick == "" {
		s.Nick = "support"
	}
	s.MUC = strings.TrimSpace(in[SettingMUCService])
	if s.MUC != "" {
		if m, err := jid.Parse(s.MUC); err != nil || m.Localpart() != "" || m.Resourcepart() != "" {
			fe[SettingMUCService] = "want a service domain, like conference.example.org"
		}
	}
	if raw := strings.TrimSpace(in[SettingRoomPool]); raw != "" && raw != "0" {
		n, err := strconv.Atoi(raw)
		switch {
		case err != nil || n < 0 || n > 500:
			fe[SettingRoomPool] = "want a number of rooms, 0..500"
		case s.Mode != ModeClient || s.MUC == "":
			fe[SettingRoomPool] = "a room pool needs client mode and muc_service"
		default:
			s.Pool = n
		}
	}
	if raw := strings.TrimSpace(in[SettingRoomIdle]); raw != "" && raw != "0" {
		d, err := time.ParseDuration(raw)
		if err != nil || d < time.Second {
			fe[SettingRoomIdle] = "want a duration of at least 1s, like 30m"
		}
		s.PoolIdle = d
	}
	parseWebchat(in, &s, fe)
	if len(fe) > 0 {
		return s, fe
	}
	return s, nil
}

// parseWebchat checks the web chat's three settings: all or none.
func parseWebchat(in connectors.Settings, s *settings, fe connectors.FieldErrors) {
	ws := strings.TrimSpace(in[SettingWebchatWS])
	dom := strings.TrimSpace(in[SettingWebchatDomain])
	orig := strings.TrimSpace(in[SettingWebchatOrigins])
	if ws == "" && dom == "" && orig == "" {
		return
	}
	if u, err := url.Parse(ws); ws == "" || err != nil || u.Host == "" || (u.Scheme != "wss" && u.Scheme != "ws") {
		fe[SettingWebchatWS] = "required for the web chat: the server's WebSocket URL as browsers reach it, like wss://xmpp.example.org/xmpp-websocket"
	} else if u.Scheme == "ws" && !loopbackHost(u.Hostname()) {
		fe[SettingWebchatWS] = "use wss:// (browsers on https pages refuse ws://, and the chat must not travel in clear); ws:// is accepted on loopback only"
	} else {
		s.WebchatWS = u.String()
	}
	if d, err := jid.Parse(dom); dom == "" || err != nil || d.Localpart() != "" || d.Resourcepart() != "" {
		fe[SettingWebchatDomain] = "required for the web chat: the server's anonymous VirtualHost, like anon.example.org"
	} else {
		s.WebchatDomain = d.String()
	}
	if os, msg := connectors.ValidateOrigins(orig); msg != "" {
		fe[SettingWebchatOrigins] = msg
	} else {
		s.WebchatOrigins = connectors.JoinOrigins(os)
	}
	s.WebchatTitle = strings.TrimSpace(in[SettingWebchatTitle])
	if s.WebchatTitle == "" {
		s.WebchatTitle = "Chat with us"
	} else if utf8.RuneCountInString(s.WebchatTitle) > 100 {
		fe[SettingWebchatTitle] = "use at most 100 characters"
	}
	if s.Pool == 0 && fe[SettingRoomPool] == "" {
		fe[SettingRoomPool] = "the web chat hands each visitor a room of the pool: set room_pool (and muc_service), e.g. 10"
	}
}

func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (s settings) normalized() connectors.Settings {
	out := connectors.Settings{SettingMode: s.Mode, SettingServer: s.Server, SettingNick: s.Nick}
	if s.Mode == ModeComponent {
		out[SettingComponentJID], out[SettingSecret] = s.JID.String(), s.Password
	} else {
		out[SettingJID], out[SettingPassword] = s.JID.String(), s.Password
	}
	if s.MUC != "" {
		out[SettingMUCService] = s.MUC
	}
	if s.Pool > 0 {
		out[SettingRoomPool] = strconv.Itoa(s.Pool)
	}
	if s.PoolIdle > 0 {
		out[SettingRoomIdle] = s.PoolIdle.String()
	}
	if s.WebchatWS != "" {
		out[SettingWebchatWS], out[SettingWebchatDomain], out[SettingWebchatOrigins] = s.WebchatWS, s.WebchatDomain, s.WebchatOrigins
		out[SettingWebchatTitle] = s.WebchatTitle
	}
	return out
}
