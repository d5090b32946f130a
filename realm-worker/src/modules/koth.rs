//! `koth`: king of the hill (`docs/protocol/game-protocol.md` §17).
//!
//! When at least `King:MinPlaying` players are in ships and nobody wears a
//! crown, a game starts: everyone in a ship gets a crown that runs out
//! after `King:ExpireTime` ticks. A crowned player who dies more than
//! `King:DeathCount` times loses his crown; a crowned killer's crown starts
//! its time again (or, with `King:NonCrownAdjustTime`, gains that much
//! time for killing an uncrowned player with at least
//! `King:NonCrownMinimumBounty` bounty); an uncrowned player earns his
//! crown back with `King:CrownRecoverKills` kills of crowned players. A
//! crown also goes when its client says its timer ran out (C2S 0x1E), or
//! when the server's own count of its time ends. When the last crowns go
//! at once, their wearers win: each gets the reward in flag points, and a
//! new game starts. `?resetkoth` starts a new game at once.

use std::collections::HashMap;

use ipc_proto::{Delivery, Target};
use ss_proto::game::koth::CrownToggle;
use ss_proto::game::{c2s_type, chat_type, ship, C2SPacket};
use tracing::{info, warn};

use super::{tick_add, ticks_between, KillEvent, Module};
use crate::arena::Arena;
use crate::commands::{CmdError, CmdResult, Ctx};

/// Ticks between two checks of the game (ASSS checks twice a second).
const CHECK_INTERVAL: u32 = 50;
/// Ticks the server waits past a crown's time before taking it itself
/// (the client's own C2S 0x1E normally comes first).
const EXPIRY_GRACE: u32 = 100;

/// The `[King]` settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KingSettings {
    /// `King:DeathCount`: deaths a crown survives.
    pub death_count: u32,
    /// `King:ExpireTime`: ticks a crown lasts (0 = no game).
    pub expire_time: u32,
    /// `King:RewardFactor`: reward = players in ships² × this / 1000
    /// (0 = 1000 split among the winners, as ASSS without a points module).
    pub reward_factor: i64,
    /// `King:SplitPoints`: the reward is split among the winners.
    pub split_points: bool,
    /// `King:NonCrownAdjustTime`: ticks added to a crown for killing an
    /// uncrowned player (0 = such a kill restarts the crown's time).
    pub non_crown_adjust: u32,
    /// `King:NonCrownMinimumBounty`: bounty the uncrowned victim must have.
    pub non_crown_min_bounty: i32,
    /// `King:CrownRecoverKills`: kills of crowned players that win an
    /// uncrowned player his crown back (0 = never).
    pub recover_kills: u32,
    /// `King:MinPlaying`: players in ships needed to start a game.
    pub min_playing: usize,
}

impl KingSettings {
    /// Reads `[King]` (ASSS's defaults).
    pub fn from_config(cfg: &conf::ArenaConfig) -> KingSettings {
        let n = |key: &str, def: i32| cfg.get_int("King", key, def).max(0);
        KingSettings {
            death_count: n("DeathCount", 0) as u32,
            expire_time: n("ExpireTime", 18000) as u32,
            reward_factor: i64::from(n("RewardFactor", 0)),
            split_points: cfg.get_int("King", "SplitPoints", 0) != 0,
            non_crown_adjust: n("NonCrownAdjustTime", 0) as u32,
            non_crown_min_bounty: n("NonCrownMinimumBounty", 0),
            recover_kills: n("CrownRecoverKills", 0) as u32,
            min_playing: n("MinPlaying", 3) as usize,
        }
    }

    /// Points each winner gets when `winners` of `playing` players in
    /// ships win.
    pub fn reward(&self, playing: usize, winners: usize) -> i32 {
        let winners = winners.max(1) as i64;
        let pts = if self.reward_factor > 0 {
            let p = playing as i64;
            let all = p * p * self.reward_factor / 1000;
            if self.split_points {
                all / winners
            } else {
                all
            }
        } else {
            1000 / winners
        };
        pts.clamp(0, i64::from(i32::MAX)) as i32
    }
}

/// One player's part in the game.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Crown {
    /// Wears a crown.
    crown: bool,
    /// Wore one at the last check (or got one since).
    had: bool,
    /// Deaths while crowned.
    deaths: u32,
    /// Kills of crowned players while uncrowned.
    crown_kills: u32,
    /// When the crown runs out (ticks).
    expires_at: u32,
}

/// The king of the hill game of one arena.
#[derive(Debug, Default)]
pub struct Koth {
    players: HashMap<i16, Crown>,
    next_check: Option<u32>,
    /// Malformed C2S 0x1E packets refused.
    bad_packets: u64,
}

impl Koth {
    fn settings(a: &Arena) -> KingSettings {
        KingSettings::from_config(&a.assets.config)
    }

    fn set_crown_bit(a: &mut Arena, pid: i16, on: bool) {
        if let Some(p) = a.players.get_mut(&pid) {
            p.has_crown = on;
        }
    }

    /// Puts a crown with `time` ticks on `pid` (or restarts its time).
    fn give_crown(&mut self, a: &mut Arena, pid: i16, time: u32, now: u32) {
        let c = self.players.entry(pid).or_default();
        c.crown = true;
        c.had = true;
        c.expires_at = tick_add(now, time);
        Self::set_crown_bit(a, pid, true);
        let pkt = CrownToggle {
            on: true,
            time,
            pid: -1,
        };
        a.send_bytes(Target::Player(pid), Delivery::Reliable, &pkt.encode());
    }

    /// Takes `pid`'s crown and tells the arena.
    fn take_crown(&mut self, a: &mut Arena, pid: i16, why: &str) {
        let Some(c) = self.players.get_mut(&pid).filter(|c| c.crown) else {
            return;
        };
        c.crown = false;
        Self::set_crown_bit(a, pid, false);
        let pkt = CrownToggle {
            on: false,
            time: 0,
            pid,
        };
        a.send_bytes(Target::Arena, Delivery::Reliable, &pkt.encode());
        info!(realm = %a.name, pid, why, "koth: crown lost");
    }

    /// A new game: a crown for everyone in a ship.
    fn start(&mut self, a: &mut Arena, now: u32) {
        let s = Self::settings(a);
        if s.expire_time == 0 {
            return;
        }
        let all: Vec<(i16, bool)> = a
            .players
            .values()
            .map(|p| (p.info.pid, p.ship != ship::SPECTATOR))
            .collect();
        let mut crowned = 0;
        for (pid, in_ship) in all {
            if in_ship {
                self.players.insert(pid, Crown::default());
                self.give_crown(a, pid, s.expire_time, now);
                crowned += 1;
            } else {
                self.players.insert(pid, Crown::default());
                Self::set_crown_bit(a, pid, false);
            }
        }
        let everyone: Vec<i16> = a.players.keys().copied().collect();
        a.message_players(
            &everyone,
            chat_type::ARENA,
            0,
            "King of the Hill game starting",
        );
        info!(realm = %a.name, crowned, "koth: game starting");
    }

    /// The twice-a-second look at the game: expired crowns, a win when
    /// the last crowns went, a new game when nobody wears one.
    fn check(&mut self, a: &mut Arena, now: u32) {
        let s = Self::settings(a);
        if s.expire_time == 0 {
            return;
        }
        let expired: Vec<i16> = self
            .players
            .iter()
            .filter(|(_, c)| {
                c.crown && ticks_between(tick_add(c.expires_at, EXPIRY_GRACE), now) >= 0
            })
            .map(|(&pid, _)| pid)
            .collect();
        for pid in expired {
            self.take_crown(a, pid, "time ran out (server)");
        }
        let in_ship: Vec<i16> = a
            .players
            .values()
            .filter(|p| p.ship != ship::SPECTATOR)
            .map(|p| p.info.pid)
            .collect();
        let playing = in_ship.len();
        let crowns = in_ship
            .iter()
            .filter(|pid| self.players.get(pid).is_some_and(|c| c.crown))
            .count();
        let had: Vec<i16> = in_ship
            .iter()
            .copied()
            .filter(|pid| self.players.get(pid).is_some_and(|c| c.had))
            .collect();
        if crowns == 0 && !had.is_empty() {
            let pts = s.reward(playing, had.len());
            let everyone: Vec<i16> = a.players.keys().copied().collect();
            for &pid in &had {
                let Some(name) = a.players.get(&pid).map(|p| p.info.name.clone()) else {
                    continue;
                };
                a.add_flag_points(pid, pts);
                a.message_players(
                    &everyone,
                    chat_type::ARENA,
                    0,
                    &format!("King of the Hill: {name} awarded {pts} points"),
                );
                info!(realm = %a.name, pid, pts, "koth: won");
            }
        }
        if crowns == 0 && playing >= s.min_playing {
            self.start(a, now);
        }
        // Who has no crown now had none at this check.
        for c in self.players.values_mut() {
            c.had = c.crown;
        }
    }

    /// Forgets a player's part (he left the game): no packet, as ASSS.
    fn forget(&mut self, a: &mut Arena, pid: i16) {
        self.players.remove(&pid);
        Self::set_crown_bit(a, pid, false);
    }
}

impl Module for Koth {
    fn name(&self) -> &'static str {
        "koth"
    }

    fn on_enter(&mut self, a: &mut Arena, pid: i16, _now: u32) {
        self.forget(a, pid);
    }

    fn on_leave(&mut self, a: &mut Arena, pid: i16, _now: u32) {
        self.forget(a, pid);
    }

    fn on_ship_freq_changed(
        &mut self,
        a: &mut Arena,
        pid: i16,
        _old_ship: u8,
        _old_freq: i16,
        _now: u32,
    ) {
        if a.players
            .get(&pid)
            .is_some_and(|p| p.ship == ship::SPECTATOR)
        {
            self.forget(a, pid);
        }
    }

    fn on_kill(&mut self, a: &mut Arena, k: &KillEvent, now: u32) -> Option<u32> {
        let s = Self::settings(a);
        if s.expire_time == 0 {
            return None;
        }
        let killed_crowned = self.players.get(&k.killed).is_some_and(|c| c.crown);
        if killed_crowned {
            let c = self.players.entry(k.killed).or_default();
            c.deaths += 1;
            if c.deaths > s.death_count {
                self.take_crown(a, k.killed, "too many deaths");
            }
        }
        let killer = self.players.get(&k.killer).copied().unwrap_or_default();
        if killer.crown {
            if killed_crowned || s.non_crown_adjust == 0 {
                self.give_crown(a, k.killer, s.expire_time, now);
            } else if k.bounty >= s.non_crown_min_bounty {
                let left = ticks_between(now, killer.expires_at).max(0) as u32;
                let time = left.saturating_add(s.non_crown_adjust).min(s.expire_time);
                self.give_crown(a, k.killer, time, now);
            }
        } else if killed_crowned && s.recover_kills > 0 {
            let c = self.players.entry(k.killer).or_default();
            c.crown_kills += 1;
            let left = s.recover_kills.saturating_sub(c.crown_kills);
            if left == 0 {
                c.crown_kills = 0;
                c.deaths = 0;
                self.give_crown(a, k.killer, s.expire_time, now);
                a.arena_message(k.killer, "You earned back a crown.");
            } else {
                let plural = if left == 1 { "" } else { "s" };
                a.arena_message(
                    k.killer,
                    &format!("{left} kill{plural} left to earn back a crown."),
                );
            }
        }
        None
    }

    fn on_tick(&mut self, a: &mut Arena, now: u32) {
        match self.next_check {
            Some(at) if ticks_between(at, now) < 0 => {}
            _ => {
                self.next_check = Some(tick_add(now, CHECK_INTERVAL));
                self.check(a, now);
            }
        }
    }

    fn on_packet(&mut self, a: &mut Arena, pid: i16, pkt: &C2SPacket, _now: u32) {
        let C2SPacket::Other { ptype, body } = pkt else {
            return;
        };
        if *ptype != c2s_type::CROWN_EXPIRED {
            return;
        }
        if !body.is_empty() {
            self.bad_packets += 1;
            warn!(target: "malicious", realm = %a.name, pid, len = body.len() + 1, refused = self.bad_packets, "bad crown-expired packet");
            return;
        }
        self.take_crown(a, pid, "time ran out");
    }

    fn on_command(&mut self, a: &mut Arena, ctx: &Ctx, _params: &str) -> Option<CmdResult> {
        if ctx.name != "resetkoth" {
            return None;
        }
        if Self::settings(a).expire_time == 0 {
            return Some(Err(CmdError::Msg(
                "King of the Hill is off here (King:ExpireTime is 0).".into(),
            )));
        }
        self.start(a, ipc_proto::monotonic_ticks());
        Some(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> KingSettings {
        KingSettings {
            death_count: 0,
            expire_time: 100,
            reward_factor: 0,
            split_points: false,
            non_crown_adjust: 0,
            non_crown_min_bounty: 0,
            recover_kills: 0,
            min_playing: 2,
        }
    }

    #[test]
    fn the_reward_follows_the_factor_and_the_split() {
        let mut s = settings();
        assert_eq!(s.reward(10, 1), 1000);
        assert_eq!(s.reward(10, 4), 250);
        assert_eq!(s.reward(10, 0), 1000, "no division by zero");
        s.reward_factor = 1000;
        assert_eq!(s.reward(3, 1), 9);
        assert_eq!(s.reward(3, 2), 9);
        s.split_points = true;
        assert_eq!(s.reward(10, 4), 25);
        s.reward_factor = i64::from(i32::MAX);
        assert_eq!(s.reward(60_000, 1), i32::MAX, "clamped");
    }
}
