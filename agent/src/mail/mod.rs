//! The letter's floor: what every room of the agent needs to know about a letter's bytes, in
//! one place — its header fields ([`header`]), the agents' own trace fields ([`trace`]), the
//! RFC 5322 date ([`date`]) and the names its copies get in a Maildir ([`maildir`]). SMTP, the
//! queue, delivery, DSNs and mailbox moves all read and write letters through these, so no two
//! of them can disagree on where a header section ends or what a field says.
//!
//! Nothing here does I/O; everything works on `&[u8]`, because a letter is bytes (RFC 5322
//! allows 8-bit text, and a message may be any charset).

pub mod date;
pub mod dkim;
pub mod header;
pub mod maildir;
pub mod trace;

/// The letter with every bare LF written as CRLF, as SMTP wants it (RFC 5321 §2.3.8; mail
/// programs often store LF only). Borrowed when there is none.
pub fn crlf(data: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let bare = |i: usize| data[i] == b'\n' && (i == 0 || data[i - 1] != b'\r');
    let n = (0..data.len()).filter(|&i| bare(i)).count();
    if n == 0 {
        return std::borrow::Cow::Borrowed(data);
    }
    let mut out = Vec::with_capacity(data.len() + n);
    for (i, b) in data.iter().enumerate() {
        if bare(i) {
            out.push(b'\r');
        }
        out.push(*b);
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn bare_line_feeds_become_crlf() {
        assert_eq!(&*super::crlf(b"a\nb\r\nc\n"), b"a\r\nb\r\nc\r\n");
        assert!(matches!(super::crlf(b"a\r\n"), std::borrow::Cow::Borrowed(b"a\r\n")));
    }
}
