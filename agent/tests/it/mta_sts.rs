//! MTA-STS (RFC 8461) on the way out, against real parts: a private Knot DNS for `outside.test`
//! (its `_mta-sts` record, MX and addresses), the policy served over HTTPS by a policy host with
//! a certificate from a private CA, and the MX on its own loopback address with STARTTLS.
//!
//! With `mode: enforce`, a letter goes only over TLS to an MX whose certificate is valid for its
//! name; an MX with a bad certificate, or one the policy does not name, or a policy host that
//! does not answer, keeps the letter queued (4.7.x) — it never goes in plaintext.

use std::sync::Arc;
use std::time::Duration;

use pochta_agent::queue::Origin;
use pochta_directory::Level;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::addr;
use crate::knot::Knot;
use crate::queue_rig::{Receiver, Rig, RigOptions, directory, shared, site_at};

struct Ca {
    params: rcgen::CertificateParams,
    key: rcgen::KeyPair,
    der: CertificateDer<'static>,
}

impl Ca {
    fn new() -> Ca {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.distinguished_name.push(rcgen::DnType::CommonName, "Pochta test CA");
        let der = params.self_signed(&key).unwrap().der().clone();
        Ca { params, key, der }
    }

    /// A server config with a certificate for `name` issued by this CA.
    fn server(&self, name: &str) -> rustls::ServerConfig {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec![name.to_owned()])
            .unwrap()
            .signed_by(&key, &rcgen::Issuer::from_params(&self.params, &self.key))
            .unwrap();
        config(cert.der().clone(), &key)
    }
}

fn config(cert: CertificateDer<'static>, key: &rcgen::KeyPair) -> rustls::ServerConfig {
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap()
}

/// A self-signed certificate for `name`: valid name, nobody's CA.
fn self_signed(name: &str) -> rustls::ServerConfig {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec![name.to_owned()]).unwrap().self_signed(&key).unwrap();
    config(cert.der().clone(), &key)
}

/// Serves `policy` at any path over HTTPS on `addr` (enough for the one URL of RFC 8461 §3.3).
async fn policy_host(
    addr: &str,
    tls: rustls::ServerConfig,
    policy: &'static str,
) -> tokio::task::JoinHandle<()> {
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut s) = acceptor.accept(sock).await else { return };
                let mut buf = vec![0; 4096];
                let _ = s.read(&mut buf).await;
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{policy}",
                    policy.len()
                );
                let _ = s.write_all(resp.as_bytes()).await;
                let _ = s.shutdown().await;
            });
        }
    })
}

const ENFORCE: &str = "version: STSv1\r\nmode: enforce\r\nmx: mx.outside.test\r\nmax_age: 86400\r\n";

/// One outside domain, `outside.test`: the policy host at `policy_ip`, the MX at `mx_ip`.
fn dns(dir: &std::path::Path, mx_ip: &str, policy_ip: &str, mx_name: &str) -> Knot {
    let zone = format!(
        "_mta-sts.outside.test. TXT \"v=STSv1; id=20261203\"\nmta-sts.outside.test. A {policy_ip}\n\
         outside.test. MX 10 {mx_name}.\n{mx_name}. A {mx_ip}\n"
    );
    Knot::start(&dir.join("knot"), "outside.test", &zone)
}

async fn rig_for(dir: &std::path::Path, knot: &Knot, ca: &Ca, port: u16) -> Rig {
    let hq = shared(directory(vec![site_at("hq", Level::One, None)], &[("alice", "hq")]));
    Rig::open(
        dir,
        hq,
        RigOptions {
            dns_servers: vec![knot.addr],
            extra_roots: vec![ca.der.clone()],
            mta_sts_port: port,
            retry: 0.3,
            ..Default::default()
        },
    )
}

async fn send(rig: &Rig) {
    let letter = "From: alice@example.org\r\nTo: bob@outside.test\r\nSubject: figures\r\n\r\nHello.\r\n";
    rig.send(
        Some("alice@example.org"),
        &["bob@outside.test"],
        Origin::User(addr("alice@example.org")),
        letter,
    )
    .await;
}

fn last_error(rig: &Rig) -> String {
    format!("{:?}", rig.queue.list())
}

/// Each test takes its own loopback addresses (the MX must be on port 25).
fn port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread")]
async fn enforce_delivers_over_validated_tls_only() {
    pochta_transport::install_crypto();
    let tmp = tempfile::tempdir().unwrap();
    let ca = Ca::new();
    let knot = dns(tmp.path(), "127.0.25.1", "127.0.25.2", "mx.outside.test");
    let https = port();
    let _policy =
        policy_host(&format!("127.0.25.2:{https}"), ca.server("mta-sts.outside.test"), ENFORCE).await;
    let mx = Receiver::mx("127.0.25.1:25", Some(ca.server("mx.outside.test"))).await;
    let rig = rig_for(tmp.path(), &knot, &ca, https).await;
    send(&rig).await;
    rig.drained(20).await;
    let txns = mx.txns();
    assert_eq!(txns.len(), 1, "{txns:?}");
    assert!(txns[0].tls, "delivered over TLS");
    assert_eq!(txns[0].rcpts, vec!["bob@outside.test"]);
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn enforce_with_a_bad_certificate_waits_and_never_sends_in_plaintext() {
    pochta_transport::install_crypto();
    let tmp = tempfile::tempdir().unwrap();
    let ca = Ca::new();
    let knot = dns(tmp.path(), "127.0.25.3", "127.0.25.4", "mx.outside.test");
    let https = port();
    let _policy =
        policy_host(&format!("127.0.25.4:{https}"), ca.server("mta-sts.outside.test"), ENFORCE).await;
    // A certificate nobody vouches for; then none at all (no STARTTLS).
    let bad = Receiver::mx("127.0.25.3:25", Some(self_signed("mx.outside.test"))).await;
    let rig = rig_for(tmp.path(), &knot, &ca, https).await;
    send(&rig).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(bad.txns().is_empty(), "nothing delivered: {:?}", bad.txns());
    assert_eq!(rig.queue.len(), 1, "still queued");
    let why = last_error(&rig);
    assert!(why.contains("certificate") || why.contains("Certificate"), "{why}");
    drop(bad);
    let plain = Receiver::mx("127.0.25.3:25", None).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(plain.txns().is_empty(), "no plaintext fallback: {:?}", plain.txns());
    let why = last_error(&rig);
    assert!(why.contains("STARTTLS is required"), "{why}");
    assert_eq!(rig.queue.len(), 1);
    // A valid certificate again: the letter goes.
    drop(plain);
    let good = Receiver::mx("127.0.25.3:25", Some(ca.server("mx.outside.test"))).await;
    rig.drained(20).await;
    assert_eq!(good.txns().len(), 1);
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_mx_outside_the_policy_or_a_silent_policy_host_keeps_the_letter_queued() {
    pochta_transport::install_crypto();
    let tmp = tempfile::tempdir().unwrap();
    let ca = Ca::new();
    // The domain's MX is not one the policy names (an attacker's MX record).
    let knot = dns(tmp.path(), "127.0.25.5", "127.0.25.6", "evil.outside.test");
    let https = port();
    let policy =
        policy_host(&format!("127.0.25.6:{https}"), ca.server("mta-sts.outside.test"), ENFORCE).await;
    let evil = Receiver::mx("127.0.25.5:25", Some(ca.server("evil.outside.test"))).await;
    let rig = rig_for(tmp.path(), &knot, &ca, https).await;
    send(&rig).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(evil.txns().is_empty());
    assert!(
        last_error(&rig).contains("4.7.5 no MX host of outside.test matches its MTA-STS policy"),
        "{}",
        last_error(&rig)
    );
    rig.stop().await;

    // A fresh agent (nothing cached) whose policy host does not answer: it waits.
    policy.abort();
    let tmp2 = tempfile::tempdir().unwrap();
    let rig = rig_for(tmp2.path(), &knot, &ca, https).await;
    send(&rig).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(evil.txns().is_empty());
    assert!(
        last_error(&rig).contains("4.7.0 MTA-STS policy of outside.test unavailable"),
        "{}",
        last_error(&rig)
    );
    rig.stop().await;
}

/// DANE (RFC 7672) with a zone Knot signs: the MX's certificate must be the one its TLSA record
/// names (DANE-EE, the key's SHA-256; no CA involved); another certificate, or no STARTTLS at
/// all, keeps the letter queued.
#[tokio::test(flavor = "multi_thread")]
async fn dane_needs_the_certificate_the_signed_tlsa_record_names() {
    pochta_transport::install_crypto();
    let tmp = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert =
        rcgen::CertificateParams::new(vec!["mx.outside.test".to_owned()]).unwrap().self_signed(&key).unwrap();
    let spki =
        webpki::EndEntityCert::try_from(cert.der()).unwrap().subject_public_key_info().as_ref().to_vec();
    let hash = hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &spki).as_ref());
    let zone = format!(
        "outside.test. MX 10 mx.outside.test.\nmx.outside.test. A 127.0.25.7\n_25._tcp.mx.outside.test. TLSA 3 1 1 {hash}\n"
    );
    let knot = Knot::start_signed(&tmp.path().join("knot"), "outside.test", &zone);
    let anchor = tmp.path().join("anchor.txt");
    std::fs::write(&anchor, knot.trust_anchor("outside.test")).unwrap();
    let hq = shared(directory(vec![site_at("hq", Level::One, None)], &[("alice", "hq")]));
    let rig = Rig::open(
        tmp.path(),
        hq,
        RigOptions {
            dns_servers: vec![knot.addr],
            dnssec_trust_anchor: Some(anchor),
            retry: 0.3,
            ..Default::default()
        },
    );
    // Another certificate for the same name: refused by DANE, whatever its name says.
    let impostor = Receiver::mx("127.0.25.7:25", Some(self_signed("mx.outside.test"))).await;
    send(&rig).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(impostor.txns().is_empty(), "{:?}", impostor.txns());
    assert!(last_error(&rig).contains("TLSA"), "{}", last_error(&rig));
    drop(impostor);
    let plain = Receiver::mx("127.0.25.7:25", None).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(plain.txns().is_empty(), "no plaintext under DANE");
    assert!(last_error(&rig).contains("STARTTLS is required"), "{}", last_error(&rig));
    drop(plain);
    // The certificate the record names: delivered, over TLS.
    let mx = Receiver::mx("127.0.25.7:25", Some(config(cert.der().clone(), &key))).await;
    rig.drained(20).await;
    let txns = mx.txns();
    assert_eq!(txns.len(), 1);
    assert!(txns[0].tls);
    rig.stop().await;
}
