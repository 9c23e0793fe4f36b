package xmpp

import (
	"net"
	"strings"

	"mellium.im/xmpp/jid"

	"github.com/connector-gateway/connector/connectors"
)

// Setting keys.
const (
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
	// "conference.example.org". Default: discovered by the connection test.
	SettingMUCService = "muc_service"
)

// settings are a connection's validated settings.
type settings struct {
	JID      jid.JID
	Password string
	Server   string
	Nick     string
	MUC      string
}

// loopback reports whether the server is on this machine, the one case in
// which the connector does without TLS (a test server, or a Prosody next to
// the gateway).
func (s settings) loopback() bool {
	host, _, err := net.SplitHostPort(s.Server)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func parseSettings(in connectors.Settings) (settings, connectors.FieldErrors) {
	fe := connectors.FieldErrors{}
	var s settings
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
	s.Server = strings.TrimSpace(in[SettingServer])
	if s.Server == "" && fe[SettingJID] == "" {
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
	if len(fe) > 0 {
		return s, fe
	}
	return s, nil
}

func (s settings) normalized() connectors.Settings {
	out := connectors.Settings{
		SettingJID: s.JID.String(), SettingPassword: s.Password, SettingServer: s.Server, SettingNick: s.Nick,
	}
	if s.MUC != "" {
		out[SettingMUCService] = s.MUC
	}
	return out
}
