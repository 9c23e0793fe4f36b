-- +goose Up
-- Admins of the browser console. Usernames are stored lower-cased.
CREATE TABLE console_admins (
    id            TEXT NOT NULL PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    must_change   INTEGER NOT NULL DEFAULT 0,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until  INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

-- Console sessions; only a hash of the cookie value is stored.
CREATE TABLE console_sessions (
    token_hash   TEXT NOT NULL PRIMARY KEY,
    admin_id     TEXT NOT NULL,
    csrf_token   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX console_sessions_admin ON console_sessions (admin_id);
CREATE INDEX console_sessions_expires ON console_sessions (expires_at);

-- Who changed what, when: every change made through the console.
CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at  INTEGER NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT NULL,
    detail      TEXT NULL,
    remote_addr TEXT NULL
);
CREATE INDEX audit_log_created ON audit_log (created_at);

-- +goose Down
DROP TABLE audit_log;
DROP TABLE console_sessions;
DROP TABLE console_admins;
