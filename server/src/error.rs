//! The error of the edit layer and the API: a status and a message the client may see, as JSON
//! `{"error": "..."}`. Internal failures are logged in full and shown as a generic message.
//!
//! The same value also carries what the web pages need to show it in the reader's language: a
//! Fluent message key with its arguments, and the form field it is about. One refusal, two
//! faces: the JSON API answers `message`, the pages render `key` next to `field`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use pochta_directory::DirectoryError;

use crate::db::DbError;
use crate::publish::EditError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    /// English, for the JSON API and the log.
    pub message: String,
    /// The Fluent key of the same message (`locales/*/errors.ftl`).
    pub key: &'static str,
    /// Fluent arguments; numbers are passed as numbers so plural forms work.
    pub args: Vec<(&'static str, String)>,
    /// The form field the error is about, if any.
    pub field: Option<&'static str>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        let key = match status {
            StatusCode::NOT_FOUND => "err-not-found",
            StatusCode::CONFLICT => "err-conflict",
            StatusCode::UNAUTHORIZED => "err-unauthorized",
            s if s.is_server_error() => "err-internal",
            _ => "err-invalid",
        };
        Self { status, message: message.into(), key, args: Vec::new(), field: None }
    }
    /// Sets the Fluent key of the message.
    pub fn key(mut self, key: &'static str) -> Self {
        self.key = key;
        self
    }
    pub fn arg(mut self, name: &'static str, value: impl ToString) -> Self {
        self.args.push((name, value.to_string()));
        self
    }
    pub fn field(mut self, field: &'static str) -> Self {
        self.field = Some(field);
        self
    }
    pub fn bad_request(m: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, m)
    }
    pub fn not_found(m: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, m)
    }
    pub fn conflict(m: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, m)
    }
    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "missing or invalid credentials")
    }
    pub fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error; see the server log")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = pochta_directory::api::ErrorBody { error: self.message, version: None };
        (self.status, Json(body)).into_response()
    }
}

impl From<DirectoryError> for ApiError {
    fn from(e: DirectoryError) -> Self {
        let status = match e {
            // Handlers look up the record a path names first (404); the directory reports a
            // missing site only when a request body names one (a new user's site, a move).
            DirectoryError::NoSuchUser(_) | DirectoryError::NoSuchGroup(_) => StatusCode::NOT_FOUND,
            DirectoryError::NameTaken(..) | DirectoryError::SiteNotEmpty(..) => StatusCode::CONFLICT,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        };
        let err = Self::new(status, e.to_string());
        match e {
            DirectoryError::BadSiteId(id) => err.key("err-site-id").arg("id", id).field("site"),
            DirectoryError::BadLevel(l) => err.key("err-level").arg("level", l).field("level"),
            DirectoryError::NoSuchSite(s) => err.key("err-no-such-site").arg("site", s).field("site"),
            DirectoryError::SiteNotEmpty(s, n) => {
                err.key("err-site-not-empty").arg("site", s).arg("count", n).field("level")
            }
            DirectoryError::NoSuchUser(n) => err.key("err-no-such-user").arg("name", n),
            DirectoryError::NoSuchGroup(n) => err.key("err-no-such-group").arg("name", n),
            DirectoryError::NameTaken(n, kind) => {
                err.key("err-name-taken").arg("name", n).arg("kind", kind).field("name")
            }
            DirectoryError::Reserved(n) => err.key("err-name-reserved").arg("name", n).field("name"),
            DirectoryError::NameChar(n, c) => {
                err.key("err-name-char").arg("name", n).arg("char", c).field("name")
            }
            DirectoryError::NameDots(n) => err.key("err-name-dots").arg("name", n).field("name"),
            DirectoryError::MixedScripts(n) => err.key("err-name-mixed-scripts").arg("name", n).field("name"),
            DirectoryError::Confusable(n, other) => {
                err.key("err-name-confusable").arg("name", n).arg("other", other).field("name")
            }
            DirectoryError::NoMailboxes(s) => err.key("err-no-mailboxes").arg("site", s).field("site"),
            DirectoryError::SelfMember(kind) => err.key("err-self-member").arg("kind", kind).field("members"),
            DirectoryError::BadDay(d) => err.key("err-bad-day").arg("day", d).field("vacation"),
            DirectoryError::TooManyForwards => err
                .key("err-too-many-forwards")
                .arg("max", pochta_directory::model::MAX_FORWARDS)
                .field("forward"),
            DirectoryError::ForwardsToSelf(_) => err.key("err-forwards-to-self").field("forward"),
            DirectoryError::BadVacationSubject => err
                .key("err-vacation-subject")
                .arg("max", pochta_directory::model::MAX_VACATION_SUBJECT_CHARS)
                .field("vacation_subject"),
            DirectoryError::BadVacationText => err
                .key("err-vacation-text")
                .arg("max", pochta_directory::model::MAX_VACATION_TEXT_BYTES)
                .field("vacation_text"),
            DirectoryError::VacationEndsBeforeStart => err.key("err-vacation-dates").field("vacation_end"),
            DirectoryError::BadVacationInterval => err
                .key("err-vacation-interval")
                .arg("max", pochta_directory::model::MAX_VACATION_DAYS)
                .field("vacation_days"),
            DirectoryError::ControlCharacters(field) => err.key("err-control-characters").field(field),
            DirectoryError::NonAsciiName(n) => err.key("err-name-non-ascii").arg("name", n).field("name"),
            DirectoryError::TooManyAppPasswords => err
                .key("err-app-passwords-too-many")
                .arg("max", pochta_directory::app_password::MAX_APP_PASSWORDS)
                .field("label"),
            DirectoryError::BadAppPasswordLabel => err
                .key("err-app-password-label")
                .arg("max", pochta_directory::app_password::MAX_APP_PASSWORD_LABEL_CHARS)
                .field("label"),
            DirectoryError::BadAppPasswords => err.key("err-app-passwords-malformed").field("label"),
            DirectoryError::Dkim(d) => {
                use pochta_directory::dkim::DkimError as D;
                let status = match &d {
                    D::NoSuchKey(_) => StatusCode::NOT_FOUND,
                    D::AnotherActive(_) => StatusCode::CONFLICT,
                    _ => StatusCode::UNPROCESSABLE_ENTITY,
                };
                let err = Self { status, ..err };
                match d {
                    D::BadSelector(s) => err.key("err-dkim-selector").arg("selector", s).field("selector"),
                    D::NoSuchKey(s) => err.key("err-dkim-no-such-key").arg("selector", s),
                    D::BadKey(s) | D::KeyChanged(s) => err.key("err-dkim-key").arg("selector", s),
                    D::AnotherActive(s) => err.key("err-dkim-another-active").arg("selector", s),
                }
            }
        }
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Conflict(_) => Self::conflict(e.to_string()),
            e => Self::internal(e),
        }
    }
}

impl From<EditError> for ApiError {
    fn from(e: EditError) -> Self {
        match e {
            EditError::Directory(d) => d.into(),
            EditError::Db(d) => d.into(),
        }
    }
}

impl From<pochta_directory::password::PasswordError> for ApiError {
    fn from(e: pochta_directory::password::PasswordError) -> Self {
        use pochta_directory::password::{MIN_PASSWORD_CHARS, PasswordError as P};
        let err = Self::bad_request(format!("password: {e}")).field("password");
        match e {
            P::TooShort => err.key("err-password-short").arg("min", MIN_PASSWORD_CHARS),
            P::TooLong => err.key("err-password-long"),
            P::TooSimple => err.key("err-password-simple"),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        Self::internal(e)
    }
}
