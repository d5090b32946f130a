//! The zone's state machine, without I/O: which realms exist and how
//! their workers live ([`RealmRegistry`]), where every player is
//! ([`Membership`]), and the rules that tie the two together — entering a
//! realm once it is ready and the player's scores are loaded, putting
//! players back after a worker is replaced, moving them out of a realm
//! that has failed.
//!
//! Like `ss_proto`'s transport, it is fed events and `now` and answers
//! with [`Action`]s; the zone shell (`zone.rs` and the modules around it)
//! owns the sockets, processes and the database and carries them out.
//! That is what lets `tests` below drive restarts, back-off, watchdog and
//! idle stops with a fake clock and no processes.

pub mod membership;
pub mod registry;
pub mod upgrade;

use std::collections::HashMap;
use std::time::{Duration, Instant};

pub use membership::{Membership, Place};
pub use registry::{
    ExitCause, RealmPolicy, RealmRegistry, RealmSlot, RealmState, SlotId, WorkerEnd, WorkerId,
};
pub use upgrade::Roll;

/// How many times a player's score load is tried before giving up.
pub const SCORE_LOAD_ATTEMPTS: u32 = 3;
/// The pause between score load attempts.
pub const SCORE_LOAD_RETRY: Duration = Duration::from_secs(1);
/// Public arena names tried, in order after the default arena, when the
/// default arena has failed.
const FALLBACK_PUBLIC_ARENAS: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

/// Something the zone shell must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Start a worker process for a realm.
    SpawnWorker {
        /// The id its events will carry.
        worker: WorkerId,
        /// The arena it serves.
        realm: String,
    },
    /// Kill a worker process (SIGKILL); its exit is reported as usual.
    KillWorker {
        /// Which one.
        worker: WorkerId,
    },
    /// Send a control message to a worker.
    ToWorker {
        /// Which one.
        worker: WorkerId,
        /// What to send.
        msg: WorkerMsg,
    },
    /// Make the player's scores for this realm available (from the cache
    /// or the database) and report back with
    /// [`ZoneState::scores_loaded`] or [`ZoneState::scores_failed`].
    LoadScores {
        /// The player.
        pid: i16,
        /// The realm he is entering.
        slot: SlotId,
    },
    /// Send `PlayerEnter` for the player to the worker.
    EnterPlayer {
        /// The player.
        pid: i16,
        /// The realm.
        slot: SlotId,
        /// Its ready worker.
        worker: WorkerId,
        /// A re-entry after the realm's worker was replaced.
        reentry: bool,
    },
    /// Tell the player something (a green arena message).
    Notice {
        /// The player.
        pid: i16,
        /// The text.
        text: String,
    },
    /// Start an upgrade's successor worker for a realm, from the binary
    /// the roll names (`docs/upgrades.md` §2).
    SpawnSuccessor {
        /// The id its events will carry.
        worker: WorkerId,
        /// The arena it serves.
        realm: String,
    },
    /// The successor is ready: from now on everything for the realm's
    /// players is held for the successor, and the old worker is asked to
    /// hand over (the last message it gets before `Shutdown`).
    BeginHandOver {
        /// The realm.
        slot: SlotId,
        /// Its current worker.
        old: WorkerId,
        /// The ready successor.
        new: WorkerId,
    },
    /// The old worker handed over: the successor gets its state and the
    /// players, then what was held for it; the old one is told to stop.
    CompleteHandOver {
        /// The realm.
        slot: SlotId,
        /// The worker that handed over.
        old: WorkerId,
        /// The realm's worker now.
        new: WorkerId,
    },
    /// Send the player its who-am-I again: the client leaves the arena
    /// view and waits for the next entry, as after an arena recycle.
    WhoAmI {
        /// The player.
        pid: i16,
    },
    /// Disconnect the player from the zone.
    Disconnect {
        /// The player.
        pid: i16,
    },
}

/// Control messages the zone state sends to workers (the shell encodes them as
/// `ipc_proto::ToRealm`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkerMsg {
    /// Liveness check.
    Heartbeat {
        /// Sequence to echo.
        seq: u32,
    },
    /// Stop (idle or zone shutdown).
    Shutdown,
    /// Re-read the arena config.
    ReloadConfig,
    /// The reset interval ended: scores start from zero.
    ResetScores,
    /// A player left the realm.
    PlayerLeave {
        /// The player.
        pid: i16,
    },
    /// Hand the arena over to a successor (answer: its state).
    HandOver,
}

/// Score loads that failed and wait for another try.
#[derive(Debug)]
struct LoadRetry {
    slot: SlotId,
    failures: u32,
    at: Instant,
}

/// Realms and players together, sans-IO: the zone's state machine.
pub struct ZoneState {
    /// Realm slots and their workers.
    pub registry: RealmRegistry,
    /// Where every player is.
    pub members: Membership,
    keeps_scores: bool,
    retries: HashMap<i16, LoadRetry>,
    /// The rolling realm upgrade under way or last finished.
    pub roll: Option<Roll>,
    out: Vec<Action>,
}

impl ZoneState {
    /// A zone with no realms or players. `keeps_scores`: a player enters a
    /// realm only after [`Action::LoadScores`] was answered.
    pub fn new(policy: RealmPolicy, keeps_scores: bool) -> Self {
        ZoneState {
            registry: RealmRegistry::new(policy),
            members: Membership::default(),
            keeps_scores,
            retries: HashMap::new(),
            roll: None,
            out: Vec::new(),
        }
    }

    /// Moves the pending actions into `buf` (which should be empty).
    pub fn drain_actions(&mut self, buf: &mut Vec<Action>) {
        std::mem::swap(&mut self.out, buf);
    }

    /// Whether actions are waiting.
    pub fn has_actions(&self) -> bool {
        !self.out.is_empty()
    }

    // ----- players ---------------------------------------------------------

    /// A new connection.
    pub fn connected(&mut self, pid: i16) {
        self.members.add(pid);
    }

    /// Sets a player's place outside realms (login progress).
    pub fn set_login_state(&mut self, pid: i16, place: Place) {
        debug_assert!(place.realm().is_none());
        if place.realm().is_none() {
            self.members.set(pid, place);
        }
    }

    /// The player asks for an arena (or is sent to one). On `Err` the
    /// player is in no arena and the text says why.
    pub fn go_to(
        &mut self,
        now: Instant,
        pid: i16,
        arena: &str,
        score_group: impl FnOnce(&str) -> String,
    ) -> Result<SlotId, String> {
        if !self.members.place(pid).is_some_and(Place::logged_in) {
            return Err("not logged in".into());
        }
        self.leave_realm(pid);
        let name = self.resolve_arena(arena)?;
        let slot = self
            .registry
            .want(now, &name, || score_group(&name), &mut self.out);
        self.members.set(
            pid,
            Place::Entering {
                realm: slot,
                scores_ready: !self.keeps_scores,
                enter_sent: false,
                reentry: false,
            },
        );
        if self.keeps_scores {
            self.out.push(Action::LoadScores { pid, slot });
        }
        self.try_enter(pid);
        Ok(slot)
    }

    /// The arena a request for `arena` lands in: itself, unless it has
    /// failed; a failed default arena is replaced by the first public
    /// arena that has not failed, so entry keeps working.
    fn resolve_arena(&self, arena: &str) -> Result<String, String> {
        let failed = |name: &str| {
            self.registry
                .by_name(name)
                .is_some_and(|s| s.state == RealmState::Failed)
        };
        if !failed(arena) {
            return Ok(arena.to_string());
        }
        let default = &self.registry.policy.default_arena;
        if arena == default {
            if let Some(name) = self.public_fallback() {
                return Ok(name);
            }
        }
        Err(format!(
            "Arena {arena} has failed and is waiting for an operator."
        ))
    }

    /// The first public arena (default arena, then `0`–`9`) that has not
    /// failed.
    fn public_fallback(&self) -> Option<String> {
        let default = self.registry.policy.default_arena.as_str();
        std::iter::once(default)
            .chain(FALLBACK_PUBLIC_ARENAS)
            .find(|name| {
                self.registry
                    .by_name(name)
                    .is_none_or(|s| s.state != RealmState::Failed)
            })
            .map(str::to_string)
    }

    /// Takes a player out of its realm; the worker is told if it knew him.
    pub fn leave_realm(&mut self, pid: i16) {
        let Some(place) = self.members.place(pid) else {
            return;
        };
        let Some(slot) = place.realm() else {
            return;
        };
        self.retries.remove(&pid);
        if place.known_to_realm() {
            if let Some(worker) = self.registry.get(slot).and_then(RealmSlot::ready_worker) {
                self.out.push(Action::ToWorker {
                    worker,
                    msg: WorkerMsg::PlayerLeave { pid },
                });
            }
        }
        self.members.set(pid, Place::LoggedIn);
    }

    /// The player left the zone.
    pub fn player_gone(&mut self, pid: i16) {
        self.leave_realm(pid);
        self.members.remove(pid);
    }

    /// The player's scores for `slot` are at hand.
    pub fn scores_loaded(&mut self, pid: i16, slot: SlotId) {
        self.retries.remove(&pid);
        self.members.update(pid, |place| match place {
            Place::Entering {
                realm,
                enter_sent,
                reentry,
                ..
            } if realm == slot => Some(Place::Entering {
                realm,
                scores_ready: true,
                enter_sent,
                reentry,
            }),
            _ => None,
        });
        self.try_enter(pid);
    }

    /// Loading the player's scores failed. He stays out of the realm (a
    /// realm must never start him from zero and write that back); the load
    /// is tried again, and after [`SCORE_LOAD_ATTEMPTS`] he is told and
    /// disconnected.
    pub fn scores_failed(&mut self, now: Instant, pid: i16, slot: SlotId) {
        if !matches!(self.members.place(pid), Some(Place::Entering { realm, .. }) if realm == slot)
        {
            return;
        }
        let failures = self.retries.get(&pid).map_or(0, |r| r.failures) + 1;
        if failures >= SCORE_LOAD_ATTEMPTS {
            self.retries.remove(&pid);
            self.out.push(Action::Notice {
                pid,
                text: "Your scores could not be loaded; please try again later.".into(),
            });
            self.out.push(Action::Disconnect { pid });
            return;
        }
        self.retries.insert(
            pid,
            LoadRetry {
                slot,
                failures,
                at: now + SCORE_LOAD_RETRY,
            },
        );
    }

    /// Sends `PlayerEnter` when the realm is ready and the scores are in.
    fn try_enter(&mut self, pid: i16) {
        let Some(Place::Entering {
            realm,
            scores_ready: true,
            enter_sent: false,
            reentry,
        }) = self.members.place(pid)
        else {
            return;
        };
        let Some(worker) = self.registry.get(realm).and_then(RealmSlot::ready_worker) else {
            return;
        };
        self.members.set(
            pid,
            Place::Entering {
                realm,
                scores_ready: true,
                enter_sent: true,
                reentry,
            },
        );
        self.out.push(Action::EnterPlayer {
            pid,
            slot: realm,
            worker,
            reentry,
        });
    }

    /// The worker confirmed a player's entry.
    pub fn player_entered(&mut self, worker: WorkerId, pid: i16) {
        let Some(slot) = self.registry.slot_of_worker(worker) else {
            return;
        };
        self.members.update(pid, |place| match place {
            Place::Entering {
                realm,
                enter_sent: true,
                ..
            } if realm == slot => Some(Place::InRealm { realm }),
            _ => None,
        });
    }

    // ----- workers ---------------------------------------------------------

    /// Bytes arrived from a worker: `false` when they must be ignored
    /// (replaced worker, or flooding: the worker is being killed).
    pub fn worker_bytes(&mut self, now: Instant, worker: WorkerId, len: usize) -> bool {
        self.registry.note_bytes(now, worker, len, &mut self.out)
    }

    /// The worker's hello; `false` if it was refused (worker killed).
    pub fn worker_hello(&mut self, now: Instant, worker: WorkerId, version_ok: bool) -> bool {
        self.registry.hello(now, worker, version_ok, &mut self.out)
    }

    /// The worker is ready: its players enter.
    pub fn worker_ready(&mut self, now: Instant, worker: WorkerId) {
        if let Some(slot) = self.registry.ready(now, worker) {
            let pids = self.members.players_in(slot).to_vec();
            for pid in pids {
                self.try_enter(pid);
            }
        }
    }

    /// A heartbeat answer.
    pub fn heartbeat_ack(&mut self, now: Instant, worker: WorkerId, seq: u32) {
        self.registry.heartbeat_ack(now, worker, seq);
    }

    /// The worker broke the IPC rules: it is killed (and restarted as for
    /// a crash).
    pub fn worker_misbehaved(&mut self, worker: WorkerId, why: String) {
        self.registry
            .kill(worker, ExitCause::Misbehaved(why), &mut self.out);
    }

    /// A worker process ended. Its players stay in the realm and are
    /// entered again by the next worker; if the realm has failed they move
    /// to a public arena. Returns what happened (for the log), `None` for
    /// an old worker of a slot.
    pub fn worker_exited(
        &mut self,
        now: Instant,
        worker: WorkerId,
        cause: ExitCause,
        score_group: impl Fn(&str) -> String,
    ) -> Option<(String, WorkerEnd, ExitCause)> {
        let slot = self.registry.slot_of_worker(worker)?;
        let empty = self.members.count_in(slot) == 0;
        // (Named before: a removed slot is gone afterwards.)
        let name = self
            .registry
            .get(slot)
            .map(|s| s.name.clone())
            .unwrap_or_default();
        let (slot, end, cause) = self
            .registry
            .exited(now, worker, cause, empty, &mut self.out)?;
        let pids = self.members.players_in(slot).to_vec();
        match end {
            WorkerEnd::Removed => {
                // Its successor, if the roll was at it, ends with it.
                self.roll_realm_gone(now, &name);
            }
            WorkerEnd::Restarting { planned } => {
                for &pid in &pids {
                    self.members.update(pid, |place| {
                        let scores_ready = match place {
                            Place::Entering { scores_ready, .. } => scores_ready,
                            _ => true,
                        };
                        Some(Place::Entering {
                            realm: slot,
                            scores_ready,
                            enter_sent: false,
                            reentry: true,
                        })
                    });
                    if !planned {
                        self.out.push(Action::Notice {
                            pid,
                            text: format!("Arena {name} failed ({cause}); restarting it."),
                        });
                    }
                    self.out.push(Action::WhoAmI { pid });
                }
                // A worker that started at once may already be usable by a
                // later ready; nothing else to do until then.
            }
            WorkerEnd::Failed => {
                let target = self
                    .public_fallback()
                    .unwrap_or_else(|| self.registry.policy.default_arena.clone());
                for &pid in &pids {
                    self.out.push(Action::WhoAmI { pid });
                    self.out.push(Action::Notice {
                        pid,
                        text: format!("Arena {name} keeps failing; moving you to arena {target}."),
                    });
                    // Nobody to tell in the failed realm: no worker runs.
                    self.members.set(pid, Place::LoggedIn);
                    if let Err(why) = self.go_to(now, pid, &target, &score_group) {
                        self.out.push(Action::Notice { pid, text: why });
                    }
                }
            }
        }
        Some((name, end, cause))
    }

    /// Periodic duties: the registry's (heartbeats, watchdog, idle stop,
    /// restarts) and score load retries that are due.
    pub fn tick(&mut self, now: Instant) {
        let members = &self.members;
        self.registry
            .tick(now, |slot| members.count_in(slot) == 0, &mut self.out);
        let mut due: Vec<(i16, SlotId)> = self
            .retries
            .iter()
            .filter(|(_, r)| r.at <= now)
            .map(|(&pid, r)| (pid, r.slot))
            .collect();
        due.sort_unstable();
        for (pid, slot) in due {
            if let Some(r) = self.retries.get_mut(&pid) {
                // Not due again until this try has failed.
                r.at = now + Duration::from_secs(3600);
            }
            self.out.push(Action::LoadScores { pid, slot });
        }
    }

    /// Operator request: restart a realm, or bring a failed one back.
    pub fn operator_restart(&mut self, now: Instant, name: &str) -> Result<String, String> {
        self.registry.operator_restart(now, name, &mut self.out)
    }

    /// Every ready realm re-reads its config.
    pub fn reload_realms(&mut self) {
        for (_, worker) in self.registry.ready_workers() {
            self.out.push(Action::ToWorker {
                worker,
                msg: WorkerMsg::ReloadConfig,
            });
        }
    }

    /// Tells the ready realms of these score groups (all if empty) that
    /// the reset interval ended.
    pub fn reset_scores(&mut self, groups: &[String]) {
        for (slot, worker) in self.registry.ready_workers() {
            let in_group = self
                .registry
                .get(slot)
                .is_some_and(|s| groups.is_empty() || groups.contains(&s.score_group));
            if in_group {
                self.out.push(Action::ToWorker {
                    worker,
                    msg: WorkerMsg::ResetScores,
                });
            }
        }
    }

    /// Asks every worker to stop (zone shutdown).
    pub fn stop_all(&mut self) {
        for worker in self.registry.workers() {
            self.out.push(Action::ToWorker {
                worker,
                msg: WorkerMsg::Shutdown,
            });
        }
    }

    /// Kills every worker still running (shutdown grace is over).
    pub fn kill_all(&mut self) {
        for worker in self.registry.workers() {
            self.registry
                .kill(worker, ExitCause::Shutdown, &mut self.out);
        }
    }
}

/// The zone state as plain data for the supervisor's in-place upgrade
/// (`docs/upgrades.md` §3).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct ZoneStateExport {
    registry: registry::RegistryExport,
    places: Vec<(i16, Place)>,
}

impl ZoneState {
    /// Everything at `now`; refused during a rolling realm upgrade.
    pub fn export(&self, now: Instant) -> Result<ZoneStateExport, String> {
        if self.roll.as_ref().is_some_and(|r| !r.finished) {
            return Err("a rolling realm upgrade is under way".into());
        }
        Ok(ZoneStateExport {
            registry: self.registry.export(now)?,
            places: self.members.all().collect(),
        })
    }

    /// A zone state carrying on from `e`. Score loads that were in flight
    /// are asked for again (their answers went to the old process), and
    /// entries waiting for a ready realm go on.
    pub fn import(
        e: ZoneStateExport,
        now: Instant,
        policy: RealmPolicy,
        keeps_scores: bool,
    ) -> Self {
        let mut z = ZoneState::new(policy, keeps_scores);
        z.registry = RealmRegistry::import(e.registry, now, z.registry.policy.clone());
        for (pid, place) in e.places {
            z.members.add(pid);
            z.members.set(pid, place);
        }
        let entering: Vec<(i16, Place)> = z
            .members
            .all()
            .filter(|(_, p)| matches!(p, Place::Entering { .. }))
            .collect();
        for (pid, place) in entering {
            if let Place::Entering {
                realm,
                scores_ready: false,
                ..
            } = place
            {
                z.out.push(Action::LoadScores { pid, slot: realm });
            }
            z.try_enter(pid);
        }
        z
    }
}

#[cfg(test)]
mod tests;
