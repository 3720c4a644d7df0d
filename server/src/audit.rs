//! The change log read as an audit log, apart from storage and language.
//!
//! Every change set is stored with, per op, the record it replaced or removed (`prior`): that
//! is what lets the history say "old → new" and what a revert puts back, without replaying the
//! log. From the ops and their priors come the set's `tags` (what the history's filters match),
//! its `changes` (what happened, for the pages to put in words) and, on demand, the ops that
//! undo it.

use std::collections::BTreeSet;

use pochta_directory::dkim::{DkimKey, KeyState, Selector};
use pochta_directory::{
    Address, Directory, DirectoryError, DomainSettings, Group, GroupKind, LocalPart, Op, Site, SiteId, User,
};
use serde::{Deserialize, Serialize};

/// A whole directory record as it was before an op.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Record {
    Site(Site),
    User(User),
    Group(Group),
    Settings(DomainSettings),
    /// Stored without its private key (the log never holds one), so never put back.
    DkimKey(DkimKey),
}

/// The record `op` replaces or removes in `dir`, if there is one.
pub fn prior(dir: &Directory, op: &Op) -> Option<Record> {
    match op {
        Op::PutSite(Site { id, .. }) | Op::DeleteSite { id } => dir.site(id).cloned().map(Record::Site),
        Op::PutUser(User { name, .. }) | Op::SetPassword { name, .. } | Op::DeleteUser { name } => {
            dir.user(name).cloned().map(Record::User)
        }
        Op::PutGroup(Group { name, .. }) | Op::DeleteGroup { name } => {
            dir.group(name).cloned().map(Record::Group)
        }
        Op::PutDkimKey(DkimKey { selector, .. }) | Op::DeleteDkimKey { selector } => {
            dir.dkim.get(selector).cloned().map(Record::DkimKey)
        }
        Op::PutSettings(_) => Some(Record::Settings(dir.settings.clone())),
    }
}

/// What kind of record an op touches: the history's "kind" filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Site,
    User,
    Password,
    Group,
    Dkim,
    Settings,
}

impl Kind {
    pub const ALL: [Kind; 6] =
        [Kind::User, Kind::Password, Kind::Group, Kind::Site, Kind::Dkim, Kind::Settings];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Site => "site",
            Kind::User => "user",
            Kind::Password => "password",
            Kind::Group => "group",
            Kind::Dkim => "dkim",
            Kind::Settings => "settings",
        }
    }
    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }
    fn of(op: &Op) -> Kind {
        match op {
            Op::PutSite(_) | Op::DeleteSite { .. } => Kind::Site,
            Op::PutUser(_) | Op::DeleteUser { .. } => Kind::User,
            Op::SetPassword { .. } => Kind::Password,
            Op::PutGroup(_) | Op::DeleteGroup { .. } => Kind::Group,
            Op::PutDkimKey(_) | Op::DeleteDkimKey { .. } => Kind::Dkim,
            Op::PutSettings(_) => Kind::Settings,
        }
    }
}

/// The record an op is about, as a tag (`user:ivanov`): two sets conflict when they share one.
fn object_tag(op: &Op) -> String {
    match op {
        Op::PutSite(Site { id, .. }) | Op::DeleteSite { id } => format!("site:{id}"),
        Op::PutUser(User { name, .. }) | Op::SetPassword { name, .. } | Op::DeleteUser { name } => {
            format!("user:{name}")
        }
        Op::PutGroup(Group { name, .. }) | Op::DeleteGroup { name } => format!("group:{name}"),
        Op::PutDkimKey(DkimKey { selector, .. }) | Op::DeleteDkimKey { selector } => {
            format!("dkim:{selector}")
        }
        Op::PutSettings(_) => "settings".to_owned(),
    }
}

/// The set's tags, `" kind:user user:ivanov obj:ivanov at:hq at:branch "`: lower case, each
/// once, a space on both sides of every tag so `LIKE '% obj:ivanov %'` is an exact match.
/// `obj:` names every record an op is about and every address added to or removed from an
/// alias or list (also by its local part); `at:` every site an op concerns (a user's home
/// before and after, the site itself).
pub fn tags(ops: &[Op], priors: &[Option<Record>]) -> String {
    let mut out = BTreeSet::new();
    for (i, op) in ops.iter().enumerate() {
        let before = priors.get(i).and_then(Option::as_ref);
        out.insert(format!("kind:{}", Kind::of(op).as_str()));
        let object = object_tag(op);
        if let Some((_, name)) = object.split_once(':') {
            out.insert(format!("obj:{name}"));
        }
        out.insert(object);
        match (op, before) {
            (Op::PutSite(Site { id, .. }) | Op::DeleteSite { id }, _) => {
                out.insert(format!("at:{id}"));
            }
            (Op::PutUser(u), b) => {
                out.insert(format!("at:{}", u.site));
                if let Some(Record::User(old)) = b {
                    out.insert(format!("at:{}", old.site));
                }
            }
            (_, Some(Record::User(old))) => {
                out.insert(format!("at:{}", old.site));
            }
            _ => {}
        }
        if let Op::PutGroup(g) = op {
            let old = match before {
                Some(Record::Group(old)) => old.members.clone(),
                _ => BTreeSet::new(),
            };
            for m in g.members.symmetric_difference(&old) {
                out.insert(format!("obj:{m}"));
                out.insert(format!("obj:{}", m.local()));
            }
        }
    }
    let mut s = String::from(" ");
    for t in out {
        s.push_str(&t.to_lowercase());
        s.push(' ');
    }
    s
}

/// A field's value in a "was → now" line.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Text(String),
    /// A size in bytes; `None`: no limit of its own.
    Size(Option<u64>),
    /// A message key to translate (`policy-members`, `kind-list`).
    Key(&'static str),
    On(bool),
    /// Nothing set.
    Empty,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// The field's name as a message key's tail: `field-display_name`.
    pub name: &'static str,
    pub old: Value,
    pub new: Value,
}

fn diff(out: &mut Vec<Field>, name: &'static str, old: Value, new: Value) {
    if old != new {
        out.push(Field { name, old, new });
    }
}

fn text(s: &str) -> Value {
    if s.is_empty() { Value::Empty } else { Value::Text(s.to_owned()) }
}

fn list<T: std::fmt::Display>(items: impl IntoIterator<Item = T>) -> Value {
    let v: Vec<String> = items.into_iter().map(|i| i.to_string()).collect();
    if v.is_empty() { Value::Empty } else { Value::Text(v.join(", ")) }
}

fn policy_key(p: pochta_directory::PostingPolicy) -> &'static str {
    match p {
        pochta_directory::PostingPolicy::Anyone => "policy-anyone",
        pochta_directory::PostingPolicy::Internal => "policy-internal",
        pochta_directory::PostingPolicy::Members => "policy-members",
    }
}

fn kind_key(k: GroupKind) -> &'static str {
    match k {
        GroupKind::Alias => "kind-alias",
        GroupKind::List => "kind-list",
    }
}

/// One thing that happened, for a page to say.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    SiteCreated {
        site: SiteId,
        level: u8,
    },
    SiteChanged {
        site: SiteId,
        fields: Vec<Field>,
    },
    SiteDeleted {
        site: SiteId,
    },
    UserCreated {
        name: LocalPart,
        site: SiteId,
        enabled: bool,
    },
    UserMoved {
        name: LocalPart,
        from: SiteId,
        to: SiteId,
    },
    UserDisabled {
        name: LocalPart,
    },
    UserEnabled {
        name: LocalPart,
    },
    /// Other fields of an existing user (empty: saved as it was).
    UserChanged {
        name: LocalPart,
        fields: Vec<Field>,
    },
    UserDeleted {
        name: LocalPart,
        site: Option<SiteId>,
    },
    PasswordChanged {
        name: LocalPart,
    },
    PasswordRemoved {
        name: LocalPart,
    },
    AppPasswordAdded {
        name: LocalPart,
        label: String,
    },
    AppPasswordRevoked {
        name: LocalPart,
        label: String,
    },
    GroupCreated {
        name: LocalPart,
        kind: GroupKind,
        members: usize,
    },
    MemberAdded {
        group: LocalPart,
        member: Address,
    },
    MemberRemoved {
        group: LocalPart,
        member: Address,
    },
    GroupChanged {
        name: LocalPart,
        kind: GroupKind,
        fields: Vec<Field>,
    },
    GroupDeleted {
        name: LocalPart,
    },
    DkimKey {
        selector: Selector,
        state: KeyState,
        algorithm: String,
    },
    DkimDeleted {
        selector: Selector,
    },
    Settings {
        unicode_names: bool,
    },
}

fn user_fields(old: &User, new: &User) -> Vec<Field> {
    let mut f = Vec::new();
    diff(&mut f, "display_name", text(&old.display_name), text(&new.display_name));
    diff(&mut f, "quota", Value::Size(old.mailbox.quota), Value::Size(new.mailbox.quota));
    let fwd = |u: &User| u.mailbox.forward.as_ref().map_or(Value::Empty, |x| list(&x.to));
    diff(&mut f, "forward", fwd(old), fwd(new));
    let keep = |u: &User| u.mailbox.forward.as_ref().is_some_and(|x| x.keep_copy);
    if new.mailbox.forward.is_some() {
        diff(&mut f, "forward_keep_copy", Value::On(keep(old)), Value::On(keep(new)));
    }
    let vacation =
        |u: &User| u.mailbox.vacation.as_ref().map_or(Value::Empty, |v| Value::Text(v.subject.clone()));
    diff(&mut f, "vacation", vacation(old), vacation(new));
    if old.mailbox.vacation.is_some()
        && new.mailbox.vacation.is_some()
        && old.mailbox.vacation != new.mailbox.vacation
        && vacation(old) == vacation(new)
    {
        // Same subject, other text or dates: say that it changed without quoting the text.
        f.push(Field { name: "vacation_text", old: Value::Empty, new: Value::Empty });
    }
    f
}

fn site_fields(old: &Site, new: &Site) -> Vec<Field> {
    let mut f = Vec::new();
    diff(&mut f, "site_name", text(&old.name), text(&new.name));
    diff(
        &mut f,
        "level",
        Value::Text(u8::from(old.level).to_string()),
        Value::Text(u8::from(new.level).to_string()),
    );
    diff(&mut f, "default_quota", Value::Size(old.default_quota), Value::Size(new.default_quota));
    diff(&mut f, "outgoing", list(&old.outgoing), list(&new.outgoing));
    diff(&mut f, "agents", list(old.agents.iter().map(|a| &a.id)), list(new.agents.iter().map(|a| &a.id)));
    f
}

/// What one op did, given the record it replaced.
pub fn changes(op: &Op, before: Option<&Record>) -> Vec<Change> {
    match (op, before) {
        (Op::PutSite(s), Some(Record::Site(old))) => {
            vec![Change::SiteChanged { site: s.id.clone(), fields: site_fields(old, s) }]
        }
        (Op::PutSite(s), _) => vec![Change::SiteCreated { site: s.id.clone(), level: s.level.into() }],
        (Op::DeleteSite { id }, _) => vec![Change::SiteDeleted { site: id.clone() }],
        (Op::PutUser(u), Some(Record::User(old))) => {
            let mut out = Vec::new();
            if old.site != u.site {
                out.push(Change::UserMoved {
                    name: u.name.clone(),
                    from: old.site.clone(),
                    to: u.site.clone(),
                });
            }
            match (old.enabled, u.enabled) {
                (true, false) => out.push(Change::UserDisabled { name: u.name.clone() }),
                (false, true) => out.push(Change::UserEnabled { name: u.name.clone() }),
                _ => {}
            }
            if u.password.is_some() {
                out.push(Change::PasswordChanged { name: u.name.clone() });
            }
            let had = |apps: &[pochta_directory::AppPassword], id| apps.iter().any(|a| a.id == id);
            for a in u.app_passwords.iter().filter(|a| !had(&old.app_passwords, a.id)) {
                out.push(Change::AppPasswordAdded { name: u.name.clone(), label: a.label.clone() });
            }
            for a in old.app_passwords.iter().filter(|a| !had(&u.app_passwords, a.id)) {
                out.push(Change::AppPasswordRevoked { name: u.name.clone(), label: a.label.clone() });
            }
            let fields = user_fields(old, u);
            if !fields.is_empty() || out.is_empty() {
                out.push(Change::UserChanged { name: u.name.clone(), fields });
            }
            out
        }
        (Op::PutUser(u), _) => {
            vec![Change::UserCreated { name: u.name.clone(), site: u.site.clone(), enabled: u.enabled }]
        }
        (Op::SetPassword { name, hash: Some(_) }, _) => vec![Change::PasswordChanged { name: name.clone() }],
        (Op::SetPassword { name, hash: None }, _) => vec![Change::PasswordRemoved { name: name.clone() }],
        (Op::DeleteUser { name }, b) => vec![Change::UserDeleted {
            name: name.clone(),
            site: match b {
                Some(Record::User(old)) => Some(old.site.clone()),
                _ => None,
            },
        }],
        (Op::PutGroup(g), Some(Record::Group(old))) => {
            let mut out: Vec<Change> = g
                .members
                .difference(&old.members)
                .map(|m| Change::MemberAdded { group: g.name.clone(), member: m.clone() })
                .chain(
                    old.members
                        .difference(&g.members)
                        .map(|m| Change::MemberRemoved { group: g.name.clone(), member: m.clone() }),
                )
                .collect();
            let mut fields = Vec::new();
            diff(&mut fields, "kind", Value::Key(kind_key(old.kind)), Value::Key(kind_key(g.kind)));
            diff(&mut fields, "description", text(&old.description), text(&g.description));
            diff(&mut fields, "policy", Value::Key(policy_key(old.policy)), Value::Key(policy_key(g.policy)));
            if !fields.is_empty() || out.is_empty() {
                out.push(Change::GroupChanged { name: g.name.clone(), kind: g.kind, fields });
            }
            out
        }
        (Op::PutGroup(g), _) => {
            vec![Change::GroupCreated { name: g.name.clone(), kind: g.kind, members: g.members.len() }]
        }
        (Op::DeleteGroup { name }, _) => vec![Change::GroupDeleted { name: name.clone() }],
        (Op::PutDkimKey(k), _) => vec![Change::DkimKey {
            selector: k.selector.clone(),
            state: k.state,
            algorithm: serde_json::to_value(k.algorithm)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
        }],
        (Op::DeleteDkimKey { selector }, _) => vec![Change::DkimDeleted { selector: selector.clone() }],
        (Op::PutSettings(s), _) => vec![Change::Settings { unicode_names: s.unicode_names }],
    }
}

/// What one op did when the record it replaced is not known (sets written before the log
/// kept priors): a put says "saved", never "created".
pub fn changes_unknown_prior(op: &Op) -> Vec<Change> {
    match op {
        Op::PutSite(s) => vec![Change::SiteChanged { site: s.id.clone(), fields: vec![] }],
        Op::PutUser(u) => vec![Change::UserChanged { name: u.name.clone(), fields: vec![] }],
        Op::PutGroup(g) => vec![Change::GroupChanged { name: g.name.clone(), kind: g.kind, fields: vec![] }],
        op => changes(op, None),
    }
}

/// Why a change set cannot be undone as a new one.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RevertError {
    /// Written before the log kept prior records.
    #[error("version {0} was written before the history kept what a change replaced; change it back by hand")]
    NoPrior(u64),
    #[error("DKIM keys are changed on the DNS page, not by reverting")]
    Dkim,
    /// Later sets changed the same records: undoing this one would silently undo those too.
    #[error("later changes touch the same records (versions {}); revert those first", join(.0))]
    ChangedSince(Vec<u64>),
    #[error("the revert would not apply: {0}")]
    Directory(#[from] DirectoryError),
    /// Putting back what the set replaced changes nothing now (an agent's enrollment: the
    /// agents a site has are never reverted).
    #[error("version {0} has nothing to put back: the directory is already as it was")]
    Nothing(u64),
}

fn join(versions: &[u64]) -> String {
    versions.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
}

/// The object tags of a set, for finding later sets that touch the same records.
pub fn objects(ops: &[Op]) -> BTreeSet<String> {
    ops.iter().map(|op| object_tag(op).to_lowercase()).collect()
}

/// The ops that put back what `ops` (set `version`) replaced, checked against `now`. A user
/// whose home the revert changes moves back as any move does: the site he leaves becomes a
/// former site, so the letters already moved there follow him.
pub fn revert_ops(
    now: &Directory,
    version: u64,
    ops: &[Op],
    priors: &[Option<Record>],
) -> Result<Vec<Op>, RevertError> {
    if priors.len() != ops.len() {
        return Err(RevertError::NoPrior(version));
    }
    let mut out = Vec::new();
    for (op, before) in ops.iter().zip(priors).rev() {
        let undo = match (op, before) {
            (Op::PutDkimKey(_) | Op::DeleteDkimKey { .. }, _) => return Err(RevertError::Dkim),
            (Op::PutSite(s), None) => Op::DeleteSite { id: s.id.clone() },
            (Op::PutSite(_) | Op::DeleteSite { .. }, Some(Record::Site(old))) => {
                // Agents enrolled since stay enrolled; a site brought back has none until one enrolls.
                let agents = now.site(&old.id).map(|s| s.agents.clone()).unwrap_or_default();
                Op::PutSite(Site { agents, ..old.clone() })
            }
            (Op::PutUser(u), None) => Op::DeleteUser { name: u.name.clone() },
            (Op::PutUser(_) | Op::DeleteUser { .. } | Op::SetPassword { .. }, Some(Record::User(old))) => {
                match (op, now.user(&old.name)) {
                    (Op::SetPassword { .. }, _) => {
                        Op::SetPassword { name: old.name.clone(), hash: old.password.clone() }
                    }
                    (_, Some(cur)) if cur.site != old.site => {
                        let mut back = old.clone();
                        back.former_sites.extend(cur.former_sites.iter().cloned());
                        back.former_sites.insert(cur.site.clone());
                        back.former_sites.remove(&old.site);
                        back.app_passwords = cur.app_passwords.clone();
                        Op::PutUser(back)
                    }
                    // A revert never brings back a revoked app password (nor drops one made
                    // since): the user's app passwords stay as they are now, none if he is gone.
                    (_, cur) => Op::PutUser(pochta_directory::User {
                        app_passwords: cur.map(|c| c.app_passwords.clone()).unwrap_or_default(),
                        ..old.clone()
                    }),
                }
            }
            (Op::PutGroup(g), None) => Op::DeleteGroup { name: g.name.clone() },
            (Op::PutGroup(_) | Op::DeleteGroup { .. }, Some(Record::Group(old))) => Op::PutGroup(old.clone()),
            (Op::PutSettings(_), Some(Record::Settings(old))) => Op::PutSettings(old.clone()),
            // A delete of nothing, or a prior of another kind: the log does not say what to put back.
            _ => return Err(RevertError::NoPrior(version)),
        };
        out.push(undo);
    }
    let mut check = now.clone();
    check.apply_all(&out)?;
    if check == *now {
        return Err(RevertError::Nothing(version));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use pochta_directory::{Domain, Level, PostingPolicy};

    use super::*;

    fn name(s: &str) -> LocalPart {
        LocalPart::parse(s).unwrap()
    }
    fn site_id(s: &str) -> SiteId {
        SiteId::parse(s).unwrap()
    }
    fn site(id: &str) -> Site {
        Site {
            id: site_id(id),
            name: id.into(),
            level: Level::One,
            agents: vec![],
            default_quota: None,
            outgoing: vec![],
        }
    }
    fn user(n: &str, at: &str) -> User {
        User {
            app_passwords: Vec::new(),
            name: name(n),
            display_name: String::new(),
            site: site_id(at),
            former_sites: Default::default(),
            password: None,
            enabled: true,
            mailbox: Default::default(),
        }
    }
    fn addr(s: &str) -> Address {
        Address::parse(s).unwrap()
    }

    /// Applies `ops` as the publisher does, returning the priors it would store.
    fn commit(dir: &mut Directory, ops: &[Op]) -> Vec<Option<Record>> {
        ops.iter()
            .map(|op| {
                let p = prior(dir, op);
                dir.apply(op).unwrap();
                p
            })
            .collect()
    }

    fn dir() -> Directory {
        let mut d = Directory::new(Domain::parse("example.org").unwrap());
        commit(
            &mut d,
            &[Op::PutSite(site("hq")), Op::PutSite(site("spb")), Op::PutUser(user("ivanov", "hq"))],
        );
        d
    }

    #[test]
    fn a_move_and_a_disable_in_one_put_are_both_told_with_the_fields_that_changed() {
        let mut d = dir();
        let mut u = user("ivanov", "spb");
        u.former_sites.insert(site_id("hq"));
        u.enabled = false;
        u.display_name = "Иван Иванов".into();
        let ops = [Op::PutUser(u)];
        let priors = commit(&mut d, &ops);
        let ch = changes(&ops[0], priors[0].as_ref());
        assert_eq!(
            ch[0],
            Change::UserMoved { name: name("ivanov"), from: site_id("hq"), to: site_id("spb") }
        );
        assert_eq!(ch[1], Change::UserDisabled { name: name("ivanov") });
        assert_eq!(
            ch[2],
            Change::UserChanged {
                name: name("ivanov"),
                fields: vec![Field {
                    name: "display_name",
                    old: Value::Empty,
                    new: Value::Text("Иван Иванов".into())
                }]
            }
        );
        assert_eq!(ch.len(), 3, "no 'changed' line beyond the fields: {ch:?}");
        let t = tags(&ops, &priors);
        for tag in [" kind:user ", " user:ivanov ", " obj:ivanov ", " at:hq ", " at:spb "] {
            assert!(t.contains(tag), "{tag} in {t}");
        }
    }

    #[test]
    fn membership_changes_name_each_address_and_tag_it() {
        let mut d = dir();
        let g = Group {
            name: name("sales"),
            kind: GroupKind::List,
            description: String::new(),
            members: [addr("ivanov@example.org")].into(),
            policy: PostingPolicy::Internal,
        };
        commit(&mut d, &[Op::PutGroup(g.clone())]);
        let next =
            Group { members: [addr("petrov@example.net")].into(), policy: PostingPolicy::Members, ..g };
        let ops = [Op::PutGroup(next)];
        let priors = commit(&mut d, &ops);
        let ch = changes(&ops[0], priors[0].as_ref());
        assert!(
            ch.contains(&Change::MemberAdded { group: name("sales"), member: addr("petrov@example.net") })
        );
        assert!(
            ch.contains(&Change::MemberRemoved { group: name("sales"), member: addr("ivanov@example.org") })
        );
        assert!(matches!(&ch[2], Change::GroupChanged { fields, .. } if fields[0].name == "policy"));
        let t = tags(&ops, &priors);
        assert!(t.contains(" obj:petrov@example.net ") && t.contains(" obj:ivanov "), "{t}");
    }

    #[test]
    fn a_revert_puts_back_each_record_and_a_revert_of_a_move_is_a_move_back() {
        let mut d = dir();
        let mut moved = user("ivanov", "spb");
        moved.former_sites.insert(site_id("hq"));
        let ops =
            [Op::PutUser(moved), Op::PutUser(user("petrov", "hq")), Op::DeleteSite { id: site_id("hq") }];
        // (hq cannot go while petrov is there: commit the first two only, then a site of its own.)
        let priors = commit(&mut d, &ops[..2]);
        let undo = revert_ops(&d, 7, &ops[..2], &priors).unwrap();
        assert_eq!(undo[0], Op::DeleteUser { name: name("petrov") }, "created: deleted, last op first");
        let Op::PutUser(back) = &undo[1] else { panic!("{undo:?}") };
        assert_eq!(back.site, site_id("hq"));
        assert_eq!(back.former_sites, [site_id("spb")].into(), "the site he leaves keeps his address");
        d.apply_all(&undo).unwrap();
        assert!(d.user(&name("petrov")).is_none());

        // A site deleted comes back; settings come back; DKIM and unknown priors are refused.
        let del = [Op::DeleteSite { id: site_id("spb") }];
        let mut d2 = d.clone();
        d2.apply(&Op::PutUser(User { former_sites: Default::default(), ..user("ivanov", "hq") })).unwrap();
        let p = commit(&mut d2, &del);
        assert_eq!(revert_ops(&d2, 8, &del, &p).unwrap(), vec![Op::PutSite(site("spb"))]);
        assert_eq!(revert_ops(&d2, 8, &del, &[]), Err(RevertError::NoPrior(8)));
        let set = [Op::PutSettings(DomainSettings { unicode_names: true })];
        let p = commit(&mut d2, &set);
        assert_eq!(revert_ops(&d2, 9, &set, &p).unwrap(), vec![Op::PutSettings(DomainSettings::default())]);
        let dkim = [Op::DeleteDkimKey { selector: Selector::parse("s1").unwrap() }];
        assert_eq!(revert_ops(&d2, 10, &dkim, &[None]), Err(RevertError::Dkim));
    }

    #[test]
    fn app_passwords_are_told_by_name_and_a_revert_never_brings_a_revoked_one_back() {
        use pochta_directory::{AppDigest, AppPassword};
        let app = |id, label: &str| AppPassword {
            id,
            label: label.into(),
            digest: AppDigest::of(label),
            created: 0,
        };
        let mut d = dir();
        let mut u = user("ivanov", "hq");
        u.app_passwords = vec![app(1, "Phone")];
        commit(&mut d, &[Op::PutUser(u.clone())]);
        // Renamed, and the phone's password swapped for the laptop's, in one put.
        u.display_name = "Иван".into();
        u.app_passwords = vec![app(2, "Laptop")];
        let ops = [Op::put_user_keeping_password(&u)];
        let priors = commit(&mut d, &ops);
        let ch = changes(&ops[0], priors[0].as_ref());
        assert!(
            ch.contains(&Change::AppPasswordAdded { name: name("ivanov"), label: "Laptop".into() }),
            "{ch:?}"
        );
        assert!(
            ch.contains(&Change::AppPasswordRevoked { name: name("ivanov"), label: "Phone".into() }),
            "{ch:?}"
        );
        // Reverting puts the name back and keeps the app passwords as they are now.
        let undo = revert_ops(&d, 3, &ops, &priors).unwrap();
        let Op::PutUser(back) = &undo[0] else { panic!("{undo:?}") };
        assert_eq!(back.display_name, "");
        assert_eq!(back.app_passwords, vec![app(2, "Laptop")], "the revoked phone stays revoked");
        // A change of app passwords alone has nothing to revert.
        let mut only = d.user(&name("ivanov")).unwrap().clone();
        only.app_passwords.clear();
        let ops = [Op::put_user_keeping_password(&only)];
        let priors = commit(&mut d, &ops);
        assert_eq!(revert_ops(&d, 4, &ops, &priors), Err(RevertError::Nothing(4)));
    }

    #[test]
    fn reverting_an_enrollment_is_nothing_to_put_back() {
        let mut d = dir();
        let enrolled = Site {
            agents: vec![pochta_directory::AgentEndpoint {
                id: "hq-1".into(),
                url: String::new(),
                tls_sha256: String::new(),
                smtp: String::new(),
            }],
            ..site("hq")
        };
        let ops = [Op::PutSite(enrolled)];
        let priors = commit(&mut d, &ops);
        assert_eq!(revert_ops(&d, 5, &ops, &priors), Err(RevertError::Nothing(5)));
    }

    #[test]
    fn a_revert_that_no_longer_applies_is_refused_with_the_directorys_reason() {
        let mut d = dir();
        let ops = [Op::DeleteUser { name: name("ivanov") }];
        let priors = commit(&mut d, &ops);
        // The site he lived at went since: he cannot come back to it.
        d.apply(&Op::DeleteSite { id: site_id("hq") }).unwrap();
        assert!(matches!(
            revert_ops(&d, 4, &ops, &priors),
            Err(RevertError::Directory(DirectoryError::NoSuchSite(_)))
        ));
    }
}
