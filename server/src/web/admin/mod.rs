//! The administrators' pages (the dashboard at `/admin` is `web::dashboard`). Every handler takes `Page<AdminOnly>` or `Posted<AdminOnly, _>`:
//! an end user or a stranger never reaches one.

pub mod account;
pub mod admins;
pub mod dns;
pub mod groups;
pub mod history;
pub mod import;
pub mod logins;
pub mod queue;
pub mod sites;
pub mod trace;
pub mod users;

use axum::Router;
use axum::routing::{get, post};

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/users", get(users::list))
        .route("/admin/users.csv", get(import::export))
        .route("/admin/users/bulk", post(users::bulk))
        .route("/admin/users/new", get(users::new_page).post(users::create))
        .route("/admin/users/{name}", get(users::show).post(users::update))
        .route("/admin/users/{name}/password", post(users::set_password))
        .route("/admin/users/{name}/groups", post(users::add_to_group))
        .route("/admin/users/{name}/mailbox", post(users::update_mailbox))
        .route("/admin/users/{name}/app-passwords", post(users::create_app_password))
        .route("/admin/users/{name}/app-passwords/{id}/revoke", post(users::revoke_app_password))
        .route("/admin/users/{name}/move", get(users::move_page).post(users::move_to))
        .route("/admin/users/{name}/delete", get(users::delete_page).post(users::delete))
        .route("/admin/groups", get(groups::list))
        .route("/admin/groups/new", get(groups::new_page).post(groups::create))
        .route("/admin/groups/{name}", get(groups::show).post(groups::update))
        .route("/admin/groups/{name}/members", post(groups::add_member))
        .route("/admin/groups/{name}/members/remove", post(groups::remove_member))
        .route("/admin/groups/{name}/delete", get(groups::delete_page).post(groups::delete))
        .route("/admin/sites", get(sites::list).post(sites::create))
        .route("/admin/settings/names", post(sites::names))
        .route("/admin/sites/{id}", get(sites::show).post(sites::update))
        .route("/admin/sites/{id}/enrollment", post(sites::enrollment))
        .route("/admin/sites/{id}/agents/{agent}/forget", get(sites::forget_page).post(sites::forget))
        .route("/admin/sites/{id}/delete", get(sites::delete_page).post(sites::delete))
        .route("/admin/dns", get(dns::page))
        .route("/admin/dns/check", post(dns::check))
        .route("/admin/dns/dkim", post(dns::create_key))
        .route("/admin/dns/dkim/{selector}/{action}", post(dns::key_action))
        .route("/admin/history", get(history::page))
        .route("/admin/history/{version}/revert", get(history::revert_page).post(history::revert))
        .route("/admin/trace", get(trace::page))
        .route("/admin/queue", get(queue::page).post(queue::act))
        .route("/admin/import", get(import::page).post(import::submit))
        .route("/admin/account", get(account::page))
        .route("/admin/account/password", post(account::change_password))
        .route("/admin/account/two-factor", get(account::setup).post(account::enable))
        .route("/admin/account/two-factor/codes", post(account::renew_codes))
        .route("/admin/account/two-factor/off", post(account::disable))
        .route("/admin/admins", get(admins::list).post(admins::create))
        .route("/admin/admins/{name}/reset", post(admins::reset))
        .route("/admin/admins/{name}/sites", post(admins::sites))
        .route("/admin/admins/{name}/{action}", post(admins::state))
        .route("/admin/logins", get(logins::page))
        .route("/admin/logins/lift", post(logins::lift))
}

/// A confirmation page: what will happen, and one button that does it.
#[derive(askama::Template)]
#[template(path = "confirm.html")]
pub struct ConfirmPage {
    pub c: super::session::Ctx,
    pub title: String,
    pub lines: Vec<String>,
    pub action: String,
    pub button: String,
    pub danger: bool,
    pub cancel: String,
    /// Hidden fields to send with the button.
    pub hidden: Vec<(String, String)>,
}
