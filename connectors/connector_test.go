package connectors_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/connector-gateway/connector/connectors"
)

type fake struct{ typ string }

func (f fake) Describe() connectors.Description { return connectors.Description{Type: f.typ} }
func (fake) ValidateSettings(s connectors.Settings) (connectors.Settings, error) {
	return s, nil
}
func (fake) Test(context.Context, connectors.Conn) (connectors.TestReport, error) {
	return connectors.TestReport{}, nil
}
func (fake) Activate(context.Context, connectors.Conn) error   { return nil }
func (fake) Deactivate(context.Context, connectors.Conn) error { return nil }
func (fake) Parse(context.Context, connectors.Conn, http.Header, []byte) (connectors.Inbound, error) {
	return connectors.Inbound{}, nil
}
func (fake) Send(context.Context, connectors.Conn, connectors.Outbound) (connectors.Delivery, error) {
	return connectors.Delivery{}, nil
}

func TestRegistry(t *testing.T) {
	r, err := connectors.NewRegistry(fake{"b"}, fake{"a"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Get("a"); !ok {
		t.Fatal("registered type not found")
	}
	if _, ok := r.Get("c"); ok {
		t.Fatal("unregistered type found")
	}
	if d := r.Describe(); len(d) != 2 || d[0].Type != "b" {
		t.Fatalf("describe = %+v, want registration order", d)
	}
	if _, err := connectors.NewRegistry(fake{"a"}, fake{"a"}); err == nil {
		t.Fatal("duplicate type accepted")
	}
	if _, err := connectors.NewRegistry(fake{""}); err == nil {
		t.Fatal("empty type accepted")
	}
}

func TestEventIDStable(t *testing.T) {
	a, b := connectors.EventID("telegram:con_1:42"), connectors.EventID("telegram:con_1:42")
	if a != b || !strings.HasPrefix(a, "evt_") {
		t.Fatalf("ids %s %s", a, b)
	}
	if connectors.EventID("telegram:con_1:43") == a {
		t.Fatal("different updates share an id")
	}
}

func TestFieldErrorsNamesFields(t *testing.T) {
	err := connectors.FieldErrors{"bot_token": "wrong shape", "mode": "unknown"}
	if msg := err.Error(); !strings.Contains(msg, "bot_token: wrong shape") || !strings.Contains(msg, "mode: unknown") {
		t.Fatalf("message %q", msg)
	}
}

// closer is a connector with resources of its own.
type closer struct {
	fake
	closed *int
	err    error
}

func (c closer) Close() error { *c.closed++; return c.err }

// Close reaches every connector that is an io.Closer, even after one
// failed, and reports the failure.
func TestRegistryClose(t *testing.T) {
	var a, b int
	r, err := connectors.NewRegistry(closer{fake{"a"}, &a, errors.New("boom")}, fake{"plain"}, closer{fake{"b"}, &b, nil})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err == nil || !strings.Contains(err.Error(), "close a: boom") {
		t.Fatalf("Close = %v, want a's error", err)
	}
	if a != 1 || b != 1 {
		t.Fatalf("closed a %d, b %d times; want each once", a, b)
	}
}
