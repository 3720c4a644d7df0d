//! Property: whatever the delivery does (duplicates, reordering, drops, restarts of the agent),
//! the replica ends equal to the server's directory, at the server's version.

use std::time::Duration;

use pochta_directory::{Address, Directory, GroupKind, Level, Op, PostingPolicy};
use proptest::prelude::*;
use proptest::test_runner::TestRunner;

use crate::helpers::*;

const SITES: &[&str] = &["msk", "spb", "nsk", "ekb"];
const USERS: &[&str] = &["ivanov", "petrov", "sidorov", "kuznetsova", "smirnov", "popova", "orlov", "Volkov"];
const GROUPS: &[&str] = &["team", "office", "board", "news", "everyone"];

/// One random edit, interpreted against the model so that it is always valid.
#[derive(Debug, Clone)]
struct EditChoice {
    kind: u8,
    a: u32,
    b: u32,
}

#[derive(Debug, Clone)]
struct Step {
    ops: Vec<EditChoice>,
    /// 0..=4 push now, 5 push twice, 6..=7 delay, 8 drop, 9 push now plus an older one again.
    delivery: u8,
    restart: bool,
    /// Picks among delayed frames and old frames.
    pick: u32,
}

fn step() -> impl Strategy<Value = Step> {
    let edit = (0u8..8, any::<u32>(), any::<u32>()).prop_map(|(kind, a, b)| EditChoice { kind, a, b });
    (prop::collection::vec(edit, 1..4), 0u8..10, prop::bool::weighted(0.06), any::<u32>())
        .prop_map(|(ops, delivery, restart, pick)| Step { ops, delivery, restart, pick })
}

fn pick<T>(items: &[T], n: u32) -> Option<&T> {
    if items.is_empty() { None } else { items.get(n as usize % items.len()) }
}

/// Turns a choice into an op valid on `dir` (falling back to putting a site that keeps
/// mailboxes, which is always valid).
fn op_for(dir: &Directory, c: &EditChoice) -> Op {
    let op = candidate(dir, c);
    if dir.check(&op).is_ok() {
        return op;
    }
    let mut s = site(pick(SITES, c.a).unwrap(), if c.b.is_multiple_of(2) { Level::One } else { Level::Two });
    s.name = format!("Site {} #{}", s.id, c.b % 100);
    Op::PutSite(s)
}

fn candidate(dir: &Directory, c: &EditChoice) -> Op {
    let sites: Vec<_> = dir.sites.keys().cloned().collect();
    let users: Vec<_> = dir.users.values().cloned().collect();
    let groups: Vec<_> = dir.groups.values().cloned().collect();
    let fallback = || {
        let mut s =
            site(pick(SITES, c.a).unwrap(), [Level::Zero, Level::One, Level::Two][(c.b % 3) as usize]);
        if c.b.is_multiple_of(2) {
            s.agents.push(pochta_directory::AgentEndpoint {
                id: format!("agent-{}", c.a % 7),
                url: String::new(),
                tls_sha256: "ab".repeat(32),
                smtp: String::new(),
            });
        }
        Op::PutSite(s)
    };
    match c.kind {
        0 => fallback(),
        1 => {
            // Delete an empty site.
            let empty: Vec<_> = sites.iter().filter(|s| dir.users_at(s).next().is_none()).collect();
            pick(&empty, c.a).map_or_else(fallback, |id| Op::DeleteSite { id: (*id).clone() })
        }
        2 => {
            let name = pick(USERS, c.a).unwrap();
            match pick(&sites, c.b) {
                Some(s) if !dir.groups.contains_key(&lp(name)) => {
                    let mut u = user(name, s.as_str());
                    u.enabled = !c.b.is_multiple_of(5);
                    if let Some(old) = dir.user(&lp(name)) {
                        u.former_sites = old.former_sites.clone();
                    }
                    Op::PutUser(u)
                }
                _ => fallback(),
            }
        }
        3 => pick(&users, c.a).map_or_else(fallback, |u| Op::DeleteUser { name: u.name.clone() }),
        4 => {
            // Move a user to another site.
            match (pick(&users, c.a), pick(&sites, c.b)) {
                (Some(u), Some(to)) if *to != u.site => {
                    let mut m = u.clone();
                    m.former_sites.insert(u.site.clone());
                    m.site = to.clone();
                    Op::PutUser(m)
                }
                _ => fallback(),
            }
        }
        5 | 6 => {
            let name = pick(GROUPS, c.a).unwrap();
            let mut members: Vec<Address> = users
                .iter()
                .enumerate()
                .filter(|(i, _)| c.b >> (i % 32) & 1 == 1)
                .map(|(_, u)| dir.official(&u.name))
                .collect();
            if c.b.is_multiple_of(3) {
                members.push(addr("friend@gmail.com"));
            }
            if let Some(other) = pick(GROUPS, c.b / 7).filter(|g| *g != name) {
                members.push(addr(&format!("{other}@{DOMAIN}")));
            }
            let member_refs: Vec<String> = members.iter().map(ToString::to_string).collect();
            let refs: Vec<&str> = member_refs.iter().map(String::as_str).collect();
            let kind = if c.a.is_multiple_of(2) { GroupKind::List } else { GroupKind::Alias };
            let policy =
                [PostingPolicy::Anyone, PostingPolicy::Internal, PostingPolicy::Members][(c.b % 3) as usize];
            let g = group(name, kind, &refs, policy);
            if dir.check(&Op::PutGroup(g.clone())).is_ok() { Op::PutGroup(g) } else { fallback() }
        }
        _ => pick(&groups, c.a).map_or_else(fallback, |g| Op::DeleteGroup { name: g.name.clone() }),
    }
}

/// The ops of one change set, each valid after the ones before it.
fn ops_for(model: &Directory, choices: &[EditChoice]) -> Vec<Op> {
    let mut scratch = model.clone();
    let mut ops = Vec::new();
    for c in choices {
        let op = op_for(&scratch, c);
        scratch.apply(&op).expect("generated ops are valid");
        ops.push(op);
    }
    ops
}

async fn run_case(steps: Vec<Step>) -> Result<(), TestCaseError> {
    let root = tempfile::tempdir().unwrap();
    let mut dep = Deployment::new();
    let server = StandIn::start(root.path()).await;
    let cfg = config(&dep, "a1", "msk", server.link(), "127.0.0.1:0".parse().unwrap());
    let dir = write_config(root.path(), "agent", &cfg);
    let mut agent = TestAgent::start(&dir).await;
    let mut delayed: Vec<Vec<u8>> = Vec::new();

    for s in &steps {
        let ops = ops_for(&dep.model, &s.ops);
        let frame = dep.commit(ops);
        // The server has it from now on, whatever happens to the push.
        server.publish(&frame);
        match s.delivery {
            0..=4 => {
                agent.push(&[&frame]).await;
            }
            5 => {
                agent.push(&[&frame]).await;
                agent.push(&[&frame]).await;
            }
            6 | 7 => delayed.push(frame),
            8 => {}
            _ => {
                let old = pick(&dep.frames, s.pick).unwrap().clone();
                agent.push(&[&frame, &old]).await;
            }
        }
        // Now and then a delayed frame arrives, out of order.
        if !delayed.is_empty() && s.pick.is_multiple_of(3) {
            let late = delayed.remove(s.pick as usize % delayed.len());
            agent.push(&[&late]).await;
        }
        if s.restart {
            agent.restart().await;
        }
        prop_assert!(agent.version() <= dep.version().0);
    }
    while !delayed.is_empty() {
        let late = delayed.remove(delayed.len() / 2);
        agent.push(&[&late]).await;
    }
    // Dropped sets that no gap revealed (the last ones) come with the next catch-up.
    agent.running().replica().request_catch_up();
    agent.wait_version(dep.version().0, 20).await;
    prop_assert_eq!(&agent.directory(), &dep.model);
    prop_assert_eq!(agent.running().replica().held(), 0);

    // And it is all on disk.
    agent.restart().await;
    prop_assert_eq!(agent.version(), dep.version().0);
    prop_assert_eq!(&agent.directory(), &dep.model);
    agent.stop().await;
    server.stop();
    Ok(())
}

#[test]
fn replica_converges_whatever_the_delivery() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let config = ProptestConfig {
        cases: 16,
        max_shrink_iters: 32,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let mut runner = TestRunner::new(config);
    let started = std::time::Instant::now();
    runner.run(&prop::collection::vec(step(), 20..40), |steps| rt.block_on(run_case(steps))).unwrap();
    assert!(started.elapsed() < Duration::from_secs(120), "took {:?}", started.elapsed());
}
