//! The domain's DKIM keys: made here (with the agent's `mail::dkim::generate`, which writes the
//! formats its signer reads), replicated to every agent inside signed change sets, rotated without a gap.
//!
//! Rotation: `create` adds a **pending** key under a new selector and shows the record to
//! publish; `activate` makes it sign and, in the same change set, puts the key it replaces into
//! **retiring** for `Config::dkim_retirement_secs`, so letters signed just before the switch
//! still verify; `sweep` deletes retiring keys whose time is up. The private key is in the
//! change set and the snapshot only — never in a page, an API answer or the audit log.

use super::scope::Actor;
use pochta_directory::dkim::{Algorithm, DkimKey, KeyState, Selector};
use pochta_directory::wire::Version;
use pochta_directory::{Directory, Op};
use serde::Serialize;

use super::parse_field;
use crate::error::ApiError;
use crate::state::AppState;

/// The author of edits the server makes by itself.
pub const SYSTEM: &str = "system";

/// A key as pages and the API show it: everything but the private key.
#[derive(Debug, Clone, Serialize)]
pub struct KeyView {
    pub selector: String,
    pub algorithm: Algorithm,
    #[serde(flatten)]
    pub state: KeyState,
    pub created: i64,
    /// The DNS name below the domain (`<selector>._domainkey`).
    pub name: String,
    /// The TXT record's text.
    pub record: String,
}

impl From<&DkimKey> for KeyView {
    fn from(k: &DkimKey) -> Self {
        Self {
            selector: k.selector.to_string(),
            algorithm: k.algorithm,
            state: k.state,
            created: k.created,
            name: k.selector.record_name(),
            record: k.record(),
        }
    }
}

pub fn list(dir: &Directory) -> Vec<KeyView> {
    dir.dkim.values().map(KeyView::from).collect()
}

pub fn parse_algorithm(s: &str) -> Result<Algorithm, ApiError> {
    match s.trim() {
        "" | "rsa" => Ok(Algorithm::Rsa),
        "ed25519" => Ok(Algorithm::Ed25519),
        other => Err(ApiError::bad_request(format!("algorithm: '{other}' is not rsa or ed25519"))
            .key("err-dkim-algorithm")
            .field("algorithm")),
    }
}

/// A free selector for a key made now: `pochta-YYYYMM` (`-ed` for Ed25519), numbered on when
/// that is taken.
fn default_selector(dir: &Directory, algorithm: Algorithm, now: i64) -> Selector {
    let day = pochta_directory::date::Civil::from_unix(now);
    let base = match algorithm {
        Algorithm::Rsa => format!("pochta-{:04}{:02}", day.year, day.month),
        Algorithm::Ed25519 => format!("pochta-{:04}{:02}-ed", day.year, day.month),
    };
    (1..)
        .map(|n| if n == 1 { base.clone() } else { format!("{base}-{n}") })
        .filter_map(|s| Selector::parse(&s).ok())
        .find(|s| !dir.dkim.contains_key(s))
        .expect("some number is free")
}

pub fn find<'a>(dir: &'a Directory, selector: &str) -> Result<&'a DkimKey, ApiError> {
    let sel = parse_field("selector", "selector", "err-dkim-selector", Selector::parse(selector))?;
    dir.dkim.get(&sel).ok_or_else(|| {
        ApiError::not_found(format!("there is no DKIM key with selector '{sel}'"))
            .key("err-dkim-no-such-key")
            .arg("selector", &sel)
    })
}

/// Makes a key and adds it as pending; `selector` empty picks one.
pub async fn create(
    st: &AppState,
    by: &Actor,
    algorithm: Algorithm,
    selector: &str,
) -> Result<(Selector, Version), ApiError> {
    by.scope.need_domain()?;
    let wanted = match selector.trim() {
        "" => None,
        s => Some(parse_field("selector", "selector", "err-dkim-selector", Selector::parse(s))?),
    };
    // RSA-2048 generation takes tens of milliseconds: off the async threads.
    let (public_key, private_key) =
        tokio::task::spawn_blocking(move || pochta_agent::mail::dkim::generate(algorithm))
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::internal)?;
    let now = crate::db::now();
    let mut chosen = None;
    let v = st
        .publisher
        .edit::<ApiError>(&by.name, |dir| {
            let selector = wanted.clone().unwrap_or_else(|| default_selector(dir, algorithm, now));
            if dir.dkim.contains_key(&selector) {
                return Err(ApiError::conflict(format!("DKIM selector '{selector}' exists"))
                    .key("err-dkim-exists")
                    .arg("selector", &selector)
                    .field("selector"));
            }
            chosen = Some(selector.clone());
            let key = DkimKey {
                selector,
                algorithm,
                public_key,
                private_key,
                created: now,
                state: KeyState::Pending,
            };
            Ok(vec![Op::PutDkimKey(key)])
        })
        .await?;
    Ok((chosen.expect("set by the edit"), v))
}

/// The key starts signing; the key of the same algorithm it replaces starts retiring.
pub async fn activate(st: &AppState, by: &Actor, selector: &str) -> Result<Version, ApiError> {
    by.scope.need_domain()?;
    let until = crate::db::now() + st.config.dkim_retirement_secs;
    st.publisher
        .edit::<ApiError>(&by.name, |dir| {
            let key = find(dir, selector)?;
            if key.signs() {
                return Ok(vec![]);
            }
            // Retire first: the directory allows one signing key per algorithm at any point.
            let mut ops: Vec<Op> = dir
                .signing_keys()
                .filter(|k| k.algorithm == key.algorithm)
                .map(|k| Op::PutDkimKey(DkimKey { state: KeyState::Retiring { until }, ..k.clone() }))
                .collect();
            ops.push(Op::PutDkimKey(DkimKey { state: KeyState::Active, ..key.clone() }));
            Ok(ops)
        })
        .await
}

/// The key stops signing and stays published until its retirement period is over.
pub async fn retire(st: &AppState, by: &Actor, selector: &str) -> Result<Version, ApiError> {
    by.scope.need_domain()?;
    let until = crate::db::now() + st.config.dkim_retirement_secs;
    st.publisher
        .edit::<ApiError>(&by.name, |dir| {
            let key = find(dir, selector)?;
            if matches!(key.state, KeyState::Retiring { .. }) {
                return Ok(vec![]);
            }
            Ok(vec![Op::PutDkimKey(DkimKey { state: KeyState::Retiring { until }, ..key.clone() })])
        })
        .await
}

pub async fn delete(st: &AppState, by: &Actor, selector: &str) -> Result<Version, ApiError> {
    by.scope.need_domain()?;
    st.publisher
        .edit::<ApiError>(&by.name, |dir| {
            let key = find(dir, selector)?;
            Ok(vec![Op::DeleteDkimKey { selector: key.selector.clone() }])
        })
        .await
}

/// Deletes the retiring keys whose period is over (one change set, by [`SYSTEM`]); `None` when
/// there were none.
pub async fn sweep(st: &AppState, now: i64) -> Result<Option<Version>, ApiError> {
    let expired = |dir: &Directory| -> Vec<Op> {
        dir.dkim
            .values()
            .filter(|k| matches!(k.state, KeyState::Retiring { until } if until <= now))
            .map(|k| Op::DeleteDkimKey { selector: k.selector.clone() })
            .collect()
    };
    if expired(&st.publisher.current().0).is_empty() {
        return Ok(None);
    }
    st.publisher.edit::<ApiError>(SYSTEM, |dir| Ok(expired(dir))).await.map(Some)
}

/// Runs [`sweep`] every minute until the process ends.
pub fn spawn_sweeper(st: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tick.tick().await;
            match sweep(&st, crate::db::now()).await {
                Ok(Some(v)) => tracing::info!(version = %v, "retired DKIM keys removed"),
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e.message, "removing retired DKIM keys failed"),
            }
        }
    })
}
