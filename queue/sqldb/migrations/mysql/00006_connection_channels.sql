-- +goose Up
-- The virtual channels a connection has received from (a Bot Framework
-- bot carries Teams, Web Chat, Direct Line…): one row per connection and
-- channel, written the first time a process sees the pair.
CREATE TABLE connection_channels (
    connection_id VARCHAR(40) CHARACTER SET ascii NOT NULL,
    channel       VARCHAR(128) NOT NULL,
    first_seen    BIGINT NOT NULL,
    PRIMARY KEY (connection_id, channel)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- +goose Down
DROP TABLE connection_channels;
