//! The unknown-recipient load of the SMTP benchmark (`smtp-source` exits at the first refused
//! recipient, so it cannot drive this one): `sessions` threads, each opening `count / sessions`
//! connections one after another, EHLO, MAIL, RCPT to an unknown user (expects 5xx), QUIT,
//! one command at a time as smtp-source sends them. Prints the number of connections refused.
//! std only; built by bench/smtp_bench.py with `rustc -O`.
//!
//!     smtp_refused HOST:PORT SESSIONS COUNT RCPT

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

fn reply(r: &mut BufReader<TcpStream>, line: &mut String) -> std::io::Result<u16> {
    loop {
        line.clear();
        if r.read_line(line)? == 0 {
            return Err(std::io::Error::other("closed"));
        }
        if line.len() < 4 || line.as_bytes()[3] != b'-' {
            return line.get(..3).and_then(|c| c.parse().ok()).ok_or_else(|| std::io::Error::other("bad reply"));
        }
    }
}

fn one(addr: &str, rcpt: &str) -> std::io::Result<bool> {
    let s = TcpStream::connect(addr)?;
    s.set_nodelay(true)?;
    let mut w = s.try_clone()?;
    let mut r = BufReader::new(s);
    let mut line = String::new();
    if reply(&mut r, &mut line)? != 220 {
        return Ok(false);
    }
    w.write_all(b"EHLO client.bench.test\r\n")?;
    reply(&mut r, &mut line)?;
    w.write_all(b"MAIL FROM:<bench@outside.test>\r\n")?;
    reply(&mut r, &mut line)?;
    w.write_all(format!("RCPT TO:<{rcpt}>\r\n").as_bytes())?;
    let refused = reply(&mut r, &mut line)? >= 500;
    w.write_all(b"QUIT\r\n")?;
    let _ = reply(&mut r, &mut line);
    Ok(refused)
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let (addr, sessions, count, rcpt) = (a[1].clone(), a[2].parse::<u64>().unwrap(), a[3].parse::<u64>().unwrap(), a[4].clone());
    let refused = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..sessions)
        .map(|i| {
            let (addr, rcpt, refused, errors) = (addr.clone(), rcpt.clone(), refused.clone(), errors.clone());
            let n = count / sessions + u64::from(i < count % sessions);
            std::thread::spawn(move || {
                for _ in 0..n {
                    match one(&addr, &rcpt) {
                        Ok(true) => refused.fetch_add(1, Ordering::Relaxed),
                        _ => errors.fetch_add(1, Ordering::Relaxed),
                    };
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    println!("{} {}", refused.load(Ordering::Relaxed), errors.load(Ordering::Relaxed));
}
