//! The SQLite database: schema, migrations and the queries the persistence
//! thread runs. Only this module speaks SQL.
//!
//! Data model (`docs/protocol/persistence.md`): a player's stats are kept per
//! *scope* (an arena group for the shared intervals "forever" and "reset", an
//! arena name for "game") and per interval *serial*: ending an interval starts
//! a new serial, so old rows stay as history and new data starts empty.

use std::collections::BTreeMap;
use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Value};

/// Schema version this binary writes (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = 3;

/// Stat id → value.
pub type StatMap = BTreeMap<u16, i64>;

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file was written by a newer version of the zone.
    #[error(
        "database schema version {found} is newer than this zone supports ({SCHEMA_VERSION}); \
         refusing to open it (upgrade the zone, or point it at another file)"
    )]
    TooNew {
        /// Version in the file.
        found: i64,
    },
    /// The file can be read but not written (a read-only file, directory
    /// or mount): the zone would lose every change, so it is refused.
    #[error(
        "database {path} is not writable ({cause}); \
         fix its permissions (and its directory's) or point the zone at another file"
    )]
    NotWritable {
        /// The file as given.
        path: String,
        /// What SQLite said.
        cause: String,
    },
    /// SQLite reported an error.
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
}

/// A player's zone-wide data (not tied to an arena).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PlayerZoneData {
    /// Banner bitmap (96 bytes), if any.
    pub banner: Option<Vec<u8>>,
    /// A timed chat mask: (mask, ends at, seconds since the epoch).
    pub chat_mask: Option<(u32, i64)>,
    /// The arena the player was last in.
    pub last_arena: Option<String>,
}

/// A timed kick (`?kick -t`) as stored (`docs/protocol/persistence.md` §2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BanRecord {
    /// Number given by the zone (unique).
    pub id: i64,
    /// Player name, lower case.
    pub name: String,
    /// Machine id (0 = unknown).
    pub machine_id: u32,
    /// End, seconds since the epoch.
    pub expires: i64,
    /// Who kicked.
    pub kicker: String,
    /// Why (may be empty).
    pub reason: String,
    /// When, seconds since the epoch.
    pub created: i64,
}

/// One stats row set to write: the whole map of one interval.
#[derive(Clone, Debug, PartialEq)]
pub struct StatsWrite {
    /// Player name, lower case.
    pub player: String,
    /// Arena group (shared intervals) or arena name (game interval).
    pub scope: String,
    /// Interval number (0 forever, 1 reset, 5 game).
    pub interval: i64,
    /// Every stat of that interval (empty = delete).
    pub stats: StatMap,
}

/// The open database.
pub struct Store {
    conn: Connection,
}

/// Whether SQLite refused a write because the database is read-only.
fn is_read_only_error(e: &rusqlite::Error) -> bool {
    matches!(e.sqlite_error_code(), Some(rusqlite::ErrorCode::ReadOnly))
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl Store {
    /// Opens (creating if needed) the database, refusing a file from a newer
    /// version before changing anything, and runs the migrations.
    ///
    /// A file that opens but cannot be written is [`StoreError::NotWritable`].
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let conn = Connection::open(path)?;
        Store::from_connection(conn).map_err(|e| match e {
            StoreError::Sql(err) if is_read_only_error(&err) => StoreError::NotWritable {
                path: path.display().to_string(),
                cause: err.to_string(),
            },
            other => other,
        })
    }

    /// Writes everything out of the write-ahead log into the database file
    /// and closes it, so that only the file itself remains (no `-wal` or
    /// `-shm` beside it).
    pub fn close(self) -> Result<(), StoreError> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        self.conn.close().map_err(|(_, e)| StoreError::Sql(e))
    }

    /// Opens an existing database for reading only (operator checks and
    /// exports): nothing is created or migrated.
    pub fn open_read_only(path: &Path) -> Result<Store, StoreError> {
        let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::TooNew { found });
        }
        conn.busy_timeout(std::time::Duration::from_millis(2000))?;
        Ok(Store { conn })
    }

    /// An in-memory database (tests).
    pub fn in_memory() -> Result<Store, StoreError> {
        Store::from_connection(Connection::open_in_memory()?)
    }

    fn from_connection(conn: Connection) -> Result<Store, StoreError> {
        let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::TooNew { found });
        }
        conn.busy_timeout(std::time::Duration::from_millis(200))?;
        // A file SQLite could only open read-only (or a read-only URI)
        // fails here, before anything else is attempted: taking the write
        // lock is the one check that does not depend on who runs the zone.
        if conn.is_readonly(rusqlite::DatabaseName::Main)? {
            return Err(StoreError::Sql(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_READONLY),
                Some("the database was opened read-only".into()),
            )));
        }
        conn.execute_batch("BEGIN IMMEDIATE; ROLLBACK;")?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        let mut store = Store { conn };
        store.migrate(found)?;
        Ok(store)
    }

    fn migrate(&mut self, from: i64) -> Result<(), StoreError> {
        if from < 1 {
            let tx = self.conn.transaction()?;
            tx.execute_batch(
                "CREATE TABLE IF NOT EXISTS interval_serial (
                     scope    TEXT NOT NULL,
                     interval INTEGER NOT NULL,
                     serial   INTEGER NOT NULL,
                     started  INTEGER NOT NULL,
                     PRIMARY KEY (scope, interval)
                 );
                 CREATE TABLE IF NOT EXISTS interval_history (
                     scope    TEXT NOT NULL,
                     interval INTEGER NOT NULL,
                     serial   INTEGER NOT NULL,
                     started  INTEGER NOT NULL,
                     ended    INTEGER NOT NULL,
                     PRIMARY KEY (scope, interval, serial)
                 );
                 CREATE TABLE IF NOT EXISTS player_stats (
                     player   TEXT NOT NULL,
                     scope    TEXT NOT NULL,
                     interval INTEGER NOT NULL,
                     serial   INTEGER NOT NULL,
                     stat     INTEGER NOT NULL,
                     value    INTEGER NOT NULL,
                     PRIMARY KEY (player, scope, interval, serial, stat)
                 );
                 CREATE TABLE IF NOT EXISTS player_zone (
                     player     TEXT PRIMARY KEY,
                     last_arena TEXT,
                     chat_mask  INTEGER,
                     banner     BLOB,
                     updated    INTEGER NOT NULL
                 );
                 CREATE TABLE IF NOT EXISTS schedule (
                     name    TEXT PRIMARY KEY,
                     next_at INTEGER NOT NULL
                 );
                 PRAGMA user_version = 1;",
            )?;
            tx.commit()?;
        }
        if from < 2 {
            // v2: a timed chat mask needs its end time.
            let tx = self.conn.transaction()?;
            tx.execute_batch(
                "ALTER TABLE player_zone ADD COLUMN chat_mask_ends INTEGER;
                 PRAGMA user_version = 2;",
            )?;
            tx.commit()?;
        }
        if from < 3 {
            // v3: timed kicks (`?kick -t`) outlive a zone restart.
            let tx = self.conn.transaction()?;
            tx.execute_batch(
                "CREATE TABLE IF NOT EXISTS kick_bans (
                     id         INTEGER PRIMARY KEY,
                     name       TEXT NOT NULL,
                     machine_id INTEGER NOT NULL,
                     expires    INTEGER NOT NULL,
                     kicker     TEXT NOT NULL,
                     reason     TEXT NOT NULL,
                     created    INTEGER NOT NULL
                 );
                 PRAGMA user_version = 3;",
            )?;
            tx.commit()?;
        }
        Ok(())
    }

    /// Stores a timed kick (replacing one with the same id).
    pub fn put_ban(&mut self, ban: &BanRecord) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT OR REPLACE INTO kick_bans (id, name, machine_id, expires, kicker, reason, created)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                ban.id,
                ban.name,
                i64::from(ban.machine_id),
                ban.expires,
                ban.kicker,
                ban.reason,
                ban.created
            ],
        )?;
        Ok(())
    }

    /// Removes timed kicks by id.
    pub fn delete_bans(&mut self, ids: &[i64]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        for id in ids {
            tx.execute("DELETE FROM kick_bans WHERE id = ?1", params![id])?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Deletes the kicks that ended before `now` and returns the rest,
    /// oldest first.
    pub fn active_bans(&mut self, now: i64) -> Result<Vec<BanRecord>, StoreError> {
        let pruned = self
            .conn
            .execute("DELETE FROM kick_bans WHERE expires <= ?1", params![now])?;
        if pruned > 0 {
            tracing::info!(pruned, "expired kicks removed from the database");
        }
        let mut stmt = self.conn.prepare(
            "SELECT id, name, machine_id, expires, kicker, reason, created
             FROM kick_bans ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(BanRecord {
                id: r.get(0)?,
                name: r.get(1)?,
                machine_id: u32::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
                expires: r.get(3)?,
                kicker: r.get(4)?,
                reason: r.get(5)?,
                created: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// A player's zone-wide data.
    pub fn zone_data(&self, player: &str) -> Result<PlayerZoneData, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT banner, chat_mask, chat_mask_ends, last_arena FROM player_zone
                 WHERE player = ?1",
                params![player],
                |r| {
                    let banner: Option<Vec<u8>> = r.get(0)?;
                    let mask: Option<i64> = r.get(1)?;
                    let ends: Option<i64> = r.get(2)?;
                    Ok(PlayerZoneData {
                        banner: banner.filter(|b| !b.is_empty()),
                        chat_mask: mask.zip(ends).map(|(m, e)| (m as u32, e)),
                        last_arena: r.get(3)?,
                    })
                },
            )
            .optional()?
            .unwrap_or_default())
    }

    /// Stores a player's banner (`None` clears it).
    pub fn set_banner(&mut self, player: &str, banner: Option<&[u8]>) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO player_zone (player, banner, updated) VALUES (?1, ?2, ?3)
             ON CONFLICT(player) DO UPDATE SET banner = excluded.banner,
                                               updated = excluded.updated",
            params![player, banner, now_secs()],
        )?;
        Ok(())
    }

    /// Stores a player's timed chat mask (`None` clears it).
    pub fn set_chat_mask(
        &mut self,
        player: &str,
        mask: Option<(u32, i64)>,
    ) -> Result<(), StoreError> {
        let (m, e) = match mask {
            Some((m, e)) => (Some(m as i64), Some(e)),
            None => (None, None),
        };
        self.conn.execute(
            "INSERT INTO player_zone (player, chat_mask, chat_mask_ends, updated)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(player) DO UPDATE SET chat_mask = excluded.chat_mask,
                                               chat_mask_ends = excluded.chat_mask_ends,
                                               updated = excluded.updated",
            params![player, m, e, now_secs()],
        )?;
        Ok(())
    }

    /// The current serial of an interval in a scope (0 if never ended).
    pub fn serial(&self, scope: &str, interval: i64) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT serial FROM interval_serial WHERE scope = ?1 AND interval = ?2",
                params![scope, interval],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(0))
    }

    /// A player's stats of one interval in a scope, current serial.
    pub fn load(&self, player: &str, scope: &str, interval: i64) -> Result<StatMap, StoreError> {
        let serial = self.serial(scope, interval)?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT stat, value FROM player_stats
             WHERE player = ?1 AND scope = ?2 AND interval = ?3 AND serial = ?4",
        )?;
        let rows = stmt.query_map(params![player, scope, interval, serial], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
        })?;
        let mut out = StatMap::new();
        for row in rows {
            let (stat, value) = row?;
            if let Ok(stat) = u16::try_from(stat) {
                out.insert(stat, value);
            }
        }
        Ok(out)
    }

    /// Writes a batch in one transaction; each write replaces the whole
    /// interval map of its (player, scope, interval) at the current serial.
    pub fn write(&mut self, batch: &[StatsWrite]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        for w in batch {
            let serial: i64 = tx
                .query_row(
                    "SELECT serial FROM interval_serial WHERE scope = ?1 AND interval = ?2",
                    params![w.scope, w.interval],
                    |r| r.get(0),
                )
                .optional()?
                .unwrap_or(0);
            tx.execute(
                "DELETE FROM player_stats
                 WHERE player = ?1 AND scope = ?2 AND interval = ?3 AND serial = ?4",
                params![w.player, w.scope, w.interval, serial],
            )?;
            let mut insert = tx.prepare_cached(
                "INSERT INTO player_stats (player, scope, interval, serial, stat, value)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for (&stat, &value) in &w.stats {
                if value != 0 {
                    insert.execute(params![w.player, w.scope, w.interval, serial, stat, value])?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Ends an interval in a scope: the current serial becomes history and
    /// a new, empty one starts. Returns the new serial.
    pub fn end_interval(&mut self, scope: &str, interval: i64) -> Result<i64, StoreError> {
        let now = now_secs();
        let tx = self.conn.transaction()?;
        let (serial, started): (i64, i64) = tx
            .query_row(
                "SELECT serial, started FROM interval_serial WHERE scope = ?1 AND interval = ?2",
                params![scope, interval],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?
            .unwrap_or((0, 0));
        tx.execute(
            "INSERT OR REPLACE INTO interval_history (scope, interval, serial, started, ended)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![scope, interval, serial, started, now],
        )?;
        tx.execute(
            "INSERT OR REPLACE INTO interval_serial (scope, interval, serial, started)
             VALUES (?1, ?2, ?3, ?4)",
            params![scope, interval, serial + 1, now],
        )?;
        tx.commit()?;
        Ok(serial + 1)
    }

    /// Every scope that has stats of an interval (for zone-wide resets).
    pub fn scopes_with(&self, interval: i64) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT DISTINCT scope FROM player_stats WHERE interval = ?1
             UNION SELECT scope FROM interval_serial WHERE interval = ?1",
        )?;
        let rows = stmt.query_map(params![interval], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Records a player's zone data (last arena).
    pub fn set_last_arena(&mut self, player: &str, arena: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO player_zone (player, last_arena, updated) VALUES (?1, ?2, ?3)
             ON CONFLICT(player) DO UPDATE SET last_arena = excluded.last_arena,
                                               updated = excluded.updated",
            params![player, arena, now_secs()],
        )?;
        Ok(())
    }

    /// When a named schedule is next due (seconds since the epoch).
    pub fn schedule_next(&self, name: &str) -> Result<Option<i64>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT next_at FROM schedule WHERE name = ?1",
                params![name],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Sets when a named schedule is next due.
    pub fn set_schedule_next(&mut self, name: &str, next_at: i64) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT OR REPLACE INTO schedule (name, next_at) VALUES (?1, ?2)",
            params![name, next_at],
        )?;
        Ok(())
    }

    /// Runs SQLite's integrity check; `Ok` holds its report ("ok" when sound).
    pub fn integrity_check(&self) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.conn.prepare("PRAGMA integrity_check")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Everything, as JSON, for operators.
    pub fn export(&self) -> Result<Value, StoreError> {
        let mut players: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        let mut stmt = self.conn.prepare(
            "SELECT player, scope, interval, serial, stat, value FROM player_stats
             ORDER BY player, scope, interval, serial, stat",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, i64>(5)?,
            ))
        })?;
        for row in rows {
            let (player, scope, interval, serial, stat, value) = row?;
            players.entry(player).or_default().push(json!({
                "scope": scope, "interval": interval, "serial": serial,
                "stat": stat, "value": value,
            }));
        }
        let mut serials = Vec::new();
        let mut stmt = self.conn.prepare(
            "SELECT scope, interval, serial, started FROM interval_serial ORDER BY scope, interval",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(json!({
                "scope": r.get::<_, String>(0)?, "interval": r.get::<_, i64>(1)?,
                "serial": r.get::<_, i64>(2)?, "started": r.get::<_, i64>(3)?,
            }))
        })?;
        for row in rows {
            serials.push(row?);
        }
        let mut zone = Vec::new();
        let mut stmt = self
            .conn
            .prepare("SELECT player, last_arena, updated FROM player_zone ORDER BY player")?;
        let rows = stmt.query_map([], |r| {
            Ok(json!({
                "player": r.get::<_, String>(0)?,
                "last_arena": r.get::<_, Option<String>>(1)?,
                "updated": r.get::<_, i64>(2)?,
            }))
        })?;
        for row in rows {
            zone.push(row?);
        }
        Ok(json!({
            "schema_version": SCHEMA_VERSION,
            "players": players,
            "intervals": serials,
            "player_zone": zone,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(pairs: &[(u16, i64)]) -> StatMap {
        pairs.iter().copied().collect()
    }

    #[test]
    fn writes_replace_and_load_back() {
        let mut s = Store::in_memory().unwrap();
        let w = StatsWrite {
            player: "bob".into(),
            scope: "(public)".into(),
            interval: 1,
            stats: stats(&[(0, 100), (2, 3)]),
        };
        s.write(std::slice::from_ref(&w)).unwrap();
        assert_eq!(
            s.load("bob", "(public)", 1).unwrap(),
            stats(&[(0, 100), (2, 3)])
        );
        let w2 = StatsWrite {
            stats: stats(&[(0, 150)]),
            ..w
        };
        s.write(&[w2]).unwrap();
        assert_eq!(s.load("bob", "(public)", 1).unwrap(), stats(&[(0, 150)]));
        assert!(s.load("bob", "(public)", 0).unwrap().is_empty());
        assert!(s.load("bob", "duel", 1).unwrap().is_empty());
    }

    #[test]
    fn ending_an_interval_starts_empty_and_keeps_history() {
        let mut s = Store::in_memory().unwrap();
        s.write(&[StatsWrite {
            player: "bob".into(),
            scope: "(public)".into(),
            interval: 1,
            stats: stats(&[(0, 100)]),
        }])
        .unwrap();
        assert_eq!(s.end_interval("(public)", 1).unwrap(), 1);
        assert!(s.load("bob", "(public)", 1).unwrap().is_empty());
        let export = s.export().unwrap();
        assert_eq!(export["players"]["bob"][0]["serial"], 0);
        assert_eq!(export["intervals"][0]["serial"], 1);
        assert_eq!(s.integrity_check().unwrap(), vec!["ok".to_string()]);
    }

    #[test]
    fn a_newer_schema_is_refused_without_changes() {
        let dir = std::env::temp_dir().join(format!("ss-persist-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("new.db");
        let _ = std::fs::remove_file(&path);
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch("CREATE TABLE future (x); PRAGMA user_version = 99;")
                .unwrap();
        }
        let before = std::fs::read(&path).unwrap();
        match Store::open(&path) {
            Err(StoreError::TooNew { found }) => assert_eq!(found, 99),
            other => panic!("expected TooNew, got {:?}", other.err()),
        }
        assert_eq!(std::fs::read(&path).unwrap(), before, "file untouched");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_read_only_database_is_refused_naming_the_file() {
        let dir = std::env::temp_dir().join(format!("ss-persist-ro-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("zone.db");
        // A zone's database as a clean shutdown leaves it: migrated, in WAL
        // mode, nothing left to write, so only a write attempt tells.
        Store::open(&path).unwrap().close().unwrap();
        let before = std::fs::read(&path).unwrap();
        // Tests may run as root, for whom file modes do not stop writes;
        // a read-only URI gives SQLite the same read-only connection a
        // read-only file or mount would.
        let uri = format!("file:{}?mode=ro", path.display());
        match Store::open(Path::new(&uri)) {
            Err(e @ StoreError::NotWritable { .. }) => {
                let text = e.to_string();
                assert!(text.contains(&uri), "{text}");
                assert!(text.contains("not writable"), "{text}");
            }
            other => panic!("expected NotWritable, got {:?}", other.err()),
        }
        assert_eq!(std::fs::read(&path).unwrap(), before, "file untouched");

        // With file modes too, where they apply (not as root).
        let mut perms = std::fs::metadata(&path).unwrap().permissions();
        perms.set_readonly(true);
        std::fs::set_permissions(&path, perms.clone()).unwrap();
        let modes_apply = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .is_err();
        if modes_apply {
            match Store::open(&path) {
                Err(e @ StoreError::NotWritable { .. }) => {
                    assert!(e.to_string().contains(&path.display().to_string()))
                }
                other => panic!("expected NotWritable, got {:?}", other.err()),
            }
        }
        #[allow(clippy::permissions_set_readonly_false)]
        perms.set_readonly(false);
        std::fs::set_permissions(&path, perms).unwrap();
        assert!(Store::open(&path).is_ok(), "writable again");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn zone_data_round_trips() {
        let mut s = Store::in_memory().unwrap();
        assert_eq!(s.zone_data("bob").unwrap(), PlayerZoneData::default());
        s.set_banner("bob", Some(&[7u8; 96])).unwrap();
        s.set_chat_mask("bob", Some((5, 1_900_000_000))).unwrap();
        s.set_last_arena("bob", "duel").unwrap();
        let d = s.zone_data("bob").unwrap();
        assert_eq!(d.banner, Some(vec![7u8; 96]));
        assert_eq!(d.chat_mask, Some((5, 1_900_000_000)));
        assert_eq!(d.last_arena.as_deref(), Some("duel"));
        s.set_chat_mask("bob", None).unwrap();
        assert_eq!(s.zone_data("bob").unwrap().chat_mask, None);
    }

    #[test]
    fn timed_kicks_are_kept_lifted_and_pruned() {
        let mut s = Store::in_memory().unwrap();
        let ban = |id: i64, name: &str, expires: i64| BanRecord {
            id,
            name: name.to_string(),
            machine_id: 4_000_000_000,
            expires,
            kicker: "sysop".into(),
            reason: "spam".into(),
            created: 10,
        };
        s.put_ban(&ban(1, "alice", 100)).unwrap();
        s.put_ban(&ban(2, "bob", 300)).unwrap();
        s.put_ban(&ban(3, "carol", 400)).unwrap();
        assert_eq!(
            s.active_bans(50).unwrap(),
            vec![
                ban(1, "alice", 100),
                ban(2, "bob", 300),
                ban(3, "carol", 400)
            ],
            "machine ids above i32 round-trip"
        );
        s.delete_bans(&[2]).unwrap();
        assert_eq!(
            s.active_bans(200).unwrap(),
            vec![ban(3, "carol", 400)],
            "lifted and expired kicks are gone"
        );
        assert_eq!(s.active_bans(0).unwrap().len(), 1, "pruning deleted alice");
    }

    #[test]
    fn version_1_files_are_migrated() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE player_zone (player TEXT PRIMARY KEY, last_arena TEXT,
                 chat_mask INTEGER, banner BLOB, updated INTEGER NOT NULL);
             CREATE TABLE interval_serial (scope TEXT NOT NULL, interval INTEGER NOT NULL,
                 serial INTEGER NOT NULL, started INTEGER NOT NULL, PRIMARY KEY (scope, interval));
             CREATE TABLE interval_history (scope TEXT NOT NULL, interval INTEGER NOT NULL,
                 serial INTEGER NOT NULL, started INTEGER NOT NULL, ended INTEGER NOT NULL,
                 PRIMARY KEY (scope, interval, serial));
             CREATE TABLE player_stats (player TEXT NOT NULL, scope TEXT NOT NULL,
                 interval INTEGER NOT NULL, serial INTEGER NOT NULL, stat INTEGER NOT NULL,
                 value INTEGER NOT NULL, PRIMARY KEY (player, scope, interval, serial, stat));
             CREATE TABLE schedule (name TEXT PRIMARY KEY, next_at INTEGER NOT NULL);
             INSERT INTO player_zone (player, last_arena, updated) VALUES ('bob', '0', 1);
             PRAGMA user_version = 1;",
        )
        .unwrap();
        let mut s = Store::from_connection(conn).unwrap();
        s.set_chat_mask("bob", Some((1, 2))).unwrap();
        assert_eq!(s.active_bans(0).unwrap(), vec![], "v3 added the kick table");
        assert_eq!(s.zone_data("bob").unwrap().last_arena.as_deref(), Some("0"));
        let v: i64 = s
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
    }

    #[test]
    fn schedules_persist() {
        let mut s = Store::in_memory().unwrap();
        assert_eq!(s.schedule_next("reset").unwrap(), None);
        s.set_schedule_next("reset", 1234).unwrap();
        assert_eq!(s.schedule_next("reset").unwrap(), Some(1234));
    }
}
