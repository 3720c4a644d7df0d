//! Runs Dovecot in the foreground as the agent's child: its log lines become the agent's, an
//! exit is followed by a restart after a growing pause, and the agent's stop stops it.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::watch;

/// First pause before a restart; doubles up to [`MAX_PAUSE`] while Dovecot keeps failing.
const FIRST_PAUSE: Duration = Duration::from_secs(1);
const MAX_PAUSE: Duration = Duration::from_secs(60);
/// A run this long counts as healthy: the next failure starts again at [`FIRST_PAUSE`].
const HEALTHY: Duration = Duration::from_secs(60);
/// How long Dovecot gets to stop its processes before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// util-linux's `setpriv` (in every Debian).
const SETPRIV: &str = "/usr/bin/setpriv";

pub(super) struct Supervisor {
    pub(super) binary: PathBuf,
    pub(super) conf: PathBuf,
    /// `<base_dir>/master.pid`: left behind by a Dovecot that was killed, it would stop the
    /// next start ("already running") when its number has been reused.
    pub(super) pidfile: PathBuf,
    /// The child's pid while one runs (for tests that kill it).
    pub(super) pid: watch::Sender<Option<u32>>,
}

impl Supervisor {
    pub(super) async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut pause = FIRST_PAUSE;
        // A Dovecot of this agent that outlived it (the agent was killed) holds the ports.
        self.stop_leftover().await;
        while !*stop.borrow() {
            let _ = std::fs::remove_file(&self.pidfile);
            let started = Instant::now();
            match self.spawn() {
                Ok(mut child) => {
                    self.pid.send_replace(child.id());
                    tracing::info!(target: "dovecot", pid = child.id(), "Dovecot started");
                    tokio::select! {
                        status = child.wait() => {
                            self.pid.send_replace(None);
                            let status = status.map_or_else(|e| e.to_string(), |s| s.to_string());
                            if started.elapsed() >= HEALTHY {
                                pause = FIRST_PAUSE;
                            }
                            tracing::error!(target: "dovecot",
                                "Dovecot exited ({status}); IMAP and POP3 are down, restarting in {}s",
                                pause.as_secs());
                        }
                        _ = stop.changed() => {
                            stop_child(&mut child).await;
                            self.pid.send_replace(None);
                            return;
                        }
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => tracing::error!(target: "dovecot",
                    "Dovecot is not installed at {} (apt-get install dovecot-imapd dovecot-pop3d): \
                     IMAP and POP3 are off; trying again in {}s", self.binary.display(), pause.as_secs()),
                Err(e) => tracing::error!(target: "dovecot",
                    "cannot start {}: {e}; trying again in {}s", self.binary.display(), pause.as_secs()),
            }
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = stop.changed() => return,
            }
            pause = (pause * 2).min(MAX_PAUSE);
        }
    }

    /// Stops the Dovecot named by the pid file if it runs this agent's configuration.
    async fn stop_leftover(&self) {
        let Some(pid) =
            std::fs::read_to_string(&self.pidfile).ok().and_then(|t| t.trim().parse::<i32>().ok())
        else {
            return;
        };
        let proc = PathBuf::from(format!("/proc/{pid}"));
        let ours = std::fs::read(proc.join("cmdline"))
            .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&*self.conf.to_string_lossy()));
        let Some(p) = rustix::process::Pid::from_raw(pid).filter(|_| ours) else { return };
        tracing::warn!(target: "dovecot", pid, "stopping a Dovecot left running by an earlier start of this agent");
        let _ = rustix::process::kill_process(p, rustix::process::Signal::TERM);
        let deadline = Instant::now() + STOP_GRACE;
        while proc.exists() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if proc.exists() {
            let _ = rustix::process::kill_process(p, rustix::process::Signal::KILL);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn spawn(&self) -> std::io::Result<Child> {
        // Dovecot must not outlive the agent (a killed agent cannot stop it): util-linux's
        // setpriv gives it a parent-death signal, which needs no unsafe code here.
        let mut cmd = if Path::new(SETPRIV).exists() {
            let mut c = Command::new(SETPRIV);
            c.arg("--pdeathsig").arg("TERM").arg("--").arg(&self.binary);
            c
        } else {
            Command::new(&self.binary)
        };
        let mut child = cmd
            .arg("-F")
            .arg("-c")
            .arg(&self.conf)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        if let Some(out) = child.stdout.take() {
            tokio::spawn(forward(BufReader::new(out)));
        }
        if let Some(err) = child.stderr.take() {
            tokio::spawn(forward(BufReader::new(err)));
        }
        Ok(child)
    }
}

/// Logs Dovecot's lines at the level they carry.
async fn forward<R: tokio::io::AsyncRead + Unpin>(r: BufReader<R>) {
    let mut lines = r.lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if line.contains("Fatal:") || line.contains("Panic:") || line.contains("Error:") {
            tracing::error!(target: "dovecot", "{line}");
        } else if line.contains("Warning:") {
            tracing::warn!(target: "dovecot", "{line}");
        } else {
            tracing::info!(target: "dovecot", "{line}");
        }
    }
}

/// SIGTERM (Dovecot's master then stops its processes), SIGKILL after the grace period.
async fn stop_child(child: &mut Child) {
    if let Some(pid) = child.id().and_then(|p| rustix::process::Pid::from_raw(p as i32)) {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        if tokio::time::timeout(STOP_GRACE, child.wait()).await.is_ok() {
            tracing::info!(target: "dovecot", "Dovecot stopped");
            return;
        }
    }
    let _ = child.kill().await;
}
