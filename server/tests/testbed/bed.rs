//! The paper's network on `net::Net`: the central server (this test binary re-run in the central
//! namespace as a seeded server, see `role_central`), one real `pochta-agent` process per site in
//! its own namespace, Postfix's `smtp-sink` as the Internet's mail server.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pochta_server::demo::{self, seed};

use crate::net::{self, Net, run};

pub(crate) const DOMAIN: &str = "example.org";
pub(crate) const SINK_PORT: u16 = 25;
/// The outside relay MTA's smtpd (`start_mx`), next to the sink on port 25.
pub(crate) const MX_PORT: u16 = 10025;

pub(crate) struct Site {
    pub name: &'static str,
    pub ip: &'static str,
    pub ns: String,
    pub data: PathBuf,
    pub maildir: PathBuf,
    pub child: Option<Child>,
}

impl Site {
    pub(crate) fn url(&self) -> String {
        format!("https://{}:7443", self.ip)
    }
}

pub(crate) struct Bed {
    pub sites: Vec<Site>,
    central: Option<Child>,
    sink: Option<Child>,
    pub sink_dump: PathBuf,
    /// The Internet's relay MTA (a private Postfix instance), when a test started one.
    pub mx: Option<PathBuf>,
    pub token: String,
    /// The server's version after seeding; every API edit adds one.
    pub head: u64,
    pub users: Vec<(String, &'static str)>,
    pub base: PathBuf,
    agent_bin: PathBuf,
    // Dropped last: kills whatever still runs in the namespaces, then deletes them.
    pub net: Net,
    _tmp: tempfile::TempDir,
}

#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct CentralInfo {
    pub token: String,
    pub version: u64,
    pub codes: BTreeMap<String, String>,
}

impl Bed {
    pub(crate) fn new() -> Bed {
        let net = Net::build();
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path().to_path_buf();
        std::fs::set_permissions(&base, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let agent_bin = demo::agent_binary().unwrap();
        let users = seed::users(demo::USERS).into_iter().map(|(l, _, s)| (l, s)).collect();
        let mut bed = Bed {
            sites: Vec::new(),
            central: None,
            sink: None,
            sink_dump: base.join("sink"),
            mx: None,
            token: String::new(),
            head: 0,
            users,
            base,
            agent_bin,
            net,
            _tmp: tmp,
        };
        bed.start_sink();
        let info = bed.start_central();
        bed.token = info.token.clone();
        bed.head = info.version;
        for (name, level, ip, pull) in [
            (seed::GATEWAY, 0, net::GW, false),
            (seed::HEAD_OFFICE, 1, net::HQ, false),
            (seed::BRANCH, 2, net::BRANCH, true),
        ] {
            let site = bed.enroll(name, level, ip, pull, &info.codes[name]);
            bed.sites.push(site);
        }
        // Enrolling added each agent to its site: more versions than the seed.
        bed.head = bed.server_version();
        bed.wait_versions(bed.head, Duration::from_secs(60));
        bed
    }

    /// The central server's head version (JSON API).
    pub(crate) fn server_version(&self) -> u64 {
        let out = self
            .curl(
                &self.net.ns("central"),
                &[
                    "-H",
                    &format!("Authorization: Bearer {}", self.token),
                    &format!("https://{}:8443/api/v1/version", net::CENTRAL),
                ],
            )
            .expect("central answers");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|_| panic!("version: {out}"));
        v["version"].as_u64().unwrap_or_else(|| panic!("version: {out}"))
    }

    fn start_sink(&mut self) {
        // smtp-sink runs as nobody and appends what it receives to files under this folder.
        std::fs::create_dir_all(&self.sink_dump).unwrap();
        std::fs::set_permissions(&self.sink_dump, std::os::unix::fs::PermissionsExt::from_mode(0o1777))
            .unwrap();
        let ns = self.net.ns("inet");
        let child = Command::new("ip")
            .args(["netns", "exec", &ns, "/usr/sbin/smtp-sink", "-u", "nobody", "-h", "internet.test", "-D"])
            .arg(self.sink_dump.join("dump"))
            .arg(format!("{}:{SINK_PORT}", net::INET))
            .arg("64")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.base.join("sink.log")).unwrap())
            .spawn()
            .expect("smtp-sink is installed (scripts/test installs postfix)");
        self.sink = Some(child);
    }

    /// Starts a real outside MTA in the Internet namespace: a private Postfix instance
    /// (`bench/postfix-instance.sh`) whose smtpd listens on `INET:MX_PORT` and which relays
    /// everything (example.org included) to `relayhost = [GW]:25`, with
    /// `smtp_fallback_relay = [HQ]:25`. Postfix tries the fallback relay when the relayhost is
    /// unreachable: exactly what a sending MTA does with the domain's MX records (preference 10:
    /// the level-0 gateway, 20: the level-1 head office), without needing DNS in the bed.
    pub(crate) fn start_mx(&mut self) {
        assert!(self.mx.is_none());
        let dir = self.base.join("mx");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/postfix-instance.sh");
        let (relay, fallback) = (format!("[{}]:25", net::GW), format!("[{}]:25", net::HQ));
        let port = MX_PORT.to_string();
        let ns = self.net.ns("inet");
        let mut cmd = vec!["ip", "netns", "exec", &ns];
        let script = script.to_str().unwrap();
        let dir_s = dir.to_str().unwrap();
        cmd.extend([script, "start", dir_s, &port, &relay, net::INET, &fallback]);
        cmd.extend([
            // An outside relay, not the benchmark's mailbox server: example.org is not local;
            // clients on its own address may relay (the bed's letters come from there).
            "virtual_mailbox_domains =",
            "smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination",
            // Quick fallback and retries for a test.
            "smtp_connect_timeout = 2s",
            "queue_run_delay = 1s",
            "minimal_backoff_time = 1s",
            "maximal_backoff_time = 2s",
            // One connection per letter, so the agents' connection counters count letters.
            "smtp_connection_cache_on_demand = no",
        ]);
        // Set first: a failed start is still stopped by Drop.
        self.mx = Some(dir.clone());
        run(&cmd);
    }

    /// The outside MTA's deliveries: `(next hop address, status)` per `status=` log line.
    pub(crate) fn mx_log(&self) -> Vec<(String, String)> {
        let Some(dir) = &self.mx else { return Vec::new() };
        let text = std::fs::read_to_string(dir.join("maillog")).unwrap_or_default();
        let field = |line: &str, name: &str| {
            let i = line.find(name)? + name.len();
            let rest = &line[i..];
            Some(rest[..rest.find([',', '[', ' ']).unwrap_or(rest.len())].to_owned())
        };
        text.lines()
            .filter(|l| l.contains("postfix/smtp["))
            .filter_map(|l| Some((field(l, " relay=")?, field(l, " status=")?)))
            .collect()
    }

    fn start_central(&mut self) -> CentralInfo {
        let dir = self.base.join("central");
        std::fs::create_dir_all(&dir).unwrap();
        let exe = std::env::current_exe().unwrap();
        let log = std::fs::File::create(self.base.join("central.log")).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", &self.net.ns("central")])
            .arg(&exe)
            .args(["role_central", "--exact", "--ignored", "--nocapture", "--test-threads", "1"])
            .env("TB_ROLE", "central")
            .env("TB_DIR", &dir)
            .env("TB_LISTEN", format!("{}:8443", net::CENTRAL))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.central = Some(child);
        let info = dir.join("info.json");
        let until = Instant::now() + Duration::from_secs(60);
        while !info.exists() {
            assert!(Instant::now() < until, "central server did not start: {}", self.log("central"));
            std::thread::sleep(Duration::from_millis(50));
        }
        serde_json::from_slice(&std::fs::read(info).unwrap()).unwrap()
    }

    pub(crate) fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.base.join(format!("{name}.log"))).unwrap_or_default()
    }

    fn enroll(&self, name: &'static str, level: u8, ip: &'static str, pull: bool, code: &str) -> Site {
        let ns = self.net.ns(match name {
            "gw" => "gw",
            "hq" => "hq",
            _ => "branch",
        });
        let data = self.base.join(format!("agent-{name}"));
        let listen = format!("{ip}:7443");
        let mut args: Vec<String> = vec!["netns".into(), "exec".into(), ns.clone()];
        args.push(self.agent_bin.display().to_string());
        args.extend(["enroll", "--data"].map(String::from));
        args.push(data.display().to_string());
        args.extend(["--code".into(), code.to_owned(), "--listen".into(), listen.clone()]);
        if pull {
            args.push("--pull".into());
        } else {
            args.extend(["--advertise-url".into(), format!("https://{listen}")]);
        }
        args.extend(["--smtp".into(), format!("{ip}:25")]);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut cmd = vec!["ip"];
        cmd.extend(refs);
        run(&cmd);
        let maildir = data.join("mail");
        let path = data.join("agent.toml");
        let mut cfg: toml::Table = toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let mut smtp = cfg.remove("smtp").and_then(|v| v.as_table().cloned()).unwrap_or_default();
        smtp.insert("listen".into(), format!("{ip}:25").into());
        smtp.insert("submission".into(), format!("{ip}:587").into());
        smtp.insert("submissions".into(), format!("{ip}:465").into());
        cfg.insert("smtp".into(), smtp.into());
        let mut delivery = cfg.remove("delivery").and_then(|v| v.as_table().cloned()).unwrap_or_default();
        delivery.insert("maildir_root".into(), maildir.display().to_string().into());
        if level < 2 {
            delivery.insert("smarthost".into(), format!("{}:{SINK_PORT}", net::INET).into());
        }
        delivery.insert("retry_initial_secs".into(), 0.5.into());
        delivery.insert("retry_max_secs".into(), 2.0.into());
        cfg.insert("delivery".into(), delivery.into());
        std::fs::write(&path, toml::to_string(&cfg).unwrap()).unwrap();
        let mut site = Site { name, ip, ns, data, maildir, child: None };
        self.start_agent(&mut site);
        site
    }

    pub(crate) fn start_agent(&self, site: &mut Site) {
        assert!(site.child.is_none());
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.base.join(format!("agent-{}.log", site.name)))
            .unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", &site.ns])
            .arg(&self.agent_bin)
            .arg("run")
            .arg("--data")
            .arg(&site.data)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        site.child = Some(child);
    }

    /// Gives the gateway a door with its own rspamd (in the gateway's namespace) and clamd (on a
    /// Unix socket), and restarts its agent with it. The scanners live as long as the result.
    pub(crate) fn enable_door(&mut self) -> Vec<pochta_agent::door::private::Scanner> {
        use pochta_agent::door::private;
        let dir = self.base.join("scanners");
        let ns = self.net.ns("gw");
        let rspamd = private::rspamd_in(&dir.join("rspamd"), "127.0.0.1:11333".parse().unwrap(), Some(&ns))
            .expect("rspamd starts (apt-get install rspamd; scripts/test does)");
        let clamd = private::clamd(&dir.join("clamd")).expect("clamd starts (apt-get install clamav-daemon)");
        let i = self.sites.iter().position(|s| s.name == seed::GATEWAY).unwrap();
        let mut gw = self.sites.remove(i);
        self.stop_agent(&mut gw);
        let path = gw.data.join("agent.toml");
        let mut cfg: toml::Table = toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let mut door = toml::Table::new();
        door.insert("rspamd".into(), rspamd.at.clone().into());
        door.insert("clamd".into(), clamd.at.clone().into());
        cfg.insert("door".into(), door.into());
        std::fs::write(&path, toml::to_string(&cfg).unwrap()).unwrap();
        self.start_agent(&mut gw);
        self.sites.insert(i, gw);
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while self.status(seed::GATEWAY).is_none() {
            assert!(
                std::time::Instant::now() < deadline,
                "the gateway did not come back: {}",
                self.log("agent-gw")
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        vec![rspamd, clamd]
    }

    pub(crate) fn stop_agent(&self, site: &mut Site) {
        let mut c = site.child.take().expect("running");
        let _ = c.kill();
        let _ = c.wait();
    }

    pub(crate) fn site(&self, name: &str) -> &Site {
        self.sites.iter().find(|s| s.name == name).unwrap()
    }

    /// `curl` inside a namespace (the test process itself is not on the test network).
    pub(crate) fn curl(&self, ns: &str, args: &[&str]) -> Option<String> {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", ns, "curl", "-sk", "--max-time", "5"]).args(args);
        let out = cmd.output().ok()?;
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    pub(crate) fn status(&self, site: &str) -> Option<serde_json::Value> {
        let s = self.site(site);
        serde_json::from_str(&self.curl(&s.ns, &[&format!("{}/status", s.url())])?).ok()
    }

    /// The agent's counters from its `/metrics` (rejections summed over reasons).
    pub(crate) fn metrics(&self, site: &str) -> BTreeMap<String, u64> {
        let s = self.site(site);
        let text = self.curl(&s.ns, &[&format!("{}/metrics", s.url())]).unwrap_or_default();
        let mut out = BTreeMap::new();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (Some(name), Some(v)) = (line.split(['{', ' ']).next(), line.rsplit(' ').next()) else {
                continue;
            };
            let short = name.trim_start_matches("pochta_").trim_end_matches("_total").to_owned();
            *out.entry(short).or_default() += v.parse::<u64>().unwrap_or(0);
        }
        out
    }

    pub(crate) fn version(&self, site: &str) -> Option<u64> {
        self.status(site)?.get("version")?.as_u64()
    }

    pub(crate) fn wait_versions(&self, v: u64, deadline: Duration) -> Duration {
        let start = Instant::now();
        loop {
            let have: Vec<_> = self.sites.iter().map(|s| (s.name, self.version(s.name))).collect();
            if have.iter().all(|(_, h)| *h == Some(v)) {
                return start.elapsed();
            }
            assert!(start.elapsed() < deadline, "agents not at version {v} after {deadline:?}: {have:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// One edit through the JSON API (a new user); returns the new head version.
    pub(crate) fn add_user(&mut self, name: &str, site: &str) -> u64 {
        let body = serde_json::json!({"name": name, "site": site, "display_name": name}).to_string();
        let out = self
            .curl(
                &self.net.ns("central"),
                &[
                    "-o",
                    "/dev/null",
                    "-w",
                    "%{http_code}",
                    "-H",
                    &format!("Authorization: Bearer {}", self.token),
                    "-H",
                    "content-type: application/json",
                    "-d",
                    &body,
                    &format!("https://{}:8443/api/v1/users", net::CENTRAL),
                ],
            )
            .unwrap_or_default();
        assert_eq!(out, "201", "creating user {name}");
        self.head = self.server_version();
        self.head
    }

    pub(crate) fn users_at(&self, site: &str) -> Vec<String> {
        self.users.iter().filter(|(_, s)| *s == site).map(|(l, _)| l.clone()).collect()
    }

    /// Messages waiting in an agent's queue (from `/metrics`).
    pub(crate) fn queued(&self, site: &str) -> u64 {
        self.metrics(site).get("queue_messages").copied().unwrap_or(u64::MAX)
    }

    /// Letters (by testbed id) in every Maildir: id → [(site, user, delivery time)].
    pub(crate) fn deliveries(&self) -> BTreeMap<String, Vec<(&'static str, String, std::time::SystemTime)>> {
        let mut out: BTreeMap<String, Vec<_>> = BTreeMap::new();
        for s in &self.sites {
            for (user, file) in maildir_files(&s.maildir) {
                let Ok(text) = std::fs::read(&file) else { continue };
                let head = String::from_utf8_lossy(&text[..text.len().min(4096)]).into_owned();
                let Some(id) = letter_id(&head) else { continue };
                let t = std::fs::metadata(&file).and_then(|m| m.modified()).unwrap();
                out.entry(id).or_default().push((s.name, user.clone(), t));
            }
        }
        out
    }

    /// Letters (by testbed id) that reached the Internet's smtp-sink, with how often.
    pub(crate) fn sunk(&self) -> BTreeMap<String, usize> {
        let mut text = String::new();
        for f in std::fs::read_dir(&self.sink_dump).into_iter().flatten().flatten() {
            text.push_str(&std::fs::read_to_string(f.path()).unwrap_or_default());
        }
        let mut out = BTreeMap::new();
        for line in text.lines() {
            if let Some(id) = letter_id(line) {
                *out.entry(id).or_default() += 1;
            }
        }
        out
    }
}

impl Drop for Bed {
    fn drop(&mut self) {
        for s in &mut self.sites {
            if let Some(mut c) = s.child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
        for c in [self.central.take(), self.sink.take()].into_iter().flatten() {
            let mut c = c;
            let _ = c.kill();
            let _ = c.wait();
        }
        if let Some(dir) = &self.mx {
            // Its files go with the temp dir; the namespace's Drop kills any leftover process.
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/postfix-instance.sh");
            let _ = Command::new(script).arg("stop").arg(dir).output();
            if std::thread::panicking() {
                let log = std::fs::read_to_string(dir.join("maillog")).unwrap_or_default();
                eprintln!("--- outside MTA maillog (last lines) ---");
                let tail: Vec<&str> = log.lines().rev().take(30).collect();
                for l in tail.into_iter().rev() {
                    eprintln!("{l}");
                }
            }
        }
        if std::thread::panicking() {
            for name in ["sink", "central", "agent-gw", "agent-hq", "agent-branch"] {
                let log = self.log(name);
                let tail: Vec<&str> = log.lines().rev().take(15).collect();
                eprintln!("--- {name}.log (last lines) ---");
                for l in tail.into_iter().rev() {
                    eprintln!("{l}");
                }
            }
        }
    }
}

fn letter_id(text: &str) -> Option<String> {
    let i = text.find("Subject: tb-")?;
    let rest = &text[i + "Subject: tb-".len()..];
    let end = rest.find(|c: char| c.is_whitespace()).unwrap_or(rest.len());
    Some(rest[..end].to_owned())
}

fn maildir_files(root: &Path) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let Ok(users) = std::fs::read_dir(root) else { return out };
    for u in users.flatten() {
        let user = u.file_name().to_string_lossy().into_owned();
        for sub in ["new", "cur"] {
            let Ok(files) = std::fs::read_dir(u.path().join("Maildir").join(sub)) else { continue };
            out.extend(files.flatten().map(|f| (user.clone(), f.path())));
        }
    }
    out
}
