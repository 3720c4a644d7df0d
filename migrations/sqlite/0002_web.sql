-- The web application: browser sessions, and the counters agents report for the dashboard.

CREATE TABLE web_sessions (
    id_hash     TEXT   PRIMARY KEY,      -- SHA-256 of the session cookie
    role        TEXT   NOT NULL,         -- 'admin' or 'user'
    subject     TEXT   NOT NULL,         -- administrator name, or the user's folded local part
    csrf        TEXT   NOT NULL,         -- the synchronizer token of this session's forms
    created_at  BIGINT NOT NULL,
    seen_at     BIGINT NOT NULL
);
CREATE INDEX web_sessions_subject ON web_sessions (role, subject);

CREATE TABLE agent_stats (
    agent      TEXT   NOT NULL,
    site       TEXT   NOT NULL,
    at         BIGINT NOT NULL,
    received   BIGINT NOT NULL,          -- counters since the agent started (they restart at 0)
    accepted   BIGINT NOT NULL,
    delivered  BIGINT NOT NULL,
    sent       BIGINT NOT NULL,
    queue      BIGINT NOT NULL,          -- messages waiting in the queue at `at`
    PRIMARY KEY (agent, at)
);
CREATE INDEX agent_stats_at ON agent_stats (at);
