//! The envelope of a queued message, as stored in the spool (JSON) and shown by
//! `pochta-agent queue show`.

use std::net::IpAddr;

use pochta_directory::Address;
use serde::{Deserialize, Serialize};

use super::{Origin, QueueId};
use crate::reply::Reply;

/// [`Origin`] as stored, plus the agent's own messages (delivery status notifications).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OriginRecord {
    Outside,
    User {
        address: Address,
    },
    Peer {
        agent_id: String,
    },
    /// Made by this agent: a delivery status notification.
    Bounce,
}

impl From<&Origin> for OriginRecord {
    fn from(o: &Origin) -> Self {
        match o {
            Origin::Outside => OriginRecord::Outside,
            Origin::User(a) => OriginRecord::User { address: a.clone() },
            Origin::Peer { agent_id } => OriginRecord::Peer { agent_id: agent_id.clone() },
        }
    }
}

impl OriginRecord {
    /// Whether the sender counts as internal for posting policies.
    pub fn internal(&self) -> bool {
        !matches!(self, OriginRecord::Outside)
    }
}

/// Where one final recipient stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum TargetState {
    Pending,
    /// Unix milliseconds; `via` names the destination (`local`, a site, a host).
    Delivered {
        at: i64,
        via: String,
    },
    /// Given up: the SMTP code, the enhanced status and the diagnostic, for the DSN.
    Failed {
        at: i64,
        code: u16,
        status: String,
        diagnostic: String,
    },
}

impl TargetState {
    /// Given up at `at` with `why` (its code, its status or its class's, and the whole reply
    /// as the diagnostic: RFC 3464 §2.3.4 and §2.3.6).
    pub fn failed(at: i64, why: &Reply) -> Self {
        TargetState::Failed {
            at,
            code: why.code.as_u16(),
            status: why.status_or_class().to_string(),
            diagnostic: why.to_string(),
        }
    }
}

/// One final destination of a message: a mailbox of ours (`user@domain`) or an outside
/// address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    pub address: Address,
    #[serde(flatten)]
    pub state: TargetState,
    /// The last temporary failure, for `queue show`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

impl Target {
    pub fn pending(address: Address) -> Self {
        Self { address, state: TargetState::Pending, last_error: None }
    }
    pub fn is_pending(&self) -> bool {
        self.state == TargetState::Pending
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    pub id: QueueId,
    /// `None`: the null reverse path `<>`.
    pub reverse_path: Option<Address>,
    /// The recipients as accepted in `RCPT TO`.
    pub recipients: Vec<Address>,
    pub origin: OriginRecord,
    pub client_ip: IpAddr,
    /// Unix milliseconds.
    pub created: i64,
    /// Delivery attempts so far.
    pub attempts: u32,
    /// Unix milliseconds of the next attempt.
    pub next_try: i64,
    /// Octets of the message.
    pub size: u64,
    /// The final recipients with their states, once aliases and lists are expanded (at the
    /// first attempt). `None` in a freshly accepted message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub targets: Option<Vec<Target>>,
}

impl Envelope {
    pub fn pending(&self) -> usize {
        self.targets.as_ref().map_or(self.recipients.len(), |t| t.iter().filter(|t| t.is_pending()).count())
    }

    pub fn is_done(&self) -> bool {
        self.targets.as_ref().is_some_and(|t| t.iter().all(|t| !t.is_pending()))
    }

    pub fn failed(&self) -> impl Iterator<Item = &Target> {
        self.targets.iter().flatten().filter(|t| matches!(t.state, TargetState::Failed { .. }))
    }
}

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
