//! rustls client configurations for outgoing SMTP: pinned to a peer agent's certificate
//! fingerprint (from the directory's `AgentEndpoint.tls_sha256`), or opportunistic for the
//! outside world. The verifier itself lives in `pochta_transport`.

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
