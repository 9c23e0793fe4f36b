package traffic

import (
	"encoding/json"
	"strings"
)

// eventFields are the parts of a stored event a trace shows and is found by.
type eventFields struct {
	Type, Connection, Connector, ChatID, RequestID string
}

// fieldsOf reads eventFields from a stored event payload. ok is false when
// the payload is not what a decode into eventFields accepts (then the trace
// shows none of them, as before).
//
// A drained backlog hands the recorder nothing but events it did not see
// come in, and a full json.Unmarshal of each was a third of the gateway's
// CPU there. Stored payloads are the gateway's own json.Marshal output, so
// the common shape is read by a small scanner: the top-level keys, the five
// string values wanted (plain, without escapes), every other value skipped.
// Anything else (escapes, non-ASCII, null, another type, a key that
// matches only without regard to case) goes to json.Unmarshal, so for
// valid JSON the answer is the same either way (a fuzz test holds it). The
// scanner checks structure, not every rule of JSON: a malformed payload,
// which json.Marshal never writes, may show fields where Unmarshal showed
// none.
func fieldsOf(payload []byte) (f eventFields, ok bool) {
	if f, ok, sure := scanFields(payload); sure {
		return f, ok
	}
	return unmarshalFields(payload)
}

// unmarshalFields reads the fields with encoding/json: the fallback, and the
// reference the scanner is tested against.
func unmarshalFields(payload []byte) (eventFields, bool) {
	var ev struct {
		Type       string `json:"type"`
		Connection string `json:"connection"`
		Connector  string `json:"connector"`
		Chat       *struct {
			ID string `json:"id"`
		} `json:"chat"`
		Status *struct {
			RequestID string `json:"request_id"`
		} `json:"status"`
	}
	if json.Unmarshal(payload, &ev) != nil {
		return eventFields{}, false
	}
	f := eventFields{Type: ev.Type, Connection: ev.Connection, Connector: ev.Connector}
	if ev.Chat != nil {
		f.ChatID = ev.Chat.ID
	}
	if ev.Status != nil {
		f.RequestID = ev.Status.RequestID
	}
	return f, true
}

// scanFields is fieldsOf's fast path; sure is false when it cannot tell.
func scanFields(p []byte) (f eventFields, ok, sure bool) {
	s := scanner{p: p}
	if !s.object(func(key []byte) bool {
		switch string(key) {
		case "type":
			return s.plainString(&f.Type)
		case "connection":
			return s.plainString(&f.Connection)
		case "connector":
			return s.plainString(&f.Connector)
		case "chat":
			return s.object(func(k []byte) bool {
				if string(k) == "id" {
					return s.plainString(&f.ChatID)
				}
				return s.unwanted(k, "id") && s.skip()
			})
		case "status":
			return s.object(func(k []byte) bool {
				if string(k) == "request_id" {
					return s.plainString(&f.RequestID)
				}
				return s.unwanted(k, "request_id") && s.skip()
			})
		}
		return s.unwanted(key, "type", "connection", "connector", "chat", "status") && s.skip()
	}) {
		return eventFields{}, false, false
	}
	s.space()
	if s.i != len(s.p) {
		return eventFields{}, false, false
	}
	return f, true, true
}

// scanner reads the JSON shapes scanFields takes; every method reports
// false for anything it does not handle.
type scanner struct {
	p []byte
	i int
}

func (s *scanner) space() {
	for s.i < len(s.p) && (s.p[s.i] == ' ' || s.p[s.i] == '\t' || s.p[s.i] == '\n' || s.p[s.i] == '\r') {
		s.i++
	}
}

func (s *scanner) byte(c byte) bool {
	s.space()
	if s.i < len(s.p) && s.p[s.i] == c {
		s.i++
		return true
	}
	return false
}

// object reads {"key": value, ...}, calling member with s just before each
// value.
func (s *scanner) object(member func(key []byte) bool) bool {
	if !s.byte('{') {
		return false
	}
	if s.byte('}') {
		return true
	}
	for {
		key, ok := s.plain()
		if !ok || !s.byte(':') || !member(key) {
			return false
		}
		if s.byte('}') {
			return true
		}
		if !s.byte(',') {
			return false
		}
	}
}

// plainString reads a string without escapes, control characters or
// non-ASCII bytes.
func (s *scanner) plainString(out *string) bool {
	b, ok := s.plain()
	if ok {
		*out = string(b)
	}
	return ok
}

// plain reads such a string and returns its bytes, without a copy.
func (s *scanner) plain() ([]byte, bool) {
	if !s.byte('"') {
		return nil, false
	}
	start := s.i
	for s.i < len(s.p) {
		switch c := s.p[s.i]; {
		case c == '"':
			s.i++
			return s.p[start : s.i-1], true
		case c == '\\' || c < 0x20 || c >= 0x80:
			return nil, false // escapes and non-ASCII (invalid UTF-8 is replaced by Unmarshal): not here
		}
		s.i++
	}
	return nil, false
}

// unwanted tells that key is none of the wanted ones in any letter case
// (Unmarshal matches keys without regard to case).
func (*scanner) unwanted(key []byte, wanted ...string) bool {
	for _, w := range wanted {
		if len(key) == len(w) && strings.EqualFold(string(key), w) {
			return false
		}
	}
	return true
}

// skip passes over one value of any kind. It checks only the structure it
// needs (brackets and strings); the rest of validity is json.Marshal's,
// which wrote the payload.
func (s *scanner) skip() bool {
	s.space()
	if s.i >= len(s.p) {
		return false
	}
	depth := 0
	for s.i < len(s.p) {
		c := s.p[s.i]
		switch {
		case c == '"':
			s.i++
			for s.i < len(s.p) && s.p[s.i] != '"' {
				if s.p[s.i] == '\\' {
					s.i++
				}
				s.i++
			}
			if s.i >= len(s.p) {
				return false
			}
			s.i++
		case c == '{' || c == '[':
			depth++
			s.i++
		case c == '}' || c == ']':
			if depth == 0 {
				return true
			}
			depth--
			s.i++
		case c == ',' && depth == 0:
			return true
		default:
			s.i++
		}
		if depth == 0 && (c == '"' || c == '}' || c == ']') {
			return true
		}
	}
	return depth == 0
}
