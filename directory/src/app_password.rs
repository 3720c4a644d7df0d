//! App passwords: one per mail program, so a user can give his phone and his laptop passwords of
//! their own and revoke one without changing the others or his account password.
//!
//! The central server makes each from 100 random bits and shows it to the user once; only its
//! SHA-256 digest is kept and replicated, inside the user's record. A fast, unsalted digest is
//! enough here, where an account password needs Argon2id: the secret is random and long, so no
//! dictionary or table reaches it, and a fast check costs an agent nothing when a mail program
//! logs in. It is also the one form Dovecot can look up by the password itself
//! (`%{sha256:password}`), so any number of app passwords cost one look-up, not one hash each.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// The most app passwords one user may have.
pub const MAX_APP_PASSWORDS: usize = 20;
/// The longest name of an app password ("Thunderbird at home").
pub const MAX_APP_PASSWORD_LABEL_CHARS: usize = 64;

/// The SHA-256 digest of an app password, as 64 lowercase hex digits.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AppDigest(String);

impl AppDigest {
    pub fn of(secret: &str) -> AppDigest {
        AppDigest(hex::encode(Sha256::digest(secret.as_bytes())))
    }

    /// Whether the digest is in its only valid form; a record with another is refused.
    pub fn is_well_formed(&self) -> bool {
        self.0.len() == 64 && self.0.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `secret` is the password this is the digest of, compared in constant time.
    pub fn matches(&self, secret: &str) -> bool {
        use subtle::ConstantTimeEq as _;
        let given = hex::encode(Sha256::digest(secret.as_bytes()));
        bool::from(given.as_bytes().ct_eq(self.0.as_bytes()))
    }
}

impl fmt::Debug for AppDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AppDigest(..)")
    }
}

/// One app password of a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppPassword {
    /// Unique among the user's app passwords, never reused for him: the handle to revoke it by.
    pub id: u32,
    /// What the user called it, to know which to revoke.
    pub label: String,
    pub digest: AppDigest,
    /// When it was made (Unix seconds).
    pub created: i64,
}

/// Whether any of `apps` is the password `secret`.
pub fn any_matches(apps: &[AppPassword], secret: &str) -> bool {
    // Every digest is compared, so the time does not say which one matched.
    apps.iter().fold(false, |hit, a| a.digest.matches(secret) | hit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_digest_matches_only_its_secret_and_is_sha256_hex() {
        let d = AppDigest::of("abcd-efgh");
        assert!(d.is_well_formed());
        assert!(d.matches("abcd-efgh"));
        assert!(!d.matches("abcd-efgH"));
        assert_eq!(
            AppDigest::of("").as_str(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert!(!AppDigest("E3B0".repeat(16)).is_well_formed());
        let apps = [AppPassword { id: 1, label: "phone".into(), digest: d, created: 0 }];
        assert!(any_matches(&apps, "abcd-efgh"));
        assert!(!any_matches(&apps, "abcd"));
    }
}
