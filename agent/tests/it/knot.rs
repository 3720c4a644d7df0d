//! A private Knot DNS (Debian's `knot`) on a loopback port, authoritative for one test zone —
//! the door's tests use the whole top-level domain `example.` (so the DMARC tree walk up to
//! `_dmarc.example` gets real answers), the DKIM tests and the server's DNS check `example.org.`.
//! The server's tests include this file too (`#[path]`).

use std::path::Path;
use std::time::Duration;

/// A free loopback port (this file is shared by the agent's and the server's tests, so it
/// carries its own).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub struct Knot {
    child: std::process::Child,
    pub addr: std::net::SocketAddr,
}

impl Drop for Knot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Knot {
    /// Serves `records` (zone-file lines with absolute names) in the zone `zone`.
    pub fn start(dir: &Path, zone: &str, records: &str) -> Knot {
        Knot::serve(dir, zone, records, false)
    }

    /// The same, the zone signed by Knot itself (DNSSEC, one ECDSA P-256 key); its DNSKEY is
    /// [`Knot::trust_anchor`].
    pub fn start_signed(dir: &Path, zone: &str, records: &str) -> Knot {
        Knot::serve(dir, zone, records, true)
    }

    /// The zone's DNSKEY records as a trust anchor file (zone-file lines), once signing is done.
    pub fn trust_anchor(&self, zone: &str) -> String {
        let script = r#"
import dns.message, dns.query, dns.rdatatype, sys, time
for _ in range(100):
    q = dns.message.make_query(sys.argv[1] + ".", "DNSKEY", want_dnssec=True)
    r = dns.query.udp(q, "127.0.0.1", port=int(sys.argv[2]), timeout=2)
    keys = [rr for rr in r.answer if rr.rdtype == dns.rdatatype.DNSKEY]
    if keys:
        print(keys[0].to_text())
        break
    time.sleep(0.1)
"#;
        let out = std::process::Command::new("/usr/bin/python3")
            .args(["-c", script, zone, &self.addr.port().to_string()])
            .output()
            .expect("python3 runs");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(text.contains("DNSKEY"), "no DNSKEY from Knot: {}", String::from_utf8_lossy(&out.stderr));
        text
    }

    fn serve(dir: &Path, zone: &str, records: &str, signed: bool) -> Knot {
        assert!(
            Path::new("/usr/sbin/knotd").exists(),
            "Knot DNS is needed: apt-get install knot (scripts/test does)"
        );
        std::fs::create_dir_all(dir.join("db")).unwrap();
        let port = free_port();
        let conf = format!(
            "server:\n    listen: 127.0.0.1@{port}\n    rundir: {d}\n\ndatabase:\n    storage: {d}/db\n\n\
             log:\n  - target: {d}/knot.log\n    any: info\n\ntemplate:\n  - id: default\n    storage: {d}\n\n\
             zone:\n  - domain: {zone}\n    file: zone.db\n{signing}",
            d = dir.display(),
            signing = if signed {
                "    dnssec-signing: on\n    dnssec-policy: one-key\n    zonefile-sync: -1\n"
            } else {
                ""
            },
        );
        let conf = if signed {
            conf.replace(
                "template:",
                "policy:\n  - id: one-key\n    algorithm: ecdsap256sha256\n    single-type-signing: on\n\ntemplate:",
            )
        } else {
            conf
        };
        std::fs::write(
            dir.join("zone.db"),
            format!("$ORIGIN {zone}.\n$TTL 60\n@ SOA ns.{zone}. hostmaster.{zone}. 1 3600 600 86400 60\n@ NS ns\nns A 127.0.0.1\n{records}\n"),
        )
        .unwrap();
        std::fs::write(dir.join("knot.conf"), conf).unwrap();
        let child = std::process::Command::new("/usr/sbin/knotd")
            .arg("-c")
            .arg(dir.join("knot.conf"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let k = Knot { child, addr };
        for _ in 0..100 {
            if std::net::TcpStream::connect(addr).is_ok() {
                return k;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "knotd does not listen: {}",
            std::fs::read_to_string(dir.join("knot.log")).unwrap_or_default()
        );
    }
}

/// A TXT record's value in zone-file syntax: split into strings of at most 255 bytes.
pub fn txt(value: &str) -> String {
    let parts: Vec<String> =
        value.as_bytes().chunks(250).map(|c| format!("\"{}\"", String::from_utf8_lossy(c))).collect();
    parts.join(" ")
}
