//! `bricks`: brick drops (C2S 0x1C) become bricks (S2C 0x21) for the whole
//! arena, laid by `Brick:BrickMode`, kept for late joiners and forgotten
//! after `Brick:BrickTime` (`docs/protocol/game-protocol.md` §16). The
//! placement and expiry rules are in [`super::brickcore`]; `?brickwrite`'s
//! letters are here.

use std::collections::HashMap;

use ipc_proto::{Delivery, Target};
use ss_proto::game::{ship, Brick, C2SPacket, S2CPacket};
use tracing::{debug, info};

use super::brickcore::{BrickCore, BrickRefusal, BrickSettings, Segment};
use super::flood::{Bucket, Rate};
use super::Module;
use crate::arena::Arena;

/// Brick drops a player may send back to back, then one per interval.
pub const BRICK_RATE: Rate = Rate {
    burst: 5,
    interval: 50,
};
/// Brick records per S2C 0x21 (16 bytes each; fits a reliable packet).
const BRICKS_PER_PACKET: usize = 30;

/// The bricks module.
#[derive(Default)]
pub struct Bricks {
    flood: HashMap<i16, Bucket>,
}

impl Arena {
    /// Sends bricks (S2C 0x21, several per packet) to the arena or one
    /// player.
    pub(crate) fn send_bricks(&mut self, to: Option<i16>, bricks: &[Brick]) {
        for chunk in bricks.chunks(BRICKS_PER_PACKET) {
            let target = to.map_or(Target::Arena, Target::Player);
            self.send_packet(
                target,
                Delivery::Reliable,
                &S2CPacket::Bricks(chunk.to_vec()),
            );
        }
    }
}

impl Module for Bricks {
    fn name(&self) -> &'static str {
        "bricks"
    }

    fn on_attach(&mut self, a: &mut Arena, now: u32) {
        let mut bad = 0;
        let settings = BrickSettings::from_config(&a.assets.config, &mut bad);
        a.counters.bad_config += bad;
        info!(realm = %a.name, ?settings, "bricks set up");
        a.bricks = Some(BrickCore::new(settings, now));
    }

    fn on_enter(&mut self, a: &mut Arena, pid: i16, now: u32) {
        let Some(core) = a.bricks.as_mut() else {
            return;
        };
        core.expire(now);
        let live = core.bricks.clone();
        a.send_bricks(Some(pid), &live);
    }

    fn on_leave(&mut self, _a: &mut Arena, pid: i16, _now: u32) {
        self.flood.remove(&pid);
    }

    fn on_tick(&mut self, a: &mut Arena, now: u32) {
        if let Some(core) = a.bricks.as_mut() {
            // Clients forget bricks by themselves (BrickTime is a client
            // setting); the realm only stops counting them.
            core.expire(now);
        }
    }

    fn on_packet(&mut self, a: &mut Arena, pid: i16, pkt: &C2SPacket, now: u32) {
        let C2SPacket::DropBrick { x, y } = *pkt else {
            return;
        };
        let Some(p) = a.players.get(&pid) else {
            return;
        };
        let (freq, rotation, in_ship) = (p.freq, p.rotation, p.ship != ship::SPECTATOR);
        let coin = a.next_random() & 1 == 1;
        let map = &a.assets.map;
        let map_free = |tx: i32, ty: i32| map.tile(tx, ty) == 0;
        let Some(core) = a.bricks.as_mut() else {
            return;
        };
        let res = if !in_ship {
            Err(core.refuse(BrickRefusal::Spectator))
        } else if !self
            .flood
            .entry(pid)
            .or_insert_with(|| Bucket::new(BRICK_RATE, now))
            .take(BRICK_RATE, now)
        {
            Err(core.refuse(BrickRefusal::Flood))
        } else {
            core.drop_at((x, y), freq, rotation, now, &map_free, coin)
        };
        match res {
            Ok(bricks) => {
                debug!(realm = %a.name, pid, x, y, n = bricks.len(), "brick dropped");
                a.send_bricks(None, &bricks);
            }
            Err(why) => debug!(realm = %a.name, pid, x, y, ?why, "brick drop refused"),
        }
    }
}

/// Our `?brickwrite` letters: 3 × 5 tiles, one row a line of `#`/`.`.
const GLYPHS: &[(char, [&str; 5])] = &[
    ('A', [".#.", "#.#", "###", "#.#", "#.#"]),
    ('B', ["##.", "#.#", "##.", "#.#", "##."]),
    ('C', [".##", "#..", "#..", "#..", ".##"]),
    ('D', ["##.", "#.#", "#.#", "#.#", "##."]),
    ('E', ["###", "#..", "##.", "#..", "###"]),
    ('F', ["###", "#..", "##.", "#..", "#.."]),
    ('G', [".##", "#..", "#.#", "#.#", ".##"]),
    ('H', ["#.#", "#.#", "###", "#.#", "#.#"]),
    ('I', ["###", ".#.", ".#.", ".#.", "###"]),
    ('J', ["..#", "..#", "..#", "#.#", ".#."]),
    ('K', ["#.#", "#.#", "##.", "#.#", "#.#"]),
    ('L', ["#..", "#..", "#..", "#..", "###"]),
    ('M', ["#.#", "###", "###", "#.#", "#.#"]),
    ('N', ["##.", "#.#", "#.#", "#.#", "#.#"]),
    ('O', [".#.", "#.#", "#.#", "#.#", ".#."]),
    ('P', ["##.", "#.#", "##.", "#..", "#.."]),
    ('Q', [".#.", "#.#", "#.#", "##.", ".##"]),
    ('R', ["##.", "#.#", "##.", "#.#", "#.#"]),
    ('S', [".##", "#..", ".#.", "..#", "##."]),
    ('T', ["###", ".#.", ".#.", ".#.", ".#."]),
    ('U', ["#.#", "#.#", "#.#", "#.#", "###"]),
    ('V', ["#.#", "#.#", "#.#", "#.#", ".#."]),
    ('W', ["#.#", "#.#", "###", "###", "#.#"]),
    ('X', ["#.#", "#.#", ".#.", "#.#", "#.#"]),
    ('Y', ["#.#", "#.#", ".#.", ".#.", ".#."]),
    ('Z', ["###", "..#", ".#.", "#..", "###"]),
    ('0', ["###", "#.#", "#.#", "#.#", "###"]),
    ('1', [".#.", "##.", ".#.", ".#.", "###"]),
    ('2', ["##.", "..#", ".#.", "#..", "###"]),
    ('3', ["##.", "..#", ".#.", "..#", "##."]),
    ('4', ["#.#", "#.#", "###", "..#", "..#"]),
    ('5', ["###", "#..", "##.", "..#", "##."]),
    ('6', [".##", "#..", "###", "#.#", "###"]),
    ('7', ["###", "..#", ".#.", ".#.", ".#."]),
    ('8', ["###", "#.#", "###", "#.#", "###"]),
    ('9', ["###", "#.#", "###", "..#", "##."]),
    ('!', [".#.", ".#.", ".#.", "...", ".#."]),
    ('?', ["##.", "..#", ".#.", "...", ".#."]),
    ('-', ["...", "...", "###", "...", "..."]),
    ('.', ["...", "...", "...", "...", ".#."]),
    (' ', ["...", "...", "...", "...", "..."]),
];

/// Longest text `?brickwrite` writes.
pub const BRICKWRITE_MAX_CHARS: usize = 24;

/// The brick segments spelling `text` centred on tile (cx, cy): each row
/// of each letter becomes one horizontal brick per run of tiles. Letters
/// we have no glyph for are left as gaps; lower case is written as upper
/// case; text past [`BRICKWRITE_MAX_CHARS`] is cut.
pub fn brickwrite_segments(text: &str, (cx, cy): (i16, i16)) -> Vec<Segment> {
    let chars: Vec<char> = text
        .chars()
        .take(BRICKWRITE_MAX_CHARS)
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let width = (chars.len() * 4).saturating_sub(1) as i16;
    let (left, top) = (cx - width / 2, cy - 2);
    let mut out = Vec::new();
    for (i, c) in chars.iter().enumerate() {
        let Some((_, rows)) = GLYPHS.iter().find(|(g, _)| g == c) else {
            continue;
        };
        let x0 = left + 4 * i as i16;
        for (dy, row) in rows.iter().enumerate() {
            let y = top + dy as i16;
            let mut run: Option<i16> = None;
            for (dx, cell) in row.chars().chain(std::iter::once('.')).enumerate() {
                let x = x0 + dx as i16;
                match (cell == '#', run) {
                    (true, None) => run = Some(x),
                    (false, Some(start)) => {
                        out.push((start, y, x - 1, y));
                        run = None;
                    }
                    _ => {}
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brickwrite_spells_with_row_runs_centred_on_the_writer() {
        // "HI" is 7 tiles wide: H at 97..=99, I at 101..=103, rows 48..=52.
        let segs = brickwrite_segments("hi", (100, 50));
        assert_eq!(segs[0], (97, 48, 97, 48)); // H top row: two posts
        assert_eq!(segs[1], (99, 48, 99, 48));
        assert!(segs.contains(&(97, 50, 99, 50))); // H crossbar
        assert!(segs.contains(&(101, 48, 103, 48))); // I top
        assert!(segs.contains(&(102, 49, 102, 49)));
        assert!(segs.iter().all(|s| s.1 == s.3 && s.0 <= s.2));
        assert!(segs
            .iter()
            .all(|s| (97..=103).contains(&s.0) && (48..=52).contains(&s.1)));
        // Unknown characters leave gaps; spaces write nothing.
        assert!(brickwrite_segments("  ~ ", (10, 10)).is_empty());
        assert!(brickwrite_segments(&"A".repeat(100), (512, 512)).len() <= 24 * 10);
    }
}
