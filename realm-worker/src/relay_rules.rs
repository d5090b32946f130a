//! The rules by which the supervisor relays plain positions itself
//! (`docs/protocol/core-transport.md` §13.5): after every
//! batch of work the realm compares them with what it last sent and sends
//! [`FromRealm::RelayRules`] when anything changed (entry, leave, ship,
//! freq, spectating, attachment, resolution, energy viewing, bot
//! features). Positions the supervisor relayed come back as
//! [`ipc_proto::ToRealm::RelayedPosition`] and only update state here.

use ipc_proto::relay::{RelayEnergy, RelayPeer, RelayPlace};
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

impl Arena {
    /// The relay rules as they stand: `antiwarp_slow` and one entry per
    /// player (none once the arena was handed over).
    pub(crate) fn relay_rules(&self) -> (bool, Vec<RelayPeer>) {
        if self.handed_over {
            return (false, Vec::new());
        }
        // Antiwarp may be stripped by a region or `Misc:NoSafeAntiwarp`:
        // such positions take the realm's full relay.
        let antiwarp_slow = self.rules.regions.no_safe_antiwarp
            || self
                .assets
                .map
                .regions()
                .iter()
                .any(|r| r.no_antiwarp || r.no_receive_antiwarp);
        let mut players: Vec<RelayPeer> = self
            .players
            .iter()
            .map(|(&pid, p)| RelayPeer {
                pid,
                sender: true,
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
        (antiwarp_slow, players)
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
        let places = self.relay_places(&now.1);
        emit(
            &mut self.out,
            &FromRealm::RelayRules {
                antiwarp_slow: now.0,
                players: now.1.clone(),
                places,
            },
        );
        self.relay_rules_sent = Some(now);
    }
}
