//! Browser sessions of the web application and the traffic counters agents report.

use std::collections::BTreeMap;

use sqlx::Row;

use super::auth::digest;
use super::{DbError, now};

/// Who a session belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    User,
    /// An administrator who gave the right password and still owes the code from the app:
    /// admitted to `/login/code` only, for a few minutes.
    Pending,
    /// An administrator on a password someone else made, who must choose their own first:
    /// admitted to `/login/password` only.
    Renew,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::User => "user",
            Role::Pending => "pending",
            Role::Renew => "renew",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Session {
    pub role: Role,
    pub subject: String,
    pub csrf: String,
    pub created_at: i64,
    pub seen_at: i64,
}

/// Stores a new session; the cookie value is only kept as its digest.
pub async fn create_session(
    pool: &sqlx::AnyPool,
    cookie: &str,
    role: Role,
    subject: &str,
    csrf: &str,
) -> Result<(), DbError> {
    let t = now();
    sqlx::query(
        "INSERT INTO web_sessions (id_hash, role, subject, csrf, created_at, seen_at) VALUES ($1, $2, $3, $4, $5, $5)",
    )
    .bind(digest(cookie))
    .bind(role.as_str())
    .bind(subject)
    .bind(csrf)
    .bind(t)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn session(pool: &sqlx::AnyPool, cookie: &str) -> Result<Option<Session>, DbError> {
    let Some(r) =
        sqlx::query("SELECT role, subject, csrf, created_at, seen_at FROM web_sessions WHERE id_hash = $1")
            .bind(digest(cookie))
            .fetch_optional(pool)
            .await?
    else {
        return Ok(None);
    };
    let role = match r.try_get::<String, _>("role")?.as_str() {
        "admin" => Role::Admin,
        "user" => Role::User,
        "pending" => Role::Pending,
        "renew" => Role::Renew,
        // A role this build does not know grants nothing.
        _ => return Ok(None),
    };
    Ok(Some(Session {
        role,
        subject: r.try_get("subject")?,
        csrf: r.try_get("csrf")?,
        created_at: r.try_get("created_at")?,
        seen_at: r.try_get("seen_at")?,
    }))
}

pub async fn touch_session(pool: &sqlx::AnyPool, cookie: &str) -> Result<(), DbError> {
    sqlx::query("UPDATE web_sessions SET seen_at = $1 WHERE id_hash = $2")
        .bind(now())
        .bind(digest(cookie))
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn delete_session(pool: &sqlx::AnyPool, cookie: &str) -> Result<(), DbError> {
    sqlx::query("DELETE FROM web_sessions WHERE id_hash = $1").bind(digest(cookie)).execute(pool).await?;
    Ok(())
}

/// Ends every session of one person, except `keep` (a cookie) when given. Returns how many ended.
/// Runs on the pool or inside an edit's transaction.
pub async fn delete_sessions_of<'e>(
    db: impl sqlx::Executor<'e, Database = sqlx::Any>,
    role: Role,
    subject: &str,
    keep: Option<&str>,
) -> Result<u64, DbError> {
    let keep = keep.map(digest).unwrap_or_default();
    Ok(sqlx::query("DELETE FROM web_sessions WHERE role = $1 AND subject = $2 AND id_hash <> $3")
        .bind(role.as_str())
        .bind(subject)
        .bind(keep)
        .execute(db)
        .await?
        .rows_affected())
}

/// Removes sessions idle since before `idle_before` or created before `created_before`.
pub async fn expire_sessions(
    pool: &sqlx::AnyPool,
    idle_before: i64,
    created_before: i64,
) -> Result<(), DbError> {
    sqlx::query("DELETE FROM web_sessions WHERE seen_at < $1 OR created_at < $2")
        .bind(idle_before)
        .bind(created_before)
        .execute(pool)
        .await?;
    Ok(())
}

/// One report of an agent's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Counters {
    pub received: u64,
    pub accepted: u64,
    pub delivered: u64,
    pub sent: u64,
    pub queue: u64,
    /// Letters of moving mailboxes filed here / sent to their new site (not mail).
    pub moved_in: u64,
    pub moved_out: u64,
}

#[derive(Debug, Clone)]
pub struct StatRow {
    pub agent: String,
    pub site: String,
    pub at: i64,
    pub counters: Counters,
    /// Refusals since the agent started, by reason.
    pub refused: BTreeMap<String, u64>,
}

/// Records a report; a second report in the same second replaces the first.
pub async fn put_stats(
    pool: &sqlx::AnyPool,
    agent: &str,
    site: &str,
    at: i64,
    c: &Counters,
    refused: &BTreeMap<String, u64>,
) -> Result<(), DbError> {
    let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    sqlx::query(
        "INSERT INTO agent_stats (agent, site, at, received, accepted, delivered, sent, queue, refused, moved_in, moved_out) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         ON CONFLICT (agent, at) DO UPDATE SET received = excluded.received, accepted = excluded.accepted, \
         delivered = excluded.delivered, sent = excluded.sent, queue = excluded.queue, refused = excluded.refused, \
         moved_in = excluded.moved_in, moved_out = excluded.moved_out",
    )
    .bind(agent)
    .bind(site)
    .bind(at)
    .bind(n(c.received))
    .bind(n(c.accepted))
    .bind(n(c.delivered))
    .bind(n(c.sent))
    .bind(n(c.queue))
    .bind(serde_json::to_string(refused).expect("counters serialise"))
    .bind(n(c.moved_in))
    .bind(n(c.moved_out))
    .execute(pool)
    .await?;
    Ok(())
}

/// Reports since `since` (and the last one before it, so the first interval has a base), oldest first.
pub async fn stats_since(pool: &sqlx::AnyPool, since: i64) -> Result<Vec<StatRow>, DbError> {
    let rows = sqlx::query(
        "SELECT agent, site, at, received, accepted, delivered, sent, queue, refused, moved_in, moved_out FROM agent_stats \
         WHERE at >= (SELECT COALESCE(MAX(b.at), $1) FROM agent_stats b WHERE b.at < $1 AND b.agent = agent_stats.agent) \
         ORDER BY at, agent",
    )
    .bind(since)
    .fetch_all(pool)
    .await?;
    let n = |v: i64| u64::try_from(v).unwrap_or(0);
    rows.into_iter()
        .map(|r| {
            Ok(StatRow {
                agent: r.try_get("agent")?,
                site: r.try_get("site")?,
                at: r.try_get("at")?,
                counters: Counters {
                    received: n(r.try_get("received")?),
                    accepted: n(r.try_get("accepted")?),
                    delivered: n(r.try_get("delivered")?),
                    sent: n(r.try_get("sent")?),
                    queue: n(r.try_get("queue")?),
                    moved_in: n(r.try_get("moved_in")?),
                    moved_out: n(r.try_get("moved_out")?),
                },
                // A row written before refusals were reported, or unreadable: none.
                refused: serde_json::from_str(&r.try_get::<String, _>("refused")?).unwrap_or_default(),
            })
        })
        .collect()
}

/// Forgets reports older than `before`.
pub async fn prune_stats(pool: &sqlx::AnyPool, before: i64) -> Result<(), DbError> {
    sqlx::query("DELETE FROM agent_stats WHERE at < $1").bind(before).execute(pool).await?;
    Ok(())
}
