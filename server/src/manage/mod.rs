//! The edit layer: every change an administrator or a user can make, checked and turned into a
//! change set. The JSON API (`api/`) and the web pages (`web/`) both call these functions and
//! only these, so a rule is written once and both faces refuse the same input the same way.
//!
//! Functions take plain input (as typed in a form or sent as JSON), parse it into the directory's
//! newtypes, check it against the in-memory directory inside `Publisher::edit`, and either commit
//! one change set or return an [`ApiError`] that says why (in English for the API, as a Fluent key
//! and a form field for the pages) and changes nothing.

pub mod admins;
pub mod agents;
pub mod app_passwords;
pub mod dkim;
pub mod dns;
pub mod groups;
pub mod history;
pub mod import;
pub mod mailbox;
pub mod queue;
pub mod scope;
pub mod settings;
pub mod sites;
pub mod trace;
pub mod two_factor;
pub mod users;

use crate::error::ApiError;

/// Parses one input field into a newtype, or refuses with `what: <parser's reason>` (API) and
/// `key` next to `field` (pages).
pub fn parse_field<T, E: std::fmt::Display>(
    field: &'static str,
    what: &str,
    key: &'static str,
    r: Result<T, E>,
) -> Result<T, ApiError> {
    r.map_err(|e| ApiError::bad_request(format!("{what}: {e}")).key(key).field(field).arg("reason", e))
}

/// The longest display name (the From of the user's letters, the address book).
pub const MAX_DISPLAY_NAME_CHARS: usize = 200;
/// The longest description of an alias or list.
pub const MAX_DESCRIPTION_CHARS: usize = 500;

/// Refuses `value` when it has more than `max` characters, next to `field`.
pub fn check_len(field: &'static str, value: &str, max: usize) -> Result<(), ApiError> {
    let n = value.chars().count();
    if n > max {
        return Err(ApiError::bad_request(format!("{field}: at most {max} characters, not {n}"))
            .key("err-too-long")
            .arg("max", max)
            .arg("count", n)
            .field(field));
    }
    Ok(())
}
