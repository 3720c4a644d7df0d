//! The edit layer: every change an administrator or a user can make, checked and turned into a
//! change set. The JSON API (`api/`) and the web pages (`web/`) both call these functions and
//! only these, so a rule is written once and both faces refuse the same input the same way.
//!
//! Functions take plain input (as typed in a form or sent as JSON), parse it into the directory's
//! newtypes, check it against the in-memory directory inside `Publisher::edit`, and either commit
//! one change set or return an [`ApiError`] that says why (in English for the API, as a Fluent key
//! and a form field for the pages) and changes nothing.

pub mod agents;
pub mod dkim;
pub mod dns;
pub mod groups;
pub mod import;
pub mod mailbox;
pub mod sites;
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
