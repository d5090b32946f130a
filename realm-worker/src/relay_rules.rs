//! The rules by which the supervisor relays positions itself
//! (`docs/protocol/core-transport.md` §13.5): after every
//! batch of work the realm compares them with what it last sent and sends
//! [`FromRealm::RelayRules`] when anything changed (entry, leave, ship,
//! freq, spectating, attachment, resolution, energy viewing, bot
//! features, lag drops, settings). Positions the supervisor relayed come
//! back as [`ipc_proto::ToRealm::RelayedPosition`] and only update state
//! here.

use ipc_proto::relay::{RelayEnergy, RelayPeer, RelayPlace, WeaponRanges};
use ipc_proto::FromRealm;
use ss_proto::game::ship;

use crate::arena::{emit, Arena};
use crate::energy::SeeEnergy;

fn energy(rule: SeeEnergy) -> RelayEnergy {
    match rule {
        SeeEnergy::None => RelayEnergy::None,
        SeeEnergy::All => RelayEnergy::All,
        SeeEnergy::Team => RelayEnergy::Team,
        SeeEnergy::Spec => RelayEnergy::Spec,
    }
}

/// The rules as the realm would send them (places aside, which are not
/// compared).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct RelayRuleSet {
    /// Antiwarp may be stripped here: such positions take the realm's relay.
    pub antiwarp_slow: bool,
    /// The reach of weapons if the supervisor may relay them here.
    pub weapons: Option<WeaponRanges>,
    /// One entry per player, by pid.
    pub players: Vec<RelayPeer>,
}

impl Arena {
    /// The relay rules as they stand (no players once the arena was handed
    /// over).
    pub(crate) fn relay_rules(&self) -> RelayRuleSet {
        if self.handed_over {
            return RelayRuleSet {
                antiwarp_slow: false,
                weapons: None,
                players: Vec::new(),
            };
        }
        let regions = self.assets.map.regions();
        // Antiwarp may be stripped by a region or `Misc:NoSafeAntiwarp`:
        // such positions take the realm's full relay.
        let antiwarp_slow = self.rules.regions.no_safe_antiwarp
            || regions
                .iter()
                .any(|r| r.no_antiwarp || r.no_receive_antiwarp);
        // Weapons likewise where a region may remove one (`rNWP`, `rNRW`)
        // or a ball carrier may be refused one: the realm knows who is
        // where and who carries what.
        let weapons_slow = regions.iter().any(|r| r.no_weapons || r.no_receive_weapons)
            || self
                .balls
                .as_ref()
                .is_some_and(|b| b.may_refuse_carrier_weapons());
        let mut players: Vec<RelayPeer> = self
            .players
            .iter()
            .map(|(&pid, p)| RelayPeer {
                pid,
                sender: true,
                // The lag rules drop a share of his weapons (`[Lag]`).
                weapons: p.lag.ignore_weapons <= 0.0,
                ship: p.ship,
                freq: p.freq,
                range: i32::from(p.info.x_res) + i32::from(p.info.y_res),
                spectating: p.spectating,
                attached_to: p.attached_to,
                see_all_posn: p.see_all_posn,
                see_own_posn: p.see_own_posn,
                sees_extra: p.sees_extra,
                energy: energy(if p.ship == ship::SPECTATOR {
                    p.see_nrg_spec
                } else {
                    p.see_nrg
                }),
            })
            .collect();
        players.sort_by_key(|p| p.pid);
        RelayRuleSet {
            antiwarp_slow,
            weapons: (!weapons_slow).then_some(self.rules.ranges),
            players,
        }
    }

    /// Where the realm has each player of `rules` now (the place its own
    /// relay uses for him as a receiver).
    fn relay_places(&self, rules: &[RelayPeer]) -> Vec<RelayPlace> {
        rules
            .iter()
            .filter_map(|r| {
                let p = self.players.get(&r.pid)?;
                Some(RelayPlace {
                    pid: r.pid,
                    x: p.x,
                    y: p.y,
                })
            })
            .collect()
    }

    /// Sends [`FromRealm::RelayRules`] if they changed since last sent
    /// (the places go with them but are not compared).
    pub(crate) fn update_relay_rules(&mut self) {
        let now = self.relay_rules();
        if self.relay_rules_sent.as_ref() == Some(&now) {
            return;
        }
        let places = self.relay_places(&now.players);
        emit(
            &mut self.out,
            &FromRealm::RelayRules {
                antiwarp_slow: now.antiwarp_slow,
                weapons: now.weapons,
                players: now.players.clone(),
                places,
            },
        );
        self.relay_rules_sent = Some(now);
    }
}
