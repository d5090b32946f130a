//! Arena modules: game modes an arena attaches by name
//! (`[Modules] AttachModules = fg_wz points_flag ...` in `arena.conf`, as
//! ASSS operators write it). A module reacts to the arena's events through
//! [`Module`] and uses the arena's services (sending, scores, messages, the
//! flag state [`Arena::flags`], the jackpot); the arena code has no branch
//! per game mode. ARCHITECTURE.md, "Write your own game mode", explains how
//! to add one.

pub mod ballcore;
pub mod balls;
pub mod brickcore;
pub mod bricks;
pub mod enforcers;
pub mod flagcore;
mod flaggame;
mod flood;
mod koth;
mod misc;
mod regions;
mod rewards;
mod timer;

use ss_proto::game::C2SPacket;
use tracing::warn;

use crate::arena::Arena;
use crate::commands::{CmdResult, Ctx};
use crate::freqman::Enforcement;

/// `t + d` on the 31-bit server tick clock (`ipc_proto::monotonic_ticks`).
pub fn tick_add(t: u32, d: u32) -> u32 {
    t.wrapping_add(d) & 0x7FFF_FFFF
}

/// Ticks from `b` to `a` on the 31-bit server tick clock (negative if `a`
/// is earlier).
pub fn ticks_between(b: u32, a: u32) -> i32 {
    ss_proto::transport::tick_diff(a, b)
}

/// A kill, as modules see it.
#[derive(Clone, Copy, Debug)]
pub struct KillEvent {
    /// The killer.
    pub killer: i16,
    /// The killed player.
    pub killed: i16,
    /// Bounty on the killed player.
    pub bounty: i32,
}

/// A game mode attached to an arena. Every hook has a default that does
/// nothing; the arena calls them in `AttachModules` order.
pub trait Module {
    /// The name operators write in `AttachModules`.
    fn name(&self) -> &'static str;
    /// The arena (re)started with this module attached, or staff
    /// attached it (`?attmod`).
    fn on_attach(&mut self, _a: &mut Arena, _now: u32) {}
    /// Staff detached the module (`?detmod`): undo what `on_attach` set up.
    fn on_detach(&mut self, _a: &mut Arena) {}
    /// A player entered (after the arena sent him the entry sequence).
    fn on_enter(&mut self, _a: &mut Arena, _pid: i16, _now: u32) {}
    /// A player is leaving (still in [`Arena::players`]).
    fn on_leave(&mut self, _a: &mut Arena, _pid: i16, _now: u32) {}
    /// A player is about to change ship or freq (old values still set).
    fn on_ship_freq(&mut self, _a: &mut Arena, _pid: i16, _now: u32) {}
    /// A kill, before the kill packet goes out; returns the flags handed
    /// to the killer (the kill packet's flag count), if the module moves
    /// flags.
    fn on_kill(&mut self, _a: &mut Arena, _k: &KillEvent, _now: u32) -> Option<u32> {
        None
    }
    /// Every 100 ms (`now` in ticks).
    fn on_tick(&mut self, _a: &mut Arena, _now: u32) {}
    /// A game packet the arena itself does not handle.
    fn on_packet(&mut self, _a: &mut Arena, _pid: i16, _pkt: &C2SPacket, _now: u32) {}
    /// A freq won the flag game: add to the reward.
    fn on_flag_win(&mut self, _a: &mut Arena, _freq: i16, _points: &mut i32) {}
    /// The flag game ended (won by `freq` ≥ 0, or reset).
    fn on_flag_reset(&mut self, _a: &mut Arena, _freq: i16, _points: i32) {}
    /// A player in a ship entered (`entering`) or left region number
    /// `region` of the map (an index into `a.assets.map.regions()`),
    /// noticed from his positions every `Misc:RegionCheckInterval`
    /// (`docs/protocol/game-protocol.md` §8.9).
    fn on_region(&mut self, _a: &mut Arena, _pid: i16, _region: usize, _entering: bool, _now: u32) {
    }
    /// A `?command` of the module table (`crate::commands`) that modules
    /// answer (`?timer`, `?buy`, ...): `Some` if this module ran it.
    fn on_command(&mut self, _a: &mut Arena, _ctx: &Ctx, _params: &str) -> Option<CmdResult> {
        None
    }
    /// A player asks to change ship (to `ship`; 8 = spectator): `Some`
    /// refuses, with the reason shown to him. Staff changes are not asked.
    fn refuse_ship(&mut self, _a: &mut Arena, _pid: i16, _ship: u8, _now: u32) -> Option<String> {
        None
    }
    /// What this module allows the player called `name` (ASSS's enforcer
    /// advisers): adds to `e`. Asked before every freq manager decision
    /// about him (entering the arena, his requests, staff changes without
    /// `-f`).
    fn enforce(&self, _a: &Arena, _name: &str, _now: u32, _e: &mut Enforcement) {}
    /// A player's ship or freq changed (new values set; the old ones given).
    fn on_ship_freq_changed(
        &mut self,
        _a: &mut Arena,
        _pid: i16,
        _old_ship: u8,
        _old_freq: i16,
        _now: u32,
    ) {
    }
    /// State to keep across a realm restart (empty = none).
    fn checkpoint(&self, _a: &Arena, _out: &mut Vec<u8>) {}
    /// The state [`Module::checkpoint`] wrote before the restart.
    fn restore(&mut self, _a: &mut Arena, _bytes: &[u8], _now: u32) {}
}

/// Something a module asks the arena to do once the current event is over
/// (so that every module hears of it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pending {
    /// `freq` owns every flag: pay the reward and end the game.
    FlagWin(i16),
    /// End the flag game with no winner.
    FlagReset,
    /// Put a player in spectator mode (so that every module hears of the
    /// change, which a change made during a module call would not).
    ToSpectator(i16),
}

/// Module names accepted in `AttachModules` that need nothing more than
/// what every arena does (kill points are always scored, and the modules
/// of [`always`] run everywhere).
const BUILT_IN: &[&str] = &[
    "points_kill",
    "points_periodic",
    "game_timer",
    "autowarp",
    "messages",
    "idle",
];

/// Modules every arena runs, after the attached ones, as ASSS loads them
/// for all arenas (`conf/modules.conf`); each does nothing until its
/// settings ask for something.
fn always() -> Vec<Box<dyn Module>> {
    vec![
        Box::new(timer::GameTimer::default()),
        Box::new(regions::AutoWarp),
        Box::new(misc::Messages::default()),
        Box::new(misc::Idle::default()),
    ]
}

/// ASSS's zone-wide game modules: ASSS runs them in every arena once
/// `conf/modules.conf` loads them (each idle until its settings ask for
/// something), where our arenas attach them by name. A zone folder whose
/// `modules.conf` lists one gets it in every arena
/// (`docs/protocol/config.md` §9).
pub const ZONE_WIDE: &[&str] = &["balls", "bricks"];

/// The [`ZONE_WIDE`] modules the zone's `modules.conf` lists (none for a
/// zone without one, or the embedded zone).
pub fn zone_wide(zone: &conf::ZoneModules) -> Vec<&'static str> {
    ZONE_WIDE
        .iter()
        .copied()
        .filter(|m| zone.lists(m))
        .collect()
}

/// Builds the modules named in `[Modules] AttachModules`, then the
/// `zone_wide` ones not named there; unknown names are returned (and
/// logged once, together).
pub fn attach(names: &str, arena: &str, zone_wide: &[&str]) -> (Vec<Box<dyn Module>>, Vec<String>) {
    let mut mods: Vec<Box<dyn Module>> = Vec::new();
    let mut unknown = Vec::new();
    let mut flag_game: Option<&str> = None;
    let split = || names.split(|c: char| c.is_whitespace() || c == ',');
    // `balls` and `points_goal` make one module (the ball game, scoring
    // when `points_goal` is named).
    let points_goal = split().any(|n| n.trim().eq_ignore_ascii_case("points_goal"));
    let mut soccer = false;
    for name in split() {
        let name = name.trim();
        if name.is_empty() || mods.iter().any(|m| m.name().eq_ignore_ascii_case(name)) {
            continue;
        }
        let lower = name.to_ascii_lowercase();
        if lower.starts_with("fg_") {
            // The flag state is one per arena: one flag game.
            if let Some(first) = flag_game {
                warn!(arena, first, ignored = name, "only one flag game per arena");
                continue;
            }
        }
        let m: Box<dyn Module> = match lower.as_str() {
            "fg_wz" => {
                flag_game = Some("fg_wz");
                Box::new(flaggame::FlagGame::warzone())
            }
            "fg_turf" => {
                flag_game = Some("fg_turf");
                Box::new(flaggame::FlagGame::turf())
            }
            "points_flag" => Box::new(rewards::PointsFlag),
            "jackpot" => Box::new(rewards::Jackpot),
            "periodic" => Box::new(rewards::Periodic::default()),
            "balls" | "points_goal" => {
                if soccer {
                    continue;
                }
                soccer = true;
                Box::new(balls::Soccer::new(points_goal))
            }
            "bricks" => Box::new(bricks::Bricks::default()),
            "koth" => Box::new(koth::Koth::default()),
            "buy" => Box::new(misc::Buy),
            "enf_shipchange" => Box::new(misc::ShipChange::default()),
            "enf_lockspec" => Box::new(enforcers::LockSpec),
            "enf_flagwin" => Box::new(enforcers::FlagWin::default()),
            n if BUILT_IN.contains(&n) => continue,
            _ => {
                unknown.push(name.to_string());
                continue;
            }
        };
        mods.push(m);
    }
    for &name in zone_wide {
        match name {
            "balls" if !soccer => {
                soccer = true;
                mods.push(Box::new(balls::Soccer::zone_wide(points_goal)));
            }
            "bricks" if !mods.iter().any(|m| m.name() == "bricks") => {
                mods.push(Box::new(bricks::Bricks::default()));
            }
            _ => {}
        }
    }
    mods.extend(always());
    if !unknown.is_empty() {
        warn!(
            arena,
            unknown = unknown.join(" "),
            "Modules:AttachModules names modules this server does not have; ignored"
        );
    }
    (mods, unknown)
}

/// Writes every module's checkpoint as (name, length, bytes) sections.
pub fn write_checkpoint(a: &Arena, mods: &[Box<dyn Module>], out: &mut Vec<u8>) {
    let mut buf = Vec::new();
    for m in mods {
        buf.clear();
        m.checkpoint(a, &mut buf);
        if buf.is_empty() || buf.len() > usize::from(u16::MAX) {
            continue;
        }
        let name = m.name().as_bytes();
        out.push(name.len() as u8);
        out.extend_from_slice(name);
        out.extend_from_slice(&(buf.len() as u16).to_le_bytes());
        out.extend_from_slice(&buf);
    }
}

/// Splits [`write_checkpoint`] bytes into (name, bytes) sections; stops at
/// the first malformed one.
pub fn read_checkpoint(mut b: &[u8]) -> Vec<(&str, &[u8])> {
    let mut sections = Vec::new();
    while let Some((&n, rest)) = b.split_first() {
        let n = usize::from(n);
        let Some(name) = rest.get(..n).and_then(|s| std::str::from_utf8(s).ok()) else {
            break;
        };
        let Some(len) = rest
            .get(n..n + 2)
            .map(|l| usize::from(u16::from_le_bytes([l[0], l[1]])))
        else {
            break;
        };
        let Some(body) = rest.get(n + 2..n + 2 + len) else {
            break;
        };
        sections.push((name, body));
        b = &rest[n + 2 + len..];
    }
    sections
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attach_builds_known_modules_and_names_the_unknown_ones() {
        let (mods, unknown) = attach(
            "points_kill  fg_wz points_flag, buy jackpot fg_wz fm_custom koth game_timer",
            "0",
            &[],
        );
        let names: Vec<_> = mods.iter().map(|m| m.name()).collect();
        assert_eq!(
            names,
            [
                "fg_wz",
                "points_flag",
                "buy",
                "jackpot",
                "koth",
                "game_timer",
                "autowarp",
                "messages",
                "idle"
            ]
        );
        assert_eq!(unknown, ["fm_custom"]);
        // points_goal and balls are one module; bricks its own.
        let (mods, unknown) = attach("points_goal bricks balls", "soccer", &[]);
        let names: Vec<_> = mods.iter().map(|m| m.name()).collect();
        assert_eq!(names[..2], ["balls", "bricks"]);
        assert!(unknown.is_empty());
    }

    #[test]
    fn zone_wide_modules_join_every_arena_once() {
        let zone = conf::ZoneModules::parse("core\nballs\nbricks\nkoth\n");
        let wide = zone_wide(&zone);
        assert_eq!(wide, ["balls", "bricks"]);
        // Not named: added after the named ones.
        let (mods, _) = attach("points_kill buy", "a", &wide);
        let names: Vec<_> = mods.iter().map(|m| m.name()).collect();
        assert_eq!(names[..3], ["buy", "balls", "bricks"]);
        // Named too: still one of each.
        let (mods, _) = attach("bricks points_goal", "a", &wide);
        let names: Vec<_> = mods.iter().map(|m| m.name()).collect();
        assert_eq!(names[..2], ["bricks", "balls"]);
        assert_eq!(names.iter().filter(|n| **n == "balls").count(), 1);
        // A zone without modules.conf, or one leaving them out: nothing.
        assert!(zone_wide(&conf::ZoneModules::all()).is_empty());
        assert!(zone_wide(&conf::ZoneModules::parse("core\n")).is_empty());
    }

    #[test]
    fn checkpoint_sections_round_trip_and_garbage_is_cut_off() {
        let mut b = Vec::new();
        for (name, body) in [("fg_turf", &[1u8, 2, 3][..]), ("jackpot", &[9u8][..])] {
            b.push(name.len() as u8);
            b.extend_from_slice(name.as_bytes());
            b.extend_from_slice(&(body.len() as u16).to_le_bytes());
            b.extend_from_slice(body);
        }
        let all = read_checkpoint(&b);
        assert_eq!(
            all,
            vec![("fg_turf", &[1u8, 2, 3][..]), ("jackpot", &[9u8][..])]
        );
        assert_eq!(read_checkpoint(&b[..b.len() - 1]).len(), 1);
        assert!(read_checkpoint(&[200, 1]).is_empty());
    }
}
