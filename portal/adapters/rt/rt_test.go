package rt_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/connector-gateway/connector/portal"
	"github.com/connector-gateway/connector/portal/adapters/rt"
	"github.com/connector-gateway/connector/queue"
	"github.com/connector-gateway/connector/queue/queuetest"
)

const rtServer = "/usr/share/request-tracker5/libexec/rt-server"

// realRT is Debian's request-tracker5 on SQLite in a temp dir, served by
// its standalone server on a loopback port.
type realRT struct {
	t    *testing.T
	dir  string
	port int
	cmd  *exec.Cmd
	URL  string
}

func startRT(t *testing.T) *realRT {
	t.Helper()
	if _, err := os.Stat(rtServer); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("Request Tracker is not installed (%v): scripts/test.sh installs request-tracker5, rt5-db-sqlite and rt5-standalone", err)
		}
		t.Skip("Request Tracker is not installed and CI is unset")
	}
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	for _, d := range []string{"mason", "session", "confd"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
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
`, dir, port)
	if err := os.WriteFile(filepath.Join(dir, "RT_SiteConfig.pm"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &realRT{t: t, dir: dir, port: port, URL: fmt.Sprintf("http://127.0.0.1:%d", port)}
	began := time.Now()
	init := exec.Command("rt-setup-database-5", "--action", "init", "--skip-create", "--dba-password", "")
	init.Env = r.env()
	if out, err := init.CombinedOutput(); err != nil {
		t.Fatalf("rt-setup-database: %v\n%s", err, out)
	}
	r.start()
	t.Logf("RT initialised and serving in %s", time.Since(began).Round(time.Millisecond))
	t.Cleanup(r.stop)
	r.rest("POST", "/REST/2.0/queue", map[string]string{"Name": "Support"}, nil)
	return r
}

func (r *realRT) env() []string {
	return append(os.Environ(), "RT_SITE_CONFIG="+filepath.Join(r.dir, "RT_SiteConfig.pm"), "RT_SITE_CONFIG_DIR="+filepath.Join(r.dir, "confd"))
}

func (r *realRT) start() {
	r.t.Helper()
	cmd := exec.Command(rtServer, "--port", fmt.Sprint(r.port))
	cmd.Env = r.env()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("start rt-server: %v", err)
	}
	r.cmd = cmd
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		req, _ := http.NewRequest("GET", r.URL+"/REST/2.0/queues/all", nil)
		req.SetBasicAuth("root", "password")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	r.t.Fatal("rt-server did not answer within 2 minutes")
}

func (r *realRT) stop() {
	if r.cmd == nil {
		return
	}
	_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGTERM)
	_ = r.cmd.Wait()
	r.cmd = nil
}

func (r *realRT) rest(method, path string, body, out any) {
	r.t.Helper()
	raw, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, r.URL+path, strings.NewReader(string(raw)))
	if body == nil {
		req, _ = http.NewRequest(method, r.URL+path, nil)
	}
	req.SetBasicAuth("root", "password")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode > 299 {
		r.t.Fatalf("%s %s: %d", method, path, resp.StatusCode)
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			r.t.Fatalf("%s %s: %v", method, path, err)
		}
	}
}

// texts returns the text/plain contents RT holds for a ticket, oldest first.
func (r *realRT) texts(ticket string) []string {
	var page struct {
		Items []struct {
			ContentType string `json:"ContentType"`
			Content     string `json:"Content"`
		} `json:"items"`
	}
	r.rest("GET", "/REST/2.0/ticket/"+ticket+"/attachments?fields=ContentType,Content&per_page=100", nil, &page)
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

func event(id, chat, text string) queue.NewEvent {
	payload := fmt.Sprintf(`{"id":%q,"type":"message.created","occurred_at":"2026-12-01T00:00:00Z","connector":"telegram","channel":"telegram","connection":"con_1","line":"lin_1","chat":{"id":%q,"type":"private"},"user":{"id":"u1","name":"Ann"},"message":{"id":%q,"text":%q}}`, id, chat, id, text)
	return queue.NewEvent{DedupeKey: "k" + id, PortalID: "", LineID: "lin_1", EventID: id, Payload: []byte(payload)}
}

// Customer messages become one ticket in the line's RT queue and its
// correspondence; RT stopped mid-run locks the line out, and once RT is
// back the waiting message arrives exactly once.
func TestRealRTTicketPerChatSurvivesRestart(t *testing.T) {
	r := startRT(t)
	ctx := context.Background()
	db := queuetest.Open(t, queuetest.Backends()[len(queuetest.Backends())-1])
	sealer, _ := portal.NewSealer(portal.NewKey())
	recs := portal.NewRecords(db, sealer, nil, nil)
	p, _, err := recs.CreatePortal(ctx, "RT", "http://127.0.0.1:1/unused")
	if err != nil {
		t.Fatal(err)
	}
	if err := recs.SetPortalKind(ctx, p.ID, portal.KindRT, map[string]string{rt.SettingURL: r.URL, rt.SettingUser: "root", rt.SettingPassword: "password", rt.SettingQueue: "Support"}); err != nil {
		t.Fatal(err)
	}
	ob, err := queue.NewOutbox(db, queue.Config{Schedule: []time.Duration{200 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	ids := portal.NewAdapterIDs(db)
	d, err := portal.NewDispatcher(ob, recs, portal.DispatcherConfig{Poll: 50 * time.Millisecond, Timeout: 5 * time.Second,
		Adapters: map[string]portal.Deliverer{portal.KindRT: &rt.Adapter{IDs: ids}}})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Run(runCtx) }()
	defer func() { cancel(); <-done }()
	put := func(evs ...queue.NewEvent) {
		for i := range evs {
			evs[i].PortalID = p.ID
		}
		if _, err := ob.Enqueue(ctx, evs); err != nil {
			t.Fatal(err)
		}
	}
	drained := func(what string) {
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			if st, err := ob.Status(ctx, "lin_1"); err == nil && st.Pending == 0 {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("%s: the line did not drain", what)
	}
	put(event("evt_1", "42", "Hello, my order is late"), event("evt_2", "42", "Order 1234"))
	drained("first messages")
	ticket, ok, err := ids.Get(ctx, p.ID, "chat:con_1:42")
	if err != nil || !ok {
		t.Fatalf("no ticket recorded for the chat: %v", err)
	}
	if got := r.texts(ticket); len(got) != 2 || got[0] != "Hello, my order is late" || got[1] != "Order 1234" {
		t.Fatalf("ticket %s holds %q", ticket, got)
	}

	r.stop()
	put(event("evt_3", "42", "Anyone there?"))
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := ob.Status(ctx, "lin_1")
		if err == nil && st.Failures > 0 && st.LockedUntil != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("RT down, yet the line was not locked out: %+v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.start()
	drained("after RT came back")
	if got := r.texts(ticket); len(got) != 3 || got[2] != "Anyone there?" {
		t.Fatalf("after the restart ticket %s holds %q; want the third message once", ticket, got)
	}

	// A staff member answers in RT; the poller turns it into an outbound
	// request for the chat, once, however often it polls.
	grant := exec.Command("perl", "-I/usr/share/request-tracker5/lib", "-e", `use RT; RT::LoadConfig(); RT::Init();
my $u = RT::User->new(RT->SystemUser); my ($ok, $m) = $u->Create(Name => "agent", Password => "agentpass1", Privileged => 1);
die $m unless $ok; ($ok, $m) = $u->PrincipalObj->GrantRight(Right => "SuperUser", Object => RT->System); die $m unless $ok;`)
	grant.Env = r.env()
	if out, err := grant.CombinedOutput(); err != nil {
		t.Fatalf("create the agent: %v\n%s", err, out)
	}
	req, _ := http.NewRequest("POST", r.URL+"/REST/2.0/ticket/"+ticket+"/correspond", strings.NewReader(`{"Content":"Your order ships today","ContentType":"text/plain"}`))
	req.SetBasicAuth("agent", "agentpass1")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("agent reply: %v %v", resp, err)
	}
	resp.Body.Close()
	outbound := queue.NewOutbound(ob)
	replies := &rt.Replies{IDs: ids, Outbound: outbound}
	p, _ = recs.GetPortal(ctx, p.ID)
	for i := 0; i < 2; i++ {
		if err := replies.PollOnce(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	reqs, err := outbound.Claim(ctx, "test", 10, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) != 1 || reqs[0].ChatID != "42" || reqs[0].ConnectionID != "con_1" || !strings.Contains(string(reqs[0].Payload), "Your order ships today") {
		t.Fatalf("outbound after the agent's reply: %+v", reqs)
	}
}
