-- +goose Up
-- One row per running gateway process. The process's id is the owner
-- written into the leases it takes (line_queue, outbound_requests,
-- poll_state); heartbeat_at is renewed every instance.heartbeat. A process
-- whose heartbeat is older than instance.stale_after is presumed dead and
-- another process releases its leases at once, instead of waiting them out.
CREATE TABLE instances (
    id           VARCHAR(64) CHARACTER SET ascii NOT NULL PRIMARY KEY,
    heartbeat_at BIGINT NOT NULL,
    started_at   BIGINT NOT NULL,
    KEY instances_heartbeat (heartbeat_at)
) ENGINE=InnoDB;
-- Finding a dead process's outbound claims must not scan (and, on MySQL,
-- lock) the whole table of requests kept for a week.
CREATE INDEX outbound_lease_owner ON outbound_requests (lease_owner);

-- +goose Down
DROP INDEX outbound_lease_owner ON outbound_requests;
DROP TABLE instances;
