//! `MAIL FROM:<reverse-path> [params]` and `RCPT TO:<forward-path> [params]` (RFC 5321
//! §4.1.1.2, §4.1.1.3, §4.1.2).
//!
//! smtp-proto parses the other commands; these two we parse ourselves because its path
//! parser unquotes quoted local parts and silently drops source routes, and the relay policy
//! must see both (`"user@elsewhere"@example.org`, `@relay:user@elsewhere`).

use pochta_directory::{Address, AddressError};

/// A path as the client wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    /// The mailbox text between `<` and `>`, without the source route; empty for `<>`.
    pub mailbox: String,
    /// The client wrote a source route (`<@a,@b:user@domain>`, RFC 5321 Appendix C).
    pub source_route: bool,
    pub params: Vec<(String, Option<String>)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathError {
    /// The command is not `MAIL FROM:<...>` / `RCPT TO:<...>` at all.
    Syntax(&'static str),
    /// A parameter is malformed.
    Param(String),
}

impl Path {
    /// Parses the arguments after `MAIL` or `RCPT`: `kw` is `"FROM"` or `"TO"`.
    pub fn parse(args: &str, kw: &str) -> Result<Path, PathError> {
        let syntax = if kw == "FROM" {
            "syntax: MAIL FROM:<reverse-path> [parameters]"
        } else {
            "syntax: RCPT TO:<forward-path> [parameters]"
        };
        let args = args.trim_start();
        let Some(head) = args.get(..kw.len() + 1) else { return Err(PathError::Syntax(syntax)) };
        if !head.eq_ignore_ascii_case(&format!("{kw}:")) {
            return Err(PathError::Syntax(syntax));
        }
        // Many clients put a space after the colon; RFC 5321 does not, but accepting it is
        // common practice and harmless.
        let rest = args[kw.len() + 1..].trim_start();
        let Some(rest) = rest.strip_prefix('<') else { return Err(PathError::Syntax(syntax)) };
        let end = closing_bracket(rest).ok_or(PathError::Syntax(syntax))?;
        let inner = &rest[..end];
        let after = &rest[end + 1..];
        if !after.is_empty() && !after.starts_with(' ') {
            return Err(PathError::Syntax(syntax));
        }
        let (source_route, mailbox) = match inner.strip_prefix('@') {
            // `@a,@b:mailbox`: the route ends at the first colon.
            // A route is domains only (RFC 5321 §4.1.2 A-d-l): a quote in it would let the route
            // end inside a quoted string and leave a mailbox that is not one (`<@"a:b>">`).
            Some(route) => match route.split_once(':') {
                Some((r, mbox)) if !r.contains('"') => (true, mbox),
                _ => return Err(PathError::Syntax(syntax)),
            },
            None => (false, inner),
        };
        let mut params = Vec::new();
        for p in after.split(' ').filter(|p| !p.is_empty()) {
            let (k, v) = match p.split_once('=') {
                Some((k, v)) => (k, Some(v.to_owned())),
                None => (p, None),
            };
            // RFC 5321 §4.1.2: esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-").
            if k.is_empty() || !k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                return Err(PathError::Param(p.to_owned()));
            }
            params.push((k.to_ascii_uppercase(), v));
        }
        Ok(Path { mailbox: mailbox.to_owned(), source_route, params })
    }

    pub fn is_null(&self) -> bool {
        self.mailbox.is_empty() && !self.source_route
    }

    pub fn address(&self) -> Result<Address, AddressError> {
        Address::parse(&self.mailbox)
    }

    /// Sender-specified routing in the mailbox: `user%elsewhere@`, `elsewhere!user@`, or a
    /// quoted local part holding an `@` (Postfix's `reject_unauth_destination` rules).
    pub fn routing_trick(&self) -> bool {
        if self.source_route {
            return true;
        }
        match self.mailbox.rfind('@') {
            Some(at) => {
                let local = &self.mailbox[..at];
                local.contains('%') || local.contains('!') || local.contains('@')
            }
            None => false,
        }
    }
}

/// The index of the `>` that closes the path, skipping quoted strings and quoted pairs.
fn closing_bracket(s: &str) -> Option<usize> {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '>' if !quoted => return Some(i),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_route_cannot_hide_a_quote() {
        assert!(Path::parse("TO:<@\"a:b>\">", "TO").is_err());
        assert!(Path::parse("TO:<@relay.example:u@example.org>", "TO").unwrap().source_route);
    }

    #[test]
    fn paths() {
        let p = Path::parse("FROM:<a@example.org> SIZE=100 BODY=8BITMIME", "FROM").unwrap();
        assert_eq!(p.mailbox, "a@example.org");
        assert_eq!(
            p.params,
            vec![("SIZE".into(), Some("100".into())), ("BODY".into(), Some("8BITMIME".into()))]
        );
        assert!(Path::parse("from: <>", "FROM").unwrap().is_null());
        let q = Path::parse("TO:<\"x>@y\"@example.org>", "TO").unwrap();
        assert_eq!(q.mailbox, "\"x>@y\"@example.org");
        assert!(q.routing_trick());
        let r = Path::parse("TO:<@relay.net,@b.net:u@example.org>", "TO").unwrap();
        assert!(r.source_route && r.routing_trick());
        assert_eq!(r.mailbox, "u@example.org");
        assert!(Path::parse("TO:<u%x.net@example.org>", "TO").unwrap().routing_trick());
        assert!(Path::parse("TO:<x.net!u@example.org>", "TO").unwrap().routing_trick());
        assert!(!Path::parse("TO:<u@example.org>", "TO").unwrap().routing_trick());
        assert!(matches!(Path::parse("TO:u@example.org", "TO"), Err(PathError::Syntax(_))));
        assert!(matches!(Path::parse("TO:<u@example.org>junk", "TO"), Err(PathError::Syntax(_))));
        assert!(matches!(Path::parse("FROM:<a@b.org> SI;ZE", "FROM"), Err(PathError::Param(_))));
    }
}
