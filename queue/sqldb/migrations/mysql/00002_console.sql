-- +goose Up
-- Admins of the browser console. Usernames are stored lower-cased.
CREATE TABLE console_admins (
    id            VARCHAR(40) CHARACTER SET ascii NOT NULL PRIMARY KEY,
    username      VARCHAR(100) NOT NULL,
    password_hash VARCHAR(255) CHARACTER SET ascii NOT NULL,
    must_change   TINYINT NOT NULL DEFAULT 0,
    failed_logins INT NOT NULL DEFAULT 0,
    locked_until  BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    UNIQUE KEY console_admins_username (username)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Console sessions; only a hash of the cookie value is stored.
CREATE TABLE console_sessions (
    token_hash   CHAR(64) CHARACTER SET ascii NOT NULL PRIMARY KEY,
    admin_id     VARCHAR(40) CHARACTER SET ascii NOT NULL,
    csrf_token   VARCHAR(64) CHARACTER SET ascii NOT NULL,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    KEY console_sessions_admin (admin_id),
    KEY console_sessions_expires (expires_at)
) ENGINE=InnoDB;

-- Who changed what, when: every change made through the console.
CREATE TABLE audit_log (
    id          BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    created_at  BIGINT NOT NULL,
    actor       VARCHAR(100) NOT NULL,
    action      VARCHAR(64) CHARACTER SET ascii NOT NULL,
    target      VARCHAR(64) CHARACTER SET ascii NULL,
    detail      TEXT NULL,
    remote_addr VARCHAR(64) CHARACTER SET ascii NULL,
    KEY audit_log_created (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- +goose Down
DROP TABLE audit_log;
DROP TABLE console_sessions;
DROP TABLE console_admins;
