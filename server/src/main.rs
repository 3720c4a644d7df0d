use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use pochta_server::init::{InitOptions, init};

/// Pochta central server: one mail domain across many sites.
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a data folder: database, signing key, TLS certificate, first administrator.
    Init {
        #[arg(long, default_value = "./server-data")]
        data: PathBuf,
        /// The mail domain, e.g. example.org.
        #[arg(long)]
        domain: String,
        /// PostgreSQL URL; the default is SQLite in the data folder.
        #[arg(long, env = "POCHTA_DATABASE_URL")]
        database: Option<String>,
        #[arg(long, default_value = "127.0.0.1:8443")]
        listen: SocketAddr,
        /// How agents reach this server, if not `https://<listen>`.
        #[arg(long, default_value = "")]
        public_url: String,
        #[arg(long, default_value = "admin")]
        admin: String,
        /// The time zone pages show times in unless a person picks another, e.g. Europe/Moscow.
        #[arg(long, default_value = "UTC")]
        time_zone: String,
    },
    /// Start a central server and three agents on loopback with a seeded directory.
    Demo {
        /// Keep everything in this folder (and keep it afterwards); default: a temporary folder.
        #[arg(long)]
        data: Option<PathBuf>,
    },
    /// Regain access when nobody can log in: a new password for an administrator, who is
    /// enabled again with two-factor login off (their sessions end).
    RecoverAdmin {
        #[arg(long, default_value = "./server-data")]
        data: PathBuf,
        /// The administrator's name.
        #[arg(long)]
        name: String,
    },
    /// Run the server.
    Serve {
        #[arg(long, default_value = "./server-data")]
        data: PathBuf,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .init();
    match Cli::parse().command {
        Command::Init { data, domain, database, listen, public_url, admin, time_zone } => {
            let opts = InitOptions {
                domain: &domain,
                database: database.as_deref(),
                listen,
                public_url: &public_url,
                admin: &admin,
                time_zone: &time_zone,
            };
            let done = init(&data, opts).await?;
            println!("Created {} for {domain} (deployment {}).", data.display(), done.deployment);
            println!("Administrator: {}  password: {}  (shown once)", done.admin, done.password);
            println!("API token:     {}  (shown once)", done.token);
            println!("Start it with: pochta-server serve --data {}", data.display());
        }
        Command::RecoverAdmin { data, name } => {
            let password = pochta_server::init::recover_admin(&data, &name).await?;
            println!("Administrator: {name}  new password: {password}  (shown once)");
            println!("Two-factor login is off for {name}; their sessions have ended.");
        }
        Command::Demo { data } => pochta_server::demo::run(data).await?,
        Command::Serve { data } => {
            let running = pochta_server::App::build(&data).await?.spawn().await?;
            tokio::select! {
                r = tokio::signal::ctrl_c() => r?,
                _ = terminate() => {}
            }
            tracing::info!("stopping");
            running.stop().await;
        }
    }
    Ok(())
}

async fn terminate() {
    #[cfg(unix)]
    if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        s.recv().await;
        return;
    }
    std::future::pending::<()>().await
}
