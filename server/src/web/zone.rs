//! Times in the reader's time zone: the deployment's default (`time_zone` in server.toml, e.g.
//! Europe/Moscow), or each person's own choice (a cookie, set on `/time-zone`). Zones come from
//! the system's tz database (Debian's tzdata, read by jiff), so daylight-saving rules stay
//! right without a release of ours.

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::i18n::Lang;

/// The cookie with a person's own zone.
pub const COOKIE: &str = "__Host-pochta_tz";

/// A named zone.
#[derive(Clone)]
pub struct Zone {
    name: String,
    tz: TimeZone,
}

impl std::fmt::Debug for Zone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Zone({})", self.name)
    }
}

impl Zone {
    pub fn utc() -> Zone {
        Zone { name: "UTC".into(), tz: TimeZone::UTC }
    }

    /// An IANA zone name (`Europe/Moscow`), if the system knows it.
    pub fn named(name: &str) -> Option<Zone> {
        let name = name.trim();
        if name.is_empty() || name.len() > 64 {
            return None;
        }
        if name.eq_ignore_ascii_case("utc") {
            return Some(Zone::utc());
        }
        TimeZone::get(name).ok().map(|tz| Zone { name: name.to_owned(), tz })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `ts` (Unix seconds) as the locale writes it, with the zone's abbreviation:
    /// `03.12.2026 20:50 MSK`, `2026-12-03 20:50 MSK`.
    pub fn datetime(&self, lang: Lang, ts: i64) -> String {
        let Ok(t) = Timestamp::from_second(ts) else { return ts.to_string() };
        let z = t.to_zoned(self.tz.clone());
        let pattern = match lang {
            Lang::Ru => "%d.%m.%Y %H:%M %Z",
            Lang::En => "%Y-%m-%d %H:%M %Z",
        };
        z.strftime(pattern).to_string()
    }

    /// The wall-clock time of `ts` here, as a chart's tick reads it: `20:50`, or `03.12` when
    /// `days`.
    pub fn tick(&self, ts: i64, days: bool) -> String {
        let Ok(t) = Timestamp::from_second(ts) else { return String::new() };
        t.to_zoned(self.tz.clone()).strftime(if days { "%d.%m" } else { "%H:%M" }).to_string()
    }

    /// Unix seconds at the start of the calendar day `day` (`YYYY-MM-DD`) here.
    pub fn day_start(&self, day: &str) -> Option<i64> {
        let date: jiff::civil::Date = day.trim().parse().ok()?;
        date.to_zoned(self.tz.clone()).ok().map(|z| z.timestamp().as_second())
    }
}

/// The zones a person may choose from, `Area/City` names only, sorted.
pub fn choices() -> Vec<String> {
    let mut names: Vec<String> = jiff::tz::db()
        .available()
        .map(|n| n.as_str().to_owned())
        .filter(|n| {
            n.contains('/') && !n.starts_with("Etc/") && !n.starts_with("posix/") && !n.starts_with("right/")
        })
        .collect();
    names.sort();
    names.dedup();
    names.insert(0, "UTC".into());
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_written_in_the_zone_and_the_locales_format() {
        let msk = Zone::named("Europe/Moscow").expect("tzdata is installed");
        // 2025-11-29 12:54 UTC is 15:54 in Moscow (UTC+3, no daylight saving).
        assert_eq!(msk.datetime(Lang::Ru, 1_764_420_840), "29.11.2025 15:54 MSK");
        assert_eq!(msk.datetime(Lang::En, 1_764_420_840), "2025-11-29 15:54 MSK");
        assert_eq!(Zone::utc().datetime(Lang::En, 0), "1970-01-01 00:00 UTC");
        // Daylight saving: Berlin is UTC+1 in winter, UTC+2 in summer.
        let berlin = Zone::named("Europe/Berlin").unwrap();
        assert_eq!(berlin.tick(1_764_420_840, false), "13:54");
        assert_eq!(berlin.tick(1_751_201_640, false), "14:54");
        assert_eq!(msk.day_start("2025-11-29"), Some(1_764_363_600));
        assert!(Zone::named("Mars/Olympus").is_none() && Zone::named("").is_none());
        assert!(choices().iter().any(|z| z == "Europe/Moscow"));
    }
}
