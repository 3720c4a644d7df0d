//! DKIM keys and the DNS page: keys made at the server, rotated without a gap, never shown; the
//! live check against a private Knot DNS that has some records right, one missing and one stale.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, spawn_app};

#[path = "../../../agent/tests/it/knot.rs"]
#[allow(dead_code, unreachable_pub)]
mod knot;

/// Every private key the server holds, as stored in the directory (base64 PKCS#8).
fn private_keys(app: &TestApp) -> Vec<String> {
    let dir = app.state().publisher.current().0;
    dir.dkim
        .values()
        .map(|k| serde_json::to_value(&k.private_key).unwrap().as_str().unwrap().to_owned())
        .collect()
}

async fn dkim_keys_rotate_without_a_gap_and_never_show_the_private_key(backend: Backend) {
    let app = spawn_app(backend).await;
    let (s, first) = app.post("/dkim", json!({})).await;
    assert_eq!(s, StatusCode::CREATED, "{first}");
    assert_eq!(first["state"], "pending");
    assert_eq!(first["algorithm"], "rsa");
    let sel1 = first["selector"].as_str().unwrap().to_owned();
    assert!(sel1.starts_with("pochta-"), "{first}");
    assert_eq!(first["name"], format!("{sel1}._domainkey"));
    assert!(first["record"].as_str().unwrap().starts_with("v=DKIM1; k=rsa; p=MII"), "{first}");
    // Bad input changes nothing.
    let v = app.version().await;
    for bad in [json!({"algorithm": "dsa"}), json!({"selector": "two words"}), json!({"selector": sel1})] {
        let (s, e) = app.post("/dkim", bad.clone()).await;
        assert!(s.is_client_error(), "{bad}: {s} {e}");
        assert!(e["error"].is_string(), "{e}");
    }
    assert_eq!(app.version().await, v);

    let (s, a) = app.post(&format!("/dkim/{sel1}/activate"), json!({})).await;
    assert_eq!((s, &a["state"]), (StatusCode::OK, &json!("active")), "{a}");
    // A second RSA key, then an Ed25519 beside it.
    let (_, second) = app.post("/dkim", json!({"selector": "next"})).await;
    let (_, ed) = app.post("/dkim", json!({"algorithm": "ed25519"})).await;
    assert_eq!(ed["algorithm"], "ed25519");
    assert!(ed["record"].as_str().unwrap().starts_with("v=DKIM1; k=ed25519; p="), "{ed}");
    let (s, _) = app.post(&format!("/dkim/{}/activate", ed["selector"].as_str().unwrap()), json!({})).await;
    assert_eq!(s, StatusCode::OK);
    // The rotation: the new RSA key signs, the old one retires (still published), the Ed25519
    // key is untouched.
    let (s, _) = app.post("/dkim/next/activate", json!({})).await;
    assert_eq!(s, StatusCode::OK);
    let keys = app.ok("/dkim").await;
    let state =
        |sel: &str| keys.as_array().unwrap().iter().find(|k| k["selector"] == sel).unwrap()["state"].clone();
    assert_eq!(state("next"), "active");
    assert_eq!(state(&sel1), "retiring");
    assert_eq!(state(ed["selector"].as_str().unwrap()), "active");
    let until = keys.as_array().unwrap().iter().find(|k| k["selector"] == sel1.as_str()).unwrap()["until"]
        .as_i64()
        .unwrap();
    assert!(until > pochta_server::db::now() + 6 * 86400, "a week's retirement by default");
    let dns = app.ok("/dns").await;
    let zone = dns["zone"].as_str().unwrap();
    assert!(zone.contains(&format!("{sel1}._domainkey")) && zone.contains("next._domainkey"), "{zone}");
    assert_eq!(second["state"], "pending");

    // The retirement period ends: the sweep removes the retired key, once.
    let state_ = app.state().clone();
    let swept = pochta_server::manage::dkim::sweep(&state_, until).await.unwrap();
    assert!(swept.is_some());
    assert_eq!(pochta_server::manage::dkim::sweep(&state_, until).await.unwrap(), None);
    assert_eq!(app.ok("/dkim").await.as_array().unwrap().len(), 2);
    let (s, _) = app.get(&format!("/dkim/{sel1}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // No private key in any answer: the key list, the DNS records, the history.
    let secrets = private_keys(&app);
    assert_eq!(secrets.len(), 2);
    for path in ["/dkim", "/dns", "/changes", "/changes?limit=500"] {
        let body = app.ok(path).await.to_string();
        for s in &secrets {
            assert!(!body.contains(&s[..40]), "{path} shows a private key");
        }
        assert!(!body.contains("private_key\":\"M"), "{path}");
    }
    let history = app.ok("/changes").await.to_string();
    assert!(history.contains("put_dkim_key") && history.contains("(hidden)"), "the log says what was done");
}
both_backends!(dkim_keys_rotate_without_a_gap_and_never_show_the_private_key);

/// The live check asks a real DNS server: right, missing and different records each say so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_dns_check_says_what_is_published_missing_or_different() {
    let mut app = spawn_app(Backend::Sqlite).await;
    app.site("msk", 1).await;
    let agent = app.enroll_with_smtp("msk", "192.0.2.10:25").await;
    app.report_in(agent["secret"].as_str().unwrap()).await;
    let (_, key) = app.post("/dkim", json!({})).await;
    let records: Vec<Value> = app.ok("/dns").await["records"].as_array().unwrap().clone();
    let value = |name: &str, kind: &str| {
        records.iter().find(|r| r["name"] == name && r["type"] == kind).unwrap()["value"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let tmp = tempfile::tempdir().unwrap();
    let dkim_name = key["name"].as_str().unwrap();
    let zone = [
        // The MX and the address as they should be.
        format!("example.org. MX {}", value("@", "MX")),
        format!("msk.example.org. A {}", value("msk", "A")),
        // A stale SPF record (an old provider), beside someone else's TXT that is none of ours.
        "example.org. TXT \"v=spf1 include:old-provider.test -all\"".to_owned(),
        "example.org. TXT \"site-verification=abc\"".to_owned(),
        // The DKIM key, split over strings as DNS tools write it.
        format!("{dkim_name}.example.org. TXT {}", knot::txt(key["record"].as_str().unwrap())),
        // No DMARC record at all.
    ]
    .join("\n");
    let dns = knot::Knot::start(&tmp.path().join("knot"), "example.org", &zone);
    let cfg_path = app.dir.path().join("server.toml");
    let mut cfg = std::fs::read_to_string(&cfg_path).unwrap();
    cfg = cfg.replace("dns_servers = []", &format!("dns_servers = [\"{}\"]", dns.addr));
    std::fs::write(&cfg_path, cfg).unwrap();
    app.restart().await;

    let (s, checked) = app.post("/dns/check", json!({})).await;
    assert_eq!(s, StatusCode::OK, "{checked}");
    let status = |name: &str, kind: &str| -> Value {
        checked
            .as_array()
            .unwrap()
            .iter()
            .find(|c| {
                c["name"] == name
                    && c["type"] == kind
                    && (kind != "TXT" || c["purpose"] != "dkim" || name.contains("_domainkey"))
            })
            .unwrap_or_else(|| panic!("{name} {kind} in {checked}"))
            .clone()
    };
    assert_eq!(status("example.org.", "MX")["status"], "correct", "{checked}");
    assert_eq!(status("msk.example.org.", "A")["status"], "correct", "{checked}");
    assert_eq!(status(&format!("{dkim_name}.example.org."), "TXT")["status"], "correct", "{checked}");
    assert_eq!(status("_dmarc.example.org.", "TXT")["status"], "missing", "{checked}");
    let spf = checked
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "example.org." && c["purpose"] == "spf")
        .unwrap();
    assert_eq!(spf["status"], "different", "{spf}");
    assert_eq!(
        spf["found"],
        json!(["v=spf1 include:old-provider.test -all"]),
        "the other TXT is not ours: {spf}"
    );

    // The page says it in Russian.
    let mut b = crate::browser::Browser::admin(&app, "ru").await;
    b.get("/admin/dns").await;
    let r = b.post("/admin/dns/check", &[]).await;
    r.has("опубликована верно")
        .has("нет в DNS")
        .has("отличается: в DNS v=spf1 include:old-provider.test -all");
}
