//! TLS between the central server and the agents, and between agents.
//!
//! Every process makes its own self-signed certificate on first start. Nobody trusts a CA: the
//! peer's certificate is *pinned* by its SHA-256 fingerprint, learned at enrollment (the agent
//! learns the server's from the enrollment code, the server and the other agents learn the
//! agent's from the directory). That gives TLS that works on loopback, behind NAT and on
//! addresses without DNS names, with no PKI to run. Change sets are signed anyway; TLS keeps
//! password hashes and tokens off the wire.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::{DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("cannot make a certificate: {0}")]
    Certificate(String),
    #[error("cannot read {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("bad PEM in {0}")]
    Pem(String),
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    #[error("HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

/// Installs aws-lc-rs as the process's one crypto provider. Call once at start; harmless twice.
pub fn install_crypto() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Lower-case hex SHA-256 of a DER certificate: the pin.
pub fn fingerprint(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

/// A certificate and its private key, in PEM.
#[derive(Clone)]
pub struct Identity {
    pub cert_pem: String,
    pub key_pem: String,
}

impl Identity {
    /// A fresh self-signed certificate for the given names (DNS names or IP addresses).
    pub fn generate(names: &[String]) -> Result<Self, TransportError> {
        let ck = rcgen::generate_simple_self_signed(names.to_vec())
            .map_err(|e| TransportError::Certificate(e.to_string()))?;
        Ok(Self { cert_pem: ck.cert.pem(), key_pem: ck.signing_key.serialize_pem() })
    }

    /// Loads `tls.crt` and `tls.key` from `dir`, making them first if they are missing.
    pub fn load_or_create(dir: &Path, names: &[String]) -> Result<Self, TransportError> {
        let (crt, key) = (dir.join("tls.crt"), dir.join("tls.key"));
        let read = |p: &Path| {
            std::fs::read_to_string(p)
                .map_err(|source| TransportError::Io { path: p.display().to_string(), source })
        };
        if crt.exists() && key.exists() {
            return Ok(Self { cert_pem: read(&crt)?, key_pem: read(&key)? });
        }
        let id = Self::generate(names)?;
        let write = |p: &Path, s: &str| {
            std::fs::write(p, s)
                .map_err(|source| TransportError::Io { path: p.display().to_string(), source })
        };
        write(&crt, &id.cert_pem)?;
        write(&key, &id.key_pem)?;
        restrict(&key);
        Ok(id)
    }

    fn cert_der(&self) -> Result<CertificateDer<'static>, TransportError> {
        CertificateDer::from_pem_slice(self.cert_pem.as_bytes())
            .map_err(|_| TransportError::Pem("certificate".into()))
    }

    /// The pin others use for this identity.
    pub fn fingerprint(&self) -> Result<String, TransportError> {
        Ok(fingerprint(&self.cert_der()?))
    }

    /// A rustls server configuration offering HTTP/2 and HTTP/1.1.
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, TransportError> {
        let key = PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes())
            .map_err(|_| TransportError::Pem("key".into()))?;
        let mut cfg = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(vec![self.cert_der()?], key)?;
        cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(cfg))
    }
}

#[cfg(unix)]
fn restrict(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
}
#[cfg(not(unix))]
fn restrict(_: &Path) {}

/// Accepts exactly the certificate whose SHA-256 is the pin, whatever name it carries; with no
/// pin, any certificate (opportunistic TLS for SMTP to the outside world, RFC 7435: better than
/// plain text, no worse).
#[derive(Debug)]
struct PinnedCert {
    pin: Option<String>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedCert {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match &self.pin {
            Some(pin) if fingerprint(end_entity) != *pin => {
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

/// A rustls client configuration trusting only the certificate whose SHA-256 is `pin` (any
/// certificate when `pin` is `None`). Used for HTTPS between server and agents and for SMTP
/// STARTTLS between agents.
pub fn client_config(pin: Option<&str>) -> Result<rustls::ClientConfig, TransportError> {
    let provider = provider();
    let pin = pin.map(str::to_ascii_lowercase);
    Ok(rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinnedCert { pin, provider }))
        .with_no_client_auth())
}

/// An HTTPS client that trusts only the certificate with this fingerprint.
///
/// Connections are kept open indefinitely and reused (HTTP/2 when the peer offers it), so a
/// steady stream of small change sets costs no new handshakes: that is most of the traffic
/// budget on a slow link.
pub fn pinned_client(pin: &str) -> Result<reqwest::Client, TransportError> {
    let mut cfg = client_config(Some(pin))?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(reqwest::Client::builder()
        .tls_backend_preconfigured(cfg)
        .pool_idle_timeout(None::<Duration>)
        .connect_timeout(Duration::from_secs(10))
        .tcp_nodelay(true)
        .build()?)
}

/// The fingerprint of the certificate a TLS server presents, fetched without trusting it.
/// Used only by the demo and tests, which start the server themselves.
pub fn fingerprint_of_pem(cert_pem: &str) -> Result<String, TransportError> {
    let der = CertificateDer::from_pem_slice(cert_pem.as_bytes())
        .map_err(|_| TransportError::Pem("certificate".into()))?;
    Ok(fingerprint(&der))
}
