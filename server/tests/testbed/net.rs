//! The test network: one network namespace per host, veth links through a bridge in a "core"
//! namespace, traffic classes counted per link with `tc` (htb classes selected by u32 port
//! filters), throttling, cutting and restoring links. Everything carries a unique prefix and is
//! removed by `Drop` (also after a failed test) and, for leftovers of crashed runs, at start.

use std::collections::BTreeMap;
use std::process::Command;

/// The backbone (the "inter-site" network) and the branch's LAN behind its router.
pub(crate) const INET: &str = "10.77.0.1";
pub(crate) const CENTRAL: &str = "10.77.0.2";
pub(crate) const GW: &str = "10.77.0.10";
pub(crate) const HQ: &str = "10.77.0.11";
pub(crate) const BR_ROUTER: &str = "10.77.0.20";
pub(crate) const BR_ROUTER_LAN: &str = "10.77.2.1";
pub(crate) const BRANCH: &str = "10.77.2.2";
/// The slow link between the branch and its router.
pub(crate) const SLOW_RATE: &str = "256kbit";

/// Runs a command, panicking with its output when it fails.
pub(crate) fn run(args: &[&str]) -> String {
    let out = Command::new(args[0]).args(&args[1..]).output().unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn try_run(args: &[&str]) -> bool {
    Command::new(args[0]).args(&args[1..]).output().is_ok_and(|o| o.status.success())
}

/// Byte counters of one link (both directions), by traffic class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct LinkBytes {
    /// SMTP (ports 25, 587, 465).
    pub mail: u64,
    /// Replication and agent/server HTTPS (ports 7443, 8443).
    pub repl: u64,
    /// Everything else (ARP, ...).
    pub other: u64,
    pub packets: u64,
}

impl LinkBytes {
    pub(crate) fn minus(self, o: LinkBytes) -> LinkBytes {
        LinkBytes {
            mail: self.mail - o.mail,
            repl: self.repl - o.repl,
            other: self.other - o.other,
            packets: self.packets - o.packets,
        }
    }
}

/// One host's attachment to the backbone: `dev` in the core namespace, `eth0` in `ns`.
#[derive(Debug, Clone)]
pub(crate) struct Link {
    pub name: &'static str,
    /// Namespace holding the host side (`eth0`).
    pub ns: String,
}

pub(crate) struct Net {
    pub prefix: String,
    pub namespaces: Vec<String>,
    pub links: Vec<Link>,
}

static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

impl Net {
    /// Namespace name of a host.
    pub(crate) fn ns(&self, host: &str) -> String {
        format!("{}{host}", self.prefix)
    }

    /// Builds the paper's network:
    ///
    /// ```text
    ///  inet 10.77.0.1 ─┐
    ///  central .0.2 ───┤ bridge (ns core) ├── gw .0.10 (level 0)
    ///                  │                  ├── hq .0.11 (level 1)
    ///                  └── brrt .0.20 ── 256 kbit/s ── branch 10.77.2.2 (level 2)
    /// ```
    /// The Internet has no route to the branch LAN; the head office, gateway and central server
    /// reach it through its router.
    pub(crate) fn build() -> Net {
        assert!(
            std::env::var("USER").map_or(true, |u| u == "root") && run(&["id", "-u"]).trim() == "0",
            "the test bed needs root to create network namespaces (CI runs as root); refusing to skip"
        );
        cleanup_leftovers();
        let prefix =
            format!("ptb{}x{}-", std::process::id(), SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        let mut net = Net { prefix, namespaces: Vec::new(), links: Vec::new() };
        for host in ["core", "inet", "central", "gw", "hq", "brrt", "branch"] {
            let ns = net.ns(host);
            let out = Command::new("ip").args(["netns", "add", &ns]).output().expect("ip(8) is installed");
            assert!(
                out.status.success(),
                "cannot create network namespace {ns}: {} — the test bed needs root and CAP_SYS_ADMIN",
                String::from_utf8_lossy(&out.stderr)
            );
            net.namespaces.push(ns.clone());
            run(&["ip", "-n", &ns, "link", "set", "lo", "up"]);
        }
        let core = net.ns("core");
        run(&["ip", "-n", &core, "link", "add", "br0", "type", "bridge"]);
        run(&["ip", "-n", &core, "link", "set", "br0", "up"]);
        for (name, host, addr) in [
            ("inet", "inet", INET),
            ("central", "central", CENTRAL),
            ("gw", "gw", GW),
            ("hq", "hq", HQ),
            ("branch", "brrt", BR_ROUTER),
        ] {
            let ns = net.ns(host);
            run(&[
                "ip", "-n", &core, "link", "add", name, "type", "veth", "peer", "name", "eth0", "netns", &ns,
            ]);
            run(&["ip", "-n", &core, "link", "set", name, "master", "br0"]);
            run(&["ip", "-n", &core, "link", "set", name, "up"]);
            run(&["ip", "-n", &ns, "addr", "add", &format!("{addr}/24"), "dev", "eth0"]);
            run(&["ip", "-n", &ns, "link", "set", "eth0", "up"]);
            let link = Link { name, ns: ns.clone() };
            classify(&core, name);
            classify(&ns, "eth0");
            net.links.push(link);
        }
        // The branch LAN behind its router, on the slow link (tbf both ways).
        let (brrt, branch) = (net.ns("brrt"), net.ns("branch"));
        run(&[
            "ip", "-n", &brrt, "link", "add", "lan0", "type", "veth", "peer", "name", "eth0", "netns",
            &branch,
        ]);
        run(&["ip", "-n", &brrt, "addr", "add", &format!("{BR_ROUTER_LAN}/24"), "dev", "lan0"]);
        run(&["ip", "-n", &brrt, "link", "set", "lan0", "up"]);
        run(&["ip", "-n", &branch, "addr", "add", &format!("{BRANCH}/24"), "dev", "eth0"]);
        run(&["ip", "-n", &branch, "link", "set", "eth0", "up"]);
        for (ns, dev) in [(&brrt, "lan0"), (&branch, "eth0")] {
            run(&[
                "tc", "-n", ns, "qdisc", "add", "dev", dev, "root", "tbf", "rate", SLOW_RATE, "burst",
                "16kb", "latency", "2s",
            ]);
        }
        run(&["ip", "netns", "exec", &brrt, "sysctl", "-qw", "net.ipv4.ip_forward=1"]);
        run(&["ip", "-n", &branch, "route", "add", "default", "via", BR_ROUTER_LAN]);
        for host in ["central", "gw", "hq"] {
            run(&["ip", "-n", &net.ns(host), "route", "add", "10.77.2.0/24", "via", BR_ROUTER]);
        }
        net
    }

    fn link(&self, name: &str) -> &Link {
        self.links.iter().find(|l| l.name == name).unwrap_or_else(|| panic!("no link {name}"))
    }

    /// Both directions' bytes of a backbone link, by class.
    pub(crate) fn bytes(&self, name: &str) -> LinkBytes {
        let l = self.link(name);
        let a = class_bytes(&self.ns("core"), l.name);
        let b = class_bytes(&l.ns, "eth0");
        LinkBytes {
            mail: a.mail + b.mail,
            repl: a.repl + b.repl,
            other: a.other + b.other,
            packets: a.packets + b.packets,
        }
    }

    pub(crate) fn all_bytes(&self) -> BTreeMap<&'static str, LinkBytes> {
        self.links.iter().map(|l| (l.name, self.bytes(l.name))).collect()
    }

    /// Cuts a backbone link (both ends down) or restores it.
    pub(crate) fn set_link(&self, name: &str, up: bool) {
        let l = self.link(name);
        let state = if up { "up" } else { "down" };
        run(&["ip", "-n", &self.ns("core"), "link", "set", l.name, state]);
        run(&["ip", "-n", &l.ns, "link", "set", "eth0", state]);
        if up && matches!(name, "central" | "gw" | "hq") {
            // Taking eth0 down dropped the static route to the branch LAN; put it back.
            run(&["ip", "-n", &l.ns, "route", "replace", "10.77.2.0/24", "via", BR_ROUTER]);
        }
    }

    /// Throttles a backbone link in both directions (`None`: back to unlimited).
    pub(crate) fn throttle(&self, name: &str, rate: Option<&str>) {
        let l = self.link(name);
        let rate = rate.unwrap_or("10gbit");
        for (ns, dev) in [(self.ns("core"), l.name), (l.ns.clone(), "eth0")] {
            run(&[
                "tc", "-n", &ns, "class", "change", "dev", dev, "parent", "1:", "classid", "1:1", "htb",
                "rate", rate,
            ]);
        }
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for ns in self.namespaces.iter().rev() {
            kill_all_in(ns);
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}

/// Kills the processes inside one of our namespaces (by pid: `ip netns pids`).
fn kill_all_in(ns: &str) {
    if let Ok(out) = Command::new("ip").args(["netns", "pids", ns]).output() {
        for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
            let _ = Command::new("kill").args(["-9", pid]).output();
        }
    }
}

/// Removes namespaces of earlier runs whose process is gone.
fn cleanup_leftovers() {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else { return };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Some(name) = line.split_whitespace().next() else { continue };
        let Some(rest) = name.strip_prefix("ptb") else { continue };
        let Some((pid, _)) = rest.split_once('x') else { continue };
        if pid.parse::<u32>().is_ok() && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            kill_all_in(name);
            let _ = try_run(&["ip", "netns", "del", name]);
        }
    }
}

/// htb on `dev`: 1:10 mail, 1:20 replication, 1:30 the rest, all under 1:1 (the throttle).
fn classify(ns: &str, dev: &str) {
    let tc = |args: &[&str]| {
        let mut v = vec!["tc", "-n", ns];
        v.extend_from_slice(args);
        run(&v);
    };
    tc(&["qdisc", "add", "dev", dev, "root", "handle", "1:", "htb", "default", "30", "r2q", "100000"]);
    tc(&["class", "add", "dev", dev, "parent", "1:", "classid", "1:1", "htb", "rate", "10gbit"]);
    for c in ["1:10", "1:20", "1:30"] {
        tc(&[
            "class", "add", "dev", dev, "parent", "1:1", "classid", c, "htb", "rate", "1gbit", "ceil",
            "10gbit",
        ]);
    }
    for (port, class) in
        [("25", "1:10"), ("587", "1:10"), ("465", "1:10"), ("7443", "1:20"), ("8443", "1:20")]
    {
        for dir in ["sport", "dport"] {
            tc(&[
                "filter", "add", "dev", dev, "parent", "1:", "protocol", "ip", "prio", "1", "u32", "match",
                "ip", dir, port, "0xffff", "flowid", class,
            ]);
        }
    }
}

/// Reads the htb classes' "Sent N bytes M pkt" lines.
fn class_bytes(ns: &str, dev: &str) -> LinkBytes {
    let text = run(&["tc", "-n", ns, "-s", "class", "show", "dev", dev]);
    let mut out = LinkBytes::default();
    let mut current = "";
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.first() == Some(&"class") && words.len() > 2 {
            current = if words[2] == "1:10" {
                "mail"
            } else if words[2] == "1:20" {
                "repl"
            } else if words[2] == "1:30" {
                "other"
            } else {
                ""
            };
        } else if words.first() == Some(&"Sent") && words.len() > 3 {
            let bytes: u64 = words[1].parse().unwrap_or(0);
            let packets: u64 = words[3].parse().unwrap_or(0);
            match current {
                "mail" => out.mail += bytes,
                "repl" => out.repl += bytes,
                "other" => out.other += bytes,
                _ => continue,
            }
            out.packets += packets;
        }
    }
    out
}
