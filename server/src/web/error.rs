//! The web pages' error: a translated page with the right status, or a redirect. Internal
//! failures are logged in full and shown as a generic message.

use askama::Template;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

use super::ctx::Ctx;
use crate::error::ApiError;

#[derive(Debug)]
pub struct WebError {
    pub status: StatusCode,
    pub key: &'static str,
    pub args: Vec<(&'static str, String)>,
    ctx: Option<Box<Ctx>>,
    redirect: Option<String>,
}

impl WebError {
    pub fn new(status: StatusCode, key: &'static str) -> Self {
        WebError { status, key, args: vec![], ctx: None, redirect: None }
    }
    pub fn redirect(to: String) -> Self {
        WebError { redirect: Some(to), ..Self::new(StatusCode::SEE_OTHER, "err-internal") }
    }
    pub fn forbidden() -> Self {
        Self::new(StatusCode::FORBIDDEN, "err-forbidden")
    }
    pub fn csrf() -> Self {
        Self::new(StatusCode::FORBIDDEN, "err-csrf")
    }
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "err-page-not-found")
    }
    pub fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "err-internal")
    }
    /// Renders in this request's language, with its navigation.
    pub fn with(mut self, ctx: &Ctx) -> Self {
        self.ctx = Some(Box::new(ctx.clone()));
        self
    }
    /// An edit refused by the edit layer, shown on a page of its own.
    pub fn api(e: ApiError, ctx: &Ctx) -> Self {
        let status = if e.status == StatusCode::UNAUTHORIZED { StatusCode::FORBIDDEN } else { e.status };
        if status.is_server_error() {
            tracing::error!(error = %e.message, "internal error");
        }
        WebError { status, key: e.key, args: e.args, ctx: Some(Box::new(ctx.clone())), redirect: None }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    c: &'a Ctx,
    /// "Page not found", "No access", or "Something went wrong".
    title: String,
    message: String,
    status: u16,
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        if let Some(to) = self.redirect {
            return Redirect::to(&to).into_response();
        }
        let Some(ctx) = self.ctx else {
            // No context (the failure came before one was made): a plain answer.
            return (
                self.status,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                self.status.to_string(),
            )
                .into_response();
        };
        let message = ctx.lang.ta(self.key, &self.args);
        let title = ctx.t(match self.status {
            StatusCode::NOT_FOUND => "error-title-not-found",
            StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED => "error-title-forbidden",
            StatusCode::BAD_REQUEST => "error-title-bad-request",
            _ => "error-title",
        });
        ctx.render(self.status, &ErrorPage { c: &ctx, title, message, status: self.status.as_u16() })
    }
}
