//! The agent's SMTP service.
//!
//! * `limits`, `path`, `data`, `policy`, `session` — the sans-IO core: bytes in, replies
//!   ([`crate::reply`]) and actions out, no tokio. Tested in memory. `policy` is the RCPT
//!   policy, pure, shared with the look-up command.
//! * `conn`, `server` — the only I/O: tokio listeners for the port-25 role, submission (587)
//!   and implicit-TLS submission (465), TLS, timeouts, connection limits, Argon2id off the
//!   async threads, and the hand-over to the queue ([`crate::queue::Sink`]).
//!
//! Architecture Invariant: the RCPT policy reads only the in-memory replica
//! ([`session::DirectoryView`]); no SMTP command waits on the network or the central server.
//!
//! Architecture Invariant: `250` after DATA/BDAT LAST is written only after
//! [`crate::queue::Sink::enqueue`] returned `Ok` (ARCHITECTURE.md: anything acknowledged is on disk).

pub mod conn;
pub mod data;
pub mod limits;
pub mod path;
pub mod policy;
pub mod server;
pub mod session;

use std::sync::Arc;

use pochta_directory::Directory;

pub use crate::reply::{Code, Reply};
pub use limits::Limits;
pub use server::{SmtpAddrs, SmtpServer};
pub use session::{Action, Authed, DirectoryView, Role, Session, SessionConfig, Step};

use crate::replica::Replica;

/// The live replica as the SMTP service sees it.
pub struct ReplicaView {
    pub replica: Arc<Replica>,
    /// No contact with the central server for longer than this makes the replica stale.
    pub stale_after_secs: u64,
    /// The mailboxes of this site, for the quota at RCPT; `None`: not checked there.
    pub mailboxes: Option<Arc<crate::deliver::Deliverer>>,
}

impl DirectoryView for ReplicaView {
    fn directory(&self) -> Arc<Directory> {
        self.replica.directory()
    }

    fn stale(&self) -> bool {
        self.replica.contact().is_stale(self.stale_after_secs)
    }

    fn mailbox_refusal(&self, user: &pochta_directory::LocalPart, size: u64) -> Option<Reply> {
        self.mailboxes.as_ref()?.home_refusal(user, size)
    }
}
