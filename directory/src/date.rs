//! Calendar dates from Unix time, for the few places that print them (mail headers, DSNs, the
//! web UI). Small enough not to need a date crate.

/// A Unix time split into the proleptic Gregorian calendar (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    pub year: i64,
    /// 1–12.
    pub month: u32,
    /// 1–31.
    pub day: u32,
    /// 0 = Sunday.
    pub weekday: u32,
    /// Seconds since midnight.
    pub secs: u32,
}

impl Civil {
    pub fn from_unix(t: i64) -> Civil {
        let days = t.div_euclid(86_400);
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        Civil {
            year: yoe + era * 400 + i64::from(month <= 2),
            month,
            day,
            weekday: (days + 4).rem_euclid(7) as u32,
            secs: t.rem_euclid(86_400) as u32,
        }
    }

    /// "Sun" … "Sat".
    pub fn weekday_name(&self) -> &'static str {
        ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"][self.weekday as usize]
    }

    /// "Jan" … "Dec".
    pub fn month_name(&self) -> &'static str {
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
            [self.month as usize - 1]
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
/// Out-of-range months and days are not checked: the caller compares the round trip.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::{Civil, days_from_civil};

    #[test]
    fn days_round_trip() {
        for d in [-1000i64, -1, 0, 1, 11_016, 20_000, 2_932_896] {
            let c = Civil::from_unix(d * 86_400);
            assert_eq!(days_from_civil(c.year, c.month, c.day), d);
        }
        assert_eq!(days_from_civil(2000, 2, 29), 11_016);
    }

    #[test]
    fn known_dates() {
        let c = Civil::from_unix(0);
        assert_eq!((c.year, c.month, c.day, c.weekday_name(), c.secs), (1970, 1, 1, "Thu", 0));
        let c = Civil::from_unix(951_782_400);
        assert_eq!((c.year, c.month, c.day, c.weekday_name()), (2000, 2, 29, "Tue"));
        let c = Civil::from_unix(1_700_000_000);
        assert_eq!((c.year, c.month_name(), c.day, c.secs), (2023, "Nov", 14, 80_000));
        let c = Civil::from_unix(-1);
        assert_eq!((c.year, c.month, c.day, c.weekday_name(), c.secs), (1969, 12, 31, "Wed", 86_399));
    }
}
