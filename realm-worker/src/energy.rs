//! Who sees whose energy (`docs/protocol/game-protocol.md` §8.4a): the
//! relay appends the sender's energy to a position for a receiver whose
//! viewing rule allows it. Players in ships follow their `see_nrg`,
//! spectators their `see_nrg_spec`; both start from `Misc:SeeEnergy` and
//! `Misc:SpecSeeEnergy` (or everything, with the `seenrg` capability) and
//! staff change them with `?energy`.

use conf::ArenaConfig;

/// One energy viewing rule.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SeeEnergy {
    /// Nobody's energy.
    #[default]
    None,
    /// Everyone's.
    All,
    /// Teammates' only.
    Team,
    /// Only the player being spectated (spectators).
    Spec,
}

impl SeeEnergy {
    /// Reads a setting value: `SEE_NONE`, `SEE_ALL`, `SEE_TEAM`,
    /// `SEE_SPEC` (any case, the `SEE_` optional) or 0–3; anything else
    /// (or nothing) is `default`.
    pub fn parse(value: Option<&str>, default: SeeEnergy) -> SeeEnergy {
        let Some(v) = value.map(|v| v.trim().to_ascii_uppercase()) else {
            return default;
        };
        match v.strip_prefix("SEE_").unwrap_or(&v) {
            "NONE" | "0" => SeeEnergy::None,
            "ALL" | "1" => SeeEnergy::All,
            "TEAM" | "2" => SeeEnergy::Team,
            "SPEC" | "3" => SeeEnergy::Spec,
            _ => default,
        }
    }

    /// Whether a receiver with this rule sees the energy of a sender:
    /// `same_freq` (they are on one freq), `watching` (the receiver
    /// spectates the sender).
    pub fn sees(self, same_freq: bool, watching: bool) -> bool {
        match self {
            SeeEnergy::None => false,
            SeeEnergy::All => true,
            SeeEnergy::Team => same_freq,
            SeeEnergy::Spec => watching,
        }
    }
}

/// The arena's starting rules for players who enter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EnergyRules {
    /// For players in ships (`Misc:SeeEnergy`, default none).
    pub in_ship: SeeEnergy,
    /// For spectators (`Misc:SpecSeeEnergy`, default all, as ASSS reads it).
    pub spec: SeeEnergy,
}

impl EnergyRules {
    /// Reads the rules from an arena config.
    pub fn from_config(cfg: &ArenaConfig) -> EnergyRules {
        EnergyRules {
            in_ship: SeeEnergy::parse(cfg.get_str("Misc", "SeeEnergy"), SeeEnergy::None),
            spec: SeeEnergy::parse(cfg.get_str("Misc", "SpecSeeEnergy"), SeeEnergy::All),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_read_names_and_numbers() {
        assert_eq!(
            SeeEnergy::parse(Some("SEE_TEAM"), SeeEnergy::None),
            SeeEnergy::Team
        );
        assert_eq!(
            SeeEnergy::parse(Some(" see_all "), SeeEnergy::None),
            SeeEnergy::All
        );
        assert_eq!(
            SeeEnergy::parse(Some("spec"), SeeEnergy::None),
            SeeEnergy::Spec
        );
        assert_eq!(SeeEnergy::parse(Some("0"), SeeEnergy::All), SeeEnergy::None);
        assert_eq!(
            SeeEnergy::parse(Some("bogus"), SeeEnergy::All),
            SeeEnergy::All
        );
        assert_eq!(SeeEnergy::parse(None, SeeEnergy::Team), SeeEnergy::Team);
    }

    #[test]
    fn rules_decide_by_team_and_spectating() {
        assert!(!SeeEnergy::None.sees(true, true));
        assert!(SeeEnergy::All.sees(false, false));
        assert!(SeeEnergy::Team.sees(true, false));
        assert!(!SeeEnergy::Team.sees(false, true));
        assert!(SeeEnergy::Spec.sees(false, true));
        assert!(!SeeEnergy::Spec.sees(true, false));
    }
}
