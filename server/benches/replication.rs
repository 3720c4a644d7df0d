//! Replication benchmark: propagation latency, bytes on the wire, bootstrap of a big directory.
//!
//! Runs a real central server (in this process) and real `pochta-agent` processes — one site of
//! each level, as in the demo — with a byte-counting TCP relay on every server↔agent link.
//! Prints its figures; asserts nothing. Run with `scripts/bench` (builds release binaries first).

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use pochta_directory::{LocalPart, Op, PasswordHash, User};
use pochta_server::demo::proxy::Proxy;
use pochta_server::demo::{self, AgentLinks, DemoAgent, seed};

const EDITS: usize = 300;
/// The paper's network: edits per day, otherwise idle.
const EDITS_PER_DAY: u64 = 50;
const PAPER_BYTES_PER_DAY: f64 = 2_000_000.0;
const BIG_DIRECTORY: usize = 100_000;
/// Idle check-in interval used while measuring, seconds.
const MEASURE_INTERVAL: u64 = 3;
const IDLE_WINDOW: Duration = Duration::from_secs(15);
/// The agents' default idle intervals (agent.toml `heartbeat_secs`, `poll_wait_secs`).
const DEFAULT_HEARTBEAT: u64 = 3600;
const DEFAULT_POLL_WAIT: u64 = 1800;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // `cargo bench` passes --bench; nothing else to parse.
    let tmp = tempfile::tempdir()?;
    let bin = demo::agent_binary()?;
    println!("Pochta replication benchmark (release build, loopback, {} cores)\n", num_cpus());
    propagation_and_traffic(tmp.path(), &bin).await?;
    bootstrap(tmp.path(), &bin).await?;
    Ok(())
}

fn num_cpus() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// One server↔agent link: a relay for each direction in which connections are opened (the
/// server pushes to the agent; the agent checks in with the server).
struct Link {
    agent: DemoAgent,
    to_agent: Option<Proxy>,
    to_server: Proxy,
    client: reqwest::Client,
}

impl Link {
    fn bytes(&self) -> u64 {
        self.to_server.counters.total() + self.to_agent.as_ref().map_or(0, |p| p.counters.total())
    }
    fn reset(&self) {
        self.to_server.counters.reset();
        if let Some(p) = &self.to_agent {
            p.counters.reset();
        }
    }
}

async fn status_version(client: &reqwest::Client, url: &str) -> Option<u64> {
    let body = client.get(url).send().await.ok()?.bytes().await.ok()?;
    serde_json::from_slice::<serde_json::Value>(&body).ok()?.get("version")?.as_u64()
}

fn pin_of(dir: &Path) -> anyhow::Result<String> {
    Ok(pochta_transport::fingerprint_of_pem(&std::fs::read_to_string(dir.join("tls.crt"))?)?)
}

async fn propagation_and_traffic(base: &Path, bin: &Path) -> anyhow::Result<()> {
    let base = base.join("paper");
    let (running, done) = demo::seeded_server(&base.join("server"), demo::USERS, true).await?;
    let mut links = Vec::new();
    let mut children = Vec::new();
    for (site, pull) in [(seed::GATEWAY, false), (seed::HEAD_OFFICE, false), (seed::BRANCH, true)] {
        // Every byte between the server and this agent crosses a relay: the agent reaches the
        // server through one, and the server pushes to a pushed agent through another.
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let to_server = Proxy::start(running.addr).await?;
        let to_agent = if pull { None } else { Some(Proxy::start(([127, 0, 0, 1], port).into()).await?) };
        // Short idle intervals so that the idle window below sees several check-ins; they do
        // not change propagation (pushes and long polls answer at once).
        let link = AgentLinks {
            pull,
            advertise_url: to_agent.as_ref().map(Proxy::url),
            server_url: Some(to_server.url()),
            port: Some(port),
            intervals: Some((MEASURE_INTERVAL, MEASURE_INTERVAL)),
            ..Default::default()
        };
        let (child, agent) = demo::start_agent(&running, bin, &base, site, link).await?;
        let client = pochta_transport::pinned_client(&pin_of(&agent.data_dir)?)?;
        children.push(child);
        links.push(Link { agent, to_agent, to_server, client });
    }
    let agents: Vec<DemoAgent> = links.iter().map(|l| l.agent.clone()).collect();
    demo::wait_in_sync(&running, &agents, Duration::from_secs(60)).await?;
    // Let enrollment traffic and first catch-ups settle before counting.
    tokio::time::sleep(Duration::from_secs(1)).await;
    for l in &links {
        l.reset();
    }

    let api = pochta_transport::pinned_client(&running.state.tls_sha256)?;
    let logins: Vec<String> = seed::users(demo::USERS).into_iter().map(|(l, _, _)| l).collect();
    let mut all = Vec::with_capacity(EDITS);
    let mut per_site: Vec<Vec<f64>> = vec![Vec::new(); links.len()];
    for i in 0..EDITS {
        let login = &logins[i % logins.len()];
        let resp = api
            .patch(format!("{}/api/v1/users/{login}", running.url()))
            .bearer_auth(&done.token)
            .header("content-type", "application/json")
            .body(serde_json::json!({ "display_name": format!("Edit {i}") }).to_string())
            .send()
            .await?;
        anyhow::ensure!(resp.status().is_success(), "edit failed: {}", resp.status());
        let returned = Instant::now();
        let target = running.state.publisher.version().0;
        let mut slowest = 0.0f64;
        let mut pending: Vec<usize> = (0..links.len()).collect();
        while !pending.is_empty() {
            let mut still = Vec::new();
            for &k in &pending {
                match status_version(&links[k].client, &links[k].agent.status_url).await {
                    Some(v) if v >= target => {
                        let ms = returned.elapsed().as_secs_f64() * 1000.0;
                        per_site[k].push(ms);
                        slowest = slowest.max(ms);
                    }
                    _ => still.push(k),
                }
            }
            pending = still;
            if returned.elapsed() > Duration::from_secs(30) {
                anyhow::bail!("edit {i} did not reach every agent in 30 s");
            }
        }
        all.push(slowest);
    }
    let edit_bytes: Vec<u64> = links.iter().map(Link::bytes).collect();
    let frames = pochta_server::db::changelog::history(
        &running.state.db.pool,
        &Default::default(),
        None,
        EDITS as i64,
    )
    .await?;
    let frame_bytes = frames.iter().map(|h| h.bytes).sum::<usize>() as f64 / frames.len() as f64;

    // Idle: nothing but heartbeats (pushed agents) and long polls (the pulling agent), here
    // every MEASURE_INTERVAL seconds; scaled below to the default intervals.
    for l in &links {
        l.reset();
    }
    tokio::time::sleep(IDLE_WINDOW).await;
    let idle_bytes: Vec<u64> = links.iter().map(Link::bytes).collect();

    println!("== Propagation: API edit returned → applied at the agent ({EDITS} edits, one at a time)");
    println!("{:<28} {:>9} {:>9} {:>9}", "", "p50 ms", "p99 ms", "max ms");
    for (k, l) in links.iter().enumerate() {
        let label = format!("{} (level {}, {})", l.agent.site, l.agent.level, l.agent.mode);
        print_percentiles(&label, &mut per_site[k]);
    }
    print_percentiles("all three agents", &mut all);

    println!(
        "\n== Traffic on each server↔agent link (TLS bytes, both directions; TCP/IP headers not counted)"
    );
    println!("signed change-set frame for one such edit: {frame_bytes:.0} bytes on average");
    println!(
        "{:<28} {:>11} {:>13} {:>12} {:>12} {:>9}",
        "", "bytes/edit", "bytes/check-in", "check-ins/day", "bytes/day*", "of paper"
    );
    for (k, l) in links.iter().enumerate() {
        let per_edit = edit_bytes[k] as f64 / EDITS as f64;
        let checkins = IDLE_WINDOW.as_secs_f64() / MEASURE_INTERVAL as f64;
        let per_checkin = idle_bytes[k] as f64 / checkins;
        let per_day_checkins =
            86_400 / if l.agent.mode == "pull" { DEFAULT_POLL_WAIT } else { DEFAULT_HEARTBEAT };
        let day = per_edit * EDITS_PER_DAY as f64 + per_checkin * per_day_checkins as f64;
        let label = format!("{} (level {}, {})", l.agent.site, l.agent.level, l.agent.mode);
        println!(
            "{label:<28} {per_edit:>11.0} {per_checkin:>13.0} {per_day_checkins:>12} {day:>12.0} {:>8.2}%",
            day / PAPER_BYTES_PER_DAY * 100.0
        );
    }
    println!(
        "* {EDITS_PER_DAY} edits a day plus idle check-ins at the default intervals (heartbeat {DEFAULT_HEARTBEAT} s, \
         long poll {DEFAULT_POLL_WAIT} s). The paper's Slony-I set-up: about 2,000,000 bytes a day."
    );

    for mut c in children {
        let _ = c.start_kill();
        let _ = c.wait().await;
    }
    running.stop().await;
    Ok(())
}

fn print_percentiles(label: &str, v: &mut [f64]) {
    v.sort_by(f64::total_cmp);
    let p = |q: f64| v[((v.len() as f64 - 1.0) * q).round() as usize];
    println!("{label:<28} {:>9.2} {:>9.2} {:>9.2}", p(0.5), p(0.99), v[v.len() - 1]);
}

/// A directory of 100,000 users with realistic (random, incompressible) Argon2id hashes.
async fn bootstrap(base: &Path, bin: &Path) -> anyhow::Result<()> {
    let base = base.join("big");
    let (running, _) = demo::seeded_server(&base.join("server"), 0, false).await?;
    let started = Instant::now();
    let publisher = running.state.publisher.clone();
    for chunk in 0..(BIG_DIRECTORY / 10_000) {
        let ops: Vec<Op> = (0..10_000)
            .map(|i| {
                let n = chunk * 10_000 + i;
                Op::PutUser(User {
                    app_passwords: Vec::new(),
                    name: LocalPart::parse(&format!("user{n:06}")).expect("valid"),
                    display_name: format!("User Number {n}"),
                    site: pochta_directory::SiteId::parse(if n % 5 == 4 {
                        seed::BRANCH
                    } else {
                        seed::HEAD_OFFICE
                    })
                    .expect("valid"),
                    former_sites: BTreeSet::new(),
                    password: Some(fake_hash()),
                    enabled: true,
                    mailbox: Default::default(),
                })
            })
            .collect();
        publisher.edit::<pochta_server::publish::EditError>("bench", |_| Ok(ops)).await?;
    }
    let seeded = started.elapsed();
    let t = Instant::now();
    let snapshot = publisher.snapshot().await;
    let seal = t.elapsed();
    let head = publisher.version().0;

    let t = Instant::now();
    let (mut child, agent) =
        demo::start_agent(&running, bin, &base, seed::HEAD_OFFICE, AgentLinks::default()).await?;
    let client = pochta_transport::pinned_client(&pin_of(&agent.data_dir)?)?;
    loop {
        if status_version(&client, &agent.status_url).await.is_some_and(|v| v >= head) {
            break;
        }
        anyhow::ensure!(t.elapsed() < Duration::from_secs(300), "bootstrap did not finish in 5 minutes");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let boot = t.elapsed();
    let rss = agent.pid.and_then(rss_kib);
    println!("\n== Bootstrap of a new agent from a signed snapshot ({BIG_DIRECTORY} users)");
    println!("seeding the server (10 change sets)   {:>10.2} s", seeded.as_secs_f64());
    println!("snapshot size, compressed            {:>10.2} MB", snapshot.len() as f64 / 1e6);
    println!("snapshot signing + compression        {:>10.2} s", seal.as_secs_f64());
    println!("enroll → replica at version {head:<3}      {:>10.2} s", boot.as_secs_f64());
    if let Some(kib) = rss {
        println!("agent resident memory afterwards      {:>10.1} MB", kib as f64 / 1024.0);
    }
    let _ = child.start_kill();
    let _ = child.wait().await;
    running.stop().await;
    Ok(())
}

fn fake_hash() -> PasswordHash {
    use base64::Engine;
    let mut salt = [0u8; 16];
    let mut out = [0u8; 32];
    getrandom::fill(&mut salt).expect("random");
    getrandom::fill(&mut out).expect("random");
    let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
    PasswordHash(format!("$argon2id$v=19$m=19456,t=2,p=1${}${}", b64.encode(salt), b64.encode(out)))
}

fn rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()
}
