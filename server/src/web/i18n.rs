//! Languages: English and Russian, from `locales/{en,ru}/*.ftl`, embedded at compile time.
//! The language is the saved choice (cookie) when there is one, else negotiated from
//! Accept-Language, else English.

use std::borrow::Cow;
use std::collections::HashMap;

use fluent_templates::fluent_bundle::FluentValue;
use fluent_templates::{Loader, static_loader};
use unic_langid::{LanguageIdentifier, langid};

static_loader! {
    static LOCALES = {
        locales: "../locales",
        fallback_language: "en",
        // Fluent would wrap arguments in U+2068/U+2069 isolation marks, which show up in HTML
        // and in copied text.
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

static EN: LanguageIdentifier = langid!("en");
static RU: LanguageIdentifier = langid!("ru");

/// Argument names whose values are numbers (so that plural forms are chosen by them).
const NUMERIC_ARGS: &[&str] = &[
    "count",
    "min",
    "max",
    "minutes",
    "seconds",
    "bytes",
    "create",
    "update",
    "unchanged",
    "active",
    "page",
    "pages",
    "level",
    "total",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    En,
    Ru,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Ru];

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ru => "ru",
        }
    }

    pub fn from_code(code: &str) -> Option<Lang> {
        match code.trim().to_ascii_lowercase().as_str() {
            "en" => Some(Lang::En),
            "ru" => Some(Lang::Ru),
            _ => None,
        }
    }

    /// The language's own name, for the switcher.
    pub fn native_name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::Ru => "Русский",
        }
    }

    fn id(self) -> &'static LanguageIdentifier {
        match self {
            Lang::En => &EN,
            Lang::Ru => &RU,
        }
    }

    /// Picks the best language for an Accept-Language header.
    pub fn negotiate(accept_language: &str) -> Lang {
        use fluent_langneg::{NegotiationStrategy, convert_vec_str_to_langids_lossy, negotiate_languages};
        let requested: Vec<LanguageIdentifier> = {
            let mut tags: Vec<(f32, &str)> = accept_language
                .split(',')
                .filter_map(|part| {
                    let mut it = part.split(';');
                    let tag = it.next()?.trim();
                    let q = it
                        .find_map(|p| p.trim().strip_prefix("q="))
                        .and_then(|q| q.parse::<f32>().ok())
                        .unwrap_or(1.0);
                    (!tag.is_empty() && tag != "*" && q > 0.0).then_some((q, tag))
                })
                .collect();
            tags.sort_by(|a, b| b.0.total_cmp(&a.0));
            convert_vec_str_to_langids_lossy(tags.into_iter().map(|(_, t)| t))
        };
        let available = [EN.clone(), RU.clone()];
        let chosen = negotiate_languages(&requested, &available, Some(&EN), NegotiationStrategy::Filtering);
        match chosen.first() {
            Some(l) if **l == RU => Lang::Ru,
            _ => Lang::En,
        }
    }

    /// The message `key`. A key missing in this language falls back to English; a key missing
    /// everywhere shows as itself (a test keeps that from happening).
    pub fn t(self, key: &str) -> String {
        LOCALES.try_lookup(self.id(), key).unwrap_or_else(|| missing(key))
    }

    /// The message `key` with arguments; numeric ones (see `NUMERIC_ARGS`) choose plural forms.
    pub fn ta(self, key: &str, args: &[(&str, String)]) -> String {
        let map: HashMap<Cow<'static, str>, FluentValue> = args
            .iter()
            .map(|(k, v)| {
                let value = if NUMERIC_ARGS.contains(k) {
                    v.parse::<f64>().map(FluentValue::from).unwrap_or_else(|_| FluentValue::from(v.clone()))
                } else {
                    FluentValue::from(v.clone())
                };
                (Cow::Owned((*k).to_owned()), value)
            })
            .collect();
        LOCALES.try_lookup_with_args(self.id(), key, &map).unwrap_or_else(|| missing(key))
    }
}

fn missing(key: &str) -> String {
    tracing::warn!(key, "missing translation");
    key.to_owned()
}

/// Formats a count with a thin space between thousands (both languages accept it).
pub fn number(n: impl std::fmt::Display) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push('\u{202f}');
        }
        out.push(c);
    }
    out
}

/// A size in bytes for people: `812 B`, `12.3 MB`, `1 GB` (`12,3 МБ` in Russian), in binary
/// multiples as quotas are counted (`manage::mailbox::MB`).
pub fn size(lang: Lang, bytes: u64) -> String {
    let mut unit = 0;
    let mut value = bytes as f64;
    while value >= 1024.0 && unit < 4 {
        value /= 1024.0;
        unit += 1;
    }
    let tenths = (value * 10.0).round() / 10.0;
    let mut n = if unit == 0 || tenths >= 100.0 || tenths.fract() == 0.0 {
        format!("{}", value.round())
    } else {
        format!("{tenths:.1}")
    };
    if lang == Lang::Ru {
        n = n.replace('.', ",");
    }
    let key = match unit {
        0 => "size-bytes",
        1 => "size-kb",
        2 => "size-mb",
        3 => "size-gb",
        _ => "size-tb",
    };
    lang.ta(key, &[("size", n)])
}

/// A Unix time as `2026-11-29 12:54 UTC`.
pub fn datetime(t: i64) -> String {
    let c = pochta_directory::date::Civil::from_unix(t);
    format!("{:04}-{:02}-{:02} {:02}:{:02} UTC", c.year, c.month, c.day, c.secs / 3600, c.secs % 3600 / 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation() {
        assert_eq!(Lang::negotiate("ru-RU,ru;q=0.9,en-US;q=0.8"), Lang::Ru);
        assert_eq!(Lang::negotiate("en-GB,en;q=0.9,ru;q=0.5"), Lang::En);
        assert_eq!(Lang::negotiate("de-DE, ru;q=0.3"), Lang::Ru);
        assert_eq!(Lang::negotiate("de-DE"), Lang::En);
        assert_eq!(Lang::negotiate(""), Lang::En);
        assert_eq!(Lang::negotiate("en;q=0.1, ru;q=0.9"), Lang::Ru);
    }

    #[test]
    fn russian_plural_forms() {
        let n = |k: u64| Lang::Ru.ta("users-count", &[("count", k.to_string())]);
        assert!(n(1).contains("пользователь"), "{}", n(1));
        assert!(n(21).contains("пользователь") && !n(21).contains("пользователя"), "{}", n(21));
        assert!(n(3).contains("пользователя"), "{}", n(3));
        assert!(n(5).contains("пользователей"), "{}", n(5));
        assert!(n(11).contains("пользователей"), "{}", n(11));
        assert!(Lang::En.ta("users-count", &[("count", "1".into())]).contains("1 user"));
        assert!(Lang::En.ta("users-count", &[("count", "2".into())]).contains("2 users"));
    }

    #[test]
    fn no_isolation_marks() {
        let s = Lang::En.ta("err-no-such-user", &[("name", "ivanov".into())]);
        assert!(!s.contains('\u{2068}') && s.contains("ivanov"), "{s:?}");
    }

    #[test]
    fn formats() {
        assert_eq!(number(100_000u64), "100\u{202f}000");
        assert_eq!(number(999u64), "999");
        assert_eq!(datetime(0), "1970-01-01 00:00 UTC");
        assert_eq!(datetime(1_764_420_840), "2025-11-29 12:54 UTC");
    }

    #[test]
    fn sizes() {
        assert_eq!(size(Lang::En, 812), "812 B");
        assert_eq!(size(Lang::En, 2048), "2 KB");
        assert_eq!(size(Lang::En, 12_900_000), "12.3 MB");
        assert_eq!(size(Lang::Ru, 12_900_000), "12,3 МБ");
        assert_eq!(size(Lang::En, 1 << 30), "1 GB");
        assert_eq!(size(Lang::Ru, 3 << 29), "1,5 ГБ");
        assert_eq!(size(Lang::En, 500 << 20), "500 MB");
        assert_eq!(size(Lang::En, 1 << 50), "1024 TB");
    }
}

/// Every language has every key, and every key the code and the templates use exists.
#[cfg(test)]
mod completeness {
    use std::collections::BTreeSet;
    use std::path::{Path, PathBuf};

    fn root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
    }

    /// Message ids defined in a language's `.ftl` files.
    fn defined(lang: &str) -> BTreeSet<String> {
        let mut keys = BTreeSet::new();
        for e in std::fs::read_dir(root().join("locales").join(lang)).unwrap() {
            let text = std::fs::read_to_string(e.unwrap().path()).unwrap();
            for line in text.lines() {
                if let Some((id, _)) = line.split_once(" =")
                    && !id.is_empty()
                    && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                {
                    assert!(keys.insert(id.to_owned()), "{lang}: {id} is defined twice");
                }
            }
        }
        keys
    }

    fn files(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                files(&p, ext, out);
            } else if p.extension().is_some_and(|x| x == ext) {
                out.push(p);
            }
        }
    }

    /// A Fluent id: lower-case words joined by hyphens.
    fn is_key(s: &str) -> bool {
        s.contains('-')
            && s.split('-')
                .all(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()))
    }

    /// Keys used: literal arguments of `t`, `t1`, `t2`, `ta` and `.key`, literals a `match` arm
    /// returns (how dynamic keys are chosen), and every `"err-…"`/`"ok-…"` literal.
    fn used() -> BTreeSet<(String, String)> {
        let mut paths = vec![];
        files(&root().join("templates"), "html", &mut paths);
        files(&root().join("server/src/web"), "rs", &mut paths);
        files(&root().join("server/src/manage"), "rs", &mut paths);
        paths.push(root().join("server/src/error.rs"));
        let mut out = BTreeSet::new();
        for p in paths {
            let text = std::fs::read_to_string(&p).unwrap();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let mut rest = text.as_str();
            while let Some(i) = rest.find('"') {
                let before = rest[..i].trim_end();
                let after = &rest[i + 1..];
                let Some(end) = after.find('"') else { break };
                let lit = &after[..end];
                let call = [".t(", ".t1(", ".t2(", ".ta(", ".key(", "=>", "=> ("]
                    .iter()
                    .any(|c| before.ends_with(c));
                if is_key(lit) && (call || lit.starts_with("err-") || lit.starts_with("ok-")) {
                    out.insert((lit.to_owned(), name.clone()));
                }
                rest = &after[end + 1..];
            }
        }
        out
    }

    #[test]
    fn every_key_in_both_languages() {
        let (en, ru) = (defined("en"), defined("ru"));
        let only_en: Vec<_> = en.difference(&ru).collect();
        let only_ru: Vec<_> = ru.difference(&en).collect();
        assert!(only_en.is_empty(), "missing in Russian: {only_en:?}");
        assert!(only_ru.is_empty(), "missing in English: {only_ru:?}");
        assert!(en.len() > 200, "suspiciously few keys: {}", en.len());
    }

    #[test]
    fn every_used_key_exists() {
        let en = defined("en");
        let used = used();
        let missing: Vec<_> = used.iter().filter(|(k, _)| !en.contains(k)).collect();
        assert!(missing.is_empty(), "keys used but not defined: {missing:?}");
        assert!(used.len() > 200, "the scanner found too few keys: {}", used.len());
    }

    #[test]
    fn every_key_renders_in_both_languages() {
        for key in defined("en") {
            for lang in super::Lang::ALL {
                let args: Vec<(&str, String)> = [
                    "count",
                    "min",
                    "max",
                    "minutes",
                    "seconds",
                    "bytes",
                    "create",
                    "update",
                    "unchanged",
                    "active",
                    "page",
                    "pages",
                    "total",
                    "moved",
                    "hours",
                    "in",
                    "out",
                ]
                .iter()
                .map(|k| (*k, "3".to_owned()))
                .chain(
                    [
                        "name",
                        "site",
                        "address",
                        "domain",
                        "kind",
                        "state",
                        "level",
                        "status",
                        "from",
                        "to",
                        "id",
                        "expires",
                        "version",
                        "user",
                        "day",
                        "size",
                        "used",
                        "quota",
                        "value",
                        "host",
                        "port",
                        "char",
                        "other",
                        "scanner",
                        "agent",
                        "since",
                        "error",
                        "until",
                        "found",
                        "selector",
                        "algorithm",
                        "column",
                        "wait",
                        "rate",
                        "eta",
                        "time",
                        "when",
                        "reason",
                        "member",
                        "group",
                        "field",
                        "old",
                        "new",
                        "author",
                        "versions",
                        "enabled",
                        "mailboxes",
                        "sites",
                        "outside",
                        "addresses",
                        "relay",
                        "keep",
                        "policy",
                        "code",
                        "changed",
                        "zone",
                        "free",
                        "label",
                    ]
                    .iter()
                    .map(|k| (*k, "x".to_owned())),
                )
                .collect();
                let s = lang.ta(&key, &args);
                assert!(!s.is_empty() && s != key, "{key} does not render in {lang:?}");
                assert!(
                    !s.contains("{$") && !s.contains("{ $"),
                    "{key} in {lang:?} has an unresolved argument: {s}"
                );
            }
        }
    }
}
