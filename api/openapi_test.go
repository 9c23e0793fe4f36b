package api

import (
	"maps"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// nonPortalRoutes are the routes served outside the signed portal API.
func nonPortalRoutes() []Route {
	return []Route{
		{"POST", "/hook/{hash}"},
		{"GET", "/hook/{hash}"},
		{"GET", "/files/{token}"},
		{"GET", "/metrics"},
		{"GET", "/healthz"},
		{"GET", "/readyz"},
		{"GET", "/widget.js"},
		{"POST", "/widget/{widget}/session"},
		{"GET", "/widget/{widget}/ws"},
		{"POST", "/widget/{widget}/uploads"},
		{"GET", "/widget/{widget}/files/{token}"},
		{"GET", "/console/"},
		{"POST", "/console/"},
		{"GET", "/pages/{hash}/{rest...}"},
		{"POST", "/pages/{hash}/{rest...}"},
		{"POST", "/adapters/{portal}/{rest...}"},
	}
}

// specPath is a mux pattern as OpenAPI writes it: {rest...} (the rest of
// the path) is a plain {rest} parameter there.
func specPath(pattern string) string { return strings.ReplaceAll(pattern, "...}", "}") }

// openAPIMethods are the operation keys of an OpenAPI path item.
func openAPIMethods() []string {
	return []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}
}

// loadSpec parses the embedded OpenAPI document.
func loadSpec(t *testing.T) *yaml.Node {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal(OpenAPISpec(), &doc); err != nil {
		t.Fatalf("openapi.yaml is not valid YAML: %v", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		t.Fatal("openapi.yaml: the document is not a YAML mapping")
	}
	return doc.Content[0]
}

// specChild returns the value under key in a mapping node, or nil.
func specChild(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// specPairs calls f for each key and value of a mapping node, in order.
func specPairs(n *yaml.Node, f func(key string, val *yaml.Node)) {
	if n == nil || n.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		f(n.Content[i].Value, n.Content[i+1])
	}
}

// specResolve follows a local JSON pointer ("#/components/schemas/Event").
func specResolve(root *yaml.Node, ref string) *yaml.Node {
	if !strings.HasPrefix(ref, "#/") {
		return nil
	}
	n := root
	for _, tok := range strings.Split(ref[2:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch n.Kind {
		case yaml.MappingNode:
			n = specChild(n, tok)
		case yaml.SequenceNode:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(n.Content) {
				return nil
			}
			n = n.Content[i]
		default:
			return nil
		}
		if n == nil {
			return nil
		}
	}
	return n
}

// specDeref returns the node a {$ref: ...} mapping points to, or n itself.
func specDeref(root, n *yaml.Node) *yaml.Node {
	for range 10 {
		ref := specChild(n, "$ref")
		if ref == nil {
			return n
		}
		if n = specResolve(root, ref.Value); n == nil {
			return nil
		}
	}
	return nil
}

// specRoutes lists the operations under paths as "METHOD /path".
func specRoutes(root *yaml.Node) []string {
	var out []string
	specPairs(specChild(root, "paths"), func(path string, item *yaml.Node) {
		specPairs(item, func(key string, _ *yaml.Node) {
			if slices.Contains(openAPIMethods(), key) {
				out = append(out, strings.ToUpper(key)+" "+path)
			}
		})
	})
	return out
}

func TestOpenAPIIsOpenAPI31(t *testing.T) {
	root := loadSpec(t)
	v := specChild(root, "openapi")
	if v == nil || !regexp.MustCompile(`^3\.1\.\d+$`).MatchString(v.Value) {
		got := "<missing>"
		if v != nil {
			got = v.Value
		}
		t.Fatalf("openapi.yaml: want openapi: 3.1.x, got %s", got)
	}
	info := specChild(root, "info")
	if specChild(info, "title") == nil || specChild(info, "version") == nil {
		t.Error("openapi.yaml: info.title and info.version are required")
	}
	if wh := specChild(root, "webhooks"); wh == nil || len(wh.Content) == 0 {
		t.Error("openapi.yaml: the batch webhook (gateway → portal) is missing under webhooks")
	}
}

// TestOpenAPIRoutes checks that paths lists exactly the routes the server
// serves: every portal route and the hook and health routes, and nothing
// else.
func TestOpenAPIRoutes(t *testing.T) {
	root := loadSpec(t)
	want := map[string]bool{}
	pattern := map[string]string{} // spec route → mux pattern
	for _, r := range append(PortalRoutes(), nonPortalRoutes()...) {
		want[r.Method+" "+specPath(r.Pattern)] = true
		pattern[r.Method+" "+specPath(r.Pattern)] = r.Method + " " + r.Pattern
	}
	got := map[string]bool{}
	for _, r := range specRoutes(root) {
		got[r] = true
		if !want[r] {
			t.Errorf("openapi.yaml documents %s, which the server does not serve", r)
		}
	}
	for _, r := range slices.Sorted(maps.Keys(want)) {
		if !got[r] {
			t.Errorf("openapi.yaml is missing route %s", r)
		}
	}

	// The non-portal list above is kept by hand: make sure the server's mux
	// really routes each expected route to a handler registered under that
	// very pattern.
	s := New(Config{}, Deps{})
	for _, r := range slices.Sorted(maps.Keys(want)) {
		method, path, _ := strings.Cut(r, " ")
		target := regexp.MustCompile(`\{[^}]+\}`).ReplaceAllString(path, "x1")
		_, got := s.mux.Handler(httptest.NewRequest(method, target, nil))
		if got != pattern[r] {
			t.Errorf("server routes %s %s to %q, want the pattern %q", method, target, got, pattern[r])
		}
	}
}

// TestOpenAPISecurity checks that portal routes require the signature and
// the other routes are marked as not signed.
func TestOpenAPISecurity(t *testing.T) {
	root := loadSpec(t)
	global := specChild(root, "security")
	if global == nil || len(global.Content) == 0 {
		t.Fatal("openapi.yaml: the top-level security requirement (signed portal calls) is missing")
	}
	schemes := specChild(specChild(root, "components"), "securitySchemes")
	for _, req := range global.Content {
		specPairs(req, func(name string, _ *yaml.Node) {
			if specChild(schemes, name) == nil {
				t.Errorf("openapi.yaml: security names scheme %q, which components.securitySchemes lacks", name)
			}
		})
	}
	for _, r := range PortalRoutes() {
		op := specChild(specChild(specChild(root, "paths"), r.Pattern), strings.ToLower(r.Method))
		if sec := specChild(op, "security"); sec != nil && len(sec.Content) == 0 {
			t.Errorf("openapi.yaml: %s %s is marked unsigned (security: []), but it is a signed portal route", r.Method, r.Pattern)
		}
	}
	for _, r := range nonPortalRoutes() {
		op := specChild(specChild(specChild(root, "paths"), r.Pattern), strings.ToLower(r.Method))
		if sec := specChild(op, "security"); op != nil && (sec == nil || len(sec.Content) != 0) {
			t.Errorf("openapi.yaml: %s %s is not a signed portal route; mark it with security: []", r.Method, r.Pattern)
		}
	}
}

// TestOpenAPIReferences checks that every local $ref resolves, operation ids
// are unique, and every path placeholder is declared as a path parameter.
func TestOpenAPIReferences(t *testing.T) {
	root := loadSpec(t)
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.MappingNode {
			if ref := specChild(n, "$ref"); ref != nil && specResolve(root, ref.Value) == nil {
				t.Errorf("openapi.yaml line %d: $ref %q does not resolve", ref.Line, ref.Value)
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(root)

	ids := map[string]string{}
	placeholder := regexp.MustCompile(`\{([^}]+)\}`)
	specPairs(specChild(root, "paths"), func(path string, item *yaml.Node) {
		var want []string
		for _, m := range placeholder.FindAllStringSubmatch(path, -1) {
			want = append(want, m[1])
		}
		slices.Sort(want)
		pathParams := specChild(item, "parameters")
		specPairs(item, func(method string, op *yaml.Node) {
			if !slices.Contains(openAPIMethods(), method) {
				return
			}
			route := strings.ToUpper(method) + " " + path
			if id := specChild(op, "operationId"); id != nil {
				if prev, dup := ids[id.Value]; dup {
					t.Errorf("openapi.yaml: operationId %q is used by %s and %s", id.Value, prev, route)
				}
				ids[id.Value] = route
			}
			if specChild(op, "responses") == nil {
				t.Errorf("openapi.yaml: %s has no responses", route)
			}
			var got []string
			for _, list := range []*yaml.Node{pathParams, specChild(op, "parameters")} {
				if list == nil {
					continue
				}
				for _, p := range list.Content {
					p = specDeref(root, p)
					in, name := specChild(p, "in"), specChild(p, "name")
					if in != nil && in.Value == "path" && name != nil {
						got = append(got, name.Value)
					}
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("openapi.yaml: %s declares path parameters %v, want %v", route, got, want)
			}
		})
	})
}

// TestOpenAPISpecIsCopied checks that callers cannot change the embedded
// document through the returned slice.
func TestOpenAPISpecIsCopied(t *testing.T) {
	a := OpenAPISpec()
	if len(a) == 0 {
		t.Fatal("OpenAPISpec is empty")
	}
	a[0] = '#'
	if b := OpenAPISpec(); b[0] == '#' {
		t.Error("OpenAPISpec returns shared bytes; want a fresh copy per call")
	}
}
