-- +goose Up
-- A portal's kind says how its batches are delivered: 'native' (signed
-- Standard Webhooks batches) or a helpdesk adapter ('chatwoot', 'bitrix24',
-- 'rt'); the adapter's settings (URLs, tokens) are sealed like the secrets.
ALTER TABLE portals ADD COLUMN kind TEXT NOT NULL DEFAULT 'native';
ALTER TABLE portals ADD COLUMN adapter_settings BLOB NULL;

-- What an adapter already did at its helpdesk, written as each call
-- succeeds, so a retried batch never posts twice: event id or chat ->
-- the helpdesk's ids (contact, conversation/ticket, message), and cursors.
CREATE TABLE adapter_ids (
    portal_id   TEXT NOT NULL,
    map_key     TEXT NOT NULL,
    helpdesk_id TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (portal_id, map_key)
);

-- +goose Down
DROP TABLE adapter_ids;
ALTER TABLE portals DROP COLUMN adapter_settings;
ALTER TABLE portals DROP COLUMN kind;
