-- Finished mailbox moves, as the agent of the site they left reported them: the record an
-- administrator reads on the dashboard and the user's page. An agent reports an ended move until
-- one report carrying it is taken; a report repeated after a lost answer is the same row.
CREATE TABLE mailbox_moves (
    agent        TEXT   NOT NULL,
    user_name    TEXT   NOT NULL,   -- the local part as the agent names it
    from_site    TEXT   NOT NULL,
    to_site      TEXT   NOT NULL,
    finished_at  BIGINT NOT NULL,   -- the server's clock, seconds
    elapsed_secs BIGINT NOT NULL,   -- by the agent's clock
    letters      BIGINT NOT NULL,
    bytes        BIGINT NOT NULL,
    kept         BIGINT NOT NULL,   -- letters too large to move, left at the old site
    outcome      TEXT   NOT NULL CHECK (outcome IN ('done', 'moved_back', 'failed')),
    reason       TEXT   NOT NULL DEFAULT '',
    PRIMARY KEY (agent, user_name, elapsed_secs, letters, bytes, outcome)
);
CREATE INDEX mailbox_moves_user ON mailbox_moves (user_name, finished_at);
CREATE INDEX mailbox_moves_at ON mailbox_moves (finished_at);

-- Letters of moving mailboxes, counted apart from mail (filed here / sent to the new site).
ALTER TABLE agent_stats ADD COLUMN moved_in BIGINT NOT NULL DEFAULT 0;
ALTER TABLE agent_stats ADD COLUMN moved_out BIGINT NOT NULL DEFAULT 0;
