//! The shell around the realm registry: worker processes and their IPC
//! links. It carries out the zone state's [`Action`]s (spawn, kill, messages,
//! entries), decodes what workers send and feeds it back to the zone state, and
//! executes the realm's requests that touch players: validated sends,
//! sized streams, zone calls.
//!
//! The rules (restart, back-off, watchdog, idle stop, who is where) live
//! in `state/`; this module owns only processes, sockets and buffers.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use ipc_proto::{Delivery, FrameReader, FromRealm, Target, ToRealm, ZoneCall};
use ss_proto::game::S2CPacket;
use ss_proto::transport::{Priority, Reliability};
use tracing::{info, warn};

use crate::realms::{spawn_worker, RealmEvent, RealmSignal, WorkerProcess};
use crate::state::{Action, ExitCause, RealmSlot, SlotId, WorkerEnd, WorkerId, WorkerMsg};
use crate::stats::{cpu_percent, read_proc, ProcSample, ProcessReport, RealmReport};
use crate::zone::{sanitize_arena_name, Zone};

/// Largest packet a realm may ask to send (the clients' reassembly limit).
const MAX_REALM_PACKET: usize = 65536;
/// Largest sized stream (map download) a realm may ask to send.
const MAX_REALM_STREAM: usize = 16 << 20;

/// One running worker process and its link buffers.
pub struct WorkerLink {
    /// The slot it serves.
    pub slot: SlotId,
    pub(crate) process: WorkerProcess,
    pub(crate) reader: FrameReader,
    /// Framed messages not yet handed to the writer task.
    pub(crate) out: Vec<u8>,
    /// Where in `out` the forwarded player packets lie (offset, length), in
    /// order: the traffic that may be dropped when the queue is full.
    pub(crate) droppable: Vec<(usize, usize)>,
    /// Positions the supervisor already relayed
    /// ([`ToRealm::RelayedPosition`]), framed: they join `out` every 50 ms,
    /// or before any other message (which keeps the order), so that they do
    /// not wake the realm on every pass (`crate::fastpath`).
    pub(crate) held: Vec<u8>,
    /// Lengths of the frames in `held`, in order (they become droppable
    /// ranges of `out` when released).
    held_frames: Vec<usize>,
    cpu_prev: Option<(ProcSample, Instant)>,
    cpu_pct: f64,
    proc_now: ProcSample,
    /// The worker's build version ([`FromRealm::Build`]).
    pub(crate) version: Option<String>,
}

/// Workers by id.
pub type WorkerLinks = HashMap<WorkerId, WorkerLink>;

/// Queues a message on a worker's link, counting it for the slot. The
/// queue (handed to the writer or waiting here) is kept under `cap` bytes
/// by dropping the oldest forwarded player packets waiting here; control
/// messages are never dropped, and a player packet that still does not fit
/// is dropped itself. Returns whether the message was queued.
fn encode_to(
    link: &mut WorkerLink,
    slot: Option<&mut RealmSlot>,
    msg: &ToRealm<'_>,
    cap: u64,
) -> bool {
    link.release_held();
    let before = link.out.len();
    if let Err(e) = ipc_proto::encode(msg, &mut link.out) {
        warn!("could not encode a message for a realm: {e}");
        return false;
    }
    let len = link.out.len() - before;
    let droppable = matches!(
        msg,
        ToRealm::PlayerPacket { .. } | ToRealm::RelayedPosition { .. }
    );
    let (mut dropped, mut freed) = (0, 0);
    let mut queued = true;
    if link.queue_bytes() > cap {
        (dropped, freed) = link.drop_oldest_packets(cap, before);
        if droppable && link.queue_bytes() > cap {
            link.out.truncate(link.out.len() - len);
            dropped += 1;
            queued = false;
        }
    }
    if queued && droppable {
        link.droppable.push((link.out.len() - len, len));
    }
    if let Some(slot) = slot {
        // Dropped messages were counted as sent when queued: uncount them.
        let c = &mut slot.counters;
        c.ipc_dropped += dropped;
        c.ipc_msgs_to = c.ipc_msgs_to.saturating_sub(dropped - u64::from(!queued));
        c.ipc_bytes_to = c.ipc_bytes_to.saturating_sub(freed);
        if queued {
            slot.counters.ipc_msgs_to += 1;
            slot.counters.ipc_bytes_to += len as u64;
        }
    }
    queued
}

/// Below this many bytes in the writer's hands (or half the queue cap, if
/// less), waiting messages are handed over at the end of a pass; above it
/// they wait here, where stale player packets can still be dropped.
const IPC_HANDOVER_BYTES: u64 = 64 * 1024;

impl WorkerLink {
    /// A fresh link to a started worker process.
    pub(crate) fn new(slot: SlotId, process: WorkerProcess) -> Self {
        WorkerLink {
            slot,
            process,
            reader: FrameReader::new(),
            out: Vec::new(),
            droppable: Vec::new(),
            held: Vec::new(),
            held_frames: Vec::new(),
            cpu_prev: None,
            cpu_pct: 0.0,
            proc_now: ProcSample::default(),
            version: None,
        }
    }

    /// Adds a message to `held`; returns its framed length.
    pub(crate) fn hold(&mut self, msg: &ToRealm<'_>) -> Result<usize, ipc_proto::IpcError> {
        let before = self.held.len();
        ipc_proto::encode(msg, &mut self.held)?;
        let len = self.held.len() - before;
        self.held_frames.push(len);
        Ok(len)
    }

    /// Moves the held relayed positions into `out`, behind what is there.
    /// Like forwarded player packets, they may be dropped (oldest first)
    /// while the realm is behind.
    pub(crate) fn release_held(&mut self) {
        if self.held.is_empty() {
            return;
        }
        let mut off = self.out.len();
        for len in self.held_frames.drain(..) {
            self.droppable.push((off, len));
            off += len;
        }
        self.out.append(&mut self.held);
    }

    /// Whether the writer task still holds bytes it has not written.
    pub(crate) fn writer_busy(&self) -> bool {
        self.process.queued.load(Ordering::Relaxed) > 0
    }

    /// Bytes handed to the writer and not yet written, plus those waiting
    /// (held relayed positions included).
    fn queue_bytes(&self) -> u64 {
        self.process.queued.load(Ordering::Relaxed) + (self.out.len() + self.held.len()) as u64
    }

    /// Drops the oldest forwarded player packets waiting in `out` before
    /// offset `end` until the queue is under a quarter below `cap` (so that
    /// the next ones do not each cost a compaction). Returns how many, and
    /// their bytes.
    fn drop_oldest_packets(&mut self, cap: u64, end: usize) -> (u64, u64) {
        let target = cap - cap / 4;
        let excess = self.queue_bytes().saturating_sub(target);
        let mut freed = 0u64;
        let mut count = 0;
        for &(off, len) in &self.droppable {
            if freed >= excess || off + len > end {
                break;
            }
            freed += len as u64;
            count += 1;
        }
        if count == 0 {
            return (0, 0);
        }
        // Compact: keep everything but the first `count` droppable frames.
        let mut kept = Vec::with_capacity(self.out.len() - freed as usize);
        let mut pos = 0;
        for &(off, len) in &self.droppable[..count] {
            kept.extend_from_slice(&self.out[pos..off]);
            pos = off + len;
        }
        kept.extend_from_slice(&self.out[pos..]);
        self.out = kept;
        self.droppable.drain(..count);
        let shift = freed as usize;
        for r in &mut self.droppable {
            r.0 -= shift;
        }
        (count as u64, freed)
    }
}

impl Zone {
    // ----- carrying out the zone state's actions --------------------------------

    /// Carries out everything the zone state asked for, including what those
    /// actions make it ask for in turn.
    pub(crate) fn run_actions(&mut self, now: Instant) {
        let mut batch = std::mem::take(&mut self.action_buf);
        while self.state.has_actions() {
            self.state.drain_actions(&mut batch);
            for action in batch.drain(..) {
                self.run_action(now, action);
            }
        }
        self.action_buf = batch;
    }

    fn run_action(&mut self, now: Instant, action: Action) {
        match action {
            Action::SpawnWorker { worker, realm } => self.spawn(now, worker, &realm),
            Action::KillWorker { worker } => {
                if let Some(link) = self.links.get(&worker) {
                    warn!(realm = %self.slot_name(link.slot), os_pid = link.process.os_pid, "killing realm worker");
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(link.process.os_pid as i32),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
            }
            Action::ToWorker { worker, msg } => {
                let msg = match msg {
                    WorkerMsg::Heartbeat { seq } => ToRealm::Heartbeat { seq },
                    WorkerMsg::Shutdown => ToRealm::Shutdown,
                    WorkerMsg::ReloadConfig => ToRealm::ReloadConfig,
                    WorkerMsg::ResetScores => ToRealm::ResetScores,
                    WorkerMsg::PlayerLeave { pid } => ToRealm::PlayerLeave { pid },
                    WorkerMsg::HandOver => ToRealm::HandOver,
                };
                self.queue_to_worker(worker, &msg);
            }
            Action::LoadScores { pid, slot } => self.load_scores(pid, slot),
            Action::EnterPlayer {
                pid,
                slot,
                worker,
                reentry,
            } => self.enter_player(pid, slot, worker, reentry),
            Action::Notice { pid, text } => self.arena_message(pid, &text),
            Action::SpawnSuccessor { worker, realm } => self.spawn_successor(now, worker, &realm),
            Action::BeginHandOver { slot, old, new } => self.begin_hand_over(slot, old, new),
            Action::CompleteHandOver { slot, old, new } => self.complete_hand_over(slot, old, new),
            Action::WhoAmI { pid } => {
                self.send_packet(pid, &S2CPacket::who_am_i(pid));
            }
            Action::Disconnect { pid } => {
                // Let the notice queued just before it leave first.
                self.flush_player(now, pid);
                self.remove_player(now, pid);
            }
        }
    }

    fn spawn(&mut self, now: Instant, worker: WorkerId, realm: &str) {
        let Some(slot) = self.state.registry.by_name(realm).map(|s| s.id) else {
            return;
        };
        let binary = self.s.worker_path.clone();
        let tap = Some(self.log.tap());
        match spawn_worker(&self.s, &binary, realm, worker, self.events_tx.clone(), tap) {
            Ok(process) => {
                info!(realm, os_pid = process.os_pid, "realm worker started");
                self.links.insert(worker, WorkerLink::new(slot, process));
            }
            Err(e) => {
                warn!(realm, "could not start realm worker: {e:#}");
                self.worker_gone(now, worker, ExitCause::StartFailed(format!("{e:#}")));
            }
        }
    }

    /// What every realm is told about the zone ([`ToRealm::ZoneInfo`]).
    fn zone_info(&self) -> ToRealm<'static> {
        ToRealm::ZoneInfo {
            version: ipc_proto::version::build_version().to_string(),
            default_arena: self.state.registry.policy.default_arena.clone(),
        }
    }

    /// Tells every ready realm about the zone again (after a supervisor
    /// upgrade or a configuration reload).
    pub(crate) fn tell_zone_info(&mut self) {
        let info = self.zone_info();
        for (_, worker) in self.state.registry.ready_workers() {
            self.queue_to_worker(worker, &info);
        }
    }

    /// Queues a message for a worker.
    pub(crate) fn queue_to_worker(&mut self, worker: WorkerId, msg: &ToRealm<'_>) {
        let worker = self.upgrades.route(worker, msg);
        let cap = self.state.registry.policy.ipc_queue_max_bytes;
        if let Some(link) = self.links.get_mut(&worker) {
            encode_to(link, self.state.registry.get_mut(link.slot), msg, cap);
        }
    }

    /// The worker serving a realm, once it is ready.
    fn ready_worker(&self, slot: SlotId) -> Option<WorkerId> {
        self.state
            .registry
            .get(slot)
            .and_then(RealmSlot::ready_worker)
    }

    /// Queues a message for a realm's ready worker (dropped if none).
    pub(crate) fn queue_to_realm(&mut self, slot: SlotId, msg: &ToRealm<'_>) -> bool {
        let Some(worker) = self.ready_worker(slot) else {
            return false;
        };
        self.queue_to_worker(worker, msg);
        true
    }

    /// Forwards a player's game packet to his realm, if its worker knows him.
    pub(crate) fn forward_packet(&mut self, pid: i16, bytes: &[u8]) -> bool {
        let Some(place) = self.state.members.place(pid) else {
            return false;
        };
        let (Some(slot), true) = (place.realm(), place.known_to_realm()) else {
            return false;
        };
        if !self.queue_to_realm(slot, &ToRealm::PlayerPacket { pid, bytes }) {
            return false;
        }
        if let Some(s) = self.state.registry.get_mut(slot) {
            s.counters.packets_in += 1;
        }
        true
    }

    /// Queues a position the supervisor already relayed for the realm's
    /// ready worker, held for up to 50 ms (`WorkerLink::held`). Goes the
    /// ordinary way while an upgrade redirects the worker's messages.
    pub(crate) fn hold_for_realm(&mut self, slot: SlotId, msg: &ToRealm<'_>) -> bool {
        let Some(worker) = self.ready_worker(slot) else {
            return false;
        };
        let cap = self.state.registry.policy.ipc_queue_max_bytes;
        let direct = self.upgrades.route(worker, msg) == worker && !self.upgrades.is_held(worker);
        match self.links.get_mut(&worker) {
            // Behind (a hung or overloaded worker): the ordinary queue,
            // which drops the oldest player packets first.
            Some(link) if direct && link.queue_bytes() <= cap => {
                let len = match link.hold(msg) {
                    Ok(len) => len,
                    Err(e) => {
                        warn!("could not encode a message for a realm: {e}");
                        return false;
                    }
                };
                if let Some(s) = self.state.registry.get_mut(slot) {
                    s.counters.ipc_msgs_to += 1;
                    s.counters.ipc_bytes_to += len as u64;
                }
            }
            Some(_) => self.queue_to_worker(worker, msg),
            None => return false,
        }
        if let Some(s) = self.state.registry.get_mut(slot) {
            s.counters.packets_in += 1;
        }
        true
    }

    /// Every 50 ms (`zone::POSITION_RELEASE_INTERVAL`): held relayed
    /// positions join their links' queues.
    pub(crate) fn release_held_positions(&mut self) {
        for link in self.links.values_mut() {
            link.release_held();
        }
    }

    pub(crate) fn slot_name(&self, slot: SlotId) -> &str {
        self.state
            .registry
            .get(slot)
            .map_or("?", |s| s.name.as_str())
    }

    // ----- events from worker links -------------------------------------------

    pub(crate) fn realm_event(&mut self, now: Instant, ev: RealmEvent) {
        if self.state.registry.successor_slot(ev.worker).is_some() {
            self.successor_event(now, ev);
            self.run_actions(now);
            return;
        }
        match ev.signal {
            RealmSignal::Data(bytes) => self.realm_data(now, ev.worker, &bytes),
            RealmSignal::Closed => {}
            RealmSignal::Exited(cause) => self.worker_gone(now, ev.worker, cause),
        }
        self.run_actions(now);
    }

    /// A worker process ended (or never started): the zone state decides what
    /// becomes of its realm and players.
    fn worker_gone(&mut self, now: Instant, worker: WorkerId, cause: ExitCause) {
        if let Some(link) = self.links.remove(&worker) {
            self.drop_relay_rules(link.slot);
        }
        let zone = &self.s.zone;
        let ended = self.state.worker_exited(now, worker, cause, |name| {
            crate::config::score_group(zone, name)
        });
        match ended {
            Some((name, WorkerEnd::Removed, cause)) => {
                info!(realm = %name, %cause, "realm worker stopped");
            }
            Some((name, end, cause)) => {
                let players = self
                    .state
                    .registry
                    .by_name(&name)
                    .map_or(0, |s| self.state.members.count_in(s.id));
                warn!(realm = %name, %cause, ?end, players, "realm worker ended");
            }
            None => {}
        }
    }

    fn realm_data(&mut self, now: Instant, worker: WorkerId, bytes: &[u8]) {
        if !self.state.worker_bytes(now, worker, bytes.len()) {
            return;
        }
        let Some(link) = self.links.get_mut(&worker) else {
            return;
        };
        let slot_id = link.slot;
        let mut reader = std::mem::take(&mut link.reader);
        reader.extend(bytes);
        let mut broken = None;
        loop {
            match reader.next_frame() {
                Ok(Some(frame)) => match ipc_proto::decode::<FromRealm>(frame) {
                    Ok(msg) => {
                        if let Some(s) = self.state.registry.get_mut(slot_id) {
                            s.counters.ipc_msgs_from += 1;
                        }
                        if let Err(why) = self.realm_message(now, slot_id, worker, msg) {
                            broken = Some(why);
                            break;
                        }
                    }
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
        }
        if let Some(why) = broken {
            self.state.worker_misbehaved(worker, why);
        }
    }

    /// Handles one message; an `Err` means the worker misbehaved.
    fn realm_message(
        &mut self,
        now: Instant,
        slot_id: SlotId,
        worker: WorkerId,
        msg: FromRealm<'_>,
    ) -> Result<(), String> {
        if self.state.registry.slot_of_worker(worker).is_none() {
            return Ok(());
        }
        if !self.state.registry.has_said_hello(worker) {
            let version_ok = matches!(msg, FromRealm::Hello { version, .. } if version == ipc_proto::PROTOCOL_VERSION);
            self.state.worker_hello(now, worker, version_ok);
            return Ok(());
        }
        match msg {
            FromRealm::Hello { .. } => Err("said hello twice".into()),
            FromRealm::Ready => {
                info!(realm = %self.slot_name(slot_id), "realm ready");
                self.queue_to_worker(worker, &self.zone_info());
                self.hand_back_checkpoint(slot_id, worker);
                self.state.worker_ready(now, worker);
                Ok(())
            }
            FromRealm::Send {
                to,
                delivery,
                bytes,
            } => self.realm_send(slot_id, to, delivery, bytes),
            FromRealm::SendSized { pid, bytes } => {
                if bytes.len() > MAX_REALM_STREAM {
                    return Err(format!("asked to stream {} bytes", bytes.len()));
                }
                if self.player_in_realm(pid, slot_id) {
                    if let Some(p) = self.players.get_mut(pid) {
                        // Copied only if the connection takes another stream.
                        if p.conn.sized_queue_len() < ss_proto::transport::MAX_SIZED_QUEUE {
                            p.conn.send_sized(Arc::from(bytes));
                        } else {
                            self.stats.refused_downloads += 1;
                        }
                    }
                    self.mark_dirty(pid);
                } else {
                    self.stats.refused_realm_sends += 1;
                }
                Ok(())
            }
            FromRealm::PlayerEntered { pid } => {
                self.state.player_entered(worker, pid);
                Ok(())
            }
            FromRealm::PlayerState { pid, ship, freq } => {
                match self.players.get_mut(pid) {
                    Some(p) if self.state.members.in_realm(pid, slot_id) => {
                        p.ship = ship;
                        p.freq = freq;
                    }
                    _ => self.stats.refused_realm_sends += 1,
                }
                Ok(())
            }
            FromRealm::Problems { list } => {
                if let Some(slot) = self.state.registry.get_mut(slot_id) {
                    for p in list.iter().filter(|p| !slot.problems.contains(p)) {
                        warn!(realm = %slot.name, "realm setup problem: {p}");
                    }
                    slot.problems = list.into_iter().take(16).collect();
                }
                Ok(())
            }
            FromRealm::PositionSnapshot { players } => {
                if let Some(slot) = self.state.registry.get_mut(slot_id) {
                    slot.radar = players;
                }
                Ok(())
            }
            FromRealm::HeartbeatAck { seq } => {
                self.state.heartbeat_ack(now, worker, seq);
                Ok(())
            }
            FromRealm::ZoneCall(call) => {
                self.zone_call(now, slot_id, call);
                Ok(())
            }
            FromRealm::BannerChanged { pid, banner } => {
                if banner.len() != crate::players::BANNER_LEN {
                    return Err(format!("sent a banner of {} bytes", banner.len()));
                }
                if self.player_in_realm(pid, slot_id) {
                    self.banner_changed(pid, banner);
                }
                Ok(())
            }
            FromRealm::ChatMaskChanged {
                pid,
                mask,
                remaining_secs,
            } => {
                if self.player_in_realm(pid, slot_id) {
                    self.chat_mask_changed(pid, mask, remaining_secs);
                }
                Ok(())
            }
            FromRealm::ScoreChanged {
                reset,
                pid,
                kill_points,
                flag_points,
                kills,
                deaths,
            } => {
                // The billing server gets public-arena scores with logoffs.
                self.biller_score_changed(slot_id, pid, kill_points, flag_points, kills, deaths);
                let totals = ipc_proto::SavedScore {
                    kill_points,
                    flag_points,
                    kills,
                    deaths,
                };
                self.score_changed(slot_id, pid, totals, reset);
                Ok(())
            }
            FromRealm::ArenaCheckpoint { bytes } => self.keep_checkpoint(slot_id, bytes),
            FromRealm::HandOverState { bytes } => self.handover_state(now, worker, bytes),
            FromRealm::RelayRules {
                antiwarp_slow,
                weapons,
                players,
                places,
            } => {
                self.install_relay_rules(slot_id, antiwarp_slow, weapons, players, &places);
                Ok(())
            }
            FromRealm::Build { version } => {
                if version.len() > 64 {
                    return Err(format!("sent a build version of {} bytes", version.len()));
                }
                if let Some(link) = self.links.get_mut(&worker) {
                    link.version = Some(version);
                }
                Ok(())
            }
        }
    }

    /// Whether the player belongs to this realm (entering or in it).
    pub(crate) fn player_in_realm(&self, pid: i16, slot: SlotId) -> bool {
        self.state.members.in_realm(pid, slot)
    }

    fn realm_send(
        &mut self,
        slot_id: SlotId,
        to: Target<'_>,
        delivery: Delivery,
        bytes: &[u8],
    ) -> Result<(), String> {
        if bytes.is_empty() || bytes.len() > MAX_REALM_PACKET {
            return Err(format!("asked to send a packet of {} bytes", bytes.len()));
        }
        let (reliability, priority) = match delivery {
            Delivery::Reliable => (Reliability::Reliable, Priority::Normal),
            Delivery::Unreliable => (Reliability::Unreliable, Priority::Normal),
            Delivery::UnreliableHigh => (Reliability::Unreliable, Priority::High),
            Delivery::UnreliableLow => (Reliability::Unreliable, Priority::Low),
        };
        let Zone {
            state,
            players,
            stats,
            flush_list,
            ..
        } = self;
        let mut sent = 0u64;
        let mut send_one = |pid: i16| {
            // A realm may only reach its own players.
            let Some(p) = players
                .get_mut(pid)
                .filter(|_| state.members.in_realm(pid, slot_id))
            else {
                stats.refused_realm_sends += 1;
                return;
            };
            sent += 1;
            if p.queue(bytes, reliability, priority) {
                flush_list.push(pid);
            }
        };
        match to {
            Target::Player(pid) => send_one(pid),
            Target::Players(list) => Target::list(list).for_each(&mut send_one),
            Target::Arena => {
                for &pid in state.members.players_in(slot_id) {
                    send_one(pid);
                }
            }
            Target::ArenaExcept(except) => {
                for &pid in state.members.players_in(slot_id) {
                    if pid != except {
                        send_one(pid);
                    }
                }
            }
        }
        if let Some(slot) = self.state.registry.get_mut(slot_id) {
            slot.counters.packets_out += sent;
        }
        Ok(())
    }

    fn zone_call(&mut self, now: Instant, slot_id: SlotId, call: ZoneCall<'_>) {
        // A realm acts only for its own players: a call naming a player of
        // another realm as the one acting is refused and counted.
        if let Some(pid) = acting_player(&call) {
            if !self.player_in_realm(pid, slot_id) {
                self.stats.refused_realm_sends += 1;
                return;
            }
        }
        match call {
            ZoneCall::MovePlayer { pid, arena } => {
                if self.player_in_realm(pid, slot_id) {
                    let arena = sanitize_arena_name(&arena);
                    if let Some(p) = self.players.get_mut(pid) {
                        p.spawn_in = None;
                    }
                    self.move_to_arena(now, pid, &arena);
                }
            }
            ZoneCall::MovePlayerTo { pid, arena, x, y } => {
                if self.player_in_realm(pid, slot_id) {
                    let arena = sanitize_arena_name(&arena);
                    if let Some(p) = self.players.get_mut(pid) {
                        p.spawn_in = Some((arena.clone(), x, y));
                    }
                    self.move_to_arena(now, pid, &arena);
                }
            }
            ZoneCall::RemotePrivate {
                from,
                to_name,
                text,
            } => {
                let Some(sender) = self
                    .players
                    .get(from)
                    .filter(|p| self.state.members.in_realm(p.pid, slot_id))
                else {
                    return;
                };
                let sender_name = sender.name.clone();
                match self.players.find_by_name(&to_name).map(|p| p.pid) {
                    Some(target) => {
                        let pkt = S2CPacket::remote_private(&sender_name, text);
                        self.send_packet(target, &pkt);
                    }
                    None => {
                        if !self.biller_remote_private(from, &to_name, text, 0) {
                            self.arena_message(from, &format!("{to_name} is not in the zone."));
                        }
                    }
                }
            }
            ZoneCall::Kick { pid } => {
                if self.player_in_realm(pid, slot_id) {
                    self.remove_player(now, pid);
                }
            }
            ZoneCall::RealmSummary { pid } => {
                if self.player_in_realm(pid, slot_id) {
                    let report = self.report(now);
                    let z = &report.zone;
                    self.arena_message(
                        pid,
                        &format!(
                            "zone: {} connections, {} players, cpu {:.1}%, {} realms",
                            z.connections,
                            z.players,
                            z.process.cpu_percent,
                            report.realms.len()
                        ),
                    );
                    if let Some(line) = z.persist.as_ref().and_then(|p| p.failure_line()) {
                        self.arena_message(pid, &format!("zone: {line}"));
                    }
                    for r in &report.realms {
                        let line = format!(
                            "{}: {} pid {} up {:.0}s players {} cpu {:.1}% rss {}K restarts {}{}",
                            r.name,
                            r.state,
                            r.process.pid,
                            r.uptime_secs,
                            r.players,
                            r.process.cpu_percent,
                            r.process.rss_bytes / 1024,
                            r.restarts,
                            r.last_exit
                                .as_deref()
                                .map(|c| format!(" (last: {c})"))
                                .unwrap_or_default()
                        );
                        self.arena_message(pid, &line);
                        for problem in &r.problems {
                            self.arena_message(pid, &format!("{}: problem: {problem}", r.name));
                        }
                    }
                }
            }
            ZoneCall::FindPlayer {
                pid,
                name,
                see_private,
            } => self.call_find_player(slot_id, pid, &name, see_private),
            ZoneCall::ArenaList {
                pid,
                see_private,
                text,
            } => self.call_arena_list(slot_id, pid, see_private, text),
            ZoneCall::ZoneMessage { text, sound } => self.call_zone_message(&text, sound),
            ZoneCall::StaffChat { from, text } => self.call_staff_chat(slot_id, from, text),
            ZoneCall::ListStaff {
                pid,
                see_private,
                see_all_staff,
            } => self.call_list_staff(slot_id, pid, see_private, see_all_staff),
            ZoneCall::MessageTo {
                pid,
                chat_type,
                sound,
                text,
            } => self.call_message_to(pid, chat_type, sound, &text),
            ZoneCall::KickWithMessage {
                pid,
                text,
                ban_secs,
            } => self.call_kick(now, slot_id, pid, &text, ban_secs),
            ZoneCall::PlayerReport {
                asker,
                target,
                kind,
            } => self.call_player_report(now, slot_id, asker, target, kind),
            ZoneCall::RemoteCommand {
                from,
                to_name,
                line,
                star,
            } => self.call_remote_command(slot_id, from, &to_name, line, star),
            ZoneCall::ChatChannel { pid, text } => {
                if self.player_in_realm(pid, slot_id) {
                    self.biller_channel_chat(pid, &text);
                }
            }
            ZoneCall::BillerCommand { pid, line, modchat } => {
                if self.player_in_realm(pid, slot_id) {
                    self.biller_command(pid, &line, modchat);
                }
            }
            ZoneCall::EndGameInterval => {
                if let Some(name) = self.state.registry.get(slot_id).map(|s| s.name.clone()) {
                    if !self.end_game_interval(&name, now) {
                        self.stats.refused_realm_sends += 1;
                        warn!(realm = %name, "game interval ended again within a second; refused");
                    }
                }
            }
            ZoneCall::SetSetting {
                pid,
                global,
                section,
                key,
                value,
            } => self.call_set_setting(slot_id, pid, global, &section, &key, &value),
            ZoneCall::SetArenaSettings { pid, changes } => {
                self.call_set_arena_settings(slot_id, pid, &changes)
            }
            ZoneCall::ReloadConfig { pid } => self.call_reload_config(pid),
            ZoneCall::Staff { pid, request } => self.call_staff(now, slot_id, pid, request),
        }
    }

    // ----- process figures, reports, operator requests ----------------------

    /// Refreshes CPU and memory figures of every worker.
    pub(crate) fn sample_realm_processes(&mut self, now: Instant) {
        for link in self.links.values_mut() {
            if let Some(sample) = read_proc(link.process.os_pid) {
                if let Some((prev, at)) = link.cpu_prev {
                    let secs = now.saturating_duration_since(at).as_secs_f64();
                    link.cpu_pct = cpu_percent(&prev, &sample, secs);
                }
                link.cpu_prev = Some((sample, now));
                link.proc_now = sample;
            }
        }
    }

    /// The report lines of every realm, by name.
    pub(crate) fn realm_reports(&self, now: Instant) -> Vec<RealmReport> {
        let mut out: Vec<RealmReport> = self
            .state
            .registry
            .iter()
            .map(|slot| {
                let worker = slot.worker.as_ref();
                let link = worker.and_then(|w| self.links.get(&w.id));
                let process = link.map_or_else(ProcessReport::default, |l| ProcessReport {
                    pid: l.process.os_pid,
                    cpu_user_secs: l.proc_now.user_secs,
                    cpu_system_secs: l.proc_now.system_secs,
                    cpu_percent: l.cpu_pct,
                    rss_bytes: l.proc_now.rss_bytes,
                });
                RealmReport {
                    name: slot.name.clone(),
                    state: slot.state.as_str().to_string(),
                    process,
                    uptime_secs: worker.map_or(0.0, |w| {
                        now.saturating_duration_since(w.started).as_secs_f64()
                    }),
                    restarts: slot.restarts,
                    last_exit: slot.last_exit.as_ref().map(ToString::to_string),
                    players: self.state.members.count_in(slot.id) as u32,
                    ipc_msgs_to: slot.counters.ipc_msgs_to,
                    ipc_msgs_from: slot.counters.ipc_msgs_from,
                    ipc_bytes_to: slot.counters.ipc_bytes_to,
                    ipc_bytes_from: slot.counters.ipc_bytes_from,
                    ipc_queue_bytes: link.map_or(0, WorkerLink::queue_bytes),
                    ipc_dropped: slot.counters.ipc_dropped,
                    packets_in: slot.counters.packets_in,
                    packets_out: slot.counters.packets_out,
                    problems: slot.problems.clone(),
                    version: link.and_then(|l| l.version.clone()),
                }
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// Operator request: restart a realm's worker, or bring a failed realm
    /// back.
    pub(crate) fn operator_restart(&mut self, now: Instant, name: &str) -> Result<String, String> {
        let answer = self.state.operator_restart(now, name);
        self.run_actions(now);
        answer
    }

    /// Moves every worker's queued messages to its writer task, unless the
    /// writer is behind (a hung or overloaded worker): then they wait here,
    /// where the oldest player packets are dropped first once the queue
    /// reaches `Realms:IpcQueueMaxBytes`.
    pub(crate) fn flush_realms(&mut self) {
        let handover = IPC_HANDOVER_BYTES.min(self.state.registry.policy.ipc_queue_max_bytes / 2);
        self.hand_over(handover);
    }

    /// Moves every worker's queued messages to its writer task, however far
    /// behind it is (at shutdown, so that `Shutdown` reaches every worker).
    pub(crate) fn flush_realms_all(&mut self) {
        self.release_held_positions();
        self.hand_over(u64::MAX);
    }

    fn hand_over(&mut self, handover: u64) {
        if self.upgrades.frozen {
            // The supervisor is about to exec: what is queued now goes
            // into the handed-over state (docs/upgrades.md §3).
            return;
        }
        for (id, link) in self.links.iter_mut() {
            if self.upgrades.is_held(*id) {
                // An upgrade's successor: its messages wait until its
                // predecessor has handed over (docs/upgrades.md §2).
                continue;
            }
            if !link.out.is_empty() && link.process.queued.load(Ordering::Relaxed) < handover {
                link.droppable.clear();
                let batch = std::mem::take(&mut link.out);
                link.process
                    .queued
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                let _ = link.process.writer.send(batch);
            }
        }
    }

    /// Whether any worker process is still running.
    pub(crate) fn workers_running(&self) -> bool {
        !self.links.is_empty()
    }

    /// Marks a worker gone after shutdown (its exit was seen).
    pub(crate) fn forget_worker(&mut self, worker: WorkerId) {
        self.links.remove(&worker);
        self.state.registry.forget_worker(worker);
    }
}

/// The player of the calling realm a zone call acts for (`None` for calls
/// that act for nobody or address players anywhere).
fn acting_player(call: &ZoneCall<'_>) -> Option<i16> {
    match call {
        ZoneCall::MovePlayer { pid, .. }
        | ZoneCall::MovePlayerTo { pid, .. }
        | ZoneCall::Kick { pid }
        | ZoneCall::RealmSummary { pid }
        | ZoneCall::FindPlayer { pid, .. }
        | ZoneCall::ArenaList { pid, .. }
        | ZoneCall::ListStaff { pid, .. }
        | ZoneCall::KickWithMessage { pid, .. }
        | ZoneCall::ChatChannel { pid, .. }
        | ZoneCall::BillerCommand { pid, .. }
        | ZoneCall::SetSetting { pid, .. }
        | ZoneCall::SetArenaSettings { pid, .. }
        | ZoneCall::ReloadConfig { pid }
        | ZoneCall::Staff { pid, .. } => Some(*pid),
        ZoneCall::RemotePrivate { from, .. }
        | ZoneCall::StaffChat { from, .. }
        | ZoneCall::RemoteCommand { from, .. } => Some(*from),
        ZoneCall::PlayerReport { target, .. } => Some(*target),
        ZoneCall::ZoneMessage { .. } | ZoneCall::MessageTo { .. } | ZoneCall::EndGameInterval => {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU64;

    use tokio::sync::mpsc;

    use super::*;

    fn link() -> WorkerLink {
        let (writer, _rx) = mpsc::unbounded_channel();
        WorkerLink::new(
            0,
            WorkerProcess {
                os_pid: 0,
                writer,
                queued: Arc::new(AtomicU64::new(0)),
                fd: -1,
                stderr_fd: None,
            },
        )
    }

    /// What is waiting in the link: (control messages, player packets by
    /// their first byte).
    fn waiting(link: &WorkerLink) -> (Vec<String>, Vec<u8>) {
        let mut r = FrameReader::new();
        r.extend(&link.out);
        let (mut control, mut packets) = (Vec::new(), Vec::new());
        while let Ok(Some(frame)) = r.next_frame() {
            match ipc_proto::decode::<ToRealm>(frame).unwrap() {
                ToRealm::PlayerPacket { bytes, .. } => packets.push(bytes[1]),
                other => control.push(format!("{other:?}")),
            }
        }
        (control, packets)
    }

    /// Regression (fault campaign: the IPC queue to a hung realm had no
    /// cap): behind a writer that does not move, the queue stays under the
    /// cap by dropping the oldest player packets; control messages all stay,
    /// in order.
    #[test]
    fn a_full_queue_drops_the_oldest_player_packets_and_keeps_control() {
        let cap = 4096;
        let mut l = link();
        // The writer already holds a batch it cannot write.
        l.process.queued.store(1000, Ordering::Relaxed);
        let mut dropped = 0;
        let mut count = |queued: bool| dropped += u64::from(!queued);
        count(encode_to(&mut l, None, &ToRealm::Heartbeat { seq: 1 }, cap));
        for i in 0..=255u8 {
            let bytes = [
                0x03, i, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            ];
            count(encode_to(
                &mut l,
                None,
                &ToRealm::PlayerPacket {
                    pid: 1,
                    bytes: &bytes,
                },
                cap,
            ));
            if i % 64 == 0 {
                let leave = ToRealm::PlayerLeave { pid: i16::from(i) };
                count(encode_to(&mut l, None, &leave, cap));
            }
            assert!(l.queue_bytes() <= cap, "{} bytes queued", l.queue_bytes());
        }
        assert_eq!(dropped, 0, "nothing refused: old packets made room");
        let (control, packets) = waiting(&l);
        assert_eq!(
            control,
            vec![
                "Heartbeat { seq: 1 }",
                "PlayerLeave { pid: 0 }",
                "PlayerLeave { pid: 64 }",
                "PlayerLeave { pid: 128 }",
                "PlayerLeave { pid: 192 }",
            ]
        );
        // The newest packets are kept, in order, the oldest dropped.
        assert!(packets.len() < 256);
        assert_eq!(*packets.last().unwrap(), 255);
        assert!(packets.windows(2).all(|w| w[0] + 1 == w[1]), "{packets:?}");
        assert_eq!(l.droppable.len(), packets.len());
    }

    /// Held relayed positions go ahead of the next message (order kept)
    /// and, once released, may be dropped like player packets.
    #[test]
    fn held_positions_go_first_and_stay_droppable() {
        let mut l = link();
        let bytes = [0x03u8; 22];
        for pid in 1..=3 {
            l.hold(&ToRealm::RelayedPosition {
                pid,
                at: 0,
                bytes: &bytes,
            })
            .unwrap();
        }
        assert!(l.out.is_empty(), "held, not queued");
        assert!(encode_to(
            &mut l,
            None,
            &ToRealm::Heartbeat { seq: 1 },
            1 << 20
        ));
        let (control, _) = waiting(&l);
        assert_eq!(control.len(), 4);
        for (i, c) in control[..3].iter().enumerate() {
            assert!(
                c.starts_with(&format!("RelayedPosition {{ pid: {}", i + 1)),
                "{c}"
            );
        }
        assert_eq!(control[3], "Heartbeat { seq: 1 }");
        assert_eq!(l.droppable.len(), 3);
        // A stuck writer: the released positions make room, control stays.
        l.process.queued.store(4096, Ordering::Relaxed);
        assert!(encode_to(
            &mut l,
            None,
            &ToRealm::Heartbeat { seq: 2 },
            4096 + 40
        ));
        let (control, _) = waiting(&l);
        assert_eq!(
            control,
            vec!["Heartbeat { seq: 1 }", "Heartbeat { seq: 2 }"]
        );
        assert!(l.droppable.is_empty());
    }

    /// With only control messages waiting, a player packet that does not
    /// fit is itself dropped.
    #[test]
    fn a_packet_that_cannot_fit_is_dropped() {
        let mut l = link();
        l.process.queued.store(4096, Ordering::Relaxed);
        let bytes = [0x03u8; 22];
        let pkt = ToRealm::PlayerPacket {
            pid: 1,
            bytes: &bytes,
        };
        assert!(!encode_to(&mut l, None, &pkt, 4096));
        assert!(encode_to(
            &mut l,
            None,
            &ToRealm::Heartbeat { seq: 2 },
            4096
        ));
        assert_eq!(waiting(&l).1.len(), 0);
    }
}
