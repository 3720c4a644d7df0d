//! The one reader and writer of a letter's header section (RFC 5322 §2.2): every room of the
//! agent finds, counts, removes and prepends fields through these functions.
//!
//! The section ends at the first empty line (`CRLF CRLF`, or a bare `LF` line from a program
//! that stores LF only); a field starts at a line that does not begin with white space and runs
//! over its folded continuation lines (§2.2.3). A field name is compared without regard to case
//! and without the white space some writers leave before the colon (the obsolete syntax of
//! §4.5, which receivers must still understand).

use std::ops::Range;

/// One header field as it stands in the letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field<'a> {
    /// The name, without trailing white space; empty for a line without a colon.
    pub name: &'a [u8],
    /// Everything after the colon up to the field's last line ending (folds included).
    pub value: &'a [u8],
    /// The whole field in the letter, its final line ending included.
    pub span: Range<usize>,
}

impl Field<'_> {
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name.as_bytes())
    }

    /// The value as text with surrounding white space trimmed, if it is UTF-8.
    pub fn text(&self) -> Option<&str> {
        std::str::from_utf8(self.value).ok().map(str::trim)
    }
}

/// The fields of `data`'s header section, in order.
pub fn fields(data: &[u8]) -> Fields<'_> {
    Fields { data, at: 0 }
}

pub struct Fields<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Fields<'a> {
    /// Where the header section ends: the offset of its empty line (or of the end of `data`).
    /// Meaningful once the iterator is exhausted.
    pub fn end(&self) -> usize {
        self.at
    }
}

/// The end of the line starting at `at` (after its LF), or the end of `data`.
fn line_end(data: &[u8], at: usize) -> usize {
    data[at..].iter().position(|b| *b == b'\n').map_or(data.len(), |p| at + p + 1)
}

fn is_empty_line(line: &[u8]) -> bool {
    line == b"\r\n" || line == b"\n"
}

impl<'a> Iterator for Fields<'a> {
    type Item = Field<'a>;

    fn next(&mut self) -> Option<Field<'a>> {
        let data = self.data;
        let start = self.at;
        if start >= data.len() {
            return None;
        }
        let first_end = line_end(data, start);
        if is_empty_line(&data[start..first_end]) {
            return None;
        }
        let mut end = first_end;
        // Folded continuation lines belong to this field.
        while end < data.len() && matches!(data[end], b' ' | b'\t') {
            end = line_end(data, end);
        }
        self.at = end;
        let first = &data[start..first_end];
        let (name, value) = match first.iter().position(|b| *b == b':') {
            Some(colon) => {
                let body_end = end - trailing_eol(&data[start..end]);
                (first[..colon].trim_ascii_end(), &data[start + colon + 1..body_end])
            }
            None => (&first[..0], &first[..0]),
        };
        Some(Field { name, value, span: start..end })
    }
}

fn trailing_eol(s: &[u8]) -> usize {
    if s.ends_with(b"\r\n") {
        2
    } else if s.ends_with(b"\n") {
        1
    } else {
        0
    }
}

/// The header section: every field, up to (not including) the empty line.
pub fn section(data: &[u8]) -> &[u8] {
    let mut f = fields(data);
    f.by_ref().for_each(drop);
    &data[..f.end()]
}

/// The first field called `name`.
pub fn first<'a>(data: &'a [u8], name: &str) -> Option<Field<'a>> {
    fields(data).find(|f| f.is(name))
}

/// How many fields are called `name`.
pub fn count(data: &[u8], name: &str) -> usize {
    fields(data).filter(|f| f.is(name)).count()
}

/// `data` without any field called `name` (folds included), or `None` when it has none — so
/// a letter without it is not copied.
pub fn without(data: &[u8], name: &str) -> Option<Vec<u8>> {
    without_where(data, |f| f.is(name))
}

/// `data` without the fields `drop` picks (folds included), or `None` when it picks none.
pub fn without_where(data: &[u8], drop: impl Fn(&Field<'_>) -> bool) -> Option<Vec<u8>> {
    let drop: Vec<Range<usize>> = fields(data).filter(|f| drop(f)).map(|f| f.span).collect();
    if drop.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(data.len());
    let mut from = 0;
    for r in drop {
        out.extend_from_slice(&data[from..r.start]);
        from = r.end;
    }
    out.extend_from_slice(&data[from..]);
    Some(out)
}

/// One field as it goes on the wire, `Name: value CRLF`. The value must not carry a line
/// ending of its own (callers write values they made, or fold with `CRLF TAB`).
pub fn field(name: &str, value: &str) -> String {
    debug_assert!(!value.ends_with('\n'), "a field value carries no final line ending");
    format!("{name}: {value}\r\n")
}

/// `data` with `fields` (whole lines, made by [`field`]) put on top, where trace fields go
/// (RFC 5321 §4.4: each hop prepends its own).
pub fn prepend(fields: &str, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(fields.len() + data.len());
    out.extend_from_slice(fields.as_bytes());
    out.extend_from_slice(data);
    out
}

/// `text` as a header value: as it is when it is printable ASCII, else as RFC 2047 encoded
/// words (`=?UTF-8?B?...?=`, §4.1), each at most 75 characters (§2) and cut only between
/// characters (§5: a word holds whole characters), folded with `CRLF SP` between words (the
/// white space between encoded words is not part of the text, §6.2).
pub fn encoded_words(text: &str) -> String {
    use base64::Engine as _;
    let plain = text.bytes().all(|b| (b' '..=b'~').contains(&b)) && !text.contains("=?");
    if plain {
        return text.to_owned();
    }
    // 45 bytes of UTF-8 are 60 base64 characters; with `=?UTF-8?B?` and `?=`, 72.
    const MAX_BYTES: usize = 45;
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in text.chars() {
        if chunk.len() + c.len_utf8() > MAX_BYTES {
            words.push(std::mem::take(&mut chunk));
        }
        chunk.push(c);
    }
    if !chunk.is_empty() {
        words.push(chunk);
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    words.iter().map(|w| format!("=?UTF-8?B?{}?=", b64.encode(w))).collect::<Vec<_>>().join("\r\n ")
}

/// The addresses of an address-list field value (RFC 5322 §3.4: `To:`, `Cc:`), as written:
/// the `<...>` of each mailbox, or the bare address; groups' names and comments skipped.
/// Lenient, for deciding things about a letter, never for routing it.
pub fn addresses(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (mut quoted, mut depth, mut angle) = (false, 0usize, None::<usize>);
    // The text of the current mailbox outside quotes, comments and angle brackets.
    let mut bare = String::new();
    let flush = |bare: &mut String, out: &mut Vec<String>| {
        // `team: c@example.org` — the group's name ends at the colon.
        let t = bare.rsplit(':').next().unwrap_or_default().trim();
        if t.contains('@') && !t.contains(char::is_whitespace) {
            out.push(t.to_owned());
        }
        bare.clear();
    };
    for (i, c) in value.char_indices() {
        match c {
            '"' if depth == 0 && angle.is_none() => quoted = !quoted,
            _ if quoted => {}
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ if depth > 0 => {}
            '<' => angle = Some(i + 1),
            '>' => {
                if let Some(a) = angle.take() {
                    out.push(value[a..i].trim().to_owned());
                    bare.clear();
                }
            }
            _ if angle.is_some() => {}
            ',' | ';' => flush(&mut bare, &mut out),
            _ => bare.push(c),
        }
    }
    flush(&mut bare, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_words_are_short_and_whole() {
        assert_eq!(encoded_words("Away until Monday"), "Away until Monday");
        assert_eq!(encoded_words("В отпуске"), "=?UTF-8?B?0JIg0L7RgtC/0YPRgdC60LU=?=");
        let long = "Я в отпуске до понедельника, пишите позже, пожалуйста";
        let enc = encoded_words(long);
        let mut back = String::new();
        for w in enc.split("\r\n ") {
            assert!(w.len() <= 75, "{w}");
            let b64 = w.strip_prefix("=?UTF-8?B?").and_then(|w| w.strip_suffix("?=")).unwrap();
            use base64::Engine as _;
            let bytes = base64::engine::general_purpose::STANDARD.decode(b64).unwrap();
            back.push_str(std::str::from_utf8(&bytes).expect("whole characters per word"));
        }
        assert_eq!(back, long);
        assert!(encoded_words("a =?x?= b").starts_with("=?UTF-8?B?"));
    }

    #[test]
    fn address_lists() {
        let v = r#" "Petrov, Ivan" <ivan@example.org>, bob@example.net (Bob, the boss),
	team: c@example.org, d@example.org;, <e@example.org>"#;
        assert_eq!(
            addresses(v),
            ["ivan@example.org", "bob@example.net", "c@example.org", "d@example.org", "e@example.org"]
        );
        assert!(addresses("undisclosed-recipients:;").is_empty());
    }

    #[test]
    fn fields_run_over_folds_and_stop_at_the_empty_line() {
        let m = b"A: 1\r\nB : two\r\n\tfolded\r\nc:3\r\n\r\nD: body\r\n";
        let got: Vec<_> = fields(m).map(|f| (f.name, f.value)).collect();
        assert_eq!(
            got,
            vec![(&b"A"[..], &b" 1"[..]), (&b"B"[..], &b" two\r\n\tfolded"[..]), (&b"c"[..], &b"3"[..]),]
        );
        assert_eq!(section(m), b"A: 1\r\nB : two\r\n\tfolded\r\nc:3\r\n");
        assert_eq!(first(m, "b").unwrap().text(), Some("two\r\n\tfolded"));
        assert_eq!(count(m, "D"), 0, "a body line is not a field");
        // LF-only letters and a section without a body.
        assert_eq!(count(b"A: 1\nA: 2\n\nA: 3\n", "a"), 2);
        assert_eq!(
            count(b"Received: a\r\nreceived: b\r\nSubject: x\r\n\r\nReceived: body\r\n", "Received"),
            2
        );
        assert_eq!(section(b"A: 1"), b"A: 1");
        assert_eq!(section(b"\r\nA: body"), b"");
    }

    #[test]
    fn removal_takes_every_instance_and_copies_only_when_needed() {
        let m = b"X: 1\r\nY: 2\r\nx : 3\r\n more\r\n\r\nX: body\r\n";
        assert_eq!(without(m, "X").unwrap(), b"Y: 2\r\n\r\nX: body\r\n");
        assert_eq!(without(m, "Z"), None);
        assert_eq!(prepend(&field("Z", "9"), b"Y: 2\r\n"), b"Z: 9\r\nY: 2\r\n");
    }
}
