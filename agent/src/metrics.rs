//! The agent's counters, as in the paper's table: received (connections), accepted (messages
//! taken for delivery), delivered (to local mailboxes), sent (to other servers), plus rejections
//! by reason and bytes sent per destination site. Cheap atomics; exported on `/metrics` and
//! reported to the central server with the agent's status.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default)]
pub struct Counters {
    /// Incoming SMTP connections.
    pub received: AtomicU64,
    /// Messages accepted (250 after DATA).
    pub accepted: AtomicU64,
    /// Deliveries into local mailboxes (one per mailbox).
    pub delivered: AtomicU64,
    /// Messages sent to other servers (one per SMTP transaction).
    pub sent: AtomicU64,
    /// Letters of mailboxes moving away sent to their new site, and of mailboxes moving here
    /// filed: counted apart, so a move of 5,000 letters does not read as 5,000 letters of mail.
    pub moved_out: AtomicU64,
    pub moved_in: AtomicU64,
    /// Rejections by reason (e.g. "unknown_recipient", "relay_denied", "policy").
    rejected: Mutex<BTreeMap<&'static str, u64>>,
    /// Bytes sent per destination (site id, or "external").
    bytes_to: Mutex<BTreeMap<String, u64>>,
    /// Letters DKIM-signed on their way out of the deployment.
    pub signed: AtomicU64,
    /// Since when (Unix seconds) and why DKIM signing fails, while it does.
    pub signing_failure: Mutex<Option<(i64, String)>>,
}

impl Counters {
    pub fn reject(&self, reason: &'static str) {
        *self.rejected.lock().expect("not poisoned").entry(reason).or_default() += 1;
    }

    pub fn sent_bytes(&self, destination: &str, bytes: u64) {
        *self.bytes_to.lock().expect("not poisoned").entry(destination.to_owned()).or_default() += bytes;
    }

    /// Records the outcome of a signing attempt: a failure keeps the time of the first one.
    pub fn signing(&self, result: Result<(), String>) {
        let mut f = self.signing_failure.lock().expect("not poisoned");
        match result {
            Ok(()) => {
                self.signed.fetch_add(1, Ordering::Relaxed);
                *f = None;
            }
            Err(e) => {
                let since = f.as_ref().map_or_else(crate::clock::unix_now, |(s, _)| *s);
                *f = Some((since, e));
            }
        }
    }

    pub fn snapshot(&self) -> CountersSnapshot {
        CountersSnapshot {
            received: self.received.load(Ordering::Relaxed),
            accepted: self.accepted.load(Ordering::Relaxed),
            delivered: self.delivered.load(Ordering::Relaxed),
            sent: self.sent.load(Ordering::Relaxed),
            moved_out: self.moved_out.load(Ordering::Relaxed),
            moved_in: self.moved_in.load(Ordering::Relaxed),
            signed: self.signed.load(Ordering::Relaxed),
            rejected: self
                .rejected
                .lock()
                .expect("not poisoned")
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
            bytes_to: self.bytes_to.lock().expect("not poisoned").clone(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CountersSnapshot {
    pub received: u64,
    pub accepted: u64,
    pub delivered: u64,
    pub sent: u64,
    #[serde(default)]
    pub moved_out: u64,
    #[serde(default)]
    pub moved_in: u64,
    #[serde(default)]
    pub signed: u64,
    pub rejected: BTreeMap<String, u64>,
    pub bytes_to: BTreeMap<String, u64>,
}

impl CountersSnapshot {
    /// Prometheus text exposition format.
    pub fn prometheus(&self, site: &str) -> String {
        let mut out = String::new();
        for (name, help, v) in [
            ("pochta_connections_received_total", "Incoming SMTP connections", self.received),
            ("pochta_messages_accepted_total", "Messages accepted for delivery", self.accepted),
            ("pochta_messages_delivered_total", "Deliveries to local mailboxes", self.delivered),
            ("pochta_messages_sent_total", "Messages sent to other servers", self.sent),
            (
                "pochta_moved_letters_sent_total",
                "Letters of moving mailboxes sent to their new site",
                self.moved_out,
            ),
            ("pochta_moved_letters_filed_total", "Letters of mailboxes moving here filed", self.moved_in),
            ("pochta_messages_dkim_signed_total", "Letters DKIM-signed on their way out", self.signed),
        ] {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} counter\n{name}{{site=\"{site}\"}} {v}\n"
            ));
        }
        out.push_str("# HELP pochta_rejections_total SMTP rejections by reason\n# TYPE pochta_rejections_total counter\n");
        for (reason, v) in &self.rejected {
            out.push_str(&format!("pochta_rejections_total{{site=\"{site}\",reason=\"{reason}\"}} {v}\n"));
        }
        out.push_str("# HELP pochta_bytes_sent_total Bytes sent per destination\n# TYPE pochta_bytes_sent_total counter\n");
        for (dest, v) in &self.bytes_to {
            out.push_str(&format!("pochta_bytes_sent_total{{site=\"{site}\",destination=\"{dest}\"}} {v}\n"));
        }
        out
    }
}
