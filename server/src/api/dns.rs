//! The domain's DNS records as the directory says they should be (`GET /dns`), and a live
//! check of what DNS has (`POST /dns/check`). The MTA-STS policy file is public, outside the
//! API: `GET /.well-known/mta-sts.txt`.

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde::Serialize;

use super::Json;
use crate::auth::Admin;
use crate::error::ApiError;
use crate::manage::dns::{Checked, Record};
use crate::state::AppState;
use crate::web::admin::dns::{current_zone, zone_text};
use crate::web::i18n::Lang;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/dns", get(show)).route("/dns/check", post(check))
}

#[derive(Serialize)]
struct NotYetView {
    site: String,
    reason: crate::manage::dns::NotYet,
}

#[derive(Serialize)]
struct DnsView {
    domain: String,
    records: Vec<Record>,
    /// Sites left out of MX and SPF until they can take mail.
    not_yet: Vec<NotYetView>,
    /// The zone-file snippet, with English comments.
    zone: String,
    mta_sts_policy: String,
}

async fn show(admin: Admin, State(st): State<AppState>) -> Result<Json<DnsView>, ApiError> {
    admin.scope().need_domain()?;
    let z = current_zone(&st).await?;
    Ok(Json(DnsView {
        zone: zone_text(Lang::En, &z),
        domain: z.domain.clone(),
        not_yet: z.not_yet.iter().map(|(s, r)| NotYetView { site: s.to_string(), reason: *r }).collect(),
        mta_sts_policy: z.mta_sts_policy.clone(),
        records: z.records,
    }))
}

async fn check(admin: Admin, State(st): State<AppState>) -> Result<Json<Vec<Checked>>, ApiError> {
    admin.scope().need_domain()?;
    let z = current_zone(&st).await?;
    Ok(Json(crate::manage::dns::check(&z, &st.config.dns_servers, std::time::Duration::from_secs(3)).await))
}

/// RFC 8461 §3.3: the policy, as `text/plain`, for whoever asks.
pub(super) async fn mta_sts_policy(State(st): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let z = current_zone(&st).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], z.mta_sts_policy))
}
