-- +goose Up
-- A portal's kind says how its batches are delivered: 'native' (signed
-- Standard Webhooks batches) or a helpdesk adapter ('chatwoot', 'bitrix24',
-- 'rt'); the adapter's settings (URLs, tokens) are sealed like the secrets.
ALTER TABLE portals
    ADD COLUMN kind VARCHAR(16) CHARACTER SET ascii NOT NULL DEFAULT 'native',
    ADD COLUMN adapter_settings BLOB NULL;

-- What an adapter already did at its helpdesk, written as each call
-- succeeds, so a retried batch never posts twice: event id or chat ->
-- the helpdesk's ids (contact, conversation/ticket, message), and cursors.
CREATE TABLE adapter_ids (
    portal_id   VARCHAR(40) CHARACTER SET ascii NOT NULL,
    map_key     VARCHAR(255) CHARACTER SET ascii NOT NULL,
    helpdesk_id VARCHAR(255) NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (portal_id, map_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- +goose Down
DROP TABLE adapter_ids;
ALTER TABLE portals DROP COLUMN adapter_settings, DROP COLUMN kind;
