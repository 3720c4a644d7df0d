-- DKIM keys (kind 'dkim', keyed by selector) and the domain's settings (kind 'settings', key
-- 'domain') join the replicated records. SQLite cannot change
-- a CHECK constraint in place: the table is rebuilt with the same rows.
CREATE TABLE entries_new (
    kind TEXT NOT NULL CHECK (kind IN ('site', 'user', 'group', 'dkim', 'settings')),
    key  TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (kind, key)
) WITHOUT ROWID;
INSERT INTO entries_new (kind, key, body) SELECT kind, key, body FROM entries;
DROP TABLE entries;
ALTER TABLE entries_new RENAME TO entries;
