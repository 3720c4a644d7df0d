//! Password guessing across addresses and protocols: wrong passwords for one account from
//! three client addresses, over SMTP AUTH and IMAP, pause the account for strangers — the right
//! password from a fourth address is refused without being checked (SMTP `454 4.7.0`, IMAP
//! `NO`) — while the owner, from the address he logged in from before, gets in at once on both.
//! Before the throttle, the fourth address was let in at once.

use serde_json::Value;

use crate::helpers::user;
use crate::imap::{PASSWORD, Site, py, with_password};

/// One login from `source`: `{"ok": bool, "text": the server's answer}`.
const LOGIN: &str = r#"
import imaplib, smtplib, socket, ssl, sys, json
proto, host, port, login, password, source = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]
ctx = ssl._create_unverified_context()
if proto == "smtp":
    s = smtplib.SMTP_SSL(host, port, context=ctx, source_address=(source, 0), timeout=30)
    # One mechanism: smtplib would otherwise try the next one after a 535, two failures a try.
    s.ehlo(); s.esmtp_features["auth"] = "PLAIN"
    try:
        s.login(login, password); print(json.dumps({"ok": True, "text": "235"}))
    except smtplib.SMTPAuthenticationError as e:
        print(json.dumps({"ok": False, "text": "%d %s" % (e.smtp_code, e.smtp_error.decode())}))
else:
    plain = socket.create_connection
    socket.create_connection = lambda addr, timeout=None, source_address=None: plain(addr, timeout, (source, 0))
    m = imaplib.IMAP4_SSL(host, port, ssl_context=ctx)
    try:
        m.login(login, password); print(json.dumps({"ok": True, "text": "OK"})); m.logout()
    except imaplib.IMAP4.error as e:
        print(json.dumps({"ok": False, "text": str(e)}))
"#;

fn login(site: &Site, proto: &str, who: &str, password: &str, source: &str) -> Value {
    let addr = match proto {
        "smtp" => site.agent.running().smtp_addrs().submissions.unwrap(),
        _ => site.ports().imaps,
    };
    let args = [proto, &addr.ip().to_string(), &addr.port().to_string(), who, password, source];
    py(LOGIN, &args.map(str::to_owned))
}

#[tokio::test(flavor = "multi_thread")]
async fn guessing_over_smtp_and_imap_from_many_addresses_slows_strangers_not_the_owner() {
    // A first wait of ten minutes: the test's pace cannot outlast it.
    let site = Site::start_with(vec![with_password(user("alice", "msk"), PASSWORD)], |cfg| {
        cfg.logins.first_delay_secs = 600;
    })
    .await;
    let owner = "127.0.0.1";
    let v = login(&site, "imap", "alice", PASSWORD, owner);
    assert_eq!(v["ok"], true, "{v}");

    // Ten wrong passwords from three addresses, alternating SMTP AUTH and IMAP.
    let mut answers = Vec::new();
    for i in 0..10 {
        let proto = if i % 2 == 0 { "smtp" } else { "imap" };
        let source = format!("127.0.0.{}", 2 + i % 3);
        let v = login(&site, proto, "alice@example.org", "not the password", &source);
        assert_eq!(v["ok"], false, "{v}");
        answers.push(v["text"].as_str().unwrap().to_owned());
    }
    // The first five and the sixth were checked and failed; from then on the account is paused.
    let checked = |t: &String| t.starts_with("535 5.7.8") || t.contains("[AUTHENTICATIONFAILED]");
    let paused = |t: &String| t.starts_with("454 4.7.0") || t.contains("Too many failed logins");
    assert!(answers[..6].iter().all(checked), "{answers:?}");
    assert!(answers[6..].iter().all(paused), "{answers:?}");

    // The right password from a fourth address: refused, on both protocols.
    let v = login(&site, "smtp", "alice@example.org", PASSWORD, "127.0.0.9");
    assert_eq!(v["ok"], false, "{v}");
    assert!(v["text"].as_str().unwrap().starts_with("454 4.7.0 too many failed logins"), "{v}");
    let v = login(&site, "imap", "alice", PASSWORD, "127.0.0.9");
    assert_eq!(v["ok"], false, "{v}");
    assert!(v["text"].as_str().unwrap().contains("Too many failed logins"), "{v}");

    // The owner, from his usual address, is in at once on both.
    let v = login(&site, "smtp", "alice@example.org", PASSWORD, owner);
    assert_eq!(v["ok"], true, "{v}");
    let v = login(&site, "imap", "alice", PASSWORD, owner);
    assert_eq!(v["ok"], true, "{v}");
}
