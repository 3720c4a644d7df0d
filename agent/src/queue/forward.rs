//! Forwarding, decided by the user's home agent when it files a letter for him: what to do
//! with the letter (file it, send it on, or both), and the copy that goes on. Pure; the queue
//! stores the copy ([`super::Queue`]).
//!
//! The copy carries [`trace::FORWARDED`] with the user's official address on top. A letter
//! that already went through this user's forwarding, or through [`MAX_HOPS`] forwardings of
//! anyone, is never forwarded again, so A → B → A ends with one copy each (or, when neither
//! keeps a copy, with the letter filed at A, the first user it came back to).

use pochta_directory::{Address, Directory, User};

use crate::mail::{header, trace};

/// Forwarding hops a letter may take; beyond them it is filed where it is.
pub const MAX_HOPS: usize = 5;

/// What the home agent does with a letter for one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filing {
    /// File it in his mailbox.
    pub file: bool,
    /// Send a copy on to these addresses.
    pub forward: Vec<Address>,
}

impl Filing {
    const FILE: Filing = Filing { file: true, forward: Vec::new() };
}

/// What to do with the letter `data` for `user` (`secret`: the peer secret, which signs the
/// forwarding fields).
pub fn decide(dir: &Directory, user: &User, data: &[u8], secret: &str) -> Filing {
    let Some(f) = user.mailbox.forward.as_ref().filter(|f| !f.to.is_empty()) else { return Filing::FILE };
    let hops = trace::forwarded_by(data, secret);
    let me = dir.official(&user.name).to_string().to_ascii_lowercase();
    if hops.contains(&me) {
        // It came back. With a copy kept, his mailbox has the letter from its first pass;
        // without, this is where it stays (never dropped, never sent round again).
        return Filing { file: !f.keep_copy, forward: Vec::new() };
    }
    if hops.len() >= MAX_HOPS {
        return Filing::FILE;
    }
    Filing { file: f.keep_copy, forward: f.to.iter().cloned().collect() }
}

/// The copy forwarded for `user`: his forwarding field on top, without the agents' relay
/// fields (the copy is a new letter of this agent's; its own relay, if any, adds one).
pub fn copy(dir: &Directory, user: &User, data: &[u8], secret: &str) -> Vec<u8> {
    let stripped = trace::without_relay(data);
    let field = trace::forwarded_field(&dir.official(&user.name), secret);
    header::prepend(&field, stripped.as_deref().unwrap_or(data))
}

/// The envelope sender of the copy. The user's own address, not the original sender's: a
/// failure of the forward (a mistyped target, a full mailbox) is his to fix and goes to him,
/// never back to an outside sender who knows nothing of it — and sending as an outside
/// domain would fail its SPF without SRS. A bounce (null sender) stays a bounce, so a failure
/// to forward it cannot start a bounce loop.
pub fn sender(dir: &Directory, user: &User, original: Option<&Address>) -> Option<Address> {
    original.map(|_| dir.official(&user.name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pochta_directory::{Forwarding, LocalPart};

    fn dir_and_user(keep_copy: bool) -> (Directory, User) {
        let mut dir = Directory::new(pochta_directory::Domain::parse("example.org").unwrap());
        let mut u = User {
            app_passwords: Vec::new(),
            name: LocalPart::parse("a").unwrap(),
            display_name: String::new(),
            site: pochta_directory::SiteId::parse("hq").unwrap(),
            former_sites: Default::default(),
            password: None,
            enabled: true,
            mailbox: Default::default(),
        };
        dir.users.insert(u.name.clone(), u.clone());
        u.mailbox.forward =
            Some(Forwarding { to: [Address::parse("b@example.net").unwrap()].into(), keep_copy });
        (dir, u)
    }

    #[test]
    fn forwards_once_and_files_what_comes_back() {
        let (dir, u) = dir_and_user(false);
        let letter = b"Subject: x\r\n\r\nhi\r\n".to_vec();
        let first = decide(&dir, &u, &letter, "s");
        assert_eq!(first, Filing { file: false, forward: vec![Address::parse("b@example.net").unwrap()] });
        let fwd = copy(&dir, &u, &letter, "s");
        assert!(fwd.starts_with(b"X-Pochta-Forwarded: a@example.org mac="));
        assert_eq!(decide(&dir, &u, &fwd, "s"), Filing { file: true, forward: vec![] });
        let forged = header::prepend("X-Pochta-Forwarded: a@example.org\r\n", &letter);
        assert_eq!(decide(&dir, &u, &forged, "s"), first, "a field nobody signed counts for nothing");
        let (dir, u) = dir_and_user(true);
        assert!(decide(&dir, &u, &letter, "s").file);
        assert_eq!(
            decide(&dir, &u, &copy(&dir, &u, &letter, "s"), "s"),
            Filing { file: false, forward: vec![] }
        );
    }

    #[test]
    fn too_many_hops_are_filed() {
        let (dir, u) = dir_and_user(false);
        let mut letter = b"Subject: x\r\n\r\nhi\r\n".to_vec();
        for i in 0..MAX_HOPS {
            let other = Address::parse(&format!("u{i}@example.org")).unwrap();
            letter = header::prepend(&trace::forwarded_field(&other, "s"), &letter);
        }
        assert_eq!(decide(&dir, &u, &letter, "s"), Filing { file: true, forward: vec![] });
    }

    #[test]
    fn a_bounce_is_forwarded_as_a_bounce() {
        let (dir, u) = dir_and_user(false);
        assert_eq!(sender(&dir, &u, None), None);
        let from = Address::parse("x@example.net").unwrap();
        assert_eq!(sender(&dir, &u, Some(&from)), Some(Address::parse("a@example.org").unwrap()));
    }
}
