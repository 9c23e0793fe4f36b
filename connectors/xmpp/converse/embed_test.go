package converse

import "testing"

// The web chat page is useless without these; fail the build's tests, not a
// visitor's browser, when the vendoring script was not run.
func TestStaticHasVendoredFiles(t *testing.T) {
	for _, name := range []string{"static/converse.min.js", "static/converse.min.css", "static/LICENSE.converse.txt", "static/emoji.json", "static/webfonts/muli.ttf"} {
		b, err := Static.ReadFile(name)
		if err != nil || len(b) == 0 {
			t.Fatalf("vendored %s missing (run scripts/vendor-converse.sh): %v", name, err)
		}
	}
}
