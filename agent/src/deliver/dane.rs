//! DANE for SMTP (RFC 7672): an MX host whose TLSA records (`_25._tcp.<host>`) come from a
//! DNSSEC-validated answer, for a domain whose MX records do too, gets its mail only over TLS
//! with a certificate that matches one of them; otherwise the letter waits (`4.7.5`), never
//! plaintext.
//!
//! Only `DANE-EE(3)` records authenticate here: the end-entity certificate (selector 0) or its
//! public key (selector 1), exactly or by SHA-256/SHA-512 — no name or expiry check, as §3.1.1
//! says. Other usages are unusable for SMTP (`PKIX-*`, §3.1.3) or not implemented (`DANE-TA(2)`);
//! a host with TLSA records of which none is usable still gets mandatory TLS, unauthenticated
//! (§2.2). Written here (about 80 lines): no crate in the tree does DANE matching for rustls.

use std::sync::Arc;

use hickory_resolver::proto::rr::rdata::tlsa::{CertUsage, Matching, Selector, TLSA};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

/// The records that can authenticate a server here: `DANE-EE` with a known selector and matching.
pub fn usable(records: &[TLSA]) -> Vec<TLSA> {
    records
        .iter()
        .filter(|t| t.cert_usage == CertUsage::DaneEe)
        .filter(|t| matches!(t.selector, Selector::Full | Selector::Spki))
        .filter(|t| matches!(t.matching, Matching::Raw | Matching::Sha256 | Matching::Sha512))
        .cloned()
        .collect()
}

/// Whether `cert` is the one a record names.
fn matches(t: &TLSA, cert: &CertificateDer<'_>) -> bool {
    let selected: Vec<u8> = match t.selector {
        Selector::Full => cert.as_ref().to_vec(),
        _ => match webpki::EndEntityCert::try_from(cert) {
            Ok(ee) => ee.subject_public_key_info().as_ref().to_vec(),
            Err(_) => return false,
        },
    };
    let digest = |alg| aws_lc_rs::digest::digest(alg, &selected).as_ref().to_vec();
    let got = match t.matching {
        Matching::Sha256 => digest(&aws_lc_rs::digest::SHA256),
        Matching::Sha512 => digest(&aws_lc_rs::digest::SHA512),
        _ => selected.clone(),
    };
    got == t.cert_data
}

#[derive(Debug)]
struct DaneVerifier {
    tlsa: Vec<TLSA>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for DaneVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self.tlsa.iter().any(|t| matches(t, end_entity)) {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "DANE: the certificate matches none of the host's TLSA records".into(),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// A client config that accepts exactly the certificates `tlsa` (usable records) name.
pub fn config(tlsa: Vec<TLSA>) -> Result<Arc<rustls::ClientConfig>, rustls::Error> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = DaneVerifier { tlsa, provider: provider.clone() };
    super::tls::with_verifier(provider, Arc::new(verifier))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dane_ee_records_match_the_certificate_or_its_key() {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert =
            rcgen::CertificateParams::new(vec!["mx.example.net".into()]).unwrap().self_signed(&key).unwrap();
        let der = cert.der().clone();
        let spki = webpki::EndEntityCert::try_from(&der).unwrap().subject_public_key_info().as_ref().to_vec();
        let sha = |b: &[u8]| aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b).as_ref().to_vec();
        let t = TLSA::new;
        assert!(matches(&t(CertUsage::DaneEe, Selector::Spki, Matching::Sha256, sha(&spki)), &der));
        assert!(matches(&t(CertUsage::DaneEe, Selector::Full, Matching::Sha256, sha(der.as_ref())), &der));
        assert!(matches(&t(CertUsage::DaneEe, Selector::Full, Matching::Raw, der.as_ref().to_vec()), &der));
        assert!(!matches(&t(CertUsage::DaneEe, Selector::Spki, Matching::Sha256, vec![0; 32]), &der));
        let records = [
            t(CertUsage::PkixEe, Selector::Spki, Matching::Sha256, sha(&spki)),
            t(CertUsage::DaneTa, Selector::Spki, Matching::Sha256, sha(&spki)),
            t(CertUsage::DaneEe, Selector::Spki, Matching::Sha256, sha(&spki)),
        ];
        assert_eq!(usable(&records).len(), 1, "PKIX usages do not apply to SMTP; DANE-TA is not done");
    }
}
