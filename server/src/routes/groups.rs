//! Aliases and mailing lists: create, edit, members, posting policy, and what an address
//! expands to, grouped by site.

use std::collections::BTreeSet;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use pochta_directory::resolve::{Rejection, Resolution, Sender, resolve};
use pochta_directory::{Address, Directory, Group, GroupKind, LocalPart, Op, PostingPolicy};
use serde::{Deserialize, Serialize};

use super::{Json, Path, Query, parse};
use crate::auth::Admin;
use crate::error::ApiError;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/groups", get(list).post(create))
        .route("/groups/{name}", get(show).patch(update).delete(remove))
        .route("/groups/{name}/members", post(add_member))
        .route("/groups/{name}/members/{address}", delete(remove_member))
        .route("/resolve", get(resolve_address))
}

fn find<'a>(dir: &'a Directory, name: &str) -> Result<&'a Group, ApiError> {
    let name = parse("name", LocalPart::parse(name))?;
    dir.group(&name).ok_or_else(|| ApiError::not_found(format!("there is no alias or list '{name}'")))
}

/// A member in our domain must name something that exists; outside addresses are taken as given.
fn check_members(dir: &Directory, members: &BTreeSet<Address>) -> Result<(), ApiError> {
    let internal = Sender { address: None, internal: true };
    let below_ours = format!(".{}", dir.domain.as_str());
    for m in members {
        match resolve(dir, m, &internal) {
            // A disabled user or a members-only list is still a valid member; an unknown name is not.
            Err(Rejection::UnknownRecipient) => {
                return Err(ApiError::bad_request(format!(
                    "{m} is not a user, alias or list of this domain"
                )));
            }
            // `ivanov@mks.example.org` is a mistyped site, not an outside address to send to.
            Err(Rejection::NotOurs) if m.domain().as_str().ends_with(&below_ours) => {
                return Err(ApiError::bad_request(format!(
                    "{m}: {} is not a site of this domain",
                    m.domain()
                )));
            }
            _ => {}
        }
    }
    Ok(())
}

fn parse_members(list: &[String]) -> Result<BTreeSet<Address>, ApiError> {
    list.iter().map(|m| parse("member", Address::parse(m.trim()))).collect()
}

async fn list(_: Admin, State(st): State<AppState>) -> Json<Vec<Group>> {
    Json(st.publisher.current().0.groups.values().cloned().collect())
}

#[derive(Serialize)]
struct GroupView {
    #[serde(flatten)]
    group: Group,
    address: String,
    /// Final mailboxes by site and external addresses, as an agent would deliver.
    expands_to: Expansion,
}

#[derive(Serialize)]
struct Expansion {
    sites: std::collections::BTreeMap<String, Vec<String>>,
    external: Vec<String>,
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
fn expansion(dir: &Directory, addr: &Address) -> Result<Expansion, ApiError> {
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
            resolve(dir, addr, &sender)
                .map(Into::into)
                .map_err(|e| ApiError::bad_request(format!("{addr}: {e}")))
        }
        Err(e) => Err(ApiError::bad_request(format!("{addr}: {e}"))),
    }
}

async fn show(
    _: Admin,
    State(st): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<GroupView>, ApiError> {
    let (dir, _) = st.publisher.current();
    let g = find(&dir, &name)?;
    let address = dir.official(&g.name);
    Ok(Json(GroupView {
        group: g.clone(),
        expands_to: expansion(&dir, &address)?,
        address: address.to_string(),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewGroup {
    name: String,
    kind: GroupKind,
    #[serde(default)]
    description: String,
    #[serde(default)]
    members: Vec<String>,
    policy: Option<PostingPolicy>,
}

async fn create(
    admin: Admin,
    State(st): State<AppState>,
    Json(body): Json<NewGroup>,
) -> Result<(StatusCode, Json<GroupView>), ApiError> {
    let name = parse("name", LocalPart::parse(body.name.trim()))?;
    let members = parse_members(&body.members)?;
    let policy = body.policy.unwrap_or(match body.kind {
        GroupKind::Alias => PostingPolicy::Anyone,
        GroupKind::List => PostingPolicy::Internal,
    });
    let group = Group { name: name.clone(), kind: body.kind, description: body.description, members, policy };
    st.publisher
        .edit(&admin.author, |dir| {
            if dir.group(&name).is_some() {
                return Err(ApiError::conflict(format!("'{name}' already exists")).into());
            }
            check_members(dir, &group.members)?;
            Ok(vec![Op::PutGroup(group)])
        })
        .await?;
    let Json(view) = show(admin, State(st), Path(name.to_string())).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupPatch {
    description: Option<String>,
    members: Option<Vec<String>>,
    policy: Option<PostingPolicy>,
    kind: Option<GroupKind>,
}

async fn update(
    admin: Admin,
    State(st): State<AppState>,
    Path(name): Path<String>,
    Json(patch): Json<GroupPatch>,
) -> Result<Json<GroupView>, ApiError> {
    let members = patch.members.as_deref().map(parse_members).transpose()?;
    st.publisher
        .edit(&admin.author, |dir| {
            let old = find(dir, &name)?;
            let mut g = old.clone();
            if let Some(d) = patch.description {
                g.description = d;
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
    show(admin, State(st), Path(name)).await
}

/// Deleting an alias or list also takes it out of the lists that contain it.
async fn remove(
    admin: Admin,
    State(st): State<AppState>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    st.publisher
        .edit(&admin.author, |dir| {
            let g = find(dir, &name)?;
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
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewMember {
    address: String,
}

async fn add_member(
    admin: Admin,
    State(st): State<AppState>,
    Path(name): Path<String>,
    Json(body): Json<NewMember>,
) -> Result<Json<GroupView>, ApiError> {
    let addr = parse("address", Address::parse(body.address.trim()))?;
    st.publisher
        .edit(&admin.author, |dir| {
            let mut g = find(dir, &name)?.clone();
            let one = BTreeSet::from([addr.clone()]);
            check_members(dir, &one)?;
            Ok(if g.members.insert(addr) { vec![Op::PutGroup(g)] } else { vec![] })
        })
        .await?;
    show(admin, State(st), Path(name)).await
}

async fn remove_member(
    admin: Admin,
    State(st): State<AppState>,
    Path((name, address)): Path<(String, String)>,
) -> Result<Json<GroupView>, ApiError> {
    let addr = parse("address", Address::parse(address.trim()))?;
    st.publisher
        .edit(&admin.author, |dir| {
            let mut g = find(dir, &name)?.clone();
            if !g.members.remove(&addr) {
                return Err(ApiError::not_found(format!("{addr} is not a member of '{}'", g.name)).into());
            }
            Ok(vec![Op::PutGroup(g)])
        })
        .await?;
    show(admin, State(st), Path(name)).await
}

#[derive(Deserialize)]
struct ResolveQuery {
    rcpt: String,
    from: Option<String>,
    #[serde(default)]
    internal: bool,
}

/// How the agents will route an address, computed from the central directory.
async fn resolve_address(
    _: Admin,
    State(st): State<AppState>,
    Query(q): Query<ResolveQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (dir, _) = st.publisher.current();
    let rcpt = parse("rcpt", Address::parse(q.rcpt.trim()))?;
    let from =
        q.from.filter(|f| !f.is_empty()).map(|f| parse("from", Address::parse(f.trim()))).transpose()?;
    Ok(Json(match resolve(&dir, &rcpt, &Sender { address: from, internal: q.internal }) {
        Ok(r) => serde_json::to_value(Expansion::from(r)).expect("serialises"),
        Err(e) => {
            let (code, status) = e.smtp();
            serde_json::json!({ "rejected": e.to_string(), "code": code, "status": status })
        }
    }))
}
