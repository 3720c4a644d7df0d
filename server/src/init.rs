//! `pochta-server init`: a new data folder with its database, keys and first administrator.

use std::net::SocketAddr;
use std::path::Path;

use anyhow::{Context, bail};
use pochta_directory::wire::{DeploymentId, Signer};
use pochta_directory::{Domain, PasswordHash};
use serde::Serialize;

use crate::config::Config;
use crate::db::{self, Db};

pub struct InitOptions<'a> {
    pub domain: &'a str,
    pub database: Option<&'a str>,
    pub listen: SocketAddr,
    pub public_url: &'a str,
    pub admin: &'a str,
    /// The zone the pages show times in by default (IANA name, `UTC`, `Europe/Moscow`).
    pub time_zone: &'a str,
}

/// What `init` made; the password and token are shown once and stored only as hashes.
#[derive(Debug, Clone, Serialize)]
pub struct Initialised {
    pub admin: String,
    pub password: String,
    pub token: String,
    pub deployment: String,
    pub verify_key: String,
}

pub async fn init(data_dir: &Path, opts: InitOptions<'_>) -> anyhow::Result<Initialised> {
    let domain =
        Domain::parse(opts.domain).with_context(|| format!("'{}' is not a mail domain", opts.domain))?;
    if crate::web::zone::Zone::named(opts.time_zone).is_none() {
        bail!("'{}' is not a time zone of the system's tz database (e.g. Europe/Moscow)", opts.time_zone);
    }
    if data_dir.join(Config::FILE).exists() {
        bail!("{} already holds a Pochta server; refusing to overwrite it", data_dir.display());
    }
    std::fs::create_dir_all(data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
    let data_dir = data_dir.canonicalize()?;
    let database = match opts.database {
        Some(url) => url.to_owned(),
        None => format!("sqlite://{}?mode=rwc", data_dir.join("pochta.db").display()),
    };
    let config = Config {
        listen: opts.listen,
        public_url: opts.public_url.to_owned(),
        database,
        enrollment_ttl_secs: 24 * 3600,
        dkim_retirement_secs: 7 * 24 * 3600,
        dns_servers: vec![],
        time_zone: opts.time_zone.to_owned(),
        data_dir: data_dir.clone(),
    };
    let signer = Signer::generate();
    write_secret(&config.signing_key_path(), &signer.to_hex())?;
    write_secret(&data_dir.join("peer.secret"), &db::auth::random_token())?;

    let db = Db::connect(&config.database).await.with_context(|| format!("opening {}", config.database))?;
    if db::changelog::meta(&db.pool).await?.is_some() {
        bail!("the database {} already holds a deployment", config.database);
    }
    let deployment = DeploymentId::random();
    db::changelog::init_meta(&db.pool, deployment, &domain).await?;
    let password = db::auth::random_token()[..20].to_owned();
    let hash = tokio::task::spawn_blocking({
        let p = password.clone();
        move || PasswordHash::create(&p)
    })
    .await?;
    db::auth::put_admin(&db.pool, opts.admin, &hash.0).await?;
    let token = db::auth::create_token(&db.pool, opts.admin, opts.admin).await?;
    db.pool.close().await;
    config.save()?;
    Ok(Initialised {
        admin: opts.admin.to_owned(),
        password,
        token,
        deployment: deployment.to_hex(),
        verify_key: signer.verifier().to_hex(),
    })
}

fn write_secret(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

/// `pochta-server recover-admin`: regains access from the server's own machine when nobody
/// can log in (the last administrator lost the password, or the phone and the recovery
/// codes). The administrator gets a new password (to replace at the next login), is enabled,
/// has two-factor login off, and every session of theirs ends. Needs the data folder, so only the server's operator can.
pub async fn recover_admin(data_dir: &Path, name: &str) -> anyhow::Result<String> {
    let config = Config::load(data_dir)?;
    let db = Db::connect(&config.database).await.with_context(|| format!("opening {}", config.database))?;
    let password = crate::manage::admins::new_password();
    let hash = PasswordHash::create(&password);
    let mut tx = db.pool.begin().await?;
    if !db::auth::set_admin_password(&mut tx, name, &hash.0, true).await? {
        bail!("there is no administrator '{name}'");
    }
    db::auth::set_admin_disabled(&mut tx, name, None).await?;
    db::auth::set_admin_totp(&mut tx, name, None, &[]).await?;
    for role in [db::web::Role::Admin, db::web::Role::Pending, db::web::Role::Renew] {
        db::web::delete_sessions_of(&mut *tx, role, name, None).await?;
    }
    tx.commit().await?;
    tracing::warn!(admin = name, "administrator recovered from the command line");
    Ok(password)
}
