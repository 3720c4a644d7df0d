-- The central directory. Every edit writes its rows here and appends its change set to
-- `changes` in the same transaction (see server/src/db/changelog.rs).

CREATE TABLE meta (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    deployment  TEXT    NOT NULL,
    domain      TEXT    NOT NULL,
    version     BIGINT  NOT NULL,
    head        TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL
);

CREATE TABLE sites (
    id      TEXT    PRIMARY KEY,
    name    TEXT    NOT NULL,
    level   BIGINT  NOT NULL,
    agents  TEXT    NOT NULL
);

CREATE TABLE users (
    name          TEXT    PRIMARY KEY,   -- folded local part
    local_part    TEXT    NOT NULL,      -- as written
    display_name  TEXT    NOT NULL,
    site          TEXT    NOT NULL REFERENCES sites (id),
    former_sites  TEXT    NOT NULL,      -- JSON array
    password      TEXT,
    enabled       BIGINT  NOT NULL
);
CREATE INDEX users_site ON users (site);

CREATE TABLE mail_groups (
    name         TEXT PRIMARY KEY,
    local_part   TEXT NOT NULL,
    kind         TEXT NOT NULL,
    description  TEXT NOT NULL,
    policy       TEXT NOT NULL,
    members      TEXT NOT NULL            -- JSON array of addresses
);

CREATE TABLE changes (
    version  BIGINT PRIMARY KEY,
    hash     TEXT   NOT NULL,
    author   TEXT   NOT NULL,
    at       BIGINT NOT NULL,
    summary  TEXT   NOT NULL,
    frame    BLOB   NOT NULL
);

CREATE TABLE admins (
    name        TEXT   PRIMARY KEY,
    password    TEXT   NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE api_tokens (
    hash        TEXT   PRIMARY KEY,      -- SHA-256 of the token
    name        TEXT   NOT NULL,
    created_by  TEXT   NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE enrollments (
    hash        TEXT   PRIMARY KEY,      -- SHA-256 of the one-time token
    site        TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);

CREATE TABLE agents (
    id           TEXT   PRIMARY KEY,
    site         TEXT   NOT NULL,
    url          TEXT   NOT NULL,        -- empty: the agent pulls
    tls_sha256   TEXT   NOT NULL,
    secret_hash  TEXT   NOT NULL UNIQUE,
    applied      BIGINT NOT NULL,
    last_seen    BIGINT,
    enrolled_at  BIGINT NOT NULL
);
