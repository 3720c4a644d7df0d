//! App passwords: a user makes one per mail program on his own page (or an administrator, or
//! the API, for him), sees it once, and revokes any of them alone. Each is an edit of his record
//! like any other, so his site's agent takes it for SMTP AUTH, IMAP and POP3 within moments.

use pochta_directory::app_password::MAX_APP_PASSWORD_LABEL_CHARS;
use pochta_directory::wire::Version;
use pochta_directory::{AppDigest, AppPassword, DirectoryError, Op};

use super::scope::Actor;
use crate::db;
use crate::error::ApiError;
use crate::state::AppState;

/// Letters and digits that cannot be mistaken for one another when read off a screen and typed
/// on a phone: no 0, 1, i or l (and with 0 gone, o is unambiguous). Exactly 32, so a random
/// byte's low five bits pick one without bias.
const ALPHABET: &[u8; 32] = b"abcdefghjkmnopqrstuvwxyz23456789";

/// Twenty symbols (100 bits) in five groups of four, as `abcd-efgh-jkmn-pqrs-tuvw`. The hyphens
/// are part of the password; they are there to make it easy to read and type.
pub fn generate() -> String {
    let mut bytes = [0u8; 20];
    getrandom::fill(&mut bytes).expect("the OS has randomness");
    let mut out = String::with_capacity(24);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 && i % 4 == 0 {
            out.push('-');
        }
        out.push(ALPHABET[(b & 31) as usize] as char);
    }
    out
}

/// An app password just made: the password itself exists only here and in the reply.
pub struct Made {
    pub app: AppPassword,
    pub password: String,
    pub version: Version,
}

/// Makes an app password named `label` for `name`.
pub async fn create(st: &AppState, by: &Actor, name: &str, label: &str) -> Result<Made, ApiError> {
    let label = label.trim();
    let n = label.chars().count();
    if n == 0 || n > MAX_APP_PASSWORD_LABEL_CHARS {
        return Err(DirectoryError::BadAppPasswordLabel.into());
    }
    let edit = st.publisher.begin().await?;
    let mut u = by.scope.user(edit.directory(), name)?.clone();
    // A random id, not the next number: a revoke sent from a page opened before an earlier one
    // was revoked cannot hit a newer password that took its number.
    let id = loop {
        let mut b = [0u8; 4];
        getrandom::fill(&mut b).expect("the OS has randomness");
        let id = u32::from_be_bytes(b) >> 1;
        if id != 0 && u.app_passwords.iter().all(|a| a.id != id) {
            break id;
        }
    };
    let password = generate();
    let app =
        AppPassword { id, label: label.to_owned(), digest: AppDigest::of(&password), created: db::now() };
    u.app_passwords.push(app.clone());
    let version = edit.commit(&by.name, vec![Op::put_user_keeping_password(&u)]).await?;
    Ok(Made { app, password, version })
}

/// Revokes app password `id` of `name`; one that does not exist is a 404.
pub async fn revoke(
    st: &AppState,
    by: &Actor,
    name: &str,
    id: u32,
) -> Result<(AppPassword, Version), ApiError> {
    let edit = st.publisher.begin().await?;
    let mut u = by.scope.user(edit.directory(), name)?.clone();
    let Some(at) = u.app_passwords.iter().position(|a| a.id == id) else {
        return Err(ApiError::not_found(format!("{} has no app password {id}", u.name))
            .key("err-no-such-app-password"));
    };
    let gone = u.app_passwords.remove(at);
    let version = edit.commit(&by.name, vec![Op::put_user_keeping_password(&u)]).await?;
    Ok((gone, version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_password_has_five_groups_of_the_alphabet_and_differs_each_time() {
        let a = generate();
        assert_eq!(a.len(), 24);
        let groups: Vec<&str> = a.split('-').collect();
        assert_eq!(groups.len(), 5);
        assert!(groups.iter().all(|g| g.len() == 4 && g.bytes().all(|b| ALPHABET.contains(&b))));
        assert_ne!(a, generate());
        assert!(!b"01il".iter().any(|b| ALPHABET.contains(b)));
    }
}
