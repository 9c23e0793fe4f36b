package connectors_test

import (
	"testing"

	"github.com/connector-gateway/connector/connectors"
)

// The keys are stored (dedupe rows) and hashed into event ids portals keep:
// these are the strings each channel built by hand before DedupeKey, and
// they must never change.
func TestDedupeKeyKeepsTheStoredStrings(t *testing.T) {
	for _, tc := range []struct {
		got, want string
	}{
		{connectors.DedupeKey("telegram", "conn_1", "1001"), "telegram:conn_1:1001"},
		{connectors.DedupeKey("slack", "con_s", "msg", "C1", "1700000000.000100"), "slack:con_s:msg:C1:1700000000.000100"},
		{connectors.DedupeKey("slack", "con_s", "edit", "C1", "1.1", "2.2"), "slack:con_s:edit:C1:1.1:2.2"},
		{connectors.DedupeKey("webchat", "con_w", "vis_1", "m1"), "webchat:con_w:vis_1:m1"},
		{connectors.DedupeKeyPrefix("telegram", "conn_1"), "telegram:conn_1:"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	if id := connectors.EventID(connectors.DedupeKey("telegram", "conn_1", "1001")); id != "evt_71927bf8eff85f3723374568d9dcdb04" {
		t.Errorf("event id drifted: %s", id)
	}
}

// ProfileHash is Telegram's (and Slack's) scheme from before it was shared:
// length-prefixed fields, hex of the first 16 bytes of SHA-256.
func TestProfileHashScheme(t *testing.T) {
	if got := connectors.ProfileHash("42", "Anna Berg", "", "annaberg", "de"); got != "5f32f5929414694b92f426fad7541d21" {
		t.Errorf("ProfileHash drifted: %s", got)
	}
	if connectors.ProfileHash("a", "bc") == connectors.ProfileHash("ab", "c") {
		t.Error("fields are not length-prefixed")
	}
}
