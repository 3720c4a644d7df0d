//! What an administrator may touch: the whole domain, or only some sites (a regional IT person
//! gets exactly their site). Every edit function takes the [`Actor`] making the change and checks
//! its scope against the directory it edits, inside the same edit, so the web pages and the API
//! refuse the same things and a user moved away meanwhile is out of reach at once.
//!
//! A site administrator sees and changes the users whose home is one of their sites, the queues
//! and agents of their sites, and which of their users are in which alias or list. Everything
//! that shapes the domain as a whole — sites themselves, aliases and lists as such, DNS and DKIM,
//! the history, the administrators, login locks — needs the whole domain. Users at other sites
//! are not found (404), as if they did not exist; a site-wide refusal is 403.

use std::collections::BTreeSet;

use axum::http::StatusCode;
use pochta_directory::{Address, Directory, SiteId, User};

use crate::error::ApiError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every site and the domain's settings.
    Domain,
    /// Only these sites' users, queues and agents.
    Sites(BTreeSet<SiteId>),
}

/// The whole domain: what a search without a scope sees (the server's own callers). Pages and
/// the API always set the caller's scope.
impl Default for Scope {
    fn default() -> Scope {
        Scope::Domain
    }
}

impl Scope {
    /// As the `admins.sites` column stores it: empty for the whole domain, else site ids
    /// separated by commas. Ids that no longer parse are dropped (they name no site).
    pub fn from_stored(s: &str) -> Scope {
        if s.trim().is_empty() {
            return Scope::Domain;
        }
        Scope::Sites(s.split(',').filter_map(|id| SiteId::parse(id.trim()).ok()).collect())
    }

    pub fn to_stored(&self) -> String {
        match self {
            Scope::Domain => String::new(),
            Scope::Sites(s) => s.iter().map(SiteId::as_str).collect::<Vec<_>>().join(","),
        }
    }

    pub fn is_domain(&self) -> bool {
        *self == Scope::Domain
    }

    pub fn covers(&self, site: &SiteId) -> bool {
        match self {
            Scope::Domain => true,
            Scope::Sites(s) => s.contains(site),
        }
    }

    /// The sites of this scope that the directory has, in order.
    pub fn sites<'a>(&'a self, dir: &'a Directory) -> impl Iterator<Item = &'a SiteId> + 'a {
        dir.sites.keys().filter(move |id| self.covers(id))
    }

    /// Refuses, unless this scope is the whole domain.
    pub fn need_domain(&self) -> Result<(), ApiError> {
        if self.is_domain() {
            return Ok(());
        }
        Err(ApiError::new(StatusCode::FORBIDDEN, "only an administrator of the whole domain may do this")
            .key("err-scope-domain"))
    }

    /// Refuses a site outside this scope.
    pub fn need_site(&self, site: &SiteId) -> Result<(), ApiError> {
        if self.covers(site) {
            return Ok(());
        }
        Err(ApiError::new(StatusCode::FORBIDDEN, format!("site '{site}' is not one you administer"))
            .key("err-scope-site")
            .arg("site", site)
            .field("site"))
    }

    /// The user a path or form names, if their home is in this scope; others are not found.
    pub fn user<'a>(&self, dir: &'a Directory, name: &str) -> Result<&'a User, ApiError> {
        let u = super::users::find(dir, name)?;
        if self.covers(&u.site) {
            return Ok(u);
        }
        Err(ApiError::not_found(format!("there is no user '{}'", u.name))
            .key("err-no-such-user")
            .arg("name", &u.name))
    }
}

impl Scope {
    /// A member a site administrator may add to or take out of an alias or list: an address of
    /// one of their users. Administrators of the whole domain may name anyone.
    pub fn member(&self, dir: &Directory, addr: &Address) -> Result<(), ApiError> {
        let theirs =
            dir.is_ours(addr.domain()) && dir.user(addr.local()).is_some_and(|u| self.covers(&u.site));
        if self.is_domain() || theirs {
            return Ok(());
        }
        Err(ApiError::new(StatusCode::FORBIDDEN, format!("{addr} is not one of the users you administer"))
            .key("err-scope-member")
            .arg("address", addr)
            .field("member"))
    }
}

/// Who makes a change: the name the history records, and what they may touch.
#[derive(Debug, Clone)]
pub struct Actor {
    pub name: String,
    pub scope: Scope,
}

impl Actor {
    /// The server itself, an `init` or the demo: the whole domain.
    pub fn domain(name: impl Into<String>) -> Actor {
        Actor { name: name.into(), scope: Scope::Domain }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(s: &str) -> SiteId {
        SiteId::parse(s).unwrap()
    }

    #[test]
    fn stored_form_round_trips() {
        assert_eq!(Scope::from_stored(""), Scope::Domain);
        let s = Scope::from_stored("spb, msk");
        assert_eq!(s.to_stored(), "msk,spb");
        assert!(s.covers(&site("msk")) && !s.covers(&site("nsk")));
        assert_eq!(Scope::from_stored(&s.to_stored()), s);
        assert_eq!(s.need_site(&site("nsk")).unwrap_err().status, StatusCode::FORBIDDEN);
        assert!(s.need_domain().is_err() && Scope::Domain.need_domain().is_ok());
    }
}
