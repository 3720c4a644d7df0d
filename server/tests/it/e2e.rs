//! End to end: the central server in this process, real `pochta-agent` processes, real TLS.
//! The invariants of PRODUCT.md "Replication invariants" and "No single point of failure".

use std::time::Duration;

use pochta_directory::{Address, Directory, Group, GroupKind, LocalPart, Op, PostingPolicy, SiteId, User};
use pochta_server::demo::{self, AgentLinks, seed};
use proptest::prelude::*;

use crate::bed::{Bed, SYNC, agent_reaches, get_json, kill, replica_of, user};

#[tokio::test(flavor = "multi_thread")]
async fn central_down_agents_answer_and_a_stopped_agent_catches_up_in_order() {
    let mut bed = Bed::new(20).await;
    let (hq_child, hq) = bed.agent(seed::HEAD_OFFICE, AgentLinks::default()).await;
    let (br_child, br) = bed.agent(seed::BRANCH, AgentLinks { pull: true, ..Default::default() }).await;
    demo::wait_in_sync(bed.server(), &[hq.clone(), br.clone()], SYNC).await.unwrap();

    // The head-office agent goes down; three edits happen meanwhile.
    kill(hq_child).await;
    bed.edit(|_| vec![Op::PutUser(user("late.arrival", seed::HEAD_OFFICE))]).await;
    let mover =
        bed.directory().users.values().find(|u| u.site.as_str() == seed::HEAD_OFFICE).unwrap().clone();
    bed.edit(|_| {
        let mut u = mover.clone();
        u.former_sites.insert(u.site.clone());
        u.site = SiteId::parse(seed::BRANCH).unwrap();
        vec![Op::PutUser(u)]
    })
    .await;
    let head = bed
        .edit(|d| {
            let members = [d.official(&LocalPart::parse("late.arrival").unwrap()), d.official(&mover.name)];
            vec![Op::PutGroup(Group {
                name: LocalPart::parse("newcomers").unwrap(),
                kind: GroupKind::List,
                description: String::new(),
                members: members.into_iter().collect(),
                policy: PostingPolicy::Internal,
            })]
        })
        .await;
    // The pulling branch agent has them; the stopped one gets them, in order, on restart.
    agent_reaches(&br, head).await;
    let hq_child = bed.restart_agent(&hq);
    agent_reaches(&hq, head).await;
    assert_eq!(replica_of(&hq).await, bed.directory(), "replica equals the server's directory");

    // The central server goes away: both agents keep answering from their replicas.
    bed.stop_server().await;
    let r = get_json(&hq, "/resolve?rcpt=newcomers@example.org&internal=true").await.expect("agent answers");
    let text = r.to_string();
    assert!(text.contains("late.arrival") && text.contains(mover.name.as_str()), "{text}");
    let moved_local = format!("{}@{}.example.org", mover.name, seed::HEAD_OFFICE);
    let r = get_json(&br, &format!("/resolve?rcpt={moved_local}")).await.expect("agent answers");
    assert!(r.to_string().contains(seed::BRANCH), "old local address routes to the new site: {r}");
    let unknown = get_json(&hq, "/resolve?rcpt=nobody@example.org").await.unwrap();
    assert_eq!(unknown["code"], 550, "{unknown}");
    let s = get_json(&hq, "/status").await.unwrap();
    assert_eq!(s["version"].as_u64(), Some(head));
    let out = std::process::Command::new(&bed.bin)
        .args(["resolve", "--data"])
        .arg(&br.data_dir)
        .arg("late.arrival@example.org")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains(seed::HEAD_OFFICE));

    // The server returns; edits flow again to both.
    bed.start_server().await;
    let head = bed.edit(|_| vec![Op::PutUser(user("after.outage", seed::BRANCH))]).await;
    agent_reaches(&hq, head).await;
    agent_reaches(&br, head).await;
    kill(hq_child).await;
    kill(br_child).await;
    assert_eq!(replica_of(&br).await, bed.directory());
}

#[tokio::test(flavor = "multi_thread")]
async fn agent_catches_up_from_a_peer_while_the_server_is_down() {
    let mut bed = Bed::new(10).await;
    let (gw_child, gw) = bed.agent(seed::GATEWAY, AgentLinks::default()).await;
    let (hq_child, hq) = bed.agent(seed::HEAD_OFFICE, AgentLinks::default()).await;
    demo::wait_in_sync(bed.server(), &[gw.clone(), hq.clone()], SYNC).await.unwrap();
    kill(gw_child).await;
    let mut head = 0;
    for i in 0..3 {
        head = bed.edit(|_| vec![Op::PutUser(user(&format!("peer.{i}"), seed::HEAD_OFFICE))]).await;
    }
    agent_reaches(&hq, head).await;
    let expected = bed.directory();
    bed.stop_server().await;
    // Only the head-office agent has the three sets now; the signature makes them good.
    let gw_child = bed.restart_agent(&gw);
    agent_reaches(&gw, head).await;
    kill(gw_child).await;
    kill(hq_child).await;
    assert_eq!(replica_of(&gw).await, expected);
}

/// Equality with a readable account of the first differences.
fn assert_same(replica: &Directory, server: &Directory) {
    if replica == server {
        return;
    }
    let mut diffs = Vec::new();
    for (k, v) in &server.users {
        if replica.users.get(k) != Some(v) {
            diffs.push(format!("user {k}: replica {:?} server {v:?}", replica.users.get(k)));
        }
    }
    for k in replica.users.keys().filter(|k| !server.users.contains_key(*k)) {
        diffs.push(format!("user {k} only in the replica"));
    }
    for (k, v) in &server.groups {
        if replica.groups.get(k) != Some(v) {
            diffs.push(format!("group {k}: replica {:?} server {v:?}", replica.groups.get(k)));
        }
    }
    for k in replica.groups.keys().filter(|k| !server.groups.contains_key(*k)) {
        diffs.push(format!("group {k} only in the replica"));
    }
    if replica.sites != server.sites {
        diffs.push(format!("sites: replica {:?} server {:?}", replica.sites, server.sites));
    }
    panic!("replica differs from the server:\n{}", diffs.join("\n"));
}

/// One random edit, valid against the current directory.
#[derive(Debug, Clone)]
enum Edit {
    AddUser(u8, bool),
    DeleteUser(u8),
    Move(u8),
    Toggle(u8),
    AddList(u8, Vec<u8>),
    DeleteList(u8),
}

fn edit_strategy() -> impl Strategy<Value = Edit> {
    prop_oneof![
        3 => (any::<u8>(), any::<bool>()).prop_map(|(n, b)| Edit::AddUser(n, b)),
        1 => any::<u8>().prop_map(Edit::DeleteUser),
        2 => any::<u8>().prop_map(Edit::Move),
        1 => any::<u8>().prop_map(Edit::Toggle),
        2 => (any::<u8>(), prop::collection::vec(any::<u8>(), 0..5)).prop_map(|(n, m)| Edit::AddList(n, m)),
        1 => any::<u8>().prop_map(Edit::DeleteList),
    ]
}

fn ops_for(e: &Edit, d: &Directory) -> Vec<Op> {
    let users: Vec<&User> = d.users.values().collect();
    let pick = |n: u8| (!users.is_empty()).then(|| users[n as usize % users.len()]);
    let sites = [seed::HEAD_OFFICE, seed::BRANCH];
    match e {
        Edit::AddUser(n, b) => vec![Op::PutUser(user(&format!("rnd{n}"), sites[*b as usize]))],
        Edit::DeleteUser(n) => {
            pick(*n).map(|u| vec![Op::DeleteUser { name: u.name.clone() }]).unwrap_or_default()
        }
        Edit::Move(n) => pick(*n)
            .map(|u| {
                let mut u = u.clone();
                let to = if u.site.as_str() == seed::BRANCH { seed::HEAD_OFFICE } else { seed::BRANCH };
                u.former_sites.insert(std::mem::replace(&mut u.site, SiteId::parse(to).unwrap()));
                vec![Op::PutUser(u)]
            })
            .unwrap_or_default(),
        Edit::Toggle(n) => pick(*n)
            .map(|u| {
                let mut u = u.clone();
                u.enabled = !u.enabled;
                vec![Op::PutUser(u)]
            })
            .unwrap_or_default(),
        Edit::AddList(n, m) => {
            let name = LocalPart::parse(&format!("list{n}")).unwrap();
            if d.users.contains_key(&name) {
                return vec![];
            }
            let members = m.iter().filter_map(|i| pick(*i)).map(|u| d.official(&u.name));
            let mut members: std::collections::BTreeSet<Address> = members.collect();
            members.insert(Address::parse("outside@example.net").unwrap());
            vec![Op::PutGroup(Group {
                name,
                kind: GroupKind::List,
                description: String::new(),
                members,
                policy: PostingPolicy::Anyone,
            })]
        }
        Edit::DeleteList(n) => {
            let name = LocalPart::parse(&format!("list{n}")).unwrap();
            if d.groups.contains_key(&name) { vec![Op::DeleteGroup { name }] } else { vec![] }
        }
    }
}

/// Random edits on the real server, delivered to a real agent process through a link that is
/// randomly cut (drops; lost replies make the server push again: duplicates) while the agent is
/// randomly killed and restarted: the agent ends with the server's directory and version.
#[test]
fn random_edits_over_a_flaky_link_with_restarts_converge() {
    let cfg = ProptestConfig { cases: 3, failure_persistence: None, ..ProptestConfig::default() };
    proptest!(cfg, |(edits in prop::collection::vec((edit_strategy(), any::<u8>()), 10..30))| {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let bed = Bed::new(5).await;
            let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            let proxy = demo::proxy::Proxy::start(([127, 0, 0, 1], port).into()).await.unwrap();
            let links = AgentLinks { advertise_url: Some(proxy.url()), port: Some(port), ..Default::default() };
            let (mut child, agent) = bed.agent(seed::HEAD_OFFICE, links).await;
            for (e, chaos) in &edits {
                bed.edit(|d| ops_for(e, d)).await;
                match chaos % 8 {
                    0 => proxy.cut(true),
                    1 => proxy.cut(false),
                    2 => {
                        kill(child).await;
                        child = bed.restart_agent(&agent);
                    }
                    _ => {}
                }
                if chaos % 3 == 0 {
                    tokio::time::sleep(Duration::from_millis(u64::from(*chaos % 40))).await;
                }
            }
            proxy.cut(false);
            let head = bed.server().state.publisher.version().0;
            agent_reaches(&agent, head).await;
            kill(child).await;
            assert_same(&replica_of(&agent).await, &bed.directory());
        });
    });
}
