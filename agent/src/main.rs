//! `pochta-agent`: enroll, run, and inspect a site agent.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use pochta_agent::enroll::{EnrollArgs, enroll};
use pochta_agent::routing::Routing;
use pochta_agent::{App, Offline};

#[derive(Parser)]
#[command(name = "pochta-agent", version, about = "Pochta site agent")]
struct Cli {
    /// The agent's data directory (configuration, TLS identity, replica).
    #[arg(long, global = true, default_value = "./agent-data", env = "POCHTA_AGENT_DATA")]
    data: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Enroll this agent with the central server, using the code the server printed.
    Enroll {
        #[arg(long)]
        code: String,
        /// Address the agent's HTTPS endpoint listens on.
        #[arg(long, default_value = "127.0.0.1:7443")]
        listen: SocketAddr,
        /// How the server and peers reach this agent (default: https://<listen>).
        #[arg(long, conflicts_with = "pull")]
        advertise_url: Option<String>,
        /// The agent is not reachable (behind NAT): it pulls changes instead.
        #[arg(long)]
        pull: bool,
    },
    /// Run the agent until SIGINT or SIGTERM.
    Run,
    /// Show where mail for ADDRESS goes, from the replica (works while the agent is stopped).
    /// Exits 0 when the recipient is accepted, 1 when it is rejected.
    Resolve {
        address: String,
        /// The sender (default: the null reverse path).
        #[arg(long)]
        from: Option<String>,
        /// The sender is internal (an authenticated user or a peer agent).
        #[arg(long)]
        internal: bool,
        #[arg(long)]
        json: bool,
    },
    /// Show the replica's version, last contact with the server, staleness and counts.
    Status {
        #[arg(long)]
        json: bool,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("pochta-agent: {e}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Enroll { code, listen, advertise_url, pull } => {
            let cfg =
                enroll(&EnrollArgs { data: cli.data.clone(), code, listen, advertise_url, pull }).await?;
            println!(
                "enrolled agent {} for site {} of {} in {}; start it with `pochta-agent run --data {}`",
                cfg.agent_id,
                cfg.site,
                cfg.domain,
                cli.data.display(),
                cli.data.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Run => {
            tracing_subscriber::fmt()
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_default_env()
                        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
                )
                .init();
            App::build(&cli.data).await?.run().await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Resolve { address, from, internal, json } => {
            let off = Offline::open(&cli.data).await?;
            let routing = Routing::of(&off.replica.directory(), &address, from.as_deref(), internal);
            if json {
                println!("{}", serde_json::to_string_pretty(&routing)?);
            } else {
                print!("{}", routing.render(&address, &off.cfg.site));
            }
            off.close().await;
            Ok(if routing.accepted() { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        Command::Status { json } => {
            let off = Offline::open(&cli.data).await?;
            let report = off.status();
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", report.render());
            }
            off.close().await;
            Ok(ExitCode::SUCCESS)
        }
    }
}
