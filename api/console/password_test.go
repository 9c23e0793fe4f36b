package console

import (
	"strings"
	"testing"
)

func TestPasswordHashRoundTrip(t *testing.T) {
	h := hashPassword("correct horse battery")
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q is not an argon2id PHC string with the expected parameters", h)
	}
	if h2 := hashPassword("correct horse battery"); h2 == h {
		t.Fatal("two hashes of one password are equal: the salt is not random")
	}
	ok, err := checkPassword(h, "correct horse battery")
	if err != nil || !ok {
		t.Fatalf("right password: %v, %v", ok, err)
	}
	for _, wrong := range []string{"", "correct horse batter", "Correct horse battery", "correct horse battery "} {
		if ok, err := checkPassword(h, wrong); err != nil || ok {
			t.Errorf("wrong password %q accepted (%v, %v)", wrong, ok, err)
		}
	}
}

func TestMalformedHashIsAnErrorNotAMatch(t *testing.T) {
	good := hashPassword("pw-pw-pw-pw-pw")
	parts := strings.Split(good, "$")
	for name, h := range map[string]string{
		"empty":        "",
		"bcrypt":       "$2a$10$abcdefghijklmnopqrstuu",
		"other algo":   strings.Replace(good, "argon2id", "argon2i", 1),
		"bad version":  strings.Replace(good, "v=19", "v=16", 1),
		"huge memory":  strings.Replace(good, "m=19456", "m=99999999", 1),
		"zero passes":  strings.Replace(good, "t=2", "t=0", 1),
		"salt not b64": strings.Join(append(append([]string{}, parts[:4]...), "!!!", parts[5]), "$"),
		"short key":    strings.Join(append(append([]string{}, parts[:5]...), "AAAA"), "$"),
	} {
		if ok, err := checkPassword(h, "pw-pw-pw-pw-pw"); err == nil || ok {
			t.Errorf("%s: checkPassword = %v, %v; want an error", name, ok, err)
		}
	}
}

// The hash checked for unknown user names must be well-formed, or a wrong
// name would answer faster than a wrong password.
func TestDummyHashIsWellFormed(t *testing.T) {
	if _, err := checkPassword(dummyHash, "anything"); err != nil {
		t.Fatalf("dummy hash: %v", err)
	}
}

func TestNewPasswordRules(t *testing.T) {
	if msg := validateNewPassword("short", "admin"); msg == "" {
		t.Error("a 5-character password was accepted")
	}
	if msg := validateNewPassword("ADMINADMINADMIN", "adminadminadmin"); msg == "" {
		t.Error("the user name was accepted as password")
	}
	if msg := validateNewPassword("a long enough phrase", "admin"); msg != "" {
		t.Errorf("a good password was refused: %s", msg)
	}
	if pw := newOneTimePassword(); len(pw) < 20 || validateNewPassword(pw, "admin") != "" {
		t.Errorf("one-time password %q is too weak", pw)
	}
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"/console/lines/lin_1":        "/console/lines/lin_1",
		"/console/wizard/test?c=x":    "/console/wizard/test?c=x",
		"":                            "/console/",
		"https://evil.example/":       "/console/",
		"//evil.example/console/":     "/console/",
		"/console//evil.example":      "/console/",
		"/console/\\evil":             "/console/",
		"/console/../hook/x":          "/console/",
		"/console/%2e%2e/x":           "/console/",
		"/v1/lines":                   "/console/",
		"/console/x\r\nSet-Cookie: a": "/console/",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzSafeNext: whatever the sign-in form gets as "next", the redirect stays
// inside the console.
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/console/", "/console/a?b=c", "//x", "/console/%2f%2fx", "https://x/console/", "/console/\t/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got := safeNext(in)
		if !strings.HasPrefix(got, Prefix) || strings.Contains(got, "//") || strings.ContainsAny(got, "\\\r\n\t\x00") {
			t.Fatalf("safeNext(%q) = %q leaves the console", in, got)
		}
		if got != Prefix && got != in {
			t.Fatalf("safeNext(%q) = %q: rewrote instead of keeping or refusing", in, got)
		}
	})
}
