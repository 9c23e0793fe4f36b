-- +goose Up
CREATE TABLE portals (
    id          VARCHAR(40) CHARACTER SET ascii NOT NULL PRIMARY KEY,
    name        VARCHAR(200) NOT NULL,
    webhook_url VARCHAR(2000) NOT NULL,
    secrets     BLOB NOT NULL,
    status      VARCHAR(20) NOT NULL DEFAULT 'active',
    created_at  BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE portal_lines (
    id            VARCHAR(40) CHARACTER SET ascii NOT NULL PRIMARY KEY,
    portal_id     VARCHAR(40) CHARACTER SET ascii NOT NULL,
    name          VARCHAR(200) NOT NULL,
    active        TINYINT NOT NULL DEFAULT 1,
    status        VARCHAR(20) NOT NULL DEFAULT 'ok',
    status_detail TEXT NULL,
    created_at    BIGINT NOT NULL,
    KEY portal_lines_portal (portal_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE connections (
    id         VARCHAR(40) CHARACTER SET ascii NOT NULL PRIMARY KEY,
    portal_id  VARCHAR(40) CHARACTER SET ascii NOT NULL,
    line_id    VARCHAR(40) CHARACTER SET ascii NOT NULL,
    connector  VARCHAR(40) CHARACTER SET ascii NOT NULL,
    hash       VARCHAR(64) CHARACTER SET ascii NOT NULL,
    settings   BLOB NOT NULL,
    bot_key    VARCHAR(190) CHARACTER SET ascii NULL,
    active     TINYINT NOT NULL DEFAULT 0,
    status     VARCHAR(20) NOT NULL DEFAULT 'new',
    last_error TEXT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE KEY connections_hash (hash),
    UNIQUE KEY connections_bot (bot_key),
    KEY connections_line (line_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE outbox_events (
    seq        BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    line_id    VARCHAR(40) CHARACTER SET ascii NOT NULL,
    portal_id  VARCHAR(40) CHARACTER SET ascii NOT NULL,
    event_id   VARCHAR(64) CHARACTER SET ascii NOT NULL,
    payload    MEDIUMBLOB NOT NULL,
    created_at BIGINT NOT NULL,
    KEY outbox_line_seq (line_id, seq)
) ENGINE=InnoDB;

CREATE TABLE inbox_keys (
    dedupe_key VARCHAR(255) CHARACTER SET ascii NOT NULL PRIMARY KEY,
    created_at BIGINT NOT NULL,
    KEY inbox_keys_created (created_at)
) ENGINE=InnoDB;

CREATE TABLE line_queue (
    line_id         VARCHAR(40) CHARACTER SET ascii NOT NULL PRIMARY KEY,
    portal_id       VARCHAR(40) CHARACTER SET ascii NOT NULL,
    pending         BIGINT NOT NULL DEFAULT 0,
    fail_count      INT NOT NULL DEFAULT 0,
    first_failed_at BIGINT NULL,
    locked_until    BIGINT NOT NULL DEFAULT 0,
    last_error      TEXT NULL,
    last_ok_at      BIGINT NULL,
    lease_owner     VARCHAR(64) CHARACTER SET ascii NULL,
    lease_until     BIGINT NOT NULL DEFAULT 0,
    KEY line_queue_ready (pending, locked_until)
) ENGINE=InnoDB;

CREATE TABLE dead_letters (
    id         BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    orig_seq   BIGINT NOT NULL,
    line_id    VARCHAR(40) CHARACTER SET ascii NOT NULL,
    portal_id  VARCHAR(40) CHARACTER SET ascii NOT NULL,
    event_id   VARCHAR(64) CHARACTER SET ascii NOT NULL,
    payload    MEDIUMBLOB NOT NULL,
    created_at BIGINT NOT NULL,
    died_at    BIGINT NOT NULL,
    reason     TEXT NOT NULL,
    KEY dead_letters_line (line_id, orig_seq)
) ENGINE=InnoDB;

CREATE TABLE outbound_requests (
    seq           BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    id            VARCHAR(40) CHARACTER SET ascii NOT NULL,
    portal_id     VARCHAR(40) CHARACTER SET ascii NOT NULL,
    line_id       VARCHAR(40) CHARACTER SET ascii NOT NULL,
    connection_id VARCHAR(40) CHARACTER SET ascii NOT NULL,
    chat_key      VARCHAR(255) NOT NULL,
    op            VARCHAR(16) CHARACTER SET ascii NOT NULL,
    payload       MEDIUMBLOB NOT NULL,
    idem_key      VARCHAR(190) NULL,
    state         VARCHAR(10) CHARACTER SET ascii NOT NULL DEFAULT 'pending',
    attempts      INT NOT NULL DEFAULT 0,
    next_at       BIGINT NOT NULL,
    lease_owner   VARCHAR(64) CHARACTER SET ascii NULL,
    lease_until   BIGINT NOT NULL DEFAULT 0,
    last_error    TEXT NULL,
    result        TEXT NULL,
    created_at    BIGINT NOT NULL,
    done_at       BIGINT NULL,
    UNIQUE KEY outbound_id (id),
    UNIQUE KEY outbound_idem (portal_id, idem_key),
    KEY outbound_chat (chat_key, state, seq),
    KEY outbound_due (state, next_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- +goose Down
DROP TABLE outbound_requests;
DROP TABLE dead_letters;
DROP TABLE line_queue;
DROP TABLE inbox_keys;
DROP TABLE outbox_events;
DROP TABLE connections;
DROP TABLE portal_lines;
DROP TABLE portals;
