-- Administrators managed in the web application: who created each, and whether it is disabled
-- (a disabled administrator cannot log in, and the API tokens it made stop working).
ALTER TABLE admins ADD COLUMN created_by TEXT NOT NULL DEFAULT '';
ALTER TABLE admins ADD COLUMN disabled_at BIGINT;
