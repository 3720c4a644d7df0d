//! The change log: one row per change set, numbered without gaps, holding the signed frame that
//! agents receive. It doubles as the audit log (who, when, what).

use pochta_directory::wire::{ChainHash, DeploymentId, Version};
use pochta_directory::{Domain, Op};
use sqlx::Row;

use super::{DbError, Tx};
use crate::audit::{self, Kind, Record};

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
    /// Per op, the record it replaced (`audit::prior`).
    pub priors: &'a [Option<Record>],
    pub reverts: Option<Version>,
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
        "INSERT INTO changes (version, hash, author, at, summary, frame, prior, tags, reverts) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(e.version.0 as i64)
    .bind(e.hash.to_hex())
    .bind(e.author)
    .bind(e.at)
    .bind(summary(e.ops))
    .bind(e.frame.to_vec())
    .bind(without_private_keys(e.priors))
    .bind(audit::tags(e.ops, e.priors))
    .bind(e.reverts.map(|v| v.0 as i64))
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
    /// Per op, the record it replaced (`null`: none), passwords hidden; `[]` for sets written
    /// before the log kept them.
    pub prior: serde_json::Value,
    /// The version this set undid, when it was a revert.
    pub reverts: Option<u64>,
    pub bytes: usize,
}

/// What the history is narrowed to. Every field is optional; all given ones must hold.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Free text in the author or the content (`Иванов` finds `иванов`).
    pub text: Option<String>,
    /// Exactly this author.
    pub author: Option<String>,
    /// Sets about this record: a user, alias, list, site or key name, or a member's address.
    pub object: Option<String>,
    /// Sets that concern this site (a user's home before or after, the site itself).
    pub site: Option<String>,
    pub kind: Option<Kind>,
    /// Unix seconds: `since <= at < until`.
    pub since: Option<i64>,
    pub until: Option<i64>,
}

/// `LIKE` pattern for one exact tag.
fn tag_pattern(prefix: &str, value: &str) -> String {
    let escaped: String = value
        .to_lowercase()
        .chars()
        .flat_map(|c| match c {
            '%' | '_' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    format!("% {prefix}:{escaped} %")
}

/// History, newest first, before version `before` when given, at most `limit` sets that pass
/// `filter`.
///
/// The tag, author and date filters run in SQL. The free-text search runs here: SQLite's
/// `LOWER` and `LIKE` fold only ASCII (a search for "Иванов" must find "иванов"), and
/// matching the stored text would let a search probe password hashes that the answer itself
/// hides. The log is read newest first, a batch at a time, until `limit` sets match.
pub async fn history(
    pool: &sqlx::AnyPool,
    filter: &Filter,
    before: Option<Version>,
    limit: i64,
) -> Result<Vec<HistoryItem>, DbError> {
    const BATCH: i64 = 500;
    let needle = filter.text.as_deref().map(str::to_lowercase);
    let limit = usize::try_from(limit).unwrap_or(0);
    let mut sql = String::from(
        "SELECT version, author, at, summary, prior, reverts, CAST(LENGTH(frame) AS BIGINT) AS bytes \
         FROM changes WHERE ($1 IS NULL OR version < $1)",
    );
    let mut binds: Vec<String> = Vec::new();
    let mut bind = |sql: &mut String, clause: &str, value: String| {
        binds.push(value);
        sql.push_str(&clause.replace('?', &format!("${}", binds.len() + 1)));
    };
    if let Some(a) = &filter.author {
        bind(&mut sql, " AND author = ?", a.clone());
    }
    for (prefix, value) in [("obj", &filter.object), ("at", &filter.site)] {
        if let Some(v) = value {
            bind(&mut sql, " AND tags LIKE ? ESCAPE '\\'", tag_pattern(prefix, v));
        }
    }
    if let Some(k) = filter.kind {
        bind(&mut sql, " AND tags LIKE ? ESCAPE '\\'", tag_pattern("kind", k.as_str()));
    }
    let mut times = Vec::new();
    for (clause, t) in [(" AND at >= ", filter.since), (" AND at < ", filter.until)] {
        if let Some(t) = t {
            times.push(t);
            sql.push_str(&format!("{clause}${}", binds.len() + times.len() + 1));
        }
    }
    let limit_param = binds.len() + times.len() + 2;
    sql.push_str(&format!(" ORDER BY version DESC LIMIT ${limit_param}"));

    let mut cursor = before;
    let mut out = Vec::new();
    while out.len() < limit {
        let batch = if needle.is_some() { BATCH } else { (limit - out.len()) as i64 };
        // Safe: the text is made of the fixed clauses above; every value is a bound parameter.
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.clone())).bind(cursor.map(|v| v.0 as i64));
        for b in &binds {
            query = query.bind(b.as_str());
        }
        for t in &times {
            query = query.bind(*t);
        }
        let rows = query.bind(batch).fetch_all(pool).await?;
        let exhausted = (rows.len() as i64) < batch;
        for row in rows {
            let json = |col: &str| -> Result<serde_json::Value, DbError> {
                let text: String = row.try_get(col)?;
                let mut v: serde_json::Value =
                    serde_json::from_str(&text).map_err(|e| DbError::Corrupt(e.to_string()))?;
                redact_passwords(&mut v);
                Ok(v)
            };
            let item = HistoryItem {
                version: row.try_get::<i64, _>("version")? as u64,
                author: row.try_get("author")?,
                at: row.try_get("at")?,
                ops: json("summary")?,
                prior: json("prior")?,
                reverts: row.try_get::<Option<i64>, _>("reverts")?.map(|v| v as u64),
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

/// Everyone who has changed the directory, for the history's author filter.
pub async fn authors(pool: &sqlx::AnyPool) -> Result<Vec<String>, DbError> {
    let rows =
        sqlx::query("SELECT DISTINCT author FROM changes ORDER BY author LIMIT 500").fetch_all(pool).await?;
    rows.iter().map(|r| Ok(r.try_get::<String, _>("author")?)).collect()
}

/// One set as a revert needs it: its signed frame (the ops exactly as the agents applied
/// them) and the records its ops replaced, passwords included.
pub struct Stored {
    pub frame: Vec<u8>,
    pub priors: Vec<Option<Record>>,
    pub reverts: Option<u64>,
}

pub async fn stored(pool: &sqlx::AnyPool, version: Version) -> Result<Option<Stored>, DbError> {
    let Some(row) = sqlx::query("SELECT frame, prior, reverts FROM changes WHERE version = $1")
        .bind(version.0 as i64)
        .fetch_optional(pool)
        .await?
    else {
        return Ok(None);
    };
    let prior: String = row.try_get("prior")?;
    Ok(Some(Stored {
        frame: row.try_get("frame")?,
        priors: serde_json::from_str(&prior)
            .map_err(|e| DbError::Corrupt(format!("prior of {version}: {e}")))?,
        reverts: row.try_get::<Option<i64>, _>("reverts")?.map(|v| v as u64),
    }))
}

/// Versions after `after` that touch any of `objects` (`audit::objects`), oldest first.
pub async fn touching_since(
    pool: &sqlx::AnyPool,
    after: Version,
    objects: &std::collections::BTreeSet<String>,
) -> Result<Vec<u64>, DbError> {
    // Read here rather than as one LIKE per object: a large import has thousands.
    let rows = sqlx::query("SELECT version, tags FROM changes WHERE version > $1 ORDER BY version")
        .bind(after.0 as i64)
        .fetch_all(pool)
        .await?;
    let mut out = Vec::new();
    for row in rows {
        let tags: String = row.try_get("tags")?;
        if tags.split(' ').any(|t| objects.contains(t)) {
            out.push(row.try_get::<i64, _>("version")? as u64);
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

/// The priors as the log keeps them: no private key either.
fn without_private_keys(priors: &[Option<Record>]) -> String {
    let mut v = serde_json::to_value(priors).expect("records serialise");
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
