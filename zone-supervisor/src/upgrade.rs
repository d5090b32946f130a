//! The shell of the rolling realm upgrade (`docs/upgrades.md` §2): starting
//! successor workers from the new binary, their messages before they take
//! over, holding everything meant for a realm while its worker hands over,
//! and giving the successor the handed-over state and the players.
//!
//! The rules (which realm, when, what a failure means) are in
//! `state/upgrade.rs`; this module owns only processes and buffers.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::Instant;

use ipc_proto::{FromRealm, PlayerInfo, ToRealm, MAX_HANDOVER_LEN};
use tracing::{info, warn};

use crate::realm_link::WorkerLink;
use crate::realms::{spawn_worker, RealmEvent, RealmSignal};
use crate::state::{ExitCause, Place, SlotId, WorkerId};
use crate::zone::Zone;

/// The zone's side of realm upgrades in progress.
#[derive(Default)]
pub(crate) struct Upgrades {
    /// The binary the roll's successors start from; the zone's worker
    /// binary from the first realm that took it.
    pub(crate) binary: Option<PathBuf>,
    /// Old worker → its successor: what the shell queues for the old
    /// worker during a hand-over goes to the successor instead (except
    /// heartbeats, the hand-over request and the stop).
    redirect: HashMap<WorkerId, WorkerId>,
    /// Successors whose messages wait until their predecessor handed over.
    held: HashSet<WorkerId>,
    /// The players a successor adopts (as they were when the hand-over
    /// began), by successor.
    adopt: HashMap<WorkerId, Vec<PlayerInfo>>,
    /// Hand-over states received, by the worker that sent them.
    states: HashMap<WorkerId, Vec<u8>>,
    /// The supervisor is about to exec: nothing more is handed to the
    /// realm writer tasks.
    pub(crate) frozen: bool,
}

impl Upgrades {
    /// The worker a message queued for `worker` goes to.
    pub(crate) fn route(&self, worker: WorkerId, msg: &ToRealm<'_>) -> WorkerId {
        match (self.redirect.get(&worker), msg) {
            (Some(_), ToRealm::Heartbeat { .. } | ToRealm::HandOver | ToRealm::Shutdown)
            | (None, _) => worker,
            (Some(&next), _) => next,
        }
    }

    /// Whether a worker's queued messages must wait.
    pub(crate) fn is_held(&self, worker: WorkerId) -> bool {
        self.held.contains(&worker)
    }

    /// Holds nothing back any more (zone shutdown).
    pub(crate) fn release_all(&mut self) {
        self.redirect.clear();
        self.held.clear();
    }

    /// Forgets a successor that ended.
    fn forget(&mut self, successor: WorkerId) {
        self.redirect.retain(|_, next| *next != successor);
        self.held.remove(&successor);
        self.adopt.remove(&successor);
    }
}

impl Zone {
    /// Operator request: roll every realm to the worker binary `binary`
    /// (default: the zone's worker path, where a new build was installed).
    pub(crate) fn start_realm_upgrade(
        &mut self,
        now: Instant,
        binary: Option<PathBuf>,
    ) -> Result<String, String> {
        let binary = binary.unwrap_or_else(|| self.s.worker_path.clone());
        if !binary.is_file() {
            return Err(format!("no worker binary at {}", binary.display()));
        }
        if self.state.roll.as_ref().is_some_and(|r| !r.finished) {
            return Err("an upgrade is under way already".into());
        }
        if self.exec.is_some() {
            return Err("a supervisor upgrade is under way".into());
        }
        // (The successors report their build: reading a large binary here
        // would pause the zone.)
        info!(binary = %binary.display(), "rolling realm upgrade");
        self.upgrades.binary = Some(binary.clone());
        self.state.start_roll(now)?;
        self.run_actions(now);
        Ok(format!("upgrading realms to {}", binary.display()))
    }

    /// The roll's state for `upgrade status` (JSON).
    pub(crate) fn upgrade_status(&self) -> String {
        match &self.state.roll {
            None => serde_json::json!({
                "ok": true, "finished": true, "message": "no upgrade has run"
            }),
            Some(roll) => serde_json::json!({
                "ok": roll.failed.is_none(),
                "finished": roll.finished,
                "message": roll.summary(),
                "error": roll.summary(),
                "upgraded": roll.upgraded,
                "current": roll.current,
                "failed": roll.failed.as_ref().map(|(r, why)| serde_json::json!({"realm": r, "why": why})),
                "skipped": roll.skipped,
            }),
        }
        .to_string()
    }

    /// `Action::SpawnSuccessor`.
    pub(crate) fn spawn_successor(&mut self, now: Instant, worker: WorkerId, realm: &str) {
        let Some(slot) = self.state.registry.by_name(realm).map(|s| s.id) else {
            return;
        };
        let binary = self
            .upgrades
            .binary
            .clone()
            .unwrap_or_else(|| self.s.worker_path.clone());
        let tap = Some(self.log.tap());
        match spawn_worker(&self.s, &binary, realm, worker, self.events_tx.clone(), tap) {
            Ok(process) => {
                info!(realm, os_pid = process.os_pid, binary = %binary.display(), "upgrade: new realm worker started");
                self.links.insert(worker, WorkerLink::new(slot, process));
            }
            Err(e) => {
                warn!(
                    realm,
                    "upgrade: could not start the new realm worker: {e:#}"
                );
                self.successor_gone(now, worker, ExitCause::StartFailed(format!("{e:#}")));
            }
        }
    }

    /// An event of a successor that has not taken over yet.
    pub(crate) fn successor_event(&mut self, now: Instant, ev: RealmEvent) {
        match ev.signal {
            RealmSignal::Data(bytes) => self.successor_data(now, ev.worker, &bytes),
            RealmSignal::Closed => {}
            RealmSignal::Exited(cause) => self.successor_gone(now, ev.worker, cause),
        }
    }

    fn successor_gone(&mut self, now: Instant, worker: WorkerId, cause: ExitCause) {
        self.links.remove(&worker);
        self.upgrades.forget(worker);
        if let Some((slot, cause)) = self.state.successor_exited(now, worker, cause) {
            warn!(realm = %self.slot_name(slot), %cause, "upgrade: the new realm worker ended before taking over");
        }
    }

    /// Messages of a successor before it takes over: hello, build, ready;
    /// the rest is not for it yet and is ignored.
    fn successor_data(&mut self, now: Instant, worker: WorkerId, bytes: &[u8]) {
        let Some(link) = self.links.get_mut(&worker) else {
            return;
        };
        let mut reader = std::mem::take(&mut link.reader);
        reader.extend(bytes);
        let mut broken = None;
        let mut version = None;
        loop {
            match reader.next_frame() {
                Ok(Some(frame)) => match ipc_proto::decode::<FromRealm>(frame) {
                    Ok(msg) if !self.state.registry.successor_said_hello(worker) => {
                        let ok = matches!(msg, FromRealm::Hello { version, .. } if version == ipc_proto::PROTOCOL_VERSION);
                        if !self.state.successor_hello(now, worker, ok) {
                            break;
                        }
                    }
                    Ok(FromRealm::Build { version: v }) if v.len() <= 64 => version = Some(v),
                    Ok(FromRealm::Ready) => self.state.successor_ready(now, worker),
                    Ok(_) => {}
                    Err(e) => {
                        broken = Some(format!("sent an undecodable message: {e}"));
                        break;
                    }
                },
                Ok(None) => break,
                Err(e) => {
                    broken = Some(format!("broke the framing: {e}"));
                    break;
                }
            }
        }
        if let Some(link) = self.links.get_mut(&worker) {
            link.reader = reader;
            if version.is_some() {
                link.version = version;
            }
        }
        if let Some(why) = broken {
            self.state.worker_misbehaved(worker, why);
        }
    }

    /// `Action::BeginHandOver`: from now on what is meant for the realm is
    /// held for the successor; the players it will adopt are noted.
    pub(crate) fn begin_hand_over(&mut self, slot: SlotId, old: WorkerId, new: WorkerId) {
        info!(realm = %self.slot_name(slot), "upgrade: handing the realm over");
        self.upgrades.redirect.insert(old, new);
        self.upgrades.held.insert(new);
        let pids: Vec<i16> = self.state.members.players_in(slot).to_vec();
        let infos = pids
            .into_iter()
            .filter(|&pid| {
                matches!(
                    self.state.members.place(pid),
                    Some(
                        Place::InRealm { .. }
                            | Place::Entering {
                                enter_sent: true,
                                ..
                            }
                    )
                )
            })
            .filter_map(|pid| self.entry_info(pid, slot, true))
            .collect();
        self.upgrades.adopt.insert(new, infos);
    }

    /// `FromRealm::HandOverState` from a realm's current worker.
    pub(crate) fn handover_state(
        &mut self,
        now: Instant,
        worker: WorkerId,
        bytes: &[u8],
    ) -> Result<(), String> {
        if bytes.len() > MAX_HANDOVER_LEN {
            return Err(format!("sent a hand-over state of {} bytes", bytes.len()));
        }
        self.upgrades.states.insert(worker, bytes.to_vec());
        if !self.state.handed_over(now, worker) {
            // Not asked for: ignored.
            self.upgrades.states.remove(&worker);
        }
        Ok(())
    }

    /// `Action::CompleteHandOver`: the successor gets the state and the
    /// players ahead of everything held for it, and is released.
    pub(crate) fn complete_hand_over(&mut self, slot: SlotId, old: WorkerId, new: WorkerId) {
        let state = self.upgrades.states.remove(&old).unwrap_or_default();
        let mut infos = self.upgrades.adopt.remove(&new).unwrap_or_default();
        self.upgrades.redirect.remove(&old);
        self.upgrades.held.remove(&new);
        // Players still here are adopted with what the zone knows now.
        for info in &mut infos {
            if let Some(fresh) = self.entry_info(info.pid, slot, true) {
                *info = fresh;
            }
        }
        let mut prefix = Vec::new();
        let mut msgs = 1u64;
        let _ = ipc_proto::encode(&ToRealm::TakeOver { bytes: &state }, &mut prefix);
        for info in infos {
            let _ = ipc_proto::encode(&ToRealm::AdoptPlayer(info), &mut prefix);
            msgs += 1;
        }
        if let Some(link) = self.links.get_mut(&new) {
            let shift = prefix.len();
            prefix.extend_from_slice(&link.out);
            link.out = prefix;
            for d in &mut link.droppable {
                d.0 += shift;
            }
            if let Some(s) = self.state.registry.get_mut(slot) {
                s.counters.ipc_msgs_to += msgs;
                s.counters.ipc_bytes_to += shift as u64;
            }
        }
        if let Some(binary) = self.upgrades.binary.clone() {
            // Later starts and restarts use the build that proved itself.
            self.s.worker_path = binary;
        }
        info!(realm = %self.slot_name(slot), "upgrade: realm now on its new worker");
    }
}
