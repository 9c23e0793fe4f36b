-- +goose Up
-- The web chat widget's own state: one conversation per anonymous visitor of
-- a widget connection, its history (both sides, numbered per conversation so
-- a reconnecting browser asks for "everything after n"), and visitors'
-- uploads, kept here so every gateway process sharing the database can serve
-- them.
CREATE TABLE webchat_conversations (
    id            VARCHAR(40) CHARACTER SET ascii NOT NULL PRIMARY KEY,
    connection_id VARCHAR(40) CHARACTER SET ascii NOT NULL,
    visitor_name  VARCHAR(200) NULL,
    email         VARCHAR(254) NULL,
    language      VARCHAR(35) NULL,
    last_seq      BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    KEY webchat_conversations_connection (connection_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE webchat_messages (
    conversation_id VARCHAR(40) CHARACTER SET ascii NOT NULL,
    seq             BIGINT NOT NULL,
    message_id      VARCHAR(80) CHARACTER SET ascii NOT NULL,
    author          VARCHAR(10) CHARACTER SET ascii NOT NULL,
    body            MEDIUMTEXT NOT NULL,
    files           TEXT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, seq),
    UNIQUE KEY webchat_messages_id (conversation_id, message_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE webchat_uploads (
    id              VARCHAR(40) CHARACTER SET ascii NOT NULL PRIMARY KEY,
    conversation_id VARCHAR(40) CHARACTER SET ascii NOT NULL,
    file_name       VARCHAR(255) NOT NULL,
    mime            VARCHAR(255) CHARACTER SET ascii NOT NULL,
    size            BIGINT NOT NULL,
    content         LONGBLOB NOT NULL,
    created_at      BIGINT NOT NULL,
    KEY webchat_uploads_conversation (conversation_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- +goose Down
DROP TABLE webchat_uploads;
DROP TABLE webchat_messages;
DROP TABLE webchat_conversations;
