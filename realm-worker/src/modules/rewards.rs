//! Reward modules: `points_flag` (the flag victory reward), `jackpot`
//! (grows with kills, paid with the flag reward) and `periodic` (points per
//! owned flag every `Periodic:RewardDelay`).

use ipc_proto::{Delivery, Target};
use ss_proto::game::{ship, S2CPacket};
use tracing::info;

use super::{KillEvent, Module};
use crate::arena::Arena;

/// `points_flag`: the winners get (players in ships)² × `Flag:FlagReward`
/// / 1000 plus the jackpot, split among the freq if `Flag:SplitPoints`.
pub struct PointsFlag;

impl Module for PointsFlag {
    fn name(&self) -> &'static str {
        "points_flag"
    }

    fn on_flag_win(&mut self, a: &mut Arena, freq: i16, points: &mut i32) {
        let cfg = &a.assets.config;
        let playing = a.players.values().filter(|p| p.ship != ship::SPECTATOR);
        let (players, on_freq) = playing.fold((0i64, 0i64), |(n, f), p| {
            (n + 1, f + i64::from(p.freq == freq))
        });
        let reward = i64::from(cfg.get_int("Flag", "FlagReward", 5000));
        let mut pts = players * players * reward / 1000 + i64::from(a.jackpot.unwrap_or(0));
        if on_freq > 0 && cfg.get_int("Flag", "SplitPoints", 0) != 0 {
            pts /= on_freq;
        }
        *points = points.saturating_add(pts.clamp(0, i64::from(i32::MAX)) as i32);
    }
}

/// `jackpot`: `Kill:JackpotBountyPercent` (0.1 %) of each killed player's
/// bounty is added; the flag reward pays it out and it starts again.
#[derive(Default)]
pub struct Jackpot;

impl Module for Jackpot {
    fn name(&self) -> &'static str {
        "jackpot"
    }

    fn on_attach(&mut self, a: &mut Arena, _now: u32) {
        a.jackpot.get_or_insert(0);
    }

    fn on_detach(&mut self, a: &mut Arena) {
        a.jackpot = None;
    }

    fn on_kill(&mut self, a: &mut Arena, k: &KillEvent, _now: u32) -> Option<u32> {
        let percent = a.assets.config.get_int("Kill", "JackpotBountyPercent", 0);
        if percent > 0 {
            let add = (i64::from(k.bounty) * i64::from(percent) / 1000)
                .clamp(0, i64::from(i32::MAX)) as i32;
            let jp = a.jackpot.get_or_insert(0);
            *jp = jp.saturating_add(add);
        }
        None
    }

    fn on_flag_reset(&mut self, a: &mut Arena, freq: i16, _points: i32) {
        if freq >= 0 {
            a.jackpot = Some(0);
        }
    }

    fn checkpoint(&self, a: &Arena, out: &mut Vec<u8>) {
        if let Some(jp) = a.jackpot.filter(|&j| j != 0) {
            out.extend_from_slice(&jp.to_le_bytes());
        }
    }

    fn restore(&mut self, a: &mut Arena, bytes: &[u8], _now: u32) {
        if let Ok(b) = <[u8; 4]>::try_from(bytes) {
            a.jackpot = Some(i32::from_le_bytes(b));
            info!(realm = %a.name, jackpot = ?a.jackpot, "jackpot restored");
        }
    }
}

/// `periodic`: every `Periodic:RewardDelay` ticks each freq with players in
/// ships gets `Periodic:RewardPoints` per flag it owns (a negative value:
/// its magnitude × flags × players), announced with S2C 0x23.
#[derive(Default)]
pub struct Periodic {
    next_at: Option<u32>,
}

impl Module for Periodic {
    fn name(&self) -> &'static str {
        "periodic"
    }

    fn on_tick(&mut self, a: &mut Arena, now: u32) {
        let cfg = &a.assets.config;
        let delay = cfg.get_int("Periodic", "RewardDelay", 0);
        if delay <= 0 {
            self.next_at = None;
            return;
        }
        let Some(at) = self.next_at else {
            self.next_at = Some(now.wrapping_add(delay as u32));
            return;
        };
        if (now.wrapping_sub(at) as i32) < 0 {
            return;
        }
        self.next_at = Some(now.wrapping_add(delay as u32));
        let reward = cfg.get_int("Periodic", "RewardPoints", 100);
        let min_players = cfg.get_int("Periodic", "RewardMinimumPlayers", 0);
        let send_zero = cfg.get_int("Periodic", "SendZeroRewards", 1) != 0;
        let mut freqs: std::collections::BTreeMap<i16, (i32, i32)> = Default::default();
        let mut total = 0;
        for p in a.players.values().filter(|p| p.ship != ship::SPECTATOR) {
            freqs.entry(p.freq).or_default().0 += 1;
            total += 1;
        }
        if total < min_players || freqs.is_empty() {
            return;
        }
        let mut list = Vec::new();
        for (&freq, entry) in freqs.iter_mut() {
            let flags = a.flags.as_ref().map_or(0, |f| f.freq_flags(freq)) as i32;
            let pts = if reward > 0 {
                flags.saturating_mul(reward)
            } else {
                flags.saturating_mul(-reward).saturating_mul(total)
            };
            entry.1 = pts;
            if pts != 0 || send_zero {
                list.push((freq, pts.clamp(0, i32::from(i16::MAX)) as i16));
            }
        }
        a.send_packet(
            Target::Arena,
            Delivery::Reliable,
            &S2CPacket::PeriodicReward(list),
        );
        let winners: Vec<(i16, i32)> = a
            .players
            .values()
            .filter(|p| p.ship != ship::SPECTATOR && p.status & 0x20 == 0)
            .filter_map(|p| {
                freqs
                    .get(&p.freq)
                    .filter(|e| e.1 != 0)
                    .map(|e| (p.info.pid, e.1))
            })
            .collect();
        for (pid, pts) in winners {
            a.add_flag_points(pid, pts);
        }
    }
}
