//! The freq manager: which ship and freq a player gets on entry, and
//! whether a ship or freq change is granted (`docs/protocol/config.md` §8.4,
//! the rules of ASSS's frequency manager with its default balancer and the optional
//! `enf_legalship`/`enf_shipcount` enforcers).
//!
//! It is pure: it decides over a snapshot of the arena's players
//! ([`Member`]) and the arena's [`FreqConfig`], and returns an [`Outcome`];
//! the arena carries the change out and tells the players.

use std::collections::BTreeMap;

use conf::ArenaConfig;
use ss_proto::settings::SHIP_NAMES;

/// Spectator "ship".
pub const SPEC: u8 = 8;
/// Highest freq number a client may use.
pub const MAX_FREQ_NUMBER: i32 = 9999;

/// The arena's team rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FreqConfig {
    /// `Team:SpectatorFrequency`.
    pub spec_freq: i16,
    /// `Team:MaxFrequency`: one more than the highest usable freq.
    pub freq_count: i32,
    /// `Team:PrivFreqStart`: freqs from here on are private.
    pub private_start: i32,
    /// `Team:MaxPerTeam` (0 = public freqs closed).
    pub max_public: i32,
    /// `Team:MaxPerPrivateTeam` (0 = private freqs closed).
    pub max_private: i32,
    /// `Team:DesiredTeams`: freqs the balancer fills on entry.
    pub desired_teams: i32,
    /// `Team:RequriedTeams` (sic): freqs that must keep a player.
    pub required_teams: i32,
    /// `Team:BalancedAgainstStart`.
    pub balanced_start: i32,
    /// `Team:BalancedAgainstEnd`.
    pub balanced_end: i32,
    /// `Team:ForceEvenTeams`.
    pub force_even: bool,
    /// `Team:MaxTeamDifference` (at least 1).
    pub max_difference: i32,
    /// `Team:InitialSpec`: entering players start in spectator mode.
    pub initial_spec: bool,
    /// `Team:IncludeSpectators`: spectators count toward freq sizes.
    pub include_spectators: bool,
    /// `Team:DisallowTeamSpectators`.
    pub disallow_team_spectators: bool,
    /// `General:MaxPlaying` (0 = no limit).
    pub max_playing: i32,
    /// `Misc:MaxXres` (0 = no limit).
    pub max_x_res: i32,
    /// `Misc:MaxYres` (0 = no limit).
    pub max_y_res: i32,
    /// `Misc:MaxResArea` (0 = no limit).
    pub max_res_area: i32,
    /// `<Ship>:LimitPerTeam` for each ship (−1 = no limit).
    pub ship_limit_per_team: [i32; 8],
    /// `Legalship:ArenaMask`: bit n = ship n allowed.
    pub arena_ship_mask: u8,
    /// `Legalship:Freq<n>Mask` entries present in the config.
    pub freq_ship_masks: BTreeMap<i16, u8>,
}

impl Default for FreqConfig {
    /// ASSS's built-in defaults.
    fn default() -> Self {
        FreqConfig {
            spec_freq: 8025,
            freq_count: 10000,
            private_start: 100,
            max_public: 1000,
            max_private: 1000,
            desired_teams: 2,
            required_teams: 0,
            balanced_start: 1,
            balanced_end: 0,
            force_even: false,
            max_difference: 1,
            initial_spec: false,
            include_spectators: false,
            disallow_team_spectators: false,
            max_playing: 100,
            max_x_res: 0,
            max_y_res: 0,
            max_res_area: 0,
            ship_limit_per_team: [-1; 8],
            arena_ship_mask: 0xFF,
            freq_ship_masks: BTreeMap::new(),
        }
    }
}

impl FreqConfig {
    /// Reads the team rules from an arena config.
    pub fn from_config(cfg: &ArenaConfig) -> FreqConfig {
        let d = FreqConfig::default();
        let int = |section: &str, key: &str, default: i32| cfg.get_int(section, key, default);
        let mut freq_count = int("Team", "MaxFrequency", d.freq_count);
        if !(1..=10000).contains(&freq_count) {
            freq_count = 10000;
        }
        let mut desired_teams = int("Team", "DesiredTeams", d.desired_teams);
        if !(0..=freq_count).contains(&desired_teams) {
            desired_teams = 0;
        }
        let mut required_teams = int("Team", "RequriedTeams", 0);
        if !(0..=freq_count).contains(&required_teams) {
            required_teams = 0;
        }
        let mut private_start = int("Team", "PrivFreqStart", d.private_start);
        if !(0..=MAX_FREQ_NUMBER).contains(&private_start) {
            private_start = 100;
        }
        let mut ship_limit_per_team = [-1; 8];
        for (i, name) in SHIP_NAMES.iter().enumerate() {
            ship_limit_per_team[i] = int(name, "LimitPerTeam", -1);
        }
        let mut freq_ship_masks = BTreeMap::new();
        if let Some(section) = cfg.file().section("Legalship") {
            for (key, _) in section.iter() {
                let lower = key.to_ascii_lowercase();
                let Some(n) = lower
                    .strip_prefix("freq")
                    .and_then(|r| r.strip_suffix("mask"))
                    .and_then(|n| n.parse::<i16>().ok())
                else {
                    continue;
                };
                freq_ship_masks.insert(n, int("Legalship", key, 255) as u8);
            }
        }
        FreqConfig {
            spec_freq: int("Team", "SpectatorFrequency", i32::from(d.spec_freq))
                .clamp(0, MAX_FREQ_NUMBER) as i16,
            freq_count,
            private_start,
            max_public: int("Team", "MaxPerTeam", d.max_public),
            max_private: int("Team", "MaxPerPrivateTeam", d.max_private),
            desired_teams,
            required_teams,
            balanced_start: int("Team", "BalancedAgainstStart", d.balanced_start),
            balanced_end: int("Team", "BalancedAgainstEnd", d.balanced_end),
            force_even: int("Team", "ForceEvenTeams", 0) != 0,
            max_difference: int("Team", "MaxTeamDifference", 1).max(1),
            initial_spec: int("Team", "InitialSpec", 0) != 0,
            include_spectators: int("Team", "IncludeSpectators", 0) != 0,
            disallow_team_spectators: int("Team", "DisallowTeamSpectators", 0) != 0,
            max_playing: int("General", "MaxPlaying", d.max_playing),
            max_x_res: int("Misc", "MaxXres", 0),
            max_y_res: int("Misc", "MaxYres", 0),
            max_res_area: int("Misc", "MaxResArea", 0),
            ship_limit_per_team,
            arena_ship_mask: int("Legalship", "ArenaMask", 255) as u8,
            freq_ship_masks,
        }
    }
}

/// One player as the freq manager sees him.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Member {
    /// Player id.
    pub pid: i16,
    /// Ship (8 = spectator).
    pub ship: u8,
    /// Freq.
    pub freq: i16,
    /// Screen width.
    pub x_res: i16,
    /// Screen height.
    pub y_res: i16,
}

/// What the arena's enforcer modules allow one player, asked before each
/// decision about him (`enf_lockspec`, `enf_flagwin`; ASSS's enforcer
/// advisers). Empty: nothing more than the freq manager's own rules.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Enforcement {
    /// He may not leave spectator mode, and the reason he is told.
    pub spec_only: Option<String>,
    /// Freqs he may not join, each with the reason he is told.
    pub refused_freqs: Vec<(i16, String)>,
}

/// A granted change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// New ship and freq (S2C 0x1D).
    ShipAndFreq {
        /// Ship.
        ship: u8,
        /// Freq.
        freq: i16,
    },
    /// New freq only (S2C 0x0D; a spectator going to the spectator freq).
    Freq(i16),
}

/// What the freq manager decided about a request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// The change to make, if any.
    pub change: Option<Change>,
    /// A message for the player (why it was refused, or altered).
    pub message: Option<String>,
}

impl Outcome {
    fn refuse(msg: impl Into<String>) -> Outcome {
        Outcome {
            change: None,
            message: Some(msg.into()),
        }
    }

    fn grant(change: Change, message: Option<String>) -> Outcome {
        Outcome {
            change: Some(change),
            message,
        }
    }
}

#[derive(Clone, Copy, Default)]
struct Count {
    /// Players on the freq, any ship (the balancer's metric).
    all: i32,
    /// Players on the freq in ships.
    ships: i32,
    /// Players on the freq per ship.
    per_ship: [i32; 8],
}

/// Decisions over one snapshot of the arena.
pub struct FreqMan<'a> {
    cfg: &'a FreqConfig,
    members: &'a [Member],
    counts: BTreeMap<i16, Count>,
    enforcement: Enforcement,
}

impl<'a> FreqMan<'a> {
    /// A freq manager over `members` (everyone in the arena, the asking
    /// player included or not).
    pub fn new(cfg: &'a FreqConfig, members: &'a [Member]) -> FreqMan<'a> {
        let mut counts: BTreeMap<i16, Count> = BTreeMap::new();
        for m in members {
            if m.freq == cfg.spec_freq {
                continue;
            }
            let c = counts.entry(m.freq).or_default();
            c.all += 1;
            if m.ship < SPEC {
                c.ships += 1;
                c.per_ship[m.ship as usize] += 1;
            }
        }
        FreqMan {
            cfg,
            members,
            counts,
            enforcement: Enforcement::default(),
        }
    }

    /// The same freq manager, also applying what the enforcer modules
    /// allow the player it decides for.
    pub fn enforcing(mut self, enforcement: Enforcement) -> FreqMan<'a> {
        self.enforcement = enforcement;
        self
    }

    /// The counts of `freq` without `who` (who is moving).
    fn count(&self, freq: i16, who: &Member) -> Count {
        let mut c = self.counts.get(&freq).copied().unwrap_or_default();
        let listed = self
            .members
            .iter()
            .any(|m| m.pid == who.pid && m.freq == freq);
        if listed && who.freq == freq && freq != self.cfg.spec_freq {
            c.all -= 1;
            if who.ship < SPEC {
                c.ships -= 1;
                c.per_ship[who.ship as usize] -= 1;
            }
        }
        c
    }

    fn max_size(&self, freq: i16) -> i32 {
        if i32::from(freq) >= self.cfg.private_start {
            self.cfg.max_private
        } else {
            self.cfg.max_public
        }
    }

    fn max_difference(&self) -> i32 {
        if self.cfg.force_even {
            self.cfg.max_difference
        } else {
            i32::MAX
        }
    }

    /// The freq still has room for one more player in a ship.
    fn freq_not_full(&self, freq: i16, who: &Member) -> Result<(), String> {
        let max = self.max_size(freq);
        if max <= 0 {
            return Err(format!("Frequency {freq} is not available."));
        }
        let c = self.count(freq, who);
        let size = if self.cfg.include_spectators {
            c.all
        } else {
            c.ships
        };
        if size >= max {
            return Err(format!("Frequency {freq} is full."));
        }
        Ok(())
    }

    /// The default balancer (team sizes) and the required-teams rule.
    fn balancer_allows(&self, who: &Member, new_freq: i16) -> Result<(), String> {
        let required = |f: i16| i32::from(f) < self.cfg.required_teams && f >= 0;
        let new_count = self.count(new_freq, who).all;
        if required(new_freq) && new_count == 0 {
            return Ok(());
        }
        let old_freq = who.freq;
        let on_old =
            who.freq != self.cfg.spec_freq && self.members.iter().any(|m| m.pid == who.pid);
        let old_count = if on_old {
            self.count(old_freq, who).all
        } else {
            0
        };
        if on_old && required(old_freq) && old_count == 0 {
            return Err("Your frequency requires at least one player.".into());
        }
        for f in 0..self.cfg.required_teams.min(i32::from(i16::MAX)) as i16 {
            if f != new_freq && self.counts.get(&f).is_none_or(|c| c.all == 0) {
                return Err(format!("Frequency {f} needs players first."));
            }
        }
        let new_potential = new_count + 1;
        let max = self.max_size(new_freq);
        if max > 0 && new_potential > max {
            return Err("Changing to that team would make it too powerful.".into());
        }
        let diff = self.max_difference();
        if on_old && old_count > 0 && diff < new_potential - old_count {
            return Err(
                "Changing to that team would disrupt the balance between it and your current team."
                    .into(),
            );
        }
        for (&f, c) in &self.counts {
            let fi = i32::from(f);
            if fi < self.cfg.balanced_start || fi >= self.cfg.balanced_end {
                continue;
            }
            if f == new_freq || (on_old && f == old_freq) || c.all == 0 {
                continue;
            }
            if diff < new_potential - c.all {
                return Err("Changing to that team would make the teams too uneven.".into());
            }
        }
        Ok(())
    }

    fn can_change_to(&self, who: &Member, freq: i16) -> Result<(), String> {
        // The enforcers first, as ASSS asks its advisers first.
        if let Some((_, why)) = self
            .enforcement
            .refused_freqs
            .iter()
            .find(|(f, _)| *f == freq)
        {
            return Err(why.clone());
        }
        self.freq_not_full(freq, who)?;
        self.balancer_allows(who, freq)
    }

    /// Whether the player may leave spectator mode at all.
    pub fn can_enter_game(&self, who: &Member) -> Result<(), String> {
        let c = self.cfg;
        let (x, y) = (i32::from(who.x_res), i32::from(who.y_res));
        if (c.max_x_res > 0 && x > c.max_x_res) || (c.max_y_res > 0 && y > c.max_y_res) {
            return Err(format!(
                "The maximum resolution allowed in this arena is {} by {} pixels. Your resolution is too high ({x} by {y}.)",
                c.max_x_res, c.max_y_res
            ));
        }
        if c.max_res_area > 0 && x * y > c.max_res_area {
            return Err(format!(
                "The maximum display area allowed in this arena is {} pixels. Your display area is too big ({}.)",
                c.max_res_area,
                x * y
            ));
        }
        if c.max_playing > 0 {
            let playing = self
                .members
                .iter()
                .filter(|m| m.pid != who.pid && m.ship < SPEC)
                .count() as i32;
            if playing >= c.max_playing {
                return Err(
                    "There are already the maximum number of people playing allowed.".into(),
                );
            }
        }
        Ok(())
    }

    /// The ships `who` may fly on `freq` (bit n = ship n), and why `ship`
    /// is not among them if it is not.
    fn allowed_ships(&self, who: &Member, ship: u8, freq: i16) -> (u8, Option<String>) {
        if freq == self.cfg.spec_freq {
            return (0, None);
        }
        if let Some(why) = &self.enforcement.spec_only {
            return (0, (ship < SPEC).then(|| why.clone()));
        }
        let freq_mask = self.cfg.freq_ship_masks.get(&freq).copied().unwrap_or(0xFF);
        let legal = self.cfg.arena_ship_mask & freq_mask;
        let mut why = None;
        if ship < SPEC && legal & (1 << ship) == 0 {
            let names: Vec<&str> = (0..8)
                .filter(|i| legal & (1 << i) != 0)
                .map(|i| SHIP_NAMES[i])
                .collect();
            let place = if self.cfg.arena_ship_mask & (1 << ship) == 0 {
                "in this arena"
            } else {
                "on this frequency"
            };
            why = Some(if names.is_empty() {
                format!("You may not leave spectator mode {place}.")
            } else {
                format!("Your allowed ships {place} are: {}", names.join(", "))
            });
        }
        let mut mask = legal;
        let c = self.count(freq, who);
        for (i, &limit) in self.cfg.ship_limit_per_team.iter().enumerate() {
            if limit < 0 || c.per_ship[i] < limit {
                continue;
            }
            mask &= !(1 << i);
            if i == ship as usize && why.is_none() {
                why = Some(if limit == 0 {
                    format!("No ship-{}s are allowed in this arena.", i + 1)
                } else {
                    format!(
                        "There are already the maximum number of ship-{} pilots on your team.",
                        i + 1
                    )
                });
            }
        }
        (mask, why)
    }

    fn first_ship(mask: u8) -> u8 {
        (0..SPEC).find(|i| mask & (1 << i) != 0).unwrap_or(SPEC)
    }

    /// The freq the balancer gives an entering (or unspecced) player, or
    /// `None` if no freq will take him.
    pub fn entry_freq(&self, who: &Member) -> Option<i16> {
        let desired = self.cfg.desired_teams.min(self.cfg.freq_count);
        let mut best: Option<(i16, i32)> = None;
        for i in 0..desired {
            let f = i as i16;
            if self.can_change_to(who, f).is_err() {
                continue;
            }
            let size = self.count(f, who).all;
            if size == 0 {
                return Some(f);
            }
            if size < self.max_size(f) && best.is_none_or(|(_, b)| size < b) {
                best = Some((f, size));
            }
        }
        if let Some((f, _)) = best {
            return Some(f);
        }
        for i in desired.max(0)..self.cfg.freq_count {
            let f = i as i16;
            let size = self.count(f, who).all;
            if self.can_change_to(who, f).is_ok() {
                if size == 0 || size < self.max_size(f) {
                    return Some(f);
                }
            } else if size == 0 {
                // An empty freq refused: a blocker that would refuse the
                // rest too.
                break;
            }
        }
        None
    }

    /// Ship and freq of a player entering the arena asking for `ship`.
    pub fn initial(&self, who: &Member, ship: u8) -> (u8, i16) {
        let spec = (SPEC, self.cfg.spec_freq);
        if ship >= SPEC || self.cfg.initial_spec || self.can_enter_game(who).is_err() {
            return spec;
        }
        let Some(freq) = self.entry_freq(who) else {
            return spec;
        };
        let (mask, _) = self.allowed_ships(who, ship, freq);
        let ship = if mask & (1 << ship) != 0 {
            ship
        } else {
            Self::first_ship(mask)
        };
        if ship == SPEC {
            spec
        } else {
            (ship, freq)
        }
    }

    /// A player's request for `ship` (8 = spectator).
    pub fn ship_change(&self, who: &Member, ship: u8) -> Outcome {
        let spec_freq = self.cfg.spec_freq;
        if ship >= SPEC {
            return Outcome::grant(
                Change::ShipAndFreq {
                    ship: SPEC,
                    freq: spec_freq,
                },
                None,
            );
        }
        let mut freq = who.freq;
        if who.ship == SPEC {
            if let Err(e) = self.can_enter_game(who) {
                return Outcome::refuse(e);
            }
            if freq == spec_freq {
                match self.entry_freq(who) {
                    Some(f) => freq = f,
                    None => return Outcome::refuse("Couldn't find a frequency to place you on."),
                }
            } else if !self.cfg.include_spectators && self.freq_not_full(freq, who).is_err() {
                return Outcome::refuse(
                    "Your frequency already has the maximum number of players in the game.",
                );
            }
        }
        let (mask, why) = self.allowed_ships(who, ship, freq);
        let mut new_ship = ship;
        if mask & (1 << ship) == 0 {
            new_ship = if who.ship < SPEC && mask & (1 << who.ship) != 0 {
                who.ship
            } else {
                Self::first_ship(mask)
            };
        }
        let mut message = why;
        if new_ship == SPEC && self.cfg.disallow_team_spectators {
            message.get_or_insert_with(|| {
                "You may only spectate on the spectator frequency.".to_string()
            });
            freq = spec_freq;
        }
        if new_ship == who.ship && freq == who.freq {
            return Outcome {
                change: None,
                message,
            };
        }
        Outcome::grant(
            Change::ShipAndFreq {
                ship: new_ship,
                freq,
            },
            message,
        )
    }

    /// A player's request for `freq`.
    pub fn freq_change(&self, who: &Member, freq: i16) -> Outcome {
        let spec_freq = self.cfg.spec_freq;
        if who.ship == SPEC && freq == spec_freq {
            if who.freq == spec_freq {
                return Outcome::default();
            }
            return Outcome::grant(Change::Freq(spec_freq), None);
        }
        if freq < 0 || i32::from(freq) >= self.cfg.freq_count {
            if who.ship == SPEC && who.freq != spec_freq {
                return Outcome::grant(Change::Freq(spec_freq), None);
            }
            return Outcome::refuse("That frequency is not used in this arena.");
        }
        if let Err(e) = self.can_change_to(who, freq) {
            return Outcome::refuse(e);
        }
        let mut ship = who.ship;
        let mut why = None;
        if ship == SPEC && self.cfg.disallow_team_spectators {
            if let Err(e) = self.can_enter_game(who) {
                return Outcome::refuse(e);
            }
            let (mask, w) = self.allowed_ships(who, SPEC, freq);
            ship = Self::first_ship(mask);
            why = w;
        } else if ship != SPEC {
            let (mask, w) = self.allowed_ships(who, ship, freq);
            if mask & (1 << ship) == 0 {
                ship = Self::first_ship(mask);
                why = w;
            }
        }
        if self.cfg.disallow_team_spectators && ship == SPEC {
            return Outcome::refuse(match why {
                Some(e) => format!(
                    "You cannot change to freq {freq}, because you could not enter a ship there (error: {e})."
                ),
                None => format!(
                    "You cannot change to freq {freq}, because you could not enter a ship there."
                ),
            });
        }
        if ship == who.ship && freq == who.freq {
            return Outcome::default();
        }
        Outcome::grant(Change::ShipAndFreq { ship, freq }, why)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pid: i16, ship: u8, freq: i16) -> Member {
        Member {
            pid,
            ship,
            freq,
            x_res: 1024,
            y_res: 768,
        }
    }

    fn newcomer(pid: i16) -> Member {
        m(pid, SPEC, 8025)
    }

    #[test]
    fn entering_players_fill_the_emptier_desired_team() {
        let cfg = FreqConfig::default();
        let mut members = vec![];
        let mut placed = vec![];
        for pid in 0..5 {
            let fm = FreqMan::new(&cfg, &members);
            let (ship, freq) = fm.initial(&newcomer(pid), 1);
            assert_eq!(ship, 1);
            placed.push(freq);
            members.push(m(pid, ship, freq));
        }
        assert_eq!(placed, vec![0, 1, 0, 1, 0]);
    }

    #[test]
    fn spectators_and_initial_spec_stay_on_the_spectator_freq() {
        let mut cfg = FreqConfig::default();
        let fm = FreqMan::new(&cfg, &[]);
        assert_eq!(fm.initial(&newcomer(1), SPEC), (SPEC, 8025));
        cfg.initial_spec = true;
        let fm = FreqMan::new(&cfg, &[]);
        assert_eq!(fm.initial(&newcomer(1), 3), (SPEC, 8025));
    }

    #[test]
    fn full_freq_refuses_with_a_reason() {
        let cfg = FreqConfig {
            max_public: 2,
            ..FreqConfig::default()
        };
        let members = [m(0, 0, 0), m(1, 0, 1), m(2, 0, 0)];
        let fm = FreqMan::new(&cfg, &members);
        let out = fm.freq_change(&members[1], 0);
        assert_eq!(out.change, None);
        assert_eq!(out.message.as_deref(), Some("Frequency 0 is full."));
        // The full freq is passed over on entry.
        assert_eq!(fm.initial(&newcomer(9), 0), (0, 1));
        // A third freq is fine.
        let out = fm.freq_change(&members[1], 5);
        assert_eq!(out.change, Some(Change::ShipAndFreq { ship: 0, freq: 5 }));
    }

    #[test]
    fn private_freqs_use_their_own_limit() {
        let cfg = FreqConfig {
            max_private: 0,
            ..FreqConfig::default()
        };
        let members = [m(0, 0, 0)];
        let fm = FreqMan::new(&cfg, &members);
        let out = fm.freq_change(&members[0], 100);
        assert_eq!(
            out.message.as_deref(),
            Some("Frequency 100 is not available.")
        );
        let out = fm.freq_change(&members[0], 99);
        assert!(out.change.is_some());
    }

    #[test]
    fn bad_freq_numbers() {
        let cfg = FreqConfig {
            freq_count: 10,
            ..FreqConfig::default()
        };
        let members = [m(0, 0, 0), m(1, SPEC, 3)];
        let fm = FreqMan::new(&cfg, &members);
        let out = fm.freq_change(&members[0], 10);
        assert_eq!(
            out.message.as_deref(),
            Some("That frequency is not used in this arena.")
        );
        // A spectator on a team asking for nonsense goes to the spectator freq.
        assert_eq!(
            fm.freq_change(&members[1], -5).change,
            Some(Change::Freq(8025))
        );
        assert_eq!(
            fm.freq_change(&members[1], 8025).change,
            Some(Change::Freq(8025))
        );
    }

    #[test]
    fn even_teams_are_enforced_when_asked() {
        let cfg = FreqConfig {
            force_even: true,
            max_difference: 1,
            ..FreqConfig::default()
        };
        let members = [m(0, 0, 0), m(1, 0, 0), m(2, 0, 1), m(3, 0, 1)];
        let fm = FreqMan::new(&cfg, &members);
        // 2 v 2: moving from 1 to 0 makes 3 v 1.
        let out = fm.freq_change(&members[2], 0);
        assert_eq!(
            out.message.as_deref(),
            Some(
                "Changing to that team would disrupt the balance between it and your current team."
            )
        );
    }

    #[test]
    fn ship_limits_and_legal_ships() {
        let mut cfg = FreqConfig::default();
        cfg.ship_limit_per_team[7] = 1; // one shark per team
        cfg.freq_ship_masks.insert(1, 0b0000_0011); // freq 1: warbird, javelin
        let members = [m(0, 7, 0), m(1, 0, 0), m(2, 0, 1)];
        let fm = FreqMan::new(&cfg, &members);
        let out = fm.ship_change(&members[1], 7);
        assert_eq!(out.change, None, "keeps his warbird");
        assert_eq!(
            out.message.as_deref(),
            Some("There are already the maximum number of ship-8 pilots on your team.")
        );
        let out = fm.ship_change(&members[2], 4);
        assert_eq!(out.change, None);
        assert_eq!(
            out.message.as_deref(),
            Some("Your allowed ships on this frequency are: Warbird, Javelin")
        );
        assert_eq!(
            fm.ship_change(&members[2], 1).change,
            Some(Change::ShipAndFreq { ship: 1, freq: 1 })
        );
    }

    #[test]
    fn leaving_spectator_mode_finds_a_freq_and_checks_limits() {
        let cfg = FreqConfig {
            max_playing: 2,
            ..FreqConfig::default()
        };
        let members = [m(0, 0, 0), m(1, SPEC, 8025), m(2, SPEC, 8025)];
        let fm = FreqMan::new(&cfg, &members);
        assert_eq!(
            fm.ship_change(&members[1], 2).change,
            Some(Change::ShipAndFreq { ship: 2, freq: 1 })
        );
        let members = [m(0, 0, 0), m(1, 0, 1), m(2, SPEC, 8025)];
        let fm = FreqMan::new(&cfg, &members);
        assert_eq!(
            fm.ship_change(&members[2], 2).message.as_deref(),
            Some("There are already the maximum number of people playing allowed.")
        );
        // Going to spectator mode is always allowed.
        assert_eq!(
            fm.ship_change(&members[0], SPEC).change,
            Some(Change::ShipAndFreq {
                ship: SPEC,
                freq: 8025
            })
        );
    }

    #[test]
    fn team_spectators_can_be_disallowed() {
        let cfg = FreqConfig {
            disallow_team_spectators: true,
            ..FreqConfig::default()
        };
        let members = [m(0, SPEC, 8025)];
        let fm = FreqMan::new(&cfg, &members);
        // A spectator asking for a team freq is put in a ship there.
        assert_eq!(
            fm.freq_change(&members[0], 3).change,
            Some(Change::ShipAndFreq { ship: 0, freq: 3 })
        );
    }

    #[test]
    fn required_teams_keep_a_player() {
        let cfg = FreqConfig {
            required_teams: 2,
            ..FreqConfig::default()
        };
        let members = [m(0, 0, 0), m(1, 0, 1), m(2, 0, 1)];
        let fm = FreqMan::new(&cfg, &members);
        assert_eq!(
            fm.freq_change(&members[0], 1).message.as_deref(),
            Some("Your frequency requires at least one player.")
        );
        assert!(fm.freq_change(&members[2], 0).change.is_some());
    }

    #[test]
    fn resolution_limits() {
        let cfg = FreqConfig {
            max_x_res: 800,
            ..FreqConfig::default()
        };
        let fm = FreqMan::new(&cfg, &[]);
        let who = newcomer(1);
        assert!(fm.can_enter_game(&who).unwrap_err().contains("resolution"));
        assert_eq!(fm.initial(&who, 0), (SPEC, 8025));
    }
}
