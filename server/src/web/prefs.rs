//! A person's own time zone: chosen on `/time-zone`, kept in a cookie for a year, used by every
//! page instead of the deployment's default (`web::zone`).

use askama::Template;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::session::{self, Anyone, Ctx, Page, Posted};
use super::zone::{self, Zone};
use super::{FormErrors, WebQuery};

#[derive(Deserialize, Default)]
pub(super) struct ZoneQuery {
    #[serde(default)]
    next: String,
}

#[derive(Template)]
#[template(path = "time_zone.html")]
pub(super) struct ZonePage {
    c: Ctx,
    zones: Vec<String>,
    next: String,
    errors: FormErrors,
}

pub(super) async fn page(Page(ctx, ..): Page<Anyone>, WebQuery(q): WebQuery<ZoneQuery>) -> Response {
    let next = session::safe_next(&q.next).unwrap_or_else(|| "/".into());
    let page = ZonePage { c: ctx.clone(), zones: zone::choices(), next, errors: FormErrors::default() };
    ctx.render(StatusCode::OK, &page)
}

#[derive(Deserialize)]
pub(super) struct ZoneForm {
    #[serde(default)]
    zone: String,
    #[serde(default)]
    next: String,
}

pub(super) async fn choose(Posted(ctx, form, ..): Posted<Anyone, ZoneForm>) -> Response {
    let next = session::safe_next(&form.next).unwrap_or_else(|| "/".into());
    let Some(z) = Zone::named(&form.zone) else {
        let errors = FormErrors {
            fields: vec![("zone", ctx.t1("err-time-zone", "zone", form.zone.trim()))],
            general: None,
        };
        let page = ZonePage { c: ctx.clone(), zones: zone::choices(), next, errors };
        return ctx.render(StatusCode::UNPROCESSABLE_ENTITY, &page);
    };
    let mut r = Redirect::to(&next).into_response();
    r.headers_mut().append(header::SET_COOKIE, session::set_cookie(zone::COOKIE, z.name(), 365 * 86400));
    r
}
