-- The audit log's own columns beside each change set (see server/src/audit.rs):
--   prior    JSON array, one entry per op: the record the op replaced or removed (null: there
--            was none). What "old → new" shows, and what a revert puts back. Sets written before
--            this column existed hold '[]' and are described without old values.
--   tags     ' kind:user user:ivanov at:hq … ', lower case, space-delimited: what the history's
--            filters match with LIKE, so a filter never decodes a change set.
--   reverts  the version this set undoes, when it is a revert.
ALTER TABLE changes ADD COLUMN prior TEXT NOT NULL DEFAULT '[]';
ALTER TABLE changes ADD COLUMN tags TEXT NOT NULL DEFAULT '';
ALTER TABLE changes ADD COLUMN reverts BIGINT;
CREATE INDEX changes_author ON changes (author);
CREATE INDEX changes_at ON changes (at);
