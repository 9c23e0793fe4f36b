-- +goose Up
-- The seq of the newest visitor message an agent has read (the portal's
-- POST .../read): kept per conversation so every process's sockets and a
-- reloaded widget show it. It only moves forward.
ALTER TABLE webchat_conversations ADD COLUMN agent_read_seq BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE webchat_conversations DROP COLUMN agent_read_seq;
