//! Directory rows: sites, users, aliases and lists, DKIM keys. Written only through `persist`, which the
//! change log calls inside the transaction that appends the change set.

use pochta_directory::{Directory, Domain, Group, LocalPart, Op, Site, SiteId, User};
use sqlx::Row;

use super::{DbError, Tx};

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("directory records serialise")
}

fn parse<T: serde::de::DeserializeOwned>(s: &str, what: &str) -> Result<T, DbError> {
    serde_json::from_str(s).map_err(|e| DbError::Corrupt(format!("{what}: {e}")))
}

fn corrupt(e: impl std::fmt::Display) -> DbError {
    DbError::Corrupt(e.to_string())
}

/// Writes the rows an op changes, as they are in `after` (the directory with the op applied).
pub async fn persist(tx: &mut Tx<'_>, op: &Op, after: &Directory) -> Result<(), DbError> {
    match op {
        Op::PutSite(s) => {
            sqlx::query(
                "INSERT INTO sites (id, name, level, agents, default_quota, outgoing) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, level = excluded.level, \
                 agents = excluded.agents, default_quota = excluded.default_quota, outgoing = excluded.outgoing",
            )
            .bind(s.id.as_str())
            .bind(&s.name)
            .bind(u8::from(s.level) as i64)
            .bind(json(&s.agents))
            .bind(s.default_quota.map(bytes_column))
            .bind(json(&s.outgoing))
            .execute(&mut **tx)
            .await?;
        }
        Op::DeleteSite { id } => {
            sqlx::query("DELETE FROM sites WHERE id = $1").bind(id.as_str()).execute(&mut **tx).await?;
        }
        // The row is the user as he now is: a `PutUser` without a hash keeps the stored one.
        Op::PutUser(User { name, .. }) | Op::SetPassword { name, .. } => {
            if let Some(u) = after.user(name) {
                put_user_row(tx, u).await?;
            }
        }
        Op::DeleteUser { name } => {
            sqlx::query("DELETE FROM users WHERE name = $1").bind(name.folded()).execute(&mut **tx).await?;
        }
        Op::PutGroup(g) => {
            sqlx::query(
                "INSERT INTO mail_groups (name, local_part, kind, description, policy, members) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (name) DO UPDATE SET local_part = excluded.local_part, kind = excluded.kind, \
                 description = excluded.description, policy = excluded.policy, members = excluded.members",
            )
            .bind(g.name.folded())
            .bind(g.name.as_str())
            .bind(json(&g.kind))
            .bind(&g.description)
            .bind(json(&g.policy))
            .bind(json(&g.members))
            .execute(&mut **tx)
            .await?;
        }
        Op::DeleteGroup { name } => {
            sqlx::query("DELETE FROM mail_groups WHERE name = $1")
                .bind(name.folded())
                .execute(&mut **tx)
                .await?;
        }
        Op::PutDkimKey(k) => {
            sqlx::query(
                "INSERT INTO dkim_keys (selector, body) VALUES ($1, $2) \
                 ON CONFLICT (selector) DO UPDATE SET body = excluded.body",
            )
            .bind(k.selector.as_str())
            .bind(json(k))
            .execute(&mut **tx)
            .await?;
        }
        Op::PutSettings(settings) => {
            sqlx::query(
                "INSERT INTO domain_settings (id, body) VALUES (1, $1) \
                 ON CONFLICT (id) DO UPDATE SET body = excluded.body",
            )
            .bind(json(settings))
            .execute(&mut **tx)
            .await?;
        }
        Op::DeleteDkimKey { selector } => {
            sqlx::query("DELETE FROM dkim_keys WHERE selector = $1")
                .bind(selector.as_str())
                .execute(&mut **tx)
                .await?;
        }
    }
    Ok(())
}

async fn put_user_row(tx: &mut Tx<'_>, u: &User) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO users (name, local_part, display_name, site, former_sites, password, enabled, mailbox, \
         app_passwords) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (name) DO UPDATE SET local_part = excluded.local_part, \
         display_name = excluded.display_name, site = excluded.site, \
         former_sites = excluded.former_sites, password = excluded.password, enabled = excluded.enabled, \
         mailbox = excluded.mailbox, app_passwords = excluded.app_passwords",
    )
    .bind(u.name.folded())
    .bind(u.name.as_str())
    .bind(&u.display_name)
    .bind(u.site.as_str())
    .bind(json(&u.former_sites))
    .bind(u.password.as_ref().map(|p| p.0.clone()))
    .bind(u.enabled as i64)
    .bind(json(&u.mailbox))
    .bind(json(&u.app_passwords))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Byte counts live in signed 64-bit columns (PostgreSQL has no unsigned type); anything past
/// 8 EiB is "no practical limit" and is stored as the largest value rather than refused.
pub(super) fn bytes_column(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Reads the whole directory. Done once at start; afterwards the server keeps it in memory.
pub async fn load(pool: &sqlx::AnyPool, domain: Domain) -> Result<Directory, DbError> {
    let mut dir = Directory::new(domain);
    for row in sqlx::query("SELECT id, name, level, agents, default_quota, outgoing FROM sites")
        .fetch_all(pool)
        .await?
    {
        let id: String = row.try_get("id")?;
        let level: i64 = row.try_get("level")?;
        let site = Site {
            id: SiteId::parse(&id).map_err(corrupt)?,
            name: row.try_get("name")?,
            level: u8::try_from(level).map_err(corrupt)?.try_into().map_err(corrupt)?,
            agents: parse(&row.try_get::<String, _>("agents")?, "site agents")?,
            default_quota: row.try_get::<Option<i64>, _>("default_quota")?.map(|q| q.max(0) as u64),
            outgoing: parse(&row.try_get::<String, _>("outgoing")?, "site outgoing addresses")?,
        };
        dir.sites.insert(site.id.clone(), site);
    }
    let rows = sqlx::query(
        "SELECT local_part, display_name, site, former_sites, password, enabled, mailbox, app_passwords \
         FROM users",
    )
    .fetch_all(pool)
    .await?;
    for row in rows {
        let local: String = row.try_get("local_part")?;
        let site: String = row.try_get("site")?;
        let user = User {
            name: LocalPart::parse(&local).map_err(corrupt)?,
            display_name: row.try_get("display_name")?,
            site: SiteId::parse(&site).map_err(corrupt)?,
            former_sites: parse(&row.try_get::<String, _>("former_sites")?, "former sites")?,
            password: row.try_get::<Option<String>, _>("password")?.map(pochta_directory::PasswordHash),
            enabled: row.try_get::<i64, _>("enabled")? != 0,
            mailbox: parse(&row.try_get::<String, _>("mailbox")?, "mailbox settings")?,
            app_passwords: parse(&row.try_get::<String, _>("app_passwords")?, "app passwords")?,
        };
        dir.users.insert(user.name.clone(), user);
    }
    let rows = sqlx::query("SELECT local_part, kind, description, policy, members FROM mail_groups")
        .fetch_all(pool)
        .await?;
    for row in rows {
        let local: String = row.try_get("local_part")?;
        let group = Group {
            name: LocalPart::parse(&local).map_err(corrupt)?,
            kind: parse(&row.try_get::<String, _>("kind")?, "group kind")?,
            description: row.try_get("description")?,
            policy: parse(&row.try_get::<String, _>("policy")?, "posting policy")?,
            members: parse(&row.try_get::<String, _>("members")?, "members")?,
        };
        dir.groups.insert(group.name.clone(), group);
    }
    if let Some(row) =
        sqlx::query("SELECT body FROM domain_settings WHERE id = 1").fetch_optional(pool).await?
    {
        dir.settings = parse(&row.try_get::<String, _>("body")?, "domain settings")?;
    }
    for row in sqlx::query("SELECT body FROM dkim_keys").fetch_all(pool).await? {
        let key: pochta_directory::dkim::DkimKey = parse(&row.try_get::<String, _>("body")?, "DKIM key")?;
        dir.dkim.insert(key.selector.clone(), key);
    }
    Ok(dir)
}
