//! `fg_wz` (carried flags; one freq owning them all wins) and `fg_turf`
//! (static flags claimed by touch): they set up the arena's flag state
//! ([`Arena::flags`]) from `[Flag]` and the map, and feed it the players'
//! events. The rules themselves are in [`super::flagcore`].

use ss_proto::game::C2SPacket;
use tracing::{debug, info, warn};

use super::flagcore::{FlagCore, FlagOut, FlagSettings, FlagState, Kind, Loss};
use super::{KillEvent, Module, Pending};
use crate::arena::Arena;

/// Ticks a restored carried flag waits for its carrier to come back.
const RESTORE_GRACE: u32 = 500;

/// The flag game module.
pub struct FlagGame {
    kind: Kind,
    /// Until when restored carried flags wait for their carriers.
    grace_until: Option<u32>,
}

impl FlagGame {
    /// `fg_wz`.
    pub fn warzone() -> FlagGame {
        FlagGame {
            kind: Kind::Warzone,
            grace_until: None,
        }
    }

    /// `fg_turf`.
    pub fn turf() -> FlagGame {
        FlagGame {
            kind: Kind::Turf,
            grace_until: None,
        }
    }
}

impl Module for FlagGame {
    fn name(&self) -> &'static str {
        match self.kind {
            Kind::Warzone => "fg_wz",
            Kind::Turf => "fg_turf",
        }
    }

    fn on_attach(&mut self, a: &mut Arena, now: u32) {
        let mut bad = 0;
        let settings = FlagSettings::from_config(&a.assets.config, &mut bad);
        a.counters.bad_config += bad;
        let core = match self.kind {
            Kind::Warzone => {
                if settings.carry == super::flagcore::Carry::Turf {
                    warn!(realm = %a.name, "fg_wz needs Flag:CarryFlags >= 1; no flag game");
                    a.counters.bad_config += 1;
                    return;
                }
                FlagCore::warzone(settings, now, a.next_random())
            }
            Kind::Turf => {
                let tiles = a.assets.map.flags();
                if tiles.is_empty() {
                    warn!(realm = %a.name, map = %a.assets.map_name, "fg_turf: the map has no flag tiles; no turf flags");
                    a.counters.bad_config += 1;
                }
                FlagCore::turf(settings, &tiles)
            }
        };
        info!(realm = %a.name, game = self.name(), flags = ?core.settings.count, "flag game set up");
        a.flags = Some(core);
    }

    fn on_enter(&mut self, a: &mut Arena, pid: i16, _now: u32) {
        let Some(core) = &a.flags else {
            return;
        };
        let outs = core.entry_view();
        a.send_flag_outs(Some(pid), &outs);
    }

    fn on_leave(&mut self, a: &mut Arena, pid: i16, now: u32) {
        self.neut(a, pid, now);
    }

    fn on_ship_freq(&mut self, a: &mut Arena, pid: i16, now: u32) {
        self.neut(a, pid, now);
    }

    fn on_kill(&mut self, a: &mut Arena, k: &KillEvent, now: u32) -> Option<u32> {
        let (killer, killed) = (a.toucher(k.killer, now)?, a.toucher(k.killed, now)?);
        let core = a.flags.as_mut()?;
        let map = &a.assets.map;
        let free = |x, y| crate::assets::tile_free(map, x, y);
        let (moved, outs) = core.kill(&killer, &killed, now, &free);
        a.checkpoint_now();
        a.send_flag_outs(None, &outs);
        Some(moved)
    }

    fn on_tick(&mut self, a: &mut Arena, now: u32) {
        let Some(core) = a.flags.as_mut() else {
            return;
        };
        let map = &a.assets.map;
        let free = |x, y| crate::assets::tile_free(map, x, y);
        let mut outs = core.tick(now, &free);
        // Restored carried flags whose carriers did not come back.
        if self
            .grace_until
            .is_some_and(|t| (now.wrapping_sub(t) as i32) >= 0)
        {
            self.grace_until = None;
            let players = &a.players;
            outs.extend(core.drop_absent(&|pid| players.contains_key(&pid), now, &free));
        }
        // Carriers the arena has not heard from in NoDataFlagDropDelay.
        let delay = core.settings.no_data_delay;
        let silent: Vec<i16> = if delay > 0 && core.kind == Kind::Warzone {
            a.players
                .values()
                .filter(|p| core.carried(p.info.pid) > 0)
                .filter(|p| now.wrapping_sub(p.heard_at) as i32 > delay as i32)
                .map(|p| p.info.pid)
                .collect()
        } else {
            Vec::new()
        };
        let wins: Vec<i16> = outs
            .iter()
            .filter_map(|o| match o {
                FlagOut::Win { freq } => Some(*freq),
                _ => None,
            })
            .collect();
        a.send_flag_outs(None, &outs);
        for pid in silent {
            info!(realm = %a.name, pid, "no position data from a flag carrier; his flags are neuted");
            self.neut(a, pid, now);
        }
        for freq in wins {
            a.pending.push(Pending::FlagWin(freq));
        }
    }

    fn on_packet(&mut self, a: &mut Arena, pid: i16, pkt: &C2SPacket, now: u32) {
        match *pkt {
            C2SPacket::TouchFlag { fid } => {
                // Laggers may not pick up flags (the `[Lag]` rules).
                if a.is_lagging(pid) {
                    a.counters.flag_touches_refused += 1;
                    debug!(realm = %a.name, pid, fid, "flag touch refused: lagging");
                    return;
                }
                let Some(p) = a.toucher(pid, now) else {
                    return;
                };
                let Some(core) = a.flags.as_mut() else {
                    return;
                };
                match core.touch(&p, fid, now) {
                    Ok(outs) => {
                        if !outs.is_empty() {
                            info!(realm = %a.name, pid, fid, freq = p.freq, "flag touched");
                            a.checkpoint_now();
                        }
                        a.send_flag_outs(None, &outs);
                    }
                    Err(why) => {
                        a.counters.flag_touches_refused += 1;
                        debug!(realm = %a.name, pid, fid, ?why, "flag touch ignored");
                    }
                }
            }
            C2SPacket::DropFlags => {
                let Some(p) = a.toucher(pid, now) else {
                    return;
                };
                let Some(core) = a.flags.as_mut() else {
                    return;
                };
                if core.kind == Kind::Turf || core.carried(pid) == 0 {
                    a.counters.flag_touches_refused += 1;
                    debug!(realm = %a.name, pid, "flag drop without flags ignored");
                    return;
                }
                let how = if p.safe { Loss::InSafe } else { Loss::Dropped };
                let map = &a.assets.map;
                let free = |x, y| crate::assets::tile_free(map, x, y);
                let outs = core.lose(&p, how, now, &free);
                a.checkpoint_now();
                a.send_flag_outs(None, &outs);
            }
            _ => {}
        }
    }

    fn checkpoint(&self, a: &Arena, out: &mut Vec<u8>) {
        if let Some(core) = &a.flags {
            core.checkpoint(out);
        }
    }

    fn restore(&mut self, a: &mut Arena, bytes: &[u8], now: u32) {
        let Some(core) = a.flags.as_mut() else {
            return;
        };
        if core.restore(bytes, now).is_none() {
            warn!(realm = %a.name, "flag checkpoint does not fit this arena's flag game; ignored");
            a.counters.bad_config += 1;
            return;
        }
        let carried = core
            .flags
            .iter()
            .filter(|f| matches!(f.state, FlagState::Carried { .. }))
            .count();
        info!(realm = %a.name, owners = ?core.owners(), carried, "flag game restored");
        if carried > 0 {
            self.grace_until = Some(now.wrapping_add(RESTORE_GRACE));
        }
        let outs = core.entry_view();
        a.send_flag_outs(None, &outs);
    }
}

impl FlagGame {
    /// `pid` loses his flags without a fight (ship/freq change, leaving).
    fn neut(&mut self, a: &mut Arena, pid: i16, now: u32) {
        let Some(p) = a.toucher(pid, now) else {
            return;
        };
        let Some(core) = a.flags.as_mut() else {
            return;
        };
        if core.carried(pid) == 0 {
            return;
        }
        let map = &a.assets.map;
        let free = |x, y| crate::assets::tile_free(map, x, y);
        let outs = core.lose(&p, Loss::Neut, now, &free);
        a.checkpoint_now();
        a.send_flag_outs(None, &outs);
    }
}
