package connectors_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// Each channel is a small package behind the Connector contract: it may
// import connectors and, for its fakes, connectortest, and its own
// sub-packages, but nothing else of the gateway (not the queue, the
// portal or the API), so a channel can be read, tested and changed on its
// own and the gateway's insides can change under it. connectortest itself
// needs only connectors. Test files are not held to this (the web chat's
// tests use the real outbox).
func TestChannelsImportOnlyConnectors(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	mod := strings.TrimSpace(goList(t, "-m"))
	root := mod + "/connectors"
	out := goList(t, "-json=ImportPath,Deps", "./...")
	dec := json.NewDecoder(strings.NewReader(out))
	checked := 0
	for {
		var p struct {
			ImportPath string
			Deps       []string
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		rel, ok := strings.CutPrefix(p.ImportPath, root+"/")
		if !ok {
			continue // connectors itself
		}
		channel, _, _ := strings.Cut(rel, "/")
		allowed := func(dep string) bool {
			switch {
			case dep == root:
				return true
			case channel == "connectortest":
				return dep == root+"/connectortest"
			case dep == root+"/connectortest":
				return true
			default:
				return dep == root+"/"+channel || strings.HasPrefix(dep, root+"/"+channel+"/")
			}
		}
		checked++
		for _, dep := range p.Deps {
			if (dep == mod || strings.HasPrefix(dep, mod+"/")) && !allowed(dep) {
				t.Errorf("%s imports %s: a channel may import only %s, %s/connectortest and its own sub-packages", p.ImportPath, dep, root, root)
			}
		}
	}
	if checked == 0 {
		t.Fatal("go list found no channel packages")
	}
}

// goList runs go list in this package's directory (connectors/).
func goList(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}
