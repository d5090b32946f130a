//! End-to-end tests of the flag game modules: carried flags (fg_wz) in the
//! default arena, turf flags (fg_turf) in the example turf arena, flag
//! victories and their reward, the jackpot, periodic rewards, and the turf
//! owners surviving a realm killed with SIGKILL. Real binaries, bots over
//! UDP.

use std::time::Instant;

use anyhow::{bail, ensure, Context, Result};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use ss_proto::game::{chat_type, ship, C2SPacket, PlayerEntering, S2CPacket, WeaponInfo};
use ss_proto::map::TURF_FLAG_TILES;
use ss_proto::transport::{Priority, Reliability};
use ss_tests::bot::Bot;
use ss_tests::scenario::*;

/// One flag at a fixed tile, touchable at once, won as soon as it lands.
const ONE_FLAG: &[&str] = &[
    "Flag:FlagCount=1",
    "Flag:SpawnX=512",
    "Flag:SpawnY=480",
    "Flag:SpawnRadius=0",
    "Flag:FlagBlankDelay=0",
    "Flag:EnterGameFlaggingDelay=0",
    "Flag:NoDataFlagDropDelay=0",
    "Flag:WinDelay=0",
    "Flag:DropRadius=0",
];
/// The flag's tile.
const FLAG_TILE: (i16, i16) = (512, 480);

fn send_reliable(bot: &mut Bot, pkt: C2SPacket) -> Result<()> {
    bot.send(&pkt, Reliability::Reliable, Priority::Normal)
}

/// Waits for a flag location packet of flag `fid`.
fn wait_location(bot: &mut Bot, fid: i16) -> Result<(i16, i16, i16)> {
    bot.wait_for(WAIT, |p| match p {
        S2CPacket::FlagLocation { fid: f, x, y, freq } if *f == fid => Some((*x, *y, *freq)),
        _ => None,
    })
    .with_context(|| format!("waiting for the location of flag {fid}"))
}

/// Puts `bot` on `tile` and touches flag `fid` until its own pickup
/// broadcast comes back (positions are unreliable: they are repeated).
fn pick_up(bot: &mut Bot, fid: i16, tile: (i16, i16)) -> Result<()> {
    let me = pid_of(bot);
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        bot.send_position(tile.0 * 16, tile.1 * 16, 0, 0, WeaponInfo::NONE)?;
        send_reliable(bot, C2SPacket::TouchFlag { fid })?;
        let got = bot.poll_for(STREAM_STEP * 5, |p| {
            matches!(p, S2CPacket::FlagPickup { fid: f, pid } if *f == fid && *pid == me)
                .then_some(())
        })?;
        if got.is_some() {
            return Ok(());
        }
    }
    bail!("flag {fid} was not picked up within {WAIT:?}")
}

fn own_record(entry: &ss_tests::bot::ArenaEntry) -> Result<PlayerEntering> {
    entry
        .players
        .iter()
        .find(|r| r.pid == entry.pid)
        .cloned()
        .context("own record")
}

fn freq_of(bot: &Bot, pid: i16) -> i16 {
    bot.player(pid).map_or(-1, |p| p.freq)
}

#[test]
fn carried_flags_are_seen_picked_up_and_passed_to_the_killer() {
    zone_test(ONE_FLAG, |zone| {
        let mut a = bot_in(zone, "alice", "0", ship::WARBIRD)?;
        let mut b = bot_in(zone, "bob", "0", ship::JAVELIN)?;
        let (a_pid, b_pid) = (pid_of(&a), wait_for_player(&mut a, "bob")?);
        // Both see the flag where it spawned, neutral.
        for bot in [&mut a, &mut b] {
            assert_eq!(wait_location(bot, 0)?, (FLAG_TILE.0, FLAG_TILE.1, -1));
        }
        // A touch from far away or of a flag that does not exist does
        // nothing (the realm's answer to a marker comes first).
        b.send_position(100 * 16, 100 * 16, 0, 0, WeaponInfo::NONE)?;
        send_reliable(&mut b, C2SPacket::TouchFlag { fid: 0 })?;
        send_reliable(&mut b, C2SPacket::TouchFlag { fid: 7 })?;
        send_reliable(&mut b, C2SPacket::TouchFlag { fid: -1 })?;
        b.expect_none_before_marker(|p| matches!(p, S2CPacket::FlagPickup { .. }))?;

        pick_up(&mut a, 0, FLAG_TILE)?;
        b.wait_for(WAIT, |p| {
            matches!(p, S2CPacket::FlagPickup { fid: 0, pid } if *pid == a_pid).then_some(())
        })
        .context("bob sees alice's pickup")?;
        // A touch of the carried flag is ignored.
        b.send_position(FLAG_TILE.0 * 16, FLAG_TILE.1 * 16, 0, 0, WeaponInfo::NONE)?;
        send_reliable(&mut b, C2SPacket::TouchFlag { fid: 0 })?;
        b.expect_none_before_marker(
            |p| matches!(p, S2CPacket::FlagPickup { pid, .. } if *pid == b_pid),
        )?;

        // Bob kills alice: the kill packet hands him the flag.
        send_reliable(
            &mut a,
            C2SPacket::Death {
                killer: b_pid,
                bounty: 10,
            },
        )?;
        let kill = b.wait_for(WAIT, |p| match p {
            S2CPacket::Kill(k) => Some(*k),
            _ => None,
        })?;
        assert_eq!((kill.killer, kill.killed, kill.flags), (b_pid, a_pid, 1));
        // A late joiner sees bob carrying it.
        let mut c = Bot::connect(zone.game_addr())?;
        c.login("carol", "secret")?;
        let entry = c.enter_arena("0", ship::SPECTATOR)?;
        let bob = entry
            .players
            .iter()
            .find(|r| r.pid == b_pid)
            .context("bob's record")?;
        assert_eq!(bob.flags_carried, 1);
        assert_eq!(
            entry
                .players
                .iter()
                .find(|r| r.pid == a_pid)
                .map(|r| r.flags_carried),
            Some(0)
        );
        // Bob goes to spectator mode: the flag is neuted back onto the map.
        b.set_ship(ship::SPECTATOR)?;
        let (_, _, freq) = wait_location(&mut c, 0)?;
        assert_eq!(freq, -1, "a neuted flag is neutral");
        Ok(())
    });
}

#[test]
fn a_freq_owning_every_flag_wins_the_reward_and_the_jackpot() {
    let mut settings = ONE_FLAG.to_vec();
    settings.push("Kill:JackpotBountyPercent=1000");
    zone_test(&settings, |zone| {
        let mut a = bot_in(zone, "alice", "0", ship::WARBIRD)?;
        let mut b = bot_in(zone, "bob", "0", ship::JAVELIN)?;
        let (a_pid, b_pid) = (pid_of(&a), wait_for_player(&mut a, "bob")?);
        wait_location(&mut a, 0)?;
        // The jackpot grows by the killed player's bounty (100 %).
        send_reliable(
            &mut b,
            C2SPacket::Death {
                killer: a_pid,
                bounty: 40,
            },
        )?;
        a.wait_for(WAIT, |p| matches!(p, S2CPacket::Kill(_)).then_some(()))?;
        a.chat(chat_type::PUBLIC, -1, "?jackpot")?;
        wait_message(&mut a, "The jackpot is 40 points.")?;

        // Alice takes the flag and drops it: her freq owns every flag.
        pick_up(&mut a, 0, FLAG_TILE)?;
        send_reliable(&mut a, C2SPacket::DropFlags)?;
        let a_freq = freq_of(&a, a_pid);
        let b_freq = freq_of(&a, b_pid);
        ensure!(a_freq != b_freq, "alice and bob share freq {a_freq}");
        let (freq, points) = b
            .wait_for(WAIT, |p| match p {
                S2CPacket::FlagVictory { freq, points } => Some((*freq, *points)),
                _ => None,
            })
            .context("bob sees the victory")?;
        // 2 players in ships: 2² × FlagReward (15000) / 1000 + jackpot 40.
        assert_eq!((freq, points), (a_freq, 100));
        let score = b
            .wait_for(WAIT, |p| match p {
                S2CPacket::ScoreUpdate(u) if u.pid == a_pid && u.flag_points > 0 => Some(*u),
                _ => None,
            })
            .context("alice's flag points")?;
        assert_eq!(score.flag_points, 100);
        a.chat(chat_type::PUBLIC, -1, "?jackpot")?;
        wait_message(&mut a, "The jackpot is 0 points.")?;

        // The points are the zone's: alice logs in again and has them.
        a.disconnect();
        b.wait_for(WAIT, |p| {
            matches!(p, S2CPacket::PlayerLeaving { pid } if *pid == a_pid).then_some(())
        })?;
        let mut again = Bot::connect(zone.game_addr())?;
        again.login("alice", "secret")?;
        let me = own_record(&again.enter_arena("0", ship::SPECTATOR)?)?;
        assert_eq!(me.flag_points, 100);
        Ok(())
    });
}

fn wait_turf(bot: &mut Bot, want: impl Fn(&[i16]) -> bool) -> Result<Vec<i16>> {
    bot.wait_for(WAIT, |p| match p {
        S2CPacket::TurfFlags(owners) if want(owners) => Some(owners.clone()),
        _ => None,
    })
    .context("waiting for the turf owners")
}

#[test]
fn turf_owners_reach_late_joiners_earn_periodic_rewards_and_survive_a_crash() {
    let settings = [
        "Flag:EnterGameFlaggingDelay=0",
        "Periodic:RewardDelay=100",
        "Periodic:RewardPoints=7",
    ];
    zone_test(&settings, |zone| {
        let mut a = bot_in(zone, "alice", "turf", ship::WARBIRD)?;
        let a_pid = pid_of(&a);
        let a_freq = freq_of(&a, a_pid);
        let n = TURF_FLAG_TILES.len();
        wait_turf(&mut a, |o| o == vec![-1; n].as_slice())?;
        let (x, y) = TURF_FLAG_TILES[2];
        pick_up(&mut a, 2, (x as i16, y as i16))?;
        let mut owned = vec![-1; n];
        owned[2] = a_freq;
        wait_turf(&mut a, |o| o == owned.as_slice())?;
        // The periodic reward: 7 points for the one flag of alice's freq.
        let reward = a
            .wait_for(WAIT, |p| match p {
                S2CPacket::PeriodicReward(list) => list.iter().find(|(f, _)| *f == a_freq).copied(),
                _ => None,
            })
            .context("the periodic reward")?;
        assert_eq!(reward, (a_freq, 7));
        let score = a
            .wait_for(WAIT, |p| match p {
                S2CPacket::ScoreUpdate(u) if u.pid == a_pid && u.flag_points > 0 => Some(*u),
                _ => None,
            })
            .context("alice's periodic points")?;
        assert_eq!(score.flag_points % 7, 0);

        // A late joiner sees the owners.
        let mut b = bot_in(zone, "bob", "turf", ship::SPECTATOR)?;
        wait_turf(&mut b, |o| o == owned.as_slice())?;

        // The realm is killed; its next worker keeps the owners.
        let old = worker_of(zone, "turf")?;
        kill(Pid::from_raw(old as i32), Signal::SIGKILL)?;
        b.wait_for(WAIT, |p| {
            matches!(p, S2CPacket::WhoAmI { .. }).then_some(())
        })
        .context("bob re-entered")?;
        b.wait_for(WAIT, |p| matches!(p, S2CPacket::EnteredArena).then_some(()))?;
        let seen = wait_turf(&mut b, |_| true)?;
        assert_eq!(seen, owned, "turf owners after the restart");
        let new = worker_of(zone, "turf")?;
        ensure!(new != old, "the worker was not replaced");
        Ok(())
    });
}

#[test]
fn a_carried_flag_stays_with_its_carrier_when_the_realm_is_killed() {
    zone_test(ONE_FLAG, |zone| {
        let mut a = bot_in(zone, "alice", "0", ship::WARBIRD)?;
        let a_pid = pid_of(&a);
        wait_location(&mut a, 0)?;
        pick_up(&mut a, 0, FLAG_TILE)?;
        let old = worker_of(zone, "0")?;
        kill(Pid::from_raw(old as i32), Signal::SIGKILL)?;
        a.wait_for(WAIT, |p| {
            matches!(p, S2CPacket::WhoAmI { .. }).then_some(())
        })
        .context("alice re-entered")?;
        let me = a
            .wait_for(WAIT, |p| match p {
                S2CPacket::PlayerEntering(list) => list.iter().find(|r| r.pid == a_pid).cloned(),
                _ => None,
            })
            .context("alice's own record after the restart")?;
        assert_eq!(me.flags_carried, 1, "the flag is still alice's");
        // A late joiner sees her carrying it.
        let mut b = Bot::connect(zone.game_addr())?;
        b.login("bob", "secret")?;
        let entry = b.enter_arena("0", ship::SPECTATOR)?;
        let rec = entry
            .players
            .iter()
            .find(|r| r.pid == a_pid)
            .context("alice in bob's list")?;
        assert_eq!(rec.flags_carried, 1);
        Ok(())
    });
}
