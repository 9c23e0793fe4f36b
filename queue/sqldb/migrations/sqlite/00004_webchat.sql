-- +goose Up
-- The web chat widget's own state: one conversation per anonymous visitor of
-- a widget connection, its history (both sides, numbered per conversation so
-- a reconnecting browser asks for "everything after n"), and visitors'
-- uploads.
CREATE TABLE webchat_conversations (
    id            TEXT NOT NULL PRIMARY KEY,
    connection_id TEXT NOT NULL,
    visitor_name  TEXT NULL,
    email         TEXT NULL,
    language      TEXT NULL,
    last_seq      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX webchat_conversations_connection ON webchat_conversations (connection_id);

CREATE TABLE webchat_messages (
    conversation_id TEXT NOT NULL,
    seq             INTEGER NOT NULL,
    message_id      TEXT NOT NULL,
    author          TEXT NOT NULL,
    body            TEXT NOT NULL,
    files           TEXT NULL,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, seq),
    UNIQUE (conversation_id, message_id)
);

CREATE TABLE webchat_uploads (
    id              TEXT NOT NULL PRIMARY KEY,
    conversation_id TEXT NOT NULL,
    file_name       TEXT NOT NULL,
    mime            TEXT NOT NULL,
    size            INTEGER NOT NULL,
    content         BLOB NOT NULL,
    created_at      INTEGER NOT NULL
);
CREATE INDEX webchat_uploads_conversation ON webchat_uploads (conversation_id);

-- +goose Down
DROP TABLE webchat_uploads;
DROP TABLE webchat_messages;
DROP TABLE webchat_conversations;
