package portal_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/connector-gateway/connector/portal"
)

type vector struct {
	Name      string   `json:"name"`
	Secrets   []string `json:"secrets"`
	ID        string   `json:"id"`
	Timestamp int64    `json:"timestamp"`
	Payload   string   `json:"payload"`
	Signature string   `json:"signature"`
}

// The vectors in testdata were computed with a plain HMAC outside this code;
// the test fails if signing drifts from them, or the protocol document's
// vector drifts from the file.
func TestSignatureVectors(t *testing.T) {
	raw, err := os.ReadFile("testdata/signatures.json")
	if err != nil {
		t.Fatal(err)
	}
	var vs []vector
	if err := json.Unmarshal(raw, &vs); err != nil {
		t.Fatal(err)
	}
	if len(vs) == 0 {
		t.Fatal("no vectors")
	}
	doc, err := os.ReadFile("../docs/protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		got, err := portal.Sign(v.Secrets, v.ID, time.Unix(v.Timestamp, 0), []byte(v.Payload))
		if err != nil {
			t.Fatalf("%s: %v", v.Name, err)
		}
		if got != v.Signature {
			t.Errorf("%s: signature %q, want %q", v.Name, got, v.Signature)
		}
		if strings.Contains(v.Name, "docs/protocol.md") && !strings.Contains(string(doc), v.Signature) {
			t.Errorf("docs/protocol.md no longer shows the vector signature %s", v.Signature)
		}
	}
}

func TestVerifyRotationAndTolerance(t *testing.T) {
	old, cur := portal.NewSecret(), portal.NewSecret()
	body := []byte(`{"id":"bat_1"}`)
	h := http.Header{}
	if err := portal.SetHeaders(h, []string{old, cur}, "bat_1", time.Now(), body); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{old, cur} {
		if err := portal.Verify([]string{s}, body, h); err != nil {
			t.Errorf("a portal knowing one of the rotated secrets fails to verify: %v", err)
		}
	}
	if err := portal.Verify([]string{portal.NewSecret()}, body, h); err == nil {
		t.Error("verified with an unrelated secret")
	}
	if err := portal.Verify([]string{cur}, []byte(`{"id":"bat_2"}`), h); err == nil {
		t.Error("verified a changed body")
	}
	stale := http.Header{}
	if err := portal.SetHeaders(stale, []string{cur}, "bat_1", time.Now().Add(-6*time.Minute), body); err != nil {
		t.Fatal(err)
	}
	if err := portal.Verify([]string{cur}, body, stale); err == nil {
		t.Error("verified a 6-minute-old timestamp")
	}
	if ts, _ := strconv.ParseInt(h.Get(portal.HeaderTimestamp), 10, 64); ts == 0 {
		t.Error("no timestamp header")
	}
}

func TestSealerBindsToRecord(t *testing.T) {
	s, err := portal.NewSealer(portal.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	sealed := s.Seal([]byte("123:token"), []byte("connection:a"))
	if strings.Contains(string(sealed), "123:token") {
		t.Fatal("plaintext visible in sealed value")
	}
	if pt, err := s.Open(sealed, []byte("connection:a")); err != nil || string(pt) != "123:token" {
		t.Fatalf("open = %q, %v", pt, err)
	}
	if _, err := s.Open(sealed, []byte("connection:b")); err == nil {
		t.Fatal("a sealed value moved to another record opened")
	}
	other, _ := portal.NewSealer(portal.NewKey())
	if _, err := other.Open(sealed, []byte("connection:a")); err == nil {
		t.Fatal("opened with another key")
	}
	if _, err := portal.NewSealer("c2hvcnQ="); err == nil {
		t.Fatal("accepted a short key")
	}
}

// Sign computes what the reference library computes, for secrets of any
// length and several at once (the vectors hold fixed cases; this one the
// general agreement).
func TestSignAgreesWithTheReferenceLibrary(t *testing.T) {
	secrets := []string{portal.NewSecret(), "whsec_" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 100)), portal.NewSecret()}
	payload := bytes.Repeat([]byte(`{"a":1}`), 1000)
	ts := time.Unix(1700000000, 0)
	got, err := portal.Sign(secrets, "bat_0123", ts, payload)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, s := range secrets {
		wh, err := standardwebhooks.NewWebhook(s)
		if err != nil {
			t.Fatal(err)
		}
		sig, err := wh.Sign("bat_0123", ts, payload)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, sig)
	}
	if got != strings.Join(want, " ") {
		t.Fatalf("signature %q, the reference library's %q", got, strings.Join(want, " "))
	}
	if _, err := portal.Sign([]string{"whsec_not base64!"}, "x", ts, payload); err == nil {
		t.Fatal("a secret that is not base64 signed")
	}
}
