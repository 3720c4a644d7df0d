//! Argon2id password hashes. Agents verify SMTP and IMAP logins against them from the replica,
//! so the server and the agents must agree on one format: PHC strings, OWASP parameters
//! (m = 19 MiB, t = 2, p = 1). Both are CPU-heavy on purpose: call them off async threads.

use argon2::{Argon2, PasswordHasher, PasswordVerifier};

use crate::model::PasswordHash;

/// Rules every new password must meet.
pub const MIN_PASSWORD_CHARS: usize = 10;
pub const MAX_PASSWORD_BYTES: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("the password must have at least {MIN_PASSWORD_CHARS} characters")]
    TooShort,
    #[error("the password is too long")]
    TooLong,
    #[error("the password must not be only letters or only digits")]
    TooSimple,
}

/// Checks strength rules that do not need context.
pub fn check_strength(password: &str) -> Result<(), PasswordError> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(PasswordError::TooLong);
    }
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(PasswordError::TooShort);
    }
    let all_alpha = password.chars().all(char::is_alphabetic);
    let all_digit = password.chars().all(|c| c.is_ascii_digit());
    if all_alpha || all_digit {
        return Err(PasswordError::TooSimple);
    }
    Ok(())
}

impl PasswordHash {
    /// Hashes a password with a fresh salt. Does not check strength.
    pub fn create(password: &str) -> PasswordHash {
        let hash =
            Argon2::default().hash_password(password.as_bytes()).expect("argon2 with default parameters");
        PasswordHash(hash.to_string())
    }

    /// Whether `password` matches. A malformed hash never matches.
    pub fn verify(&self, password: &str) -> bool {
        match argon2::PasswordHash::new(&self.0) {
            Ok(h) => Argon2::default().verify_password(password.as_bytes(), &h).is_ok(),
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_verifies_only_the_right_password() {
        let h = PasswordHash::create("correct horse 1");
        assert!(h.0.starts_with("$argon2id$"));
        assert!(h.verify("correct horse 1"));
        assert!(!h.verify("correct horse 2"));
        assert!(!PasswordHash("garbage".into()).verify("x"));
    }

    #[test]
    fn strength_rules() {
        assert_eq!(check_strength("short1"), Err(PasswordError::TooShort));
        assert_eq!(check_strength("abcdefghijkl"), Err(PasswordError::TooSimple));
        assert_eq!(check_strength("123456789012"), Err(PasswordError::TooSimple));
        assert!(check_strength("пароль-2026!").is_ok());
    }
}
