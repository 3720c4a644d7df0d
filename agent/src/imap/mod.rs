//! IMAP and POP3 for the site's mailboxes: a private Dovecot the agent configures, starts and
//! supervises (`<data>/dovecot/`), authenticating from the replica alone.
//!
//! Why a passwd-file: it is Dovecot's simplest user database, needs no extra package or
//! protocol, and is read in place of nothing else. The agent rewrites it atomically (temporary
//! file, rename) after every change set it applies whose users differ, and Dovecot, with its
//! auth cache off, notices the new file at the next login: a password change, a disabled
//! account, a deletion or a move is in force at once, central server or not. At 100,000 users
//! the file is about 20 MB and is rendered and written in about 130 ms (`cargo bench -p
//! pochta-agent --bench passwd`).
//!
//! Users of other sites are referred to their home site (an IMAP `REFERRAL` naming it); the
//! agent does not proxy them.
//!
//! Architecture Invariant: the agent alone writes letters into `new/` (through `tmp/`, fsynced,
//! renamed), Dovecot alone moves them to `cur/` and writes its index files; neither edits a
//! file the other wrote, so Dovecot never sees a letter half-written. The one exception is a
//! mailbox move ([`state`]): the receiving agent files a moved letter into `cur/` and extends
//! `dovecot-keywords` and `subscriptions` (under Dovecot's dot-lock, by rename, before the
//! letter exists), and the old site's mover removes Dovecot's state once no letter is left.

pub mod conf;
pub mod owner;
pub mod passwd;
pub mod policy;
pub mod state;
mod supervise;

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use pochta_directory::api::ClientServices;
use pochta_directory::{Directory, LoginThrottle, SiteId};
use tokio::sync::watch;

use crate::config::Config;
use crate::durable::Owner;
use crate::replica::Replica;
pub use conf::Listeners;
use owner::{Accounts, OwnerError};

#[derive(Debug, thiserror::Error)]
pub enum ImapError {
    #[error(transparent)]
    Owner(#[from] OwnerError),
    #[error("cannot pick a free port for {0}: {1}")]
    Port(SocketAddr, std::io::Error),
    #[error("cannot prepare {0}: {1}")]
    Files(String, std::io::Error),
    #[error("the mailbox folder {0} contains ':', which Dovecot's passwd-file cannot hold")]
    BadPath(String),
}

/// A prepared Dovecot: configuration written, ports chosen, not yet running.
pub struct Imap {
    accounts: Accounts,
    listeners: Listeners,
    host: String,
    site: SiteId,
    maildir_root: PathBuf,
    passwd: PathBuf,
    supervisor: supervise::Supervisor,
    pid: watch::Receiver<Option<u32>>,
    policy: policy::PolicyListener,
}

impl Imap {
    /// Prepares the Dovecot of `cfg`'s `[imap]`, or `None` when no listener is configured.
    pub fn prepare(cfg: &Config, dir: &Path) -> Result<Option<Imap>, ImapError> {
        let ic = &cfg.imap;
        if ic.is_off() {
            return Ok(None);
        }
        let accounts = Accounts::resolve(&ic.mail_user)?;
        let listeners = Listeners {
            imap: ic.imap.map(free_port).transpose()?,
            imaps: ic.imaps.map(free_port).transpose()?,
            pop3: ic.pop3.map(free_port).transpose()?,
            pop3s: ic.pop3s.map(free_port).transpose()?,
        };
        let maildir_root = cfg.maildir_root(dir);
        if maildir_root.to_string_lossy().contains(':') {
            return Err(ImapError::BadPath(maildir_root.display().to_string()));
        }
        let base = dir.join("dovecot");
        let files = |what: &Path, e: std::io::Error| ImapError::Files(what.display().to_string(), e);
        for d in [base.clone(), base.join("run"), base.join("state"), maildir_root.clone()] {
            std::fs::create_dir_all(&d).map_err(|e| files(&d, e))?;
        }
        if accounts.chown {
            open_for_dovecot(dir, &maildir_root).map_err(|e| files(dir, e))?;
            // Dovecot makes the home of a user who logs in before his first letter.
            accounts.mail.chown(&maildir_root).map_err(|e| files(&maildir_root, e))?;
        }
        let policy = policy::PolicyListener::bind().map_err(|e| files(Path::new("127.0.0.1:0"), e))?;
        let settings = conf::Settings {
            instance: format!("pochta-{}", cfg.agent_id),
            base: base.clone(),
            cert: dir.join("tls.crt"),
            key: dir.join("tls.key"),
            listeners,
            accounts: &accounts,
            max_concurrent_auth: ic.max_concurrent_auth,
            max_connections_per_user: ic.max_connections_per_user,
            policy: policy.dovecot_settings(),
        };
        let conf_path = base.join("dovecot.conf");
        std::fs::write(&conf_path, settings.render()).map_err(|e| files(&conf_path, e))?;
        let passwd = settings.passwd_path();
        let host = cfg.client_host();
        let (pid_tx, pid) = watch::channel(None);
        let supervisor = supervise::Supervisor {
            binary: ic.dovecot.clone(),
            conf: conf_path,
            pidfile: base.join("run").join("master.pid"),
            pid: pid_tx,
        };
        Ok(Some(Imap {
            accounts,
            listeners,
            host,
            site: cfg.site.clone(),
            maildir_root,
            passwd,
            supervisor,
            pid,
            policy,
        }))
    }

    /// The listeners, with the ports chosen for port 0.
    pub fn listeners(&self) -> Listeners {
        self.listeners
    }

    /// Who the agent gives mailbox files to (Dovecot's mail user when the agent is root).
    pub fn file_owner(&self) -> Option<Owner> {
        self.accounts.file_owner()
    }

    /// What mail clients connect to: the configured host name with each listener's port.
    pub fn services(&self) -> ClientServices {
        let at = |a: Option<SocketAddr>| a.map(|a| format!("{}:{}", self.host, a.port())).unwrap_or_default();
        ClientServices {
            imap: at(self.listeners.imap),
            imaps: at(self.listeners.imaps),
            pop3: at(self.listeners.pop3),
            pop3s: at(self.listeners.pop3s),
            ..ClientServices::default()
        }
    }

    /// Dovecot's master process id while it runs.
    pub fn pid(&self) -> watch::Receiver<Option<u32>> {
        self.pid.clone()
    }

    /// Writes the passwd-file, runs Dovecot, answers its login policy from `logins`, and
    /// rewrites the file after each change of the replica until `stop`.
    pub async fn run(self, replica: Arc<Replica>, logins: Arc<LoginThrottle>, stop: watch::Receiver<bool>) {
        let Imap { accounts, site, maildir_root, passwd, supervisor, policy, .. } = self;
        let policy = tokio::spawn(policy.serve(logins, stop.clone()));
        let mut writer = PasswdWriter {
            apps: passwd.with_file_name("app-passwords"),
            path: passwd,
            site,
            maildir_root,
            accounts,
            last: None,
            written: None,
            apps_written: None,
        };
        writer.refresh(&replica.directory());
        let dovecot = tokio::spawn(supervisor.run(stop.clone()));
        let mut changes = replica.subscribe();
        let mut stop_rx = stop;
        loop {
            tokio::select! {
                r = changes.changed() => {
                    if r.is_err() {
                        break;
                    }
                    writer.refresh(&replica.directory());
                }
                _ = stop_rx.changed() => break
            }
        }
        let _ = dovecot.await;
        let _ = policy.await;
    }
}

struct PasswdWriter {
    path: PathBuf,
    /// The app passwords' file, beside it.
    apps: PathBuf,
    site: SiteId,
    maildir_root: PathBuf,
    accounts: Accounts,
    /// The files last written (`None` before the first): an unchanged one is not written again.
    last: Option<passwd::Files>,
    /// The modification times given to the files last written.
    written: Option<std::time::SystemTime>,
    apps_written: Option<std::time::SystemTime>,
}

impl PasswdWriter {
    fn refresh(&mut self, dir: &Directory) {
        let started = std::time::Instant::now();
        let files = passwd::render(dir, &self.site, &self.maildir_root, self.accounts.mail, |s| {
            referral_host(dir, s)
        });
        let last = self.last.take().unwrap_or_else(|| passwd::Files {
            // Unlike anything rendered, so both files are written at start.
            passwd: "\n".into(),
            apps: "\n".into(),
        });
        let owner = self.accounts.internal;
        let mut wrote = passwd::Files::default();
        // App passwords first: a revoked one stops working no later than a changed password.
        for (path, text, old, at, kept) in [
            (&self.apps, &files.apps, &last.apps, &mut self.apps_written, &mut wrote.apps),
            (&self.path, &files.passwd, &last.passwd, &mut self.written, &mut wrote.passwd),
        ] {
            if text == old {
                *kept = old.clone();
                continue;
            }
            match passwd::write(path, text, owner, *at) {
                Ok(t) => {
                    *at = Some(t);
                    *kept = text.clone();
                }
                Err(e) => {
                    tracing::error!(target: "dovecot",
                        "cannot write {}: {e}; IMAP and POP3 logins use the previous one", path.display());
                    *kept = old.clone();
                }
            }
        }
        tracing::debug!(target: "dovecot", users = dir.users.len(), ms = started.elapsed().as_millis() as u64,
            "passwd-files refreshed");
        self.last = Some(wrote);
    }
}

/// The server name a user of `site` is referred to: the host of its agent's SMTP listener as
/// other sites reach it, else `<site>.<domain>`.
fn referral_host(dir: &Directory, site: &SiteId) -> String {
    let advertised = dir.site(site).into_iter().flat_map(|s| &s.agents).find_map(|a| {
        let (host, _) = a.smtp.rsplit_once(':')?;
        (!host.is_empty()).then(|| host.trim_start_matches('[').trim_end_matches(']').to_owned())
    });
    advertised.unwrap_or_else(|| dir.site_domain(site).to_string())
}

/// `addr`, with a free port chosen when its port is 0.
fn free_port(addr: SocketAddr) -> Result<SocketAddr, ImapError> {
    if addr.port() != 0 {
        return Ok(addr);
    }
    let l = TcpListener::bind(addr).map_err(|e| ImapError::Port(addr, e))?;
    l.local_addr().map_err(|e| ImapError::Port(addr, e))
}

/// When the agent is root and Dovecot's users are others: they must pass through the data
/// folder (to their sockets in `dovecot/run/` and to the mailboxes), so it becomes `0711` —
/// passable, not listable — while the secrets in it stay the agent's alone.
fn open_for_dovecot(dir: &Path, maildir_root: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for secret in [Config::replica_path(dir), dir.join("agent.toml"), dir.join("tls.key")] {
        if secret.exists() {
            std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    let queue = Config::queue_path(dir);
    if queue.exists() {
        std::fs::set_permissions(&queue, std::fs::Permissions::from_mode(0o700))?;
    }
    let mode = std::fs::metadata(dir)?.permissions().mode() & 0o777;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode | 0o711))?;
    let closed = owner::closed_ancestors(maildir_root);
    if !closed.is_empty() {
        let list: Vec<String> = closed.iter().map(|p| p.display().to_string()).collect();
        tracing::error!(target: "dovecot",
            "Dovecot's mail user cannot pass through {}: its users will not see their mail (chmod o+x)",
            list.join(", "));
    }
    Ok(())
}
