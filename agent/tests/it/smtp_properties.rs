//! The fuzz targets' properties (see `fuzz/`) as proptests on stable, so every run of the
//! suite checks them: the DATA receiver, the path parser and the session's replies.

use std::sync::Arc;

use pochta_agent::deliver::client::dot_stuff;
use pochta_agent::metrics::Counters;
use pochta_agent::queue::QueueId;
use pochta_agent::smtp::data::{DataReceiver, check_chunked};
use pochta_agent::smtp::path::Path;
use pochta_agent::smtp::session::Action;
use pochta_agent::smtp::{Limits, Role, Session, Step};
use proptest::prelude::*;

use crate::smtp_harness::{session_config, view};

/// What a receiver made of `input` fed in the pieces cut at `cuts`.
fn receive(input: &[u8], cuts: &[usize]) -> (Option<usize>, Vec<u8>, usize, bool, Option<&'static str>) {
    let mut rx = DataReceiver::new(256, false);
    let mut at = 0;
    let mut end = None;
    let mut bounds: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    bounds.sort();
    bounds.push(input.len());
    for b in bounds {
        if b < at || end.is_some() {
            continue;
        }
        if let Some(n) = rx.ingest(&input[at..b]) {
            end = Some(at + n);
        }
        at = b;
    }
    (end, rx.body.clone(), rx.size, rx.oversized, rx.bare.map(|b| b.what()))
}

/// Bytes made mostly of what matters to a DATA parser.
fn smtp_bytes() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'.'), Just(b'a'), any::<u8>()],
        0..400,
    )
}

fn well_formed(out: &[u8]) -> Result<(), TestCaseError> {
    if out.is_empty() {
        return Ok(());
    }
    prop_assert!(out.ends_with(b"\r\n"));
    for line in out[..out.len() - 2].split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        prop_assert!(line.len() + 2 <= 512, "over 512 octets");
        prop_assert!(line.len() >= 4 && line[..3].iter().all(u8::is_ascii_digit));
        prop_assert!((b'2'..=b'5').contains(&line[0]) && matches!(line[3], b' ' | b'-'));
        prop_assert!(!line.contains(&b'\r'), "bare CR in a reply");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Where a message ends and what it holds does not depend on how the bytes arrived.
    #[test]
    fn data_is_the_same_however_it_is_chunked(input in smtp_bytes(), cuts in proptest::collection::vec(any::<usize>(), 0..12)) {
        let whole = receive(&input, &[]);
        prop_assert_eq!(receive(&input, &cuts), whole.clone());
        let bytes: Vec<usize> = (0..input.len()).collect();
        prop_assert_eq!(receive(&input, &bytes), whole);
    }

    /// A message of CRLF lines, dot-stuffed as our client sends it, comes back unchanged.
    #[test]
    fn dot_stuffing_round_trips(lines in proptest::collection::vec("[.a-z ]{0,12}", 0..12)) {
        let msg: Vec<u8> = lines.iter().flat_map(|l| format!("{l}\r\n").into_bytes()).collect();
        let mut rx = DataReceiver::new(1 << 16, false);
        let stuffed = dot_stuff(&msg);
        prop_assert_eq!(rx.ingest(&stuffed), Some(stuffed.len()));
        prop_assert_eq!(&rx.body, &msg);
        prop_assert!(rx.bare.is_none());
    }

    /// BDAT: a normalised message checks clean; refusing bare LF never normalises.
    #[test]
    fn chunked_checks_are_idempotent(input in smtp_bytes()) {
        if let Ok(Some(normal)) = check_chunked(&input, false) {
            prop_assert_eq!(check_chunked(&normal, false), Ok(None));
        }
        prop_assert!(!matches!(check_chunked(&input, true), Ok(Some(_))));
    }

    /// Whatever parses as a path is written out again and parses to the same value.
    #[test]
    fn paths_reparse(mailbox in "[a-z.\"@%!:,\\\\ ]{0,16}", route in any::<bool>(), params in proptest::collection::vec("[A-Z0-9-]{1,6}(=[a-z0-9]{0,4})?", 0..3)) {
        let args = format!("TO:<{}{mailbox}> {}", if route { "@relay.example:" } else { "" }, params.join(" "));
        if let Ok(p) = Path::parse(&args, "TO") {
            let mut text = format!("TO:<{}{}>", if p.source_route { "@relay.example:" } else { "" }, p.mailbox);
            for (k, v) in &p.params {
                text.push(' ');
                text.push_str(k);
                if let Some(v) = v {
                    text.push('=');
                    text.push_str(v);
                }
            }
            prop_assert_eq!(Path::parse(&text, "TO"), Ok(p), "{} from {}", text, args);
        }
    }

    /// Whatever a client sends, in whatever reads: every reply line is `ddd[ -]text CRLF` of at
    /// most 512 octets, and nothing is answered before a complete line arrived.
    #[test]
    fn session_replies_are_well_formed(
        words in proptest::collection::vec(prop_oneof![
            Just("EHLO x\r\n".to_owned()), Just("MAIL FROM:<a@b.example>\r\n".to_owned()),
            Just("RCPT TO:<ivanov@example.org>\r\n".to_owned()), Just("DATA\r\n".to_owned()),
            Just(".\r\n".to_owned()), Just("BDAT 5 LAST\r\n".to_owned()), Just("AUTH PLAIN\r\n".to_owned()),
            Just("RSET\r\n".to_owned()), "[ -~]{0,40}\r?\n?",
        ], 0..20),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let input: Vec<u8> = words.concat().into_bytes();
        let mut s = Session::new(
            Arc::new(session_config(Limits::default())), view(false), Arc::new(Counters::default()),
            Role::Mx, "192.0.2.7".parse().unwrap(), true, false,
        );
        well_formed(&s.take_output())?;
        let mut bounds: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
        bounds.sort();
        bounds.push(input.len());
        let (mut at, mut seen_lf) = (0, false);
        'reads: for b in bounds {
            if b < at {
                continue;
            }
            seen_lf |= input[at..b].contains(&b'\n');
            s.feed(&input[at..b]);
            at = b;
            for _ in 0..10_000 {
                match s.step() {
                    Step::NeedInput => break,
                    Step::Close => break 'reads,
                    Step::Action(Action::StartTls) => s.tls_established(),
                    Step::Action(Action::Verify(v)) => s.verified(v.user, false),
                    Step::Action(Action::Enqueue(_)) => s.enqueued(Ok(QueueId("Q1".into()))),
                    Step::Action(Action::CheckSender(_)) => unreachable!("these sessions have no door"),
                }
            }
            let out = s.take_output();
            prop_assert!(seen_lf || out.is_empty(), "answered before a complete line");
            well_formed(&out)?;
        }
        well_formed(&s.take_output())?;
    }
}
