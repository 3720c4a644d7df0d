-- Per-user mailbox settings and per-site default quotas (both part of the directory), and what
-- agents last reported about their site: the endpoints mail clients use, and mailbox sizes.

-- JSON of `MailboxSettings` (quota, forwarding, vacation); '{}' is "none of them".
ALTER TABLE users ADD COLUMN mailbox TEXT NOT NULL DEFAULT '{}';
-- Bytes; NULL: no limit.
ALTER TABLE sites ADD COLUMN default_quota BIGINT;

-- The last `services` each agent reported (JSON of `ClientServices`). Agents send it only when
-- it changes, so it must outlive a restart of the server.
CREATE TABLE agent_services (
    agent     TEXT   PRIMARY KEY,
    site      TEXT   NOT NULL,
    services  TEXT   NOT NULL,
    at        BIGINT NOT NULL
);

-- The last size each site's agents reported for a mailbox (by folded user name). Agents send
-- only the sizes that changed, so these too must outlive a restart of the server.
CREATE TABLE mailbox_sizes (
    name   TEXT   NOT NULL,
    site   TEXT   NOT NULL,
    bytes  BIGINT NOT NULL,
    at     BIGINT NOT NULL,
    PRIMARY KEY (name, site)
);
