//! rustls client configurations for outgoing SMTP: pinned to a peer agent's certificate
//! fingerprint (from the directory's `AgentEndpoint.tls_sha256`), or opportunistic for the
//! outside world. (Kept here rather than in `transport`, which exports only an HTTPS client.)

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::{DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

/// Accepts the certificate whose SHA-256 is `pin`; with no pin, any certificate
/// (opportunistic TLS, RFC 7435: better than plain text, no worse).
#[derive(Debug)]
struct Verifier {
    pin: Option<String>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match &self.pin {
            Some(pin) if pochta_transport::fingerprint(end_entity) != *pin => {
                Err(rustls::Error::General("certificate does not match the pinned fingerprint".into()))
            }
            _ => Ok(ServerCertVerified::assertion()),
        }
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

fn config(pin: Option<String>) -> Result<Arc<rustls::ClientConfig>, rustls::Error> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Verifier { pin, provider }))
        .with_no_client_auth();
    Ok(Arc::new(cfg))
}

/// Trusts only the certificate with this SHA-256 fingerprint (lower-case hex).
pub fn pinned(pin: &str) -> Result<Arc<rustls::ClientConfig>, rustls::Error> {
    config(Some(pin.to_ascii_lowercase()))
}

/// Encrypts without authenticating the server.
pub fn opportunistic() -> Result<Arc<rustls::ClientConfig>, rustls::Error> {
    config(None)
}
