//! [`Queue`]: the spool, the hand-over from SMTP ([`Sink`]), and the scheduler that delivers.
//!
//! Each message's first attempt starts as soon as it is durable. An attempt expands aliases and
//! lists once (at this, the first agent; a peer's recipients are final already), groups the
//! pending recipients by destination against the directory *as it is now*, delivers to every
//! destination at once, and writes the per-recipient states durably after each transaction to
//! another server, so a crash can repeat at most the one transaction in flight (and local
//! delivery never repeats: see `deliver::maildir`).
//!
//! Retries back off exponentially per destination: while a site is down, one message probes
//! it when its time comes and the others wait; when the probe gets through, every waiting
//! message goes at once. A message past its lifetime fails its remaining recipients; a message
//! with failed recipients produces one DSN, queued like any other message, when it is done.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv6Addr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pochta_directory::resolve::{Rejection, Sender, resolve, resolve_all};
use pochta_directory::{Address, Directory};
use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::JoinSet;

use super::envelope::{Envelope, OriginRecord, Target, TargetState};
use super::spool::Spool;
use super::{Incoming, QueueError, QueueId, Sink, dsn, forward, vacation};
use crate::clock::{ClockStatus, QueueClock};
use crate::config::{DeliveryConfig, QueueConfig};
use crate::deliver::{Deliverer, Destination, Letter, Outcome};
use crate::metrics::Counters;
use crate::reply::Reply;

/// Messages at most this large stay in memory between acceptance and their first attempt.
const KEEP_IN_MEMORY: usize = 4 << 20;

/// How often the scheduler compares the queue's clock with the wall clock (and saves it).
const CLOCK_CHECK_MS: i64 = 5_000;

/// Retry and lifetime policy, from `[delivery]`.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub retry_initial: Duration,
    pub retry_max: Duration,
    pub lifetime: Duration,
    pub concurrency: usize,
    pub hostname: String,
}

impl Schedule {
    pub fn from_config(d: &DeliveryConfig, hostname: String) -> Self {
        let secs = |s: f64| Duration::from_secs_f64(s.max(0.001));
        Self {
            retry_initial: secs(d.retry_initial_secs),
            retry_max: secs(d.retry_max_secs),
            lifetime: secs(d.lifetime_secs),
            concurrency: d.concurrency.max(1),
            hostname,
        }
    }

    /// The wait after `n` (≥ 1) consecutive failures, in ms.
    fn backoff(&self, n: u32) -> i64 {
        let first = self.retry_initial.as_millis() as f64;
        let wait = first * 2f64.powi(n.saturating_sub(1).min(30) as i32);
        wait.min(self.retry_max.as_millis() as f64) as i64
    }
}

struct Slot {
    env: Envelope,
    dir: PathBuf,
    data: Option<Arc<[u8]>>,
    busy: bool,
    recovered: bool,
    /// `queue retry`: ignore destination back-off on the next attempt.
    force: bool,
}

#[derive(Default)]
struct DestState {
    failures: u32,
    retry_at: i64,
    probing: bool,
}

#[derive(Default)]
struct State {
    msgs: BTreeMap<QueueId, Slot>,
    dests: HashMap<Destination, DestState>,
}

/// The durable queue of one agent.
pub struct Queue {
    spool: Spool,
    max_messages: usize,
    seq: AtomicU64,
    boot: String,
    state: Mutex<State>,
    wake: Notify,
    counters: Arc<Counters>,
    /// Made before the queue (it owns the durable writer both share): the scheduler's
    /// attempts and [`Sink::enqueue`]'s fast path (see [`Queue::local_only`]) go through it.
    deliverer: Arc<Deliverer>,
    /// The scheduler runs: until it does (and once it stopped), every letter is spooled.
    running: AtomicBool,
    /// Whom vacation replies went to (`<data>/autoreply/`, beside the spool).
    replies: Arc<vacation::ReplyLog>,
    /// The time every queue record is measured in: retries and lifetimes survive a wall-clock
    /// jump (`crate::clock`).
    clock: QueueClock,
}

impl Queue {
    /// Opens the spool at `root` (creating it) and takes over every message found there. The
    /// spool writes through the deliverer's durable writer, and counts into its counters.
    pub fn open(
        root: &std::path::Path,
        cfg: &QueueConfig,
        deliverer: Arc<Deliverer>,
    ) -> std::io::Result<Arc<Self>> {
        let spool = Spool::open(root, cfg.spool_dirs, deliverer.maildirs().durable().clone())?;
        let clock = QueueClock::open(&root.with_file_name("queue-clock"));
        let counters = deliverer.context().counters.clone();
        let mut msgs = BTreeMap::new();
        for found in spool.load_all(true) {
            let slot = Slot {
                env: found.env,
                dir: found.dir,
                data: None,
                busy: false,
                recovered: true,
                force: false,
            };
            msgs.insert(slot.env.id.clone(), slot);
        }
        if !msgs.is_empty() {
            tracing::info!(messages = msgs.len(), "queue recovered");
        }
        let mut boot = [0u8; 4];
        getrandom::fill(&mut boot).map_err(|e| std::io::Error::other(e.to_string()))?;
        Ok(Arc::new(Self {
            spool,
            max_messages: cfg.max_messages,
            seq: AtomicU64::new(0),
            boot: hex::encode(boot),
            state: Mutex::new(State { msgs, dests: HashMap::new() }),
            wake: Notify::new(),
            counters,
            deliverer,
            running: AtomicBool::new(false),
            replies: Arc::new(vacation::ReplyLog::new(root.with_file_name("autoreply"))),
            clock,
        }))
    }

    pub fn counters(&self) -> &Arc<Counters> {
        &self.counters
    }

    /// Messages in the queue.
    pub fn len(&self) -> usize {
        self.lock().msgs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The queue's clock against the wall clock, for `/status`.
    pub fn clock(&self) -> ClockStatus {
        self.clock.status()
    }

    /// Whether message `id` is still in the queue.
    pub fn contains(&self, id: &QueueId) -> bool {
        self.lock().msgs.contains_key(id)
    }

    /// Queues a letter this agent hands over itself (a mailbox move, see
    /// [`crate::mailbox_move`]): durable on `Ok` like [`Sink::enqueue`], but not counted as
    /// `accepted` — it was accepted once already.
    pub async fn enqueue_own(&self, msg: Incoming) -> Result<QueueId, QueueError> {
        let origin = OriginRecord::from(&msg.origin);
        self.store(msg.reverse_path, msg.recipients, origin, msg.client_ip, msg.data).await
    }

    /// Asks the scheduler to act on a queued letter (as `pochta-agent queue` does): applied
    /// within a second, by the same code. `false` when the letter is no longer queued.
    pub fn request(&self, id: &QueueId, action: pochta_directory::api::QueueAction) -> std::io::Result<bool> {
        // Only ids of letters in the queue reach the file name: an id is never a path.
        if !self.contains(id) {
            return Ok(false);
        }
        let name = match action {
            pochta_directory::api::QueueAction::Retry => "retry",
            pochta_directory::api::QueueAction::Bounce => "bounce",
            pochta_directory::api::QueueAction::Delete => "delete",
        };
        Spool::request(self.spool.root(), id, name)?;
        self.wake.notify_one();
        Ok(true)
    }

    /// Every queued envelope.
    pub fn list(&self) -> Vec<Envelope> {
        self.lock().msgs.values().map(|s| s.env.clone()).collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("not poisoned")
    }

    fn next_id(&self) -> (QueueId, u64) {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        (QueueId(format!("{:011x}{}{seq:06x}", crate::clock::wall_ms(), self.boot)), seq)
    }

    async fn store(
        &self,
        reverse_path: Option<Address>,
        recipients: Vec<Address>,
        origin: OriginRecord,
        client_ip: IpAddr,
        data: Vec<u8>,
    ) -> Result<QueueId, QueueError> {
        if self.len() >= self.max_messages {
            return Err(QueueError::Full);
        }
        let (id, seq) = self.next_id();
        let env =
            new_envelope(self.clock.now_ms(), id, reverse_path, recipients, origin, client_ip, data.len());
        self.store_env(env, seq, data.into(), false).await
    }

    /// Stores a new message under its envelope's id; `recovered` makes local delivery check for
    /// copies already filed.
    async fn store_env(
        &self,
        env: Envelope,
        seq: u64,
        data: Arc<[u8]>,
        recovered: bool,
    ) -> Result<QueueId, QueueError> {
        if self.len() >= self.max_messages {
            return Err(QueueError::Full);
        }
        let id = env.id.clone();
        let dir = self.spool.dir_for(seq);
        self.spool.store_new(&dir, &env, &data).await?;
        let data = (data.len() <= KEEP_IN_MEMORY).then_some(data);
        self.lock().msgs.insert(id.clone(), Slot { env, dir, data, busy: false, recovered, force: false });
        self.wake.notify_one();
        Ok(id)
    }

    /// The hand-over from SMTP. A letter whose every final recipient (expanded as the
    /// scheduler would) is a mailbox of this site goes straight into the mailboxes, through the
    /// same durable Maildir delivery: once that returns, the letter is durable in its final
    /// place, and no spool file is needed. Any other letter, or one whose copies did not all
    /// land, is queued as usual (the latter with the copies that landed recorded as delivered).
    async fn local_only(&self, msg: Incoming) -> Result<QueueId, QueueError> {
        let origin = OriginRecord::from(&msg.origin);
        let (id, seq) = self.next_id();
        let mut env = new_envelope(
            self.clock.now_ms(),
            id,
            msg.reverse_path,
            msg.recipients,
            origin,
            msg.client_ip,
            msg.data.len(),
        );
        let data = Arc::<[u8]>::from(msg.data);
        if !self.running.load(Ordering::Acquire) {
            return self.store_env(env, seq, data, false).await;
        }
        // A peer's letters keep the queue: their Maildir names come from the relay field.
        let fast = matches!(env.origin, OriginRecord::Outside | OriginRecord::User { .. });
        let created = env.created;
        let groups = self.route(&mut env, created);
        let targets = env.targets.as_deref().unwrap_or_default();
        let local_only = !targets.is_empty()
            && targets.iter().all(Target::is_pending)
            && groups.keys().all(|d| *d == Destination::Local);
        let local = groups.into_values().next().filter(|_| local_only);
        if let Some(idx) = &local {
            // Every final recipient is a mailbox here: a letter none of them can take is
            // refused now, in the session, rather than accepted and bounced.
            let letter = letter(&env, data.clone(), false);
            if let Some(r) = self.refusal(&letter, &recipients(&env, idx)) {
                return Err(QueueError::Refused(r));
            }
        }
        let Some(idx) = local.filter(|_| fast) else {
            // The scheduler expands it again at its first attempt, against the directory then.
            env.targets = None;
            return self.store_env(env, seq, data, false).await;
        };
        let letter = letter(&env, data.clone(), false);
        let outcomes = self.deliver_local(&letter, &recipients(&env, &idx)).await;
        if outcomes.iter().all(|o| *o == Outcome::Delivered) {
            tracing::debug!(id = %env.id, rcpts = idx.len(), "delivered locally on acceptance");
            return Ok(env.id);
        }
        record(&mut env, &Destination::Local, &idx, outcomes, self.clock.now_ms());
        env.attempts = 1;
        self.store_env(env, seq, data, true).await
    }

    /// The session's answer when no one of `rcpts` (mailboxes of this site) can take
    /// `letter` now: the quota's refusal, when they all refuse alike (all for good, or all
    /// for now). Mixed answers cannot be given after DATA (one reply for all), so such a
    /// letter is accepted, and each recipient fails or waits on its own.
    fn refusal(&self, letter: &Letter, rcpts: &[Address]) -> Option<Reply> {
        let dir = self.deliverer.directory();
        let filing = |a: &Address| {
            dir.user(a.local()).is_none_or(|u| {
                forward::decide(&dir, u, &letter.data, &self.deliverer.context().peer_secret).file
            })
        };
        if !rcpts.iter().all(filing) {
            return None; // forwarded without a copy: no mailbox to fill
        }
        let refusals: Option<Vec<Reply>> = self.deliverer.quota_refusals(letter, rcpts).into_iter().collect();
        let refusals = refusals?;
        let permanent = refusals.first()?.is_permanent();
        refusals.iter().all(|r| r.is_permanent() == permanent).then(|| refusals[0].clone())
    }

    /// Local delivery of `letter` to `rcpts` (mailboxes of this site), with what each user's
    /// settings add: his forwarding (the copy queued here, the letter filed only when he keeps
    /// a copy, see [`forward`]) and his vacation reply ([`vacation`]). A user whose mailbox
    /// refuses the letter waits as a whole: nothing is forwarded until it fits, so a retry
    /// never forwards twice.
    async fn deliver_local(&self, letter: &Letter, rcpts: &[Address]) -> Vec<Outcome> {
        let dir = self.deliverer.directory();
        let refusals = self.deliverer.quota_refusals(letter, rcpts);
        let mut out = vec![Outcome::Delivered; rcpts.len()];
        let mut file = Vec::new();
        for (i, a) in rcpts.iter().enumerate() {
            let Some(user) = dir.user(a.local()).filter(|_| !is_move(letter)) else {
                file.push(i);
                continue;
            };
            let filing = forward::decide(&dir, user, &letter.data, &self.deliverer.context().peer_secret);
            if let Some(why) = refusals[i].clone().filter(|_| filing.file) {
                tracing::info!(id = %letter.id, rcpt = %a, reply = %why, "over quota");
                out[i] = Outcome::from(why);
                continue;
            }
            if !filing.forward.is_empty() {
                let copy = forward::copy(&dir, user, &letter.data, &self.deliverer.context().peer_secret);
                let from = forward::sender(&dir, user, letter.reverse_path.as_ref());
                let origin = OriginRecord::User { address: dir.official(&user.name) };
                let to = filing.forward.len();
                match self.store(from, filing.forward, origin, IpAddr::V6(Ipv6Addr::LOCALHOST), copy).await {
                    Ok(fid) => tracing::info!(id = %letter.id, rcpt = %a, copy = %fid, to, "forwarded"),
                    Err(e) => {
                        out[i] = Outcome::Temporary(Reply::local_delivery_failed(e));
                        continue;
                    }
                }
            }
            if filing.file {
                file.push(i);
            }
        }
        if !file.is_empty() {
            let users: Vec<Address> = file.iter().map(|&i| rcpts[i].clone()).collect();
            let filed = self.deliverer.deliver(&Destination::Local, letter, &users).await;
            for (&i, o) in file.iter().zip(filed) {
                out[i] = o;
            }
        }
        for (i, a) in rcpts.iter().enumerate() {
            if out[i] == Outcome::Delivered
                && let Some(user) = dir.user(a.local())
                && !is_move(letter)
            {
                self.vacation(&dir, user, letter, i).await;
            }
        }
        out
    }

    /// Queues `user`'s vacation reply to `letter`, if it gets one (RFC 3834).
    async fn vacation(&self, dir: &Directory, user: &pochta_directory::User, letter: &Letter, n: usize) {
        let today = pochta_directory::Day::of_unix(crate::clock::unix_now());
        let sender = letter.reverse_path.as_ref();
        let Some(v) = vacation::wants_reply(dir, user, sender, &letter.data, today) else { return };
        let to = sender.expect("a reply has a sender").clone();
        // A small file, fsynced: off the async threads.
        let (log, u, who, days) = (self.replies.clone(), user.clone(), to.clone(), v.interval_days);
        match tokio::task::spawn_blocking(move || log.take(&u, &who, days, today)).await {
            Ok(Ok(true)) => {}
            Ok(Ok(false)) => return,
            Ok(Err(e)) => {
                tracing::warn!(user = %user.name, error = %e, "vacation record unwritable; no reply");
                return;
            }
            Err(e) => {
                tracing::warn!(user = %user.name, error = %e, "vacation record check failed; no reply");
                return;
            }
        }
        let host = &self.deliverer.context().hostname;
        let message_id = format!("vacation.{}.{n}@{host}", letter.id);
        let data = vacation::reply(dir, user, v, &to, &letter.data, &message_id);
        // Null sender (RFC 3834 §3.3): a failed auto-reply bounces to no one.
        let from_ip = IpAddr::V6(Ipv6Addr::LOCALHOST);
        match self.store(None, vec![to.clone()], OriginRecord::Bounce, from_ip, data).await {
            Ok(id) => tracing::info!(user = %user.name, %to, %id, "vacation reply queued"),
            Err(e) => tracing::warn!(user = %user.name, %to, error = %e, "vacation reply not queued"),
        }
    }

    /// The first half of every delivery attempt, the fast path's and the scheduler's: the
    /// final recipients (expanded once, at the first attempt), the pending ones grouped by
    /// destination against the directory *as it is now*, and the ones it refuses now failed.
    fn route(&self, env: &mut Envelope, now: i64) -> BTreeMap<Destination, Vec<usize>> {
        let directory = self.deliverer.directory();
        if env.targets.is_none() {
            env.targets = Some(expand(&directory, env, now));
        }
        let targets = env.targets.as_mut().expect("expanded");
        let pending: Vec<(usize, &Address)> = targets
            .iter()
            .enumerate()
            .filter(|(_, t)| t.is_pending())
            .map(|(i, t)| (i, &t.address))
            .collect();
        let (groups, refused) = self.deliverer.plan(&directory, &pending);
        for (i, o) in refused {
            apply(&mut targets[i], o, "directory", now);
        }
        groups
    }

    /// Runs the scheduler until `stop` turns true; attempts in flight get a few seconds to
    /// finish (their state is on disk either way).
    pub async fn run(self: Arc<Self>, schedule: Schedule, mut stop: watch::Receiver<bool>) {
        self.running.store(true, Ordering::Release);
        let schedule = Arc::new(schedule);
        let permits = Arc::new(Semaphore::new(schedule.concurrency));
        let mut tasks = JoinSet::new();
        let mut last_control = 0;
        let mut last_clock = self.clock.now_ms();
        loop {
            if *stop.borrow() {
                break;
            }
            let now = self.clock.now_ms();
            if now - last_control >= 500 {
                self.control();
                last_control = now;
            }
            if now - last_clock >= CLOCK_CHECK_MS {
                self.clock.check(self.lock().msgs.is_empty());
                last_clock = now;
            }
            let (due, next) = self.take_due(now, permits.available_permits());
            for id in due {
                let permit = permits.clone().try_acquire_owned().expect("counted above");
                let (q, s) = (self.clone(), schedule.clone());
                tasks.spawn(async move {
                    q.attempt(id, &s).await;
                    drop(permit);
                });
            }
            let wait = (next - now).clamp(1, 500) as u64;
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(wait)) => {}
                _ = stop.changed() => {}
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            }
        }
        let drain = async { while tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(Duration::from_secs(10), drain).await.is_err() {
            tasks.abort_all();
        }
        self.running.store(false, Ordering::Release);
        self.spool.durable().close();
    }

    /// Marks up to `limit` due messages busy; also returns when the next one is due.
    fn take_due(&self, now: i64, limit: usize) -> (Vec<QueueId>, i64) {
        let mut st = self.lock();
        let mut due = Vec::new();
        let mut next = now + 500;
        for (id, slot) in st.msgs.iter_mut() {
            if slot.busy {
                continue;
            }
            if slot.env.next_try <= now {
                if due.len() < limit {
                    slot.busy = true;
                    due.push(id.clone());
                }
            } else {
                next = next.min(slot.env.next_try);
            }
        }
        (due, next)
    }

    /// Applies `pochta-agent queue retry|delete|bounce` requests.
    fn control(&self) {
        for (id, action, path) in self.spool.control_requests() {
            let mut st = self.lock();
            let Some(slot) = st.msgs.get_mut(&id) else {
                let _ = std::fs::remove_file(&path);
                continue;
            };
            if slot.busy {
                continue;
            }
            match action.as_str() {
                "retry" => {
                    slot.env.next_try = 0;
                    slot.force = true;
                }
                "bounce" => {
                    let now = self.clock.now_ms();
                    let failed = |t: &mut Target| {
                        if t.is_pending() {
                            t.state = TargetState::failed(now, &Reply::removed_by_admin());
                        }
                    };
                    let env = &mut slot.env;
                    let targets = env
                        .targets
                        .get_or_insert_with(|| env.recipients.iter().cloned().map(Target::pending).collect());
                    targets.iter_mut().for_each(failed);
                    slot.env.next_try = 0;
                }
                "delete" => {
                    let dir = slot.dir.clone();
                    if let Err(e) = self.spool.remove(&dir, &id) {
                        tracing::error!(%id, error = %e, "cannot delete a queued message");
                        continue;
                    }
                    st.msgs.remove(&id);
                    tracing::info!(%id, "deleted from the queue by the administrator");
                }
                other => tracing::warn!(%id, action = other, "unknown queue request ignored"),
            }
            let _ = std::fs::remove_file(&path);
        }
        self.wake.notify_one();
    }

    /// May `dest` be tried now? `Err(when)` if it is backing off (or another message is
    /// probing it).
    fn gate(&self, dest: &Destination, now: i64, force: bool) -> Result<(), i64> {
        let mut st = self.lock();
        let d = st.dests.entry(dest.clone()).or_default();
        if force || d.failures == 0 {
            return Ok(());
        }
        if d.probing {
            return Err(now + 1000);
        }
        if d.retry_at <= now {
            d.probing = true;
            return Ok(());
        }
        Err(d.retry_at)
    }

    /// Records a transaction's fate at `dest`. On recovery, every waiting message goes now.
    fn settle(&self, dest: &Destination, reached: bool, schedule: &Schedule) -> i64 {
        let now = self.clock.now_ms();
        let mut st = self.lock();
        let d = st.dests.entry(dest.clone()).or_default();
        d.probing = false;
        if reached {
            let was_down = d.failures > 0;
            d.failures = 0;
            if was_down {
                tracing::info!(%dest, "destination reachable again; sending what waited");
                for slot in st.msgs.values_mut().filter(|s| !s.busy) {
                    slot.env.next_try = slot.env.next_try.min(now);
                }
                self.wake.notify_one();
            }
            now
        } else {
            // Concurrent failures of one outage count once.
            if d.retry_at <= now {
                d.failures += 1;
                d.retry_at = now + schedule.backoff(d.failures);
            }
            d.retry_at
        }
    }

    async fn attempt(self: &Arc<Self>, id: QueueId, schedule: &Schedule) {
        let (mut env, dir, data, recovered, force) = {
            let mut st = self.lock();
            let Some(slot) = st.msgs.get_mut(&id) else { return };
            let force = std::mem::take(&mut slot.force);
            (slot.env.clone(), slot.dir.clone(), slot.data.take(), slot.recovered, force)
        };
        let data = match data {
            Some(d) => d,
            None => {
                let (q, dir, id2) = (self.clone(), dir.clone(), id.clone());
                match tokio::task::spawn_blocking(move || q.spool.read_data(&dir, &id2)).await {
                    Ok(Ok(d)) => Arc::from(d),
                    Ok(Err(e)) => return self.unreadable(&id, &e.to_string()),
                    Err(e) => return self.unreadable(&id, &e.to_string()),
                }
            }
        };
        let now = self.clock.now_ms();
        env.attempts += 1;
        let groups = self.route(&mut env, now);
        let letter = letter(&env, data.clone(), recovered);
        let targets = env.targets.as_mut().expect("expanded");
        let mut next_try = i64::MAX;
        let mut rcpt_temp = false;
        let mut go = Vec::new();
        for (dest, idx) in groups {
            match self.gate(&dest, now, force) {
                Ok(()) => go.push((dest, idx)),
                Err(when) => {
                    next_try = next_try.min(when);
                    for &i in &idx {
                        targets[i].last_error = Some(format!("waiting: {dest} is backing off"));
                    }
                }
            }
        }
        let mut running = JoinSet::new();
        for (dest, idx) in go {
            let (q, letter, rcpts) = (self.clone(), letter.clone(), recipients(&env, &idx));
            running.spawn(async move {
                let out = if dest == Destination::Local {
                    q.deliver_local(&letter, &rcpts).await
                } else {
                    q.deliverer.deliver(&dest, &letter, &rcpts).await
                };
                (dest, idx, out)
            });
        }
        while let Some(joined) = running.join_next().await {
            let Ok((dest, idx, outcomes)) = joined else { continue };
            let all_temp = outcomes.iter().all(|o| matches!(o, Outcome::Temporary(_)));
            rcpt_temp |= !all_temp && outcomes.iter().any(|o| matches!(o, Outcome::Temporary(_)));
            record(&mut env, &dest, &idx, outcomes, self.clock.now_ms());
            if dest != Destination::Local {
                let retry_at = self.settle(&dest, !all_temp, schedule);
                if all_temp {
                    next_try = next_try.min(retry_at);
                }
                // Per-recipient states on disk before anything else happens to this message.
                if let Err(e) = self.spool.save_env(&dir, &env).await {
                    tracing::error!(%id, error = %e, "cannot record delivery state");
                }
            } else if all_temp {
                rcpt_temp = true;
            }
        }
        let now = self.clock.now_ms();
        let expires = env.created + schedule.lifetime.as_millis() as i64;
        if !env.is_done() && now >= expires {
            let targets = env.targets.as_mut().expect("expanded");
            for t in targets.iter_mut().filter(|t| t.is_pending()) {
                let last = t.last_error.clone().unwrap_or_else(|| "no attempt succeeded".into());
                t.state = TargetState::failed(now, &Reply::expired(&last));
            }
        }
        if env.is_done() {
            self.finish(env, &dir, &data, schedule).await;
            return;
        }
        if rcpt_temp || next_try == i64::MAX {
            next_try = next_try.min(now + schedule.backoff(env.attempts));
        }
        env.next_try = next_try.min(expires).max(now + 1);
        if let Err(e) = self.spool.save_env(&dir, &env).await {
            tracing::error!(%id, error = %e, "cannot record delivery state");
        }
        let next = env.next_try;
        self.release(&id, Some(env), next);
    }

    fn unreadable(&self, id: &QueueId, e: &str) {
        tracing::error!(%id, error = %e, "cannot read a queued message");
        self.release(id, None, self.clock.now_ms() + 60_000);
    }

    /// Puts a message back after an unfinished attempt.
    fn release(&self, id: &QueueId, env: Option<Envelope>, next_try: i64) {
        let mut st = self.lock();
        if let Some(slot) = st.msgs.get_mut(id) {
            if let Some(env) = env {
                slot.env = env;
            }
            slot.env.next_try = next_try;
            slot.busy = false;
        }
    }

    /// Every recipient is final: queue the DSN if one is due, then remove the message.
    async fn finish(
        self: &Arc<Self>,
        env: Envelope,
        dir: &std::path::Path,
        data: &[u8],
        schedule: &Schedule,
    ) {
        let id = env.id.clone();
        if let Some(report) = dsn::build(&env, data, &schedule.hostname, self.clock.now_ms()) {
            let to = env.reverse_path.clone().expect("a DSN has a recipient");
            let from_ip = IpAddr::V6(Ipv6Addr::LOCALHOST);
            if let Err(e) = self.store(None, vec![to], OriginRecord::Bounce, from_ip, report).await {
                tracing::error!(%id, error = %e, "cannot queue the DSN; will try again");
                let _ = self.spool.save_env(dir, &env).await;
                self.release(&id, Some(env), self.clock.now_ms() + 60_000);
                return;
            }
            tracing::info!(%id, failed = env.failed().count(), "DSN queued");
        }
        if let Err(e) = self.spool.remove(dir, &id) {
            tracing::error!(%id, error = %e, "cannot remove a delivered message");
        }
        self.lock().msgs.remove(&id);
        tracing::debug!(%id, "done");
    }
}

fn new_envelope(
    now: i64,
    id: QueueId,
    reverse_path: Option<Address>,
    recipients: Vec<Address>,
    origin: OriginRecord,
    client_ip: IpAddr,
    size: usize,
) -> Envelope {
    Envelope {
        id,
        reverse_path,
        recipients,
        origin,
        client_ip,
        created: now,
        attempts: 0,
        next_try: now,
        size: size as u64,
        targets: None,
    }
}

/// The letter of `env` as delivery sees it.
fn letter(env: &Envelope, data: Arc<[u8]>, recovered: bool) -> Letter {
    Letter {
        id: env.id.clone(),
        reverse_path: env.reverse_path.clone(),
        created: env.created,
        data,
        recovered,
        from_peer: matches!(env.origin, OriginRecord::Peer { .. }),
    }
}

/// Whether `letter` is a letter of a mailbox moving here: filed as it was, never forwarded
/// or answered again.
fn is_move(letter: &Letter) -> bool {
    letter.from_peer && crate::mail::header::first(&letter.data, crate::mail::trace::MOVE).is_some()
}

/// The addresses of the recipients `idx` of `env`: one attempt at one destination (one
/// transaction, or one group commit of Maildir copies) sends to these.
fn recipients(env: &Envelope, idx: &[usize]) -> Vec<Address> {
    let targets = env.targets.as_deref().unwrap_or_default();
    idx.iter().map(|&i| targets[i].address.clone()).collect()
}

/// One attempt's outcomes for the recipients `idx` of `env`, into their states.
fn record(env: &mut Envelope, dest: &Destination, idx: &[usize], outcomes: Vec<Outcome>, at: i64) {
    let via = dest.to_string();
    let targets = env.targets.as_mut().expect("routed before sending");
    for (&i, o) in idx.iter().zip(outcomes) {
        apply(&mut targets[i], o, &via, at);
    }
}

fn apply(t: &mut Target, o: Outcome, via: &str, at: i64) {
    match o {
        Outcome::Delivered => {
            t.state = TargetState::Delivered { at, via: via.to_owned() };
            t.last_error = None;
        }
        Outcome::Temporary(why) => t.last_error = Some(why.to_string()),
        Outcome::Permanent(why) => t.state = TargetState::failed(at, &why),
    }
}

fn failed_target(address: Address, why: &Rejection, at: i64) -> Target {
    Target { address, state: TargetState::failed(at, &Reply::rejected(why)), last_error: None }
}

/// The final recipients of a message. At the first agent, aliases and lists expand here, once;
/// a peer's recipients are final mailboxes already and only get their official form.
fn expand(dir: &Directory, env: &Envelope, now: i64) -> Vec<Target> {
    let mut out: Vec<Target> = Vec::new();
    let mut push = |t: Target| {
        if !out.iter().any(|o| o.address == t.address) {
            out.push(t);
        }
    };
    let sender = Sender { address: env.reverse_path.clone(), internal: env.origin.internal() };
    let single = |res: &pochta_directory::resolve::Resolution| {
        res.external.is_empty() && res.local.values().map(|n| n.len()).sum::<usize>() == 1
    };
    if matches!(env.origin, OriginRecord::Peer { .. }) {
        for r in &env.recipients {
            if !dir.is_ours(r.domain()) {
                push(Target::pending(r.clone()));
                continue;
            }
            match resolve(dir, r, &sender) {
                Ok(res) if single(&res) => {
                    let name = res.local.values().flatten().next().expect("one mailbox");
                    push(Target::pending(dir.official(name)));
                }
                Ok(res) => {
                    for name in res.local.values().flatten() {
                        push(Target::pending(dir.official(name)));
                    }
                    res.external.into_iter().for_each(|a| push(Target::pending(a)));
                }
                Err(why) => push(failed_target(r.clone(), &why, now)),
            }
        }
        return out;
    }
    let (res, refused) = resolve_all(dir, &env.recipients, &sender);
    for name in res.local.values().flatten() {
        push(Target::pending(dir.official(name)));
    }
    res.external.into_iter().for_each(|a| push(Target::pending(a)));
    for (addr, why) in refused {
        match why {
            Rejection::NotOurs => push(Target::pending(addr)),
            why => push(failed_target(addr, &why, now)),
        }
    }
    out
}

impl Sink for Queue {
    const COUNTS_ACCEPTED: bool = true;
    async fn enqueue(&self, msg: Incoming) -> Result<QueueId, QueueError> {
        // A letter of a mailbox moving here is counted when filed (`moved_in`), not as mail.
        let moving = matches!(msg.origin, crate::queue::Origin::Peer { .. })
            && crate::mail::header::first(&msg.data, crate::mail::trace::MOVE).is_some();
        let id = self.local_only(msg).await?;
        if !moving {
            self.counters.accepted.fetch_add(1, Ordering::Relaxed);
        }
        Ok(id)
    }
}

impl Sink for Arc<Queue> {
    const COUNTS_ACCEPTED: bool = true;
    async fn enqueue(&self, msg: Incoming) -> Result<QueueId, QueueError> {
        self.as_ref().enqueue(msg).await
    }
}
