-- +goose Up
-- One row per connection that receives by polling: whether it should poll,
-- where its update stream resumes, and which gateway process polls it now
-- (a lease, so several replicas on one database never poll one bot twice).
CREATE TABLE poll_state (
    connection_id TEXT NOT NULL PRIMARY KEY,
    enabled       INTEGER NOT NULL DEFAULT 1,
    stream_pos    TEXT NOT NULL DEFAULT '',
    lease_owner   TEXT NULL,
    lease_until   INTEGER NOT NULL DEFAULT 0,
    updated_at    INTEGER NOT NULL
);

-- +goose Down
DROP TABLE poll_state;
