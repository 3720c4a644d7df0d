//! HTTP routes. `/api/v1` is the JSON API (tokens for people and automation, agent secrets for
//! the sync endpoints); everything else is the web application (`crate::web`). Each module
//! returns its `Router<AppState>`; the edit logic they share lives in `crate::manage`.

mod agents;
mod dkim;
mod dns;
mod groups;
mod history;
mod settings;
pub mod sites;
mod sync;
mod tokens;
mod users;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::state::AppState;

pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .merge(sites::router())
        .merge(users::router())
        .merge(groups::router())
        .merge(dkim::router())
        .merge(dns::router())
        .merge(agents::router())
        .merge(sync::router())
        .merge(history::router())
        .merge(settings::router())
        .merge(tokens::router())
        .layer(DefaultBodyLimit::max(1 << 20))
        .fallback(|| async { ApiError::not_found("there is no such API endpoint") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "this endpoint does not take that method")
        });
    Router::new()
        .nest(pochta_directory::api::path::API, api)
        .route("/healthz", get(|| async { "ok" }))
        .route("/.well-known/mta-sts.txt", get(dns::mta_sts_policy))
        .merge(crate::web::router())
        .with_state(state)
}

/// Parses a path or body field into a newtype, or answers 422 with the parser's message.
pub(crate) fn parse<T, E: std::fmt::Display>(
    what: &str,
    r: Result<T, E>,
) -> Result<T, crate::error::ApiError> {
    r.map_err(|e| crate::error::ApiError::bad_request(format!("{what}: {e}")))
}

/// `axum::Json`, but a body that is not JSON, not the expected shape, or too large is refused
/// with the API's JSON error (`{"error": ...}`) instead of axum's plain-text rejection.
pub(crate) struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Json(v)),
            Err(r) => Err(rejected(&r, r.status(), r.body_text())),
        }
    }
}

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// `axum::extract::Query` with the API's JSON error.
pub(crate) struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Query(v)),
            Err(r) => Err(rejected(&r, r.status(), r.body_text())),
        }
    }
}

/// `axum::extract::Path` with the API's JSON error.
pub(crate) struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Path(v)),
            Err(r) => Err(rejected(&r, r.status(), r.body_text())),
        }
    }
}

/// Client mistakes keep axum's status and explanation; a rejection that is the server's fault
/// is logged and hidden like any other internal error.
fn rejected(r: &dyn std::fmt::Debug, status: StatusCode, text: String) -> ApiError {
    if status.is_server_error() { ApiError::internal(format!("{r:?}")) } else { ApiError::new(status, text) }
}
