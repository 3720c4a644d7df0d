//! The door with real scanners: a private rspamd and a private clamd (their own folders and
//! sockets, `pochta_agent::door::private`), a real agent with its Dovecot, letters sent by
//! Python's smtplib as an outside MTA would, and read back with imaplib.
//!
//! GTUBE and EICAR are refused before the 250 and never reach a mailbox; a letter rspamd scores
//! as spam below "reject" is accepted into the Junk folder; a clean one reaches INBOX with the
//! door's verdict in its header, the stranger's own copy of it gone; our users' submissions are
//! not scanned. A hung clamd or a stopped rspamd defers mail (451) within the scan timeout, and
//! `/status` says so; with `fail_open`, mail is taken unscanned and marked.

use std::path::Path;
use std::time::Duration;

use pochta_agent::door::private;
use serde_json::Value;

use crate::helpers::{free_port, user};
use crate::imap::{PASSWORD, Site, py, with_password};
use crate::knot::{Knot, txt};

/// Sends one letter over port 25 (or, with a login, over implicit-TLS submission):
/// `{"code": the answer to the data (or to the first refused RCPT), "text": ...}`.
const SEND: &str = r#"
import smtplib, ssl, sys, json
host, port, sender, rcpts, path, login, password, source = sys.argv[1:9]
port, rcpts, data = int(port), rcpts.split(","), open(path, "rb").read()
if login:
    s = smtplib.SMTP_SSL(host, port, context=ssl._create_unverified_context(), timeout=60)
    s.login(login, password)
else:
    s = smtplib.SMTP(host, port, timeout=60, source_address=(source, 0))
    s.ehlo("mx.outside.example")
try:
    s.sendmail(sender, rcpts, data)
    print(json.dumps({"code": 250, "text": ""}))
except smtplib.SMTPRecipientsRefused as e:
    code, text = list(e.recipients.values())[0]
    print(json.dumps({"code": code, "text": text.decode()}))
except smtplib.SMTPSenderRefused as e:
    print(json.dumps({"code": e.smtp_code, "text": e.smtp_error.decode()}))
except smtplib.SMTPDataError as e:
    print(json.dumps({"code": e.smtp_code, "text": e.smtp_error.decode()}))
"#;

/// Every folder of alice's mailbox with its letters' headers: `{"Junk": {"special": "...",
/// "letters": ["header text", ...]}, ...}`.
const FOLDERS: &str = r#"
import imaplib, ssl, sys, json
host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
m = imaplib.IMAP4_SSL(host, port, ssl_context=ssl._create_unverified_context())
m.login(user, password)
out = {}
for line in m.list()[1]:
    line = line.decode()
    name = line.rsplit(" ", 1)[-1].strip('"')
    flags = line[line.index("(") + 1:line.index(")")]
    typ, data = m.select('"%s"' % name, readonly=True)
    letters = []
    if int(data[0]):
        for it in m.fetch("1:*", "(BODY.PEEK[HEADER])")[1]:
            if isinstance(it, tuple):
                letters.append(it[1].decode(errors="replace"))
    out[name] = {"flags": flags, "letters": letters}
print(json.dumps(out))
"#;

struct Letter<'a> {
    subject: &'a str,
    body: String,
    /// Extra header lines, as a stranger might write them.
    extra: &'a str,
}

fn write_letter(dir: &Path, l: &Letter<'_>) -> String {
    let path = dir.join(format!("{}.eml", l.subject.replace(' ', "-")));
    let text = format!(
        "From: Sender <sender@outside.example>\r\nTo: alice@example.org\r\nSubject: {}\r\n\
         Date: Thu, 03 Dec 2026 09:00:00 +0000\r\nMessage-ID: <{}@outside.example>\r\n{}\r\n{}\r\n",
        l.subject,
        l.subject.replace(' ', "."),
        l.extra,
        l.body
    );
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn send(site: &Site, path: &str) -> Value {
    send_as(site, "sender@outside.example", "127.0.0.1", path)
}

/// Sends as an outside MTA at address `source` with envelope sender `from`.
fn send_as(site: &Site, from: &str, source: &str, path: &str) -> Value {
    let at = site.agent.running().smtp_addrs().mx.unwrap();
    let args =
        [&at.ip().to_string(), &at.port().to_string(), from, "alice@example.org", path, "", "", source];
    py(SEND, &args.map(|s| s.to_string()))
}

fn submit(site: &Site, path: &str) -> Value {
    let at = site.agent.running().smtp_addrs().submissions.unwrap();
    let args = [
        &at.ip().to_string(),
        &at.port().to_string(),
        "alice@example.org",
        "alice@example.org",
        path,
        "alice@example.org",
        PASSWORD,
        "",
    ];
    py(SEND, &args.map(|s| s.to_string()))
}

fn folders(site: &Site) -> Value {
    let at = site.ports().imaps;
    py(FOLDERS, &[at.ip().to_string(), at.port().to_string(), "alice".into(), PASSWORD.into()])
}

/// The letters of `folder` whose header has `subject`.
fn count(f: &Value, folder: &str, subject: &str) -> usize {
    let needle = format!("Subject: {subject}\r\n");
    f[folder]["letters"]
        .as_array()
        .map_or(0, |l| l.iter().filter(|h| h.as_str().unwrap().contains(&needle)).count())
}

fn header<'a>(f: &'a Value, folder: &str, subject: &str) -> &'a str {
    let needle = format!("Subject: {subject}\r\n");
    f[folder]["letters"]
        .as_array()
        .and_then(|l| l.iter().find(|h| h.as_str().unwrap().contains(&needle)))
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no letter {subject:?} in {folder}: {f}"))
}

async fn metrics(site: &Site) -> String {
    reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap()
        .get(site.agent.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

fn refused(metrics: &str, reason: &str) -> u64 {
    let key = format!("reason=\"{reason}\"}} ");
    metrics.lines().find_map(|l| l.split_once(&key).map(|(_, v)| v.parse().unwrap())).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn spam_and_viruses_are_refused_before_the_250_and_junk_is_filed_apart() {
    let scratch = tempfile::tempdir().unwrap();
    let listen = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let rspamd = private::rspamd(&scratch.path().join("rspamd"), listen).unwrap();
    let mut clamd = private::clamd(&scratch.path().join("clamd")).unwrap();
    let (r, c) = (rspamd.at.clone(), clamd.at.clone());
    let site = Site::start_with(vec![with_password(user("alice", "msk"), PASSWORD)], move |cfg| {
        cfg.door.rspamd = r;
        cfg.door.clamd = c;
        cfg.door.scan_timeout_secs = 3.0;
    })
    .await;
    let dir = scratch.path();
    let clean = Letter {
        subject: "clean letter",
        body: "Hello Alice, the minutes of Monday's meeting are below.".into(),
        // A stranger's own verdict: never trusted, removed.
        extra: "X-Spam: No\r\nX-Virus-Scanned: by the sender's own scanner\r\n",
    };
    let gtube = Letter { subject: "gtube", body: format!("Buy now\r\n{}", private::GTUBE), extra: "" };
    let eicar = Letter {
        subject: "eicar",
        body: format!(
            "--b1\r\nContent-Type: text/plain\r\n\r\nsee the file\r\n--b1\r\nContent-Type: application/octet-stream\r\n\
                       Content-Disposition: attachment; filename=\"eicar.com\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--b1--",
            base64_of(private::EICAR)
        ),
        extra: "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n",
    };
    let spammy =
        Letter { subject: "spammy", body: format!("Great offer: {}", private::SPAM_PHRASE), extra: "" };

    let v = send(&site, &write_letter(dir, &gtube));
    assert_eq!(v["code"], 550, "{v}");
    assert!(v["text"].as_str().unwrap().starts_with("5.7.1 message refused as spam: Gtube pattern"), "{v}");
    let v = send(&site, &write_letter(dir, &eicar));
    assert_eq!(v["code"], 554, "{v}");
    assert!(v["text"].as_str().unwrap().contains(private::EICAR_NAME), "{v}");
    let v = send(&site, &write_letter(dir, &spammy));
    assert_eq!(v["code"], 250, "{v}");
    let v = send(&site, &write_letter(dir, &clean));
    assert_eq!(v["code"], 250, "{v}");
    // Our own user's submission is not the door's business: GTUBE from alice is sent.
    let own = Letter { subject: "own gtube", body: private::GTUBE.into(), extra: "" };
    let v = submit(&site, &write_letter(dir, &own));
    assert_eq!(v["code"], 250, "{v}");

    let f =
        wait_for(&site, |f| count(f, "INBOX", "clean letter") == 1 && count(f, "INBOX", "own gtube") == 1)
            .await;
    assert_eq!(count(&f, "INBOX", "gtube") + count(&f, "Junk", "gtube"), 0, "{f}");
    assert_eq!(count(&f, "INBOX", "eicar") + count(&f, "Junk", "eicar"), 0, "{f}");
    assert_eq!((count(&f, "Junk", "spammy"), count(&f, "INBOX", "spammy")), (1, 0), "{f}");
    assert!(f["Junk"]["flags"].as_str().unwrap().contains("\\Junk"), "{f}");
    let spam = header(&f, "Junk", "spammy");
    assert!(spam.contains("X-Spam: Yes\r\n") && spam.contains("POCHTA_TEST_SPAM"), "{spam}");
    let ok = header(&f, "INBOX", "clean letter");
    assert!(ok.contains("X-Spam: No\r\n") && ok.contains("X-Virus-Scanned: ClamAV at "), "{ok}");
    assert!(!ok.contains("the sender's own scanner") && ok.matches("X-Spam: ").count() == 1, "{ok}");
    assert!(!header(&f, "INBOX", "own gtube").contains("X-Spam"), "{f}");

    let m = metrics(&site).await;
    assert_eq!((refused(&m, "spam"), refused(&m, "virus")), (1, 1), "{m}");
    assert!(m.contains("pochta_messages_accepted_total{site=\"msk\"} 3"), "{m}");

    // clamd hangs (stopped, its socket still open): the letter is deferred within the timeout.
    let pid = rustix::process::Pid::from_raw(clamd.pid().unwrap() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::STOP).unwrap();
    let v = send(&site, &write_letter(dir, &Letter { subject: "while clamd hangs", ..clean }));
    rustix::process::kill_process(pid, rustix::process::Signal::CONT).unwrap();
    assert_eq!(v["code"], 451, "{v}");
    assert!(v["text"].as_str().unwrap().starts_with("4.7.1 the message cannot be scanned now"), "{v}");
    let status = site.agent.status().await;
    let warnings = status["door"]["warnings"].to_string();
    assert!(warnings.contains("clamd at") && warnings.contains("deferred (451)"), "{status}");

    // The next scan works again and the warning is gone.
    let v = send(
        &site,
        &write_letter(dir, &Letter { subject: "after clamd is back", body: "hi".into(), extra: "" }),
    );
    assert_eq!(v["code"], 250, "{v}");
    assert!(site.agent.status().await["door"].get("warnings").is_none());
    clamd.stop();
    drop(rspamd);
    let v =
        send(&site, &write_letter(dir, &Letter { subject: "scanners gone", body: "hi".into(), extra: "" }));
    assert_eq!(v["code"], 451, "{v}");
    let status = site.agent.status().await;
    let warnings = status["door"]["warnings"].to_string();
    assert!(warnings.contains("rspamd at") && warnings.contains("clamd at"), "{status}");
    let m = metrics(&site).await;
    assert_eq!(refused(&m, "scanner_unavailable"), 2, "{m}");
    let f = folders(&site);
    assert_eq!(count(&f, "INBOX", "scanners gone") + count(&f, "INBOX", "while clamd hangs"), 0, "{f}");
}

#[tokio::test(flavor = "multi_thread")]
async fn with_fail_open_a_scanner_out_lets_mail_in_marked_unscanned() {
    // rspamd configured where nothing listens.
    let url = format!("http://127.0.0.1:{}", free_port());
    let site = Site::start_with(vec![with_password(user("alice", "msk"), PASSWORD)], move |cfg| {
        cfg.door.rspamd = url;
        cfg.door.fail_open = true;
    })
    .await;
    let scratch = tempfile::tempdir().unwrap();
    let v = send(
        &site,
        &write_letter(scratch.path(), &Letter { subject: "unscanned", body: "hi".into(), extra: "" }),
    );
    assert_eq!(v["code"], 250, "{v}");
    let f = wait_for(&site, |f| count(f, "INBOX", "unscanned") == 1).await;
    let h = header(&f, "INBOX", "unscanned");
    assert!(h.contains("X-Pochta-Unscanned: rspamd: rspamd cannot be reached"), "{h}");
    let warnings = site.agent.status().await["door"]["warnings"].to_string();
    assert!(warnings.contains("accepted unscanned"), "{warnings}");
}

async fn wait_for(site: &Site, done: impl Fn(&Value) -> bool) -> Value {
    let mut f = Value::Null;
    for _ in 0..100 {
        f = folders(site);
        if done(&f) {
            return f;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the mailbox never got there: {f}");
}

fn base64_of(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[tokio::test(flavor = "multi_thread")]
async fn greylisting_defers_a_new_sender_passes_its_retry_and_remembers_across_a_restart() {
    let mut site = Site::start_with(vec![with_password(user("alice", "msk"), PASSWORD)], |cfg| {
        let g = &mut cfg.door.greylist;
        g.enabled = true;
        g.delay_secs = 2;
        g.whitelist_after = 2;
        g.exempt_networks = vec!["127.0.0.9".into()];
    })
    .await;
    let scratch = tempfile::tempdir().unwrap();
    let letter = write_letter(scratch.path(), &Letter { subject: "hello", body: "hi".into(), extra: "" });
    let code = |v: &Value| v["code"].as_u64().unwrap();

    // A configured network passes at once.
    assert_eq!(code(&send_as(&site, "x@outside.example", "127.0.0.9", &letter)), 250);
    // A new triplet: deferred, with a hint; again at once: still deferred; after the delay: in.
    let v = send_as(&site, "a@outside.example", "127.0.0.1", &letter);
    assert_eq!(code(&v), 451, "{v}");
    let text = v["text"].as_str().unwrap();
    assert!(text.starts_with("4.7.1 greylisted: ") && text.contains("2 seconds"), "{v}");
    assert_eq!(code(&send_as(&site, "a@outside.example", "127.0.0.2", &letter)), 451);
    tokio::time::sleep(Duration::from_millis(2200)).await;
    // From another address of the same /24, as a sender's pool retries.
    assert_eq!(code(&send_as(&site, "a@outside.example", "127.0.0.3", &letter)), 250);
    let m = metrics(&site).await;
    assert_eq!(refused(&m, "greylisted"), 2, "{m}");

    // A second sender tries once; the agent restarts; his retry after the delay passes, so the
    // first attempt was remembered.
    assert_eq!(code(&send_as(&site, "b@outside.example", "127.0.0.1", &letter)), 451);
    site.agent.restart().await;
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let v = send_as(&site, "b@outside.example", "127.0.0.1", &letter);
    assert_eq!(code(&v), 250, "the greylist forgot the first attempt over the restart: {v}");
    // Two triplets passed from 127.0.0.0/24: the network is whitelisted, a new sender is in at once.
    assert_eq!(code(&send_as(&site, "c@outside.example", "127.0.0.4", &letter)), 250);
    let f = wait_for(&site, |f| count(f, "INBOX", "hello") == 4).await;
    assert_eq!(count(&f, "INBOX", "hello"), 4);
}

/// Signs `path` with Python's `dkim` (Debian's python3-dkim: an independent signer) as
/// `selector._domainkey.domain`; writes the signed letter to `out`.
fn dkim_sign(path: &str, key: &Path, domain: &str, selector: &str, out: &Path) {
    let script = "import dkim, sys\nmsg = open(sys.argv[1], 'rb').read()\n\
                  sig = dkim.sign(msg, sys.argv[3].encode(), sys.argv[4].encode(), open(sys.argv[2], 'rb').read(),\n\
                  include_headers=[b'From', b'To', b'Subject', b'Date', b'Message-ID'])\n\
                  open(sys.argv[5], 'wb').write(sig + msg)\n";
    let st = std::process::Command::new("/usr/bin/python3")
        .args(["-c", script, path])
        .arg(key)
        .args([selector, domain])
        .arg(out)
        .status()
        .expect("python3 runs");
    assert!(st.success(), "python3-dkim signs (apt-get install python3-dkim; scripts/test does)");
}

fn letter_from(dir: &Path, from: &str, subject: &str, extra: &str) -> String {
    let path = dir.join(format!("{}.eml", subject.replace(' ', "-")));
    let text = format!(
        "From: {from}\r\nTo: alice@example.org\r\nSubject: {subject}\r\nDate: Thu, 03 Dec 2026 09:00:00 +0000\r\n\
         Message-ID: <{}@test>\r\n{extra}\r\nThe quarterly figures are attached to the shared folder.\r\n",
        subject.replace(' ', ".")
    );
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_senders_are_refused_and_the_first_hop_says_who_was_verified() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path();
    // A DKIM key of signed.example, made the way an administrator would.
    let key = dir.join("dkim.pem");
    let ok = std::process::Command::new("openssl")
        .args(["genrsa", "-out"])
        .arg(&key)
        .arg("2048")
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(ok.success());
    let der = std::process::Command::new("openssl")
        .args(["rsa", "-pubout", "-outform", "DER", "-in"])
        .arg(&key)
        .stderr(std::process::Stdio::null())
        .output()
        .unwrap()
        .stdout;
    let public = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(der)
    };
    let knot = Knot::start(
        &dir.join("knot"),
        "example",
        &[
            // outside.example sends from loopback and asks that failures be refused.
            "outside.example. TXT \"v=spf1 ip4:127.0.0.0/8 -all\"".to_owned(),
            "_dmarc.outside.example. TXT \"v=DMARC1; p=reject\"".to_owned(),
            // signed.example never sends from loopback: only its DKIM signature can pass.
            "signed.example. TXT \"v=spf1 -all\"".to_owned(),
            "_dmarc.signed.example. TXT \"v=DMARC1; p=reject\"".to_owned(),
            format!("sel._domainkey.signed.example. TXT {}", txt(&format!("v=DKIM1; k=rsa; p={public}"))),
            "quarantine.example. TXT \"v=spf1 -all\"".to_owned(),
            "_dmarc.quarantine.example. TXT \"v=DMARC1; p=quarantine\"".to_owned(),
            // An SPF record that includes itself: a permanent error, not a hang.
            "loop.example. TXT \"v=spf1 include:loop.example -all\"".to_owned(),
            // A block list that lists 127.0.0.5, and answers its own error code for 127.0.0.6.
            "5.0.0.127.bl.example. A 127.0.0.2".to_owned(),
            "6.0.0.127.bl.example. A 127.255.255.254".to_owned(),
        ]
        .join("\n"),
    );
    let servers = vec![knot.addr];
    let site = Site::start_with(vec![with_password(user("alice", "msk"), PASSWORD)], move |cfg| {
        cfg.door.auth.enabled = true;
        cfg.door.dnsbl = vec!["bl.example".into()];
        cfg.dns.servers = servers;
        cfg.dns.timeout_secs = 1.0;
    })
    .await;
    let code = |v: &Value| v["code"].as_u64().unwrap();

    // SPF passes for outside.example; a stranger's Authentication-Results claiming our domain go.
    let forged_ar = "Authentication-Results: example.org; dkim=pass header.d=bank.example\r\n";
    let plain = letter_from(dir, "Olga <olga@outside.example>", "from outside", forged_ar);
    let v = send_as(&site, "olga@outside.example", "127.0.0.1", &plain);
    assert_eq!(code(&v), 250, "{v}");
    // Signed by signed.example (SPF fails for it): DKIM passes and aligns, so DMARC passes.
    let unsigned = letter_from(dir, "Boss <boss@signed.example>", "signed letter", "");
    let signed = dir.join("signed.eml");
    dkim_sign(&unsigned, &key, "signed.example", "sel", &signed);
    let signed = signed.display().to_string();
    assert_eq!(code(&send_as(&site, "boss@signed.example", "127.0.0.1", &signed)), 250);
    // The same letter changed after signing: DKIM fails, SPF fails, p=reject: refused.
    let tampered = dir.join("tampered.eml");
    let text = std::fs::read_to_string(&signed).unwrap().replace("quarterly figures", "bank details");
    std::fs::write(&tampered, text).unwrap();
    let v = send_as(&site, "boss@signed.example", "127.0.0.1", &tampered.display().to_string());
    assert_eq!(code(&v), 550, "{v}");
    assert!(
        v["text"]
            .as_str()
            .unwrap()
            .starts_with("5.7.1 this message fails the DMARC policy of signed.example"),
        "{v}"
    );
    // Unsigned from signed.example: the same.
    assert_eq!(code(&send_as(&site, "boss@signed.example", "127.0.0.1", &unsigned)), 550);
    // p=quarantine: taken, into Junk.
    let q = letter_from(dir, "q@quarantine.example", "quarantined", "");
    assert_eq!(code(&send_as(&site, "q@quarantine.example", "127.0.0.1", &q)), 250);
    // A listed client is refused at MAIL FROM, naming the list; a list's error code is no listing.
    let v = send_as(&site, "olga@outside.example", "127.0.0.5", &plain);
    assert_eq!(code(&v), 554, "{v}");
    assert!(
        v["text"].as_str().unwrap().starts_with("5.7.1 client address 127.0.0.5 is listed at bl.example"),
        "{v}"
    );
    assert_eq!(code(&send_as(&site, "olga@outside.example", "127.0.0.6", &plain)), 250);
    // A looping SPF record: a normal answer (accepted, no DMARC record), with spf=permerror.
    let looping = letter_from(dir, "l@loop.example", "looping spf", "");
    assert_eq!(code(&send_as(&site, "l@loop.example", "127.0.0.1", &looping)), 250);

    let f =
        wait_for(&site, |f| count(f, "INBOX", "looping spf") == 1 && count(f, "Junk", "quarantined") == 1)
            .await;
    let h = header(&f, "INBOX", "from outside");
    assert!(h.contains("Authentication-Results: msk.example.org;") && h.contains("spf=pass"), "{h}");
    assert!(h.contains("dmarc=pass") && !h.contains("bank.example"), "the forged results are gone: {h}");
    assert_eq!(h.matches("Authentication-Results:").count(), 1, "{h}");
    assert_eq!(refused(&metrics(&site).await, "dnsbl"), 1);
    let h = header(&f, "INBOX", "signed letter");
    assert!(
        h.contains("dkim=pass") && h.contains("header.i=@signed.example") && h.contains("dmarc=pass"),
        "{h}"
    );
    assert!(header(&f, "INBOX", "looping spf").contains("spf=permerror"), "{f}");
    assert_eq!(count(&f, "INBOX", "quarantined"), 0);
    let m = metrics(&site).await;
    assert_eq!(refused(&m, "dmarc"), 2, "{m}");
    drop(knot);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_resolver_that_does_not_answer_defers_mail_rather_than_let_it_in_unchecked() {
    // A DNS server address where nothing answers.
    let servers = vec![format!("127.0.0.1:{}", free_port()).parse().unwrap()];
    let site = Site::start_with(vec![with_password(user("alice", "msk"), PASSWORD)], move |cfg| {
        cfg.door.auth.enabled = true;
        cfg.dns.servers = servers;
        cfg.dns.timeout_secs = 0.3;
    })
    .await;
    let scratch = tempfile::tempdir().unwrap();
    let l = letter_from(scratch.path(), "x@outside.example", "no dns", "");
    let v = send_as(&site, "x@outside.example", "127.0.0.1", &l);
    assert_eq!(v["code"], 451, "{v}");
    assert!(v["text"].as_str().unwrap().contains("cannot check the DMARC policy"), "{v}");
}

/// Hostile letters through every check at once (rspamd, clamd, SPF/DKIM/DMARC against a DNS
/// server that knows nothing of them): each gets a normal answer within the session's time,
/// and the agent takes the next letter as usual.
#[tokio::test(flavor = "multi_thread")]
async fn hostile_letters_get_a_normal_answer_and_the_door_stays_up() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path();
    let listen = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let rspamd = private::rspamd(&dir.join("rspamd"), listen).unwrap();
    let clamd = private::clamd(&dir.join("clamd")).unwrap();
    let knot =
        Knot::start(&dir.join("knot"), "example", "outside.example. TXT \"v=spf1 ip4:127.0.0.0/8 -all\"");
    let (r, c, servers) = (rspamd.at.clone(), clamd.at.clone(), vec![knot.addr]);
    let site = Site::start_with(vec![with_password(user("alice", "msk"), PASSWORD)], move |cfg| {
        cfg.door.rspamd = r;
        cfg.door.clamd = c;
        cfg.door.auth.enabled = true;
        cfg.dns.servers = servers;
        cfg.smtp.max_message_bytes = 8 * 1024 * 1024;
    })
    .await;
    let mut nested =
        String::from("MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b0\"\r\n\r\n");
    for i in 0..10_000 {
        nested.push_str(&format!("--b{i}\r\nContent-Type: multipart/mixed; boundary=\"b{}\"\r\n\r\n", i + 1));
    }
    nested.push_str("innermost\r\n");
    let folded: String = (0..900).map(|i| format!(" word{i:04} {}\r\n", "x".repeat(1000))).collect();
    let hostile = [
        ("nested", nested),
        ("huge header", format!("X-Huge:{folded}\r\nbody\r\n")),
        (
            "bad dkim",
            "DKIM-Signature: v=1; a=rsa-sha256; d=outside.example; s=nope; h=from; bh=###; b=!!!\r\n\
             DKIM-Signature: garbage\r\n\r\nbody\r\n"
                .to_owned(),
        ),
        (
            "broken mime",
            "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"never\"\r\n\r\n--never\r\n\
             Content-Transfer-Encoding: base64\r\nContent-Type: application/zip\r\n\r\n@@@not base64@@@\r\n"
                .to_owned(),
        ),
    ];
    for (name, rest) in hostile {
        let path = dir.join(format!("{}.eml", name.replace(' ', "-")));
        let head = format!(
            "From: Olga <olga@outside.example>\r\nTo: alice@example.org\r\nSubject: {name}\r\n\
             Date: Thu, 03 Dec 2026 09:00:00 +0000\r\nMessage-ID: <{}@outside.example>\r\n",
            name.replace(' ', ".")
        );
        // Each brings the rest of its header and the empty line that ends it.
        std::fs::write(&path, format!("{head}{rest}")).unwrap();
        let v = send_as(&site, "olga@outside.example", "127.0.0.1", &path.display().to_string());
        let code = v["code"].as_u64().unwrap();
        assert!([250, 550, 552, 554].contains(&code), "{name}: {v}");
    }
    let fine = letter_from(dir, "Olga <olga@outside.example>", "after the hostile ones", "");
    let v = send_as(&site, "olga@outside.example", "127.0.0.1", &fine);
    assert_eq!(v["code"], 250, "{v}");
    wait_for(&site, |f| count(f, "INBOX", "after the hostile ones") == 1).await;
    drop((rspamd, clamd, knot));
}
