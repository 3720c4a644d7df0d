//! The change-set wire format: nothing but the exact signed frame opens.
//!
//! The input picks one of three shapes:
//! * raw junk: `peek`, `unpack` and both `open`s refuse it (or, for `unpack`, split it into
//!   frames that lie inside the body);
//! * a valid frame, mutated (bytes XORed, truncated, extended): it opens only when unchanged;
//! * signed junk: a correct header and a real signature over a body the fuzzer chose; it opens
//!   only when the body is a change set, and then sealing the result opens to the same value.
#![no_main]

use std::sync::OnceLock;

use ed25519_dalek::Signer as _;
use libfuzzer_sys::fuzz_target;
use pochta_directory::wire::{self, ChainHash, ChangeSet, DeploymentId, Signer, Snapshot, Verifier, Version};
use pochta_directory::{Level, Op, Site, SiteId};

const KEY: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
const HEADER_LEN: usize = 62;

struct Fixture {
    signer: Signer,
    verifier: Verifier,
    dep: DeploymentId,
    frame: Vec<u8>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let signer = Signer::from_hex(KEY).unwrap();
        let dep = DeploymentId::parse("00112233445566778899aabbccddeeff").unwrap();
        let set = ChangeSet {
            deployment: dep,
            version: Version(3),
            prev: ChainHash::default(),
            at: 1_700_000_000,
            author: "admin".into(),
            ops: vec![Op::PutSite(Site {
                id: SiteId::parse("msk").unwrap(),
                name: "Moscow".into(),
                level: Level::One,
                agents: vec![],
                default_quota: None, outgoing: vec![],
            })],
        };
        let (frame, _) = set.seal(&signer);
        Fixture { verifier: signer.verifier(), signer, dep, frame }
    })
}

fn opens(f: &Fixture, frame: &[u8]) -> bool {
    let set = ChangeSet::open(frame, &f.verifier, &f.dep);
    let snap = Snapshot::open(frame, &f.verifier, &f.dep);
    if set.is_ok() || snap.is_ok() {
        assert!(wire::peek(frame).is_ok(), "opens but does not peek");
    }
    set.is_ok() || snap.is_ok()
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let Some((&mode, data)) = data.split_first() else { return };
    match mode % 3 {
        0 => {
            assert!(!opens(f, data) || data == f.frame.as_slice(), "junk opened");
            if let Ok(frames) = wire::unpack(data) {
                let total: usize = frames.iter().map(|fr| fr.len() + 4).sum();
                assert_eq!(total, data.len(), "unpack lost bytes");
                assert_eq!(wire::pack(frames.iter().copied()), data, "pack(unpack(x)) != x");
            }
        }
        1 => {
            let mut frame = f.frame.clone();
            // Pairs of (position, xor); a trailing odd byte truncates or extends.
            for pair in data.chunks(2) {
                match *pair {
                    [p, x] => {
                        let i = usize::from(p) * frame.len() / 256;
                        frame[i] ^= x;
                    }
                    [n] if n & 0x80 == 0 => frame.truncate(frame.len() - usize::from(n).min(frame.len())),
                    [n] => frame.extend(std::iter::repeat_n(n, usize::from(n & 0x7f))),
                    _ => unreachable!(),
                }
            }
            assert_eq!(opens(f, &frame), frame == f.frame, "a changed frame opened");
        }
        _ => {
            // Header of the valid frame (kind from the input), then a real signature.
            let Some((&kind, body)) = data.split_first() else { return };
            let mut header = f.frame[..HEADER_LEN].to_vec();
            header[5] = 1 + (kind & 1);
            let compressed = if kind & 2 == 0 { zstd::encode_all(body, 1).unwrap() } else { body.to_vec() };
            let mut signed = header.clone();
            signed.extend_from_slice(&compressed);
            let key = ed25519_dalek::SigningKey::from_bytes(&hex32(KEY));
            let sig = key.sign(&signed).to_bytes();
            let mut frame = header;
            frame.extend_from_slice(&sig);
            frame.extend_from_slice(&compressed);
            if let Ok(v) = ChangeSet::open(&frame, &f.verifier, &f.dep) {
                let (again, hash) = v.value.seal(&f.signer);
                let reopened = ChangeSet::open(&again, &f.verifier, &f.dep).expect("a sealed set opens");
                assert_eq!(reopened.value, v.value);
                assert_eq!(reopened.hash, hash);
            }
            if let Ok(s) = Snapshot::open(&frame, &f.verifier, &f.dep) {
                let again = s.seal(&f.signer);
                assert_eq!(Snapshot::open(&again, &f.verifier, &f.dep).expect("a sealed snapshot opens"), s);
            }
            // The same frame under another key never opens.
            let other = Signer::from_hex(&"11".repeat(32)).unwrap().verifier();
            assert!(ChangeSet::open(&frame, &other, &f.dep).is_err());
            assert!(Snapshot::open(&frame, &other, &f.dep).is_err());
        }
    }
});

fn hex32(s: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}
