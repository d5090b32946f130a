//! The supervisor relay (`docs/protocol/core-transport.md`, "Supervisor
//! relay"; `Net:SupervisorRelay`): plain positions and weapons are relayed
//! by the supervisor by the realm's rules and still reach players in range
//! and a spectator (with energy, as the realm would send it); where a ball
//! carrier may be refused guns, a weapon takes the realm's relay, which
//! knows who carries the ball; with the setting off, nothing is relayed by
//! the supervisor and positions still arrive; a chat client or a game
//! client who never sends a position does not send the arena's positions
//! through the realm. With send threads (`Net:SendThreads`) all of it, and
//! a stopping zone's goodbyes, still arrive.

use anyhow::{ensure, Context, Result};
use nix::sys::signal::Signal;
use ss_proto::game::{chat_type, ship, weapon_type, C2SPacket, ExtraData, S2CPacket, WeaponInfo};
use ss_proto::transport::{Priority, Reliability};
use ss_tests::bot::Bot;
use ss_tests::chatnet::ChatClient;
use ss_tests::scenario::*;
use ss_tests::zone::TestZone;

/// Positions the supervisor has relayed itself.
fn relayed(zone: &TestZone) -> Result<u64> {
    let stats = zone.stats()?;
    Ok(stats["zone"]["supervisor_relayed"].as_u64().unwrap_or(0))
}

/// Streams five positions from `a` until `b` sees each, and checks that
/// the supervisor relayed at least one of them itself (`why` if not).
fn supervisor_relays(zone: &TestZone, a: &mut Bot, b: &mut Bot, why: &str) -> Result<()> {
    let before = relayed(zone)?;
    for i in 1..=5 {
        stream_until_seen(a, b, 8200 + i * 10, 8200 - i * 10)?;
    }
    ensure!(relayed(zone)? > before, "{why}");
    Ok(())
}

/// Streams positions from `from` until `spec` (spectating `from`) gets one
/// at (`x`, `y`); returns its extra data.
fn stream_until_spectator_sees(
    from: &mut Bot,
    spec: &mut Bot,
    x: i16,
    y: i16,
) -> Result<ExtraData> {
    let pid = pid_of(from);
    stream_until(from, spec, x, y, |p| match p {
        S2CPacket::SmallPosition(s) if i16::from(s.pid) == pid && (s.x, s.y) == (x, y) => {
            Some(s.extra)
        }
        _ => None,
    })
    .context("the spectator waits for the position")
}

/// Three bots: `a` and `b` facing off in ships, `c` a spectator watching
/// `a` from far away.
fn three(zone: &TestZone) -> Result<(Bot, Bot, Bot)> {
    let mut a = bot_in(zone, "alice", "0", ship::WARBIRD)?;
    let mut b = bot_in(zone, "bob", "0", ship::JAVELIN)?;
    let mut c = bot_in(zone, "carol", "0", ship::SPECTATOR)?;
    let a_pid = pid_of(&a);
    wait_for_player(&mut c, "alice")?;
    face_off(&mut a, &mut b)?;
    c.send(
        &C2SPacket::SpectateRequest { pid: a_pid },
        Reliability::Reliable,
        Priority::Normal,
    )?;
    // Carol's own place: far from everyone, so only spectating brings her
    // alice's positions.
    c.send_position(100, 100, 0, 0, WeaponInfo::NONE)?;
    Ok((a, b, c))
}

/// Sends a bullet from `a` at (`x`, `y`) and waits until `b` gets it with
/// its weapon; returns whether the supervisor relayed it itself.
fn bullet_relayed_by_supervisor(
    zone: &TestZone,
    a: &mut Bot,
    b: &mut Bot,
    x: i16,
    y: i16,
) -> Result<bool> {
    let a_pid = pid_of(a);
    let before = relayed(zone)?;
    let gun = WeaponInfo::new(weapon_type::BULLET, 1, false, 0, 0, false);
    a.send_position(x, y, 100, -50, gun)?;
    let got = b
        .wait_for(WAIT, |p| match p {
            S2CPacket::LargePosition(l) if l.pid as i16 == a_pid && l.weapon.is_fired() => {
                Some((l.weapon, l.x, l.y))
            }
            _ => None,
        })
        .context("b waits for a's bullet")?;
    assert_eq!(got, (gun, x, y));
    Ok(relayed(zone)? > before)
}

#[test]
fn plain_positions_and_weapons_are_relayed_by_the_supervisor() {
    zone_test(&[], |zone| {
        let (mut a, mut b, mut c) = three(zone)?;
        for i in 1..=5 {
            stream_until_seen(&mut a, &mut b, 8200 + i * 10, 8200 - i * 10)?;
        }
        // The spectator gets them too, with alice's energy
        // (`Misc:SpecSeeEnergy` defaults to all).
        let extra = stream_until_spectator_sees(&mut a, &mut c, 8260, 8140)?;
        assert_eq!(extra, ExtraData::Energy(1000));
        ensure!(relayed(zone)? > 0, "the supervisor relayed no position");

        // A bullet (0x05 with the weapon) goes the fast way too.
        ensure!(
            bullet_relayed_by_supervisor(zone, &mut a, &mut b, 8270, 8130)?,
            "the realm relayed the bullet"
        );
        // And plain positions after it.
        let before = relayed(zone)?;
        stream_until_seen(&mut a, &mut b, 8280, 8120)?;
        ensure!(relayed(zone)? > before, "no fast relay after the bullet");
        Ok(())
    });
}

#[test]
fn where_a_ball_carrier_may_be_refused_guns_the_realm_relays_weapons() {
    zone_test(
        &[
            "Modules:AttachModules=balls",
            "Soccer:BallCount=1",
            "Soccer:AllowGuns=0",
        ],
        |zone| {
            let (mut a, mut b, _c) = three(zone)?;
            supervisor_relays(
                zone,
                &mut a,
                &mut b,
                "plain positions went through the realm",
            )?;
            ensure!(
                !bullet_relayed_by_supervisor(zone, &mut a, &mut b, 8270, 8130)?,
                "the supervisor relayed a bullet where a carrier may be refused guns"
            );
            Ok(())
        },
    );
}

#[test]
fn with_the_supervisor_relay_off_the_realm_relays_everything() {
    zone_test(&["Net:SupervisorRelay=0"], |zone| {
        let (mut a, mut b, mut c) = three(zone)?;
        for i in 1..=3 {
            stream_until_seen(&mut a, &mut b, 8200 + i * 10, 8200 - i * 10)?;
        }
        let extra = stream_until_spectator_sees(&mut a, &mut c, 8260, 8140)?;
        assert_eq!(extra, ExtraData::Energy(1000));
        assert_eq!(relayed(zone)?, 0);
        Ok(())
    });
}

#[test]
fn a_chat_client_in_the_arena_leaves_plain_positions_to_the_supervisor() {
    zone_test(
        &["Net:ChatListen=127.0.0.1:0", "Net:ChatMessageDelay=1"],
        |zone| {
            // The chat client is in the arena first: a spectator whose
            // place the relay never learns (chatnet sends no positions).
            let addr = zone.chat_addr().context("no chat= in the listening line")?;
            let mut chat = ChatClient::connect(addr)?;
            chat.send("LOGIN:1;test client 1.0:Watcher:secret")?;
            chat.expect(WAIT, "LOGINOK:Watcher")?;
            chat.send("GO:0")?;
            chat.wait_line(WAIT, |l| l.starts_with("INARENA:0:"))?;
            let mut a = bot_in(zone, "alice", "0", ship::WARBIRD)?;
            let mut b = bot_in(zone, "bob", "0", ship::JAVELIN)?;
            face_off(&mut a, &mut b)?;
            supervisor_relays(
                zone,
                &mut a,
                &mut b,
                "with a chat client in the arena every position went through the realm",
            )?;
            // He is still in the arena and hears it.
            a.chat(chat_type::PUBLIC, -1, "still there?")?;
            chat.expect(WAIT, "MSG:PUB:alice:still there?")?;
            Ok(())
        },
    );
}

#[test]
fn a_player_who_never_moves_leaves_plain_positions_to_the_supervisor() {
    zone_test(&[], |zone| {
        // Carol is in a ship but never sends a position: the realm's rules
        // come with its place for her, so the supervisor need not wait
        // for one of her own.
        let mut c = bot_in(zone, "carol", "0", ship::WARBIRD)?;
        let mut a = bot_in(zone, "alice", "0", ship::WARBIRD)?;
        let mut b = bot_in(zone, "bob", "0", ship::JAVELIN)?;
        wait_for_player(&mut c, "bob")?;
        face_off(&mut a, &mut b)?;
        supervisor_relays(
            zone,
            &mut a,
            &mut b,
            "with a player who never moved in the arena every position went through the realm",
        )?;
        Ok(())
    });
}

#[test]
fn with_send_threads_everything_arrives_and_the_goodbyes_too() {
    zone_test(&["Net:SendThreads=2"], |zone| {
        assert_eq!(zone.stats()?["zone"]["send_threads"], 2);
        let (mut a, mut b, mut c) = three(zone)?;
        // Both ways (a and b most likely sit in different shards, and
        // with two bots per direction one shard carries both).
        for i in 1..=5 {
            stream_until_seen(&mut a, &mut b, 8200 + i * 10, 8200 - i * 10)?;
            stream_until_seen(&mut b, &mut a, 7800 - i * 10, 7800 + i * 10)?;
        }
        let extra = stream_until_spectator_sees(&mut a, &mut c, 8260, 8140)?;
        assert_eq!(extra, ExtraData::Energy(1000));
        // Reliable traffic: a chat line reaches both others.
        let a_pid = pid_of(&a);
        a.chat(chat_type::PUBLIC, -1, "threads")?;
        for bot in [&mut b, &mut c] {
            bot.wait_for(WAIT, |p| {
                matches!(p, S2CPacket::Chat(m) if m.pid == a_pid && m.text == "threads")
                    .then_some(())
            })
            .context("the chat line must arrive")?;
        }
        assert_eq!(zone.stats()?["zone"]["send_failed"], 0);
        // A stopping zone says goodbye to everyone before it exits, though
        // the send threads end with it.
        zone.signal(Signal::SIGTERM)?;
        for bot in [&mut a, &mut b, &mut c] {
            bot.wait_disconnected(WAIT)
                .context("the zone's goodbye must arrive")?;
        }
        Ok(())
    });
}
