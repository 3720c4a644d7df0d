//! Argon2 verification in reused memory. Each Argon2id check needs m = 19 MiB of working
//! memory; allocated per check, a flood of logins leaves the process hundreds of megabytes
//! larger (the allocator keeps what it once handed out, one arena per blocking thread). The pool
//! owns a fixed number of memory areas and lends one per verification, so the memory spent on
//! password checks is `areas × m` however many clients try at once: the rest wait their turn.

use std::sync::{Condvar, Mutex};

use argon2::password_hash::phc::Output;
use argon2::{Algorithm, Argon2, Block, Params, Version};

use crate::model::PasswordHash;

/// A fixed set of Argon2 memory areas, lent out one per verification.
pub struct PasswordPool {
    free: Mutex<Vec<Vec<Block>>>,
    returned: Condvar,
}

impl PasswordPool {
    /// A pool of `areas` memory areas (at least one), each allocated when first needed.
    pub fn new(areas: usize) -> PasswordPool {
        let free = (0..areas.max(1)).map(|_| Vec::new()).collect();
        PasswordPool { free: Mutex::new(free), returned: Condvar::new() }
    }

    /// Whether `password` matches `hash`, computed in one of the pool's areas. Blocks while
    /// every area is in use: call it off async threads. A malformed hash never matches.
    pub fn verify(&self, hash: &PasswordHash, password: &str) -> bool {
        let mut area = self.take();
        let ok = verify_in(hash, password, &mut area);
        self.give_back(area);
        ok
    }

    fn take(&self) -> Vec<Block> {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(area) = free.pop() {
                return area;
            }
            free = self.returned.wait(free).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn give_back(&self, area: Vec<Block>) {
        self.free.lock().unwrap_or_else(|e| e.into_inner()).push(area);
        self.returned.notify_one();
    }
}

/// Hashes `password` with `hash`'s own algorithm, version, parameters and salt into `area`
/// (grown to the parameters' size once, then reused), and compares in constant time.
fn verify_in(hash: &PasswordHash, password: &str, area: &mut Vec<Block>) -> bool {
    let Ok(phc) = argon2::PasswordHash::new(&hash.0) else { return false };
    let (Some(salt), Some(expected)) = (&phc.salt, &phc.hash) else { return false };
    let Ok(algorithm) = Algorithm::try_from(phc.algorithm.as_str()) else { return false };
    let version = match phc.version.map(Version::try_from).transpose() {
        Ok(v) => v.unwrap_or_default(),
        Err(_) => return false,
    };
    let Ok(params) = Params::try_from(&phc) else { return false };
    // The directory's hashes are made with OWASP's 19 MiB; one from elsewhere asking for more
    // than 256 MiB is refused rather than allowed to take the agent's memory.
    if params.block_count() > 256 * 1024 {
        return false;
    }
    if area.len() < params.block_count() {
        area.resize(params.block_count(), Block::default());
    }
    let mut out = vec![0u8; expected.len()];
    let argon = Argon2::new(algorithm, version, params);
    if argon
        .hash_password_into_with_memory(password.as_bytes(), salt.as_ref(), &mut out, &mut area[..])
        .is_err()
    {
        return false;
    }
    // `Output`'s equality is constant-time.
    Output::new(&out).is_ok_and(|computed| computed == *expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agrees_with_the_plain_verifier() {
        let pool = PasswordPool::new(1);
        let h = PasswordHash::create("correct horse 1");
        assert!(pool.verify(&h, "correct horse 1"));
        assert!(!pool.verify(&h, "correct horse 2"));
        assert!(!pool.verify(&PasswordHash("garbage".into()), "x"));
        // The area is reused: a second round through the same memory still tells them apart.
        assert!(pool.verify(&h, "correct horse 1"));
        assert!(!pool.verify(&h, ""));
    }

    #[test]
    fn refuses_a_hash_that_asks_for_too_much_memory() {
        let h = PasswordHash("$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA".into());
        assert!(!PasswordPool::new(1).verify(&h, "x"));
    }

    #[test]
    fn many_threads_share_few_areas() {
        let pool = std::sync::Arc::new(PasswordPool::new(2));
        let h = PasswordHash::create("shared secret 9");
        let threads: Vec<_> = (0..6)
            .map(|i| {
                let (pool, h) = (pool.clone(), h.clone());
                std::thread::spawn(move || {
                    pool.verify(&h, if i % 2 == 0 { "shared secret 9" } else { "wrong" })
                })
            })
            .collect();
        let results: Vec<bool> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        assert_eq!(results, [true, false, true, false, true, false]);
        assert_eq!(pool.free.lock().unwrap().len(), 2);
    }
}
