package bitrix24

import (
	"net/url"
	"slices"
	"testing"
)

// The event parser takes any form Bitrix24 (or anyone) posts: it never
// panics, and a value it finds under a key's path is the value posted.
func FuzzParseNested(f *testing.F) {
	f.Add("data[MESSAGES][0][im][chat_id]=1807&data[MESSAGES][0][message][text]=hi&auth[application_token]=x")
	f.Add("a[]=1&a[]=2&a[b=3&[x]=4&data[MESSAGES][0]=flat&data[MESSAGES][0][im]=deeper")
	f.Add("data[MESSAGES][1][chat][id]=c&data[MESSAGES][0][message][id][0]=m")
	f.Fuzz(func(t *testing.T, raw string) {
		vals, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		root := parseNested(vals)
		for k, vs := range vals {
			path, ok := splitKey(k)
			if !ok || len(path) > 10 || len(vs) == 0 || slices.Contains(path, "") {
				continue // dropped, or an append-style key
			}
			n := root
			for _, p := range path {
				n = n.child(p)
			}
			if n == nil || n.val != vs[0] {
				t.Fatalf("%q: node %+v, want value %q", k, n, vs[0])
			}
		}
		for _, m := range root.child("data").child("MESSAGES").list() {
			_ = plainText(m.get("message", "text"))
		}
	})
}

func TestPlainText(t *testing.T) {
	for in, want := range map[string]string{
		"[b]Klaus Weber:[/b] [br]Guten Tag!":          "Klaus Weber:\nGuten Tag!",
		"see [url=https://x.test/a]the page[/url]":    "see the page (https://x.test/a)",
		"[i]a[/i][BR][u]b[/u] [color=#f00]c[/color]":  "a\nb c",
		"[USER=27]Klaus[/USER], [s]not[/s] this [br]": "Klaus, not this",
	} {
		if got := plainText(in); got != want {
			t.Errorf("plainText(%q) = %q, want %q", in, got, want)
		}
	}
}
