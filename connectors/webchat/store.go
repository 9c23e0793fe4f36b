package webchat

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/connector-gateway/connector/connectors"
	"github.com/go-sql-driver/mysql"
)

// Authors of history messages.
const (
	fromVisitor = "visitor"
	fromAgent   = "agent"
)

// errNotFound: no such conversation or upload (of that connection).
var errNotFound = errors.New("webchat: not found")

// store keeps conversations, their history and uploads in the gateway's
// database. Every query names the connection as well as the conversation,
// so one connection's visitor ids never reach another's data.
type store struct {
	db      *sql.DB
	dialect dialect
	now     func() time.Time
}

// dialect is what differs between the SQL of the two backends.
type dialect struct{ driver string }

// The gateway's database drivers.
const (
	driverMySQL  = "mysql"
	driverSQLite = "sqlite"
)

func newDialect(driver string) (dialect, error) {
	switch driver {
	case driverMySQL, driverSQLite:
		return dialect{driver: driver}, nil
	}
	return dialect{}, fmt.Errorf("webchat: unknown database driver %q (want %q or %q)", driver, driverMySQL, driverSQLite)
}

// oneProcess: the database is one process's alone (SQLite), so no other
// gateway process can add to a conversation.
func (d dialect) oneProcess() bool { return d.driver == driverSQLite }

// insertIgnore starts an insert that skips rows whose key exists.
func (d dialect) insertIgnore() string {
	if d.driver == driverSQLite {
		return "INSERT OR IGNORE INTO"
	}
	return "INSERT IGNORE INTO"
}

// isDuplicate tells a unique-key violation.
func (d dialect) isDuplicate(err error) bool {
	if d.driver == driverSQLite {
		return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
	}
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1062
}

// retryable tells a failure of a whole transaction that is safe to retry:
// a MySQL deadlock victim (1213) or lock wait timeout (1205), a busy SQLite.
func (d dialect) retryable(err error) bool {
	if d.driver == driverSQLite {
		return err != nil && (strings.Contains(err.Error(), "SQLITE_BUSY") || strings.Contains(err.Error(), "database is locked"))
	}
	var me *mysql.MySQLError
	return errors.As(err, &me) && (me.Number == 1213 || me.Number == 1205)
}

// inTx runs fn in a transaction, retrying it whole where that is safe.
func (s *store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		err = s.tryTx(ctx, fn)
		if err == nil || !s.dialect.retryable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt+1) * 5 * time.Millisecond):
		}
	}
	return err
}

func (s *store) tryTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// profile is what a visitor told about themselves.
type profile struct {
	Name     string `json:"name,omitempty"`
	Email    string `json:"email,omitempty"`
	Language string `json:"language,omitempty"`
}

// hash changes exactly when a field changes (the event's profile_hash).
func (p profile) hash() string {
	return connectors.ProfileHash(p.Name, p.Email, p.Language)
}

// message is one entry of a conversation's history.
type message struct {
	Seq   int64
	ID    string
	From  string
	Text  string
	Files []storedFile
	At    time.Time
}

// storedFile is a file of a history message: a visitor's upload, or a link
// an agent sent.
type storedFile struct {
	Upload string `json:"upload,omitempty"`
	URL    string `json:"url,omitempty"`
	Name   string `json:"name,omitempty"`
	Mime   string `json:"mime,omitempty"`
	Size   int64  `json:"size,omitempty"`
}

// upload is a file a visitor sent.
type upload struct {
	ID, Conversation, Name, Mime string
	Size                         int64
	Content                      []byte
	At                           time.Time
}

func (s *store) ping(ctx context.Context) error {
	var n int
	if err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM webchat_conversations WHERE id = ?", "").Scan(&n); err != nil {
		return fmt.Errorf("webchat: storage: %w", err)
	}
	return nil
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// profile returns a visitor's profile; errNotFound before their first
// message, upload or pre-chat form.
func (s *store) profile(ctx context.Context, connID, visitorID string) (profile, error) {
	var name, email, lang sql.NullString
	err := s.db.QueryRowContext(ctx, "SELECT visitor_name, email, language FROM webchat_conversations WHERE id = ? AND connection_id = ?",
		visitorID, connID).Scan(&name, &email, &lang)
	if errors.Is(err, sql.ErrNoRows) {
		return profile{}, errNotFound
	}
	if err != nil {
		return profile{}, fmt.Errorf("webchat: read profile: %w", err)
	}
	return profile{Name: name.String, Email: email.String, Language: lang.String}, nil
}

// ensureConversation creates a visitor's conversation if it does not exist
// (language is recorded only then).
func (s *store) ensureConversation(ctx context.Context, connID, visitorID, language string) error {
	now := s.now().UnixMilli()
	_, err := s.db.ExecContext(ctx, s.dialect.insertIgnore()+` webchat_conversations (id, connection_id, language, last_seq, created_at, updated_at)
		VALUES (?,?,?,0,?,?)`, visitorID, connID, nullable(language), now, now)
	if err != nil {
		return fmt.Errorf("webchat: create conversation: %w", err)
	}
	return nil
}

// setProfile records a visitor's name and e-mail, creating the
// conversation if needed. Empty values clear a field.
func (s *store) setProfile(ctx context.Context, connID, visitorID string, p profile) error {
	if err := s.ensureConversation(ctx, connID, visitorID, p.Language); err != nil {
		return err
	}
	_, err := s.db.ExecContext(ctx, "UPDATE webchat_conversations SET visitor_name = ?, email = ?, updated_at = ? WHERE id = ? AND connection_id = ?",
		nullable(p.Name), nullable(p.Email), s.now().UnixMilli(), visitorID, connID)
	if err != nil {
		return fmt.Errorf("webchat: save profile: %w", err)
	}
	return nil
}

// errDuplicate rolls back an append whose message id is already stored.
var errDuplicate = errors.New("webchat: message already stored")

// appendMessage adds m to the end of a conversation's history with the next
// seq. A message whose id the conversation already holds is not added
// again: the stored one is returned with existed set. errNotFound when the
// conversation does not exist.
func (s *store) appendMessage(ctx context.Context, connID, visitorID string, m message) (stored message, existed bool, err error) {
	files, err := json.Marshal(m.Files)
	if err != nil {
		return message{}, false, fmt.Errorf("webchat: encode files: %w", err)
	}
	if len(m.Files) == 0 {
		files = nil
	}
	m.At = s.now().UTC().Truncate(time.Millisecond)
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		// The update takes the conversation's row lock, so appends to one
		// conversation commit one at a time, in seq order: a reader that
		// saw seq n never later finds an n-1 it missed.
		res, err := tx.ExecContext(ctx, "UPDATE webchat_conversations SET last_seq = last_seq + 1, updated_at = ? WHERE id = ? AND connection_id = ?",
			m.At.UnixMilli(), visitorID, connID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errNotFound
		}
		var prev int64
		err = tx.QueryRowContext(ctx, "SELECT seq FROM webchat_messages WHERE conversation_id = ? AND message_id = ?", visitorID, m.ID).Scan(&prev)
		if err == nil {
			return errDuplicate
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if err := tx.QueryRowContext(ctx, "SELECT last_seq FROM webchat_conversations WHERE id = ?", visitorID).Scan(&m.Seq); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, "INSERT INTO webchat_messages (conversation_id, seq, message_id, author, body, files, created_at) VALUES (?,?,?,?,?,?,?)",
			visitorID, m.Seq, m.ID, m.From, m.Text, nullable(string(files)), m.At.UnixMilli())
		if s.dialect.isDuplicate(err) {
			return errDuplicate
		}
		return err
	})
	switch {
	case err == nil:
		return m, false, nil
	case errors.Is(err, errDuplicate):
		prev, err := s.messageByID(ctx, visitorID, m.ID)
		return prev, true, err
	case errors.Is(err, errNotFound):
		return message{}, false, errNotFound
	default:
		return message{}, false, fmt.Errorf("webchat: append message: %w", err)
	}
}

const messageCols = "seq, message_id, author, body, files, created_at"

func scanMessage(row interface{ Scan(...any) error }) (message, error) {
	var m message
	var files sql.NullString
	var at int64
	if err := row.Scan(&m.Seq, &m.ID, &m.From, &m.Text, &files, &at); err != nil {
		return m, err
	}
	m.At = time.UnixMilli(at).UTC()
	if files.String != "" {
		if err := json.Unmarshal([]byte(files.String), &m.Files); err != nil {
			return m, fmt.Errorf("files of message %d: %w", m.Seq, err)
		}
	}
	return m, nil
}

func (s *store) messageByID(ctx context.Context, visitorID, id string) (message, error) {
	m, err := scanMessage(s.db.QueryRowContext(ctx, "SELECT "+messageCols+" FROM webchat_messages WHERE conversation_id = ? AND message_id = ?", visitorID, id))
	if err != nil {
		return message{}, fmt.Errorf("webchat: read message: %w", err)
	}
	return m, nil
}

// messagesAfter returns up to limit messages of a conversation with seq >
// after, oldest first. The visitor id comes from a checked token of
// connID; the join keeps it to that connection.
func (s *store) messagesAfter(ctx context.Context, connID, visitorID string, after int64, limit int) ([]message, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT m.seq, m.message_id, m.author, m.body, m.files, m.created_at
		FROM webchat_messages m JOIN webchat_conversations c ON c.id = m.conversation_id
		WHERE m.conversation_id = ? AND c.connection_id = ? AND m.seq > ? ORDER BY m.seq LIMIT ?`, visitorID, connID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("webchat: read history: %w", err)
	}
	defer rows.Close()
	var out []message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, fmt.Errorf("webchat: read history: %w", err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("webchat: read history: %w", err)
	}
	return out, nil
}

// saveUpload stores a visitor's file, creating the conversation if needed.
func (s *store) saveUpload(ctx context.Context, connID string, u upload, language string) error {
	if err := s.ensureConversation(ctx, connID, u.Conversation, language); err != nil {
		return err
	}
	_, err := s.db.ExecContext(ctx, "INSERT INTO webchat_uploads (id, conversation_id, file_name, mime, size, content, created_at) VALUES (?,?,?,?,?,?,?)",
		u.ID, u.Conversation, u.Name, u.Mime, u.Size, u.Content, u.At.UnixMilli())
	if err != nil {
		return fmt.Errorf("webchat: save upload: %w", err)
	}
	return nil
}

// uploadInfo returns an upload's metadata if it belongs to the
// conversation ("" for any conversation) of the connection.
func (s *store) uploadInfo(ctx context.Context, connID, visitorID, id string) (upload, error) {
	return s.readUpload(ctx, connID, visitorID, id, false)
}

// uploadContent returns an upload with its bytes.
func (s *store) uploadContent(ctx context.Context, connID, visitorID, id string) (upload, error) {
	return s.readUpload(ctx, connID, visitorID, id, true)
}

func (s *store) readUpload(ctx context.Context, connID, visitorID, id string, content bool) (upload, error) {
	cols := "u.id, u.conversation_id, u.file_name, u.mime, u.size, u.created_at"
	if content {
		cols += ", u.content"
	}
	q := "SELECT " + cols + " FROM webchat_uploads u JOIN webchat_conversations c ON c.id = u.conversation_id WHERE u.id = ? AND c.connection_id = ?"
	args := []any{id, connID}
	if visitorID != "" {
		q += " AND u.conversation_id = ?"
		args = append(args, visitorID)
	}
	var u upload
	var at int64
	dest := []any{&u.ID, &u.Conversation, &u.Name, &u.Mime, &u.Size, &at}
	if content {
		dest = append(dest, &u.Content)
	}
	err := s.db.QueryRowContext(ctx, q, args...).Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return upload{}, errNotFound
	}
	if err != nil {
		return upload{}, fmt.Errorf("webchat: read upload: %w", err)
	}
	u.At = time.UnixMilli(at).UTC()
	return u, nil
}

// newestAgentMessageUpTo returns the id of the newest agent message of a
// conversation at or before seq ("" when there is none).
func (s *store) newestAgentMessageUpTo(ctx context.Context, connID, visitorID string, seq int64) (string, error) {
	var id string
	err := s.db.QueryRowContext(ctx, `SELECT m.message_id FROM webchat_messages m
		JOIN webchat_conversations v ON v.id = m.conversation_id
		WHERE m.conversation_id = ? AND v.connection_id = ? AND m.author = ? AND m.seq <= ?
		ORDER BY m.seq DESC LIMIT 1`, visitorID, connID, fromAgent, seq).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("webchat: newest agent message: %w", err)
	}
	return id, nil
}

// markAgentRead moves a conversation's agent-read watermark up to the seq
// of the visitor message msgID; an older mark leaves it where it is.
// errNotFound when the conversation or the visitor message is not there.
func (s *store) markAgentRead(ctx context.Context, connID, visitorID, msgID string) error {
	var seq int64
	err := s.db.QueryRowContext(ctx, `SELECT m.seq FROM webchat_messages m
		JOIN webchat_conversations v ON v.id = m.conversation_id
		WHERE m.conversation_id = ? AND v.connection_id = ? AND m.message_id = ? AND m.author = ?`,
		visitorID, connID, msgID, fromVisitor).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return errNotFound
	}
	if err != nil {
		return fmt.Errorf("webchat: mark read: %w", err)
	}
	// The condition in the update keeps the watermark from moving back
	// when two marks race.
	if _, err := s.db.ExecContext(ctx, "UPDATE webchat_conversations SET agent_read_seq = ? WHERE id = ? AND connection_id = ? AND agent_read_seq < ?",
		seq, visitorID, connID, seq); err != nil {
		return fmt.Errorf("webchat: mark read: %w", err)
	}
	return nil
}

// agentReadSeq returns a conversation's agent-read watermark (0 when none
// or no conversation).
func (s *store) agentReadSeq(ctx context.Context, connID, visitorID string) (int64, error) {
	var seq int64
	err := s.db.QueryRowContext(ctx, "SELECT agent_read_seq FROM webchat_conversations WHERE id = ? AND connection_id = ?", visitorID, connID).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("webchat: read watermark: %w", err)
	}
	return seq, nil
}
