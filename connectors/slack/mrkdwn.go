package slack

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Names resolves ids in mentions to names, from what is already known (it
// must not call Slack). A false result keeps the id.
type Names interface {
	UserName(id string) (string, bool)
	ChannelName(id string) (string, bool)
}

// PlainText converts the text of a Slack message (mrkdwn, as Slack puts it in
// a message's "text") into the gateway's plain text, as docs/protocol.md
// documents:
//
//   - the entities &amp; &lt; &gt; become & < >;
//   - links <url> become the URL and <url|label> the label;
//   - mentions <@U…> become "@name" (the name given in the mention, else a
//     known display name, else the id), <#C…> "#channel", <!here>,
//     <!channel>, <!everyone> "@here", "@channel", "@everyone", user groups
//     their handle, and dates their fallback text;
//   - *bold*, _italic_ and ~strike~ markers are removed, keeping the words;
//   - `code` and ```code blocks``` keep their content verbatim, without the
//     backticks;
//   - :shortcode: emoji (with an optional ::skin-tone-N:) become Unicode
//     emoji; shortcodes that are not in the built-in table stay as they
//     are;
//   - everything else, line breaks and "> " quote markers included, is kept.
//
// names may be nil.
func PlainText(text string, names Names) string {
	if text == "" {
		return ""
	}
	var units []unit
	rest := text
	for rest != "" {
		// Code first: nothing inside it is formatting or emoji.
		if strings.HasPrefix(rest, "```") {
			if end := strings.Index(rest[3:], "```"); end >= 0 {
				body := rest[3 : 3+end]
				body = strings.TrimPrefix(body, "\n")
				body = strings.TrimSuffix(body, "\n")
				units = append(units, unit{s: decodeCode(body, names), opaque: true})
				rest = rest[3+end+3:]
				continue
			}
		}
		if rest[0] == '`' {
			run := len(rest) - len(strings.TrimLeft(rest, "`"))
			if run == 1 {
				if end := strings.IndexByte(rest[1:], '`'); end > 0 && !strings.Contains(rest[1:1+end], "\n") {
					units = append(units, unit{s: decodeCode(rest[1:1+end], names), opaque: true})
					rest = rest[1+end+1:]
					continue
				}
			}
			// A run of backticks that opens nothing stays as it is.
			units = append(units, unit{s: rest[:run], opaque: true})
			rest = rest[run:]
			continue
		}
		switch rest[0] {
		case '<':
			// A control sequence holds no '<' (Slack escapes it), so the
			// search stops at the next one: linear time on any input.
			if end := strings.IndexAny(rest[1:], "<>"); end >= 0 && rest[1+end] == '>' {
				units = append(units, unit{s: control(rest[1:1+end], names), opaque: true})
				rest = rest[1+end+1:]
				continue
			}
		case '&':
			if r, n := entity(rest); n > 0 {
				units = append(units, unit{r: r})
				rest = rest[n:]
				continue
			}
		case ':':
			if e, n := emojiAt(rest); n > 0 {
				units = append(units, unit{s: e, opaque: true})
				rest = rest[n:]
				continue
			}
		}
		r, n := utf8.DecodeRuneInString(rest)
		units = append(units, unit{r: r})
		rest = rest[n:]
	}
	for _, m := range []rune{'*', '_', '~'} {
		dropMarkers(units, m)
	}
	var b strings.Builder
	b.Grow(len(text))
	for _, u := range units {
		switch {
		case u.drop:
		case u.opaque:
			b.WriteString(u.s)
		default:
			b.WriteRune(u.r)
		}
	}
	return b.String()
}

// unit is one piece of a message during conversion: a rune of running text,
// or an opaque piece (a link, mention, emoji or code) that formatting
// markers cannot reach into.
type unit struct {
	r      rune
	s      string
	opaque bool
	// drop marks a formatting marker that is removed.
	drop bool
}

// dropMarkers marks the pairs of marker m that Slack renders as formatting:
// the opening marker follows the start, a space or punctuation and is
// followed by a non-space; the closing marker, on the same line, follows a
// non-space and is followed by the end, a space or punctuation. An opener
// pairs with the first closer after it. One pass, so a hostile text full of
// markers costs linear time.
func dropMarkers(units []unit, m rune) {
	open := -1
	for i := range units {
		u := units[i]
		if !u.opaque && u.r == '\n' {
			open = -1
			continue
		}
		if u.opaque || u.drop || u.r != m {
			continue
		}
		if open >= 0 && i > open+1 && !space(units[i-1]) && boundary(units, i+1) {
			units[open].drop, units[i].drop = true, true
			open = -1
			continue
		}
		if open < 0 && boundary(units, i-1) && i+1 < len(units) && !space(units[i+1]) &&
			(units[i+1].opaque || units[i+1].r != m) {
			open = i
		}
	}
}

// boundary reports whether position i is outside the text, a space or
// punctuation (formatting markers count as punctuation).
func boundary(units []unit, i int) bool {
	if i < 0 || i >= len(units) {
		return true
	}
	u := units[i]
	if u.opaque {
		return false
	}
	return unicode.IsSpace(u.r) || unicode.IsPunct(u.r) || unicode.IsSymbol(u.r)
}

func space(u unit) bool { return !u.opaque && unicode.IsSpace(u.r) }

// entity decodes the HTML entity Slack escapes at the start of s.
func entity(s string) (rune, int) {
	switch {
	case strings.HasPrefix(s, "&amp;"):
		return '&', 5
	case strings.HasPrefix(s, "&lt;"):
		return '<', 4
	case strings.HasPrefix(s, "&gt;"):
		return '>', 4
	}
	return 0, 0
}

// decodeEntities decodes every entity Slack escapes.
func decodeEntities(s string) string {
	if !strings.Contains(s, "&") {
		return s
	}
	return strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">").Replace(s)
}

// decodeCode turns code content into its visible text: control sequences
// and entities decoded, nothing else touched.
func decodeCode(s string, names Names) string {
	var b strings.Builder
	for s != "" {
		i := strings.IndexByte(s, '<')
		if i < 0 {
			b.WriteString(decodeEntities(s))
			break
		}
		b.WriteString(decodeEntities(s[:i]))
		end := strings.IndexAny(s[i+1:], "<>")
		if end < 0 || s[i+1+end] != '>' {
			b.WriteByte('<')
			s = s[i+1:]
			continue
		}
		b.WriteString(control(s[i+1:i+1+end], names))
		s = s[i+1+end+1:]
	}
	return b.String()
}

// control renders the inside of a <…> control sequence.
func control(inner string, names Names) string {
	target, label, hasLabel := strings.Cut(inner, "|")
	label = decodeEntities(label)
	switch {
	case strings.HasPrefix(target, "@"):
		if hasLabel && label != "" {
			return "@" + strings.TrimPrefix(label, "@")
		}
		id := target[1:]
		if names != nil {
			if n, ok := names.UserName(id); ok && n != "" {
				return "@" + n
			}
		}
		return "@" + id
	case strings.HasPrefix(target, "#"):
		if hasLabel && label != "" {
			return "#" + strings.TrimPrefix(label, "#")
		}
		id := target[1:]
		if names != nil {
			if n, ok := names.ChannelName(id); ok && n != "" {
				return "#" + n
			}
		}
		return "#" + id
	case strings.HasPrefix(target, "!"):
		if hasLabel && label != "" {
			return label
		}
		cmd, _, _ := strings.Cut(target[1:], "^")
		return "@" + cmd
	}
	if hasLabel && label != "" {
		return label
	}
	return decodeEntities(target)
}
