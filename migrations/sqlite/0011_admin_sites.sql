-- The sites an administrator may touch: empty for the whole domain, else site ids separated by
-- commas (a regional administrator).
ALTER TABLE admins ADD COLUMN sites TEXT NOT NULL DEFAULT '';
