-- +goose Up
-- The seq of the newest visitor message an agent has read; see the MySQL
-- migration.
ALTER TABLE webchat_conversations ADD COLUMN agent_read_seq INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE webchat_conversations DROP COLUMN agent_read_seq;
