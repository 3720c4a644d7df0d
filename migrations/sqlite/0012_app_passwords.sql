-- A user's app passwords (JSON: id, label, SHA-256 digest, time made), one list per user as
-- the replicated record has it.
ALTER TABLE users ADD COLUMN app_passwords TEXT NOT NULL DEFAULT '[]';
