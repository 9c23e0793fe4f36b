// Package rttest runs a real Request Tracker 5 for tests: Debian's
// request-tracker5 on SQLite in a temp dir, served by its standalone
// server on a loopback port. scripts/test.sh installs it
// (request-tracker5, rt5-db-sqlite, rt5-standalone). Only tests import it.
package rttest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Server is where Debian installs RT 5's standalone server.
const Server = "/usr/share/request-tracker5/libexec/rt-server"

const lib = "/usr/share/request-tracker5/lib"

// Root's password on a fresh RT database.
const (
	RootUser     = "root"
	RootPassword = "password"
)

// Queue is the RT queue Start creates beside RT's own "General".
const Queue = "Support"

// RT is one running Request Tracker. Its methods fail the test on error.
type RT struct {
	t    testing.TB
	dir  string
	port int
	cmd  *exec.Cmd
	// exited is closed when cmd has exited.
	exited chan struct{}
	// URL is RT's base URL (no trailing slash).
	URL string
}

// Start initialises a fresh RT database, serves it and creates the queue
// Queue. It skips the test when RT is missing and CI is unset (fails it
// on CI). RT is stopped when the test ends.
func Start(t testing.TB) *RT {
	t.Helper()
	if _, err := os.Stat(Server); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("Request Tracker is not installed (%v): scripts/test.sh installs request-tracker5, rt5-db-sqlite and rt5-standalone", err)
		}
		t.Skip("Request Tracker is not installed and CI is unset")
	}
	dir := t.TempDir()
	for _, d := range []string{"mason", "session", "confd"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	r := &RT{t: t, dir: dir}
	r.usePort(freePort(t))
	began := time.Now()
	init := exec.Command("rt-setup-database-5", "--action", "init", "--skip-create", "--dba-password", "")
	init.Env = r.env()
	if out, err := init.CombinedOutput(); err != nil {
		t.Fatalf("rt-setup-database: %v\n%s", err, out)
	}
	r.start(true)
	t.Logf("RT initialised and serving in %s", time.Since(began).Round(time.Millisecond))
	t.Cleanup(r.Stop)
	r.REST("POST", "/REST/2.0/queue", map[string]string{"Name": Queue}, nil)
	return r
}

func (r *RT) env() []string {
	return append(os.Environ(), "RT_SITE_CONFIG="+filepath.Join(r.dir, "RT_SiteConfig.pm"), "RT_SITE_CONFIG_DIR="+filepath.Join(r.dir, "confd"))
}

// Start (re)starts the server on the same port and database and waits
// until REST2 answers.
func (r *RT) Start() {
	r.t.Helper()
	r.start(false)
}

// start runs rt-server and waits until it answers. A server that exits
// first (its port taken by another test's connection in the moments
// since it was picked, say) is started again: on a new port at the first
// start, on the same port after a restart, whose URL the test already
// gave out.
func (r *RT) start(newPort bool) {
	r.t.Helper()
	var stderr bytes.Buffer
	for attempt := 1; ; attempt++ {
		stderr.Reset()
		cmd := exec.Command(Server, "--port", fmt.Sprint(r.port))
		cmd.Env = r.env()
		cmd.Stderr = &stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			r.t.Fatalf("start rt-server: %v", err)
		}
		exited := make(chan struct{})
		go func() {
			_ = cmd.Wait()
			close(exited)
		}()
		r.cmd, r.exited = cmd, exited
		switch r.awaitServing(exited, 2*time.Minute) {
		case serving:
			return
		case timedOut:
			r.t.Fatalf("rt-server did not answer within 2 minutes; it wrote:\n%s", tail(stderr.String()))
		}
		r.cmd = nil
		if attempt == 3 {
			r.t.Fatalf("rt-server exited %d times before answering; last time it wrote:\n%s", attempt, tail(stderr.String()))
		}
		r.t.Logf("rt-server exited before answering (attempt %d); it wrote:\n%s", attempt, tail(stderr.String()))
		if newPort {
			r.usePort(freePort(r.t))
		} else {
			time.Sleep(time.Second)
		}
	}
}

const (
	serving = iota
	exitedEarly
	timedOut
)

// awaitServing polls REST2 until it answers, the process exits or the
// time is up.
func (r *RT) awaitServing(exited <-chan struct{}, limit time.Duration) int {
	// A poll that hangs (a peer that accepts but never answers) must not
	// outlast the process it waits for.
	client := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return exitedEarly
		default:
		}
		req, _ := http.NewRequest("GET", r.URL+"/REST/2.0/queues/all", nil)
		req.SetBasicAuth(RootUser, RootPassword)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return serving
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return timedOut
}

// Stop stops rt-server.
func (r *RT) Stop() {
	if r.cmd == nil {
		return
	}
	_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGTERM)
	<-r.exited
	r.cmd = nil
}

// freePort picks a loopback port no one listens on now.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// usePort writes RT's site configuration for port and points URL at it.
func (r *RT) usePort(port int) {
	r.t.Helper()
	conf := fmt.Sprintf(`Set($rtname, 'gateway-test');
Set($Organization, 'gateway-test');
Set($Timezone, 'UTC');
Set($DatabaseType, 'SQLite');
Set($DatabaseName, '%[1]s/rtdb');
Set($WebDomain, '127.0.0.1');
Set($WebPort, %[2]d);
Set($WebPath, '');
Set($WebBaseURL, 'http://127.0.0.1:%[2]d');
Set($MasonDataDir, '%[1]s/mason');
Set($MasonSessionDir, '%[1]s/session');
Set($LogToSTDERR, 'error');
Set($LogToSyslog, undef);
Set($LogToFile, undef);
Set($MailCommand, 'testfile');
1;
`, r.dir, port)
	if err := os.WriteFile(filepath.Join(r.dir, "RT_SiteConfig.pm"), []byte(conf), 0o644); err != nil {
		r.t.Fatal(err)
	}
	r.port, r.URL = port, fmt.Sprintf("http://127.0.0.1:%d", port)
}

// tail is the end of what a process wrote, enough to say why it stopped.
func tail(s string) string {
	if len(s) > 2000 {
		s = "…" + s[len(s)-2000:]
	}
	return s
}

// REST calls REST2 as root and decodes the answer into out (if not nil).
func (r *RT) REST(method, path string, body, out any) {
	r.t.Helper()
	r.RESTAs(RootUser, RootPassword, method, path, body, out)
}

// RESTAs calls REST2 as the given user.
func (r *RT) RESTAs(user, password, method, path string, body, out any) {
	r.t.Helper()
	var rd *strings.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = strings.NewReader(string(raw))
	}
	var req *http.Request
	if rd != nil {
		req, _ = http.NewRequest(method, r.URL+path, rd)
	} else {
		req, _ = http.NewRequest(method, r.URL+path, nil)
	}
	req.SetBasicAuth(user, password)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode > 299 {
		r.t.Fatalf("%s %s as %s: %d", method, path, user, resp.StatusCode)
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			r.t.Fatalf("%s %s: %v", method, path, err)
		}
	}
}

// Perl runs a script with RT loaded and initialised (RT::LoadConfig,
// RT::Init) and returns what it printed.
func (r *RT) Perl(script string) string {
	r.t.Helper()
	cmd := exec.Command("perl", "-I"+lib, "-e", "use strict; use warnings; use RT; RT::LoadConfig(); RT::Init();\n"+script)
	cmd.Env = r.env()
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		r.t.Fatalf("perl: %v\n%s%s", err, out, stderr)
	}
	return strings.TrimSpace(string(out))
}

// CreateUser creates a privileged RT user holding SuperUser (an agent, or
// the gateway's own user).
func (r *RT) CreateUser(name, password string) {
	r.t.Helper()
	r.Perl(fmt.Sprintf(`my $u = RT::User->new(RT->SystemUser);
my ($ok, $m) = $u->Create(Name => %q, Password => %q, Privileged => 1); die $m unless $ok;
($ok, $m) = $u->PrincipalObj->GrantRight(Right => "SuperUser", Object => RT->System); die $m unless $ok;`, name, password))
}

// Token creates a REST2 auth token for an existing user, the way RT's own
// "Auth Tokens" page does (RT::AuthToken->Create), and returns it
// ("1-<user id>-<32 hex>").
func (r *RT) Token(user string) string {
	r.t.Helper()
	return r.Perl(fmt.Sprintf(`my $u = RT::User->new(RT->SystemUser); $u->Load(%q) or die "no user";
my $tok = RT::AuthToken->new(RT->SystemUser);
my ($id, $msg, $auth) = $tok->Create(Owner => $u->Id, Description => "connector gateway");
die $msg unless $id; print $auth;`, user))
}

// Texts returns the text/plain contents RT holds for a ticket, oldest
// first.
func (r *RT) Texts(ticket string) []string {
	r.t.Helper()
	var page struct {
		Items []struct {
			ContentType string `json:"ContentType"`
			Content     string `json:"Content"`
		} `json:"items"`
	}
	r.REST("GET", "/REST/2.0/ticket/"+ticket+"/attachments?fields=ContentType,Content&per_page=100", nil, &page)
	var out []string
	for _, it := range page.Items {
		if it.ContentType != "text/plain" {
			continue
		}
		// REST2 sends text content as is, binary content base64-encoded.
		c := it.Content
		if b, err := base64.StdEncoding.DecodeString(c); err == nil {
			c = string(b)
		}
		out = append(out, strings.TrimSpace(c))
	}
	return out
}

// Transactions counts a ticket's transactions of a type ("Create",
// "Correspond", "Comment"…).
func (r *RT) Transactions(ticket, typ string) int {
	r.t.Helper()
	var page struct {
		Total int `json:"total"`
		Count int `json:"count"`
	}
	r.REST("POST", "/REST/2.0/transactions?per_page=100", []map[string]string{
		{"field": "ObjectType", "value": "RT::Ticket"},
		{"field": "ObjectId", "value": ticket},
		{"field": "Type", "value": typ},
	}, &page)
	return page.Count
}

// Tickets returns the ids of the tickets in a queue, oldest first.
func (r *RT) Tickets(queue string) []string {
	r.t.Helper()
	var page struct {
		Items []struct {
			ID json.Number `json:"id"`
		} `json:"items"`
	}
	r.REST("GET", "/REST/2.0/tickets?orderby=id&order=ASC&per_page=100&query="+url.QueryEscape("Queue = '"+queue+"'"), nil, &page)
	var ids []string
	for _, it := range page.Items {
		ids = append(ids, it.ID.String())
	}
	return ids
}
