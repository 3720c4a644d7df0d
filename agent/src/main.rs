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
        /// host:port where other sites reach this agent's SMTP service (port-25 role); the
        /// agent listens there (on every interface when host is a name).
        #[arg(long)]
        smtp: Option<String>,
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
    /// The mail queue: list, show, retry now, delete (with or without a DSN). Works whether
    /// the agent runs or not; a running agent applies retry/delete within a second.
    Queue {
        #[command(subcommand)]
        action: QueueCommand,
    },
    /// Show the replica's version, last contact with the server, staleness and counts.
    Status {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum QueueCommand {
    /// Every queued message: id, age, size, sender, recipients left, next attempt, last error.
    List {
        #[arg(long)]
        json: bool,
    },
    /// One message's envelope (with per-recipient states) and headers.
    Show { id: String },
    /// Try the message now, ignoring back-off.
    Retry { id: String },
    /// Remove the message; with --bounce, its sender gets a DSN for the undelivered recipients.
    Delete {
        id: String,
        #[arg(long)]
        bounce: bool,
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
        Command::Enroll { code, listen, advertise_url, pull, smtp } => {
            let cfg = enroll(&EnrollArgs { data: cli.data.clone(), code, listen, advertise_url, pull, smtp })
                .await?;
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
        Command::Queue { action } => queue_command(&cli.data, action),
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

fn queue_command(data: &std::path::Path, action: QueueCommand) -> anyhow::Result<ExitCode> {
    use pochta_agent::config::Config;
    use pochta_agent::queue::QueueId;
    use pochta_agent::queue::envelope::now_ms;
    use pochta_agent::queue::spool::{self, Spool};
    let root = Config::queue_path(data);
    let found = spool::load_all(&root, false);
    let find = |id: &str| {
        found.iter().find(|f| f.env.id.0 == id).ok_or_else(|| anyhow::anyhow!("no message {id} in the queue"))
    };
    match action {
        QueueCommand::List { json } => {
            let envs: Vec<_> = found.iter().map(|f| &f.env).collect();
            if json {
                println!("{}", serde_json::to_string_pretty(&envs)?);
                return Ok(ExitCode::SUCCESS);
            }
            let now = now_ms();
            println!(
                "{:<32} {:>7} {:>9}  {:<30} {:>5} {:>8}  last error",
                "id", "age", "size", "from", "left", "next in"
            );
            for e in envs {
                let from = e.reverse_path.as_ref().map_or("<>".to_owned(), ToString::to_string);
                let last = e.targets.iter().flatten().find_map(|t| t.last_error.clone()).unwrap_or_default();
                println!(
                    "{:<32} {:>6}s {:>9}  {:<30} {:>5} {:>7}s  {}",
                    e.id,
                    (now - e.created) / 1000,
                    e.size,
                    from,
                    e.pending(),
                    ((e.next_try - now).max(0)) / 1000,
                    last
                );
            }
            println!("{} message(s)", found.len());
        }
        QueueCommand::Show { id } => {
            let f = find(&id)?;
            println!("{}", serde_json::to_string_pretty(&f.env)?);
            let data = spool::read_data(&f.dir, &f.env.id)?;
            let end = data.windows(4).position(|w| w == b"\r\n\r\n").map_or(data.len(), |p| p + 2);
            println!("\n{}", String::from_utf8_lossy(&data[..end.min(data.len())]));
        }
        QueueCommand::Retry { id } => {
            find(&id)?;
            Spool::request(&root, &QueueId(id.clone()), "retry")?;
            println!("{id}: retry requested");
        }
        QueueCommand::Delete { id, bounce } => {
            find(&id)?;
            Spool::request(&root, &QueueId(id.clone()), if bounce { "bounce" } else { "delete" })?;
            println!("{id}: {} requested", if bounce { "bounce" } else { "delete" });
        }
    }
    Ok(ExitCode::SUCCESS)
}
