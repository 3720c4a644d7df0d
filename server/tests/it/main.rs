//! Integration tests of the central server: the JSON API, the change log and the agents' sync
//! endpoints, each against a real server over HTTPS, on SQLite and on PostgreSQL.
//!
//! PostgreSQL tests need `POCHTA_TEST_POSTGRES` (an admin URL); each test makes its own database.

#[macro_use]
mod helpers;

mod api_property;
mod app_passwords;
mod bad_input;
mod bed;
mod browser;
mod concurrency;
mod directory;
mod dns;
mod e2e;
mod history;
mod mail;
mod mailbox;
mod restart;
mod site_admins;
mod sync;
mod tokens;
mod two_factor;
mod ui_e2e;
mod web;
