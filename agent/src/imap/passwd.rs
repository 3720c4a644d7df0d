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
//!
//! App passwords are in a second file, looked up first: one line per app password, found by
//! the digest of the password given, with the same "disabled" and "elsewhere" fields.

use std::fmt::Write as _;
use std::path::Path;

use pochta_directory::{Directory, SiteId, User};

use crate::durable::Owner;
use crate::mail::maildir;

/// The two passwd-files for the directory as seen by `site`: the users' own passwords (also
/// Dovecot's userdb) and their app passwords.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Files {
    pub passwd: String,
    /// One line per app password, keyed `<user>/<SHA-256 of the password>`: Dovecot looks the
    /// password up by its digest (`%{sha256:password}`) and, when found, logs in as `user=`.
    pub apps: String,
}

/// The passwd-files for the directory as seen by `site`. `host_of` names the server a user of
/// another site is referred to.
pub fn render(
    dir: &Directory,
    site: &SiteId,
    maildir_root: &Path,
    owner: Owner,
    host_of: impl Fn(&SiteId) -> String,
) -> Files {
    let mut out = Files { passwd: String::with_capacity(dir.users.len() * 160), apps: String::new() };
    for u in dir.users.values() {
        let Some((name, access)) = access(u, site, &host_of) else { continue };
        if let Some(line) = line(dir, u, name, &access, maildir_root, owner) {
            out.passwd.push_str(&line);
            out.passwd.push('\n');
        }
        for a in &u.app_passwords {
            // Every other field is a userdb field, looked up by `user=` in the main file.
            let d = a.digest.as_str();
            let _ = writeln!(out.apps, "{name}/{d}:{{SHA256.HEX}}{d}::::::user={name}{}", access.fields());
        }
    }
    out
}

/// What a login of a user gets here.
enum Access {
    /// His mailbox is here.
    Home,
    /// His mailbox is here but he is disabled: the right password gets "login disabled".
    Disabled,
    /// His mailbox is at another site: the right password gets a referral there (when the host
    /// can be written in the file).
    Elsewhere(String),
}

impl Access {
    /// The passdb extra fields that say it, with a leading space.
    fn fields(&self) -> String {
        match self {
            Access::Home => String::new(),
            Access::Disabled => " nologin=y".to_owned(),
            Access::Elsewhere(host) if host.is_empty() => " nologin=y".to_owned(),
            Access::Elsewhere(host) => format!(" nologin=y host={host}"),
        }
    }
}

/// The user's name as the files carry it and what his login gets; `None` for a name the format
/// cannot carry.
fn access<'u>(u: &'u User, site: &SiteId, host_of: &impl Fn(&SiteId) -> String) -> Option<(&'u str, Access)> {
    let name = u.name.folded();
    // `:` separates fields, white space separates extra fields, `/` the app password's digest;
    // `%` would be expanded.
    if !name.chars().all(|c| !c.is_control() && !c.is_whitespace() && !matches!(c, ':' | '%' | '/')) {
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
        return Some((name, Access::Elsewhere(host)));
    }
    Some((name, if u.enabled { Access::Home } else { Access::Disabled }))
}

fn line(
    dir: &Directory,
    u: &User,
    name: &str,
    access: &Access,
    maildir_root: &Path,
    owner: Owner,
) -> Option<String> {
    let hash = u.password.as_ref()?.0.as_str();
    if !hash.starts_with("$argon2id$") || hash.contains([':', ' ', '\n']) {
        return None;
    }
    if !matches!(access, Access::Home) {
        return Some(format!("{name}:{{ARGON2ID}}{hash}::::::{}", access.fields().trim_start()));
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
                app_passwords: Vec::new(),
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
    fn app_passwords_are_found_by_digest_and_keep_the_users_access() {
        use pochta_directory::{AppDigest, AppPassword};
        let mut d = dir();
        for (name, secret) in [("ivan", "one"), ("ivan", "two"), ("olga", "three"), ("petr", "four")] {
            let u = d.users.get_mut(&LocalPart::parse(name).unwrap()).unwrap();
            let id = u.app_passwords.len() as u32 + 1;
            u.app_passwords.push(AppPassword {
                id,
                label: "phone".into(),
                digest: AppDigest::of(secret),
                created: 0,
            });
        }
        let msk = SiteId::parse("msk").unwrap();
        let files = render(&d, &msk, Path::new("/data/mail"), Owner { uid: 8, gid: 8 }, |s| {
            format!("{s}.example.org")
        });
        let line = |secret: &str, rest: &str| {
            let h = AppDigest::of(secret);
            let h = h.as_str();
            format!("{h}:{{SHA256.HEX}}{h}::::::user={rest}")
        };
        let lines: Vec<String> = files.apps.lines().map(str::to_owned).collect();
        assert_eq!(
            lines,
            vec![
                format!("ivan/{}", line("one", "ivan")),
                format!("ivan/{}", line("two", "ivan")),
                format!("olga/{}", line("three", "olga nologin=y")),
                format!("petr/{}", line("four", "petr nologin=y host=spb.example.org")),
            ]
        );
        // The account passwords' file is as it was.
        assert_eq!(files.passwd.lines().count(), 4);
    }

    #[test]
    fn each_kind_of_user_gets_its_line() {
        let mut d = dir();
        d.users.get_mut(&LocalPart::parse("ivan").unwrap()).unwrap().mailbox.quota = Some(1_000_000);
        let msk = SiteId::parse("msk").unwrap();
        let text = render(&d, &msk, Path::new("/data/mail"), Owner { uid: 8, gid: 8 }, |s| {
            format!("{s}.example.org")
        });
        let lines: Vec<&str> = text.passwd.lines().collect();
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
