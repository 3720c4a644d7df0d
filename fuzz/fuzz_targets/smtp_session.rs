//! The SMTP session driven by arbitrary bytes in arbitrary reads, through its public API only.
//!
//! * every reply line is `ddd[ -]text\r\n`, at most 512 octets (RFC 5321 §4.5.3.1.5);
//! * nothing but the greeting is written before the client sent a complete line;
//! * the session keeps stepping to `NeedInput` or `Close` (no livelock: bounded steps per read).
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use pochta_agent::metrics::Counters;
use pochta_agent::queue::{QueueError, QueueId};
use pochta_agent::smtp::session::Action;
use pochta_agent::smtp::{DirectoryView, Limits, Role, Session, SessionConfig, Step};
use pochta_directory::{Directory, Domain, Level, LocalPart, Op, Site, SiteId, User};

struct Fixed(Arc<Directory>);

impl DirectoryView for Fixed {
    fn directory(&self) -> Arc<Directory> {
        self.0.clone()
    }
    fn stale(&self) -> bool {
        false
    }
}

fn directory() -> Arc<Directory> {
    static DIR: std::sync::OnceLock<Arc<Directory>> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let mut dir = Directory::new(Domain::parse("example.org").unwrap());
        let site = |id: &str| Site {
            id: SiteId::parse(id).unwrap(),
            name: id.into(),
            level: Level::One,
            agents: vec![],
            default_quota: None, outgoing: vec![],
        };
        let user = |name: &str, at: &str| User {
            name: LocalPart::parse(name).unwrap(),
            display_name: name.into(),
            site: SiteId::parse(at).unwrap(),
            former_sites: Default::default(),
            password: None,
            enabled: true,
            mailbox: Default::default(),
            app_passwords: Vec::new(),
        };
        dir.apply_all(&[
            Op::PutSite(site("msk")),
            Op::PutSite(site("spb")),
            Op::PutUser(user("ivanov", "msk")),
            Op::PutUser(user("sidorov", "spb")),
        ])
        .unwrap();
        Arc::new(dir)
    })
    .clone()
}

fn config() -> Arc<SessionConfig> {
    let mut limits = Limits::default();
    // Small limits so that the fuzzer reaches the drains and refusals.
    limits.max_command_line = 128;
    limits.max_message = 2048;
    limits.max_recipients = 4;
    Arc::new(SessionConfig {
        hostname: "msk.example.org".into(),
        site: SiteId::parse("msk").unwrap(),
        agent_id: "agent-msk".into(),
        peer_secret: "peer-secret".into(),
        limits,
    })
}

#[track_caller]
fn check_replies(out: &[u8]) {
    if out.is_empty() {
        return;
    }
    assert!(out.ends_with(b"\r\n"), "output does not end in CRLF: {:?}", String::from_utf8_lossy(out));
    for line in out[..out.len() - 2].split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let shown = String::from_utf8_lossy(line);
        assert!(line.len() + 2 <= 512, "reply line over 512 octets: {shown:?}");
        assert!(line.len() >= 4, "short reply line: {shown:?}");
        assert!(line[..3].iter().all(u8::is_ascii_digit), "no code: {shown:?}");
        assert!((b'2'..=b'5').contains(&line[0]), "bad code: {shown:?}");
        assert!(line[3] == b' ' || line[3] == b'-', "bad separator: {shown:?}");
        assert!(!line.contains(&b'\r'), "bare CR in reply: {shown:?}");
    }
    assert!(!out.windows(2).any(|w| w[1] == b'\n' && w[0] != b'\r'), "bare LF in reply");
}

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, data)) = data.split_first() else { return };
    let role = [Role::Mx, Role::Submission, Role::Submissions, Role::Mx][usize::from(ctl & 3)];
    let queue_ok = ctl & 4 == 0;
    let auth_ok = ctl & 8 == 0;
    let mut s = Session::new(
        config(),
        Arc::new(Fixed(directory())),
        Arc::new(Counters::default()),
        role,
        "192.0.2.7".parse().unwrap(),
        true,
        role == Role::Submissions,
    );
    let greeting = s.take_output();
    check_replies(&greeting);
    assert!(greeting.starts_with(b"220 "));

    // Reads: a length byte, then that many bytes.
    let mut rest = data;
    let mut seen_lf = false;
    let mut queued = 0;
    while let Some((&n, tail)) = rest.split_first() {
        let (chunk, tail) = tail.split_at(usize::from(n).min(tail.len()));
        rest = tail;
        seen_lf |= chunk.contains(&b'\n');
        s.feed(chunk);
        let mut steps = 0;
        let closed = loop {
            steps += 1;
            assert!(steps < 10_000, "the session does not settle");
            match s.step() {
                Step::NeedInput => break false,
                Step::Close => break true,
                Step::Action(Action::StartTls) => {
                    check_replies(&s.take_output());
                    s.tls_established();
                }
                Step::Action(Action::Verify(v)) => s.verified(v.user, auth_ok),
                Step::Action(Action::Enqueue(_)) => {
                    queued += 1;
                    if queue_ok {
                        s.enqueued(Ok(QueueId(format!("Q{queued}"))));
                    } else {
                        s.enqueued(Err(QueueError::Full));
                    }
                }
            }
        };
        let out = s.take_output();
        if !seen_lf {
            assert!(out.is_empty(), "answered before a complete line: {:?}", String::from_utf8_lossy(&out));
        }
        check_replies(&out);
        if closed {
            assert!(s.is_closed());
            break;
        }
    }
});
