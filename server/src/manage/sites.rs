//! Sites: create, edit, delete, enrollment codes for their agents, and MX priorities.

use super::scope::{Actor, Scope};
use pochta_directory::api::EnrollmentCode;
use pochta_directory::wire::Version;
use pochta_directory::{Directory, Level, Op, Site, SiteId};

use super::parse_field;
use crate::db;
use crate::error::ApiError;
use crate::state::AppState;

pub fn find<'a>(dir: &'a Directory, id: &str) -> Result<&'a Site, ApiError> {
    let id = parse_field("site", "site", "err-site-id", SiteId::parse(id))?;
    dir.site(&id).ok_or_else(|| {
        ApiError::not_found(format!("there is no site '{id}'")).key("err-no-such-site").arg("site", &id)
    })
}

pub fn parse_level(level: &str) -> Result<Level, ApiError> {
    level.trim().parse::<u8>().ok().and_then(|l| Level::try_from(l).ok()).ok_or_else(|| {
        ApiError::bad_request(format!("level: '{}' is not a server level (0, 1 or 2)", level.trim()))
            .key("err-level")
            .arg("level", level.trim())
            .field("level")
    })
}

/// A site's human name: not empty, one line, at most 200 characters.
fn check_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 || name.contains(['\n', '\r']) {
        return Err(ApiError::bad_request("name: give the site a name of one line, at most 200 characters")
            .key("err-site-name")
            .field("name"));
    }
    Ok(name.to_owned())
}

pub struct NewSite {
    pub id: String,
    pub name: String,
    pub level: Level,
    /// Quota of its users who have none of their own; `None`: no limit.
    pub default_quota: Option<u64>,
}

pub async fn create(st: &AppState, by: &Actor, new: NewSite) -> Result<(SiteId, Version), ApiError> {
    by.scope.need_domain()?;
    let id = parse_field("id", "id", "err-site-id", SiteId::parse(&new.id))
        .map_err(|e| e.arg("id", new.id.trim()))?;
    let name = check_name(&new.name)?;
    let default_quota =
        super::mailbox::check_quota(new.default_quota).map_err(|e| e.field("default_quota"))?;
    let site =
        Site { id: id.clone(), name, level: new.level, agents: vec![], default_quota, outgoing: vec![] };
    let v = st
        .publisher
        .edit::<ApiError>(&by.name, |dir| {
            if dir.site(&id).is_some() {
                return Err(ApiError::conflict(format!("site '{id}' already exists"))
                    .key("err-site-exists")
                    .arg("site", &id)
                    .field("id"));
            }
            Ok(vec![Op::PutSite(site)])
        })
        .await?;
    Ok((id, v))
}

#[derive(Default)]
pub struct SitePatch {
    pub name: Option<String>,
    pub level: Option<Level>,
    /// `Some(None)`: no default quota.
    pub default_quota: Option<Option<u64>>,
    /// The addresses the site's mail leaves from (for SPF), as typed: separated by spaces,
    /// commas or lines; empty: its agents' addresses.
    pub outgoing: Option<Vec<String>>,
}

/// Parses outgoing addresses: IPv4 or IPv6 literals, each once, at most 32.
pub fn parse_outgoing(items: &[String]) -> Result<Vec<std::net::IpAddr>, ApiError> {
    let mut out: Vec<std::net::IpAddr> = Vec::new();
    for item in items.iter().flat_map(|s| s.split([',', ' ', '\n', '\r', ';'])).filter(|s| !s.is_empty()) {
        let ip: std::net::IpAddr = item.trim().parse().map_err(|_| {
            ApiError::bad_request(format!("outgoing: '{item}' is not an IPv4 or IPv6 address"))
                .key("err-outgoing-address")
                .arg("address", item)
                .field("outgoing")
        })?;
        if !out.contains(&ip) {
            out.push(ip);
        }
    }
    if out.len() > 32 {
        return Err(ApiError::bad_request("outgoing: at most 32 addresses")
            .key("err-outgoing-many")
            .arg("max", 32)
            .field("outgoing"));
    }
    Ok(out)
}

pub async fn update(st: &AppState, by: &Actor, id: &str, patch: SitePatch) -> Result<Version, ApiError> {
    by.scope.need_domain()?;
    let name = patch.name.as_deref().map(check_name).transpose()?;
    if let Some(q) = patch.default_quota {
        super::mailbox::check_quota(q).map_err(|e| e.field("default_quota"))?;
    }
    let outgoing = patch.outgoing.as_deref().map(parse_outgoing).transpose()?;
    let v = st
        .publisher
        .edit::<ApiError>(&by.name, |dir| {
            let old = find(dir, id)?;
            let mut s = old.clone();
            if let Some(n) = name {
                s.name = n;
            }
            if let Some(l) = patch.level {
                s.level = l;
            }
            if let Some(q) = patch.default_quota {
                s.default_quota = q;
            }
            if let Some(o) = outgoing {
                s.outgoing = o;
            }
            Ok(if &s == old { vec![] } else { vec![Op::PutSite(s)] })
        })
        .await?;
    Ok(v)
}

/// Deletes an empty site and forgets its agents.
pub async fn delete(st: &AppState, by: &Actor, id: &str) -> Result<Version, ApiError> {
    by.scope.need_domain()?;
    let mut edit = st.publisher.begin().await?;
    let site = find(edit.directory(), id)?.clone();
    for a in &site.agents {
        db::auth::delete_agent(&mut edit.tx, &a.id).await?;
    }
    let v = edit.commit(&by.name, vec![Op::DeleteSite { id: site.id.clone() }]).await?;
    for a in &site.agents {
        st.pusher.forget(&a.id);
    }
    Ok(v)
}

/// A one-time enrollment code for a new agent of the site, and when it expires.
pub async fn enrollment(st: &AppState, scope: &Scope, id: &str) -> Result<(SiteId, String, i64), ApiError> {
    if let Ok(site) = SiteId::parse(id) {
        scope.need_site(&site)?;
    }
    let (dir, _) = st.publisher.current();
    let site = find(&dir, id)?;
    let (token, expires_at) =
        db::auth::create_enrollment(&st.db.pool, site.id.as_str(), st.config.enrollment_ttl_secs).await?;
    let code =
        EnrollmentCode { server: st.public_url.to_string(), tls_sha256: st.tls_sha256.to_string(), token };
    Ok((site.id.clone(), code.encode(), expires_at))
}
