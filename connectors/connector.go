package connectors

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"time"
)

// Conn is one connection (a bot bound to a portal line) as a connector sees
// it: the ids it stamps on events and its decrypted settings. A connector
// must treat Settings as secret: never log them or put them in events.
type Conn struct {
	ID       string
	PortalID string
	LineID   string
	// Hash is the path element of the connection's entry URL (/hook/{hash}).
	Hash string
	// EntryURL is the full public URL messengers post to ("" when the
	// gateway has no public URL configured).
	EntryURL string
	Settings Settings
	// Files makes gateway links for the connection's files; nil when the
	// gateway has no public URL (connectors then leave File.URL empty).
	Files FileLinker
	// Cursor is where a Poller resumes; set only when the gateway runs
	// Poll for the connection.
	Cursor Cursor
}

// Cursor is a poller's position in the messenger's update stream, kept
// durably by the gateway per connection. Its methods may be called from the
// polling goroutine only.
type Cursor interface {
	// Load returns the stored position, "" before the first Save.
	Load(ctx context.Context) (string, error)
	// Save stores the position after the events handed to sink so far. Call
	// it only after sink returned nil for them. An error wrapping
	// ErrLeaseLost means another process now polls this connection: stop.
	Save(ctx context.Context, pos string) error
}

// Settings are a connection's connector-specific values, by field key.
type Settings map[string]string

// Field describes one setting so the setup wizard can render a form for it.
type Field struct {
	Key   string `json:"key"`
	Label string `json:"label"`
	Help  string `json:"help,omitempty"`
	// Type is "text", "secret", "select", "url" or "bool".
	Type     string   `json:"type"`
	Required bool     `json:"required,omitempty"`
	Options  []string `json:"options,omitempty"`
	Default  string   `json:"default,omitempty"`
}

// Description is what a connector tells about itself.
type Description struct {
	Type   string  `json:"type"`
	Title  string  `json:"title"`
	Fields []Field `json:"fields"`
}

// Inbound is what a connector made of one webhook request.
type Inbound struct {
	// Events to enqueue, each with its dedupe key. May be empty (an update
	// kind the gateway skips on purpose).
	Events []Keyed
	// Response, when set, is written to the messenger instead of the default
	// 200 (for handshakes such as Slack's url_verification).
	Response *Response
}

// Keyed is an event with the key that makes a messenger retry a duplicate:
// connector type + connection + the messenger's update/event id.
type Keyed struct {
	DedupeKey string
	Event     Event
	// Supersedes are dedupe keys this event makes duplicates of from now
	// on, recorded in the same transaction: an event arriving later under
	// one of them adds nothing. It keeps statuses from moving backward
	// when the messenger reports them out of order: a "read" supersedes
	// the "delivered" and "sent" of the same message.
	Supersedes []string
}

// Response is a literal HTTP answer to a messenger.
type Response struct {
	Status      int
	ContentType string
	Body        []byte
}

// Outbound is a message a portal asked to send.
type Outbound struct {
	ChatID  string    `json:"chat_id"`
	Text    string    `json:"text,omitempty"`
	ReplyTo string    `json:"reply_to,omitempty"`
	Files   []OutFile `json:"files,omitempty"`
	// RequestID is the id of the portal's API request this message is sent
	// for. A connector may pass it to a messenger that echoes it in its
	// delivery callbacks, so status events name the request. The gateway
	// sets it, never a portal.
	RequestID string `json:"-"`
	// SentParts is how many parts of this message (text parts and files,
	// in the connector's own order) earlier attempts already delivered; the
	// connector sends only the rest. The gateway sets it, never a portal.
	SentParts int `json:"-"`
}

// OutFile is a file to send, by a URL the messenger or the gateway can fetch.
type OutFile struct {
	URL  string `json:"url"`
	Name string `json:"name,omitempty"`
	Mime string `json:"mime,omitempty"`
}

// Edit replaces the text of an earlier message the gateway sent.
type Edit struct {
	ChatID    string `json:"chat_id"`
	MessageID string `json:"message_id"`
	Text      string `json:"text"`
}

// Delete removes an earlier message the gateway sent.
type Delete struct {
	ChatID    string `json:"chat_id"`
	MessageID string `json:"message_id"`
}

// Delivery is what the messenger answered to a successful send. Along with
// an error it lists the parts that did go out before the failure.
type Delivery struct {
	MessageIDs []string
}

// TestReport is the outcome of a live connection test, in plain words.
type TestReport struct {
	OK bool `json:"ok"`
	// Checks lists each check made, in order.
	Checks []Check `json:"checks"`
}

// Check is one line of a test report. Fix says what the admin should do
// when OK is false.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
	Fix    string `json:"fix,omitempty"`
}

// Connector is one messenger channel. One value serves every connection of
// its type; all methods must be safe for concurrent use. Methods that talk to
// the messenger honour ctx; an error wrapping ErrUnauthorized or ErrMalformed
// has the meaning those sentinels document, any other error is the gateway's
// or the messenger's fault.
type Connector interface {
	// Describe returns the connector's type, title and settings fields.
	Describe() Description
	// ValidateSettings checks settings offline and returns them normalized
	// (defaults filled in). A FieldErrors error names each bad field.
	ValidateSettings(s Settings) (Settings, error)
	// Test checks the connection against the messenger, live.
	Test(ctx context.Context, c Conn) (TestReport, error)
	// Activate starts receiving: registers the webhook at c.EntryURL, or
	// returns ErrNeedsPolling when the connection receives by polling (the
	// caller then runs Poller.Poll).
	Activate(ctx context.Context, c Conn) error
	// Deactivate stops receiving (removes the webhook). Idempotent.
	Deactivate(ctx context.Context, c Conn) error
	// Send delivers a message to the messenger.
	Send(ctx context.Context, c Conn, m Outbound) (Delivery, error)
}

// Request is one webhook request as the messenger sent it.
type Request struct {
	// Method is the HTTP method (POST, or GET for a Handshaker).
	Method string
	// URL is the URL the messenger called, as the messenger saw it: the
	// gateway's public URL with the request's path and raw query (what a
	// signature such as Twilio's covers). Without a public URL configured
	// it is the request's own path and query.
	URL string
	// Query is the parsed query string of URL.
	Query url.Values
	// Header is the request's headers.
	Header http.Header
	// Body is the full request body, already size-limited.
	Body []byte
}

// WebhookReceiver is a connector that messengers call at the connection's
// entry URL (POST /hook/{hash}).
type WebhookReceiver interface {
	// Parse turns one webhook request into events. It must not call the
	// messenger (it runs on the request path, where messengers time out).
	// A forged or stale request is an error wrapping ErrUnauthorized, a
	// payload the messenger would not send one wrapping ErrMalformed; on
	// any error nothing is enqueued.
	Parse(ctx context.Context, c Conn, r Request) (Inbound, error)
}

// Handshaker is a WebhookReceiver whose messenger also calls the entry URL
// with GET to prove the URL is the connection's (Meta's hub.challenge).
// Without it a GET to the entry URL is refused with 405.
type Handshaker interface {
	// Handshake answers one GET request; an error wrapping ErrUnauthorized
	// (a wrong verify token) is answered 403, ErrMalformed 400.
	Handshake(ctx context.Context, c Conn, r Request) (Response, error)
}

// Sink is how a connector hands received events to the gateway: it
// returns only after the events are committed to the outbox (nil), or
// with the error that kept them out (nothing was committed then, and the
// connector keeps its position and retries). It is safe for concurrent use.
type Sink func(ctx context.Context, events []Keyed) error

// Editor is a connector that can change the text of a sent message.
type Editor interface {
	Edit(ctx context.Context, c Conn, e Edit) (Delivery, error)
}

// Deleter is a connector that can delete a sent message.
type Deleter interface {
	Delete(ctx context.Context, c Conn, d Delete) error
}

// Typer is a connector that can show a typing indicator.
type Typer interface {
	Typing(ctx context.Context, c Conn, chatID string) error
}

// Poller is a connector that can receive without a public URL. Poll blocks,
// handing each batch of events to sink, until ctx ends; sink returns only
// after the events are committed, so the poller may then advance its
// position with c.Cursor.Save. Poll resumes from c.Cursor.Load. It returns
// nil when ctx ended, and an error wrapping PermanentError when it cannot
// go on (the token was revoked); it rides out transient failures itself.
type Poller interface {
	Poll(ctx context.Context, c Conn, sink Sink) error
}

// Sentinel errors. Wrap them with %w to add detail.
var (
	// ErrUnauthorized: the request's secret or signature is wrong or stale.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrMalformed: the payload is not what the messenger sends.
	ErrMalformed = errors.New("malformed payload")
	// ErrNeedsPolling: the connection receives by polling, not webhook.
	ErrNeedsPolling = errors.New("connection receives by polling")
	// ErrUnsupported: the connector cannot do this operation.
	ErrUnsupported = errors.New("operation not supported by this connector")
	// ErrNoFile: the messenger has no such file (any more), e.g. a user
	// without a profile photo.
	ErrNoFile = errors.New("no such file at the messenger")
	// ErrLeaseLost: another gateway process took over the work (a polled
	// connection); the caller must stop.
	ErrLeaseLost = errors.New("lease lost to another process")
)

// PermanentError is a send failure retrying will not fix (the user blocked the
// bot, the chat does not exist, the token was revoked).
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// RateLimitedError asks the caller to wait before sending to that chat again.
type RateLimitedError struct {
	RetryAfter time.Duration
	Err        error
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("rate limited, retry after %s: %v", e.RetryAfter, e.Err)
}
func (e *RateLimitedError) Unwrap() error { return e.Err }

// FieldErrors maps a setting key to what is wrong with it.
type FieldErrors map[string]string

func (fe FieldErrors) Error() string {
	keys := make([]string, 0, len(fe))
	for k := range fe {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	msg := "invalid settings:"
	for _, k := range keys {
		msg += fmt.Sprintf(" %s: %s;", k, fe[k])
	}
	return msg
}

// Registry maps a connector type to its implementation. Build it explicitly
// (in main, or in a test) and pass it to whoever needs it.
type Registry struct {
	byType map[string]Connector
	order  []string
}

// NewRegistry registers the given connectors; two with one type is an error.
func NewRegistry(cs ...Connector) (*Registry, error) {
	r := &Registry{byType: make(map[string]Connector, len(cs))}
	for _, c := range cs {
		t := c.Describe().Type
		if t == "" {
			return nil, errors.New("connectors: connector with empty type")
		}
		if _, dup := r.byType[t]; dup {
			return nil, fmt.Errorf("connectors: type %q registered twice", t)
		}
		r.byType[t] = c
		r.order = append(r.order, t)
	}
	return r, nil
}

// Get returns the connector of a type.
func (r *Registry) Get(typ string) (Connector, bool) {
	c, ok := r.byType[typ]
	return c, ok
}

// Describe lists every registered connector, in registration order.
func (r *Registry) Describe() []Description {
	out := make([]Description, 0, len(r.order))
	for _, t := range r.order {
		out = append(out, r.byType[t].Describe())
	}
	return out
}

// Close closes every registered connector that holds resources of its own
// (implements io.Closer: background lookups, connections), in registration
// order, and returns their errors joined. Call it once the gateway no
// longer calls the connectors.
func (r *Registry) Close() error {
	var errs []error
	for _, t := range r.order {
		if c, ok := r.byType[t].(io.Closer); ok {
			if err := c.Close(); err != nil {
				errs = append(errs, fmt.Errorf("connectors: close %s: %w", t, err))
			}
		}
	}
	return errors.Join(errs...)
}

// FileLinker turns a messenger's file reference into a gateway URL (signed,
// expiring) that a portal can fetch without any messenger secret. A
// connector puts such URLs in events instead of the messenger's own link.
type FileLinker interface {
	// FileURL returns the link for ref (opaque to the gateway: what the
	// connector's FetchFile needs). name and mime are served with the file.
	FileURL(ref, name, mime string) string
}

// FileFetcher is a connector that streams a file by the reference it put in
// a FileURL. The caller closes Body.
type FileFetcher interface {
	FetchFile(ctx context.Context, c Conn, ref string) (FileContent, error)
}

// FileContent is a file being streamed from the messenger.
type FileContent struct {
	Body io.ReadCloser
	// Mime and Size as the messenger tells (Size -1 when unknown).
	Mime string
	Size int64
}

// Identifier is a connector that can tell which bot a connection's
// credentials belong to, so the gateway binds each bot to at most one
// connection (a new binding wins; the old line goes into emergency).
type Identifier interface {
	// BotKey returns a stable key of the bot, e.g. "telegram:123456789" or
	// "slack:T123:A456". It may call the messenger.
	BotKey(ctx context.Context, c Conn) (string, error)
}

// Embedder is a connector that site owners put into their own web pages
// (the web chat widget) rather than one a messenger calls.
type Embedder interface {
	// Snippet returns the HTML an admin pastes into the site's pages, for a
	// gateway that browsers reach at publicURL.
	Snippet(c Conn, publicURL string) string
}

// PageServer is a connector that serves browser pages, their scripts and
// their endpoints for its connections itself (a web chat that is not the
// gateway's own widget, like the XMPP web chat). The gateway routes GET and
// POST /pages/{hash}/{rest...} of an active connection of the connector to
// ServePage with the connection's view; rest is the remainder of the path.
// The connector checks the calling page's origin itself (OriginAllowed)
// and sets its own security headers.
type PageServer interface {
	ServePage(w http.ResponseWriter, r *http.Request, c Conn, rest string)
}

// Conversations is a connector whose chats have a lifecycle of their own
// (the XMPP room pool: a room per conversation, handed out and returned).
// Opening and closing report conversation.opened and conversation.closed
// events through the connection's sink.
//
// Both methods may fail with an error wrapping ErrUnsupported (this
// connection has no lifecycle: its settings turned it off; the error's
// text says which), ErrElsewhere (this process does not hold the stream
// the call needs), ErrNotConnected (this process holds it, but it is not
// up), or a *RateLimitedError (try again after RetryAfter).
type Conversations interface {
	// OpenConversation starts a conversation and returns its chat id.
	OpenConversation(ctx context.Context, c Conn) (string, error)
	// CloseConversation ends the conversation of chat; a chat with no open
	// conversation is a PermanentError.
	CloseConversation(ctx context.Context, c Conn, chat string) error
}

// ErrElsewhere is returned (wrapped) by a call that only the gateway process
// holding the connection's stream can serve, in a process that does not
// hold it (yet): the caller should try again, soon, possibly on another
// replica.
var ErrElsewhere = errors.New("connectors: the connection is served by another gateway process")

// ErrNotConnected is returned (wrapped) by a call that needs the
// connection's stream, in the process that holds it, while the stream (or
// what it serves, like the XMPP room pool) is not up: the messenger's
// server is unreachable, or refuses what the call needs. Retrying later
// may help; the error's text says what is wrong in plain words.
var ErrNotConnected = errors.New("connectors: the connection's stream is not up in the process that holds it")
