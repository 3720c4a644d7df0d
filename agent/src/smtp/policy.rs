//! The RCPT policy, pure: may this recipient be accepted from this client, and where does it
//! go? The SMTP session asks it at every `RCPT TO`, and `GET /resolve` and `pochta-agent
//! resolve` ask the same function, so the look-up an administrator runs can never disagree
//! with what SMTP answers.
//!
//! The rules, in order: RFC 5321 §4.5.1 (`<postmaster>` without a domain is ours); the address
//! must parse (RFC 5321 §4.1.2); the directory resolves it (nested lists, `all@`, former site
//! addresses, who may post); another domain is relayed only for our users and peer agents;
//! an unknown recipient is "not yet" (450) rather than "never" while the replica is stale or
//! when a peer (whose replica may be ahead of ours) sends it.

use pochta_directory::resolve::{Rejection, Resolution, Sender, resolve};
use pochta_directory::{Address, Directory};

use crate::reply::Reply;

/// Who hands the letter over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// An unauthenticated client (another MTA on port 25).
    Stranger,
    /// An authenticated user of the domain.
    User,
    /// An authenticated peer agent of this deployment.
    Peer,
}

impl Who {
    fn internal(self) -> bool {
        self != Who::Stranger
    }
}

/// A recipient accepted: its address as it will be queued, and where it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub address: Address,
    /// Final mailboxes by home site and outside addresses; a relayed outside recipient is its
    /// own single external address.
    pub resolution: Resolution,
}

/// A recipient refused: the reply, and the reason the refusal is counted under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub reason: &'static str,
    pub reply: Reply,
}

impl Refused {
    fn new(reason: &'static str, reply: Reply) -> Self {
        Self { reason, reply }
    }
}

/// The policy for recipient `mailbox` (as written between `<` and `>`) from `sender` (`None`:
/// the null reverse path), handed over by `who`, with the replica `stale` or not.
pub fn rcpt(
    dir: &Directory,
    mailbox: &str,
    sender: Option<&Address>,
    who: Who,
    stale: bool,
) -> Result<Accepted, Refused> {
    // RFC 5321 §4.5.1: `<postmaster>` without a domain is our postmaster.
    let address = if mailbox.eq_ignore_ascii_case("postmaster") {
        Address::parse(&format!("postmaster@{}", dir.domain))
    } else {
        Address::parse(mailbox)
    };
    let address = address.map_err(|e| Refused::new("bad_recipient", Reply::bad_recipient(e)))?;
    let from = Sender { address: sender.cloned(), internal: who.internal() };
    match resolve(dir, &address, &from) {
        Ok(resolution) => Ok(Accepted { address, resolution }),
        // Other domains: only for our users and our peer agents (open relays are abused).
        Err(Rejection::NotOurs) if who.internal() => {
            let resolution = Resolution { external: [address.clone()].into(), ..Resolution::default() };
            Ok(Accepted { address, resolution })
        }
        Err(Rejection::NotOurs) => Err(Refused::new("relay_denied", Reply::relay_denied())),
        // A peer's replica may be ahead of ours; a stale replica may miss a new user. Either
        // way, "not yet" rather than "never" (so a just-created user is never bounced).
        Err(Rejection::UnknownRecipient) if stale || who == Who::Peer => {
            Err(Refused::new("unknown_recipient_stale", Reply::unknown_while_stale()))
        }
        Err(why) => {
            let reason = match why {
                Rejection::NotOurs => "relay_denied",
                Rejection::UnknownRecipient => "unknown_recipient",
                Rejection::Disabled => "disabled",
                Rejection::NotAllowed { .. } => "policy",
            };
            Err(Refused::new(reason, Reply::rejected(&why)))
        }
    }
}
