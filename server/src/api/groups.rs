//! Aliases and mailing lists: create, edit, members, posting policy, and what an address
//! expands to, grouped by site. The rules live in `manage::groups`.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use pochta_directory::resolve::{Sender, resolve};
use pochta_directory::{Address, Group, GroupKind, PostingPolicy};
use serde::{Deserialize, Serialize};

use super::{Json, Path, Query, parse};
use crate::auth::Admin;
use crate::error::ApiError;
use crate::manage::{self, groups::Expansion};
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/groups", get(list).post(create))
        .route("/groups/{name}", get(show).patch(update).delete(remove))
        .route("/groups/{name}/members", post(add_member))
        .route("/groups/{name}/members/{address}", delete(remove_member))
        .route("/resolve", get(resolve_address))
        .route("/trace", get(trace))
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

async fn show(
    _: Admin,
    State(st): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<GroupView>, ApiError> {
    let (dir, _) = st.publisher.current();
    let g = manage::groups::find(&dir, &name)?;
    let address = dir.official(&g.name);
    Ok(Json(GroupView {
        group: g.clone(),
        expands_to: manage::groups::expansion(&dir, &address)?,
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
    let new = manage::groups::NewGroup {
        name: body.name,
        kind: body.kind,
        description: body.description,
        members: body.members,
        policy: body.policy,
    };
    let (name, _) = manage::groups::create(&st, &admin.0, new).await?;
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
    let patch = manage::groups::GroupPatch {
        description: patch.description,
        members: patch.members,
        policy: patch.policy,
        kind: patch.kind,
    };
    manage::groups::update(&st, &admin.0, &name, patch).await?;
    show(admin, State(st), Path(name)).await
}

/// Deleting an alias or list also takes it out of the lists that contain it.
async fn remove(
    admin: Admin,
    State(st): State<AppState>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    manage::groups::delete(&st, &admin.0, &name).await?;
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
    manage::groups::add_member(&st, &admin.0, &name, &body.address).await?;
    show(admin, State(st), Path(name)).await
}

async fn remove_member(
    admin: Admin,
    State(st): State<AppState>,
    Path((name, address)): Path<(String, String)>,
) -> Result<Json<GroupView>, ApiError> {
    manage::groups::remove_member(&st, &admin.0, &name, &address).await?;
    show(admin, State(st), Path(name)).await
}

#[derive(Deserialize)]
struct ResolveQuery {
    rcpt: String,
    from: Option<String>,
    #[serde(default)]
    internal: bool,
}

#[derive(Deserialize)]
struct TraceQuery {
    rcpt: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    internal: bool,
    entry: Option<String>,
}

/// What the deployment would do with a letter for `rcpt` entering at `entry` (default: the
/// first MX): each site's copy and how it gets there, outside addresses, forwards.
async fn trace(
    _: Admin,
    State(st): State<AppState>,
    Query(q): Query<TraceQuery>,
) -> Result<Json<manage::trace::Trace>, ApiError> {
    let (dir, _) = st.publisher.current();
    Ok(Json(manage::trace::trace(&dir, &q.rcpt, &q.from, q.internal, q.entry.as_deref())?))
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
