//! End-to-end tests of a first working zone: real `zone-supervisor` and
//! `realm-worker` processes, bots over real UDP on 127.0.0.1.
//!
//! Each test starts its own zone on ephemeral ports, so they run in
//! parallel. Every wait is bounded.

use std::net::{Ipv4Addr, UdpSocket};

use anyhow::Context;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use ss_proto::game::{chat_type, ship, weapon_type, S2CPacket, WeaponInfo};
use ss_tests::scenario::*;
use ss_tests::zone::{wait_until, TestZone};

#[test]
fn two_bots_enter_see_each_other_and_download_the_map() {
    zone_test(&[], |zone| {
        let mut a = bot_in(zone, "alice", "0", ship::WARBIRD)?;
        assert!(a.is_encrypted(), "VIE encryption expected");
        let mut b = bot_in(zone, "bob", "0", ship::WARBIRD)?;
        assert!(b.is_encrypted());

        let bob_in_a = wait_for_player(&mut a, "bob")?;
        let alice_in_b = wait_for_player(&mut b, "alice")?;
        assert_eq!(bob_in_a, pid_of(&b), "alice's view of bob's pid");
        assert_eq!(alice_in_b, pid_of(&a), "bob's view of alice's pid");
        assert_ne!(pid_of(&a), pid_of(&b));

        for bot in [&mut a, &mut b] {
            assert!(bot.map_info().is_some(), "map info (0x29) during entry");
            let lvl = bot.download_map()?;
            assert!(!lvl.is_empty());
        }
        Ok(())
    });
}

#[test]
fn positions_and_weapons_are_relayed() {
    zone_test(&[], |zone| {
        let mut a = bot_in(zone, "alice", "0", ship::WARBIRD)?;
        let mut b = bot_in(zone, "bob", "0", ship::JAVELIN)?;
        let a_pid = pid_of(&a);
        face_off(&mut a, &mut b)?;

        // Several positions in a row arrive with a's pid and coordinates.
        for i in 1..=5 {
            stream_until_seen(&mut a, &mut b, 8200 + i * 10, 8200 - i * 10)?;
        }

        // A bullet: 0x05 with a's pid and the weapon.
        let gun = WeaponInfo::new(weapon_type::BULLET, 1, false, 0, 0, false);
        a.send_position(8210, 8190, 100, -50, gun)?;
        let (weapon, x, y, xs, ys) = b
            .wait_for(WAIT, |p| match p {
                S2CPacket::LargePosition(l) if l.pid as i16 == a_pid && l.weapon.is_fired() => {
                    Some((l.weapon, l.x, l.y, l.x_speed, l.y_speed))
                }
                _ => None,
            })
            .context("b waits for a's bullet")?;
        assert_eq!(weapon, gun);
        assert_eq!((x, y, xs, ys), (8210, 8190, 100, -50));
        Ok(())
    });
}

#[test]
fn public_and_private_chat_reach_the_right_players() {
    zone_test(&[], |zone| {
        let mut a = bot_in(zone, "alice", "0", ship::SPECTATOR)?;
        let mut b = bot_in(zone, "bob", "0", ship::SPECTATOR)?;
        let mut c = bot_in(zone, "carol", "0", ship::SPECTATOR)?;
        let mut d = bot_in(zone, "dave", "1", ship::SPECTATOR)?;
        let a_pid = pid_of(&a);
        let b_pid = wait_for_player(&mut a, "bob")?;
        wait_for_player(&mut b, "carol")?;
        wait_for_player(&mut c, "alice")?;

        a.chat(chat_type::PUBLIC, -1, "hello everyone")?;
        for bot in [&mut b, &mut c] {
            let sender = bot
                .wait_for(WAIT, |p| match p {
                    S2CPacket::Chat(m)
                        if m.chat_type == chat_type::PUBLIC && m.text == "hello everyone" =>
                    {
                        Some(m.pid)
                    }
                    _ => None,
                })
                .context("public chat")?;
            assert_eq!(sender, a_pid);
            assert_eq!(bot.player(sender).map(|p| p.name.as_str()), Some("alice"));
        }

        a.chat(chat_type::PRIVATE, b_pid, "psst bob")?;
        let sender = b
            .wait_for(WAIT, |p| match p {
                S2CPacket::Chat(m) if m.chat_type == chat_type::PRIVATE && m.text == "psst bob" => {
                    Some(m.pid)
                }
                _ => None,
            })
            .context("private chat")?;
        assert_eq!(sender, a_pid);

        // Markers: a later public message from alice reaches carol after
        // anything alice's private message could have caused; a remote
        // message from alice to dave crosses to arena 1 after anything
        // arena 0 could have leaked there.
        a.chat(chat_type::PUBLIC, -1, "after psst")?;
        c.expect_none_before(
            |p| matches!(p, S2CPacket::Chat(m) if m.text == "after psst").then_some(()),
            |p| matches!(p, S2CPacket::Chat(m) if m.text == "psst bob"),
        )
        .context("carol must not see the private message")?;
        a.expect_none_before_marker(|p| {
            matches!(p, S2CPacket::Chat(m) if m.text == "psst bob" || m.text == "hello everyone" || m.text == "after psst")
        })
        .context("the sender does not get his own messages back")?;
        a.chat(chat_type::REMOTE_PRIVATE, -1, ":dave:marker for dave")?;
        d.expect_none_before(
            |p| matches!(p, S2CPacket::Chat(m) if m.text.contains("marker for dave")).then_some(()),
            |p| {
                matches!(p, S2CPacket::Chat(m) if m.text == "psst bob" || m.text == "hello everyone" || m.text == "after psst")
            },
        )
        .context("dave in another arena must see neither")?;
        Ok(())
    });
}

#[test]
fn ship_freq_and_spectator_changes_are_announced() {
    zone_test(&[], |zone| {
        let mut a = bot_in(zone, "alice", "0", ship::WARBIRD)?;
        let mut b = bot_in(zone, "bob", "0", ship::WARBIRD)?;
        let a_pid = wait_for_player(&mut b, "alice")?;

        a.set_ship(ship::SHARK)?;
        let (s, _) = b
            .wait_for(WAIT, |p| match p {
                S2CPacket::ShipChange { ship, pid, freq } if *pid == a_pid => Some((*ship, *freq)),
                _ => None,
            })
            .context("ship change")?;
        assert_eq!(s, ship::SHARK);
        assert_eq!(b.player(a_pid).map(|p| p.ship), Some(ship::SHARK));

        a.set_freq(5)?;
        let f = b
            .wait_for(WAIT, |p| match p {
                S2CPacket::ShipChange { pid, freq, .. } | S2CPacket::FreqChange { pid, freq }
                    if *pid == a_pid =>
                {
                    Some(*freq)
                }
                _ => None,
            })
            .context("freq change")?;
        assert_eq!(f, 5);
        assert_eq!(
            b.player(a_pid).map(|p| (p.ship, p.freq)),
            Some((ship::SHARK, 5))
        );

        a.set_ship(ship::SPECTATOR)?;
        let s = b
            .wait_for(WAIT, |p| match p {
                S2CPacket::ShipChange { ship, pid, .. } if *pid == a_pid => Some(*ship),
                _ => None,
            })
            .context("to spectator")?;
        assert_eq!(s, ship::SPECTATOR);
        assert_eq!(b.player(a_pid).map(|p| p.ship), Some(ship::SPECTATOR));
        Ok(())
    });
}

/// Realm workers by realm name (from `--realm NAME` in their command line).
fn worker_realms(zone: &TestZone) -> Vec<String> {
    let mut names: Vec<String> = zone
        .realm_workers()
        .into_iter()
        .filter_map(|(_, cmd)| {
            let mut args = cmd.split(' ');
            args.find(|a| *a == "--realm")?;
            args.next().map(str::to_owned)
        })
        .collect();
    names.sort();
    names
}

#[test]
fn one_worker_per_realm_and_idle_realms_stop() {
    zone_test(&["Realms:IdleStopMillis=500"], |zone| {
        let mut a = bot_in(zone, "alice", "0", ship::SPECTATOR)?;
        let mut d = bot_in(zone, "dave", "1", ship::SPECTATOR)?;
        let two = wait_until(WAIT, || worker_realms(zone) == ["0", "1"]);
        assert!(
            two,
            "expected realm workers for 0 and 1, children: {:?}",
            zone.children()
        );
        assert_eq!(zone.realm_workers().len(), 2);

        d.disconnect();
        let stopped = wait_until(WAIT, || worker_realms(zone) == ["0"]);
        assert!(
            stopped,
            "realm 1's worker should stop once empty; children: {:?}",
            zone.children()
        );

        // Realm 0 is still busy and keeps working: it answers alice's
        // marker, without having moved her.
        a.expect_none_before_marker(|p| matches!(p, S2CPacket::WhoAmI { .. }))
            .context("realm 0 after realm 1 stopped")?;
        assert_eq!(worker_realms(zone), ["0"]);
        a.disconnect();
        let none = wait_until(WAIT, || zone.realm_workers().is_empty());
        assert!(
            none,
            "every worker should stop; children: {:?}",
            zone.children()
        );
        Ok(())
    });
}

#[test]
fn a_disconnect_is_seen_and_the_population_drops() {
    zone_test(&[], |zone| {
        let mut a = bot_in(zone, "alice", "0", ship::WARBIRD)?;
        let mut b = bot_in(zone, "bob", "0", ship::SPECTATOR)?;
        let a_pid = wait_for_player(&mut b, "alice")?;

        let mut last = (0, 0);
        let counted = wait_until(WAIT, || {
            last = zone.ping_population().unwrap_or((u32::MAX, u32::MAX));
            last == (2, 1)
        });
        assert!(
            counted,
            "population should be 2 with 1 in a ship, ping says {last:?}"
        );

        a.disconnect();
        b.wait_for(WAIT, |p| {
            matches!(p, S2CPacket::PlayerLeaving { pid } if *pid == a_pid).then_some(())
        })
        .context("bob sees alice leave")?;
        assert!(b.player(a_pid).is_none());

        let dropped = wait_until(WAIT, || {
            last = zone.ping_population().unwrap_or((u32::MAX, u32::MAX));
            last == (1, 0)
        });
        assert!(
            dropped,
            "population should drop to 1 with none in a ship, ping says {last:?}"
        );
        Ok(())
    });
}

/// Rounds of garbage in [`garbage_does_not_disturb_the_zone`].
const GARBAGE_ROUNDS: usize = 100;
/// Garbage datagrams per round.
const GARBAGE_PER_ROUND: usize = 100;

/// A random datagram: any length 0–600, often shaped like a core packet.
fn garbage(rng: &mut StdRng, buf: &mut Vec<u8>) {
    let len = rng.gen_range(0..=600);
    buf.clear();
    buf.resize(len, 0);
    rng.fill(&mut buf[..]);
    if len >= 2 && rng.gen_bool(0.5) {
        buf[0] = 0;
        buf[1] = rng.gen_range(0..0x16);
    }
    if rng.gen_bool(0.01) {
        // A well-formed connection request now and then, so that later
        // garbage from this address hits an open (encrypted) connection.
        buf.clear();
        buf.extend_from_slice(&[0, 1]);
        buf.extend_from_slice(&rng.gen::<u32>().to_le_bytes());
        buf.push(if rng.gen_bool(0.5) { 0x01 } else { 0x11 });
        buf.push(0);
    }
}

#[test]
fn garbage_does_not_disturb_the_zone() {
    zone_test(&[], |zone| {
        let mut a = bot_in(zone, "alice", "0", ship::WARBIRD)?;
        let mut b = bot_in(zone, "bob", "0", ship::WARBIRD)?;
        face_off(&mut a, &mut b)?;

        // Garbage in rounds, each followed by a fresh position of alice that
        // bob must receive: the relay keeps working while garbage arrives
        // (the garbage of a round is in the zone's socket before alice's
        // position).
        let game = zone.game_addr();
        let ping = zone.ping_addr();
        let sock = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
        let mut rng = StdRng::seed_from_u64(0x5EED);
        let mut buf = Vec::new();
        for round in 0..GARBAGE_ROUNDS {
            for i in 0..GARBAGE_PER_ROUND {
                garbage(&mut rng, &mut buf);
                let to = if i % 10 == 9 { ping } else { game };
                let _ = sock.send_to(&buf, to);
            }
            let x = 8000 + round as i16;
            stream_until_seen(&mut a, &mut b, x, 8200)
                .with_context(|| format!("alice's position after garbage round {round}"))?;
            assert!(zone.is_running(), "the supervisor died in round {round}");
        }

        // Afterwards: the link still works both ways, the zone answers pings.
        b.clear_backlog();
        stream_until_seen(&mut a, &mut b, 8123, 8234).context("after the flood")?;
        a.chat(chat_type::PUBLIC, -1, "after the storm")?;
        b.wait_for(WAIT, |p| {
            matches!(p, S2CPacket::Chat(m) if m.text == "after the storm").then_some(())
        })?;
        zone.ping_population()?;
        assert!(!a.is_disconnected() && !b.is_disconnected());
        assert!(zone.is_running(), "the supervisor died");
        assert_eq!(zone.realm_workers().len(), 1, "the realm worker died");
        Ok(())
    });
}

#[test]
fn a_lagged_out_player_is_told_why() {
    zone_test(&["Net:DropTimeout=100"], |zone| {
        // The bot syncs its clock every 5 s and sends nothing else, so a 1 s
        // drop timeout lags it out.
        let mut b = bot_in(zone, "bob", "0", ship::SPECTATOR)?;
        let text = b
            .wait_for(WAIT, |p| match p {
                S2CPacket::Chat(m) if m.chat_type == chat_type::SYSOP_WARNING => {
                    Some(m.text.clone())
                }
                _ => None,
            })
            .context("the lag-out message")?;
        assert_eq!(text, "You have been disconnected because of lag (no data).");
        b.wait_disconnected(WAIT)?;
        Ok(())
    });
}

/// A SubSpace client written independently from the protocol documents
/// (Python, `tests/py/vie_client.py`, standard library only) connects with
/// VIE encryption, logs in and enters an arena: the zone follows the
/// documents, not only what our own Rust client tolerates.
#[test]
fn an_independently_written_vie_client_enters_an_arena() {
    zone_test(&[], |zone| {
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("py")
            .join("vie_client.py");
        let game = zone.game_addr();
        let out = std::process::Command::new("python3")
            .arg(&script)
            .arg(game.ip().to_string())
            .arg(game.port().to_string())
            .arg("pyclient")
            .arg("0")
            .output()
            .context("running python3 (needed for this test)")?;
        anyhow::ensure!(
            out.status.success(),
            "the independent client failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let said = String::from_utf8_lossy(&out.stdout);
        anyhow::ensure!(said.contains("entered arena 0"), "client said {said:?}");
        Ok(())
    });
}
