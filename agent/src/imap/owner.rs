//! Who Dovecot runs as and who owns the mailboxes.
//!
//! Dovecot never reads mail as root. An agent running as an ordinary user (the production
//! setup: a `pochta` account with the right to bind low ports) runs Dovecot as itself, and its
//! mailboxes are already its own. An agent running as root (the tests, a quick install) gives
//! every mailbox directory and letter to `[imap] mail_user` and lets Dovecot's own system
//! users (`dovecot`, `dovenull`, made by Debian's package) run its internal and login
//! processes.

use std::path::Path;

use crate::durable::Owner;

/// The accounts one Dovecot instance uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accounts {
    /// Who mailboxes belong to and Dovecot's mail processes run as.
    pub mail: Owner,
    /// Whether the agent must give its mailbox files to `mail` (it runs as root).
    pub chown: bool,
    /// `default_internal_user` and `default_login_user` of Dovecot.
    pub internal_user: String,
    pub login_user: String,
    /// `default_internal_group`: the agent's own group when Dovecot runs as the agent.
    pub internal_group: Option<String>,
    /// The internal user's ids when they are not the agent's: its auth process reads the
    /// passwd-file as that user.
    pub internal: Option<Owner>,
}

/// Dovecot's unprivileged system user (Debian's `dovecot-core` makes it, with `dovenull`).
const INTERNAL_USER: &str = "dovecot";

#[derive(Debug, thiserror::Error)]
pub enum OwnerError {
    #[error(
        "there is no user '{0}' in /etc/passwd (Dovecot's mail user is [imap] mail_user; its own users come with the dovecot-core package)"
    )]
    NoUser(String),
    #[error("the mail user may not be root: Dovecot never serves mail as root ([imap] mail_user)")]
    Root,
    #[error("this agent's own user (uid {0}) is not in /etc/passwd: Dovecot needs its name")]
    NoOwnName(u32),
    #[error("this agent's own group (gid {0}) is not in /etc/group: Dovecot needs its name")]
    NoOwnGroup(u32),
}

impl Accounts {
    /// The accounts for an agent with the given `[imap] mail_user`.
    pub fn resolve(mail_user: &str) -> Result<Accounts, OwnerError> {
        let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
        let uid = rustix::process::geteuid();
        if uid.is_root() {
            let (uid, gid) = lookup(&passwd, |name, _| name == mail_user)
                .map(|(_, uid, gid)| (uid, gid))
                .ok_or_else(|| OwnerError::NoUser(mail_user.to_owned()))?;
            if uid == 0 {
                return Err(OwnerError::Root);
            }
            let internal = lookup(&passwd, |name, _| name == INTERNAL_USER)
                .map(|(_, uid, gid)| Owner { uid, gid })
                .ok_or_else(|| OwnerError::NoUser(INTERNAL_USER.to_owned()))?;
            Ok(Accounts {
                mail: Owner { uid, gid },
                chown: true,
                internal_user: INTERNAL_USER.into(),
                login_user: "dovenull".into(),
                internal_group: None,
                internal: Some(internal),
            })
        } else {
            let (uid, gid) = (uid.as_raw(), rustix::process::getegid().as_raw());
            let (name, ..) = lookup(&passwd, |_, u| u == uid).ok_or(OwnerError::NoOwnName(uid))?;
            let groups = std::fs::read_to_string("/etc/group").unwrap_or_default();
            let group = group_name(&groups, gid).ok_or(OwnerError::NoOwnGroup(gid))?;
            Ok(Accounts {
                mail: Owner { uid, gid },
                chown: false,
                internal_user: name.clone(),
                login_user: name,
                internal_group: Some(group),
                internal: None,
            })
        }
    }

    /// The owner the agent gives its mailbox files to, if any.
    pub fn file_owner(&self) -> Option<Owner> {
        self.chown.then_some(self.mail)
    }

    /// Whether Dovecot's processes run as the agent's own user (no root, no chroot).
    pub fn unprivileged(&self) -> bool {
        !self.chown
    }
}

/// The ids of system user `name` (e.g. `_rspamd`), if `/etc/passwd` has him.
pub fn system_user(name: &str) -> Option<Owner> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    lookup(&passwd, |n, _| n == name).map(|(_, uid, gid)| Owner { uid, gid })
}

/// `(name, uid, gid)` of the first `/etc/passwd` entry `pick` accepts.
fn lookup(passwd: &str, pick: impl Fn(&str, u32) -> bool) -> Option<(String, u32, u32)> {
    passwd.lines().find_map(|line| {
        let mut f = line.split(':');
        let name = f.next()?;
        let uid = f.nth(1)?.parse().ok()?;
        let gid = f.next()?.parse().ok()?;
        pick(name, uid).then(|| (name.to_owned(), uid, gid))
    })
}

/// The name of group `gid` in `/etc/group` text.
fn group_name(groups: &str, gid: u32) -> Option<String> {
    groups.lines().find_map(|line| {
        let mut f = line.split(':');
        let name = f.next()?;
        (f.nth(1)?.parse::<u32>().ok()? == gid).then(|| name.to_owned())
    })
}

/// Directories on the way to `path` that another user cannot pass through (no `x` for
/// others), so Dovecot's mail processes would not reach the mailboxes.
pub fn closed_ancestors(path: &Path) -> Vec<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    path.ancestors()
        .filter(|p| !p.as_os_str().is_empty())
        .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.permissions().mode() & 0o001 == 0))
        .map(Path::to_path_buf)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwd_lines_are_read_by_name_and_uid() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\nmail:x:8:8:mail:/var/mail:/usr/sbin/nologin\nbroken\n";
        assert_eq!(lookup(passwd, |n, _| n == "mail"), Some(("mail".into(), 8, 8)));
        assert_eq!(lookup(passwd, |_, u| u == 0).map(|e| e.0), Some("root".into()));
        assert_eq!(lookup(passwd, |n, _| n == "broken"), None);
        assert_eq!(group_name("root:x:0:\nnogroup:x:65534:\n", 65534), Some("nogroup".into()));
    }
}
