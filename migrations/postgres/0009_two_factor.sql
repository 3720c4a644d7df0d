-- Two-factor login for administrators (RFC 6238): the shared key (base32, as authenticator
-- apps take it; NULL while off), the last time step a code was accepted for (a code is good
-- once), and one-time recovery codes kept as SHA-256 digests.
ALTER TABLE admins ADD COLUMN totp_secret TEXT;
ALTER TABLE admins ADD COLUMN totp_step BIGINT NOT NULL DEFAULT 0;
CREATE TABLE admin_recovery_codes (
    admin TEXT NOT NULL,
    hash TEXT NOT NULL,
    used_at BIGINT,
    PRIMARY KEY (admin, hash)
);
