package connectors_test

import (
	"compress/gzip"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/connector-gateway/connector/connectors"
)

func TestAsset(t *testing.T) {
	body := strings.Repeat("console.log('hello');\n", 200)
	a, err := connectors.NewAsset("text/javascript; charset=utf-8", []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	get := func(ae, inm string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "/x.js", nil)
		if ae != "" {
			r.Header.Set("Accept-Encoding", ae)
		}
		if inm != "" {
			r.Header.Set("If-None-Match", inm)
		}
		w := httptest.NewRecorder()
		a.Serve(w, r, "public, max-age=60")
		return w
	}
	plain := get("", "")
	if plain.Code != 200 || plain.Body.String() != body || plain.Header().Get("Content-Encoding") != "" ||
		plain.Header().Get("Cache-Control") != "public, max-age=60" || plain.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("plain: %d %v", plain.Code, plain.Header())
	}
	gz := get("br, gzip;q=0.8", "")
	if gz.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("gzip not used: %v", gz.Header())
	}
	zr, err := gzip.NewReader(gz.Body)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(zr); string(got) != body {
		t.Fatal("gzipped body differs")
	}
	if raw, z := a.Size(); raw != len(body) || z >= raw {
		t.Fatalf("sizes %d %d", raw, z)
	}
	if get("gzip;q=0", "").Header().Get("Content-Encoding") != "" {
		t.Fatal("gzip;q=0 got gzip")
	}
	if nm := get("", plain.Header().Get("ETag")); nm.Code != 304 || nm.Body.Len() != 0 {
		t.Fatalf("If-None-Match: %d", nm.Code)
	}
}
