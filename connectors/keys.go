package connectors

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// DedupeKey is the key of one received update: connector type, connection
// id and the parts that name the update at the messenger (its update or
// event id), joined by ":". Every channel builds its keys with it, so the
// gateway can find everything one connection received by the prefix
// DedupeKeyPrefix gives. The resulting strings are stored (dedupe rows) and
// hashed into event ids (EventID): a channel must never change the parts it
// passes for an update it already keys.
func DedupeKey(connectorType, connectionID string, parts ...string) string {
	return DedupeKeyPrefix(connectorType, connectionID) + strings.Join(parts, ":")
}

// DedupeKeyPrefix is the prefix every DedupeKey of a connection starts with.
func DedupeKeyPrefix(connectorType, connectionID string) string {
	return connectorType + ":" + connectionID + ":"
}

// ProfileHash is an event's user.profile_hash over the profile fields the
// event carries: hex(sha256[:16]) of the fields, each length-prefixed so
// that no two different field lists hash the same input. It changes exactly
// when one of the fields changes; portals treat it as opaque.
func ProfileHash(fields ...string) string {
	h := sha256.New()
	for _, f := range fields {
		fmt.Fprintf(h, "%d:%s", len(f), f)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}
