package connector_test

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// sqlHomes are the only places outside package queue and its sub-packages
// (all storage) where SQL may be written or run. Each is a store a domain
// package owns, in a file of its own.
var sqlHomes = map[string]string{
	"portal/records.go":           "the records store: portals, lines, connections and bot bindings",
	"api/console/store.go":        "the console's store: admins, sessions, audit trail",
	"connectors/webchat/store.go": "the web chat's store: conversations, history, uploads",
	"portal/adapterstore.go":      "the helpdesk adapters' id mappings and cursors, so retries never post twice",
	// The benchmark harness measures the database's own ceilings with
	// raw statements on a scratch table, by design, to compare the
	// gateway's pipeline against them.
	"cmd/connector/bench/ceilings.go": "benchmark reference ceilings on a scratch table",
	// The reference group-commit server the bench compares ingest with
	// owns its one scratch table, and the probe reads the database's own
	// statement counters (Com_*, USER_STATISTICS) to report statements
	// and database CPU per event.
	"cmd/connector/bench/reference.go": "the bench's reference server on its scratch table",
	"cmd/connector/bench/probe.go":     "the bench's reading of the database's own counters",
}

// sqlStorage tells whether a file (slash path from the module root) may hold SQL.
func sqlStorage(path string) bool {
	return strings.HasPrefix(path, "queue/") || sqlHomes[path] != ""
}

var looksLikeSQL = regexp.MustCompile(`(?is)\b(SELECT\b.+\bFROM|INSERT\s+(IGNORE\s+|OR\s+IGNORE\s+)?INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+TABLE)\b`)

// Method names that run a statement. The ...Context ones (and a
// transaction's begin) are database/sql's own names and flagged anywhere;
// the short ones also name other things (url.URL.Query), so they count only
// in a file that imports database/sql.
var (
	runsSQL       = map[string]bool{"ExecContext": true, "QueryContext": true, "QueryRowContext": true, "PrepareContext": true, "BeginTx": true}
	runsSQLIfSQLi = map[string]bool{"Exec": true, "Query": true, "QueryRow": true, "Prepare": true, "Begin": true}
)

// TestSQLLivesInStorageCode fails when a non-test file outside the storage
// code holds a string that reads as SQL or runs a statement on a database.
// Handlers, metrics, the dispatcher and the wiring get what they need
// through a store's methods instead.
func TestSQLLivesInStorageCode(t *testing.T) {
	var checked int
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != "." && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "vendor" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		rel := filepath.ToSlash(path)
		checked++
		if sqlStorage(rel) {
			return nil
		}
		for _, p := range sqlProblems(t, rel) {
			t.Errorf("%s (SQL belongs in storage code: package queue or a store file listed in sqlHomes)", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 50 {
		t.Fatalf("checked only %d files: is the test running from the module root?", checked)
	}
}

func sqlProblems(t *testing.T, path string) []string {
	fset := token.NewFileSet()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := parser.ParseFile(fset, path, src, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	importsSQL := false
	for _, im := range f.Imports {
		if p, _ := strconv.Unquote(im.Path.Value); p == "database/sql" {
			importsSQL = true
		}
	}
	var out []string
	seen := map[ast.Node]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.BinaryExpr:
			// A query spliced from parts ("SELECT " + cols + " FROM t"):
			// read the literal parts together, the rest as one word.
			if n.Op != token.ADD || seen[n] {
				return true
			}
			var b strings.Builder
			concat(n, &b, seen)
			if looksLikeSQL.MatchString(b.String()) {
				out = append(out, fmt.Sprintf("%s: SQL string %q", fset.Position(n.Pos()), short(b.String())))
				return false
			}
		case *ast.BasicLit:
			if n.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(n.Value)
			if err == nil && looksLikeSQL.MatchString(s) {
				out = append(out, fmt.Sprintf("%s: SQL string %q", fset.Position(n.Pos()), short(s)))
			}
		case *ast.CallExpr:
			sel, ok := n.Fun.(*ast.SelectorExpr)
			if ok && (runsSQL[sel.Sel.Name] || importsSQL && runsSQLIfSQLi[sel.Sel.Name]) {
				out = append(out, fmt.Sprintf("%s: runs a statement (.%s)", fset.Position(n.Pos()), sel.Sel.Name))
			}
		}
		return true
	})
	return out
}

// concat writes the string literals of a + chain, other operands as "x".
func concat(e ast.Expr, b *strings.Builder, seen map[ast.Node]bool) {
	switch e := e.(type) {
	case *ast.BinaryExpr:
		if e.Op == token.ADD {
			seen[e] = true
			concat(e.X, b, seen)
			concat(e.Y, b, seen)
			return
		}
	case *ast.ParenExpr:
		concat(e.X, b, seen)
		return
	case *ast.BasicLit:
		if s, err := strconv.Unquote(e.Value); err == nil && e.Kind == token.STRING {
			b.WriteString(s)
			return
		}
	}
	b.WriteString(" x ")
}

func short(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}
