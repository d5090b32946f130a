//! Enforcers: arena modules that narrow what the freq manager grants
//! (`docs/protocol/config.md` §8.4, "Enforcer modules").
//!
//! - `enf_lockspec`: nobody leaves spectator mode in the arena (a
//!   spectator-only arena, such as one for watching a league game).
//! - `enf_flagwin`: nobody joins the freq that owns every flag of the flag
//!   game, except a player who left that freq less than
//!   `Flag:TeamChangeGrace` ticks ago (default 1000), so a winning team
//!   cannot be joined at the last moment for a share of the reward.
//!
//! They answer through [`Module::enforce`], which the arena asks before
//! every freq manager decision about a player; staff changes with `-f`
//! skip them, as they skip the freq manager.

use std::collections::HashMap;

use super::{tick_add, ticks_between, Module};
use crate::arena::Arena;
use crate::freqman::Enforcement;

/// What a player in an `enf_lockspec` arena is told when he asks for a
/// ship.
pub const SPEC_ONLY: &str = "This arena does not allow players to leave spectator mode.";

/// `enf_lockspec`: the arena is for spectators only.
#[derive(Debug, Default)]
pub struct LockSpec;

impl Module for LockSpec {
    fn name(&self) -> &'static str {
        "enf_lockspec"
    }

    fn enforce(&self, _a: &Arena, _name: &str, _now: u32, e: &mut Enforcement) {
        e.spec_only = Some(SPEC_ONLY.to_string());
    }
}

/// `enf_flagwin`: the freq holding every flag takes no newcomers.
#[derive(Debug, Default)]
pub struct FlagWin {
    /// Players (lower-case names, so a rejoin keeps it) who left a winning
    /// freq, and until when (ticks) they may go back to it.
    grace: HashMap<String, u32>,
}

impl FlagWin {
    /// The freq owning every flag of the game, if any.
    fn winning(a: &Arena) -> Option<i16> {
        a.flags.as_ref().and_then(|f| f.winning_freq())
    }

    /// Starts `pid`'s grace if `freq` (the one he left) owns every flag.
    fn left(&mut self, a: &Arena, pid: i16, freq: i16, now: u32) {
        if Self::winning(a) != Some(freq) {
            return;
        }
        let Some(p) = a.players.get(&pid) else {
            return;
        };
        let grace = a
            .assets
            .config
            .get_int("Flag", "TeamChangeGrace", 1000)
            .max(0) as u32;
        self.grace
            .insert(p.info.name.to_lowercase(), tick_add(now, grace));
    }
}

impl Module for FlagWin {
    fn name(&self) -> &'static str {
        "enf_flagwin"
    }

    fn enforce(&self, a: &Arena, name: &str, now: u32, e: &mut Enforcement) {
        let Some(freq) = Self::winning(a) else {
            return;
        };
        let in_grace = self
            .grace
            .get(&name.to_lowercase())
            .is_some_and(|&until| ticks_between(now, until) > 0);
        if !in_grace {
            e.refused_freqs
                .push((freq, format!("Freq {freq} has all of the flags.")));
        }
    }

    fn on_leave(&mut self, a: &mut Arena, pid: i16, now: u32) {
        if let Some(freq) = a.players.get(&pid).map(|p| p.freq) {
            self.left(a, pid, freq, now);
        }
    }

    fn on_ship_freq_changed(
        &mut self,
        a: &mut Arena,
        pid: i16,
        _old_ship: u8,
        old_freq: i16,
        now: u32,
    ) {
        if a.players.get(&pid).is_some_and(|p| p.freq != old_freq) {
            self.left(a, pid, old_freq, now);
        }
    }

    fn on_tick(&mut self, _a: &mut Arena, now: u32) {
        if !self.grace.is_empty() {
            self.grace
                .retain(|_, &mut until| ticks_between(now, until) > 0);
        }
    }
}
