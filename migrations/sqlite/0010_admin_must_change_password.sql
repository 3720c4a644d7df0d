-- An administrator whose password another administrator made (created, reset) or that
-- `recover-admin` printed chooses their own at the next login.
ALTER TABLE admins ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0;
