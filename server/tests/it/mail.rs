//! End to end: mail between real `pochta-agent` processes. PRODUCT.md "Mail flow invariants",
//! each asserted on what users and operators notice: files in Maildirs, the queue, and the bytes
//! and connections on the inter-site links (a byte-counting proxy sits in front of every agent's
//! SMTP endpoint, and that proxy is the address other sites are told to use).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command as StdCommand;
use std::sync::atomic::Ordering;
use std::time::Duration;

use pochta_directory::{Address, Group, GroupKind, Level, LocalPart, Op, PostingPolicy, Site, SiteId};
use pochta_server::demo::proxy::Proxy;
use pochta_server::demo::{self, AgentLinks, DemoAgent, seed};
use tokio::process::Child;

use crate::bed::{Bed, SYNC, kill, user};

/// Generous: delivery is fast, but the machine is shared.
const MAIL: Duration = Duration::from_secs(120);
/// The third site of the list test: level 1, with mailboxes.
const LAB: &str = "lab";

/// One site's agent with the proxy (the inter-site link) in front of its SMTP endpoint.
struct MailSite {
    child: Option<Child>,
    agent: DemoAgent,
    link: Proxy,
}

impl MailSite {
    async fn start(bed: &Bed, site: &str, pull: bool) -> MailSite {
        MailSite::start_with(bed, site, pull, None).await
    }

    /// With `smarthost`, where the agent sends mail for outside domains.
    async fn start_with(bed: &Bed, site: &str, pull: bool, smarthost: Option<String>) -> MailSite {
        let port = demo::free_port().unwrap();
        let link = Proxy::start(([127, 0, 0, 1], port).into()).await.unwrap();
        let links = AgentLinks {
            pull,
            smtp_port: Some(port),
            smtp_advertise: Some(format!("127.0.0.1:{}", link.port)),
            retry: Some((0.2, 1.0)),
            smarthost,
            ..Default::default()
        };
        let (child, agent) = bed.agent(site, links).await;
        MailSite { child: Some(child), agent, link }
    }

    async fn stop(&mut self) {
        kill(self.child.take().expect("running")).await;
    }

    fn restart(&mut self, bed: &Bed) {
        assert!(self.child.is_none());
        self.child = Some(bed.restart_agent(&self.agent));
    }

    fn inbox(&self, user: &str) -> std::path::PathBuf {
        self.agent.inbox(user)
    }

    /// Messages waiting in this agent's queue.
    fn queued(&self, bin: &Path) -> usize {
        let out = StdCommand::new(bin)
            .args(["queue", "list", "--json", "--data"])
            .arg(&self.agent.data_dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<Vec<serde_json::Value>>(&out.stdout).unwrap().len()
    }
}

/// A bed with one agent per named site (all push except the level-2 branch, which pulls).
async fn bed_with(
    sites: &[&str],
    extra: impl FnOnce(&pochta_directory::Directory) -> Vec<Op>,
) -> (Bed, Vec<MailSite>) {
    let bed = Bed::new(20).await;
    bed.edit(extra).await;
    let mut out = Vec::new();
    for s in sites {
        out.push(MailSite::start(&bed, s, *s == seed::BRANCH).await);
    }
    let agents: Vec<DemoAgent> = out.iter().map(|m| m.agent.clone()).collect();
    demo::wait_in_sync(bed.server(), &agents, SYNC).await.unwrap();
    // Every agent knows every other's SMTP endpoint (enrollment is a directory edit).
    (bed, out)
}

fn users_at(bed: &Bed, site: &str) -> Vec<String> {
    bed.directory().users.values().filter(|u| u.site.as_str() == site).map(|u| u.name.to_string()).collect()
}

fn addr(local: &str) -> String {
    format!("{local}@{}", demo::DOMAIN)
}

/// swaks as the client; returns its transcript, asserting on its exit status.
fn swaks(server: &str, from: &str, to: &[String], subject: &str, ok: bool) -> String {
    let out = StdCommand::new("swaks")
        .args(["--server", server, "--from", from, "--to", &to.join(","), "--header"])
        .arg(format!("Subject: {subject}"))
        .args(["--body", "Hello from the test.", "--timeout", "60"])
        .output()
        .expect("swaks is installed (scripts/test installs it)");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.success(), ok, "swaks to {to:?} at {server}:\n{text}");
    text
}

fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    match std::fs::read_dir(dir) {
        Ok(rd) => rd.flatten().map(|e| e.path()).filter(|p| p.is_file()).collect(),
        Err(_) => Vec::new(),
    }
}

/// Waits until `dir` holds at least `n` files.
async fn wait_files(dir: &Path, n: usize) {
    let until = tokio::time::Instant::now() + MAIL;
    loop {
        let have = files(dir).len();
        if have >= n {
            return;
        }
        assert!(tokio::time::Instant::now() < until, "{} holds {have} letters, want {n}", dir.display());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until no agent has anything queued.
async fn wait_drained(bed: &Bed, sites: &[&MailSite]) {
    let until = tokio::time::Instant::now() + MAIL;
    loop {
        let left: Vec<(String, usize)> = sites
            .iter()
            .map(|s| (s.agent.site.clone(), s.queued(&bed.bin)))
            .filter(|(_, n)| *n > 0)
            .collect();
        if left.is_empty() {
            return;
        }
        assert!(tokio::time::Instant::now() < until, "still queued: {left:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn subjects(dir: &Path) -> Vec<String> {
    files(dir)
        .iter()
        .map(|p| {
            let text = String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned();
            let head = text.split("\r\n\r\n").next().unwrap_or_default().to_owned();
            head.lines()
                .find_map(|l| l.strip_prefix("Subject: "))
                .unwrap_or_else(|| panic!("no Subject in {}", p.display()))
                .trim()
                .to_owned()
        })
        .collect()
}

fn link_bytes(sites: &[MailSite]) -> Vec<(String, u64, u64)> {
    sites
        .iter()
        .map(|s| {
            (
                s.agent.site.clone(),
                s.link.counters.total(),
                s.link.counters.connections.load(Ordering::Relaxed),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_recipient_is_refused_at_the_first_hop() {
    let (bed, sites) = bed_with(&[seed::GATEWAY, seed::HEAD_OFFICE, seed::BRANCH], |_| vec![]).await;
    let known = addr(&users_at(&bed, seed::BRANCH)[0]);
    for s in &sites {
        // From outside, in at every site: the only recipient does not exist.
        let t = swaks(&s.agent.smtp, "someone@example.net", &[addr("nobody.here")], "refused", false);
        assert!(t.contains("550 5.1.1"), "{}: {t}", s.agent.site);
        // Site addresses too, and a known recipient beside it does not change the answer.
        let raw = raw_session(
            &s.agent.smtp,
            &[
                "EHLO outside.example.net",
                "MAIL FROM:<someone@example.net>",
                &format!("RCPT TO:<ghost@{}.{}>", seed::BRANCH, demo::DOMAIN),
                &format!("RCPT TO:<{known}>"),
                "RSET",
                "QUIT",
            ],
        )
        .await;
        assert!(raw[3].starts_with("550 5.1.1"), "{}: {raw:?}", s.agent.site);
        assert!(raw[4].starts_with("250"), "{}: {raw:?}", s.agent.site);
    }
    for s in &sites {
        assert_eq!(s.queued(&bed.bin), 0, "nothing queued at {}", s.agent.site);
    }
    let links = link_bytes(&sites);
    assert!(
        links.iter().all(|(_, bytes, conns)| *bytes == 0 && *conns == 0),
        "inter-site links used: {links:?}"
    );
    assert!(sites.iter().all(|s| files(&s.agent.maildir).is_empty()), "no mailbox was even created");
}

#[tokio::test(flavor = "multi_thread")]
async fn intra_site_mail_never_leaves_the_site() {
    let (bed, sites) = bed_with(&[seed::GATEWAY, seed::HEAD_OFFICE, seed::BRANCH], |_| vec![]).await;
    for (i, site) in [seed::HEAD_OFFICE, seed::BRANCH].into_iter().enumerate() {
        let s = &sites[i + 1];
        let users = users_at(&bed, site);
        let (from, to) = (&users[0], &users[1]);
        // The official address and the site address both stay home.
        let rcpts = [addr(to), format!("{}@{site}.{}", users[2], demo::DOMAIN)];
        swaks(&s.agent.smtp, &addr(from), &rcpts, &format!("local at {site}"), true);
        wait_files(&s.inbox(to), 1).await;
        wait_files(&s.inbox(&users[2]), 1).await;
    }
    wait_drained(&bed, &sites.iter().collect::<Vec<_>>()).await;
    let links = link_bytes(&sites);
    assert!(
        links.iter().all(|(_, bytes, conns)| *bytes == 0 && *conns == 0),
        "inter-site links used: {links:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_list_over_three_sites_crosses_each_link_once() {
    let lab = SiteId::parse(LAB).unwrap();
    let (bed, sites) = bed_with(&[seed::HEAD_OFFICE, seed::BRANCH, LAB], |_| {
        vec![
            Op::PutSite(Site {
                id: lab.clone(),
                name: "Laboratory".into(),
                level: Level::One,
                agents: vec![],
                default_quota: None,
                outgoing: vec![],
            }),
            Op::PutUser(user("l.one", LAB)),
            Op::PutUser(user("l.two", LAB)),
        ]
    })
    .await;
    let (hq, br) = (users_at(&bed, seed::HEAD_OFFICE), users_at(&bed, seed::BRANCH));
    let members: BTreeSet<Address> = [&hq[1], &hq[2], &br[0], &br[1], &br[2]]
        .into_iter()
        .map(|u| Address::parse(&addr(u)).unwrap())
        .chain([Address::parse(&addr("l.one")).unwrap(), Address::parse(&addr("l.two")).unwrap()])
        .collect();
    // A nested list too: a member reached twice still gets one copy.
    let inner = Group {
        name: LocalPart::parse("tri.inner").unwrap(),
        kind: GroupKind::List,
        description: String::new(),
        members: [Address::parse(&addr(&br[0])).unwrap(), Address::parse(&addr("l.one")).unwrap()].into(),
        policy: PostingPolicy::Anyone,
    };
    let mut all = members.clone();
    all.insert(Address::parse(&addr("tri.inner")).unwrap());
    let outer = Group {
        name: LocalPart::parse("tri").unwrap(),
        kind: GroupKind::List,
        description: String::new(),
        members: all,
        policy: PostingPolicy::Anyone,
    };
    bed.edit(|_| vec![Op::PutGroup(inner), Op::PutGroup(outer)]).await;
    let agents: Vec<DemoAgent> = sites.iter().map(|m| m.agent.clone()).collect();
    demo::wait_in_sync(bed.server(), &agents, SYNC).await.unwrap();

    swaks(&sites[0].agent.smtp, &addr(&hq[0]), &[addr("tri")], "to three sites", true);
    for (s, users) in [
        (&sites[0], vec![hq[1].clone(), hq[2].clone()]),
        (&sites[1], vec![br[0].clone(), br[1].clone(), br[2].clone()]),
        (&sites[2], vec!["l.one".to_owned(), "l.two".to_owned()]),
    ] {
        for u in users {
            wait_files(&s.inbox(&u), 1).await;
        }
    }
    wait_drained(&bed, &sites.iter().collect::<Vec<_>>()).await;
    // Exactly one copy per member, and nobody else got anything.
    let mut copies = BTreeMap::new();
    for s in &sites {
        for mbox in files_of_all(&s.agent.maildir) {
            *copies.entry(mbox).or_insert(0) += 1;
        }
    }
    let expected: BTreeMap<String, i32> = members.iter().map(|a| (a.local().to_string(), 1)).collect();
    assert_eq!(copies, expected);
    // One transaction (one connection) per remote site; none back to the first site.
    let conns: Vec<(String, u64)> = sites
        .iter()
        .map(|s| (s.agent.site.clone(), s.link.counters.connections.load(Ordering::Relaxed)))
        .collect();
    assert_eq!(
        conns,
        vec![(seed::HEAD_OFFICE.to_owned(), 0), (seed::BRANCH.to_owned(), 1), (LAB.to_owned(), 1)]
    );
    // And the bytes on each link are one letter's worth, not three.
    for s in &sites[1..] {
        let up = s.link.counters.up.load(Ordering::Relaxed);
        assert!(up > 0 && up < 20_000, "{}: {up} bytes up", s.agent.site);
    }
}

/// Every `new/` letter of every mailbox under `root`, as the mailbox (user) name per letter.
fn files_of_all(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(root).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        for _ in files(&e.path().join("Maildir").join("new")) {
            out.push(name.clone());
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn mail_flows_between_sites_while_the_central_server_is_down() {
    let (mut bed, sites) = bed_with(&[seed::GATEWAY, seed::HEAD_OFFICE, seed::BRANCH], |_| vec![]).await;
    let (hq, br) = (users_at(&bed, seed::HEAD_OFFICE), users_at(&bed, seed::BRANCH));
    bed.stop_server().await;
    swaks(&sites[1].agent.smtp, &addr(&hq[0]), &[addr(&br[0])], "hq to branch", true);
    swaks(&sites[2].agent.smtp, &addr(&br[1]), &[addr(&hq[1])], "branch to hq", true);
    // From outside through the level-0 gateway, which has no mailboxes.
    swaks(&sites[0].agent.smtp, "someone@example.net", &[addr(&hq[2]), addr(&br[2])], "via gw", true);
    for (s, u) in [(&sites[2], &br[0]), (&sites[1], &hq[1]), (&sites[1], &hq[2]), (&sites[2], &br[2])] {
        wait_files(&s.inbox(u), 1).await;
    }
    wait_drained(&bed, &sites.iter().collect::<Vec<_>>()).await;
    assert_eq!(subjects(&sites[2].inbox(&br[0])), ["hq to branch"]);
    assert_eq!(subjects(&sites[1].inbox(&hq[1])), ["branch to hq"]);
    assert_eq!(subjects(&sites[1].inbox(&hq[2])), ["via gw"]);
    assert!(files(&sites[0].agent.maildir).is_empty(), "level 0 keeps no mail");
}

#[tokio::test(flavor = "multi_thread")]
async fn mail_for_a_stopped_site_waits_and_arrives_once() {
    let (bed, mut sites) = bed_with(&[seed::HEAD_OFFICE, seed::BRANCH], |_| vec![]).await;
    let (hq, br) = (users_at(&bed, seed::HEAD_OFFICE), users_at(&bed, seed::BRANCH));
    sites[1].stop().await;
    for i in 0..3 {
        swaks(
            &sites[0].agent.smtp,
            &addr(&hq[0]),
            &[addr(&br[0]), addr(&br[1])],
            &format!("waiting {i}"),
            true,
        );
    }
    // The letters wait at the sender's agent while it keeps trying.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(sites[0].queued(&bed.bin), 3);
    assert!(sites[1].link.counters.connections.load(Ordering::Relaxed) > 0, "the sender kept trying");
    assert!(files(&sites[1].inbox(&br[0])).is_empty());
    sites[1].restart(&bed);
    wait_files(&sites[1].inbox(&br[0]), 3).await;
    wait_files(&sites[1].inbox(&br[1]), 3).await;
    wait_drained(&bed, &[&sites[0], &sites[1]]).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    for u in [&br[0], &br[1]] {
        let mut got = subjects(&sites[1].inbox(u));
        got.sort();
        assert_eq!(got, ["waiting 0", "waiting 1", "waiting 2"], "exactly once each for {u}");
    }
}

/// Sends `total` letters from `clients` concurrent smtplib clients, one connection each, and
/// prints `OK <n>` for every letter whose 250 the client saw.
const LOAD: &str = r#"
import smtplib, sys, threading, time
host, port, total, clients, sender = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
rcpts = sys.argv[6:]
lock = threading.Lock()
def client(k):
    for n in range(k, total, clients):
        msg = "From: %s\r\nTo: %s\r\nSubject: load %d\r\nMessage-ID: <load-%d@test>\r\n\r\n%s\r\n" % (
            sender, ", ".join(rcpts), n, n, "x" * 2000)
        try:
            s = smtplib.SMTP(host, port, timeout=30)
            s.sendmail(sender, rcpts, msg)
            with lock:
                print("OK %d" % n, flush=True)
            try:
                s.quit()
            except Exception:
                pass
        except Exception as e:
            with lock:
                print("FAIL %d %s" % (n, e), flush=True)
            time.sleep(0.05)
ts = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
for t in ts: t.start()
for t in ts: t.join()
print("DONE", flush=True)
"#;

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_under_load_loses_and_duplicates_nothing_acknowledged() {
    const TOTAL: usize = 200;
    let (bed, mut sites) = bed_with(&[seed::HEAD_OFFICE, seed::BRANCH], |_| vec![]).await;
    let (hq, br) = (users_at(&bed, seed::HEAD_OFFICE), users_at(&bed, seed::BRANCH));
    let out_path = bed.base.join("load.out");
    let port = sites[0].agent.smtp.rsplit_once(':').unwrap().1.to_owned();
    let mut load = tokio::process::Command::new("python3")
        .args(["-c", LOAD, "127.0.0.1", &port, &TOTAL.to_string(), "4", &addr(&hq[0])])
        .args([addr(&hq[1]), addr(&br[0])])
        .stdout(std::fs::File::create(&out_path).unwrap())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let acked = |p: &Path| -> BTreeSet<usize> {
        std::fs::read_to_string(p)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.strip_prefix("OK ")?.parse().ok())
            .collect()
    };
    // Kill the receiving agent when about a third has been acknowledged.
    let until = tokio::time::Instant::now() + MAIL;
    while acked(&out_path).len() < TOTAL / 3 {
        assert!(tokio::time::Instant::now() < until, "the load does not get going");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    sites[0].stop().await; // SIGKILL
    tokio::time::sleep(Duration::from_millis(300)).await;
    sites[0].restart(&bed);
    let status = tokio::time::timeout(MAIL, load.wait()).await.expect("the load finishes").unwrap();
    assert!(status.success());
    let acked = acked(&out_path);
    let failed =
        std::fs::read_to_string(&out_path).unwrap().lines().filter(|l| l.starts_with("FAIL")).count();
    assert!(failed > 0, "the kill happened during the load");
    assert!(acked.len() > TOTAL / 3, "mail was accepted after the restart: {}", acked.len());

    let (hq_box, br_box) = (sites[0].inbox(&hq[1]), sites[1].inbox(&br[0]));
    wait_files(&hq_box, acked.len()).await;
    wait_files(&br_box, acked.len()).await;
    wait_drained(&bed, &[&sites[0], &sites[1]]).await;
    for mbox in [&hq_box, &br_box] {
        let mut seen: BTreeMap<usize, usize> = BTreeMap::new();
        for s in subjects(mbox) {
            let n: usize = s.strip_prefix("load ").unwrap().parse().unwrap();
            *seen.entry(n).or_default() += 1;
        }
        let dup: Vec<_> = seen.iter().filter(|(_, c)| **c > 1).collect();
        assert!(dup.is_empty(), "{} has duplicates: {dup:?}", mbox.display());
        let lost: Vec<_> = acked.iter().filter(|n| !seen.contains_key(n)).collect();
        assert!(lost.is_empty(), "{} lost acknowledged letters: {lost:?}", mbox.display());
    }
    for s in &mut sites {
        s.stop().await;
    }
}

/// A raw SMTP session: one reply (its last line) per line sent, the greeting first.
async fn raw_session(server: &str, lines: &[&str]) -> Vec<String> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let stream = tokio::net::TcpStream::connect(server).await.unwrap();
    let (r, mut w) = stream.into_split();
    let mut r = BufReader::new(r);
    async fn read_reply(r: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> String {
        let mut line = String::new();
        loop {
            line.clear();
            if r.read_line(&mut line).await.unwrap() == 0 {
                return "EOF".to_owned();
            }
            if line.as_bytes().get(3) != Some(&b'-') {
                return line.trim_end().to_owned();
            }
        }
    }
    let mut out = vec![read_reply(&mut r).await];
    for l in lines {
        w.write_all(format!("{l}\r\n").as_bytes()).await.unwrap();
        out.push(read_reply(&mut r).await);
    }
    out
}

/// PRODUCT.md: "move a user to another site with one click (mail and mailbox follow)".
#[tokio::test(flavor = "multi_thread")]
async fn a_moved_users_mailbox_follows_her_to_her_new_site() {
    let (bed, sites) = bed_with(&[seed::HEAD_OFFICE, seed::BRANCH], |_| vec![]).await;
    let hq = users_at(&bed, seed::HEAD_OFFICE);
    let (from, her) = (&hq[0], &hq[1]);
    for i in 0..3 {
        swaks(&sites[0].agent.smtp, &addr(from), &[addr(her)], &format!("before the move {i}"), true);
    }
    let at_hq = sites[0].inbox(her);
    wait_files(&at_hq, 3).await;
    wait_drained(&bed, &[&sites[0], &sites[1]]).await;
    // She has read one of them: her mail program filed it in cur/ with the Seen flag.
    let read = files(&at_hq).into_iter().min().unwrap();
    let cur = at_hq.parent().unwrap().join("cur");
    let read_name = format!("{}:2,S", read.file_name().unwrap().to_string_lossy());
    std::fs::rename(&read, cur.join(&read_name)).unwrap();
    let read_subject = subjects(&cur)[0].clone();

    let version = bed
        .edit(|d| {
            let mut u = d.user(&LocalPart::parse(her).unwrap()).unwrap().clone();
            u.former_sites.insert(u.site.clone());
            u.site = SiteId::parse(seed::BRANCH).unwrap();
            vec![Op::PutUser(u)]
        })
        .await;
    let agents: Vec<DemoAgent> = sites.iter().map(|m| m.agent.clone()).collect();
    demo::wait_in_sync(bed.server(), &agents, SYNC).await.unwrap();
    crate::bed::agent_reaches(&sites[0].agent, version).await;

    let at_branch = sites[1].inbox(her);
    let branch_cur = at_branch.parent().unwrap().join("cur");
    let until = tokio::time::Instant::now() + MAIL;
    while files(&at_branch).len() + files(&branch_cur).len() < 3 {
        assert!(tokio::time::Instant::now() < until, "the mailbox did not follow her to branch");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    wait_drained(&bed, &[&sites[0], &sites[1]]).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(files(&at_hq).is_empty() && files(&cur).is_empty(), "nothing stays at hq");
    let mut unread = subjects(&at_branch);
    unread.sort();
    assert_eq!(unread.len(), 2, "two unread letters in new/ at branch: {unread:?}");
    assert!(!unread.contains(&read_subject));
    let read_at_branch = files(&branch_cur);
    assert_eq!(read_at_branch.len(), 1, "the read letter in cur/, once");
    assert!(read_at_branch[0].to_string_lossy().ends_with(":2,S"), "{read_at_branch:?}");
    assert_eq!(subjects(&branch_cur), [read_subject]);
    for p in files(&at_branch).iter().chain(&read_at_branch) {
        let text = std::fs::read_to_string(p).unwrap();
        assert!(!text.contains("X-Pochta-Move"), "the move's trace is not stored: {}", p.display());
    }
    // The moved letters are counted apart from mail: not sent by hq, not accepted or
    // delivered at branch.
    let (hq_m, branch_m) =
        (crate::bed::metrics(&sites[0].agent).await, crate::bed::metrics(&sites[1].agent).await);
    use crate::bed::counter;
    assert_eq!(counter(&hq_m, "pochta_moved_letters_sent_total"), 3, "{hq_m}");
    assert_eq!(counter(&hq_m, "pochta_messages_sent_total"), 0, "{hq_m}");
    assert_eq!(counter(&branch_m, "pochta_moved_letters_filed_total"), 3, "{branch_m}");
    assert_eq!(counter(&branch_m, "pochta_messages_delivered_total"), 0, "{branch_m}");
    assert_eq!(counter(&branch_m, "pochta_messages_accepted_total"), 0, "{branch_m}");
    // The server keeps the record of the finished move, as hq's agent reported it.
    let pool = &bed.server().state.db.pool;
    let until = tokio::time::Instant::now() + MAIL;
    let finished = loop {
        let f = pochta_server::db::moves::finished(pool, Some(her), 0, 10).await.unwrap();
        if !f.is_empty() {
            break f;
        }
        assert!(tokio::time::Instant::now() < until, "the finished move was not reported");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(finished.len(), 1, "{finished:?}");
    let m = &finished[0];
    assert_eq!((m.from_site.as_str(), m.to_site.as_str(), m.letters), (seed::HEAD_OFFICE, seed::BRANCH, 3));
    assert_eq!(m.end, pochta_directory::api::MoveEnd::Done { kept: 0 });
    assert!(m.bytes > 0, "{m:?}");
    let status = crate::bed::get_json(&sites[0].agent, "/status").await.unwrap();
    assert_eq!(status["mailbox_moves"], serde_json::json!([]), "no move left in progress");
}

/// Verifies a letter's DKIM signatures with python3-dkim, the keys' records given as
/// `name value` lines (the demo's `outside/dkim-keys.txt` format): one bool per signature.
fn dkim_verify(letter: &Path, records: &str) -> Vec<bool> {
    let script = r#"
import dkim, sys
k = dict(l.split(" ", 1) for l in sys.argv[2].splitlines() if l)
msg = open(sys.argv[1], "rb").read()
d = dkim.DKIM(msg)
n = sum(1 for name, _ in d.headers if name.lower() == b"dkim-signature")
out = []
for i in range(n):
    try:
        out.append(dkim.DKIM(msg).verify(idx=i, dnsfunc=lambda name, timeout=5: k.get(name.decode().rstrip("."), "").encode()))
    except dkim.ValidationError:
        out.append(False)
print(" ".join(str(x) for x in out))
"#;
    let out =
        StdCommand::new("/usr/bin/python3").args(["-c", script]).arg(letter).arg(records).output().unwrap();
    assert!(out.status.success(), "python3-dkim: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).split_whitespace().map(|w| w == "True").collect()
}

/// The selector (`s=`) of each `DKIM-Signature` of a letter, top first.
fn selectors(letter: &Path) -> Vec<String> {
    let text = String::from_utf8_lossy(&std::fs::read(letter).unwrap()).into_owned();
    let head = text.split("\r\n\r\n").next().unwrap_or_default().replace("\r\n\t", " ");
    head.lines()
        .filter(|l| l.to_ascii_lowercase().starts_with("dkim-signature:"))
        .filter_map(|l| l.split(';').find_map(|t| t.trim().strip_prefix("s=").map(str::to_owned)))
        .collect()
}

fn records(bed: &Bed) -> String {
    let dir = bed.directory();
    dir.dkim
        .values()
        .map(|k| format!("{}.{} {}\n", k.selector.record_name(), dir.domain, k.record()))
        .collect()
}

/// The newest file of `dir` once it holds `n`.
async fn nth_letter(dir: &Path, n: usize) -> std::path::PathBuf {
    wait_files(dir, n).await;
    let mut f = files(dir);
    f.sort();
    f.pop().unwrap()
}

/// DKIM across real agents: a list with an outside member, expanded at the gateway (level 0)
/// and at the branch (level 2, which sends through its relay): each letter that leaves carries
/// exactly one signature, by the active key, that an independent verifier accepts. A rotation
/// goes on while the central server is down (the agents sign from their replicas), the retired
/// key keeps verifying, and once its period is over no agent has it any more.
#[tokio::test(flavor = "multi_thread")]
async fn dkim_keys_rotate_on_every_agent_and_outside_mail_is_signed_once_at_each_level() {
    use pochta_directory::dkim::Algorithm;
    use pochta_server::manage::dkim;
    let outside = tempfile::tempdir().unwrap();
    let (capture, _capture) = demo::capture::start(outside.path().to_path_buf()).await.unwrap();
    let mut bed = Bed::new(20).await;
    let hq = users_at(&bed, seed::HEAD_OFFICE);
    let partners = Group {
        name: LocalPart::parse("partners").unwrap(),
        kind: GroupKind::List,
        description: String::new(),
        members: [Address::parse(&addr(&hq[0])).unwrap(), Address::parse("partner@example.net").unwrap()]
            .into(),
        policy: PostingPolicy::Anyone,
    };
    bed.edit(|_| vec![Op::PutGroup(partners)]).await;
    let st = bed.server().state.clone();
    let (a, _) =
        dkim::create(&st, &pochta_server::manage::scope::Actor::domain("test"), Algorithm::Rsa, "first")
            .await
            .unwrap();
    dkim::activate(&st, &pochta_server::manage::scope::Actor::domain("test"), a.as_str()).await.unwrap();
    let mut sites = Vec::new();
    for (site, pull) in [(seed::GATEWAY, false), (seed::HEAD_OFFICE, false), (seed::BRANCH, true)] {
        let smarthost = (!pull).then(|| capture.clone());
        sites.push(MailSite::start_with(&bed, site, pull, smarthost).await);
    }
    let agents: Vec<DemoAgent> = sites.iter().map(|m| m.agent.clone()).collect();
    demo::wait_in_sync(bed.server(), &agents, SYNC).await.unwrap();

    // In at the gateway (level 0): expanded there, the outside copy signed there.
    swaks(&sites[0].agent.smtp, "someone@example.net", &[addr("partners")], "via gw", true);
    let first = nth_letter(outside.path(), 1).await;
    assert_eq!(selectors(&first), ["first"], "{}", first.display());
    assert_eq!(dkim_verify(&first, &records(&bed)), [true]);
    // In at the branch (level 2): signed at the branch, sent on by its relay as it came.
    swaks(&sites[2].agent.smtp, "someone@example.net", &[addr("partners")], "via branch", true);
    let second = nth_letter(outside.path(), 2).await;
    assert_eq!(selectors(&second), ["first"]);
    assert_eq!(dkim_verify(&second, &records(&bed)), [true]);
    // The copies inside are never signed.
    wait_files(&sites[1].inbox(&hq[0]), 2).await;
    for f in files(&sites[1].inbox(&hq[0])) {
        assert!(selectors(&f).is_empty(), "{}", f.display());
    }

    // Rotation: the next key is published (pending) first, then activated; then the server stops.
    let (b, _) =
        dkim::create(&st, &pochta_server::manage::scope::Actor::domain("test"), Algorithm::Rsa, "second")
            .await
            .unwrap();
    dkim::activate(&st, &pochta_server::manage::scope::Actor::domain("test"), b.as_str()).await.unwrap();
    demo::wait_in_sync(bed.server(), &agents, SYNC).await.unwrap();
    let published = records(&bed);
    let until = match bed.directory().dkim[&a].state {
        pochta_directory::dkim::KeyState::Retiring { until } => until,
        other => panic!("{other:?}"),
    };
    bed.stop_server().await;
    swaks(&sites[2].agent.smtp, "someone@example.net", &[addr("partners")], "server down", true);
    let third = nth_letter(outside.path(), 3).await;
    assert_eq!(selectors(&third), ["second"], "the new key signs at once, server or not");
    assert_eq!(dkim_verify(&third, &published), [true]);
    assert_eq!(dkim_verify(&first, &published), [true], "the retired key still verifies");

    // The period ends: the retired key is gone from every agent.
    bed.start_server().await;
    let st = bed.server().state.clone();
    assert!(dkim::sweep(&st, until).await.unwrap().is_some());
    demo::wait_in_sync(bed.server(), &agents, SYNC).await.unwrap();
    for agent in &agents {
        let keys: Vec<String> =
            crate::bed::replica_of(agent).await.dkim.keys().map(|s| s.to_string()).collect();
        assert_eq!(keys, ["second"], "agent {}", agent.site);
    }
    for s in &mut sites {
        s.stop().await;
    }
}

/// The ids of the letters a queue page lists, in order.
fn queue_ids(page: &str) -> Vec<String> {
    page.split("name=\"m.").skip(1).filter_map(|rest| rest.split('"').next()).map(str::to_owned).collect()
}

/// The queue page in the browser: what waits at an agent and why, searched, retried, deleted
/// and bounced through the agent itself; an agent refuses a queue request the server did not
/// sign.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queues_in_the_browser_act_through_the_agent() {
    let (bed, sites) = bed_with(&[seed::GATEWAY, seed::HEAD_OFFICE], |_| vec![]).await;
    let gw = &sites[0];
    // The branch has no agent yet: letters for its users wait at the gateway.
    let branch_user = addr(&users_at(&bed, seed::BRANCH)[0]);
    swaks(&gw.agent.smtp, "first@example.net", std::slice::from_ref(&branch_user), "First", true);
    swaks(&gw.agent.smtp, "second@example.net", std::slice::from_ref(&branch_user), "Second", true);

    let agents = pochta_server::db::auth::agents(&bed.server().state.db.pool).await.unwrap();
    let gw_id = agents.iter().find(|a| a.site == seed::GATEWAY).map(|a| a.id.clone()).unwrap();
    let mut b = crate::browser::Browser::admin_at(&bed.server().url(), &bed.init, "en").await;
    let until = tokio::time::Instant::now() + MAIL;
    let page = loop {
        let r = b.get("/admin/queue?site=gw").await;
        if r.body.contains("2 letters wait.") && r.body.contains("has no agent reachable by SMTP") {
            break r.body.clone();
        }
        assert!(
            tokio::time::Instant::now() < until,
            "the gateway's queue never showed both letters:\n{}",
            r.body
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(page.contains(&format!("{branch_user} — 451 4.4.1 site branch")), "{page}");
    // The site page says what the agent runs and how much room it has (from its own report).
    let site = b.get("/admin/sites/gw").await;
    site.has(&format!("version {}", env!("CARGO_PKG_VERSION")))
        .has(" free of ")
        .has("href=\"/admin/queue?site=gw\"");
    let ids = queue_ids(&page);
    assert_eq!(ids.len(), 2, "{page}");
    b.get("/admin/queue?site=gw&q=SECOND@")
        .await
        .has("1 of 2 letters match.")
        .has("second@example.net")
        .lacks("first@example.net");

    // Retry now: done at once, no confirmation.
    let first = format!("m.{}", ids[0]);
    let r = b
        .post("/admin/queue", &[("site", "gw"), ("agent", &gw_id), ("action", "retry"), (&first, "on")])
        .await;
    assert_eq!(r.location(), "/admin/queue?site=gw&q=&ok=queue-retry");
    b.get(r.location()).await.has("The agent tries the chosen letters now.");

    // Delete asks first; the confirmation carries the choice.
    let r = b
        .post("/admin/queue", &[("site", "gw"), ("agent", &gw_id), ("action", "delete"), (&first, "on")])
        .await;
    r.has("Delete 1 letter?").has(&ids[0]).has(r#"name="confirm" value="yes""#);
    let r = b
        .post(
            "/admin/queue",
            &[("site", "gw"), ("agent", &gw_id), ("action", "delete"), ("confirm", "yes"), (&first, "on")],
        )
        .await;
    assert_eq!(r.location(), "/admin/queue?site=gw&q=&ok=queue-delete");
    // Bounce the other: it leaves the queue (its DSN to an outside sender may take its place).
    let second = format!("m.{}", ids[1]);
    let r = b
        .post(
            "/admin/queue",
            &[("site", "gw"), ("agent", &gw_id), ("action", "bounce"), ("confirm", "yes"), (&second, "on")],
        )
        .await;
    assert_eq!(r.location(), "/admin/queue?site=gw&q=&ok=queue-bounce");
    let until = tokio::time::Instant::now() + MAIL;
    loop {
        let r = b.get("/admin/queue?site=gw").await;
        let left = queue_ids(&r.body);
        if !left.contains(&ids[0]) && !left.contains(&ids[1]) {
            break;
        }
        assert!(tokio::time::Instant::now() < until, "still queued: {left:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Nothing chosen: a translated refusal, nothing done.
    let mut ru = crate::browser::Browser::admin_at(&bed.server().url(), &bed.init, "ru").await;
    ru.get("/admin/queue?site=gw").await.has("Очереди почты");
    let r = ru.post("/admin/queue", &[("site", "gw"), ("agent", &gw_id), ("action", "retry")]).await;
    assert_eq!(r.status, reqwest::StatusCode::UNPROCESSABLE_ENTITY);
    r.has("Выберите хотя бы одно письмо.");

    // Only the server may ask: no signature, a wrong one, or another agent's request.
    pochta_transport::install_crypto();
    let client = reqwest::Client::builder().danger_accept_invalid_certs(true).build().unwrap();
    let url = format!("{}{}", gw.agent.url, pochta_directory::api::path::QUEUE);
    let body = serde_json::json!({"agent": gw_id, "at": pochta_server::db::now()}).to_string();
    let unsigned = client.post(&url).body(body.clone()).send().await.unwrap();
    assert_eq!(unsigned.status(), reqwest::StatusCode::UNAUTHORIZED);
    let forged =
        client.post(&url).header("pochta-signature", "00".repeat(64)).body(body).send().await.unwrap();
    assert_eq!(forged.status(), reqwest::StatusCode::UNAUTHORIZED);
}
