//! Aliases and mailing lists: create, edit, members, posting policy, and what an address
//! expands to, grouped by site.

use super::scope::Actor;
use std::collections::{BTreeMap, BTreeSet};

use pochta_directory::resolve::{Rejection, Resolution, Sender, resolve};
use pochta_directory::wire::Version;
use pochta_directory::{Address, Directory, Group, GroupKind, LocalPart, Op, PostingPolicy};

use super::parse_field;
use crate::error::ApiError;
use crate::state::AppState;

pub fn find<'a>(dir: &'a Directory, name: &str) -> Result<&'a Group, ApiError> {
    let name = parse_field("name", "name", "err-group-name", LocalPart::parse(name))?;
    dir.group(&name).ok_or_else(|| {
        ApiError::not_found(format!("there is no alias or list '{name}'"))
            .key("err-no-such-group")
            .arg("name", &name)
    })
}

/// A member in our domain must name something that exists; outside addresses are taken as given.
pub fn check_members(dir: &Directory, members: &BTreeSet<Address>) -> Result<(), ApiError> {
    let internal = Sender { address: None, internal: true };
    let below_ours = format!(".{}", dir.domain.as_str());
    for m in members {
        match resolve(dir, m, &internal) {
            // A disabled user or a members-only list is still a valid member; an unknown name is not.
            Err(Rejection::UnknownRecipient) => {
                return Err(ApiError::bad_request(format!(
                    "{m} is not a user, alias or list of this domain"
                ))
                .key("err-member-unknown")
                .arg("address", m)
                .field("members"));
            }
            // `ivanov@mks.example.org` is a mistyped site, not an outside address to send to.
            Err(Rejection::NotOurs) if m.domain().as_str().ends_with(&below_ours) => {
                return Err(ApiError::bad_request(format!(
                    "{m}: {} is not a site of this domain",
                    m.domain()
                ))
                .key("err-member-site")
                .arg("address", m)
                .arg("domain", m.domain())
                .field("members"));
            }
            _ => {}
        }
    }
    Ok(())
}

/// One address per entry; blank entries are skipped (a form's textarea has one per line).
pub fn parse_members<S: AsRef<str>>(list: &[S]) -> Result<BTreeSet<Address>, ApiError> {
    list.iter()
        .map(|m| m.as_ref().trim())
        .filter(|m| !m.is_empty())
        .map(|m| {
            parse_field("members", "member", "err-member-address", Address::parse(m))
                .map_err(|e| e.arg("address", m))
        })
        .collect()
}

/// Final mailboxes by site and external addresses, as an agent would deliver.
#[derive(Debug, Default, serde::Serialize)]
pub struct Expansion {
    pub sites: BTreeMap<String, Vec<String>>,
    pub external: Vec<String>,
}

impl From<Resolution> for Expansion {
    fn from(r: Resolution) -> Self {
        Expansion {
            sites: r
                .local
                .iter()
                .map(|(s, m)| (s.to_string(), m.iter().map(ToString::to_string).collect()))
                .collect(),
            external: r.external.iter().map(ToString::to_string).collect(),
        }
    }
}

/// What an address expands to for an internal sender (posting policies aside).
pub fn expansion(dir: &Directory, addr: &Address) -> Result<Expansion, ApiError> {
    let refused =
        |e: Rejection| ApiError::bad_request(format!("{addr}: {e}")).key("err-resolve").arg("address", addr);
    match resolve(dir, addr, &Sender { address: None, internal: true }) {
        Ok(r) => Ok(r.into()),
        // A members-only list refuses an anonymous sender; show its members anyway. One with
        // no members reaches nobody.
        Err(Rejection::NotAllowed { .. }) => {
            let g = dir.group(addr.local()).ok_or_else(|| ApiError::not_found(addr.to_string()))?;
            let Some(member) = g.members.iter().next() else {
                return Ok(Resolution::default().into());
            };
            let sender = Sender { address: Some(member.clone()), internal: true };
            resolve(dir, addr, &sender).map(Into::into).map_err(refused)
        }
        Err(e) => Err(refused(e)),
    }
}

pub struct NewGroup {
    pub name: String,
    pub kind: GroupKind,
    pub description: String,
    pub members: Vec<String>,
    pub policy: Option<PostingPolicy>,
}

/// The default posting policy of a new group: aliases take mail from anyone, lists only from
/// inside the domain.
pub fn default_policy(kind: GroupKind) -> PostingPolicy {
    match kind {
        GroupKind::Alias => PostingPolicy::Anyone,
        GroupKind::List => PostingPolicy::Internal,
    }
}

pub async fn create(st: &AppState, by: &Actor, new: NewGroup) -> Result<(LocalPart, Version), ApiError> {
    by.scope.need_domain()?;
    let name = parse_field("name", "name", "err-group-name", LocalPart::parse(new.name.trim()))?;
    let members = parse_members(&new.members)?;
    super::check_len("description", new.description.trim(), super::MAX_DESCRIPTION_CHARS)?;
    let policy = new.policy.unwrap_or(default_policy(new.kind));
    let group = Group {
        name: name.clone(),
        kind: new.kind,
        description: new.description.trim().to_owned(),
        members,
        policy,
    };
    let v = st
        .publisher
        .edit::<ApiError>(&by.name, |dir| {
            if dir.group(&name).is_some() {
                return Err(ApiError::conflict(format!("'{name}' already exists"))
                    .key("err-group-exists")
                    .arg("name", &name)
                    .field("name"));
            }
            check_members(dir, &group.members)?;
            Ok(vec![Op::PutGroup(group)])
        })
        .await?;
    Ok((name, v))
}

#[derive(Default)]
pub struct GroupPatch {
    pub description: Option<String>,
    pub members: Option<Vec<String>>,
    pub policy: Option<PostingPolicy>,
    pub kind: Option<GroupKind>,
}

pub async fn update(st: &AppState, by: &Actor, name: &str, patch: GroupPatch) -> Result<Version, ApiError> {
    by.scope.need_domain()?;
    let members = patch.members.as_deref().map(parse_members).transpose()?;
    if let Some(d) = &patch.description {
        super::check_len("description", d.trim(), super::MAX_DESCRIPTION_CHARS)?;
    }
    let v = st
        .publisher
        .edit::<ApiError>(&by.name, |dir| {
            let old = find(dir, name)?;
            let mut g = old.clone();
            if let Some(d) = patch.description {
                g.description = d.trim().to_owned();
            }
            if let Some(m) = members {
                check_members(dir, &m)?;
                g.members = m;
            }
            if let Some(p) = patch.policy {
                g.policy = p;
            }
            if let Some(k) = patch.kind {
                g.kind = k;
            }
            Ok(if &g == old { vec![] } else { vec![Op::PutGroup(g)] })
        })
        .await?;
    Ok(v)
}

/// Deleting an alias or list also takes it out of the lists that contain it.
pub async fn delete(st: &AppState, by: &Actor, name: &str) -> Result<Version, ApiError> {
    by.scope.need_domain()?;
    let v = st
        .publisher
        .edit::<ApiError>(&by.name, |dir| {
            let g = find(dir, name)?;
            let addr = dir.official(&g.name);
            let mut ops = vec![Op::DeleteGroup { name: g.name.clone() }];
            for other in dir.groups_containing(&addr) {
                let mut other = other.clone();
                other.members.remove(&addr);
                ops.push(Op::PutGroup(other));
            }
            Ok(ops)
        })
        .await?;
    Ok(v)
}

pub async fn add_member(st: &AppState, by: &Actor, name: &str, address: &str) -> Result<Version, ApiError> {
    let addr = parse_field("member", "address", "err-member-address", Address::parse(address.trim()))
        .map_err(|e| e.arg("address", address.trim()))?;
    let v = st
        .publisher
        .edit::<ApiError>(&by.name, |dir| {
            let mut g = find(dir, name)?.clone();
            by.scope.member(dir, &addr)?;
            let one = BTreeSet::from([addr.clone()]);
            check_members(dir, &one).map_err(|e| e.field("member"))?;
            Ok(if g.members.insert(addr) { vec![Op::PutGroup(g)] } else { vec![] })
        })
        .await?;
    Ok(v)
}

pub async fn remove_member(
    st: &AppState,
    by: &Actor,
    name: &str,
    address: &str,
) -> Result<Version, ApiError> {
    let addr = parse_field("member", "address", "err-member-address", Address::parse(address.trim()))
        .map_err(|e| e.arg("address", address.trim()))?;
    let v = st
        .publisher
        .edit::<ApiError>(&by.name, |dir| {
            let mut g = find(dir, name)?.clone();
            by.scope.member(dir, &addr)?;
            if !g.members.remove(&addr) {
                return Err(ApiError::not_found(format!("{addr} is not a member of '{}'", g.name))
                    .key("err-not-a-member")
                    .arg("address", &addr)
                    .arg("name", &g.name));
            }
            Ok(vec![Op::PutGroup(g)])
        })
        .await?;
    Ok(v)
}

/// The lists and aliases that deliver to a user (directly or through other lists).
pub fn groups_of(dir: &Directory, addresses: &[Address]) -> Vec<LocalPart> {
    let mut found: BTreeSet<LocalPart> = BTreeSet::new();
    let mut frontier: Vec<Address> = addresses.to_vec();
    while let Some(a) = frontier.pop() {
        for g in dir.groups_containing(&a) {
            if found.insert(g.name.clone()) {
                frontier.push(dir.official(&g.name));
            }
        }
    }
    found.into_iter().collect()
}
