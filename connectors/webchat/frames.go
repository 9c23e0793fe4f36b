package webchat

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// The widget and the gateway talk over one WebSocket in JSON text frames.
//
// Widget → gateway (parsed by parseClientFrame, which is fuzzed):
//
//	{"type":"hello","token":"…","after":12,"language":"de"}   first frame, always
//	{"type":"message","id":"<client id>","text":"…","files":["upl_…"]}
//	{"type":"ping"}
//	{"type":"read","seq":13}   the visitor has seen the conversation up to seq (widget open, tab visible)
//
// Gateway → widget:
//
//	{"type":"ready","visitor":"vis_…"}                 hello accepted
//	{"type":"message","seq":13,"id":"…","from":"agent","text":"…","files":[…],"at":"…"}
//	{"type":"ack","id":"<client id>","seq":14}         a message is stored and on its way to the portal
//	{"type":"typing"}                                  an agent is typing
//	{"type":"read","seq":14}                           the agents read the visitor's messages up to seq
//	{"type":"pong"}
//	{"type":"error","id":"<client id>","code":"rate_limited","message":"…","retry_after_ms":2000}
//
// Messages are numbered per conversation (seq); a widget that reconnects
// says in hello the last seq it has and gets everything after it, so
// replies sent while it was away arrive, and none twice. The client id of a
// message makes a resend after a reconnect harmless.

// Frame types.
const (
	frameHello   = "hello"
	frameMessage = "message"
	framePing    = "ping"
	frameRead    = "read"
	frameReady   = "ready"
	frameAck     = "ack"
	frameTyping  = "typing"
	framePong    = "pong"
	frameError   = "error"
)

// Limits of a frame from the widget, beyond the configured text limit.
const (
	maxFilesPerMessage = 10
	maxTokenLen        = 512
	// maxFrameOverhead is what a frame may hold besides its text.
	maxFrameOverhead = 4096
)

// clientFrame is a frame from the widget, checked.
type clientFrame struct {
	Type string `json:"type"`
	// hello
	Token    string `json:"token,omitempty"`
	After    int64  `json:"after,omitempty"`
	Language string `json:"language,omitempty"`
	// message
	ID    string   `json:"id,omitempty"`
	Text  string   `json:"text,omitempty"`
	Files []string `json:"files,omitempty"`
	// read
	Seq int64 `json:"seq,omitempty"`
}

// badFrame is a frame the gateway refuses; Code goes back to the widget.
type badFrame struct {
	Code, Msg string
}

func (e *badFrame) Error() string { return e.Code + ": " + e.Msg }

// Codes of badFrame and of error frames.
const (
	codeMalformed       = "malformed"
	codeInvalid         = "invalid"
	codeTooLong         = "too_long"
	codeRateLimited     = "rate_limited"
	codeProfileRequired = "profile_required"
	codeUnavailable     = "unavailable"
)

var (
	clientIDShape = regexp.MustCompile(`^[A-Za-z0-9_-]{8,64}$`)
	languageShape = regexp.MustCompile(`^[A-Za-z]{2,8}(?:-[A-Za-z0-9]{1,8}){0,3}$`)
)

// parseClientFrame decodes and checks one frame from the widget. maxText is
// the longest message text in characters. A returned error is a
// *badFrame; on success the frame's fields are within every limit and
// the text is cleaned of control characters other than newline and tab.
func parseClientFrame(data []byte, maxText int) (clientFrame, error) {
	var f clientFrame
	if len(data) > maxText*utf8.UTFMax+maxFrameOverhead {
		return f, &badFrame{codeTooLong, "frame too large"}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&f); err != nil {
		return clientFrame{}, &badFrame{codeMalformed, "not a JSON frame: " + err.Error()}
	}
	if dec.More() {
		return clientFrame{}, &badFrame{codeMalformed, "trailing data after the frame"}
	}
	switch f.Type {
	case frameHello:
		if f.Token == "" || len(f.Token) > maxTokenLen {
			return clientFrame{}, &badFrame{codeInvalid, "hello needs the visitor token"}
		}
		if f.After < 0 {
			return clientFrame{}, &badFrame{codeInvalid, "after must not be negative"}
		}
		if !languageShape.MatchString(f.Language) {
			f.Language = "" // optional and only informative
		}
		return clientFrame{Type: f.Type, Token: f.Token, After: f.After, Language: f.Language}, nil
	case frameMessage:
		if !clientIDShape.MatchString(f.ID) {
			return clientFrame{}, &badFrame{codeInvalid, "message id must be 8 to 64 letters, digits, _ or -"}
		}
		f.Text = cleanText(f.Text)
		if n := utf8.RuneCountInString(f.Text); n > maxText {
			return clientFrame{}, &badFrame{codeTooLong, fmt.Sprintf("message has %d characters, at most %d are allowed", n, maxText)}
		}
		if len(f.Files) > maxFilesPerMessage {
			return clientFrame{}, &badFrame{codeInvalid, fmt.Sprintf("at most %d files per message", maxFilesPerMessage)}
		}
		seen := map[string]bool{}
		for _, id := range f.Files {
			if !validID(id, "upl_") || seen[id] {
				return clientFrame{}, &badFrame{codeInvalid, "files must list distinct upload ids"}
			}
			seen[id] = true
		}
		if f.Text == "" && len(f.Files) == 0 {
			return clientFrame{}, &badFrame{codeInvalid, "a message needs text or files"}
		}
		return clientFrame{Type: f.Type, ID: f.ID, Text: f.Text, Files: f.Files}, nil
	case framePing:
		return clientFrame{Type: f.Type}, nil
	case frameRead:
		if f.Seq < 1 {
			return clientFrame{}, &badFrame{codeInvalid, "read needs the seq seen, at least 1"}
		}
		return clientFrame{Type: f.Type, Seq: f.Seq}, nil
	default:
		return clientFrame{}, &badFrame{codeInvalid, fmt.Sprintf("unknown frame type %q", f.Type)}
	}
}

// cleanText drops control characters (keeping newlines and tabs), turns
// CRLF into LF and trims surrounding white space. Invalid UTF-8 cannot
// reach here: JSON decoding replaces it.
func cleanText(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' {
			return r
		}
		if unicode.IsControl(r) || r == utf8.RuneError {
			return -1
		}
		return r
	}, s)
	return strings.TrimSpace(s)
}

// serverFrame is a frame to the widget.
type serverFrame struct {
	Type       string     `json:"type"`
	Visitor    string     `json:"visitor,omitempty"`
	Seq        int64      `json:"seq,omitempty"`
	ID         string     `json:"id,omitempty"`
	From       string     `json:"from,omitempty"`
	Text       string     `json:"text,omitempty"`
	Files      []wireFile `json:"files,omitempty"`
	At         *time.Time `json:"at,omitempty"`
	Code       string     `json:"code,omitempty"`
	Message    string     `json:"message,omitempty"`
	RetryAfter int64      `json:"retry_after_ms,omitempty"`
}

// wireFile is a file of a message as the widget shows it: an upload of the
// visitor's, fetched with Token from the widget's download route, or a
// link the portal sent.
type wireFile struct {
	Name  string `json:"name,omitempty"`
	Mime  string `json:"mime,omitempty"`
	Size  int64  `json:"size,omitempty"`
	Token string `json:"token,omitempty"`
	URL   string `json:"url,omitempty"`
}
