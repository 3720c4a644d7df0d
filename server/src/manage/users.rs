//! Users: create, edit, disable, delete, set a password, move to another site.

use super::scope::Actor;
use pochta_directory::model::{Forwarding, MailboxSettings, Vacation};
use pochta_directory::password::check_strength;
use pochta_directory::wire::Version;
use pochta_directory::{Address, Directory, DirectoryError, LocalPart, Op, SiteId, User};

use super::parse_field;
use super::scope::Scope;
use crate::db::{self, web::Role};
use crate::error::ApiError;
use crate::publish::Edit;
use crate::state::AppState;

/// A user's name as typed, parsed.
pub fn parse_name(name: &str) -> Result<LocalPart, ApiError> {
    parse_field("name", "name", "err-user-name", LocalPart::parse(name.trim()))
}

pub fn parse_site(site: &str) -> Result<SiteId, ApiError> {
    parse_field("site", "site", "err-site-id", SiteId::parse(site))
}

/// The user a path or form names.
pub fn find<'a>(dir: &'a Directory, name: &str) -> Result<&'a User, ApiError> {
    let name = parse_field("name", "user name", "err-user-name", LocalPart::parse(name))?;
    dir.user(&name).ok_or_else(|| {
        ApiError::not_found(format!("there is no user '{name}'")).key("err-no-such-user").arg("name", &name)
    })
}

pub struct NewUser {
    pub name: String,
    pub display_name: String,
    pub site: String,
    pub password: Option<String>,
    pub enabled: bool,
    /// Quota, forwarding and vacation; checked with the rest of the user by `Directory::check`.
    pub mailbox: MailboxSettings,
}

/// Creates a user. The password, when given, must meet the strength rules.
pub async fn create(st: &AppState, by: &Actor, new: NewUser) -> Result<(LocalPart, Version), ApiError> {
    let name = parse_name(&new.name)?;
    let site = parse_site(&new.site)?;
    by.scope.need_site(&site)?;
    super::mailbox::check_quota(new.mailbox.quota)?;
    super::check_len("display_name", new.display_name.trim(), super::MAX_DISPLAY_NAME_CHARS)?;
    let password = match new.password {
        Some(p) => {
            check_strength(&p)?;
            Some(st.hash_password(p).await)
        }
        None => None,
    };
    let user = User {
        app_passwords: Vec::new(),
        name: name.clone(),
        display_name: new.display_name.trim().to_owned(),
        site,
        former_sites: Default::default(),
        password,
        enabled: new.enabled,
        mailbox: new.mailbox,
    };
    let v = st
        .publisher
        .edit::<ApiError>(&by.name, |dir| {
            if dir.user(&name).is_some() {
                return Err(ApiError::conflict(format!("user '{name}' already exists"))
                    .key("err-user-exists")
                    .arg("name", &name)
                    .field("name"));
            }
            Ok(vec![Op::PutUser(user)])
        })
        .await?;
    Ok((name, v))
}

/// What to change; `None` leaves a field as it is. For the mailbox settings, `Some(None)`
/// removes the quota (the site's default applies), the forwarding or the vacation reply.
#[derive(Default)]
pub struct UserPatch {
    pub display_name: Option<String>,
    pub enabled: Option<bool>,
    pub quota: Option<Option<u64>>,
    pub forward: Option<Option<Forwarding>>,
    pub vacation: Option<Option<Vacation>>,
}

/// Ends every browser session of a user but `keep` (a session cookie), in the edit's
/// transaction: after a password reset, a delete or a disable, nobody stays logged in as him.
/// Returns how many ended.
async fn end_sessions(edit: &mut Edit<'_>, name: &LocalPart, keep: Option<&str>) -> Result<u64, ApiError> {
    Ok(db::web::delete_sessions_of(&mut *edit.tx, Role::User, name.folded(), keep).await?)
}

/// Edits a user's display name, whether he is enabled, and his mailbox settings; disabling
/// ends his sessions. Every field is checked before anything is written: the quota here, the
/// rest by `Directory::check` inside the commit, which runs before its transaction writes.
pub async fn update(st: &AppState, by: &Actor, name: &str, patch: UserPatch) -> Result<Version, ApiError> {
    if let Some(q) = patch.quota {
        super::mailbox::check_quota(q)?;
    }
    let mut edit = st.publisher.begin().await?;
    let old = by.scope.user(edit.directory(), name)?;
    let mut u = old.clone();
    if let Some(d) = patch.display_name {
        super::check_len("display_name", d.trim(), super::MAX_DISPLAY_NAME_CHARS)?;
        u.display_name = d.trim().to_owned();
    }
    if let Some(e) = patch.enabled {
        u.enabled = e;
    }
    if let Some(q) = patch.quota {
        u.mailbox.quota = q;
    }
    if let Some(f) = patch.forward {
        u.mailbox.forward = f;
    }
    if let Some(v) = patch.vacation {
        u.mailbox.vacation = v;
    }
    let ops = if &u == old { vec![] } else { vec![Op::put_user_keeping_password(&u)] };
    if patch.enabled == Some(false) {
        end_sessions(&mut edit, &u.name, None).await?;
    }
    Ok(edit.commit(&by.name, ops).await?)
}

/// Every address a user receives mail at: official, current and former local addresses.
pub fn addresses(dir: &Directory, u: &User) -> Vec<Address> {
    let mut out = vec![dir.official(&u.name)];
    for s in std::iter::once(&u.site).chain(&u.former_sites) {
        out.push(Address::new(u.name.clone(), dir.site_domain(s)));
    }
    out
}

/// Deletes a user and, in the same change set, takes him out of every alias and list; his
/// sessions end with it.
pub async fn delete(st: &AppState, by: &Actor, name: &str) -> Result<Version, ApiError> {
    let mut edit = st.publisher.begin().await?;
    let dir = edit.directory();
    let u = by.scope.user(dir, name)?;
    let user = u.name.clone();
    let mut ops = vec![Op::DeleteUser { name: u.name.clone() }];
    let addresses = addresses(dir, u);
    for g in dir.groups.values() {
        if addresses.iter().any(|a| g.members.contains(a)) {
            let mut g = g.clone();
            g.members.retain(|m| !addresses.contains(m));
            ops.push(Op::PutGroup(g));
        }
    }
    end_sessions(&mut edit, &user, None).await?;
    Ok(edit.commit(&by.name, ops).await?)
}

/// Sets a new password (strength rules apply) and ends the user's sessions; hashing runs off
/// the async threads.
pub async fn set_password(
    st: &AppState,
    by: &Actor,
    name: &str,
    password: String,
) -> Result<Version, ApiError> {
    Ok(set_password_keeping(st, &by.name, &by.scope, name, password, None).await?.0)
}

/// A user's change of his own password: his other sessions end, the one he changed it from
/// (`session`, its cookie) stays. Returns how many sessions ended.
pub async fn set_own_password(
    st: &AppState,
    author: &str,
    name: &str,
    password: String,
    session: Option<&str>,
) -> Result<u64, ApiError> {
    // His own record: no administrator's scope applies.
    Ok(set_password_keeping(st, author, &Scope::Domain, name, password, session).await?.1)
}

async fn set_password_keeping(
    st: &AppState,
    author: &str,
    scope: &Scope,
    name: &str,
    password: String,
    keep: Option<&str>,
) -> Result<(Version, u64), ApiError> {
    scope.user(&st.publisher.current().0, name)?;
    check_strength(&password)?;
    let hash = st.hash_password(password).await;
    let mut edit = st.publisher.begin().await?;
    let user = scope.user(edit.directory(), name)?.name.clone();
    let ended = end_sessions(&mut edit, &user, keep).await?;
    let v = edit.commit(author, vec![Op::SetPassword { name: user, hash: Some(hash) }]).await?;
    Ok((v, ended))
}

/// What moving a user to another site will do, for the confirmation page.
pub struct MovePlan {
    pub user: LocalPart,
    pub from: SiteId,
    pub to: SiteId,
    pub new_local: Address,
    /// Local addresses that keep working after the move.
    pub kept: Vec<Address>,
    /// Aliases and lists that name the user (they keep working: they name his addresses).
    pub groups: Vec<LocalPart>,
    /// How many agents the destination site has (zero: the mail waits until one enrolls).
    pub to_agents: usize,
}

/// Checks a move without making it.
pub fn plan_move(dir: &Directory, name: &str, site: &str) -> Result<MovePlan, ApiError> {
    let u = find(dir, name)?;
    let to = parse_site(site)?;
    let dest = dir
        .site(&to)
        .ok_or_else(|| ApiError::from(pochta_directory::DirectoryError::NoSuchSite(to.clone())))?;
    if !dest.level.has_mailboxes() {
        return Err(pochta_directory::DirectoryError::NoMailboxes(to).into());
    }
    if to == u.site {
        return Err(ApiError::bad_request(format!("'{}' already lives at site '{to}'", u.name))
            .key("err-move-same-site")
            .arg("name", &u.name)
            .arg("site", &to)
            .field("site"));
    }
    let addrs = addresses(dir, u);
    let mut kept: Vec<Address> = addrs[1..].to_vec();
    kept.sort();
    let groups = dir
        .groups
        .values()
        .filter(|g| addrs.iter().any(|a| g.members.contains(a)))
        .map(|g| g.name.clone())
        .collect();
    Ok(MovePlan {
        user: u.name.clone(),
        from: u.site.clone(),
        new_local: Address::new(u.name.clone(), dir.site_domain(&to)),
        to_agents: dest.agents.len(),
        to,
        kept,
        groups,
    })
}

/// Moves the user's home to another site. His old local address keeps working. Moving to the
/// site he is at already changes nothing.
pub async fn move_to(st: &AppState, by: &Actor, name: &str, site: &str) -> Result<Version, ApiError> {
    let site = parse_site(site)?;
    let v = st
        .publisher
        .edit::<ApiError>(&by.name, |dir| {
            let u = by.scope.user(dir, name)?.clone();
            by.scope.need_site(&site)?;
            if u.site == site {
                return Ok(vec![]);
            }
            Ok(vec![Op::put_user_keeping_password(&moved(u, &site))])
        })
        .await?;
    Ok(v)
}

/// `u` at home at `site`: the site he leaves joins his former sites (its address keeps working).
fn moved(mut u: User, site: &SiteId) -> User {
    let old = std::mem::replace(&mut u.site, site.clone());
    u.former_sites.insert(old);
    u.former_sites.remove(site);
    u
}

/// One action on many users at once (the users page's selection).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bulk {
    Disable,
    Enable,
    /// Move each to this site.
    Move(String),
    /// Add each one's official address to this alias or list.
    AddTo(String),
    Delete,
}

/// At most this many users in one bulk action (a page of the list at its largest).
pub const MAX_BULK: usize = 200;

/// What a bulk action will do: its ops, and how many of the chosen users it changes (those it
/// would not change are skipped: already disabled, already at the site, already in the list).
/// Only users in `scope` can be chosen, and moved only to its sites.
pub fn plan_bulk(
    dir: &Directory,
    scope: &Scope,
    names: &[String],
    action: &Bulk,
) -> Result<(Vec<Op>, usize), ApiError> {
    if names.is_empty() {
        return Err(ApiError::bad_request("choose at least one user").key("err-bulk-none"));
    }
    if names.len() > MAX_BULK {
        return Err(ApiError::bad_request(format!("at most {MAX_BULK} users at once"))
            .key("err-bulk-too-many")
            .arg("max", MAX_BULK));
    }
    let users: Vec<&User> = names.iter().map(|n| scope.user(dir, n)).collect::<Result<_, _>>()?;
    let mut ops = Vec::new();
    match action {
        Bulk::Disable | Bulk::Enable => {
            let enabled = *action == Bulk::Enable;
            for u in users.into_iter().filter(|u| u.enabled != enabled) {
                ops.push(Op::put_user_keeping_password(&User { enabled, ..u.clone() }));
            }
        }
        Bulk::Move(site) => {
            let site = parse_site(site)?;
            scope.need_site(&site)?;
            let dest =
                dir.site(&site).ok_or_else(|| ApiError::from(DirectoryError::NoSuchSite(site.clone())))?;
            if !dest.level.has_mailboxes() {
                return Err(DirectoryError::NoMailboxes(site).into());
            }
            for u in users.into_iter().filter(|u| u.site != site) {
                ops.push(Op::put_user_keeping_password(&moved(u.clone(), &site)));
            }
        }
        Bulk::AddTo(group) => {
            let mut g = super::groups::find(dir, group)?.clone();
            let before = g.members.len();
            g.members.extend(users.iter().map(|u| dir.official(&u.name)));
            let added = g.members.len() - before;
            if added > 0 {
                ops.push(Op::PutGroup(g));
            }
            return Ok((ops, added));
        }
        Bulk::Delete => {
            let mut all: Vec<Address> = Vec::new();
            for u in &users {
                ops.push(Op::DeleteUser { name: u.name.clone() });
                all.extend(addresses(dir, u));
            }
            for g in dir.groups.values() {
                if all.iter().any(|a| g.members.contains(a)) {
                    let mut g = g.clone();
                    g.members.retain(|m| !all.contains(m));
                    ops.push(Op::PutGroup(g));
                }
            }
        }
    }
    let changed = ops.iter().filter(|o| matches!(o, Op::PutUser(_) | Op::DeleteUser { .. })).count();
    Ok((ops, changed))
}

/// Applies a bulk action as one change set; disabling or deleting ends the users' sessions.
/// Returns the version and how many users it changed.
pub async fn bulk(
    st: &AppState,
    by: &Actor,
    names: &[String],
    action: Bulk,
) -> Result<(Version, usize), ApiError> {
    let mut edit = st.publisher.begin().await?;
    let (ops, changed) = plan_bulk(edit.directory(), &by.scope, names, &action)?;
    if matches!(action, Bulk::Disable | Bulk::Delete) {
        let who: Vec<LocalPart> =
            names.iter().filter_map(|n| find(edit.directory(), n).ok().map(|u| u.name.clone())).collect();
        for name in who {
            end_sessions(&mut edit, &name, None).await?;
        }
    }
    Ok((edit.commit(&by.name, ops).await?, changed))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    #[default]
    Name,
    DisplayName,
    Site,
    /// Bytes in the mailbox (as the home site reported); not reported sorts as least.
    Usage,
}

impl SortKey {
    pub fn parse(s: &str) -> SortKey {
        match s {
            "display_name" => SortKey::DisplayName,
            "site" => SortKey::Site,
            "usage" => SortKey::Usage,
            _ => SortKey::Name,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            SortKey::Name => "name",
            SortKey::DisplayName => "display_name",
            SortKey::Site => "site",
            SortKey::Usage => "usage",
        }
    }
}

/// A page of the user list: search, filter, sort.
#[derive(Debug, Clone, Default)]
pub struct Search {
    /// Part of a name, display name or address (case-insensitive).
    pub q: String,
    pub site: Option<SiteId>,
    /// Only enabled (`Some(true)`) or only disabled users.
    pub enabled: Option<bool>,
    pub sort: SortKey,
    pub desc: bool,
    pub offset: usize,
    pub limit: usize,
    /// Only users at home at these sites (a site administrator's list).
    pub scope: Scope,
}

/// Runs a search over the in-memory directory: one pass over the users, and for a sort other
/// than by name a partial selection of just the page asked for, so 100,000 users take a few
/// milliseconds. `usage` gives a user's mailbox size for the sort by usage. Returns the number of
/// matches and the page.
pub fn search<'a>(
    dir: &'a Directory,
    s: &Search,
    usage: &dyn Fn(&User) -> Option<u64>,
) -> (usize, Vec<&'a User>) {
    let mut needle = s.q.trim().to_lowercase();
    // `ivanov@example.org` or `ivanov@msk.example.org`: search by the local part.
    if let Some((local, domain)) = needle.split_once('@') {
        let ours = dir.domain.as_str();
        if domain.is_empty() || domain == ours || domain.ends_with(&format!(".{ours}")) {
            needle = local.to_owned();
        }
    }
    let matches = |u: &&User| {
        s.scope.covers(&u.site)
            && s.site.as_ref().is_none_or(|site| &u.site == site)
            && s.enabled.is_none_or(|e| u.enabled == e)
            && (needle.is_empty()
                || u.name.folded().contains(&needle)
                || u.display_name.to_lowercase().contains(&needle))
    };
    let end = s.offset.saturating_add(s.limit);
    if s.sort == SortKey::Name {
        // The directory is ordered by name already.
        let mut total = 0;
        let mut page = Vec::with_capacity(s.limit.min(1000));
        let iter: Box<dyn Iterator<Item = &User>> =
            if s.desc { Box::new(dir.users.values().rev()) } else { Box::new(dir.users.values()) };
        for u in iter.filter(matches) {
            if total >= s.offset && total < end {
                page.push(u);
            }
            total += 1;
        }
        return (total, page);
    }
    // Sort keys are computed once per match, not once per comparison.
    let mut all: Vec<(String, Option<u64>, &User)> = dir
        .users
        .values()
        .filter(matches)
        .map(|u| match s.sort {
            SortKey::DisplayName => (u.display_name.to_lowercase(), None, u),
            SortKey::Usage => (String::new(), usage(u), u),
            _ => (String::new(), None, u),
        })
        .collect();
    let total = all.len();
    let cmp = |a: &(String, Option<u64>, &User), b: &(String, Option<u64>, &User)| {
        let o = match s.sort {
            SortKey::DisplayName => a.0.cmp(&b.0),
            SortKey::Usage => a.1.cmp(&b.1),
            SortKey::Site => a.2.site.cmp(&b.2.site),
            SortKey::Name => std::cmp::Ordering::Equal,
        }
        .then_with(|| a.2.name.cmp(&b.2.name));
        if s.desc { o.reverse() } else { o }
    };
    if end < all.len() && end > 0 {
        all.select_nth_unstable_by(end - 1, cmp);
        all.truncate(end);
    }
    all.sort_by(cmp);
    let page = all.into_iter().skip(s.offset).take(s.limit).map(|(.., u)| u).collect();
    (total, page)
}
