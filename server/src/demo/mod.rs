//! `pochta-server demo`: a central server and three agents (one site of each level) on loopback,
//! with a seeded directory like the paper's test network. Prints, and writes to `demo.json` in
//! its data folder, every URL, port and credential; runs until interrupted; cleans up.

pub mod capture;
pub mod proxy;
pub mod seed;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use pochta_directory::PasswordHash;
use serde::Serialize;
use tokio::process::{Child, Command};

use crate::init::{InitOptions, init};
use crate::{App, Running};
use pochta_directory::api::EnrollmentCode;

pub const DOMAIN: &str = "example.org";
pub const USERS: usize = 110;
/// Every seeded user's password in the demo.
pub const DEMO_PASSWORD: &str = "pochta-demo-2026";

#[derive(Debug, Clone, Serialize)]
pub struct DemoAgent {
    pub site: String,
    pub level: u8,
    pub mode: &'static str,
    pub url: String,
    pub status_url: String,
    pub data_dir: PathBuf,
    pub pid: Option<u32>,
    /// The port-25 role listener (inbound mail and peer agents): `127.0.0.1:PORT`.
    pub smtp: String,
    /// What other sites are told to connect to for `smtp` (a proxy in tests; else the same).
    pub smtp_advertised: String,
    /// Submission, 587 role: STARTTLS, then AUTH.
    pub submission: String,
    /// Submission, 465 role: implicit TLS, then AUTH.
    pub submissions: String,
    /// Root of the site's mailboxes: `<maildir>/<user>/Maildir/{new,cur,tmp}`.
    pub maildir: PathBuf,
    /// IMAP with STARTTLS (143 role), IMAP over TLS (993), POP3 with STARTTLS (110), POP3 over
    /// TLS (995), served by the agent's own Dovecot; empty at a site without mailboxes.
    pub imap: String,
    pub imaps: String,
    pub pop3: String,
    pub pop3s: String,
}

impl DemoAgent {
    /// `new/` of a user's Maildir at this site.
    pub fn inbox(&self, user: &str) -> PathBuf {
        self.maildir.join(user).join("Maildir").join("new")
    }
}

#[derive(Serialize)]
pub struct DemoInfo {
    pub domain: String,
    pub server_url: String,
    pub server_tls_sha256: String,
    pub admin: String,
    pub admin_password: String,
    pub api_token: String,
    pub user_password: String,
    pub sample_users: Vec<String>,
    pub agents: Vec<DemoAgent>,
    pub data_dir: PathBuf,
    /// The gateway's door scans with the demo's private rspamd and clamd.
    pub scanners: bool,
    /// Where the capture MX (the smarthost of levels 0 and 1) files what leaves the deployment.
    pub outside: PathBuf,
    /// The DKIM selector that signs it.
    pub dkim_selector: String,
}

/// The `pochta-agent` binary: beside this executable (cargo puts both in one target folder).
pub fn agent_binary() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let mut dirs: Vec<&Path> = exe.ancestors().skip(1).take(2).collect();
    dirs.dedup();
    for d in dirs {
        let p = d.join("pochta-agent");
        if p.exists() {
            return Ok(p);
        }
    }
    bail!(
        "pochta-agent was not found beside {}; build the whole workspace (cargo build --workspace)",
        exe.display()
    )
}

/// A free loopback port (bound and released: good enough on a quiet machine).
pub fn free_port() -> anyhow::Result<u16> {
    // A port is picked by binding and letting go, so the kernel may offer one again before
    // its listener has started: never hand out the same one twice in this process.
    static GIVEN: std::sync::Mutex<std::collections::BTreeSet<u16>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    for _ in 0..100 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        if GIVEN.lock().expect("not poisoned").insert(port) {
            return Ok(port);
        }
    }
    bail!("no free loopback port found")
}

/// Starts a seeded server in this process. Used by the demo, the end-to-end tests and benchmarks.
pub async fn seeded_server(
    data: &Path,
    users: usize,
    passwords: bool,
) -> anyhow::Result<(Running, crate::init::Initialised)> {
    let opts = InitOptions {
        domain: DOMAIN,
        database: None,
        listen: "127.0.0.1:0".parse()?,
        public_url: "",
        admin: "admin",
        // The demo's people are in Moscow (each visitor may pick another zone); without the
        // system's tz database, UTC.
        time_zone: if crate::web::zone::Zone::named("Europe/Moscow").is_some() {
            "Europe/Moscow"
        } else {
            "UTC"
        },
    };
    let done = init(data, opts).await?;
    let running = App::build(data).await?.spawn().await?;
    let publisher = running.state.publisher.clone();
    publisher.edit::<crate::publish::EditError>("demo", |_| Ok(seed::sites())).await?;
    let hashes = if passwords { hash_all(users).await } else { Default::default() };
    publisher
        .edit::<crate::publish::EditError>("demo", |_| {
            Ok(seed::user_ops(users, |login| hashes.get(login).cloned()))
        })
        .await?;
    publisher.edit::<crate::publish::EditError>("demo", |dir| Ok(seed::group_ops(dir))).await?;
    Ok((running, done))
}

async fn hash_all(users: usize) -> std::collections::HashMap<String, PasswordHash> {
    let mut set = tokio::task::JoinSet::new();
    for (login, _, _) in seed::users(users) {
        set.spawn_blocking(move || {
            let h = PasswordHash::create(DEMO_PASSWORD);
            (login, h)
        });
    }
    set.join_all().await.into_iter().collect()
}

/// How an agent is reached and how it reaches the server; the benchmark puts byte-counting
/// proxies in between, so the advertised URL and the server URL may differ from the real ones.
#[derive(Default)]
pub struct AgentLinks {
    /// Agents behind NAT pull; the others are pushed to.
    pub pull: bool,
    /// The URL the server and peers use for this agent (default: its own listener).
    pub advertise_url: Option<String>,
    /// The server URL written into the enrollment code (default: the server's public URL).
    pub server_url: Option<String>,
    /// Port the agent listens on (default: a free one).
    pub port: Option<u16>,
    /// Override the agent's idle intervals: (heartbeat_secs, poll_wait_secs).
    pub intervals: Option<(u64, u64)>,
    /// Port of the SMTP listener (port-25 role; default: a free one).
    pub smtp_port: Option<u16>,
    /// `host:port` advertised to other sites for SMTP (default: the listener itself); tests put
    /// a byte-counting proxy there.
    pub smtp_advertise: Option<String>,
    /// `[delivery] smarthost`: where mail for outside domains goes.
    pub smarthost: Option<String>,
    /// `[delivery] retry_initial_secs` and `retry_max_secs` (default 60 s and 1 h).
    pub retry: Option<(f64, f64)>,
    /// `stats_secs`: how often the agent reports its traffic counters (default 10 minutes).
    pub stats_secs: Option<u64>,
    /// `[door]`: rspamd's URL and clamd's socket, for an agent that faces the outside.
    pub door: Option<(String, String)>,
}

/// Enrolls and starts one agent process for `site`.
pub async fn start_agent(
    running: &Running,
    agent_bin: &Path,
    base: &Path,
    site: &str,
    links: AgentLinks,
) -> anyhow::Result<(Child, DemoAgent)> {
    let data_dir = base.join(format!("agent-{site}"));
    let port = match links.port {
        Some(p) => p,
        None => free_port()?,
    };
    let listen = format!("127.0.0.1:{port}");
    let url = format!("https://{listen}");
    let code = enrollment_code(running, site, links.server_url.as_deref()).await?;
    let mut cmd = Command::new(agent_bin);
    cmd.arg("enroll").arg("--data").arg(&data_dir).arg("--code").arg(&code).arg("--listen").arg(&listen);
    if links.pull {
        cmd.arg("--pull");
    } else {
        cmd.arg("--advertise-url").arg(links.advertise_url.as_deref().unwrap_or(&url));
    }
    let smtp = format!("127.0.0.1:{}", links.smtp_port.map_or_else(free_port, Ok)?);
    let smtp_advertised = links.smtp_advertise.clone().unwrap_or_else(|| smtp.clone());
    cmd.arg("--smtp").arg(&smtp_advertised);
    let out = cmd.output().await.context("running pochta-agent enroll")?;
    if !out.status.success() {
        bail!("enrolling the {site} agent failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let submission = format!("127.0.0.1:{}", free_port()?);
    let submissions = format!("127.0.0.1:{}", free_port()?);
    let maildir = data_dir.join("mail");
    let level = {
        let (dir, _) = running.state.publisher.current();
        dir.sites.values().find(|s| s.id.as_str() == site).map(|s| u8::from(s.level)).unwrap_or(0)
    };
    // Sites with mailboxes read them over IMAP and POP3 (the agent runs Dovecot).
    let mailbox_port = || -> anyhow::Result<String> {
        Ok(if level > 0 { format!("127.0.0.1:{}", free_port()?) } else { String::new() })
    };
    let (imap, imaps, pop3, pop3s) = (mailbox_port()?, mailbox_port()?, mailbox_port()?, mailbox_port()?);
    {
        // `enroll` has flags only for the port-25 role; the rest goes into agent.toml.
        let path = data_dir.join("agent.toml");
        let mut cfg: toml::Table = toml::from_str(&std::fs::read_to_string(&path)?)?;
        if let Some((heartbeat, poll_wait)) = links.intervals {
            cfg.insert("heartbeat_secs".into(), toml::Value::Integer(heartbeat as i64));
            cfg.insert("poll_wait_secs".into(), toml::Value::Integer(poll_wait as i64));
        }
        if let Some(secs) = links.stats_secs {
            cfg.insert("stats_secs".into(), toml::Value::Integer(secs as i64));
        }
        let section = |cfg: &mut toml::Table, name: &str| -> anyhow::Result<toml::Table> {
            match cfg.remove(name) {
                None => Ok(toml::Table::new()),
                Some(toml::Value::Table(t)) => Ok(t),
                Some(_) => bail!("[{name}] in agent.toml is not a table"),
            }
        };
        let mut smtp_cfg = section(&mut cfg, "smtp")?;
        smtp_cfg.insert("listen".into(), smtp.clone().into());
        smtp_cfg.insert("submission".into(), submission.clone().into());
        smtp_cfg.insert("submissions".into(), submissions.clone().into());
        cfg.insert("smtp".into(), smtp_cfg.into());
        let mut delivery = section(&mut cfg, "delivery")?;
        delivery.insert("maildir_root".into(), maildir.display().to_string().into());
        if let Some(host) = &links.smarthost {
            delivery.insert("smarthost".into(), host.clone().into());
        }
        if let Some((initial, max)) = links.retry {
            delivery.insert("retry_initial_secs".into(), initial.into());
            delivery.insert("retry_max_secs".into(), max.into());
        }
        cfg.insert("delivery".into(), delivery.into());
        if let Some((rspamd, clamd)) = &links.door {
            let mut door = section(&mut cfg, "door")?;
            door.insert("rspamd".into(), rspamd.clone().into());
            door.insert("clamd".into(), clamd.clone().into());
            cfg.insert("door".into(), door.into());
        }
        if level > 0 {
            let mut imap_cfg = section(&mut cfg, "imap")?;
            for (key, addr) in [("imap", &imap), ("imaps", &imaps), ("pop3", &pop3), ("pop3s", &pop3s)] {
                imap_cfg.insert(key.into(), addr.clone().into());
            }
            imap_cfg.insert("host".into(), "127.0.0.1".into());
            cfg.insert("imap".into(), imap_cfg.into());
        }
        std::fs::write(&path, toml::to_string(&cfg)?)?;
    }
    let child = run_agent(agent_bin, &data_dir, &base.join(format!("agent-{site}.log")))?;
    let agent = DemoAgent {
        site: site.to_owned(),
        level,
        mode: if links.pull { "pull" } else { "push" },
        status_url: format!("{url}/status"),
        url,
        data_dir,
        pid: child.id(),
        smtp,
        smtp_advertised,
        submission,
        submissions,
        maildir,
        imap,
        imaps,
        pop3,
        pop3s,
    };
    Ok((child, agent))
}

/// Private rspamd and clamd for the gateway's door, in `base/scanners/`, when both are
/// installed; `None` (with a note) otherwise: the demo then runs without a door.
async fn demo_scanners(
    base: &Path,
) -> Option<(pochta_agent::door::private::Scanner, pochta_agent::door::private::Scanner)> {
    use pochta_agent::door::private;
    if !Path::new("/usr/bin/rspamd").exists() || !Path::new("/usr/sbin/clamd").exists() {
        println!(
            "note: rspamd and clamd are not installed (apt-get install rspamd clamav-daemon): the gateway runs without spam and virus checks"
        );
        return None;
    }
    let dir = base.join("scanners");
    let started = tokio::task::spawn_blocking(move || -> Result<_, private::PrivateError> {
        let listen = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| private::PrivateError::Io("a free port".into(), e))?;
        let rspamd = private::rspamd(&dir.join("rspamd"), listen)?;
        let clamd = private::clamd(&dir.join("clamd"))?;
        std::fs::write(dir.join("eicar.com"), private::EICAR)
            .map_err(|e| private::PrivateError::Io("eicar.com".into(), e))?;
        Ok((rspamd, clamd))
    })
    .await;
    match started {
        Ok(Ok(s)) => Some(s),
        Ok(Err(e)) => {
            println!("note: the demo's scanners did not start, the gateway runs without them: {e}");
            None
        }
        Err(e) => {
            println!("note: the demo's scanners did not start: {e}");
            None
        }
    }
}

/// Starts `pochta-agent run` on an enrolled data folder, logging to `log`.
pub fn run_agent(agent_bin: &Path, data_dir: &Path, log: &Path) -> anyhow::Result<Child> {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(log)?;
    Command::new(agent_bin)
        .arg("run")
        .arg("--data")
        .arg(data_dir)
        .stdout(Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .context("starting pochta-agent")
}

/// Makes a one-time enrollment code for `site` without going through HTTP.
pub async fn enrollment_code(
    running: &Running,
    site: &str,
    server_url: Option<&str>,
) -> anyhow::Result<String> {
    let st = &running.state;
    let (token, _) = crate::db::auth::create_enrollment(&st.db.pool, site, 3600).await?;
    let server = server_url.map_or_else(|| st.public_url.to_string(), str::to_owned);
    Ok(EnrollmentCode { server, tls_sha256: st.tls_sha256.to_string(), token }.encode())
}

/// Waits until every agent reports the server's version, or the deadline passes.
pub async fn wait_in_sync(running: &Running, agents: &[DemoAgent], deadline: Duration) -> anyhow::Result<()> {
    let until = tokio::time::Instant::now() + deadline;
    loop {
        let head = running.state.publisher.version().0;
        let rows = crate::db::auth::agents(&running.state.db.pool).await?;
        let mut behind = Vec::new();
        for a in agents {
            let pin = std::fs::read_to_string(a.data_dir.join("tls.crt")).ok();
            let status = match pin.and_then(|p| pochta_transport::fingerprint_of_pem(&p).ok()) {
                Some(fp) => agent_version(&a.status_url, &fp).await,
                None => None,
            };
            let v = status.or_else(|| rows.iter().find(|r| r.site == a.site).map(|r| r.applied));
            if v != Some(head) {
                behind.push(format!("{}={}", a.site, v.map_or("?".into(), |v| v.to_string())));
            }
        }
        if behind.is_empty() {
            return Ok(());
        }
        if tokio::time::Instant::now() > until {
            bail!("agents not in sync with version {head} after {deadline:?}: {}", behind.join(", "));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn agent_version(status_url: &str, pin: &str) -> Option<u64> {
    let client = pochta_transport::pinned_client(pin).ok()?;
    let body = client.get(status_url).send().await.ok()?.bytes().await.ok()?;
    let v: serde_json::Value = serde_json::from_slice(&body).ok()?;
    v.get("version")?.as_u64()
}

pub async fn run(data: Option<PathBuf>) -> anyhow::Result<()> {
    let keep = data.is_some();
    let base = match data {
        Some(d) => d,
        None => std::env::temp_dir().join(format!("pochta-demo-{}", std::process::id())),
    };
    if base.join("server").exists() {
        bail!("{} already holds a demo; remove it or pick another --data", base.display());
    }
    let agent_bin = agent_binary()?;
    println!("Starting the Pochta demo in {} ...", base.display());
    let (running, done) = seeded_server(&base.join("server"), USERS, true).await?;
    let mut children = Vec::new();
    let mut agents = Vec::new();
    let scanners = demo_scanners(&base).await;
    let door = scanners.as_ref().map(|(r, c)| (r.at.clone(), c.at.clone()));
    // Outside domains are a capture MX in the demo folder; the domain's DKIM key signs what goes.
    let outside = base.join("outside");
    let (capture, capture_task) = capture::start(outside.clone()).await?;
    let dkim_selector = demo_dkim_key(&running, &outside).await?;
    for (site, pull) in [(seed::GATEWAY, false), (seed::HEAD_OFFICE, false), (seed::BRANCH, true)] {
        // Retries every few seconds (not the production minute) so mail for a stopped site
        // flows soon after it is back.
        // Reports every 15 s, so the dashboard and the users' mailbox usage move while you watch.
        let mut links =
            AgentLinks { pull, retry: Some((5.0, 60.0)), stats_secs: Some(15), ..Default::default() };
        // The gateway faces the outside: its door scans with the demo's own rspamd and clamd.
        if site == seed::GATEWAY {
            links.door = door.clone();
        }
        // Levels 0 and 1 send outside mail to the capture MX; the level-2 branch relays as usual.
        if !pull {
            links.smarthost = Some(capture.clone());
        }
        let (child, agent) = start_agent(&running, &agent_bin, &base, site, links).await?;
        children.push(child);
        agents.push(agent);
    }
    let synced = wait_in_sync(&running, &agents, Duration::from_secs(30)).await;
    let sample_users =
        seed::users(USERS).into_iter().take(5).map(|(l, _, _)| format!("{l}@{DOMAIN}")).collect();
    let info = DemoInfo {
        domain: DOMAIN.into(),
        server_url: running.url(),
        server_tls_sha256: running.state.tls_sha256.to_string(),
        admin: done.admin.clone(),
        admin_password: done.password.clone(),
        api_token: done.token.clone(),
        user_password: DEMO_PASSWORD.into(),
        sample_users,
        agents,
        data_dir: base.clone(),
        scanners: door.is_some(),
        outside,
        dkim_selector,
    };
    std::fs::write(base.join("demo.json"), serde_json::to_string_pretty(&info)?)?;
    print_info(&info);
    if let Err(e) = synced {
        println!("warning: {e}");
    }
    println!("\nRunning. Press Ctrl-C to stop and clean up.");
    tokio::signal::ctrl_c().await?;
    println!("Stopping ...");
    for mut c in children {
        let _ = c.start_kill();
        let _ = c.wait().await;
    }
    running.stop().await;
    capture_task.abort();
    drop(scanners);
    if !keep {
        let _ = std::fs::remove_dir_all(&base);
    }
    Ok(())
}

/// Makes the demo domain's DKIM key and activates it at once (the demo's "DNS" is the file
/// `outside/dkim-keys.txt`, written here, which the README's verification one-liner reads).
async fn demo_dkim_key(running: &Running, outside: &Path) -> anyhow::Result<String> {
    let st = &running.state;
    let err = |e: crate::error::ApiError| anyhow::anyhow!(e.message);
    let (selector, _) = crate::manage::dkim::create(
        st,
        &crate::manage::scope::Actor::domain("demo"),
        pochta_directory::dkim::Algorithm::Rsa,
        "",
    )
    .await
    .map_err(err)?;
    crate::manage::dkim::activate(st, &crate::manage::scope::Actor::domain("demo"), selector.as_str())
        .await
        .map_err(err)?;
    let dir = st.publisher.current().0;
    let lines: String = dir
        .dkim
        .values()
        .map(|k| format!("{}.{} {}\n", k.selector.record_name(), dir.domain, k.record()))
        .collect();
    std::fs::write(outside.join("dkim-keys.txt"), lines)?;
    Ok(selector.to_string())
}

fn print_info(i: &DemoInfo) {
    println!("\nPochta demo for {} is up.\n", i.domain);
    println!("  Central server   {}", i.server_url);
    println!(
        "  Web UI           {}/login  (administrator below; users log in with their address)",
        i.server_url
    );
    println!("  TLS pin (SHA-256) {}", i.server_tls_sha256);
    println!("  Administrator    {} / {}", i.admin, i.admin_password);
    println!("  API token        {}", i.api_token);
    println!(
        "\n  {:<8} {:<6} {:<5} {:<24} {:<16} {:<16} {:<16} maildirs",
        "site", "level", "mode", "agent", "smtp (25)", "submission(587)", "submissions(465)"
    );
    for a in &i.agents {
        println!(
            "  {:<8} {:<6} {:<5} {:<24} {:<16} {:<16} {:<16} {}",
            a.site,
            a.level,
            a.mode,
            a.url,
            a.smtp,
            a.submission,
            a.submissions,
            a.maildir.display()
        );
    }
    println!("\n  Mailboxes over IMAP and POP3 (STARTTLS / TLS):");
    for a in i.agents.iter().filter(|a| !a.imaps.is_empty()) {
        println!("  {:<8} imap {}  imaps {}  pop3 {}  pop3s {}", a.site, a.imap, a.imaps, a.pop3, a.pop3s);
    }
    println!(
        "\n  Users: {} seeded, password '{}', e.g. {}",
        USERS,
        i.user_password,
        i.sample_users.join(", ")
    );
    println!("  Everything above is also in {}", i.data_dir.join("demo.json").display());
    println!("\nTry:");
    let token = &i.api_token;
    println!("  curl -sk -H 'Authorization: Bearer {token}' {}/api/v1/sites", i.server_url);
    println!(
        "  curl -sk -H 'Authorization: Bearer {token}' '{}/api/v1/resolve?rcpt=engineering@{}&internal=true'",
        i.server_url, i.domain
    );
    mail_hints(i);
    if let Some(a) = i.agents.iter().find(|a| a.mode == "push") {
        println!("  curl -sk {}/status", a.url);
        let bin = agent_binary().map(|b| b.display().to_string()).unwrap_or_else(|_| "pochta-agent".into());
        println!("  {bin} resolve --data {} everyone@{} --internal", a.data_dir.display(), i.domain);
    }
}

/// How to send a letter with swaks and where it lands.
fn mail_hints(i: &DemoInfo) {
    let users = seed::users(USERS);
    let at = |site: &str| users.iter().find(|(_, _, s)| *s == site).map(|(l, _, _)| l.clone());
    let (Some(hq), Some(branch)) = (at(seed::HEAD_OFFICE), at(seed::BRANCH)) else { return };
    let agent = |site: &str| i.agents.iter().find(|a| a.site == site);
    let (Some(gw), Some(hq_agent), Some(br_agent)) =
        (agent(seed::GATEWAY), agent(seed::HEAD_OFFICE), agent(seed::BRANCH))
    else {
        return;
    };
    let d = &i.domain;
    println!("  # mail from outside, in at the gateway (level 0), relayed to the branch:");
    println!("  swaks --server {} --from someone@example.net --to {branch}@{d}", gw.smtp);
    println!("  ls {}", br_agent.inbox(&branch).display());
    if !br_agent.imaps.is_empty() {
        println!("  # ...and read it at the branch over IMAP (the first letter in the INBOX):");
        println!(
            "  curl -sk --user '{branch}@{d}:{}' 'imaps://{}/INBOX;MAILINDEX=1'",
            i.user_password, br_agent.imaps
        );
    }
    if i.scanners {
        let eicar = i.data_dir.join("scanners/eicar.com");
        println!(
            "  # spam and viruses from outside are refused at the gateway, before the 250 (the demo runs its own rspamd and clamd):"
        );
        println!(
            "  swaks --server {} --from someone@example.net --to {branch}@{d} --body '{}'   # 550 5.7.1 spam",
            gw.smtp,
            pochta_agent::door::private::GTUBE
        );
        println!(
            "  swaks --server {} --from someone@example.net --to {branch}@{d} --attach @{}   # 554 5.7.1 virus",
            gw.smtp,
            eicar.display()
        );
        println!("  # spam below rspamd's reject score is taken into the user's Junk folder:");
        println!(
            "  swaks --server {} --from someone@example.net --to {branch}@{d} --body 'Great offer {}'",
            gw.smtp,
            pochta_agent::door::private::SPAM_PHRASE
        );
        println!(
            "  # greylisting is off in the demo: add [door.greylist] enabled = true to {}/agent.toml and restart that agent",
            gw.data_dir.display()
        );
    }
    println!("  # a user at the head office writes to a list (submission: STARTTLS + AUTH):");
    println!(
        "  swaks --server {} -tls --auth PLAIN --auth-user {hq}@{d} --auth-password '{}' --from {hq}@{d} --to engineering@{d}",
        hq_agent.submission, i.user_password
    );
    println!(
        "  ls {}/*/Maildir/new {}/*/Maildir/new",
        hq_agent.maildir.display(),
        br_agent.maildir.display()
    );
    println!(
        "  # mail to an outside domain leaves DKIM-signed (selector {}): from the branch through its relay, into a capture MX:",
        i.dkim_selector
    );
    println!(
        "  swaks --server {} -tls --auth PLAIN --auth-user {branch}@{d} --auth-password '{}' --from {branch}@{d} --to someone@example.net",
        br_agent.submission, i.user_password
    );
    let out = i.outside.display();
    println!("  ls {out}; grep -h DKIM-Signature -A3 {out}/*.eml");
    println!(
        "  /usr/bin/python3 -c 'import dkim,sys; k=dict(l.split(\" \",1) for l in open(sys.argv[2]).read().splitlines()); print(dkim.verify(open(sys.argv[1],\"rb\").read(), dnsfunc=lambda n,timeout=5: k.get(n.decode().rstrip(\".\"),\"\").encode()))' $(ls {out}/*.eml | tail -1) {out}/dkim-keys.txt   # True"
    );
}
