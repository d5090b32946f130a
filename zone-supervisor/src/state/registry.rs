//! The realm registry: one slot per arena name and the life of the worker
//! processes that serve it — start on demand, hello and ready, heartbeat
//! watchdog, restart after a crash with back-off, give up past a limit,
//! stop when idle.
//!
//! Sans-IO: nothing here spawns, kills, reads a clock or touches a socket.
//! Every method takes `now` and pushes [`Action`]s for the zone shell
//! (`realm_link.rs`) to carry out. Which players a slot has is not kept
//! here but in [`Membership`](super::Membership); the registry is told
//! whether a slot is empty when it needs to know.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use super::{Action, WorkerMsg};

/// Identifies a realm slot (stable for an arena name while the slot lives).
pub type SlotId = u32;
/// Identifies one worker process instance (a restarted realm gets a new id).
pub type WorkerId = u32;

/// How long a stopping worker gets before it is killed.
pub const STOP_GRACE: Duration = Duration::from_secs(5);
/// Shortest time an upgrade's successor gets to become ready, and its
/// predecessor to hand over (the heartbeat timeout if longer).
pub const UPGRADE_GRACE: Duration = Duration::from_secs(10);

/// Life-cycle state of a realm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum RealmState {
    /// Worker started, not ready yet.
    Starting,
    /// Worker ready and serving.
    Running,
    /// Worker ended; a new one starts after the back-off.
    Restarting,
    /// Crashed too often; needs an operator restart.
    Failed,
    /// Idle; the worker was asked to stop.
    Stopping,
}

impl RealmState {
    /// Lower-case name for reports.
    pub fn as_str(self) -> &'static str {
        match self {
            RealmState::Starting => "starting",
            RealmState::Running => "running",
            RealmState::Restarting => "restarting",
            RealmState::Failed => "failed",
            RealmState::Stopping => "stopping",
        }
    }
}

/// Why a worker process ended (or was ended).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ExitCause {
    /// The process exited by itself with this status.
    Exited(i32),
    /// The process was ended by this signal (name, e.g. `SIGKILL`).
    Signaled(String),
    /// Stopped answering heartbeats.
    Unresponsive,
    /// Asked to stop when idle and did not within [`STOP_GRACE`].
    DidNotStop,
    /// Sent more IPC bytes in a second than allowed.
    Flooded(u64),
    /// Broke the IPC protocol (no hello, bad frame, oversized request...).
    Misbehaved(String),
    /// An operator (or staff command) asked for a restart.
    RestartRequested,
    /// The process could not be started.
    StartFailed(String),
    /// An upgrade's successor did not become ready in time.
    NotReady,
    /// An upgrade's successor was stopped because the upgrade could not go
    /// on (the realm's worker ended or the realm stopped meanwhile).
    UpgradeAborted(String),
    /// Still running when the zone shut down.
    Shutdown,
}

impl ExitCause {
    /// Whether the end was planned (does not count as a crash).
    pub fn planned(&self) -> bool {
        matches!(
            self,
            ExitCause::RestartRequested | ExitCause::Shutdown | ExitCause::UpgradeAborted(_)
        )
    }
}

impl std::fmt::Display for ExitCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExitCause::Exited(code) => write!(f, "exit code {code}"),
            ExitCause::Signaled(sig) => write!(f, "signal {sig}"),
            ExitCause::Unresponsive => f.write_str("unresponsive"),
            ExitCause::DidNotStop => f.write_str("did not stop in time"),
            ExitCause::Flooded(bytes) => write!(
                f,
                "flooded the supervisor ({bytes} bytes in under a second)"
            ),
            ExitCause::Misbehaved(why) => f.write_str(why),
            ExitCause::RestartRequested => f.write_str("restart requested"),
            ExitCause::StartFailed(why) => write!(f, "start failed: {why}"),
            ExitCause::NotReady => f.write_str("not ready in time"),
            ExitCause::UpgradeAborted(why) => write!(f, "upgrade aborted: {why}"),
            ExitCause::Shutdown => f.write_str("still running at shutdown"),
        }
    }
}

/// Realm policy read from `[Realms]`.
#[derive(Clone, Debug)]
pub struct RealmPolicy {
    /// How long an empty realm's worker lives.
    pub idle_stop: Duration,
    /// Interval of heartbeats.
    pub heartbeat: Duration,
    /// Silence after which a worker counts as hung and is killed.
    pub heartbeat_timeout: Duration,
    /// Crashes within `restart_window` before the realm is marked failed.
    pub restart_limit: u32,
    /// Window for counting crashes.
    pub restart_window: Duration,
    /// Delay before the second restart in a row (doubles each time; the
    /// first restart is immediate).
    pub backoff_base: Duration,
    /// Longest back-off.
    pub backoff_max: Duration,
    /// Where players of a failed realm go.
    pub default_arena: String,
    /// Bytes per second a worker may send before it is killed as flooding.
    pub max_ipc_bytes_per_sec: u64,
    /// Bytes queued for a worker (handed to its writer or waiting) beyond
    /// which forwarded player packets are dropped, oldest first.
    pub ipc_queue_max_bytes: u64,
}

impl Default for RealmPolicy {
    fn default() -> Self {
        RealmPolicy {
            idle_stop: Duration::from_secs(30),
            heartbeat: Duration::from_millis(500),
            heartbeat_timeout: Duration::from_secs(3),
            restart_limit: 5,
            restart_window: Duration::from_secs(60),
            backoff_base: Duration::from_millis(250),
            backoff_max: Duration::from_secs(10),
            default_arena: "0".to_string(),
            max_ipc_bytes_per_sec: 64 << 20,
            ipc_queue_max_bytes: 1 << 20,
        }
    }
}

/// The link-level life of one worker process.
#[derive(Debug)]
pub struct WorkerLife {
    /// Which process instance.
    pub id: WorkerId,
    /// Said a valid hello.
    pub hello: bool,
    /// Said it is ready for players.
    pub ready: bool,
    /// When it was started.
    pub started: Instant,
    heartbeat_seq: u32,
    last_ack: Instant,
    /// Set when the supervisor ends the worker, to report why.
    kill_cause: Option<ExitCause>,
    /// Start of the current one-second flood-accounting window.
    flood_window: Instant,
    /// Bytes received in that window.
    flood_bytes: u64,
}

impl WorkerLife {
    /// A worker just started.
    fn new(id: WorkerId, now: Instant) -> Self {
        WorkerLife {
            id,
            hello: false,
            ready: false,
            started: now,
            heartbeat_seq: 0,
            last_ack: now,
            kill_cause: None,
            flood_window: now,
            flood_bytes: 0,
        }
    }
}

/// Where an upgrade's successor worker is (`docs/upgrades.md` §2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SuccessorPhase {
    /// Started, not ready yet; the current worker serves.
    Starting,
    /// Ready; the current worker was asked to hand over (since then).
    HandingOver {
        /// When the hand-over was asked for.
        since: Instant,
    },
}

/// A worker started to replace a slot's current one (a realm upgrade).
#[derive(Debug)]
pub struct Successor {
    /// Its life.
    pub life: WorkerLife,
    /// How far the hand-over is.
    pub phase: SuccessorPhase,
}

/// Counters kept per realm across its workers.
#[derive(Default, Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
pub struct RealmCounters {
    /// IPC messages to the realm.
    pub ipc_msgs_to: u64,
    /// IPC messages from the realm.
    pub ipc_msgs_from: u64,
    /// IPC bytes to the realm.
    pub ipc_bytes_to: u64,
    /// IPC bytes from the realm.
    pub ipc_bytes_from: u64,
    /// Player packets forwarded to the realm.
    pub packets_in: u64,
    /// Packets the realm had sent to players.
    pub packets_out: u64,
    /// Player packets not delivered because the IPC queue was full.
    pub ipc_dropped: u64,
}

/// A realm: its name, state and current worker.
#[derive(Debug)]
pub struct RealmSlot {
    /// Slot id.
    pub id: SlotId,
    /// Arena name.
    pub name: String,
    /// Life-cycle state.
    pub state: RealmState,
    /// The current worker, if one runs.
    pub worker: Option<WorkerLife>,
    /// Worker ends so far (crashes and planned restarts).
    pub restarts: u32,
    /// Why the last worker ended.
    pub last_exit: Option<ExitCause>,
    /// The arena's score group.
    pub score_group: String,
    /// IPC and packet counters.
    pub counters: RealmCounters,
    /// Setup problems the realm reported (missing map, ...).
    pub problems: Vec<String>,
    /// The latest radar snapshot (while the dashboard watches the realm).
    pub radar: Vec<ipc_proto::RadarEntry>,
    /// The worker replacing the current one during an upgrade.
    pub successor: Option<Successor>,
    crash_times: VecDeque<Instant>,
    restart_at: Option<Instant>,
    empty_since: Option<Instant>,
    stopping_since: Option<Instant>,
}

impl RealmSlot {
    /// Whether the worker accepts player messages.
    pub fn ready(&self) -> bool {
        self.state == RealmState::Running && self.worker.as_ref().is_some_and(|w| w.ready)
    }

    /// The current worker's id.
    pub fn worker_id(&self) -> Option<WorkerId> {
        self.worker.as_ref().map(|w| w.id)
    }

    /// The ready worker's id (`None` while starting or restarting).
    pub fn ready_worker(&self) -> Option<WorkerId> {
        self.ready().then(|| self.worker_id()).flatten()
    }
}

/// What became of a slot whose worker ended.
#[derive(Debug, PartialEq, Eq)]
pub enum WorkerEnd {
    /// An idle slot's worker stopped; the slot is gone.
    Removed,
    /// A new worker starts (now or after the back-off).
    Restarting {
        /// The end was planned (no crash counted, players not warned).
        planned: bool,
    },
    /// Too many crashes: the slot is failed.
    Failed,
}

/// All realm slots and their workers.
pub struct RealmRegistry {
    slots: HashMap<SlotId, RealmSlot>,
    by_name: HashMap<String, SlotId>,
    by_worker: HashMap<WorkerId, SlotId>,
    next_slot: SlotId,
    next_worker: WorkerId,
    /// The rules in force (replaced on reload).
    pub policy: RealmPolicy,
}

impl RealmRegistry {
    /// An empty registry.
    pub fn new(policy: RealmPolicy) -> Self {
        RealmRegistry {
            slots: HashMap::new(),
            by_name: HashMap::new(),
            by_worker: HashMap::new(),
            next_slot: 1,
            next_worker: 1,
            policy,
        }
    }

    /// The slot with this id.
    pub fn get(&self, id: SlotId) -> Option<&RealmSlot> {
        self.slots.get(&id)
    }

    /// The slot with this id, mutably (for counters).
    pub fn get_mut(&mut self, id: SlotId) -> Option<&mut RealmSlot> {
        self.slots.get_mut(&id)
    }

    /// The slot serving an arena name.
    pub fn by_name(&self, name: &str) -> Option<&RealmSlot> {
        self.slots.get(self.by_name.get(name)?)
    }

    /// The slot a live worker belongs to (`None` for a worker that was
    /// replaced or forgotten: its events are to be ignored).
    pub fn slot_of_worker(&self, worker: WorkerId) -> Option<SlotId> {
        let id = *self.by_worker.get(&worker)?;
        let current = self.slots.get(&id)?.worker_id();
        (current == Some(worker)).then_some(id)
    }

    /// All slots.
    pub fn iter(&self) -> impl Iterator<Item = &RealmSlot> {
        self.slots.values()
    }

    /// Number of slots.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// The slot for `name`, creating it (and starting its worker) if there
    /// is none. A stopping slot is kept and restarted after its worker
    /// ends. Failed slots are returned as they are: the caller decides.
    pub fn want(
        &mut self,
        now: Instant,
        name: &str,
        score_group: impl FnOnce() -> String,
        out: &mut Vec<Action>,
    ) -> SlotId {
        if let Some(&id) = self.by_name.get(name) {
            if let Some(slot) = self.slots.get_mut(&id) {
                if slot.state == RealmState::Stopping {
                    // Wanted again before the worker has gone: let it
                    // finish and start a fresh one after it.
                    slot.state = RealmState::Restarting;
                    slot.restart_at = Some(now);
                    slot.stopping_since = None;
                }
                return id;
            }
        }
        let id = self.next_slot;
        self.next_slot += 1;
        let slot = RealmSlot {
            id,
            name: name.to_string(),
            state: RealmState::Starting,
            worker: None,
            restarts: 0,
            last_exit: None,
            score_group: score_group(),
            counters: RealmCounters::default(),
            problems: Vec::new(),
            radar: Vec::new(),
            successor: None,
            crash_times: VecDeque::new(),
            restart_at: None,
            empty_since: None,
            stopping_since: None,
        };
        self.slots.insert(id, slot);
        self.by_name.insert(name.to_string(), id);
        self.start_worker(now, id, out);
        id
    }

    fn start_worker(&mut self, now: Instant, id: SlotId, out: &mut Vec<Action>) {
        let Some(slot) = self.slots.get_mut(&id) else {
            return;
        };
        let worker = self.next_worker;
        self.next_worker += 1;
        self.by_worker.insert(worker, id);
        slot.worker = Some(WorkerLife::new(worker, now));
        slot.state = RealmState::Starting;
        slot.restart_at = None;
        slot.empty_since = None;
        out.push(Action::SpawnWorker {
            worker,
            realm: slot.name.clone(),
        });
    }

    fn worker_mut(&mut self, worker: WorkerId) -> Option<(&mut RealmSlot, SlotId)> {
        let id = self.slot_of_worker(worker)?;
        Some((self.slots.get_mut(&id)?, id))
    }

    /// Ends a worker: records why (the first reason wins) and asks the
    /// shell to kill it. Its exit is reported later as for any exit.
    pub fn kill(&mut self, worker: WorkerId, cause: ExitCause, out: &mut Vec<Action>) {
        if let Some(id) = self.successor_slot(worker) {
            if let Some(s) = self.slots.get_mut(&id).and_then(|s| s.successor.as_mut()) {
                s.life.kill_cause.get_or_insert(cause);
                out.push(Action::KillWorker { worker });
            }
            return;
        }
        let Some((slot, _)) = self.worker_mut(worker) else {
            return;
        };
        if let Some(w) = slot.worker.as_mut() {
            if w.kill_cause.is_none() {
                w.kill_cause = Some(cause);
            }
            out.push(Action::KillWorker { worker });
        }
    }

    /// Counts bytes from a worker; a worker over the per-second limit is
    /// killed as flooding. Returns whether the bytes may be handled.
    pub fn note_bytes(
        &mut self,
        now: Instant,
        worker: WorkerId,
        len: usize,
        out: &mut Vec<Action>,
    ) -> bool {
        let limit = self.policy.max_ipc_bytes_per_sec;
        let Some((slot, _)) = self.worker_mut(worker) else {
            return false;
        };
        slot.counters.ipc_bytes_from += len as u64;
        let Some(w) = slot.worker.as_mut() else {
            return false;
        };
        if now.saturating_duration_since(w.flood_window) >= Duration::from_secs(1) {
            w.flood_window = now;
            w.flood_bytes = 0;
        }
        w.flood_bytes += len as u64;
        if w.flood_bytes > limit {
            let bytes = w.flood_bytes;
            self.kill(worker, ExitCause::Flooded(bytes), out);
            return false;
        }
        true
    }

    /// The worker said hello: `Err` (and a kill) unless it is the first
    /// hello and speaks our IPC version.
    pub fn hello(
        &mut self,
        now: Instant,
        worker: WorkerId,
        version_ok: bool,
        out: &mut Vec<Action>,
    ) -> bool {
        let Some((slot, _)) = self.worker_mut(worker) else {
            return false;
        };
        let Some(w) = slot.worker.as_mut() else {
            return false;
        };
        if w.hello || !version_ok {
            let why = if w.hello {
                "said hello twice"
            } else {
                "no valid hello (a worker built from other sources?)"
            };
            self.kill(worker, ExitCause::Misbehaved(why.into()), out);
            return false;
        }
        w.hello = true;
        w.last_ack = now;
        true
    }

    /// Whether a worker has said its hello (messages before it are a
    /// protocol violation).
    pub fn has_said_hello(&self, worker: WorkerId) -> bool {
        self.slot_of_worker(worker)
            .and_then(|id| self.slots.get(&id)?.worker.as_ref())
            .is_some_and(|w| w.hello)
    }

    /// The worker is ready: returns its slot when it now serves players.
    pub fn ready(&mut self, now: Instant, worker: WorkerId) -> Option<SlotId> {
        let (slot, id) = self.worker_mut(worker)?;
        let w = slot.worker.as_mut()?;
        w.ready = true;
        w.last_ack = now;
        if slot.state == RealmState::Starting {
            slot.state = RealmState::Running;
        }
        slot.ready().then_some(id)
    }

    /// A heartbeat answer: the worker is alive if it answers the latest.
    pub fn heartbeat_ack(&mut self, now: Instant, worker: WorkerId, seq: u32) {
        if let Some(w) = self.worker_mut(worker).and_then(|(s, _)| s.worker.as_mut()) {
            if seq == w.heartbeat_seq {
                w.last_ack = now;
            }
        }
    }

    /// A worker process ended. `is_empty` says whether the slot has no
    /// players. Events of replaced workers return `None`.
    pub fn exited(
        &mut self,
        now: Instant,
        worker: WorkerId,
        cause: ExitCause,
        is_empty: bool,
        out: &mut Vec<Action>,
    ) -> Option<(SlotId, WorkerEnd, ExitCause)> {
        let id = self.slot_of_worker(worker)?;
        self.by_worker.remove(&worker);
        let policy = self.policy.clone();
        let slot = self.slots.get_mut(&id)?;
        let w = slot.worker.take()?;
        let cause = w.kill_cause.unwrap_or(cause);
        if let Some(s) = slot.successor.as_mut() {
            // The upgrade cannot go on: the realm restarts as after any end.
            s.life
                .kill_cause
                .get_or_insert(ExitCause::UpgradeAborted(format!(
                    "the realm's worker ended ({cause})"
                )));
            out.push(Action::KillWorker { worker: s.life.id });
        }
        if slot.state == RealmState::Stopping && is_empty {
            let name = slot.name.clone();
            self.slots.remove(&id);
            if self.by_name.get(&name) == Some(&id) {
                self.by_name.remove(&name);
            }
            return Some((id, WorkerEnd::Removed, cause));
        }
        let planned =
            matches!(slot.state, RealmState::Restarting | RealmState::Stopping) || cause.planned();
        slot.last_exit = Some(cause.clone());
        slot.restarts += 1;
        if !planned {
            slot.crash_times.push_back(now);
        }
        while slot
            .crash_times
            .front()
            .is_some_and(|&t| now.saturating_duration_since(t) > policy.restart_window)
        {
            slot.crash_times.pop_front();
        }
        let crashes = slot.crash_times.len() as u32;
        if crashes > policy.restart_limit {
            slot.state = RealmState::Failed;
            slot.restart_at = None;
            return Some((id, WorkerEnd::Failed, cause));
        }
        let delay = restart_delay(&policy, crashes, planned);
        slot.state = RealmState::Restarting;
        slot.restart_at = Some(now + delay);
        self.restart_due(now, out);
        Some((id, WorkerEnd::Restarting { planned }, cause))
    }

    /// Starts the workers whose back-off has passed.
    pub fn restart_due(&mut self, now: Instant, out: &mut Vec<Action>) {
        let mut due: Vec<SlotId> = self
            .slots
            .values()
            .filter(|s| {
                s.state == RealmState::Restarting
                    && s.worker.is_none()
                    && s.restart_at.is_some_and(|t| t <= now)
            })
            .map(|s| s.id)
            .collect();
        due.sort_unstable();
        for id in due {
            self.start_worker(now, id, out);
        }
    }

    /// The periodic duties: heartbeats, hang detection, idle stops, stop
    /// grace, due restarts. `is_empty(slot)` says whether a slot has no
    /// players.
    pub fn tick(&mut self, now: Instant, is_empty: impl Fn(SlotId) -> bool, out: &mut Vec<Action>) {
        let policy = self.policy.clone();
        let mut to_kill = Vec::new();
        let mut ids: Vec<SlotId> = self.slots.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            let empty = is_empty(id);
            let Some(slot) = self.slots.get_mut(&id) else {
                continue;
            };
            let Some(w) = slot.worker.as_mut() else {
                continue;
            };
            if w.kill_cause.is_none()
                && now.saturating_duration_since(w.last_ack) >= policy.heartbeat_timeout
            {
                to_kill.push((w.id, ExitCause::Unresponsive));
                continue;
            }
            if w.hello && now.saturating_duration_since(w.last_ack) >= policy.heartbeat {
                w.heartbeat_seq = w.heartbeat_seq.wrapping_add(1);
                out.push(Action::ToWorker {
                    worker: w.id,
                    msg: WorkerMsg::Heartbeat {
                        seq: w.heartbeat_seq,
                    },
                });
            }
            let worker = w.id;
            match slot.state {
                RealmState::Running if empty => {
                    let since = *slot.empty_since.get_or_insert(now);
                    if now.saturating_duration_since(since) >= policy.idle_stop {
                        out.push(Action::ToWorker {
                            worker,
                            msg: WorkerMsg::Shutdown,
                        });
                        slot.state = RealmState::Stopping;
                        slot.stopping_since = Some(now);
                    }
                }
                RealmState::Stopping => {
                    if slot
                        .stopping_since
                        .is_some_and(|t| now.saturating_duration_since(t) >= STOP_GRACE)
                    {
                        to_kill.push((worker, ExitCause::DidNotStop));
                    }
                }
                _ => slot.empty_since = None,
            }
        }
        let grace = UPGRADE_GRACE.max(policy.heartbeat_timeout);
        for slot in self.slots.values() {
            let Some(s) = slot.successor.as_ref() else {
                continue;
            };
            match s.phase {
                SuccessorPhase::Starting
                    if s.life.kill_cause.is_none()
                        && now.saturating_duration_since(s.life.started) >= grace =>
                {
                    to_kill.push((s.life.id, ExitCause::NotReady));
                }
                SuccessorPhase::HandingOver { since }
                    if now.saturating_duration_since(since) >= grace =>
                {
                    if let Some(w) = slot.worker.as_ref().filter(|w| w.kill_cause.is_none()) {
                        to_kill.push((w.id, ExitCause::Unresponsive));
                    }
                }
                _ => {}
            }
        }
        for (worker, cause) in to_kill {
            self.kill(worker, cause, out);
        }
        self.restart_due(now, out);
    }

    // ----- upgrades (docs/upgrades.md §2) ----------------------------------

    /// The slot whose successor this worker is.
    pub fn successor_slot(&self, worker: WorkerId) -> Option<SlotId> {
        let id = *self.by_worker.get(&worker)?;
        let slot = self.slots.get(&id)?;
        (slot.successor.as_ref()?.life.id == worker).then_some(id)
    }

    /// Starts a successor worker for a running realm (the shell spawns it
    /// from the upgrade's binary). `Err` says why the realm cannot be
    /// upgraded now.
    pub fn begin_upgrade(
        &mut self,
        now: Instant,
        name: &str,
        out: &mut Vec<Action>,
    ) -> Result<WorkerId, String> {
        let id = *self
            .by_name
            .get(name)
            .ok_or_else(|| format!("no realm named {name}"))?;
        let worker = self.next_worker;
        let slot = self
            .slots
            .get_mut(&id)
            .ok_or_else(|| format!("no realm named {name}"))?;
        if slot.successor.is_some() {
            return Err(format!("realm {name} is being upgraded already"));
        }
        if !slot.ready() {
            return Err(format!("realm {name} is {}", slot.state.as_str()));
        }
        self.next_worker += 1;
        self.by_worker.insert(worker, id);
        slot.successor = Some(Successor {
            life: WorkerLife::new(worker, now),
            phase: SuccessorPhase::Starting,
        });
        out.push(Action::SpawnSuccessor {
            worker,
            realm: slot.name.clone(),
        });
        Ok(worker)
    }

    /// A successor's hello: `false` (and a kill) unless it is its first
    /// and speaks our IPC version.
    pub fn successor_hello(
        &mut self,
        now: Instant,
        worker: WorkerId,
        version_ok: bool,
        out: &mut Vec<Action>,
    ) -> bool {
        let Some(id) = self.successor_slot(worker) else {
            return false;
        };
        let Some(s) = self.slots.get_mut(&id).and_then(|s| s.successor.as_mut()) else {
            return false;
        };
        if s.life.hello || !version_ok {
            let why = if s.life.hello {
                "said hello twice"
            } else {
                "no valid hello (a worker of another IPC protocol version?)"
            };
            self.kill(worker, ExitCause::Misbehaved(why.into()), out);
            return false;
        }
        s.life.hello = true;
        s.life.last_ack = now;
        true
    }

    /// Whether a successor has said its hello.
    pub fn successor_said_hello(&self, worker: WorkerId) -> bool {
        self.successor_slot(worker)
            .and_then(|id| self.slots.get(&id)?.successor.as_ref())
            .is_some_and(|s| s.life.hello)
    }

    /// The successor is ready: returns its slot and the current worker,
    /// which is now to hand over. `None` if the upgrade cannot go on (the
    /// successor is then stopped).
    pub fn successor_ready(
        &mut self,
        now: Instant,
        worker: WorkerId,
        out: &mut Vec<Action>,
    ) -> Option<(SlotId, WorkerId)> {
        let id = self.successor_slot(worker)?;
        let slot = self.slots.get_mut(&id)?;
        let current = slot.ready_worker();
        let s = slot.successor.as_mut()?;
        if s.phase != SuccessorPhase::Starting || !s.life.hello {
            return None;
        }
        let Some(current) = current else {
            let why = format!("realm {} is {}", slot.name, slot.state.as_str());
            self.kill(worker, ExitCause::UpgradeAborted(why), out);
            return None;
        };
        s.life.ready = true;
        s.life.last_ack = now;
        s.phase = SuccessorPhase::HandingOver { since: now };
        Some((id, current))
    }

    /// The current worker handed over: its successor becomes the slot's
    /// worker. Returns the slot and the successor; the old worker is
    /// forgotten (its later events are ignored).
    pub fn handed_over(&mut self, now: Instant, old: WorkerId) -> Option<(SlotId, WorkerId)> {
        let id = self.slot_of_worker(old)?;
        let slot = self.slots.get_mut(&id)?;
        if !matches!(
            slot.successor.as_ref()?.phase,
            SuccessorPhase::HandingOver { .. }
        ) {
            return None;
        }
        let mut next = slot.successor.take()?.life;
        next.last_ack = now;
        let new = next.id;
        slot.worker = Some(next);
        slot.state = RealmState::Running;
        self.by_worker.remove(&old);
        Some((id, new))
    }

    /// A successor ended before it took over: the upgrade of its realm
    /// failed. Returns the slot, why, and whether it had become ready.
    pub fn successor_exited(
        &mut self,
        worker: WorkerId,
        cause: ExitCause,
    ) -> Option<(SlotId, ExitCause, bool)> {
        let id = self.successor_slot(worker)?;
        self.by_worker.remove(&worker);
        let s = self.slots.get_mut(&id)?.successor.take()?;
        let cause = s.life.kill_cause.unwrap_or(cause);
        Some((id, cause, s.life.ready))
    }

    /// Operator request: restart a realm's worker (players re-entered), or
    /// bring a failed realm back.
    pub fn operator_restart(
        &mut self,
        now: Instant,
        name: &str,
        out: &mut Vec<Action>,
    ) -> Result<String, String> {
        let id = *self
            .by_name
            .get(name)
            .ok_or_else(|| format!("no realm named {name}"))?;
        let slot = self
            .slots
            .get_mut(&id)
            .ok_or_else(|| format!("no realm named {name}"))?;
        match (slot.state, slot.worker_id()) {
            (RealmState::Failed, _) => {
                slot.crash_times.clear();
                slot.state = RealmState::Restarting;
                slot.restart_at = Some(now);
                self.restart_due(now, out);
                Ok(format!("realm {name} restarted"))
            }
            (_, Some(worker)) => {
                slot.state = RealmState::Restarting;
                self.kill(worker, ExitCause::RestartRequested, out);
                Ok(format!("realm {name} restarting"))
            }
            _ => Ok(format!("realm {name} is already restarting")),
        }
    }

    /// Every running worker, upgrade successors included, for broadcast
    /// messages (shutdown).
    pub fn workers(&self) -> Vec<WorkerId> {
        let mut ids: Vec<_> = self
            .slots
            .values()
            .flat_map(|s| [s.worker_id(), s.successor.as_ref().map(|n| n.life.id)])
            .flatten()
            .collect();
        ids.sort_unstable();
        ids
    }

    /// Every ready worker with its slot.
    pub fn ready_workers(&self) -> Vec<(SlotId, WorkerId)> {
        let mut ids: Vec<_> = self
            .slots
            .values()
            .filter_map(|s| Some((s.id, s.ready_worker()?)))
            .collect();
        ids.sort_unstable();
        ids
    }

    /// Forgets a worker whose exit was seen during shutdown.
    pub fn forget_worker(&mut self, worker: WorkerId) {
        if let Some(id) = self.by_worker.remove(&worker) {
            if let Some(slot) = self.slots.get_mut(&id) {
                slot.worker.take_if(|w| w.id == worker);
            }
        }
    }
}

/// The delay before the next worker start: the first restart after a
/// crash (or a planned one) is immediate, later ones double from the base
/// up to the maximum.
pub fn restart_delay(policy: &RealmPolicy, crashes: u32, planned: bool) -> Duration {
    if crashes <= 1 || planned {
        Duration::ZERO
    } else {
        let factor = 1u32 << (crashes - 2).min(16);
        (policy.backoff_base * factor).min(policy.backoff_max)
    }
}

/// A worker's life as plain data (instants as ages in microseconds), for
/// the supervisor's in-place upgrade (`docs/upgrades.md` §3).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct LifeExport {
    id: WorkerId,
    hello: bool,
    ready: bool,
    started_age_us: u64,
    heartbeat_seq: u32,
    last_ack_age_us: u64,
    kill_cause: Option<ExitCause>,
}

/// A realm slot as plain data.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct SlotExport {
    id: SlotId,
    name: String,
    state: RealmState,
    worker: Option<LifeExport>,
    restarts: u32,
    last_exit: Option<ExitCause>,
    score_group: String,
    counters: RealmCounters,
    problems: Vec<String>,
    crash_ages_us: Vec<u64>,
    /// Restart due in this many microseconds.
    restart_in_us: Option<u64>,
    empty_age_us: Option<u64>,
    stopping_age_us: Option<u64>,
}

/// The registry as plain data (the policy is the new process's own).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct RegistryExport {
    slots: Vec<SlotExport>,
    next_slot: SlotId,
    next_worker: WorkerId,
}

fn age_us(now: Instant, t: Instant) -> u64 {
    now.saturating_duration_since(t).as_micros() as u64
}

fn at_age(now: Instant, age_us: u64) -> Instant {
    now.checked_sub(Duration::from_micros(age_us))
        .unwrap_or(now)
}

impl RealmRegistry {
    /// Everything the registry holds, at `now`. Refused (`Err`) while an
    /// upgrade's successor runs: a hand-over is not carried across.
    pub fn export(&self, now: Instant) -> Result<RegistryExport, String> {
        let mut slots = Vec::new();
        for s in self.slots.values() {
            if s.successor.is_some() {
                return Err(format!("realm {} is being upgraded", s.name));
            }
            slots.push(SlotExport {
                id: s.id,
                name: s.name.clone(),
                state: s.state,
                worker: s.worker.as_ref().map(|w| LifeExport {
                    id: w.id,
                    hello: w.hello,
                    ready: w.ready,
                    started_age_us: age_us(now, w.started),
                    heartbeat_seq: w.heartbeat_seq,
                    last_ack_age_us: age_us(now, w.last_ack),
                    kill_cause: w.kill_cause.clone(),
                }),
                restarts: s.restarts,
                last_exit: s.last_exit.clone(),
                score_group: s.score_group.clone(),
                counters: s.counters,
                problems: s.problems.clone(),
                crash_ages_us: s.crash_times.iter().map(|&t| age_us(now, t)).collect(),
                restart_in_us: s
                    .restart_at
                    .map(|t| t.saturating_duration_since(now).as_micros() as u64),
                empty_age_us: s.empty_since.map(|t| age_us(now, t)),
                stopping_age_us: s.stopping_since.map(|t| age_us(now, t)),
            });
        }
        slots.sort_by_key(|s| s.id);
        Ok(RegistryExport {
            slots,
            next_slot: self.next_slot,
            next_worker: self.next_worker,
        })
    }

    /// A registry carrying on from `e` at `now` under `policy`.
    pub fn import(e: RegistryExport, now: Instant, policy: RealmPolicy) -> RealmRegistry {
        let mut r = RealmRegistry::new(policy);
        r.next_slot = e.next_slot;
        r.next_worker = e.next_worker;
        for s in e.slots {
            let worker = s.worker.map(|w| WorkerLife {
                id: w.id,
                hello: w.hello,
                ready: w.ready,
                started: at_age(now, w.started_age_us),
                heartbeat_seq: w.heartbeat_seq,
                last_ack: at_age(now, w.last_ack_age_us),
                kill_cause: w.kill_cause,
                flood_window: now,
                flood_bytes: 0,
            });
            if let Some(w) = &worker {
                r.by_worker.insert(w.id, s.id);
            }
            r.by_name.insert(s.name.clone(), s.id);
            r.slots.insert(
                s.id,
                RealmSlot {
                    id: s.id,
                    name: s.name,
                    state: s.state,
                    worker,
                    restarts: s.restarts,
                    last_exit: s.last_exit,
                    score_group: s.score_group,
                    counters: s.counters,
                    problems: s.problems,
                    radar: Vec::new(),
                    successor: None,
                    crash_times: s.crash_ages_us.iter().map(|&a| at_age(now, a)).collect(),
                    restart_at: s.restart_in_us.map(|us| {
                        now.checked_add(Duration::from_micros(us).min(Duration::from_secs(3600)))
                            .unwrap_or(now)
                    }),
                    empty_since: s.empty_age_us.map(|a| at_age(now, a)),
                    stopping_since: s.stopping_age_us.map(|a| at_age(now, a)),
                },
            );
        }
        r
    }
}
