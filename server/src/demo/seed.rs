//! A directory like the paper's test network: three sites (levels 0, 1, 2), a bit over a hundred
//! users, about thirty aliases and lists. Used by the demo, the tests and the benchmarks.

use std::collections::BTreeSet;

use pochta_directory::{
    Address, Directory, Group, GroupKind, Level, LocalPart, Op, PostingPolicy, Site, SiteId, User,
};

pub const GATEWAY: &str = "gw";
pub const HEAD_OFFICE: &str = "hq";
pub const BRANCH: &str = "branch";

const SURNAMES: &[&str] = &[
    "ivanov",
    "petrov",
    "sidorov",
    "smirnov",
    "kuznetsov",
    "popov",
    "vasiliev",
    "sokolov",
    "mikhailov",
    "novikov",
    "fedorov",
    "morozov",
    "volkov",
    "alekseev",
    "lebedev",
    "semenov",
    "egorov",
    "pavlov",
    "kozlov",
    "stepanov",
    "nikolaev",
    "orlov",
    "andreev",
    "makarov",
    "nikitin",
    "zakharov",
    "zaitsev",
    "soloviev",
    "borisov",
    "yakovlev",
    "grigoriev",
    "romanov",
    "vorobiev",
    "sergeev",
    "kuzmin",
    "frolov",
    "aleksandrov",
    "dmitriev",
    "korolev",
    "gusev",
    "kiselev",
    "ilyin",
    "maksimov",
    "polyakov",
    "sorokin",
    "vinogradov",
    "kovalev",
    "belov",
    "medvedev",
    "antonov",
    "tarasov",
    "zhukov",
    "baranov",
    "filippov",
];
const INITIALS: &[&str] = &["a", "b", "d", "e", "i", "k", "m", "n", "o", "p", "s", "t", "v"];
/// First names, one per initial above, and whether the name is a woman's (her surname then
/// takes the feminine form: Иванов → Иванова).
const FIRST: &[(&str, bool)] = &[
    ("Александр", false),
    ("Борис", false),
    ("Дмитрий", false),
    ("Елена", true),
    ("Ирина", true),
    ("Константин", false),
    ("Мария", true),
    ("Наталья", true),
    ("Ольга", true),
    ("Павел", false),
    ("Сергей", false),
    ("Татьяна", true),
    ("Владимир", false),
];

/// The surnames above in Cyrillic, in the same order (the masculine form).
const SURNAMES_RU: &[&str] = &[
    "Иванов",
    "Петров",
    "Сидоров",
    "Смирнов",
    "Кузнецов",
    "Попов",
    "Васильев",
    "Соколов",
    "Михайлов",
    "Новиков",
    "Фёдоров",
    "Морозов",
    "Волков",
    "Алексеев",
    "Лебедев",
    "Семёнов",
    "Егоров",
    "Павлов",
    "Козлов",
    "Степанов",
    "Николаев",
    "Орлов",
    "Андреев",
    "Макаров",
    "Никитин",
    "Захаров",
    "Зайцев",
    "Соловьёв",
    "Борисов",
    "Яковлев",
    "Григорьев",
    "Романов",
    "Воробьёв",
    "Сергеев",
    "Кузьмин",
    "Фролов",
    "Александров",
    "Дмитриев",
    "Королёв",
    "Гусев",
    "Киселёв",
    "Ильин",
    "Максимов",
    "Поляков",
    "Сорокин",
    "Виноградов",
    "Ковалёв",
    "Белов",
    "Медведев",
    "Антонов",
    "Тарасов",
    "Жуков",
    "Баранов",
    "Филиппов",
];

/// "Иванов" for him, "Иванова" for her: every surname here ends in -ов, -ев, -ёв or -ин.
fn surname_for(masculine: &str, woman: bool) -> String {
    if woman { format!("{masculine}а") } else { masculine.to_owned() }
}

fn name(s: &str) -> LocalPart {
    LocalPart::parse(s).expect("seed names are valid")
}
fn site(s: &str) -> SiteId {
    SiteId::parse(s).expect("seed sites are valid")
}

/// The seed users as (login, display name, site). Deterministic. Display names are Russian,
/// with a woman's surname in its feminine form ("Елена Иванова"); logins stay Latin.
pub fn users(count: usize) -> Vec<(String, String, &'static str)> {
    (0..count)
        .map(|i| {
            let surname = SURNAMES[i % SURNAMES.len()];
            let k = (i / SURNAMES.len()) % INITIALS.len();
            let login = format!("{}.{}", INITIALS[(i + k) % INITIALS.len()], surname);
            let (first, woman) = FIRST[(i + k) % FIRST.len()];
            let display = surname_for(SURNAMES_RU[i % SURNAMES_RU.len()], woman);
            // Roughly the paper's split: most users at the head office, a fifth at the branch.
            let home = if i % 5 == 4 { BRANCH } else { HEAD_OFFICE };
            (login, format!("{first} {display}"), home)
        })
        .collect()
}

pub fn sites() -> Vec<Op> {
    vec![
        Op::PutSite(Site {
            id: site(GATEWAY),
            name: "Gateway".into(),
            level: Level::Zero,
            agents: vec![],
            default_quota: None,
            outgoing: vec![],
        }),
        Op::PutSite(Site {
            id: site(HEAD_OFFICE),
            name: "Head office".into(),
            level: Level::One,
            agents: vec![],
            default_quota: None,
            outgoing: vec![],
        }),
        Op::PutSite(Site {
            id: site(BRANCH),
            name: "Branch office".into(),
            level: Level::Two,
            agents: vec![],
            default_quota: None,
            outgoing: vec![],
        }),
    ]
}

/// User records; `hash` gives each login its password hash (or none).
pub fn user_ops(
    count: usize,
    mut hash: impl FnMut(&str) -> Option<pochta_directory::PasswordHash>,
) -> Vec<Op> {
    users(count)
        .into_iter()
        .map(|(login, display, home)| {
            Op::PutUser(User {
                app_passwords: Vec::new(),
                password: hash(&login),
                name: name(&login),
                display_name: display,
                site: site(home),
                former_sites: BTreeSet::new(),
                enabled: true,
                mailbox: Default::default(),
            })
        })
        .collect()
}

/// About thirty aliases and lists over the users in `dir` (sites and users must be in it).
pub fn group_ops(dir: &Directory) -> Vec<Op> {
    if dir.users.is_empty() {
        return vec![];
    }
    let addr = |local: &str| Address::new(name(local), dir.domain.clone());
    let logins: Vec<&LocalPart> = dir.users.keys().collect();
    let take = |from: usize, n: usize| -> BTreeSet<Address> {
        (0..n).map(|i| dir.official(logins[(from + i * 7) % logins.len()])).collect()
    };
    let group = |n: &str, kind, policy, description: &str, members: BTreeSet<Address>| {
        Op::PutGroup(Group { name: name(n), kind, description: description.into(), members, policy })
    };
    let mut ops = Vec::new();
    for (i, a) in ["postmaster", "abuse", "hostmaster", "webmaster", "security", "noc"].iter().enumerate() {
        ops.push(group(a, GroupKind::Alias, PostingPolicy::Anyone, "Role address", take(i, 2)));
    }
    let departments = [
        ("sales", "Sales"),
        ("support", "Customer support"),
        ("dev", "Development"),
        ("qa", "Quality assurance"),
        ("accounting", "Accounting"),
        ("hr", "Human resources"),
        ("legal", "Legal"),
        ("marketing", "Marketing"),
        ("procurement", "Procurement"),
        ("logistics", "Logistics"),
        ("it", "IT department"),
        ("research", "Research"),
    ];
    for (i, (n, d)) in departments.iter().enumerate() {
        ops.push(group(n, GroupKind::List, PostingPolicy::Internal, d, take(i * 11, 4 + i % 6)));
    }
    let partner = Address::parse("partner@example.net").expect("valid");
    let mut external = take(3, 3);
    external.insert(partner);
    ops.push(group("partners", GroupKind::List, PostingPolicy::Members, "Shared with our partner", external));
    ops.push(group("board", GroupKind::List, PostingPolicy::Members, "Board of directors", take(1, 5)));
    ops.push(group(
        "managers",
        GroupKind::List,
        PostingPolicy::Internal,
        "All department heads",
        departments.iter().take(6).map(|(n, _)| addr(n)).collect(),
    ));
    ops.push(group(
        "engineering",
        GroupKind::List,
        PostingPolicy::Internal,
        "Development, QA and IT",
        ["dev", "qa", "it"].iter().map(|n| addr(n)).collect(),
    ));
    ops.push(group(
        "everyone",
        GroupKind::List,
        PostingPolicy::Internal,
        "Both offices",
        [format!("all@{HEAD_OFFICE}.{}", dir.domain), format!("all@{BRANCH}.{}", dir.domain)]
            .iter()
            .map(|a| Address::parse(a).expect("valid"))
            .collect(),
    ));
    ops.push(group("news", GroupKind::List, PostingPolicy::Anyone, "Company newsletter", take(5, 12)));
    ops.push(group(
        "info",
        GroupKind::Alias,
        PostingPolicy::Anyone,
        "Public contact",
        BTreeSet::from([addr("sales"), addr("support")]),
    ));
    ops.push(group(
        "jobs",
        GroupKind::Alias,
        PostingPolicy::Anyone,
        "Job applications",
        BTreeSet::from([addr("hr")]),
    ));
    ops.push(group(
        "billing",
        GroupKind::Alias,
        PostingPolicy::Anyone,
        "Invoices",
        BTreeSet::from([addr("accounting")]),
    ));
    ops.push(group(
        "helpdesk",
        GroupKind::Alias,
        PostingPolicy::Anyone,
        "Internal help desk",
        BTreeSet::from([addr("it")]),
    ));
    ops.push(group("office", GroupKind::List, PostingPolicy::Internal, "Office matters", take(9, 6)));
    ops
}

#[cfg(test)]
mod seed_names {
    use super::*;

    #[test]
    fn russian_names_with_feminine_surnames() {
        assert_eq!(SURNAMES.len(), SURNAMES_RU.len());
        let all = users(120);
        assert!(all.iter().any(|(_, d, _)| d == "Александр Иванов"), "{:?}", &all[..3]);
        assert!(
            all.iter().any(|(l, d, _)| l.starts_with("e.") && d.starts_with("Елена ") && d.ends_with('а'))
        );
        assert!(all.iter().all(|(l, _, _)| l.is_ascii()));
    }
}
