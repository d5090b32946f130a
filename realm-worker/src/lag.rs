//! Lag control: the `[Lag]` rules applied to the figures the supervisor
//! reports for each player ([`ipc_proto::ToRealm::LagReport`]). A player
//! over a "to spec" limit is moved to spectator, told why and kept from
//! taking a ship until his figures are back under it; over the "start
//! ignoring" limits a growing share of his weapons is dropped; over the
//! "disallow flags" limits he may not pick up flags or balls
//! ([`Arena::is_lagging`]).

use conf::ArenaConfig;
use ss_proto::game::ship;
use tracing::info;

use crate::arena::Arena;

/// The arena's `[Lag]` limits (loss limits as shares 0–1; the settings are
/// in tenths of a percent).
#[derive(Clone, Debug, PartialEq)]
pub struct LagLimits {
    /// `Lag:PingToSpec`.
    pub ping_to_spec: f64,
    /// `Lag:PingToStartIgnoringWeapons`.
    pub ping_weapons_start: f64,
    /// `Lag:PingToIgnoreAllWeapons`.
    pub ping_weapons_all: f64,
    /// `Lag:PingToDisallowFlags`.
    pub ping_no_flags: f64,
    /// `Lag:S2CLossToSpec`.
    pub s2c_to_spec: f64,
    /// `Lag:S2CLossToStartIgnoringWeapons`.
    pub s2c_weapons_start: f64,
    /// `Lag:S2CLossToIgnoreAllWeapons`.
    pub s2c_weapons_all: f64,
    /// `Lag:S2CLossToDisallowFlags`.
    pub s2c_no_flags: f64,
    /// `Lag:C2SLossToSpec`.
    pub c2s_to_spec: f64,
    /// `Lag:C2SLossToDisallowFlags`.
    pub c2s_no_flags: f64,
    /// `Lag:SpikeToSpec`, milliseconds.
    pub spike_to_spec: u32,
}

impl LagLimits {
    /// Reads the limits from the arena config (ASSS defaults).
    pub fn from_config(cfg: &ArenaConfig) -> LagLimits {
        let int = |key: &str, def: i32| f64::from(cfg.get_int("Lag", key, def));
        let loss = |key: &str, def: i32| int(key, def) / 1000.0;
        LagLimits {
            ping_to_spec: int("PingToSpec", 600),
            ping_weapons_start: int("PingToStartIgnoringWeapons", 300),
            ping_weapons_all: int("PingToIgnoreAllWeapons", 1000),
            ping_no_flags: int("PingToDisallowFlags", 500),
            s2c_to_spec: loss("S2CLossToSpec", 150),
            s2c_weapons_start: loss("S2CLossToStartIgnoringWeapons", 40),
            s2c_weapons_all: loss("S2CLossToIgnoreAllWeapons", 500),
            s2c_no_flags: loss("S2CLossToDisallowFlags", 50),
            c2s_to_spec: loss("C2SLossToSpec", 150),
            c2s_no_flags: loss("C2SLossToDisallowFlags", 50),
            spike_to_spec: cfg.get_int("Lag", "SpikeToSpec", 3000).max(0) as u32,
        }
    }
}

/// One report's figures (`ping`: the reliable round trip as reported,
/// the effective ping once judged).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LagFigures {
    /// Ping, milliseconds.
    pub ping: u32,
    /// Server-to-client loss, 0–1.
    pub s2c: f64,
    /// Client-to-server loss, 0–1.
    pub c2s: f64,
    /// Time since the zone last heard from him, milliseconds.
    pub silent_ms: u32,
}

/// A player's lag state.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PlayerLag {
    /// The latest figures.
    pub figures: Option<LagFigures>,
    /// Over a "to spec" limit: he may not take a ship.
    pub no_ship: bool,
    /// Over a "disallow flags" limit: no flag or ball pickups.
    pub no_flags: bool,
    /// Share (0–1) of his weapons dropped.
    pub ignore_weapons: f64,
    /// Running average of his positions' age on arrival, milliseconds.
    pub position_ping: u32,
    /// The average ping his client reported in its last security answer,
    /// milliseconds.
    pub client_ping: u32,
    /// His positions' ages on arrival (`?laghist`).
    pub position_hist: PingHistogram,
    /// The reliable round trips of the lag reports (`?laghist -r`).
    pub reliable_hist: PingHistogram,
}

/// Width of a `?laghist` bucket, milliseconds.
pub const HIST_BUCKET_MS: u32 = 20;
/// Buckets of [`HIST_BUCKET_MS`]; a last one holds everything above.
pub const HIST_BUCKETS: usize = 25;

/// Ping samples counted in 20 ms buckets, the last bucket open-ended
/// (500 ms and more).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PingHistogram {
    counts: [u32; HIST_BUCKETS + 1],
}

impl Default for PingHistogram {
    fn default() -> Self {
        PingHistogram {
            counts: [0; HIST_BUCKETS + 1],
        }
    }
}

impl PingHistogram {
    /// Counts one sample.
    pub fn add(&mut self, ms: u32) {
        let i = ((ms / HIST_BUCKET_MS) as usize).min(HIST_BUCKETS);
        self.counts[i] = self.counts[i].saturating_add(1);
    }

    /// Samples counted.
    pub fn total(&self) -> u64 {
        self.counts.iter().map(|&c| u64::from(c)).sum()
    }

    /// One line per bucket from the first to the last non-empty one: the
    /// range, a bar of up to 20 `#` scaled to the fullest bucket, the
    /// count.
    pub fn lines(&self) -> Vec<String> {
        let max = self.counts.iter().copied().max().unwrap_or(0);
        let Some(first) = self.counts.iter().position(|&c| c > 0) else {
            return Vec::new();
        };
        let last = self.counts.iter().rposition(|&c| c > 0).unwrap_or(first);
        (first..=last)
            .map(|i| {
                let lo = i as u32 * HIST_BUCKET_MS;
                let range = if i == HIST_BUCKETS {
                    format!("{lo}+ ms")
                } else {
                    format!("{lo}-{} ms", lo + HIST_BUCKET_MS - 1)
                };
                let c = self.counts[i];
                let bar = (u64::from(c) * 20).div_ceil(u64::from(max)) as usize;
                format!("{range:>11}: {:<20} {c}", "#".repeat(bar))
            })
            .collect()
    }
}

impl PlayerLag {
    /// Takes the age of an arriving position (server ticks).
    pub fn note_position(&mut self, age_ticks: i32) {
        let sample = (age_ticks.clamp(0, 10_000) * 10) as u32;
        self.position_hist.add(sample);
        self.position_ping = if self.position_ping == 0 {
            sample
        } else {
            (self.position_ping * 7 + sample) / 8
        };
    }

    /// The ping the rules use: position and client pings once each, the
    /// reliable round trip twice (ASSS's weighting).
    pub fn effective_ping(&self, reliable_ms: u32) -> u32 {
        let sum = u64::from(self.position_ping)
            + u64::from(self.client_ping)
            + 2 * u64::from(reliable_ms);
        (sum / 4) as u32
    }
}

/// What the rules decide for one report.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LagVerdict {
    /// Why he goes to spectator, as told to him (several limits may be
    /// over; each is told if he was in a ship).
    pub spec_reasons: Vec<String>,
    /// The new state.
    pub state: PlayerLag,
}

/// The share between `start` (0) and `all` (1), clamped.
fn ramp(value: f64, start: f64, all: f64) -> f64 {
    if all <= start {
        return if value > start { 1.0 } else { 0.0 };
    }
    ((value - start) / (all - start)).clamp(0.0, 1.0)
}

/// Applies the limits to one report (the verdict's position and client
/// pings are left at 0 for the caller to keep).
pub fn judge(limits: &LagLimits, f: LagFigures) -> LagVerdict {
    let ping = f64::from(f.ping);
    let mut reasons = Vec::new();
    if f.silent_ms > limits.spike_to_spec {
        reasons.push(format!(
            "You have been specced for a {}ms spike.",
            f.silent_ms
        ));
    }
    if ping > limits.ping_to_spec {
        reasons.push(format!(
            "You have been specced for excessive ping ({} > {}).",
            f.ping, limits.ping_to_spec
        ));
    }
    if f.s2c > limits.s2c_to_spec {
        reasons.push(format!(
            "You have been specced for excessive S2C packetloss ({:.2} > {:.2}).",
            100.0 * f.s2c,
            100.0 * limits.s2c_to_spec
        ));
    }
    if f.c2s > limits.c2s_to_spec {
        reasons.push(format!(
            "You have been specced for excessive C2S packetloss ({:.2} > {:.2}).",
            100.0 * f.c2s,
            100.0 * limits.c2s_to_spec
        ));
    }
    // A spike specs but does not keep him out (ASSS).
    let no_ship =
        ping > limits.ping_to_spec || f.s2c > limits.s2c_to_spec || f.c2s > limits.c2s_to_spec;
    let no_flags =
        ping > limits.ping_no_flags || f.s2c > limits.s2c_no_flags || f.c2s > limits.c2s_no_flags;
    let ignore_weapons = ramp(ping, limits.ping_weapons_start, limits.ping_weapons_all).max(ramp(
        f.s2c,
        limits.s2c_weapons_start,
        limits.s2c_weapons_all,
    ));
    LagVerdict {
        spec_reasons: reasons,
        state: PlayerLag {
            figures: Some(f),
            no_ship,
            no_flags,
            ignore_weapons,
            ..PlayerLag::default()
        },
    }
}

impl Arena {
    /// A lag report from the supervisor.
    pub(crate) fn lag_report(&mut self, pid: i16, figures: LagFigures) {
        let Some(p) = self.players.get_mut(&pid) else {
            return;
        };
        p.lag.reliable_hist.add(figures.ping);
        let figures = LagFigures {
            ping: p.lag.effective_ping(figures.ping),
            ..figures
        };
        let verdict = judge(&self.lag_limits, figures);
        p.lag = PlayerLag {
            position_ping: p.lag.position_ping,
            client_ping: p.lag.client_ping,
            position_hist: p.lag.position_hist,
            reliable_hist: p.lag.reliable_hist,
            ..verdict.state
        };
        if p.ship == ship::SPECTATOR || verdict.spec_reasons.is_empty() {
            return;
        }
        info!(realm = %self.name, pid, name = %p.info.name, ?figures, "specced for lag");
        let spec_freq = self.rules.freq.spec_freq;
        self.set_ship_and_freq(pid, ship::SPECTATOR, spec_freq);
        for reason in verdict.spec_reasons {
            self.arena_message(pid, &reason);
        }
    }

    /// Whether `pid` lags too much to pick up flags or balls (for the flag
    /// and ball games).
    pub(crate) fn is_lagging(&self, pid: i16) -> bool {
        self.players.get(&pid).is_some_and(|p| p.lag.no_flags)
    }

    /// Whether `pid` lags too much to take a ship; he is told so.
    pub(crate) fn refuse_ship_for_lag(&mut self, pid: i16) -> bool {
        if self.players.get(&pid).is_some_and(|p| p.lag.no_ship) {
            self.arena_message(pid, "You are too lagged to play in this arena.");
            return true;
        }
        false
    }

    /// Whether this weapon of `pid` is to be dropped (his ignore share,
    /// drawn at random).
    pub(crate) fn ignore_weapon(&mut self, pid: i16) -> bool {
        let share = self.players.get(&pid).map_or(0.0, |p| p.lag.ignore_weapons);
        if share <= 0.0 {
            return false;
        }
        let draw = (self.next_random() % 1_000_000) as f64 / 1_000_000.0;
        draw < share
    }

    /// The `?laghist` lines: `pid`'s position (c2s) ping histogram, or
    /// with `reliable` that of his reliable round trips.
    pub(crate) fn lag_histogram(&self, pid: i16, reliable: bool) -> Option<Vec<String>> {
        let p = self.players.get(&pid)?;
        let (hist, what) = if reliable {
            (&p.lag.reliable_hist, "reliable ping")
        } else {
            (&p.lag.position_hist, "c2s ping (position age)")
        };
        let total = hist.total();
        if total == 0 {
            return Some(vec![format!("{}: no {what} samples yet.", p.info.name)]);
        }
        let mut out = vec![format!(
            "{}: {what} histogram, {total} samples, {HIST_BUCKET_MS} ms buckets:",
            p.info.name
        )];
        out.extend(hist.lines());
        Some(out)
    }

    /// The `?lag` line about the realm's view of a player: what the rules
    /// make of his figures.
    pub(crate) fn lag_info(&self, pid: i16) -> Option<String> {
        let p = self.players.get(&pid)?;
        let effective = p.lag.figures.map_or(0, |f| f.ping);
        let mut line = format!(
            "{}: effective ping: {effective} (position {}, client {}, reliable twice)  ignoringwpns={}%",
            p.info.name,
            p.lag.position_ping,
            p.lag.client_ping,
            (100.0 * p.lag.ignore_weapons).round()
        );
        if p.lag.no_ship {
            line.push_str("  lag too high to play");
        }
        if p.lag.no_flags {
            line.push_str("  lag too high to carry flags or balls");
        }
        Some(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_histogram_counts_20_ms_buckets_and_scales_its_bars() {
        let mut h = PingHistogram::default();
        assert!(h.lines().is_empty());
        for ms in [40, 45, 59, 60, 100, 100, 100, 100, 9_999] {
            h.add(ms);
        }
        assert_eq!(h.total(), 9);
        let lines = h.lines();
        // From the 40-59 bucket to the open last one.
        assert_eq!(lines.len(), HIST_BUCKETS + 1 - 2);
        assert_eq!(
            lines[0],
            format!("{:>11}: {:<20} 3", "40-59 ms", "#".repeat(15))
        );
        assert_eq!(
            lines[1],
            format!("{:>11}: {:<20} 1", "60-79 ms", "#".repeat(5))
        );
        assert_eq!(lines[2], format!("{:>11}: {:<20} 0", "80-99 ms", ""));
        assert_eq!(
            lines[3],
            format!("{:>11}: {:<20} 4", "100-119 ms", "#".repeat(20))
        );
        assert_eq!(
            lines.last().unwrap(),
            &format!("{:>11}: {:<20} 1", "500+ ms", "#".repeat(5))
        );
    }

    fn defaults() -> LagLimits {
        let cfg = ArenaConfig::new(
            "0",
            std::sync::Arc::new(conf::ConfigFile::default()),
            std::sync::Arc::new(conf::ConfigFile::default()),
        );
        LagLimits::from_config(&cfg)
    }

    #[test]
    fn the_effective_ping_weighs_the_reliable_ping_twice() {
        let mut lag = PlayerLag::default();
        lag.note_position(20); // 200 ms
        lag.note_position(20);
        lag.client_ping = 100;
        assert_eq!(lag.position_ping, 200);
        assert_eq!(lag.effective_ping(300), (200 + 100 + 600) / 4);
        lag.note_position(-5); // clock ahead: counts as 0
        assert_eq!(lag.position_ping, 175);
    }

    #[test]
    fn figures_under_every_limit_change_nothing() {
        let v = judge(
            &defaults(),
            LagFigures {
                ping: 100,
                s2c: 0.01,
                c2s: 0.01,
                silent_ms: 50,
            },
        );
        assert!(v.spec_reasons.is_empty());
        assert!(!v.state.no_ship && !v.state.no_flags);
        assert_eq!(v.state.ignore_weapons, 0.0);
    }

    #[test]
    fn forty_percent_c2s_loss_specs_and_bars_flags() {
        let v = judge(
            &defaults(),
            LagFigures {
                ping: 100,
                s2c: 0.0,
                c2s: 0.4,
                silent_ms: 0,
            },
        );
        assert_eq!(
            v.spec_reasons,
            ["You have been specced for excessive C2S packetloss (40.00 > 15.00)."]
        );
        assert!(v.state.no_ship && v.state.no_flags);
    }

    #[test]
    fn weapons_are_ignored_on_a_ramp_and_a_spike_specs_without_barring() {
        let l = defaults();
        let v = judge(
            &l,
            LagFigures {
                ping: 400,
                s2c: 0.0,
                c2s: 0.0,
                silent_ms: 0,
            },
        );
        assert!((v.state.ignore_weapons - 100.0 / 700.0).abs() < 1e-9);
        assert!(v.spec_reasons.is_empty());
        let v = judge(
            &l,
            LagFigures {
                ping: 100,
                s2c: 0.6,
                c2s: 0.0,
                silent_ms: 0,
            },
        );
        assert_eq!(v.state.ignore_weapons, 1.0);
        let v = judge(
            &l,
            LagFigures {
                ping: 100,
                s2c: 0.0,
                c2s: 0.0,
                silent_ms: 4000,
            },
        );
        assert_eq!(
            v.spec_reasons,
            ["You have been specced for a 4000ms spike."]
        );
        assert!(!v.state.no_ship);
    }
}
