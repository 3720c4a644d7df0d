//! DKIM keys of the mail domain (RFC 6376), as the directory holds them: administered at the
//! central server, replicated to every agent inside signed change sets (the private key, like a
//! password hash, crosses the wire only inside TLS), used by the agent that sends a letter out.
//!
//! A key's life: **pending** (made and shown as a DNS record to publish; signs nothing), then
//! **active** (signs; at most one per algorithm), then **retiring** (published still, so letters
//! signed before the switch keep verifying, until `until`; signs nothing), then deleted. The
//! crypto lives in the server (generation) and the agent (signing); this module is data only.

use std::fmt;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// A DKIM selector: one lower-case DNS label, the `s=` of a signature and the `<s>._domainkey`
/// name of its record.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Selector(String);

impl Selector {
    pub fn parse(s: &str) -> Result<Self, DkimError> {
        crate::model::dns_label(s).map(Self).map_err(DkimError::BadSelector)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The record's owner name below the domain: `<selector>._domainkey`.
    pub fn record_name(&self) -> String {
        format!("{}._domainkey", self.0)
    }
}
impl<'de> Deserialize<'de> for Selector {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Selector::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}
impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl fmt::Debug for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Selector({})", self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    /// `rsa-sha256`, the one every receiver verifies.
    Rsa,
    /// `ed25519-sha256` (RFC 8463): only as a second signature beside RSA, since some receivers
    /// do not verify it.
    Ed25519,
}

impl Algorithm {
    /// The `k=` tag of the DNS record.
    pub fn key_tag(self) -> &'static str {
        match self {
            Algorithm::Rsa => "rsa",
            Algorithm::Ed25519 => "ed25519",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum KeyState {
    Pending,
    Active,
    /// Still published, no longer signing; deleted after `until` (Unix seconds).
    Retiring {
        until: i64,
    },
}

/// A private key as PKCS#8 DER in base64. Never printed; it leaves the server only inside a
/// signed change set (and a snapshot), never in a page, an API answer or the audit log.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PrivateKey(String);

impl PrivateKey {
    pub fn from_der(der: &[u8]) -> Self {
        Self(base64::engine::general_purpose::STANDARD.encode(der))
    }
    /// The PKCS#8 DER, or `None` when the stored text is not base64.
    pub fn der(&self) -> Option<Vec<u8>> {
        base64::engine::general_purpose::STANDARD.decode(&self.0).ok()
    }
}
impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrivateKey(hidden)")
    }
}

/// One key of the domain under one selector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DkimKey {
    pub selector: Selector,
    pub algorithm: Algorithm,
    /// The `p=` of the DNS record, base64: the SubjectPublicKeyInfo DER for RSA, the raw 32
    /// bytes for Ed25519 (RFC 8463 §4).
    pub public_key: String,
    pub private_key: PrivateKey,
    /// Unix seconds.
    pub created: i64,
    #[serde(flatten)]
    pub state: KeyState,
}

impl DkimKey {
    /// The TXT record's text: `v=DKIM1; k=…; p=…`.
    pub fn record(&self) -> String {
        format!("v=DKIM1; k={}; p={}", self.algorithm.key_tag(), self.public_key)
    }
    pub fn signs(&self) -> bool {
        self.state == KeyState::Active
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DkimError {
    #[error("'{0}' is not a valid DKIM selector: use one DNS label (letters, digits, hyphens)")]
    BadSelector(String),
    #[error("there is no DKIM key with selector '{0}'")]
    NoSuchKey(Selector),
    #[error("the DKIM key '{0}' is not base64 or is empty")]
    BadKey(Selector),
    #[error("the key of DKIM selector '{0}' cannot change; make a new selector")]
    KeyChanged(Selector),
    #[error("DKIM key '{0}' of this algorithm is active; retire it first")]
    AnotherActive(Selector),
}

/// The keys of a directory, by selector.
pub type DkimKeys = std::collections::BTreeMap<Selector, DkimKey>;

/// Checks putting `key` into `keys` without changing them.
pub fn check_put(keys: &DkimKeys, key: &DkimKey) -> Result<(), DkimError> {
    let b64 = |s: &str| !s.is_empty() && base64::engine::general_purpose::STANDARD.decode(s).is_ok();
    if !b64(&key.public_key) || key.private_key.der().is_none_or(|d| d.is_empty()) {
        return Err(DkimError::BadKey(key.selector.clone()));
    }
    // Receivers cache the record under its selector: a selector's key is for life.
    if let Some(old) = keys.get(&key.selector)
        && (old.public_key != key.public_key || old.algorithm != key.algorithm)
    {
        return Err(DkimError::KeyChanged(key.selector.clone()));
    }
    if key.signs()
        && let Some(other) =
            keys.values().find(|k| k.signs() && k.algorithm == key.algorithm && k.selector != key.selector)
    {
        return Err(DkimError::AnotherActive(other.selector.clone()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(sel: &str, algorithm: Algorithm, state: KeyState) -> DkimKey {
        DkimKey {
            selector: Selector::parse(sel).unwrap(),
            algorithm,
            public_key: "AAAA".into(),
            private_key: PrivateKey::from_der(b"der"),
            created: 0,
            state,
        }
    }

    #[test]
    fn selectors_are_dns_labels() {
        assert_eq!(Selector::parse("Pochta-2026").unwrap().as_str(), "pochta-2026");
        assert_eq!(Selector::parse("p1").unwrap().record_name(), "p1._domainkey");
        for bad in ["", "-a", "a-", "a.b", "a b", "ключ", &"x".repeat(64)] {
            assert!(Selector::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn one_active_key_per_algorithm_and_a_selector_keeps_its_key() {
        let mut keys = DkimKeys::new();
        let a = key("a", Algorithm::Rsa, KeyState::Active);
        keys.insert(a.selector.clone(), a.clone());
        assert_eq!(
            check_put(&keys, &key("b", Algorithm::Rsa, KeyState::Active)),
            Err(DkimError::AnotherActive(a.selector.clone()))
        );
        assert_eq!(check_put(&keys, &key("b", Algorithm::Rsa, KeyState::Pending)), Ok(()));
        assert_eq!(check_put(&keys, &key("e", Algorithm::Ed25519, KeyState::Active)), Ok(()));
        let changed = DkimKey { public_key: "BBBB".into(), ..a.clone() };
        assert_eq!(check_put(&keys, &changed), Err(DkimError::KeyChanged(a.selector.clone())));
        let retiring = DkimKey { state: KeyState::Retiring { until: 5 }, ..a.clone() };
        assert_eq!(check_put(&keys, &retiring), Ok(()));
        let broken =
            DkimKey { public_key: "not base64!".into(), ..key("c", Algorithm::Rsa, KeyState::Pending) };
        assert!(matches!(check_put(&keys, &broken), Err(DkimError::BadKey(_))));
    }

    #[test]
    fn the_private_key_never_prints() {
        let k = key("a", Algorithm::Rsa, KeyState::Pending);
        let shown = format!("{k:?}");
        assert!(!shown.contains(&k.private_key.0), "{shown}");
        assert_eq!(k.record(), "v=DKIM1; k=rsa; p=AAAA");
        let json = serde_json::to_value(&k).unwrap();
        assert_eq!(json["state"], "pending");
        assert_eq!(serde_json::from_value::<DkimKey>(json).unwrap(), k);
    }
}
