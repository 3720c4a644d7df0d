//! Administrators, API tokens, enrollment tokens and enrolled agents.
//! Secrets are stored only as SHA-256 digests (tokens) or Argon2id hashes (passwords).

use pochta_directory::wire::Version;
use sqlx::Row;

use super::{DbError, now};

pub fn digest(secret: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(secret.as_bytes()))
}

/// A random token: 32 bytes, URL-safe base64.
pub fn random_token() -> String {
    use base64::Engine;
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).expect("the OS has randomness");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

pub async fn put_admin(pool: &sqlx::AnyPool, name: &str, password_hash: &str) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO admins (name, password, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (name) DO UPDATE SET password = excluded.password",
    )
    .bind(name)
    .bind(password_hash)
    .bind(now())
    .execute(pool)
    .await?;
    Ok(())
}

/// The password hash of an administrator who may log in (a disabled one has none).
pub async fn admin_password(pool: &sqlx::AnyPool, name: &str) -> Result<Option<String>, DbError> {
    Ok(sqlx::query("SELECT password FROM admins WHERE name = $1 AND disabled_at IS NULL")
        .bind(name)
        .fetch_optional(pool)
        .await?
        .map(|r| r.try_get("password"))
        .transpose()?)
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct AdminRow {
    pub name: String,
    pub created_at: i64,
    /// Empty for the first, made by `init`.
    pub created_by: String,
    pub disabled_at: Option<i64>,
    /// Whether logging in takes a code from an authenticator app too.
    pub two_factor: bool,
    /// Still on a password someone else made: chooses their own at the next login.
    pub must_change_password: bool,
    /// The sites they may touch, as stored (empty: the whole domain).
    pub sites: String,
}

pub async fn admins(pool: &sqlx::AnyPool) -> Result<Vec<AdminRow>, DbError> {
    let rows = sqlx::query(
        "SELECT name, created_at, created_by, disabled_at, must_change_password, sites, \
         CASE WHEN totp_secret IS NULL THEN 0 ELSE 1 END AS two_factor \
         FROM admins ORDER BY name",
    )
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(AdminRow {
                name: r.try_get("name")?,
                created_at: r.try_get("created_at")?,
                created_by: r.try_get("created_by")?,
                disabled_at: r.try_get("disabled_at")?,
                two_factor: r.try_get::<i64, _>("two_factor")? == 1,
                must_change_password: r.try_get::<i64, _>("must_change_password")? != 0,
                sites: r.try_get("sites")?,
            })
        })
        .collect()
}

/// Adds an administrator; `false` when the name is taken.
pub async fn add_admin(
    pool: &sqlx::AnyPool,
    name: &str,
    password_hash: &str,
    created_by: &str,
    sites: &str,
) -> Result<bool, DbError> {
    Ok(sqlx::query(
        "INSERT INTO admins (name, password, created_at, created_by, must_change_password, sites) \
         VALUES ($1, $2, $3, $4, 1, $5) ON CONFLICT (name) DO NOTHING",
    )
    .bind(name)
    .bind(password_hash)
    .bind(now())
    .bind(created_by)
    .bind(sites)
    .execute(pool)
    .await?
    .rows_affected()
        == 1)
}

/// Sets an administrator's password, and whether they must choose another at the next login
/// (a password someone else made); `false` when there is none by that name.
pub async fn set_admin_password(
    tx: &mut super::Tx<'_>,
    name: &str,
    password_hash: &str,
    must_change: bool,
) -> Result<bool, DbError> {
    Ok(sqlx::query("UPDATE admins SET password = $1, must_change_password = $2 WHERE name = $3")
        .bind(password_hash)
        .bind(i64::from(must_change))
        .bind(name)
        .execute(&mut **tx)
        .await?
        .rows_affected()
        == 1)
}

/// Whether an administrator must choose a new password before doing anything else.
pub async fn admin_must_change_password(pool: &sqlx::AnyPool, name: &str) -> Result<bool, DbError> {
    let row = sqlx::query("SELECT must_change_password FROM admins WHERE name = $1")
        .bind(name)
        .fetch_optional(pool)
        .await?;
    Ok(match row {
        Some(r) => r.try_get::<i64, _>("must_change_password")? != 0,
        None => false,
    })
}

/// Disables (at `at`) or enables (`None`) an administrator; `false` when there is none.
pub async fn set_admin_disabled(
    tx: &mut super::Tx<'_>,
    name: &str,
    at: Option<i64>,
) -> Result<bool, DbError> {
    Ok(sqlx::query("UPDATE admins SET disabled_at = $1 WHERE name = $2")
        .bind(at)
        .bind(name)
        .execute(&mut **tx)
        .await?
        .rows_affected()
        == 1)
}

pub async fn create_token(pool: &sqlx::AnyPool, name: &str, created_by: &str) -> Result<String, DbError> {
    let token = format!("pt_{}", random_token());
    sqlx::query("INSERT INTO api_tokens (hash, name, created_by, created_at) VALUES ($1, $2, $3, $4)")
        .bind(digest(&token))
        .bind(name)
        .bind(created_by)
        .bind(now())
        .execute(pool)
        .await?;
    Ok(token)
}

/// The token's name and its administrator's sites (as stored), when the token is valid: its
/// administrator is not disabled.
pub async fn token_owner(pool: &sqlx::AnyPool, token: &str) -> Result<Option<(String, String)>, DbError> {
    Ok(sqlx::query(
        "SELECT t.name, a.sites FROM api_tokens t JOIN admins a ON a.name = t.created_by \
         WHERE t.hash = $1 AND a.disabled_at IS NULL",
    )
    .bind(digest(token))
    .fetch_optional(pool)
    .await?
    .map(|r| Ok::<_, sqlx::Error>((r.try_get("name")?, r.try_get("sites")?)))
    .transpose()?)
}

/// The sites an administrator may touch, as stored (empty: the whole domain); `None` when
/// there is no such administrator.
pub async fn admin_sites(pool: &sqlx::AnyPool, name: &str) -> Result<Option<String>, DbError> {
    Ok(sqlx::query("SELECT sites FROM admins WHERE name = $1")
        .bind(name)
        .fetch_optional(pool)
        .await?
        .map(|r| r.try_get("sites"))
        .transpose()?)
}

/// Sets the sites an administrator may touch (empty: the whole domain); `false` when there is
/// none by that name.
pub async fn set_admin_sites(tx: &mut super::Tx<'_>, name: &str, sites: &str) -> Result<bool, DbError> {
    Ok(sqlx::query("UPDATE admins SET sites = $1 WHERE name = $2")
        .bind(sites)
        .bind(name)
        .execute(&mut **tx)
        .await?
        .rows_affected()
        == 1)
}

pub async fn create_enrollment(
    pool: &sqlx::AnyPool,
    site: &str,
    ttl_secs: i64,
) -> Result<(String, i64), DbError> {
    let token = random_token();
    let expires = now() + ttl_secs;
    sqlx::query("INSERT INTO enrollments (hash, site, created_at, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(digest(&token))
        .bind(site)
        .bind(now())
        .bind(expires)
        .execute(pool)
        .await?;
    Ok((token, expires))
}

/// Uses up a one-time enrollment token and returns its site. A token works once, before expiry.
pub async fn redeem_enrollment(tx: &mut super::Tx<'_>, token: &str) -> Result<Option<String>, DbError> {
    let t = now();
    let row = sqlx::query(
        "UPDATE enrollments SET used_at = $1 WHERE hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING site",
    )
    .bind(t)
    .bind(digest(token))
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(|r| r.try_get("site")).transpose()?)
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct AgentRow {
    pub id: String,
    pub site: String,
    pub url: String,
    pub tls_sha256: String,
    pub applied: u64,
    pub last_seen: Option<i64>,
    pub enrolled_at: i64,
}

fn agent_row(r: sqlx::any::AnyRow) -> Result<AgentRow, DbError> {
    Ok(AgentRow {
        id: r.try_get("id")?,
        site: r.try_get("site")?,
        url: r.try_get("url")?,
        tls_sha256: r.try_get("tls_sha256")?,
        applied: r.try_get::<i64, _>("applied")? as u64,
        last_seen: r.try_get("last_seen")?,
        enrolled_at: r.try_get("enrolled_at")?,
    })
}

macro_rules! agent_cols {
    () => {
        "id, site, url, tls_sha256, applied, last_seen, enrolled_at"
    };
}

pub async fn insert_agent(tx: &mut super::Tx<'_>, agent: &AgentRow, secret: &str) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO agents (id, site, url, tls_sha256, secret_hash, applied, last_seen, enrolled_at) \
         VALUES ($1, $2, $3, $4, $5, 0, NULL, $6)",
    )
    .bind(&agent.id)
    .bind(&agent.site)
    .bind(&agent.url)
    .bind(&agent.tls_sha256)
    .bind(digest(secret))
    .bind(agent.enrolled_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn agents(pool: &sqlx::AnyPool) -> Result<Vec<AgentRow>, DbError> {
    sqlx::query(concat!("SELECT ", agent_cols!(), " FROM agents ORDER BY site, id"))
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(agent_row)
        .collect()
}

pub async fn agent_by_secret(pool: &sqlx::AnyPool, secret: &str) -> Result<Option<AgentRow>, DbError> {
    sqlx::query(concat!("SELECT ", agent_cols!(), " FROM agents WHERE secret_hash = $1"))
        .bind(digest(secret))
        .fetch_optional(pool)
        .await?
        .map(agent_row)
        .transpose()
}

/// Records that an agent was heard from and what it has applied. Never moves `applied` back.
pub async fn agent_seen(pool: &sqlx::AnyPool, id: &str, applied: Option<Version>) -> Result<(), DbError> {
    let applied = applied.map(|v| v.0 as i64).unwrap_or(0);
    sqlx::query(
        "UPDATE agents SET last_seen = $1, applied = CASE WHEN applied > $2 THEN applied ELSE $2 END WHERE id = $3",
    )
    .bind(now())
    .bind(applied)
    .bind(id)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn delete_agent(tx: &mut super::Tx<'_>, id: &str) -> Result<bool, DbError> {
    // What it last offered mail clients goes with it (`db::reports`).
    sqlx::query("DELETE FROM agent_services WHERE agent = $1").bind(id).execute(&mut **tx).await?;
    Ok(sqlx::query("DELETE FROM agents WHERE id = $1").bind(id).execute(&mut **tx).await?.rows_affected()
        == 1)
}

/// An administrator's two-factor key (base32) and the last time step a code was taken for;
/// `None` while two-factor login is off.
pub async fn admin_totp(pool: &sqlx::AnyPool, name: &str) -> Result<Option<(String, i64)>, DbError> {
    let row =
        sqlx::query("SELECT totp_secret, totp_step FROM admins WHERE name = $1 AND disabled_at IS NULL")
            .bind(name)
            .fetch_optional(pool)
            .await?;
    let Some(r) = row else { return Ok(None) };
    let secret: Option<String> = r.try_get("totp_secret")?;
    let step: i64 = r.try_get("totp_step")?;
    Ok(secret.map(|s| (s, step)))
}

/// Takes a code's time step, once: `false` when that step or a later one was already taken
/// (the same code replayed, or an older one).
pub async fn take_totp_step(pool: &sqlx::AnyPool, name: &str, step: i64) -> Result<bool, DbError> {
    Ok(sqlx::query("UPDATE admins SET totp_step = $1 WHERE name = $2 AND totp_step < $1")
        .bind(step)
        .bind(name)
        .execute(pool)
        .await?
        .rows_affected()
        == 1)
}

/// Turns two-factor login on with `secret` and these recovery codes' digests (replacing any
/// earlier ones), or off (`None`, codes gone); `false` when there is no such administrator.
pub async fn set_admin_totp(
    tx: &mut super::Tx<'_>,
    name: &str,
    secret: Option<(&str, i64)>,
    recovery_digests: &[String],
) -> Result<bool, DbError> {
    let found = sqlx::query("UPDATE admins SET totp_secret = $1, totp_step = $2 WHERE name = $3")
        .bind(secret.map(|s| s.0))
        .bind(secret.map_or(0, |s| s.1))
        .bind(name)
        .execute(&mut **tx)
        .await?
        .rows_affected()
        == 1;
    replace_recovery_codes(tx, name, recovery_digests).await?;
    Ok(found)
}

pub async fn replace_recovery_codes(
    tx: &mut super::Tx<'_>,
    name: &str,
    digests: &[String],
) -> Result<(), DbError> {
    sqlx::query("DELETE FROM admin_recovery_codes WHERE admin = $1").bind(name).execute(&mut **tx).await?;
    for d in digests {
        sqlx::query("INSERT INTO admin_recovery_codes (admin, hash, used_at) VALUES ($1, $2, NULL)")
            .bind(name)
            .bind(d)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Uses up a recovery code; `false` when it is not one of this administrator's unused codes.
pub async fn use_recovery_code(pool: &sqlx::AnyPool, name: &str, code: &str) -> Result<bool, DbError> {
    Ok(sqlx::query(
        "UPDATE admin_recovery_codes SET used_at = $1 WHERE admin = $2 AND hash = $3 AND used_at IS NULL",
    )
    .bind(now())
    .bind(name)
    .bind(digest(code))
    .execute(pool)
    .await?
    .rows_affected()
        == 1)
}

/// How many unused recovery codes an administrator has left.
pub async fn recovery_codes_left(pool: &sqlx::AnyPool, name: &str) -> Result<i64, DbError> {
    Ok(sqlx::query("SELECT COUNT(*) AS n FROM admin_recovery_codes WHERE admin = $1 AND used_at IS NULL")
        .bind(name)
        .fetch_one(pool)
        .await?
        .try_get("n")?)
}
