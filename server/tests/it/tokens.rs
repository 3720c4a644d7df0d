//! API tokens, made with the administrator's password from `init`.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{Backend, assert_error, spawn_app};

both_backends!(tokens_from_the_admin_password);
async fn tokens_from_the_admin_password(backend: Backend) {
    let app = spawn_app(backend).await;
    let version = app.version().await;
    let ask = async |body: serde_json::Value| {
        let r =
            app.raw(Method::POST, "/tokens", None, Some(("application/json", body.to_string().into()))).await;
        (r.status, r.json())
    };

    let (s, v) = ask(json!({"admin": "admin", "password": app.init.password})).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let token = v["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("pt_") && token != app.token);
    let (s, v) = app
        .call_as(&token, Method::POST, "/sites", Some(json!({"id": "msk", "name": "M", "level": 1})))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(app.ok("/changes?limit=1").await[0]["author"], "admin");

    // Wrong password, unknown administrator, malformed request: 401/422, no token, no change.
    let (s, v) = ask(json!({"admin": "admin", "password": format!("{}x", app.init.password)})).await;
    assert_error(s, &v, StatusCode::UNAUTHORIZED, "wrong administrator name or password");
    let (s, v) = ask(json!({"admin": "root", "password": app.init.password})).await;
    assert_error(s, &v, StatusCode::UNAUTHORIZED, "wrong administrator name or password");
    let (s, v) = ask(json!({"admin": "admin"})).await;
    assert_error(s, &v, StatusCode::UNPROCESSABLE_ENTITY, "password");
    assert_eq!(app.version().await, version + 1);
    let (s, v) = app.call_as("pt_guessed", Method::GET, "/version", None).await;
    assert_error(s, &v, StatusCode::UNAUTHORIZED, "credentials");
}
