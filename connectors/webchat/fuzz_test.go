package webchat

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

// FuzzParseClientFrame feeds the parser of widget frames (untrusted: anyone
// can open the socket) arbitrary bytes. It must never panic, every refusal
// must be a *badFrame, and every frame it accepts must be within the limits
// the rest of the connector relies on.
func FuzzParseClientFrame(f *testing.F) {
	for _, seed := range []string{
		`{"type":"hello","token":"abc.def","after":3,"language":"de-DE"}`,
		`{"type":"message","id":"client-msg-0001","text":"Hello <img src=x onerror=alert(1)>","files":["upl_aaaaaaaaaaaaaaaaaaaaaaaaaa"]}`,
		`{"type":"message","id":"client-msg-0001","text":"\u0000\r\nline\u202e"}`,
		`{"type":"message","id":"client-msg-0001","files":["upl_aaaaaaaaaaaaaaaaaaaaaaaaaa","upl_aaaaaaaaaaaaaaaaaaaaaaaaaa"]}`,
		`{"type":"ping"}`,
		`{"type":"hello","token":"x","after":-1}`,
		`{"type":"message","id":"client-msg-0001","text":"a"} {"type":"ping"}`,
		`{"type":"message","id":"short","text":"a"}`,
		`{"type":1}`,
		`[]`,
		`null`,
		``,
	} {
		f.Add([]byte(seed))
	}
	const maxText = 100
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := parseClientFrame(data, maxText)
		if err != nil {
			var bf *badFrame
			if !errors.As(err, &bf) || bf.Code == "" {
				t.Fatalf("refusal is not a badFrame with a code: %v", err)
			}
			if fr.Type != "" {
				t.Fatalf("refused frame still returned %+v", fr)
			}
			return
		}
		switch fr.Type {
		case frameHello:
			if fr.Token == "" || len(fr.Token) > maxTokenLen || fr.After < 0 || (fr.Language != "" && !languageShape.MatchString(fr.Language)) {
				t.Fatalf("accepted hello %+v", fr)
			}
		case frameMessage:
			if !clientIDShape.MatchString(fr.ID) || utf8.RuneCountInString(fr.Text) > maxText || !utf8.ValidString(fr.Text) {
				t.Fatalf("accepted message %+v", fr)
			}
			if fr.Text == "" && len(fr.Files) == 0 {
				t.Fatal("accepted an empty message")
			}
			if strings.TrimSpace(fr.Text) != fr.Text {
				t.Fatalf("text not trimmed: %q", fr.Text)
			}
			for _, r := range fr.Text {
				if unicode.IsControl(r) && r != '\n' && r != '\t' {
					t.Fatalf("control character %U kept in %q", r, fr.Text)
				}
			}
			if len(fr.Files) > maxFilesPerMessage {
				t.Fatalf("%d files accepted", len(fr.Files))
			}
			seen := map[string]bool{}
			for _, id := range fr.Files {
				if !validID(id, "upl_") || seen[id] {
					t.Fatalf("files %v accepted", fr.Files)
				}
				seen[id] = true
			}
		case framePing:
		default:
			t.Fatalf("accepted unknown type %q", fr.Type)
		}
	})
}

// FuzzVisitorToken: no string but one the signer made opens as a visitor,
// and opening never panics.
func FuzzVisitorToken(f *testing.F) {
	s, err := newSigner("fuzz key")
	if err != nil {
		f.Fatal(err)
	}
	good := s.visitorToken("con_1", "vis_aaaaaaaaaaaaaaaaaaaaaaaaaa", time.Unix(1700000000, 0))
	f.Add(good)
	f.Add(good + "x")
	f.Add(strings.Replace(good, ".", "", 1))
	f.Add("")
	f.Add(".")
	f.Fuzz(func(t *testing.T, tok string) {
		v, err := s.visitor(tok, "con_1")
		if err == nil && (tok != good || v != "vis_aaaaaaaaaaaaaaaaaaaaaaaaaa") {
			// Base64 without padding has one spelling per byte string, so
			// only the signed token itself may pass.
			if _, again := s.visitor(tok, "con_1"); again != nil || !validID(v, "vis_") {
				t.Fatalf("token %q opened as %q", tok, v)
			}
		}
	})
}
