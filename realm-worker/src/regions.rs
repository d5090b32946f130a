//! Map regions in play (`docs/protocol/game-protocol.md` §8.9): which
//! regions of the map (`REGN` chunks, `docs/protocol/lvl-format.md` §6)
//! each player in a ship is in, the enter and leave events modules hear
//! ([`crate::modules::Module::on_region`]), and the region rules of the
//! position relay (no antiwarp, no weapons; for receivers: no antiwarp
//! shown, no weapons received).

use conf::ArenaConfig;
use ss_proto::game::status;

use crate::arena::Arena;

/// Most regions one player is counted in at once (a map with more
/// overlapping regions at one tile has the rest ignored).
const MAX_REGIONS_AT_ONCE: usize = 64;

/// The arena's region rules, from its config.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegionRules {
    /// `Misc:RegionCheckInterval`: ticks between two region checks of a
    /// player (ASSS default 100).
    pub check_interval: u32,
    /// `Misc:NoSafeAntiwarp`: antiwarp is taken out of positions sent from
    /// a safe zone.
    pub no_safe_antiwarp: bool,
}

impl RegionRules {
    /// Reads the rules from an arena config.
    pub fn from_config(cfg: &ArenaConfig) -> RegionRules {
        RegionRules {
            check_interval: cfg.get_int("Misc", "RegionCheckInterval", 100).max(0) as u32,
            no_safe_antiwarp: cfg.get_int("Misc", "NoSafeAntiwarp", 0) != 0,
        }
    }
}

/// What the arena knows of one player's regions.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct PlayerRegions {
    /// Indices (into the map's regions) of the regions he is in, sorted.
    pub inside: Vec<u16>,
    /// When his regions were last checked (ticks); `None` = never.
    pub checked_at: Option<u32>,
    /// One of his regions has `rNAW`: his antiwarp does not work.
    pub no_antiwarp: bool,
    /// One of his regions has `rNWP`: his weapons do not work.
    pub no_weapons: bool,
    /// One of his regions has `rNRA`: others' antiwarp is not shown to him.
    pub no_receive_antiwarp: bool,
    /// One of his regions has `rNRW`: others' weapons are not sent to him.
    pub no_receive_weapons: bool,
}

/// What the relay must take out of a position because of the sender's
/// regions (and `Misc:NoSafeAntiwarp`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Strip {
    /// Remove the weapon.
    pub weapon: bool,
    /// Clear the antiwarp status bit.
    pub antiwarp: bool,
}

impl Arena {
    /// After a newer position of `pid` (in a ship) at (`x`, `y`) pixels:
    /// if his regions are due for a check, finds the regions at his tile,
    /// updates his region rules and tells the modules which regions he
    /// entered and left.
    pub(crate) fn check_regions(&mut self, pid: i16, x: i16, y: i16, now: u32) {
        let interval = self.rules.regions.check_interval;
        let Some(p) = self.players.get(&pid) else {
            return;
        };
        if p.regions.inside.is_empty() && self.assets.map.regions().is_empty() {
            return;
        }
        if p.regions
            .checked_at
            .is_some_and(|at| ss_proto::transport::tick_diff(now, at) < interval as i32)
        {
            return;
        }
        let (tx, ty) = (i32::from(x) >> 4, i32::from(y) >> 4);
        let mut now_in: Vec<u16> = Vec::new();
        let (mut no_anti, mut no_weapons) = (false, false);
        let (mut no_recv_anti, mut no_recv_weapons) = (false, false);
        for (i, r) in self.assets.map.regions().iter().enumerate() {
            if now_in.len() >= MAX_REGIONS_AT_ONCE {
                break;
            }
            if r.contains(tx, ty) {
                now_in.push(i as u16);
                no_anti |= r.no_antiwarp;
                no_weapons |= r.no_weapons;
                no_recv_anti |= r.no_receive_antiwarp;
                no_recv_weapons |= r.no_receive_weapons;
            }
        }
        let Some(p) = self.players.get_mut(&pid) else {
            return;
        };
        p.regions.checked_at = Some(now);
        p.regions.no_antiwarp = no_anti;
        p.regions.no_weapons = no_weapons;
        p.regions.no_receive_antiwarp = no_recv_anti;
        p.regions.no_receive_weapons = no_recv_weapons;
        if p.regions.inside == now_in {
            return;
        }
        let old = std::mem::replace(&mut p.regions.inside, now_in.clone());
        let left: Vec<u16> = old
            .iter()
            .filter(|i| now_in.binary_search(i).is_err())
            .copied()
            .collect();
        let entered: Vec<u16> = now_in
            .iter()
            .filter(|i| old.binary_search(i).is_err())
            .copied()
            .collect();
        for (list, entering) in [(left, false), (entered, true)] {
            for region in list {
                self.each_module(|m, a| m.on_region(a, pid, usize::from(region), entering, now));
            }
        }
    }

    /// Forgets a player's regions (he left the game or the map changed):
    /// no leave events, as ASSS does not send them either.
    pub(crate) fn forget_regions(&mut self, pid: i16) {
        if let Some(p) = self.players.get_mut(&pid) {
            p.regions = PlayerRegions::default();
        }
    }

    /// What must be taken out of a position `pid` sent with `status` and a
    /// weapon (`fired`), by his regions and `Misc:NoSafeAntiwarp`.
    pub(crate) fn region_strip(&self, pid: i16, status_bits: u8, fired: bool) -> Strip {
        let Some(p) = self.players.get(&pid) else {
            return Strip::default();
        };
        let anti = status_bits & status::ANTIWARP != 0;
        let safe = status_bits & status::SAFEZONE != 0;
        Strip {
            weapon: fired && p.regions.no_weapons,
            antiwarp: anti
                && (p.regions.no_antiwarp || (safe && self.rules.regions.no_safe_antiwarp)),
        }
    }
}
