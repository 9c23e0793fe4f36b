-- +goose Up
CREATE TABLE portals (
    id          TEXT NOT NULL PRIMARY KEY,
    name        TEXT NOT NULL,
    webhook_url TEXT NOT NULL,
    secrets     BLOB NOT NULL,
    status      TEXT NOT NULL DEFAULT 'active',
    created_at  INTEGER NOT NULL
);

CREATE TABLE portal_lines (
    id            TEXT NOT NULL PRIMARY KEY,
    portal_id     TEXT NOT NULL,
    name          TEXT NOT NULL,
    active        INTEGER NOT NULL DEFAULT 1,
    status        TEXT NOT NULL DEFAULT 'ok',
    status_detail TEXT NULL,
    created_at    INTEGER NOT NULL
);
CREATE INDEX portal_lines_portal ON portal_lines (portal_id);

CREATE TABLE connections (
    id         TEXT NOT NULL PRIMARY KEY,
    portal_id  TEXT NOT NULL,
    line_id    TEXT NOT NULL,
    connector  TEXT NOT NULL,
    hash       TEXT NOT NULL UNIQUE,
    settings   BLOB NOT NULL,
    bot_key    TEXT NULL UNIQUE,
    active     INTEGER NOT NULL DEFAULT 0,
    status     TEXT NOT NULL DEFAULT 'new',
    last_error TEXT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX connections_line ON connections (line_id);

CREATE TABLE outbox_events (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    line_id    TEXT NOT NULL,
    portal_id  TEXT NOT NULL,
    event_id   TEXT NOT NULL,
    payload    BLOB NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX outbox_line_seq ON outbox_events (line_id, seq);

CREATE TABLE inbox_keys (
    dedupe_key TEXT NOT NULL PRIMARY KEY,
    created_at INTEGER NOT NULL
);
CREATE INDEX inbox_keys_created ON inbox_keys (created_at);

CREATE TABLE line_queue (
    line_id         TEXT NOT NULL PRIMARY KEY,
    portal_id       TEXT NOT NULL,
    pending         INTEGER NOT NULL DEFAULT 0,
    fail_count      INTEGER NOT NULL DEFAULT 0,
    first_failed_at INTEGER NULL,
    locked_until    INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT NULL,
    last_ok_at      INTEGER NULL,
    lease_owner     TEXT NULL,
    lease_until     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX line_queue_ready ON line_queue (pending, locked_until);

CREATE TABLE dead_letters (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    orig_seq   INTEGER NOT NULL,
    line_id    TEXT NOT NULL,
    portal_id  TEXT NOT NULL,
    event_id   TEXT NOT NULL,
    payload    BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    died_at    INTEGER NOT NULL,
    reason     TEXT NOT NULL
);
CREATE INDEX dead_letters_line ON dead_letters (line_id, orig_seq);

CREATE TABLE outbound_requests (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    id            TEXT NOT NULL UNIQUE,
    portal_id     TEXT NOT NULL,
    line_id       TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    chat_key      TEXT NOT NULL,
    op            TEXT NOT NULL,
    payload       BLOB NOT NULL,
    idem_key      TEXT NULL,
    state         TEXT NOT NULL DEFAULT 'pending',
    attempts      INTEGER NOT NULL DEFAULT 0,
    next_at       INTEGER NOT NULL,
    lease_owner   TEXT NULL,
    lease_until   INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT NULL,
    result        TEXT NULL,
    created_at    INTEGER NOT NULL,
    done_at       INTEGER NULL,
    UNIQUE (portal_id, idem_key)
);
CREATE INDEX outbound_chat ON outbound_requests (chat_key, state, seq);
CREATE INDEX outbound_due ON outbound_requests (state, next_at);

-- +goose Down
DROP TABLE outbound_requests;
DROP TABLE dead_letters;
DROP TABLE line_queue;
DROP TABLE inbox_keys;
DROP TABLE outbox_events;
DROP TABLE connections;
DROP TABLE portal_lines;
DROP TABLE portals;
