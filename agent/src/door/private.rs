//! Private rspamd and clamd instances for the demo and the tests: their own configuration,
//! sockets, databases and logs in one folder, listening on loopback only — never the system
//! services, which stay as they are.
//!
//! rspamd runs the rules that ship with it (`/usr/share/rspamd/rules`) and the scores from
//! `/etc/rspamd/scores.d`, but none of its modules that fetch maps from the Internet or ask
//! outside DNS: its resolver is pointed at a closed loopback port. One local rule,
//! `POCHTA_TEST_SPAM`, scores 8 for a letter containing [`SPAM_PHRASE`], above "add header"
//! (6): a letter the demo and the tests can send to see spam filed into Junk.
//!
//! clamd gets a one-signature database that knows the EICAR test file, in ClamAV's extended
//! signature format (`.ndb`): production sites get the real signatures with `freshclam`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The phrase the private rspamd scores as spam (but not enough to reject).
pub const SPAM_PHRASE: &str = "POCHTA-SPAM-TEST-PHRASE";

/// The EICAR anti-virus test file (eicar.org): harmless, known to every scanner.
pub const EICAR: &str = r"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

/// GTUBE, the spam test pattern rspamd refuses outright.
pub const GTUBE: &str = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";

/// The name the private clamd reports for EICAR.
pub const EICAR_NAME: &str = "Eicar-Test-Signature";

/// A scanner process; killed when dropped.
pub struct Scanner {
    child: Option<Child>,
    /// Where it answers: rspamd's URL, or clamd's socket path.
    pub at: String,
    dir: PathBuf,
}

impl Scanner {
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Its log, for a failure message.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }

    /// Stops it and waits until it is gone.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // rspamd's workers and clamd's threads go with their main process's group.
            let _ = rustix::process::kill_process_group(
                rustix::process::Pid::from_raw(c.id() as i32).expect("a child's pid is positive"),
                rustix::process::Signal::KILL,
            );
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Scanner {
    fn drop(&mut self) {
        self.stop();
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PrivateError {
    #[error("{0} is not installed (apt-get install {1})")]
    Missing(&'static str, &'static str),
    #[error("cannot prepare {0}: {1}")]
    Io(String, std::io::Error),
    #[error("{0} did not start within {1:?}; its log:\n{2}")]
    NotReady(&'static str, Duration, String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PrivateError + '_ {
    move |e| PrivateError::Io(path.display().to_string(), e)
}

fn spawn(cmd: &mut Command, dir: &Path) -> Result<Child, PrivateError> {
    use std::os::unix::process::CommandExt;
    let out = std::fs::File::create(dir.join("stdout")).map_err(io(dir))?;
    cmd.stdin(Stdio::null()).stdout(out.try_clone().map_err(io(dir))?).stderr(out).process_group(0);
    cmd.spawn().map_err(io(dir))
}

fn wait_until(what: &'static str, scanner: &Scanner, ready: impl Fn() -> bool) -> Result<(), PrivateError> {
    let limit = Duration::from_secs(60);
    let start = Instant::now();
    while !ready() {
        if start.elapsed() > limit {
            return Err(PrivateError::NotReady(what, limit, scanner.log()));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

/// Starts rspamd's normal worker on `listen` (loopback), with its files in `dir`.
pub fn rspamd(dir: &Path, listen: SocketAddr) -> Result<Scanner, PrivateError> {
    rspamd_in(dir, listen, None)
}

/// [`rspamd`], inside the network namespace `netns` when one is given (the test bed's sites
/// each have their own loopback).
pub fn rspamd_in(dir: &Path, listen: SocketAddr, netns: Option<&str>) -> Result<Scanner, PrivateError> {
    if !Path::new("/usr/bin/rspamd").exists() {
        return Err(PrivateError::Missing("rspamd", "rspamd"));
    }
    std::fs::create_dir_all(dir.join("db")).map_err(io(dir))?;
    let rule = format!(
        "rspamd_config.POCHTA_TEST_SPAM = {{\n  callback = function(task)\n    \
         return tostring(task:get_content()):find('{SPAM_PHRASE}', 1, true) ~= nil\n  end,\n  \
         score = 8.0,\n  description = 'The Pochta demo and tests spam phrase',\n  group = 'pochta',\n}}\n"
    );
    std::fs::write(dir.join("pochta.lua"), rule).map_err(io(dir))?;
    let d = dir.display();
    let conf = format!(
        "options {{\n  pidfile = \"{d}/rspamd.pid\";\n  dbdir = \"{d}/db\";\n  tempdir = \"{d}/db\";\n  \
         disable_monitoring = true;\n  \
         # No outside DNS: a closed loopback port answers every query at once.\n  \
         dns {{ nameserver = [\"127.0.0.1:9\"]; timeout = 0.1s; retransmits = 1; }}\n}}\n\
         logging {{ type = \"file\"; filename = \"{d}/log\"; level = \"warning\"; }}\n\
         actions {{ reject = 15; add_header = 6; greylist = 4; }}\n\
         .include \"$CONFDIR/groups.conf\"\n\
         lua = \"$RULESDIR/rspamd.lua\";\nlua = \"{d}/pochta.lua\";\n\
         worker \"normal\" {{ bind_socket = \"{listen}\"; count = 1; task_timeout = 8s; }}\n"
    );
    let conf_path = dir.join("rspamd.conf");
    std::fs::write(&conf_path, conf).map_err(io(dir))?;
    // `ip netns exec` execs rspamd itself: the child is rspamd, its process group rspamd's.
    let in_ns = |program: &str| match netns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns, program]);
            c
        }
        None => Command::new(program),
    };
    let mut cmd = in_ns("/usr/bin/rspamd");
    cmd.arg("-f").arg("-c").arg(&conf_path);
    // rspamd never runs its workers as root: as root, give the folder to its own user.
    if rustix::process::geteuid().is_root() {
        let owner = crate::imap::owner::system_user("_rspamd")
            .ok_or(PrivateError::Missing("rspamd's user _rspamd", "rspamd"))?;
        for p in [dir.to_owned(), dir.join("db")] {
            owner.chown(&p).map_err(io(&p))?;
        }
        cmd.args(["-u", "_rspamd", "-g", "_rspamd"]);
    }
    let child = spawn(&mut cmd, dir)?;
    let s = Scanner { child: Some(child), at: format!("http://{listen}"), dir: dir.to_owned() };
    let answers = || match netns {
        None => std::net::TcpStream::connect(listen).is_ok(),
        Some(_) => in_ns("/usr/bin/bash")
            .args(["-c", &format!("exec 3<>/dev/tcp/{}/{}", listen.ip(), listen.port())])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success()),
    };
    wait_until("rspamd", &s, answers)?;
    Ok(s)
}

/// Starts clamd on a Unix socket in `dir`, with a database that knows EICAR.
pub fn clamd(dir: &Path) -> Result<Scanner, PrivateError> {
    let bin = Path::new("/usr/sbin/clamd");
    if !bin.exists() {
        return Err(PrivateError::Missing("clamd", "clamav-daemon"));
    }
    let db = dir.join("db");
    std::fs::create_dir_all(&db).map_err(io(dir))?;
    std::fs::write(db.join("pochta-test.ndb"), format!("{EICAR_NAME}:0:*:{}\n", hex::encode(EICAR)))
        .map_err(io(&db))?;
    let socket = dir.join("clamd.sock");
    let d = dir.display();
    let conf = format!(
        "LocalSocket {socket}\nDatabaseDirectory {d}/db\nForeground yes\nLogFile {d}/log\n\
         PidFile {d}/clamd.pid\nStreamMaxLength 30M\nMaxThreads 4\n",
        socket = socket.display()
    );
    let conf_path = dir.join("clamd.conf");
    std::fs::write(&conf_path, conf).map_err(io(dir))?;
    let mut cmd = Command::new(bin);
    cmd.arg("-c").arg(&conf_path);
    let child = spawn(&mut cmd, dir)?;
    let s = Scanner { child: Some(child), at: socket.display().to_string(), dir: dir.to_owned() };
    wait_until("clamd", &s, || ping(&socket))?;
    Ok(s)
}

fn ping(socket: &Path) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::os::unix::net::UnixStream::connect(socket) else { return false };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let mut reply = [0u8; 8];
    s.write_all(b"zPING\0").is_ok() && s.read(&mut reply).is_ok_and(|n| reply[..n].starts_with(b"PONG"))
}
