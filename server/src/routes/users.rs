//! Users: list and search, create, edit, disable, delete, set password, move to another site.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use pochta_directory::password::check_strength;
use pochta_directory::{Directory, LocalPart, Op, SiteId, User};
use serde::{Deserialize, Serialize};

use super::{Json, Path, Query, parse};
use crate::auth::Admin;
use crate::error::ApiError;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/users", get(list).post(create))
        .route("/users/{name}", get(show).patch(update).delete(remove))
        .route("/users/{name}/password", put(set_password))
        .route("/users/{name}/move", post(move_to))
}

#[derive(Serialize)]
pub struct UserView {
    pub name: String,
    pub address: String,
    pub local_address: String,
    pub display_name: String,
    pub site: String,
    pub former_sites: Vec<String>,
    pub enabled: bool,
    pub has_password: bool,
}

impl UserView {
    pub fn new(dir: &Directory, u: &User) -> Self {
        UserView {
            name: u.name.to_string(),
            address: dir.official(&u.name).to_string(),
            local_address: format!("{}@{}", u.name, dir.site_domain(&u.site)),
            display_name: u.display_name.clone(),
            site: u.site.to_string(),
            former_sites: u.former_sites.iter().map(ToString::to_string).collect(),
            enabled: u.enabled,
            has_password: u.password.is_some(),
        }
    }
}

#[derive(Deserialize)]
struct ListQuery {
    q: Option<String>,
    site: Option<String>,
    #[serde(default)]
    offset: usize,
    limit: Option<usize>,
}

#[derive(Serialize)]
struct Page<T> {
    total: usize,
    offset: usize,
    items: Vec<T>,
}

/// Served from the in-memory directory: a scan of 100,000 users takes about a millisecond.
async fn list(
    _: Admin,
    State(st): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Page<UserView>>, ApiError> {
    let (dir, _) = st.publisher.current();
    let site = q.site.filter(|s| !s.is_empty()).map(|s| parse("site", SiteId::parse(&s))).transpose()?;
    let needle = q.q.unwrap_or_default().to_lowercase();
    let limit = q.limit.unwrap_or(50).min(1000);
    let matches = dir.users.values().filter(|u| {
        site.as_ref().is_none_or(|s| &u.site == s)
            && (needle.is_empty()
                || u.name.folded().contains(&needle)
                || u.display_name.to_lowercase().contains(&needle))
    });
    let mut total = 0;
    let mut items = Vec::new();
    for u in matches {
        if total >= q.offset && items.len() < limit {
            items.push(UserView::new(&dir, u));
        }
        total += 1;
    }
    Ok(Json(Page { total, offset: q.offset, items }))
}

fn find<'a>(dir: &'a Directory, name: &str) -> Result<&'a User, ApiError> {
    let name = parse("user name", LocalPart::parse(name))?;
    dir.user(&name).ok_or_else(|| ApiError::not_found(format!("there is no user '{name}'")))
}

async fn show(
    _: Admin,
    State(st): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<UserView>, ApiError> {
    let (dir, _) = st.publisher.current();
    Ok(Json(UserView::new(&dir, find(&dir, &name)?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUser {
    name: String,
    #[serde(default)]
    display_name: String,
    site: String,
    password: Option<String>,
    #[serde(default = "yes")]
    enabled: bool,
}
fn yes() -> bool {
    true
}

async fn create(
    admin: Admin,
    State(st): State<AppState>,
    Json(body): Json<NewUser>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    let name = parse("name", LocalPart::parse(body.name.trim()))?;
    let site = parse("site", SiteId::parse(&body.site))?;
    let password = match body.password {
        Some(p) => {
            parse("password", check_strength(&p))?;
            Some(st.hash_password(p).await)
        }
        None => None,
    };
    let user = User {
        name: name.clone(),
        display_name: body.display_name.trim().to_owned(),
        site,
        former_sites: Default::default(),
        password,
        enabled: body.enabled,
    };
    st.publisher
        .edit(&admin.author, |dir| {
            if dir.user(&name).is_some() {
                return Err(ApiError::conflict(format!("user '{name}' already exists")).into());
            }
            Ok(vec![Op::PutUser(user)])
        })
        .await?;
    let (dir, _) = st.publisher.current();
    Ok((StatusCode::CREATED, Json(UserView::new(&dir, find(&dir, name.as_str())?))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserPatch {
    display_name: Option<String>,
    enabled: Option<bool>,
}

async fn update(
    admin: Admin,
    State(st): State<AppState>,
    Path(name): Path<String>,
    Json(patch): Json<UserPatch>,
) -> Result<Json<UserView>, ApiError> {
    st.publisher
        .edit(&admin.author, |dir| {
            let mut u = find(dir, &name)?.clone();
            if let Some(d) = patch.display_name {
                u.display_name = d.trim().to_owned();
            }
            if let Some(e) = patch.enabled {
                u.enabled = e;
            }
            Ok(if &u == find(dir, &name)? { vec![] } else { vec![Op::put_user_keeping_password(&u)] })
        })
        .await?;
    show(admin, State(st), Path(name)).await
}

/// Deleting a user also takes him out of every alias and list, in the same change set.
async fn remove(
    admin: Admin,
    State(st): State<AppState>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    st.publisher
        .edit(&admin.author, |dir| {
            let u = find(dir, &name)?;
            let mut ops = vec![Op::DeleteUser { name: u.name.clone() }];
            let mut addresses = vec![dir.official(&u.name)];
            for s in std::iter::once(&u.site).chain(&u.former_sites) {
                addresses.push(pochta_directory::Address::new(u.name.clone(), dir.site_domain(s)));
            }
            for g in dir.groups.values() {
                if addresses.iter().any(|a| g.members.contains(a)) {
                    let mut g = g.clone();
                    g.members.retain(|m| !addresses.contains(m));
                    ops.push(Op::PutGroup(g));
                }
            }
            Ok(ops)
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewPassword {
    password: String,
}

async fn set_password(
    admin: Admin,
    State(st): State<AppState>,
    Path(name): Path<String>,
    Json(body): Json<NewPassword>,
) -> Result<StatusCode, ApiError> {
    find(&st.publisher.current().0, &name)?;
    parse("password", check_strength(&body.password))?;
    let hash = st.hash_password(body.password).await;
    st.publisher
        .edit(&admin.author, |dir| {
            let u = find(dir, &name)?;
            Ok(vec![Op::SetPassword { name: u.name.clone(), hash: Some(hash) }])
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MoveTo {
    site: String,
}

/// Moves the user's home to another site. His old local address keeps working.
async fn move_to(
    admin: Admin,
    State(st): State<AppState>,
    Path(name): Path<String>,
    Json(body): Json<MoveTo>,
) -> Result<Json<UserView>, ApiError> {
    let site = parse("site", SiteId::parse(&body.site))?;
    st.publisher
        .edit(&admin.author, |dir| {
            let mut u = find(dir, &name)?.clone();
            if u.site == site {
                return Ok(vec![]);
            }
            let old = std::mem::replace(&mut u.site, site.clone());
            u.former_sites.insert(old);
            u.former_sites.remove(&site);
            Ok(vec![Op::put_user_keeping_password(&u)])
        })
        .await?;
    show(admin, State(st), Path(name)).await
}
