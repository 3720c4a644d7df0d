//! DKIM signing (RFC 6376) of letters that leave the deployment, with the domain's active keys
//! from the replica (see `pochta_directory::dkim`).
//!
//! mail-auth canonicalises and builds the `DKIM-Signature` field (relaxed/relaxed); the
//! private-key operation is ours, through its `SigningKey` trait, on aws-lc-rs — the library
//! rustls already uses here — because mail-auth's pure-Rust backend (which this build verifies
//! with) signs RSA with the `rsa` crate, whose private-key operations have a timing side
//! channel (RUSTSEC-2023-0071).

use std::sync::{Arc, Mutex};

use aws_lc_rs::signature::{Ed25519KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};
use mail_auth::common::crypto::{Algorithm as Alg, HashContext as _, HashImpl as _, Sha256, SigningKey};
use mail_auth::common::headers::{HeaderWriter as _, Writable};
use mail_auth::dkim::DkimSigner;
use pochta_directory::dkim::{Algorithm, DkimKey, PrivateKey, Selector};
use pochta_directory::{Directory, Domain};

use super::header;

/// The fields signed when present (trace fields are left out: every hop adds its own).
const SIGNED: &[&str] = &[
    "From",
    "Reply-To",
    "Subject",
    "Date",
    "To",
    "Cc",
    "Sender",
    "Message-ID",
    "In-Reply-To",
    "References",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
    "Content-Disposition",
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "Auto-Submitted",
];

/// The fields a reader sees, signed once more than they occur — oversigned (RFC 6376 §8.15): one
/// added on the way (a second `From`, a `Reply-To` where there was none) breaks the signature
/// instead of riding on it.
const OVERSIGNED: &[&str] = &["From", "Reply-To", "Subject", "Date", "To", "Cc"];

/// The `h=` list for `data`: each signed field it has, and every oversigned one once more.
fn signed_fields(data: &[u8]) -> Vec<&'static str> {
    let has = |name: &str| header::first(data, name).is_some();
    let mut h: Vec<&'static str> = SIGNED.iter().copied().filter(|n| has(n)).collect();
    h.extend(OVERSIGNED);
    h
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    #[error("DKIM key '{0}' cannot be loaded: {1}")]
    BadKey(Selector, String),
    #[error("signing with DKIM key '{0}' failed: {1}")]
    Failed(Selector, String),
}

enum Pair {
    Rsa(RsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

/// One loaded private key, as mail-auth's signer wants it.
struct Key<'a>(&'a Pair);

impl SigningKey for Key<'_> {
    type Hasher = Sha256;

    fn sign(&self, input: impl Writable) -> mail_auth::Result<Vec<u8>> {
        let fail = |e: aws_lc_rs::error::Unspecified| {
            mail_auth::Error::Crypto(mail_auth::common::crypto::CryptoError::Library(e.to_string()))
        };
        match self.0 {
            Pair::Rsa(pair) => {
                let mut data = Vec::with_capacity(1024);
                input.write(&mut data);
                let mut sig = vec![0; pair.public_modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &aws_lc_rs::rand::SystemRandom::new(), &data, &mut sig)
                    .map_err(fail)?;
                Ok(sig)
            }
            // RFC 8463 §3: Ed25519 signs the SHA-256 of the canonical data, not the data.
            Pair::Ed25519(pair) => {
                let mut hash = Sha256::hasher();
                input.write(&mut hash);
                Ok(pair.sign(hash.complete().as_ref()).as_ref().to_vec())
            }
        }
    }

    fn algorithm(&self) -> Alg {
        match self.0 {
            Pair::Rsa(_) => Alg::RsaSha256,
            Pair::Ed25519(_) => Alg::Ed25519Sha256,
        }
    }
}

/// A new key pair in the forms the directory keeps (and [`Signer`] loads): the record's `p=`
/// and the PKCS#8 private key. The central server makes keys with this, so the formats are
/// written in one place.
pub fn generate(algorithm: Algorithm) -> Result<(String, PrivateKey), aws_lc_rs::error::Unspecified> {
    use aws_lc_rs::encoding::AsDer as _;
    use aws_lc_rs::signature::KeyPair as _;
    use base64::Engine as _;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    match algorithm {
        Algorithm::Rsa => {
            let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)?;
            let private = pair.as_der()?;
            Ok((b64(pair.public_key().as_der()?.as_ref()), PrivateKey::from_der(private.as_ref())))
        }
        Algorithm::Ed25519 => {
            let pair = Ed25519KeyPair::generate()?;
            let private = pair.to_pkcs8v1()?;
            // RFC 8463 §4: the record holds the raw 32-byte key, not a SubjectPublicKeyInfo.
            Ok((b64(pair.public_key().as_ref()), PrivateKey::from_der(private.as_ref())))
        }
    }
}

fn load(k: &DkimKey) -> Result<Pair, SignError> {
    let bad = |e: String| SignError::BadKey(k.selector.clone(), e);
    let der = k.private_key.der().ok_or_else(|| bad("not base64".into()))?;
    match k.algorithm {
        Algorithm::Rsa => RsaKeyPair::from_pkcs8(&der).map(Pair::Rsa).map_err(|e| bad(e.to_string())),
        Algorithm::Ed25519 => {
            Ed25519KeyPair::from_pkcs8(&der).map(Pair::Ed25519).map_err(|e| bad(e.to_string()))
        }
    }
}

/// The signing keys of the current directory, loaded once per set of active selectors (a
/// selector's key never changes, so the selectors name the keys).
#[derive(Default)]
pub struct Signer {
    loaded: Mutex<Option<Loaded>>,
}

type Loaded = (Vec<Selector>, Arc<Result<Vec<(Selector, Pair)>, SignError>>);

impl Signer {
    fn keys(&self, dir: &Directory) -> Arc<Result<Vec<(Selector, Pair)>, SignError>> {
        let active: Vec<Selector> = dir.signing_keys().map(|k| k.selector.clone()).collect();
        let mut cache = self.loaded.lock().expect("not poisoned");
        if let Some((sel, keys)) = cache.as_ref()
            && *sel == active
        {
            return keys.clone();
        }
        let keys: Result<Vec<_>, SignError> =
            dir.signing_keys().map(|k| Ok((k.selector.clone(), load(k)?))).collect();
        let keys = Arc::new(keys);
        *cache = Some((active, keys.clone()));
        keys
    }

    /// `data` with one `DKIM-Signature` per active key of `dir` on top (RSA first), for the
    /// domain `dir.domain`; `Ok(None)` when the domain has no active key. Signatures of our
    /// domain already in the letter are taken out first: whoever wrote them, the one that
    /// counts is made here, and a receiver must not see a stale or forged one beside it.
    pub fn sign(&self, dir: &Directory, data: &[u8]) -> Result<Option<Vec<u8>>, SignError> {
        let keys = self.keys(dir);
        let keys = match keys.as_ref() {
            Ok(k) if k.is_empty() => return Ok(None),
            Ok(k) => k,
            Err(e) => return Err(e.clone()),
        };
        let ours = |f: &header::Field<'_>| f.is("DKIM-Signature") && signs_for(f.value, &dir.domain);
        let data = header::without_where(data, ours).map_or(std::borrow::Cow::Borrowed(data), Into::into);
        let mut fields = String::new();
        let signed = signed_fields(&data);
        for (selector, pair) in keys {
            let signer = DkimSigner::from_key(Key(pair))
                .domain(dir.domain.as_str())
                .selector(selector.as_str())
                .headers(signed.iter().copied());
            let sig = signer.sign(&data).map_err(|e| SignError::Failed(selector.clone(), e.to_string()))?;
            fields.push_str(&sig.to_header());
        }
        Ok(Some(header::prepend(&fields, &data)))
    }
}

/// Whether a `DKIM-Signature` value's `d=` is `domain` or one of its subdomains.
fn signs_for(value: &[u8], domain: &Domain) -> bool {
    let text = String::from_utf8_lossy(value);
    text.split(';').filter_map(|t| t.split_once('=')).any(|(tag, v)| {
        let v: String = v.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_lowercase();
        tag.trim() == "d" && (v == domain.as_str() || v.ends_with(&format!(".{}", domain.as_str())))
    })
}

#[cfg(test)]
mod tests {
    use pochta_directory::dkim::KeyState;

    use super::*;

    fn key(sel: &str, algorithm: Algorithm) -> DkimKey {
        let (public_key, private_key) = generate(algorithm).unwrap();
        DkimKey {
            selector: Selector::parse(sel).unwrap(),
            algorithm,
            public_key,
            private_key,
            created: 0,
            state: KeyState::Active,
        }
    }

    fn directory(keys: &[DkimKey]) -> Directory {
        let mut d = Directory::new(Domain::parse("example.org").unwrap());
        for k in keys {
            d.dkim.insert(k.selector.clone(), k.clone());
        }
        d
    }

    const LETTER: &[u8] = b"From: Ivan <ivan@example.org>\r\nTo: someone@example.net\r\n\
        Subject: hello\r\nDate: Thu, 3 Dec 2026 12:00:00 +0000\r\nMessage-ID: <1@example.org>\r\n\r\nHi.\r\n";

    #[test]
    fn signs_with_each_active_key_and_replaces_our_old_signatures() {
        let rsa = key("r1", Algorithm::Rsa);
        let ed = key("e1", Algorithm::Ed25519);
        let dir = directory(&[rsa.clone(), ed.clone()]);
        let forged =
            [b"DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=x; b=AAAA\r\n".as_slice(), LETTER]
                .concat();
        let signed = Signer::default().sign(&dir, &forged).unwrap().unwrap();
        let text = String::from_utf8_lossy(&signed);
        assert_eq!(header::count(&signed, "DKIM-Signature"), 2, "{text}");
        assert!(!text.contains("s=x;"), "the stale signature of our domain is gone: {text}");
        let first = header::first(&signed, "DKIM-Signature").unwrap().text().unwrap().to_owned();
        assert!(first.contains("a=rsa-sha256") && first.contains("s=r1") && first.contains("d=example.org"));
        assert!(first.contains("c=relaxed/relaxed"), "{first}");
        let h: String =
            first.split(';').find_map(|t| t.trim().strip_prefix("h=")).unwrap().split_whitespace().collect();
        assert_eq!(h.matches("From").count(), 2, "From is oversigned: {h}");
        assert!(!h.contains("List-Id") && !h.contains("References"), "absent fields are not listed: {h}");
        // Someone else's signature stays.
        let theirs = [b"DKIM-Signature: v=1; d=example.net; s=x; b=AAAA\r\n".as_slice(), LETTER].concat();
        let kept = Signer::default().sign(&dir, &theirs).unwrap().unwrap();
        assert_eq!(header::count(&kept, "DKIM-Signature"), 3);
    }

    #[test]
    fn no_active_key_no_signature_and_a_broken_key_is_an_error() {
        let mut pending = key("p1", Algorithm::Rsa);
        pending.state = KeyState::Pending;
        assert_eq!(Signer::default().sign(&directory(&[pending]), LETTER).unwrap(), None);
        let mut broken = key("b1", Algorithm::Rsa);
        broken.private_key = PrivateKey::from_der(b"not a key");
        let err = Signer::default().sign(&directory(&[broken]), LETTER).unwrap_err();
        assert!(matches!(err, SignError::BadKey(..)), "{err}");
    }
}
