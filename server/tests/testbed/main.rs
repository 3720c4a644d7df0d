//! The multi-site test bed (issue 5): every site a separate host in its own network namespace,
//! links that can be throttled and cut, real `pochta-agent` processes, the central server and
//! the Internet (Postfix's smtp-sink) as hosts of their own. Needs root; fails loudly without it.
//!
//! The central server and the SMTP clients are this same binary, re-run inside a namespace with
//! `TB_ROLE` set (the `role_*` tests, ignored unless asked for by name).

mod bed;
mod net;
mod report;
mod scenarios;
mod smtp;
mod workload;

use std::collections::BTreeMap;
use std::path::PathBuf;

use pochta_directory::{Address, Group, GroupKind, LocalPart, Op, PasswordHash, PostingPolicy};
use pochta_server::App;
use pochta_server::demo::{self, seed};
use pochta_server::init::{InitOptions, init};

/// The list of the "three sites" checks: members at the head office, the branch and outside.
pub const TRI: &str = "tri";
pub const OUTSIDE: &str = "partner@outside.test";

#[tokio::test(flavor = "multi_thread")]
#[ignore = "run by the test bed inside the central namespace"]
async fn role_central() {
    if std::env::var("TB_ROLE").as_deref() != Ok("central") {
        return;
    }
    let dir = PathBuf::from(std::env::var("TB_DIR").unwrap());
    let listen: std::net::SocketAddr = std::env::var("TB_LISTEN").unwrap().parse().unwrap();
    let done = init(
        &dir,
        InitOptions {
            domain: demo::DOMAIN,
            database: None,
            listen,
            public_url: "",
            admin: "admin",
            time_zone: "UTC",
        },
    )
    .await
    .unwrap();
    let running = App::build(&dir).await.unwrap().spawn().await.unwrap();
    let publisher = running.state.publisher.clone();
    publisher.edit::<pochta_server::publish::EditError>("testbed", |_| Ok(seed::sites())).await.unwrap();
    // One hash for every user: enough for AUTH, and 110 Argon2id runs would cost seconds.
    let hash = PasswordHash::create(demo::DEMO_PASSWORD);
    publisher
        .edit::<pochta_server::publish::EditError>("testbed", |_| {
            Ok(seed::user_ops(demo::USERS, |_| Some(hash.clone())))
        })
        .await
        .unwrap();
    publisher.edit::<pochta_server::publish::EditError>("testbed", |d| Ok(seed::group_ops(d))).await.unwrap();
    let version = publisher
        .edit::<pochta_server::publish::EditError>("testbed", |d| {
            let users = seed::users(demo::USERS);
            let mut members: std::collections::BTreeSet<Address> = users
                .iter()
                .filter(|(_, _, s)| *s == seed::HEAD_OFFICE)
                .take(3)
                .chain(users.iter().filter(|(_, _, s)| *s == seed::BRANCH).take(3))
                .map(|(l, _, _)| d.official(&LocalPart::parse(l).unwrap()))
                .collect();
            members.insert(Address::parse(OUTSIDE).unwrap());
            Ok(vec![Op::PutGroup(Group {
                name: LocalPart::parse(TRI).unwrap(),
                kind: GroupKind::List,
                description: "Members at the head office, the branch and outside".into(),
                members,
                policy: PostingPolicy::Anyone,
            })])
        })
        .await
        .unwrap();
    let mut codes = BTreeMap::new();
    for site in [seed::GATEWAY, seed::HEAD_OFFICE, seed::BRANCH] {
        codes.insert(site.to_owned(), demo::enrollment_code(&running, site, None).await.unwrap());
    }
    let info = bed::CentralInfo { token: done.token, version: version.0, codes };
    let tmp = dir.join("info.json.tmp");
    std::fs::write(&tmp, serde_json::to_vec(&info).unwrap()).unwrap();
    std::fs::rename(tmp, dir.join("info.json")).unwrap();
    std::future::pending::<()>().await;
}

#[test]
#[ignore = "run by the test bed inside a site's namespace"]
fn role_smtp() {
    if std::env::var("TB_ROLE").as_deref() != Ok("smtp") {
        return;
    }
    let jobs = PathBuf::from(std::env::var("TB_JOBS").unwrap());
    let out = PathBuf::from(std::env::var("TB_OUT").unwrap());
    let parallel = std::env::var("TB_PARALLEL").ok().and_then(|p| p.parse().ok()).unwrap_or(1);
    smtp::role_main(&jobs, &out, parallel);
}
