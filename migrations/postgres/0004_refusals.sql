-- What each agent refused since it started, by reason (JSON object of counters, like the other
-- counters of the report): the dashboard shows the paper's "received but not accepted" explained.
ALTER TABLE agent_stats ADD COLUMN refused TEXT NOT NULL DEFAULT '{}';
