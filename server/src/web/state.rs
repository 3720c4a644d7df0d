//! The web application's memory that is not in the database, carried in `AppState`.

use super::ratelimit::RateLimiter;

#[derive(Default)]
pub struct WebState {
    /// Failed logins, per account and per client address.
    pub limiter: RateLimiter,
}
