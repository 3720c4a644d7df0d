//! What a user's home agent does with his mail besides filing it — quota, forwarding, the
//! vacation reply — and the mailbox sizes it reports: a real agent with its SMTP listener, its
//! replica, its queue, a recording receiver as the smarthost (the outside world), and letters
//! sent over real SMTP.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pochta_directory::{Day, Forwarding, Level, Op, User, Vacation};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;
use crate::queue_rig::{Receiver, Txn};

/// One agent of site `msk` with users, mail to the outside going to `outside`.
struct Home {
    agent: TestAgent,
    dep: Deployment,
    mail: PathBuf,
    outside: Receiver,
    server: Option<StandIn>,
    _root: tempfile::TempDir,
}

impl Home {
    async fn start(users: Vec<User>, report: bool) -> Home {
        let root = tempfile::tempdir().unwrap();
        let outside = Receiver::start(false).await;
        let server = if report { Some(StandIn::start(root.path()).await) } else { None };
        let mut dep = Deployment::new();
        let mut ops = vec![Op::PutSite(site("msk", Level::One))];
        ops.extend(users.into_iter().map(Op::PutUser));
        let v1 = dep.commit(ops);
        let link = server.as_ref().map_or_else(dead_server, StandIn::link);
        let mut cfg = config(&dep, "a1", "msk", link, "127.0.0.1:0".parse().unwrap());
        cfg.smtp.listen = Some("127.0.0.1:0".parse().unwrap());
        cfg.delivery.maildir_root = root.path().join("mail");
        cfg.delivery.smarthost = outside.addr();
        cfg.delivery.retry_initial_secs = 0.2;
        cfg.delivery.retry_max_secs = 0.5;
        cfg.stats_secs = 1;
        let dir = write_config(root.path(), "agent", &cfg);
        let agent = TestAgent::start(&dir).await;
        match &server {
            Some(s) => s.publish(&v1),
            None => assert!(agent.push(&[&v1]).await.0.is_success()),
        }
        agent.wait_version(1, 10).await;
        Home { agent, dep, mail: root.path().join("mail"), outside, server, _root: root }
    }

    async fn edit(&mut self, u: User) {
        let frame = self.dep.commit(vec![Op::PutUser(u)]);
        assert!(self.agent.push(&[&frame]).await.0.is_success());
        self.agent.wait_version(self.dep.version().0, 10).await;
    }

    /// Sends one letter over SMTP; the reply to the end of its data (or to the last RCPT when
    /// none was accepted).
    async fn send(&self, from: &str, to: &[&str], letter: &str) -> String {
        let mx = self.agent.running().smtp_addrs().mx.unwrap();
        smtp(mx, from, "", to, letter).await
    }

    /// The reply to `RCPT TO:<to>` after `MAIL FROM:<from> SIZE=<size>`.
    async fn rcpt_with_size(&self, from: &str, size: usize, to: &str) -> String {
        let mx = self.agent.running().smtp_addrs().mx.unwrap();
        smtp(mx, from, &format!(" SIZE={size}"), &[to], "").await
    }

    /// Files in `user`'s `Maildir/new`: (name, contents).
    fn inbox(&self, user: &str) -> Vec<(String, String)> {
        inbox(&self.mail, user)
    }

    /// Waits until the queue is empty.
    async fn drained(&self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let resp = self.agent.client.get(self.agent.url("/metrics")).send().await.unwrap();
            let text = resp.text().await.unwrap();
            if text.lines().any(|l| l == "pochta_queue_messages{site=\"msk\"} 0") {
                return;
            }
            assert!(Instant::now() < deadline, "the queue empties");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Outside transactions to `rcpt`.
    fn outside_to(&self, rcpt: &str) -> Vec<Txn> {
        self.outside.txns().into_iter().filter(|t| t.rcpts.iter().any(|r| r == rcpt)).collect()
    }

    async fn stop(mut self) {
        self.agent.stop().await;
        if let Some(s) = &self.server {
            s.stop();
        }
    }
}

fn inbox(root: &Path, user: &str) -> Vec<(String, String)> {
    let Ok(entries) = std::fs::read_dir(root.join(user).join("Maildir").join("new")) else { return vec![] };
    let mut out: Vec<_> = entries
        .flatten()
        .map(|e| {
            let body = String::from_utf8_lossy(&std::fs::read(e.path()).unwrap()).into_owned();
            (e.file_name().to_string_lossy().into_owned(), body)
        })
        .collect();
    out.sort();
    out
}

/// A plain SMTP client: EHLO, MAIL, RCPT each, DATA; the last reply that decided the fate of
/// the letter.
async fn smtp(addr: std::net::SocketAddr, from: &str, params: &str, to: &[&str], letter: &str) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut buf = Vec::new();
    async fn reply(s: &mut TcpStream, buf: &mut Vec<u8>) -> String {
        loop {
            if let Some(end) = complete_reply(buf) {
                let r = String::from_utf8_lossy(&buf[..end]).into_owned();
                buf.drain(..end);
                return r;
            }
            let mut chunk = [0u8; 4096];
            let n = s.read(&mut chunk).await.unwrap();
            assert!(n > 0, "the server closed the connection");
            buf.extend_from_slice(&chunk[..n]);
        }
    }
    async fn cmd(s: &mut TcpStream, buf: &mut Vec<u8>, line: &str) -> String {
        s.write_all(format!("{line}\r\n").as_bytes()).await.unwrap();
        reply(s, buf).await
    }
    assert!(reply(&mut s, &mut buf).await.starts_with("220"));
    assert!(cmd(&mut s, &mut buf, "EHLO client.test").await.starts_with("250"));
    assert!(cmd(&mut s, &mut buf, &format!("MAIL FROM:<{from}>{params}")).await.starts_with("250"));
    let mut last = String::new();
    let mut any = false;
    for r in to {
        last = cmd(&mut s, &mut buf, &format!("RCPT TO:<{r}>")).await;
        any |= last.starts_with("250");
    }
    if !any || letter.is_empty() {
        let _ = cmd(&mut s, &mut buf, "QUIT").await;
        return last;
    }
    assert!(cmd(&mut s, &mut buf, "DATA").await.starts_with("354"));
    let data = letter.replace("\r\n", "\n").replace('\n', "\r\n");
    s.write_all(format!("{data}.\r\n").as_bytes()).await.unwrap();
    let end = reply(&mut s, &mut buf).await;
    let _ = cmd(&mut s, &mut buf, "QUIT").await;
    end
}

/// The length of the first complete (possibly multi-line) reply in `buf`.
fn complete_reply(buf: &[u8]) -> Option<usize> {
    let mut at = 0;
    while let Some(p) = buf[at..].windows(2).position(|w| w == b"\r\n") {
        let line = &buf[at..at + p];
        at += p + 2;
        if line.len() < 4 || line[3] == b' ' {
            return Some(at);
        }
    }
    None
}

fn with_quota(name: &str, quota: u64) -> User {
    let mut u = user(name, "msk");
    u.mailbox.quota = Some(quota);
    u
}

fn forwarding(name: &str, to: &[&str], keep_copy: bool) -> User {
    let mut u = user(name, "msk");
    u.mailbox.forward = Some(Forwarding { to: to.iter().map(|a| addr(a)).collect(), keep_copy });
    u
}

fn letter(to: &str, subject: &str, size: usize) -> String {
    format!(
        "To: {to}\r\nSubject: {subject}\r\nMessage-ID: <{subject}@outside.net>\r\n\r\n{}\r\n",
        "x".repeat(size)
    )
}

#[tokio::test]
async fn over_quota_is_refused_in_the_session_and_nothing_is_filed() {
    let users = vec![with_quota("small", 1000), with_quota("roomy", 3000), user("free", "msk")];
    let home = Home::start(users, false).await;
    // Larger than the quota itself: it will never fit.
    let r =
        home.send("s@outside.net", &["small@example.org"], &letter("small@example.org", "big", 2000)).await;
    assert!(r.starts_with("552 5.2.2"), "{r}");
    assert!(home.inbox("small").is_empty());
    // Fits once; the second does not fit now.
    let r =
        home.send("s@outside.net", &["roomy@example.org"], &letter("roomy@example.org", "one", 2000)).await;
    assert!(r.starts_with("250"), "{r}");
    let r =
        home.send("s@outside.net", &["roomy@example.org"], &letter("roomy@example.org", "two", 2000)).await;
    assert!(r.starts_with("452 4.2.2"), "{r}");
    let filed = home.inbox("roomy");
    assert_eq!(filed.len(), 1, "{filed:?}");
    // The name carries the letter's exact size (Maildir++ S=), as Dovecot expects.
    let (name, body) = &filed[0];
    assert!(name.ends_with(&format!(",S={}", body.len())), "{name}");
    // With SIZE declared, the same answers come at RCPT already.
    let r = home.rcpt_with_size("s@outside.net", 2000, "small@example.org").await;
    assert!(r.starts_with("552 5.2.2"), "{r}");
    let r = home.rcpt_with_size("s@outside.net", 2000, "roomy@example.org").await;
    assert!(r.starts_with("452 4.2.2"), "{r}");
    let r = home.rcpt_with_size("s@outside.net", 100, "roomy@example.org").await;
    assert!(r.starts_with("250"), "room for a small one: {r}");
    // Mixed answers cannot be given after DATA: accepted, filed where it fits, and one DSN
    // for the mailbox it never fits.
    let r = home
        .send(
            "s@outside.net",
            &["small@example.org", "free@example.org"],
            &letter("free@example.org", "both", 2000),
        )
        .await;
    assert!(r.starts_with("250"), "{r}");
    home.drained().await;
    assert_eq!(home.inbox("free").len(), 1);
    assert!(home.inbox("small").is_empty());
    let dsn = home.outside_to("s@outside.net");
    assert_eq!(dsn.len(), 1, "one DSN");
    assert!(dsn[0].mail_from.starts_with("<> "), "{}", dsn[0].mail_from);
    assert!(
        dsn[0].data.contains("Status: 5.2.2") && dsn[0].data.contains("small@example.org"),
        "{}",
        dsn[0].data
    );
    home.stop().await;
}

#[tokio::test]
async fn a_letter_accepted_for_a_full_mailbox_waits_and_lands_when_there_is_room() {
    let home = Home::start(vec![with_quota("roomy", 3000), user("free", "msk")], false).await;
    let r =
        home.send("s@outside.net", &["roomy@example.org"], &letter("roomy@example.org", "one", 2000)).await;
    assert!(r.starts_with("250"), "{r}");
    // Accepted with another recipient, it is kept queued for the full mailbox, never dropped.
    let r = home
        .send("s@outside.net", &["roomy@example.org", "free@example.org"], &letter("x", "two", 2000))
        .await;
    assert!(r.starts_with("250"), "{r}");
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(home.inbox("roomy").len(), 1);
    assert_eq!(home.inbox("free").len(), 1);
    let queue = home.agent.client.get(home.agent.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(queue.lines().any(|l| l == "pochta_queue_messages{site=\"msk\"} 1"), "{queue}");
    // The user deletes his letter; the waiting one lands at its next try.
    let (name, _) = &home.inbox("roomy")[0];
    std::fs::remove_file(home.mail.join("roomy/Maildir/new").join(name)).unwrap();
    home.drained().await;
    let filed = home.inbox("roomy");
    assert_eq!(filed.len(), 1);
    assert!(filed[0].1.contains("Subject: two"));
    assert!(home.outside.txns().is_empty(), "no DSN");
    home.stop().await;
}

#[tokio::test]
async fn the_stats_report_has_every_mailbox_first_then_the_changed_ones() {
    let mut home = Home::start(vec![user("ivanov", "msk"), user("petrov", "msk")], true).await;
    let server = home.server.take().unwrap();
    let reports = || server.state.lock().unwrap().stats.clone();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !reports().iter().any(|r| r["mailbox_sizes"] == serde_json::json!({"ivanov": 0, "petrov": 0})) {
        assert!(Instant::now() < deadline, "every mailbox reported: {:?}", reports());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let r =
        home.send("s@outside.net", &["petrov@example.org"], &letter("petrov@example.org", "hi", 100)).await;
    assert!(r.starts_with("250"), "{r}");
    let size = home.inbox("petrov")[0].1.len() as u64;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !reports().iter().any(|r| r["mailbox_sizes"] == serde_json::json!({ "petrov": size })) {
        assert!(Instant::now() < deadline, "only the changed mailbox reported: {:?}", reports());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    home.server = Some(server);
    home.stop().await;
}

#[tokio::test]
async fn forwarding_sends_on_and_keeps_a_copy_only_when_asked() {
    let users = vec![
        forwarding("away", &["x@outside.net"], false),
        forwarding("copies", &["clerk@example.org", "y@outside.net"], true),
        user("clerk", "msk"),
    ];
    let home = Home::start(users, false).await;
    let r = home.send("s@outside.net", &["away@example.org"], &letter("away@example.org", "one", 10)).await;
    assert!(r.starts_with("250"), "{r}");
    let r =
        home.send("s@outside.net", &["copies@example.org"], &letter("copies@example.org", "two", 10)).await;
    assert!(r.starts_with("250"), "{r}");
    home.drained().await;
    assert!(home.inbox("away").is_empty(), "no copy kept");
    let x = home.outside_to("x@outside.net");
    assert_eq!(x.len(), 1);
    // Bounces of the forward go to the user who forwards, not back to the outside sender.
    assert!(x[0].mail_from.starts_with("<away@example.org> "), "{}", x[0].mail_from);
    assert!(x[0].data.starts_with("X-Pochta-Forwarded: away@example.org mac="), "{}", x[0].data);
    assert!(x[0].data.contains("Subject: one"));
    assert_eq!(home.inbox("copies").len(), 1, "the copy kept");
    let clerk = home.inbox("clerk");
    assert_eq!(clerk.len(), 1, "forwarded inside the domain");
    assert!(
        clerk[0].1.contains("X-Pochta-Forwarded: copies@example.org") && clerk[0].1.contains("Subject: two")
    );
    assert_eq!(home.outside_to("y@outside.net").len(), 1);
    home.stop().await;
}

#[tokio::test]
async fn a_forwarding_loop_ends_with_one_copy_each() {
    let users = vec![
        forwarding("anna", &["boris@example.org"], true),
        forwarding("boris", &["anna@example.org"], true),
    ];
    let mut home = Home::start(users, false).await;
    let r = home.send("s@outside.net", &["anna@example.org"], &letter("anna@example.org", "loop", 10)).await;
    assert!(r.starts_with("250"), "{r}");
    home.drained().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    home.drained().await;
    assert_eq!(home.inbox("anna").len(), 1);
    assert_eq!(home.inbox("boris").len(), 1);
    // Neither keeps a copy: the letter stops where it came back, at anna.
    home.edit(forwarding("anna", &["boris@example.org"], false)).await;
    home.edit(forwarding("boris", &["anna@example.org"], false)).await;
    let r = home.send("s@outside.net", &["anna@example.org"], &letter("anna@example.org", "again", 10)).await;
    assert!(r.starts_with("250"), "{r}");
    home.drained().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    home.drained().await;
    let anna = home.inbox("anna");
    assert_eq!(anna.len(), 2, "{anna:?}");
    assert!(
        anna.iter()
            .any(|(_, b)| b.contains("Subject: again") && b.matches("X-Pochta-Forwarded:").count() == 2)
    );
    assert_eq!(home.inbox("boris").len(), 1);
    assert!(home.outside.txns().is_empty());
    home.stop().await;
}

#[tokio::test]
async fn the_vacation_reply_goes_once_per_sender_and_never_to_lists_bulk_or_bounces() {
    let mut ivan = user("ivan", "msk");
    let today = Day::of_unix(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64,
    );
    ivan.mailbox.vacation = Some(Vacation {
        start: Some(Day::from_days(today.days() - 1)),
        end: None,
        subject: "В отпуске".into(),
        text: "Вернусь в понедельник.".into(),
        interval_days: 7,
    });
    let mut home = Home::start(vec![ivan.clone()], false).await;
    let to = "ivan@example.org";
    for (from, extra) in [
        ("s1@outside.net", ""),
        ("s1@outside.net", ""), // again: no second reply
        ("", ""),               // a bounce
        ("s2@outside.net", "List-Id: <news.outside.net>\r\n"),
        ("s3@outside.net", "Precedence: bulk\r\n"),
        ("s4@outside.net", "Auto-Submitted: auto-generated\r\n"),
    ] {
        let text = format!("{extra}{}", letter(to, "hello", 10));
        let r = home.send(from, &[to], &text).await;
        assert!(r.starts_with("250"), "{r}");
    }
    // Not addressed to him (a Bcc).
    let r = home.send("s5@outside.net", &[to], &letter("other@outside.net", "bcc", 10)).await;
    assert!(r.starts_with("250"), "{r}");
    home.drained().await;
    let replies = home.outside.txns();
    assert_eq!(replies.len(), 1, "{:#?}", replies.iter().map(|t| &t.rcpts).collect::<Vec<_>>());
    let r = &replies[0];
    assert_eq!(r.rcpts, ["s1@outside.net"]);
    assert!(r.mail_from.starts_with("<> "), "auto-replies have the null sender: {}", r.mail_from);
    for want in [
        "From: <ivan@example.org>\r\n",
        "Auto-Submitted: auto-replied\r\n",
        "In-Reply-To: <hello@outside.net>\r\n",
        "Subject: =?UTF-8?B?",
    ] {
        assert!(r.data.contains(want), "{want} in {}", r.data);
    }
    assert_eq!(home.inbox("ivan").len(), 7, "every letter filed");
    // The period is over: no reply to a new sender.
    ivan.mailbox.vacation.as_mut().unwrap().end = Some(Day::from_days(today.days() - 1));
    home.edit(ivan).await;
    let r = home.send("s6@outside.net", &[to], &letter(to, "late", 10)).await;
    assert!(r.starts_with("250"), "{r}");
    home.drained().await;
    assert_eq!(home.outside.txns().len(), 1);
    home.stop().await;
}

/// Two sites, two real agents relaying to each other over pinned, authenticated SMTP: anna at
/// hq forwards to boris at branch, boris back to anna. The loop ends with one copy each.
#[tokio::test]
async fn a_forwarding_loop_across_two_sites_ends_with_one_copy_each() {
    use pochta_directory::AgentEndpoint;
    let root = tempfile::tempdir().unwrap();
    let mut dep = Deployment::new();
    let mut anna = forwarding("anna", &["boris@example.org"], true);
    anna.site = sid("hq");
    let mut boris = forwarding("boris", &["anna@example.org"], true);
    boris.site = sid("branch");
    let v1 = dep.commit(vec![
        Op::PutSite(site("hq", Level::One)),
        Op::PutSite(site("branch", Level::One)),
        Op::PutUser(anna),
        Op::PutUser(boris),
    ]);
    let mut agents = Vec::new();
    for (id, s) in [("hq-agent", "hq"), ("branch-agent", "branch")] {
        let mut cfg = config(&dep, id, s, dead_server(), "127.0.0.1:0".parse().unwrap());
        cfg.smtp.listen = Some("127.0.0.1:0".parse().unwrap());
        cfg.delivery.maildir_root = root.path().join(format!("mail-{s}"));
        cfg.delivery.retry_initial_secs = 0.2;
        let dir = write_config(root.path(), id, &cfg);
        let agent = TestAgent::start(&dir).await;
        assert!(agent.push(&[&v1]).await.0.is_success());
        agents.push(agent);
    }
    // Each site's agent, where the other reaches it.
    let ops = [("hq", &agents[0], "hq-agent"), ("branch", &agents[1], "branch-agent")]
        .into_iter()
        .map(|(s, agent, id)| {
            let mut rec = site(s, Level::One);
            rec.agents.push(AgentEndpoint {
                id: id.into(),
                url: String::new(),
                tls_sha256: agent.running().fingerprint().to_owned(),
                smtp: agent.running().smtp_addrs().mx.unwrap().to_string(),
            });
            Op::PutSite(rec)
        })
        .collect();
    let v2 = dep.commit(ops);
    for a in &agents {
        assert!(a.push(&[&v2]).await.0.is_success());
        a.wait_version(2, 10).await;
    }
    let mx = agents[0].running().smtp_addrs().mx.unwrap();
    let r =
        smtp(mx, "s@outside.net", "", &["anna@example.org"], &letter("anna@example.org", "loop", 10)).await;
    assert!(r.starts_with("250"), "{r}");
    let (hq_mail, branch_mail) = (root.path().join("mail-hq"), root.path().join("mail-branch"));
    let deadline = Instant::now() + Duration::from_secs(15);
    while inbox(&branch_mail, "boris").is_empty() {
        assert!(Instant::now() < deadline, "boris gets the forwarded copy");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Time for the copy back to hq, and for any further round (there must be none).
    tokio::time::sleep(Duration::from_secs(2)).await;
    let anna = inbox(&hq_mail, "anna");
    assert_eq!(anna.len(), 1, "{anna:?}");
    assert!(!anna[0].1.contains("X-Pochta-Forwarded"), "anna keeps the letter as it came");
    let boris = inbox(&branch_mail, "boris");
    assert_eq!(boris.len(), 1, "{boris:?}");
    assert!(boris[0].1.contains("X-Pochta-Forwarded: anna@example.org mac="));
    // The copy did come back to hq (anna's letter and boris's forward), and stopped there.
    let text = agents[0].client.get(agents[0].url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(text.lines().any(|l| l == "pochta_messages_accepted_total{site=\"hq\"} 2"), "{text}");
    for metrics in [&agents[0], &agents[1]] {
        let text = metrics.client.get(metrics.url("/metrics")).send().await.unwrap().text().await.unwrap();
        assert!(
            text.lines().any(|l| l.starts_with("pochta_queue_messages{") && l.ends_with("} 0")),
            "{text}"
        );
    }
    for mut a in agents {
        a.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn files_a_crash_left_in_maildir_tmp_are_removed_after_the_grace_period() {
    let root = tempfile::tempdir().unwrap();
    let mail = root.path().join("mail");
    let ago = |secs: u64| std::time::SystemTime::now() - Duration::from_secs(secs);
    let put = |path: PathBuf, at: std::time::SystemTime| {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "half a letter").unwrap();
        std::fs::File::options().write(true).open(&path).unwrap().set_modified(at).unwrap();
        path
    };
    let md = mail.join("ivan").join("Maildir");
    let stale = put(md.join("tmp").join("1700000000.crashed.host"), ago(7200));
    let stale_folder = put(md.join(".Work").join("tmp").join("1700000001.crashed.host"), ago(7200));
    let writing = put(md.join("tmp").join("1700000002.in-flight.host"), ago(60));
    let letter = put(md.join("cur").join("1700000003.old-letter.host:2,S"), ago(30 * 86400));
    let dep = Deployment::new();
    let mut cfg = config(&dep, "a1", "msk", dead_server(), "127.0.0.1:0".parse().unwrap());
    cfg.delivery.maildir_root = mail.clone();
    cfg.delivery.tmp_grace_secs = 3600;
    let dir = write_config(root.path(), "agent", &cfg);
    let mut agent = TestAgent::start(&dir).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while stale.exists() || stale_folder.exists() {
        assert!(Instant::now() < deadline, "the agent removes what a crash left in tmp/");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(writing.exists(), "a file younger than the grace period stays");
    assert!(letter.exists(), "a letter is never touched, however old");
    agent.stop().await;
}
