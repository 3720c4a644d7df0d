//! The passwd-file Dovecot authenticates against, made from the replica alone.
//!
//! One line per user of the deployment who has a password:
//! * at this site and enabled: the Argon2id hash, the mail user's uid and gid, the home
//!   directory (`<maildir root>/<user>`, holding `Maildir/`) and the quota;
//! * at this site but disabled: `nologin` — the right password gets "login disabled";
//! * at another site: `nologin` with `host`, so IMAP answers with a referral naming the
//!   user's home site (`[REFERRAL imap://ivan;AUTH=PLAIN@spb.example.org/]`).
//!
//! Users without a password and names the format cannot carry are left out: their logins
//! fail like a wrong password.

use std::path::Path;

use pochta_directory::{Directory, SiteId, User};

use crate::durable::Owner;
use crate::mail::maildir;

/// The passwd-file text for the directory as seen by `site`. `host_of` names the server a
/// user of another site is referred to.
pub fn render(
    dir: &Directory,
    site: &SiteId,
    maildir_root: &Path,
    owner: Owner,
    host_of: impl Fn(&SiteId) -> String,
) -> String {
    let mut out = String::with_capacity(dir.users.len() * 160);
    for u in dir.users.values() {
        if let Some(line) = line(dir, u, site, maildir_root, owner, &host_of) {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

fn line(
    dir: &Directory,
    u: &User,
    site: &SiteId,
    maildir_root: &Path,
    owner: Owner,
    host_of: &impl Fn(&SiteId) -> String,
) -> Option<String> {
    let name = u.name.folded();
    // `:` separates fields, white space separates extra fields; `%` would be expanded.
    if !name.chars().all(|c| !c.is_control() && !c.is_whitespace() && c != ':' && c != '%') {
        return None;
    }
    let hash = u.password.as_ref()?.0.as_str();
    if !hash.starts_with("$argon2id$") || hash.contains([':', ' ', '\n']) {
        return None;
    }
    if &u.site != site {
        let host = host_of(&u.site);
        let host =
            if host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '[' | ']' | ':')) {
                host.replace(':', "")
            } else {
                String::new()
            };
        return Some(if host.is_empty() {
            format!("{name}:{{ARGON2ID}}{hash}::::::nologin=y")
        } else {
            format!("{name}:{{ARGON2ID}}{hash}::::::nologin=y host={host}")
        });
    }
    if !u.enabled {
        return Some(format!("{name}:{{ARGON2ID}}{hash}::::::nologin=y"));
    }
    let home = maildir::mailbox(maildir_root, &u.name);
    let home = home.parent()?.to_str()?;
    if home.contains(':') {
        return None;
    }
    let quota = match dir.quota_of(u) {
        Some(bytes) => format!("userdb_quota_rule=*:storage={bytes}B"),
        None => "userdb_quota_rule=*:storage=0".to_owned(),
    };
    Some(format!("{name}:{{ARGON2ID}}{hash}:{}:{}::{home}::{quota}", owner.uid, owner.gid))
}

/// Writes `text` to `path` atomically (a temporary file renamed over it): Dovecot re-reads the
/// file when it changes and never sees half of it. Not fsynced: it is made again from the
/// replica at every start. `owner`: who the file is given to (Dovecot's internal user, when
/// the agent runs as root).
///
/// Dovecot notices a new file by its modification time in whole seconds and its size, and a
/// changed password hash has the same length: the file's time is set to at least one second
/// after `previous` (the time of the last file written), so two changes within one second are
/// both seen. Returns the time given to the file.
pub fn write(
    path: &Path,
    text: &str,
    owner: Option<Owner>,
    previous: Option<std::time::SystemTime>,
) -> std::io::Result<std::time::SystemTime> {
    use std::os::unix::fs::OpenOptionsExt;
    use std::time::{Duration, SystemTime, UNIX_EPOCH};
    let tmp = path.with_extension("tmp");
    // One block so the file is closed before it is renamed.
    {
        use std::io::Write as _;
        // The hashes are secrets: readable by the agent (and Dovecot's auth process) only.
        let mut f =
            std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
        f.write_all(text.as_bytes())?;
        if let Some(o) = owner {
            // Dovecot's auth process reads the file as its internal user.
            std::os::unix::fs::fchown(&f, Some(o.uid), Some(o.gid))?;
        }
        let secs = |t: SystemTime| t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let now = secs(SystemTime::now());
        let at = previous.map_or(now, |p| now.max(secs(p) + 1));
        let at = UNIX_EPOCH + Duration::from_secs(at);
        f.set_modified(at)?;
        std::fs::rename(&tmp, path)?;
        Ok(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pochta_directory::{Domain, Level, LocalPart, Op, PasswordHash, Site};

    fn dir() -> Directory {
        let mut d = Directory::new(Domain::parse("example.org").unwrap());
        for (id, level) in [("msk", Level::One), ("spb", Level::Two)] {
            let site = Site {
                id: SiteId::parse(id).unwrap(),
                name: id.into(),
                level,
                agents: vec![],
                default_quota: None,
                outgoing: vec![],
            };
            d.apply(&Op::PutSite(site)).unwrap();
        }
        // The domain allows non-Latin names (for `иван` below).
        d.apply(&Op::PutSettings(pochta_directory::DomainSettings { unicode_names: true })).unwrap();
        let hash = PasswordHash("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into());
        for (name, site, enabled, password) in [
            ("ivan", "msk", true, true),
            ("olga", "msk", false, true),
            ("petr", "spb", true, true),
            ("nopass", "msk", true, false),
            ("иван", "msk", true, true),
        ] {
            let u = User {
                name: LocalPart::parse(name).unwrap(),
                display_name: String::new(),
                site: SiteId::parse(site).unwrap(),
                former_sites: Default::default(),
                password: password.then(|| hash.clone()),
                enabled,
                mailbox: Default::default(),
            };
            d.apply(&Op::PutUser(u)).unwrap();
        }
        d
    }

    #[test]
    fn each_kind_of_user_gets_its_line() {
        let mut d = dir();
        d.users.get_mut(&LocalPart::parse("ivan").unwrap()).unwrap().mailbox.quota = Some(1_000_000);
        let msk = SiteId::parse("msk").unwrap();
        let text = render(&d, &msk, Path::new("/data/mail"), Owner { uid: 8, gid: 8 }, |s| {
            format!("{s}.example.org")
        });
        let lines: Vec<&str> = text.lines().collect();
        let h = "{ARGON2ID}$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA";
        assert_eq!(
            lines,
            vec![
                format!("ivan:{h}:8:8::/data/mail/ivan::userdb_quota_rule=*:storage=1000000B"),
                format!("olga:{h}::::::nologin=y"),
                format!("petr:{h}::::::nologin=y host=spb.example.org"),
                format!("иван:{h}:8:8::/data/mail/%D0%B8%D0%B2%D0%B0%D0%BD::userdb_quota_rule=*:storage=0"),
            ]
        );
    }
}
