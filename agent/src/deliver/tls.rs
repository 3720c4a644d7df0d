//! rustls client configurations for outgoing SMTP: pinned to a peer agent's certificate
//! fingerprint (from the directory's `AgentEndpoint.tls_sha256`), or opportunistic for the
//! outside world (the pinning verifier lives in `pochta_transport`), or validated against public
//! trust anchors where a domain's MTA-STS policy demands it.

use std::sync::Arc;

fn config(pin: Option<&str>) -> Result<Arc<rustls::ClientConfig>, rustls::Error> {
    pochta_transport::client_config(pin).map(Arc::new).map_err(|e| match e {
        pochta_transport::TransportError::Tls(e) => e,
        other => rustls::Error::General(other.to_string()),
    })
}

/// Trusts only the certificate with this SHA-256 fingerprint (lower-case hex).
pub fn pinned(pin: &str) -> Result<Arc<rustls::ClientConfig>, rustls::Error> {
    config(Some(pin))
}

/// Encrypts without authenticating the server (RFC 7435 opportunistic TLS).
pub fn opportunistic() -> Result<Arc<rustls::ClientConfig>, rustls::Error> {
    config(None)
}

/// Verifies the server's certificate chain and name against the system's trust anchors (and
/// `extra_roots`, for a private CA): what an MTA-STS policy demands of an MX (RFC 8461 §4.2).
pub fn validated(
    extra_roots: Vec<rustls_pki_types::CertificateDer<'static>>,
) -> Result<Arc<rustls::ClientConfig>, rustls::Error> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = rustls_platform_verifier::Verifier::new_with_extra_roots(extra_roots, provider.clone())?;
    with_verifier(provider, Arc::new(verifier))
}

/// A client config whose server certificates `verifier` judges (validated, DANE).
pub fn with_verifier(
    provider: Arc<rustls::crypto::CryptoProvider>,
    verifier: Arc<dyn rustls::client::danger::ServerCertVerifier>,
) -> Result<Arc<rustls::ClientConfig>, rustls::Error> {
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Arc::new(cfg))
}
