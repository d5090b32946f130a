//! Planned hand-over of the arena to a successor worker during a rolling
//! upgrade (`docs/upgrades.md` §2).
//!
//! The old worker answers `ToRealm::HandOver` with its whole state
//! (postcard, [`HANDOVER_FORMAT`]): the modules' checkpoint (flag game,
//! jackpot, timers, balls and goal scores: what a crash checkpoint holds),
//! the arena's chat mask, seeds, LVZ object state and `?lockarena`, and
//! each player's game state (ship, freq, position, score, lock, chat mask,
//! spectating, turret, temporary group, bot features, energy viewing,
//! regions). What is not carried is listed in `docs/upgrades.md` §2.
//! From then on it serves nobody and waits to be stopped. The
//! successor gets the bytes (`ToRealm::TakeOver`) and then each player
//! (`ToRealm::AdoptPlayer`), whom it takes on without an entry sequence:
//! the clients already have the arena and see at most a pause.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ipc_proto::{FromRealm, PlayerInfo};
use serde::{Deserialize, Serialize};
use ss_proto::game::SecuritySeeds;
use tracing::{info, warn};

use crate::arena::{emit, Arena, ArenaPlayer, ShipLock};
use crate::chat::ChatState;
use crate::lag::PlayerLag;
use crate::scores::Score;
use crate::security::PlayerSecurity;

/// Version of the hand-over state; a successor refuses (and logs) any
/// other, and then adopts players from what the zone knows of them.
pub const HANDOVER_FORMAT: u32 = 2;

/// The arena's state as handed over.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct HandOverState {
    /// [`HANDOVER_FORMAT`].
    pub format: u32,
    /// The modules' checkpoint (as `FromRealm::ArenaCheckpoint` carries it).
    pub checkpoint: Vec<u8>,
    /// The arena's chat mask.
    pub arena_chat_mask: u32,
    /// The seeds the players were given (green and door seeds, server time).
    pub seeds: (u32, u32, u32),
    /// Each player's game state.
    pub players: Vec<PlayerCarry>,
    /// LVZ objects shown, hidden or changed for the whole arena (`?obj*`).
    pub objects: crate::objects::ObjectState,
    /// `?lockarena` (`Some(true)`: locked in their ships, `Some(false)`:
    /// in spectator mode).
    pub arena_lock: Option<bool>,
}

/// One player's game state in the hand-over.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct PlayerCarry {
    /// Player id.
    pub pid: i16,
    /// Ship (8 = spectator).
    pub ship: u8,
    /// Freq.
    pub freq: i16,
    /// Last position, pixels.
    pub x: i16,
    /// Last position, pixels.
    pub y: i16,
    /// Time stamp of that position (server ticks, the zone's shared clock).
    pub pos_time: u32,
    /// Status bits.
    pub status: u8,
    /// Bounty.
    pub bounty: u16,
    /// Whom he spectates (−1 none).
    pub spectating: i16,
    /// Whom he is attached to (−1 none).
    pub attached_to: i16,
    /// A ship lock: `Some(None)` without end, `Some(Some(ms))` ending then.
    pub lock: Option<Option<u64>>,
    /// His chat mask and the seconds it has left (0 = until he leaves).
    pub chat_mask: (u32, u64),
    /// Fired since his last death.
    pub fired: bool,
    /// Deaths in a row without firing.
    pub deaths_without_firing: u32,
    /// When the arena last heard from him (ticks).
    pub heard_at: u32,
    /// When he last entered the game (ticks).
    pub in_game_since: u32,
    /// Kill points, flag points, kills, deaths.
    pub score: (i32, i32, u16, u16),
    /// A group given for this visit only (`?setgroup` without `-p`,
    /// `?grplogin`); `None`: his group follows `staff.conf`.
    pub temp_group: Option<String>,
    /// `?botfeature +seeallposn`.
    pub see_all_posn: bool,
    /// `?botfeature +seeownposn`.
    pub see_own_posn: bool,
    /// Rotation of his newest position.
    pub rotation: u8,
    /// Whose energy he sees in a ship and while spectating (`?energy`).
    pub see_nrg: (crate::energy::SeeEnergy, crate::energy::SeeEnergy),
    /// The map regions he is in (so that no enter event fires again).
    pub regions: crate::regions::PlayerRegions,
    /// When he last did something (ticks; the `idle` module).
    pub active_at: u32,
}

impl Arena {
    /// `ToRealm::HandOver`: writes the state for the successor and stops
    /// serving.
    pub(crate) fn hand_over(&mut self) {
        let now = Instant::now();
        let mut checkpoint = Vec::new();
        crate::modules::write_checkpoint(self, &self.modules, &mut checkpoint);
        let names: Vec<(i16, String)> = self
            .players
            .values()
            .map(|p| (p.info.pid, p.info.name.clone()))
            .collect();
        let scores: HashMap<i16, Score> = names
            .iter()
            .map(|(pid, name)| (*pid, self.scores.get(name)))
            .collect();
        let players = self
            .players
            .values_mut()
            .map(|p| {
                let s = scores.get(&p.info.pid).copied().unwrap_or_default();
                PlayerCarry {
                    pid: p.info.pid,
                    ship: p.ship,
                    freq: p.freq,
                    x: p.x,
                    y: p.y,
                    pos_time: p.pos_time,
                    status: p.status,
                    bounty: p.bounty,
                    spectating: p.spectating,
                    attached_to: p.attached_to,
                    lock: p.lock.map(|l| {
                        l.expires
                            .map(|t| t.saturating_duration_since(now).as_millis() as u64)
                    }),
                    chat_mask: (p.chat.mask(now), p.chat.remaining_secs(now)),
                    fired: p.fired,
                    deaths_without_firing: p.deaths_without_firing,
                    heard_at: p.heard_at,
                    in_game_since: p.in_game_since,
                    score: (s.kill_points, s.flag_points, s.kills, s.deaths),
                    temp_group: p.group_temp.then(|| p.group.clone()),
                    see_all_posn: p.see_all_posn,
                    see_own_posn: p.see_own_posn,
                    rotation: p.rotation,
                    see_nrg: (p.see_nrg, p.see_nrg_spec),
                    regions: p.regions.clone(),
                    active_at: p.active_at,
                }
            })
            .collect();
        let seeds = self.security.seeds;
        let state = HandOverState {
            format: HANDOVER_FORMAT,
            checkpoint,
            arena_chat_mask: self.arena_chat_mask,
            seeds: (seeds.green_seed, seeds.door_seed, seeds.timestamp),
            players,
            objects: self.objects.clone(),
            arena_lock: self.arena_lock,
        };
        let bytes = postcard::to_allocvec(&state).unwrap_or_default();
        info!(realm = %self.name, players = self.players.len(), len = bytes.len(), "handing the arena over");
        emit(&mut self.out, &FromRealm::HandOverState { bytes: &bytes });
        self.handed_over = true;
    }

    /// `ToRealm::TakeOver`: the predecessor's state, before its players.
    pub(crate) fn take_over(&mut self, bytes: &[u8]) {
        let state: HandOverState = match postcard::from_bytes(bytes) {
            Ok(s) => s,
            Err(e) => {
                warn!(realm = %self.name, "hand-over state unreadable ({e}); players keep only what the zone knows");
                return;
            }
        };
        if state.format != HANDOVER_FORMAT {
            warn!(realm = %self.name, format = state.format, "hand-over state of another format; players keep only what the zone knows");
            return;
        }
        if !state.checkpoint.is_empty() {
            // What the modules would announce on a restore (flag
            // positions) the players already have: not sent again.
            let mark = self.out.len();
            self.restore_checkpoint(&state.checkpoint);
            self.out.truncate(mark);
        }
        self.arena_chat_mask = state.arena_chat_mask;
        self.objects = state.objects;
        self.arena_lock = state.arena_lock;
        let (green_seed, door_seed, timestamp) = state.seeds;
        self.security.seeds = SecuritySeeds {
            green_seed,
            door_seed,
            timestamp,
            ..self.security.seeds
        };
        info!(realm = %self.name, players = state.players.len(), "taking the arena over");
        self.adopting = state.players.into_iter().map(|p| (p.pid, p)).collect();
    }

    /// `ToRealm::AdoptPlayer`: a player of the predecessor, taken on
    /// without an entry sequence.
    pub(crate) fn adopt_player(&mut self, info: PlayerInfo) {
        let now = Instant::now();
        let pid = info.pid;
        let carry = self.adopting.remove(&pid);
        let ticks = ipc_proto::monotonic_ticks();
        let c = carry.unwrap_or_else(|| PlayerCarry {
            pid,
            ship: info.previous_ship,
            freq: info.previous_freq,
            pos_time: ticks,
            spectating: -1,
            attached_to: -1,
            chat_mask: info.chat_mask.map_or((0, 0), |(m, s)| (m, u64::from(s))),
            heard_at: ticks,
            in_game_since: ticks,
            score: info.score.map_or((0, 0, 0, 0), |s| {
                (s.kill_points, s.flag_points, s.kills, s.deaths)
            }),
            active_at: ticks,
            see_nrg: (self.energy.in_ship, self.energy.spec),
            ..PlayerCarry::default()
        });
        self.scores.set(
            &info.name,
            Score {
                kill_points: c.score.0,
                flag_points: c.score.1,
                kills: c.score.2,
                deaths: c.score.3,
            },
        );
        // A temporary group stays only if this arena knows it.
        let temp_group = c.temp_group.filter(|g| self.assets.caps.group_exists(g));
        let group_temp = temp_group.is_some();
        let group =
            temp_group.unwrap_or_else(|| self.assets.caps.group_of(&info.name, info.authenticated));
        let sees_extra = self.rules.spec_see_extra || self.assets.caps.group_has(&group, "seeepd");
        let mut chat = ChatState::new(now);
        chat.set_mask(now, c.chat_mask.0, c.chat_mask.1.min(365 * 86_400));
        // Region indices point into this arena's map: any other is dropped
        // (a module must never be told of a region the map lacks).
        let mut regions = c.regions;
        let count = self.assets.map.regions().len();
        regions.inside.retain(|&i| usize::from(i) < count);
        regions.inside.sort_unstable();
        regions.inside.dedup();
        let player = ArenaPlayer {
            obscenity_filter: info.obscenity_filter,
            info,
            group,
            group_temp,
            see_all_posn: c.see_all_posn,
            see_own_posn: c.see_own_posn,
            ship: c.ship.min(ss_proto::game::ship::SPECTATOR),
            freq: c.freq,
            x: c.x,
            y: c.y,
            pos_time: c.pos_time,
            status: c.status,
            rotation: c.rotation,
            bounty: c.bounty,
            spectating: c.spectating,
            sees_extra,
            extra_watchers: 0,
            attached_to: c.attached_to,
            lock: c.lock.map(|ms| ShipLock {
                expires: ms.map(|ms| {
                    // Never trusted to fit the clock: at most a year.
                    let d = Duration::from_millis(ms).min(Duration::from_secs(365 * 86_400));
                    now.checked_add(d).unwrap_or(now)
                }),
            }),
            chat,
            fired: c.fired,
            deaths_without_firing: c.deaths_without_firing,
            heard_at: c.heard_at,
            in_game_since: c.in_game_since,
            downloads: Vec::new(),
            security: PlayerSecurity::default(),
            lag: PlayerLag::default(),
            regions,
            see_nrg: c.see_nrg.0,
            see_nrg_spec: c.see_nrg.1,
            // The koth module's crowns are not handed over (as after a
            // crash): docs/upgrades.md §2.
            has_crown: false,
            active_at: c.active_at,
        };
        self.players.insert(pid, player);
        // Spectators with extra-data rights watching someone count for him.
        let watchers: Vec<i16> = self
            .players
            .values()
            .filter(|p| p.sees_extra && p.spectating >= 0)
            .map(|p| p.spectating)
            .collect();
        for p in self.players.values_mut() {
            p.extra_watchers = watchers.iter().filter(|&&w| w == p.info.pid).count() as u32;
        }
    }
}
