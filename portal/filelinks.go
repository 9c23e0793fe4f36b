package portal

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/connector-gateway/connector/connectors"
)

// FileLinksConfig is the gateway's files.* config keys.
type FileLinksConfig struct {
	// LinkTTL is how long a file link in an event stays valid. Default 72h.
	LinkTTL time.Duration `mapstructure:"link_ttl"`
}

// DefaultFileLinksConfig is the files.* configuration used when nothing
// is set.
func DefaultFileLinksConfig() FileLinksConfig { return FileLinksConfig{LinkTTL: 72 * time.Hour} }

// Validate names the first bad field by its config key.
func (c FileLinksConfig) Validate() error {
	if c.LinkTTL <= 0 {
		return errors.New("link_ttl: must be positive")
	}
	return nil
}

// FileLinks signs and checks the gateway's file URLs:
// <public_url>/files/<payload>.<mac>, where payload names the connection, the
// connector's file reference and an expiry, and mac is an HMAC-SHA256 with a
// key derived from the secrets key.
type FileLinks struct {
	key  []byte
	base string
	ttl  time.Duration
	now  func() time.Time
}

type linkPayload struct {
	Conn string `json:"c"`
	Ref  string `json:"r"`
	Name string `json:"n,omitempty"`
	Mime string `json:"m,omitempty"`
	Exp  int64  `json:"e"`
}

// NewFileLinks derives the link key from the secrets key (so links survive
// restarts and work on every replica). publicURL "" disables links.
// ttl is FileLinksConfig.LinkTTL.
func NewFileLinks(secretsKey, publicURL string, cfg FileLinksConfig) (*FileLinks, error) {
	ttl := cfg.LinkTTL
	raw, err := decodeKey(secretsKey)
	if err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, raw)
	m.Write([]byte("connector-gateway file links v1"))
	return &FileLinks{key: m.Sum(nil), base: strings.TrimRight(publicURL, "/"), ttl: ttl, now: time.Now}, nil
}

// For returns the linker a connector uses for one connection (nil when the
// gateway has no public URL).
func (f *FileLinks) For(connectionID string) connectors.FileLinker {
	if f == nil || f.base == "" {
		return nil
	}
	return connLinker{f: f, conn: connectionID}
}

type connLinker struct {
	f    *FileLinks
	conn string
}

func (l connLinker) FileURL(ref, name, mime string) string {
	return l.f.base + "/files/" + l.f.Token(l.conn, ref, name, mime)
}

// Token signs a file reference of a connection.
func (f *FileLinks) Token(conn, ref, name, mime string) string {
	p, _ := json.Marshal(linkPayload{Conn: conn, Ref: ref, Name: name, Mime: mime, Exp: f.now().Add(f.ttl).Unix()})
	enc := base64.RawURLEncoding.EncodeToString(p)
	return enc + "." + base64.RawURLEncoding.EncodeToString(f.mac(enc))
}

func (f *FileLinks) mac(s string) []byte {
	m := hmac.New(sha256.New, f.key)
	m.Write([]byte(s))
	return m.Sum(nil)
}

// Errors of Open.
var (
	ErrLinkInvalid = errors.New("portal: file link is not valid")
	ErrLinkExpired = errors.New("portal: file link has expired")
)

// FileRef is what a checked link names.
type FileRef struct {
	ConnectionID, Ref, Name, Mime string
}

// Open checks a token and returns what it names.
func (f *FileLinks) Open(token string) (FileRef, error) {
	if t, err := url.PathUnescape(token); err == nil {
		token = t
	}
	enc, sig, ok := strings.Cut(token, ".")
	if !ok {
		return FileRef{}, ErrLinkInvalid
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, f.mac(enc)) {
		return FileRef{}, ErrLinkInvalid
	}
	raw, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		return FileRef{}, ErrLinkInvalid
	}
	var p linkPayload
	if err := json.Unmarshal(raw, &p); err != nil {
		return FileRef{}, fmt.Errorf("%w: %v", ErrLinkInvalid, err)
	}
	if f.now().Unix() > p.Exp {
		return FileRef{}, ErrLinkExpired
	}
	return FileRef{ConnectionID: p.Conn, Ref: p.Ref, Name: p.Name, Mime: p.Mime}, nil
}
