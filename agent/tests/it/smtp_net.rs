//! The SMTP service on real sockets, with real clients: swaks, Postfix's smtp-source,
//! Python's smtplib, and raw sockets for every attack class. No test depends on how fast the
//! machine is: timeouts under test are short, and the test waits for the reply, however late.

use std::time::Duration;

use pochta_agent::queue::Origin;
use pochta_agent::smtp::Limits;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::Command;

use crate::smtp_harness::*;

/// A raw client: writes bytes, reads whole replies.
struct Raw {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Raw {
    async fn connect(addr: std::net::SocketAddr) -> Raw {
        let stream = TcpStream::connect(addr).await.unwrap();
        Raw { stream, buf: Vec::new() }
    }

    /// Connects and reads the greeting.
    async fn open(addr: std::net::SocketAddr) -> Raw {
        let mut r = Raw::connect(addr).await;
        r.replies(1).await.expect(220);
        r
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    /// Reads until `n` complete replies arrived (or the server closed).
    async fn replies(&mut self, n: usize) -> Replies {
        loop {
            let r = parse_replies(&self.buf);
            let complete = self.buf.ends_with(b"\r\n");
            if r.0.len() >= n && complete {
                self.buf.clear();
                return r;
            }
            let mut chunk = [0u8; 4096];
            let got = self.stream.read(&mut chunk).await.unwrap_or(0);
            if got == 0 {
                self.buf.clear();
                return r;
            }
            self.buf.extend_from_slice(&chunk[..got]);
        }
    }

    async fn cmd(&mut self, line: &str) -> Replies {
        self.send(format!("{line}\r\n").as_bytes()).await;
        self.replies(1).await
    }

    /// Whether the server closed the connection (reads EOF).
    async fn closed(&mut self) -> bool {
        let mut b = [0u8; 64];
        matches!(self.stream.read(&mut b).await, Ok(0) | Err(_))
    }
}

async fn swaks(args: &[&str]) -> (bool, String) {
    let out = Command::new("swaks").args(args).output().await.expect("swaks is installed");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

#[tokio::test]
async fn swaks_sends_to_the_agent_and_is_refused_at_the_first_hop() {
    let smtp = Smtp::start(Limits::default()).await;
    let port = smtp.mx().port().to_string();
    let (ok, out) = swaks(&[
        "--server",
        "127.0.0.1",
        "--port",
        &port,
        "--helo",
        "client.test",
        "--from",
        "stranger@outside.net",
        "--to",
        "ivanov@example.org",
        "--body",
        "hello from swaks",
    ])
    .await;
    assert!(ok, "{out}");
    assert!(out.contains("250 2.0.0 ok: queued as"), "{out}");
    let got = smtp.sink.take();
    assert_eq!(got.len(), 1);
    assert!(String::from_utf8_lossy(&got[0].data).contains("hello from swaks"));
    // Pipelined, several recipients, one unknown.
    let (ok, out) = swaks(&[
        "--server",
        "127.0.0.1",
        "--port",
        &port,
        "--pipeline",
        "--from",
        "stranger@outside.net",
        "--to",
        "ivanov@example.org,nobody@example.org,petrov@example.org",
    ])
    .await;
    assert!(ok, "swaks succeeds when some recipients are accepted: {out}");
    assert!(out.contains("550 5.1.1"), "{out}");
    let got = smtp.sink.take();
    assert_eq!(got[0].recipients.len(), 2);
    // Unknown only: refused at RCPT, nothing queued.
    let (ok, out) = swaks(&[
        "--server",
        "127.0.0.1",
        "--port",
        &port,
        "--from",
        "a@outside.net",
        "--to",
        "nobody@example.org",
    ])
    .await;
    assert!(!ok && out.contains("550 5.1.1"), "{out}");
    // Relay attempt from outside.
    let (ok, out) = swaks(&[
        "--server",
        "127.0.0.1",
        "--port",
        &port,
        "--from",
        "a@outside.net",
        "--to",
        "friend@gmail.com",
    ])
    .await;
    assert!(!ok && out.contains("554 5.7.1"), "{out}");
    assert_eq!(smtp.sink.count(), 0);
    let c = smtp.counters.snapshot();
    assert_eq!(c.received, 4);
    assert_eq!(c.accepted, 2);
    assert_eq!(c.rejected.get("relay_denied"), Some(&1));
    smtp.stop().await;
}

#[tokio::test]
async fn smtp_source_load() {
    let smtp = Smtp::start(Limits::default()).await;
    let target = format!("127.0.0.1:{}", smtp.mx().port());
    let out = Command::new("smtp-source")
        .args(["-s", "5", "-m", "200", "-l", "4096", "-f", "load@outside.net", "-t", "ivanov@example.org"])
        .arg(&target)
        .output()
        .await
        .expect("smtp-source is installed");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(smtp.sink.count(), 200);
    // Same over kept-open sessions (-d).
    let out = Command::new("smtp-source")
        .args(["-d", "-s", "4", "-m", "100", "-f", "load@outside.net", "-t", "petrov@example.org"])
        .arg(&target)
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(smtp.sink.count(), 300);
    smtp.stop().await;
}

const PY_SUBMIT: &str = r#"
import smtplib, ssl, sys
host, port, mode, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
if mode == "465":
    s = smtplib.SMTP_SSL(host, port, context=ctx, timeout=60)
else:
    s = smtplib.SMTP(host, port, timeout=60)
    s.ehlo()
    try:
        s.login(user, password)
        print("LOGIN-BEFORE-TLS-WORKED")
    except smtplib.SMTPException as e:
        print("no auth before tls:", e)
    s.starttls(context=ctx)
s.ehlo()
try:
    s.login(user, password)
except smtplib.SMTPAuthenticationError as e:
    print("AUTH-FAILED", e.smtp_code)
    sys.exit(3)
refused = s.sendmail(user, ["friend@gmail.com", "petrov@example.org"], "Subject: via python\r\n\r\nhi\r\n")
print("refused:", refused)
s.quit()
"#;

async fn python(args: &[&str]) -> (i32, String) {
    let out = Command::new("python3").arg("-c").arg(PY_SUBMIT).args(args).output().await.expect("python3");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

#[tokio::test]
async fn python_smtplib_submits_over_starttls_and_implicit_tls() {
    let smtp = Smtp::start(Limits::default()).await;
    let p587 = smtp.submission().port().to_string();
    let (code, out) = python(&["127.0.0.1", &p587, "587", "ivanov@example.org", PASSWORD]).await;
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("LOGIN-BEFORE-TLS-WORKED"), "{out}");
    assert!(out.contains("refused: {}"), "{out}");
    let got = smtp.sink.take();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].origin, Origin::User(crate::helpers::addr("ivanov@example.org")));
    assert!(String::from_utf8_lossy(&got[0].data).contains("with ESMTPSA;"));

    let p465 = smtp.submissions().port().to_string();
    let (code, out) = python(&["127.0.0.1", &p465, "465", "ivanov@example.org", PASSWORD]).await;
    assert_eq!(code, 0, "{out}");
    assert_eq!(smtp.sink.count(), 1);

    let (code, out) = python(&["127.0.0.1", &p587, "587", "ivanov@example.org", "wrong password"]).await;
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("AUTH-FAILED 535"), "{out}");
    assert_eq!(smtp.sink.count(), 1, "nothing more queued");
    smtp.stop().await;
}

#[tokio::test]
async fn attack_smtp_smuggling() {
    let smtp = Smtp::start(Limits::default()).await;
    for ending in ["\n.\r\n", "\n.\n", "\r\n.\n", "\r.\r\n", "\r.\r"] {
        let mut c = Raw::open(smtp.mx()).await;
        c.cmd("EHLO attacker.test").await.expect(250);
        c.send(b"MAIL FROM:<a@outside.net>\r\nRCPT TO:<ivanov@example.org>\r\nDATA\r\n").await;
        assert_eq!(c.replies(3).await.codes(), [250, 250, 354]);
        let payload = format!(
            "Subject: one\r\n\r\nfirst{ending}MAIL FROM:<ceo@example.org>\r\nRCPT TO:<petrov@example.org>\r\nDATA\r\nSubject: forged\r\n\r\nforged\r\n.\r\n"
        );
        c.send(payload.as_bytes()).await;
        let r = c.replies(1).await;
        assert_eq!(r.codes(), [550], "{ending:?}: {r:?}");
        r.status("5.5.2");
        c.cmd("NOOP").await.expect(250);
        c.cmd("QUIT").await.expect(221);
    }
    assert_eq!(smtp.sink.count(), 0, "no message, forged or not, was queued");
    smtp.stop().await;
}

const PY_STARTTLS_INJECTION: &str = r#"
import socket, ssl, sys
port = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", port), timeout=60)
f = s.makefile("rb")
def reply():
    lines = []
    while True:
        l = f.readline().decode()
        lines.append(l.strip())
        if len(l) < 4 or l[3] != "-":
            return lines
print(reply())
s.sendall(b"EHLO attacker.test\r\n"); print(reply())
# The injected commands travel in the same packet as STARTTLS.
s.sendall(b"STARTTLS\r\nMAIL FROM:<evil@outside.net>\r\nRCPT TO:<friend@gmail.com>\r\n")
print("starttls:", reply())
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
t = ctx.wrap_socket(s)
tf = t.makefile("rb")
def treply():
    lines = []
    while True:
        l = tf.readline().decode()
        lines.append(l.strip())
        if len(l) < 4 or l[3] != "-":
            return lines
t.sendall(b"NOOP\r\n")
print("first reply inside TLS:", treply())
t.sendall(b"RCPT TO:<ivanov@example.org>\r\n")
print("rcpt without MAIL:", treply())
"#;

#[tokio::test]
async fn attack_starttls_injection() {
    let smtp = Smtp::start(Limits::default()).await;
    let out = Command::new("python3")
        .arg("-c")
        .arg(PY_STARTTLS_INJECTION)
        .arg(smtp.mx().port().to_string())
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("starttls: ['220 2.0.0 ready to start TLS']"), "{text}");
    // Had the injected MAIL/RCPT been kept, their replies would come first.
    assert!(text.contains("first reply inside TLS: ['250 2.0.0 ok']"), "{text}");
    assert!(text.contains("rcpt without MAIL: ['503 5.5.1"), "{text}");
    smtp.stop().await;
}

#[tokio::test]
async fn attack_open_relay_tricks() {
    let smtp = Smtp::start(Limits::default()).await;
    let mut c = Raw::open(smtp.mx()).await;
    c.cmd("EHLO attacker.test").await.expect(250);
    c.cmd("MAIL FROM:<a@outside.net>").await.expect(250);
    for rcpt in [
        "<friend@gmail.com>",
        "<friend%gmail.com@example.org>",
        "<gmail.com!friend@example.org>",
        "<\"friend@gmail.com\"@example.org>",
        "<@example.org:friend@gmail.com>",
        "<@msk.example.org,@example.org:friend@gmail.com>",
        "<friend@gmail.com@example.org>",
    ] {
        let r = c.cmd(&format!("RCPT TO:{rcpt}")).await;
        assert!(matches!(r.codes()[..], [554] | [553]), "{rcpt}: {r:?}");
    }
    c.cmd("DATA").await.expect(554);
    assert_eq!(smtp.sink.count(), 0);
    smtp.stop().await;
}

#[tokio::test]
async fn attack_envelope_injection() {
    let smtp = Smtp::start(Limits::default()).await;
    let mut c = Raw::open(smtp.mx()).await;
    c.cmd("EHLO attacker.test").await.expect(250);
    c.send(b"MAIL FROM:<a@outside.net>\rRCPT TO:<friend@gmail.com>\r\n").await;
    c.replies(1).await.expect(500).status("5.5.2");
    c.cmd("MAIL FROM:<a@outside.net>").await.expect(250);
    c.send(b"RCPT TO:<ivanov@example.org\r\nDATA>\r\n").await;
    let r = c.replies(2).await;
    // The path is cut at the line end (501), and "DATA>" is no command (500).
    assert_eq!(r.codes(), [501, 500], "{r:?}");
    c.send(b"RCPT TO:<ivanov@example.org>\x00\r\n").await;
    c.replies(1).await.expect(500);
    assert_eq!(smtp.sink.count(), 0);
    smtp.stop().await;
}

#[tokio::test]
async fn attack_header_loop() {
    let smtp = Smtp::start(Limits::default()).await;
    let mut c = Raw::open(smtp.mx()).await;
    c.cmd("EHLO looper.test").await.expect(250);
    c.send(b"MAIL FROM:<a@outside.net>\r\nRCPT TO:<ivanov@example.org>\r\nDATA\r\n").await;
    c.replies(3).await;
    let hops = "Received: from a by b; Tue, 14 Nov 2023 22:13:20 +0000\r\n".repeat(60);
    c.send(format!("{hops}Subject: loop\r\n\r\nbody\r\n.\r\n").as_bytes()).await;
    c.replies(1).await.expect(554).status("5.4.6");
    assert_eq!(smtp.sink.count(), 0);
    assert_eq!(smtp.counters.snapshot().rejected.get("loop"), Some(&1));
    smtp.stop().await;
}

#[tokio::test]
async fn limits_connections_per_client_and_idle_timeout() {
    let limits =
        Limits { max_connections_per_ip: 2, idle_timeout: Duration::from_millis(300), ..Limits::default() };
    let smtp = Smtp::start(limits).await;
    let mut a = Raw::open(smtp.mx()).await;
    let _b = Raw::open(smtp.mx()).await;
    let mut third = Raw::connect(smtp.mx()).await;
    third.replies(1).await.expect(421).status("4.4.5");
    assert!(third.closed().await);
    // The idle client is told and closed.
    let r = a.replies(1).await;
    r.expect(421).status("4.4.2");
    assert!(a.closed().await);
    smtp.stop().await;
}

#[tokio::test]
async fn shutdown_says_421() {
    let smtp = Smtp::start(Limits::default()).await;
    let mut c = Raw::open(smtp.mx()).await;
    c.cmd("EHLO x.test").await.expect(250);
    smtp.stop().await;
    c.replies(1).await.expect(421);
}

/// The agent itself: `[smtp]` in agent.toml, the replica for policy, the real queue behind.
#[tokio::test]
async fn the_agent_serves_smtp_from_its_replica_into_its_queue() {
    use crate::helpers::*;
    use pochta_directory::{Level, Op};
    let root = tempfile::tempdir().unwrap();
    let mut dep = Deployment::new();
    let v1 = dep.commit(vec![Op::PutSite(site("msk", Level::One)), Op::PutUser(user("ivanov", "msk"))]);
    let mut cfg = config(&dep, "a1", "msk", dead_server(), "127.0.0.1:0".parse().unwrap());
    cfg.smtp.listen = Some("127.0.0.1:0".parse().unwrap());
    let dir = write_config(root.path(), "agent", &cfg);
    let agent = TestAgent::start(&dir).await;
    let (status, body) = agent.push(&[&v1]).await;
    assert!(status.is_success(), "{body}");
    let mx = agent.running().smtp_addrs().mx.expect("the SMTP listener is bound");
    assert!(agent.running().smtp_addrs().submission.is_none());
    let port = mx.port().to_string();
    let (ok, out) = swaks(&[
        "--server",
        "127.0.0.1",
        "--port",
        &port,
        "--from",
        "a@outside.net",
        "--to",
        "ivanov@example.org",
    ])
    .await;
    assert!(ok, "{out}");
    assert!(out.contains("250 2.0.0 ok: queued as"), "{out}");
    let (ok, out) = swaks(&[
        "--server",
        "127.0.0.1",
        "--port",
        &port,
        "--from",
        "a@outside.net",
        "--to",
        "nobody@example.org",
    ])
    .await;
    assert!(!ok && out.contains("550 5.1.1"), "refused at the first hop from the replica: {out}");
    let mut agent = agent;
    agent.stop().await;
}

/// `/metrics` counts what the SMTP service did, and the agent reports its counters to the server.
#[tokio::test]
async fn metrics_count_the_mail_and_the_server_gets_the_report() {
    use crate::helpers::*;
    use pochta_directory::{Level, Op};
    let root = tempfile::tempdir().unwrap();
    let server = StandIn::start(root.path()).await;
    let mut dep = Deployment::new();
    let v1 = dep.commit(vec![Op::PutSite(site("msk", Level::One)), Op::PutUser(user("ivanov", "msk"))]);
    server.publish(&v1);
    let mut cfg = config(&dep, "a1", "msk", server.link(), "127.0.0.1:0".parse().unwrap());
    cfg.smtp.listen = Some("127.0.0.1:0".parse().unwrap());
    cfg.delivery.maildir_root = root.path().join("mail");
    cfg.stats_secs = 1;
    let dir = write_config(root.path(), "agent", &cfg);
    let mut agent = TestAgent::start(&dir).await;
    agent.wait_version(1, 10).await;
    let port = agent.running().smtp_addrs().mx.unwrap().port().to_string();
    for to in ["ivanov@example.org", "ivanov@example.org", "nobody@example.org"] {
        swaks(&["--server", "127.0.0.1", "--port", &port, "--from", "a@outside.net", "--to", to]).await;
    }
    let new = root.path().join("mail/ivanov/Maildir/new");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::fs::read_dir(&new).map_or(0, |d| d.count()) < 2 {
        assert!(std::time::Instant::now() < deadline, "two letters delivered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let resp = agent.client.get(agent.url("/metrics")).send().await.unwrap();
    assert!(resp.status().is_success());
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let text = resp.text().await.unwrap();
    for line in [
        "pochta_connections_received_total{site=\"msk\"} 3",
        "pochta_messages_accepted_total{site=\"msk\"} 2",
        "pochta_messages_delivered_total{site=\"msk\"} 2",
        "pochta_messages_sent_total{site=\"msk\"} 0",
        "pochta_rejections_total{site=\"msk\",reason=\"unknown_recipient\"} 1",
        "pochta_queue_messages{site=\"msk\"} 0",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
    }
    // Reported (every second here) with the queue size; an unchanged state is not resent.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let last = server.state.lock().unwrap().stats.last().cloned();
        if let Some(r) = last
            && r["accepted"] == 2
            && r["delivered"] == 2
        {
            assert_eq!(r["received"], 3);
            assert_eq!(r["sent"], 0);
            assert_eq!(r["queue"], 0);
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the report arrives");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let n = server.state.lock().unwrap().stats.len();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(server.state.lock().unwrap().stats.len(), n, "nothing changed, nothing sent");
    agent.stop().await;
    server.stop();
}
