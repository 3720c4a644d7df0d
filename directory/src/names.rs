//! The rules for the names the directory gives out (users, aliases, lists), stricter than what
//! SMTP can carry: a name is what people type into mail clients and read in address books, so
//! it must be writable without quotes and must not pass for someone else's name.
//!
//! * Letters, digits, dots, hyphens and underscores only, as a dot-string (no leading, trailing
//!   or double dot). Quoted local parts (`"john smith"`, `"../x"`) are valid on the wire and
//!   accepted from outside, but never created: clients, IMAP logins and address books handle
//!   them badly. `+` is not allowed either: it is the subaddress separator.
//! * Letters of one script per name (Unicode TR 39 §5.1, "single script"): `pаypal` with a
//!   Cyrillic `а` among Latin letters is refused.
//! * No name that looks like an existing one (TR 39 §4 confusable skeletons) while the two are
//!   spelled differently and one of them has non-ASCII letters: an all-Cyrillic `асе` next to
//!   a Latin `ace` is refused. Two ASCII names (`rn` and `m`) are never refused as confusable:
//!   that is how Latin text has always been read.
//!
//! * ASCII only, unless the domain allows other alphabets (`DomainSettings::unicode_names`): an
//!   address like `иванов@` needs SMTPUTF8 (RFC 6531) all the way, and many outside servers and
//!   mail clients still cannot send to it, so a domain opts in knowingly.
//!
//! Names already in the directory are not re-checked: only a new name goes through these rules.

use unicode_normalization::char::is_combining_mark;
use unicode_security::{GeneralSecurityProfile, MixedScript, skeleton};

use crate::LocalPart;
use crate::model::DirectoryError;

fn allowed(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')
    } else {
        // Letters and digits of any script, and the combining marks some scripts need (Hindi
        // vowel signs) that NFC cannot fold away; of these, only what TR 39's identifier
        // profile allows (no obsolete or technical characters, no invisible joiners).
        (c.is_alphanumeric() || is_combining_mark(c)) && c.identifier_allowed()
    }
}

/// Checks a new name against the rules above; `existing` are the names of every user, alias
/// and list already in the directory; `unicode` whether the domain allows non-ASCII names.
pub fn check_new<'a>(
    name: &LocalPart,
    existing: impl Iterator<Item = &'a LocalPart>,
    unicode: bool,
) -> Result<(), DirectoryError> {
    let text = name.as_str();
    if let Some(c) = text.chars().find(|&c| !allowed(c)) {
        return Err(DirectoryError::NameChar(name.clone(), c));
    }
    if name.needs_quotes() {
        // Only the dot rules are left: a leading, trailing or double dot.
        return Err(DirectoryError::NameDots(name.clone()));
    }
    if !text.is_single_script() {
        return Err(DirectoryError::MixedScripts(name.clone()));
    }
    // After the rules above, so a mistyped layout (`ivanоv`) is told as such.
    if !unicode && !text.is_ascii() {
        return Err(DirectoryError::NonAsciiName(name.clone()));
    }
    let ascii = text.is_ascii();
    let mine: String = skeleton(name.folded()).collect();
    for other in existing {
        if other == name || (ascii && other.as_str().is_ascii()) {
            continue;
        }
        if skeleton(other.folded()).eq(mine.chars()) {
            return Err(DirectoryError::Confusable(name.clone(), other.clone()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lp(s: &str) -> LocalPart {
        LocalPart::parse(s).unwrap()
    }

    fn check(name: &str, existing: &[&str]) -> Result<(), DirectoryError> {
        let existing: Vec<LocalPart> = existing.iter().map(|s| lp(s)).collect();
        check_new(&lp(name), existing.iter(), true)
    }

    #[test]
    fn non_ascii_names_need_the_domains_consent() {
        assert!(matches!(
            check_new(&lp("иванов"), std::iter::empty(), false),
            Err(DirectoryError::NonAsciiName(_))
        ));
        assert_eq!(check_new(&lp("ivanov"), std::iter::empty(), false), Ok(()));
        assert_eq!(check_new(&lp("иванов"), std::iter::empty(), true), Ok(()));
        // A character no name may have is said as such, consent or not.
        assert!(matches!(
            check_new(&lp("иван+ов"), std::iter::empty(), false),
            Err(DirectoryError::NameChar(..))
        ));
    }

    #[test]
    fn plain_names_pass() {
        for n in ["ivanov", "a.ivanov", "sales-msk", "i_petrova", "user2", "иванов", "müller", "ολγα"]
        {
            assert_eq!(check(n, &["petrov", "иванова"]), Ok(()), "{n}");
        }
    }

    #[test]
    fn quoted_and_special_names_are_refused() {
        assert!(matches!(check("\"../../etc-x2\"", &[]), Err(DirectoryError::NameChar(_, '/'))));
        assert!(matches!(check("\"john smith\"", &[]), Err(DirectoryError::NameChar(_, ' '))));
        assert!(matches!(check("\"a..b\"", &[]), Err(DirectoryError::NameDots(_))));
        assert!(matches!(check("\".a\"", &[]), Err(DirectoryError::NameDots(_))));
        assert!(matches!(check("john+tag", &[]), Err(DirectoryError::NameChar(_, '+'))));
        assert!(matches!(check("o'brien", &[]), Err(DirectoryError::NameChar(_, '\''))));
    }

    #[test]
    fn mixed_scripts_are_refused() {
        // Latin "admin" with a Cyrillic "а".
        assert!(matches!(check("\u{0430}dmin", &[]), Err(DirectoryError::MixedScripts(_))));
        assert!(matches!(check("ivanоv", &[]), Err(DirectoryError::MixedScripts(_))));
    }

    #[test]
    fn whole_script_confusables_are_refused_both_ways() {
        // All-Cyrillic "асе" next to Latin "ace", and the other way round.
        assert!(matches!(check("асе", &["ace"]), Err(DirectoryError::Confusable(..))));
        assert!(matches!(check("ace", &["асе"]), Err(DirectoryError::Confusable(..))));
        // Case does not help: "АСЕ" is "асе".
        assert!(matches!(check("АСЕ", &["ace"]), Err(DirectoryError::Confusable(..))));
        // ASCII among ASCII is never refused.
        assert_eq!(check("rn", &["m"]), Ok(()));
        assert_eq!(check("l1", &["ll"]), Ok(()));
    }

    #[test]
    fn nfc_and_nfd_are_one_name() {
        let nfc = lp("jos\u{e9}");
        let nfd = lp("jose\u{301}");
        assert_eq!(nfc, nfd);
        assert_eq!(nfc.folded(), nfd.folded());
        assert_eq!(nfd.as_str(), "jos\u{e9}");
    }
}
