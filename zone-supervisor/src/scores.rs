//! Scores across realm restarts: the zone keeps every player's stats
//! (`zone-persist`), hands them to a realm when the player enters, takes
//! each change the realm reports, and ends score intervals on schedule.
//!
//! A realm's score change is accepted — and safe from a realm crash — the
//! moment the zone task has put it in its cache; the cache's changes reach
//! the database within a second. A player enters a realm only once his
//! stats are loaded, so a realm never starts from a wrong score.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ipc_proto::{SavedScore, ToRealm};
use tracing::{info, warn};
use zone_persist::{interval, DbReply, Persist, PlayerZoneData, StatMap};

use crate::players::BANNER_LEN;
use crate::state::{SlotId, WorkerId};
use crate::zone::{player_info, Zone};

/// Stat ids of the four SubSpace scores (`docs/protocol/persistence.md` §3.2).
pub mod stat {
    /// Kill points.
    pub const KILL_POINTS: u16 = 0;
    /// Flag points.
    pub const FLAG_POINTS: u16 = 1;
    /// Kills.
    pub const KILLS: u16 = 2;
    /// Deaths.
    pub const DEATHS: u16 = 3;
}

/// How often changed stats are handed to the database.
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// Name of the scheduled reset in the database's schedule table.
const RESET_SCHEDULE: &str = "reset-interval";

/// The zone's score keeping.
pub struct ScoreKeeper {
    /// The cache and the channel to the database thread.
    pub persist: Persist,
    /// Loads in flight: token → (pid, slot).
    loads: HashMap<u64, (i16, SlotId)>,
    /// Players whose load is in flight, with its token.
    loading: HashMap<i16, u64>,
    last_flush: Instant,
    /// When the scheduled reset is next due (seconds since the epoch).
    next_reset: Option<i64>,
    reset_every: Option<Duration>,
    /// When each arena last ended its game interval (a realm asking more
    /// often than [`GAME_END_MIN_GAP`] is refused).
    game_ended: HashMap<String, Instant>,
    /// The timed kicks read from the database at start (taken by the zone).
    pub initial_bans: Vec<zone_persist::BanRecord>,
}

/// Shortest time between two ends of one arena's game interval: games are
/// longer, and a realm asking faster must not keep the database busy.
pub const GAME_END_MIN_GAP: Duration = Duration::from_secs(1);

fn epoch_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Opens the database (refusing a newer schema) and starts its thread;
/// `None` when the zone keeps no scores.
pub fn start(
    settings: &crate::config::PersistSettings,
) -> anyhow::Result<Option<(ScoreKeeper, tokio::sync::mpsc::UnboundedReceiver<DbReply>)>> {
    if !settings.enabled {
        return Ok(None);
    }
    let store = zone_persist::open(&settings.path)?;
    let next = store
        .schedule_next(RESET_SCHEDULE)
        .map_err(|e| anyhow::anyhow!("reading the reset schedule: {e}"))?;
    let mut store = store;
    let bans = store
        .active_bans(epoch_secs())
        .map_err(|e| anyhow::anyhow!("reading the timed kicks: {e}"))?;
    info!(path = %settings.path.display(), kicks = bans.len(), "scores kept in the database");
    let (tx, replies) = zone_persist::spawn(store)?;
    let mut keeper = ScoreKeeper::new(Persist::new(tx), settings.reset_every, next);
    keeper.initial_bans = bans;
    Ok(Some((keeper, replies)))
}

impl ScoreKeeper {
    /// Wraps a running database thread; `next_reset` comes from the
    /// database (so a restart neither repeats nor skips a reset).
    pub fn new(persist: Persist, reset_every: Option<Duration>, next_reset: Option<i64>) -> Self {
        let next_reset = match (reset_every, next_reset) {
            (Some(every), None) => {
                let at = epoch_secs() + every.as_secs() as i64;
                persist.set_schedule(RESET_SCHEDULE, at);
                Some(at)
            }
            (Some(_), Some(at)) => Some(at),
            (None, _) => None,
        };
        ScoreKeeper {
            persist,
            loads: HashMap::new(),
            loading: HashMap::new(),
            last_flush: Instant::now(),
            next_reset,
            reset_every,
            game_ended: HashMap::new(),
            initial_bans: Vec::new(),
        }
    }
}

/// The four scores out of a reset-interval map.
fn saved_score(reset: &StatMap) -> SavedScore {
    let get = |id: u16| reset.get(&id).copied().unwrap_or(0);
    SavedScore {
        kill_points: get(stat::KILL_POINTS).clamp(i32::MIN as i64, i32::MAX as i64) as i32,
        flag_points: get(stat::FLAG_POINTS).clamp(i32::MIN as i64, i32::MAX as i64) as i32,
        kills: get(stat::KILLS).clamp(0, u16::MAX as i64) as u16,
        deaths: get(stat::DEATHS).clamp(0, u16::MAX as i64) as u16,
    }
}

impl Zone {
    fn score_keys(&self, pid: i16, slot_id: SlotId) -> Option<(String, String, String)> {
        let p = self.players.get(pid)?;
        let slot = self.state.registry.get(slot_id)?;
        Some((
            p.name.to_ascii_lowercase(),
            slot.score_group.clone(),
            slot.name.clone(),
        ))
    }

    /// Carries out `Action::LoadScores`: answers at once from the cache,
    /// or asks the database (one load per player in flight).
    pub(crate) fn load_scores(&mut self, pid: i16, slot_id: SlotId) {
        let Some((name, group, arena)) = self.score_keys(pid, slot_id) else {
            return;
        };
        let zone_data_loaded = self.players.get(pid).is_some_and(|p| p.zone_data_loaded);
        let Some(keeper) = self.scores.as_mut() else {
            // No scores kept: nothing to wait for.
            self.state.scores_loaded(pid, slot_id);
            return;
        };
        if zone_data_loaded && keeper.persist.cached(&name, &group, &arena).is_some() {
            self.state.scores_loaded(pid, slot_id);
            return;
        }
        if let Some(old) = keeper.loading.get(&pid) {
            // A load for another realm is still out: its answer is for
            // the old realm; this one gets its own.
            if keeper.loads.get(old).is_some_and(|&(_, s)| s == slot_id) {
                return;
            }
        }
        let token = keeper.persist.request_load(&name, &group, &arena);
        keeper.loads.insert(token, (pid, slot_id));
        keeper.loading.insert(pid, token);
    }

    /// Carries out `Action::EnterPlayer`: `PlayerEnter` with the player's
    /// saved scores to the realm's worker.
    pub(crate) fn enter_player(
        &mut self,
        pid: i16,
        slot_id: SlotId,
        worker: WorkerId,
        reentry: bool,
    ) {
        let Some(mut info) = self.entry_info(pid, slot_id, reentry) else {
            return;
        };
        info.spawn = self.take_spawn(pid, slot_id, reentry);
        self.queue_to_worker(worker, &ToRealm::PlayerEnter(info));
    }

    /// What a realm is told of an entering player, with his saved score.
    pub(crate) fn entry_info(
        &self,
        pid: i16,
        slot_id: SlotId,
        reentry: bool,
    ) -> Option<ipc_proto::PlayerInfo> {
        let score = match (self.score_keys(pid, slot_id), self.scores.as_ref()) {
            (Some((name, group, arena)), Some(keeper)) => keeper
                .persist
                .cached(&name, &group, &arena)
                .map(|stats| saved_score(&stats[1])),
            _ => None,
        };
        let p = self.players.get(pid)?;
        let mut info = player_info(p, reentry);
        info.score = score;
        Some(info)
    }

    /// The spawn tile a `MovePlayerTo` zone call gave the player, taken: it
    /// is for the entry into the arena that asked for it only, never for a
    /// re-entry (nor for an adoption after a hand-over, which does not ask).
    fn take_spawn(&mut self, pid: i16, slot_id: SlotId, reentry: bool) -> Option<(i16, i16)> {
        let slot_name = self.state.registry.get(slot_id).map(|s| s.name.clone());
        let p = self.players.get_mut(pid)?;
        p.spawn_in
            .take()
            .filter(|(arena, ..)| !reentry && slot_name.as_deref() == Some(arena.as_str()))
            .map(|(_, x, y)| (x, y))
    }

    /// Handles an answer from the database thread.
    pub(crate) fn db_reply(&mut self, reply: DbReply) {
        let Some(keeper) = self.scores.as_mut() else {
            return;
        };
        match reply {
            DbReply::Loaded { token, stats, zone } => {
                let Some((pid, slot_id)) = keeper.loads.remove(&token) else {
                    return;
                };
                if keeper.loading.get(&pid) == Some(&token) {
                    keeper.loading.remove(&pid);
                }
                self.apply_zone_data(pid, zone);
                if let Some((name, group, arena)) = self.score_keys(pid, slot_id) {
                    if let Some(keeper) = self.scores.as_mut() {
                        keeper.persist.fill(&name, &group, &arena, stats);
                    }
                    self.state.scores_loaded(pid, slot_id);
                }
            }
            DbReply::LoadFailed { token, error } => {
                let Some((pid, slot_id)) = keeper.loads.remove(&token) else {
                    return;
                };
                if keeper.loading.get(&pid) == Some(&token) {
                    keeper.loading.remove(&pid);
                }
                warn!(pid, %error, "loading a player's scores failed; he stays out of the arena");
                self.state.scores_failed(Instant::now(), pid, slot_id);
            }
            DbReply::Status {
                pending,
                failures,
                dropped,
                failing,
                write_micros,
            } => keeper
                .persist
                .note_status(pending, failures, dropped, failing, write_micros),
            DbReply::Closed => {}
        }
        self.run_actions(Instant::now());
    }

    /// A realm reported a player's new score totals.
    pub(crate) fn score_changed(
        &mut self,
        slot_id: SlotId,
        pid: i16,
        totals: SavedScore,
        reset: bool,
    ) {
        if !self.player_in_realm(pid, slot_id) {
            return;
        }
        let Some((name, group, arena)) = self.score_keys(pid, slot_id) else {
            return;
        };
        let Some(keeper) = self.scores.as_mut() else {
            return;
        };
        let p = &mut keeper.persist;
        let new = [
            (stat::KILL_POINTS, totals.kill_points as i64),
            (stat::FLAG_POINTS, totals.flag_points as i64),
            (stat::KILLS, totals.kills as i64),
            (stat::DEATHS, totals.deaths as i64),
        ];
        if reset {
            // A score reset clears the reset interval only.
            p.reset_player(&name, &group, interval::RESET);
            return;
        }
        // Totals are the reset interval's values; the other intervals grow
        // by the same difference.
        let old = p
            .cached(&name, &group, &arena)
            .map(|s| s[1].clone())
            .unwrap_or_default();
        for (id, value) in new {
            let delta = value - old.get(&id).copied().unwrap_or(0);
            if delta != 0 {
                p.add(&name, &group, &arena, id, delta);
            }
        }
    }

    /// Takes the stored banner and chat mask of a player the first time
    /// they are loaded (what happened since, e.g. a biller banner, wins).
    fn apply_zone_data(&mut self, pid: i16, zone: PlayerZoneData) {
        let Some(p) = self.players.get_mut(pid) else {
            return;
        };
        if p.zone_data_loaded {
            return;
        }
        p.zone_data_loaded = true;
        if p.banner.is_none() {
            p.banner = zone
                .banner
                .as_deref()
                .and_then(|b| <[u8; BANNER_LEN]>::try_from(b).ok());
        }
        if p.chat_mask.is_none() {
            if let Some((mask, ends)) = zone.chat_mask {
                let left = ends - epoch_secs();
                if left > 0 {
                    p.chat_mask = Some((mask, Instant::now() + Duration::from_secs(left as u64)));
                }
            }
        }
    }

    /// A player's banner changed (from his client or the biller).
    pub(crate) fn banner_changed(&mut self, pid: i16, banner: &[u8]) {
        let Ok(bitmap) = <[u8; BANNER_LEN]>::try_from(banner) else {
            return;
        };
        let Some(p) = self.players.get_mut(pid) else {
            return;
        };
        p.banner = Some(bitmap);
        let name = p.name.to_ascii_lowercase();
        if let Some(keeper) = self.scores.as_ref() {
            keeper.persist.banner(&name, Some(bitmap.to_vec()));
        }
    }

    /// A player's chat mask changed in his realm; a timed one is kept.
    pub(crate) fn chat_mask_changed(&mut self, pid: i16, mask: u32, remaining_secs: u32) {
        let Some(p) = self.players.get_mut(pid) else {
            return;
        };
        let timed = remaining_secs > 0 && mask != 0;
        p.chat_mask = timed.then(|| {
            (
                mask,
                Instant::now() + Duration::from_secs(u64::from(remaining_secs)),
            )
        });
        let name = p.name.to_ascii_lowercase();
        if let Some(keeper) = self.scores.as_ref() {
            let stored = timed.then(|| (mask, epoch_secs() + i64::from(remaining_secs)));
            keeper.persist.chat_mask(&name, stored);
        }
    }

    /// A player leaves the zone: his stats are written and forgotten.
    pub(crate) fn scores_player_left(&mut self, name: &str, last_arena: Option<&str>) {
        if let Some(keeper) = self.scores.as_mut() {
            let lower = name.to_ascii_lowercase();
            if let Some(arena) = last_arena {
                keeper.persist.last_arena(&lower, arena);
            }
            keeper.persist.forget_player(&lower);
        }
    }

    /// Once a second: changed stats to the database; a due scheduled reset.
    pub(crate) fn scores_tick(&mut self, now: Instant) {
        let Some(keeper) = self.scores.as_mut() else {
            return;
        };
        if now.saturating_duration_since(keeper.last_flush) >= FLUSH_EVERY {
            keeper.last_flush = now;
            keeper.persist.flush();
        }
        let (Some(at), Some(every)) = (keeper.next_reset, keeper.reset_every) else {
            return;
        };
        let now_secs = epoch_secs();
        if now_secs < at {
            return;
        }
        let period = every.as_secs().max(1) as i64;
        // Once, however many periods were missed while the zone was down.
        let next = at + ((now_secs - at) / period + 1) * period;
        keeper.next_reset = Some(next);
        info!("scheduled score reset: ending the reset interval of every score group");
        self.end_score_interval(Vec::new());
        if let Some(keeper) = self.scores.as_ref() {
            keeper.persist.set_schedule(RESET_SCHEDULE, next);
        }
    }

    /// Ends the *game* interval of one arena (`docs/protocol/persistence.md`
    /// §1.1): pending changes are written, the arena's game stats start
    /// again from zero. The four scores players see (reset interval) stay.
    /// Returns false when refused: asked again within [`GAME_END_MIN_GAP`].
    pub(crate) fn end_game_interval(&mut self, arena: &str, now: Instant) -> bool {
        let Some(keeper) = self.scores.as_mut() else {
            return true;
        };
        if keeper
            .game_ended
            .get(arena)
            .is_some_and(|&t| now.saturating_duration_since(t) < GAME_END_MIN_GAP)
        {
            return false;
        }
        keeper.game_ended.insert(arena.to_string(), now);
        info!(arena, "game over: ending the game interval");
        keeper
            .persist
            .end_interval(vec![arena.to_string()], interval::GAME);
        true
    }

    /// Ends the reset interval of some score groups (all if empty) and
    /// tells the realms of those groups to start from zero.
    pub(crate) fn end_score_interval(&mut self, groups: Vec<String>) {
        let Some(keeper) = self.scores.as_mut() else {
            warn!("score reset asked for, but scores are not kept");
            return;
        };
        keeper.persist.end_interval(groups.clone(), interval::RESET);
        self.state.reset_scores(&groups);
        self.run_actions(Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_score_clamps_to_the_packet_fields() {
        let map: StatMap = [(0, 5_000_000_000i64), (2, 70_000), (3, -4)]
            .into_iter()
            .collect();
        let s = saved_score(&map);
        assert_eq!(s.kill_points, i32::MAX);
        assert_eq!(s.kills, u16::MAX);
        assert_eq!(s.deaths, 0);
        assert_eq!(s.flag_points, 0);
    }
}
