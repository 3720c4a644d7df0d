-- The domain's DKIM keys, one JSON record per selector (with its private key: the table is as
-- secret as the users' password hashes; pages and the API never show that field).
CREATE TABLE dkim_keys (
    selector TEXT PRIMARY KEY,
    body     TEXT NOT NULL
);

-- The addresses a site's mail leaves from, for the SPF record (JSON list; empty: its agents').
ALTER TABLE sites ADD COLUMN outgoing TEXT NOT NULL DEFAULT '[]';

-- The domain's settings (one JSON record; absent: the defaults).
CREATE TABLE domain_settings (
    id   BIGINT PRIMARY KEY CHECK (id = 1),
    body TEXT NOT NULL
);
