-- +goose Up
-- One row per running gateway process; see the MySQL migration. On SQLite
-- only one process serves, so a starting process releases every lease held
-- by any other at once.
CREATE TABLE instances (
    id           TEXT NOT NULL PRIMARY KEY,
    heartbeat_at INTEGER NOT NULL,
    started_at   INTEGER NOT NULL
);
CREATE INDEX instances_heartbeat ON instances (heartbeat_at);
-- Finding a dead process's outbound claims must not scan (and, on MySQL,
-- lock) the whole table of requests kept for a week.
CREATE INDEX outbound_lease_owner ON outbound_requests (lease_owner);

-- +goose Down
DROP INDEX outbound_lease_owner;
DROP TABLE instances;
