//! Timed games (`game_timer`, `docs/protocol/game-protocol.md` §14.7): with
//! `Misc:TimedGame` the arena's games end on their own, the best scorer is
//! named, and the arena's *game* score interval ends in the database
//! (`docs/protocol/persistence.md` §1.1) while the scores players see stay;
//! a moderator's `?timer` runs out once. Real binaries, bots over UDP, a
//! real SQLite file.

use std::path::Path;

use anyhow::{Context, Result};
use ss_proto::game::{chat_type, ship, S2CPacket};
use ss_tests::scenario::*;
use ss_tests::zone::{wait_until, TestZone, ZoneOptions};

/// (serial, value) rows of one stat.
type Rows = Vec<(i64, i64)>;

/// Game-interval kill points of `player` in arena "0", by serial, and the
/// arena's current game serial.
fn game_points(db: &Path, player: &str) -> Result<(Rows, Option<i64>)> {
    let conn = rusqlite::Connection::open_with_flags(
        db,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    let mut stmt = conn.prepare(
        "SELECT serial, value FROM player_stats
         WHERE player = ?1 AND scope = '0' AND interval = 5 AND stat = 0 ORDER BY serial",
    )?;
    let rows = stmt
        .query_map([player], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<Rows, _>>()?;
    let serial = conn
        .query_row(
            "SELECT serial FROM interval_serial WHERE scope = '0' AND interval = 5",
            [],
            |r| r.get(0),
        )
        .ok();
    Ok((rows, serial))
}

#[test]
fn a_timed_game_ends_with_its_winner_and_a_new_game_interval() {
    in_temp_dir("timed-game", |dir| {
        let db = dir.join("zone.db");
        let zone = TestZone::start_with(ZoneOptions {
            overrides: vec![
                format!("Persist:DatabasePath={}", db.display()),
                // Five-second games, one after the other.
                "Misc:TimedGame=500".into(),
            ],
            ..ZoneOptions::default()
        })?;
        let mut a = bot_in(&zone, "alice", "0", ship::WARBIRD)?;
        let mut b = bot_in(&zone, "bob", "0", ship::WARBIRD)?;
        let b_pid = wait_for_player(&mut a, "bob")?;
        a.chat(chat_type::PUBLIC, -1, "?time")?;
        wait_message(&mut a, "Time left: ")?;

        kill(&mut a, b_pid, 50)?;
        // The game holding the kill ends and names bob.
        wait_message(&mut b, "Best this game: bob (50)")?;
        wait_message(&mut b, "NOTICE: Game over")?;
        let ended = wait_until(WAIT, || {
            game_points(&db, "bob").is_ok_and(|(rows, serial)| {
                rows.iter()
                    .any(|&(s, v)| v == 50 && serial.is_some_and(|cur| cur > s))
            })
        });
        assert!(
            ended,
            "the game interval holding the kill did not end: {:?}",
            game_points(&db, "bob")
        );

        // The next game counts from zero; the scores players see do not.
        kill(&mut a, b_pid, 7)?;
        let fresh = wait_until(WAIT, || {
            game_points(&db, "bob").is_ok_and(|(rows, _)| rows.iter().any(|&(_, v)| v == 7))
        });
        assert!(
            fresh,
            "the new game interval did not start from zero: {:?}",
            game_points(&db, "bob")
        );
        a.wait_for(WAIT, |p| match p {
            S2CPacket::ScoreUpdate(u) if u.pid == b_pid && u.kill_points == 57 => Some(()),
            _ => None,
        })
        .context("bob's score counting both kills")?;
        Ok(())
    });
}

#[test]
fn a_moderators_timer_runs_out_once() {
    in_temp_dir("timer", |dir| {
        let zone_dir = init_zone_folder(dir)?;
        add_staff(&zone_dir, &[("moddy", "mod")])?;
        let zone = zone_from_folder(&zone_dir)?;
        let mut m = bot_in(&zone, "moddy", "0", ship::SPECTATOR)?;
        let mut p = bot_in(&zone, "player", "0", ship::SPECTATOR)?;
        // Not for everyone.
        p.chat(chat_type::PUBLIC, -1, "?timer 1")?;
        wait_message(&mut p, "You don't have permission to use ?timer.")?;
        m.chat(chat_type::PUBLIC, -1, "?timer 0:2")?;
        wait_message(&mut m, "Time left: ")?;
        wait_message(&mut p, "NOTICE: Game over")?;
        // A ?timer timer runs once: afterwards no time is left.
        p.chat(chat_type::PUBLIC, -1, "?time")?;
        wait_message(&mut p, "Time left: 0 seconds.")?;
        Ok(())
    });
}
