//! Two-factor login for administrators: a time-based code (RFC 6238, the 6-digit, 30-second,
//! HMAC-SHA-1 kind every authenticator app reads from an `otpauth://` QR code) after the
//! password, and ten one-time recovery codes for a lost phone.
//!
//! - A code is good once: the time step it was accepted for is stored, and a code for that step
//!   or an earlier one is refused (a code seen over a shoulder cannot be replayed).
//! - One step of clock drift either way is accepted (RFC 6238 §5.2).
//! - Turning it on takes a code from the app, so nobody is locked out by a mistyped key.
//! - Another administrator can turn it off for someone who lost their phone and their codes;
//!   the key itself must be kept readable (the server computes the codes), so it is stored as
//!   the app gets it and the database is as secret as the signing key (ARCHITECTURE.md).

use super::scope::Actor;
use totp_rs::{Builder, Secret, Totp};

use crate::db::{self, web::Role};
use crate::error::ApiError;
use crate::state::AppState;

/// How many recovery codes an administrator gets at a time.
pub const RECOVERY_CODES: usize = 10;

/// A fresh 160-bit key (RFC 4226 §4 recommends 160), base32 as apps take it.
pub fn new_secret() -> String {
    let mut key = [0u8; 20];
    getrandom::fill(&mut key).expect("the OS has randomness");
    Secret::from(key).to_base32()
}

fn totp(secret_b32: &str) -> Option<Totp> {
    let secret = Secret::try_from_base32(secret_b32).ok()?;
    Builder::new().with_secret(secret).build().ok()
}

/// The time step a code is good for now, if it is one: digits only (spaces ignored).
fn code_step(secret_b32: &str, code: &str, now: i64) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    totp(secret_b32)?.check(&code, u64::try_from(now).ok()?).map(|s| s as i64)
}

/// The `otpauth://` address an app reads from the QR code (Key Uri Format): issuer and account
/// say whose code it is in the app's list.
pub fn otpauth_url(secret_b32: &str, admin: &str, domain: &str) -> String {
    let enc = crate::web::session::urlencode;
    let issuer = format!("Pochta {domain}");
    format!(
        "otpauth://totp/{}:{}?secret={secret_b32}&issuer={}&algorithm=SHA1&digits=6&period=30",
        enc(&issuer),
        enc(admin),
        enc(&issuer)
    )
}

/// The QR code of `text` as an inline SVG: dark modules as one path, with the quiet zone.
pub fn qr_svg(text: &str) -> String {
    use qrcodegen::{QrCode, QrCodeEcc};
    let Ok(qr) = QrCode::encode_text(text, QrCodeEcc::Medium) else { return String::new() };
    let border = 4;
    let size = qr.size() + 2 * border;
    let mut path = String::new();
    for y in 0..qr.size() {
        for x in 0..qr.size() {
            if qr.get_module(x, y) {
                path.push_str(&format!("M{},{}h1v1h-1z", x + border, y + border));
            }
        }
    }
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {size} {size}\" class=\"qr\" role=\"img\" \
         shape-rendering=\"crispEdges\"><rect width=\"{size}\" height=\"{size}\" fill=\"#fff\"/>\
         <path d=\"{path}\" fill=\"#000\"/></svg>"
    )
}

/// Ten recovery codes, `xxxx-xxxx-xxxx` of lower-case letters and digits without look-alikes.
fn new_recovery_codes() -> Vec<String> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut out = String::new();
            for i in 0..12 {
                if i > 0 && i % 4 == 0 {
                    out.push('-');
                }
                // Rejection sampling: no modulo bias.
                let c = loop {
                    let mut b = [0u8; 1];
                    getrandom::fill(&mut b).expect("the OS has randomness");
                    if usize::from(b[0]) < 256 - 256 % ALPHABET.len() {
                        break ALPHABET[usize::from(b[0]) % ALPHABET.len()];
                    }
                };
                out.push(c as char);
            }
            out
        })
        .collect()
}

/// How a recovery code is compared: lower case, without spaces or dashes.
fn recovery_form(code: &str) -> String {
    code.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_lowercase()).collect()
}

fn wrong_code() -> ApiError {
    ApiError::bad_request("that code is not right (or was already used)").key("err-totp-code").field("code")
}

/// Checks a second factor for `admin`: a current code from the app, or an unused recovery code
/// (used up). `Ok(false)` when the administrator has two-factor login off.
pub async fn verify(st: &AppState, admin: &str, code: &str) -> Result<bool, ApiError> {
    let Some((secret, last)) = db::auth::admin_totp(&st.db.pool, admin).await? else { return Ok(false) };
    if let Some(step) = code_step(&secret, code, db::now()) {
        if step > last && db::auth::take_totp_step(&st.db.pool, admin, step).await? {
            return Ok(true);
        }
        return Err(wrong_code());
    }
    let form = recovery_form(code);
    if form.len() == 12 && db::auth::use_recovery_code(&st.db.pool, admin, &form).await? {
        tracing::info!(admin, "administrator logged in with a recovery code");
        return Ok(true);
    }
    Err(wrong_code())
}

/// Whether an administrator must give a second factor.
pub async fn is_on(st: &AppState, admin: &str) -> Result<bool, ApiError> {
    Ok(db::auth::admin_totp(&st.db.pool, admin).await?.is_some())
}

/// Turns two-factor login on with `secret` once `code` shows the app has it; returns the
/// recovery codes to show once.
pub async fn enable(st: &AppState, admin: &str, secret: &str, code: &str) -> Result<Vec<String>, ApiError> {
    let secret = secret.trim();
    if totp(secret).is_none() {
        return Err(ApiError::bad_request("the key is not a base32 key of 128 bits or more")
            .key("err-totp-key")
            .field("code"));
    }
    let step = code_step(secret, code, db::now()).ok_or_else(wrong_code)?;
    let codes = new_recovery_codes();
    let digests: Vec<String> = codes.iter().map(|c| db::auth::digest(&recovery_form(c))).collect();
    let mut tx = st.db.pool.begin().await?;
    db::auth::set_admin_totp(&mut tx, admin, Some((secret, step)), &digests).await?;
    tx.commit().await?;
    tracing::info!(admin, "two-factor login turned on");
    Ok(codes)
}

/// New recovery codes for oneself (the old ones stop working), after a current code.
pub async fn renew_recovery_codes(st: &AppState, admin: &str, code: &str) -> Result<Vec<String>, ApiError> {
    if !verify(st, admin, code).await? {
        return Err(not_on());
    }
    let codes = new_recovery_codes();
    let digests: Vec<String> = codes.iter().map(|c| db::auth::digest(&recovery_form(c))).collect();
    let mut tx = st.db.pool.begin().await?;
    db::auth::replace_recovery_codes(&mut tx, admin, &digests).await?;
    tx.commit().await?;
    tracing::info!(admin, "recovery codes renewed");
    Ok(codes)
}

fn not_on() -> ApiError {
    ApiError::conflict("two-factor login is off").key("err-totp-off")
}

/// Turns two-factor login off: for oneself after a current code; for another administrator
/// (who lost the phone) without one, and their sessions end.
pub async fn disable(st: &AppState, by: &Actor, admin: &str, code: Option<&str>) -> Result<(), ApiError> {
    // Without the code it is another administrator's doing: only one of the whole domain.
    if code.is_none() {
        by.scope.need_domain()?;
    }
    if let Some(code) = code {
        if !verify(st, admin, code).await? {
            return Err(not_on());
        }
    } else if !is_on(st, admin).await? {
        return Err(not_on());
    }
    let mut tx = st.db.pool.begin().await?;
    db::auth::set_admin_totp(&mut tx, admin, None, &[]).await?;
    if by.name != admin {
        db::web::delete_sessions_of(&mut *tx, Role::Admin, admin, None).await?;
    }
    tx.commit().await?;
    tracing::info!(author = %by.name, admin, "two-factor login turned off");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6238_vectors_and_drift() {
        // RFC 6238 appendix B, SHA-1 key "12345678901234567890" (8 digits there; the last 6 here).
        let secret = Secret::from(*b"12345678901234567890").to_base32();
        assert_eq!(code_step(&secret, "287082", 59), Some(1));
        assert_eq!(code_step(&secret, "081804", 1111111109), Some(1111111109 / 30));
        assert_eq!(code_step(&secret, "050471", 1111111111), Some(1111111111 / 30));
        // One step of drift is fine, two are not; junk is never a code.
        assert_eq!(code_step(&secret, "081804", 1111111109 + 30), Some(1111111109 / 30));
        assert_eq!(code_step(&secret, "081804", 1111111109 + 90), None);
        assert_eq!(code_step(&secret, "08180", 1111111109), None);
        assert_eq!(code_step(&secret, "081 804", 1111111109), Some(1111111109 / 30));
    }

    #[test]
    fn recovery_codes_are_distinct_and_typed_loosely() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        assert_eq!(codes.iter().collect::<std::collections::BTreeSet<_>>().len(), RECOVERY_CODES);
        assert!(codes.iter().all(|c| c.len() == 14 && c.matches('-').count() == 2));
        assert_eq!(recovery_form(" ABCD-efgh-2345 "), "abcdefgh2345");
    }

    #[test]
    fn otpauth_url_and_qr() {
        let url = otpauth_url("JBSWY3DPEHPK3PXP", "e.petrova", "example.org");
        assert_eq!(
            url,
            "otpauth://totp/Pochta%20example.org:e.petrova?secret=JBSWY3DPEHPK3PXP&issuer=Pochta%20example.org&algorithm=SHA1&digits=6&period=30"
        );
        let svg = qr_svg(&url);
        assert!(svg.starts_with("<svg") && svg.contains("<path d=\"M"), "{svg}");
    }
}
