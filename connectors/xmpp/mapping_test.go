package xmpp_test

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/xmpp"
)

var (
	mapConn = connectors.Conn{ID: "c1", LineID: "l1"}
	mapNow  = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
)

func mapOne(t *testing.T, raw string) ([]connectors.Keyed, string) {
	t.Helper()
	evs, pos, err := xmpp.MapRaw(mapConn, "gw@example.org", "support", []byte(raw), mapNow)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return evs, pos
}

func TestMapping(t *testing.T) {
	cases := []struct {
		name, raw string
		typ       string // "" = no event
		key       string
		pos       string
		check     func(t *testing.T, k connectors.Keyed)
	}{
		{name: "live chat with the server's stanza-id",
			raw: `<message from="bob@example.org/phone" to="gw@example.org" type="chat" id="m1"><body>hi</body>` +
				`<stanza-id xmlns="urn:xmpp:sid:0" by="gw@example.org" id="A1"/></message>`,
			typ: connectors.TypeMessageCreated, key: "xmpp:c1:A1", pos: "A1",
			check: func(t *testing.T, k connectors.Keyed) {
				e := k.Event
				if e.Chat.ID != "bob@example.org" || e.Chat.Type != "private" || e.User.ID != "bob@example.org" || e.User.Name != "bob" ||
					e.Message.ID != "m1" || e.Message.Text != "hi" || !e.OccurredAt.Equal(mapNow) || e.ID != connectors.EventID("xmpp:c1:A1") {
					t.Errorf("%+v %+v %+v", e, e.Message, e.User)
				}
			}},
		{name: "a stanza-id by someone else is not trusted",
			raw: `<message from="bob@example.org/phone" type="chat" id="m1"><body>hi</body><stanza-id xmlns="urn:xmpp:sid:0" by="bob@example.org" id="X"/></message>`,
			typ: connectors.TypeMessageCreated, key: "xmpp:c1:bob@example.org/m1"},
		{name: "archived (MAM result) equals its live copy",
			raw: `<message to="gw@example.org/r"><result xmlns="urn:xmpp:mam:2" queryid="q" id="A1"><forwarded xmlns="urn:xmpp:forward:0">` +
				`<delay xmlns="urn:xmpp:delay" stamp="2026-12-01T10:00:00Z"/><message xmlns="jabber:client" from="bob@example.org/phone" to="gw@example.org" type="chat" id="m1"><body>hi</body></message></forwarded></result></message>`,
			typ: connectors.TypeMessageCreated, key: "xmpp:c1:A1", pos: "A1",
			check: func(t *testing.T, k connectors.Keyed) {
				if k.Event.OccurredAt != time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC) {
					t.Errorf("occurred_at %s, want the archive's stamp", k.Event.OccurredAt)
				}
			}},
		{name: "MAM result from someone else's archive is ignored",
			raw: `<message from="mallory@example.org"><result xmlns="urn:xmpp:mam:2" queryid="q" id="A1"><forwarded xmlns="urn:xmpp:forward:0">` +
				`<message xmlns="jabber:client" from="bob@example.org/phone" type="chat" id="m1"><body>hi</body></message></forwarded></result></message>`},
		{name: "own message in the archive is skipped but moves the position",
			raw: `<message to="gw@example.org/r"><result xmlns="urn:xmpp:mam:2" queryid="q" id="A2"><forwarded xmlns="urn:xmpp:forward:0">` +
				`<message xmlns="jabber:client" from="gw@example.org/x" to="bob@example.org" type="chat" id="cg-r-0"><body>answer</body></message></forwarded></result></message>`,
			pos: "A2"},
		{name: "receipt", raw: `<message from="bob@example.org/phone" type="chat" id="r"><received xmlns="urn:xmpp:receipts" id="cg-req_9-0"/></message>`,
			typ: connectors.TypeStatusDelivered, key: "xmpp:c1:delivered:cg-req_9-0",
			check: func(t *testing.T, k connectors.Keyed) {
				if k.Event.Status.RequestID != "req_9" || k.Event.Status.Operation != "send" {
					t.Errorf("%+v", k.Event.Status)
				}
			}},
		{name: "receipt for a message the gateway did not send", raw: `<message from="bob@example.org/phone" id="r"><received xmlns="urn:xmpp:receipts" id="other"/></message>`},
		{name: "displayed marker supersedes delivered",
			raw: `<message from="bob@example.org/phone" type="chat" id="d"><displayed xmlns="urn:xmpp:chat-markers:0" id="cg-req_9-1"/></message>`,
			typ: connectors.TypeStatusRead, key: "xmpp:c1:read:cg-req_9-1",
			check: func(t *testing.T, k connectors.Keyed) {
				if len(k.Supersedes) != 1 || k.Supersedes[0] != "xmpp:c1:delivered:cg-req_9-1" {
					t.Errorf("supersedes %v", k.Supersedes)
				}
			}},
		{name: "correction", raw: `<message from="bob@example.org/phone" type="chat" id="m2"><body>hello</body><replace xmlns="urn:xmpp:message-correct:0" id="m1"/></message>`,
			typ: connectors.TypeMessageUpdated, key: "xmpp:c1:bob@example.org/m2",
			check: func(t *testing.T, k connectors.Keyed) {
				if k.Event.Message.ID != "m1" || k.Event.Message.Text != "hello" || k.Event.Message.EditedAt == nil {
					t.Errorf("%+v", k.Event.Message)
				}
			}},
		{name: "retraction", raw: `<message from="bob@example.org/phone" type="chat" id="m3"><body>fallback</body><retract xmlns="urn:xmpp:message-retract:1" id="m1"/></message>`,
			typ: connectors.TypeMessageDeleted, key: "xmpp:c1:bob@example.org/m3",
			check: func(t *testing.T, k connectors.Keyed) {
				if k.Event.Message.ID != "m1" || k.Event.Message.Text != "" {
					t.Errorf("%+v", k.Event.Message)
				}
			}},
		{name: "older retraction (fastening)", raw: `<message from="bob@example.org/phone" type="chat" id="m4"><apply-to xmlns="urn:xmpp:fasten:0" id="m1"><retract xmlns="urn:xmpp:message-retract:0"/></apply-to></message>`,
			typ: connectors.TypeMessageDeleted, key: "xmpp:c1:bob@example.org/m4"},
		{name: "file link (HTTP upload + OOB)", raw: `<message from="bob@example.org/phone" type="chat" id="m5"><body>https://up.example.org/x/a%20b.png</body><x xmlns="jabber:x:oob"><url>https://up.example.org/x/a%20b.png</url></x></message>`,
			typ: connectors.TypeMessageCreated, key: "xmpp:c1:bob@example.org/m5",
			check: func(t *testing.T, k connectors.Keyed) {
				m := k.Event.Message
				if m.Text != "" || len(m.Files) != 1 || m.Files[0].URL != "https://up.example.org/x/a%20b.png" || m.Files[0].Name != "a%20b.png" {
					t.Errorf("%+v", m)
				}
			}},
		{name: "room message by an occupant", raw: `<message from="room1@conference.example.org/Visitor" type="groupchat" id="g1"><body>help</body><stanza-id xmlns="urn:xmpp:sid:0" by="room1@conference.example.org" id="R1"/></message>`,
			typ: connectors.TypeMessageCreated, key: "xmpp:c1:R1", pos: "R1",
			check: func(t *testing.T, k connectors.Keyed) {
				e := k.Event
				if e.Chat.ID != "room1@conference.example.org" || e.Chat.Type != "group" || e.User.Name != "Visitor" {
					t.Errorf("%+v %+v", e.Chat, e.User)
				}
			}},
		{name: "own room echo", raw: `<message from="room1@conference.example.org/support" type="groupchat" id="g2"><body>answer</body></message>`},
		{name: "chat state only", raw: `<message from="bob@example.org/phone" type="chat"><composing xmlns="http://jabber.org/protocol/chatstates"/></message>`},
		{name: "error", raw: `<message from="bob@example.org/phone" type="error" id="x"><body>hi</body></message>`},
		{name: "headline", raw: `<message from="example.org" type="headline"><body>motd</body></message>`},
		{name: "no from", raw: `<message type="chat"><body>hi</body></message>`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			evs, pos := mapOne(t, tc.raw)
			if pos != tc.pos {
				t.Errorf("archive id %q, want %q", pos, tc.pos)
			}
			if tc.typ == "" {
				if len(evs) != 0 {
					t.Fatalf("want no event, got %+v", evs)
				}
				return
			}
			if len(evs) != 1 || evs[0].Event.Type != tc.typ || evs[0].DedupeKey != tc.key {
				t.Fatalf("got %+v, want one %s under %s", evs, tc.typ, tc.key)
			}
			if evs[0].Event.ID != connectors.EventID(tc.key) || evs[0].Event.Connector != "xmpp" {
				t.Errorf("id %s connector %s", evs[0].Event.ID, evs[0].Event.Connector)
			}
			if tc.check != nil {
				tc.check(t, evs[0])
			}
		})
	}
}

// FuzzMapStanza: any bytes in, no panic; whatever maps, maps the same way
// twice (stable keys), and every event is well-formed.
func FuzzMapStanza(f *testing.F) {
	f.Add(`<message from="bob@example.org/phone" type="chat" id="m1"><body>hi</body><stanza-id xmlns="urn:xmpp:sid:0" by="gw@example.org" id="A1"/></message>`)
	f.Add(`<message><result xmlns="urn:xmpp:mam:2" id="A1"><forwarded xmlns="urn:xmpp:forward:0"><message from="b@e/x" type="chat"><body>x</body><result xmlns="urn:xmpp:mam:2" id="B"/></message></forwarded></result></message>`)
	f.Add(`<message from="b@e/x"><received xmlns="urn:xmpp:receipts" id="cg--0"/><displayed xmlns="urn:xmpp:chat-markers:0" id="cg-a-b-1"/></message>`)
	f.Add(`<message from="r@c/n" type="groupchat"><body>https://x/y</body><x xmlns="jabber:x:oob"><url>https://x/y</url></x><replace xmlns="urn:xmpp:message-correct:0" id="1"/></message>`)
	f.Fuzz(func(t *testing.T, raw string) {
		a, posA, errA := xmpp.MapRaw(mapConn, "gw@example.org", "support", []byte(raw), mapNow)
		b, posB, _ := xmpp.MapRaw(mapConn, "gw@example.org", "support", []byte(raw), mapNow)
		if errA != nil {
			return
		}
		if posA != posB || len(a) != len(b) {
			t.Fatalf("unstable mapping")
		}
		for i, k := range a {
			if k.DedupeKey != b[i].DedupeKey || !strings.HasPrefix(k.DedupeKey, "xmpp:c1:") || k.Event.ID != connectors.EventID(k.DedupeKey) {
				t.Fatalf("bad key %q / %q", k.DedupeKey, b[i].DedupeKey)
			}
			if k.Event.Chat == nil || k.Event.Type == "" {
				t.Fatalf("event without chat/type: %+v", k.Event)
			}
			if strings.HasPrefix(k.Event.Type, "message.") && (k.Event.Message == nil || k.Event.User == nil) {
				t.Fatalf("message event without message/user: %+v", k.Event)
			}
		}
	})
}

// The package may import, of this module, only connectors and its own
// sub-packages (the house rule for channels, so a channel can be lifted out
// or reviewed alone; connectors/imports_test.go checks every channel).
func TestImportsOnlyConnectors(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		pf, err := parser.ParseFile(token.NewFileSet(), f, src, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range pf.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasPrefix(p, "github.com/connector-gateway/connector") && p != "github.com/connector-gateway/connector/connectors" &&
				!strings.HasPrefix(p, "github.com/connector-gateway/connector/connectors/xmpp/") {
				t.Errorf("%s imports %s: only connectors is allowed", f, p)
			}
		}
	}
}
