//! The DATA receiver (sans-IO): bytes in, the unstuffed message out, and the end of data
//! found exactly once.
//!
//! SMTP smuggling (2023) works when two servers disagree on where a message ends. So:
//! * only `<CRLF>.<CRLF>` ends data (RFC 5321 §4.1.1.4), where the first CRLF is the end of
//!   the previous line, or the end of the DATA command itself;
//! * a bare LF (LF without CR) ends a line and is stored as CRLF (Postfix's
//!   `smtpd_forbid_bare_newline = normalize`), or, with `reject_bare_lf`, refuses the message;
//! * a dot line with any bare line ending on either side (`\n.\r\n`, `\r\n.\n`, `\n.\n`), and
//!   any bare CR (`\r.\r`, `\r\r\n`), refuse the message (550 5.5.2) once its real end
//!   arrives: such a message would end early at a server that reads it differently;
//! * a message over the size limit is not stored any further but still read to its end
//!   (the drain), so the stream never desynchronises.
//!
//! smtp-proto's receiver implements the first rule; it has no way to report the others, so
//! this one is ours.

/// Why a received message must be refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bare {
    Cr,
    Lf,
    /// A dot line next to a bare line ending: a smuggling attempt.
    DotLine,
}

impl Bare {
    pub fn what(self) -> &'static str {
        match self {
            Bare::Cr => "<CR>",
            Bare::Lf => "<LF>",
            Bare::DotLine => "<LF> next to a dot line",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pos {
    LineStart,
    /// The line began with a dot.
    Dot,
    /// The line is `.` followed by CR.
    DotCr,
    Mid,
    MidCr,
}

#[derive(Debug)]
pub struct DataReceiver {
    pos: Pos,
    /// The previous line ended with a bare LF.
    prev_bare: bool,
    max: usize,
    reject_bare_lf: bool,
    pub body: Vec<u8>,
    /// Bytes of the message (after unstuffing), stored or not.
    pub size: usize,
    pub oversized: bool,
    pub bare: Option<Bare>,
}

impl DataReceiver {
    pub fn new(max: usize, reject_bare_lf: bool) -> Self {
        Self {
            pos: Pos::LineStart,
            prev_bare: false,
            max,
            reject_bare_lf,
            body: Vec::new(),
            size: 0,
            oversized: false,
            bare: None,
        }
    }

    fn emit(&mut self, bytes: &[u8]) {
        self.size += bytes.len();
        if self.size > self.max {
            if !self.oversized {
                self.oversized = true;
                self.body = Vec::new();
            }
        } else {
            self.body.extend_from_slice(bytes);
        }
    }

    fn poison(&mut self, why: Bare) {
        self.bare.get_or_insert(why);
    }

    /// A line ended with a bare LF.
    fn bare_lf(&mut self) {
        if self.reject_bare_lf {
            self.poison(Bare::Lf);
        }
        self.emit(b"\r\n");
        self.prev_bare = true;
        self.pos = Pos::LineStart;
    }

    /// Consumes bytes from `input`; returns `Some(n)` when the end of data was found after `n`
    /// bytes (the rest belongs to the next command), `None` when all of it was consumed.
    pub fn ingest(&mut self, input: &[u8]) -> Option<usize> {
        let mut i = 0;
        while i < input.len() {
            let b = input[i];
            match self.pos {
                Pos::Mid => {
                    // Fast path: copy up to the next CR or LF.
                    let run = input[i..].iter().position(|&c| c == b'\r' || c == b'\n');
                    let end = run.map_or(input.len(), |r| i + r);
                    if end > i {
                        self.emit(&input[i..end]);
                        i = end;
                        continue;
                    }
                    if b == b'\r' {
                        self.pos = Pos::MidCr;
                    } else {
                        self.bare_lf();
                    }
                    i += 1;
                }
                Pos::MidCr => {
                    if b == b'\n' {
                        self.emit(b"\r\n");
                        self.prev_bare = false;
                        self.pos = Pos::LineStart;
                        i += 1;
                    } else {
                        // RFC 5321 §2.3.8: CR only as part of CRLF.
                        self.poison(Bare::Cr);
                        self.emit(b"\r");
                        self.pos = Pos::Mid;
                    }
                }
                Pos::LineStart => {
                    match b {
                        b'.' => self.pos = Pos::Dot,
                        b'\r' => self.pos = Pos::MidCr,
                        b'\n' => self.bare_lf(),
                        _ => {
                            self.prev_bare = false;
                            self.pos = Pos::Mid;
                            continue;
                        }
                    }
                    i += 1;
                }
                Pos::Dot => match b {
                    b'\r' => {
                        self.pos = Pos::DotCr;
                        i += 1;
                    }
                    b'\n' => {
                        // `.` LF: a dot line with a bare line ending.
                        self.poison(Bare::DotLine);
                        self.emit(b".");
                        self.bare_lf();
                        i += 1;
                    }
                    _ => {
                        // RFC 5321 §4.5.2: a leading dot is removed (transparency).
                        if self.prev_bare {
                            self.poison(Bare::DotLine);
                        }
                        self.prev_bare = false;
                        self.pos = Pos::Mid;
                    }
                },
                Pos::DotCr => {
                    if b == b'\n' {
                        if self.prev_bare {
                            // `\n.\r\n` is not the end: only CRLF . CRLF is.
                            self.poison(Bare::DotLine);
                            self.emit(b".\r\n");
                            self.prev_bare = false;
                            self.pos = Pos::LineStart;
                            i += 1;
                        } else {
                            return Some(i + 1);
                        }
                    } else {
                        self.poison(Bare::Cr);
                        self.emit(b".\r");
                        self.pos = Pos::Mid;
                    }
                }
            }
        }
        None
    }
}

/// The checks of [`DataReceiver`] for a BDAT message, which has no dot-stuffing and no end
/// marker: bare CR refuses it, bare LF is normalised (or refuses it), a dot line next to a bare
/// line ending refuses it (it would end the message early when relayed with DATA to a server
/// that reads bare LF as a line end).
pub fn check_chunked(msg: &[u8], reject_bare_lf: bool) -> Result<Option<Vec<u8>>, Bare> {
    let mut out: Option<Vec<u8>> = None;
    let mut prev_bare = false;
    let mut line_start = 0;
    let mut i = 0;
    while i < msg.len() {
        match msg[i] {
            b'\r' if msg.get(i + 1) == Some(&b'\n') => {
                let line = &msg[line_start..i];
                if prev_bare && line == b"." {
                    return Err(Bare::DotLine);
                }
                prev_bare = false;
                if let Some(o) = out.as_mut() {
                    o.extend_from_slice(&msg[line_start..i + 2]);
                }
                i += 2;
                line_start = i;
                continue;
            }
            b'\r' => return Err(Bare::Cr),
            b'\n' => {
                if reject_bare_lf {
                    return Err(Bare::Lf);
                }
                let line = &msg[line_start..i];
                if line == b"." {
                    return Err(Bare::DotLine);
                }
                let o = out.get_or_insert_with(|| msg[..line_start].to_vec());
                o.extend_from_slice(line);
                o.extend_from_slice(b"\r\n");
                prev_bare = true;
                line_start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if let Some(o) = out.as_mut() {
        o.extend_from_slice(&msg[line_start..]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(chunks: &[&[u8]], reject_lf: bool) -> (Option<Vec<u8>>, Option<Bare>, Vec<u8>) {
        let mut r = DataReceiver::new(1 << 20, reject_lf);
        let mut rest = Vec::new();
        let mut done = false;
        for c in chunks {
            if done {
                rest.extend_from_slice(c);
                continue;
            }
            if let Some(n) = r.ingest(c) {
                done = true;
                rest.extend_from_slice(&c[n..]);
            }
        }
        (done.then(|| r.body.clone()), r.bare, rest)
    }

    #[test]
    fn table() {
        type Case = (&'static [&'static [u8]], Option<&'static [u8]>, Option<Bare>, &'static [u8]);
        let cases: &[Case] = &[
            (&[b"hi\r\n.\r\nQUIT\r\n"], Some(b"hi\r\n"), None, b"QUIT\r\n"),
            (&[b".\r\n"], Some(b""), None, b""),
            (&[b"a\r\n..b\r\n.", b"\r", b"\n"], Some(b"a\r\n.b\r\n"), None, b""),
            (&[b"a\nb\r\n.\r\n"], Some(b"a\r\nb\r\n"), None, b""),
            // Smuggling: none of these ends the message; each poisons it.
            (&[b"a\n.\nMAIL\r\n.\r\n"], Some(b"a\r\n.\r\nMAIL\r\n"), Some(Bare::DotLine), b""),
            (&[b"a\n.\r\nMAIL\r\n.\r\n"], Some(b"a\r\n.\r\nMAIL\r\n"), Some(Bare::DotLine), b""),
            (&[b"a\r\n.\nMAIL\r\n.\r\n"], Some(b"a\r\n.\r\nMAIL\r\n"), Some(Bare::DotLine), b""),
            (&[b"a\r.\rMAIL\r\n.\r\n"], Some(b"a\r.\rMAIL\r\n"), Some(Bare::Cr), b""),
            (&[b"a\r.\r\nMAIL\r\n.\r\n"], Some(b"a\r.\r\nMAIL\r\n"), Some(Bare::Cr), b""),
            (&[b"x\r\n.\r\r\n.\r\n"], Some(b"x\r\n.\r\r\n"), Some(Bare::Cr), b""),
            (&[b"a\r\n.\r"], None, None, b""),
        ];
        for (i, (chunks, body, bare, rest)) in cases.iter().enumerate() {
            let (b, why, r) = run(chunks, false);
            assert_eq!(b.as_deref(), *body, "case {i}");
            assert_eq!(why, *bare, "case {i}");
            assert_eq!(r, *rest, "case {i}");
        }
        let (_, why, _) = run(&[b"a\nb\r\n.\r\n"], true);
        assert_eq!(why, Some(Bare::Lf));
    }

    #[test]
    fn byte_by_byte_equals_whole() {
        let msg = b"Subject: x\r\n\r\n..dot\r\nline\nbare\r\n.\r\nNEXT";
        let whole = run(&[msg], false);
        let bytes: Vec<&[u8]> = msg.chunks(1).collect();
        assert_eq!(run(&bytes, false), whole);
    }

    #[test]
    fn oversized_is_drained() {
        let mut r = DataReceiver::new(10, false);
        assert_eq!(r.ingest(b"0123456789abcdef\r\n"), None);
        assert_eq!(r.ingest(b".\r\nRSET\r\n"), Some(3));
        assert!(r.oversized);
        assert!(r.body.is_empty());
    }

    #[test]
    fn chunked_checks() {
        assert_eq!(check_chunked(b"a\r\nb\r\n", false), Ok(None));
        assert_eq!(check_chunked(b"a\nb", false), Ok(Some(b"a\r\nb".to_vec())));
        assert_eq!(check_chunked(b"a\rb", false), Err(Bare::Cr));
        assert_eq!(check_chunked(b"a\n.\r\nb", false), Err(Bare::DotLine));
        assert_eq!(check_chunked(b"a\nb", true), Err(Bare::Lf));
    }
}
