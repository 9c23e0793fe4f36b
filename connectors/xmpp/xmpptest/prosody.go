// Package xmpptest runs a real Prosody server for tests: a config written
// into a temporary directory, loopback ports chosen free, users created with
// prosodyctl, the server started as its own process group and stopped when
// the test ends. There is no fake XMPP server for this channel on purpose:
// the stanzas a test sees are the ones Prosody really sends.
package xmpptest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Env names the Prosody binary to run; scripts/test.sh sets it.
const Env = "CONNECTOR_TEST_PROSODY"

// Domain is the client VirtualHost; Anonymous the anonymous one; MUC the
// multi-user chat service (with muc_mam); Component the external component
// address, whose shared secret is ComponentSecret.
const (
	Domain          = "localhost"
	Anonymous       = "anon.localhost"
	MUC             = "conference.localhost"
	Component       = "bridge.localhost"
	ComponentSecret = "component-secret-for-tests"
)

// Server is one running Prosody.
type Server struct {
	t   testing.TB
	Dir string
	cfg string
	bin string
	// C2S, Component and HTTP are loopback host:port addresses.
	C2S, ComponentAddr, HTTP string
	// StartTime is how long Prosody took from exec to accepting on its
	// client and component ports.
	StartTime time.Duration
	// SetupTime is the whole of Start: config, users, start.
	SetupTime time.Duration
	cmd       *exec.Cmd
	exited    chan struct{}
	modules   []string // quoted, for the config
}

// Binary returns the Prosody binary to use, skipping the test when there is
// none and CI is unset; under CI a missing Prosody fails the test.
func Binary(t testing.TB) string {
	t.Helper()
	bin := os.Getenv(Env)
	if bin == "" {
		if p, err := exec.LookPath("prosody"); err == nil {
			bin = p
		}
	}
	if bin == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("xmpptest: Prosody is required under CI: install Debian's prosody (scripts/test.sh does) or set %s", Env)
		}
		t.Skipf("xmpptest: no prosody (set %s or install Debian's prosody)", Env)
	}
	return bin
}

// modules are the client hosts' modules, as on a typical server.
var modules = []string{"roster", "saslauth", "disco", "ping", "mam", "private", "websocket", "posix"}

// Start writes a config, creates the given users ("name" → password, on
// Domain) and starts Prosody. It is stopped when the test ends.
func Start(t testing.TB, users map[string]string) *Server {
	t.Helper()
	return StartWithout(t, users)
}

// StartWithout is Start on a server that lacks the named modules, like
// "private" (XEP-0049 private storage).
func StartWithout(t testing.TB, users map[string]string, without ...string) *Server {
	t.Helper()
	began := time.Now()
	bin := Binary(t)
	dir := t.TempDir()
	s := &Server{t: t, Dir: dir, bin: bin, cfg: filepath.Join(dir, "prosody.cfg.lua")}
	for _, m := range modules {
		if !slices.Contains(without, m) {
			s.modules = append(s.modules, strconv.Quote(m))
		}
	}
	s.C2S, s.ComponentAddr, s.HTTP = freeAddr(t), freeAddr(t), freeAddr(t)
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.cfg, []byte(s.config()), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, pass := range users {
		s.Register(name, pass)
	}
	s.start()
	t.Cleanup(s.Stop)
	s.SetupTime = time.Since(began)
	t.Logf("xmpptest: prosody set up (config, %d users, start) in %s", len(users), s.SetupTime.Round(time.Millisecond))
	return s
}

func (s *Server) config() string {
	port := func(addr string) string { _, p, _ := net.SplitHostPort(addr); return p }
	runAsRoot := ""
	if os.Getuid() == 0 {
		// CI containers run as root; Prosody refuses that unless told, and
		// would switch to the "prosody" user, which cannot write the temp dir.
		runAsRoot = "run_as_root = true\nprosody_user = \"root\"\nprosody_group = \"root\"\n"
	}
	return fmt.Sprintf(`-- written by connectors/xmpp/xmpptest
%[1]s
pidfile = %[2]q
data_path = %[3]q
certificates = %[3]q
log = { { levels = { min = "info" }, to = "file", filename = %[4]q } }
interfaces = { "127.0.0.1" }
c2s_ports = { %[5]s }
component_ports = { %[6]s }
component_interfaces = { "127.0.0.1" }
http_ports = { %[7]s }
http_interfaces = { "127.0.0.1" }
https_ports = { }
s2s_ports = { }
modules_enabled = { %[13]s }
modules_disabled = { "s2s" } -- mod_offline stays on, as on a real server
c2s_require_encryption = false
allow_unencrypted_plain_auth = false
authentication = "internal_hashed"
storage = "internal"
archive_expires_after = "never"
default_archive_policy = true
max_archive_query_results = 200
consider_websocket_secure = true

VirtualHost %[8]q
VirtualHost %[9]q
	authentication = "anonymous"

Component %[10]q "muc"
	modules_enabled = { "muc_mam" }
	muc_log_by_default = true
	muc_log_all_rooms = true
	restrict_room_creation = false

Component %[11]q
	component_secret = %[12]q
`, runAsRoot, filepath.Join(s.Dir, "prosody.pid"), filepath.Join(s.Dir, "data"), filepath.Join(s.Dir, "prosody.log"),
		port(s.C2S), port(s.ComponentAddr), port(s.HTTP), Domain, Anonymous, MUC, Component, ComponentSecret, strings.Join(s.modules, ", "))
}

// Register creates a user on Domain with prosodyctl (works while Prosody
// runs or not: the internal storage is files under Dir).
func (s *Server) Register(name, password string) {
	s.t.Helper()
	ctl := filepath.Join(filepath.Dir(s.bin), "prosodyctl")
	out, err := exec.Command(ctl, "--config", s.cfg, "register", name, Domain, password).CombinedOutput()
	if err != nil {
		s.t.Fatalf("xmpptest: prosodyctl register %s: %v: %s", name, err, out)
	}
}

// DeleteUser removes a user on Domain with prosodyctl (restart the server
// for a running one to notice: its sessions stay up until then).
func (s *Server) DeleteUser(name string) {
	s.t.Helper()
	ctl := filepath.Join(filepath.Dir(s.bin), "prosodyctl")
	out, err := exec.Command(ctl, "--config", s.cfg, "deluser", JID(name)).CombinedOutput()
	if err != nil {
		s.t.Fatalf("xmpptest: prosodyctl deluser %s: %v: %s", name, err, out)
	}
}

func (s *Server) start() {
	s.t.Helper()
	began := time.Now()
	cmd := exec.Command(s.bin, "--config", s.cfg, "-F")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("xmpptest: start prosody: %v", err)
	}
	s.cmd, s.exited = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); close(s.exited) }()
	deadline := time.Now().Add(30 * time.Second)
	up := func() bool {
		for _, addr := range []string{s.C2S, s.ComponentAddr} {
			c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
			if err != nil {
				return false
			}
			c.Close()
		}
		return true
	}
	for {
		if up() {
			break
		}
		select {
		case <-s.exited:
			log, _ := os.ReadFile(filepath.Join(s.Dir, "prosody.log"))
			s.t.Fatalf("xmpptest: prosody exited at start: %s\n%s", out.String(), tail(log))
		default:
		}
		if time.Now().After(deadline) {
			s.Stop()
			s.t.Fatalf("xmpptest: prosody did not listen on %s within 30s", s.C2S)
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.StartTime = time.Since(began)
	s.t.Logf("xmpptest: prosody up on %s in %s", s.C2S, s.StartTime.Round(time.Millisecond))
}

// Stop ends Prosody (its whole process group). Idempotent.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	pgid := s.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-s.exited
	}
	s.cmd = nil
}

// Restart stops and starts Prosody on the same ports and data (archives and
// accounts kept), as an operator restarting the server would.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	s.start()
}

// Log returns Prosody's log so far.
func (s *Server) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "prosody.log"))
	return string(b)
}

// JID returns name's bare JID on Domain.
func JID(name string) string { return name + "@" + Domain }

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return "127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

func tail(b []byte) string {
	lines := strings.Split(string(b), "\n")
	return strings.Join(lines[max(0, len(lines)-30):], "\n")
}

// WebSocketURL is Prosody's WebSocket endpoint (mod_websocket) on its
// loopback HTTP port, as a browser connects to it.
func (s *Server) WebSocketURL() string { return "ws://" + s.HTTP + "/xmpp-websocket" }
