//! `scripts/testbed-report`: the paper's experiment on the test bed. A simulated day of mail
//! (compressed to `TB_DAY_SECS`, default 60 s) with edits through the JSON API, then the paper's
//! table per server, a per-link traffic table and letter latencies, beside the paper's figures.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, UNIX_EPOCH};

use pochta_server::demo::seed;

use crate::bed::Bed;
use crate::scenarios::{turn, wait_delivered};
use crate::smtp::send_from;
use crate::workload::{self, Kind, percentile};

#[test]
#[ignore = "the report: scripts/testbed-report"]
fn report() {
    let _t = turn();
    let day_secs: f64 = std::env::var("TB_DAY_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(60.0);
    let letters: usize = std::env::var("TB_LETTERS").ok().and_then(|s| s.parse().ok()).unwrap_or(400);
    let mut bed = Bed::new();
    // Idle replication cost first: 10 s with no edits and no mail.
    let idle0 = bed.net.all_bytes();
    std::thread::sleep(Duration::from_secs(10));
    let idle: BTreeMap<_, _> = bed.net.all_bytes().into_iter().map(|(k, v)| (k, v.minus(idle0[k]))).collect();
    let m0: BTreeMap<_, _> = ["gw", "hq", "branch"].map(|s| (s, bed.metrics(s))).into_iter().collect();
    let b0 = bed.net.all_bytes();
    let day = workload::day(&bed, letters, day_secs, 1);
    let start = Instant::now();
    let edits = 20;
    let mut propagation = Vec::new();
    let sent = std::thread::scope(|s| {
        let handles: Vec<_> = day
            .batches
            .iter()
            .map(|(host, batch)| {
                let (ns, base) = (bed.net.ns(host), bed.base.clone());
                s.spawn(move || send_from(&ns, &base, batch, 8))
            })
            .collect();
        // Edits spread over the day, each timed until the branch (behind the slow link) has it.
        let bed = &mut bed;
        for i in 0..edits {
            let at = Duration::from_secs_f64(day_secs * (i as f64 + 0.5) / edits as f64);
            std::thread::sleep(at.saturating_sub(start.elapsed()));
            let v = bed.add_user(&format!("day.user{i}"), seed::HEAD_OFFICE);
            let t = Instant::now();
            while bed.version("branch").is_none_or(|have| have < v) && t.elapsed() < Duration::from_secs(30) {
                std::thread::sleep(Duration::from_millis(10));
            }
            propagation.push(t.elapsed().as_secs_f64());
        }
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect::<Vec<_>>()
    });
    let accepted: Vec<_> = sent.iter().filter(|s| s.data == 250).collect();
    let mut want = BTreeMap::new();
    for s in &accepted {
        let n = match day.kinds[&s.id] {
            Kind::List => 0, // lists: any number of copies; not waited for
            _ => 1,
        };
        if n > 0 {
            want.insert(s.id.clone(), n);
        }
    }
    wait_delivered(&bed, &want, Duration::from_secs(120));
    std::thread::sleep(Duration::from_secs(2));
    let elapsed = start.elapsed().as_secs_f64();
    let d: BTreeMap<_, _> = bed.net.all_bytes().into_iter().map(|(k, v)| (k, v.minus(b0[k]))).collect();
    let have = bed.deliveries();
    // Latencies by kind of path.
    let mut lat: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for s in &accepted {
        let origin = day.origin[&s.id];
        for (site, _, t) in have.get(&s.id).into_iter().flatten() {
            let at = t.duration_since(UNIX_EPOCH).unwrap().as_secs_f64();
            let class = if *site == origin {
                "intra-site"
            } else if *site == seed::BRANCH || origin == seed::BRANCH {
                "via the slow link"
            } else {
                "inter-site"
            };
            lat.entry(class).or_default().push((at - s.t_dot).max(0.0));
        }
    }
    println!(
        "\nPochta test bed: the paper's network, one simulated day in {day_secs:.0} s ({elapsed:.0} s with drain)"
    );
    println!(
        "{} letters offered, {} accepted, {} refused at the door\n",
        sent.len(),
        accepted.len(),
        sent.len() - accepted.len()
    );
    println!("The paper's table (8 days, Exim):        level  received accepted delivered   sent");
    for (l, r) in [
        (0, "281904     2267         0   2317"),
        (1, " 97019     2802      2947    546"),
        (2, "   868      838       803    114"),
    ] {
        println!("                                          {l}     {r}");
    }
    println!(
        "\nPochta, this day:                   site    level  received accepted delivered   sent  rejected"
    );
    for (site, level) in [("gw", 0), ("hq", 1), ("branch", 2)] {
        let m = bed.metrics(site);
        let g = |k: &str| m.get(k).copied().unwrap_or(0) - m0[site].get(k).copied().unwrap_or(0);
        println!(
            "                                   {site:<7} {level:>5} {:>9} {:>8} {:>9} {:>6} {:>9}",
            g("connections_received"),
            g("messages_accepted"),
            g("messages_delivered"),
            g("messages_sent"),
            g("rejections")
        );
    }
    println!(
        "\nLink traffic this day (bytes, both directions; replication = HTTPS to/from server and agents)"
    );
    println!("  link       mail (SMTP)   replication   other   | idle replication per day (from 10 s idle)");
    for (link, b) in &d {
        let idle_day = idle[link].repl as f64 / 10.0 * 86400.0;
        println!("  {link:<9} {:>12} {:>13} {:>7}   | {:>10.0}", b.mail, b.repl, b.other, idle_day);
    }
    let br = &d["branch"];
    let idle_branch = idle["branch"].repl as f64 / 10.0;
    let repl_day = (br.repl as f64 - idle_branch * elapsed).max(0.0) + idle_branch * 86400.0;
    println!(
        "\nReplication over the slow link (256 kbit/s): {edits} edits; propagation p50 {:.3} s, max {:.3} s; ~{:.0} bytes/day (paper: ~2 MB/day, synced every 10 min)",
        percentile(&sorted(&propagation), 50.0),
        percentile(&sorted(&propagation), 100.0),
        repl_day
    );
    println!("\nLetter latency, submission end → file in the Maildir (paper: 1–2 s)");
    println!("  path                 n      p50      p90      p99      max");
    for (class, v) in &lat {
        let v = sorted(v);
        println!(
            "  {class:<18} {:>4} {:>7.3}s {:>7.3}s {:>7.3}s {:>7.3}s",
            v.len(),
            percentile(&v, 50.0),
            percentile(&v, 90.0),
            percentile(&v, 99.0),
            percentile(&v, 100.0)
        );
    }
    println!("  external out (to smtp-sink): {} letters", bed.sunk().len());
}

fn sorted(v: &[f64]) -> Vec<f64> {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v
}
