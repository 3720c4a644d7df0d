//! Integration tests of the agent's replication half: real SQLite, real HTTPS, in-process
//! agents and the built binary, a stand-in for the central server's sync endpoints.

mod cli;
mod helpers;
mod ordering;
mod peers;
mod property;
mod refusals;
mod snapshot;
