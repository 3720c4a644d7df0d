//! IMAP and POP3 through the agent's own Dovecot: a real agent, a real Dovecot it starts,
//! letters sent with swaks and read with Python's imaplib and poplib (and once with curl).
//! Nothing here depends on the central server: the agent runs standalone throughout.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use pochta_directory::{Level, Op, PasswordHash, User};
use serde_json::Value;

use crate::helpers::*;

pub const PASSWORD: &str = "correct horse 1";

/// A standalone agent of site `msk` with IMAP, IMAPS, POP3 and POP3S on free ports.
pub struct Site {
    pub agent: TestAgent,
    dep: Deployment,
    mail: PathBuf,
    _root: tempfile::TempDir,
}

/// The four listeners of a running agent.
pub struct Ports {
    pub imap: SocketAddr,
    pub imaps: SocketAddr,
    pub pop3s: SocketAddr,
}

pub fn with_password(mut u: User, password: &str) -> User {
    u.password = Some(PasswordHash::create(password));
    u
}

impl Site {
    pub async fn start(users: Vec<User>) -> Site {
        Site::start_with(users, |_| {}).await
    }

    /// [`Site::start`], with `tune` applied to the agent's configuration first.
    pub async fn start_with(users: Vec<User>, tune: impl FnOnce(&mut pochta_agent::config::Config)) -> Site {
        assert!(
            std::path::Path::new("/usr/sbin/dovecot").exists(),
            "Dovecot is needed: apt-get install dovecot-imapd dovecot-pop3d (scripts/test does)"
        );
        let root = tempfile::tempdir().unwrap();
        // Dovecot's mail user must pass through the temporary folder to the mailboxes.
        std::fs::set_permissions(root.path(), std::os::unix::fs::PermissionsExt::from_mode(0o711)).unwrap();
        let mut dep = Deployment::new();
        let mut spb = site("spb", Level::Two);
        spb.agents.push(pochta_directory::AgentEndpoint {
            id: "spb-1".into(),
            url: String::new(),
            tls_sha256: "00".repeat(32),
            smtp: "mx.spb.example.org:25".into(),
        });
        let mut ops = vec![Op::PutSite(site("msk", Level::One)), Op::PutSite(spb)];
        ops.extend(users.into_iter().map(Op::PutUser));
        let v1 = dep.commit(ops);
        let any = "127.0.0.1:0".parse().ok();
        let mut cfg = config(&dep, "msk-1", "msk", dead_server(), "127.0.0.1:0".parse().unwrap());
        cfg.smtp.listen = any;
        cfg.smtp.submissions = any;
        cfg.imap.imap = dovecot_addr();
        cfg.imap.imaps = dovecot_addr();
        cfg.imap.pop3 = dovecot_addr();
        cfg.imap.pop3s = dovecot_addr();
        cfg.imap.host = "mail.msk.example.org".into();
        tune(&mut cfg);
        let dir = write_config(root.path(), "agent", &cfg);
        let agent = TestAgent::start(&dir).await;
        assert!(agent.push(&[&v1]).await.0.is_success());
        agent.wait_version(1, 10).await;
        let s = Site { agent, dep, mail: dir.join("mail"), _root: root };
        s.wait_dovecot().await;
        s
    }

    pub fn ports(&self) -> Ports {
        let l = self.agent.running().imap_listeners().expect("[imap] is configured");
        Ports { imap: l.imap.unwrap(), imaps: l.imaps.unwrap(), pop3s: l.pop3s.unwrap() }
    }

    /// Waits until Dovecot answers on IMAPS.
    async fn wait_dovecot(&self) {
        let addr = self.ports().imaps;
        let deadline = Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(addr).await.is_err() {
            if Instant::now() > deadline {
                // Dovecot's own words on its configuration, for the failure message.
                let conf = self.agent.dir.join("dovecot/dovecot.conf");
                let check =
                    std::process::Command::new("/usr/sbin/dovecot").arg("-n").arg("-c").arg(&conf).output();
                let check =
                    check.map(|o| String::from_utf8_lossy(&o.stderr).into_owned()).unwrap_or_default();
                panic!("Dovecot does not listen on {addr}: {check}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn commit(&mut self, ops: Vec<Op>) {
        let frame = self.dep.commit(ops);
        assert!(self.agent.push(&[&frame]).await.0.is_success());
        self.agent.wait_version(self.dep.version().0, 10).await;
    }

    /// Commits `ops` and waits until Dovecot can see the passwd-file they change: the agent
    /// rewrites it when the change set is applied, and Dovecot looks at it at most once a
    /// second. How long the rewrite took after the push is returned.
    async fn commit_for_logins(&mut self, ops: Vec<Op>) -> Duration {
        let files = [self.agent.dir.join("dovecot/passwd"), self.agent.dir.join("dovecot/app-passwords")];
        let read = || files.iter().map(|f| std::fs::read_to_string(f).unwrap()).collect::<Vec<_>>();
        let before = read();
        let started = Instant::now();
        self.commit(ops).await;
        while read() == before {
            assert!(started.elapsed() < Duration::from_secs(10), "the passwd-file is rewritten");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let written = started.elapsed();
        tokio::time::sleep(Duration::from_millis(1100)).await;
        written
    }

    /// Sends a letter with swaks to the agent's port-25 listener; swaks' exit status.
    fn swaks(&self, to: &str, subject: &str) {
        let mx = self.agent.running().smtp_addrs().mx.unwrap();
        let out = std::process::Command::new("swaks")
            .args(["--server", &mx.to_string(), "--from", "someone@example.net", "--to", to])
            .args([
                "--header",
                &format!("Subject: {subject}"),
                "--body",
                "Hello from the outside.",
                "--silent",
                "2",
            ])
            .output()
            .expect("swaks runs (apt-get install swaks)");
        assert!(out.status.success(), "swaks: {}", String::from_utf8_lossy(&out.stderr));
    }
}

/// Runs a Python script with `args`; its last line of output, as JSON.
pub fn py(script: &str, args: &[String]) -> Value {
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "python failed: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_str(stdout.lines().last().unwrap_or("null")).expect("the script prints JSON")
}

/// Logs in over IMAPS; `{"ok": bool, "text": server's answer}` and, once in, the INBOX's
/// subjects and sizes and the UIDVALIDITY.
const IMAP_LOGIN: &str = r#"
import imaplib, ssl, sys, json
host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
m = imaplib.IMAP4_SSL(host, port, ssl_context=ssl._create_unverified_context())
try:
    typ, data = m.login(user, password)
except imaplib.IMAP4.error as e:
    print(json.dumps({"ok": False, "text": str(e)})); sys.exit(0)
typ, data = m.select("INBOX")
n = int(data[0])
_, v = m.status("INBOX", "(UIDVALIDITY)")
letters = []
if n:
    _, items = m.fetch("1:*", "(RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    for it in items:
        if isinstance(it, tuple):
            size = int(it[0].split(b"RFC822.SIZE ")[1].split()[0].rstrip(b")"))
            letters.append({"size": size, "subject": it[1].decode().strip()})
m.logout()
print(json.dumps({"ok": True, "count": n, "letters": letters, "status": v[0].decode()}))
"#;

fn imap_login(ports: &Ports, user: &str, password: &str) -> Value {
    let a = ports.imaps;
    py(IMAP_LOGIN, &[a.ip().to_string(), a.port().to_string(), user.into(), password.into()])
}

/// Waits (a few seconds at most) until `f` holds for the IMAP view of `user`'s login.
fn wait_login(ports: &Ports, user: &str, password: &str, f: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let v = imap_login(ports, user, password);
        if f(&v) || Instant::now() > deadline {
            return v;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_letter_sent_with_swaks_is_read_with_imap_pop3_and_curl() {
    let mut disabled = with_password(user("olga", "msk"), PASSWORD);
    disabled.enabled = false;
    let users = vec![
        with_password(user("ivan", "msk"), PASSWORD),
        disabled,
        with_password(user("petr", "spb"), PASSWORD),
    ];
    let site = Site::start(users).await;
    let ports = site.ports();
    site.swaks("ivan@example.org", "Quarterly report");

    let v = wait_login(&ports, "ivan", PASSWORD, |v| v["count"] == 1);
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["letters"][0]["subject"], "Subject: Quarterly report", "{v}");
    // The size IMAP reports is the size of the file the agent delivered: nothing half-written.
    let file = std::fs::read_dir(site.mail.join("ivan/Maildir/new"))
        .unwrap()
        .chain(std::fs::read_dir(site.mail.join("ivan/Maildir/cur")).unwrap())
        .flatten()
        .next()
        .expect("the letter is in the Maildir");
    assert_eq!(v["letters"][0]["size"], file.metadata().unwrap().len(), "{v}");

    // The full address logs in as well; a wrong password, a disabled account and a user of
    // another site do not — the last is referred to his home site's server.
    assert_eq!(imap_login(&ports, "Ivan@example.org", PASSWORD)["ok"], true);
    let wrong = imap_login(&ports, "ivan", "wrong password 1");
    assert_eq!(wrong["ok"], false);
    assert!(wrong["text"].as_str().unwrap().contains("AUTHENTICATIONFAILED"), "{wrong}");
    let off = imap_login(&ports, "olga", PASSWORD);
    assert_eq!(off["ok"], false, "{off}");
    let elsewhere = imap_login(&ports, "petr", PASSWORD);
    assert!(
        elsewhere["text"].as_str().unwrap().contains("REFERRAL imap://petr;AUTH=PLAIN@mx.spb.example.org/"),
        "{elsewhere}"
    );
    assert_eq!(imap_login(&ports, "nobody", PASSWORD)["ok"], false);

    // POP3 over TLS sees the same letter.
    let pop = py(
        r#"
import poplib, ssl, sys, json
p = poplib.POP3_SSL(sys.argv[1], int(sys.argv[2]), context=ssl._create_unverified_context())
p.user("ivan"); p.pass_(sys.argv[3])
count, size = p.stat()
_, lines, _ = p.retr(1)
p.quit()
print(json.dumps({"count": count, "subject": [l.decode() for l in lines if l.startswith(b"Subject:")]}))
"#,
        &[ports.pop3s.ip().to_string(), ports.pop3s.port().to_string(), PASSWORD.into()],
    );
    assert_eq!(pop["count"], 1, "{pop}");
    assert_eq!(pop["subject"][0], "Subject: Quarterly report");

    // Before TLS, from another address (Dovecot counts a client on its own address as
    // secure), a password is refused; after STARTTLS it is taken.
    let starttls = py(
        r#"
import imaplib, ssl, socket, sys, json
class FromElsewhere(imaplib.IMAP4):
    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout, source_address=("127.0.0.2", 0))
m = FromElsewhere(sys.argv[1], int(sys.argv[2]))
before = list(m.capabilities)
try:
    m.login("ivan", sys.argv[3]); plain = "accepted"
except imaplib.IMAP4.error as e:
    plain = str(e)
m.starttls(ssl_context=ssl._create_unverified_context())
typ, _ = m.login("ivan", sys.argv[3])
print(json.dumps({"before": before, "plain": plain, "after_tls": typ}))
"#,
        &[ports.imap.ip().to_string(), ports.imap.port().to_string(), PASSWORD.into()],
    );
    assert!(starttls["before"].as_array().unwrap().iter().any(|c| c == "LOGINDISABLED"), "{starttls}");
    assert!(starttls["plain"].as_str().unwrap().contains("PRIVACYREQUIRED"), "{starttls}");
    assert_eq!(starttls["after_tls"], "OK");

    // curl, as a mail client would: list the INBOX and fetch the letter.
    let url = format!("imaps://127.0.0.1:{}/INBOX;UID=1", ports.imaps.port());
    let out = std::process::Command::new("curl")
        .args(["-sk", "--user", &format!("ivan:{PASSWORD}"), &url])
        .output()
        .expect("curl runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Subject: Quarterly report") && text.contains("Hello from the outside."), "{text}");
    let mut site = site;
    site.agent.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_password_or_a_disabled_account_is_in_force_at_once_without_the_server() {
    let mut site = Site::start(vec![with_password(user("ivan", "msk"), PASSWORD)]).await;
    let ports = site.ports();
    assert_eq!(imap_login(&ports, "ivan", PASSWORD)["ok"], true);

    // The change set arrives (the central server is down all along: a dead link).
    let new = "a new password 2";
    let hash = PasswordHash::create(new);
    let written = site.commit_for_logins(vec![Op::SetPassword { name: lp("ivan"), hash: Some(hash) }]).await;
    let v = imap_login(&ports, "ivan", new);
    println!("passwd-file rewritten {written:?} after the push");
    assert_eq!(v["ok"], true, "the new password works: {v}");
    assert_eq!(imap_login(&ports, "ivan", PASSWORD)["ok"], false, "the old one fails");

    let mut off = site.agent.directory().users[&lp("ivan")].clone();
    off.enabled = false;
    site.commit_for_logins(vec![Op::put_user_keeping_password(&off)]).await;
    assert_eq!(imap_login(&ports, "ivan", new)["ok"], false, "a disabled account cannot log in");

    site.commit_for_logins(vec![Op::DeleteUser { name: lp("ivan") }]).await;
    assert_eq!(imap_login(&ports, "ivan", new)["ok"], false, "a deleted one neither");
    site.agent.stop().await;
}

/// Logs in with SMTP AUTH PLAIN on the submissions port (implicit TLS); `{"ok": bool, "code": n}`.
const SMTP_LOGIN: &str = r#"
import smtplib, ssl, sys, json
host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
s = smtplib.SMTP_SSL(host, port, context=ssl._create_unverified_context(), timeout=60)
try:
    code, _ = s.login(user, password)
    print(json.dumps({"ok": True, "code": code}))
except smtplib.SMTPAuthenticationError as e:
    print(json.dumps({"ok": False, "code": e.smtp_code}))
s.quit()
"#;

fn smtp_login(site: &Site, user: &str, password: &str) -> Value {
    let a = site.agent.running().smtp_addrs().submissions.expect("submissions is configured");
    py(SMTP_LOGIN, &[a.ip().to_string(), a.port().to_string(), user.into(), password.into()])
}

fn app(id: u32, label: &str, secret: &str) -> pochta_directory::AppPassword {
    let digest = pochta_directory::AppDigest::of(secret);
    pochta_directory::AppPassword { id, label: label.into(), digest, created: 0 }
}

#[tokio::test(flavor = "multi_thread")]
async fn app_passwords_log_in_to_imap_and_smtp_until_revoked() {
    let mut site = Site::start(vec![with_password(user("ivan", "msk"), PASSWORD)]).await;
    let ports = site.ports();
    let (phone, laptop) = ("abcd-efgh-jkmn-pqrs-tuvw", "wxyz-2345-6789-abcd-efgh");
    let mut u = site.agent.directory().users[&lp("ivan")].clone();
    u.app_passwords = vec![app(1, "Phone", phone), app(2, "Laptop", laptop)];
    site.commit_for_logins(vec![Op::put_user_keeping_password(&u)]).await;

    for (who, secret) in [("ivan", phone), ("ivan@example.org", laptop), ("ivan", PASSWORD)] {
        let v = imap_login(&ports, who, secret);
        assert_eq!(v["ok"], true, "IMAP login as {who} with {secret}: {v}");
        assert_eq!(v["count"], 0, "into his own, empty INBOX: {v}");
    }
    for secret in [phone, laptop, PASSWORD] {
        assert_eq!(smtp_login(&site, "ivan@example.org", secret)["code"], 235, "SMTP AUTH with {secret}");
    }
    assert_eq!(smtp_login(&site, "ivan@example.org", "abcd-efgh-jkmn-pqrs-tuvX")["code"], 535);
    assert_eq!(imap_login(&ports, "ivan", "abcd-efgh-jkmn-pqrs-tuvX")["ok"], false);

    // The phone is lost: its password is revoked, the laptop's goes on working.
    u.app_passwords.retain(|a| a.id != 1);
    site.commit_for_logins(vec![Op::put_user_keeping_password(&u)]).await;
    assert_eq!(imap_login(&ports, "ivan", phone)["ok"], false, "a revoked app password fails IMAP");
    assert_eq!(smtp_login(&site, "ivan@example.org", phone)["code"], 535, "and SMTP AUTH");
    assert_eq!(imap_login(&ports, "ivan", laptop)["ok"], true, "the other one still works");
    assert_eq!(smtp_login(&site, "ivan@example.org", laptop)["code"], 235);

    // A disabled account's app passwords are disabled with it.
    u.enabled = false;
    site.commit_for_logins(vec![Op::put_user_keeping_password(&u)]).await;
    assert_eq!(imap_login(&ports, "ivan", laptop)["ok"], false, "disabled: IMAP refuses the app password");
    assert_eq!(smtp_login(&site, "ivan@example.org", laptop)["code"], 535, "and so does SMTP AUTH");
    site.agent.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_sees_each_letter_whole_and_dovecot_killed_comes_back() {
    let mut site = Site::start(vec![with_password(user("ivan", "msk"), PASSWORD)]).await;
    let ports = site.ports();
    // An IMAP client in IDLE the whole time while 60 letters arrive; at each EXISTS it fetches
    // the new letters' sizes (which must equal the delivered files) and UIDVALIDITY.
    let watcher = {
        let a = ports.imaps;
        let args = vec![a.ip().to_string(), a.port().to_string(), PASSWORD.to_owned()];
        std::thread::spawn(move || {
            py(
                r#"
import imaplib, ssl, sys, json, time, socket
m = imaplib.IMAP4_SSL(sys.argv[1], int(sys.argv[2]), ssl_context=ssl._create_unverified_context())
m.login("ivan", sys.argv[3])
m.select("INBOX")
_, v = m.status("INBOX", "(UIDVALIDITY)")
validity = {v[0].decode().split("UIDVALIDITY ")[1].rstrip(")")}
seen, sizes, waits = 0, [], []
deadline = time.time() + 60
while seen < 60 and time.time() < deadline:
    tag = m._new_tag()
    m.send(tag + b" IDLE\r\n")
    m.readline()  # + idling
    m.sock.settimeout(30)
    t0 = time.time()
    line = m.readline()
    waits.append(time.time() - t0)
    m.send(b"DONE\r\n")
    while not m.readline().startswith(tag):
        pass
    m.sock.settimeout(None)
    _, data = m.search(None, "ALL")
    n = len(data[0].split())
    if n > seen:
        _, items = m.fetch("%d:%d" % (seen + 1, n), "(RFC822.SIZE BODY.PEEK[TEXT])")
        for it in items:
            if isinstance(it, tuple):
                size = int(it[0].split(b"RFC822.SIZE ")[1].split()[0].rstrip(b")"))
                sizes.append(size)
        seen = n
    _, v = m.status("INBOX", "(UIDVALIDITY)")
    validity.add(v[0].decode().split("UIDVALIDITY ")[1].rstrip(")"))
print(json.dumps({"seen": seen, "sizes": sizes, "validity": sorted(validity)}))
"#,
                &args,
            )
        })
    };
    tokio::time::sleep(Duration::from_millis(800)).await;
    for i in 0..60 {
        site.swaks("ivan@example.org", &format!("Letter {i}"));
    }
    let seen = tokio::task::spawn_blocking(move || watcher.join().unwrap()).await.unwrap();
    assert_eq!(seen["seen"], 60, "{seen}");
    assert_eq!(seen["validity"].as_array().unwrap().len(), 1, "UIDVALIDITY stays: {seen}");
    let mut files: Vec<u64> = ["new", "cur"]
        .iter()
        .flat_map(|d| std::fs::read_dir(site.mail.join("ivan/Maildir").join(d)).unwrap().flatten())
        .map(|e| e.metadata().unwrap().len())
        .collect();
    let mut sizes: Vec<u64> = seen["sizes"].as_array().unwrap().iter().map(|s| s.as_u64().unwrap()).collect();
    files.sort();
    sizes.sort();
    assert_eq!(sizes, files, "every size IMAP saw is a whole delivered letter");

    // Dovecot killed: mail is still taken while it is down, and the agent starts it again.
    let mut pid = site.agent.running().dovecot_pid().unwrap();
    let first = pid.borrow().expect("Dovecot runs");
    std::process::Command::new("kill").args(["-9", &first.to_string()]).status().unwrap();
    site.swaks("ivan@example.org", "While Dovecot was down");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(p) = *pid.borrow_and_update()
            && p != first
        {
            break;
        }
        assert!(Instant::now() < deadline, "the agent restarts Dovecot");
        let _ = tokio::time::timeout(Duration::from_millis(200), pid.changed()).await;
    }
    let v = wait_login(&ports, "ivan", PASSWORD, |v| v["count"] == 61);
    assert_eq!(v["count"], 61, "{v}");
    // The agent's stop stops Dovecot too.
    let second = pid.borrow().expect("Dovecot runs again");
    site.agent.stop().await;
    let alive = std::process::Command::new("kill")
        .args(["-0", &second.to_string()])
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(!alive.success(), "Dovecot stops with the agent");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_quota_holds_for_imap_append_as_for_delivery() {
    let mut ivan = with_password(user("ivan", "msk"), PASSWORD);
    ivan.mailbox.quota = Some(20_000);
    let site = Site::start(vec![ivan]).await;
    let ports = site.ports();
    let v = py(
        r#"
import imaplib, ssl, sys, json
m = imaplib.IMAP4_SSL(sys.argv[1], int(sys.argv[2]), ssl_context=ssl._create_unverified_context())
m.login("ivan", sys.argv[3])
_, root = m.getquotaroot("INBOX")
small = m.append("INBOX", None, None, b"Subject: small\r\n\r\n" + b"s" * 1000 + b"\r\n")
try:
    big = m.append("INBOX", None, None, b"Subject: big\r\n\r\n" + b"b" * 30000 + b"\r\n")
except imaplib.IMAP4.error as e:
    big = ("NO", [str(e)])
m.select("INBOX")
_, data = m.search(None, "ALL")
print(json.dumps({"root": [str(r) for r in root], "small": small[0], "big": [big[0], str(big[1])],
                  "count": len(data[0].split())}))
"#,
        &[ports.imaps.ip().to_string(), ports.imaps.port().to_string(), PASSWORD.into()],
    );
    assert!(
        v["root"].to_string().contains("(STORAGE 0 20)"),
        "the limit is the user's quota, 20,000 bytes in KiB: {v}"
    );
    assert_eq!(v["small"], "OK", "{v}");
    assert_eq!(v["big"][0], "NO", "{v}");
    assert!(v["big"][1].as_str().unwrap().contains("OVERQUOTA"), "{v}");
    assert_eq!(v["count"], 1, "the refused letter is not there: {v}");
    let mut site = site;
    site.agent.stop().await;
}

/// A port for one of Dovecot's listeners. The agent picks a port for Dovecot by binding port 0
/// and letting it go, then starts Dovecot on it; meanwhile another test in this binary binding
/// port 0 could be handed the same port, and the test would talk TLS to a stranger. Ports below
/// Linux's range for port 0 (32768 and up), counted out once per process, are nobody else's.
pub(crate) fn dovecot_addr() -> Option<SocketAddr> {
    static NEXT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(21000);
    let port = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Some(SocketAddr::from(([127, 0, 0, 1], port)))
}
