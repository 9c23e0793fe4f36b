-- +goose Up
-- One row per connection that receives by polling: whether it should poll,
-- where its update stream resumes, and which gateway process polls it now
-- (a lease, so several replicas on one database never poll one bot twice).
CREATE TABLE poll_state (
    connection_id VARCHAR(40) CHARACTER SET ascii NOT NULL PRIMARY KEY,
    enabled       TINYINT NOT NULL DEFAULT 1,
    stream_pos    VARCHAR(255) CHARACTER SET ascii NOT NULL DEFAULT '',
    lease_owner   VARCHAR(64) CHARACTER SET ascii NULL,
    lease_until   BIGINT NOT NULL DEFAULT 0,
    updated_at    BIGINT NOT NULL
) ENGINE=InnoDB;

-- +goose Down
DROP TABLE poll_state;
