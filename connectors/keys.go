package connectors

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
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
	// The input is built in one buffer (on the stack for the usual short
	// profiles) and hashed at once: the same bytes "%d:%s" wrote, without
	// fmt's per-field cost.
	var arr [256]byte
	buf := arr[:0]
	for _, f := range fields {
		buf = strconv.AppendInt(buf, int64(len(f)), 10)
		buf = append(buf, ':')
		buf = append(buf, f...)
	}
	sum := sha256.Sum256(buf)
	return hex.EncodeToString(sum[:16])
}
