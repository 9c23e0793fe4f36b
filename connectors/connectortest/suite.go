// Package connectortest is the one conformance suite every channel passes,
// each against its own fake messenger, plus the test helpers channel tests
// share. A channel package runs it from a test of its own:
//
//	func TestConformance(t *testing.T) {
//		connectortest.Run(t, connectortest.Harness{...})
//	}
//
// The suite checks the contract of connectors.Connector and of every
// capability the connector has, as visible subtests (Describe,
// ValidateSettings/required/<key>, Capabilities/<name>, Parse/samples/<name>,
// Parse/forged/<name>, Parse/garbage, Parse/no_panic, Send, Edit, Delete,
// Typing, Activate, Deactivate, Test/working, Test/bad_credentials), so a channel
// that drifts from the contract fails in the subtest that names the drift.
package connectortest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/connector-gateway/connector/connectors"
)

// Harness is what a channel gives the suite: its connector wired to its
// own fake messenger.
type Harness struct {
	// New returns a fresh connector talking to the fake and a working
	// connection (settings from Settings, normalized by ValidateSettings,
	// EntryURL and a FileLinker set). It is called once per subtest that
	// needs one; cleanups go to t.
	New func(t *testing.T) (connectors.Connector, connectors.Conn, Messenger)
	// Settings are the raw settings of a working connection, as an admin
	// would paste them (before ValidateSettings).
	Settings connectors.Settings
	// Capabilities lists what the connector claims to do, by name (see
	// Capabilities). The suite fails a claim the connector does not
	// implement and a capability it implements but does not claim.
	Capabilities []string
	// Samples are the messenger's official sample payloads as requests
	// signed for the connection (WebhookReceivers only). Each must give at
	// least one event or a literal response.
	Samples func(c connectors.Conn) []Sample
	// Forged are requests that must be refused as ErrUnauthorized: a wrong
	// or missing signature or secret, a stale timestamp.
	Forged func(c connectors.Conn) []Sample
	// Sign makes a request that passes the channel's authentication for an
	// arbitrary body, so the suite can feed garbage past it.
	Sign func(c connectors.Conn, body []byte) connectors.Request
	// BadCredentials returns the connection with credentials the fake
	// refuses (or, for a channel without credentials, settings that cannot
	// work); Test must then report OK=false with a Fix, not fail.
	BadCredentials func(c connectors.Conn) connectors.Conn
}

// Sample is one webhook request with a name for its subtest.
type Sample struct {
	Name    string
	Request connectors.Request
}

// Messenger is the fake messenger as the suite reads it back.
type Messenger interface {
	// Chat is a chat of the fake the connector may send to.
	Chat() string
	// Received returns every operation the fake got so far, oldest first.
	// It may wait a little for operations on their way (a socket).
	Received(t *testing.T) []Op
}

// Op is one operation a fake messenger received.
type Op struct {
	// Kind is "send", "edit", "delete" or "typing".
	Kind   string
	ChatID string
	// MessageID is the message edited or deleted (a send may leave it
	// empty).
	MessageID string
	Text      string
}

// Capability names a Harness may claim, each with the interface that
// implements it.
var Capabilities = map[string]func(connectors.Connector) bool{
	"edit":          func(c connectors.Connector) bool { _, ok := c.(connectors.Editor); return ok },
	"delete":        func(c connectors.Connector) bool { _, ok := c.(connectors.Deleter); return ok },
	"typing":        func(c connectors.Connector) bool { _, ok := c.(connectors.Typer); return ok },
	"files":         func(c connectors.Connector) bool { _, ok := c.(connectors.FileFetcher); return ok },
	"poll":          func(c connectors.Connector) bool { _, ok := c.(connectors.Poller); return ok },
	"identify":      func(c connectors.Connector) bool { _, ok := c.(connectors.Identifier); return ok },
	"webhook":       func(c connectors.Connector) bool { _, ok := c.(connectors.WebhookReceiver); return ok },
	"handshake":     func(c connectors.Connector) bool { _, ok := c.(connectors.Handshaker); return ok },
	"embed":         func(c connectors.Connector) bool { _, ok := c.(connectors.Embedder); return ok },
	"pages":         func(c connectors.Connector) bool { _, ok := c.(connectors.PageServer); return ok },
	"conversations": func(c connectors.Connector) bool { _, ok := c.(connectors.Conversations); return ok },
	"read":          func(c connectors.Connector) bool { _, ok := c.(connectors.ReadMarker); return ok },
}

// fieldTypes are the documented kinds of connectors.Field.Type.
var fieldTypes = []string{"text", "secret", "select", "url", "bool"}

// eventTypes are the event types a connector may produce from a messenger.
var eventTypes = []string{
	connectors.TypeMessageCreated, connectors.TypeMessageUpdated, connectors.TypeMessageDeleted,
	connectors.TypeStatusDelivered, connectors.TypeStatusRead, connectors.TypeStatusFailed,
	connectors.TypeConnectionEmergency, connectors.TypeConnectionError,
	connectors.TypeCallInitiated, connectors.TypeCallRinging, connectors.TypeCallAnswered,
	connectors.TypeCallCompleted, connectors.TypeCallFailed, connectors.TypeCallRecorded,
}

var eventIDShape = regexp.MustCompile(`^evt_[0-9a-f]{32}$`)

// timeout bounds every call the suite makes.
const timeout = 20 * time.Second

// Run runs the conformance suite.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.New == nil || h.Settings == nil {
		t.Fatal("connectortest: Harness needs New and Settings")
	}
	cn, _, _ := h.New(t)
	desc := cn.Describe()

	t.Run("Describe", func(t *testing.T) { checkDescribe(t, desc) })
	t.Run("ValidateSettings", func(t *testing.T) { checkValidate(t, h, cn, desc) })
	t.Run("Capabilities", func(t *testing.T) { checkCapabilities(t, h, cn) })
	t.Run("Parse", func(t *testing.T) {
		if _, ok := cn.(connectors.WebhookReceiver); !ok {
			t.Skip("not a WebhookReceiver")
		}
		checkParse(t, h, desc)
	})
	checkOutbound(t, h)
	checkActivate(t, h)
	t.Run("Test", func(t *testing.T) { checkTest(t, h) })
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	return c
}

func checkDescribe(t *testing.T, d connectors.Description) {
	if d.Type == "" || strings.ContainsAny(d.Type, ": ") {
		t.Errorf("type %q: want a non-empty word without ':' (it starts every dedupe key)", d.Type)
	}
	if d.Title == "" {
		t.Error("title is empty: the wizard shows it")
	}
	seen := map[string]bool{}
	for _, f := range d.Fields {
		if f.Key == "" || f.Label == "" {
			t.Errorf("field %+v: key and label must be set", f)
		}
		if seen[f.Key] {
			t.Errorf("field key %q appears twice", f.Key)
		}
		seen[f.Key] = true
		if !slices.Contains(fieldTypes, f.Type) {
			t.Errorf("field %q: type %q is not one of %v", f.Key, f.Type, fieldTypes)
		}
		if f.Type == "select" {
			if len(f.Options) == 0 {
				t.Errorf("field %q: a select needs options", f.Key)
			}
			if f.Default != "" && !slices.Contains(f.Options, f.Default) {
				t.Errorf("field %q: default %q is not one of its options %v", f.Key, f.Default, f.Options)
			}
		}
		if f.Type == "bool" && f.Default != "" && f.Default != "true" && f.Default != "false" {
			t.Errorf("field %q: bool default %q, want true or false", f.Key, f.Default)
		}
	}
}

func checkValidate(t *testing.T, h Harness, cn connectors.Connector, d connectors.Description) {
	t.Run("working", func(t *testing.T) {
		if _, err := cn.ValidateSettings(copySettings(h.Settings)); err != nil {
			t.Fatalf("the harness's working settings are refused: %v", err)
		}
	})
	for _, f := range d.Fields {
		if !f.Required {
			continue
		}
		t.Run("required/"+f.Key, func(t *testing.T) {
			for name, s := range map[string]connectors.Settings{
				"missing": without(h.Settings, f.Key),
				"blank":   WithSettings(connectors.Conn{Settings: h.Settings}, f.Key, "  ").Settings,
			} {
				_, err := cn.ValidateSettings(s)
				var fe connectors.FieldErrors
				if !errors.As(err, &fe) {
					t.Errorf("%s: ValidateSettings = %v, want a FieldErrors naming %q", name, err, f.Key)
					continue
				}
				if fe[f.Key] == "" {
					t.Errorf("%s: FieldErrors %v does not name %q", name, fe, f.Key)
				}
			}
		})
	}
}

func checkCapabilities(t *testing.T, h Harness, cn connectors.Connector) {
	for _, name := range h.Capabilities {
		if Capabilities[name] == nil {
			t.Errorf("claimed capability %q is not one the suite knows", name)
		}
	}
	names := make([]string, 0, len(Capabilities))
	for name := range Capabilities {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			claimed, has := slices.Contains(h.Capabilities, name), Capabilities[name](cn)
			switch {
			case claimed && !has:
				t.Errorf("the harness claims %q but %T does not implement it", name, cn)
			case has && !claimed:
				t.Errorf("%T implements %q but the harness does not claim it", cn, name)
			}
		})
	}
}

func checkParse(t *testing.T, h Harness, d connectors.Description) {
	if h.Samples == nil || h.Forged == nil || h.Sign == nil {
		t.Fatal("a WebhookReceiver's harness needs Samples, Forged and Sign")
	}
	cn, c, _ := h.New(t)
	wr := cn.(connectors.WebhookReceiver)
	secrets := secretValues(d, c.Settings)
	samples := h.Samples(c)
	if len(samples) == 0 {
		t.Fatal("no samples")
	}

	t.Run("samples", func(t *testing.T) {
		for _, s := range samples {
			t.Run(s.Name, func(t *testing.T) {
				in, err := parse(t, wr, c, s.Request)
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if len(in.Events) == 0 && in.Response == nil {
					t.Fatal("an official sample gave neither events nor a response")
				}
				for _, k := range in.Events {
					checkEvent(t, d.Type, c, k, secrets)
				}
				again, err := parse(t, wr, c, s.Request)
				if err != nil {
					t.Fatalf("Parse again: %v", err)
				}
				if len(again.Events) != len(in.Events) {
					t.Fatalf("repeat gave %d events, first parse %d", len(again.Events), len(in.Events))
				}
				for i := range in.Events {
					if a, b := in.Events[i], again.Events[i]; a.DedupeKey != b.DedupeKey || a.Event.ID != b.Event.ID {
						t.Errorf("event %d not stable across repeats: %q/%s then %q/%s", i, a.DedupeKey, a.Event.ID, b.DedupeKey, b.Event.ID)
					}
				}
			})
		}
	})

	t.Run("forged", func(t *testing.T) {
		forged := h.Forged(c)
		if len(forged) == 0 {
			t.Fatal("no forged requests")
		}
		for _, s := range forged {
			t.Run(s.Name, func(t *testing.T) {
				in, err := parse(t, wr, c, s.Request)
				if !errors.Is(err, connectors.ErrUnauthorized) {
					t.Errorf("Parse = %v, want an error wrapping ErrUnauthorized", err)
				}
				if len(in.Events) > 0 {
					t.Errorf("a forged request gave %d events", len(in.Events))
				}
			})
		}
	})

	t.Run("garbage", func(t *testing.T) {
		for _, body := range []string{"", "not json", "{", `{"a":`, "\x00\xff\xfe", "[1,2", `"just a string`} {
			in, err := parse(t, wr, c, h.Sign(c, []byte(body)))
			if !errors.Is(err, connectors.ErrMalformed) {
				t.Errorf("Parse(%q) = %v, want an error wrapping ErrMalformed", body, err)
			}
			if len(in.Events) > 0 {
				t.Errorf("Parse(%q) gave events", body)
			}
		}
	})

	// Truncated samples and random bytes, properly signed: no panic, and an
	// error, if any, says the payload is at fault.
	t.Run("no panic", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		var bodies [][]byte
		for _, s := range samples {
			b := s.Request.Body
			for _, n := range []int{0, 1, len(b) / 4, len(b) / 2, len(b) - 1} {
				if n >= 0 && n < len(b) {
					bodies = append(bodies, b[:n])
				}
			}
			flipped := slices.Clone(b)
			if len(flipped) > 0 {
				flipped[rng.IntN(len(flipped))] ^= 0x20
				bodies = append(bodies, flipped)
			}
		}
		for range 32 {
			b := make([]byte, rng.IntN(200))
			for i := range b {
				b[i] = byte(rng.UintN(256))
			}
			bodies = append(bodies, b)
		}
		for _, b := range bodies {
			_, err := parse(t, wr, c, h.Sign(c, b))
			if err != nil && !errors.Is(err, connectors.ErrMalformed) {
				t.Errorf("Parse(%q) = %v, want nil or an error wrapping ErrMalformed", b, err)
			}
		}
	})
}

// parse calls Parse and turns a panic into a test failure naming the body.
func parse(t *testing.T, wr connectors.WebhookReceiver, c connectors.Conn, r connectors.Request) (in connectors.Inbound, err error) {
	t.Helper()
	defer func() {
		if p := recover(); p != nil {
			t.Errorf("Parse panicked on %q: %v", r.Body, p)
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return wr.Parse(ctx(t), c, r)
}

// checkEvent checks one event's documented shape (docs/protocol.md).
func checkEvent(t *testing.T, typ string, c connectors.Conn, k connectors.Keyed, secrets []string) {
	t.Helper()
	ev := k.Event
	if !strings.HasPrefix(k.DedupeKey, connectors.DedupeKeyPrefix(typ, c.ID)) || len(k.DedupeKey) == len(connectors.DedupeKeyPrefix(typ, c.ID)) {
		t.Errorf("dedupe key %q does not follow connectors.DedupeKey(%q, %q, ...)", k.DedupeKey, typ, c.ID)
	}
	if ev.ID != connectors.EventID(k.DedupeKey) || !eventIDShape.MatchString(ev.ID) {
		t.Errorf("event id %q, want connectors.EventID(%q) = %s", ev.ID, k.DedupeKey, connectors.EventID(k.DedupeKey))
	}
	if !slices.Contains(eventTypes, ev.Type) {
		t.Errorf("event type %q is not a documented type", ev.Type)
	}
	if ev.Connector != typ || ev.Channel == "" || ev.Connection != c.ID || ev.Line != c.LineID {
		t.Errorf("connector/channel/connection/line = %q/%q/%q/%q, want %q/set/%q/%q", ev.Connector, ev.Channel, ev.Connection, ev.Line, typ, c.ID, c.LineID)
	}
	if ev.OccurredAt.IsZero() {
		t.Error("occurred_at is not set")
	}
	if strings.HasPrefix(ev.Type, "message.") {
		if ev.Chat == nil || ev.Chat.ID == "" || ev.Chat.Type == "" {
			t.Errorf("%s without chat id and type: %+v", ev.Type, ev.Chat)
		}
		if ev.Message == nil || ev.Message.ID == "" {
			t.Errorf("%s without message id: %+v", ev.Type, ev.Message)
		}
		if ev.Type != connectors.TypeMessageDeleted && (ev.User == nil || ev.User.ID == "") {
			t.Errorf("%s without user id: %+v", ev.Type, ev.User)
		}
	}
	raw, err := json.Marshal(ev)
	if err != nil {
		t.Fatalf("marshal event: %v", err)
	}
	for _, s := range secrets {
		if strings.Contains(string(raw), s) || strings.Contains(k.DedupeKey, s) {
			t.Errorf("a secret setting's value appears in the event or its dedupe key: %s", raw)
		}
	}
}

// secretValues are the values of the connection's secret settings.
func secretValues(d connectors.Description, s connectors.Settings) []string {
	var out []string
	for _, f := range d.Fields {
		if f.Type == "secret" && len(s[f.Key]) >= 4 {
			out = append(out, s[f.Key])
		}
	}
	return out
}

// send sends a text to the harness's chat and returns the id the connector
// reports, after checking the fake received it.
func send(t *testing.T, cn connectors.Connector, c connectors.Conn, fake Messenger) string {
	t.Helper()
	chat := fake.Chat()
	if chat == "" {
		t.Fatal("the fake messenger names no chat to send to")
	}
	text := "conformance: hello from the gateway"
	d, err := cn.Send(ctx(t), c, connectors.Outbound{ChatID: chat, Text: text})
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if len(d.MessageIDs) == 0 || d.MessageIDs[0] == "" {
		t.Fatalf("Send delivered %+v: want the messenger's message id", d)
	}
	// The id is checked by Edit and Delete, which must find the message by it.
	await(t, fake, "Send", Op{Kind: "send", ChatID: chat, Text: text})
	return d.MessageIDs[0]
}

// checkOutbound round-trips Send and every outbound capability against the
// fake: what the connector says it did is what the fake received.
func checkOutbound(t *testing.T, h Harness) {
	// Each subtest has its own connector and fake, so one capability's
	// failure does not spill into the next.
	t.Run("Send", func(t *testing.T) {
		cn, c, fake := h.New(t)
		send(t, cn, c, fake)
	})
	t.Run("Edit", func(t *testing.T) {
		cn, c, fake := h.New(t)
		ed, ok := cn.(connectors.Editor)
		if !ok {
			t.Skip("not an Editor")
		}
		chat, sent := fake.Chat(), send(t, cn, c, fake)
		text := "conformance: edited"
		if _, err := ed.Edit(ctx(t), c, connectors.Edit{ChatID: chat, MessageID: sent, Text: text}); err != nil {
			t.Fatalf("Edit: %v", err)
		}
		await(t, fake, "Edit", Op{Kind: "edit", ChatID: chat, MessageID: sent, Text: text})
	})
	t.Run("Delete", func(t *testing.T) {
		cn, c, fake := h.New(t)
		del, ok := cn.(connectors.Deleter)
		if !ok {
			t.Skip("not a Deleter")
		}
		chat, sent := fake.Chat(), send(t, cn, c, fake)
		if err := del.Delete(ctx(t), c, connectors.Delete{ChatID: chat, MessageID: sent}); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		await(t, fake, "Delete", Op{Kind: "delete", ChatID: chat, MessageID: sent})
	})
	t.Run("Typing", func(t *testing.T) {
		cn, c, fake := h.New(t)
		ty, ok := cn.(connectors.Typer)
		if !ok {
			t.Skip("not a Typer")
		}
		chat := fake.Chat()
		if err := ty.Typing(ctx(t), c, chat); err != nil {
			t.Fatalf("Typing: %v", err)
		}
		await(t, fake, "Typing", Op{Kind: "typing", ChatID: chat})
	})
}

// await waits until the fake received want (fields left empty match
// anything).
func await(t *testing.T, fake Messenger, what string, want Op) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	var got []Op
	for {
		got = fake.Received(t)
		for _, op := range got {
			if op.Kind == want.Kind && match(op.ChatID, want.ChatID) && match(op.MessageID, want.MessageID) && match(op.Text, want.Text) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: the fake messenger did not receive %+v; it received %+v", what, want, got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func match(got, want string) bool { return want == "" || got == want }

// checkActivate: Activate and Deactivate are idempotent.
func checkActivate(t *testing.T, h Harness) {
	t.Run("Activate", func(t *testing.T) {
		cn, c, _ := h.New(t)
		_, polls := cn.(connectors.Poller)
		for i := range 2 {
			err := cn.Activate(ctx(t), c)
			if err != nil && !(polls && errors.Is(err, connectors.ErrNeedsPolling)) {
				t.Errorf("Activate #%d: %v", i+1, err)
			}
		}
	})
	t.Run("Deactivate", func(t *testing.T) {
		cn, c, _ := h.New(t)
		if err := cn.Activate(ctx(t), c); err != nil && !errors.Is(err, connectors.ErrNeedsPolling) {
			t.Fatalf("Activate: %v", err)
		}
		for i := range 2 {
			if err := cn.Deactivate(ctx(t), c); err != nil {
				t.Errorf("Deactivate #%d: %v", i+1, err)
			}
		}
	})
}

// checkTest: the live test reports each check in plain words, and bad
// credentials are a failed check with a fix, not an error.
func checkTest(t *testing.T, h Harness) {
	cn, c, _ := h.New(t)
	t.Run("working", func(t *testing.T) {
		rep, err := cn.Test(ctx(t), c)
		if err != nil {
			t.Fatalf("Test: %v", err)
		}
		checkReport(t, rep)
		if !rep.OK {
			t.Errorf("a working connection tests not OK: %+v", rep.Checks)
		}
	})
	t.Run("bad credentials", func(t *testing.T) {
		if h.BadCredentials == nil {
			t.Fatal("the harness needs BadCredentials")
		}
		rep, err := cn.Test(ctx(t), h.BadCredentials(c))
		if err != nil {
			t.Fatalf("Test with bad credentials = %v, want a report", err)
		}
		checkReport(t, rep)
		if rep.OK {
			t.Errorf("bad credentials test OK: %+v", rep.Checks)
		}
	})
}

func checkReport(t *testing.T, rep connectors.TestReport) {
	t.Helper()
	if len(rep.Checks) == 0 {
		t.Fatal("the report lists no checks")
	}
	all := true
	for _, ch := range rep.Checks {
		if strings.TrimSpace(ch.Name) == "" {
			t.Errorf("check without a name: %+v", ch)
		}
		if !ch.OK && strings.TrimSpace(ch.Fix) == "" {
			t.Errorf("failed check %q says no fix: %+v", ch.Name, ch)
		}
		all = all && ch.OK
	}
	if rep.OK != all {
		t.Errorf("report OK=%v but its checks say %v: %+v", rep.OK, all, rep.Checks)
	}
}

func copySettings(s connectors.Settings) connectors.Settings {
	out := make(connectors.Settings, len(s))
	for k, v := range s {
		out[k] = v
	}
	return out
}

func without(s connectors.Settings, key string) connectors.Settings {
	out := copySettings(s)
	delete(out, key)
	return out
}
