-- +goose Up
-- A portal's version goes up with every change to its row (secrets, kind,
-- adapter settings), in the same UPDATE. The dispatcher reads it together
-- with each batch's events, in the statement it runs anyway, and reads the
-- whole row again only when it moved: a rotation made by any process takes
-- effect at the next batch without a portal read per batch.
ALTER TABLE portals ADD COLUMN version INTEGER NOT NULL DEFAULT 1;

-- +goose Down
ALTER TABLE portals DROP COLUMN version;
