//! What agents last reported about their site besides traffic: the endpoints mail clients use
//! (per agent) and mailbox sizes (per user and site). Written by `POST /api/v1/sync/stats`,
//! read once at start into `crate::reports::AgentReports`.

use pochta_directory::api::ClientServices;
use sqlx::Row;

use super::directory::bytes_column;
use super::{DbError, now};

/// Replaces the services `agent` (of `site`) offers.
pub async fn put_services(
    pool: &sqlx::AnyPool,
    agent: &str,
    site: &str,
    services: &ClientServices,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO agent_services (agent, site, services, at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (agent) DO UPDATE SET site = excluded.site, services = excluded.services, at = excluded.at",
    )
    .bind(agent)
    .bind(site)
    .bind(serde_json::to_string(services).expect("services serialise"))
    .bind(now())
    .execute(pool)
    .await?;
    Ok(())
}

/// Every agent's last services, as `(agent, site, services)`.
pub async fn services(pool: &sqlx::AnyPool) -> Result<Vec<(String, String, ClientServices)>, DbError> {
    let rows = sqlx::query("SELECT agent, site, services FROM agent_services").fetch_all(pool).await?;
    rows.into_iter()
        .map(|r| {
            let json: String = r.try_get("services")?;
            let services =
                serde_json::from_str(&json).map_err(|e| DbError::Corrupt(format!("agent services: {e}")))?;
            Ok((r.try_get("agent")?, r.try_get("site")?, services))
        })
        .collect()
}

/// Stores the sizes of some mailboxes at `site` (by folded user name), in one transaction.
pub async fn put_sizes(pool: &sqlx::AnyPool, site: &str, sizes: &[(&str, u64)]) -> Result<(), DbError> {
    if sizes.is_empty() {
        return Ok(());
    }
    let at = now();
    let mut tx = pool.begin().await?;
    for (name, bytes) in sizes {
        sqlx::query(
            "INSERT INTO mailbox_sizes (name, site, bytes, at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name, site) DO UPDATE SET bytes = excluded.bytes, at = excluded.at",
        )
        .bind(*name)
        .bind(site)
        .bind(bytes_column(*bytes))
        .bind(at)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Every stored mailbox size, as `(folded name, site, bytes)`.
pub async fn sizes(pool: &sqlx::AnyPool) -> Result<Vec<(String, String, u64)>, DbError> {
    let rows = sqlx::query("SELECT name, site, bytes FROM mailbox_sizes").fetch_all(pool).await?;
    rows.into_iter()
        .map(|r| {
            let bytes: i64 = r.try_get("bytes")?;
            Ok((r.try_get("name")?, r.try_get("site")?, u64::try_from(bytes).unwrap_or(0)))
        })
        .collect()
}
