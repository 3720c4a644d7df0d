//! The workload generator: a simulated day of mail compressed into a few seconds, shaped like an
//! office's day, with intra-site, inter-site, list, external-in (some of it spam to unknown
//! recipients) and external-out letters; and the statistics the report prints.

use std::collections::BTreeMap;

use pochta_server::demo::seed;

use crate::bed::{Bed, DOMAIN};
use crate::net;
use crate::smtp::Letter;

/// Letters per simulated hour, relative (an office day: quiet nights, busy mornings).
const HOURS: [u32; 24] = [1, 0, 0, 0, 0, 1, 2, 4, 8, 10, 10, 9, 6, 8, 10, 9, 8, 6, 3, 2, 2, 1, 1, 1];

pub(crate) struct Rng(u64);
impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub(crate) fn pick(&mut self, v: &[String]) -> String {
        v[self.below(v.len())].clone()
    }
}

/// What kind of letter, for the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    Intra,
    Inter,
    List,
    ExternalIn,
    Spam,
}

/// One day's letters, by the namespace host they are sent from ("hq", "branch", "inet").
pub(crate) struct Day {
    pub batches: BTreeMap<&'static str, Vec<Letter>>,
    pub kinds: BTreeMap<String, Kind>,
    /// Where each letter was submitted (site name, or "internet").
    pub origin: BTreeMap<String, &'static str>,
}

pub(crate) fn addr(user: &str) -> String {
    format!("{user}@{DOMAIN}")
}

/// `letters` letters spread over `secs` seconds.
pub(crate) fn day(bed: &Bed, letters: usize, secs: f64, seed_value: u64) -> Day {
    let mut rng = Rng::new(seed_value);
    let hq = bed.users_at(seed::HEAD_OFFICE);
    let br = bed.users_at(seed::BRANCH);
    let lists = vec!["news".to_owned(), crate::TRI.to_owned()];
    let total: u32 = HOURS.iter().sum();
    let mut d = Day { batches: BTreeMap::new(), kinds: BTreeMap::new(), origin: BTreeMap::new() };
    let mut n = 0;
    for (hour, weight) in HOURS.iter().enumerate() {
        let count = (letters as f64 * *weight as f64 / total as f64).round() as usize;
        for _ in 0..count {
            n += 1;
            let id = format!("d{seed_value}n{n}");
            let at = (hour as f64 + rng.unit()) / 24.0 * secs;
            let r = rng.below(100);
            // 35% intra-site, 25% inter-site, 10% list, 20% external in, 10% spam.
            let (host, server, from, to, kind) = if r < 35 {
                if rng.below(5) == 0 {
                    ("branch", net::BRANCH, addr(&rng.pick(&br)), addr(&rng.pick(&br)), Kind::Intra)
                } else {
                    ("hq", net::HQ, addr(&rng.pick(&hq)), addr(&rng.pick(&hq)), Kind::Intra)
                }
            } else if r < 60 {
                if rng.below(2) == 0 {
                    ("branch", net::BRANCH, addr(&rng.pick(&br)), addr(&rng.pick(&hq)), Kind::Inter)
                } else {
                    ("hq", net::HQ, addr(&rng.pick(&hq)), addr(&rng.pick(&br)), Kind::Inter)
                }
            } else if r < 70 {
                ("hq", net::HQ, addr(&rng.pick(&hq)), addr(&rng.pick(&lists)), Kind::List)
            } else if r < 90 {
                let all: Vec<String> = hq.iter().chain(br.iter()).cloned().collect();
                ("inet", net::GW, "someone@outside.test".into(), addr(&rng.pick(&all)), Kind::ExternalIn)
            } else {
                ("inet", net::GW, "spammer@outside.test".into(), addr(&format!("no.such.{n}")), Kind::Spam)
            };
            let size = 800 + rng.below(6000);
            d.kinds.insert(id.clone(), kind);
            d.origin.insert(
                id.clone(),
                match host {
                    "inet" => "internet",
                    "hq" => seed::HEAD_OFFICE,
                    _ => seed::BRANCH,
                },
            );
            d.batches.entry(host).or_default().push(Letter {
                id,
                server: format!("{server}:25"),
                from,
                to: vec![to],
                size,
                at,
                body: None,
                headers: String::new(),
            });
        }
    }
    for b in d.batches.values_mut() {
        b.sort_by(|a, b| a.at.total_cmp(&b.at));
    }
    d
}

/// p-th percentile (0..=100) of sorted values.
pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}
