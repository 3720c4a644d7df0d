//! Integration tests of the agent's replication half: real SQLite, real HTTPS, in-process
//! agents and the built binary, a stand-in for the central server's sync endpoints.

// The modules of one test binary share their helpers with `pub`; nothing outside can reach them.
#![allow(unreachable_pub)]

mod auth_memory;
mod cli;
mod clock_jump;
mod crash_kills;
mod deliver;
mod disk_faults;
mod dkim;
mod door;
mod helpers;
mod imap;
mod imap_move;
mod knot;
mod login_throttle;
mod mailbox;
mod mailbox_move;
mod mta_sts;
mod ordering;
mod peers;
mod process;
mod property;
mod queue;
mod queue_rig;
mod refusals;
mod replication_edges;
mod smtp_harness;
mod smtp_net;
mod smtp_properties;
mod smtp_session;
mod snapshot;
