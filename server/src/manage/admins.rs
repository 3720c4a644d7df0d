//! Administrators, managed in the web application: create (with a generated password shown
//! once), reset a password, disable and enable. A disabled administrator cannot log in, its
//! sessions end and the API tokens it made stop working; the last enabled administrator, and
//! the one asking, cannot be disabled — nobody could get back in. An administrator may be limited
//! to some sites (see `scope`); only administrators of the whole domain manage administrators,
//! and nobody limits themselves, so one of the whole domain always remains.

use std::collections::BTreeSet;

use pochta_directory::{Directory, SiteId};

use super::scope::{Actor, Scope};
use crate::db::{self, web::Role};
use crate::error::ApiError;
use crate::state::AppState;

/// The longest administrator name.
pub const MAX_NAME: usize = 64;

/// Administrator names: lower-case Latin letters, digits, `.`, `-`, `_`; never an `@` (a login
/// with one is a user's address).
pub fn check_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
    if ok {
        Ok(name.to_owned())
    } else {
        Err(ApiError::bad_request(format!(
            "'{name}' is not an administrator name: 1 to {MAX_NAME} lower-case Latin letters, digits, '.', '-', '_'"
        ))
        .key("err-admin-name")
        .arg("max", MAX_NAME)
        .field("name"))
    }
}

/// A new password to hand over once: 20 characters of a random token.
pub(crate) fn new_password() -> String {
    db::auth::random_token()[..20].to_owned()
}

/// The sites a form or request names for an administrator: none for the whole domain. Each
/// must be a site of the directory.
pub fn parse_sites<S: AsRef<str>>(dir: &Directory, ids: &[S]) -> Result<Scope, ApiError> {
    let mut sites = BTreeSet::new();
    for id in ids.iter().map(|s| s.as_ref().trim()).filter(|s| !s.is_empty()) {
        let site = super::users::parse_site(id)?;
        super::sites::find(dir, site.as_str())?;
        sites.insert(site);
    }
    Ok(if sites.is_empty() { Scope::Domain } else { Scope::Sites(sites) })
}

/// Creates an administrator of `scope` (the whole domain, or some sites); returns the password
/// to give them.
pub async fn create(st: &AppState, by: &Actor, name: &str, scope: &Scope) -> Result<String, ApiError> {
    by.scope.need_domain()?;
    let name = check_name(name)?;
    let password = new_password();
    let hash = st.hash_password(password.clone()).await;
    if !db::auth::add_admin(&st.db.pool, &name, &hash.0, &by.name, &scope.to_stored()).await? {
        return Err(ApiError::conflict(format!("there is already an administrator '{name}'"))
            .key("err-admin-taken")
            .arg("name", &name)
            .field("name"));
    }
    tracing::info!(author = %by.name, admin = %name, "administrator created");
    Ok(password)
}

fn no_such(name: &str) -> ApiError {
    ApiError::not_found(format!("there is no administrator '{name}'"))
        .key("err-no-such-admin")
        .arg("name", name)
}

/// Gives an administrator a new password (returned, to hand over once); their sessions end, but
/// `keep` (the asking administrator's own session, when they reset their own).
pub async fn reset(st: &AppState, by: &Actor, name: &str, keep: Option<&str>) -> Result<String, ApiError> {
    by.scope.need_domain()?;
    let password = new_password();
    let hash = st.hash_password(password.clone()).await;
    let mut tx = st.db.pool.begin().await?;
    if !db::auth::set_admin_password(&mut tx, name, &hash.0, true).await? {
        return Err(no_such(name));
    }
    db::web::delete_sessions_of(&mut *tx, Role::Admin, name, keep).await?;
    tx.commit().await?;
    tracing::info!(author = %by.name, admin = name, "administrator's password reset");
    Ok(password)
}

/// An administrator's own new password: the strength rules, never the one they have now. Every
/// other session of theirs ends (`keep` is the one asking, when there is one). Clears "must
/// change at the next login".
pub async fn set_own_password(
    st: &AppState,
    name: &str,
    password: &str,
    keep: Option<&str>,
) -> Result<(), ApiError> {
    pochta_directory::password::check_strength(password).map_err(|e| ApiError::from(e).field("password"))?;
    let current = db::auth::admin_password(&st.db.pool, name).await?.ok_or_else(|| no_such(name))?;
    if st.verify_password(current, password.to_owned()).await {
        return Err(ApiError::bad_request("the new password is the one you have now")
            .key("err-password-same")
            .field("password"));
    }
    let hash = st.hash_password(password.to_owned()).await;
    let mut tx = st.db.pool.begin().await?;
    db::auth::set_admin_password(&mut tx, name, &hash.0, false).await?;
    for role in [Role::Admin, Role::Pending, Role::Renew] {
        db::web::delete_sessions_of(&mut *tx, role, name, keep).await?;
    }
    tx.commit().await?;
    tracing::info!(admin = name, "administrator chose a new password");
    Ok(())
}

/// Disables (`true`) or enables an administrator.
pub async fn set_disabled(st: &AppState, by: &Actor, name: &str, disabled: bool) -> Result<(), ApiError> {
    by.scope.need_domain()?;
    let admins = db::auth::admins(&st.db.pool).await?;
    let target = admins.iter().find(|a| a.name == name).ok_or_else(|| no_such(name))?;
    if disabled {
        if name == by.name {
            return Err(ApiError::conflict("you cannot disable yourself").key("err-admin-disable-self"));
        }
        let enabled = admins.iter().filter(|a| a.disabled_at.is_none()).count();
        if target.disabled_at.is_none() && enabled <= 1 {
            return Err(ApiError::conflict("the last enabled administrator cannot be disabled")
                .key("err-admin-disable-last"));
        }
    }
    let mut tx = st.db.pool.begin().await?;
    db::auth::set_admin_disabled(&mut tx, name, disabled.then(db::now)).await?;
    if disabled {
        db::web::delete_sessions_of(&mut *tx, Role::Admin, name, None).await?;
    }
    tx.commit().await?;
    tracing::info!(
        author = %by.name,
        admin = name,
        disabled,
        "administrator {}",
        if disabled { "disabled" } else { "enabled" }
    );
    Ok(())
}

/// Limits an administrator to some sites, or gives them the whole domain (`Scope::Domain`).
/// Their next page already shows only what they may touch.
pub async fn set_sites(st: &AppState, by: &Actor, name: &str, scope: &Scope) -> Result<(), ApiError> {
    by.scope.need_domain()?;
    if name == by.name {
        return Err(ApiError::conflict("you cannot change your own sites").key("err-admin-sites-self"));
    }
    let mut tx = st.db.pool.begin().await?;
    if !db::auth::set_admin_sites(&mut tx, name, &scope.to_stored()).await? {
        return Err(no_such(name));
    }
    tx.commit().await?;
    let sites = scope.to_stored();
    tracing::info!(author = %by.name, admin = name, sites = %sites, "administrator's sites changed");
    Ok(())
}

/// The sites of a stored scope that the directory still has, for display.
pub fn site_list(dir: &Directory, stored: &str) -> Vec<SiteId> {
    match Scope::from_stored(stored) {
        Scope::Domain => vec![],
        s => s.sites(dir).cloned().collect(),
    }
}
