package portal

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// BatchPortals trusts its copy of a portal while the row's version is
// unchanged, so a statement that changes a portal row without bumping the
// version would leave the dispatcher signing with stale secrets (or posting
// to a stale URL) until the process restarts. Every UPDATE of portals in
// the module must bump it.
func TestEveryPortalUpdateBumpsItsVersion(t *testing.T) {
	update := regexp.MustCompile(`(?is)UPDATE\s+portals\s+SET\s[^"` + "`" + `]*`)
	found := 0
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".")) && path != ".." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "version_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, stmt := range update.FindAllString(string(src), -1) {
			found++
			if !strings.Contains(stmt, "version = version + 1") {
				t.Errorf("%s: %q does not bump the portal's version", path, stmt)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found < 2 {
		t.Fatalf("found %d UPDATE portals statements; the search is broken", found)
	}
}
