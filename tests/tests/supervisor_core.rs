//! What the supervisor decides by itself, checked end to end: malformed
//! packets it handles (login, arena choice, leaving, billing forms) are
//! dropped and counted, never acted on; a failed score load never enters
//! the player with zeros nor overwrites his stored scores; a failed default
//! arena does not strand anyone; the housekeeping tick sleeps while
//! nothing needs it (an empty zone, a quiet one), and what is not
//! acknowledged is still sent again. Real binaries, bots over UDP.

use std::path::Path;

use anyhow::{ensure, Context, Result};
use rand::{Rng, SeedableRng};
use serde_json::Value;
use ss_proto::game::{c2s_type, chat_type, ship, C2SPacket, ClientKind, S2CPacket, ZonePacket};
use ss_proto::transport::{Priority, Reliability};
use ss_tests::bot::Bot;
use ss_tests::scenario::*;
use ss_tests::zone::{wait_until, TestZone, ZoneOptions};

fn zone_counter(stats: &Value, key: &str) -> u64 {
    stats["zone"][key].as_u64().unwrap_or(0)
}

fn realm_players(stats: &Value, name: &str) -> Option<u64> {
    stats["realms"]
        .as_array()?
        .iter()
        .find(|r| r["name"] == name)?["players"]
        .as_u64()
}

/// `from` says something in public and `to` must hear it: proof that
/// `from` is still in the arena with `to`.
fn still_together(from: &mut Bot, to: &mut Bot, text: &str) -> Result<()> {
    let from_pid = pid_of(from);
    from.chat(chat_type::PUBLIC, -1, text)?;
    to.wait_for(WAIT, |p| match p {
        S2CPacket::Chat(c) if c.pid == from_pid && c.text == text => Some(()),
        _ => None,
    })
    .with_context(|| format!("{text:?} from pid {from_pid}"))
}

/// Wrong-length versions of every packet the supervisor handles itself.
fn malformed_zone_packets() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let lens: &[(u8, &[usize])] = &[
        // Leave arena: exactly 1 byte.
        (c2s_type::LEAVE_ARENA, &[2, 3, 26]),
        // Go to arena: 26 or 27 bytes.
        (c2s_type::GO_ARENA, &[1, 2, 25, 28, 60]),
        // Logins, while already logged in and with wrong lengths.
        (c2s_type::LOGIN, &[1, 100, 102, 165]),
        (c2s_type::CONTINUUM_LOGIN, &[1, 100, 164, 166]),
        // Registration form: at most 766 bytes.
        (c2s_type::REGISTRATION, &[767, 900]),
        // Banner: exactly 97 bytes.
        (c2s_type::BANNER, &[1, 96, 98]),
    ];
    for &(ptype, sizes) in lens {
        for &len in sizes {
            let mut p = vec![0u8; len];
            p[0] = ptype;
            // A plausible arena request inside: it must still not move him.
            if ptype == c2s_type::GO_ARENA && len > 10 {
                p[1] = ship::SPECTATOR;
                p[8..10].copy_from_slice(&(-3i16).to_le_bytes());
                p[10..14].copy_from_slice(b"evil");
            }
            out.push(p);
        }
    }
    out
}

#[test]
fn malformed_zone_packets_are_dropped_and_the_sender_stays_in_his_arena() {
    zone_test(&[], |zone| {
        let mut a = bot_in(zone, "alice", "0", ship::WARBIRD)?;
        let mut b = bot_in(zone, "bob", "0", ship::WARBIRD)?;
        wait_for_player(&mut b, "alice")?;
        let before = zone_counter(&zone.stats()?, "dropped_game");
        let packets = malformed_zone_packets();
        for p in &packets {
            // Each one is refused by the decoder the zone uses.
            let decoded = ZonePacket::decode(p, ClientKind::Vie);
            ensure!(decoded.is_err(), "{:02x?}… decodes: {decoded:?}", &p[..1]);
            a.send_raw(p, Reliability::Reliable, Priority::Normal)?;
        }
        // A well-formed login while logged in is out of place: dropped too.
        let mut login = vec![0u8; ss_proto::game::Login::VIE_LEN];
        login[0] = c2s_type::LOGIN;
        a.send_raw(&login, Reliability::Reliable, Priority::Normal)?;
        // Sent reliably and in order: once this chat arrives, every
        // malformed packet before it has been handled.
        still_together(&mut a, &mut b, "still here")?;
        let stats = zone.stats()?;
        let dropped = zone_counter(&stats, "dropped_game") - before;
        ensure!(
            dropped >= packets.len() as u64,
            "{dropped} of {} malformed packets counted",
            packets.len()
        );
        ensure!(realm_players(&stats, "0") == Some(2), "{stats}");
        ensure!(
            realm_players(&stats, "evil").is_none(),
            "moved to arena evil"
        );
        ensure!(!a.is_disconnected());
        Ok(())
    });
}

#[test]
fn thousands_of_malformed_packets_leave_the_sender_in_his_arena() {
    zone_test(&[], |zone| {
        let mut a = bot_in(zone, "alice", "0", ship::WARBIRD)?;
        let mut b = bot_in(zone, "bob", "0", ship::WARBIRD)?;
        wait_for_player(&mut b, "alice")?;
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let mut sent = 0;
        while sent < 3000 {
            let ptype: u8 = rng.gen_range(1..=0x40);
            let len = rng.gen_range(1..=300usize);
            let mut p = vec![0u8; len];
            rng.fill(&mut p[..]);
            p[0] = ptype;
            // Only what every decoder refuses: a malformed packet, not a
            // well-formed request that may legitimately move him.
            let zone_ok = matches!(ZonePacket::decode(&p, ClientKind::Vie), Ok(Some(_)));
            if zone_ok || C2SPacket::decode(&p).is_ok() {
                continue;
            }
            let reliability = if sent % 2 == 0 {
                Reliability::Reliable
            } else {
                Reliability::Unreliable
            };
            a.send_raw(&p, reliability, Priority::Normal)?;
            sent += 1;
            if sent % 250 == 0 {
                // Still flying where bob sees him (positions, not chat:
                // chat markers would trip the chat flood limit).
                let x = 1000 + sent as i16;
                stream_until_seen(&mut a, &mut b, x, 512)?;
                a.clear_backlog();
                b.clear_backlog();
            }
        }
        still_together(&mut a, &mut b, "still here")?;
        let stats = zone.stats()?;
        ensure!(realm_players(&stats, "0") == Some(2), "{stats}");
        ensure!(!a.is_disconnected());
        Ok(())
    });
}

/// The stats table's name in the database (see zone-persist's schema).
const STATS_TABLE: &str = "player_stats";

fn sql(db: &Path, statement: &str) -> Result<()> {
    let conn = rusqlite::Connection::open(db)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.execute_batch(statement)
        .with_context(|| format!("running {statement:?}"))
}

fn stored_rows(db: &Path) -> Result<Vec<(String, i64, i64)>> {
    let conn = rusqlite::Connection::open(db)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    let mut q = conn.prepare(&format!(
        "SELECT player, stat, value FROM {STATS_TABLE} ORDER BY player, scope, interval, stat"
    ))?;
    let rows = q
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

#[test]
fn a_failed_score_load_keeps_the_player_out_and_never_overwrites_his_scores() {
    in_temp_dir("loadfail", |dir| {
        let db = dir.join("zone.db");
        let zone = TestZone::start_with(ZoneOptions {
            overrides: vec![format!("Persist:DatabasePath={}", db.display())],
            ..ZoneOptions::default()
        })?;
        // Alice scores a kill, so she has a stored row worth keeping.
        let mut a = bot_in(&zone, "alice", "0", ship::WARBIRD)?;
        let mut b = bot_in(&zone, "bob", "0", ship::WARBIRD)?;
        let (alice, bob) = (pid_of(&a), pid_of(&b));
        face_off(&mut a, &mut b)?;
        b.send(
            &C2SPacket::Death {
                killer: alice,
                bounty: 50,
            },
            Reliability::Reliable,
            Priority::Normal,
        )?;
        b.wait_for(WAIT, |p| match p {
            S2CPacket::Kill(k) if k.killer == alice && k.killed == bob => Some(()),
            _ => None,
        })?;
        a.disconnect();
        // Her row reaches the database (written within a second or two).
        let written = wait_until(WAIT, || {
            stored_rows(&db).is_ok_and(|rows| rows.iter().any(|(p, _, v)| p == "alice" && *v > 0))
        });
        ensure!(written, "alice's score never reached the database");
        let before = stored_rows(&db)?;
        // The stats table becomes unreadable: her next load fails.
        sql(&db, &format!("ALTER TABLE {STATS_TABLE} RENAME TO hidden"))?;
        let mut a = Bot::connect(zone.game_addr())?;
        a.login("alice", "secret")?;
        a.send(
            &C2SPacket::GoArena(ss_proto::game::GoArena {
                ship: ship::WARBIRD,
                obscenity_filter: false,
                allow_audio: false,
                x_res: 1024,
                y_res: 768,
                arena_type: 0,
                arena_name: String::new(),
                optional_graphics: None,
            }),
            Reliability::Reliable,
            Priority::Normal,
        )?;
        // She is told and disconnected; she never entered the arena.
        let mut entered = false;
        a.wait_for(WAIT, |p| match p {
            S2CPacket::EnteredArena => {
                entered = true;
                None
            }
            S2CPacket::Chat(c) if c.text.contains("could not be loaded") => Some(()),
            _ => None,
        })
        .context("the load failure notice")?;
        a.wait_disconnected(WAIT)?;
        ensure!(!entered, "entered the arena without her scores");
        // The table comes back untouched: nothing wrote zeros over it.
        sql(&db, &format!("ALTER TABLE hidden RENAME TO {STATS_TABLE}"))?;
        ensure!(stored_rows(&db)? == before, "stored scores changed");
        // Once the database reads again, she enters with her real score.
        let mut a = Bot::connect(zone.game_addr())?;
        a.login("alice", "secret")?;
        let entry = a.enter_arena("0", ship::WARBIRD)?;
        let me = entry
            .players
            .iter()
            .find(|r| r.pid == entry.pid)
            .context("own record")?;
        ensure!(me.kills == 1, "entered with {} kills", me.kills);
        Ok(())
    });
}

#[test]
fn a_failed_default_arena_sends_everyone_to_the_next_public_arena() {
    in_temp_dir("zerofails", |dir| {
        let zone = TestZone::start_with(ZoneOptions {
            overrides: vec![
                "Realms:RestartLimit=2".into(),
                "Realms:RestartBackoffMillis=20".into(),
            ],
            worker: Some(failing_worker(dir, "0")?),
            ..ZoneOptions::default()
        })?;
        // Alice asks for the default arena; it crash-loops and fails, and
        // she is moved on and enters arena 1.
        let mut a = Bot::connect(zone.game_addr())?;
        a.login("alice", "secret")?;
        a.enter_arena("0", ship::WARBIRD)?;
        a.wait_for(WAIT, |p| match p {
            S2CPacket::Chat(c) if c.text.contains("moving you to arena 1") => Some(()),
            _ => None,
        })?;
        // Newcomers asking for the default arena keep getting in.
        let mut b = bot_in(&zone, "bob", "0", ship::WARBIRD)?;
        wait_for_player(&mut b, "alice")?;
        still_together(&mut a, &mut b, "we made it")?;
        let stats = zone.stats()?;
        ensure!(realm_players(&stats, "1") == Some(2), "{stats}");
        let zero = stats["realms"]
            .as_array()
            .and_then(|r| r.iter().find(|r| r["name"] == "0"))
            .context("realm 0 in stats")?;
        ensure!(zero["state"] == "failed", "{zero}");
        Ok(())
    });
}

#[test]
fn a_missing_map_is_a_problem_the_operator_sees_in_stats() {
    in_temp_dir("nomap", |dir| {
        let zone_dir = init_zone_folder(dir)?;
        let arena = zone_dir.join("arenas").join("nomap");
        std::fs::create_dir_all(&arena)?;
        std::fs::write(arena.join("arena.conf"), "[General]\nMap = nosuch.lvl\n")?;
        let zone = zone_from_folder(&zone_dir)?;
        // The arena still runs (on the emergency map)...
        let _a = bot_in(&zone, "alice", "nomap", ship::WARBIRD)?;
        // ...and says what is wrong with it.
        let stats = zone.stats()?;
        let realm = stats["realms"]
            .as_array()
            .and_then(|r| r.iter().find(|r| r["name"] == "nomap"))
            .context("realm nomap in stats")?;
        let problems = realm["problems"].to_string();
        ensure!(problems.contains("nosuch.lvl"), "problems: {problems}");
        let table = zone.cli(&["stats"])?;
        ensure!(table.contains("problem: map nosuch.lvl"), "{table}");
        Ok(())
    });
}

/// Voluntary context switches of a process's main thread: how often its
/// event loop went to sleep and was woken.
fn main_thread_wakeups(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
        .and_then(|v| v.trim().parse().ok())
        .context("no voluntary_ctxt_switches line")
}

/// Watches the zone's main thread for `secs` seconds: how often it woke,
/// and the seconds that actually passed (at least `secs`).
fn main_thread_wakeups_over(pid: u32, secs: u64) -> Result<(u64, f64)> {
    let t0 = std::time::Instant::now();
    let w0 = main_thread_wakeups(pid)?;
    std::thread::sleep(std::time::Duration::from_secs(secs));
    let w1 = main_thread_wakeups(pid)?;
    Ok((w1 - w0, t0.elapsed().as_secs_f64()))
}

#[test]
fn an_empty_zone_ticks_slowly_and_its_first_players_are_served_at_once() {
    zone_test(&[], |zone| {
        // Nobody connected: the 100 ms idle tick, about 10 wake-ups a
        // second. A 10 ms tick alone would be 100; a busy machine can
        // only make the count smaller (timers fire late, never early).
        let (woke, secs) = main_thread_wakeups_over(zone.pid(), 2)?;
        ensure!(
            woke as f64 / secs < 40.0,
            "an empty zone woke {woke} times in {secs:.1} s"
        );
        // The first connections are served as ever: log in, enter, see
        // each other and talk (reliable data and its acks).
        let mut a = bot_in(zone, "alice", "0", ship::WARBIRD)?;
        let mut b = bot_in(zone, "bob", "0", ship::WARBIRD)?;
        wait_for_player(&mut b, "alice")?;
        still_together(&mut a, &mut b, "awake")?;
        still_together(&mut b, &mut a, "awake too")?;
        Ok(())
    });
}

#[test]
fn a_quiet_zone_with_players_wakes_at_the_slow_tick_and_serves_them_as_ever() {
    zone_test(&[], |zone| {
        let mut a = bot_in(zone, "alice", "0", ship::WARBIRD)?;
        let mut b = bot_in(zone, "bob", "0", ship::WARBIRD)?;
        wait_for_player(&mut b, "alice")?;
        // Nobody flies: the tick follows the transport's deadlines and
        // otherwise comes every 50 ms, about 20 wake-ups a second plus the
        // realm's own messages (ball and flag updates, keepalives). A
        // fixed 10 ms tick alone was 100; a busy machine can only make the
        // count smaller (timers fire late, never early).
        let (woke, secs) = main_thread_wakeups_over(zone.pid(), 2)?;
        ensure!(
            woke as f64 / secs < 50.0,
            "a quiet zone with two players woke {woke} times in {secs:.1} s"
        );
        // And they are served as ever: reliable chat both ways, its acks.
        still_together(&mut a, &mut b, "awake")?;
        still_together(&mut b, &mut a, "awake too")?;
        Ok(())
    });
}

#[test]
fn a_reliable_packet_whose_ack_is_lost_is_sent_again() {
    zone_test(&[], |zone| {
        let mut a = bot_in(zone, "alice", "0", ship::WARBIRD)?;
        let mut b = bot_in(zone, "bob", "0", ship::WARBIRD)?;
        wait_for_player(&mut b, "alice")?;
        still_together(&mut a, &mut b, "before")?;
        let before = zone_counter(&zone.stats()?, "retransmits");
        // bob hears alice, but none of his acks gets through: the zone
        // must send the chat again when its retransmission time comes
        // (on the tick due then, or on a pass that flushes bob for the
        // realm's own traffic to him; this test does not tell them apart).
        b.set_send_loss(100);
        still_together(&mut a, &mut b, "are you there")?;
        let resent = wait_until(std::time::Duration::from_secs(10), || {
            zone.stats()
                .is_ok_and(|s| zone_counter(&s, "retransmits") > before)
        });
        ensure!(resent, "no retransmission in 10 s (still {before})");
        b.set_send_loss(0);
        still_together(&mut b, &mut a, "back")?;
        still_together(&mut a, &mut b, "welcome back")?;
        Ok(())
    });
}
