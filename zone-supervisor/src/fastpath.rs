//! The supervisor relay (`docs/protocol/core-transport.md`, "Supervisor
//! relay"; `Net:SupervisorRelay`): positions with no flash, no safe-zone
//! change, no antiwarp where the arena may strip it, and no weapon unless
//! the arena lets the supervisor relay its sender's weapons, are relayed
//! here, by the rules each realm installs with
//! [`FromRealm::RelayRules`](ipc_proto::FromRealm::RelayRules), instead of
//! a round trip through the realm. The realm still gets every position
//! (as [`ToRealm::RelayedPosition`], held for up to 50 ms unless other
//! traffic goes first) and keeps its state from it.
//!
//! The decision ([`RelayTable::decide`]) is sans-IO; [`Zone`] glue below
//! queues the relays and the realm's copy.

use std::collections::HashMap;

use ipc_proto::relay::{
    plain_receives, weapon_receives, RelayExtra, RelayPeer, RelayPlace, WeaponRanges,
};
use ipc_proto::ToRealm;
use ss_proto::game::{
    position_latency, relay_position, ship, status, ExtraLen, Position, MAX_RELAY_LEN,
};
use ss_proto::transport::{tick_diff, Priority, Reliability};

use crate::state::SlotId;
use crate::zone::Zone;

/// One player as the supervisor relay sees him: the realm's rule and his
/// last position (from his own packets).
#[derive(Clone, Debug)]
struct Peer {
    rule: RelayPeer,
    x: i16,
    y: i16,
    /// Time stamp of his newest position (client ticks).
    time: u32,
    /// Status bits of his newest position.
    status: u8,
    /// Whether `x`, `y` are where the realm has him too: from the realm's
    /// place when the table took him in, or from a newer position of his
    /// own. False only when the realm sent no place for him; until then
    /// his realm's positions go through the realm.
    placed: bool,
}

/// A realm's relay rules and what the supervisor tracks for them.
#[derive(Clone, Debug, Default)]
pub(crate) struct RelayTable {
    antiwarp_slow: bool,
    /// The reach of weapons, when they may be relayed here.
    weapons: Option<WeaponRanges>,
    /// By pid, sorted.
    peers: Vec<Peer>,
    /// Radar-dot generator state.
    rng: u64,
}

/// Receivers of one relayed position, by the extra bytes they get.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    /// No extra bytes.
    pub plain: Vec<i16>,
    /// The sender's energy.
    pub energy: Vec<i16>,
    /// The full extra record.
    pub full: Vec<i16>,
}

impl Plan {
    fn clear(&mut self) {
        self.plain.clear();
        self.energy.clear();
        self.full.clear();
    }
}

/// What becomes of one position.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Through the realm, as before (flash, safe-zone change, a weapon
    /// the realm must see first, unknown sender...).
    Slow,
    /// Relayed here to the plan's receivers (perhaps none); the realm gets
    /// it marked as relayed.
    Relayed,
}

/// Per realm slot.
pub(crate) type RelayTables = HashMap<SlotId, RelayTable>;

impl RelayTable {
    /// Installs new rules, keeping what is tracked of players who stay.
    /// A player the table did not place yet starts at the realm's place
    /// for him in `places`, if it sent one. `now` (server ticks) starts a
    /// newcomer's time stamp where the realm starts it (a little in the
    /// past).
    pub(crate) fn install(
        &mut self,
        antiwarp_slow: bool,
        weapons: Option<WeaponRanges>,
        mut rules: Vec<RelayPeer>,
        places: &[RelayPlace],
        now: u32,
    ) {
        rules.sort_by_key(|r| r.pid);
        rules.dedup_by_key(|r| r.pid);
        let old = std::mem::take(&mut self.peers);
        // By pid, so each rule finds its place without a scan of them all.
        let mut places = places.to_vec();
        places.sort_unstable_by_key(|p| p.pid);
        let realm_place = |pid: i16| {
            places
                .binary_search_by_key(&pid, |p| p.pid)
                .ok()
                .map(|i| places[i])
        };
        self.antiwarp_slow = antiwarp_slow;
        self.weapons = weapons;
        self.peers = rules
            .into_iter()
            .map(|rule| {
                let mut peer = match old.binary_search_by_key(&rule.pid, |p| p.rule.pid) {
                    Ok(i) => Peer { rule, ..old[i] },
                    Err(_) => Peer {
                        rule,
                        x: 0,
                        y: 0,
                        time: now.wrapping_sub(50) & 0x7FFF_FFFF,
                        status: 0,
                        placed: false,
                    },
                };
                if !peer.placed {
                    if let Some(at) = realm_place(rule.pid) {
                        (peer.x, peer.y, peer.placed) = (at.x, at.y, true);
                    }
                }
                peer
            })
            .collect();
        if self.rng == 0 {
            self.rng = u64::from(now) | 1;
        }
    }

    fn index(&self, pid: i16) -> Option<usize> {
        self.peers.binary_search_by_key(&pid, |p| p.rule.pid).ok()
    }

    /// Decides what becomes of `pos` from `pid`, filling `plan` with its
    /// receivers when it is relayed here. The sender's tracked position
    /// is updated either way, as the realm updates its own (only from
    /// newer positions).
    pub(crate) fn decide(&mut self, pid: i16, pos: &Position, plan: &mut Plan) -> Decision {
        plan.clear();
        if pos.x == -1 && pos.y == -1 {
            return Decision::Slow;
        }
        let Some(i) = self.index(pid) else {
            return Decision::Slow;
        };
        let p = &mut self.peers[i];
        let newer = tick_diff(pos.time, p.time) > 0;
        let old_status = p.status;
        if newer {
            p.x = pos.x;
            p.y = pos.y;
            p.time = pos.time;
            p.status = pos.status;
            p.placed = true;
        }
        let sender = p.rule;
        let flash = pos.status & status::FLASH != 0;
        let safe_changed = newer && (pos.status ^ old_status) & status::SAFEZONE != 0;
        let anti = pos.status & status::ANTIWARP != 0;
        let fired = pos.weapon.is_fired();
        if !sender.sender || flash || safe_changed || (anti && self.antiwarp_slow) {
            return Decision::Slow;
        }
        // A weapon's reach (`None`: a mine, for everyone), if the arena
        // and the sender's lag let it be relayed here.
        let reach = match self.weapons {
            _ if !fired => None,
            Some(ranges) if sender.weapons => pos.weapon.relay_reach(ranges.bullet, ranges.other),
            _ => return Decision::Slow,
        };
        // A spectator's positions, and stale ones without a weapon, are
        // relayed to nobody (the realm does the same).
        if sender.ship == ship::SPECTATOR || !(newer || fired) {
            return Decision::Relayed;
        }
        let from = (pos.x, pos.y);
        let mut rng = self.rng;
        for r in &self.peers {
            if !r.placed && r.rule.pid != pid {
                // Who gets it depends on where he is, which only the realm
                // knows yet: it relays this one.
                plan.clear();
                return Decision::Slow;
            }
            let at = (r.x, r.y);
            let extra = if fired {
                weapon_receives(pid, sender.freq, from, &r.rule, at, reach)
            } else {
                plain_receives(pid, sender.freq, from, &r.rule, at, &mut rng)
            };
            match extra {
                Some(RelayExtra::None) => plan.plain.push(r.rule.pid),
                Some(RelayExtra::Energy) => plan.energy.push(r.rule.pid),
                Some(RelayExtra::Full) => plan.full.push(r.rule.pid),
                None => {}
            }
        }
        self.rng = rng;
        Decision::Relayed
    }
}

impl Zone {
    /// Installs a realm's relay rules (ignored with `Net:SupervisorRelay`
    /// off).
    pub(crate) fn install_relay_rules(
        &mut self,
        slot: SlotId,
        antiwarp_slow: bool,
        weapons: Option<WeaponRanges>,
        mut players: Vec<RelayPeer>,
        places: &[RelayPlace],
    ) {
        if !self.s.supervisor_relay {
            return;
        }
        // Chatnet clients are spectators that never send a position and
        // never get one (chatnet has no line for it): they are no
        // receivers, and relaying to them would only queue positions that
        // are thrown away at flush time.
        players.retain(|r| !self.chatnet.is_client(r.pid));
        if players.is_empty() {
            self.relay.remove(&slot);
            return;
        }
        let now = ipc_proto::monotonic_ticks();
        self.relay
            .entry(slot)
            .or_default()
            .install(antiwarp_slow, weapons, players, places, now);
    }

    /// Forgets a realm's relay rules (its worker ended).
    pub(crate) fn drop_relay_rules(&mut self, slot: SlotId) {
        self.relay.remove(&slot);
    }

    /// A C2S position from `pid` in realm `slot`: relayed here if the
    /// rules allow, then forwarded to the realm (marked relayed, or as a
    /// plain packet for the realm to relay). Returns whether the realm got
    /// it.
    pub(crate) fn position_packet(&mut self, pid: i16, slot: SlotId, bytes: &[u8]) -> bool {
        let Some(table) = self.relay.get_mut(&slot) else {
            return self.forward_packet(pid, bytes);
        };
        let Ok(pos) = Position::decode(bytes) else {
            return self.forward_packet(pid, bytes);
        };
        let mut plan = std::mem::take(&mut self.relay_plan);
        if table.decide(pid, &pos, &mut plan) == Decision::Slow {
            self.relay_plan = plan;
            return self.forward_packet(pid, bytes);
        }
        let now = ipc_proto::monotonic_ticks();
        let latency = position_latency(now, pos.time);
        // Weapons go at high priority, as the realm sends them.
        let priority = if pos.weapon.is_fired() {
            Priority::High
        } else {
            Priority::Normal
        };
        let mut buf = [0u8; MAX_RELAY_LEN];
        let mut sent = 0u64;
        for (list, extra) in [
            (&plan.plain, ExtraLen::None),
            (&plan.energy, ExtraLen::Energy),
            (&plan.full, ExtraLen::Full),
        ] {
            if list.is_empty() {
                continue;
            }
            let len = relay_position(&pos, pid as u16, now, latency, extra, &mut buf);
            for &to in list {
                // Only to players the zone has in this realm.
                if !self.state.members.in_realm(to, slot) {
                    continue;
                }
                let Some(p) = self.players.get_mut(to) else {
                    continue;
                };
                sent += 1;
                if p.queue(&buf[..len], Reliability::Unreliable, priority) {
                    self.flush_list.push(to);
                }
            }
        }
        self.relay_plan = plan;
        if let Some(s) = self.state.registry.get_mut(slot) {
            s.counters.packets_out += sent;
        }
        self.stats.supervisor_relayed += 1;
        self.hold_for_realm(
            slot,
            &ToRealm::RelayedPosition {
                pid,
                at: now,
                bytes,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipc_proto::relay::RelayEnergy;
    use ss_proto::game::{weapon_type, WeaponInfo};

    fn rule(pid: i16) -> RelayPeer {
        RelayPeer::plain(pid)
    }

    fn pos(time: u32, x: i16, y: i16) -> Position {
        Position {
            time,
            x,
            y,
            ..Default::default()
        }
    }

    /// A table from rules that came without places: nobody placed yet.
    fn fresh(antiwarp_slow: bool, rules: Vec<RelayPeer>) -> RelayTable {
        let mut t = RelayTable::default();
        t.install(antiwarp_slow, None, rules, &[], 1000);
        t
    }

    /// A table whose players are all placed, at (0, 0): as if each had
    /// sent a position there.
    fn placed(antiwarp_slow: bool, rules: Vec<RelayPeer>) -> RelayTable {
        let mut t = fresh(antiwarp_slow, rules);
        for p in &mut t.peers {
            p.placed = true;
        }
        t
    }

    fn table(rules: Vec<RelayPeer>) -> RelayTable {
        placed(false, rules)
    }

    #[test]
    fn in_range_receivers_and_spectators_get_plain_positions() {
        let spec = RelayPeer {
            ship: ship::SPECTATOR,
            spectating: 1,
            energy: RelayEnergy::All,
            ..rule(4)
        };
        let mut t = table(vec![rule(1), rule(2), rule(3), spec]);
        let mut plan = Plan::default();
        // Place 2 near, 3 far (beyond any radar dot).
        assert_eq!(
            t.decide(2, &pos(1001, 500, 500), &mut plan),
            Decision::Relayed
        );
        assert_eq!(
            t.decide(3, &pos(1001, 16000, 16000), &mut plan),
            Decision::Relayed
        );
        assert_eq!(
            t.decide(1, &pos(1001, 600, 600), &mut plan),
            Decision::Relayed
        );
        assert_eq!(plan.plain, vec![2]);
        // The spectator (at 0,0, far from nothing) sees energy.
        assert_eq!(plan.energy, vec![4]);
        assert!(plan.full.is_empty());
    }

    #[test]
    fn weapons_flash_and_safe_changes_go_to_the_realm_where_weapons_are_not_relayed_here() {
        let mut t = table(vec![rule(1), rule(2)]);
        let mut plan = Plan::default();
        let fired = Position {
            weapon: WeaponInfo(1),
            ..pos(1001, 10, 10)
        };
        assert_eq!(t.decide(1, &fired, &mut plan), Decision::Slow);
        let flash = Position {
            status: status::FLASH,
            ..pos(1002, 10, 10)
        };
        assert_eq!(t.decide(1, &flash, &mut plan), Decision::Slow);
        let safe = Position {
            status: status::SAFEZONE,
            ..pos(1003, 10, 10)
        };
        assert_eq!(t.decide(1, &safe, &mut plan), Decision::Slow);
        // Still in safety: no change, relayed.
        let still = Position {
            status: status::SAFEZONE,
            ..pos(1004, 10, 10)
        };
        assert_eq!(t.decide(1, &still, &mut plan), Decision::Relayed);
        // Unknown sender and ineligible sender: the realm decides.
        assert_eq!(t.decide(9, &pos(1005, 1, 1), &mut plan), Decision::Slow);
        let mut t = table(vec![
            RelayPeer {
                sender: false,
                ..rule(1)
            },
            rule(2),
        ]);
        assert_eq!(t.decide(1, &pos(1001, 1, 1), &mut plan), Decision::Slow);
    }

    const RANGES: WeaponRanges = WeaponRanges {
        bullet: 1500,
        other: 2000,
    };

    /// A table where weapons may be relayed (`RANGES`), everyone placed.
    fn armed(rules: Vec<RelayPeer>) -> RelayTable {
        let mut t = table(rules);
        t.weapons = Some(RANGES);
        t
    }

    fn fired(time: u32, x: i16, y: i16, kind: u8, alternate: bool) -> Position {
        Position {
            weapon: WeaponInfo::new(kind, 0, false, 0, 0, alternate),
            ..pos(time, x, y)
        }
    }

    #[test]
    fn weapons_reach_their_range_where_the_arena_lets_them_be_relayed_here() {
        let watcher = RelayPeer {
            ship: ship::SPECTATOR,
            spectating: 1,
            energy: RelayEnergy::All,
            ..rule(5)
        };
        let mut t = armed(vec![rule(1), rule(2), rule(3), rule(4), watcher]);
        let mut plan = Plan::default();
        // 2 within bullet range, 3 beyond it but within weapon range, 4
        // beyond both but within radar distance; the watcher far away.
        t.decide(2, &pos(1001, 1000, 0), &mut plan);
        t.decide(3, &pos(1001, 1800, 0), &mut plan);
        t.decide(4, &pos(1001, 5000, 0), &mut plan);
        t.decide(5, &pos(1001, 16000, 16000), &mut plan);
        let shots = [
            (weapon_type::BULLET, false, vec![2]),
            (weapon_type::BOMB, false, vec![2, 3]),
            (weapon_type::THOR, false, vec![2, 3, 4]),
            // A mine: everyone.
            (weapon_type::BOMB, true, vec![2, 3, 4]),
        ];
        for (n, (kind, alternate, want)) in shots.into_iter().enumerate() {
            let time = 1002 + n as u32;
            assert_eq!(
                t.decide(1, &fired(time, 0, 0, kind, alternate), &mut plan),
                Decision::Relayed
            );
            assert_eq!(plan.plain, want, "weapon {kind}, mine {alternate}");
            assert_eq!(plan.energy, vec![5], "the watcher sees every weapon");
        }
        // A stale weapon is still relayed (the realm does the same), from
        // the tracked place.
        assert_eq!(
            t.decide(1, &fired(900, 0, 0, weapon_type::BULLET, false), &mut plan),
            Decision::Relayed
        );
        assert_eq!(plan.plain, vec![2]);
        // Flashes and safe-zone changes still go to the realm.
        let flash = Position {
            status: status::FLASH,
            ..fired(1010, 0, 0, weapon_type::BULLET, false)
        };
        assert_eq!(t.decide(1, &flash, &mut plan), Decision::Slow);
    }

    #[test]
    fn a_sender_whose_weapons_the_realm_may_drop_fires_through_the_realm() {
        let lagging = RelayPeer {
            weapons: false,
            ..rule(1)
        };
        let mut t = armed(vec![lagging, rule(2)]);
        let mut plan = Plan::default();
        assert_eq!(
            t.decide(1, &fired(1001, 0, 0, weapon_type::BULLET, false), &mut plan),
            Decision::Slow
        );
        // His plain positions are still relayed here, and 2's weapons too.
        assert_eq!(t.decide(1, &pos(1002, 0, 0), &mut plan), Decision::Relayed);
        assert_eq!(
            t.decide(2, &fired(1001, 0, 0, weapon_type::BULLET, false), &mut plan),
            Decision::Relayed
        );
        assert_eq!(plan.plain, vec![1]);
    }

    #[test]
    fn a_spectators_weapon_is_relayed_to_nobody() {
        let spec = RelayPeer {
            ship: ship::SPECTATOR,
            ..rule(1)
        };
        let mut t = armed(vec![spec, rule(2)]);
        let mut plan = Plan::default();
        assert_eq!(
            t.decide(1, &fired(1001, 0, 0, weapon_type::BULLET, false), &mut plan),
            Decision::Relayed
        );
        assert!(plan.plain.is_empty() && plan.energy.is_empty() && plan.full.is_empty());
    }

    #[test]
    fn antiwarp_goes_to_the_realm_where_it_may_be_stripped() {
        let mut t = placed(true, vec![rule(1), rule(2)]);
        let mut plan = Plan::default();
        let anti = Position {
            status: status::ANTIWARP,
            ..pos(1001, 10, 10)
        };
        assert_eq!(t.decide(1, &anti, &mut plan), Decision::Slow);
        assert_eq!(
            t.decide(1, &pos(1002, 10, 10), &mut plan),
            Decision::Relayed
        );
    }

    #[test]
    fn stale_positions_and_spectators_relay_to_nobody_but_update_no_state() {
        let mut t = table(vec![rule(1), rule(2)]);
        let mut plan = Plan::default();
        assert_eq!(
            t.decide(1, &pos(1010, 10, 10), &mut plan),
            Decision::Relayed
        );
        assert_eq!(plan.plain, vec![2]);
        assert_eq!(
            t.decide(1, &pos(1005, 9000, 9000), &mut plan),
            Decision::Relayed
        );
        assert!(plan.plain.is_empty());
        // The older one did not move him.
        assert_eq!(t.peers[0].x, 10);
    }

    #[test]
    fn new_rules_keep_tracked_places() {
        let mut t = table(vec![rule(1), rule(2)]);
        let mut plan = Plan::default();
        t.decide(2, &pos(1001, 7000, 7000), &mut plan);
        t.install(false, None, vec![rule(2), rule(3)], &[], 2000);
        assert_eq!((t.peers[0].rule.pid, t.peers[0].x), (2, 7000));
        assert!(t.peers[0].placed);
        assert!(!t.peers[1].placed, "a newcomer's place is not known yet");
        assert_eq!(t.peers.len(), 2);
    }

    #[test]
    fn positions_go_through_the_realm_until_every_receiver_is_placed() {
        // Rules without places: nobody's place is known to the table,
        // though the realm knows them all.
        let mut t = fresh(false, vec![rule(1), rule(2)]);
        let mut plan = Plan::default();
        // 2 waits near (8222, 8222) without moving: by a guess of (0, 0)
        // he would miss 1's positions there.
        assert_eq!(
            t.decide(1, &pos(1001, 8222, 8222), &mut plan),
            Decision::Slow
        );
        assert!(plan.plain.is_empty());
        // The sender's own position placed him; 2's first one places 2.
        assert_eq!(
            t.decide(2, &pos(1001, 8200, 8200), &mut plan),
            Decision::Relayed
        );
        assert_eq!(plan.plain, vec![1]);
        assert_eq!(
            t.decide(1, &pos(1002, 8222, 8222), &mut plan),
            Decision::Relayed
        );
        assert_eq!(plan.plain, vec![2]);
    }

    fn at(pid: i16, x: i16, y: i16) -> RelayPlace {
        RelayPlace { pid, x, y }
    }

    #[test]
    fn players_start_where_the_realm_has_them() {
        // A fresh table (a supervisor upgrade, a new worker, newcomers):
        // the realm's places come with its rules. 2 sits still near
        // (8222, 8222), 3 far away.
        let mut t = RelayTable::default();
        let places = [at(1, 0, 0), at(2, 8222, 8222), at(3, 100, 100)];
        t.install(false, None, vec![rule(1), rule(2), rule(3)], &places, 1000);
        let mut plan = Plan::default();
        // 1's first position goes the fast way, to 2 only.
        assert_eq!(
            t.decide(1, &pos(1001, 8200, 8200), &mut plan),
            Decision::Relayed
        );
        assert_eq!(plan.plain, vec![2]);
    }

    #[test]
    fn a_tracked_place_wins_over_the_realms_and_a_missing_one_waits() {
        let mut t = table(vec![rule(1), rule(2)]);
        let mut plan = Plan::default();
        t.decide(2, &pos(1001, 7000, 7000), &mut plan);
        // The realm's place for 2 is older than his own position here;
        // 3 has no place from the realm.
        t.install(
            false,
            None,
            vec![rule(1), rule(2), rule(3)],
            &[at(1, 5, 5), at(2, 10, 10)],
            2000,
        );
        assert_eq!((t.peers[0].x, t.peers[0].y), (0, 0), "1 was placed");
        assert_eq!((t.peers[1].x, t.peers[1].y), (7000, 7000));
        assert!(!t.peers[2].placed);
        assert_eq!(
            t.decide(1, &pos(1002, 7000, 7000), &mut plan),
            Decision::Slow,
            "3's place is unknown: the realm relays"
        );
        // Rules with his place (the next heartbeat's) place him.
        t.install(
            false,
            None,
            vec![rule(1), rule(2), rule(3)],
            &[at(3, 6990, 6990)],
            3000,
        );
        assert_eq!(
            t.decide(1, &pos(1003, 7000, 7000), &mut plan),
            Decision::Relayed
        );
        assert_eq!(plan.plain, vec![2, 3]);
    }
}
