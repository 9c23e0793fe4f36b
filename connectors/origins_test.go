package connectors_test

import (
	"testing"

	"github.com/connector-gateway/connector/connectors"
)

func TestOriginAllowed(t *testing.T) {
	const allowed = "https://shop.example.com, https://*.example.org http://127.0.0.1:8080"
	for _, tc := range []struct {
		origin string
		ok     bool
	}{
		{"https://shop.example.com", true},
		{"https://shop.example.com:443", true},
		{"http://shop.example.com", false},
		{"https://shop.example.com:8443", false},
		{"https://evil.com", false},
		{"https://shop.example.com.evil.com", false},
		{"https://a.example.org", true},
		{"https://a.b.example.org", true},
		{"https://example.org", false},
		{"https://notexample.org", false},
		{"http://127.0.0.1:8080", true},
		{"http://127.0.0.1", false},
		{"null", false},
		{"", false},
		{"https://shop.example.com/path", false},
	} {
		if got := connectors.OriginAllowed(allowed, tc.origin); got != tc.ok {
			t.Errorf("OriginAllowed(%q) = %v, want %v", tc.origin, got, tc.ok)
		}
	}
}

func TestValidateOrigins(t *testing.T) {
	os, msg := connectors.ValidateOrigins("https://Shop.Example.com/ https://*.example.org")
	if msg != "" || connectors.JoinOrigins(os) != "https://shop.example.com https://*.example.org" {
		t.Fatalf("got %v %q", os, msg)
	}
	for _, bad := range []string{"", "shop.example.com", "https://shop.example.com/path", "https://*", "https://a.*.com", "ftp://x.com", "https://u@x.com"} {
		if _, msg := connectors.ValidateOrigins(bad); msg == "" {
			t.Errorf("ValidateOrigins(%q) accepted", bad)
		}
	}
}
