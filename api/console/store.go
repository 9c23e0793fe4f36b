package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/connector-gateway/connector/portal"
	"github.com/connector-gateway/connector/queue/sqldb"
)

// admin is a console user.
type admin struct {
	ID           string
	Username     string
	PasswordHash string
	// MustChange is set for a one-time password: every page leads to the
	// password form until it is changed.
	MustChange   bool
	FailedLogins int
	LockedUntil  time.Time
}

// session is a signed-in browser.
type session struct {
	Admin     admin
	TokenHash string
	CSRF      string
	LastSeen  time.Time
	ExpiresAt time.Time
}

// auditEntry is one line of the audit trail.
type auditEntry struct {
	ID         int64
	At         time.Time
	Actor      string
	Action     string
	Target     string
	Detail     string
	RemoteAddr string
}

// store keeps admins, sessions and the audit trail in the gateway database.
// It is safe for concurrent use, also by several gateway processes.
type store struct {
	db  *sqldb.DB
	now func() time.Time
}

var errNoAdmin = errors.New("console: no such admin")

func normalizeUsername(u string) string { return strings.ToLower(strings.TrimSpace(u)) }

// randomToken returns 32 random bytes, base64url.
func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashToken(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

func (s *store) countAdmins(ctx context.Context) (int, error) {
	var n int
	if err := s.db.SQL.QueryRowContext(ctx, "SELECT COUNT(*) FROM console_admins").Scan(&n); err != nil {
		return 0, fmt.Errorf("console: count admins: %w", err)
	}
	return n, nil
}

// createAdmin adds an admin; created is false (and no error) when the name
// is taken, e.g. by another gateway process starting at the same time.
func (s *store) createAdmin(ctx context.Context, username, passwordHash string, mustChange bool) (admin, bool, error) {
	now := s.now().UnixMilli()
	a := admin{ID: portal.NewID("adm"), Username: normalizeUsername(username), PasswordHash: passwordHash, MustChange: mustChange}
	_, err := s.db.SQL.ExecContext(ctx, `INSERT INTO console_admins (id, username, password_hash, must_change, failed_logins, locked_until, created_at, updated_at)
		VALUES (?,?,?,?,0,0,?,?)`, a.ID, a.Username, a.PasswordHash, boolInt(mustChange), now, now)
	if s.db.Dialect.IsDuplicate(err) {
		return admin{}, false, nil
	}
	if err != nil {
		return admin{}, false, fmt.Errorf("console: create admin: %w", err)
	}
	return a, true, nil
}

const adminCols = "id, username, password_hash, must_change, failed_logins, locked_until"

func scanAdmin(row interface{ Scan(...any) error }) (admin, error) {
	var a admin
	var must int
	var locked int64
	err := row.Scan(&a.ID, &a.Username, &a.PasswordHash, &must, &a.FailedLogins, &locked)
	a.MustChange = must != 0
	if locked > 0 {
		a.LockedUntil = time.UnixMilli(locked).UTC()
	}
	return a, err
}

func (s *store) adminByName(ctx context.Context, username string) (admin, error) {
	a, err := scanAdmin(s.db.SQL.QueryRowContext(ctx, "SELECT "+adminCols+" FROM console_admins WHERE username = ?", normalizeUsername(username)))
	if errors.Is(err, sql.ErrNoRows) {
		return a, errNoAdmin
	}
	if err != nil {
		return a, fmt.Errorf("console: get admin: %w", err)
	}
	return a, nil
}

// loginFailed counts a failed sign-in; from the fifth in a row the account
// is locked for a minute, doubling with each further failure up to an hour,
// which makes guessing slow without locking the owner out for long.
func (s *store) loginFailed(ctx context.Context, a admin) (time.Time, error) {
	fails := a.FailedLogins + 1
	var until time.Time
	if fails >= 5 {
		d := time.Minute << min(fails-5, 6)
		d = min(d, time.Hour)
		until = s.now().Add(d).UTC()
	}
	_, err := s.db.SQL.ExecContext(ctx, "UPDATE console_admins SET failed_logins = ?, locked_until = ? WHERE id = ?",
		fails, msOrZero(until), a.ID)
	if err != nil {
		return until, fmt.Errorf("console: record failed login: %w", err)
	}
	return until, nil
}

func (s *store) loginSucceeded(ctx context.Context, a admin) error {
	_, err := s.db.SQL.ExecContext(ctx, "UPDATE console_admins SET failed_logins = 0, locked_until = 0 WHERE id = ?", a.ID)
	if err != nil {
		return fmt.Errorf("console: record login: %w", err)
	}
	return nil
}

// setPassword replaces an admin's password and ends every session of the
// admin but keep (the one that made the change; "" ends all).
func (s *store) setPassword(ctx context.Context, adminID, passwordHash string, mustChange bool, keep string) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE console_admins SET password_hash = ?, must_change = ?, failed_logins = 0, locked_until = 0, updated_at = ? WHERE id = ?",
			passwordHash, boolInt(mustChange), s.now().UnixMilli(), adminID)
		if err != nil {
			return fmt.Errorf("console: set password: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errNoAdmin
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM console_sessions WHERE admin_id = ? AND token_hash <> ?", adminID, keep); err != nil {
			return fmt.Errorf("console: end sessions: %w", err)
		}
		return nil
	})
}

// createSession starts a session for a and returns the cookie value (only
// its hash is stored) and the session.
func (s *store) createSession(ctx context.Context, a admin, ttl time.Duration) (string, session, error) {
	tok := randomToken()
	now := s.now().UTC()
	sess := session{Admin: a, TokenHash: hashToken(tok), CSRF: randomToken(), LastSeen: now, ExpiresAt: now.Add(ttl)}
	_, err := s.db.SQL.ExecContext(ctx, `INSERT INTO console_sessions (token_hash, admin_id, csrf_token, created_at, last_seen_at, expires_at)
		VALUES (?,?,?,?,?,?)`, sess.TokenHash, a.ID, sess.CSRF, now.UnixMilli(), now.UnixMilli(), sess.ExpiresAt.UnixMilli())
	if err != nil {
		return "", session{}, fmt.Errorf("console: create session: %w", err)
	}
	// Expired sessions of anyone are swept here, where sessions are made.
	if _, err := s.db.SQL.ExecContext(ctx, "DELETE FROM console_sessions WHERE expires_at < ?", now.UnixMilli()); err != nil {
		return "", session{}, fmt.Errorf("console: sweep sessions: %w", err)
	}
	return tok, sess, nil
}

var errNoSession = errors.New("console: no such session")

// sessionByToken finds the live session of a cookie value.
func (s *store) sessionByToken(ctx context.Context, tok string) (session, error) {
	var sess session
	var must, fails int
	var locked, seen, expires int64
	err := s.db.SQL.QueryRowContext(ctx, `SELECT s.token_hash, s.csrf_token, s.last_seen_at, s.expires_at,
		a.id, a.username, a.password_hash, a.must_change, a.failed_logins, a.locked_until
		FROM console_sessions s JOIN console_admins a ON a.id = s.admin_id WHERE s.token_hash = ?`, hashToken(tok)).
		Scan(&sess.TokenHash, &sess.CSRF, &seen, &expires, &sess.Admin.ID, &sess.Admin.Username, &sess.Admin.PasswordHash, &must, &fails, &locked)
	if errors.Is(err, sql.ErrNoRows) {
		return sess, errNoSession
	}
	if err != nil {
		return sess, fmt.Errorf("console: get session: %w", err)
	}
	sess.Admin.MustChange, sess.Admin.FailedLogins = must != 0, fails
	sess.LastSeen, sess.ExpiresAt = time.UnixMilli(seen).UTC(), time.UnixMilli(expires).UTC()
	if !s.now().Before(sess.ExpiresAt) {
		return sess, errNoSession
	}
	return sess, nil
}

// touchSession extends an idle session's life; called at most once a minute
// per session.
func (s *store) touchSession(ctx context.Context, sess *session, ttl time.Duration) error {
	now := s.now().UTC()
	sess.LastSeen, sess.ExpiresAt = now, now.Add(ttl)
	_, err := s.db.SQL.ExecContext(ctx, "UPDATE console_sessions SET last_seen_at = ?, expires_at = ? WHERE token_hash = ?",
		now.UnixMilli(), sess.ExpiresAt.UnixMilli(), sess.TokenHash)
	if err != nil {
		return fmt.Errorf("console: touch session: %w", err)
	}
	return nil
}

func (s *store) deleteSession(ctx context.Context, tokenHash string) error {
	if _, err := s.db.SQL.ExecContext(ctx, "DELETE FROM console_sessions WHERE token_hash = ?", tokenHash); err != nil {
		return fmt.Errorf("console: delete session: %w", err)
	}
	return nil
}

// audit records one change. The detail must never hold a secret.
func (s *store) audit(ctx context.Context, e auditEntry) error {
	if e.At.IsZero() {
		e.At = s.now()
	}
	_, err := s.db.SQL.ExecContext(ctx, "INSERT INTO audit_log (created_at, actor, action, target, detail, remote_addr) VALUES (?,?,?,?,?,?)",
		e.At.UnixMilli(), truncate(e.Actor, 100), e.Action, nullable(truncate(e.Target, 64)), nullable(truncate(e.Detail, 4000)), nullable(truncate(e.RemoteAddr, 64)))
	if err != nil {
		return fmt.Errorf("console: audit: %w", err)
	}
	return nil
}

// auditPage lists audit entries newest first, older than id before (0: from
// the newest), at most limit.
func (s *store) auditPage(ctx context.Context, before int64, limit int) ([]auditEntry, error) {
	q, args := "SELECT id, created_at, actor, action, target, detail, remote_addr FROM audit_log ORDER BY id DESC LIMIT ?", []any{limit}
	if before > 0 {
		q, args = "SELECT id, created_at, actor, action, target, detail, remote_addr FROM audit_log WHERE id < ? ORDER BY id DESC LIMIT ?", []any{before, limit}
	}
	rows, err := s.db.SQL.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("console: audit trail: %w", err)
	}
	defer rows.Close()
	var out []auditEntry
	for rows.Next() {
		var e auditEntry
		var at int64
		var target, detail, addr sql.NullString
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Action, &target, &detail, &addr); err != nil {
			return nil, fmt.Errorf("console: audit trail: %w", err)
		}
		e.At, e.Target, e.Detail, e.RemoteAddr = time.UnixMilli(at).UTC(), target.String, detail.String, addr.String
		out = append(out, e)
	}
	return out, rows.Err()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func msOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
