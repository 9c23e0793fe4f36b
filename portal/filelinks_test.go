package portal

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestFileLinks(t *testing.T) {
	f, err := NewFileLinks(NewKey(), "https://gw.example/", FileLinksConfig{LinkTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	u := f.For("con_1").FileURL("file-ref:AgAD", "photo.jpg", "image/jpeg")
	if !strings.HasPrefix(u, "https://gw.example/files/") {
		t.Fatalf("url %s", u)
	}
	tok := strings.TrimPrefix(u, "https://gw.example/files/")
	ref, err := f.Open(tok)
	if err != nil || ref.ConnectionID != "con_1" || ref.Ref != "file-ref:AgAD" || ref.Name != "photo.jpg" {
		t.Fatalf("open = %+v, %v", ref, err)
	}
	// Tampering with the payload (another connection) breaks the MAC.
	payload, mac, _ := strings.Cut(tok, ".")
	forged := strings.Replace(payload, payload[:4], "eyJj", 1) + "x." + mac
	if _, err := f.Open(forged); !errors.Is(err, ErrLinkInvalid) {
		t.Fatalf("forged token: %v", err)
	}
	other, _ := NewFileLinks(NewKey(), "https://gw.example", FileLinksConfig{LinkTTL: time.Hour})
	if _, err := other.Open(tok); !errors.Is(err, ErrLinkInvalid) {
		t.Fatalf("token from another key: %v", err)
	}
	f.now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	if _, err := f.Open(tok); !errors.Is(err, ErrLinkExpired) {
		t.Fatalf("expired token: %v", err)
	}
	none, _ := NewFileLinks(NewKey(), "", FileLinksConfig{LinkTTL: time.Hour})
	if none.For("con_1") != nil {
		t.Fatal("links made without a public URL")
	}
}
