//! `dovecot.conf` for the agent's own Dovecot: everything in the agent's data folder, nothing
//! from the system's `/etc/dovecot`.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;

use super::owner::Accounts;

/// The four listeners; `None` turns one off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Listeners {
    pub imap: Option<SocketAddr>,
    pub imaps: Option<SocketAddr>,
    pub pop3: Option<SocketAddr>,
    pub pop3s: Option<SocketAddr>,
}

/// What goes into the configuration.
pub struct Settings<'a> {
    /// Names the instance in process titles and logs (`pochta-<agent id>`).
    pub instance: String,
    /// `<data>/dovecot`: the configuration, the passwd-file, run and state directories.
    pub base: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub listeners: Listeners,
    pub accounts: &'a Accounts,
    pub max_concurrent_auth: usize,
    pub max_connections_per_user: usize,
    /// The `auth_policy_*` settings that send logins past the agent's throttle.
    pub policy: String,
}

impl Settings<'_> {
    pub fn passwd_path(&self) -> PathBuf {
        self.base.join("passwd")
    }

    pub fn apps_path(&self) -> PathBuf {
        self.base.join("app-passwords")
    }

    pub fn render(&self) -> String {
        let mut c = String::new();
        let base = self.base.display();
        let a = self.accounts;
        let mut protocols = Vec::new();
        if self.listeners.imap.is_some() || self.listeners.imaps.is_some() {
            protocols.push("imap");
        }
        if self.listeners.pop3.is_some() || self.listeners.pop3s.is_some() {
            protocols.push("pop3");
        }
        let _ = write!(
            c,
            "# Written by pochta-agent each time it starts Dovecot: edits here are lost.\n\
             instance_name = {instance}\n\
             base_dir = {base}/run\n\
             state_dir = {base}/state\n\
             # Log lines go to the agent, which logs them with its own.\n\
             log_path = /dev/stderr\n\
             protocols = {protocols}\n\
             ssl = required\n\
             ssl_min_protocol = TLSv1.2\n\
             ssl_cert = <{cert}\n\
             ssl_key = <{key}\n\
             # No password before TLS (connections from the same address count as secured).\n\
             disable_plaintext_auth = yes\n\
             auth_mechanisms = plain login\n\
             # Any user name the replica has; `ivan@example.org` logs in as `ivan`.\n\
             auth_username_chars =\n\
             auth_username_format = %Ln\n\
             auth_failure_delay = 2 secs\n\
             # Every login is checked against the passwd-file as it is now: a password change\n\
             # or a disabled account is in force at once.\n\
             auth_cache_size = 0\n\
             default_internal_user = {internal}\n\
             default_login_user = {login}\n\
             first_valid_uid = {uid}\n\
             last_valid_uid = {uid}\n\
             first_valid_gid = {gid}\n\
             last_valid_gid = {gid}\n\
             mail_location = maildir:~/Maildir\n\
             # Spam from the door is filed into .Junk; mail clients see it as the Junk folder.\n\
             namespace inbox {{\n  inbox = yes\n  mailbox Junk {{\n    special_use = \\Junk\n    auto = subscribe\n  }}\n}}\n\
             # The agent files every letter itself (tmp/ → new/, fsynced); no LDA, no LMTP.\n\
             maildir_very_dirty_syncs = no\n\
             mail_plugins = $mail_plugins quota\n\
             pop3_uidl_format = %08Xu%08Xv\n\
             protocol imap {{\n  mail_plugins = $mail_plugins imap_quota\n  mail_max_userip_connections = {per_user}\n}}\n\
             protocol pop3 {{\n  mail_max_userip_connections = {per_user}\n}}\n\
             plugin {{\n  quota = count:User quota\n  quota_vsizes = yes\n}}\n\
             # App passwords first: one look-up by the digest of the password given.\n\
             passdb {{\n  driver = passwd-file\n  args = username_format=%u/%{{sha256:password}} {apps}\n}}\n\
             passdb {{\n  driver = passwd-file\n  args = scheme=ARGON2ID {passwd}\n}}\n\
             userdb {{\n  driver = passwd-file\n  args = {passwd}\n}}\n",
            instance = self.instance,
            protocols = protocols.join(" "),
            cert = self.cert.display(),
            key = self.key.display(),
            internal = a.internal_user,
            login = a.login_user,
            uid = a.mail.uid,
            gid = a.mail.gid,
            per_user = self.max_connections_per_user.max(1),
            passwd = self.passwd_path().display(),
            apps = self.apps_path().display(),
        );
        c.push_str(&self.policy);
        // Argon2id costs 19 MiB per check: the auth workers bound how many run at once.
        let _ =
            writeln!(c, "service auth-worker {{\n  process_limit = {}\n}}", self.max_concurrent_auth.max(1));
        let l = &self.listeners;
        for (service, plain, tls) in [("imap", l.imap, l.imaps), ("pop3", l.pop3, l.pop3s)] {
            let _ = writeln!(c, "service {service}-login {{");
            let names = [(service.to_owned(), plain, false), (format!("{service}s"), tls, true)];
            for (name, addr, ssl) in names {
                // A listener left out would take Dovecot's default port: port 0 turns it off.
                let (ip, port) = addr.map_or(("127.0.0.1".to_owned(), 0), |a| (a.ip().to_string(), a.port()));
                let ssl = if ssl { "\n    ssl = yes" } else { "" };
                let _ = writeln!(
                    c,
                    "  inet_listener {name} {{\n    address = {ip}\n    port = {port}{ssl}\n  }}"
                );
            }
            if a.unprivileged() {
                let _ = writeln!(c, "  chroot =");
            }
            let _ = writeln!(c, "}}");
        }
        if a.unprivileged() {
            // Running as one ordinary user: no chroot, no user changes.
            let _ = writeln!(c, "service anvil {{\n  chroot =\n}}");
            if let Some(g) = &a.internal_group {
                let _ = writeln!(c, "default_internal_group = {g}");
            }
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::durable::Owner;

    #[test]
    fn the_configuration_names_every_listener_and_nothing_of_the_system() {
        let accounts = Accounts {
            mail: Owner { uid: 8, gid: 8 },
            chown: true,
            internal_user: "dovecot".into(),
            login_user: "dovenull".into(),
            internal_group: None,
            internal: Some(Owner { uid: 103, gid: 107 }),
        };
        let s = Settings {
            instance: "pochta-msk-1".into(),
            base: "/data/dovecot".into(),
            cert: "/data/tls.crt".into(),
            key: "/data/tls.key".into(),
            listeners: Listeners {
                imap: Some("127.0.0.1:1143".parse().unwrap()),
                imaps: Some("127.0.0.1:1993".parse().unwrap()),
                pop3: None,
                pop3s: Some("127.0.0.1:1995".parse().unwrap()),
            },
            accounts: &accounts,
            max_concurrent_auth: 3,
            max_connections_per_user: 10,
            policy: String::new(),
        };
        let c = s.render();
        assert!(
            c.contains("inet_listener imaps {\n    address = 127.0.0.1\n    port = 1993\n    ssl = yes\n  }"),
            "{c}"
        );
        assert!(c.contains("inet_listener pop3 {\n    address = 127.0.0.1\n    port = 0\n"), "{c}");
        assert!(c.contains("protocols = imap pop3\n"));
        assert!(c.contains("args = scheme=ARGON2ID /data/dovecot/passwd\n"));
        assert!(c.contains("process_limit = 3\n"));
        assert!(c.contains("first_valid_uid = 8\n"));
        assert!(!c.contains("/etc/dovecot") && !c.contains("!include"));
        assert!(!c.contains("chroot ="), "root keeps Dovecot's chroots");
    }
}
