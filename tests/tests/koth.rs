//! King of the hill (`koth`, `docs/protocol/game-protocol.md` §17): a game
//! starts when enough players are in ships, a crown is lost on death, a
//! malformed crown-expired packet is refused, and the last crown's wearer
//! wins the reward in flag points. Real binaries, bots over UDP.

use anyhow::{Context, Result};
use ss_proto::game::koth::CrownToggle;
use ss_proto::game::{c2s_type, ship, C2SPacket, S2CPacket};
use ss_proto::transport::{Priority, Reliability};
use ss_tests::bot::Bot;
use ss_tests::scenario::*;

const KING: &[&str] = &[
    "Modules:AttachModules=points_kill koth",
    "King:MinPlaying=2",
    "King:DeathCount=0",
    "King:ExpireTime=100000",
    "King:RewardFactor=5000",
];

/// The crown packet in `p`, if it is one.
fn crown(p: &S2CPacket) -> Option<CrownToggle> {
    match p {
        S2CPacket::Other { ptype: 0x2C, body } => CrownToggle::decode_body(body).ok(),
        _ => None,
    }
}

/// Waits for a crown packet matching `want`.
fn wait_crown(
    bot: &mut Bot,
    what: &str,
    want: impl Fn(&CrownToggle) -> bool,
) -> Result<CrownToggle> {
    bot.wait_for(WAIT, |p| crown(p).filter(|c| want(c)))
        .with_context(|| format!("waiting for {what}"))
}

fn send_reliable(bot: &mut Bot, pkt: C2SPacket) -> Result<()> {
    bot.send(&pkt, Reliability::Reliable, Priority::Normal)
}

#[test]
fn a_crown_is_lost_on_death_and_the_last_king_wins_the_reward() {
    zone_test(KING, |zone| {
        let mut a = bot_in(zone, "alice", "0", ship::WARBIRD)?;
        let mut b = bot_in(zone, "bob", "0", ship::WARBIRD)?;
        let (a_pid, b_pid) = (pid_of(&a), wait_for_player(&mut a, "bob")?);
        // Two players in ships: a game starts, each gets a crown.
        for bot in [&mut a, &mut b] {
            let c = wait_crown(bot, "a crown", |c| c.on && c.pid == -1)?;
            assert_eq!(c.time, 100_000);
            wait_message(bot, "King of the Hill game starting")?;
        }

        // A crown-expired packet with a body is refused.
        send_reliable(
            &mut a,
            C2SPacket::Other {
                ptype: c2s_type::CROWN_EXPIRED,
                body: vec![1, 2],
            },
        )?;
        a.expect_none_before_marker(|p| crown(p).is_some_and(|c| !c.on && c.pid == a_pid))?;

        // bob kills alice: her crown goes (DeathCount 0), his starts again.
        send_reliable(
            &mut a,
            C2SPacket::Death {
                killer: b_pid,
                bounty: 0,
            },
        )?;
        wait_crown(&mut b, "alice losing her crown", |c| {
            !c.on && c.pid == a_pid
        })?;
        wait_crown(&mut b, "bob's crown starting again", |c| {
            c.on && c.pid == -1
        })?;

        // bob's crown runs out: he was the last king.
        send_reliable(
            &mut b,
            C2SPacket::Other {
                ptype: c2s_type::CROWN_EXPIRED,
                body: Vec::new(),
            },
        )?;
        wait_crown(&mut a, "bob losing his crown", |c| !c.on && c.pid == b_pid)?;
        // 2 players in ships: 2² × 5000 / 1000.
        wait_message(&mut a, "King of the Hill: bob awarded 20 points")?;
        a.wait_for(WAIT, |p| match p {
            S2CPacket::ScoreUpdate(u) if u.pid == b_pid && u.flag_points == 20 => Some(()),
            _ => None,
        })
        .context("bob's reward in his flag points")?;
        // And a new game starts.
        wait_crown(&mut a, "a crown in the next game", |c| c.on && c.pid == -1)?;
        Ok(())
    });
}
