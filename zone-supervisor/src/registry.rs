//! The realm registry: one slot per arena name, holding the arena's
//! players and its current worker process, and the rules that keep realms
//! alive: start on demand, heartbeat watchdog, restart after a crash with
//! back-off, give up past a limit, stop when idle.
//!
//! A slot outlives its workers: players stay assigned to the slot while its
//! worker is replaced, so a crash never drops them from the zone.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use ipc_proto::{Delivery, FrameReader, FromRealm, Target, ToRealm, ZoneCall};
use ss_proto::game::{Chat, S2CPacket};
use ss_proto::transport::{Priority, Reliability};
use tracing::{info, warn};

use crate::players::Stage;
use crate::realms::{spawn_worker, RealmEvent, RealmSignal, WorkerId, WorkerProcess};
use crate::stats::{cpu_percent, read_proc, ProcSample, ProcessReport, RealmReport};
use crate::zone::{sanitize_arena_name, Zone};

/// Identifies a realm slot (stable for an arena name while the slot lives).
pub type SlotId = u32;

/// Largest packet a realm may ask to send (the clients' reassembly limit).
const MAX_REALM_PACKET: usize = 65536;
/// Largest sized stream (map download) a realm may ask to send.
const MAX_REALM_STREAM: usize = 16 << 20;
/// How long a stopping worker gets before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Life-cycle state of a realm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RealmState {
    /// Worker started, not ready yet.
    Starting,
    /// Worker ready and serving.
    Running,
    /// Worker ended unexpectedly; a new one starts after the back-off.
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

/// One worker process of a realm and its link state.
pub struct Worker {
    id: WorkerId,
    process: WorkerProcess,
    hello: bool,
    ready: bool,
    started: Instant,
    reader: FrameReader,
    out: Vec<u8>,
    heartbeat_seq: u32,
    last_ack: Instant,
    /// Set when the supervisor kills the worker, to report why.
    kill_cause: Option<String>,
    cpu_prev: Option<(ProcSample, Instant)>,
    cpu_pct: f64,
    proc_now: ProcSample,
    /// Start of the current one-second flood-accounting window.
    flood_window: Instant,
    /// Bytes received from the worker in that window.
    flood_bytes: u64,
}

/// Counters kept per realm across its workers.
#[derive(Default, Clone, Copy)]
pub struct RealmCounters {
    ipc_msgs_to: u64,
    ipc_msgs_from: u64,
    ipc_bytes_to: u64,
    ipc_bytes_from: u64,
    packets_in: u64,
    packets_out: u64,
}

/// A realm: its name, players and current worker.
pub struct RealmSlot {
    /// Slot id.
    pub id: SlotId,
    /// Arena name.
    pub name: String,
    /// Life-cycle state.
    pub state: RealmState,
    worker: Option<Worker>,
    /// Players assigned to this realm.
    pub players: Vec<i16>,
    restarts: u32,
    crash_times: VecDeque<Instant>,
    last_exit: Option<String>,
    restart_at: Option<Instant>,
    /// The arena's score group (`General:ScoreGroup` or its base name).
    pub score_group: String,
    empty_since: Option<Instant>,
    stopping_since: Option<Instant>,
    counters: RealmCounters,
}

impl RealmSlot {
    /// Whether the worker accepts player messages.
    pub fn ready(&self) -> bool {
        self.worker.as_ref().is_some_and(|w| w.ready) && self.state == RealmState::Running
    }

    /// Queues a message for the worker (dropped if there is none).
    pub fn send(&mut self, msg: &ToRealm<'_>) {
        if let Some(w) = self.worker.as_mut() {
            let before = w.out.len();
            if let Err(e) = ipc_proto::encode(msg, &mut w.out) {
                warn!(realm = %self.name, "could not encode message for realm: {e}");
                return;
            }
            self.counters.ipc_msgs_to += 1;
            self.counters.ipc_bytes_to += (w.out.len() - before) as u64;
        }
    }

    /// Queues a player's game packet for the worker.
    pub fn forward_packet(&mut self, pid: i16, bytes: &[u8]) -> bool {
        if !self.ready() {
            return false;
        }
        self.counters.packets_in += 1;
        self.send(&ToRealm::PlayerPacket { pid, bytes });
        true
    }

    /// Report line for the stats.
    pub fn report(&self, now: Instant) -> RealmReport {
        let (process, uptime) = match &self.worker {
            Some(w) => (
                ProcessReport {
                    pid: w.process.os_pid,
                    cpu_user_secs: w.proc_now.user_secs,
                    cpu_system_secs: w.proc_now.system_secs,
                    cpu_percent: w.cpu_pct,
                    rss_bytes: w.proc_now.rss_bytes,
                },
                now.saturating_duration_since(w.started).as_secs_f64(),
            ),
            None => (ProcessReport::default(), 0.0),
        };
        RealmReport {
            name: self.name.clone(),
            state: self.state.as_str().to_string(),
            process,
            uptime_secs: uptime,
            restarts: self.restarts,
            last_exit: self.last_exit.clone(),
            players: self.players.len() as u32,
            ipc_msgs_to: self.counters.ipc_msgs_to,
            ipc_msgs_from: self.counters.ipc_msgs_from,
            ipc_bytes_to: self.counters.ipc_bytes_to,
            ipc_bytes_from: self.counters.ipc_bytes_from,
            ipc_queue_bytes: self.worker.as_ref().map_or(0, |w| {
                w.process.queued.load(Ordering::Relaxed) + w.out.len() as u64
            }),
            packets_in: self.counters.packets_in,
            packets_out: self.counters.packets_out,
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
}

impl Zone {
    // ----- slots and workers ------------------------------------------------

    /// The slot serving `name`, starting one if needed. `None` if the realm
    /// is failed or cannot be started.
    pub(crate) fn realm_for(&mut self, now: Instant, name: &str) -> Result<SlotId, String> {
        if let Some(&id) = self.realm_by_name.get(name) {
            let Some(slot) = self.realms.get_mut(&id) else {
                return Err("internal: stale realm name".into());
            };
            match slot.state {
                RealmState::Failed => {
                    return Err(format!(
                        "Arena {name} has failed and is waiting for an operator."
                    ))
                }
                RealmState::Stopping => {
                    // Someone wants it again before the worker has gone: let
                    // that worker finish and start a fresh one after it.
                    slot.state = RealmState::Restarting;
                    slot.restart_at = Some(now);
                    slot.stopping_since = None;
                }
                _ => {}
            }
            return Ok(id);
        }
        let id = self.next_slot_id;
        self.next_slot_id += 1;
        let mut slot = RealmSlot {
            id,
            name: name.to_string(),
            state: RealmState::Starting,
            worker: None,
            players: Vec::new(),
            restarts: 0,
            crash_times: VecDeque::new(),
            last_exit: None,
            restart_at: None,
            score_group: crate::config::score_group(&self.s.zone, name),
            empty_since: None,
            stopping_since: None,
            counters: RealmCounters::default(),
        };
        if let Err(e) = self.spawn_into(now, &mut slot) {
            warn!(realm = name, "could not start realm: {e:#}");
            return Err(format!("Arena {name} is unavailable right now."));
        }
        self.realms.insert(id, slot);
        self.realm_by_name.insert(name.to_string(), id);
        Ok(id)
    }

    fn spawn_into(&mut self, now: Instant, slot: &mut RealmSlot) -> Result<()> {
        let worker_id = self.next_worker_id;
        self.next_worker_id += 1;
        let process = spawn_worker(&self.s, &slot.name, worker_id, self.events_tx.clone())?;
        info!(realm = %slot.name, os_pid = process.os_pid, "realm worker started");
        self.worker_slot.insert(worker_id, slot.id);
        slot.worker = Some(Worker {
            id: worker_id,
            process,
            hello: false,
            ready: false,
            started: now,
            reader: FrameReader::new(),
            out: Vec::new(),
            heartbeat_seq: 0,
            last_ack: now,
            kill_cause: None,
            cpu_prev: None,
            cpu_pct: 0.0,
            proc_now: ProcSample::default(),
            flood_window: now,
            flood_bytes: 0,
        });
        slot.state = RealmState::Starting;
        Ok(())
    }

    /// Kills a slot's worker, recording why.
    pub(crate) fn kill_worker(&mut self, slot_id: SlotId, why: &str) {
        let Some(slot) = self.realms.get_mut(&slot_id) else {
            return;
        };
        let Some(w) = slot.worker.as_mut() else {
            return;
        };
        warn!(realm = %slot.name, os_pid = w.process.os_pid, "killing realm worker: {why}");
        if w.kill_cause.is_none() {
            w.kill_cause = Some(why.to_string());
        }
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(w.process.os_pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
    }

    // ----- events from worker links -------------------------------------------

    pub(crate) fn realm_event(&mut self, ev: RealmEvent) {
        let now = Instant::now();
        let Some(&slot_id) = self.worker_slot.get(&ev.worker) else {
            return;
        };
        match ev.signal {
            RealmSignal::Data(bytes) => self.realm_data(now, slot_id, ev.worker, &bytes),
            RealmSignal::Closed => {}
            RealmSignal::Exited(cause) => {
                self.worker_slot.remove(&ev.worker);
                self.worker_exited(now, slot_id, ev.worker, cause);
            }
        }
    }

    fn realm_data(&mut self, now: Instant, slot_id: SlotId, worker_id: WorkerId, bytes: &[u8]) {
        let Some(slot) = self.realms.get_mut(&slot_id) else {
            return;
        };
        let Some(w) = slot.worker.as_mut().filter(|w| w.id == worker_id) else {
            return;
        };
        slot.counters.ipc_bytes_from += bytes.len() as u64;
        // A worker that floods the link is treated like a crashed one.
        if now.saturating_duration_since(w.flood_window) >= Duration::from_secs(1) {
            w.flood_window = now;
            w.flood_bytes = 0;
        }
        w.flood_bytes += bytes.len() as u64;
        if w.flood_bytes > self.policy.max_ipc_bytes_per_sec {
            let why = format!(
                "flooded the supervisor ({} bytes in under a second)",
                w.flood_bytes
            );
            self.kill_worker(slot_id, &why);
            return;
        }
        let mut reader = std::mem::take(&mut w.reader);
        reader.extend(bytes);
        let mut broken = None;
        loop {
            match reader.next_frame() {
                Ok(Some(frame)) => match ipc_proto::decode::<FromRealm>(frame) {
                    Ok(msg) => {
                        if let Some(s) = self.realms.get_mut(&slot_id) {
                            s.counters.ipc_msgs_from += 1;
                        }
                        if let Err(why) = self.realm_message(now, slot_id, msg) {
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
        if let Some(w) = self
            .realms
            .get_mut(&slot_id)
            .and_then(|s| s.worker.as_mut())
            .filter(|w| w.id == worker_id)
        {
            w.reader = reader;
        }
        if let Some(why) = broken {
            self.kill_worker(slot_id, &why);
        }
    }

    /// Handles one message; an `Err` means the worker misbehaved.
    fn realm_message(
        &mut self,
        now: Instant,
        slot_id: SlotId,
        msg: FromRealm<'_>,
    ) -> Result<(), String> {
        let Some(slot) = self.realms.get_mut(&slot_id) else {
            return Ok(());
        };
        let Some(w) = slot.worker.as_mut() else {
            return Ok(());
        };
        if !w.hello {
            return match msg {
                FromRealm::Hello { version, .. } if version == ipc_proto::PROTOCOL_VERSION => {
                    w.hello = true;
                    w.last_ack = now;
                    Ok(())
                }
                _ => Err("no valid hello (a worker built from other sources?)".into()),
            };
        }
        match msg {
            FromRealm::Hello { .. } => Err("said hello twice".into()),
            FromRealm::Ready => {
                w.ready = true;
                w.last_ack = now;
                if slot.state == RealmState::Starting {
                    slot.state = RealmState::Running;
                }
                info!(realm = %slot.name, "realm ready");
                for pid in slot.players.clone() {
                    self.try_enter(pid, slot_id);
                }
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
                if let Some(p) = self.players.get_mut(pid) {
                    if p.realm() == Some(slot_id) {
                        p.stage = Stage::InRealm {
                            realm: slot_id,
                            entered: true,
                        };
                    }
                }
                Ok(())
            }
            FromRealm::PlayerState { pid, ship, freq } => {
                match self.players.get_mut(pid) {
                    Some(p) if p.realm() == Some(slot_id) => {
                        p.ship = ship;
                        p.freq = freq;
                    }
                    _ => self.stats.refused_realm_sends += 1,
                }
                Ok(())
            }
            FromRealm::HeartbeatAck { seq } => {
                if seq == w.heartbeat_seq {
                    w.last_ack = now;
                }
                Ok(())
            }
            FromRealm::ZoneCall(call) => {
                self.zone_call(now, slot_id, call);
                Ok(())
            }
            // Kept in the realm's memory for now; persistence hooks in here.
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
        }
    }

    pub(crate) fn player_in_realm(&self, pid: i16, slot: SlotId) -> bool {
        self.players
            .get(pid)
            .is_some_and(|p| p.realm() == Some(slot))
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
        let mut sent = 0u64;
        let send_one = |zone: &mut Zone, pid: i16, sent: &mut u64| {
            let Some(p) = zone.players.get_mut(pid) else {
                zone.stats.refused_realm_sends += 1;
                return;
            };
            if p.realm() != Some(slot_id) {
                // A realm may only reach its own players.
                zone.stats.refused_realm_sends += 1;
                return;
            }
            p.conn.send(bytes, reliability, priority);
            *sent += 1;
            if !p.dirty {
                p.dirty = true;
                zone.flush_list.push(pid);
            }
        };
        match to {
            Target::Player(pid) => send_one(self, pid, &mut sent),
            Target::Players(list) => {
                for pid in Target::list(list) {
                    send_one(self, pid, &mut sent);
                }
            }
            Target::Arena | Target::ArenaExcept(_) => {
                let except = match to {
                    Target::ArenaExcept(p) => Some(p),
                    _ => None,
                };
                let Some(slot) = self.realms.get_mut(&slot_id) else {
                    return Ok(());
                };
                let pids = std::mem::take(&mut slot.players);
                for &pid in &pids {
                    if Some(pid) != except {
                        send_one(self, pid, &mut sent);
                    }
                }
                if let Some(slot) = self.realms.get_mut(&slot_id) {
                    slot.players = pids;
                }
            }
        }
        if let Some(slot) = self.realms.get_mut(&slot_id) {
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
                    .filter(|p| p.realm() == Some(slot_id))
                else {
                    return;
                };
                let sender_name = sender.name.clone();
                match self.players.find_by_name(&to_name).map(|p| p.pid) {
                    Some(target) => {
                        let pkt = S2CPacket::Chat(Chat {
                            chat_type: 7,
                            sound: 0,
                            pid: -1,
                            text: format!("({sender_name})>{text}"),
                        });
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
        }
    }

    // ----- crashes, restarts, idling ----------------------------------------

    fn worker_exited(&mut self, now: Instant, slot_id: SlotId, worker_id: WorkerId, cause: String) {
        let Some(slot) = self.realms.get_mut(&slot_id) else {
            return;
        };
        let Some(worker) = slot.worker.take_if(|w| w.id == worker_id) else {
            return;
        };
        let cause = worker.kill_cause.clone().unwrap_or(cause);
        if slot.state == RealmState::Stopping && slot.players.is_empty() {
            info!(realm = %slot.name, %cause, "realm worker stopped");
            let name = slot.name.clone();
            self.realms.remove(&slot_id);
            if self.realm_by_name.get(&name) == Some(&slot_id) {
                self.realm_by_name.remove(&name);
            }
            return;
        }
        let planned = matches!(slot.state, RealmState::Restarting | RealmState::Stopping)
            || cause == "restart requested";
        slot.last_exit = Some(cause.clone());
        slot.restarts += 1;
        if !planned {
            slot.crash_times.push_back(now);
        }
        while slot
            .crash_times
            .front()
            .is_some_and(|&t| now.saturating_duration_since(t) > self.policy.restart_window)
        {
            slot.crash_times.pop_front();
        }
        let crashes = slot.crash_times.len() as u32;
        let name = slot.name.clone();
        let pids = slot.players.clone();
        warn!(realm = %name, %cause, players = pids.len(), crashes, "realm worker ended");

        // The clients leave the arena the way an arena recycle makes them
        // (a repeated who-am-I); they are entered again by the next worker.
        for &pid in &pids {
            if let Some(p) = self.players.get_mut(pid) {
                p.stage = Stage::InRealm {
                    realm: slot_id,
                    entered: false,
                };
            }
            if !planned {
                self.arena_message(
                    pid,
                    &format!("Arena {name} failed ({cause}); restarting it."),
                );
            }
            let mut who = [0x01u8, 0, 0];
            who[1..3].copy_from_slice(&pid.to_le_bytes());
            self.send_raw(pid, &who, Reliability::Reliable);
        }

        let Some(slot) = self.realms.get_mut(&slot_id) else {
            return;
        };
        if crashes > self.policy.restart_limit {
            slot.state = RealmState::Failed;
            slot.restart_at = None;
            warn!(realm = %name, crashes, "realm crashed too often; marked failed");
            let default = self.policy.default_arena.clone();
            for pid in pids {
                self.arena_message(
                    pid,
                    &format!("Arena {name} keeps failing; moving you to arena {default}."),
                );
                if default != name {
                    self.move_to_arena(now, pid, &default);
                } else {
                    self.leave_realm(now, pid);
                }
            }
            return;
        }
        let delay = if crashes <= 1 || planned {
            Duration::ZERO
        } else {
            let factor = 1u32 << (crashes - 2).min(16);
            (self.policy.backoff_base * factor).min(self.policy.backoff_max)
        };
        slot.state = RealmState::Restarting;
        slot.restart_at = Some(now + delay);
        self.mark_reentry(slot_id);
        self.restart_due_realms(now);
    }

    /// Starts the workers whose back-off has passed.
    pub(crate) fn restart_due_realms(&mut self, now: Instant) {
        let due: Vec<SlotId> = self
            .realms
            .values()
            .filter(|s| {
                s.state == RealmState::Restarting
                    && s.worker.is_none()
                    && s.restart_at.is_some_and(|t| t <= now)
            })
            .map(|s| s.id)
            .collect();
        for id in due {
            let Some(mut slot) = self.realms.remove(&id) else {
                continue;
            };
            slot.restart_at = None;
            if let Err(e) = self.spawn_into(now, &mut slot) {
                warn!(realm = %slot.name, "could not restart realm: {e:#}");
                slot.crash_times.push_back(now);
                slot.last_exit = Some(format!("start failed: {e}"));
                slot.state = RealmState::Restarting;
                slot.restart_at = Some(now + self.policy.backoff_max);
            }
            self.realms.insert(id, slot);
        }
    }

    /// Heartbeats, hang detection, idle stops, CPU sampling.
    pub(crate) fn realm_housekeeping(&mut self, now: Instant) {
        let mut to_kill = Vec::new();
        for slot in self.realms.values_mut() {
            let Some(w) = slot.worker.as_mut() else {
                continue;
            };
            if w.kill_cause.is_none()
                && now.saturating_duration_since(w.last_ack) >= self.policy.heartbeat_timeout
            {
                to_kill.push((slot.id, "unresponsive"));
                continue;
            }
            if w.hello && now.saturating_duration_since(w.last_ack) >= self.policy.heartbeat {
                w.heartbeat_seq = w.heartbeat_seq.wrapping_add(1);
                let seq = w.heartbeat_seq;
                slot.send(&ToRealm::Heartbeat { seq });
            }
            match slot.state {
                RealmState::Running if slot.players.is_empty() => {
                    let since = *slot.empty_since.get_or_insert(now);
                    if now.saturating_duration_since(since) >= self.policy.idle_stop {
                        info!(realm = %slot.name, "realm idle; stopping its worker");
                        slot.send(&ToRealm::Shutdown);
                        slot.state = RealmState::Stopping;
                        slot.stopping_since = Some(now);
                    }
                }
                RealmState::Stopping => {
                    if slot
                        .stopping_since
                        .is_some_and(|t| now.saturating_duration_since(t) >= STOP_GRACE)
                    {
                        to_kill.push((slot.id, "did not stop in time"));
                    }
                }
                _ => slot.empty_since = None,
            }
        }
        for (id, why) in to_kill {
            self.kill_worker(id, why);
        }
        self.restart_due_realms(now);
    }

    /// Refreshes CPU and memory figures of every worker.
    pub(crate) fn sample_realm_processes(&mut self, now: Instant) {
        for slot in self.realms.values_mut() {
            let Some(w) = slot.worker.as_mut() else {
                continue;
            };
            if let Some(sample) = read_proc(w.process.os_pid) {
                if let Some((prev, at)) = w.cpu_prev {
                    let secs = now.saturating_duration_since(at).as_secs_f64();
                    w.cpu_pct = cpu_percent(&prev, &sample, secs);
                }
                w.cpu_prev = Some((sample, now));
                w.proc_now = sample;
            }
        }
    }

    /// Operator request: restart a realm's worker (players re-entered), or
    /// bring a failed realm back.
    pub(crate) fn operator_restart(&mut self, now: Instant, name: &str) -> Result<String, String> {
        let Some(&id) = self.realm_by_name.get(name) else {
            return Err(format!("no realm named {name}"));
        };
        let Some(slot) = self.realms.get_mut(&id) else {
            return Err(format!("no realm named {name}"));
        };
        match slot.state {
            RealmState::Failed => {
                slot.crash_times.clear();
                slot.state = RealmState::Restarting;
                slot.restart_at = Some(now);
                self.restart_due_realms(now);
                Ok(format!("realm {name} restarted"))
            }
            _ if slot.worker.is_some() => {
                slot.state = RealmState::Restarting;
                self.kill_worker(id, "restart requested");
                Ok(format!("realm {name} restarting"))
            }
            _ => Ok(format!("realm {name} is already restarting")),
        }
    }

    /// Moves every realm's queued messages to its writer task.
    pub(crate) fn flush_realms(&mut self) {
        for slot in self.realms.values_mut() {
            if let Some(w) = slot.worker.as_mut() {
                if !w.out.is_empty() {
                    let batch = std::mem::take(&mut w.out);
                    w.process
                        .queued
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                    let _ = w.process.writer.send(batch);
                }
            }
        }
    }

    /// Asks every worker to stop and kills those that do not.
    pub(crate) fn stop_all_workers(&mut self) {
        for slot in self.realms.values_mut() {
            slot.send(&ToRealm::Shutdown);
        }
        self.flush_realms();
    }

    /// Whether any worker process is still running.
    pub(crate) fn workers_running(&self) -> bool {
        self.realms.values().any(|s| s.worker.is_some())
    }

    /// Kills every worker still running.
    pub(crate) fn kill_all_workers(&mut self) {
        let ids: Vec<SlotId> = self.realms.keys().copied().collect();
        for id in ids {
            self.kill_worker(id, "still running at shutdown");
        }
    }

    /// Marks a worker gone after shutdown (its exit was seen).
    pub(crate) fn forget_worker(&mut self, worker_id: WorkerId) {
        if let Some(slot_id) = self.worker_slot.remove(&worker_id) {
            if let Some(slot) = self.realms.get_mut(&slot_id) {
                slot.worker.take_if(|w| w.id == worker_id);
            }
        }
    }

    /// Asks every realm to reload its config.
    pub(crate) fn reload_realms(&mut self) {
        for slot in self.realms.values_mut() {
            if slot.ready() {
                slot.send(&ToRealm::ReloadConfig);
            }
        }
    }
}

/// The player of the calling realm a zone call acts for (`None` for calls
/// that act for nobody or address players anywhere).
fn acting_player(call: &ZoneCall<'_>) -> Option<i16> {
    match call {
        ZoneCall::MovePlayer { pid, .. }
        | ZoneCall::Kick { pid }
        | ZoneCall::RealmSummary { pid }
        | ZoneCall::FindPlayer { pid, .. }
        | ZoneCall::ArenaList { pid, .. }
        | ZoneCall::ListStaff { pid, .. }
        | ZoneCall::KickWithMessage { pid, .. }
        | ZoneCall::ChatChannel { pid, .. }
        | ZoneCall::BillerCommand { pid, .. } => Some(*pid),
        ZoneCall::RemotePrivate { from, .. }
        | ZoneCall::StaffChat { from, .. }
        | ZoneCall::RemoteCommand { from, .. } => Some(*from),
        ZoneCall::PlayerReport { target, .. } => Some(*target),
        ZoneCall::ZoneMessage { .. } | ZoneCall::MessageTo { .. } => None,
    }
}
