//! `autowarp`: a player entering a map region with an `rAWP` chunk is
//! warped (`docs/protocol/game-protocol.md` §8.9). Runs in every arena,
//! as ASSS loads it for all arenas; a map without such regions never
//! triggers it.

use ipc_proto::{Delivery, Target, ZoneCall};
use ss_proto::game::S2CPacket;
use tracing::info;

use super::Module;
use crate::arena::Arena;

/// The auto-warp module (no state: the map holds the destinations).
pub struct AutoWarp;

impl Module for AutoWarp {
    fn name(&self) -> &'static str {
        "autowarp"
    }

    fn on_region(&mut self, a: &mut Arena, pid: i16, region: usize, entering: bool, _now: u32) {
        if !entering {
            return;
        }
        let Some(warp) = a
            .assets
            .map
            .regions()
            .get(region)
            .and_then(|r| r.auto_warp.clone())
        else {
            return;
        };
        let Some(p) = a.players.get(&pid) else {
            return;
        };
        // A negative coordinate keeps the player's own.
        let (here_x, here_y) = (p.x >> 4, p.y >> 4);
        let x = if warp.x < 0 { here_x } else { warp.x };
        let y = if warp.y < 0 { here_y } else { warp.y };
        match warp.arena {
            None => {
                a.send_packet(
                    Target::Player(pid),
                    Delivery::Reliable,
                    &S2CPacket::WarpTo { x, y },
                );
            }
            Some(arena) => {
                // The destination realm warps him to the tile on entry.
                info!(realm = %a.name, pid, to = %arena, x, y, "auto-warp region sends a player to another arena");
                a.zone_call(ZoneCall::MovePlayerTo { pid, arena, x, y });
            }
        }
    }
}
