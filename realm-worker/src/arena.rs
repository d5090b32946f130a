//! The arena: its players and the messages in and out. It consumes
//! [`ToRealm`] messages and produces framed [`FromRealm`] messages in an
//! output buffer; it does no I/O itself.
//!
//! This module holds the state, the entry and leaving sequences, packet
//! dispatch and position relaying. The game rules are split out:
//! [`crate::game`] (ships, freqs, deaths, prizes, attach, spectating),
//! [`crate::chat`] (chat and its protection), [`crate::commands`]
//! (`?` commands) and [`crate::freqman`] (team rules).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::objects::ObjectState;
use ipc_proto::relay::{distance, xorshift, RADAR_DOT_PIXELS};
use ipc_proto::{push_pid, Delivery, FromRealm, PlayerInfo, Target, ToRealm, ZoneCall};
use ss_proto::game::{
    c2s_type, chat_type, position_latency, relay_position, s2c_type, ship, C2SPacket, Chat,
    ExtraLen, MapFileEntry, MapInfo, PlayerEntering, Position, S2CPacket, MAX_RELAY_LEN,
};
use ss_proto::transport::{tick_diff, MAX_RELIABLE_PAYLOAD};
use tracing::{debug, info, warn};

use crate::assets::{ArenaAssets, AssetSource};
use crate::chat::ChatState;
use crate::commands::{CmdTarget, Issuer};
use crate::freqman::{FreqMan, Member};
use crate::lag::{LagFigures, LagLimits, PlayerLag};
use crate::modules::flagcore::{FlagCore, FlagOut, Toucher};
use crate::modules::{Module, Pending};
use crate::obscene::WordFilter;
use crate::rules::Rules;
use crate::scores::{Score, Scores};
use crate::security::{ArenaSecurity, PlayerSecurity};

/// A staff lock on a player's ship (`?lock`).
#[derive(Clone, Copy, Debug)]
pub struct ShipLock {
    /// When it ends by itself.
    pub expires: Option<Instant>,
}

/// One player in the arena.
#[derive(Debug)]
pub struct ArenaPlayer {
    /// What the supervisor told about him.
    pub info: PlayerInfo,
    /// Staff group in this arena.
    pub group: String,
    /// The group was given for this visit only (`?setgroup` without `-p`,
    /// `?grplogin`): re-reading `staff.conf` leaves it alone.
    pub group_temp: bool,
    /// `?botfeature +seeallposn`: every position in the arena reaches him,
    /// whatever the distance.
    pub see_all_posn: bool,
    /// `?botfeature +seeownposn`: his own positions come back to him.
    pub see_own_posn: bool,
    /// Ship (8 = spectator).
    pub ship: u8,
    /// Freq.
    pub freq: i16,
    /// Last stored position, pixels.
    pub x: i16,
    /// Last stored position, pixels.
    pub y: i16,
    /// Time stamp of the newest position stored.
    pub pos_time: u32,
    /// Status bits of the newest position.
    pub status: u8,
    /// Rotation (0–39) of the newest position.
    pub rotation: u8,
    /// Bounty of the newest position.
    pub bounty: u16,
    /// Player being spectated (−1 none).
    pub spectating: i16,
    /// He gets extra position data of whom he spectates.
    pub sees_extra: bool,
    /// Spectators with extra-data rights watching him.
    pub extra_watchers: u32,
    /// Player he is attached to as a turret (−1 none).
    pub attached_to: i16,
    /// Staff lock on his ship.
    pub lock: Option<ShipLock>,
    /// Chat mask and flood counter.
    pub chat: ChatState,
    /// Obscenity filter on.
    pub obscenity_filter: bool,
    /// Fired a weapon since his last death.
    pub fired: bool,
    /// Deaths in a row without firing.
    pub deaths_without_firing: u32,
    /// When the arena last heard a position from him (server ticks).
    pub heard_at: u32,
    /// When he last entered the game (a ship or freq change; ticks).
    pub in_game_since: u32,
    /// When each file (0 = map, then the LVZ files he was told of) was
    /// last sent to him (repeats are ignored for a while).
    pub downloads: Vec<(u16, Instant)>,
    /// Security checks (seeds, checksum requests, violations).
    pub security: PlayerSecurity,
    /// Lag figures and what the `[Lag]` rules made of them.
    pub lag: PlayerLag,
    /// The map regions he is in (`crate::regions`).
    pub regions: crate::regions::PlayerRegions,
    /// Whose energy he sees while in a ship (`crate::energy`).
    pub see_nrg: crate::energy::SeeEnergy,
    /// Whose energy he sees while spectating.
    pub see_nrg_spec: crate::energy::SeeEnergy,
    /// Wears a king-of-the-hill crown (bit 0x01 of his S2C 0x03 misc
    /// bits; the `koth` module sets it).
    pub has_crown: bool,
    /// When he last did something (ticks): a packet other than a
    /// position, a weapon, or a move (the `idle` module).
    pub active_at: u32,
}

/// Things the arena counts that an operator may want to see (`?flaginfo`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Counters {
    /// Flag touches and drops ignored (no such flag, carried, too far,
    /// too soon, spectator, carry limit).
    pub flag_touches_refused: u64,
    /// Bad module settings met (malformed `Flag:FlagCount`, turf without
    /// flag tiles, checkpoints that do not fit).
    pub bad_config: u64,
    /// Unknown names in `Modules:AttachModules`.
    pub unknown_modules: u64,
    /// Players turned away by `General:NeedCap`.
    pub entries_refused: u64,
}

/// How often the arena's module state is checkpointed to the zone (ticks).
const CHECKPOINT_INTERVAL: u32 = 100;

/// Bytes of a banner bitmap.
const BANNER_LEN: usize = 96;
/// A player's repeated map requests within this time are ignored.
const MAP_REPEAT_INTERVAL: Duration = Duration::from_secs(5);
/// S2C 0x03 records sent together in one reliable packet (7 of 64 bytes).
const RECORDS_PER_PACKET: usize = MAX_RELIABLE_PAYLOAD / PlayerEntering::LEN;

/// Appends one message to the output buffer.
pub(crate) fn emit(out: &mut Vec<u8>, msg: &FromRealm<'_>) {
    if let Err(e) = ipc_proto::encode(msg, out) {
        warn!("could not encode a message to the supervisor: {e}");
    }
}

/// The realm's arena.
pub struct Arena {
    pub(crate) name: String,
    pub(crate) source: AssetSource,
    pub(crate) assets: ArenaAssets,
    pub(crate) rules: Rules,
    pub(crate) players: BTreeMap<i16, ArenaPlayer>,
    pub(crate) scores: Scores,
    /// The attached game modules (`Modules:AttachModules`).
    pub(crate) modules: Vec<Box<dyn Module>>,
    /// The flags, if a flag game module set them up.
    pub(crate) flags: Option<FlagCore>,
    /// The balls, if the ball game module (`balls`, `points_goal`) set
    /// them up.
    pub(crate) balls: Option<crate::modules::ballcore::BallCore>,
    /// The live bricks, if the `bricks` module is attached.
    pub(crate) bricks: Option<crate::modules::brickcore::BrickCore>,
    /// The jackpot, if the `jackpot` module is attached.
    pub(crate) jackpot: Option<i32>,
    /// What modules asked for during the current event.
    pub(crate) pending: Vec<Pending>,
    pub(crate) counters: Counters,
    /// The last checkpoint sent to the zone, and when.
    checkpoint_sent: (Vec<u8>, u32),
    /// Where in `out` a checkpoint asked for during a module call goes.
    checkpoint_at: Option<usize>,
    pub(crate) obscene: WordFilter,
    /// The arena's chat mask (`?setcm` in public; `Chat:RestrictChat`).
    pub(crate) arena_chat_mask: u32,
    /// Seeds and checksum requests.
    pub(crate) security: ArenaSecurity,
    /// The `[Lag]` limits.
    pub(crate) lag_limits: LagLimits,
    /// LVZ objects shown, hidden or changed for the whole arena.
    pub(crate) objects: ObjectState,
    /// Energy viewing of players who enter (`Misc:SeeEnergy`, `?energy`).
    pub(crate) energy: crate::energy::EnergyRules,
    /// `?lockarena`: entering players are locked (`Some(true)`: in the
    /// ship they asked for, `-i`; `Some(false)`: in spectator mode).
    pub(crate) arena_lock: Option<bool>,
    pub(crate) out: Vec<u8>,
    spare: Vec<u8>,
    pkt: Vec<u8>,
    targets: Vec<u8>,
    /// Reused list of receivers of positions with extra data.
    extra_targets: Vec<u8>,
    /// Reused list of receivers of positions with the sender's energy.
    energy_targets: Vec<u8>,
    /// Reused list of receivers whose regions edit what they receive
    /// (`rNRW`, `rNRA`), with the extra data each gets.
    edited_targets: Vec<(i16, ExtraLen)>,
    stop: bool,
    /// The zone's radar watches this arena: position snapshots go up
    /// with each heartbeat answer.
    radar_watched: bool,
    rng: u64,
    /// The supervisor's build version (`ToRealm::ZoneInfo`), for `?version`.
    pub(crate) zone_version: Option<String>,
    /// The zone's default arena (`ToRealm::ZoneInfo`).
    pub(crate) default_arena: String,
    /// The arena was handed over to a successor: it serves nobody now.
    pub(crate) handed_over: bool,
    /// Players' state handed over by the predecessor, until each is adopted.
    pub(crate) adopting: std::collections::HashMap<i16, crate::handover::PlayerCarry>,
    /// The supervisor relay rules last sent (`crate::relay_rules`).
    pub(crate) relay_rules_sent: Option<crate::relay_rules::RelayRuleSet>,
}

impl Arena {
    /// A new arena from its loaded assets.
    pub fn new(source: AssetSource, assets: ArenaAssets) -> Arena {
        let name = source.realm.clone();
        let rules = Rules::from_config(&assets.config, &assets.settings);
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let mut rng = seed | 1;
        let security = ArenaSecurity::new(Instant::now(), assets.config.global(), || {
            rng = xorshift(rng);
            rng as u32
        });
        let mut arena = Arena {
            security,
            lag_limits: LagLimits::from_config(&assets.config),
            objects: ObjectState::default(),
            energy: crate::energy::EnergyRules::from_config(&assets.config),
            arena_lock: None,
            name,
            source,
            obscene: WordFilter::from_list(&rules.chat.obscene),
            arena_chat_mask: rules.chat.restrict,
            rules,
            assets,
            players: BTreeMap::new(),
            scores: Scores::default(),
            modules: Vec::new(),
            flags: None,
            balls: None,
            bricks: None,
            jackpot: None,
            pending: Vec::new(),
            counters: Counters::default(),
            checkpoint_sent: (Vec::new(), 0),
            checkpoint_at: None,
            out: Vec::new(),
            spare: Vec::new(),
            pkt: Vec::new(),
            targets: Vec::new(),
            extra_targets: Vec::new(),
            energy_targets: Vec::new(),
            edited_targets: Vec::new(),
            stop: false,
            radar_watched: false,
            rng,
            zone_version: None,
            // Until the supervisor says otherwise: its own default.
            default_arena: "0".into(),
            handed_over: false,
            relay_rules_sent: None,
            adopting: Default::default(),
        };
        arena.attach_modules();
        arena
    }

    /// Announces the worker to the supervisor: hello, then ready.
    pub fn start(&mut self) {
        emit(
            &mut self.out,
            &FromRealm::Hello {
                version: ipc_proto::PROTOCOL_VERSION,
                realm: self.name.clone(),
            },
        );
        emit(
            &mut self.out,
            &FromRealm::Build {
                version: ipc_proto::version::build_version().to_string(),
            },
        );
        emit(&mut self.out, &FromRealm::Ready);
        self.report_problems();
    }

    /// Where everyone is, for the zone's radar.
    fn send_position_snapshot(&mut self) {
        let players = self
            .players
            .values()
            .map(|p| ipc_proto::RadarEntry {
                pid: p.info.pid,
                x: p.x,
                y: p.y,
                ship: p.ship,
                freq: p.freq,
            })
            .collect();
        emit(&mut self.out, &FromRealm::PositionSnapshot { players });
    }

    /// Tells the zone what is wrong with the arena's setup (or that
    /// nothing is).
    fn report_problems(&mut self) {
        emit(
            &mut self.out,
            &FromRealm::Problems {
                list: self.assets.problems.clone(),
            },
        );
    }

    /// Output produced since the last call (framed messages).
    pub fn take_output(&mut self) -> Vec<u8> {
        self.update_relay_rules();
        let fresh = std::mem::take(&mut self.spare);
        std::mem::replace(&mut self.out, fresh)
    }

    /// Returns a written output buffer for reuse.
    pub fn give_back(&mut self, mut buf: Vec<u8>) {
        buf.clear();
        self.spare = buf;
    }

    /// Whether no player is in the arena.
    pub fn is_empty(&self) -> bool {
        self.players.is_empty()
    }

    /// Whether the supervisor asked the worker to stop.
    pub fn stopping(&self) -> bool {
        self.stop
    }

    /// Periodic work (every 100 ms): lock expiry, security requests, the
    /// modules' timers, the checkpoint.
    pub fn on_timer(&mut self) {
        if self.handed_over {
            return;
        }
        let now = Instant::now();
        for p in self.players.values_mut() {
            if p.lock.and_then(|l| l.expires).is_some_and(|t| now >= t) {
                p.lock = None;
            }
        }
        self.security_tick(now);
        let ticks = ipc_proto::monotonic_ticks();
        self.each_module(|m, a| m.on_tick(a, ticks));
        self.send_checkpoint(ticks, false);
    }

    // ----- modules ------------------------------------------------------------

    /// Attaches the modules named in `Modules:AttachModules`.
    fn attach_modules(&mut self) {
        let names = self
            .assets
            .config
            .get_str("Modules", "AttachModules")
            .unwrap_or("")
            .to_string();
        // ASSS's zone-wide modules the zone's modules.conf loads run here
        // too; an unreadable file was reported by the supervisor at start.
        let zone = conf::ZoneModules::read(self.source.zone_dir.as_deref()).unwrap_or_default();
        let zone_wide = crate::modules::zone_wide(&zone);
        let (mods, unknown) = crate::modules::attach(&names, &self.name, &zone_wide);
        self.counters.unknown_modules += unknown.len() as u64;
        self.modules = mods;
        let ticks = ipc_proto::monotonic_ticks();
        self.each_module(|m, a| m.on_attach(a, ticks));
    }

    /// Runs `f` on every module in order, then what they asked for.
    pub(crate) fn each_module(&mut self, mut f: impl FnMut(&mut dyn Module, &mut Arena)) {
        if self.modules.is_empty() {
            return;
        }
        let mut mods = std::mem::take(&mut self.modules);
        for m in mods.iter_mut() {
            f(m.as_mut(), self);
        }
        // A module added during the calls (none do today) is kept.
        mods.append(&mut self.modules);
        self.modules = mods;
        self.write_due_checkpoint();
        self.run_pending();
    }

    /// Carries out what modules asked for.
    fn run_pending(&mut self) {
        while let Some(p) = (!self.pending.is_empty()).then(|| self.pending.remove(0)) {
            match p {
                Pending::FlagWin(freq) => self.flag_game_over(freq),
                Pending::FlagReset => self.flag_game_over(-1),
                Pending::ToSpectator(pid) => {
                    let spec_freq = self.rules.freq.spec_freq;
                    self.set_ship_and_freq(pid, ship::SPECTATOR, spec_freq);
                }
            }
        }
    }

    /// The flag game ends: `freq` (≥ 0) won and gets the reward the modules
    /// add up (1000 if none does, as ASSS's warzone game), or no winner.
    pub(crate) fn flag_game_over(&mut self, freq: i16) {
        if self.flags.is_none() {
            return;
        }
        let mut points = 0;
        if freq >= 0 {
            self.each_module(|m, a| m.on_flag_win(a, freq, &mut points));
            if points == 0 {
                points = 1000;
            }
        }
        let now = ipc_proto::monotonic_ticks();
        let Some(core) = self.flags.as_mut() else {
            return;
        };
        let turf = core.kind == crate::modules::flagcore::Kind::Turf;
        let outs = core.reset(now);
        self.send_flag_outs(None, &outs);
        if turf {
            self.send_arena_text("Turf game reset.");
        } else {
            self.send_packet(
                Target::Arena,
                Delivery::Reliable,
                &S2CPacket::FlagVictory { freq, points },
            );
            if freq >= 0 {
                self.send_arena_text(&format!("Flag victory: freq {freq} won {points} points."));
            } else {
                self.send_arena_text("Flag game reset.");
            }
        }
        info!(realm = %self.name, freq, points, "flag game over");
        if freq >= 0 && !turf {
            let winners: Vec<i16> = self
                .players
                .values()
                .filter(|p| p.freq == freq && p.ship != ship::SPECTATOR && p.status & 0x20 == 0)
                .map(|p| p.info.pid)
                .collect();
            for pid in winners {
                self.add_flag_points(pid, points);
            }
        }
        self.each_module(|m, a| m.on_flag_reset(a, freq, points));
        if !turf {
            // A carried-flag game is a game: its end ends the arena's game
            // score interval, after the rewards were counted
            // (`docs/protocol/persistence.md` §1.1).
            self.zone_call(ZoneCall::EndGameInterval);
        }
        self.send_checkpoint(now, true);
    }

    /// A green arena message to everyone.
    fn send_arena_text(&mut self, text: &str) {
        let pids: Vec<i16> = self.players.keys().copied().collect();
        self.message_players(&pids, chat_type::ARENA, 0, text);
    }

    /// The rules' view of a player (position in tiles).
    pub(crate) fn toucher(&self, pid: i16, _now: u32) -> Option<Toucher> {
        let p = self.players.get(&pid)?;
        Some(Toucher {
            pid,
            freq: p.freq,
            in_ship: p.ship != ship::SPECTATOR,
            x: p.x / 16,
            y: p.y / 16,
            since: p.in_game_since,
            safe: p.status & 0x20 != 0,
        })
    }

    /// Turns flag events into packets, to one player or the arena.
    pub(crate) fn send_flag_outs(&mut self, to: Option<i16>, outs: &[FlagOut]) {
        for o in outs {
            let pkt = match *o {
                FlagOut::Location { fid, x, y, freq } => {
                    S2CPacket::FlagLocation { fid, x, y, freq }
                }
                FlagOut::Pickup { fid, pid } => S2CPacket::FlagPickup { fid, pid },
                FlagOut::Drop { pid } => S2CPacket::FlagDrop { pid },
                FlagOut::Turf => S2CPacket::TurfFlags(
                    self.flags.as_ref().map(|f| f.owners()).unwrap_or_default(),
                ),
                FlagOut::Win { .. } => continue,
            };
            let target = to.map_or(Target::Arena, Target::Player);
            self.send_packet(target, Delivery::Reliable, &pkt);
        }
    }

    /// Checkpoints at once (if anything changed): called by modules before
    /// they announce a change players will see, so that a player who saw it
    /// can count on the zone having it.
    /// (During a module call the modules are out of `self.modules`: the
    /// checkpoint is written when they are back, into the output at the
    /// place this was called.)
    pub(crate) fn checkpoint_now(&mut self) {
        if self.checkpoint_at.is_none() {
            self.checkpoint_at = Some(self.out.len());
        }
    }

    /// Writes the checkpoint [`Arena::checkpoint_now`] asked for, ahead of
    /// what was sent after the request.
    fn write_due_checkpoint(&mut self) {
        let Some(at) = self.checkpoint_at.take() else {
            return;
        };
        let tail = self.out.split_off(at.min(self.out.len()));
        self.send_checkpoint(ipc_proto::monotonic_ticks(), true);
        self.out.extend_from_slice(&tail);
    }

    /// Sends the modules' state to the zone if it changed (at most every
    /// [`CHECKPOINT_INTERVAL`] unless `now_anyway`), so a restarted realm
    /// can take it back.
    fn send_checkpoint(&mut self, now: u32, now_anyway: bool) {
        if self.modules.is_empty() {
            return;
        }
        if !now_anyway && now.wrapping_sub(self.checkpoint_sent.1) < CHECKPOINT_INTERVAL {
            return;
        }
        let mut bytes = Vec::new();
        crate::modules::write_checkpoint(self, &self.modules, &mut bytes);
        self.checkpoint_sent.1 = now;
        if bytes == self.checkpoint_sent.0 {
            return;
        }
        emit(&mut self.out, &FromRealm::ArenaCheckpoint { bytes: &bytes });
        self.checkpoint_sent.0 = bytes;
    }

    /// The zone hands back the checkpoint of this realm's previous worker.
    pub(crate) fn restore_checkpoint(&mut self, bytes: &[u8]) {
        let now = ipc_proto::monotonic_ticks();
        let sections: Vec<(String, Vec<u8>)> = crate::modules::read_checkpoint(bytes)
            .into_iter()
            .map(|(n, b)| (n.to_string(), b.to_vec()))
            .collect();
        for (name, body) in sections {
            self.each_module(|m, a| {
                if m.name() == name {
                    m.restore(a, &body, now);
                }
            });
        }
        self.checkpoint_sent.0 = bytes.to_vec();
    }

    /// Handles one message from the supervisor.
    pub fn handle(&mut self, msg: ToRealm<'_>) {
        if self.handed_over && !matches!(msg, ToRealm::Heartbeat { .. } | ToRealm::Shutdown) {
            // The successor serves the arena now (docs/upgrades.md §2).
            return;
        }
        match msg {
            ToRealm::HandOver => self.hand_over(),
            ToRealm::TakeOver { bytes } => self.take_over(bytes),
            ToRealm::AdoptPlayer(info) => self.adopt_player(info),
            ToRealm::PlayerEnter(info) => self.player_enter(info),
            ToRealm::PlayerLeave { pid } => self.player_leave(pid),
            ToRealm::PlayerPacket { pid, bytes } => self.player_packet(pid, bytes),
            ToRealm::RelayedPosition { pid, at, bytes } => {
                // Already relayed by the supervisor (RelayRules): only the
                // state is updated here.
                if self.players.contains_key(&pid) {
                    match Position::decode(bytes) {
                        Ok(pos) => self.position(pid, &pos, Some(at)),
                        Err(e) => debug!(pid, "bad relayed position packet: {e}"),
                    }
                }
            }
            ToRealm::Heartbeat { seq } => {
                emit(&mut self.out, &FromRealm::HeartbeatAck { seq });
                // The relay rules go again with every heartbeat, so that
                // ones a busy supervisor did not take (an upgrade's
                // successor, say) are installed soon after.
                self.relay_rules_sent = None;
                if self.radar_watched && !self.handed_over {
                    self.send_position_snapshot();
                }
            }
            ToRealm::WatchPositions { on } => self.radar_watched = on,
            ToRealm::ZoneInfo {
                version,
                default_arena,
            } => {
                self.zone_version = Some(version);
                self.default_arena = default_arena;
            }
            ToRealm::ReloadConfig => self.reload(),
            ToRealm::StaffChanged => self.reload_staff(),
            ToRealm::SetGroup {
                pid,
                group,
                issuer,
                issuer_name,
            } => self.group_set_by_zone(pid, group, issuer, &issuer_name),
            ToRealm::Shutdown => self.stop = true,
            ToRealm::Deliver { pid, bytes } => {
                if self.players.contains_key(&pid) {
                    self.send_bytes(Target::Player(pid), Delivery::Reliable, bytes);
                }
            }
            ToRealm::StaffChat { from, text } => self.deliver_staff_chat(from, &text),
            ToRealm::ResetScores => self.reset_all_scores(),
            ToRealm::ArenaCheckpoint { bytes } => self.restore_checkpoint(bytes),
            ToRealm::LagReport {
                pid,
                ping_ms,
                s2c_loss,
                c2s_loss,
                silent_ms,
            } => self.lag_report(
                pid,
                LagFigures {
                    ping: ping_ms,
                    s2c: f64::from(s2c_loss) / 1000.0,
                    c2s: f64::from(c2s_loss) / 1000.0,
                    silent_ms,
                },
            ),
            ToRealm::ListStaff {
                asker,
                see_private,
                see_all_staff,
            } => self.list_staff(asker, see_private, see_all_staff),
            ToRealm::RemoteCommand {
                from,
                from_name,
                from_authenticated,
                target,
                line,
                star,
            } => {
                if self.players.contains_key(&target) {
                    let group = self.assets.caps.group_of(&from_name, from_authenticated);
                    let issuer = Issuer {
                        pid: from,
                        name: from_name,
                        group,
                        remote: true,
                    };
                    self.run_commands(issuer, CmdTarget::Player(target), &line, star, 0);
                }
            }
        }
    }

    /// Re-reads the arena's config and map; changed settings are sent to
    /// everyone in the arena at once (ASSS `Misc:SendUpdatedSettings`).
    fn reload(&mut self) {
        let fresh = match self.source.load() {
            Ok(a) => a,
            Err(e) => {
                warn!(realm = %self.name, "reload failed, keeping the old config: {e:#}");
                return;
            }
        };
        let before = *self.assets.settings.as_bytes();
        self.assets = fresh;
        self.config_changed(&before);
    }

    /// Sets `section:key` in the arena's config in memory only (`?seta
    /// -t`): it applies at once and lasts until the next reload
    /// (docs/protocol/config.md §4).
    pub(crate) fn set_temporary(&mut self, section: &str, key: &str, value: &str) {
        let mut file = (**self.assets.config.file()).clone();
        file.set(section, key, value);
        let config = conf::ArenaConfig::new(
            &self.name,
            std::sync::Arc::new(file),
            self.assets.config.global().clone(),
        );
        let before = *self.assets.settings.as_bytes();
        self.assets.settings = ss_proto::settings::ArenaSettings::build(&config);
        self.assets.config = config;
        self.config_changed(&before);
    }

    /// Rebuilds what the arena derives from its config after it changed;
    /// if the settings packet differs from `before`, everyone in the
    /// arena gets the new one (ASSS `Misc:SendUpdatedSettings`).
    fn config_changed(&mut self, before: &[u8]) {
        let changed = before != self.assets.settings.as_bytes();
        self.rules = Rules::from_config(&self.assets.config, &self.assets.settings);
        // The map may have changed: region indices start again.
        for p in self.players.values_mut() {
            p.regions = Default::default();
        }
        self.obscene = WordFilter::from_list(&self.rules.chat.obscene);
        self.security
            .reconfigure(Instant::now(), self.assets.config.global());
        self.lag_limits = LagLimits::from_config(&self.assets.config);
        self.energy = crate::energy::EnergyRules::from_config(&self.assets.config);
        let caps = &self.assets.caps;
        for p in self.players.values_mut().filter(|p| !p.group_temp) {
            p.group = caps.group_of(&p.info.name, p.info.authenticated);
        }
        if let Some(core) = self.flags.as_mut() {
            let mut bad = 0;
            core.settings =
                crate::modules::flagcore::FlagSettings::from_config(&self.assets.config, &mut bad);
            self.counters.bad_config += bad;
        }
        self.reload_balls_and_bricks();
        info!(realm = %self.name, settings_changed = changed, "config reloaded");
        self.report_problems();
        if changed && self.assets.config.get_int("Misc", "SendUpdatedSettings", 1) != 0 {
            let settings = *self.assets.settings.as_bytes();
            self.send_bytes(Target::Arena, Delivery::Reliable, &settings);
        }
    }

    // ----- output helpers ---------------------------------------------------

    pub(crate) fn send_bytes(&mut self, to: Target<'_>, delivery: Delivery, bytes: &[u8]) {
        emit(
            &mut self.out,
            &FromRealm::Send {
                to,
                delivery,
                bytes,
            },
        );
    }

    /// Encodes `pkt` and sends it.
    pub(crate) fn send_packet(&mut self, to: Target<'_>, delivery: Delivery, pkt: &S2CPacket) {
        self.pkt.clear();
        pkt.encode(&mut self.pkt);
        emit(
            &mut self.out,
            &FromRealm::Send {
                to,
                delivery,
                bytes: &self.pkt,
            },
        );
    }

    /// Encodes `pkt` and sends it to the pids in `self.targets`.
    fn send_to_targets(&mut self, delivery: Delivery, pkt: &S2CPacket) {
        if self.targets.is_empty() {
            return;
        }
        self.pkt.clear();
        pkt.encode(&mut self.pkt);
        emit(
            &mut self.out,
            &FromRealm::Send {
                to: Target::Players(&self.targets),
                delivery,
                bytes: &self.pkt,
            },
        );
    }

    /// Sends `pkt` to a list of players.
    pub(crate) fn send_to_pids(&mut self, pids: &[i16], delivery: Delivery, pkt: &S2CPacket) {
        self.targets.clear();
        for &pid in pids {
            push_pid(&mut self.targets, pid);
        }
        self.send_to_targets(delivery, pkt);
    }

    /// Sends `pkt` reliably to a list of players.
    pub(crate) fn send_to_list(&mut self, pids: &[i16], pkt: &S2CPacket) {
        self.send_to_pids(pids, Delivery::Reliable, pkt);
    }

    /// A server chat message (sender −1) to a list of players.
    pub(crate) fn message_players(&mut self, pids: &[i16], kind: u8, sound: u8, text: &str) {
        let chat = S2CPacket::Chat(Chat {
            chat_type: kind,
            sound,
            pid: -1,
            text: text.to_string(),
        });
        self.send_to_list(pids, &chat);
    }

    /// A green arena message to one player of this arena.
    pub(crate) fn arena_message(&mut self, pid: i16, text: &str) {
        let chat = S2CPacket::Chat(Chat {
            chat_type: chat_type::ARENA,
            sound: 0,
            pid: -1,
            text: text.to_string(),
        });
        self.send_packet(Target::Player(pid), Delivery::Reliable, &chat);
    }

    /// `General:NeedCap` (ASSS's `arenaperm`): a player whose group lacks
    /// the capability it names is told so and sent to the zone's default
    /// arena instead of entering (`docs/protocol/game-protocol.md` §6.2).
    /// Returns whether he was turned away. The default arena itself turns
    /// nobody away, as ASSS lets a player in when no arena is open to him.
    fn refuse_entry(&mut self, info: &PlayerInfo) -> bool {
        let Some(cap) = self.assets.config.get_text("General", "NeedCap") else {
            return false;
        };
        let group = self.assets.caps.group_of(&info.name, info.authenticated);
        if self.assets.caps.group_has(&group, cap) {
            return false;
        }
        let default = self.default_arena.clone();
        if default == self.name {
            warn!(realm = %self.name, name = %info.name, cap, "General:NeedCap in the default arena: letting the player in");
            return false;
        }
        info!(realm = %self.name, pid = info.pid, name = %info.name, cap, to = %default, "entry refused (General:NeedCap)");
        self.counters.entries_refused += 1;
        let text = format!("You don't have permission to enter arena {}!", self.name);
        self.arena_message(info.pid, &text);
        self.zone_call(ZoneCall::MovePlayer {
            pid: info.pid,
            arena: default,
        });
        true
    }

    /// Asks the zone for something.
    pub(crate) fn zone_call(&mut self, call: ZoneCall<'_>) {
        emit(&mut self.out, &FromRealm::ZoneCall(call));
    }

    pub(crate) fn next_random(&mut self) -> u64 {
        self.rng = xorshift(self.rng);
        self.rng
    }

    /// A player's S2C 0x03 record.
    pub(crate) fn record(&self, p: &ArenaPlayer) -> PlayerEntering {
        let score = self.scores.get(&p.info.name);
        PlayerEntering {
            ship: p.ship,
            accepts_audio: p.info.allow_audio,
            name: p.info.name.clone(),
            squad: p.info.squad.clone(),
            kill_points: score.kill_points,
            flag_points: score.flag_points,
            pid: p.info.pid,
            freq: p.freq,
            kills: score.kills,
            deaths: score.deaths,
            attached_to: p.attached_to,
            flags_carried: self.flags.as_ref().map_or(0, |f| f.carried(p.info.pid)) as i16,
            misc_bits: if p.has_crown {
                PlayerEntering::HAS_CROWN
            } else {
                0
            },
        }
    }

    /// The freq manager's view of the players.
    pub(crate) fn members(&self) -> Vec<Member> {
        self.players.values().map(member_of).collect()
    }

    // ----- entering and leaving ---------------------------------------------

    fn player_enter(&mut self, info: PlayerInfo) {
        let pid = info.pid;
        if self.players.contains_key(&pid) {
            self.player_leave(pid);
        }
        if !info.reentry && self.refuse_entry(&info) {
            return;
        }
        let spec = (ship::SPECTATOR, self.rules.freq.spec_freq);
        // A locked arena (`?lockarena`) keeps newcomers in spectator mode
        // unless it was locked with -i (docs/protocol/commands-and-capabilities.md §4.4).
        let arena_locked = self.arena_lock.is_some() && !info.reentry;
        let (ship, freq) = if arena_locked && self.arena_lock == Some(false) {
            spec
        } else if info.reentry && info.previous_ship <= ship::SPECTATOR {
            (info.previous_ship, info.previous_freq)
        } else {
            let members = self.members();
            let who = Member {
                pid,
                ship: spec.0,
                freq: spec.1,
                x_res: info.x_res,
                y_res: info.y_res,
            };
            let request = info.ship_request.min(ship::SPECTATOR);
            FreqMan::new(&self.rules.freq, &members)
                .enforcing(self.enforcement(&info.name))
                .initial(&who, request)
        };
        // The zone's saved score is the truth; without one (no persistence)
        // the realm's memory of an earlier visit stands.
        if let Some(saved) = info.score {
            self.scores.set(
                &info.name,
                Score {
                    kill_points: saved.kill_points,
                    flag_points: saved.flag_points,
                    kills: saved.kills,
                    deaths: saved.deaths,
                },
            );
        }
        let now = Instant::now();
        let group = self.assets.caps.group_of(&info.name, info.authenticated);
        let sees_extra = self.rules.spec_see_extra || self.assets.caps.group_has(&group, "seeepd");
        let (see_nrg, see_nrg_spec) = if self.assets.caps.group_has(&group, "seenrg") {
            (crate::energy::SeeEnergy::All, crate::energy::SeeEnergy::All)
        } else {
            (self.energy.in_ship, self.energy.spec)
        };
        let player = ArenaPlayer {
            obscenity_filter: info.obscenity_filter,
            info,
            group,
            group_temp: false,
            see_all_posn: false,
            see_own_posn: false,
            ship,
            freq,
            x: 0,
            y: 0,
            // Positions stamped before entry are never "newer" (ASSS rule),
            // with half a second of slack for clients whose clock sync is
            // a little behind ours.
            pos_time: ipc_proto::monotonic_ticks().wrapping_sub(50) & 0x7FFF_FFFF,
            status: 0,
            rotation: 0,
            bounty: 0,
            spectating: -1,
            sees_extra,
            extra_watchers: 0,
            attached_to: -1,
            lock: None,
            chat: ChatState::new(now),
            fired: false,
            deaths_without_firing: 0,
            heard_at: ipc_proto::monotonic_ticks(),
            in_game_since: ipc_proto::monotonic_ticks(),
            downloads: Vec::new(),
            security: PlayerSecurity::default(),
            lag: PlayerLag::default(),
            regions: Default::default(),
            has_crown: false,
            see_nrg,
            see_nrg_spec,
            active_at: ipc_proto::monotonic_ticks(),
        };
        let mut player = player;
        if arena_locked {
            player.lock = Some(ShipLock { expires: None });
        }
        if let Some((mask, secs)) = player.info.chat_mask {
            // A timed mask (e.g. a flood shut-up) outlives leaving the arena.
            player.chat.set_mask(now, mask, u64::from(secs));
        }
        info!(realm = %self.name, pid, name = %player.info.name, group = %player.group, ship, freq, "player entering");

        // 1. who-am-I, 2. settings
        self.send_packet(
            Target::Player(pid),
            Delivery::Reliable,
            &S2CPacket::WhoAmI { pid },
        );
        let settings = *self.assets.settings.as_bytes();
        self.send_bytes(Target::Player(pid), Delivery::Reliable, &settings);

        // 3. the others to the newcomer, the newcomer to the others
        let newcomer = self.record(&player);
        // Records back to back, as many as fit in one reliable packet (as
        // ASSS does): a big arena's list is a few dozen packets, not one
        // per player.
        let others: Vec<PlayerEntering> = self.players.values().map(|p| self.record(p)).collect();
        for batch in others.chunks(RECORDS_PER_PACKET) {
            self.send_packet(
                Target::Player(pid),
                Delivery::Reliable,
                &S2CPacket::PlayerEntering(batch.to_vec()),
            );
        }
        self.targets.clear();
        for &other in self.players.keys() {
            push_pid(&mut self.targets, other);
        }
        self.send_to_targets(
            Delivery::Reliable,
            &S2CPacket::PlayerEntering(vec![newcomer.clone()]),
        );
        // 4. own record, 5. map info, 6. brick clear, 7. entered
        self.send_packet(
            Target::Player(pid),
            Delivery::Reliable,
            &S2CPacket::PlayerEntering(vec![newcomer]),
        );
        let map_info = self.map_info_for(&player.info);
        self.send_packet(
            Target::Player(pid),
            Delivery::Reliable,
            &S2CPacket::MapInfo(map_info),
        );
        self.send_packet(
            Target::Player(pid),
            Delivery::Reliable,
            &S2CPacket::Bricks(Vec::new()),
        );
        self.send_packet(
            Target::Player(pid),
            Delivery::Reliable,
            &S2CPacket::EnteredArena,
        );
        // 8. the arena's seeds (no checksum request yet)
        self.security_on_enter(pid);

        let own_banner = player.info.banner.clone();
        let spawn = player.info.spawn;
        self.players.insert(pid, player);
        emit(&mut self.out, &FromRealm::PlayerEntered { pid });
        emit(&mut self.out, &FromRealm::PlayerState { pid, ship, freq });
        // Banners (docs/protocol/game-protocol.md §6.2, §18): the others' to
        // the newcomer, his to the others.
        let banners: Vec<(i16, Vec<u8>)> = self
            .players
            .iter()
            .filter(|(&other, _)| other != pid)
            .filter_map(|(&other, p)| p.info.banner.clone().map(|b| (other, b)))
            .collect();
        for (other, banner) in banners {
            self.send_banner(Target::Player(pid), other, &banner);
        }
        if let Some(banner) = own_banner {
            self.send_banner(Target::ArenaExcept(pid), pid, &banner);
        }
        // The arena's LVZ object state (§23a).
        for pkt in self.objects.entry_packets() {
            self.send_packet(Target::Player(pid), Delivery::Reliable, &pkt);
        }
        // Sent here by an auto-warp region of another arena (§8.9).
        if let Some((x, y)) = spawn {
            self.send_packet(
                Target::Player(pid),
                Delivery::Reliable,
                &S2CPacket::WarpTo { x, y },
            );
        }
        let ticks = ipc_proto::monotonic_ticks();
        self.each_module(|m, a| m.on_enter(a, pid, ticks));
    }

    /// S2C 0x1F: `pid`'s banner, to `to`.
    fn send_banner(&mut self, to: Target<'_>, pid: i16, banner: &[u8]) {
        let mut pkt = Vec::with_capacity(3 + BANNER_LEN);
        pkt.push(s2c_type::BANNER);
        pkt.extend_from_slice(&pid.to_le_bytes());
        pkt.extend_from_slice(banner);
        self.send_bytes(to, Delivery::Reliable, &pkt);
    }

    /// C2S 0x19: a spectator sets his banner; the arena sees it and the zone
    /// keeps it.
    fn banner(&mut self, pid: i16, body: &[u8]) {
        if body.len() != BANNER_LEN {
            return;
        }
        let Some(p) = self.players.get_mut(&pid) else {
            return;
        };
        if p.ship != ship::SPECTATOR {
            return;
        }
        p.info.banner = Some(body.to_vec());
        self.send_banner(Target::ArenaExcept(pid), pid, body);
        emit(
            &mut self.out,
            &FromRealm::BannerChanged { pid, banner: body },
        );
    }

    /// Tells the zone a player's chat mask, so a timed one outlives him
    /// leaving the arena.
    pub(crate) fn report_chat_mask(&mut self, pid: i16) {
        let now = Instant::now();
        let Some(p) = self.players.get_mut(&pid) else {
            return;
        };
        let mask = p.chat.mask(now);
        let remaining_secs = p.chat.remaining_secs(now).min(u32::MAX as u64) as u32;
        emit(
            &mut self.out,
            &FromRealm::ChatMaskChanged {
                pid,
                mask,
                remaining_secs,
            },
        );
    }

    fn player_leave(&mut self, pid: i16) {
        if !self.players.contains_key(&pid) {
            return;
        }
        self.stop_spectating(pid);
        let ticks = ipc_proto::monotonic_ticks();
        self.each_module(|m, a| m.on_leave(a, pid, ticks));
        let Some(gone) = self.players.remove(&pid) else {
            return;
        };
        info!(realm = %self.name, pid, name = %gone.info.name, "player left");
        for p in self.players.values_mut() {
            if p.spectating == pid {
                p.spectating = -1;
            }
            if p.attached_to == pid {
                p.attached_to = -1;
            }
        }
        self.targets.clear();
        for &other in self.players.keys() {
            push_pid(&mut self.targets, other);
        }
        self.send_to_targets(Delivery::Reliable, &S2CPacket::PlayerLeaving { pid });
    }

    // ----- player packets ---------------------------------------------------

    fn player_packet(&mut self, pid: i16, bytes: &[u8]) {
        if !self.players.contains_key(&pid) || bytes.is_empty() {
            return;
        }
        if bytes[0] == c2s_type::SECURITY_RESPONSE {
            self.security_response(pid, bytes);
            return;
        }
        if bytes[0] != c2s_type::POSITION {
            if let Some(p) = self.players.get_mut(&pid) {
                p.active_at = ipc_proto::monotonic_ticks();
            }
        }
        if bytes[0] == c2s_type::POSITION {
            // The hot path: decoded without allocating.
            match Position::decode(bytes) {
                Ok(pos) => self.position(pid, &pos, None),
                Err(e) => debug!(pid, "bad position packet: {e}"),
            }
            return;
        }
        let pkt = match C2SPacket::decode(bytes) {
            Ok(p) => p,
            Err(e) => {
                debug!(pid, "malformed packet: {e}");
                return;
            }
        };
        match pkt {
            C2SPacket::Chat(chat) => self.chat(pid, chat),
            C2SPacket::SetShip { ship } => {
                if ship == ship::SPECTATOR || !self.refuse_ship_for_lag(pid) {
                    self.ship_request(pid, ship);
                }
            }
            C2SPacket::SetFreq { freq } => self.freq_request(pid, freq),
            C2SPacket::MapRequest { file_index } => self.map_request(pid, file_index),
            C2SPacket::SpectateRequest { pid: target } => self.spectate(pid, target),
            C2SPacket::Death { killer, bounty } => self.death(pid, killer, bounty),
            C2SPacket::Green(green) => self.green(pid, green),
            C2SPacket::Attach { pid: to } => self.attach(pid, to),
            C2SPacket::TurretKickoff => self.turret_kickoff(pid),
            C2SPacket::Other {
                ptype: c2s_type::BANNER,
                body,
            } => self.banner(pid, &body),
            C2SPacket::Other {
                ptype: c2s_type::SETTINGS_CHANGE,
                body,
            } => crate::commands::settings_change(self, pid, &body),
            other => {
                if self.modules.is_empty() {
                    debug!(
                        pid,
                        ptype = other.packet_type(),
                        "packet not handled in this arena"
                    );
                }
                let ticks = ipc_proto::monotonic_ticks();
                self.each_module(|m, a| m.on_packet(a, pid, &other, ticks));
            }
        }
    }

    /// A position from `pid`: the state is updated and it is relayed, or,
    /// with `relayed` (when the supervisor received it), only the state is
    /// updated because the supervisor has relayed it already.
    fn position(&mut self, pid: i16, pos: &Position, relayed: Option<u32>) {
        if pos.x == -1 && pos.y == -1 {
            return;
        }
        let now = relayed.unwrap_or_else(ipc_proto::monotonic_ticks);
        let Some(sender) = self.players.get_mut(&pid) else {
            return;
        };
        sender.security.sent_position = true;
        sender.lag.note_position(tick_diff(now, pos.time));
        let newer = tick_diff(pos.time, sender.pos_time) > 0;
        let old_status = sender.status;
        sender.heard_at = now;
        if (newer && (pos.x, pos.y) != (sender.x, sender.y)) || pos.weapon.is_fired() {
            sender.active_at = now;
        }
        if newer {
            sender.x = pos.x;
            sender.y = pos.y;
            sender.pos_time = pos.time;
            sender.status = pos.status;
            sender.rotation = pos.rotation as u8;
            sender.bounty = pos.bounty;
        }
        let sender_ship = sender.ship;
        if sender_ship == ship::SPECTATOR {
            return;
        }
        let fired = pos.weapon.is_fired();
        if fired {
            sender.fired = true;
        }
        // Regions (§8.9): enter/leave events, and what they forbid.
        if newer {
            self.check_regions(pid, pos.x, pos.y, now);
        }
        if relayed.is_some() {
            return;
        }
        let strip = self.region_strip(pid, pos.status, fired);
        // A lagging player's weapons are dropped in part (`[Lag]`), and a
        // ball carrier's guns or bombs when `[Soccer]` forbids them
        // (docs/protocol/game-protocol.md §15.2); the position still goes
        // out.
        let stripped;
        let drop_weapon = strip.weapon
            || (fired
                && (self.ignore_weapon(pid)
                    || self.carrier_weapon_refused(pid, pos.weapon.kind())));
        let pos = if drop_weapon || strip.antiwarp {
            stripped = Position {
                weapon: if drop_weapon {
                    Default::default()
                } else {
                    pos.weapon
                },
                status: if strip.antiwarp {
                    pos.status & !ss_proto::game::status::ANTIWARP
                } else {
                    pos.status
                },
                ..*pos
            };
            &stripped
        } else {
            pos
        };
        let weapon = pos.weapon;
        let fired = weapon.is_fired();
        if !newer && !fired {
            return;
        }
        let flash = pos.status & ss_proto::game::status::FLASH != 0;
        let safe_changed =
            newer && (pos.status ^ old_status) & ss_proto::game::status::SAFEZONE != 0;
        // A weapon's reach; none for a mine, which goes to everyone.
        let reach = if fired {
            weapon.relay_reach(self.rules.ranges.bullet, self.rules.ranges.other)
        } else {
            Some(0)
        };
        let to_all = flash || safe_changed || reach.is_none();
        let range = reach.unwrap_or(0);

        // Both target lists are reused buffers: relaying allocates nothing.
        let mut targets = std::mem::take(&mut self.targets);
        targets.clear();
        let mut extra_targets = std::mem::take(&mut self.extra_targets);
        extra_targets.clear();
        let mut energy_targets = std::mem::take(&mut self.energy_targets);
        energy_targets.clear();
        let sender_freq = self.players.get(&pid).map_or(-1, |p| p.freq);
        let anti = pos.status & ss_proto::game::status::ANTIWARP != 0;
        let mut edited = std::mem::take(&mut self.edited_targets);
        edited.clear();
        let mut rng = self.rng;
        for (&other, r) in &self.players {
            if other == pid {
                // A bot may ask for its own positions (`?botfeature`).
                if r.see_own_posn {
                    push_pid(&mut targets, other);
                }
                continue;
            }
            if r.spectating == pid && r.sees_extra {
                push_pid(&mut extra_targets, other);
                continue;
            }
            let d = distance(pos.x, pos.y, r.x, r.y);
            let in_range = if fired {
                d <= range
            } else {
                d <= r.info.x_res as i32 + r.info.y_res as i32
            };
            let send = if to_all
                || in_range
                || r.see_all_posn
                || r.spectating == pid
                || r.attached_to == pid
            {
                true
            } else if !fired && d <= RADAR_DOT_PIXELS {
                // radar dots: the farther, the rarer
                rng = xorshift(rng);
                (rng % RADAR_DOT_PIXELS as u64) as i32 > d
            } else {
                false
            };
            if send {
                // Energy for those whose viewing rule allows it (§8.4a).
                let rule = if r.ship == ship::SPECTATOR {
                    r.see_nrg_spec
                } else {
                    r.see_nrg
                };
                let energy = rule.sees(r.freq == sender_freq, r.spectating == pid);
                // Receivers in `rNRW`/`rNRA` regions get their own copy (§8.9).
                if (fired && r.regions.no_receive_weapons)
                    || (anti && r.regions.no_receive_antiwarp)
                {
                    let extra = if energy {
                        ExtraLen::Energy
                    } else {
                        ExtraLen::None
                    };
                    edited.push((other, extra));
                } else if energy {
                    push_pid(&mut energy_targets, other);
                } else {
                    push_pid(&mut targets, other);
                }
            }
        }
        self.rng = rng;
        let delivery = if flash || safe_changed {
            Delivery::Reliable
        } else if fired {
            Delivery::UnreliableHigh
        } else {
            Delivery::Unreliable
        };
        let latency = position_latency(now, pos.time);
        let mut buf = [0u8; MAX_RELAY_LEN];
        for (list, extra) in [
            (&targets, ExtraLen::None),
            (&energy_targets, ExtraLen::Energy),
            (&extra_targets, ExtraLen::Full),
        ] {
            if list.is_empty() {
                continue;
            }
            let len = relay_position(pos, pid as u16, now, latency, extra, &mut buf);
            emit(
                &mut self.out,
                &FromRealm::Send {
                    to: Target::Players(list),
                    delivery,
                    bytes: &buf[..len],
                },
            );
        }
        for &(to, extra) in &edited {
            let Some(r) = self.players.get(&to) else {
                continue;
            };
            let copy = Position {
                weapon: if r.regions.no_receive_weapons {
                    Default::default()
                } else {
                    pos.weapon
                },
                status: if r.regions.no_receive_antiwarp {
                    pos.status & !ss_proto::game::status::ANTIWARP
                } else {
                    pos.status
                },
                ..*pos
            };
            let len = relay_position(&copy, pid as u16, now, latency, extra, &mut buf);
            emit(
                &mut self.out,
                &FromRealm::Send {
                    to: Target::Player(to),
                    delivery,
                    bytes: &buf[..len],
                },
            );
        }
        self.targets = targets;
        self.extra_targets = extra_targets;
        self.energy_targets = energy_targets;
        self.edited_targets = edited;
    }

    /// The LVZ files a player is told of: the optional ones only if he
    /// asked for optional graphics (ASSS).
    fn lvz_for(&self, info: &PlayerInfo) -> impl Iterator<Item = &crate::assets::LevelFile> {
        let all = info.optional_graphics;
        self.assets.lvz.iter().filter(move |f| all || !f.optional)
    }

    /// S2C 0x29 for a player: the 21-byte form (map only) for SubSpace
    /// clients; the list form (map, then LVZ files with sizes) for
    /// Continuum and for clients that asked for optional graphics.
    fn map_info_for(&self, info: &PlayerInfo) -> MapInfo {
        if !info.continuum && !info.optional_graphics {
            return MapInfo::Vie {
                name: self.assets.map_name.clone(),
                checksum: self.assets.map_crc,
            };
        }
        let mut files = vec![MapFileEntry {
            name: self.assets.map_name.clone(),
            checksum: self.assets.map_crc,
            size: self.assets.map_packet.len() as u32,
        }];
        files.extend(self.lvz_for(info).map(|f| MapFileEntry {
            name: f.name.clone(),
            checksum: f.checksum,
            size: f.packet.len() as u32,
        }));
        MapInfo::Continuum(files)
    }

    fn map_request(&mut self, pid: i16, index: Option<u16>) {
        let index = index.unwrap_or(0);
        let Some(p) = self.players.get(&pid) else {
            return;
        };
        // Index 0 is the map; n the n-th LVZ file he was told of.
        let lvz = match usize::from(index).checked_sub(1) {
            None => None,
            Some(i) => match self.lvz_for(&p.info).nth(i) {
                Some(f) => Some(f.packet.clone()),
                None => {
                    debug!(pid, index, "request for a file the arena does not have");
                    return;
                }
            },
        };
        // One download at a time: asking again and again must not make the
        // realm (and the zone) copy a file thousands of times.
        let now = Instant::now();
        let Some(p) = self.players.get_mut(&pid) else {
            return;
        };
        p.downloads
            .retain(|&(_, t)| now.saturating_duration_since(t) < MAP_REPEAT_INTERVAL);
        if p.downloads.iter().any(|&(i, _)| i == index) {
            return;
        }
        p.downloads.push((index, now));
        // A player who is downloading cannot fly: to spectator first (ASSS).
        let spec_freq = self.rules.freq.spec_freq;
        if self
            .players
            .get(&pid)
            .is_some_and(|p| p.ship != ship::SPECTATOR)
        {
            self.set_ship_and_freq(pid, ship::SPECTATOR, spec_freq);
        }
        let bytes = lvz.as_deref().unwrap_or(&self.assets.map_packet);
        emit(&mut self.out, &FromRealm::SendSized { pid, bytes });
    }
}

/// The freq manager's view of one player.
pub(crate) fn member_of(p: &ArenaPlayer) -> Member {
    Member {
        pid: p.info.pid,
        ship: p.ship,
        freq: p.freq,
        x_res: p.info.x_res,
        y_res: p.info.y_res,
    }
}
