//! Runs Dovecot in the foreground as the agent's child: its log lines become the agent's, an
//! exit is followed by a restart after a growing pause, and the agent's stop stops it.

use std::path::PathBuf;
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

    fn spawn(&self) -> std::io::Result<Child> {
        let mut child = Command::new(&self.binary)
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
