//! The DATA receiver and the BDAT check.
//!
//! * `DataReceiver::ingest`: the outcome (end offset, body, size, refusal) does not depend on how
//!   the input is split into reads;
//! * dot-stuffing any CRLF message and feeding it with its end marker gives the message back;
//! * `check_chunked`: a normalised message is clean (checking it again changes nothing), and
//!   with `reject_bare_lf` nothing is ever normalised.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pochta_agent::smtp::data::{DataReceiver, check_chunked};

#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    end: Option<usize>,
    body: Vec<u8>,
    size: usize,
    oversized: bool,
    bare: Option<pochta_agent::smtp::data::Bare>,
}

fn run(input: &[u8], max: usize, reject: bool, cuts: &[u8]) -> Outcome {
    let mut r = DataReceiver::new(max, reject);
    let mut off = 0;
    let mut end = None;
    let mut sizes = cuts.iter().cycle();
    while off < input.len() {
        let n = sizes.next().map_or(input.len(), |&c| usize::from(c) + 1);
        let chunk = &input[off..(off + n).min(input.len())];
        if let Some(k) = r.ingest(chunk) {
            end = Some(off + k);
            break;
        }
        off += chunk.len();
    }
    Outcome { end, body: r.body, size: r.size, oversized: r.oversized, bare: r.bare }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let reject = data[0] & 1 == 1;
    let max = usize::from(data[1]) * 4;
    let ncuts = usize::from(data[2] % 16).min(data.len() - 3);
    let (cuts, input) = data[3..].split_at(ncuts);

    // Chunking does not matter.
    let whole = run(input, max, reject, &[]);
    assert_eq!(run(input, max, reject, cuts), whole, "chunked by {cuts:?}");
    let bytewise = run(input, max, reject, &[0]);
    assert_eq!(bytewise, whole, "byte by byte");
    if let Some(end) = whole.end {
        assert!(end <= input.len());
        assert!(input[..end].ends_with(b"\r\n.\r\n") || input[..end] == *b".\r\n");
    }
    if !whole.oversized {
        assert_eq!(whole.body.len(), whole.size);
    }

    // Dot-stuffing round-trips: a message of CRLF lines, stuffed, comes back unchanged.
    let msg = crlf_lines(input);
    let mut stuffed = Vec::new();
    for line in msg.split_inclusive(|&b| b == b'\n') {
        if line.first() == Some(&b'.') {
            stuffed.push(b'.');
        }
        stuffed.extend_from_slice(line);
    }
    stuffed.extend_from_slice(b".\r\n");
    let got = run(&stuffed, usize::MAX, reject, cuts);
    assert_eq!(got.end, Some(stuffed.len()), "{stuffed:?}");
    assert_eq!(got.bare, None);
    assert_eq!(got.body, msg);

    // BDAT.
    match check_chunked(input, reject) {
        Ok(Some(normal)) => {
            assert!(!reject, "normalised although bare LF is refused");
            assert_eq!(check_chunked(&normal, reject), Ok(None));
            assert_eq!(check_chunked(&normal, true), Ok(None));
        }
        Ok(None) => assert_eq!(check_chunked(input, true), Ok(None)),
        Err(_) => {}
    }
    assert_eq!(check_chunked(&msg, true), Ok(None), "a CRLF message is clean");
});

/// The input as lines of CRLF (each CR and LF becomes a line end), ending in CRLF.
fn crlf_lines(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for &b in input {
        if b == b'\r' || b == b'\n' {
            out.extend_from_slice(b"\r\n");
        } else {
            out.push(b);
        }
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}
