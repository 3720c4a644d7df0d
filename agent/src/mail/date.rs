//! The one RFC 5322 date of the agent (`Received:` fields, DSNs): always UTC, so the zone is
//! `+0000` and no time-zone database is consulted.

/// `Thu, 01 Jan 1970 00:00:00 +0000` (RFC 5322 §3.3) for `secs` since the Unix epoch.
pub fn rfc5322(secs: i64) -> String {
    let c = pochta_directory::date::Civil::from_unix(secs);
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} +0000",
        c.weekday_name(),
        c.day,
        c.month_name(),
        c.year,
        c.secs / 3600,
        c.secs % 3600 / 60,
        c.secs % 60
    )
}

/// [`rfc5322`] for now.
pub fn now() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    rfc5322(secs as i64)
}

#[cfg(test)]
mod tests {
    use super::rfc5322;

    #[test]
    fn dates() {
        assert_eq!(rfc5322(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(rfc5322(1_700_000_000), "Tue, 14 Nov 2023 22:13:20 +0000");
        assert_eq!(rfc5322(951_782_400), "Tue, 29 Feb 2000 00:00:00 +0000");
    }
}
