//! End-to-end tests of the ball game (`balls`, `points_goal`) and bricks in
//! the example soccer arena of the default zone, written out with the real
//! `zone-supervisor init`: a pass and a goal paid to the scorer's freq (and
//! the team score surviving a killed realm), a ball dropped where its
//! carrier died, bricks reaching late joiners until they expire, and
//! hostile ball and brick packets refused, counted and harmless. Real
//! binaries, bots over UDP.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use ss_proto::game::{
    chat_type, ship, weapon_type, BallPacket, Brick, C2SPacket, Position, S2CPacket, WeaponInfo,
};
use ss_proto::map::SOCCER_GOALS;
use ss_proto::transport::{Priority, Reliability};
use ss_tests::bot::Bot;
use ss_tests::scenario::*;
use ss_tests::zone::{TestZone, ZoneOptions};

/// A zone from a folder written by `zone-supervisor init`, with a
/// moderator ("referee"); the zone stops before the folder goes.
struct Soccer {
    zone: TestZone,
    _dir: TempDir,
}

fn soccer_zone(overrides: &[&str]) -> Result<Soccer> {
    let dir = TempDir::new("soccer");
    let zone_dir = init_zone_folder(dir.path())?;
    ensure!(
        zone_dir.join("arenas/soccer/arena.conf").is_file()
            && zone_dir.join("maps/soccer.lvl").is_file(),
        "init did not write the soccer arena"
    );
    add_staff(&zone_dir, &[("referee", "mod")])?;
    let zone = TestZone::start_with(ZoneOptions {
        zone_dir: Some(zone_dir),
        overrides: overrides.iter().map(|s| s.to_string()).collect(),
        ..ZoneOptions::default()
    })?;
    Ok(Soccer { zone, _dir: dir })
}

fn soccer_test(overrides: &[&str], test: impl FnOnce(&mut TestZone) -> Result<()>) {
    let mut s = soccer_zone(overrides).expect("starting the soccer zone");
    if let Err(e) = test(&mut s.zone) {
        panic!("{e:?}");
    }
}

/// The next ball packet matching `want`.
fn wait_ball(bot: &mut Bot, what: &str, want: impl Fn(&BallPacket) -> bool) -> Result<BallPacket> {
    bot.wait_for(WAIT, |p| match p {
        S2CPacket::Ball(b) if want(b) => Some(*b),
        _ => None,
    })
    .with_context(|| format!("waiting for a ball packet: {what}"))
}

fn freq_of(bot: &Bot, pid: i16) -> i16 {
    bot.player(pid).map_or(-1, |p| p.freq)
}

/// A goal tile `freq` may score on in `Soccer:Mode` 1 (even freqs defend
/// the left goal), and one of its own goal.
fn goals_for(freq: i16) -> ((i16, i16), (i16, i16)) {
    let [left, right] = SOCCER_GOALS;
    let tile = |g: (u16, u16, u16)| (g.0 as i16, ((g.1 + g.2) / 2) as i16);
    if freq % 2 == 0 {
        (tile(right), tile(left))
    } else {
        (tile(left), tile(right))
    }
}

fn ball_near_spawn(b: &BallPacket) -> bool {
    // Soccer:SpawnRadius 2 around (512, 512), moved to a free tile.
    b.carrier == -1
        && (i32::from(b.x / 16) - 512).abs() <= 3
        && (i32::from(b.y / 16) - 512).abs() <= 3
}

fn send(bot: &mut Bot, pkt: C2SPacket) -> Result<()> {
    bot.send(&pkt, Reliability::Reliable, Priority::Normal)
}

/// A still position at (x, y) pixels stamped `time` (sent reliably by the
/// tests that need the realm to have it).
fn position_at(x: i16, y: i16, time: u32) -> Position {
    Position {
        rotation: 0,
        time,
        x,
        y,
        x_speed: 0,
        y_speed: 0,
        status: 0,
        bounty: 0,
        energy: 1000,
        weapon: WeaponInfo::NONE,
        extra: None,
    }
}

#[test]
fn a_ball_is_picked_up_passed_and_scored_for_the_scorers_freq() {
    soccer_test(&["Soccer:PassDelay=200"], |zone| {
        let mut a = bot_in(zone, "alice", "soccer", ship::WARBIRD)?;
        let mut b = bot_in(zone, "bob", "soccer", ship::JAVELIN)?;
        let (a_pid, b_pid) = (pid_of(&a), wait_for_player(&mut a, "bob")?);
        // Both see ball 0 at its spawn, nobody's.
        let spawned = wait_ball(&mut a, "spawned", |p| p.ball == 0 && ball_near_spawn(p))?;
        wait_ball(&mut b, "spawned", |p| p.ball == 0 && ball_near_spawn(p))?;

        // Alice picks it up: the arena sees her carrying it.
        a.pickup_ball(0, spawned.time)?;
        for bot in [&mut a, &mut b] {
            wait_ball(bot, "carried by alice", |p| {
                p.carrier == a_pid && p.time == 0
            })?;
        }
        // She passes: the fired ball is hers, moving, stamped with her time.
        let t = a.server_ticks().context("alice's clock")?;
        a.fire_ball(BallPacket {
            ball: 0,
            x: 8192,
            y: 8200,
            x_speed: 300,
            y_speed: 0,
            carrier: a_pid,
            time: t,
        })?;
        let fired = wait_ball(&mut b, "fired by alice", |p| {
            p.carrier == a_pid && p.time != 0
        })?;
        assert_eq!((fired.x, fired.y, fired.x_speed), (8192, 8200, 300));

        // Bob takes it, but not before PassDelay (200 ticks) has passed
        // (measured with the bots' synced clocks: generous slack).
        let deadline = Instant::now() + WAIT;
        let taken_at = loop {
            ensure!(Instant::now() < deadline, "bob never got the pass");
            b.pickup_ball(0, fired.time)?;
            let got = b.poll_for(STREAM_STEP * 3, |p| {
                matches!(p, S2CPacket::Ball(bp) if bp.carrier == b_pid).then_some(())
            })?;
            if got.is_some() {
                break b.server_ticks().context("bob's clock")?;
            }
        };
        let waited = taken_at.wrapping_sub(fired.time) as i32;
        assert!(waited >= 100, "picked up {waited} ticks after the fire");

        // Bob scores on the goal his freq attacks (C2S 0x21).
        let b_freq = freq_of(&b, b_pid);
        let (goal, _) = goals_for(b_freq);
        let t = b.server_ticks().context("bob's clock")?;
        b.fire_ball(BallPacket {
            ball: 0,
            x: 8192,
            y: 8192,
            x_speed: 900,
            y_speed: 0,
            carrier: b_pid,
            time: t,
        })?;
        b.goal(0, goal.0, goal.1)?;
        for bot in [&mut a, &mut b] {
            let scored = bot
                .wait_for(WAIT, |p| match p {
                    S2CPacket::SoccerGoal { freq, points } => Some((*freq, *points)),
                    _ => None,
                })
                .context("the goal packet")?;
            // Soccer:Reward = -100: 100 points to each player of the freq.
            assert_eq!(scored, (b_freq, 100));
        }
        wait_message(&mut b, "Team goal! by bob")?;
        let score = a
            .wait_for(WAIT, |p| match p {
                S2CPacket::ScoreUpdate(u) if u.pid == b_pid && u.flag_points > 0 => Some(*u),
                _ => None,
            })
            .context("bob's flag points")?;
        assert_eq!(score.flag_points, 100);
        // The ball is back at its spawn.
        wait_ball(&mut a, "respawned", |p| {
            ball_near_spawn(p) && p.time != spawned.time
        })?;
        let want = if b_freq % 2 == 0 {
            "SCORE: Evens:1 Odds:0"
        } else {
            "SCORE: Evens:0 Odds:1"
        };
        // Announced to the arena, and told on ?score.
        wait_message(&mut a, want)?;
        a.chat(chat_type::PUBLIC, -1, "?score")?;
        wait_message(&mut a, want)?;

        // The team score survives the realm being killed.
        let old = worker_of(zone, "soccer")?;
        kill(Pid::from_raw(old as i32), Signal::SIGKILL)?;
        a.wait_for(WAIT, |p| {
            matches!(p, S2CPacket::WhoAmI { .. }).then_some(())
        })
        .context("alice re-entered")?;
        a.wait_for(WAIT, |p| matches!(p, S2CPacket::EnteredArena).then_some(()))?;
        a.clear_backlog();
        a.chat(chat_type::PUBLIC, -1, "?score")?;
        wait_message(&mut a, want)?;
        ensure!(
            worker_of(zone, "soccer")? != old,
            "the worker was not replaced"
        );
        Ok(())
    });
}

#[test]
fn a_carriers_ball_drops_where_he_dies_and_late_joiners_see_it() {
    soccer_test(&[], |zone| {
        let mut a = bot_in(zone, "alice", "soccer", ship::WARBIRD)?;
        let mut b = bot_in(zone, "bob", "soccer", ship::JAVELIN)?;
        let (a_pid, b_pid) = (pid_of(&a), wait_for_player(&mut a, "bob")?);
        // Alice is at (8200, 8200) as far as the realm knows.
        face_off(&mut a, &mut b)?;
        let spawned = wait_ball(&mut a, "spawned", |p| p.ball == 0 && ball_near_spawn(p))?;
        a.pickup_ball(0, spawned.time)?;
        wait_ball(&mut b, "carried by alice", |p| p.carrier == a_pid)?;
        // Bob kills her: the ball lies where she died, nobody's.
        send(
            &mut a,
            C2SPacket::Death {
                killer: b_pid,
                bounty: 5,
            },
        )?;
        let dropped = wait_ball(&mut b, "dropped", |p| {
            p.carrier == -1 && p.time != spawned.time && p.time != 0
        })?;
        assert_eq!((dropped.x, dropped.y, dropped.x_speed), (8200, 8200, 0));
        // A late joiner gets the ball where it is.
        let mut c = bot_in(zone, "carol", "soccer", ship::SPECTATOR)?;
        let seen = wait_ball(&mut c, "on entry", |p| p.ball == 0)?;
        assert_eq!((seen.x, seen.y, seen.carrier), (8200, 8200, -1));
        Ok(())
    });
}

/// Whether a brick reaches `bot` before the answer to a self-addressed
/// probe command (which the realm handles after everything it sent him
/// before).
fn brick_before_marker(bot: &mut Bot) -> Result<bool> {
    static N: AtomicU32 = AtomicU32::new(0);
    let probe = format!("brickprobe{}", N.fetch_add(1, Ordering::Relaxed));
    bot.chat(chat_type::PRIVATE, pid_of(bot), &format!("?{probe}"))?;
    let answer = format!("Unknown command: ?{probe}");
    let brick_first = bot
        .wait_for(WAIT, |p| match p {
            S2CPacket::Bricks(list) if !list.is_empty() => Some(true),
            S2CPacket::Chat(c) if c.text == answer => Some(false),
            _ => None,
        })
        .context("the probe's answer")?;
    if brick_first {
        bot.wait_for(WAIT, |p| {
            matches!(p, S2CPacket::Chat(c) if c.text == answer).then_some(())
        })?;
    }
    Ok(brick_first)
}

/// The first brick of the next brick packet `bot` receives.
fn next_brick(bot: &mut Bot, what: &str) -> Result<Brick> {
    bot.wait_for(WAIT, |p| match p {
        S2CPacket::Bricks(list) => list.first().copied(),
        _ => None,
    })
    .with_context(|| what.to_string())
}

fn covers(b: &Brick, x: i16, y: i16) -> bool {
    (b.x1..=b.x2).contains(&x) && (b.y1..=b.y2).contains(&y)
}

#[test]
fn bricks_reach_late_joiners_and_expire_after_brick_time() {
    soccer_test(&["Brick:BrickTime=300"], |zone| {
        let mut a = bot_in(zone, "alice", "soccer", ship::WARBIRD)?;
        let a_pid = pid_of(&a);
        a.drop_brick(480, 500)?;
        let brick = next_brick(&mut a, "alice's brick")?;
        assert!(covers(&brick, 480, 500), "{brick:?}");
        assert_eq!(brick.freq, freq_of(&a, a_pid));
        assert!(brick.x1 == brick.x2 || brick.y1 == brick.y2, "straight");

        // A late joiner gets it.
        let mut c = bot_in(zone, "carol", "soccer", ship::SPECTATOR)?;
        let seen = c
            .wait_for(WAIT, |p| match p {
                S2CPacket::Bricks(list) => list.iter().find(|b| b.id == brick.id).copied(),
                _ => None,
            })
            .context("carol's copy of the brick")?;
        assert_eq!(seen, brick);

        // Carol comes back until an entry brings no brick: not before
        // BrickTime has passed since the brick was laid.
        let deadline = Instant::now() + WAIT * 2;
        loop {
            ensure!(Instant::now() < deadline, "the brick never expired");
            c.leave_arena()?;
            c.clear_backlog();
            c.enter_arena("soccer", ship::SPECTATOR)?;
            if !brick_before_marker(&mut c)? {
                let now = c.server_ticks().context("carol's clock")?;
                let age = now.wrapping_sub(brick.start_time) as i32;
                // BrickTime 300, with slack for carol's synced clock.
                assert!(age >= 200, "expired {age} ticks after it was laid");
                break;
            }
            // Poll again a little later (reading what arrives meanwhile).
            c.poll_for(Duration::from_millis(300), |_| None::<()>)?;
        }
        Ok(())
    });
}

/// The refusal counters of `?ballinfo` / `?brickinfo` ("name=count").
fn counter(line: &str, name: &str) -> u64 {
    line.split([' ', '.'])
        .find_map(|w| w.strip_prefix(&format!("{name}=")))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[test]
fn hostile_ball_and_brick_packets_are_refused_counted_and_harmless() {
    soccer_test(&["Soccer:PassDelay=0", "Soccer:AllowGuns=0"], |zone| {
        let mut a = bot_in(zone, "alice", "soccer", ship::WARBIRD)?;
        let mut b = bot_in(zone, "bob", "soccer", ship::JAVELIN)?;
        let mut referee = Bot::connect(zone.game_addr())?;
        referee.login("referee", PASSWORD)?;
        referee.enter_arena("soccer", ship::SPECTATOR)?;
        let (a_pid, b_pid) = (pid_of(&a), wait_for_player(&mut a, "bob")?);
        let spawned = wait_ball(&mut a, "spawned", |p| p.ball == 0 && ball_near_spawn(p))?;

        // Balls that do not exist; a carried ball; a fire by a non-carrier.
        b.pickup_ball(7, spawned.time)?;
        b.pickup_ball(200, spawned.time)?;
        a.pickup_ball(0, spawned.time)?;
        wait_ball(&mut b, "carried by alice", |p| p.carrier == a_pid)?;
        b.pickup_ball(0, 0)?;
        b.fire_ball(BallPacket {
            ball: 0,
            x: 100,
            y: 100,
            carrier: b_pid,
            time: 1,
            ..BallPacket::default()
        })?;
        // Malformed ball and brick packets are dropped by the decoder.
        for raw in [
            &[0x20u8, 0][..],
            &[0x1F, 0, 1, 2],
            &[0x21, 0, 1, 2, 3, 4, 5],
            &[0x1C, 1],
        ] {
            b.send_raw(raw, Reliability::Reliable, Priority::Normal)?;
        }
        b.expect_none_before_marker(|p| matches!(p, S2CPacket::Ball(bp) if bp.carrier == b_pid))?;
        // Alice fires; bob quotes a stale time, claims her goal; she
        // claims goals off the goal tiles and on her own goal.
        let t = a.server_ticks().context("alice's clock")?;
        a.fire_ball(BallPacket {
            ball: 0,
            x: 8192,
            y: 8192,
            x_speed: 10,
            y_speed: 0,
            carrier: a_pid,
            time: t,
        })?;
        let fired = wait_ball(&mut b, "fired", |p| p.carrier == a_pid && p.time != 0)?;
        b.pickup_ball(0, fired.time.wrapping_add(1))?;
        let (attack, own) = goals_for(freq_of(&a, a_pid));
        b.goal(0, attack.0, attack.1)?;
        a.goal(0, 450, 510)?;
        a.goal(0, own.0, own.1)?;
        // A flood of goal packets.
        for _ in 0..200 {
            b.goal(0, attack.0, attack.1)?;
        }
        for bot in [&mut a, &mut b] {
            bot.expect_none_before_marker(|p| matches!(p, S2CPacket::SoccerGoal { .. }))?;
        }

        // Bricks off the map and on a wall, then a flood of them.
        a.drop_brick(-5, 100)?;
        a.drop_brick(100, 5000)?;
        a.drop_brick(400, 500)?; // the field's left wall
        for i in 0..200i16 {
            a.drop_brick(30 + (i % 40) * 24, 30 + (i / 40) * 24)?;
        }
        a.expect_none_before_marker(|_| false)?;

        referee.chat(chat_type::PUBLIC, -1, "?ballinfo")?;
        let balls = wait_message(&mut referee, "Refused ball packets:")?;
        assert_eq!(counter(&balls, "no-such-ball"), 2, "{balls}");
        assert_eq!(counter(&balls, "not-on-map"), 1, "{balls}");
        assert_eq!(counter(&balls, "not-carrier"), 1, "{balls}");
        assert_eq!(counter(&balls, "stale"), 1, "{balls}");
        assert_eq!(counter(&balls, "bad-place"), 1, "{balls}");
        assert_eq!(counter(&balls, "wrong-goal"), 1, "{balls}");
        assert!(counter(&balls, "not-shooter") >= 1, "{balls}");
        assert!(counter(&balls, "flood") >= 1, "{balls}");
        assert_eq!(
            counter(&balls, "not-shooter") + counter(&balls, "flood"),
            201,
            "{balls}"
        );
        assert!(balls.starts_with("Goals: 0."), "{balls}");
        referee.chat(chat_type::PUBLIC, -1, "?brickinfo")?;
        let bricks = wait_message(&mut referee, "Refused drops:")?;
        assert_eq!(counter(&bricks, "off-map"), 2, "{bricks}");
        assert_eq!(counter(&bricks, "on-wall"), 1, "{bricks}");
        assert!(counter(&bricks, "flood") >= 1, "{bricks}");

        // The realm is alive and the ball still in play: alice's ball.
        a.pickup_ball(0, fired.time)?;
        wait_ball(&mut b, "picked up again", |p| {
            p.carrier == a_pid && p.time == 0
        })?;
        // Carrying it she may bomb but not shoot (Soccer:AllowGuns = 0).
        for kind in [weapon_type::BULLET, weapon_type::BOMB] {
            let t = a.server_ticks().context("alice's clock")?;
            let pos = Position {
                weapon: WeaponInfo::new(kind, 0, false, 0, 0, false),
                ..position_at(8192, 8192, t)
            };
            send(&mut a, C2SPacket::Position(pos))?;
        }
        a.expect_none_before_marker(|_| false)?;
        referee.chat(chat_type::PUBLIC, -1, "?ballinfo")?;
        let balls = wait_message(&mut referee, "Refused ball packets:")?;
        assert_eq!(counter(&balls, "carrier-weapon"), 1, "{balls}");
        let stats = zone.stats()?;
        let realm = stats["realms"]
            .as_array()
            .and_then(|r| {
                r.iter()
                    .find(|r| r["name"].as_str() == Some("soccer"))
                    .cloned()
            })
            .context("the soccer realm in stats")?;
        if realm["restarts"].as_u64().unwrap_or(0) != 0 {
            bail!("the soccer realm restarted: {realm}");
        }
        Ok(())
    });
}

#[test]
fn staff_commands_change_balls_scores_and_write_bricks() {
    let dir = TempDir::new("soccer-cmds");
    let run = || -> Result<()> {
        let zone_dir = init_zone_folder(dir.path())?;
        add_staff(&zone_dir, &[("referee", "mod"), ("owner", "sysop")])?;
        let zone = TestZone::start_with(ZoneOptions {
            zone_dir: Some(zone_dir),
            ..ZoneOptions::default()
        })?;
        let mut r = bot_in(&zone, "referee", "soccer", ship::WARBIRD)?;
        let mut o = bot_in(&zone, "owner", "soccer", ship::SPECTATOR)?;
        let r_pid = pid_of(&r);
        // His place (tile 500, 506), sent reliably: the writer's tile.
        let t = r.server_ticks().context("referee's clock")?;
        send(&mut r, C2SPacket::Position(position_at(8000, 8100, t)))?;
        let cmd = |bot: &mut Bot, line: &str| bot.chat(chat_type::PUBLIC, -1, line);

        // ?ballcount: show, add two, back to one (the removed ones leave
        // the map for everyone).
        cmd(&mut r, "?ballcount")?;
        wait_message(&mut r, "1 balls.")?;
        cmd(&mut r, "?ballcount +2")?;
        wait_message(&mut r, "3 balls.")?;
        for id in [1, 2] {
            wait_ball(&mut o, "a new ball", |p| p.ball == id && ball_near_spawn(p))?;
        }
        cmd(&mut r, "?ballcount 1")?;
        for id in [1, 2] {
            wait_ball(&mut o, "a removed ball", |p| {
                p.ball == id && p.x == 30000 && p.y == 30000
            })?;
        }
        cmd(&mut r, "?ballcount 9")?;
        wait_message(&mut r, "0 to 8 balls")?;
        // ?moveball, ?giveball -f (to himself), ?spawnball.
        cmd(&mut r, "?moveball 0 500 505")?;
        let moved = wait_ball(&mut o, "moved", |p| p.ball == 0 && p.x == 500 * 16 + 8)?;
        assert_eq!((moved.y, moved.carrier), (505 * 16 + 8, -1));
        cmd(&mut r, "?giveball -f 0")?;
        wait_ball(&mut o, "given", |p| {
            p.ball == 0 && p.carrier == r_pid && p.time == 0
        })?;
        cmd(&mut r, "?giveball 3")?;
        wait_message(&mut r, "Ball 3 doesn't exist")?;
        cmd(&mut r, "?spawnball")?;
        wait_ball(&mut o, "respawned", |p| p.ball == 0 && ball_near_spawn(p))?;
        cmd(&mut r, "?ballinfo")?;
        wait_message(&mut r, "ball 0: on the map at")?;

        // Scores: a moderator may not set them; the sysop may, and a
        // winning score ends the game (first to 5).
        cmd(&mut r, "?setsoccerscore 1 2")?;
        wait_message(&mut r, "You don't have permission to use ?setsoccerscore.")?;
        cmd(&mut o, "?setsoccerscore 4 2")?;
        wait_message(&mut o, "SCORE: Evens:4 Odds:2")?;
        cmd(&mut o, "?setsoccerscore 5 2")?;
        wait_message(&mut r, "Soccer game over: team 0 wins")?;
        wait_ball(&mut r, "game over", |p| p.ball == 0 && p.x == 30000)?;
        cmd(&mut r, "?score")?;
        wait_message(&mut r, "SCORE: Evens:0 Odds:0")?;
        cmd(&mut o, "?resetgame")?;
        wait_message(&mut r, "Resetting the soccer game. -owner")?;

        // ?brickwrite: "HI" is 14 bricks around the writer's tile.
        cmd(&mut r, "?brickwrite HI")?;
        let bricks = o
            .wait_for(WAIT, |p| match p {
                S2CPacket::Bricks(list) if !list.is_empty() => Some(list.clone()),
                _ => None,
            })
            .context("the written bricks")?;
        assert_eq!(bricks.len(), 14);
        assert!(bricks
            .iter()
            .all(|b| (497..=503).contains(&b.x1) && (504..=508).contains(&b.y1)));
        wait_message(&mut r, "Wrote 14 bricks.")?;
        cmd(&mut r, "?brickinfo")?;
        wait_message(&mut r, "Live bricks: 14.")?;
        Ok(())
    };
    if let Err(e) = run() {
        panic!("{e:?}");
    }
}

#[test]
fn a_reload_brings_the_new_ball_count() {
    let dir = TempDir::new("soccer-reload");
    let run = || -> Result<()> {
        let zone_dir = init_zone_folder(dir.path())?;
        let zone = TestZone::start_with(ZoneOptions {
            zone_dir: Some(zone_dir.clone()),
            ..ZoneOptions::default()
        })?;
        let mut a = bot_in(&zone, "alice", "soccer", ship::SPECTATOR)?;
        wait_ball(&mut a, "ball 0", |p| p.ball == 0)?;
        // The operator raises Soccer:BallCount (the later key wins).
        let conf = zone_dir.join("arenas/soccer/arena.conf");
        let mut text = std::fs::read_to_string(&conf)?;
        text.push_str("\n[Soccer]\nBallCount = 2\n");
        std::fs::write(&conf, text)?;
        zone.cli(&["reload"])?;
        wait_ball(&mut a, "ball 1 after the reload", |p| {
            p.ball == 1 && ball_near_spawn(p)
        })?;
        a.chat(chat_type::PUBLIC, -1, "?ballinfo")?;
        // Not a moderator: the count is not his to see; ?score is.
        wait_message(&mut a, "You don't have permission to use ?ballinfo.")?;
        Ok(())
    };
    if let Err(e) = run() {
        panic!("{e:?}");
    }
}

/// As in ASSS's default arena, the default zone's arena `0` has one ball to
/// play with (no goals on its map): a newcomer is told where it is, near
/// its spawn south of the safe zone, and may pick it up.
#[test]
fn the_default_arena_has_a_ball_like_asss() {
    soccer_test(&[], |zone| {
        let mut a = bot_in(zone, "alice", "0", ship::WARBIRD)?;
        let ball = wait_ball(&mut a, "the default arena's ball", |p| p.ball == 0)?;
        let near = |v: i16, tile: i16| (i32::from(v) - i32::from(tile) * 16).abs() <= 3 * 16;
        ensure!(
            near(ball.x, 512) && near(ball.y, 530) && ball.carrier == -1,
            "ball 0 at ({}, {}) carried by {}",
            ball.x,
            ball.y,
            ball.carrier
        );
        a.pickup_ball(0, ball.time)?;
        let a_pid = pid_of(&a);
        let mut b = bot_in(zone, "bob", "0", ship::SPECTATOR)?;
        wait_ball(&mut b, "carried by alice", |p| {
            p.ball == 0 && p.carrier == a_pid
        })?;
        Ok(())
    });
}

/// ASSS runs `bricks` in every arena once `conf/modules.conf` loads it; an
/// ASSS zone folder brought over keeps that: the soccer arena without
/// `bricks` in its `AttachModules` lays no brick, until the zone's
/// `modules.conf` lists the module.
#[test]
fn bricks_listed_in_modules_conf_work_in_arenas_that_do_not_attach_them() {
    in_temp_dir("zonewide", |dir| {
        let zone_dir = init_zone_folder(dir)?;
        let arena = zone_dir.join("arenas/soccer/arena.conf");
        let text = std::fs::read_to_string(&arena)?;
        let attached = "AttachModules = points_kill balls points_goal bricks";
        ensure!(text.contains(attached), "the soccer arena changed");
        std::fs::write(
            &arena,
            text.replace(attached, "AttachModules = points_kill balls points_goal"),
        )?;
        {
            let zone = zone_from_folder(&zone_dir)?;
            let mut a = bot_in(&zone, "alice", "soccer", ship::WARBIRD)?;
            a.drop_brick(480, 500)?;
            ensure!(!brick_before_marker(&mut a)?, "a brick without the module");
        }
        std::fs::write(
            zone_dir.join("conf/modules.conf"),
            "core\nnet\nscoring:persist\nbricks\nballs\n",
        )?;
        let zone = zone_from_folder(&zone_dir)?;
        let mut a = bot_in(&zone, "alice", "soccer", ship::WARBIRD)?;
        a.drop_brick(480, 500)?;
        let brick = next_brick(&mut a, "the brick")?;
        ensure!(covers(&brick, 480, 500), "{brick:?}");
        Ok(())
    });
}
