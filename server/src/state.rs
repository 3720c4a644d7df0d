//! The one application state every route shares.

use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::config::Config;
use crate::db::Db;
use crate::publish::Publisher;
use crate::push::Pusher;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub publisher: Arc<Publisher>,
    pub pusher: Arc<Pusher>,
    pub config: Arc<Config>,
    /// The URL agents use to reach this server.
    pub public_url: Arc<String>,
    /// The server's TLS fingerprint, handed out in enrollment codes.
    pub tls_sha256: Arc<String>,
    /// Caps concurrent Argon2 work (each hash takes 19 MiB and tens of milliseconds).
    pub hashing: Arc<Semaphore>,
    /// The web application's in-memory state (login rate limits).
    pub web: Arc<crate::web::state::WebState>,
    /// The mailbox moves agents last reported, for the dashboard.
    pub moves: Arc<crate::moves::MoveBoard>,
    /// The warnings agents last reported (a scanner out), for the dashboard.
    pub warnings: Arc<crate::moves::WarningBoard>,
    /// The version and free disk agents last reported (the site page).
    pub facts: Arc<crate::moves::FactsBoard>,
    /// The client services and mailbox sizes agents last reported (users pages, `/me`, API).
    pub reports: Arc<crate::reports::AgentReports>,
    /// Per-site user counts and MX priorities, kept per directory version (the dashboard, the
    /// sites and DNS pages, `/api/v1/sites`).
    pub site_summaries: Arc<crate::summary::SiteSummaries>,
}

impl AppState {
    /// The current directory, its version and its per-site summary.
    pub fn current_with_summary(
        &self,
    ) -> (Arc<pochta_directory::Directory>, pochta_directory::wire::Version, Arc<crate::summary::SiteSummary>)
    {
        let (dir, version) = self.publisher.current();
        let summary = self.site_summaries.get(&dir, version.0);
        (dir, version, summary)
    }
}

impl AppState {
    /// Hashes a password off the async threads, a few at a time.
    pub async fn hash_password(&self, password: String) -> pochta_directory::PasswordHash {
        let _permit = self.hashing.acquire().await.expect("semaphore never closes");
        tokio::task::spawn_blocking(move || pochta_directory::PasswordHash::create(&password))
            .await
            .expect("hashing does not panic")
    }

    pub async fn verify_password(&self, hash: String, password: String) -> bool {
        let _permit = self.hashing.acquire().await.expect("semaphore never closes");
        tokio::task::spawn_blocking(move || pochta_directory::PasswordHash(hash).verify(&password))
            .await
            .expect("verification does not panic")
    }
}
