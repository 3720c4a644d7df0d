//! DKIM signing of letters that leave the deployment, checked by an independent verifier:
//! Python's `dkim` (Debian's python3-dkim), which looks the public key up in a private Knot DNS
//! serving `example.org` — the record the server's DNS page gives for the key.
//!
//! A level-1 site signs what it sends out (RSA, and Ed25519 beside it when the domain has both);
//! a level-2 site signs the copy it hands its relay for the outside, not the copies for sites of
//! the deployment, and the relay sends it on without signing again. A key that cannot sign keeps
//! the letter queued instead of sending it unsigned.

use std::path::Path;

use pochta_agent::mail::dkim::generate;
use pochta_agent::queue::Origin;
use pochta_directory::dkim::{Algorithm, DkimKey, KeyState, PrivateKey, Selector};
use pochta_directory::{Level, Op};
use serde_json::Value;

use crate::helpers::{addr, free_port};
use crate::knot::{Knot, txt};
use crate::queue_rig::{Receiver, Rig, RigOptions, SmtpSink, directory, edit, shared, site_at};

/// Verifies every `DKIM-Signature` of a letter with python3-dkim, keys from the DNS server at
/// 127.0.0.1:port: `[{"d": ..., "s": ..., "a": ..., "ok": bool}, ...]`, top first.
const VERIFY: &str = r#"
import dkim, dns.resolver, json, sys
r = dns.resolver.Resolver(configure=False)
r.nameservers, r.port = ["127.0.0.1"], int(sys.argv[2])
def dnsfunc(name, timeout=5):
    try:
        answer = r.resolve(name.decode(), "TXT")
    except Exception:
        return b""
    return b"".join(b"".join(rr.strings) for rr in answer)
msg = open(sys.argv[1], "rb").read()
d = dkim.DKIM(msg)
n = sum(1 for name, _ in d.headers if name.lower() == b"dkim-signature")
out = []
for i in range(n):
    v = dkim.DKIM(msg)
    try:
        ok = v.verify(idx=i, dnsfunc=dnsfunc)
    except dkim.ValidationError:
        ok = False
    sig = dict(dkim.util.parse_tag_value(
        [value for name, value in v.headers if name.lower() == b"dkim-signature"][i]))
    out.append({"d": sig[b"d"].decode(), "s": sig[b"s"].decode(), "a": sig[b"a"].decode(), "ok": bool(ok)})
print(json.dumps(out))
"#;

fn verify(dir: &Path, knot: &Knot, letter: &str) -> Vec<Value> {
    let path = dir.join(format!("verify-{}.eml", free_port()));
    std::fs::write(&path, letter).unwrap();
    let out = std::process::Command::new("/usr/bin/python3")
        .args(["-c", VERIFY])
        .arg(&path)
        .arg(knot.addr.port().to_string())
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "python3-dkim verifies (apt-get install python3-dkim python3-dnspython python3-nacl): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Vec<Value>>(&out.stdout).unwrap()
}

/// Python's SPF library (Debian's python3-spf) asks the same DNS server: the result of SPF for
/// `sender` sending from `ip` ("pass", "fail", ...).
const SPF: &str = r#"
import dns.resolver, spf, sys
r = dns.resolver.Resolver(configure=False)
r.nameservers, r.port = ["127.0.0.1"], int(sys.argv[1])
dns.resolver.default_resolver = r
print(spf.check2(i=sys.argv[2], s=sys.argv[3], h="hq.example.org")[0])
"#;

fn spf(knot: &Knot, ip: &str, sender: &str) -> String {
    let out = std::process::Command::new("/usr/bin/python3")
        .args(["-c", SPF, &knot.addr.port().to_string(), ip, sender])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "python3-spf checks (apt-get install python3-spf): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn key(selector: &str, algorithm: Algorithm) -> DkimKey {
    let (public_key, private_key) = generate(algorithm).unwrap();
    DkimKey {
        selector: Selector::parse(selector).unwrap(),
        algorithm,
        public_key,
        private_key,
        created: 0,
        state: KeyState::Active,
    }
}

/// Knot serving the keys' records under `example.org.` as the DNS page writes them.
fn dns(dir: &Path, keys: &[&DkimKey]) -> Knot {
    let mut records: Vec<String> = keys
        .iter()
        .map(|k| format!("{}.example.org. TXT {}", k.selector.record_name(), txt(&k.record())))
        .collect();
    // SPF and DMARC as the DNS page writes them for a site sending from loopback.
    records.push("example.org. TXT \"v=spf1 ip4:127.0.0.1 -all\"".into());
    records.push("_dmarc.example.org. TXT \"v=DMARC1; p=reject\"".into());
    Knot::start(&dir.join("knot"), "example.org", &records.join("\n"))
}

/// From, To and Subject as a user's mail client writes them; the display name is Cyrillic,
/// encoded, and the subject carries what looks like a header line but is one folded field.
const LETTER: &str = "From: =?UTF-8?B?0JjQstCw0L0g0J/QtdGC0YDQvtCy?= <alice@example.org>\r\n\
    To: friend@outside.test\r\nSubject: quarterly figures\r\n DKIM-Signature: v=1; d=example.org; s=fake\r\n\
    Date: Thu, 03 Dec 2026 09:00:00 +0000\r\nMessage-ID: <q4@example.org>\r\n\r\n\
    The figures are attached.\r\n.dot line and trailing spaces   \r\n\r\n\r\n";

/// The message part of smtp-sink's dump (it puts its own `X-*` lines first; they are unsigned
/// and change nothing for a verifier, but a test should look at what was sent).
fn sent(dump: &str) -> String {
    let start = dump.find("DKIM-Signature:").or_else(|| dump.find("From:")).unwrap();
    dump[start..].to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_level_1_site_signs_outside_mail_with_each_active_key_and_an_independent_verifier_agrees() {
    let tmp = tempfile::tempdir().unwrap();
    let (rsa, ed) = (key("pochta-202612", Algorithm::Rsa), key("pochta-202612-ed", Algorithm::Ed25519));
    let mut pending = key("pochta-202701", Algorithm::Rsa);
    pending.state = KeyState::Pending;
    let knot = dns(tmp.path(), &[&rsa, &ed, &pending]);
    let mut dir = directory(vec![site_at("hq", Level::One, None)], &[("alice", "hq"), ("bob", "hq")]);
    dir.apply_all(&[Op::PutDkimKey(rsa.clone()), Op::PutDkimKey(ed), Op::PutDkimKey(pending)]).unwrap();
    let port = free_port();
    let sink = SmtpSink::start(tmp.path(), port);
    let rig = Rig::open(
        tmp.path(),
        shared(dir),
        RigOptions { smarthost: Some(format!("127.0.0.1:{port}")), ..Default::default() },
    );
    let alice = addr("alice@example.org");
    rig.send(
        Some("alice@example.org"),
        &["friend@outside.test", "bob@example.org"],
        Origin::User(alice),
        LETTER,
    )
    .await;
    rig.drained(20).await;

    let txns = sink.transactions();
    assert_eq!(txns.len(), 1);
    let letter = sent(&txns[0]);
    let sigs = verify(tmp.path(), &knot, &letter);
    let summary: Vec<(String, String, bool)> = sigs
        .iter()
        .map(|s| {
            (s["s"].as_str().unwrap().into(), s["a"].as_str().unwrap().into(), s["ok"].as_bool().unwrap())
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("pochta-202612".into(), "rsa-sha256".into(), true),
            ("pochta-202612-ed".into(), "ed25519-sha256".into(), true),
        ],
        "one signature per active key, RSA first, both verified; the pending key signs nothing:\n{letter}"
    );
    assert!(sigs.iter().all(|s| s["d"] == "example.org"));
    // SPF passes for the sending site's address and fails elsewhere; with DKIM's d= and SPF's
    // domain both the From domain, DMARC aligns (strictly, even).
    assert_eq!(spf(&knot, "127.0.0.1", "alice@example.org"), "pass");
    assert_eq!(spf(&knot, "192.0.2.99", "alice@example.org"), "fail");
    assert!(letter.contains("<alice@example.org>"), "From is the domain that signs");
    // The subject's folded line is part of the subject, not a signature.
    let fields = letter.split("\r\n\r\n").next().unwrap();
    let names = fields.lines().filter(|l| l.to_ascii_lowercase().starts_with("dkim-signature:")).count();
    assert_eq!(names, 2, "{letter}");
    // The copy that stays inside is not signed.
    let inside = rig.mailbox("bob");
    assert_eq!(inside.len(), 1);
    assert!(!inside[0].contains("DKIM-Signature: v=1; a="), "{}", inside[0]);

    // Changed on the way: the verifier says so.
    let tampered = letter.replace("The figures are attached.", "Send the money.");
    assert!(verify(tmp.path(), &knot, &tampered).iter().all(|s| s["ok"] == false));
    assert_eq!(rig.counters.snapshot().signed, 1);
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_level_2_site_signs_once_for_its_relay_and_the_relay_does_not_sign_again() {
    let tmp = tempfile::tempdir().unwrap();
    let rsa = key("pochta-202612", Algorithm::Rsa);
    let knot = dns(tmp.path(), &[&rsa]);
    let relay = Receiver::start(true).await;
    let mut dir = directory(
        vec![
            site_at("gw", Level::Zero, Some((&relay.addr(), &relay.pin))),
            site_at("north", Level::Two, None),
        ],
        &[("alice", "north")],
    );
    dir.apply(&Op::PutDkimKey(rsa.clone())).unwrap();
    let hq = tmp.path().join("hq-site");
    let north = Rig::open(
        &tmp.path().join("north"),
        shared(dir.clone()),
        RigOptions { site: "north", level: Level::Two, ..Default::default() },
    );
    let alice = addr("alice@example.org");
    north.send(Some("alice@example.org"), &["friend@outside.test"], Origin::User(alice), LETTER).await;
    north.drained(20).await;
    let txns = relay.txns();
    assert_eq!(txns.len(), 1, "{txns:#?}");
    assert_eq!(txns[0].auth.as_deref(), Some("agent:north-agent"));
    let relayed = &txns[0].data;
    let sigs = verify(tmp.path(), &knot, relayed);
    assert_eq!(sigs.len(), 1, "{relayed}");
    assert_eq!(sigs[0]["ok"], true, "{relayed}");

    // The relay (a level-0 agent) sends it on: one signature still, still valid.
    let port = free_port();
    let sink = SmtpSink::start(tmp.path(), port);
    let gw = Rig::open(
        &hq,
        shared(dir),
        RigOptions {
            site: "gw",
            level: Level::Zero,
            smarthost: Some(format!("127.0.0.1:{port}")),
            ..Default::default()
        },
    );
    gw.send(
        Some("alice@example.org"),
        &["friend@outside.test"],
        Origin::Peer { agent_id: "north-agent".into() },
        relayed,
    )
    .await;
    gw.drained(20).await;
    let out = sent(&sink.transactions()[0]);
    let sigs = verify(tmp.path(), &knot, &out);
    assert_eq!(sigs.len(), 1, "signed once, at the first agent: {out}");
    assert_eq!(sigs[0]["ok"], true);
    assert!(!out.contains("X-Pochta-Relay"), "{out}");
    assert_eq!(gw.counters.snapshot().signed, 0);
    north.stop().await;
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_that_cannot_sign_keeps_outside_mail_queued_and_says_why() {
    let tmp = tempfile::tempdir().unwrap();
    let mut broken = key("pochta-202612", Algorithm::Rsa);
    broken.private_key = PrivateKey::from_der(b"this is no PKCS#8 key");
    let dir = shared(directory(vec![site_at("hq", Level::One, None)], &[("alice", "hq"), ("bob", "hq")]));
    edit(&dir, vec![Op::PutDkimKey(broken)]);
    let port = free_port();
    let sink = SmtpSink::start(tmp.path(), port);
    let rig = Rig::open(
        tmp.path(),
        dir.clone(),
        RigOptions { smarthost: Some(format!("127.0.0.1:{port}")), retry: 0.2, ..Default::default() },
    );
    let alice = addr("alice@example.org");
    let id = rig
        .send(
            Some("alice@example.org"),
            &["friend@outside.test", "bob@example.org"],
            Origin::User(alice),
            LETTER,
        )
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    assert!(sink.transactions().is_empty(), "nothing left unsigned");
    assert_eq!(rig.mailbox("bob").len(), 1, "the inside copy is delivered");
    let queued = rig.queue.list();
    let entry = queued.iter().find(|m| m.id == id).expect("still queued");
    let why = format!("{entry:?}");
    assert!(why.contains("4.7.0 cannot DKIM-sign") && why.contains("pochta-202612"), "{why}");
    let failing = rig.counters.signing_failure.lock().unwrap().clone();
    assert!(failing.is_some_and(|(_, e)| e.contains("cannot be loaded")));

    // The administrator replaces the key: the letter goes, signed.
    edit(
        &dir,
        vec![
            Op::DeleteDkimKey { selector: Selector::parse("pochta-202612").unwrap() },
            Op::PutDkimKey(key("pochta-202612b", Algorithm::Rsa)),
        ],
    );
    rig.drained(20).await;
    let out = sink.transactions();
    assert_eq!(out.len(), 1);
    assert!(out[0].contains("s=pochta-202612b;"), "{}", out[0]);
    assert!(rig.counters.signing_failure.lock().unwrap().is_none());
    rig.stop().await;
}
