//! The web application's memory that is not in the database, carried in `AppState`.

use super::ratelimit::Guards;

#[derive(Default)]
pub struct WebState {
    /// Failed logins, per account (the deployment's one policy) and per client address.
    pub limiter: Guards,
    /// Enrollment codes made on a site's page, kept for the session that made them until they
    /// expire, so the page after the POST (and a refresh of it) shows the same code: by session
    /// (its CSRF token) and site, the code and its expiry.
    pub enrollment_codes: std::sync::Mutex<std::collections::HashMap<(String, String), (String, i64)>>,
}

impl WebState {
    pub fn keep_code(&self, session: &str, site: &str, code: String, expires: i64) {
        let mut codes = self.enrollment_codes.lock().expect("not poisoned");
        let now = crate::db::now();
        codes.retain(|_, (_, e)| *e > now);
        codes.insert((session.to_owned(), site.to_owned()), (code, expires));
    }

    pub fn code_for(&self, session: &str, site: &str) -> Option<(String, i64)> {
        let codes = self.enrollment_codes.lock().expect("not poisoned");
        codes.get(&(session.to_owned(), site.to_owned())).filter(|(_, e)| *e > crate::db::now()).cloned()
    }
}
