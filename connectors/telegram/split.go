package telegram

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxTextRunes is Telegram's limit on a message text. Telegram counts
// characters after entity parsing; we count runes.
const maxTextRunes = 4096

// splitText cuts text into parts of at most limit runes each, preferring to
// cut at the last paragraph break ("\n\n") within the limit, else the last
// newline, else the last sentence end (". ", the period stays), else the last
// space, else exactly at the limit. Whitespace around a cut is dropped, and
// parts that would be whitespace only are left out, so the parts joined back
// equal text up to whitespace at the cuts. limit must be positive.
func splitText(text string, limit int) []string {
	// breaks are the places to cut at, best first; keep is how many bytes
	// of sep stay at the end of the part before the cut.
	breaks := [...]struct {
		sep  string
		keep int
	}{{"\n\n", 0}, {"\n", 0}, {". ", 1}, {" ", 0}}
	var parts []string
	add := func(p string) {
		if p = strings.TrimRightFunc(p, unicode.IsSpace); strings.TrimSpace(p) != "" {
			parts = append(parts, p)
		}
	}
	for utf8.RuneCountInString(text) > limit {
		window := text[:runeOffset(text, limit)]
		part, rest := window, text[len(window):]
		for _, b := range breaks {
			if i := strings.LastIndex(window, b.sep); i+b.keep > 0 {
				part, rest = window[:i+b.keep], text[i+len(b.sep):]
				break
			}
		}
		add(part)
		text = strings.TrimLeftFunc(rest, unicode.IsSpace)
	}
	add(text)
	return parts
}

// runeOffset returns the byte offset just after the first n runes of s.
func runeOffset(s string, n int) int {
	off := 0
	for i := 0; i < n && off < len(s); i++ {
		_, size := utf8.DecodeRuneInString(s[off:])
		off += size
	}
	return off
}
