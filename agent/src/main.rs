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
            let stale = off.replica.contact().is_stale(off.cfg.stale_after_secs);
            let routing = Routing::of(&off.replica.directory(), &address, from.as_deref(), internal, stale);
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

/// The `queue list` table: every column as wide as its widest cell, so it stays aligned whatever
/// the length of ids and addresses.
fn queue_table(envs: &[&pochta_agent::queue::envelope::Envelope], now: i64) -> String {
    use std::fmt::Write;
    let rows: Vec<[String; 7]> = envs
        .iter()
        .map(|e| {
            let from = e.reverse_path.as_ref().map_or("<>".to_owned(), ToString::to_string);
            let last = e.targets.iter().flatten().find_map(|t| t.last_error.clone()).unwrap_or_default();
            [
                e.id.to_string(),
                format!("{}s", (now - e.created) / 1000),
                e.size.to_string(),
                from,
                e.pending().to_string(),
                format!("{}s", (e.next_try - now).max(0) / 1000),
                last,
            ]
        })
        .collect();
    let head = ["id", "age", "size", "from", "left", "next in", "last error"];
    let width =
        |i: usize| rows.iter().map(|r| r[i].chars().count()).chain([head[i].len()]).max().unwrap_or(0);
    let w: Vec<usize> = (0..6).map(width).collect();
    let mut out = String::new();
    for r in std::iter::once(head.map(str::to_owned)).chain(rows) {
        let line = format!(
            "{:<w0$} {:>w1$} {:>w2$}  {:<w3$} {:>w4$} {:>w5$}  {}",
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            r[5],
            r[6],
            w0 = w[0],
            w1 = w[1],
            w2 = w[2],
            w3 = w[3],
            w4 = w[4],
            w5 = w[5],
        );
        let _ = writeln!(out, "{}", line.trim_end());
    }
    out
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
            print!("{}", queue_table(&envs, now_ms()));
            println!("{} message(s)", found.len());
        }
        QueueCommand::Show { id } => {
            let f = find(&id)?;
            println!("{}", serde_json::to_string_pretty(&f.env)?);
            let data = spool::read_data(&f.dir, &f.env.id)?;
            println!("\n{}", String::from_utf8_lossy(pochta_agent::mail::header::section(&data)));
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

#[cfg(test)]
mod tests {
    use pochta_agent::queue::QueueId;
    use pochta_agent::queue::envelope::Envelope;

    fn envelope(id: &str, from: Option<&str>, size: u64) -> Envelope {
        let json = serde_json::json!({
            "id": id,
            "reverse_path": from,
            "recipients": ["ivanov@example.org"],
            "origin": {"kind": "outside"},
            "client_ip": "127.0.0.1",
            "created": 1_000_000,
            "attempts": 0,
            "next_try": 1_090_000,
            "size": size,
        });
        serde_json::from_value(json.clone()).unwrap_or_else(|e| panic!("envelope from {json}: {e}"))
    }

    #[test]
    fn queue_list_columns_line_up_whatever_the_lengths() {
        // Ids shorter than the usual 25 characters used to push every later column left.
        let a = envelope("19a2b3c4d5e0a1b2c3d000001", Some("someone@example.net"), 4096);
        let b = envelope("short", None, 12);
        let table = super::queue_table(&[&a, &b], 1_060_000);
        let want = [
            "id                        age size  from                left next in  last error",
            "19a2b3c4d5e0a1b2c3d000001 60s 4096  someone@example.net    1     30s",
            "short                     60s   12  <>                     1     30s",
        ];
        assert_eq!(table.lines().collect::<Vec<_>>(), want, "\n{table}");
        // A longer id widens its column; the others stay put under their headings.
        let c = envelope("an-id-longer-than-the-usual-twenty-five", Some("x@y.org"), 7);
        let table = super::queue_table(&[&a, &c], 1_060_000);
        let lines: Vec<&str> = table.lines().collect();
        let col = |line: &str, text: &str| line.find(text).unwrap() + text.len();
        assert_eq!(col(lines[1], "60s"), col(lines[0], "age"), "\n{table}");
        assert_eq!(col(lines[2], "60s"), col(lines[0], "age"), "\n{table}");
        assert_eq!(col(lines[2], " 7 "), col(lines[0], "size") + 1, "\n{table}");
        assert_eq!(lines[2].find("x@y.org"), lines[0].find("from"), "\n{table}");
    }

    #[test]
    fn a_queue_id_honours_width_and_alignment() {
        assert_eq!(format!("[{:<8}]", QueueId("abc".into())), "[abc     ]");
        assert_eq!(format!("[{:>8}]", QueueId("abc".into())), "[     abc]");
    }
}
