//! Clocks: the wall clock in the units the replica and status reports use, and the queue's
//! own clock, which a wall-clock jump does not move.
//!
//! The queue schedules retries and expires letters by time in the queue. Measured on the wall
//! clock, an administrator setting the date a year forward would expire every queued letter at
//! once (with a DSN each), and a year back would postpone every retry by a year. So the queue
//! reads [`QueueClock`]: wall time as it was when the clock was last in step, advanced by the
//! monotonic clock while the agent runs. Across restarts it continues from what was saved in
//! `<data>/queue-clock` (beside the spool, not in it), counting the time the agent was down when the wall clock says it was
//! between zero and [`MAX_COUNTED_DOWNTIME_MS`] (a longer or negative gap is a jump). A jump
//! is logged and shown on `/status`; once the queue is empty, nothing depends on the queue's
//! times, and the clock steps back to the wall clock.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use serde::{Deserialize, Serialize};

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn unix_now() -> i64 {
    wall_ms() / 1000
}

/// Milliseconds since the Unix epoch on the wall clock (0 if the clock is before it).
pub fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A difference between the queue's clock and the wall clock beyond this is a jump (NTP
/// slews by far less; a stepped correction of a drifting clock is usually seconds).
pub const JUMP_MS: i64 = 60_000;
/// Downtime longer than this, by the wall clock, is not believed: a machine that was off for
/// a week more likely had its clock set. Letters keep this much of it.
pub const MAX_COUNTED_DOWNTIME_MS: i64 = 24 * 3600 * 1000;

/// What the clock file holds: the queue's time and the wall time when it was written.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Saved {
    queue_ms: i64,
    wall_ms: i64,
}

/// The last wall-clock jump seen, for `/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockJump {
    /// Unix seconds (wall clock) when it was noticed.
    pub noticed_at: i64,
    /// How far the wall clock moved against the queue's clock (negative: back), in seconds.
    pub by_secs: i64,
}

/// The queue clock's state for `/status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockStatus {
    /// Wall clock minus the queue's clock, in seconds (0 when in step).
    pub offset_secs: i64,
    /// Wall-clock jumps noticed since the agent started.
    pub jumps: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_jump: Option<ClockJump>,
}

struct State {
    /// The queue's time at `start`.
    base_ms: i64,
    start: Instant,
    status: ClockStatus,
}

pub struct QueueClock {
    path: Option<PathBuf>,
    state: Mutex<State>,
}

impl QueueClock {
    /// The clock saved at `path`, continued (or the wall clock when there is none).
    pub fn open(path: &Path) -> Self {
        let path = path.to_owned();
        let saved = std::fs::read(&path).ok().and_then(|b| serde_json::from_slice::<Saved>(&b).ok());
        let clock = Self::continued(saved, wall_ms());
        let clock = Self { path: Some(path), ..clock };
        clock.save();
        clock
    }

    /// A clock in step with the wall clock, saved nowhere (tests, tools).
    pub fn wall() -> Self {
        Self::continued(None, wall_ms())
    }

    fn continued(saved: Option<Saved>, wall: i64) -> Self {
        let mut status = ClockStatus::default();
        let base_ms = match saved {
            None => wall,
            Some(s) => {
                let down = wall - s.wall_ms;
                if (0..=MAX_COUNTED_DOWNTIME_MS).contains(&down) && (s.wall_ms - s.queue_ms).abs() < JUMP_MS {
                    // An ordinary restart of a clock in step: back to the wall clock.
                    wall
                } else {
                    let counted = down.clamp(0, MAX_COUNTED_DOWNTIME_MS);
                    let base = s.queue_ms + counted;
                    if (wall - base).abs() >= JUMP_MS {
                        let by_secs = (wall - base) / 1000;
                        tracing::warn!(
                            by_secs,
                            "the wall clock moved by {by_secs} s while the agent was down (or before); \
                             the queue counts {} s of it",
                            counted / 1000
                        );
                        status.jumps = 1;
                        status.last_jump = Some(ClockJump { noticed_at: wall / 1000, by_secs });
                    }
                    base
                }
            }
        };
        status.offset_secs = (wall - base_ms) / 1000;
        Self { path: None, state: Mutex::new(State { base_ms, start: Instant::now(), status }) }
    }

    /// The queue's time, in Unix milliseconds (as the wall clock would say, had it not jumped).
    pub fn now_ms(&self) -> i64 {
        let st = self.state.lock().expect("the clock lock is never poisoned");
        st.base_ms + i64::try_from(st.start.elapsed().as_millis()).unwrap_or(i64::MAX / 2)
    }

    /// Compares with the wall clock: logs a new jump, steps back into step when `queue_empty`
    /// (nothing depends on the queue's times then), and saves the clock. Called every few
    /// seconds by the scheduler.
    pub fn check(&self, queue_empty: bool) {
        let wall = wall_ms();
        {
            let mut st = self.state.lock().expect("the clock lock is never poisoned");
            let now = st.base_ms + i64::try_from(st.start.elapsed().as_millis()).unwrap_or(0);
            let offset = wall - now;
            let known = st.status.offset_secs * 1000;
            if (offset - known).abs() >= JUMP_MS {
                let by_secs = (offset - known) / 1000;
                tracing::warn!(
                    by_secs,
                    "the wall clock jumped by {by_secs} s; queued letters keep their times"
                );
                st.status.jumps += 1;
                st.status.last_jump = Some(ClockJump { noticed_at: wall / 1000, by_secs });
            }
            if queue_empty && offset.abs() >= 1000 {
                tracing::info!(
                    offset_secs = offset / 1000,
                    "the queue is empty: the queue's clock follows the wall clock again"
                );
                st.base_ms = wall;
                st.start = Instant::now();
                st.status.offset_secs = 0;
            } else {
                st.status.offset_secs = offset / 1000;
            }
        }
        self.save();
    }

    pub fn status(&self) -> ClockStatus {
        self.state.lock().expect("the clock lock is never poisoned").status.clone()
    }

    /// Writes the clock file (write + rename: a torn file would lose the queue's time; it is not
    /// fsynced, since losing the last few seconds of it costs nothing).
    fn save(&self) {
        let Some(path) = &self.path else { return };
        let saved = Saved { queue_ms: self.now_ms(), wall_ms: wall_ms() };
        let tmp = path.with_extension("tmp");
        let r = std::fs::write(&tmp, serde_json::to_vec(&saved).expect("plain numbers"))
            .and_then(|()| std::fs::rename(&tmp, path));
        if let Err(e) = r {
            tracing::warn!(path = %path.display(), error = %e, "cannot save the queue's clock");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 24 * 3600 * 1000;

    #[test]
    fn an_ordinary_restart_follows_the_wall_clock() {
        let c = QueueClock::continued(
            Some(Saved { queue_ms: 1_000_000, wall_ms: 1_000_000 }),
            1_000_000 + 3_600_000,
        );
        assert!((c.now_ms() - 4_600_000).abs() < 1000);
        assert_eq!(c.status().jumps, 0);
    }

    #[test]
    fn a_year_forward_while_down_counts_one_day() {
        let t = 1_800_000_000_000;
        let c = QueueClock::continued(Some(Saved { queue_ms: t, wall_ms: t }), t + 365 * DAY);
        assert!((c.now_ms() - (t + DAY)).abs() < 1000);
        let s = c.status();
        assert_eq!(s.jumps, 1);
        assert_eq!(s.offset_secs, 364 * DAY / 1000);
    }

    #[test]
    fn a_clock_set_back_while_down_counts_nothing() {
        let t = 1_800_000_000_000;
        let c = QueueClock::continued(Some(Saved { queue_ms: t, wall_ms: t }), t - 30 * DAY);
        assert!((c.now_ms() - t).abs() < 1000);
        assert_eq!(c.status().last_jump.unwrap().by_secs, -30 * DAY / 1000);
    }

    #[test]
    fn an_offset_carried_over_a_restart_stays() {
        // The clock was out of step when saved: the queue's time goes on from the saved one.
        let t = 1_800_000_000_000;
        let c =
            QueueClock::continued(Some(Saved { queue_ms: t, wall_ms: t + 365 * DAY }), t + 365 * DAY + 1000);
        assert!((c.now_ms() - (t + 1000)).abs() < 1000);
    }
}
