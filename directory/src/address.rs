//! Mail addresses parsed at the edge: `LocalPart`, `Domain`, `Address`.
//!
//! The grammar is the one of RFC 5321 §4.1.2, widened to UTF-8 by RFC 6531 §3.3, with the
//! size limits of RFC 5321 §4.5.3.1. Everything that reaches the rest of Pochta went through
//! [`Address::parse`], [`LocalPart::parse`] or [`Domain::parse`]:
//!
//! * a local part is kept as its unquoted content in Unicode normalisation form C and compared
//!   case-insensitively (Unicode lower case), so `"john"`, `john` and `JOHN` are the same
//!   mailbox, and so are `josé` typed with a precomposed `é` and with `e` + combining acute
//!   (RFC 6531 §3.3 leaves the comparison to the receiving server; RFC 6532 §3.1 recommends NFC);
//! * a domain is kept as its lower-case A-label (punycode) form, so `пример.рф` and
//!   `XN--E1AFMKFD.XN--P1AI` are the same domain;
//! * bad input of any kind is an [`AddressError`], never a panic.
//!
//! Source routes, address literals and angle brackets are refused: the SMTP layer strips
//! `<...>` and deals with the rest of the path syntax before it calls us.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use idna::uts46::{AsciiDenyList, DnsLength, Hyphens, Uts46};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use unicode_normalization::UnicodeNormalization;

/// RFC 5321 §4.5.3.1.1: local part, in octets.
const MAX_LOCAL_PART: usize = 64;
/// RFC 5321 §4.5.3.1.2: domain, in octets of its ASCII form.
const MAX_DOMAIN: usize = 253;
/// RFC 1035 §2.3.4: one label, in octets.
const MAX_LABEL: usize = 63;
/// RFC 5321 §4.5.3.1.3: a path is at most 256 octets including the angle brackets.
const MAX_ADDRESS: usize = 254;
/// Input longer than these is refused before any further work: no valid domain or address is
/// written with more than four UTF-8 octets per octet of its ASCII form.
const MAX_DOMAIN_INPUT: usize = 4 * MAX_DOMAIN;
const MAX_ADDRESS_INPUT: usize = 4 * MAX_ADDRESS;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("the address is empty")]
    Empty,
    #[error("the address has no '@'")]
    MissingAt,
    #[error("the address is longer than 254 octets")]
    TooLong,
    #[error("source routes (\"@relay,@relay:user@domain\") are not accepted")]
    SourceRoute,
    #[error("angle brackets are not part of the address")]
    AngleBracket,
    #[error("the address contains {0:?}, which is not allowed outside a quoted local part")]
    ForbiddenChar(char),
    #[error("the local part is invalid")]
    BadLocalPart,
    #[error("the local part is empty")]
    EmptyLocalPart,
    #[error("the local part is longer than 64 octets")]
    LocalPartTooLong,
    #[error("the local part starts or ends with a dot, or has two dots in a row")]
    LocalPartDot,
    #[error("the local part contains {0:?}, which is not allowed there")]
    LocalPartChar(char),
    #[error("the quoted local part has no closing quote")]
    UnterminatedQuote,
    #[error("a quoted local part must be quoted as a whole, as in \"john smith\"@example.org")]
    PartlyQuoted,
    #[error("the domain is invalid")]
    BadDomain,
    #[error("the domain is empty")]
    EmptyDomain,
    #[error("address literals are not accepted")]
    AddressLiteral,
    #[error("the domain is longer than 253 octets")]
    DomainTooLong,
    #[error("the domain contains {0:?}, which is not allowed in a domain name")]
    DomainChar(char),
    #[error("the domain has an empty label (two dots in a row, or a leading dot)")]
    EmptyLabel,
    #[error("a label of the domain is longer than 63 octets")]
    LabelTooLong,
    #[error("a label of the domain starts or ends with a hyphen")]
    LabelHyphen,
    #[error("the domain needs at least two labels, as in example.org")]
    SingleLabel,
    #[error("the last label of the domain is all digits")]
    NumericTld,
    #[error("a subdomain label must be a single label, without dots")]
    NotOneLabel,
}

/// `atext` of RFC 5322 §3.2.3, widened by RFC 6531 §3.3 to every non-ASCII character. We
/// still refuse control characters, white space outside ASCII (U+0085, U+00A0, U+2028, ...)
/// and the invisible bidirectional controls: they have no place in a mailbox name and only
/// serve to spoof one.
fn is_atext(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c)
    } else {
        is_allowed_non_ascii(c)
    }
}

fn is_allowed_non_ascii(c: char) -> bool {
    !c.is_ascii()
        && !c.is_control()
        && !c.is_whitespace()
        // Bidi embeddings, overrides and isolates (Unicode Bidi_Control), and the BOM.
        && !matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// `qtextSMTP` of RFC 5321 §4.1.2 (`%d32-33 / %d35-91 / %d93-126`) plus UTF-8 (RFC 6531).
fn is_qtext(c: char) -> bool {
    (matches!(c, ' '..='~') && c != '"' && c != '\\') || is_allowed_non_ascii(c)
}

/// `Dot-string` of RFC 5321 §4.1.2: atoms separated by single dots.
fn is_dot_string(s: &str) -> bool {
    !s.is_empty() && s.split('.').all(|atom| !atom.is_empty() && atom.chars().all(is_atext))
}

/// The part before `@`. Compared case-insensitively.
#[derive(Clone)]
pub struct LocalPart {
    text: String,
    folded: String,
}

impl LocalPart {
    /// Parses a `Dot-string` (`john.smith`) or a `Quoted-string` (`"john smith"`, with `\`
    /// quoted pairs), RFC 5321 §4.1.2 and RFC 6531 §3.3.
    pub fn parse(s: &str) -> Result<Self, AddressError> {
        let text = match s.strip_prefix('"') {
            Some(quoted) => unquote(quoted)?,
            None => {
                check_dot_string(s)?;
                s.to_owned()
            }
        };
        if text.is_empty() {
            return Err(AddressError::EmptyLocalPart);
        }
        let local = if text.is_ascii() {
            Self { folded: text.to_ascii_lowercase(), text }
        } else {
            // Lower-casing can leave a string that is not in NFC (a few letters lower-case to a
            // base letter plus a combining mark): normalise again after it.
            let text: String = text.nfc().collect();
            Self { folded: text.to_lowercase().nfc().collect(), text }
        };
        // RFC 5321 §4.5.3.1.1, measured on the form we write, so that what we accept we can
        // also send.
        if local.written_len() > MAX_LOCAL_PART {
            return Err(AddressError::LocalPartTooLong);
        }
        Ok(local)
    }

    /// The local part as written (unquoted content).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The case-folded form used for comparison and as a database key.
    pub fn folded(&self) -> &str {
        &self.folded
    }

    /// Whether the local part can only be written as a quoted string (`"john smith"`).
    pub fn needs_quotes(&self) -> bool {
        !is_dot_string(&self.text)
    }

    /// Octets of the `Display` form.
    fn written_len(&self) -> usize {
        if self.needs_quotes() {
            let escapes = self.text.chars().filter(|c| matches!(c, '"' | '\\')).count();
            self.text.len() + escapes + 2
        } else {
            self.text.len()
        }
    }
}

fn check_dot_string(s: &str) -> Result<(), AddressError> {
    if s.is_empty() {
        return Err(AddressError::EmptyLocalPart);
    }
    if let Some(c) = s.chars().find(|&c| c != '.' && !is_atext(c)) {
        return Err(if c == '"' { AddressError::PartlyQuoted } else { AddressError::LocalPartChar(c) });
    }
    if s.split('.').any(str::is_empty) {
        return Err(AddressError::LocalPartDot);
    }
    Ok(())
}

/// `rest` follows the opening quote; it must end with the closing quote and nothing after it.
fn unquote(rest: &str) -> Result<String, AddressError> {
    let mut text = String::with_capacity(rest.len());
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                return if chars.as_str().is_empty() { Ok(text) } else { Err(AddressError::PartlyQuoted) };
            }
            // quoted-pairSMTP = %d92 %d32-126
            '\\' => match chars.next() {
                Some(e @ ' '..='~') => text.push(e),
                Some(e) => return Err(AddressError::LocalPartChar(e)),
                None => return Err(AddressError::UnterminatedQuote),
            },
            c if is_qtext(c) => text.push(c),
            c => return Err(AddressError::LocalPartChar(c)),
        }
    }
    Err(AddressError::UnterminatedQuote)
}

impl PartialEq for LocalPart {
    fn eq(&self, o: &Self) -> bool {
        self.folded == o.folded
    }
}
impl Eq for LocalPart {}
impl Hash for LocalPart {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.folded.hash(h)
    }
}
impl PartialOrd for LocalPart {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for LocalPart {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.folded.cmp(&o.folded)
    }
}
impl fmt::Display for LocalPart {
    /// The dot-string as is, anything else as a quoted string: `parse(x.to_string()) == x`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.needs_quotes() {
            return f.write_str(&self.text);
        }
        f.write_str("\"")?;
        for c in self.text.chars() {
            if matches!(c, '"' | '\\') {
                f.write_str("\\")?;
            }
            write!(f, "{c}")?;
        }
        f.write_str("\"")
    }
}
impl fmt::Debug for LocalPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LocalPart({})", self)
    }
}

/// A DNS domain, kept in its ASCII (A-label, lower-case) form.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Domain {
    ascii: String,
}

impl Domain {
    /// Parses a domain written with A-labels or U-labels, in any case, with an optional
    /// trailing dot. Address literals (`[192.0.2.1]`) are refused.
    pub fn parse(s: &str) -> Result<Self, AddressError> {
        if s.starts_with('[') {
            return Err(AddressError::AddressLiteral);
        }
        let body = s.strip_suffix('.').unwrap_or(s);
        if body.is_empty() {
            return Err(AddressError::EmptyDomain);
        }
        if body.len() > MAX_DOMAIN_INPUT {
            return Err(AddressError::DomainTooLong);
        }
        // Say what is wrong in plain words where the input tells us; IDNA's own errors carry
        // no detail.
        if let Some(c) = body.chars().find(|&c| {
            if c.is_ascii() {
                !(c.is_ascii_alphanumeric() || c == '-' || c == '.')
            } else {
                !is_allowed_non_ascii(c)
            }
        }) {
            return Err(AddressError::DomainChar(c));
        }
        for label in body.split('.') {
            if label.is_empty() {
                return Err(AddressError::EmptyLabel);
            }
            if label.starts_with('-') || label.ends_with('-') {
                return Err(AddressError::LabelHyphen);
            }
        }
        // UTS #46 with the STD3 (LDH) rules: maps case and compatibility forms, checks
        // U-labels and A-labels (RFC 5891, 5892, 5893) and converts to A-labels.
        let mut ascii = Uts46::new()
            .to_ascii(body.as_bytes(), AsciiDenyList::STD3, Hyphens::CheckFirstLast, DnsLength::Ignore)
            .map_err(|_| AddressError::BadDomain)?
            .into_owned();
        ascii.make_ascii_lowercase();
        check_ascii_domain(&ascii)?;
        Ok(Self { ascii })
    }

    /// The A-label (punycode) form, lower case.
    pub fn as_str(&self) -> &str {
        &self.ascii
    }

    /// The U-label form for display.
    pub fn to_unicode(&self) -> String {
        match Uts46::new().to_unicode(self.ascii.as_bytes(), AsciiDenyList::STD3, Hyphens::CheckFirstLast) {
            (unicode, Ok(())) => unicode.into_owned(),
            // Cannot happen for a parsed domain; the A-label form is still correct.
            (_, Err(_)) => self.ascii.clone(),
        }
    }

    /// `Some("msk")` when `self` is `msk.<parent>`: exactly one label below `parent`.
    /// The label is returned in its A-label form.
    pub fn child_label_of(&self, parent: &Domain) -> Option<&str> {
        let rest = self.ascii.strip_suffix(parent.as_str())?;
        let label = rest.strip_suffix('.')?;
        (!label.is_empty() && !label.contains('.')).then_some(label)
    }

    /// `label.self`, where `label` is one label (A-label or U-label).
    pub fn child(&self, label: &str) -> Result<Domain, AddressError> {
        if label.is_empty() {
            return Err(AddressError::EmptyLabel);
        }
        if label.contains('.') {
            return Err(AddressError::NotOneLabel);
        }
        let child = Domain::parse(&format!("{label}.{}", self.ascii))?;
        // IDNA mapping can turn characters into dots (U+3002 IDEOGRAPHIC FULL STOP, ...).
        if child.child_label_of(self).is_none() {
            return Err(AddressError::NotOneLabel);
        }
        Ok(child)
    }
}

/// The checks of RFC 1035 §2.3.1 / RFC 5321 §4.1.2 and §4.5.3.1.2 on the A-label form.
fn check_ascii_domain(ascii: &str) -> Result<(), AddressError> {
    if ascii.len() > MAX_DOMAIN {
        return Err(AddressError::DomainTooLong);
    }
    let mut labels = 0;
    let mut last = "";
    for label in ascii.split('.') {
        if label.is_empty() {
            return Err(AddressError::EmptyLabel);
        }
        if label.len() > MAX_LABEL {
            return Err(AddressError::LabelTooLong);
        }
        if let Some(c) = label.chars().find(|&c| !(c.is_ascii_alphanumeric() || c == '-')) {
            return Err(AddressError::DomainChar(c));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(AddressError::LabelHyphen);
        }
        labels += 1;
        last = label;
    }
    if labels < 2 {
        return Err(AddressError::SingleLabel);
    }
    // RFC 3696 §2: a top-level domain is never all-numeric; this also keeps `192.0.2.1`
    // from passing for a domain.
    if last.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AddressError::NumericTld);
    }
    Ok(())
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.ascii)
    }
}
impl fmt::Debug for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Domain({})", self.ascii)
    }
}

/// `local@domain`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address {
    local: LocalPart,
    domain: Domain,
}

impl Address {
    /// Joins parts that are each valid. Unlike [`Address::parse`] this cannot check the
    /// 254-octet limit on the whole address.
    pub fn new(local: LocalPart, domain: Domain) -> Self {
        Self { local, domain }
    }

    /// Parses a bare `Mailbox` of RFC 5321 §4.1.2 (no angle brackets, no source route).
    pub fn parse(s: &str) -> Result<Self, AddressError> {
        if s.is_empty() {
            return Err(AddressError::Empty);
        }
        if s.len() > MAX_ADDRESS_INPUT {
            return Err(AddressError::TooLong);
        }
        // RFC 5321 §4.1.2 / Appendix C: `@relay,@relay:user@domain`.
        if s.starts_with('@') {
            return Err(if s.contains(':') {
                AddressError::SourceRoute
            } else {
                AddressError::EmptyLocalPart
            });
        }
        let at = split_point(s)?;
        let (local, domain) = (&s[..at], &s[at + 1..]);
        if local.is_empty() {
            return Err(AddressError::EmptyLocalPart);
        }
        if domain.is_empty() {
            return Err(AddressError::EmptyDomain);
        }
        let address = Self { local: LocalPart::parse(local)?, domain: Domain::parse(domain)? };
        // RFC 5321 §4.5.3.1.3, on the form we write (A-label domain, minimal quoting).
        if address.local.written_len() + 1 + address.domain.ascii.len() > MAX_ADDRESS {
            return Err(AddressError::TooLong);
        }
        Ok(address)
    }

    pub fn local(&self) -> &LocalPart {
        &self.local
    }

    pub fn domain(&self) -> &Domain {
        &self.domain
    }
}

/// The byte offset of the last `@` outside a quoted string. Refuses, outside quoted strings,
/// white space, control characters and angle brackets.
fn split_point(s: &str) -> Result<usize, AddressError> {
    let mut at = None;
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if quoted {
            // The content is checked by `LocalPart::parse`.
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => quoted = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => quoted = true,
            '@' => at = Some(i),
            '<' | '>' => return Err(AddressError::AngleBracket),
            c if c.is_whitespace() || c.is_control() => return Err(AddressError::ForbiddenChar(c)),
            _ => {}
        }
    }
    if quoted {
        return Err(AddressError::UnterminatedQuote);
    }
    at.ok_or(AddressError::MissingAt)
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.local, self.domain)
    }
}
impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({})", self)
    }
}

macro_rules! string_serde {
    ($t:ty) => {
        impl FromStr for $t {
            type Err = AddressError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = std::borrow::Cow::<str>::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}
string_serde!(LocalPart);
string_serde!(Domain);
string_serde!(Address);

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use proptest::prelude::*;

    use super::*;
    use AddressError as E;

    fn addr(s: &str) -> Address {
        Address::parse(s).unwrap_or_else(|e| panic!("{s:?} should parse: {e}"))
    }

    fn domain(s: &str) -> Domain {
        Domain::parse(s).unwrap_or_else(|e| panic!("{s:?} should parse: {e}"))
    }

    /// Input, and the form `Display` writes.
    const VALID: &[(&str, &str)] = &[
        ("user@example.org", "user@example.org"),
        ("John.Smith@Example.ORG", "John.Smith@example.org"),
        ("a!#$%&'*+-/=?^_`{|}~z@example.org", "a!#$%&'*+-/=?^_`{|}~z@example.org"),
        // `%` and `!` are plain atext; relay tricks are the SMTP layer's business.
        ("user%other.org@example.org", "user%other.org@example.org"),
        ("host!user@example.org", "host!user@example.org"),
        ("x@example.org", "x@example.org"),
        ("1234@example.org", "1234@example.org"),
        // Quoted strings, RFC 5321 §4.1.2: minimal quoting when written back.
        ("\"john smith\"@example.org", "\"john smith\"@example.org"),
        ("\"john\"@example.org", "john@example.org"),
        ("\"a\\bc\"@example.org", "abc@example.org"),
        ("\"a\\\"b\\\\c\"@example.org", "\"a\\\"b\\\\c\"@example.org"),
        ("\"user@home\"@example.org", "\"user@home\"@example.org"),
        ("\"<a>, (b); [c]\"@example.org", "\"<a>, (b); [c]\"@example.org"),
        ("\"a..b\"@example.org", "\"a..b\"@example.org"),
        ("\".a\"@example.org", "\".a\"@example.org"),
        ("\" \"@example.org", "\" \"@example.org"),
        ("\"иван петров\"@example.org", "\"иван петров\"@example.org"),
        // UTF-8, RFC 6531.
        ("иван@пример.рф", "иван@xn--e1afmkfd.xn--p1ai"),
        ("Иван.Петров@example.org", "Иван.Петров@example.org"),
        ("用户@例子.广告", "用户@xn--fsqu00a.xn--4rr70v"),
        // Domains: U-labels or A-labels in any case, a trailing dot, LDH.
        ("user@xn--e1afmkfd.xn--p1ai", "user@xn--e1afmkfd.xn--p1ai"),
        ("user@XN--E1AFMKFD.XN--P1AI", "user@xn--e1afmkfd.xn--p1ai"),
        ("user@ПРИМЕР.РФ", "user@xn--e1afmkfd.xn--p1ai"),
        ("user@example.org.", "user@example.org"),
        ("user@a-b.c--d.example.org", "user@a-b.c--d.example.org"),
        ("user@123.example.org", "user@123.example.org"),
        ("user@example.c0m", "user@example.c0m"),
    ];

    #[test]
    fn valid_addresses() {
        for &(input, written) in VALID {
            let a = addr(input);
            assert_eq!(a.to_string(), written, "{input:?}");
            assert_eq!(addr(written), a, "{input:?}");
            assert_eq!(addr(&a.to_string()).to_string(), written, "{input:?}");
        }
    }

    const INVALID: &[(&str, AddressError)] = &[
        ("", E::Empty),
        ("userexample.org", E::MissingAt),
        ("\"user@example.org\"", E::MissingAt),
        ("@example.org", E::EmptyLocalPart),
        ("user@", E::EmptyDomain),
        ("user@.", E::EmptyDomain),
        ("\"\"@example.org", E::EmptyLocalPart),
        // Source routes, RFC 5321 §4.1.2 and Appendix C.
        ("@a.org,@b.org:user@c.org", E::SourceRoute),
        ("@a.org:user@c.org", E::SourceRoute),
        // The SMTP layer strips the angle brackets.
        ("<user@example.org>", E::AngleBracket),
        ("user@example.org>", E::AngleBracket),
        ("user<x>@example.org", E::AngleBracket),
        // White space and control characters outside a quoted string.
        ("us er@example.org", E::ForbiddenChar(' ')),
        (" user@example.org", E::ForbiddenChar(' ')),
        ("user@example.org ", E::ForbiddenChar(' ')),
        ("user@exa mple.org", E::ForbiddenChar(' ')),
        ("user@example.org\r\n", E::ForbiddenChar('\r')),
        ("user\n@example.org", E::ForbiddenChar('\n')),
        ("user\0@example.org", E::ForbiddenChar('\0')),
        ("user\t@example.org", E::ForbiddenChar('\t')),
        ("user\u{a0}@example.org", E::ForbiddenChar('\u{a0}')),
        ("user\u{2028}@example.org", E::ForbiddenChar('\u{2028}')),
        ("user\u{85}@example.org", E::ForbiddenChar('\u{85}')),
        // Dot-strings.
        (".user@example.org", E::LocalPartDot),
        ("user.@example.org", E::LocalPartDot),
        ("us..er@example.org", E::LocalPartDot),
        (".@example.org", E::LocalPartDot),
        ("a(b)@example.org", E::LocalPartChar('(')),
        ("a,b@example.org", E::LocalPartChar(',')),
        ("a\\b@example.org", E::LocalPartChar('\\')),
        ("a[b]@example.org", E::LocalPartChar('[')),
        ("user@b@example.org", E::LocalPartChar('@')),
        // Quoted strings.
        ("a\"b\"@example.org", E::PartlyQuoted),
        ("\"a\"b@example.org", E::PartlyQuoted),
        ("\"a\".\"b\"@example.org", E::PartlyQuoted),
        ("\"ab@example.org", E::UnterminatedQuote),
        ("\"ab\\\"@example.org", E::UnterminatedQuote),
        ("\"a\tb\"@example.org", E::LocalPartChar('\t')),
        ("\"a\rb\"@example.org", E::LocalPartChar('\r')),
        ("\"a\nb\"@example.org", E::LocalPartChar('\n')),
        ("\"a\0b\"@example.org", E::LocalPartChar('\0')),
        ("\"a\\\nb\"@example.org", E::LocalPartChar('\n')),
        ("\"a\\\u{7f}\"@example.org", E::LocalPartChar('\u{7f}')),
        ("\"a\u{a0}b\"@example.org", E::LocalPartChar('\u{a0}')),
        ("\"a\\яb\"@example.org", E::LocalPartChar('я')),
        ("evil\u{202e}gro.elpmaxe@example.org", E::LocalPartChar('\u{202e}')),
        ("\"a\u{2066}b\"@example.org", E::LocalPartChar('\u{2066}')),
        ("user@exa\u{feff}mple.org", E::DomainChar('\u{feff}')),
        // Domains.
        ("user@[192.0.2.1]", E::AddressLiteral),
        ("user@[IPv6:2001:db8::1]", E::AddressLiteral),
        ("user@localhost", E::SingleLabel),
        ("user@example", E::SingleLabel),
        ("user@example.", E::SingleLabel),
        ("user@рф", E::SingleLabel),
        ("user@192.0.2.1", E::NumericTld),
        ("user@example.123", E::NumericTld),
        ("user@example.org..", E::EmptyLabel),
        ("user@.example.org", E::EmptyLabel),
        ("user@ex..ample.org", E::EmptyLabel),
        ("user@-example.org", E::LabelHyphen),
        ("user@example-.org", E::LabelHyphen),
        ("user@example.-org", E::LabelHyphen),
        ("user@exa_mple.org", E::DomainChar('_')),
        ("user@example.org:25", E::DomainChar(':')),
        ("user@exam\"ple.org", E::UnterminatedQuote),
        ("user@example.org/x", E::DomainChar('/')),
        // A combining mark cannot start a label (RFC 5891 §5.4).
        ("user@\u{300}a.org", E::BadDomain),
        // Not valid Punycode.
        ("user@xn--a.org", E::BadDomain),
    ];

    #[test]
    fn invalid_addresses() {
        for (input, want) in INVALID {
            assert_eq!(Address::parse(input).as_ref(), Err(want), "{input:?}");
        }
    }

    #[test]
    fn error_messages_are_plain_english() {
        assert_eq!(E::AddressLiteral.to_string(), "address literals are not accepted");
        assert_eq!(E::LocalPartTooLong.to_string(), "the local part is longer than 64 octets");
        assert_eq!(
            E::ForbiddenChar('\n').to_string(),
            "the address contains '\\n', which is not allowed outside a quoted local part"
        );
    }

    #[test]
    fn local_part_keeps_content_and_folds_case() {
        let l = LocalPart::parse("John.Smith").unwrap();
        assert_eq!((l.as_str(), l.folded()), ("John.Smith", "john.smith"));
        let q = LocalPart::parse("\"John \\\"J\\\" Smith\"").unwrap();
        assert_eq!(q.as_str(), "John \"J\" Smith");
        assert_eq!(q.folded(), "john \"j\" smith");
        assert_eq!(q.to_string(), "\"John \\\"J\\\" Smith\"");
        assert_eq!(format!("{q:?}"), "LocalPart(\"John \\\"J\\\" Smith\")");
        let u = LocalPart::parse("ИВАН").unwrap();
        assert_eq!(u.folded(), "иван");
        assert_eq!(u, LocalPart::parse("иван").unwrap());
        // The quoted and the plain form of the same content are the same local part.
        assert_eq!(LocalPart::parse("\"john\"").unwrap(), LocalPart::parse("JOHN").unwrap());
        for bad in ["", "\"\"", "a b", "a@b", "a\"b", "\"a", ".", "a..b"] {
            assert!(LocalPart::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn local_part_length_limit() {
        let max = "a".repeat(64);
        assert_eq!(LocalPart::parse(&max).unwrap().as_str(), max);
        assert_eq!(LocalPart::parse(&"a".repeat(65)), Err(E::LocalPartTooLong));
        // The limit is on the written form: quotes and escapes count.
        let quoted = format!("\"{}\"", " ".repeat(62));
        assert_eq!(LocalPart::parse(&quoted).unwrap().to_string(), quoted);
        assert_eq!(LocalPart::parse(&format!("\"{}\"", " ".repeat(63))), Err(E::LocalPartTooLong));
        let escaped = format!("\"{}\"", "\\\"".repeat(31));
        assert_eq!(LocalPart::parse(&escaped).unwrap().to_string(), escaped);
        assert_eq!(LocalPart::parse(&format!("\"{}a\"", "\\\"".repeat(31))), Err(E::LocalPartTooLong));
        // Quotes that are not needed are not written, so they do not count.
        let plain = LocalPart::parse(&format!("\"{max}\"")).unwrap();
        assert_eq!(plain.to_string(), max);
        // Octets, not characters.
        assert!(LocalPart::parse(&"я".repeat(32)).is_ok());
        assert_eq!(LocalPart::parse(&"я".repeat(33)), Err(E::LocalPartTooLong));
        assert_eq!(Address::parse(&format!("{}@example.org", "a".repeat(65))), Err(E::LocalPartTooLong));
    }

    /// Labels of 63 octets joined to `len` octets in all.
    fn long_domain(len: usize) -> String {
        let mut labels = Vec::new();
        let mut left = len;
        let mut letter = b'a';
        while left > 0 {
            let n = left.min(63);
            labels.push(String::from(letter as char).repeat(n));
            letter += 1;
            left -= n;
            // Room for the dot before the next label, and no label shorter than 2.
            if left > 0 {
                left -= 1;
                if left < 2 {
                    let last = labels.last_mut().unwrap();
                    last.truncate(last.len() - (2 - left));
                    left = 2;
                }
            }
        }
        let d = labels.join(".");
        assert_eq!(d.len(), len);
        d
    }

    #[test]
    fn domain_length_limits() {
        let label63 = format!("{}.org", "a".repeat(63));
        assert_eq!(domain(&label63).as_str(), label63);
        assert_eq!(Domain::parse(&format!("{}.org", "a".repeat(64))), Err(E::LabelTooLong));
        let d253 = long_domain(253);
        assert_eq!(domain(&d253).as_str(), d253);
        assert_eq!(domain(&format!("{d253}.")).as_str(), d253);
        assert_eq!(Domain::parse(&long_domain(254)), Err(E::DomainTooLong));
        assert_eq!(Domain::parse(&"a.".repeat(5000)), Err(E::DomainTooLong));
        // The limits hold for the A-label form, not for what was typed.
        let u_label: String = (0..20).map(|i| char::from_u32(0x4e00 + 997 * i).unwrap()).collect();
        assert_eq!(u_label.len(), 60);
        assert_eq!(Domain::parse(&format!("{u_label}.org")), Err(E::LabelTooLong));
    }

    #[test]
    fn address_length_limit() {
        let local = "a".repeat(64);
        let ok = format!("{local}@{}", long_domain(189));
        assert_eq!(ok.len(), 254);
        assert_eq!(addr(&ok).to_string(), ok);
        let too_long = format!("{local}@{}", long_domain(190));
        assert_eq!(Address::parse(&too_long), Err(E::TooLong));
        // Measured on the written form: needless quotes and a trailing dot do not count...
        assert_eq!(addr(&format!("\"{local}\"@{}.", long_domain(189))).to_string(), ok);
        // ...but A-labels do.
        let idn = format!("{local}@{}.例子.广告", long_domain(170));
        assert!(idn.len() <= 254);
        assert_eq!(Address::parse(&idn), Err(E::TooLong));
        assert_eq!(Address::parse(&"a".repeat(100_000)), Err(E::TooLong));
    }

    #[test]
    fn idn_domains() {
        let u = domain("пример.рф");
        let a = domain("xn--e1afmkfd.xn--p1ai");
        assert_eq!(u, a);
        assert_eq!(u, domain("XN--E1AFMKFD.Xn--P1ai."));
        assert_eq!(u, domain("ПрИмЕр.Рф"));
        assert_eq!(u.as_str(), "xn--e1afmkfd.xn--p1ai");
        assert_eq!(u.to_string(), "xn--e1afmkfd.xn--p1ai");
        assert_eq!(a.to_unicode(), "пример.рф");
        assert_eq!(domain("Example.ORG").to_unicode(), "example.org");
        assert_eq!(format!("{a:?}"), "Domain(xn--e1afmkfd.xn--p1ai)");
        // IDNA maps the ideographic full stop to a dot.
        assert_eq!(domain("例子。广告"), domain("例子.广告"));
    }

    #[test]
    fn case_insensitive_equality() {
        let pairs = [
            ("user@пример.рф", "USER@xn--e1afmkfd.xn--p1ai"),
            ("John.Smith@Example.org", "john.smith@EXAMPLE.ORG"),
            ("\"john\"@example.org", "JOHN@example.org."),
            ("\"John Smith\"@example.org", "\"john smith\"@example.org"),
            ("Иван@ПРИМЕР.РФ", "иван@пример.рф"),
        ];
        for (x, y) in pairs {
            let (a, b) = (addr(x), addr(y));
            assert_eq!(a, b, "{x:?} {y:?}");
            assert_eq!(a.cmp(&b), std::cmp::Ordering::Equal);
            assert_eq!(HashSet::from([a.clone(), b.clone()]).len(), 1);
        }
        assert_ne!(addr("john@example.org"), addr("john.smith@example.org"));
        assert_ne!(addr("john@example.org"), addr("john@example.com"));
        // Case is kept for display.
        assert_eq!(addr("John@Example.org").local().as_str(), "John");
        assert_eq!(addr("John@Example.org").domain().as_str(), "example.org");
    }

    #[test]
    fn parts_and_new() {
        let a = addr("\"john smith\"@пример.рф");
        assert_eq!(a.local().as_str(), "john smith");
        assert_eq!(a.domain().to_unicode(), "пример.рф");
        assert_eq!(Address::new(a.local().clone(), a.domain().clone()), a);
        assert_eq!(format!("{a:?}"), "Address(\"john smith\"@xn--e1afmkfd.xn--p1ai)");
        assert_eq!("user@example.org".parse::<Address>(), Ok(addr("user@example.org")));
        assert_eq!("example.org".parse::<Domain>(), Ok(domain("example.org")));
        assert_eq!("x y".parse::<LocalPart>(), Err(E::LocalPartChar(' ')));
    }

    #[test]
    fn child_label_of_and_child() {
        let parent = domain("example.org");
        assert_eq!(domain("msk.example.org").child_label_of(&parent), Some("msk"));
        assert_eq!(domain("MSK.Example.Org.").child_label_of(&parent), Some("msk"));
        assert_eq!(domain("a.msk.example.org").child_label_of(&parent), None);
        assert_eq!(domain("example.org").child_label_of(&parent), None);
        assert_eq!(domain("myexample.org").child_label_of(&parent), None);
        assert_eq!(domain("msk.example.com").child_label_of(&parent), None);
        let idn = domain("пример.рф");
        let msk = domain("мск.пример.рф");
        assert_eq!(msk.child_label_of(&idn), Some("xn--j1adp"));
        assert_eq!(domain("мск.xn--e1afmkfd.xn--p1ai").child_label_of(&idn), Some("xn--j1adp"));

        assert_eq!(parent.child("msk"), Ok(domain("msk.example.org")));
        assert_eq!(parent.child("MSK"), Ok(domain("msk.example.org")));
        assert_eq!(idn.child("мск"), Ok(msk.clone()));
        assert_eq!(idn.child("xn--j1adp"), Ok(msk));
        assert_eq!(parent.child(""), Err(E::EmptyLabel));
        assert_eq!(parent.child("a.b"), Err(E::NotOneLabel));
        assert_eq!(parent.child("a."), Err(E::NotOneLabel));
        assert_eq!(parent.child("a。b"), Err(E::NotOneLabel));
        assert_eq!(parent.child("-a"), Err(E::LabelHyphen));
        assert_eq!(parent.child("a_b"), Err(E::DomainChar('_')));
        assert_eq!(parent.child(&"a".repeat(64)), Err(E::LabelTooLong));
        let child = parent.child("msk").unwrap();
        assert_eq!(child.child_label_of(&parent), Some("msk"));
    }

    #[test]
    fn domain_literals_and_errors() {
        assert_eq!(Domain::parse("[192.0.2.1]"), Err(E::AddressLiteral));
        assert_eq!(Domain::parse("[IPv6:::1]"), Err(E::AddressLiteral));
        assert_eq!(Domain::parse(""), Err(E::EmptyDomain));
        assert_eq!(Domain::parse("."), Err(E::EmptyDomain));
        assert_eq!(Domain::parse("org"), Err(E::SingleLabel));
        assert_eq!(Domain::parse("a..org"), Err(E::EmptyLabel));
        assert_eq!(Domain::parse("example.org\0"), Err(E::DomainChar('\0')));
        assert_eq!(Domain::parse("exam ple.org"), Err(E::DomainChar(' ')));
    }

    #[test]
    fn serde_round_trip() {
        for s in ["user@example.org", "\"john smith\"@example.org", "иван@пример.рф", "a\"b\\c\"@x"]
        {
            let Ok(a) = Address::parse(s) else { continue };
            let json = serde_json::to_string(&a).unwrap();
            assert_eq!(json, serde_json::to_string(&a.to_string()).unwrap());
            let back: Address = serde_json::from_str(&json).unwrap();
            assert_eq!(back, a);
            assert_eq!(back.to_string(), a.to_string());
        }
        assert_eq!(serde_json::to_string(&addr("иван@пример.рф")).unwrap(), "\"иван@xn--e1afmkfd.xn--p1ai\"");
        let d: Domain = serde_json::from_str("\"ПРИМЕР.рф\"").unwrap();
        assert_eq!(d.as_str(), "xn--e1afmkfd.xn--p1ai");
        assert_eq!(serde_json::to_string(&d).unwrap(), "\"xn--e1afmkfd.xn--p1ai\"");
        let l: LocalPart = serde_json::from_str(r#""\"a b\"""#).unwrap();
        assert_eq!(l.as_str(), "a b");
        assert_eq!(serde_json::to_string(&l).unwrap(), r#""\"a b\"""#);
        let err = serde_json::from_str::<Address>("\"user@[192.0.2.1]\"").unwrap_err();
        assert!(err.to_string().contains("address literals are not accepted"), "{err}");
        assert!(serde_json::from_str::<Address>("42").is_err());
    }

    // --- properties ---

    /// An atom of ASCII atext.
    fn ascii_atom() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9!#$%&'*+/=?^_`{|}~\\-]{1,8}"
    }

    fn ascii_dot_string() -> impl Strategy<Value = String> {
        prop::collection::vec(ascii_atom(), 1..4).prop_map(|atoms| atoms.join("."))
    }

    fn dot_string() -> impl Strategy<Value = String> {
        let atom = prop_oneof![ascii_atom(), "[a-zA-Zа-яА-ЯёЁ0-9_\\-]{1,8}", "[用户例子中文]{1,4}"];
        prop::collection::vec(atom, 1..4).prop_map(|atoms| atoms.join("."))
    }

    /// Any content (printable ASCII, space, Cyrillic), quoted with minimal escapes.
    fn quoted_string() -> impl Strategy<Value = String> {
        "[ -~а-я]{1,20}".prop_map(|content| {
            let escaped: String = content
                .chars()
                .flat_map(|c| (matches!(c, '"' | '\\').then_some('\\')).into_iter().chain([c]))
                .collect();
            format!("\"{escaped}\"")
        })
    }

    fn ascii_label() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9]{1,10}(-[a-zA-Z0-9]{1,5})?"
    }

    fn ascii_domain() -> impl Strategy<Value = String> {
        (prop::collection::vec(ascii_label(), 1..4), "[a-zA-Z]{2,6}", any::<bool>()).prop_map(
            |(labels, tld, dot)| format!("{}.{tld}{}", labels.join("."), if dot { "." } else { "" }),
        )
    }

    fn any_domain() -> impl Strategy<Value = String> {
        let label = prop_oneof![ascii_label(), "[а-яА-Я]{1,10}", "[а-я0-9]{1,5}-[а-я]{1,5}"];
        let tld = prop_oneof!["[a-zA-Z]{2,6}", Just("рф".to_owned()), Just("XN--P1AI".to_owned())];
        (prop::collection::vec(label, 1..4), tld, any::<bool>()).prop_map(|(labels, tld, dot)| {
            format!("{}.{tld}{}", labels.join("."), if dot { "." } else { "" })
        })
    }

    fn valid_address() -> impl Strategy<Value = String> {
        (prop_oneof![dot_string(), quoted_string()], any_domain()).prop_map(|(l, d)| format!("{l}@{d}"))
    }

    /// Strings made of the characters that matter to the parser.
    fn address_like() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9я@\"\\\\.,:;<>\\[\\] \t\r\n\0%!_\\-。\u{300}]{0,40}"
    }

    fn check_round_trip(s: &str) -> Result<(), TestCaseError> {
        if let Ok(a) = Address::parse(s) {
            let written = a.to_string();
            prop_assert!(written.len() <= 254);
            prop_assert!(a.local().to_string().len() <= 64);
            prop_assert!(a.domain().as_str().len() <= 253);
            let back = Address::parse(&written);
            prop_assert_eq!(back.as_ref(), Ok(&a), "{:?} -> {:?}", s, written);
            let back = back.unwrap();
            prop_assert_eq!(back.to_string(), written);
            prop_assert_eq!(back.local().as_str(), a.local().as_str());
            let unicode = Domain::parse(&a.domain().to_unicode());
            prop_assert_eq!(unicode.as_ref(), Ok(a.domain()));
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Any input gives a value or an error, and whatever is accepted is written back in a
        /// form that parses to the same value.
        #[test]
        fn parse_never_panics(s in any::<String>()) {
            let _ = LocalPart::parse(&s);
            let _ = Domain::parse(&s);
            check_round_trip(&s)?;
        }

        #[test]
        fn parse_never_panics_on_address_like_input(s in address_like()) {
            let _ = LocalPart::parse(&s);
            let _ = Domain::parse(&s);
            check_round_trip(&s)?;
        }

        #[test]
        fn valid_addresses_round_trip(s in valid_address()) {
            let a = Address::parse(&s);
            prop_assert!(a.is_ok(), "{:?}: {:?}", s, a);
            check_round_trip(&s)?;
            let a = a.unwrap();
            let json = serde_json::to_string(&a).unwrap();
            prop_assert_eq!(serde_json::from_str::<Address>(&json).unwrap(), a);
        }

        #[test]
        fn equality_ignores_ascii_case(l in ascii_dot_string(), d in ascii_domain()) {
            let s = format!("{l}@{d}");
            let a = Address::parse(&s);
            prop_assert!(a.is_ok(), "{:?}: {:?}", s, a);
            let upper = Address::parse(&s.to_uppercase());
            prop_assert_eq!(&upper, &a);
            prop_assert_eq!(Address::parse(&s.to_lowercase()), a);
        }
    }
}
