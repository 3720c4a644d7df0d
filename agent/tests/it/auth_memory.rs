//! A login flood does not take the agent's memory: rounds of 24 concurrent SMTP AUTH attempts
//! (right and wrong passwords) against the real agent binary keep its RSS under 100 MB, and
//! every attempt still gets its true answer. Each Argon2id check needs 19 MiB; before the
//! checks shared a fixed pool of memory areas, one round took an agent from 23 MB to ~490 MB.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use pochta_directory::{Level, Op, PasswordHash};

use crate::helpers::{Deployment, config, dead_server, free_port, user, write_config};
use crate::process::BinAgent;
use crate::queue_rig::site_at;

const PASSWORD: &str = "flood-test-2026";
const CLIENTS: usize = 24;
const ROUNDS: usize = 3;

/// 24 threads, each one implicit-TLS connection and one AUTH PLAIN; odd ones use a wrong
/// password. Prints the reply codes in thread order.
const FLOOD: &str = r#"
import smtplib, ssl, sys, threading
host, port, user, good, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
codes = [None] * n
start = threading.Barrier(n)
def one(i):
    try:
        s = smtplib.SMTP_SSL(host, port, context=ctx, timeout=120)
        s.ehlo("flood.test")
        start.wait()
        try:
            s.login(user, good if i % 2 == 0 else "wrong-" + good)
            codes[i] = 235
        except smtplib.SMTPAuthenticationError as e:
            codes[i] = e.smtp_code
        s.quit()
    except Exception as e:
        codes[i] = repr(e)
ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
[t.start() for t in ts]; [t.join() for t in ts]
print(" ".join(str(c) for c in codes))
"#;

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn a_login_flood_keeps_the_agent_under_100_mb() {
    let root = tempfile::tempdir().unwrap();
    let mut dep = Deployment::new();
    let mut alice = user("alice", "msk");
    alice.password = Some(PasswordHash::create(PASSWORD));
    dep.commit(vec![Op::PutSite(site_at("msk", Level::One, None)), Op::PutUser(alice)]);
    let (https, smtps) = (free_port(), free_port());
    let mut cfg = config(&dep, "a1", "msk", dead_server(), format!("127.0.0.1:{https}").parse().unwrap());
    cfg.smtp.submissions = Some(format!("127.0.0.1:{smtps}").parse().unwrap());
    // Failures stay under the throttle's threshold per client so that every answer is the
    // password's own; throttling is another test's subject.
    cfg.smtp.max_auth_failures = 100;
    let dir = write_config(root.path(), "agent", &cfg);
    let agent = BinAgent::start(&dir, https, &[]).await;
    agent.push(&dep).await;
    let pid = agent.child.id().unwrap();
    let idle = rss_kib(pid);

    let peak = Arc::new(AtomicU64::new(idle));
    let sampler = {
        let peak = peak.clone();
        tokio::spawn(async move {
            loop {
                peak.fetch_max(rss_kib(pid), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    let mut peaks = Vec::new();
    for _ in 0..ROUNDS {
        let out = tokio::process::Command::new("python3")
            .args(["-c", FLOOD, "127.0.0.1", &smtps.to_string(), "alice@example.org", PASSWORD])
            .arg(CLIENTS.to_string())
            .output()
            .await
            .expect("python3");
        let codes = String::from_utf8_lossy(&out.stdout);
        let expected: Vec<&str> = (0..CLIENTS).map(|i| if i % 2 == 0 { "235" } else { "535" }).collect();
        assert_eq!(
            codes.split_whitespace().collect::<Vec<_>>(),
            expected,
            "every login gets its true answer\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        peaks.push(peak.swap(rss_kib(pid), Ordering::Relaxed));
    }
    sampler.abort();
    let after = rss_kib(pid);
    println!(
        "agent VmRSS: idle {} MB, peak per round of {CLIENTS} AUTHs {:?} MB, after {} MB",
        idle / 1024,
        peaks.iter().map(|p| p / 1024).collect::<Vec<_>>(),
        after / 1024
    );
    let worst = *peaks.iter().max().unwrap();
    assert!(worst < 100 * 1024, "a login flood took the agent to {} MB", worst / 1024);
    agent.kill().await;
}
