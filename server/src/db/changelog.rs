//! The change log: one row per change set, numbered without gaps, holding the signed frame that
//! agents receive. It doubles as the audit log (who, when, what).

use pochta_directory::wire::{ChainHash, DeploymentId, Version};
use pochta_directory::{Domain, Op};
use sqlx::Row;

use super::{DbError, Tx};

#[derive(Debug, Clone)]
pub struct Meta {
    pub deployment: DeploymentId,
    pub domain: Domain,
    pub version: Version,
    pub head: ChainHash,
}

pub async fn init_meta(
    pool: &sqlx::AnyPool,
    deployment: DeploymentId,
    domain: &Domain,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO meta (id, deployment, domain, version, head, created_at) VALUES (1, $1, $2, 0, $3, $4)",
    )
    .bind(deployment.to_hex())
    .bind(domain.as_str())
    .bind(ChainHash::default().to_hex())
    .bind(super::now())
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn meta(pool: &sqlx::AnyPool) -> Result<Option<Meta>, DbError> {
    let Some(row) = sqlx::query("SELECT deployment, domain, version, head FROM meta WHERE id = 1")
        .fetch_optional(pool)
        .await?
    else {
        return Ok(None);
    };
    let corrupt = |e: &dyn std::fmt::Display| DbError::Corrupt(format!("meta: {e}"));
    Ok(Some(Meta {
        deployment: DeploymentId::parse(&row.try_get::<String, _>("deployment")?).map_err(|e| corrupt(&e))?,
        domain: Domain::parse(&row.try_get::<String, _>("domain")?).map_err(|e| corrupt(&e))?,
        version: Version(row.try_get::<i64, _>("version")? as u64),
        head: ChainHash::parse(&row.try_get::<String, _>("head")?).map_err(|e| corrupt(&e))?,
    }))
}

/// One change set as the log stores it.
pub struct Entry<'a> {
    pub version: Version,
    pub prev: Version,
    pub hash: ChainHash,
    pub author: &'a str,
    pub at: i64,
    pub ops: &'a [Op],
    pub frame: &'a [u8],
    /// The directory after the set: rows are written as records now are.
    pub after: &'a pochta_directory::Directory,
}

/// Writes the rows of the ops and appends the set, inside the caller's transaction.
/// Moving `meta.version` from exactly `prev` is the guard: two writers can never both append
/// the same version, and a gap cannot appear because the version only ever grows by one.
pub async fn append(tx: &mut Tx<'_>, e: &Entry<'_>) -> Result<(), DbError> {
    let moved = sqlx::query("UPDATE meta SET version = $1, head = $2 WHERE id = 1 AND version = $3")
        .bind(e.version.0 as i64)
        .bind(e.hash.to_hex())
        .bind(e.prev.0 as i64)
        .execute(&mut **tx)
        .await?;
    if moved.rows_affected() != 1 {
        return Err(DbError::Conflict(e.prev.0));
    }
    for op in e.ops {
        super::directory::persist(tx, op, e.after).await?;
    }
    sqlx::query(
        "INSERT INTO changes (version, hash, author, at, summary, frame) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(e.version.0 as i64)
    .bind(e.hash.to_hex())
    .bind(e.author)
    .bind(e.at)
    .bind(summary(e.ops))
    .bind(e.frame.to_vec())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Frames after `after`, in order, at most `limit` of them and about `max_bytes` in total.
pub async fn frames_after(
    pool: &sqlx::AnyPool,
    after: Version,
    limit: i64,
    max_bytes: usize,
) -> Result<Vec<Vec<u8>>, DbError> {
    let rows = sqlx::query("SELECT frame FROM changes WHERE version > $1 ORDER BY version LIMIT $2")
        .bind(after.0 as i64)
        .bind(limit)
        .fetch_all(pool)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    let mut total = 0;
    for row in rows {
        let frame: Vec<u8> = row.try_get("frame")?;
        total += frame.len();
        out.push(frame);
        if total >= max_bytes {
            break;
        }
    }
    Ok(out)
}

/// One line of history for the audit log.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HistoryItem {
    pub version: u64,
    pub author: String,
    pub at: i64,
    pub ops: serde_json::Value,
    pub bytes: usize,
}

/// History, newest first, optionally only sets whose author or content mention `q`.
///
/// The search runs here rather than in SQL: SQLite's `LOWER` and `LIKE` fold only ASCII (a
/// search for "Иванов" must find "иванов"), and matching the stored text would let a search
/// probe password hashes that the answer itself hides. The log is read newest first, a batch at
/// a time, until `limit` sets match.
pub async fn history(
    pool: &sqlx::AnyPool,
    q: Option<&str>,
    before: Option<Version>,
    limit: i64,
) -> Result<Vec<HistoryItem>, DbError> {
    const BATCH: i64 = 500;
    let needle = q.map(str::to_lowercase);
    let limit = usize::try_from(limit).unwrap_or(0);
    let mut cursor = before;
    let mut out = Vec::new();
    while out.len() < limit {
        let batch = if needle.is_some() { BATCH } else { (limit - out.len()) as i64 };
        let rows = sqlx::query(
            "SELECT version, author, at, summary, CAST(LENGTH(frame) AS BIGINT) AS bytes FROM changes \
             WHERE ($1 IS NULL OR version < $1) ORDER BY version DESC LIMIT $2",
        )
        .bind(cursor.map(|v| v.0 as i64))
        .bind(batch)
        .fetch_all(pool)
        .await?;
        let exhausted = (rows.len() as i64) < batch;
        for row in rows {
            let summary: String = row.try_get("summary")?;
            let mut ops: serde_json::Value =
                serde_json::from_str(&summary).map_err(|e| DbError::Corrupt(e.to_string()))?;
            redact_passwords(&mut ops);
            let item = HistoryItem {
                version: row.try_get::<i64, _>("version")? as u64,
                author: row.try_get("author")?,
                at: row.try_get("at")?,
                ops,
                bytes: row.try_get::<i64, _>("bytes")? as usize,
            };
            cursor = Some(Version(item.version));
            let wanted = needle.as_deref().is_none_or(|n| {
                item.author.to_lowercase().contains(n) || item.ops.to_string().to_lowercase().contains(n)
            });
            if wanted && out.len() < limit {
                out.push(item);
            }
        }
        if exhausted || needle.is_none() {
            break;
        }
    }
    Ok(out)
}

/// The ops as the audit log keeps them: a DKIM private key is never written there (the frame
/// carries it to the agents; the log has no need of it).
fn summary(ops: &[pochta_directory::Op]) -> String {
    let mut v = serde_json::to_value(ops).expect("ops serialise");
    hide(&mut v, "private_key");
    v.to_string()
}

fn hide(v: &mut serde_json::Value, field: &str) {
    match v {
        serde_json::Value::Object(m) => {
            if let Some(p) = m.get_mut(field) {
                *p = serde_json::Value::String("(hidden)".into());
            }
            m.values_mut().for_each(|x| hide(x, field));
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(|x| hide(x, field)),
        _ => {}
    }
}

/// The audit log shows that a record has a password, never the hash.
fn redact_passwords(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            let is_set_password = m.get("op").and_then(|o| o.as_str()) == Some("set_password");
            for key in ["password", if is_set_password { "hash" } else { "password" }] {
                if let Some(p) = m.get_mut(key).filter(|p| !p.is_null()) {
                    *p = serde_json::Value::String("(hidden)".into());
                }
            }
            m.values_mut().for_each(redact_passwords);
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(redact_passwords),
        _ => {}
    }
}
