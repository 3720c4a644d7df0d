//! The Pochta mail domain: addresses, the directory model, recipient resolution, the signed
//! change-set wire format and the control plane's JSON (`api`). Both the central server and the site agents use this crate; it is the
//! only crate that defines what crosses the wire between them. It does no I/O.

pub mod address;
pub mod api;
pub mod app_password;
pub mod date;
pub mod dkim;
pub mod login_throttle;
pub mod model;
pub mod names;
pub mod password;
pub mod password_pool;
pub mod resolve;
pub mod wire;

pub use address::{Address, AddressError, Domain, LocalPart};
pub use app_password::{AppDigest, AppPassword};
pub use login_throttle::{LoginThrottle, Outcome as LoginOutcome, Verdict as LoginVerdict};
pub use model::{
    AgentEndpoint, Day, Directory, DirectoryError, DomainSettings, Forwarding, Group, GroupKind, Level,
    MailboxSettings, Op, PasswordHash, PostingPolicy, Site, SiteId, User, Vacation,
};
pub use password_pool::PasswordPool;
