//! A mailbox move seen by a mail client: two sites, two real agents relaying to each other,
//! each with its own real Dovecot. Folders, letters, flags, keywords and subscriptions are
//! set over IMAP at the old site; after the move the client sees the same at the new site,
//! and the old site refers him there and keeps no Dovecot state of his.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pochta_directory::{AgentEndpoint, Level, Op};
use serde_json::Value;

use crate::helpers::*;
use crate::imap::{PASSWORD, py, with_password};

/// How many letters the user has before the move, spread over INBOX and three folders.
const LETTERS: usize = 1000;

/// Creates the folders, subscribes to some, APPENDs the letters and sets flags and keywords
/// with STORE, all over IMAPS.
const FILL: &str = r#"
import imaplib, ssl, sys, json
host, port, user, password, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
folders = ["INBOX", "Work", "Work.2026", "&BBIERQQ+BDQETwRJBDgENQ--&BDAEQARFBDgEMg-"]
m = imaplib.IMAP4_SSL(host, port, ssl_context=ssl._create_unverified_context())
m.login(user, password)
for f in folders[1:]:
    assert m.create('"%s"' % f)[0] == "OK", f
for f in ["INBOX", "Work", folders[3]]:
    assert m.subscribe('"%s"' % f)[0] == "OK", f
for i in range(n):
    f = folders[i % 4]
    msg = ("From: someone@example.net\r\nTo: ivan@example.org\r\nSubject: letter %d\r\n"
           "Message-ID: <%d@fill.example.net>\r\n\r\nBody of letter %d.\r\n" % (i, i, i)).encode()
    assert m.append('"%s"' % f, None, None, msg)[0] == "OK"
rules = [(2, r"\Seen"), (5, r"\Answered"), (10, r"\Flagged"), (11, r"\Draft"), (13, r"\Deleted"),
         (3, "$Work"), (7, "Later")]
for k, f in enumerate(folders):
    m.select('"%s"' % f)
    count = len([i for i in range(n) if i % 4 == k])
    for every, flag in rules:
        seqs = [str(j + 1) for j in range(count) if (j * 4 + k) % every == 0]
        if seqs:
            assert m.store(",".join(seqs), "+FLAGS.SILENT", "(%s)" % flag)[0] == "OK"
    m.unselect()
m.logout()
print(json.dumps({"ok": True}))
"#;

/// What a client sees: every folder's letters (Message-ID → sorted flags), and LSUB.
const SNAPSHOT: &str = r#"
import imaplib, ssl, sys, json, re
host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
m = imaplib.IMAP4_SSL(host, port, ssl_context=ssl._create_unverified_context())
try:
    m.login(user, password)
except imaplib.IMAP4.error as e:
    print(json.dumps({"ok": False, "text": str(e)})); sys.exit(0)
def names(lines):
    out = []
    for l in lines:
        if l is None:
            continue
        name = re.match(rb'\(([^)]*)\) (?:"."|NIL) (.*)$', l).group(2).decode()
        out.append(name[1:-1] if name.startswith('"') else name)
    return sorted(out)
_, listed = m.list()
_, lsub = m.lsub()
folders = {}
for f in names(listed):
    typ, data = m.select('"%s"' % f, readonly=True)
    letters = {}
    if int(data[0]):
        _, items = m.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        for it in items:
            if isinstance(it, tuple):
                flags = re.search(rb"FLAGS \(([^)]*)\)", it[0]).group(1).decode().split()
                mid = it[1].decode().split(":", 1)[1].strip()
                assert mid not in letters, "a letter twice: " + mid
                letters[mid] = sorted(x for x in flags if x != "\\Recent")
    folders[f] = letters
m.logout()
print(json.dumps({"ok": True, "folders": folders, "lsub": names(lsub)}))
"#;

struct Agent {
    agent: TestAgent,
    mail: PathBuf,
}

impl Agent {
    fn imaps(&self) -> SocketAddr {
        self.agent.running().imap_listeners().expect("[imap] is configured").imaps.unwrap()
    }

    fn run(&self, script: &str, more: &[&str]) -> Value {
        let a = self.imaps();
        let mut args = vec![a.ip().to_string(), a.port().to_string(), "ivan".into(), PASSWORD.into()];
        args.extend(more.iter().map(|s| s.to_string()));
        py(script, &args)
    }

    async fn wait_dovecot(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(self.imaps()).await.is_err() {
            assert!(Instant::now() < deadline, "Dovecot listens");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Every file under `dir`, relative to it.
fn files(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                out.push(p.strip_prefix(base).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn letters_in(md: &Path) -> usize {
    files(md)
        .iter()
        .filter(|f| {
            f.contains("/cur/") || f.contains("/new/") || f.starts_with("cur/") || f.starts_with("new/")
        })
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn after_a_move_the_client_sees_the_same_folders_flags_keywords_and_subscriptions() {
    assert!(std::path::Path::new("/usr/sbin/dovecot").exists(), "Dovecot is needed");
    let root = tempfile::tempdir().unwrap();
    std::fs::set_permissions(root.path(), std::os::unix::fs::PermissionsExt::from_mode(0o711)).unwrap();
    let mut dep = Deployment::new();
    let v1 = dep.commit(vec![
        Op::PutSite(site("msk", Level::One)),
        Op::PutSite(site("spb", Level::One)),
        Op::PutUser(with_password(user("ivan", "msk"), PASSWORD)),
    ]);
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let mut agents = Vec::new();
    for s in ["msk", "spb"] {
        let mut cfg = config(&dep, &format!("{s}-1"), s, dead_server(), any);
        cfg.smtp.listen = Some(any);
        cfg.imap.imaps = crate::imap::dovecot_addr();
        cfg.imap.host = format!("mail.{s}.example.org");
        cfg.delivery.retry_initial_secs = 0.2;
        let dir = write_config(root.path(), s, &cfg);
        let agent = TestAgent::start(&dir).await;
        assert!(agent.push(&[&v1]).await.0.is_success());
        agent.wait_version(1, 10).await;
        let a = Agent { agent, mail: dir.join("mail") };
        a.wait_dovecot().await;
        agents.push(a);
    }
    // Each site's agent, where the other reaches it.
    let ops = ["msk", "spb"]
        .iter()
        .zip(&agents)
        .map(|(s, a)| {
            let mut rec = site(s, Level::One);
            rec.agents.push(AgentEndpoint {
                id: format!("{s}-1"),
                url: String::new(),
                tls_sha256: a.agent.running().fingerprint().to_owned(),
                smtp: a.agent.running().smtp_addrs().mx.unwrap().to_string(),
            });
            Op::PutSite(rec)
        })
        .collect();
    let v2 = dep.commit(ops);
    for a in &agents {
        assert!(a.agent.push(&[&v2]).await.0.is_success());
        a.agent.wait_version(2, 10).await;
    }
    let (msk, spb) = (&agents[0], &agents[1]);

    let started = Instant::now();
    assert_eq!(msk.run(FILL, &[&LETTERS.to_string()])["ok"], true);
    let before = msk.run(SNAPSHOT, &[]);
    println!("{LETTERS} letters filled over IMAP in {:?}", started.elapsed());
    assert_eq!(before["ok"], true, "{before}");
    let folders = before["folders"].as_object().unwrap();
    // Junk is always there (Dovecot creates and subscribes it: the door files spam into it).
    assert_eq!(folders.len(), 5, "INBOX, Junk and three folders: {:?}", folders.keys());
    assert_eq!(folders.values().map(|f| f.as_object().unwrap().len()).sum::<usize>(), LETTERS);
    let work = &folders["Work"]["<105@fill.example.net>"];
    assert_eq!(work, &serde_json::json!(["$Work", "Later", "\\Answered"]), "{work}");
    let old_md = msk.mail.join("ivan/Maildir");
    assert!(std::fs::read_to_string(old_md.join("subscriptions")).unwrap().starts_with("V\t2\n\n"));
    assert!(old_md.join(".Work/dovecot-keywords").exists());

    // The move: one directory edit, on both sites.
    let moving = Instant::now();
    let mut ivan = msk.agent.directory().users[&lp("ivan")].clone();
    ivan.site = sid("spb");
    ivan.former_sites.insert(sid("msk"));
    let v3 = dep.commit(vec![Op::put_user_keeping_password(&ivan)]);
    for a in &agents {
        assert!(a.agent.push(&[&v3]).await.0.is_success());
        a.agent.wait_version(3, 10).await;
    }
    let new_md = spb.mail.join("ivan/Maildir");
    let deadline = Instant::now() + Duration::from_secs(120);
    while letters_in(&new_md) < LETTERS || letters_in(&old_md) > 0 {
        assert!(
            Instant::now() < deadline,
            "moved: {} of {LETTERS}, left: {}",
            letters_in(&new_md),
            letters_in(&old_md)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let moved_in = moving.elapsed();
    // Dovecot at spb sees the user once its passwd-file names him (it looks once a second).
    let deadline = Instant::now() + Duration::from_secs(10);
    let after = loop {
        let v = spb.run(SNAPSHOT, &[]);
        if v["ok"] == true || Instant::now() > deadline {
            break v;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    println!("{LETTERS} letters moved in {moved_in:?}");
    assert_eq!(after["ok"], true, "{after}");
    for (name, letters) in folders {
        let got = &after["folders"][name];
        assert_eq!(got, letters, "folder {name}: the same letters with the same flags and keywords");
    }
    assert_eq!(after["folders"].as_object().unwrap().len(), 5);
    assert_eq!(after["lsub"], before["lsub"], "the same subscriptions");
    assert_eq!(letters_in(&new_md), LETTERS, "nothing duplicated");

    // The old site refers him to the new one, and keeps no Dovecot state of his.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let v = msk.run(SNAPSHOT, &[]);
        if v["ok"] == false && v["text"].as_str().unwrap().contains("REFERRAL") {
            break;
        }
        assert!(Instant::now() < deadline, "msk refers ivan to spb: {v}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let left: Vec<String> = files(&old_md)
        .into_iter()
        .filter(|f| {
            let name = f.rsplit('/').next().unwrap();
            name.starts_with("dovecot") || name == "subscriptions"
        })
        .collect();
    assert_eq!(left, Vec::<String>::new(), "no Dovecot state left at msk");
    assert_eq!(letters_in(&old_md), 0);
    for mut a in agents {
        a.agent.stop().await;
    }
}
