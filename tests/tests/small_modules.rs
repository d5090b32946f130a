//! The small modules operators expect (`docs/protocol/game-protocol.md`
//! §24a): the greeting, `?buy`, idle players put in spectator mode, and
//! `enf_shipchange`'s ship change interval. Real binaries, bots over UDP.

use anyhow::Context;
use ss_proto::game::{chat_type, ship, C2SPacket, ExtraData, S2CPacket, WeaponInfo};
use ss_proto::transport::{Priority, Reliability};
use ss_tests::scenario::*;

#[test]
fn a_player_entering_is_greeted() {
    zone_test(&["Misc:GreetMessage=Welcome, pilot."], |zone| {
        let mut a = bot_in(zone, "newcomer", "0", ship::SPECTATOR)?;
        wait_message(&mut a, "Welcome, pilot.")?;
        Ok(())
    });
}

#[test]
fn buy_takes_points_and_gives_the_prize() {
    let cfg = &[
        "Modules:AttachModules=points_kill buy",
        "Cost:Repel=30",
        "Cost:PurchaseAnytime=1",
    ];
    zone_test(cfg, |zone| {
        let mut a = bot_in(zone, "victim", "0", ship::WARBIRD)?;
        let mut b = bot_in(zone, "buyer", "0", ship::WARBIRD)?;
        let b_pid = wait_for_player(&mut a, "buyer")?;
        // Without points nothing is sold.
        a.chat(chat_type::PUBLIC, -1, "?buy rep")?;
        wait_message(&mut a, "You don't have enough points")?;
        a.expect_none_received(|p| matches!(p, S2CPacket::PrizeReceived { .. }))?;
        // buyer earns 50 points, then buys a repel for 30.
        a.send(
            &C2SPacket::Death {
                killer: b_pid,
                bounty: 50,
            },
            Reliability::Reliable,
            Priority::Normal,
        )?;
        b.wait_for(WAIT, |p| matches!(p, S2CPacket::Kill(_)).then_some(()))
            .context("the kill")?;
        b.chat(chat_type::PUBLIC, -1, "?buy")?;
        wait_message(&mut b, "buy: Repel")?;
        b.chat(chat_type::PUBLIC, -1, "?buy rep")?;
        let prize = b
            .wait_for(WAIT, |p| match p {
                S2CPacket::PrizeReceived { count, prize } => Some((*count, *prize)),
                _ => None,
            })
            .context("the repel")?;
        assert_eq!(prize, (1, 21));
        wait_message(&mut b, "Bought Repel.")?;
        b.wait_for(WAIT, |p| match p {
            S2CPacket::ScoreUpdate(u) if u.pid == b_pid && u.flag_points == -30 => {
                Some(u.kill_points)
            }
            _ => None,
        })
        .context("the price taken from the flag points")?;
        Ok(())
    });
}

#[test]
fn an_idle_player_is_moved_to_spectator_mode() {
    zone_test(&["Idle:SpecAfter=1"], |zone| {
        let mut a = bot_in(zone, "sleeper", "0", ship::WARBIRD)?;
        let me = pid_of(&a);
        a.wait_for(WAIT, |p| match p {
            S2CPacket::ShipChange { ship, pid, .. } if *pid == me && *ship == 8 => Some(()),
            _ => None,
        })
        .context("being put in spectator mode")?;
        wait_message(&mut a, "moved to spectator mode for being idle")?;
        a.chat(chat_type::PUBLIC, -1, "?actives")?;
        wait_message(&mut a, "Arena '0': 1 active")?;
        Ok(())
    });
}

#[test]
fn a_ship_change_inside_the_interval_is_refused() {
    let cfg = &[
        "Modules:AttachModules=points_kill enf_shipchange",
        "Misc:ShipChangeInterval=100000",
    ];
    zone_test(cfg, |zone| {
        let mut a = bot_in(zone, "changer", "0", ship::WARBIRD)?;
        let me = pid_of(&a);
        let changed_to = |want: u8| {
            move |p: &S2CPacket| match p {
                S2CPacket::ShipChange { ship, pid, .. } if *pid == me && *ship == want => Some(()),
                _ => None,
            }
        };
        a.set_ship(ship::JAVELIN)?;
        a.wait_for(WAIT, changed_to(ship::JAVELIN))
            .context("the first change")?;
        a.set_ship(ship::SPIDER)?;
        wait_message(&mut a, "You've changed ship too recently")?;
        a.expect_none_before_marker(|p| changed_to(ship::SPIDER)(p).is_some())?;
        // Spectator mode is always allowed.
        a.set_ship(ship::SPECTATOR)?;
        a.wait_for(WAIT, changed_to(ship::SPECTATOR))
            .context("going to spectator mode")?;
        Ok(())
    });
}

/// The extra data of the next position of `a` that `b` receives (a keeps
/// sending).
fn next_extra(a: &mut ss_tests::bot::Bot, b: &mut ss_tests::bot::Bot) -> anyhow::Result<ExtraData> {
    let a_pid = pid_of(a);
    let deadline = std::time::Instant::now() + WAIT;
    while std::time::Instant::now() < deadline {
        a.send_position(8200, 8200, 0, 0, WeaponInfo::NONE)?;
        let got = b.poll_for(STREAM_STEP, |p| match p {
            S2CPacket::SmallPosition(s) if i16::from(s.pid) == a_pid & 0xFF => Some(s.extra),
            S2CPacket::LargePosition(l) if l.pid as i16 == a_pid => Some(l.extra),
            _ => None,
        })?;
        if let Some(e) = got {
            return Ok(e);
        }
    }
    anyhow::bail!("no position arrived")
}

#[test]
fn energy_is_relayed_only_to_those_the_setting_allows() {
    zone_test(&["Misc:SeeEnergy=SEE_ALL"], |zone| {
        let mut a = bot_in(zone, "flier", "0", ship::WARBIRD)?;
        let mut b = bot_in(zone, "seer", "0", ship::WARBIRD)?;
        face_off(&mut a, &mut b)?;
        b.clear_backlog();
        assert_eq!(next_extra(&mut a, &mut b)?, ExtraData::Energy(1000));
        Ok(())
    });
    zone_test(&[], |zone| {
        let mut a = bot_in(zone, "flier", "0", ship::WARBIRD)?;
        let mut b = bot_in(zone, "blind", "0", ship::WARBIRD)?;
        face_off(&mut a, &mut b)?;
        b.clear_backlog();
        assert_eq!(next_extra(&mut a, &mut b)?, ExtraData::None);
        Ok(())
    });
}
