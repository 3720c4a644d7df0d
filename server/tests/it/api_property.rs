//! Property: whatever a client sends to the directory API, a refusal (4xx) changes nothing —
//! neither the version, nor the change log, nor what is listed — a success moves the version,
//! and nothing is answered 5xx. Names, quoted local parts, display names, sites and every
//! other field are drawn from valid, hostile and random text.

use proptest::prelude::*;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, spawn_app};

/// Names as an administrator, a script or an attacker might type them.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9._-]{0,10}",
        Just("ivanov".to_owned()),
        Just("\"../../etc-x2\"".to_owned()),
        Just("\"john smith\"".to_owned()),
        Just("\"a..b\"".to_owned()),
        Just("a..b".to_owned()),
        Just(".ivanov".to_owned()),
        Just("all".to_owned()),
        Just("postmaster".to_owned()),
        Just("ivan+tag".to_owned()),
        // Cyrillic, mixed with Latin, and whole-script look-alikes of "ace".
        Just("иванов".to_owned()),
        Just("ivanоv".to_owned()),
        Just("асе".to_owned()),
        Just("ace".to_owned()),
        Just("jose\u{301}".to_owned()),
        Just("jos\u{e9}".to_owned()),
        "\"[ -~]{0,12}\"",
        "\\PC{0,12}",
        "[a-z]{60,70}",
        any::<String>(),
    ]
}

/// Free text: display names, descriptions, site names.
fn text() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => "\\PC{0,24}".prop_map(Value::from),
        1 => "[a-z]{0,4}[\\x00-\\x1f\\x7f\\u{85}][a-z]{0,4}".prop_map(Value::from),
        1 => any::<i64>().prop_map(Value::from),
        1 => Just(Value::Null),
    ]
}

fn site() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => Just(json!("msk")),
        1 => Just(json!("gw")),
        1 => Just(json!("nowhere")),
        1 => "\\PC{0,10}".prop_map(Value::from),
        1 => any::<u8>().prop_map(Value::from),
    ]
}

fn members() -> impl Strategy<Value = Value> {
    let member = prop_oneof![
        Just("ivanov@example.org".to_owned()),
        Just("outside@example.net".to_owned()),
        Just("\"x y\"@example.org".to_owned()),
        "\\PC{0,16}",
    ];
    prop::collection::vec(member, 0..4).prop_map(|m| json!(m))
}

/// Adds `key: value` to `obj` unless the value is absent (`None`): absent fields are a
/// case of their own.
fn with(mut obj: Value, fields: Vec<(&str, Option<Value>)>) -> Value {
    for (k, v) in fields {
        if let Some(v) = v {
            obj[k] = v;
        }
    }
    obj
}

/// One request: method, path, JSON body.
fn request() -> impl Strategy<Value = (Method, String, Value)> {
    let quota =
        prop::option::of(prop_oneof![any::<u64>().prop_map(Value::from), Just(json!(-1)), Just(json!("1G"))]);
    let enabled = prop::option::of(prop_oneof![any::<bool>().prop_map(Value::from), Just(json!("yes"))]);
    let password = prop::option::of(prop_oneof![
        Just(json!("correct horse battery staple 7")),
        "\\PC{0,12}".prop_map(Value::from)
    ]);
    let new_user = (name(), prop::option::of(text()), site(), password, enabled.clone(), quota.clone())
        .prop_map(|(n, d, s, p, e, q)| {
            let body = with(
                json!({"name": n, "site": s}),
                vec![("display_name", d), ("password", p), ("enabled", e), ("quota", q)],
            );
            (Method::POST, "/users".to_owned(), body)
        });
    let patch_user = (name(), prop::option::of(text()), enabled, quota.clone()).prop_map(|(n, d, e, q)| {
        let body = with(json!({}), vec![("display_name", d), ("enabled", e), ("quota", q)]);
        (Method::PATCH, format!("/users/{}", urlencode(&n)), body)
    });
    let kind = prop_oneof![Just(json!("alias")), Just(json!("list")), Just(json!("club"))];
    let new_group = (name(), kind, prop::option::of(text()), members()).prop_map(|(n, k, d, m)| {
        let body = with(json!({"name": n, "kind": k, "members": m}), vec![("description", d)]);
        (Method::POST, "/groups".to_owned(), body)
    });
    let level =
        prop_oneof![Just(json!(1)), Just(json!(2)), Just(json!(0)), Just(json!(7)), Just(json!("one"))];
    let new_site = (name(), text(), level, quota).prop_map(|(id, n, l, q)| {
        let body = with(json!({"id": id, "name": n, "level": l}), vec![("default_quota", q)]);
        (Method::POST, "/sites".to_owned(), body)
    });
    let move_user = (name(), site())
        .prop_map(|(n, s)| (Method::POST, format!("/users/{}/move", urlencode(&n)), json!({"site": s})));
    prop_oneof![3 => new_user, 2 => patch_user, 2 => new_group, 1 => new_site, 1 => move_user]
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Everything a client can see of the directory.
async fn everything(app: &TestApp) -> (u64, Vec<Value>, Value, Value, Value) {
    (
        app.version().await,
        app.changes().await,
        app.ok("/users").await,
        app.ok("/groups").await,
        app.ok("/sites").await,
    )
}

#[test]
fn a_refused_request_changes_nothing() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let app = rt.block_on(async {
        let app = spawn_app(Backend::Sqlite).await;
        app.site("msk", 1).await;
        app.site("gw", 0).await;
        app.user("ivanov", "msk").await;
        app
    });
    let cfg = ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() };
    proptest!(cfg, |(requests in prop::collection::vec(request(), 1..12))| {
        rt.block_on(async {
            for (method, path, body) in &requests {
                let before = everything(&app).await;
                let (status, answer) = app.call(method.clone(), path, Some(body.clone())).await;
                let what = format!("{method} {path} {body} → {status} {answer}");
                assert!(!status.is_server_error(), "{what}");
                let after = everything(&app).await;
                if status.is_client_error() {
                    assert!(answer["error"].is_string(), "{what}: a refusal says why");
                    assert_eq!(after.0, before.0, "{what}: a refusal moved the version");
                    assert_eq!(after.1, before.1, "{what}: a refusal added to the change log");
                    assert_eq!(after.2, before.2, "{what}: a refusal changed the users");
                    assert_eq!(after.3, before.3, "{what}: a refusal changed the groups");
                    assert_eq!(after.4, before.4, "{what}: a refusal changed the sites");
                } else {
                    assert!(after.0 >= before.0, "{what}");
                }
                if *method == Method::POST && path == "/users" && status.is_success() {
                    // A created user is what was answered: it can be fetched by that name.
                    let name = answer["name"].as_str().unwrap();
                    let (got, _) = app.get(&format!("/users/{}", urlencode(name))).await;
                    assert!(got.is_success(), "{what}: the created user cannot be fetched ({got})");
                }
            }
        });
    });
}
