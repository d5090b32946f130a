//! Scores are the zone's, not the realm's: they survive realm crashes and
//! zone restarts, resets stick, scheduled resets happen once, arenas of one
//! score group share totals, and a database from a newer version is
//! refused. Real binaries, bots over UDP, a real SQLite file.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use nix::sys::signal::Signal;
use ss_proto::game::{chat_type, ship, S2CPacket};
use ss_proto::transport::{Priority, Reliability};
use ss_tests::bot::Bot;
use ss_tests::scenario::*;
use ss_tests::zone::{bin_dir, wait_until, TestZone, ZoneOptions};

/// A zone keeping scores in `db`, with extra overrides.
/// Longest wait for a scheduled reset (a few periods: a bound on the wait,
/// not on the zone's punctuality).
const RESET_WAIT: Duration = Duration::from_secs(20);

fn zone_with_db(db: &Path, extra: &[&str]) -> Result<TestZone> {
    let mut overrides = vec![format!("Persist:DatabasePath={}", db.display())];
    overrides.extend(extra.iter().map(|s| s.to_string()));
    TestZone::start_with(ZoneOptions {
        overrides,
        ..ZoneOptions::default()
    })
}

/// (kill points, kills, deaths) in a bot's own entry record.
fn own_score_on_entry(bot: &mut Bot, arena: &str) -> Result<(i32, u16, u16)> {
    let entry = bot.enter_arena(arena, ship::WARBIRD)?;
    let me = entry
        .players
        .iter()
        .find(|r| r.pid == entry.pid)
        .context("own record in the entry")?;
    Ok((me.kill_points, me.kills, me.deaths))
}

/// (kill points, kills, deaths) in the bot's own record of a re-entry
/// after a realm restart.
fn own_score_on_reentry(bot: &mut Bot) -> Result<(i32, u16, u16)> {
    let pid = bot
        .wait_for(WAIT, |p| match p {
            S2CPacket::WhoAmI { pid } => Some(*pid),
            _ => None,
        })
        .context("the re-entry's who-am-I")?;
    bot.wait_for(WAIT, |p| match p {
        S2CPacket::PlayerEntering(list) => list
            .iter()
            .find(|r| r.pid == pid)
            .map(|r| (r.kill_points, r.kills, r.deaths)),
        _ => None,
    })
    .context("own record in the re-entry")
}

fn logged_in(zone: &TestZone, name: &str) -> Result<Bot> {
    let mut bot = Bot::connect(zone.game_addr())?;
    bot.login(name, "secret")?;
    Ok(bot)
}

fn realm_pid(zone: &TestZone, name: &str) -> Result<u32> {
    let stats = zone.stats()?;
    stats["realms"]
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["name"] == name))
        .and_then(|r| r["process"]["pid"].as_u64())
        .map(|p| p as u32)
        .context("realm pid")
}

/// Whether `zone-supervisor db export` shows `player` with kill points
/// `points` in the reset interval.
fn exported_points(db: &Path, player: &str) -> Result<Option<i64>> {
    let out = std::process::Command::new(bin_dir()?.join("zone-supervisor"))
        .args(["db", "export", "--json", "--db"])
        .arg(db)
        .output()?;
    if !out.status.success() {
        bail!("db export failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    Ok(v["players"][player].as_array().and_then(|rows| {
        rows.iter()
            .find(|r| r["interval"] == 1 && r["stat"] == 0)
            .and_then(|r| r["value"].as_i64())
    }))
}

#[test]
fn acknowledged_kills_survive_a_realm_crash() {
    in_temp_dir("crash", |dir| {
        let zone = zone_with_db(&dir.join("zone.db"), &[])?;
        let mut a = bot_in(&zone, "alice", "0", ship::WARBIRD)?;
        let mut b = bot_in(&zone, "bob", "0", ship::WARBIRD)?;
        let a_pid = wait_for_player(&mut b, "alice")?;
        for bounty in [10, 20, 30] {
            kill(&mut b, a_pid, bounty)?;
        }
        // Killed right after the last kill was announced.
        let worker = realm_pid(&zone, "0")?;
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(worker as i32), Signal::SIGKILL)?;
        assert_eq!(own_score_on_reentry(&mut a)?, (60, 3, 0));
        assert_eq!(own_score_on_reentry(&mut b)?, (0, 0, 3));
        Ok(())
    });
}

#[test]
fn scores_survive_a_zone_restart_and_a_zone_crash() {
    in_temp_dir("restart", |dir| {
        let db = dir.join("zone.db");
        // Clean stop.
        let mut zone = zone_with_db(&db, &[])?;
        {
            let _a = bot_in(&zone, "alice", "0", ship::WARBIRD)?;
            let mut b = bot_in(&zone, "bob", "0", ship::WARBIRD)?;
            let a_pid = wait_for_player(&mut b, "alice")?;
            kill(&mut b, a_pid, 15)?;
            kill(&mut b, a_pid, 25)?;
            zone.signal(Signal::SIGTERM)?;
            ensure!(zone.wait_exit(WAIT)?.success(), "clean exit");
        }
        let mut zone = zone_with_db(&db, &[])?;
        let mut a = logged_in(&zone, "alice")?;
        assert_eq!(own_score_on_entry(&mut a, "0")?, (40, 2, 0));

        // Crash: what is a second old is on disk.
        let mut b = bot_in(&zone, "bob", "0", ship::WARBIRD)?;
        let a_pid = wait_for_player(&mut b, "alice")?;
        kill(&mut b, a_pid, 5)?;
        ensure!(
            wait_until(Duration::from_secs(5), || exported_points(&db, "alice")
                .ok()
                .flatten()
                == Some(45)),
            "the kill did not reach the database within the flush interval"
        );
        zone.signal(Signal::SIGKILL)?;
        zone.wait_exit(WAIT)?;
        let check = std::process::Command::new(bin_dir()?.join("zone-supervisor"))
            .args(["db", "check", "--db"])
            .arg(&db)
            .output()?;
        ensure!(
            check.status.success(),
            "db check after a crash: {}",
            String::from_utf8_lossy(&check.stderr)
        );
        drop(a);
        drop(b);
        let zone = zone_with_db(&db, &[])?;
        let mut a = logged_in(&zone, "alice")?;
        assert_eq!(own_score_on_entry(&mut a, "0")?, (45, 3, 0));
        Ok(())
    });
}

#[test]
fn a_score_reset_sticks_across_a_restart() {
    in_temp_dir("reset", |dir| {
        let db = dir.join("zone.db");
        let mut zone = zone_with_db(&db, &["Misc:SelfScoreReset=1"])?;
        {
            let mut a = bot_in(&zone, "alice", "0", ship::WARBIRD)?;
            let mut b = bot_in(&zone, "bob", "0", ship::WARBIRD)?;
            let a_pid = wait_for_player(&mut b, "alice")?;
            kill(&mut b, a_pid, 50)?;
            a.chat(chat_type::PUBLIC, -1, "?scorereset")?;
            a.wait_for(WAIT, |p| match p {
                S2CPacket::ScoreUpdate(u) if u.pid == a_pid && u.kill_points == 0 => Some(()),
                _ => None,
            })?;
            zone.signal(Signal::SIGTERM)?;
            ensure!(zone.wait_exit(WAIT)?.success());
        }
        let zone = zone_with_db(&db, &["Misc:SelfScoreReset=1"])?;
        let mut a = logged_in(&zone, "alice")?;
        assert_eq!(own_score_on_entry(&mut a, "0")?, (0, 0, 0));
        Ok(())
    });
}

#[test]
fn a_scheduled_reset_happens_once_per_period() {
    in_temp_dir("schedule", |dir| {
        const PERIOD_SECS: u64 = 3;
        let db = dir.join("zone.db");
        // Taken before the zone starts: an upper bound on how long the
        // zone has been running whenever it is read.
        let started = Instant::now();
        let zone = zone_with_db(
            &db,
            &[&format!("Persist:ResetIntervalSeconds={PERIOD_SECS}")],
        )?;
        let mut a = bot_in(&zone, "alice", "0", ship::WARBIRD)?;
        let mut b = bot_in(&zone, "bob", "0", ship::WARBIRD)?;
        let a_pid = wait_for_player(&mut b, "alice")?;
        let reset_of_alice = |p: &S2CPacket| matches!(p, S2CPacket::ScoreUpdate(u) if u.pid == a_pid && u.kills == 0);
        kill(&mut b, a_pid, 40)?;
        // The reset zeroes alice's score.
        a.wait_for(RESET_WAIT, |p| reset_of_alice(p).then_some(()))
            .context("the scheduled reset")?;
        // New points after it are zeroed again by the next period's reset.
        kill(&mut b, a_pid, 7)?;
        a.wait_for(WAIT, |p| match p {
            S2CPacket::ScoreUpdate(u) if u.pid == a_pid && u.kills > 0 => Some(()),
            _ => None,
        })
        .context("alice's new kill counted")?;
        a.wait_for(RESET_WAIT, |p| reset_of_alice(p).then_some(()))
            .context("the next period's reset")?;
        // Never more than one reset per period: the zone cannot have run
        // longer than the test has, and a slow machine only means fewer.
        let periods = started.elapsed().as_secs() / PERIOD_SECS + 1;
        let log = std::fs::read_to_string(zone.log_path())?;
        let resets = log.matches("scheduled score reset").count() as u64;
        ensure!(
            (2..=periods).contains(&resets),
            "{resets} scheduled resets logged in at most {periods} periods"
        );
        Ok(())
    });
}

#[test]
fn arenas_of_one_score_group_share_totals() {
    in_temp_dir("groups", |dir| {
        let zone = zone_with_db(&dir.join("zone.db"), &[])?;
        let mut a = bot_in(&zone, "alice", "0", ship::WARBIRD)?;
        let mut b = bot_in(&zone, "bob", "0", ship::WARBIRD)?;
        let a_pid = wait_for_player(&mut b, "alice")?;
        kill(&mut b, a_pid, 33)?;
        // "0" and "1" are both in the (public) group; "duel" is not.
        a.leave_arena()?;
        assert_eq!(own_score_on_entry(&mut a, "1")?, (33, 1, 0));
        a.leave_arena()?;
        assert_eq!(own_score_on_entry(&mut a, "duel")?, (0, 0, 0));
        a.leave_arena()?;
        assert_eq!(own_score_on_entry(&mut a, "0")?, (33, 1, 0));
        Ok(())
    });
}

#[test]
fn a_database_from_a_newer_version_is_refused_untouched() {
    let dir = TempDir::new("newer");
    let db = dir.path().join("zone.db");
    {
        let conn = rusqlite::Connection::open(&db).expect("sqlite");
        conn.execute_batch("CREATE TABLE future (x); PRAGMA user_version = 42;")
            .expect("newer schema");
    }
    let before = std::fs::read(&db).expect("read db");
    let err = match zone_with_db(&db, &[]) {
        Ok(_) => panic!("the zone started on a newer database"),
        Err(e) => format!("{e:?}"),
    };
    assert!(err.contains("newer"), "unclear error: {err}");
    assert_eq!(std::fs::read(&db).expect("read db"), before, "file changed");
}

#[test]
fn a_locked_database_keeps_changes_in_memory_until_it_frees_up() {
    in_temp_dir("locked", |dir| {
        let db = dir.join("zone.db");
        let zone = zone_with_db(&db, &[])?;
        let mut a = bot_in(&zone, "alice", "0", ship::WARBIRD)?;
        let mut b = bot_in(&zone, "bob", "0", ship::WARBIRD)?;
        let a_pid = wait_for_player(&mut b, "alice")?;
        // Another process holds the write lock.
        let locker = rusqlite::Connection::open(&db)?;
        locker.execute_batch("BEGIN EXCLUSIVE")?;
        kill(&mut b, a_pid, 12)?;
        let pending = |zone: &TestZone| {
            zone.stats()
                .ok()
                .and_then(|s| s["zone"]["persist"]["pending_writes"].as_u64())
                .unwrap_or(0)
        };
        ensure!(
            wait_until(Duration::from_secs(8), || pending(&zone) > 0),
            "no pending writes while the database was locked"
        );
        let stats = zone.stats()?;
        ensure!(
            stats["zone"]["persist"]["failed_writes"]
                .as_u64()
                .unwrap_or(0)
                > 0
        );
        // The zone plays on meanwhile.
        a.chat(chat_type::PUBLIC, -1, "still here")?;
        b.wait_for(WAIT, |p| {
            matches!(p, S2CPacket::Chat(c) if c.text == "still here").then_some(())
        })?;
        locker.execute_batch("ROLLBACK")?;
        drop(locker);
        ensure!(
            wait_until(Duration::from_secs(8), || pending(&zone) == 0),
            "pending writes were not saved once the lock was gone"
        );
        ensure!(
            wait_until(WAIT, || exported_points(&db, "alice").ok().flatten()
                == Some(12)),
            "the kill is not in the database"
        );
        Ok(())
    });
}

/// Sends C2S 0x19 (a 96-byte banner).
fn set_banner(bot: &mut Bot, fill: u8) -> Result<()> {
    let mut pkt = vec![0x19u8];
    pkt.extend(std::iter::repeat_n(fill, 96));
    bot.send_raw(&pkt, Reliability::Reliable, Priority::Normal)
}

/// Waits for S2C 0x1F with `pid`'s banner; returns its first byte.
fn wait_banner(bot: &mut Bot, pid: i16) -> Result<u8> {
    bot.wait_for(WAIT, |p| match p {
        S2CPacket::Other { ptype: 0x1F, body }
            if body.len() == 98 && i16::from_le_bytes([body[0], body[1]]) == pid =>
        {
            Some(body[2])
        }
        _ => None,
    })
    .context("a banner packet")
}

#[test]
fn banners_and_timed_chat_masks_outlive_a_zone_restart() {
    in_temp_dir("zonedata", |dir| {
        let db = dir.join("zone.db");
        let mut zone = zone_with_db(&db, &["Chat:FloodLimit=3"])?;
        {
            let mut a = bot_in(&zone, "alice", "0", ship::SPECTATOR)?;
            let mut b = bot_in(&zone, "bob", "0", ship::SPECTATOR)?;
            let a_pid = wait_for_player(&mut b, "alice")?;
            set_banner(&mut a, 0x5A)?;
            assert_eq!(wait_banner(&mut b, a_pid)?, 0x5A);
            // A flood shut-up is a timed chat mask.
            for i in 0..5 {
                a.chat(chat_type::PUBLIC, -1, &format!("spam {i}"))?;
            }
            a.wait_for(WAIT, |p| match p {
                S2CPacket::Chat(c) if c.text.contains("shut up") => Some(()),
                _ => None,
            })?;
            zone.signal(Signal::SIGTERM)?;
            ensure!(zone.wait_exit(WAIT)?.success());
        }
        let zone = zone_with_db(&db, &["Chat:FloodLimit=3"])?;
        let mut a = bot_in(&zone, "alice", "0", ship::SPECTATOR)?;
        let mut b = bot_in(&zone, "bob", "0", ship::SPECTATOR)?;
        let a_pid = wait_for_player(&mut b, "alice")?;
        // bob, entering after alice, receives her stored banner.
        assert_eq!(wait_banner(&mut b, a_pid)?, 0x5A);
        // alice is still shut up after the restart: her ship change after
        // the message is the marker.
        a.chat(chat_type::PUBLIC, -1, "am I heard?")?;
        a.set_ship(ship::WARBIRD)?;
        b.expect_none_before(
            |p| matches!(p, S2CPacket::ShipChange { pid, .. } if *pid == a_pid).then_some(()),
            |p| matches!(p, S2CPacket::Chat(c) if c.text == "am I heard?"),
        )?;
        Ok(())
    });
}

/// Regression (fault campaign: a database the zone cannot write): while
/// writes fail, `stats --json` says so with the error, and the stats table
/// and staff's `?realms` mention it; once the other writer lets go, the
/// kept writes are saved and the reports clear. The systemd status line
/// says so too.
#[test]
fn failing_database_writes_are_reported_until_they_recover() {
    in_temp_dir("failing", |dir| {
        let zone_dir = init_zone_folder(dir)?;
        add_staff(&zone_dir, &[("smoddy", "smod")])?;
        let (notify, notify_path) = notify_socket(dir)?;
        let zone = TestZone::start_with(ZoneOptions {
            zone_dir: Some(zone_dir.clone()),
            env: vec![("NOTIFY_SOCKET".into(), notify_path.display().to_string())],
            ..ZoneOptions::default()
        })?;
        let db = std::path::PathBuf::from(
            zone.stats()?["zone"]["persist"]["path"]
                .as_str()
                .context("the database path in stats")?,
        );
        let mut staff = bot_in(&zone, "smoddy", "0", ship::WARBIRD)?;
        let mut b = bot_in(&zone, "bob", "0", ship::WARBIRD)?;
        let staff_pid = wait_for_player(&mut b, "smoddy")?;
        let persist = |zone: &TestZone| {
            zone.stats()
                .map(|s| s["zone"]["persist"].clone())
                .unwrap_or_default()
        };
        let p = persist(&zone);
        ensure!(p["write_failing"] == false, "failing from the start: {p}");

        // Another process holds the write lock; a kill makes a write.
        let locker = rusqlite::Connection::open(&db)?;
        locker.execute_batch("BEGIN EXCLUSIVE")?;
        kill(&mut b, staff_pid, 12)?;
        ensure!(
            wait_until(WAIT, || persist(&zone)["write_failing"] == true),
            "writes not reported failing: {}",
            persist(&zone)
        );
        let p = persist(&zone);
        let error = p["last_error"].as_str().unwrap_or_default();
        ensure!(error.contains("locked"), "last error {error:?}: {p}");
        ensure!(p["pending_writes"].as_u64() > Some(0), "{p}");
        let table = zone.cli(&["stats"])?;
        ensure!(
            table.contains("database writes failing"),
            "stats table:\n{table}"
        );
        staff.chat(chat_type::PUBLIC, -1, "?realms")?;
        let line = wait_message(&mut staff, "database writes failing")?;
        ensure!(line.contains("locked"), "{line:?}");
        wait_notify_line(&notify, |l| {
            l.starts_with("STATUS=") && l.contains("DATABASE WRITES FAILING")
        })
        .context("the systemd status line")?;

        locker.execute_batch("ROLLBACK")?;
        drop(locker);
        ensure!(
            wait_until(WAIT, || {
                let p = persist(&zone);
                p["write_failing"] == false && p["pending_writes"] == 0
            }),
            "writes still failing after the lock went: {}",
            persist(&zone)
        );
        ensure!(persist(&zone)["last_error"].is_null(), "{}", persist(&zone));
        wait_notify_line(&notify, |l| {
            l.starts_with("STATUS=") && !l.contains("DATABASE")
        })
        .context("the systemd status line after recovery")?;
        // `?realms` no longer mentions the database: its realm lines come
        // without a database line before them.
        staff.chat(chat_type::PUBLIC, -1, "?realms")?;
        staff.expect_none_before(
            |p| matches!(p, S2CPacket::Chat(c) if c.text.starts_with("0: running")).then_some(()),
            |p| matches!(p, S2CPacket::Chat(c) if c.text.contains("database")),
        )?;
        ensure!(
            wait_until(WAIT, || exported_points(&db, "smoddy").ok().flatten()
                == Some(12)),
            "the kill is not in the database"
        );
        Ok(())
    });
}
