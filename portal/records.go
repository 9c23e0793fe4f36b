// Package portal holds the gateway's records (portals, lines, connections),
// their encryption at rest, Standard Webhooks signing, the dispatcher that
// pushes signed batches to portals, and the sender that carries portals'
// replies out to messengers.
package portal

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/queue"
	"github.com/connector-gateway/connector/queue/sqldb"
)

// Portal is a helpdesk site the gateway delivers to.
type Portal struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	WebhookURL string    `json:"webhook_url"`
	Secrets    []string  `json:"-"`
	Status     string    `json:"status"`
	CreatedAt  time.Time `json:"created_at"`
	// Kind is how batches reach the portal: KindNative (signed batches,
	// the default) or a helpdesk adapter's kind (adapter.go).
	Kind string `json:"kind"`
	// Adapter holds the adapter's settings (URLs, tokens), sealed at rest.
	Adapter map[string]string `json:"-"`
}

// Line statuses.
const (
	LineOK        = "ok"
	LineEmergency = "emergency"
)

// Line is a portal's inbound queue of conversations (an "open line").
type Line struct {
	ID           string    `json:"id"`
	PortalID     string    `json:"portal_id"`
	Name         string    `json:"name"`
	Active       bool      `json:"active"`
	Status       string    `json:"status"`
	StatusDetail string    `json:"status_detail,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
}

// Connection statuses.
const (
	ConnNew       = "new"
	ConnOK        = "ok"
	ConnError     = "error"
	ConnEmergency = "emergency"
)

// Connection is one channel bound to one line.
type Connection struct {
	ID        string              `json:"id"`
	PortalID  string              `json:"portal_id"`
	LineID    string              `json:"line_id"`
	Connector string              `json:"connector"`
	Hash      string              `json:"-"`
	Settings  connectors.Settings `json:"-"`
	Active    bool                `json:"active"`
	Status    string              `json:"status"`
	LastError string              `json:"last_error,omitempty"`
	CreatedAt time.Time           `json:"created_at"`
	UpdatedAt time.Time           `json:"updated_at"`
}

// ErrNotFound is returned for a record that does not exist.
var ErrNotFound = errors.New("portal: not found")

// ErrNoWebhookURL: a portal created for an adapter has no webhook URL, so
// it cannot be switched to native (signed batches need somewhere to go).
var ErrNoWebhookURL = errors.New("portal: the portal has no webhook URL for signed batches; create a native portal instead")

// Records stores portals, lines and connections. Secrets (signing secrets,
// connector settings) are sealed before they reach the database.
type Records struct {
	db     *sqldb.DB
	polls  *queue.Polls
	inbox  *Inbox
	sealer *Sealer
	now    func() time.Time
}

// NewRecords returns the record store. Connection events it makes itself
// (connection.emergency, connection.error) go into outbox in the same
// transaction as the change that causes them, and polling of a connection
// that loses its bot or stops is switched off in polls, also in that
// transaction.
func NewRecords(db *sqldb.DB, sealer *Sealer, outbox *queue.Outbox, polls *queue.Polls) *Records {
	return &Records{db: db, polls: polls, inbox: NewInbox(outbox), sealer: sealer, now: time.Now}
}

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewID returns a random id with a type prefix ("prt", "lin", "con"...).
func NewID(prefix string) string {
	b := make([]byte, 10)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return prefix + "_" + strings.ToLower(idEncoding.EncodeToString(b))
}

func newHash() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// ValidateWebhookURL accepts absolute http(s) URLs.
func ValidateWebhookURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("webhook URL must be an absolute http(s) URL, got %q", s)
	}
	return nil
}

// CreatePortal stores a new portal with one fresh signing secret, which it
// returns: this is the only time the secret is shown.
func (r *Records) CreatePortal(ctx context.Context, name, webhookURL string) (Portal, string, error) {
	return r.CreatePortalOfKind(ctx, name, webhookURL, KindNative)
}

// CreatePortalOfKind creates a portal that will be fed by kind. A native
// portal needs its webhook URL; a portal of an adapter kind may have none
// (it never gets batches posted) until it is switched to native. The
// adapter's settings come with SetPortalKind.
func (r *Records) CreatePortalOfKind(ctx context.Context, name, webhookURL, kind string) (Portal, string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return Portal{}, "", errors.New("portal: name is required")
	}
	if !ValidKind(kind) {
		return Portal{}, "", fmt.Errorf("portal: unknown portal kind %q", kind)
	}
	if kind == KindNative || webhookURL != "" {
		if err := ValidateWebhookURL(webhookURL); err != nil {
			return Portal{}, "", fmt.Errorf("portal: %w", err)
		}
	}
	p := Portal{ID: NewID("prt"), Name: name, WebhookURL: webhookURL, Status: "active", CreatedAt: r.now().UTC().Truncate(time.Millisecond), Kind: kind}
	secret := NewSecret()
	p.Secrets = []string{secret}
	sealed, err := r.sealSecrets(p.ID, p.Secrets)
	if err != nil {
		return Portal{}, "", err
	}
	_, err = r.db.SQL.ExecContext(ctx, "INSERT INTO portals (id, name, webhook_url, secrets, status, created_at, kind) VALUES (?,?,?,?,?,?,?)",
		p.ID, p.Name, p.WebhookURL, sealed, p.Status, p.CreatedAt.UnixMilli(), p.Kind)
	if err != nil {
		return Portal{}, "", fmt.Errorf("portal: create portal: %w", err)
	}
	return p, secret, nil
}

func (r *Records) sealSecrets(id string, secrets []string) ([]byte, error) {
	raw, err := json.Marshal(secrets)
	if err != nil {
		return nil, err
	}
	return r.sealer.Seal(raw, []byte("portal:"+id)), nil
}

func (r *Records) openSecrets(id string, sealed []byte) ([]string, error) {
	raw, err := r.sealer.Open(sealed, []byte("portal:"+id))
	if err != nil {
		return nil, err
	}
	var s []string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("portal: secrets of %s: %w", id, err)
	}
	return s, nil
}

const portalCols = "id, name, webhook_url, secrets, status, created_at, kind, adapter_settings"

// Every UPDATE of portals sets version = version + 1 in the same
// statement: the dispatcher trusts its copy of a portal while the version
// it reads with each batch is unchanged (BatchPortals; a test checks the
// statements of this file).

func (r *Records) scanPortal(row interface{ Scan(...any) error }) (Portal, error) {
	var p Portal
	var sealed, adapter []byte
	var created int64
	if err := row.Scan(&p.ID, &p.Name, &p.WebhookURL, &sealed, &p.Status, &created, &p.Kind, &adapter); err != nil {
		return p, err
	}
	if err := r.openAdapter(&p, adapter); err != nil {
		return p, err
	}
	p.CreatedAt = time.UnixMilli(created).UTC()
	s, err := r.openSecrets(p.ID, sealed)
	if err != nil {
		return p, err
	}
	p.Secrets = s
	return p, nil
}

// GetPortal returns a portal with its secrets.
func (r *Records) GetPortal(ctx context.Context, id string) (Portal, error) {
	p, err := r.scanPortal(r.db.SQL.QueryRowContext(ctx, "SELECT "+portalCols+" FROM portals WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return p, ErrNotFound
	}
	if err != nil {
		return p, fmt.Errorf("portal: get portal: %w", err)
	}
	return p, nil
}

// getPortalSealed returns a portal with its secrets still sealed (Secrets
// empty) and its row version, for a caller that opens them only when the
// row changed (BatchPortals).
func (r *Records) getPortalSealed(ctx context.Context, id string) (Portal, []byte, int64, error) {
	var (
		p       Portal
		sealed  []byte
		created int64
		adapter []byte
		version int64
	)
	err := r.db.SQL.QueryRowContext(ctx, "SELECT "+portalCols+", version FROM portals WHERE id = ?", id).
		Scan(&p.ID, &p.Name, &p.WebhookURL, &sealed, &p.Status, &created, &p.Kind, &adapter, &version)
	if errors.Is(err, sql.ErrNoRows) {
		return p, nil, 0, ErrNotFound
	}
	if err != nil {
		return p, nil, 0, fmt.Errorf("portal: get portal: %w", err)
	}
	p.CreatedAt = time.UnixMilli(created).UTC()
	if err := r.openAdapter(&p, adapter); err != nil {
		return p, nil, 0, err
	}
	return p, sealed, version, nil
}

// openAdapter opens a portal's sealed adapter settings into p.Adapter.
func (r *Records) openAdapter(p *Portal, sealed []byte) error {
	if len(sealed) == 0 {
		return nil
	}
	raw, err := r.sealer.Open(sealed, []byte("portal-adapter:"+p.ID))
	if err != nil {
		return fmt.Errorf("portal: adapter settings of %s: %w", p.ID, err)
	}
	return json.Unmarshal(raw, &p.Adapter)
}

// SetPortalKind switches how a portal's batches are delivered and stores
// the adapter's settings sealed (nil for KindNative).
func (r *Records) SetPortalKind(ctx context.Context, id, kind string, settings map[string]string) error {
	if !ValidKind(kind) {
		return fmt.Errorf("portal: unknown portal kind %q", kind)
	}
	if kind == KindNative {
		var url string
		err := r.db.SQL.QueryRowContext(ctx, "SELECT webhook_url FROM portals WHERE id = ?", id).Scan(&url)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("portal: set kind: %w", err)
		}
		if url == "" {
			return ErrNoWebhookURL
		}
	}
	sealed, err := r.sealAdapter(id, settings)
	if err != nil {
		return err
	}
	res, err := r.db.SQL.ExecContext(ctx, "UPDATE portals SET kind = ?, adapter_settings = ?, version = version + 1 WHERE id = ?", kind, sealed, id)
	if err != nil {
		return fmt.Errorf("portal: set kind: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// sealAdapter seals a portal's adapter settings for storage (nil when
// there are none).
func (r *Records) sealAdapter(id string, settings map[string]string) ([]byte, error) {
	if len(settings) == 0 {
		return nil, nil
	}
	raw, err := json.Marshal(settings)
	if err != nil {
		return nil, err
	}
	return r.sealer.Seal(raw, []byte("portal-adapter:"+id)), nil
}

// ErrPortalChanged: the portal's kind changed between the read a change
// was built on and its save (another admin, another replica).
var ErrPortalChanged = errors.New("portal: the portal's kind was changed meanwhile")

// UpdatePortalAdapter changes a portal's kind and adapter settings as a
// compare-and-swap on the row's version: change gets the portal as stored
// now (Secrets not opened) and returns the kind and settings to store;
// when another writer changed the row in between, change is called again
// with the new row. An error from change stores nothing and is returned
// as is. change must not keep its argument's Adapter map.
func (r *Records) UpdatePortalAdapter(ctx context.Context, id string, change func(cur Portal) (string, map[string]string, error)) error {
	for attempt := 0; ; attempt++ {
		cur, _, version, err := r.getPortalSealed(ctx, id)
		if err != nil {
			return err
		}
		kind, settings, err := change(cur)
		if err != nil {
			return err
		}
		if !ValidKind(kind) {
			return fmt.Errorf("portal: unknown portal kind %q", kind)
		}
		if kind == KindNative && cur.WebhookURL == "" {
			return ErrNoWebhookURL
		}
		sealed, err := r.sealAdapter(id, settings)
		if err != nil {
			return err
		}
		res, err := r.db.SQL.ExecContext(ctx, "UPDATE portals SET kind = ?, adapter_settings = ?, version = version + 1 WHERE id = ? AND version = ?", kind, sealed, id, version)
		if err != nil {
			return fmt.Errorf("portal: update adapter settings: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return nil
		}
		if attempt == 20 {
			return fmt.Errorf("portal: update adapter settings of %s: the row keeps changing; try again", id)
		}
	}
}

// ChangePortalKind stores the change an admin made to a portal's kind
// and adapter settings: from is the portal as read when the change was
// built (its Kind and Adapter), settings what is to be stored. A key
// settings leaves as it was in from is taken from the row as it is now,
// so what changed meanwhile (an access token an adapter renewed while a
// live test ran, and the refresh token that renewal spent) is not put
// back; every key the change set, removed or renewed is stored as given.
// If the portal's kind changed meanwhile, nothing is stored and the error
// is ErrPortalChanged.
func (r *Records) ChangePortalKind(ctx context.Context, from Portal, kind string, settings map[string]string) error {
	var base map[string]string
	if from.Kind == kind {
		base = from.Adapter
	}
	return r.UpdatePortalAdapter(ctx, from.ID, func(cur Portal) (string, map[string]string, error) {
		if cur.Kind != from.Kind {
			return "", nil, ErrPortalChanged
		}
		var now map[string]string
		if cur.Kind == kind {
			now = cur.Adapter
		}
		out := make(map[string]string, len(settings))
		for k, v := range settings {
			out[k] = v
		}
		for k := range keysOf(base, settings, now) {
			bv, inBase := base[k]
			sv, inSet := settings[k]
			if inBase != inSet || bv != sv {
				continue // the change's own
			}
			if nv, ok := now[k]; ok {
				out[k] = nv
			} else {
				delete(out, k)
			}
		}
		return kind, out, nil
	})
}

func keysOf(maps ...map[string]string) map[string]bool {
	out := map[string]bool{}
	for _, m := range maps {
		for k := range m {
			out[k] = true
		}
	}
	return out
}

// ListPortals returns every portal, oldest first.
func (r *Records) ListPortals(ctx context.Context) ([]Portal, error) {
	rows, err := r.db.SQL.QueryContext(ctx, "SELECT "+portalCols+" FROM portals ORDER BY created_at, id")
	if err != nil {
		return nil, fmt.Errorf("portal: list portals: %w", err)
	}
	defer rows.Close()
	var out []Portal
	for rows.Next() {
		p, err := r.scanPortal(rows)
		if err != nil {
			return nil, fmt.Errorf("portal: list portals: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// AddSecret adds a fresh signing secret to a portal (rotation: the gateway
// signs with all of them until the old one is removed) and returns it.
func (r *Records) AddSecret(ctx context.Context, portalID string) (string, error) {
	p, err := r.GetPortal(ctx, portalID)
	if err != nil {
		return "", err
	}
	secret := NewSecret()
	return secret, r.setSecrets(ctx, p.ID, append(p.Secrets, secret))
}

// KeepOnlySecret removes every signing secret of a portal but the one given
// (the end of a rotation).
func (r *Records) KeepOnlySecret(ctx context.Context, portalID, keep string) error {
	p, err := r.GetPortal(ctx, portalID)
	if err != nil {
		return err
	}
	for _, s := range p.Secrets {
		if s == keep {
			return r.setSecrets(ctx, p.ID, []string{keep})
		}
	}
	return errors.New("portal: that secret is not one of the portal's")
}

func (r *Records) setSecrets(ctx context.Context, id string, secrets []string) error {
	sealed, err := r.sealSecrets(id, secrets)
	if err != nil {
		return err
	}
	if _, err := r.db.SQL.ExecContext(ctx, "UPDATE portals SET secrets = ?, version = version + 1 WHERE id = ?", sealed, id); err != nil {
		return fmt.Errorf("portal: set secrets: %w", err)
	}
	return nil
}

// CreateLine adds a line to a portal.
func (r *Records) CreateLine(ctx context.Context, portalID, name string) (Line, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return Line{}, errors.New("portal: line name is required")
	}
	if _, err := r.GetPortal(ctx, portalID); err != nil {
		return Line{}, err
	}
	l := Line{ID: NewID("lin"), PortalID: portalID, Name: name, Active: true, Status: LineOK, CreatedAt: r.now().UTC().Truncate(time.Millisecond)}
	_, err := r.db.SQL.ExecContext(ctx, "INSERT INTO portal_lines (id, portal_id, name, active, status, created_at) VALUES (?,?,?,?,?,?)",
		l.ID, l.PortalID, l.Name, 1, l.Status, l.CreatedAt.UnixMilli())
	if err != nil {
		return Line{}, fmt.Errorf("portal: create line: %w", err)
	}
	return l, nil
}

const lineCols = "id, portal_id, name, active, status, status_detail, created_at"

func scanLine(row interface{ Scan(...any) error }) (Line, error) {
	var l Line
	var active int
	var detail sql.NullString
	var created int64
	err := row.Scan(&l.ID, &l.PortalID, &l.Name, &active, &l.Status, &detail, &created)
	l.Active, l.StatusDetail, l.CreatedAt = active != 0, detail.String, time.UnixMilli(created).UTC()
	return l, err
}

// GetLine returns a line.
func (r *Records) GetLine(ctx context.Context, id string) (Line, error) {
	l, err := scanLine(r.db.SQL.QueryRowContext(ctx, "SELECT "+lineCols+" FROM portal_lines WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return l, ErrNotFound
	}
	if err != nil {
		return l, fmt.Errorf("portal: get line: %w", err)
	}
	return l, nil
}

// ListLines returns a portal's lines ("" for every portal's).
func (r *Records) ListLines(ctx context.Context, portalID string) ([]Line, error) {
	q, args := "SELECT "+lineCols+" FROM portal_lines ORDER BY created_at, id", []any{}
	if portalID != "" {
		q, args = "SELECT "+lineCols+" FROM portal_lines WHERE portal_id = ? ORDER BY created_at, id", []any{portalID}
	}
	rows, err := r.db.SQL.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("portal: list lines: %w", err)
	}
	defer rows.Close()
	var out []Line
	for rows.Next() {
		l, err := scanLine(rows)
		if err != nil {
			return nil, fmt.Errorf("portal: list lines: %w", err)
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// CreateConnection binds a connector to a line with already validated
// settings. The connection starts inactive.
func (r *Records) CreateConnection(ctx context.Context, lineID, connector string, settings connectors.Settings) (Connection, error) {
	l, err := r.GetLine(ctx, lineID)
	if err != nil {
		return Connection{}, err
	}
	now := r.now().UTC().Truncate(time.Millisecond)
	c := Connection{ID: NewID("con"), PortalID: l.PortalID, LineID: l.ID, Connector: connector, Hash: newHash(),
		Settings: settings, Status: ConnNew, CreatedAt: now, UpdatedAt: now}
	sealed, err := r.sealSettings(c.ID, settings)
	if err != nil {
		return Connection{}, err
	}
	_, err = r.db.SQL.ExecContext(ctx, `INSERT INTO connections (id, portal_id, line_id, connector, hash, settings, active, status, created_at, updated_at)
		VALUES (?,?,?,?,?,?,0,?,?,?)`, c.ID, c.PortalID, c.LineID, c.Connector, c.Hash, sealed, c.Status, now.UnixMilli(), now.UnixMilli())
	if err != nil {
		return Connection{}, fmt.Errorf("portal: create connection: %w", err)
	}
	return c, nil
}

func (r *Records) sealSettings(id string, s connectors.Settings) ([]byte, error) {
	raw, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	return r.sealer.Seal(raw, []byte("connection:"+id)), nil
}

const connCols = "id, portal_id, line_id, connector, hash, settings, active, status, last_error, created_at, updated_at"

func (r *Records) scanConn(row interface{ Scan(...any) error }) (Connection, error) {
	var c Connection
	var sealed []byte
	var active int
	var lastErr sql.NullString
	var created, updated int64
	if err := row.Scan(&c.ID, &c.PortalID, &c.LineID, &c.Connector, &c.Hash, &sealed, &active, &c.Status, &lastErr, &created, &updated); err != nil {
		return c, err
	}
	c.Active, c.LastError = active != 0, lastErr.String
	c.CreatedAt, c.UpdatedAt = time.UnixMilli(created).UTC(), time.UnixMilli(updated).UTC()
	raw, err := r.sealer.Open(sealed, []byte("connection:"+c.ID))
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(raw, &c.Settings); err != nil {
		return c, fmt.Errorf("portal: settings of %s: %w", c.ID, err)
	}
	return c, nil
}

func (r *Records) getConn(ctx context.Context, where string, arg any) (Connection, error) {
	c, err := r.scanConn(r.db.SQL.QueryRowContext(ctx, "SELECT "+connCols+" FROM connections WHERE "+where, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return c, ErrNotFound
	}
	if err != nil {
		return c, fmt.Errorf("portal: get connection: %w", err)
	}
	return c, nil
}

// GetConnection returns a connection with its decrypted settings.
func (r *Records) GetConnection(ctx context.Context, id string) (Connection, error) {
	return r.getConn(ctx, "id = ?", id)
}

// ConnectionByHash finds the connection behind an entry URL.
func (r *Records) ConnectionByHash(ctx context.Context, hash string) (Connection, error) {
	return r.getConn(ctx, "hash = ?", hash)
}

// ListConnections returns a line's connections ("" for all).
func (r *Records) ListConnections(ctx context.Context, lineID string) ([]Connection, error) {
	q, args := "SELECT "+connCols+" FROM connections ORDER BY created_at, id", []any{}
	if lineID != "" {
		q, args = "SELECT "+connCols+" FROM connections WHERE line_id = ? ORDER BY created_at, id", []any{lineID}
	}
	rows, err := r.db.SQL.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("portal: list connections: %w", err)
	}
	defer rows.Close()
	var out []Connection
	for rows.Next() {
		c, err := r.scanConn(rows)
		if err != nil {
			return nil, fmt.Errorf("portal: list connections: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// UpdateSettings replaces a connection's (validated) settings.
func (r *Records) UpdateSettings(ctx context.Context, id string, s connectors.Settings) error {
	sealed, err := r.sealSettings(id, s)
	if err != nil {
		return err
	}
	res, err := r.db.SQL.ExecContext(ctx, "UPDATE connections SET settings = ?, updated_at = ? WHERE id = ?", sealed, r.now().UnixMilli(), id)
	if err != nil {
		return fmt.Errorf("portal: update settings: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// SetState records whether a connection receives, its status and last error.
func (r *Records) SetState(ctx context.Context, id string, active bool, status, lastErr string) error {
	a := 0
	if active {
		a = 1
	}
	res, err := r.db.SQL.ExecContext(ctx, "UPDATE connections SET active = ?, status = ?, last_error = ?, updated_at = ? WHERE id = ?",
		a, status, nullable(lastErr), r.now().UnixMilli(), id)
	if err != nil {
		return fmt.Errorf("portal: set connection state: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// Codes of connection.* events the gateway makes itself.
const (
	// CodeBoundElsewhere: the bot was bound to another connection.
	CodeBoundElsewhere = "bound_elsewhere"
	// CodeStopped: the connection stopped receiving (token revoked...).
	CodeStopped = "receiving_stopped"
)

// Activate marks a connection active with status ok and binds the bot
// behind it (botKey, from connectors.Identifier; "" binds nothing), all in
// one transaction. A bot is bound to at most one connection, and the new
// binding wins: when another connection holds botKey, that connection's
// settings are removed, it is deactivated with status emergency, its line
// is marked emergency with a detail naming the line that took the bot, its
// polling (if any) is switched off, and a connection.emergency event is
// queued for its portal. Activate returns that connection as it was before
// (zero value when the bot was free). Activating a connection clears an
// emergency mark on its own line.
func (r *Records) Activate(ctx context.Context, id, botKey string) (Connection, error) {
	var lost Connection
	var lines []queue.LineRef
	var err error
	// Activations of one bot at once: the unique index lets one in and
	// refuses the others once it committed; they run again, now see it and
	// take the bot in turn. Each refusal means another activation finished,
	// so a few rounds settle any realistic number of concurrent ones.
	for attempt := 0; attempt < 10; attempt++ {
		lost, lines, err = r.activateTx(ctx, id, botKey)
		if err == nil || !r.db.Dialect.IsDuplicate(err) {
			break
		}
	}
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return Connection{}, err
		}
		return Connection{}, fmt.Errorf("portal: activate connection: %w", err)
	}
	r.inbox.Notify(lines)
	return lost, nil
}

func (r *Records) activateTx(ctx context.Context, id, botKey string) (Connection, []queue.LineRef, error) {
	var lost Connection
	var lines []queue.LineRef
	err := r.db.InTx(ctx, func(tx *sql.Tx) error {
		lost, lines = Connection{}, nil
		now := r.now().UTC()
		self, err := r.scanConn(tx.QueryRowContext(ctx, "SELECT "+connCols+" FROM connections WHERE id = ?"+r.db.Dialect.ForUpdate(), id))
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if botKey != "" {
			old, err := r.scanConn(tx.QueryRowContext(ctx, "SELECT "+connCols+" FROM connections WHERE bot_key = ? AND id <> ?"+r.db.Dialect.ForUpdate(), botKey, id))
			switch {
			case errors.Is(err, sql.ErrNoRows):
			case err != nil:
				return err
			default:
				lines, err = r.evict(ctx, tx, old, self, now)
				if err != nil {
					return err
				}
				lost = old
			}
		}
		if _, err := tx.ExecContext(ctx, "UPDATE connections SET bot_key = ?, active = 1, status = ?, last_error = NULL, updated_at = ? WHERE id = ?",
			nullable(botKey), ConnOK, now.UnixMilli(), id); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, "UPDATE portal_lines SET status = ?, status_detail = NULL WHERE id = ? AND status = ?", LineOK, self.LineID, LineEmergency)
		return err
	})
	return lost, lines, err
}

// evict takes the bot away from old because taker bound it, in tx.
func (r *Records) evict(ctx context.Context, tx *sql.Tx, old, taker Connection, now time.Time) ([]queue.LineRef, error) {
	takerLine := taker.LineID
	var name string
	if err := tx.QueryRowContext(ctx, "SELECT name FROM portal_lines WHERE id = ?", taker.LineID).Scan(&name); err == nil {
		takerLine = fmt.Sprintf("%q (%s)", name, taker.LineID)
	}
	detail := fmt.Sprintf("its bot was connected to line %s on %s; this line no longer receives its messages", takerLine, now.Format(time.RFC3339))
	empty, err := r.sealSettings(old.ID, connectors.Settings{})
	if err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, "UPDATE connections SET bot_key = NULL, settings = ?, active = 0, status = ?, last_error = ?, updated_at = ? WHERE id = ?",
		empty, ConnEmergency, "connection "+old.ID+": "+detail, now.UnixMilli(), old.ID); err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, "UPDATE portal_lines SET status = ?, status_detail = ? WHERE id = ?", LineEmergency, "connection "+old.ID+": "+detail, old.LineID); err != nil {
		return nil, err
	}
	if err := r.polls.DisableTx(ctx, tx, old.ID); err != nil {
		return nil, err
	}
	ev := connectors.Event{
		ID:         connectors.EventID("emergency:" + old.ID + ":" + NewID("evt")),
		Type:       connectors.TypeConnectionEmergency,
		OccurredAt: now.Truncate(time.Second),
		Connector:  old.Connector,
		Channel:    old.Connector,
		Connection: old.ID,
		Line:       old.LineID,
		Error:      &connectors.ErrorInfo{Code: CodeBoundElsewhere, Message: "this connection's bot was bound to another connection: " + detail},
	}
	return r.inbox.PutTx(ctx, tx, old.PortalID, old.LineID, ev)
}

// Deactivate marks a connection inactive (status new) and releases its
// bot, so binding the bot elsewhere later takes nothing from it.
func (r *Records) Deactivate(ctx context.Context, id string) error {
	res, err := r.db.SQL.ExecContext(ctx, "UPDATE connections SET active = 0, status = ?, last_error = NULL, bot_key = NULL, updated_at = ? WHERE id = ?",
		ConnNew, r.now().UnixMilli(), id)
	if err != nil {
		return fmt.Errorf("portal: deactivate connection: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// Stopped records that a connection stopped receiving for good (its
// poller found the token revoked): it becomes inactive with status error
// and reason as last error, and a connection.error event is queued for its
// portal, in one transaction.
func (r *Records) Stopped(ctx context.Context, id, reason string) error {
	var lines []queue.LineRef
	err := r.db.InTx(ctx, func(tx *sql.Tx) error {
		c, err := r.scanConn(tx.QueryRowContext(ctx, "SELECT "+connCols+" FROM connections WHERE id = ?", id))
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		now := r.now().UTC()
		if _, err := tx.ExecContext(ctx, "UPDATE connections SET active = 0, status = ?, last_error = ?, updated_at = ? WHERE id = ?",
			ConnError, reason, now.UnixMilli(), id); err != nil {
			return err
		}
		if err := r.polls.DisableTx(ctx, tx, id); err != nil {
			return err
		}
		ev := connectors.Event{
			ID: connectors.EventID("stopped:" + id + ":" + NewID("evt")), Type: connectors.TypeConnectionError,
			OccurredAt: now.Truncate(time.Second), Connector: c.Connector, Channel: c.Connector, Connection: id, Line: c.LineID,
			Error: &connectors.ErrorInfo{Code: CodeStopped, Message: reason},
		}
		lines, err = r.inbox.PutTx(ctx, tx, c.PortalID, c.LineID, ev)
		return err
	})
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return err
		}
		return fmt.Errorf("portal: record stopped connection: %w", err)
	}
	r.inbox.Notify(lines)
	return nil
}

// NoteChannel records that a connection received from a virtual channel
// (idempotent: the first sighting is kept).
func (r *Records) NoteChannel(ctx context.Context, connectionID, channel string) error {
	_, err := r.db.SQL.ExecContext(ctx, r.db.Dialect.InsertIgnore()+" connection_channels (connection_id, channel, first_seen) VALUES (?, ?, ?)",
		connectionID, channel, r.now().UnixMilli())
	if err != nil {
		return fmt.Errorf("portal: note channel: %w", err)
	}
	return nil
}

// Channels returns the virtual channels each connection received from,
// sorted, by connection id ("" for every connection).
func (r *Records) Channels(ctx context.Context, connectionID string) (map[string][]string, error) {
	q, args := "SELECT connection_id, channel FROM connection_channels ORDER BY connection_id, channel", []any{}
	if connectionID != "" {
		q, args = "SELECT connection_id, channel FROM connection_channels WHERE connection_id = ? ORDER BY channel", []any{connectionID}
	}
	rows, err := r.db.SQL.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("portal: channels: %w", err)
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var id, ch string
		if err := rows.Scan(&id, &ch); err != nil {
			return nil, err
		}
		out[id] = append(out[id], ch)
	}
	return out, rows.Err()
}
