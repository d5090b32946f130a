//! Persistence: player stats in SQLite, owned by the zone supervisor.
//!
//! The zone task keeps the stats of players who are online in memory (the
//! source of truth while they play) and marks what changed; once a second
//! the changed interval maps go to a dedicated database thread as one write
//! batch, committed in one transaction. The zone task never waits on the
//! disk: loads are answered through a channel, and a failed write (disk
//! full, database locked) is kept and retried, bounded, while the zone runs
//! on.
//!
//! Keys follow `docs/protocol/persistence.md`: shared intervals (forever,
//! reset) are kept per arena *group*, the game interval per arena name.

pub mod store;

use std::collections::{HashMap, HashSet, VecDeque};

use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::sync::mpsc;
use tracing::{error, info, warn};

pub use store::{BanRecord, PlayerZoneData, StatMap, StatsWrite, Store};

/// Interval numbers as stored.
pub mod interval {
    /// Never ends.
    pub const FOREVER: i64 = 0;
    /// Ended by score resets.
    pub const RESET: i64 = 1;
    /// Ended at the end of each game; per arena.
    pub const GAME: i64 = 5;
}

/// Most stats writes kept for retry while the database refuses them.
const MAX_PENDING_WRITES: usize = 200_000;

/// A request to the database thread.
pub enum DbRequest {
    /// Load a player's three interval maps.
    Load {
        /// Echoed in the reply.
        token: u64,
        /// Player name, lower case.
        player: String,
        /// Arena group (forever, reset).
        group: String,
        /// Arena name (game).
        arena: String,
    },
    /// Write a batch.
    Write(Vec<StatsWrite>),
    /// End an interval in the given scopes (all scopes that have data if
    /// `scopes` is empty).
    EndInterval {
        /// Scopes to end it in.
        scopes: Vec<String>,
        /// Interval number.
        interval: i64,
    },
    /// Remember when a schedule is next due.
    SetSchedule {
        /// Schedule name.
        name: String,
        /// Seconds since the epoch.
        next_at: i64,
    },
    /// Store a player's banner (`None` clears it).
    Banner {
        /// Player name, lower case.
        player: String,
        /// The bitmap.
        banner: Option<Vec<u8>>,
    },
    /// Store a player's timed chat mask (`None` clears it).
    ChatMask {
        /// Player name, lower case.
        player: String,
        /// (mask, ends at in seconds since the epoch).
        mask: Option<(u32, i64)>,
    },
    /// Record a player's last arena.
    LastArena {
        /// Player name, lower case.
        player: String,
        /// Arena name.
        arena: String,
    },
    /// Store a timed kick.
    PutBan(BanRecord),
    /// Remove timed kicks (lifted or expired) by id.
    DeleteBans(Vec<i64>),
    /// Finish everything queued, then stop; the reply is `Closed`.
    Close,
}

/// An answer from the database thread.
#[derive(Debug)]
pub enum DbReply {
    /// A load finished.
    Loaded {
        /// The request's token.
        token: u64,
        /// Forever, reset and game maps.
        stats: [StatMap; 3],
        /// The player's zone-wide data.
        zone: PlayerZoneData,
    },
    /// A load failed (the database could not be read). Nothing was cached
    /// for it and nothing will be written for it: the zone may ask again
    /// with [`Persist::request_load`], but must not treat the player's
    /// scores as known (or zero) until a `Loaded` arrives.
    LoadFailed {
        /// The request's token.
        token: u64,
        /// What went wrong, for logs and operators.
        error: String,
    },
    /// Health after each write attempt.
    Status {
        /// Writes waiting for a retry.
        pending: usize,
        /// Writes that failed so far.
        failures: u64,
        /// Writes dropped because the retry queue was full.
        dropped: u64,
        /// Why the latest write attempt failed; `None` once one succeeds.
        failing: Option<String>,
        /// How long the latest write attempt took, microseconds.
        write_micros: u64,
    },
    /// The thread stopped after `Close`.
    Closed,
}

/// Opens the database (refusing a newer schema) and reads a schedule's
/// next time, before the zone starts.
pub fn open(path: &std::path::Path) -> Result<Store> {
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
    }
    Store::open(path).with_context(|| format!("opening the database {}", path.display()))
}

/// Starts the database thread on an open store.
pub fn spawn(
    store: Store,
) -> Result<(
    std_mpsc::Sender<DbRequest>,
    mpsc::UnboundedReceiver<DbReply>,
)> {
    let (tx, rx) = std_mpsc::channel();
    let (reply_tx, reply_rx) = mpsc::unbounded_channel();
    std::thread::Builder::new()
        .name("persist".into())
        .spawn(move || db_thread(store, rx, reply_tx))
        .context("starting the database thread")?;
    Ok((tx, reply_rx))
}

fn db_thread(
    mut store: Store,
    rx: std_mpsc::Receiver<DbRequest>,
    replies: mpsc::UnboundedSender<DbReply>,
) {
    let mut pending: VecDeque<StatsWrite> = VecDeque::new();
    let mut failures = 0u64;
    let mut dropped = 0u64;
    let mut failing: Option<String> = None;
    let mut write_micros = 0u64;
    let report = |pending: &VecDeque<StatsWrite>,
                  failures: u64,
                  dropped: u64,
                  failing: &Option<String>,
                  write_micros: u64| {
        let _ = replies.send(DbReply::Status {
            pending: pending.len(),
            failures,
            dropped,
            failing: failing.clone(),
            write_micros,
        });
    };
    loop {
        let req = match rx.recv_timeout(Duration::from_secs(1)) {
            Ok(r) => Some(r),
            Err(std_mpsc::RecvTimeoutError::Timeout) => None,
            Err(std_mpsc::RecvTimeoutError::Disconnected) => Some(DbRequest::Close),
        };
        // Retry what failed before anything newer touches the same rows.
        if !pending.is_empty() {
            let batch: Vec<StatsWrite> = pending.iter().cloned().collect();
            let started = std::time::Instant::now();
            let written = store.write(&batch);
            write_micros = started.elapsed().as_micros() as u64;
            match written {
                Ok(()) => {
                    info!(
                        writes = batch.len(),
                        "database writable again; pending writes saved"
                    );
                    pending.clear();
                    failing = None;
                }
                Err(e) => {
                    failures += 1;
                    error!(
                        "database write still failing ({} pending): {e}",
                        pending.len()
                    );
                    failing = Some(e.to_string());
                }
            }
            report(&pending, failures, dropped, &failing, write_micros);
        }
        let Some(req) = req else {
            continue;
        };
        match req {
            DbRequest::Load {
                token,
                player,
                group,
                arena,
            } => match load(&store, &pending, &player, &group, &arena) {
                Ok((stats, zone)) => {
                    let _ = replies.send(DbReply::Loaded { token, stats, zone });
                }
                Err(e) => {
                    error!(%player, %group, %arena, "loading stats failed: {e}");
                    let _ = replies.send(DbReply::LoadFailed {
                        token,
                        error: e.to_string(),
                    });
                }
            },
            DbRequest::Write(batch) => {
                let started = std::time::Instant::now();
                let written = if pending.is_empty() {
                    Some(store.write(&batch))
                } else {
                    None
                };
                if written.is_some() {
                    write_micros = started.elapsed().as_micros() as u64;
                }
                if written.is_none() {
                    keep(&mut pending, batch, &mut dropped);
                } else if let Some(Err(e)) = written {
                    failures += 1;
                    error!(
                        "database write failed, keeping {} writes in memory: {e}",
                        batch.len()
                    );
                    failing = Some(e.to_string());
                    keep(&mut pending, batch, &mut dropped);
                } else {
                    failing = None;
                }
                report(&pending, failures, dropped, &failing, write_micros);
            }
            DbRequest::EndInterval { scopes, interval } => {
                let scopes = if scopes.is_empty() {
                    store.scopes_with(interval).unwrap_or_default()
                } else {
                    scopes
                };
                for scope in scopes {
                    if let Err(e) = store.end_interval(&scope, interval) {
                        error!(%scope, interval, "ending interval failed: {e}");
                    }
                }
            }
            DbRequest::SetSchedule { name, next_at } => {
                if let Err(e) = store.set_schedule_next(&name, next_at) {
                    error!(%name, "recording the schedule failed: {e}");
                }
            }
            DbRequest::Banner { player, banner } => {
                if let Err(e) = store.set_banner(&player, banner.as_deref()) {
                    warn!(%player, "storing the banner failed: {e}");
                }
            }
            DbRequest::ChatMask { player, mask } => {
                if let Err(e) = store.set_chat_mask(&player, mask) {
                    warn!(%player, "storing the chat mask failed: {e}");
                }
            }
            DbRequest::LastArena { player, arena } => {
                if let Err(e) = store.set_last_arena(&player, &arena) {
                    warn!(%player, "recording the last arena failed: {e}");
                }
            }
            DbRequest::PutBan(ban) => {
                if let Err(e) = store.put_ban(&ban) {
                    error!(name = %ban.name, "storing a timed kick failed: {e}");
                }
            }
            DbRequest::DeleteBans(ids) => {
                if let Err(e) = store.delete_bans(&ids) {
                    error!("removing timed kicks failed: {e}");
                }
            }
            DbRequest::Close => {
                if !pending.is_empty() {
                    let batch: Vec<StatsWrite> = pending.drain(..).collect();
                    if let Err(e) = store.write(&batch) {
                        error!(
                            "{} stats writes could not be saved at shutdown: {e}",
                            batch.len()
                        );
                    }
                }
                // Checkpoint and close before answering, so that once the
                // zone hears `Closed` only the database file is left.
                if let Err(e) = store.close() {
                    error!("closing the database failed: {e}");
                }
                let _ = replies.send(DbReply::Closed);
                return;
            }
        }
    }
}

/// A player's three interval maps and zone data, with writes still
/// waiting for a retry laid over what the database holds (they are newer).
/// Any failure fails the whole load: a partial answer would be taken for
/// the player's real scores.
fn load(
    store: &Store,
    pending: &VecDeque<StatsWrite>,
    player: &str,
    group: &str,
    arena: &str,
) -> Result<([StatMap; 3], PlayerZoneData), store::StoreError> {
    let mut stats: [StatMap; 3] = Default::default();
    for (slot, (scope, interval)) in [
        (group, interval::FOREVER),
        (group, interval::RESET),
        (arena, interval::GAME),
    ]
    .into_iter()
    .enumerate()
    {
        stats[slot] = store.load(player, scope, interval)?;
        if let Some(w) = pending
            .iter()
            .rev()
            .find(|w| w.player == player && w.scope == scope && w.interval == interval)
        {
            stats[slot] = w.stats.clone();
        }
    }
    let zone = store.zone_data(player)?;
    Ok((stats, zone))
}

fn keep(pending: &mut VecDeque<StatsWrite>, batch: Vec<StatsWrite>, dropped: &mut u64) {
    pending.extend(batch);
    while pending.len() > MAX_PENDING_WRITES {
        pending.pop_front();
        *dropped += 1;
    }
}

/// Key of one cached interval map: (player, scope, interval).
pub type StatsKey = (String, String, i64);

/// The zone task's side: cached stats of players online, the dirty set, and
/// the channel to the database thread.
pub struct Persist {
    tx: std_mpsc::Sender<DbRequest>,
    cache: HashMap<StatsKey, StatMap>,
    dirty: HashSet<StatsKey>,
    next_token: u64,
    /// Writes waiting for a retry (from the last status).
    pub pending: usize,
    /// Failed write attempts so far.
    pub failures: u64,
    /// Writes given up because the retry queue was full.
    pub dropped: u64,
    /// Why the latest write attempt failed, while writes are failing
    /// (`None` once one succeeds).
    pub failing: Option<String>,
    /// How long the database's latest write took, microseconds.
    pub last_write_micros: u64,
}

impl Persist {
    /// Wraps the channel to a running database thread.
    pub fn new(tx: std_mpsc::Sender<DbRequest>) -> Persist {
        Persist {
            tx,
            cache: HashMap::new(),
            dirty: HashSet::new(),
            next_token: 1,
            pending: 0,
            failures: 0,
            dropped: 0,
            failing: None,
            last_write_micros: 0,
        }
    }

    /// Every cached stats map (for handing the cache to the next
    /// supervisor process on an in-place upgrade).
    pub fn export_cache(&self) -> Vec<(StatsKey, StatMap)> {
        self.cache
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Takes on a cache handed over by the previous supervisor process.
    /// Every entry is marked dirty: a write the old process had handed to
    /// its database thread may not have finished, and writing totals again
    /// is harmless.
    pub fn import_cache(&mut self, entries: Vec<(StatsKey, StatMap)>) {
        for (k, v) in entries {
            self.dirty.insert(k.clone());
            self.cache.insert(k, v);
        }
    }

    fn send(&self, req: DbRequest) {
        if self.tx.send(req).is_err() {
            error!("the persistence thread is gone");
        }
    }

    /// Asks for a player's stats; the answer arrives as `DbReply::Loaded`
    /// (then [`Persist::fill`]) or `DbReply::LoadFailed` with the returned
    /// token. After a failure nothing is cached for the player, so his
    /// stats cannot be changed or written; asking again is safe.
    pub fn request_load(&mut self, player: &str, group: &str, arena: &str) -> u64 {
        let token = self.next_token;
        self.next_token += 1;
        self.send(DbRequest::Load {
            token,
            player: player.to_string(),
            group: group.to_string(),
            arena: arena.to_string(),
        });
        token
    }

    /// The cached maps of a player in a group/arena, if loaded.
    pub fn cached(&self, player: &str, group: &str, arena: &str) -> Option<[StatMap; 3]> {
        let get = |scope: &str, i: i64| {
            self.cache
                .get(&(player.to_string(), scope.to_string(), i))
                .cloned()
        };
        Some([
            get(group, interval::FOREVER)?,
            get(group, interval::RESET)?,
            get(arena, interval::GAME)?,
        ])
    }

    /// Stores loaded maps in the cache (unless newer data is cached).
    pub fn fill(&mut self, player: &str, group: &str, arena: &str, stats: [StatMap; 3]) {
        let [forever, reset, game] = stats;
        for (scope, i, map) in [
            (group, interval::FOREVER, forever),
            (group, interval::RESET, reset),
            (arena, interval::GAME, game),
        ] {
            self.cache
                .entry((player.to_string(), scope.to_string(), i))
                .or_insert(map);
        }
    }

    /// Adds `delta` to a stat in all three intervals. Refused (nothing
    /// changes, `false`) unless all three maps are loaded: a map that was
    /// never read from the database must never be written over it.
    pub fn add(&mut self, player: &str, group: &str, arena: &str, stat: u16, delta: i64) -> bool {
        let keys = [
            (group, interval::FOREVER),
            (group, interval::RESET),
            (arena, interval::GAME),
        ]
        .map(|(scope, i)| (player.to_string(), scope.to_string(), i));
        if !keys.iter().all(|k| self.cache.contains_key(k)) {
            warn!(
                player,
                group, arena, stat, delta, "stats not loaded; change dropped"
            );
            return false;
        }
        for key in keys {
            if let Some(map) = self.cache.get_mut(&key) {
                *map.entry(stat).or_insert(0) += delta;
                self.dirty.insert(key);
            }
        }
        true
    }

    /// Sets a stat in one interval; refused (`false`) unless that map is
    /// loaded.
    pub fn set(&mut self, player: &str, scope: &str, i: i64, stat: u16, value: i64) -> bool {
        let key = (player.to_string(), scope.to_string(), i);
        let Some(map) = self.cache.get_mut(&key) else {
            warn!(
                player,
                scope,
                interval = i,
                stat,
                "stats not loaded; change dropped"
            );
            return false;
        };
        map.insert(stat, value);
        self.dirty.insert(key);
        true
    }

    /// Clears one interval of a player (`?scorereset`); refused (`false`)
    /// unless that map is loaded.
    pub fn reset_player(&mut self, player: &str, scope: &str, i: i64) -> bool {
        let key = (player.to_string(), scope.to_string(), i);
        let Some(map) = self.cache.get_mut(&key) else {
            warn!(
                player,
                scope,
                interval = i,
                "stats not loaded; reset dropped"
            );
            return false;
        };
        map.clear();
        self.dirty.insert(key);
        true
    }

    /// Whether a player's map of one interval in a scope was loaded (only
    /// loaded maps are changed and written).
    pub fn is_loaded(&self, player: &str, scope: &str, i: i64) -> bool {
        self.cache
            .contains_key(&(player.to_string(), scope.to_string(), i))
    }

    /// Ends an interval in some scopes (all scopes with data if empty):
    /// pending changes are written first, then the interval ends, and the
    /// cached maps of that interval start empty.
    pub fn end_interval(&mut self, scopes: Vec<String>, i: i64) {
        self.flush();
        for (key, map) in self.cache.iter_mut() {
            if key.2 == i && (scopes.is_empty() || scopes.contains(&key.1)) {
                map.clear();
            }
        }
        self.send(DbRequest::EndInterval {
            scopes,
            interval: i,
        });
    }

    /// Records when a schedule is next due.
    pub fn set_schedule(&self, name: &str, next_at: i64) {
        self.send(DbRequest::SetSchedule {
            name: name.to_string(),
            next_at,
        });
    }

    /// Stores a player's banner.
    pub fn banner(&self, player: &str, banner: Option<Vec<u8>>) {
        self.send(DbRequest::Banner {
            player: player.to_string(),
            banner,
        });
    }

    /// Stores a player's timed chat mask (mask, ends at in epoch seconds).
    pub fn chat_mask(&self, player: &str, mask: Option<(u32, i64)>) {
        self.send(DbRequest::ChatMask {
            player: player.to_string(),
            mask,
        });
    }

    /// Records a player's last arena.
    pub fn last_arena(&self, player: &str, arena: &str) {
        self.send(DbRequest::LastArena {
            player: player.to_string(),
            arena: arena.to_string(),
        });
    }

    /// Stores a timed kick.
    pub fn put_ban(&self, ban: BanRecord) {
        self.send(DbRequest::PutBan(ban));
    }

    /// Removes timed kicks by id.
    pub fn delete_bans(&self, ids: Vec<i64>) {
        if !ids.is_empty() {
            self.send(DbRequest::DeleteBans(ids));
        }
    }

    /// Sends every changed map to the database thread as one batch.
    pub fn flush(&mut self) {
        if self.dirty.is_empty() {
            return;
        }
        // Only loaded maps are ever dirty; a key without one is skipped
        // rather than written as empty (which would delete the stored row).
        let batch: Vec<StatsWrite> = self
            .dirty
            .drain()
            .filter_map(|key| {
                let stats = self.cache.get(&key)?.clone();
                Some(StatsWrite {
                    stats,
                    player: key.0,
                    scope: key.1,
                    interval: key.2,
                })
            })
            .collect();
        if !batch.is_empty() {
            self.send(DbRequest::Write(batch));
        }
    }

    /// Forgets a player's cached maps (after they were flushed).
    pub fn forget_player(&mut self, player: &str) {
        self.flush();
        self.cache.retain(|k, _| k.0 != player);
    }

    /// Writes everything and stops the thread; waits for it (bounded).
    pub async fn close(&mut self, replies: &mut mpsc::UnboundedReceiver<DbReply>) {
        self.flush();
        self.send(DbRequest::Close);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            match tokio::time::timeout_at(deadline, replies.recv()).await {
                Ok(Some(DbReply::Closed)) | Ok(None) => return,
                Ok(Some(_)) => {}
                Err(_) => {
                    error!("the database did not finish writing within 10 s");
                    return;
                }
            }
        }
    }

    /// Takes a status reply into account.
    pub fn note_status(
        &mut self,
        pending: usize,
        failures: u64,
        dropped: u64,
        failing: Option<String>,
        write_micros: u64,
    ) {
        self.last_write_micros = write_micros;
        self.pending = pending;
        self.failures = failures;
        self.dropped = dropped;
        self.failing = failing;
    }

    /// Whether writes are failing now: the latest attempt failed.
    pub fn write_failing(&self) -> bool {
        self.failing.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn changes_reach_the_database_and_load_back() {
        let (tx, mut replies) = spawn(Store::in_memory().unwrap()).unwrap();
        let mut p = Persist::new(tx);
        let first = p.request_load("bob", "(public)", "0");
        match replies.recv().await.unwrap() {
            DbReply::Loaded { token, stats, .. } if token == first => {
                assert!(stats.iter().all(StatMap::is_empty), "a new player");
                p.fill("bob", "(public)", "0", stats);
            }
            other => panic!("expected Loaded, got {other:?}"),
        }
        assert!(p.add("bob", "(public)", "0", 0, 50));
        assert!(p.add("bob", "(public)", "0", 2, 1));
        p.flush();
        let token = p.request_load("bob", "(public)", "1");
        let stats = loop {
            match replies.recv().await.unwrap() {
                DbReply::Loaded {
                    token: t, stats, ..
                } if t == token => break stats,
                _ => {}
            }
        };
        let expected: StatMap = [(0u16, 50i64), (2, 1)].into_iter().collect();
        assert_eq!(stats[0], expected, "forever, shared by the group");
        assert_eq!(stats[1], expected, "reset, shared by the group");
        assert!(stats[2].is_empty(), "game is per arena");
        p.close(&mut replies).await;
    }

    /// A fresh directory for one test's database file.
    fn test_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("zone-persist-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn map(pairs: &[(u16, i64)]) -> StatMap {
        pairs.iter().copied().collect()
    }

    /// The next reply that is not a status report.
    async fn next_answer(replies: &mut mpsc::UnboundedReceiver<DbReply>) -> DbReply {
        loop {
            match replies.recv().await.expect("database thread gone") {
                DbReply::Status { .. } => {}
                other => return other,
            }
        }
    }

    /// Bob's stored rows: forever and reset in (public), game in arena 0.
    fn seed(path: &std::path::Path) -> [StatMap; 3] {
        let stored = [
            map(&[(0, 500), (2, 7)]),
            map(&[(0, 50), (2, 1)]),
            map(&[(0, 5)]),
        ];
        let mut store = Store::open(path).unwrap();
        let writes: Vec<StatsWrite> = [
            ("(public)", interval::FOREVER),
            ("(public)", interval::RESET),
            ("0", interval::GAME),
        ]
        .into_iter()
        .zip(stored.iter())
        .map(|((scope, i), stats)| StatsWrite {
            player: "bob".into(),
            scope: scope.into(),
            interval: i,
            stats: stats.clone(),
        })
        .collect();
        store.write(&writes).unwrap();
        store.close().unwrap();
        stored
    }

    /// Bob's rows as stored, read through a separate connection.
    fn stored(path: &std::path::Path) -> [StatMap; 3] {
        let s = Store::open_read_only(path).unwrap();
        [
            s.load("bob", "(public)", interval::FOREVER).unwrap(),
            s.load("bob", "(public)", interval::RESET).unwrap(),
            s.load("bob", "0", interval::GAME).unwrap(),
        ]
    }

    async fn failed_load_leaves_rows_alone(hide: &str, name: &str) {
        let dir = test_dir(name);
        let path = dir.join("zone.db");
        let before = seed(&path);
        let (tx, mut replies) = spawn(open(&path).unwrap()).unwrap();
        let mut p = Persist::new(tx);

        // Another connection makes a table unreadable for a while.
        let side = rusqlite::Connection::open(&path).unwrap();
        side.execute_batch(&format!("ALTER TABLE {hide} RENAME TO hidden_for_test"))
            .unwrap();

        let token = p.request_load("bob", "(public)", "0");
        match next_answer(&mut replies).await {
            DbReply::LoadFailed { token: t, error } => {
                assert_eq!(t, token);
                assert!(!error.is_empty());
            }
            other => panic!("expected LoadFailed, got {other:?}"),
        }
        assert!(p.cached("bob", "(public)", "0").is_none());
        assert!(!p.is_loaded("bob", "(public)", interval::FOREVER));
        // What the game would do with a player whose load failed: all of
        // it is refused, none of it reaches the database.
        assert!(!p.add("bob", "(public)", "0", 0, 10));
        assert!(!p.set("bob", "(public)", interval::FOREVER, 0, 0));
        assert!(!p.reset_player("bob", "(public)", interval::RESET));
        assert!(!p.reset_player("bob", "(public)", interval::FOREVER));
        p.flush();
        p.forget_player("bob");
        p.flush();
        // A second try while the fault lasts fails the same way; being
        // answered after everything above, it also shows that the thread
        // has seen all of it.
        let again = p.request_load("bob", "(public)", "0");
        assert!(matches!(
            next_answer(&mut replies).await,
            DbReply::LoadFailed { token, .. } if token == again
        ));
        assert_eq!(p.pending, 0);

        side.execute_batch(&format!("ALTER TABLE hidden_for_test RENAME TO {hide}"))
            .unwrap();
        assert_eq!(stored(&path), before, "stored rows untouched");

        // The fault is gone: the same request now loads the real values.
        let retry = p.request_load("bob", "(public)", "0");
        let stats = match next_answer(&mut replies).await {
            DbReply::Loaded { token, stats, .. } if token == retry => stats,
            other => panic!("expected Loaded, got {other:?}"),
        };
        assert_eq!(stats, before);
        p.fill("bob", "(public)", "0", stats);
        assert!(p.add("bob", "(public)", "0", 0, 10));
        p.close(&mut replies).await;
        drop(side);
        let after = stored(&path);
        assert_eq!(after[0], map(&[(0, 510), (2, 7)]));
        assert_eq!(after[1], map(&[(0, 60), (2, 1)]));
        assert_eq!(after[2], map(&[(0, 15)]));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn an_unreadable_stats_table_fails_the_load_and_destroys_nothing() {
        failed_load_leaves_rows_alone("player_stats", "stats-table").await;
    }

    #[tokio::test]
    async fn an_unreadable_zone_table_fails_the_whole_load() {
        failed_load_leaves_rows_alone("player_zone", "zone-table").await;
    }

    #[tokio::test]
    async fn changes_before_a_load_are_refused_not_written_as_the_whole_map() {
        let dir = test_dir("early-change");
        let path = dir.join("zone.db");
        let before = seed(&path);
        let (tx, mut replies) = spawn(open(&path).unwrap()).unwrap();
        let mut p = Persist::new(tx);
        assert!(!p.add("bob", "(public)", "0", 0, 1));
        assert!(!p.reset_player("bob", "(public)", interval::RESET));
        p.close(&mut replies).await;
        assert_eq!(stored(&path), before);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_clean_close_leaves_only_the_database_file() {
        let dir = test_dir("close");
        let path = dir.join("zone.db");
        let (tx, mut replies) = spawn(open(&path).unwrap()).unwrap();
        let mut p = Persist::new(tx);
        let token = p.request_load("bob", "(public)", "0");
        match next_answer(&mut replies).await {
            DbReply::Loaded {
                token: t, stats, ..
            } if t == token => p.fill("bob", "(public)", "0", stats),
            other => panic!("expected Loaded, got {other:?}"),
        }
        assert!(p.add("bob", "(public)", "0", 0, 42));
        p.flush();
        // The thread has written (and the WAL holds) the change by now.
        let _ = p.request_load("bob", "(public)", "0");
        let _ = next_answer(&mut replies).await;
        assert!(dir.join("zone.db-wal").exists(), "WAL in use while open");
        p.close(&mut replies).await;
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["zone.db"]);
        assert_eq!(stored(&path)[0], map(&[(0, 42)]));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
