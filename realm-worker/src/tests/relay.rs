//! The supervisor relay's receiver rules (`ipc_proto::relay`), checked
//! against the realm's own relay: for plain positions and for weapons both
//! must pick the same receivers with the same extra bytes
//! (`docs/protocol/core-transport.md` §13.5); and when the rules let the
//! supervisor relay weapons.

use super::*;
use ipc_proto::relay::{plain_receives, weapon_receives, RelayExtra, WeaponRanges};
use ss_proto::game::{weapon_type, ExtraData, WeaponInfo};

/// Sends a plain position of `pid` at (x, y), newer than the last.
fn plain_at(h: &mut Harness, pid: i16, x: i16, y: i16, n: u32) {
    position_at(h, pid, x, y, 0, n);
}

/// The same with the 10 extra bytes (so that a receiver's full extra data
/// can be told from energy alone).
fn plain_with_extra(h: &mut Harness, pid: i16, x: i16, y: i16, n: u32) {
    let pos = ss_proto::game::Position {
        time: ipc_proto::monotonic_ticks().wrapping_add(n),
        x,
        y,
        energy: 900,
        extra: Some(Default::default()),
        ..Default::default()
    };
    h.send_position(pid, &pos);
}

/// Which kind of extra bytes a relayed position carried.
fn extra_kind(extra: &ExtraData) -> RelayExtra {
    match extra {
        ExtraData::None => RelayExtra::None,
        ExtraData::Energy(_) => RelayExtra::Energy,
        ExtraData::Full(_) => RelayExtra::Full,
    }
}

/// What `to` got of `from`'s last relayed position: `None` if nothing,
/// else its extra bytes.
fn got(h: &Harness, to: i16, from: i16) -> Option<RelayExtra> {
    h.received(to).into_iter().rev().find_map(|p| match p {
        S2CPacket::SmallPosition(s) if i16::from(s.pid) == from => Some(extra_kind(&s.extra)),
        _ => None,
    })
}

/// What `to` got of `from`'s last relayed weapon: `None` if nothing, else
/// its extra bytes.
fn got_weapon(h: &Harness, to: i16, from: i16) -> Option<RelayExtra> {
    h.received(to).into_iter().rev().find_map(|p| match p {
        S2CPacket::LargePosition(l) if l.pid as i16 == from && l.weapon.is_fired() => {
            Some(extra_kind(&l.extra))
        }
        _ => None,
    })
}

/// An arena for comparing the two relays: 1 sends; 2..=7 in ships; 8
/// and 9 spectators, 8 watching 1.
fn sender_and_receivers(settings: &[&str]) -> Harness {
    let mut h = Harness::new(settings);
    for pid in 1..=7 {
        h.enter(pid, &format!("p{pid}"), ship::WARBIRD);
    }
    h.enter(8, "watcher", ship::SPECTATOR);
    h.enter(9, "spec", ship::SPECTATOR);
    h.packet(8, C2SPacket::SpectateRequest { pid: 1 });
    h
}

/// A small deterministic generator for placements.
fn next(seed: &mut u64) -> u64 {
    *seed = ipc_proto::relay::xorshift(*seed);
    *seed
}

#[test]
fn the_supervisor_rule_picks_the_realms_receivers_for_plain_positions() {
    for (settings, seed0) in [
        (&[][..], 7u64),
        (
            &["Misc:SeeEnergy=SEE_TEAM", "Misc:SpecSeeEnergy=SEE_SPEC"][..],
            11,
        ),
        (
            &["Misc:SeeEnergy=SEE_ALL", "Misc:SpecSeeEnergy=SEE_NONE"][..],
            13,
        ),
    ] {
        let mut h = sender_and_receivers(settings);
        let mut seed = seed0;
        let mut n = 1;
        for round in 0..40 {
            // Everyone near the sender (within his screen range) or far
            // beyond any radar dot: the rule has no chance in it then.
            let (sx, sy) = (2000i16, 2000i16);
            let mut places = Vec::new();
            for pid in 2..=9 {
                let near = next(&mut seed).is_multiple_of(2);
                let (x, y) = if near {
                    // Anywhere within his range of 1024 + 768.
                    let dx = (next(&mut seed) % 1250) as i16;
                    let dy = (next(&mut seed) % 1250) as i16;
                    (sx + dx, sy + dy)
                } else {
                    (
                        12_000 + (next(&mut seed) % 4000) as i16,
                        12_000 + (next(&mut seed) % 4000) as i16,
                    )
                };
                plain_at(&mut h, pid, x, y, n);
                n += 1;
                places.push((pid, (x, y)));
            }
            h.clear();
            plain_with_extra(&mut h, 1, sx, sy, n);
            n += 1;
            let rules = h.arena.relay_rules().players;
            let sender = rules.iter().find(|r| r.pid == 1).expect("sender rule");
            // A generator stuck at zero draws no radar dot: the placements
            // above leave no receiver where one could be drawn.
            let mut rng = 0;
            for (pid, at) in places {
                let rule = rules.iter().find(|r| r.pid == pid).expect("rule");
                let want = plain_receives(1, sender.freq, (sx, sy), rule, at, &mut rng);
                assert_eq!(
                    got(&h, pid, 1),
                    want,
                    "settings {settings:?}, round {round}, receiver {pid} at {at:?}: {rule:?}"
                );
            }
        }
    }
}

#[test]
fn the_supervisor_rule_picks_the_realms_receivers_for_weapons() {
    let weapons = [
        WeaponInfo::new(weapon_type::BULLET, 0, false, 0, 0, false),
        WeaponInfo::new(weapon_type::BOUNCE_BULLET, 1, false, 0, 0, true),
        WeaponInfo::new(weapon_type::BOMB, 0, false, 0, 0, false),
        WeaponInfo::new(weapon_type::PROX_BOMB, 2, false, 0, 0, true),
        WeaponInfo::new(weapon_type::REPEL, 0, false, 0, 0, false),
        WeaponInfo::new(weapon_type::THOR, 0, false, 0, 0, false),
    ];
    for (settings, seed0) in [
        (&[][..], 17u64),
        (
            &["Misc:SeeEnergy=SEE_TEAM", "Misc:SpecSeeEnergy=SEE_SPEC"][..],
            19,
        ),
        (&["Net:BulletPixels=900", "Net:WeaponPixels=2600"][..], 23),
    ] {
        let mut h = sender_and_receivers(settings);
        let ranges = h.arena.relay_rules().weapons.expect("weapons relayable");
        let mut seed = seed0;
        let mut n = 1;
        for round in 0..60 {
            let (sx, sy) = (8000i16, 8000i16);
            let mut places = Vec::new();
            for pid in 2..=9 {
                // Anywhere up to 3500 pixels away each way: within and
                // beyond every weapon's reach but a thor's.
                let dx = (next(&mut seed) % 7000) as i16 - 3500;
                let dy = (next(&mut seed) % 7000) as i16 - 3500;
                let at = (sx + dx, sy + dy);
                plain_at(&mut h, pid, at.0, at.1, n);
                n += 1;
                places.push((pid, at));
            }
            h.clear();
            let weapon = weapons[round % weapons.len()];
            let pos = ss_proto::game::Position {
                time: ipc_proto::monotonic_ticks().wrapping_add(n),
                x: sx,
                y: sy,
                energy: 900,
                weapon,
                extra: Some(Default::default()),
                ..Default::default()
            };
            h.send_position(1, &pos);
            n += 1;
            let rules = h.arena.relay_rules().players;
            let sender = rules.iter().find(|r| r.pid == 1).expect("sender rule");
            assert!(sender.weapons, "nothing drops this sender's weapons");
            let reach = weapon.relay_reach(ranges.bullet, ranges.other);
            for (pid, at) in places {
                let rule = rules.iter().find(|r| r.pid == pid).expect("rule");
                let want = weapon_receives(1, sender.freq, (sx, sy), rule, at, reach);
                assert_eq!(
                    got_weapon(&h, pid, 1),
                    want,
                    "settings {settings:?}, round {round}, {weapon:?} to {pid} at {at:?}: {rule:?}"
                );
            }
        }
    }
}

#[test]
fn weapons_are_left_to_the_realm_where_it_may_remove_them() {
    // By default the supervisor may relay weapons, with the arena's reach.
    let h = Harness::new(&["Net:BulletPixels=1200", "Net:WeaponPixels=2500"]);
    assert_eq!(
        h.arena.relay_rules().weapons,
        Some(WeaponRanges {
            bullet: 1200,
            other: 2500
        })
    );
    // Not where a ball carrier may be refused guns or bombs.
    for refusal in ["Soccer:AllowGuns=0", "Soccer:AllowBombs=0"] {
        let h = Harness::new(&["Modules:AttachModules=balls", "Soccer:BallCount=1", refusal]);
        assert!(h.arena.balls.is_some(), "{refusal}: no ball module");
        assert_eq!(h.arena.relay_rules().weapons, None, "{refusal}");
    }
    let h = Harness::new(&["Modules:AttachModules=balls", "Soccer:BallCount=1"]);
    assert!(h.arena.relay_rules().weapons.is_some(), "carriers may fire");
    // Nor where a region removes weapons from its players' positions
    // (`rNWP`) or from what they receive (`rNRW`); other regions are no
    // reason.
    use ss_proto::map::{Map, Region, TileRun};
    let region = |no_weapons, no_receive_weapons| Region {
        name: "r".into(),
        runs: vec![TileRun {
            y: 100,
            x: 100,
            len: 10,
        }],
        no_weapons,
        no_receive_weapons,
        ..Region::default()
    };
    for (r, relayable) in [
        (region(true, false), false),
        (region(false, true), false),
        (region(false, false), true),
    ] {
        let mut h = Harness::new(&[]);
        h.arena.assets.map = Map::decode(&Map::new().encode_with_regions(&[r])).unwrap();
        assert_eq!(h.arena.relay_rules().weapons.is_some(), relayable);
    }
}

#[test]
fn a_player_whose_weapons_the_lag_rules_drop_fires_through_the_realm() {
    let mut h = Harness::new(&[]);
    h.enter(1, "alice", ship::WARBIRD);
    h.enter(2, "bob", ship::WARBIRD);
    assert!(h.arena.relay_rules().players.iter().all(|r| r.weapons));
    h.arena.players.get_mut(&1).unwrap().lag.ignore_weapons = 0.25;
    let rules = h.arena.relay_rules().players;
    assert!(!rules[0].weapons && rules[1].weapons, "{rules:?}");
}

#[test]
fn a_relayed_position_moves_the_sender_but_is_not_relayed_again() {
    let mut h = Harness::new(&[]);
    h.enter(1, "alice", ship::WARBIRD);
    h.enter(2, "bob", ship::WARBIRD);
    plain_at(&mut h, 2, 5000, 5000, 1);
    h.clear();
    let pos = ss_proto::game::Position {
        time: ipc_proto::monotonic_ticks().wrapping_add(2),
        x: 5010,
        y: 5010,
        ..Default::default()
    };
    let mut buf = [0u8; ss_proto::game::Position::MAX_LEN];
    let len = pos.encode_into(&mut buf);
    h.send(ToRealm::RelayedPosition {
        pid: 1,
        at: ipc_proto::monotonic_ticks(),
        bytes: &buf[..len],
    });
    assert_eq!(got(&h, 2, 1), None, "relayed again by the realm");
    assert_eq!((h.arena.players[&1].x, h.arena.players[&1].y), (5010, 5010));
}

#[test]
fn relay_rules_are_sent_when_they_change_and_only_then() {
    let rules_sent = |h: &Harness| {
        h.others()
            .iter()
            .filter(|s| s.starts_with("RelayRules"))
            .count()
    };
    let mut h = Harness::new(&[]);
    h.enter(1, "alice", ship::WARBIRD);
    assert_eq!(rules_sent(&h), 1, "{:?}", h.others());
    h.clear();
    plain_at(&mut h, 1, 100, 100, 1);
    assert_eq!(rules_sent(&h), 0, "a position changes no rule");
    h.packet(
        1,
        C2SPacket::SetShip {
            ship: ship::SPECTATOR,
        },
    );
    assert_eq!(rules_sent(&h), 1, "a ship change does");
    let rules = h.arena.relay_rules().players;
    assert_eq!(rules[0].ship, ship::SPECTATOR);
}

#[test]
fn relay_rules_carry_the_places_the_realm_relays_by() {
    let mut h = Harness::new(&[]);
    h.enter(1, "alice", ship::WARBIRD);
    h.enter(2, "bob", ship::JAVELIN);
    plain_at(&mut h, 1, 5000, 6000, 1);
    h.clear();
    // The next heartbeat sends the rules again, with where everyone is.
    h.send(ToRealm::Heartbeat { seq: 1 });
    let rules: Vec<String> = h
        .others()
        .into_iter()
        .filter(|s| s.starts_with("RelayRules"))
        .collect();
    assert_eq!(rules.len(), 1, "{:?}", h.others());
    assert!(
        rules[0].contains("RelayPlace { pid: 1, x: 5000, y: 6000 }"),
        "{}",
        rules[0]
    );
    assert!(rules[0].contains("RelayPlace { pid: 2,"), "{}", rules[0]);
}
