//! The change-set wire format: numbered, hash-chained, Ed25519-signed, zstd-compressed.
//!
//! A *frame* is what crosses the wire, one change set or one snapshot:
//!
//! ```text
//! magic "PCHT" | format u8 | kind u8 | deployment [16] | version u64 BE | prev [32] | signature [64]
//!   | zstd(JSON body)
//! ```
//!
//! The signature covers every byte of the frame except itself. A receiver checks, in this order
//! and before it spends any work on the payload: length, magic, format, kind, deployment, the
//! signature (`verify_strict`), then decompresses with a cap and parses. The header repeats the
//! deployment and version so that a wrong-deployment or stale set is refused with a clear reason
//! before its signature is even checked.
//!
//! The chain hash of a set is SHA-256 over `kind | deployment | version | prev | JSON body`, and
//! every set names (`prev`) the hash of the set before it, so an agent notices any set that does
//! not continue exactly the history it has. For a snapshot, `prev` is the chain hash of the set
//! at its version. Everything fixed-size travels in the binary header and only once: a typical
//! edit is a few hundred bytes on the wire.

use std::fmt;
use std::io::Read;

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::model::{Directory, Op};

const MAGIC: &[u8; 4] = b"PCHT";
/// The frame format this build writes and the newest it reads. Bump on an incompatible change.
pub const FORMAT: u8 = 1;
const HEADER_LEN: usize = 4 + 1 + 1 + 16 + 8 + 32;
const SIG_LEN: usize = 64;
/// A raw-content zstd dictionary: the JSON a change set is made of. A typical change set is a
/// hundred-odd bytes of JSON, too short for zstd to find repeats in by itself; with these bytes as
/// a shared prefix its keys and common values cost a few bits each. Part of frame format 1:
/// changing a byte of it is a new format.
const DICTIONARY: &[u8] = br#"{"op":"put_site","id":"","name":"","level":1,"agents":[{"id":"","url":"https://","tls_sha256":""}]}{"op":"delete_site","id":""}{"op":"delete_group","name":""}{"op":"delete_user","name":""}{"op":"put_group","name":"","kind":"alias","description":"","members":["@"],"policy":"anyone"}{"op":"put_group","name":"","kind":"list","members":["@"],"policy":"internal"}{"op":"set_password","name":"","hash":"$argon2id$v=19$m=19456,t=2,p=1$"}{"op":"put_user","name":"","display_name":"","site":"","former_sites":[""],"password":"$argon2id$v=19$m=19456,t=2,p=1$","enabled":false}{"at":1700000000,"author":"admin","ops":[{"op":"put_user","name":"","display_name":"","site":"","enabled":true}]}"#;

/// Largest decompressed change-set body accepted.
pub const MAX_CHANGESET_BODY: usize = 8 << 20;
/// Largest decompressed snapshot body accepted (about a million users).
pub const MAX_SNAPSHOT_BODY: usize = 512 << 20;
/// Largest frame accepted on the wire, compressed.
pub const MAX_FRAME: usize = 64 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum FrameKind {
    ChangeSet = 1,
    Snapshot = 2,
}

/// The global, gap-free version of the directory. Version 0 is the empty directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Version(pub u64);
impl Version {
    pub fn next(self) -> Version {
        Version(self.0 + 1)
    }
}
impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

macro_rules! hex_bytes {
    ($t:ident, $n:expr) => {
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $t(pub [u8; $n]);
        impl $t {
            pub fn parse(s: &str) -> Result<Self, WireError> {
                let v = hex::decode(s.trim()).map_err(|_| WireError::BadHex(stringify!($t)))?;
                Ok(Self(v.try_into().map_err(|_| WireError::BadHex(stringify!($t)))?))
            }
            pub fn to_hex(&self) -> String {
                hex::encode(self.0)
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_hex())
            }
        }
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($t), self.to_hex())
            }
        }
        impl Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.to_hex())
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}
hex_bytes!(DeploymentId, 16);
hex_bytes!(ChainHash, 32);

impl DeploymentId {
    pub fn random() -> Self {
        let mut b = [0u8; 16];
        getrandom::fill(&mut b).expect("the OS has randomness");
        Self(b)
    }
}

/// One numbered, atomic edit of the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeSet {
    pub deployment: DeploymentId,
    pub version: Version,
    /// Chain hash of the set before this one (zero for version 1).
    pub prev: ChainHash,
    /// Unix seconds at commit.
    pub at: i64,
    /// Who made the edit (an administrator, a user, an API token name, `system`).
    pub author: String,
    pub ops: Vec<Op>,
}

/// What a change set's JSON body holds; the rest is in the frame header.
#[derive(Serialize, Deserialize)]
struct ChangeBody<'a> {
    at: i64,
    author: std::borrow::Cow<'a, str>,
    ops: std::borrow::Cow<'a, [Op]>,
}

/// What a snapshot's JSON body holds.
#[derive(Serialize, Deserialize)]
struct SnapshotBody<'a> {
    at: i64,
    directory: std::borrow::Cow<'a, Directory>,
}

/// The whole directory at one version, for bootstrapping new or far-behind agents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub deployment: DeploymentId,
    pub version: Version,
    /// Chain hash of the change set at `version`, so the chain continues after the snapshot.
    pub head: ChainHash,
    pub at: i64,
    pub directory: Directory,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("the frame is truncated")]
    Truncated,
    #[error("the frame is {0} bytes, over the {MAX_FRAME}-byte limit")]
    TooLarge(usize),
    #[error("not a Pochta frame")]
    BadMagic,
    #[error("frame format {0} is newer than this build understands ({FORMAT}); upgrade it")]
    NewerFormat(u8),
    #[error("frame format {0} is no longer supported")]
    OlderFormat(u8),
    #[error("expected a {expected:?} frame, got kind {got}")]
    WrongKind { expected: FrameKind, got: u8 },
    #[error("the frame belongs to deployment {got}, not to this one ({expected})")]
    WrongDeployment { expected: DeploymentId, got: DeploymentId },
    #[error("the signature does not verify")]
    BadSignature,
    #[error("the body decompresses to more than {0} bytes")]
    BodyTooLarge(usize),
    #[error("the body is not valid zstd data")]
    BadCompression,
    #[error("the body is malformed or from a newer server: {0}")]
    Malformed(String),
    #[error("invalid {0} in hex")]
    BadHex(&'static str),
}

/// The central server's signing key.
pub struct Signer(SigningKey);
impl Signer {
    pub fn generate() -> Self {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).expect("the OS has randomness");
        Self(SigningKey::from_bytes(&seed))
    }
    pub fn from_hex(s: &str) -> Result<Self, WireError> {
        let b: [u8; 32] = hex::decode(s.trim())
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or(WireError::BadHex("signing key"))?;
        Ok(Self(SigningKey::from_bytes(&b)))
    }
    pub fn to_hex(&self) -> String {
        hex::encode(self.0.to_bytes())
    }
    pub fn verifier(&self) -> Verifier {
        Verifier(self.0.verifying_key())
    }
    /// Signs an operator request (see [`REQUEST_CONTEXT`]): the signature, hex.
    pub fn sign_request(&self, body: &[u8]) -> String {
        hex::encode(self.0.sign(&request_bytes(body)).to_bytes())
    }
}

/// What a signed operator request's signature covers comes after this, so a request's
/// signature can never pass as a frame's or the other way round.
pub const REQUEST_CONTEXT: &[u8] = b"pochta operator request v1\0";

fn request_bytes(body: &[u8]) -> Vec<u8> {
    [REQUEST_CONTEXT, body].concat()
}

/// The public half that agents pin at enrollment.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Verifier(VerifyingKey);
impl Verifier {
    pub fn from_hex(s: &str) -> Result<Self, WireError> {
        let b: [u8; 32] = hex::decode(s.trim())
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or(WireError::BadHex("public key"))?;
        VerifyingKey::from_bytes(&b).map(Self).map_err(|_| WireError::BadHex("public key"))
    }
    pub fn to_hex(&self) -> String {
        hex::encode(self.0.to_bytes())
    }
    /// Whether `sig_hex` is the server's signature of the operator request `body`.
    pub fn verify_request(&self, body: &[u8], sig_hex: &str) -> bool {
        let Some(sig) = hex::decode(sig_hex.trim()).ok().and_then(|b| <[u8; 64]>::try_from(b).ok()) else {
            return false;
        };
        self.0.verify_strict(&request_bytes(body), &Signature::from_bytes(&sig)).is_ok()
    }
}
impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Verifier({})", self.to_hex())
    }
}

fn chain_hash(h: &Header, body: &[u8]) -> ChainHash {
    let mut d = Sha256::new();
    d.update([h.kind as u8]);
    d.update(h.deployment.0);
    d.update(h.version.0.to_be_bytes());
    d.update(h.prev.0);
    d.update(body);
    ChainHash(d.finalize().into())
}

fn seal(h: &Header, body: &[u8], key: &Signer) -> Vec<u8> {
    // Level 19 costs little on change sets of a few hundred bytes and shrinks snapshots well.
    let level = if body.len() < 1 << 20 { 19 } else { 3 };
    let compressed = zstd::bulk::Compressor::with_dictionary(level, DICTIONARY)
        .and_then(|mut c| c.compress(body))
        .expect("in-memory compression cannot fail");
    let mut frame = Vec::with_capacity(HEADER_LEN + SIG_LEN + compressed.len());
    frame.extend_from_slice(MAGIC);
    frame.push(FORMAT);
    frame.push(h.kind as u8);
    frame.extend_from_slice(&h.deployment.0);
    frame.extend_from_slice(&h.version.0.to_be_bytes());
    frame.extend_from_slice(&h.prev.0);
    frame.extend_from_slice(&[0u8; SIG_LEN]);
    frame.extend_from_slice(&compressed);
    let sig = key.0.sign(&signed_bytes(&frame));
    frame[HEADER_LEN..HEADER_LEN + SIG_LEN].copy_from_slice(&sig.to_bytes());
    frame
}

fn signed_bytes(frame: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(frame.len() - SIG_LEN);
    m.extend_from_slice(&frame[..HEADER_LEN]);
    m.extend_from_slice(&frame[HEADER_LEN + SIG_LEN..]);
    m
}

/// What a frame header says, readable without the key: used to route and to refuse early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub kind: FrameKind,
    pub deployment: DeploymentId,
    pub version: Version,
    /// The chain hash this frame continues from.
    pub prev: ChainHash,
}

/// Reads and checks the header only.
pub fn peek(frame: &[u8]) -> Result<Header, WireError> {
    if frame.len() > MAX_FRAME {
        return Err(WireError::TooLarge(frame.len()));
    }
    if frame.len() < HEADER_LEN + SIG_LEN {
        return Err(WireError::Truncated);
    }
    if &frame[..4] != MAGIC {
        return Err(WireError::BadMagic);
    }
    match frame[4] {
        FORMAT => {}
        f if f > FORMAT => return Err(WireError::NewerFormat(f)),
        f => return Err(WireError::OlderFormat(f)),
    }
    let kind = match frame[5] {
        1 => FrameKind::ChangeSet,
        2 => FrameKind::Snapshot,
        got => return Err(WireError::WrongKind { expected: FrameKind::ChangeSet, got }),
    };
    let deployment = DeploymentId(frame[6..22].try_into().expect("16 bytes"));
    let version = Version(u64::from_be_bytes(frame[22..30].try_into().expect("8 bytes")));
    let prev = ChainHash(frame[30..62].try_into().expect("32 bytes"));
    Ok(Header { kind, deployment, version, prev })
}

/// Checks everything up to and including the signature, then decompresses with a cap.
fn open(
    frame: &[u8],
    kind: FrameKind,
    key: &Verifier,
    deployment: &DeploymentId,
    cap: usize,
) -> Result<(Header, Vec<u8>), WireError> {
    let header = peek(frame)?;
    if header.kind != kind {
        return Err(WireError::WrongKind { expected: kind, got: header.kind as u8 });
    }
    if header.deployment != *deployment {
        return Err(WireError::WrongDeployment { expected: *deployment, got: header.deployment });
    }
    let sig = Signature::from_bytes(frame[HEADER_LEN..HEADER_LEN + SIG_LEN].try_into().expect("64 bytes"));
    key.0.verify_strict(&signed_bytes(frame), &sig).map_err(|_| WireError::BadSignature)?;
    let body = decompress_capped(&frame[HEADER_LEN + SIG_LEN..], cap)?;
    Ok((header, body))
}

fn decompress_capped(data: &[u8], cap: usize) -> Result<Vec<u8>, WireError> {
    let decoder = zstd::stream::read::Decoder::with_dictionary(std::io::BufReader::new(data), DICTIONARY)
        .map_err(|_| WireError::BadCompression)?;
    let mut out = Vec::new();
    decoder.take(cap as u64 + 1).read_to_end(&mut out).map_err(|_| WireError::BadCompression)?;
    if out.len() > cap {
        return Err(WireError::BodyTooLarge(cap));
    }
    Ok(out)
}

/// A change set that verified, with its chain hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified<T> {
    pub value: T,
    pub hash: ChainHash,
}

impl ChangeSet {
    fn header(&self) -> Header {
        Header {
            kind: FrameKind::ChangeSet,
            deployment: self.deployment,
            version: self.version,
            prev: self.prev,
        }
    }

    /// Serialises, compresses and signs. Returns the frame and the set's chain hash.
    pub fn seal(&self, key: &Signer) -> (Vec<u8>, ChainHash) {
        let body =
            ChangeBody { at: self.at, author: self.author.as_str().into(), ops: self.ops.as_slice().into() };
        let body = serde_json::to_vec(&body).expect("a change set always serialises");
        let h = self.header();
        (seal(&h, &body, key), chain_hash(&h, &body))
    }

    /// Verifies and parses a change-set frame for `deployment`.
    pub fn open(
        frame: &[u8],
        key: &Verifier,
        deployment: &DeploymentId,
    ) -> Result<Verified<ChangeSet>, WireError> {
        let (h, body) = open(frame, FrameKind::ChangeSet, key, deployment, MAX_CHANGESET_BODY)?;
        let b: ChangeBody<'static> =
            serde_json::from_slice(&body).map_err(|e| WireError::Malformed(e.to_string()))?;
        let set = ChangeSet {
            deployment: h.deployment,
            version: h.version,
            prev: h.prev,
            at: b.at,
            author: b.author.into_owned(),
            ops: b.ops.into_owned(),
        };
        Ok(Verified { value: set, hash: chain_hash(&h, &body) })
    }
}

impl Snapshot {
    pub fn seal(&self, key: &Signer) -> Vec<u8> {
        let body = SnapshotBody { at: self.at, directory: std::borrow::Cow::Borrowed(&self.directory) };
        let body = serde_json::to_vec(&body).expect("a snapshot always serialises");
        let h = Header {
            kind: FrameKind::Snapshot,
            deployment: self.deployment,
            version: self.version,
            prev: self.head,
        };
        seal(&h, &body, key)
    }

    pub fn open(frame: &[u8], key: &Verifier, deployment: &DeploymentId) -> Result<Snapshot, WireError> {
        let (h, body) = open(frame, FrameKind::Snapshot, key, deployment, MAX_SNAPSHOT_BODY)?;
        let b: SnapshotBody<'static> =
            serde_json::from_slice(&body).map_err(|e| WireError::Malformed(e.to_string()))?;
        Ok(Snapshot {
            deployment: h.deployment,
            version: h.version,
            head: h.prev,
            at: b.at,
            directory: b.directory.into_owned(),
        })
    }
}

/// Several frames in one HTTP body: each is a u32 big-endian length and the frame.
pub fn pack<'a>(frames: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for f in frames {
        out.extend_from_slice(&(f.len() as u32).to_be_bytes());
        out.extend_from_slice(f);
    }
    out
}

/// Splits a packed body back into frames.
pub fn unpack(mut body: &[u8]) -> Result<Vec<&[u8]>, WireError> {
    let mut frames = Vec::new();
    while !body.is_empty() {
        if body.len() < 4 {
            return Err(WireError::Truncated);
        }
        let n = u32::from_be_bytes(body[..4].try_into().expect("4 bytes")) as usize;
        if n > MAX_FRAME {
            return Err(WireError::TooLarge(n));
        }
        if body.len() < 4 + n {
            return Err(WireError::Truncated);
        }
        frames.push(&body[4..4 + n]);
        body = &body[4 + n..];
    }
    Ok(frames)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Domain;
    use crate::model::{Level, Site, SiteId};

    fn set(deployment: DeploymentId, version: u64, prev: ChainHash) -> ChangeSet {
        ChangeSet {
            deployment,
            version: Version(version),
            prev,
            at: 1_700_000_000,
            author: "admin".into(),
            ops: vec![Op::PutSite(Site {
                id: SiteId::parse("msk").unwrap(),
                name: "Moscow".into(),
                level: Level::One,
                agents: vec![],
                default_quota: None,
                outgoing: vec![],
            })],
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        /// The fuzz target `wire`'s property on stable: nothing but the exact signed frame
        /// opens — any changed byte, a cut or an extension is refused, and unpacking what was
        /// packed gives the frames back.
        #[test]
        fn only_the_exact_frame_opens(
            at in 0usize..4096,
            xor in 1u8..=255,
            cut in 0usize..4096,
            extra in proptest::collection::vec(proptest::prelude::any::<u8>(), 1..16),
        ) {
            let key = Signer::generate();
            let dep = DeploymentId::random();
            let (frame, _) = set(dep, 7, ChainHash::default()).seal(&key);
            let mut changed = frame.clone();
            let i = at % changed.len();
            changed[i] ^= xor;
            proptest::prop_assert!(ChangeSet::open(&changed, &key.verifier(), &dep).is_err(), "byte {i} changed");
            let cut = cut % frame.len();
            proptest::prop_assert!(ChangeSet::open(&frame[..cut], &key.verifier(), &dep).is_err());
            let longer = [frame.as_slice(), &extra].concat();
            proptest::prop_assert!(ChangeSet::open(&longer, &key.verifier(), &dep).is_err());
            proptest::prop_assert!(ChangeSet::open(&frame, &Signer::generate().verifier(), &dep).is_err());
            let packed = pack([frame.as_slice(), changed.as_slice()]);
            proptest::prop_assert_eq!(unpack(&packed).unwrap(), vec![frame.as_slice(), changed.as_slice()]);
        }
    }

    #[test]
    fn sealed_set_opens_with_the_same_content_and_hash() {
        let key = Signer::generate();
        let dep = DeploymentId::random();
        let s = set(dep, 1, ChainHash::default());
        let (frame, hash) = s.seal(&key);
        let opened = ChangeSet::open(&frame, &key.verifier(), &dep).unwrap();
        assert_eq!(opened.value, s);
        assert_eq!(opened.hash, hash);
        // The next set chains to this one and gets another hash.
        let (_, hash2) = set(dep, 2, hash).seal(&key);
        assert_ne!(hash, hash2);
        assert_eq!(
            peek(&frame).unwrap(),
            Header {
                kind: FrameKind::ChangeSet,
                deployment: dep,
                version: Version(1),
                prev: ChainHash::default()
            }
        );
    }

    #[test]
    fn every_flipped_byte_is_refused() {
        let key = Signer::generate();
        let dep = DeploymentId::random();
        let (frame, _) = set(dep, 7, ChainHash::default()).seal(&key);
        for i in 0..frame.len() {
            let mut bad = frame.clone();
            bad[i] ^= 0x40;
            assert!(ChangeSet::open(&bad, &key.verifier(), &dep).is_err(), "byte {i} flipped was accepted");
        }
    }

    #[test]
    fn refusals_say_why() {
        let key = Signer::generate();
        let dep = DeploymentId::random();
        let (frame, _) = set(dep, 1, ChainHash::default()).seal(&key);
        let other = Signer::generate();
        assert_eq!(ChangeSet::open(&frame, &other.verifier(), &dep), Err(WireError::BadSignature));
        let elsewhere = DeploymentId::random();
        assert!(matches!(
            ChangeSet::open(&frame, &key.verifier(), &elsewhere),
            Err(WireError::WrongDeployment { .. })
        ));
        let mut newer = frame.clone();
        newer[4] = FORMAT + 1;
        let err = ChangeSet::open(&newer, &key.verifier(), &dep).unwrap_err();
        assert_eq!(err, WireError::NewerFormat(FORMAT + 1));
        assert!(err.to_string().contains("upgrade"));
        assert_eq!(ChangeSet::open(&frame[..40], &key.verifier(), &dep), Err(WireError::Truncated));
        assert_eq!(ChangeSet::open(&[b'G'; 200], &key.verifier(), &dep), Err(WireError::BadMagic));
        let snap = Snapshot {
            deployment: dep,
            version: Version(1),
            head: ChainHash::default(),
            at: 0,
            directory: Directory::new(Domain::parse("example.org").unwrap()),
        }
        .seal(&key);
        assert!(matches!(ChangeSet::open(&snap, &key.verifier(), &dep), Err(WireError::WrongKind { .. })));
        assert_eq!(Snapshot::open(&snap, &key.verifier(), &dep).unwrap().version, Version(1));
    }

    #[test]
    fn a_compression_bomb_stops_at_the_cap() {
        // A validly signed frame whose small body inflates past the change-set cap.
        let key = Signer::generate();
        let dep = DeploymentId::random();
        let body = vec![b' '; MAX_CHANGESET_BODY + 10];
        let h = Header {
            kind: FrameKind::ChangeSet,
            deployment: dep,
            version: Version(1),
            prev: ChainHash::default(),
        };
        let frame = seal(&h, &body, &key);
        assert!(frame.len() < 4096, "the bomb is small on the wire");
        assert_eq!(
            ChangeSet::open(&frame, &key.verifier(), &dep),
            Err(WireError::BodyTooLarge(MAX_CHANGESET_BODY))
        );
    }

    #[test]
    fn packing_round_trips_and_refuses_truncation() {
        let frames: Vec<Vec<u8>> = vec![vec![1, 2, 3], vec![], vec![9; 1000]];
        let packed = pack(frames.iter().map(Vec::as_slice));
        let back: Vec<Vec<u8>> = unpack(&packed).unwrap().into_iter().map(<[u8]>::to_vec).collect();
        assert_eq!(back, frames);
        assert_eq!(unpack(&packed[..packed.len() - 1]), Err(WireError::Truncated));
        assert_eq!(unpack(&[0xff, 0xff, 0xff, 0xff]), Err(WireError::TooLarge(u32::MAX as usize)));
    }
}
