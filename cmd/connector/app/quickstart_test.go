package app_test

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// quickstartBlock is the README's marked quick start.
var (
	quickstartBlock = regexp.MustCompile(`(?s)<!-- quickstart:begin -->(.*?)<!-- quickstart:end -->`)
	fencedBlock     = regexp.MustCompile("(?s)```(\\w+)\\n(.*?)```")
	printedID       = regexp.MustCompile(`\b(prt|lin|con|req)_[a-z0-9]{16}\b`)
	idPlaceholder   = regexp.MustCompile(`\b(prt|lin|con|req)_\.\.\.`)
)

const goRunConnector = "go run ./cmd/connector"

// The README's quick start, run as a newcomer would on a fresh clone: the
// repository's HEAD is cloned into a temp dir and the binary built once
// from it; each `sh` command of the marked block runs in a fresh working
// directory (`go run ./cmd/connector` standing for that binary, `prt_...`
// and `lin_...` for the ids printed before), and each `text` block must
// match the output of the command before it (`...` is anything). A
// long-running command (serve, demo) runs in the background until the
// gateway is ready. The listen address is a free port (CONNECTOR_ADDR),
// not the documented 8080, which other programs on the machine may hold.
func TestQuickstartInReadmeRunsOnAFreshClone(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary from a fresh clone")
	}
	top, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Skipf("not in a git checkout: %v", err)
	}
	clone := filepath.Join(t.TempDir(), "connector")
	if out, err := exec.Command("git", "clone", "--quiet", "--no-hardlinks", strings.TrimSpace(string(top)), clone).CombinedOutput(); err != nil {
		t.Fatalf("git clone: %v\n%s", err, out)
	}
	bin := filepath.Join(t.TempDir(), "connector")
	build := exec.Command("go", "build", "-o", bin, "./cmd/connector")
	build.Dir = clone
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build in the clone: %v\n%s", err, out)
	}
	readme, err := os.ReadFile(filepath.Join(clone, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := quickstartBlock.FindSubmatch(readme)
	if m == nil {
		t.Fatal("README.md has no <!-- quickstart:begin --> … <!-- quickstart:end --> block")
	}

	work := t.TempDir()
	addr := freeAddr(t)
	env := []string{"CONNECTOR_ADDR=" + addr}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CONNECTOR_") {
			env = append(env, kv)
		}
	}
	ids := map[string]string{}
	var last string // the last command's stdout
	lastCmd := ""
	steps := 0
	for _, block := range fencedBlock.FindAllSubmatch(m[1], -1) {
		lang, body := string(block[1]), string(block[2])
		switch lang {
		case "sh":
			for _, line := range strings.Split(body, "\n") {
				line = strings.TrimSpace(line)
				if line == "" || strings.HasPrefix(line, "#") {
					continue
				}
				if !strings.HasPrefix(line, goRunConnector+" ") {
					t.Fatalf("quick start command %q does not start with %q", line, goRunConnector)
				}
				args := strings.TrimPrefix(line, goRunConnector+" ")
				args = idPlaceholder.ReplaceAllStringFunc(args, func(p string) string {
					prefix := strings.TrimSuffix(p, "_...")
					if ids[prefix] == "" {
						t.Fatalf("%q: no %s_ id printed before", line, prefix)
					}
					return ids[prefix]
				})
				steps++
				lastCmd = line
				sub := strings.Fields(args)[0]
				if sub == "serve" || sub == "demo" {
					startBackground(t, bin, args, work, env, addr)
					last = ""
					continue
				}
				last = runStep(t, bin, args, work, env)
				for _, id := range printedID.FindAllString(last, -1) {
					ids[id[:3]] = id
				}
			}
		case "text":
			if lastCmd == "" {
				t.Fatal("a text block before any command")
			}
			if !matchesDoc(body, last) {
				t.Errorf("%s\nprinted:\n%s\nthe README says:\n%s", lastCmd, last, body)
			}
		}
	}
	if steps < 4 {
		t.Fatalf("only %d quick start steps found", steps)
	}
	t.Logf("%d quick start steps ran and matched the README", steps)
}

// matchesDoc tells whether got is what the README shows, with "..." for
// anything.
func matchesDoc(want, got string) bool {
	parts := strings.Split(strings.TrimSpace(want), "...")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	re := regexp.MustCompile(`(?s)\A` + strings.Join(parts, `.*?`) + `\z`)
	return re.MatchString(strings.TrimSpace(got))
}

func shellCommand(ctx context.Context, bin, args, dir string, env []string) *exec.Cmd {
	c := exec.CommandContext(ctx, "sh", "-c", `exec "$0" `+args, bin)
	c.Dir, c.Env = dir, env
	return c
}

func runStep(t *testing.T, bin, args, dir string, env []string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	c := shellCommand(ctx, bin, args, dir, env)
	c.Stdout, c.Stderr = &stdout, &stderr
	if err := c.Run(); err != nil {
		t.Fatalf("connector %s: %v\nstdout:\n%s\nstderr:\n%s", args, err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// startBackground starts a gateway command and waits until it is ready;
// it is stopped with SIGTERM when the test ends.
func startBackground(t *testing.T, bin, args, dir string, env []string, addr string) {
	t.Helper()
	var logs bytes.Buffer
	c := shellCommand(context.Background(), bin, args, dir, env)
	c.Stdout, c.Stderr = &logs, &logs
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- c.Wait() }()
	t.Cleanup(func() {
		_ = c.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = c.Process.Kill()
			t.Errorf("connector %s did not stop on SIGTERM", args)
		}
		if t.Failed() {
			t.Logf("connector %s log:\n%s", args, logs.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("connector %s exited: %v\n%s", args, err, logs.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("connector %s not ready after 30s\n%s", args, logs.String())
		}
	}
}
