//! The record of finished mailbox moves (`mailbox_moves`): what the dashboard and a user's page
//! show once a move is no longer in progress.

use pochta_directory::api::{MoveEnd, MoveProgress};
use sqlx::Row;

use super::DbError;

/// One finished move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishedMove {
    pub user: String,
    pub from_site: String,
    pub to_site: String,
    pub finished_at: i64,
    pub elapsed_secs: u64,
    pub letters: u64,
    pub bytes: u64,
    pub end: MoveEnd,
}

/// Records `m` (an ended move the agent of `from_site` reported) at `at`; a repeated report
/// of the same move changes nothing.
pub async fn put_finished(
    pool: &sqlx::AnyPool,
    agent: &str,
    from_site: &str,
    at: i64,
    m: &MoveProgress,
) -> Result<(), DbError> {
    let Some(end) = &m.ended else { return Ok(()) };
    let (outcome, kept, reason) = match end {
        MoveEnd::Done { kept } => ("done", *kept, ""),
        MoveEnd::MovedBack => ("moved_back", 0, ""),
        MoveEnd::Failed { reason } => ("failed", 0, reason.as_str()),
    };
    let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    sqlx::query(
        "INSERT INTO mailbox_moves (agent, user_name, from_site, to_site, finished_at, elapsed_secs, \
         letters, bytes, kept, outcome, reason) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         ON CONFLICT DO NOTHING",
    )
    .bind(agent)
    .bind(&m.user)
    .bind(from_site)
    .bind(&m.to_site)
    .bind(at)
    .bind(n(m.elapsed_secs))
    .bind(n(m.moved))
    .bind(n(m.moved_bytes))
    .bind(n(kept))
    .bind(outcome)
    .bind(reason)
    .execute(pool)
    .await?;
    Ok(())
}

/// Finished moves since `since`, newest first, at most `limit`; only `user`'s when given.
pub async fn finished(
    pool: &sqlx::AnyPool,
    user: Option<&str>,
    since: i64,
    limit: i64,
) -> Result<Vec<FinishedMove>, DbError> {
    let rows = sqlx::query(
        "SELECT user_name, from_site, to_site, finished_at, elapsed_secs, letters, bytes, kept, outcome, reason \
         FROM mailbox_moves WHERE finished_at >= $1 AND ($2 = '' OR user_name = $2) \
         ORDER BY finished_at DESC LIMIT $3",
    )
    .bind(since)
    .bind(user.unwrap_or(""))
    .bind(limit)
    .fetch_all(pool)
    .await?;
    let n = |v: i64| u64::try_from(v).unwrap_or(0);
    rows.into_iter()
        .map(|r| {
            let outcome: String = r.try_get("outcome")?;
            let end = match outcome.as_str() {
                "done" => MoveEnd::Done { kept: n(r.try_get("kept")?) },
                "moved_back" => MoveEnd::MovedBack,
                _ => MoveEnd::Failed { reason: r.try_get("reason")? },
            };
            Ok(FinishedMove {
                user: r.try_get("user_name")?,
                from_site: r.try_get("from_site")?,
                to_site: r.try_get("to_site")?,
                finished_at: r.try_get("finished_at")?,
                elapsed_secs: n(r.try_get("elapsed_secs")?),
                letters: n(r.try_get("letters")?),
                bytes: n(r.try_get("bytes")?),
                end,
            })
        })
        .collect()
}
