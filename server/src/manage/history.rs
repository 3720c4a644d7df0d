//! Reverting a change set: a new change set that puts back what an old one replaced.
//!
//! Refused, with the reason, when later sets changed the same records (undoing the old one
//! would silently undo those too), when the set changed DKIM keys (the log holds no private
//! key, and keys have their own life cycle on the DNS page), or when it was written before the
//! log kept prior records.

use super::scope::Actor;
use pochta_directory::wire::{ChangeSet, Version};
use pochta_directory::{Directory, Op};

use crate::audit::{self, RevertError};
use crate::db;
use crate::error::ApiError;
use crate::state::AppState;

/// What a revert of one set would do.
pub struct RevertPlan {
    pub version: Version,
    pub author: String,
    pub at: i64,
    /// The ops the revert commits, checked against the directory as it is now.
    pub ops: Vec<Op>,
}

impl From<RevertError> for ApiError {
    fn from(e: RevertError) -> Self {
        let err = ApiError::conflict(e.to_string());
        match e {
            RevertError::NoPrior(v) => err.key("err-revert-no-prior").arg("version", v),
            RevertError::Dkim => err.key("err-revert-dkim"),
            RevertError::Nothing(v) => err.key("err-revert-nothing").arg("version", v),
            RevertError::ChangedSince(ref vs) => {
                let list = vs.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
                err.key("err-revert-changed-since").arg("versions", list)
            }
            RevertError::Directory(d) => {
                let inner = ApiError::from(d);
                ApiError {
                    status: inner.status,
                    message: format!("the revert would not apply: {}", inner.message),
                    ..inner
                }
            }
        }
    }
}

/// Plans the revert of `version` against `now`. Reads the log; commits nothing.
async fn plan_against(st: &AppState, now: &Directory, version: Version) -> Result<RevertPlan, ApiError> {
    let stored = db::changelog::stored(&st.db.pool, version).await?.ok_or_else(|| {
        ApiError::not_found(format!("there is no version {version}"))
            .key("err-no-such-version")
            .arg("version", version.0)
    })?;
    let set = ChangeSet::open(&stored.frame, &st.publisher.verifier(), &st.publisher.deployment)
        .map_err(|e| ApiError::internal(format!("version {version} in the log does not open: {e}")))?
        .value;
    let later = db::changelog::touching_since(&st.db.pool, version, &audit::objects(&set.ops)).await?;
    if !later.is_empty() {
        return Err(RevertError::ChangedSince(later).into());
    }
    let ops = audit::revert_ops(now, version.0, &set.ops, &stored.priors)?;
    Ok(RevertPlan { version, author: set.author, at: set.at, ops })
}

/// What reverting `version` would do now.
pub async fn plan(st: &AppState, version: u64) -> Result<RevertPlan, ApiError> {
    let (now, _) = st.publisher.current();
    plan_against(st, &now, Version(version)).await
}

/// Reverts `version` as a new change set by `author`; planned again under the edit lock, so a
/// change made since the confirmation page was shown is never undone unseen.
pub async fn revert(st: &AppState, by: &Actor, version: u64) -> Result<Version, ApiError> {
    by.scope.need_domain()?;
    let mut edit = st.publisher.begin().await?;
    let plan = plan_against(st, edit.directory(), Version(version)).await?;
    edit.reverts = Some(plan.version);
    Ok(edit.commit(&by.name, plan.ops).await?)
}
