//! Scores kept per player in the arena, and the kill-points rule.
//!
//! Scores live in the realm's memory, keyed by player name, so a player who
//! leaves and comes back while the realm runs finds them again. Every
//! change is reported to the supervisor ([`ipc_proto::FromRealm::ScoreChanged`])
//! so that persistence can store it.

use std::collections::HashMap;

use conf::ArenaConfig;

/// One player's score in this arena.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Score {
    /// Points from kills.
    pub kill_points: i32,
    /// Points from flag games (and staff `?points`).
    pub flag_points: i32,
    /// Kills.
    pub kills: u16,
    /// Deaths.
    pub deaths: u16,
}

/// The arena's scores, by player name (case-insensitive).
#[derive(Debug, Default)]
pub struct Scores {
    by_name: HashMap<String, Score>,
}

impl Scores {
    fn key(name: &str) -> String {
        name.to_ascii_lowercase()
    }

    /// A player's score (zero if none yet).
    pub fn get(&self, name: &str) -> Score {
        self.by_name
            .get(&Self::key(name))
            .copied()
            .unwrap_or_default()
    }

    fn entry(&mut self, name: &str) -> &mut Score {
        self.by_name.entry(Self::key(name)).or_default()
    }

    /// Records a kill: the killer gets the points and a kill, the killed
    /// player a death. Returns the new scores of both.
    pub fn record_kill(&mut self, killer: &str, killed: &str, points: i32) -> (Score, Score) {
        let k = self.entry(killer);
        k.kill_points = k.kill_points.saturating_add(points);
        k.kills = k.kills.saturating_add(1);
        let k = *k;
        let d = self.entry(killed);
        d.deaths = d.deaths.saturating_add(1);
        (k, *d)
    }

    /// Adds flag points; returns the new score.
    pub fn add_flag_points(&mut self, name: &str, points: i32) -> Score {
        let s = self.entry(name);
        s.flag_points = s.flag_points.saturating_add(points);
        *s
    }

    /// Sets a player's score.
    pub fn set(&mut self, name: &str, score: Score) {
        *self.entry(name) = score;
    }

    /// Resets a player's score to zero.
    pub fn reset(&mut self, name: &str) {
        self.by_name.remove(&Self::key(name));
    }
}

/// The arena's kill-points rules (`docs/protocol/config.md` §8.9).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KillRules {
    /// `Kill:FixedKillReward`: −1 = the killed player's bounty.
    pub fixed_reward: i32,
    /// `Kill:FlagMinimumBounty`: killer bounty needed for flag bonuses.
    pub flag_minimum_bounty: i32,
    /// `Kill:PointsPerKilledFlag`.
    pub per_killed_flag: i32,
    /// `Kill:PointsPerCarriedFlag`.
    pub per_carried_flag: i32,
    /// `Kill:PointsPerTeamFlag`.
    pub per_team_flag: i32,
    /// `Misc:TeamKillPoints`: team kills score.
    pub team_kill_points: bool,
}

impl Default for KillRules {
    /// ASSS's built-in defaults.
    fn default() -> Self {
        KillRules {
            fixed_reward: -1,
            flag_minimum_bounty: 0,
            per_killed_flag: 0,
            per_carried_flag: 0,
            per_team_flag: 0,
            team_kill_points: false,
        }
    }
}

impl KillRules {
    /// Reads the rules from an arena config.
    pub fn from_config(cfg: &ArenaConfig) -> KillRules {
        KillRules {
            fixed_reward: cfg.get_int("Kill", "FixedKillReward", -1),
            flag_minimum_bounty: cfg.get_int("Kill", "FlagMinimumBounty", 0),
            per_killed_flag: cfg.get_int("Kill", "PointsPerKilledFlag", 0),
            per_carried_flag: cfg.get_int("Kill", "PointsPerCarriedFlag", 0),
            per_team_flag: cfg.get_int("Kill", "PointsPerTeamFlag", 0),
            team_kill_points: cfg.get_int("Misc", "TeamKillPoints", 0) != 0,
        }
    }
}

/// What the kill-points rule looks at.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KillFacts {
    /// Bounty of the killed player (from the death packet).
    pub bounty: i32,
    /// The killer's own bounty (from his last position).
    pub killer_bounty: i32,
    /// Killer and killed are on the same freq.
    pub team_kill: bool,
    /// Flags the killed player carried.
    pub killed_flags: i32,
    /// Flags the killer carries.
    pub killer_flags: i32,
    /// Flags owned by the killer's freq.
    pub team_flags: i32,
}

/// Points a kill is worth: the bounty (or the fixed reward), plus flag
/// bonuses when the killer's bounty is high enough; nothing for team kills
/// unless the arena allows it.
pub fn kill_points(rules: &KillRules, k: &KillFacts) -> i32 {
    let mut pts = if rules.fixed_reward != -1 {
        rules.fixed_reward
    } else {
        k.bounty
    };
    if k.killer_bounty >= rules.flag_minimum_bounty {
        pts = pts
            .saturating_add(k.killed_flags.saturating_mul(rules.per_killed_flag))
            .saturating_add(k.killer_flags.saturating_mul(rules.per_carried_flag))
            .saturating_add(k.team_flags.saturating_mul(rules.per_team_flag));
    }
    if k.team_kill && !rules.team_kill_points {
        pts = 0;
    }
    pts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(bounty: i32) -> KillFacts {
        KillFacts {
            bounty,
            ..KillFacts::default()
        }
    }

    #[test]
    fn the_reward_is_the_bounty_by_default() {
        let r = KillRules::default();
        assert_eq!(kill_points(&r, &facts(37)), 37);
        assert_eq!(kill_points(&r, &facts(0)), 0);
    }

    #[test]
    fn a_fixed_reward_replaces_the_bounty() {
        let r = KillRules {
            fixed_reward: 25,
            ..KillRules::default()
        };
        assert_eq!(kill_points(&r, &facts(500)), 25);
        // 0 is a fixed reward too; only -1 means "use the bounty".
        let r = KillRules {
            fixed_reward: 0,
            ..KillRules::default()
        };
        assert_eq!(kill_points(&r, &facts(500)), 0);
    }

    #[test]
    fn flag_bonuses_need_the_minimum_bounty() {
        let r = KillRules {
            flag_minimum_bounty: 10,
            per_killed_flag: 100,
            per_carried_flag: 7,
            per_team_flag: 3,
            ..KillRules::default()
        };
        let k = KillFacts {
            bounty: 20,
            killer_bounty: 15,
            killed_flags: 2,
            killer_flags: 1,
            team_flags: 4,
            team_kill: false,
        };
        // 20 + 2*100 + 1*7 + 4*3
        assert_eq!(kill_points(&r, &k), 239);
        let poor = KillFacts {
            killer_bounty: 9,
            ..k
        };
        assert_eq!(kill_points(&r, &poor), 20);
    }

    #[test]
    fn team_kills_score_nothing_unless_allowed() {
        let mut r = KillRules::default();
        let k = KillFacts {
            bounty: 40,
            team_kill: true,
            ..KillFacts::default()
        };
        assert_eq!(kill_points(&r, &k), 0);
        r.team_kill_points = true;
        assert_eq!(kill_points(&r, &k), 40);
    }

    #[test]
    fn scores_accumulate_by_name() {
        let mut s = Scores::default();
        let (a, b) = s.record_kill("Alice", "bob", 30);
        assert_eq!((a.kill_points, a.kills, a.deaths), (30, 1, 0));
        assert_eq!((b.kill_points, b.kills, b.deaths), (0, 0, 1));
        s.record_kill("alice", "BOB", 5);
        assert_eq!(s.get("ALICE").kill_points, 35);
        assert_eq!(s.get("bob").deaths, 2);
        assert_eq!(s.add_flag_points("bob", 7).flag_points, 7);
        s.reset("Bob");
        assert_eq!(s.get("bob"), Score::default());
    }
}
