//! How long the agent takes to make Dovecot's passwd-file from the replica after a change set,
//! at 100,000 users (the scale): render, write to a temporary file, rename.
//!
//!     cargo bench -p pochta-agent --bench passwd

use std::path::Path;
use std::time::Instant;

use pochta_agent::durable::Owner;
use pochta_agent::imap::passwd;
use pochta_directory::{Directory, Domain, Level, LocalPart, Op, PasswordHash, Site, SiteId, User};

const USERS: usize = 100_000;
const ROUNDS: usize = 5;

fn main() {
    let mut dir = Directory::new(Domain::parse("example.org").unwrap());
    for (id, level) in [("msk", Level::One), ("spb", Level::Two)] {
        let site = Site {
            id: SiteId::parse(id).unwrap(),
            name: id.into(),
            level,
            agents: vec![],
            default_quota: None,
            outgoing: vec![],
        };
        dir.apply(&Op::PutSite(site)).unwrap();
    }
    // One real hash, shared: hashing 100,000 passwords would take the bench's whole time.
    let hash = PasswordHash::create("a password 1");
    for i in 0..USERS {
        let u = User {
            app_passwords: Vec::new(),
            name: LocalPart::parse(&format!("user{i:06}.surname")).unwrap(),
            display_name: String::new(),
            site: SiteId::parse(if i % 4 == 0 { "spb" } else { "msk" }).unwrap(),
            former_sites: Default::default(),
            password: Some(hash.clone()),
            enabled: i % 50 != 0,
            mailbox: Default::default(),
        };
        dir.users.insert(u.name.clone(), u);
    }
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("passwd");
    let site = SiteId::parse("msk").unwrap();
    let owner = Owner { uid: 8, gid: 8 };
    let mut render_ms = Vec::new();
    let mut total_ms = Vec::new();
    let mut previous = None;
    let mut bytes = 0;
    for _ in 0..ROUNDS {
        let t = Instant::now();
        let text = passwd::render(&dir, &site, Path::new("/var/lib/pochta-agent/mail"), owner, |s| {
            format!("mx.{s}.example.org")
        })
        .passwd;
        render_ms.push(t.elapsed().as_secs_f64() * 1e3);
        previous = Some(passwd::write(&path, &text, None, previous).unwrap());
        total_ms.push(t.elapsed().as_secs_f64() * 1e3);
        bytes = text.len();
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "passwd-file at {USERS} users: {:.1} MB; render {:.1} ms, render + write + rename {:.1} ms (median of {ROUNDS})",
        bytes as f64 / 1e6,
        median(&mut render_ms),
        median(&mut total_ms)
    );
}
