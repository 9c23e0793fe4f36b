package connectortest

import (
	"context"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/connector-gateway/connector/connectors"
)

// WithSettings returns c with its settings changed by key, value pairs
// (c's own map is not modified).
func WithSettings(c connectors.Conn, kv ...string) connectors.Conn {
	s := copySettings(c.Settings)
	for i := 0; i+1 < len(kv); i += 2 {
		s[kv[i]] = kv[i+1]
	}
	c.Settings = s
	return c
}

// LinkBase is where Linker's links point.
const LinkBase = "https://gw.example.com/files/"

// Linker is a connectors.FileLinker that makes readable links,
// LinkBase<ref>?mime=..&name=.., and remembers the refs it linked.
type Linker struct {
	mu   sync.Mutex
	refs []string
}

// FileURL implements connectors.FileLinker.
func (l *Linker) FileURL(ref, name, mime string) string {
	l.mu.Lock()
	l.refs = append(l.refs, ref)
	l.mu.Unlock()
	return LinkBase + url.PathEscape(ref) + "?" + url.Values{"name": {name}, "mime": {mime}}.Encode()
}

// Refs returns the refs linked so far, oldest first.
func (l *Linker) Refs() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.refs...)
}

// RefOf returns the reference a Linker link carries.
func RefOf(t testing.TB, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil || !strings.HasPrefix(link, LinkBase) {
		t.Fatalf("%q is not a gateway link", link)
	}
	ref, err := url.PathUnescape(strings.TrimPrefix(u.EscapedPath(), "/files/"))
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// MemCursor keeps a poller's position in memory (connectors.Cursor).
// Set Pos and Fail before the poller runs.
type MemCursor struct {
	mu sync.Mutex
	// Pos is the position Load returns (and Save sets).
	Pos string
	// Fail, when set, is what Save returns.
	Fail  error
	saves []string
}

// Load implements connectors.Cursor.
func (m *MemCursor) Load(context.Context) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.Pos, nil
}

// Save implements connectors.Cursor.
func (m *MemCursor) Save(_ context.Context, pos string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Fail != nil {
		return m.Fail
	}
	m.Pos = pos
	m.saves = append(m.saves, pos)
	return nil
}

// Saves returns every saved position, oldest first.
func (m *MemCursor) Saves() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.saves...)
}

// QuietLogger discards a connector's log unless CONNECTOR_TEST_LOG is set.
func QuietLogger() *slog.Logger {
	if os.Getenv("CONNECTOR_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
