// Package xmpp is the XMPP channel: the gateway logs in to an XMPP server
// as a client account and bridges the chats people start with that account
// into a portal line. It receives over a long-lived stream (Poller, run by
// the gateway's poll supervisor), catches up through the server's message
// archive (XEP-0313) after any gap, and sends replies, corrections,
// retractions and typing notifications.
//
// It imports only the connectors package of this module (and its own
// internal packages).
package xmpp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"reflect"
	"strings"
	"sync"
	"time"

	"mellium.im/sasl"
	"mellium.im/xmpp"
	"mellium.im/xmpp/component"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/xmpp/internal/deadline"
)

// Type is the connector type.
const Type = "xmpp"

// Options configure the connector.
type Options struct {
	// DialTimeout bounds connecting and logging in to an XMPP server.
	// Default 15s.
	DialTimeout time.Duration `mapstructure:"dial_timeout"`
	// PageSize is how many archived messages one catch-up query
	// (XEP-0313) asks for. Default 100.
	PageSize int `mapstructure:"page_size"`

	// Logger; default discards.
	Logger *slog.Logger `mapstructure:"-"`
}

// DefaultOptions are the xmpp.* config keys' defaults.
func DefaultOptions() Options { return Options{DialTimeout: 15 * time.Second, PageSize: 100} }

// Validate checks the configured fields and names the first bad one by its
// config key.
func (o Options) Validate() error {
	if o.DialTimeout < time.Second {
		return fmt.Errorf("dial_timeout: must be at least 1s, got %s", o.DialTimeout)
	}
	if o.PageSize < 1 || o.PageSize > 1000 {
		return fmt.Errorf("page_size: want 1..1000, got %d", o.PageSize)
	}
	return nil
}

func (o *Options) setDefaults() {
	if o.DialTimeout <= 0 {
		o.DialTimeout = 15 * time.Second
	}
	if o.PageSize <= 0 {
		o.PageSize = 100
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
}

// Connector is the XMPP channel. One value serves every xmpp connection;
// it keeps the live stream of each connection it polls, so Send goes out
// on it. Safe for concurrent use.
type Connector struct {
	opts Options
	log  *slog.Logger

	mu    sync.Mutex
	live  map[string]*xmpp.Session // connection id → the poller's session
	pools map[string]poolOwner     // connection id → its pool's owner, while it serves
	// streams holds the connections Poll runs for in this process, each
	// with why its pool does not serve (while it does not).
	streams map[string]string
	closed  bool
	// refillFault, when set (tests), fails the pool's refills with its error.
	refillFault func() error
	// polls counts running Poll calls so Close can wait for them.
	polls sync.WaitGroup
	stop  chan struct{}
}

// New returns the connector.
func New(o Options) *Connector {
	o.setDefaults()
	return &Connector{opts: o, log: o.Logger, live: map[string]*xmpp.Session{}, pools: map[string]poolOwner{},
		streams: map[string]string{}, stop: make(chan struct{})}
}

var (
	_ connectors.Connector  = (*Connector)(nil)
	_ connectors.Poller     = (*Connector)(nil)
	_ connectors.Editor     = (*Connector)(nil)
	_ connectors.Deleter    = (*Connector)(nil)
	_ connectors.Typer      = (*Connector)(nil)
	_ connectors.Identifier = (*Connector)(nil)
	_ io.Closer             = (*Connector)(nil)
)

// Describe implements connectors.Connector.
func (cn *Connector) Describe() connectors.Description {
	return connectors.Description{Type: Type, Title: "XMPP (Jabber)", Fields: []connectors.Field{
		{Key: SettingMode, Label: "Connect as", Type: "select", Options: []string{ModeClient, ModeComponent}, Default: ModeClient,
			Help: "client: log in as an account (its archive makes sure nothing is lost while the gateway is away). component: connect as an external component (XEP-0114); the server keeps no archive for it."},
		{Key: SettingJID, Label: "Account (JID)", Type: "text", Help: "Client mode: the gateway's own XMPP account, like support@example.org. People write to this address."},
		{Key: SettingPassword, Label: "Password", Type: "secret", Help: "Client mode: the account's password."},
		{Key: SettingComponentJID, Label: "Component address", Type: "text", Help: "Component mode: like support.example.org. People write to this address."},
		{Key: SettingSecret, Label: "Component secret", Type: "secret", Help: "Component mode: the component_secret from the server's config."},
		{Key: SettingServer, Label: "Server", Type: "text", Help: "host:port of the server's client port (empty: the JID's domain on 5222; TLS is required unless the server is on this machine), or of its component port in component mode."},
		{Key: SettingNick, Label: "Nickname in rooms", Type: "text", Default: "support"},
		{Key: SettingMUCService, Label: "Group chat service", Type: "text", Help: "Like conference.example.org. The connection test names the server's when this is empty; put it in here (the room pool needs it)."},
		{Key: SettingRoomPool, Label: "Room pool size", Type: "text", Default: "0", Help: "Rooms kept ready on the group chat service, one per new conversation (0: no pool)."},
		{Key: SettingRoomIdle, Label: "Close idle conversations after", Type: "text", Help: "Like 30m: a pool conversation is closed when the visitor wrote nothing for this long (your replies do not count); empty: never."},
		{Key: SettingWebchatWS, Label: "Web chat: WebSocket URL", Type: "text",
			Help: "Turns on the web chat (Converse.js for a site's visitors, no account needed): the server's WebSocket endpoint as browsers reach it, like wss://xmpp.example.org/xmpp-websocket. Needs a room pool."},
		{Key: SettingWebchatDomain, Label: "Web chat: anonymous domain", Type: "text",
			Help: "The server's VirtualHost with anonymous login, like anon.example.org (Prosody: authentication = \"anonymous\")."},
		{Key: SettingWebchatOrigins, Label: "Web chat: allowed sites", Type: "text",
			Help: "The sites whose pages may show the chat, like https://www.example.com https://*.example.org."},
		{Key: SettingWebchatTitle, Label: "Web chat: title", Type: "text", Default: "Chat with us",
			Help: "The name of the pool's rooms: what visitors see at the top of the chat."},
	}}
}

// ValidateSettings implements connectors.Connector.
func (cn *Connector) ValidateSettings(in connectors.Settings) (connectors.Settings, error) {
	s, fe := parseSettings(in)
	if fe != nil {
		return nil, fe
	}
	return s.normalized(), nil
}

// Activate implements connectors.Connector: an XMPP account is read over
// its own stream, never by webhook.
func (cn *Connector) Activate(ctx context.Context, c connectors.Conn) error {
	if _, fe := parseSettings(c.Settings); fe != nil {
		return fmt.Errorf("xmpp: activate: %w", fe)
	}
	return connectors.ErrNeedsPolling
}

// Deactivate implements connectors.Connector; there is nothing to remove
// at the server (the poller stops when the supervisor cancels it).
func (cn *Connector) Deactivate(ctx context.Context, c connectors.Conn) error { return nil }

// BotKey implements connectors.Identifier: the account's bare JID.
func (cn *Connector) BotKey(ctx context.Context, c connectors.Conn) (string, error) {
	s, fe := parseSettings(c.Settings)
	if fe != nil {
		return "", fmt.Errorf("xmpp: %w", fe)
	}
	return "xmpp:" + s.JID.String(), nil
}

// Close ends every live stream and waits for running Poll calls to
// return. The gateway calls it at shutdown; Poll and Send fail afterwards.
func (cn *Connector) Close() error {
	cn.mu.Lock()
	if cn.closed {
		cn.mu.Unlock()
		return nil
	}
	cn.closed = true
	close(cn.stop)
	sessions := make([]*xmpp.Session, 0, len(cn.live))
	for _, s := range cn.live {
		sessions = append(sessions, s)
	}
	cn.mu.Unlock()
	var errs []error
	for _, s := range sessions {
		if err := s.Conn().Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	cn.polls.Wait()
	return errors.Join(errs...)
}

func (cn *Connector) setLive(id string, s *xmpp.Session) {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if s == nil {
		delete(cn.live, id)
		return
	}
	cn.live[id] = s
}

func (cn *Connector) liveSession(id string) *xmpp.Session {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	return cn.live[id]
}

// errAuth marks a login the server refused: retrying with the same
// password will not help.
var errAuth = errors.New("the server refused the account's password")

// dial connects, secures (unless loopback), authenticates with SASL SCRAM
// and binds a resource.
func (cn *Connector) dial(ctx context.Context, s settings) (*xmpp.Session, error) {
	ctx, cancel := context.WithTimeout(ctx, cn.opts.DialTimeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.Server)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", s.Server, err)
	}
	if s.Mode == ModeComponent {
		// XEP-0114 has no TLS of its own: the component port belongs on
		// loopback or a private network, as the servers' own docs say.
		sess, err := deadline.Login(ctx, conn, func(ctx context.Context, c net.Conn) (*xmpp.Session, error) {
			return component.NewSession(ctx, s.JID, []byte(s.Password), c)
		})
		if err != nil {
			conn.Close()
			if strings.Contains(err.Error(), "not-authorized") {
				return nil, fmt.Errorf("%w (%s)", errAuth, err.Error())
			}
			return nil, fmt.Errorf("connect component %s: %w", s.JID, err)
		}
		return sess, nil
	}
	mechs := []sasl.Mechanism{sasl.ScramSha256, sasl.ScramSha1}
	var features []xmpp.StreamFeature
	if !s.loopback() {
		host, _, _ := net.SplitHostPort(s.Server)
		name := s.JID.Domainpart()
		if net.ParseIP(host) == nil {
			name = host
		}
		features = append(features, xmpp.StartTLS(&tls.Config{ServerName: name, MinVersion: tls.VersionTLS12}))
		mechs = []sasl.Mechanism{sasl.ScramSha256Plus, sasl.ScramSha1Plus, sasl.ScramSha256, sasl.ScramSha1}
	}
	features = append(features, xmpp.SASL("", s.Password, mechs...), xmpp.BindResource())
	// mellium negotiates SASL only on a stream it considers secure; on
	// loopback there is no one in between to secure it against.
	var state xmpp.SessionState
	if s.loopback() {
		state = xmpp.Secure
	}
	sess, err := deadline.Login(ctx, conn, func(ctx context.Context, c net.Conn) (*xmpp.Session, error) {
		return xmpp.NewSession(ctx, s.JID.Domain(), s.JID, c, state, xmpp.NewNegotiator(func(*xmpp.Session, *xmpp.StreamConfig) xmpp.StreamConfig {
			return xmpp.StreamConfig{Features: features}
		}))
	})
	if err != nil {
		conn.Close()
		if saslRefused(err) {
			return nil, fmt.Errorf("%w (%s)", errAuth, err.Error())
		}
		return nil, fmt.Errorf("log in as %s: %w", s.JID, err)
	}
	return sess, nil
}

// session returns the poller's live session for c, or dials a short-lived
// one (closed by the returned func) when this process does not poll c.
// A stanza to a room (typ groupchat) goes out only on the live session
// once the pool has joined its rooms: a room takes messages from its
// occupants only, and a short-lived session is none, so it would be
// refused (in an error stanza no one reads). Without it the send fails
// transiently and the sender retries, as component mode does.
func (cn *Connector) session(ctx context.Context, c connectors.Conn, typ stanza.MessageType) (*xmpp.Session, func(), error) {
	cn.mu.Lock()
	closed := cn.closed
	_, joined := cn.pools[c.ID]
	cn.mu.Unlock()
	if closed {
		return nil, nil, errors.New("xmpp: connector closed")
	}
	st, fe := parseSettings(c.Settings)
	if fe != nil {
		return nil, nil, &connectors.PermanentError{Err: fmt.Errorf("xmpp: %w", fe)}
	}
	room := typ == stanza.GroupChatMessage
	if room && st.Pool == 0 {
		return nil, nil, &connectors.PermanentError{Err: errors.New("xmpp: the chat is a room on muc_service, and the gateway joins only the rooms of its pool, which this connection does not have (room_pool is 0)")}
	}
	if s := cn.liveSession(c.ID); s != nil && (!room || joined) {
		return s, func() {}, nil
	}
	switch {
	case room:
		return nil, nil, errors.New("xmpp: replies to rooms go out on the stream that joined them, which is not up in this process (yet)")
	case st.Mode == ModeComponent:
		// A server lets one stream serve a component at a time; sends wait
		// for the poller's (the sender retries).
		return nil, nil, errors.New("xmpp: the component's stream is not connected in this process yet")
	}
	s, err := cn.dial(ctx, st)
	if err != nil {
		if errors.Is(err, errAuth) {
			return nil, nil, &connectors.PermanentError{Err: fmt.Errorf("xmpp: %w", err)}
		}
		return nil, nil, fmt.Errorf("xmpp: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = s.Serve(nil); close(done) }()
	return s, func() {
		_ = s.Close()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
		}
		_ = s.Conn().Close()
	}, nil
}

// chatJID parses a portal's chat id (a bare JID) and tells whether it is a
// room (on the connection's group chat service).
func chatJID(c connectors.Conn, chatID string) (jid.JID, stanza.MessageType, error) {
	j, err := jid.Parse(chatID)
	if err != nil || chatID == "" {
		return jid.JID{}, "", &connectors.PermanentError{Err: fmt.Errorf("xmpp: chat id %q is not a JID", chatID)}
	}
	if muc := c.Settings[SettingMUCService]; muc != "" && j.Domainpart() == muc {
		return j.Bare(), stanza.GroupChatMessage, nil
	}
	return j.Bare(), stanza.ChatMessage, nil
}

// saslRefused reports whether err is the server's SASL <failure/> saying
// the credentials are wrong, disabled or expired. mellium returns that
// failure as a value of an internal type (saslerr.Failure) whose text is
// the server's free-form message, so its Condition field is read by
// reflection rather than guessing from the text.
func saslRefused(err error) bool {
	for e := err; e != nil; e = errors.Unwrap(e) {
		v := reflect.ValueOf(e)
		if v.Kind() == reflect.Pointer {
			v = v.Elem()
		}
		if v.Kind() != reflect.Struct || !strings.HasSuffix(v.Type().PkgPath(), "/saslerr") {
			continue
		}
		f := v.FieldByName("Condition")
		if !f.IsValid() {
			return false
		}
		switch fmt.Sprint(f.Interface()) {
		case "not-authorized", "account-disabled", "credentials-expired", "invalid-authzid":
			return true
		}
		return false
	}
	return false
}

// fault is the refill fault tests set (nil: none).
func (cn *Connector) fault() func() error {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	return cn.refillFault
}
