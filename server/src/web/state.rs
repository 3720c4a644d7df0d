//! The web application's memory that is not in the database, carried in `AppState`.

use super::ratelimit::Guards;

#[derive(Default)]
pub struct WebState {
    /// Failed logins, per account (the deployment's one policy) and per client address.
    pub limiter: Guards,
}
