-- +goose Up
-- The virtual channels a connection has received from (a Bot Framework
-- bot carries Teams, Web Chat, Direct Line…): one row per connection and
-- channel, written the first time a process sees the pair.
CREATE TABLE connection_channels (
    connection_id TEXT NOT NULL,
    channel       TEXT NOT NULL,
    first_seen    INTEGER NOT NULL,
    PRIMARY KEY (connection_id, channel)
);

-- +goose Down
DROP TABLE connection_channels;
