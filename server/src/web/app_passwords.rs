//! The "app passwords" card, on the user's own page and on an administrator's page of a user:
//! the list with a revoke button each, the form that makes one, and the password just made,
//! shown once.

use pochta_directory::User;

use super::ctx::urlencode;

/// What the card shows.
pub struct AppsView {
    /// Where its forms post: `<base>` makes one, `<base>/<id>/revoke` revokes one.
    pub base: String,
    pub rows: Vec<AppRow>,
    /// The password just made: shown on the page that answers the POST and never again.
    pub made: Option<MadeApp>,
}

pub struct AppRow {
    pub id: u32,
    pub label: String,
    pub created: i64,
}

pub struct MadeApp {
    pub label: String,
    pub password: String,
}

impl AppsView {
    /// The card for `u`, posting to the user's own `/me` (`admin`: false) or to the
    /// administrator's page of him.
    pub fn of(u: &User, admin: bool) -> AppsView {
        let base = match admin {
            true => format!("/admin/users/{}/app-passwords", urlencode(u.name.as_str())),
            false => "/me/app-passwords".to_owned(),
        };
        let mut rows: Vec<AppRow> = u
            .app_passwords
            .iter()
            .map(|a| AppRow { id: a.id, label: a.label.clone(), created: a.created })
            .collect();
        rows.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| a.label.cmp(&b.label)));
        AppsView { base, rows, made: None }
    }
}
