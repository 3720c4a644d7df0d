-- The agent's local replica of the directory. Only `replica::apply` writes it.

-- One row: where the replica stands in the change log, and what it last heard from the server.
CREATE TABLE state (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    -- Version of the last applied change set (or snapshot); 0 is the empty directory.
    version        INTEGER NOT NULL,
    -- Chain hash (hex) of the change set at `version`; all zeros at version 0.
    head           TEXT    NOT NULL,
    -- Retained change frames cover (base, version]; a snapshot install moves base.
    base           INTEGER NOT NULL,
    -- The mail domain, as the last snapshot said; NULL until one was installed.
    domain         TEXT,
    -- Unix seconds of the last successful exchange with the central server.
    last_contact   INTEGER,
    -- The server's head version as last reported.
    server_version INTEGER
);

INSERT INTO state (id, version, head, base)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000', 0);

-- Sites, users and groups (aliases and lists), each one JSON record under its folded name.
CREATE TABLE entries (
    kind TEXT NOT NULL CHECK (kind IN ('site', 'user', 'group')),
    key  TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (kind, key)
) WITHOUT ROWID;

-- Every applied change-set frame, byte for byte, so that peers can catch up from this agent.
CREATE TABLE changes (
    version INTEGER PRIMARY KEY,
    hash    TEXT NOT NULL,
    frame   BLOB NOT NULL
);
