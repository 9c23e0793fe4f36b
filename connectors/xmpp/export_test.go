package xmpp

import (
	"time"

	"github.com/connector-gateway/connector/connectors"
)

// MapRaw exposes the stanza → event mapping to the external tests: raw
// <message/> XML in, the events and the archive id out.
func MapRaw(c connectors.Conn, bare, nick string, raw []byte, now time.Time) ([]connectors.Keyed, string, error) {
	m, err := parseStanza(raw)
	if err != nil {
		return nil, "", err
	}
	out := mapStanza(c, self{Bare: bare, Nick: nick}, m, now)
	return out.Events, out.ArchiveID, nil
}

// SetRefillFault makes the pool's refills fail with f's error (nil f, or
// f returning nil: refills work), standing in for a group chat service
// that refuses new rooms for a while.
func SetRefillFault(cn *Connector, f func() error) {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	cn.refillFault = f
}
