//! A user's mailbox settings as typed in a form or a CSV file, parsed into the directory's
//! types: a quota with its unit, forwarding addresses one per line, a vacation reply with its
//! dates. The rules on the parsed values (how many forwards, subject length, end before start)
//! are `Directory::check`'s, so the API, the pages and the agents refuse the same things.

use pochta_directory::model::{Day, Forwarding, MAX_FORWARDS, Vacation};
use pochta_directory::{Address, DirectoryError};

use crate::error::ApiError;

/// The largest quota anyone may set: 1 PiB. Far above any real mailbox, and well inside the
/// signed 64-bit columns both databases store it in.
pub const MAX_QUOTA: u64 = 1 << 50;

/// Binary multiples, as mail servers count quotas: 1 MB here is 1,048,576 bytes.
pub const MB: u64 = 1 << 20;
pub const GB: u64 = 1 << 30;

fn bad_quota(text: &str) -> ApiError {
    ApiError::bad_request(format!(
        "quota: '{text}' is not a size (bytes, or a number with MB or GB, at most 1 PiB)"
    ))
    .key("err-quota")
    .arg("value", text)
    .field("quota")
}

/// Refuses a quota of zero or beyond [`MAX_QUOTA`]. Zero would bounce every letter, which no
/// one means; "no limit" is the site default left empty.
pub fn check_quota(q: Option<u64>) -> Result<Option<u64>, ApiError> {
    match q {
        Some(n) if n == 0 || n > MAX_QUOTA => Err(bad_quota(&n.to_string())),
        q => Ok(q),
    }
}

/// A quota typed as a number in `unit` ("MB" or "GB"); empty: none (the site's default).
/// A decimal comma is taken as well as a point (`1,5` GB, as written in Russian).
pub fn parse_quota_in(number: &str, unit: &str) -> Result<Option<u64>, ApiError> {
    let number = number.trim();
    if number.is_empty() {
        return Ok(None);
    }
    let unit = match unit.trim().to_ascii_uppercase().as_str() {
        "GB" => GB,
        _ => MB,
    };
    scaled(number, unit).map(Some).ok_or_else(|| bad_quota(number))
}

/// A quota written with its unit, as in a CSV file: `1073741824`, `500MB`, `1.5 GB`
/// (also `МБ`, `ГБ`); empty: none.
pub fn parse_quota_text(text: &str) -> Result<Option<u64>, ApiError> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    let upper = t.to_uppercase();
    let (number, unit) = [("MB", MB), ("МБ", MB), ("GB", GB), ("ГБ", GB), ("B", 1), ("Б", 1)]
        .iter()
        .find_map(|(suffix, unit)| upper.strip_suffix(suffix).map(|n| (n.trim_end(), *unit)))
        .unwrap_or((upper.as_str(), 1));
    scaled(number, unit).map(Some).ok_or_else(|| bad_quota(t))
}

/// `number × unit`, whole bytes, 1 byte to [`MAX_QUOTA`].
fn scaled(number: &str, unit: u64) -> Option<u64> {
    let number = number.replace(',', ".");
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    let bytes = if let Ok(n) = number.parse::<u64>() {
        n.checked_mul(unit)?
    } else {
        let f: f64 = number.parse().ok()?;
        let b = (f * unit as f64).round();
        if !(1.0..=MAX_QUOTA as f64).contains(&b) {
            return None;
        }
        b as u64
    };
    (1..=MAX_QUOTA).contains(&bytes).then_some(bytes)
}

/// Forwarding addresses, one per line (commas and spaces separate too); none: no forwarding.
pub fn parse_forward(lines: &str, keep_copy: bool) -> Result<Option<Forwarding>, ApiError> {
    let mut to = std::collections::BTreeSet::new();
    for a in lines.split(|c: char| c == ',' || c == ';' || c.is_whitespace()).filter(|a| !a.is_empty()) {
        let address = Address::parse(a).map_err(|e| {
            ApiError::bad_request(format!("forward: '{a}': {e}"))
                .key("err-forward-address")
                .arg("address", a)
                .field("forward")
        })?;
        to.insert(address);
    }
    if to.len() > MAX_FORWARDS {
        return Err(DirectoryError::TooManyForwards.into());
    }
    Ok((!to.is_empty()).then_some(Forwarding { to, keep_copy }))
}

/// The vacation reply as a form has it.
#[derive(Debug, Clone, Default)]
pub struct VacationInput {
    pub on: bool,
    pub start: String,
    pub end: String,
    pub subject: String,
    pub text: String,
    pub interval_days: String,
}

fn day(s: &str, field: &'static str) -> Result<Option<Day>, ApiError> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    Day::parse(s).map(Some).map_err(|e| ApiError::from(e).field(field))
}

/// Off: no reply. On: the dates (empty: open-ended), subject, text and interval, parsed.
pub fn parse_vacation(v: &VacationInput) -> Result<Option<Vacation>, ApiError> {
    if !v.on {
        return Ok(None);
    }
    let start = day(&v.start, "vacation_start")?;
    let end = day(&v.end, "vacation_end")?;
    let days = v.interval_days.trim();
    let interval_days = if days.is_empty() {
        7
    } else {
        days.parse().map_err(|_| ApiError::from(DirectoryError::BadVacationInterval))?
    };
    // Browsers send CRLF line ends; the agent writes the body with its own.
    let text = v.text.replace("\r\n", "\n").trim_end().to_owned();
    Ok(Some(Vacation { start, end, subject: v.subject.trim().to_owned(), text, interval_days }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotas_parse_with_units() {
        assert_eq!(parse_quota_in("", "MB").unwrap(), None);
        assert_eq!(parse_quota_in("500", "MB").unwrap(), Some(500 * MB));
        assert_eq!(parse_quota_in("1,5", "GB").unwrap(), Some(3 * GB / 2));
        assert_eq!(parse_quota_text("1073741824").unwrap(), Some(GB));
        assert_eq!(parse_quota_text("2 gb").unwrap(), Some(2 * GB));
        assert_eq!(parse_quota_text("300МБ").unwrap(), Some(300 * MB));
        for bad in ["0", "-1", "1e9", "lots", "2 TB", "2000000 GB", "0.0000001 MB"] {
            assert!(parse_quota_text(bad).is_err(), "{bad}");
        }
        assert!(check_quota(Some(0)).is_err() && check_quota(Some(MAX_QUOTA + 1)).is_err());
        assert_eq!(check_quota(None).unwrap(), None);
    }

    #[test]
    fn forwards_one_per_line() {
        let f = parse_forward("boss@other.example\r\n\r\n a@b.example, ", true).unwrap().unwrap();
        assert_eq!(f.to.len(), 2);
        assert!(f.keep_copy);
        assert_eq!(parse_forward("  \n", false).unwrap(), None);
        assert_eq!(parse_forward("not an address@", false).unwrap_err().field, Some("forward"));
    }

    #[test]
    fn vacation_fields() {
        let on = VacationInput {
            on: true,
            start: "2026-12-20".into(),
            end: "".into(),
            subject: " Away ".into(),
            text: "Back in January.\r\n".into(),
            interval_days: "".into(),
        };
        let v = parse_vacation(&on).unwrap().unwrap();
        assert_eq!((v.subject.as_str(), v.text.as_str(), v.interval_days), ("Away", "Back in January.", 7));
        assert_eq!(v.end, None);
        assert_eq!(parse_vacation(&VacationInput { on: false, ..on.clone() }).unwrap(), None);
        let e = parse_vacation(&VacationInput { end: "2026-02-30".into(), ..on.clone() }).unwrap_err();
        assert_eq!((e.key, e.field), ("err-bad-day", Some("vacation_end")));
        let e = parse_vacation(&VacationInput { interval_days: "x".into(), ..on }).unwrap_err();
        assert_eq!(e.field, Some("vacation_days"));
    }
}
