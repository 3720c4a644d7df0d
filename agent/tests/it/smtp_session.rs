//! The SMTP session in memory: replies, policy, limits and attack classes, table-driven.

use pochta_agent::queue::Origin;
use pochta_agent::smtp::{Limits, Role};

use crate::helpers::addr;
use crate::smtp_harness::*;

#[test]
fn rcpt_policy_from_the_replica() {
    // (recipient, code, enhanced status)
    let table: &[(&str, u16, &str)] = &[
        ("ivanov@example.org", 250, "2.1.5"),
        ("IVANOV@Example.ORG", 250, "2.1.5"),
        ("ivanov@msk.example.org", 250, "2.1.5"),
        // A former site's address keeps working.
        ("ivanov@spb.example.org", 250, "2.1.5"),
        ("team@example.org", 250, "2.1.5"),
        ("nobody@example.org", 550, "5.1.1"),
        ("petrov@spb.example.org", 550, "5.1.1"),
        ("nobody@msk.example.org", 550, "5.1.1"),
        ("kuznetsov@example.org", 550, "5.2.1"),
        ("staff@example.org", 550, "5.7.1"),
        ("board@example.org", 550, "5.7.1"),
        ("all@example.org", 550, "5.7.1"),
        ("all@msk.example.org", 550, "5.7.1"),
        ("friend@gmail.com", 554, "5.7.1"),
        // Open-relay tricks: never routed, refused as relaying.
        ("friend%gmail.com@example.org", 554, "5.7.1"),
        ("gmail.com!friend@example.org", 554, "5.7.1"),
        ("\"friend@gmail.com\"@example.org", 554, "5.7.1"),
        ("@example.org:friend@gmail.com", 554, "5.7.1"),
        ("@example.org,@msk.example.org:ivanov@example.org", 554, "5.7.1"),
        // Syntax.
        ("no-at-sign", 553, "5.1.3"),
        ("a@[192.0.2.1]", 553, "5.1.3"),
    ];
    for (rcpt, code, status) in table {
        let mut s = S::new(Role::Mx);
        s.ehlo().expect(250);
        s.mail("stranger@outside.net").expect(250);
        let r = s.rcpt(rcpt);
        r.expect(*code).status(status);
    }
}

/// `pochta-agent resolve` and `GET /resolve` ask the same policy as RCPT: for every recipient
/// SMTP can be asked about (a plain path, no routing tricks), the look-up's code and status are
/// SMTP's, fresh or stale.
#[test]
fn the_look_up_answers_what_smtp_answers() {
    use pochta_agent::routing::Routing;
    let rcpts = [
        "ivanov@example.org",
        "ivanov@spb.example.org",
        "team@example.org",
        "nobody@example.org",
        "kuznetsov@example.org",
        "staff@example.org",
        "all@example.org",
        "friend@gmail.com",
        "postmaster",
        "no-at-sign",
        "a@[192.0.2.1]",
    ];
    for stale in [false, true] {
        for rcpt in rcpts {
            let mut s = S::with(Role::Mx, Limits::default(), stale);
            s.ehlo();
            s.mail("stranger@outside.net").expect(250);
            let smtp = s.rcpt(rcpt);
            let (code, text) = smtp.0.last().cloned().unwrap();
            let look_up = Routing::of(&fixture(), rcpt, Some("stranger@outside.net"), false, stale);
            match look_up {
                Routing::Accepted { .. } => assert_eq!(code, 250, "{rcpt} (stale {stale}): {text}"),
                Routing::Rejected { code: c, status, .. } => {
                    assert_eq!(
                        (c, status.as_str()),
                        (code, text.split(' ').nth(1).unwrap()),
                        "{rcpt} (stale {stale})"
                    )
                }
            }
        }
    }
}

#[test]
fn stale_replica_defers_unknown_recipients() {
    let mut s = S::with(Role::Mx, Limits::default(), true);
    s.ehlo();
    s.mail("stranger@outside.net").expect(250);
    s.rcpt("nobody@example.org").expect(450).status("4.1.1");
    // Known ones and real refusals stay as they are.
    s.rcpt("ivanov@example.org").expect(250);
    s.rcpt("kuznetsov@example.org").expect(550);
    s.rcpt("friend@gmail.com").expect(554);
}

#[test]
fn a_message_is_queued_with_our_received_header() {
    let mut s = S::new(Role::Mx);
    s.ehlo();
    s.mail("stranger@outside.net").expect(250).status("2.1.0");
    s.rcpt("ivanov@example.org").expect(250);
    s.rcpt("nobody@example.org").expect(550);
    s.rcpt("team@example.org").expect(250);
    let r = s.data("Subject: hi\r\n\r\n..dot line\r\nbody");
    r.expect(250).status("2.0.0");
    assert!(r.text().contains("queued as Q1"), "{r:?}");
    assert_eq!(s.queued.len(), 1);
    let m = &s.queued[0];
    assert_eq!(m.origin, Origin::Outside);
    assert_eq!(m.reverse_path.as_ref().unwrap().to_string(), "stranger@outside.net");
    let rcpts: Vec<String> = m.recipients.iter().map(ToString::to_string).collect();
    assert_eq!(rcpts, ["ivanov@example.org", "team@example.org"]);
    let text = String::from_utf8(m.data.clone()).unwrap();
    assert!(text.starts_with("Received: from client.example.net ([192.0.2.7])\r\n\tby msk.example.org (Pochta agent agent-msk, site msk)\r\n\twith ESMTP;"), "{text}");
    assert!(
        text.ends_with("\r\n\r\nSubject: hi\r\n\r\n.dot line\r\nbody\r\n")
            || text.contains("Subject: hi\r\n\r\n.dot line\r\nbody\r\n"),
        "{text}"
    );
    assert_eq!(s.counters.snapshot().accepted, 1);
    assert_eq!(s.counters.snapshot().rejected.get("unknown_recipient"), Some(&1));
    // The transaction is over: a new one starts clean.
    s.cmd("DATA").expect(503);
}

#[test]
fn queue_failure_is_451_and_nothing_is_acknowledged() {
    let mut s = S::new(Role::Mx);
    s.fail_queue = true;
    s.ehlo();
    s.mail("").expect(250);
    s.rcpt("ivanov@example.org").expect(250);
    s.data("x").expect(451).status("4.3.0");
    assert_eq!(s.counters.snapshot().accepted, 0);
}

#[test]
fn pipelined_commands_are_answered_in_one_write() {
    let mut s = S::new(Role::Mx);
    s.ehlo();
    let before = s.writes;
    let r = s.send(
        b"MAIL FROM:<a@outside.net>\r\nRCPT TO:<ivanov@example.org>\r\nRCPT TO:<nobody@example.org>\r\nRCPT TO:<petrov@example.org>\r\nDATA\r\n",
    );
    assert_eq!(r.codes(), [250, 250, 550, 250, 354]);
    assert_eq!(s.writes, before + 1);
    // Data and the next transaction in one go, too.
    let r =
        s.send(b"hello\r\n.\r\nMAIL FROM:<>\r\nRCPT TO:<petrov@example.org>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n");
    assert_eq!(r.codes(), [250, 250, 250, 354, 250, 221]);
    assert_eq!(s.queued.len(), 2);
    assert!(s.closed());
}

#[test]
fn ehlo_lists_the_extensions() {
    let mut s = S::new(Role::Mx);
    s.session.feed(b"EHLO x.example\r\n");
    let _ = s.session.step();
    let out = String::from_utf8(s.session.take_output()).unwrap();
    for ext in
        ["PIPELINING", "SIZE 33554432", "8BITMIME", "ENHANCEDSTATUSCODES", "SMTPUTF8", "CHUNKING", "STARTTLS"]
    {
        assert!(
            out.contains(&format!("250-{ext}\r\n")) || out.contains(&format!("250 {ext}\r\n")),
            "{ext} in {out}"
        );
    }
    assert!(!out.contains("AUTH"), "no AUTH before TLS: {out}");
    s.cmd("STARTTLS").expect(220);
    s.session.feed(b"EHLO x.example\r\n");
    let _ = s.session.step();
    let out = String::from_utf8(s.session.take_output()).unwrap();
    assert!(out.contains("AUTH PLAIN LOGIN") && !out.contains("STARTTLS"), "{out}");
}

#[test]
fn sequence_and_syntax_errors() {
    let table: &[(&[&str], u16, &str)] = &[
        (&["MAIL FROM:<a@b.org>"], 503, "5.5.1"),
        (&["EHLO x", "RCPT TO:<ivanov@example.org>"], 503, "5.5.1"),
        (&["EHLO x", "DATA"], 503, "5.5.1"),
        (&["EHLO x", "MAIL FROM:<a@b.org>", "MAIL FROM:<a@b.org>"], 503, "5.5.1"),
        (&["EHLO x", "MAIL FROM:<a@b.org>", "DATA"], 554, "5.5.1"),
        (&["EHLO x", "MAIL FROM:a@b.org"], 501, "5.5.4"),
        (&["EHLO x", "MAIL FROM:<a b@b.org>"], 553, "5.1.7"),
        (&["EHLO x", "MAIL FROM:<a@b.org> SIZE=999999999999"], 552, "5.3.4"),
        (&["EHLO x", "MAIL FROM:<a@b.org> FOO=BAR"], 555, "5.5.4"),
        (&["EHLO x", "MAIL FROM:<ü@b.org>"], 553, "5.6.7"),
        (&["EHLO x", "MAIL FROM:<ü@b.org> SMTPUTF8"], 250, "2.1.0"),
        (&["EHLO x", "MAIL FROM:<a@b.org>", "RCPT TO:<ivanov@example.org> NOTIFY=NEVER"], 555, "5.5.4"),
        (&["EHLO x", "AUTH PLAIN"], 538, "5.7.11"),
        (&["EHLO x", "STARTTLS", "STARTTLS"], 503, "5.5.1"),
        (&["XYZZY"], 500, "5.5.1"),
        (&["EXPN staff"], 502, "5.5.1"),
        (&["VRFY ivanov"], 252, "2.5.0"),
        (&["NOOP"], 250, "2.0.0"),
        (&["RSET"], 250, "2.0.0"),
    ];
    for (cmds, code, status) in table {
        let mut s = S::new(Role::Mx);
        let mut last = None;
        for c in *cmds {
            last = Some(s.cmd(c));
        }
        last.unwrap().expect(*code).status(status);
    }
}

#[test]
fn long_lines_are_drained_and_the_stream_stays_in_step() {
    let mut s = S::new(Role::Mx);
    s.ehlo();
    let long = format!("NOOP {}\r\n", "x".repeat(5000));
    // In pieces, so that the drain spans reads.
    let (a, b) = long.as_bytes().split_at(3000);
    s.send(a);
    let r = s.send(b);
    r.expect(500).status("5.5.2");
    s.cmd("NOOP").expect(250);
    s.mail("a@outside.net").expect(250);
}

#[test]
fn oversized_messages_are_drained_and_refused() {
    let limits = Limits { max_message: 100, ..Limits::default() };
    let mut s = S::with(Role::Mx, limits, false);
    s.ehlo();
    s.mail("a@outside.net").expect(250);
    s.rcpt("ivanov@example.org").expect(250);
    s.cmd("DATA").expect(354);
    s.send("y".repeat(80).as_bytes());
    s.send(format!("{}\r\nRSET\r\n", "z".repeat(80)).as_bytes());
    let r = s.send(b".\r\nNOOP\r\n");
    assert_eq!(r.codes(), [552, 250]);
    assert!(s.queued.is_empty());
}

#[test]
fn recipient_and_error_limits() {
    let limits = Limits { max_recipients: 2, max_errors: 4, ..Limits::default() };
    let mut s = S::with(Role::Mx, limits, false);
    s.ehlo();
    s.mail("a@outside.net").expect(250);
    s.rcpt("ivanov@example.org").expect(250);
    s.rcpt("petrov@example.org").expect(250);
    s.rcpt("team@example.org").expect(452).status("4.5.3");
    s.rcpt("x@example.org").expect(452);
    s.cmd("BOGUS").expect(500);
    let r = s.cmd("BOGUS");
    assert_eq!(r.codes(), [500, 421]);
    assert!(s.closed());
}

#[test]
fn envelope_injection_is_refused_whole() {
    let mut s = S::new(Role::Mx);
    s.ehlo();
    s.mail("a@outside.net").expect(250);
    // A bare CR would let a naive parser see a second command.
    s.cmd("RCPT TO:<ivanov@example.org>\rRCPT TO:<friend@gmail.com>").expect(500).status("5.5.2");
    s.cmd("RCPT TO:<ivanov@example.org\r>").expect(500);
    s.send(b"RCPT TO:<ivanov@example.org>\0\r\n").expect(500);
    // Nothing was added.
    s.cmd("DATA").expect(554);
}

#[test]
fn smuggling_attempts_never_end_the_message_early() {
    let smuggled = [
        "\n.\r\nMAIL FROM:<evil@outside.net>\r\nRCPT TO:<petrov@example.org>\r\nDATA\r\nforged\r\n",
        "\n.\nMAIL FROM:<evil@outside.net>\r\nRCPT TO:<petrov@example.org>\r\nDATA\r\nforged\r\n",
        "\r\n.\nMAIL FROM:<evil@outside.net>\r\nRCPT TO:<petrov@example.org>\r\nDATA\r\nforged\r\n",
        "\r.\r\nMAIL FROM:<evil@outside.net>\r\nRCPT TO:<petrov@example.org>\r\nDATA\r\nforged\r\n",
        "\r.\rMAIL FROM:<evil@outside.net>\r\nRCPT TO:<petrov@example.org>\r\nDATA\r\nforged\r\n",
    ];
    for body in smuggled {
        let mut s = S::new(Role::Mx);
        s.ehlo();
        s.mail("a@outside.net").expect(250);
        s.rcpt("ivanov@example.org").expect(250);
        s.cmd("DATA").expect(354);
        let r = s.send(format!("Subject: x\r\n\r\nhello{body}\r\n.\r\n").as_bytes());
        assert_eq!(r.codes(), [550], "{body:?}: one answer, for one message");
        r.status("5.5.2");
        assert!(s.queued.is_empty(), "{body:?}");
        s.cmd("NOOP").expect(250);
    }
    // A bare LF elsewhere is refused on the port-25 role by default (no conforming MTA sends
    // one; smuggling is built on them)...
    let mut s = S::new(Role::Mx);
    s.ehlo();
    s.mail("a@outside.net");
    s.rcpt("ivanov@example.org");
    s.data("a\nb").expect(550).status("5.5.2");
    assert!(s.queued.is_empty());
    // ...and normalised where the limits say so (the submission listeners' default).
    let mut s = S::with(Role::Mx, Limits { reject_bare_lf_mx: false, ..Limits::default() }, false);
    s.ehlo();
    s.mail("a@outside.net");
    s.rcpt("ivanov@example.org");
    s.data("a\nb").expect(250);
    assert!(String::from_utf8_lossy(&s.queued[0].data).contains("a\r\nb\r\n"));
}

#[test]
fn a_bare_lf_never_ends_a_command() {
    let mut s = S::new(Role::Mx);
    s.ehlo();
    // `NOOP\n` is not run: one 500, nothing else.
    s.send(b"NOOP\n").expect(500).status("5.5.2");
    // A MAIL ended by a bare LF opens no transaction...
    s.send(b"MAIL FROM:<a@outside.net>\n").expect(500);
    s.rcpt("ivanov@example.org").expect(503);
    // ...and a proper line still works.
    s.mail("a@outside.net").expect(250);
    s.rcpt("ivanov@example.org").expect(250);
}

#[test]
fn header_loops_are_refused() {
    let mut s = S::new(Role::Mx);
    s.ehlo();
    s.mail("a@outside.net");
    s.rcpt("ivanov@example.org");
    let hops = "Received: from x by y; Tue, 14 Nov 2023 22:13:20 +0000\r\n".repeat(51);
    s.data(&format!("{hops}Subject: loop\r\n\r\nbody")).expect(554).status("5.4.6");
    s.mail("a@outside.net").expect(250);
    s.rcpt("ivanov@example.org");
    let hops = "Received: from x by y; Tue, 14 Nov 2023 22:13:20 +0000\r\n".repeat(50);
    s.data(&format!("{hops}Subject: ok\r\n\r\nbody")).expect(250);
}

#[test]
fn starttls_discards_what_was_sent_with_it() {
    let mut s = S::new(Role::Mx);
    s.ehlo();
    let r = s.send(b"STARTTLS\r\nMAIL FROM:<evil@outside.net>\r\nRCPT TO:<friend@gmail.com>\r\n");
    assert_eq!(r.codes(), [220]);
    // After the handshake the session starts over: no EHLO yet, no transaction.
    s.cmd("RCPT TO:<ivanov@example.org>").expect(503);
    s.cmd("MAIL FROM:<a@outside.net>").expect(503);
    s.ehlo().expect(250);
}

#[test]
fn submission_requires_tls_then_auth() {
    let mut s = S::new(Role::Submission);
    s.ehlo();
    s.mail("ivanov@example.org").expect(530).status("5.7.0");
    s.cmd("AUTH PLAIN").expect(538);
    s.cmd("STARTTLS").expect(220);
    s.ehlo();
    s.mail("ivanov@example.org").expect(530).status("5.7.0");
    s.cmd(&format!("AUTH PLAIN {}", plain("ivanov@example.org", PASSWORD))).expect(235).status("2.7.0");
    s.cmd("AUTH PLAIN").expect(503);
    // Only his own addresses as sender.
    s.mail("petrov@example.org").expect(553).status("5.7.1");
    s.mail("ivanov@spb.example.org").expect(250);
    s.rcpt("friend@gmail.com").expect(250);
    s.rcpt("staff@example.org").expect(250);
    s.rcpt("all@example.org").expect(250);
    s.rcpt("nobody@example.org").expect(550);
    s.data("Subject: out").expect(250);
    assert_eq!(s.queued[0].origin, Origin::User(addr("ivanov@example.org")));
    let text = String::from_utf8_lossy(&s.queued[0].data).into_owned();
    assert!(text.contains("with ESMTPSA;"), "{text}");
}

#[test]
fn auth_login_and_failures() {
    let mut s = S::new(Role::Submissions);
    s.ehlo();
    s.cmd("AUTH LOGIN").expect(334);
    s.cmd(&b64("ivanov@example.org")).expect(334);
    s.cmd(&b64(PASSWORD)).expect(235);

    let limits = Limits { max_auth_failures: 3, ..Limits::default() };
    let mut s = S::with(Role::Submissions, limits, false);
    s.ehlo();
    s.cmd(&format!("AUTH PLAIN {}", plain("ivanov@example.org", "wrong"))).expect(535).status("5.7.8");
    s.cmd("AUTH PLAIN").expect(334);
    s.cmd(&plain("nobody@example.org", PASSWORD)).expect(535);
    s.cmd("AUTH LOGIN").expect(334);
    s.cmd("*").expect(501);
    let r = s.cmd(&format!("AUTH PLAIN {}", plain("ivanov", PASSWORD)));
    r.expect(421).status("4.7.0");
    assert!(s.closed());
    assert_eq!(s.counters.snapshot().rejected.get("auth_failed"), Some(&3));
    // Another identity than the one authenticated: refused.
    let mut s = S::new(Role::Submissions);
    s.ehlo();
    use base64::Engine as _;
    let other = base64::engine::general_purpose::STANDARD
        .encode(format!("petrov@example.org\0ivanov@example.org\0{PASSWORD}"));
    s.cmd(&format!("AUTH PLAIN {other}")).expect(535);
}

#[test]
fn peer_agents_relay_anywhere() {
    let mut s = S::new(Role::Mx);
    s.ehlo();
    s.cmd("STARTTLS").expect(220);
    s.ehlo();
    s.cmd(&format!("AUTH PLAIN {}", plain("agent:agent-spb", "wrong secret"))).expect(535);
    s.cmd(&format!("AUTH PLAIN {}", plain("agent:agent-spb", pochta_agent_peer_secret()))).expect(235);
    s.mail("stranger@outside.net").expect(250);
    s.rcpt("friend@gmail.com").expect(250);
    // A peer's replica may be ahead of ours: unknown is "not yet".
    s.rcpt("brand-new@example.org").expect(450);
    s.rcpt("petrov@msk.example.org").expect(250);
    s.data("x").expect(250);
    assert_eq!(s.queued[0].origin, Origin::Peer { agent_id: "agent-spb".into() });
}

fn pochta_agent_peer_secret() -> &'static str {
    crate::helpers::PEER_SECRET
}

#[test]
fn bdat_chunks_and_refusals_keep_the_stream_in_step() {
    let mut s = S::new(Role::Mx);
    s.ehlo();
    // BDAT without a transaction: the chunk is read (and its "QUIT" never executed).
    let r = s.send(b"BDAT 6\r\nQUIT\r\nNOOP\r\n");
    assert_eq!(r.codes(), [503, 250]);
    assert!(!s.closed());
    s.mail("a@outside.net").expect(250);
    s.rcpt("ivanov@example.org").expect(250);
    let r = s.send(b"BDAT 13\r\nSubject: hi\r\n");
    r.expect(250);
    let r = s.send(b"BDAT 8 LAST\r\n\r\nbody\r\n");
    r.expect(250);
    assert!(r.text().contains("queued as"));
    let text = String::from_utf8_lossy(&s.queued[0].data).into_owned();
    assert!(text.ends_with("Subject: hi\r\n\r\nbody\r\n"), "{text}");
    // DATA and BDAT do not mix.
    s.mail("a@outside.net");
    s.rcpt("ivanov@example.org");
    s.send(b"BDAT 3\r\nabc").expect(250);
    s.cmd("DATA").expect(503);
    // A size over the limit: drained, refused, in step.
    let mut s = S::with(Role::Mx, Limits { max_message: 10, ..Limits::default() }, false);
    s.ehlo();
    s.mail("a@outside.net");
    s.rcpt("ivanov@example.org");
    let r = s.send(b"BDAT 21 LAST\r\nMAIL FROM:<x@y.org>\r\nNOOP\r\n");
    assert_eq!(r.codes(), [552, 250]);
    // A BDAT size we cannot read: close rather than read data as commands.
    let mut s = S::new(Role::Mx);
    s.ehlo();
    s.cmd("BDAT lots").expect(501);
    assert!(s.closed());
}

mod chunking {
    use super::*;
    use proptest::prelude::*;

    /// Feeds `input` in the given pieces; returns every reply byte for byte.
    fn replies(input: &[u8], cuts: &[usize]) -> (Vec<u16>, usize) {
        let mut s = S::new(Role::Mx);
        let mut codes = Vec::new();
        let mut at = 0;
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
        cuts.sort_unstable();
        for c in cuts.into_iter().chain([input.len()]) {
            codes.extend(s.send(&input[at..c.max(at)]).codes());
            at = c.max(at);
        }
        (codes, s.queued.len())
    }

    fn script() -> impl Strategy<Value = Vec<u8>> {
        let pieces = prop_oneof![
            Just(b"EHLO x.test\r\n".to_vec()),
            Just(b"MAIL FROM:<a@outside.net>\r\n".to_vec()),
            Just(b"RCPT TO:<ivanov@example.org>\r\n".to_vec()),
            Just(b"RCPT TO:<nobody@example.org>\r\n".to_vec()),
            Just(b"DATA\r\n".to_vec()),
            Just(b"hello\r\n.\r\n".to_vec()),
            Just(b"x\n.\r\n".to_vec()),
            Just(b"BDAT 5\r\nabcde".to_vec()),
            Just(b"BDAT 3 LAST\r\nxyz".to_vec()),
            Just(b"RSET\r\n".to_vec()),
            Just(b"NOOP\r\n".to_vec()),
            proptest::collection::vec(any::<u8>(), 0..40),
        ];
        proptest::collection::vec(pieces, 1..12).prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]
        /// However the bytes arrive, the session answers the same: no read boundary can
        /// change where a command or a message ends.
        #[test]
        fn read_boundaries_never_change_the_answers(input in script(), cuts in proptest::collection::vec(any::<usize>(), 0..8)) {
            let whole = replies(&input, &[]);
            let split = replies(&input, &cuts);
            prop_assert_eq!(whole, split);
        }
    }
}
