//! The arena's game rules, read once from its config (and again on
//! reload): teams, kills, prizes, chat protection and relay distances.

use conf::ArenaConfig;
use ss_proto::settings::{ArenaSettings, PRIZE_WEIGHTS};

use crate::freqman::FreqConfig;
use crate::scores::KillRules;

/// Prize numbers (`docs/protocol/game-protocol.md` §11.4) that some rules
/// single out.
pub mod prize {
    /// Burst.
    pub const BURST: i16 = 22;
    /// Thor.
    pub const THOR: i16 = 24;
    /// Brick.
    pub const BRICK: i16 = 26;
}

/// Server-side prize rules (`docs/protocol/config.md` §8.12).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrizeRules {
    /// `Prize:UseTeamkillPrize`.
    pub use_teamkill_prize: bool,
    /// `Prize:TeamkillPrize`.
    pub teamkill_prize: i32,
    /// `Prize:DontShareThor`.
    pub dont_share_thor: bool,
    /// `Prize:DontShareBurst`.
    pub dont_share_burst: bool,
    /// `Prize:DontShareBrick`.
    pub dont_share_brick: bool,
    /// Weight of "no prize" in death greens (`DPrizeWeight:NullPrize`
    /// when `Prize:UseDeathPrizeWeights` is set, else 0).
    pub death_null_weight: u32,
    /// Weights of prizes 1–28 for death greens.
    pub death_weights: [u32; 28],
}

impl PrizeRules {
    fn from_config(cfg: &ArenaConfig, settings: &ArenaSettings) -> PrizeRules {
        let flag = |key: &str| cfg.get_int("Prize", key, 0) != 0;
        let (death_null_weight, death_weights) = if flag("UseDeathPrizeWeights") {
            let mut w = [0u32; 28];
            for (i, key) in PRIZE_WEIGHTS.iter().enumerate() {
                w[i] = cfg.get_int("DPrizeWeight", key, 0).max(0) as u32;
            }
            (cfg.get_int("DPrizeWeight", "NullPrize", 0).max(0) as u32, w)
        } else {
            (0, settings.prize_weights().map(u32::from))
        };
        PrizeRules {
            use_teamkill_prize: flag("UseTeamkillPrize"),
            teamkill_prize: cfg.get_int("Prize", "TeamkillPrize", 0),
            dont_share_thor: flag("DontShareThor"),
            dont_share_burst: flag("DontShareBurst"),
            dont_share_brick: flag("DontShareBrick"),
            death_null_weight,
            death_weights,
        }
    }

    /// Whether a green picked up by one player is shown to the others.
    pub fn shared(&self, prize: i16) -> bool {
        !((prize == prize::THOR && self.dont_share_thor)
            || (prize == prize::BURST && self.dont_share_burst)
            || (prize == prize::BRICK && self.dont_share_brick))
    }

    /// The death green for a draw `roll` (any number; reduced modulo the
    /// total weight): 0 for none (`docs/protocol/client-settings.md` §9).
    pub fn death_green(&self, roll: u64) -> u8 {
        let total: u64 = u64::from(self.death_null_weight)
            + self
                .death_weights
                .iter()
                .map(|&w| u64::from(w))
                .sum::<u64>();
        if total == 0 {
            return 0;
        }
        let r = roll % total;
        let mut sum = u64::from(self.death_null_weight);
        if r < sum {
            return 0;
        }
        for (i, &w) in self.death_weights.iter().enumerate() {
            sum += u64::from(w);
            if r < sum {
                return (i + 1) as u8;
            }
        }
        0
    }
}

/// Chat protection (`docs/protocol/config.md` §8.6; mostly global settings).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChatRules {
    /// `Chat:FloodLimit` (0 = off).
    pub flood_limit: u32,
    /// `Chat:FloodShutup`, seconds.
    pub flood_shutup_secs: u64,
    /// `Chat:CommandLimit`.
    pub command_limit: usize,
    /// `Chat:MessageReliable`.
    pub reliable: bool,
    /// `Chat:ForceFilter`: the obscenity filter is on for everyone.
    pub force_filter: bool,
    /// `Chat:FilterMode`: 1 = replace obscene words, 0 = drop the line.
    pub filter_replaces: bool,
    /// `Chat:Obscene`: the word list.
    pub obscene: String,
    /// `Chat:RestrictChat` (arena): the initial arena chat mask.
    pub restrict: u32,
    /// Longest chat text relayed, in characters.
    pub max_length: usize,
}

/// Everything the arena reads from its config.
#[derive(Clone, Debug)]
pub struct Rules {
    /// Team rules.
    pub freq: FreqConfig,
    /// Kill points.
    pub kill: KillRules,
    /// Prizes.
    pub prize: PrizeRules,
    /// Chat protection.
    pub chat: ChatRules,
    /// How far weapons are relayed (`Net:BulletPixels`,
    /// `Net:WeaponPixels`); the supervisor gets them with the relay rules.
    pub ranges: ipc_proto::relay::WeaponRanges,
    /// `Misc:SelfScoreReset`.
    pub self_score_reset: bool,
    /// `Misc:SpecSeeExtra`: spectators get extra data of whom they watch.
    pub spec_see_extra: bool,
    /// `Security:MaxDeathWithoutFiring`.
    pub max_death_without_firing: u32,
    /// Region checks and the region rules of the relay.
    pub regions: crate::regions::RegionRules,
}

impl Rules {
    /// Reads the rules.
    pub fn from_config(cfg: &ArenaConfig, settings: &ArenaSettings) -> Rules {
        let g = cfg.global();
        Rules {
            freq: FreqConfig::from_config(cfg),
            kill: KillRules::from_config(cfg),
            prize: PrizeRules::from_config(cfg, settings),
            chat: ChatRules {
                flood_limit: g.get_int("Chat", "FloodLimit", 10).max(0) as u32,
                flood_shutup_secs: g.get_int("Chat", "FloodShutup", 60).max(0) as u64,
                command_limit: g.get_int("Chat", "CommandLimit", 5).clamp(1, 100) as usize,
                reliable: g.get_int("Chat", "MessageReliable", 1) != 0,
                force_filter: g.get_int("Chat", "ForceFilter", 0) != 0,
                filter_replaces: g.get_int("Chat", "FilterMode", 1) != 0,
                obscene: g.get_str("Chat", "Obscene").unwrap_or("").to_string(),
                restrict: cfg.get_int("Chat", "RestrictChat", 0) as u32,
                max_length: 250,
            },
            // Arena settings (`docs/protocol/config.md` §8.2).
            ranges: ipc_proto::relay::WeaponRanges {
                bullet: cfg.get_int("Net", "BulletPixels", 1500),
                other: cfg.get_int("Net", "WeaponPixels", 2000),
            },
            self_score_reset: cfg.get_int("Misc", "SelfScoreReset", 0) != 0,
            spec_see_extra: cfg.get_int("Misc", "SpecSeeExtra", 1) != 0,
            max_death_without_firing: cfg.get_int("Security", "MaxDeathWithoutFiring", 5).max(0)
                as u32,
            regions: crate::regions::RegionRules::from_config(cfg),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(null: u32, weights: &[(usize, u32)]) -> PrizeRules {
        let mut w = [0u32; 28];
        for &(prize, weight) in weights {
            w[prize - 1] = weight;
        }
        PrizeRules {
            use_teamkill_prize: false,
            teamkill_prize: 0,
            dont_share_thor: true,
            dont_share_burst: false,
            dont_share_brick: false,
            death_null_weight: null,
            death_weights: w,
        }
    }

    #[test]
    fn death_greens_follow_the_weights() {
        let r = rules(0, &[(2, 1), (5, 3)]);
        // Running sums: prize 2 covers 0, prize 5 covers 1..=3.
        assert_eq!(r.death_green(0), 2);
        assert_eq!(r.death_green(1), 5);
        assert_eq!(r.death_green(3), 5);
        assert_eq!(r.death_green(4), 2, "wraps modulo the total");
        let with_null = rules(2, &[(7, 1)]);
        assert_eq!(with_null.death_green(0), 0);
        assert_eq!(with_null.death_green(1), 0);
        assert_eq!(with_null.death_green(2), 7);
        assert_eq!(rules(0, &[]).death_green(12345), 0);
    }

    #[test]
    fn personal_greens_are_not_shared() {
        let r = rules(0, &[]);
        assert!(!r.shared(prize::THOR));
        assert!(r.shared(prize::BURST));
        assert!(r.shared(1));
    }
}
