//! Bricks as pure state (no I/O, no clock): where a dropped brick goes
//! (`Brick:BrickMode`), the live bricks and their expiry
//! (`docs/protocol/game-protocol.md` §16). Time comes in as server ticks.

use std::collections::HashMap;

use conf::ArenaConfig;
use ss_proto::game::Brick;
use tracing::warn;

/// Most bricks alive at once in one arena; drops beyond are refused.
pub const MAX_LIVE_BRICKS: usize = 1024;
/// Ticks added to `Brick:BrickTime` before a brick is forgotten (for lag,
/// as ASSS).
pub const EXPIRY_SLACK: u32 = 10;

/// How a dropped brick is laid (`Brick:BrickMode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BrickMode {
    /// 0 `BRICK_VIE`: from the nearest wall within `BrickSpan`, through the
    /// drop point (vertical or horizontal, whichever wall is nearest);
    /// with no wall near, a `BrickSpan` brick centred on the drop point,
    /// vertical or horizontal at random.
    Vie,
    /// 1 `BRICK_AHEAD`: along the dropper's heading, ending just ahead of
    /// him (at most `BrickSpan` − 1 tiles, stopped by walls).
    Ahead,
    /// 2 `BRICK_LATERAL`: across the dropper's heading, centred on him.
    Lateral,
    /// 3 `BRICK_CAGE`: four bricks around the drop point, a square of side
    /// `BrickSpan`.
    Cage,
}

/// The names `Brick:BrickMode` accepts besides the numbers 0–3.
pub const BRICK_MODE_NAMES: &[(&str, i32)] = &[
    ("BRICK_VIE", 0),
    ("BRICK_AHEAD", 1),
    ("BRICK_LATERAL", 2),
    ("BRICK_CAGE", 3),
];

/// The `[Brick]` settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BrickSettings {
    /// `BrickTime` (ticks a brick lasts).
    pub time: u32,
    /// `BrickSpan` (longest brick, tiles; 1–1023).
    pub span: i32,
    /// `BrickMode`.
    pub mode: BrickMode,
    /// `CountBricksAsWalls`: later bricks stop at live ones.
    pub walls: bool,
}

impl BrickSettings {
    /// Reads `[Brick]`; a bad mode is logged, counted in `bad` and taken
    /// as `BRICK_VIE`.
    pub fn from_config(cfg: &ArenaConfig, bad: &mut u64) -> BrickSettings {
        let mode = match cfg.get_enum("Brick", "BrickMode", BRICK_MODE_NAMES, 0) {
            0 => BrickMode::Vie,
            1 => BrickMode::Ahead,
            2 => BrickMode::Lateral,
            3 => BrickMode::Cage,
            other => {
                *bad += 1;
                warn!(
                    arena = cfg.name(),
                    value = other,
                    "Brick:BrickMode is not a brick mode (0-3); BRICK_VIE used"
                );
                BrickMode::Vie
            }
        };
        BrickSettings {
            time: cfg.get_int("Brick", "BrickTime", 6000).max(0) as u32,
            span: cfg.get_int("Brick", "BrickSpan", 10).clamp(1, 1023),
            mode,
            walls: cfg.get_int("Brick", "CountBricksAsWalls", 1) != 0,
        }
    }
}

/// A brick segment, tiles, with x1 ≤ x2 and y1 ≤ y2, straight.
pub type Segment = (i16, i16, i16, i16);

/// The four directions a brick can run, in rotation order (the client's
/// rotation 0–39 counts clockwise from up).
const DIRS: [(i32, i32); 4] = [(0, -1), (1, 0), (0, 1), (-1, 0)];

/// Walks from (x, y) in `dir` while tiles are free, at most `max` tiles
/// (the start counted); returns the last free tile (the start if only it
/// is).
fn walk(free: &dyn Fn(i32, i32) -> bool, (x, y): (i32, i32), dir: usize, max: i32) -> (i32, i32) {
    let (dx, dy) = DIRS[dir];
    let mut last = (x, y);
    for i in 1..max {
        let (nx, ny) = (x + dx * i, y + dy * i);
        if !free(nx, ny) {
            break;
        }
        last = (nx, ny);
    }
    last
}

/// The segment from `end` back along the opposite of `dir`, at most `span`
/// tiles, stopped by walls; ordered.
fn back_from(free: &dyn Fn(i32, i32) -> bool, end: (i32, i32), dir: usize, span: i32) -> Segment {
    let other = walk(free, end, (dir + 2) % 4, span);
    seg(end, other)
}

fn seg(a: (i32, i32), b: (i32, i32)) -> Segment {
    (
        a.0.min(b.0) as i16,
        a.1.min(b.1) as i16,
        a.0.max(b.0) as i16,
        a.1.max(b.1) as i16,
    )
}

/// Where the bricks of a drop at tile (x, y) go. `free` says whether a
/// tile may hold a brick (inside the map, empty, no live brick when they
/// count as walls); `rotation` is the dropper's (0–39); `coin` picks the
/// orientation of a VIE brick with no wall near. The drop tile itself must
/// be free (the caller checks).
pub fn place(
    mode: BrickMode,
    (x, y): (i32, i32),
    rotation: u8,
    span: i32,
    free: &dyn Fn(i32, i32) -> bool,
    coin: bool,
) -> Vec<Segment> {
    let heading = ((i32::from(rotation) % 40 + 5) % 40 / 10) as usize;
    match mode {
        BrickMode::Vie => {
            // The nearest wall within the span, if any.
            let mut best: Option<(i32, usize, (i32, i32))> = None;
            for (dir, &(dx, dy)) in DIRS.iter().enumerate() {
                let end = walk(free, (x, y), dir, span);
                let steps = (end.0 - x).abs() + (end.1 - y).abs();
                let blocked = steps + 1 < span || !free(end.0 + dx, end.1 + dy);
                if blocked && best.is_none_or(|(s, _, _)| steps < s) {
                    best = Some((steps, dir, end));
                }
            }
            match best {
                Some((_, dir, end)) => vec![back_from(free, end, dir, span)],
                None => {
                    let dir = if coin { 1 } else { 2 };
                    let (dx, dy) = DIRS[dir];
                    let start = (x - dx * (span / 2), y - dy * (span / 2));
                    let end = walk(free, start, dir, span);
                    vec![seg(start, end)]
                }
            }
        }
        BrickMode::Ahead => {
            let end = walk(free, (x, y), heading, span);
            vec![back_from(free, end, heading, span)]
        }
        BrickMode::Lateral => {
            let dir = (heading + 1) % 4;
            let end = walk(free, (x, y), dir, span / 2 + 1);
            vec![back_from(free, end, dir, span)]
        }
        BrickMode::Cage => {
            let (sx, sy) = ((x - span / 2).max(0), (y - span / 2).max(0));
            let (ex, ey) = (
                (x + (span + 1) / 2).min(1023),
                (y + (span + 1) / 2).min(1023),
            );
            let mut out = Vec::new();
            // Each side: from its first free tile to the next wall.
            for (start, dir, len) in [
                ((sx, sy), 1, ex - sx + 1),
                ((sx, ey), 1, ex - sx + 1),
                ((sx, sy), 2, ey - sy + 1),
                ((ex, sy), 2, ey - sy + 1),
            ] {
                let (dx, dy) = DIRS[dir];
                let first = (0..len)
                    .map(|i| (start.0 + dx * i, start.1 + dy * i))
                    .find(|&(tx, ty)| free(tx, ty));
                if let Some(first) = first {
                    let done = (first.0 - start.0).abs() + (first.1 - start.1).abs();
                    let end = walk(free, first, dir, len - done);
                    out.push(seg(first, end));
                }
            }
            out
        }
    }
}

/// Why a brick drop was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BrickRefusal {
    /// The dropper is spectating.
    Spectator,
    /// Outside the map.
    OffMap,
    /// On a wall, a map object or a live brick.
    OnWall,
    /// Faster than the flood limit.
    Flood,
    /// Too many live bricks in the arena.
    Full,
}

impl BrickRefusal {
    /// Every refusal, in counter order.
    pub const ALL: [BrickRefusal; 5] = [
        BrickRefusal::Spectator,
        BrickRefusal::OffMap,
        BrickRefusal::OnWall,
        BrickRefusal::Flood,
        BrickRefusal::Full,
    ];

    /// A short name for `?brickinfo`.
    pub fn name(self) -> &'static str {
        match self {
            BrickRefusal::Spectator => "spectator",
            BrickRefusal::OffMap => "off-map",
            BrickRefusal::OnWall => "on-wall",
            BrickRefusal::Flood => "flood",
            BrickRefusal::Full => "full",
        }
    }

    fn index(self) -> usize {
        BrickRefusal::ALL
            .iter()
            .position(|&r| r == self)
            .unwrap_or(0)
    }
}

/// The live bricks of one arena.
#[derive(Clone, Debug)]
pub struct BrickCore {
    /// The settings.
    pub settings: BrickSettings,
    /// Live bricks, oldest first.
    pub bricks: Vec<Brick>,
    /// Tiles covered by live bricks (count of bricks on each).
    covered: HashMap<(i16, i16), u16>,
    next_id: u16,
    last_time: u32,
    /// Refused drops, per [`BrickRefusal::ALL`].
    pub refused: [u64; 5],
    /// Bricks dropped since the realm started.
    pub dropped: u64,
}

impl BrickCore {
    /// No bricks yet.
    pub fn new(settings: BrickSettings, now: u32) -> BrickCore {
        BrickCore {
            settings,
            bricks: Vec::new(),
            covered: HashMap::new(),
            next_id: 0,
            last_time: now.wrapping_sub(1),
            refused: [0; 5],
            dropped: 0,
        }
    }

    /// Counts a refusal and returns it.
    pub fn refuse(&mut self, why: BrickRefusal) -> BrickRefusal {
        self.refused[why.index()] += 1;
        why
    }

    /// Refusals of one kind so far.
    pub fn refused(&self, why: BrickRefusal) -> u64 {
        self.refused[why.index()]
    }

    /// Whether a live brick covers the tile.
    #[cfg(test)]
    pub fn covers(&self, x: i16, y: i16) -> bool {
        self.covered.contains_key(&(x, y))
    }

    fn tiles(b: &Brick) -> impl Iterator<Item = (i16, i16)> {
        let (x1, y1, x2, y2) = (b.x1, b.y1, b.x2, b.y2);
        (y1..=y2).flat_map(move |y| (x1..=x2).map(move |x| (x, y)))
    }

    /// Forgets the bricks older than `BrickTime` (+ slack); returns how
    /// many went.
    pub fn expire(&mut self, now: u32) -> usize {
        let life = self
            .settings
            .time
            .saturating_add(EXPIRY_SLACK)
            .min(i32::MAX as u32);
        // Start times only grow: the expired bricks are the oldest ones.
        let n = self
            .bricks
            .iter()
            .take_while(|b| now.wrapping_sub(b.start_time) as i32 > life as i32)
            .count();
        if n == 0 {
            return 0;
        }
        let gone: Vec<Brick> = self.bricks.drain(..n).collect();
        for b in &gone {
            for t in Self::tiles(b) {
                if let Some(n) = self.covered.get_mut(&t) {
                    *n -= 1;
                    if *n == 0 {
                        self.covered.remove(&t);
                    }
                }
            }
        }
        n
    }

    /// A drop at tile (x, y) by a player of `freq` heading `rotation`:
    /// the new bricks (already live), or why not. `map_free` says whether
    /// the map has nothing at a tile.
    #[allow(clippy::too_many_arguments)]
    pub fn drop_at(
        &mut self,
        (x, y): (i16, i16),
        freq: i16,
        rotation: u8,
        now: u32,
        map_free: &dyn Fn(i32, i32) -> bool,
        coin: bool,
    ) -> Result<Vec<Brick>, BrickRefusal> {
        self.expire(now);
        if !(0..1024).contains(&x) || !(0..1024).contains(&y) {
            return Err(self.refuse(BrickRefusal::OffMap));
        }
        if self.bricks.len() >= MAX_LIVE_BRICKS {
            return Err(self.refuse(BrickRefusal::Full));
        }
        let walls = self.settings.walls;
        let covered = &self.covered;
        let free = |tx: i32, ty: i32| {
            (0..1024).contains(&tx)
                && (0..1024).contains(&ty)
                && map_free(tx, ty)
                && !(walls && covered.contains_key(&(tx as i16, ty as i16)))
        };
        if !free(i32::from(x), i32::from(y)) {
            return Err(self.refuse(BrickRefusal::OnWall));
        }
        let s = self.settings;
        let segs = place(s.mode, (x.into(), y.into()), rotation, s.span, &free, coin);
        let mut out = Vec::with_capacity(segs.len());
        for (x1, y1, x2, y2) in segs {
            // Start times strictly increase (clients key bricks on them).
            let t = if (now.wrapping_sub(self.last_time) as i32) > 0 {
                now
            } else {
                self.last_time.wrapping_add(1)
            };
            self.last_time = t;
            let b = Brick {
                x1,
                y1,
                x2,
                y2,
                freq,
                id: self.next_id,
                start_time: t,
            };
            self.next_id = self.next_id.wrapping_add(1);
            for tile in Self::tiles(&b) {
                *self.covered.entry(tile).or_insert(0) += 1;
            }
            self.bricks.push(b);
            out.push(b);
        }
        self.dropped += out.len() as u64;
        Ok(out)
    }

    /// A brick put down by the server (`?brickwrite`), without placement
    /// rules; segments outside the map are cut off or skipped.
    pub fn add_raw(&mut self, seg: Segment, freq: i16, now: u32) -> Option<Brick> {
        let (x1, y1, x2, y2) = seg;
        if x2 < 0 || y2 < 0 || x1 > 1023 || y1 > 1023 || self.bricks.len() >= MAX_LIVE_BRICKS {
            return None;
        }
        let clamp = |v: i16| v.clamp(0, 1023);
        let t = if (now.wrapping_sub(self.last_time) as i32) > 0 {
            now
        } else {
            self.last_time.wrapping_add(1)
        };
        self.last_time = t;
        let b = Brick {
            x1: clamp(x1),
            y1: clamp(y1),
            x2: clamp(x2),
            y2: clamp(y2),
            freq,
            id: self.next_id,
            start_time: t,
        };
        self.next_id = self.next_id.wrapping_add(1);
        for tile in Self::tiles(&b) {
            *self.covered.entry(tile).or_insert(0) += 1;
        }
        self.bricks.push(b);
        self.dropped += 1;
        Some(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A map: walls where `wall` says, inside 0..1024.
    fn map(wall: impl Fn(i32, i32) -> bool) -> impl Fn(i32, i32) -> bool {
        move |x, y| (0..1024).contains(&x) && (0..1024).contains(&y) && !wall(x, y)
    }

    fn settings(mode: BrickMode) -> BrickSettings {
        BrickSettings {
            time: 100,
            span: 10,
            mode,
            walls: true,
        }
    }

    #[test]
    fn vie_bricks_run_from_the_nearest_wall_through_the_drop() {
        // A wall column at x = 500: a drop at 503 gives 501..=510.
        let free = map(|x, _| x == 500);
        let segs = place(BrickMode::Vie, (503, 300), 0, 10, &free, false);
        assert_eq!(segs, vec![(501, 300, 510, 300)]);
        // A wall row above at y = 297, nearer than the column: vertical.
        let free = map(|x, y| x == 500 || y == 297);
        let segs = place(BrickMode::Vie, (504, 299), 0, 10, &free, false);
        assert_eq!(segs, vec![(504, 298, 504, 307)]);
        // Nothing near: centred, orientation by the coin.
        let free = map(|_, _| false);
        assert_eq!(
            place(BrickMode::Vie, (300, 300), 0, 10, &free, true),
            vec![(295, 300, 304, 300)]
        );
        assert_eq!(
            place(BrickMode::Vie, (300, 300), 0, 10, &free, false),
            vec![(300, 295, 300, 304)]
        );
        // Between two close walls the brick fills the gap.
        let free = map(|x, _| x == 300 || x == 304);
        assert_eq!(
            place(BrickMode::Vie, (302, 50), 0, 10, &free, true),
            vec![(301, 50, 303, 50)]
        );
    }

    #[test]
    fn ahead_lateral_and_cage_bricks_follow_the_heading() {
        let free = map(|_, y| y == 290);
        // Heading up (rotation 0): ends just below the wall at y = 290,
        // runs back down 10 tiles.
        assert_eq!(
            place(BrickMode::Ahead, (400, 295), 0, 10, &free, false),
            vec![(400, 291, 400, 300)]
        );
        // Heading right (rotation 10), open space: 9 tiles ahead, back 10.
        assert_eq!(
            place(BrickMode::Ahead, (400, 400), 10, 10, &free, false),
            vec![(400, 400, 409, 400)]
        );
        // Lateral while heading up: across, centred.
        assert_eq!(
            place(BrickMode::Lateral, (400, 400), 0, 10, &free, false),
            vec![(396, 400, 405, 400)]
        );
        // A cage: four sides of a square around the drop point.
        let cage = place(BrickMode::Cage, (400, 400), 0, 10, &free, false);
        assert_eq!(
            cage,
            vec![
                (395, 395, 405, 395),
                (395, 405, 405, 405),
                (395, 395, 395, 405),
                (405, 395, 405, 405),
            ]
        );
        // A side that is all wall is left out; one cut by a wall stops.
        let free = map(|_, y| y == 395);
        let cage = place(BrickMode::Cage, (400, 400), 0, 10, &free, false);
        assert_eq!(cage.len(), 3);
        assert_eq!(cage[1], (395, 396, 395, 405));
    }

    #[test]
    fn drops_are_refused_off_the_map_on_walls_and_on_live_bricks() {
        let mut c = BrickCore::new(settings(BrickMode::Vie), 1000);
        let free = map(|x, _| x == 10);
        let m = |x: i32, y: i32| free(x, y);
        assert_eq!(
            c.drop_at((-1, 5), 0, 0, 1000, &m, false),
            Err(BrickRefusal::OffMap)
        );
        assert_eq!(
            c.drop_at((5, 1024), 0, 0, 1000, &m, false),
            Err(BrickRefusal::OffMap)
        );
        assert_eq!(
            c.drop_at((10, 5), 0, 0, 1000, &m, false),
            Err(BrickRefusal::OnWall)
        );
        let b = c.drop_at((13, 5), 3, 0, 1000, &m, false).unwrap();
        assert_eq!(b.len(), 1);
        assert_eq!((b[0].x1, b[0].x2, b[0].freq, b[0].id), (11, 20, 3, 0));
        assert!(c.covers(15, 5));
        assert_eq!(
            c.drop_at((15, 5), 0, 0, 1001, &m, false),
            Err(BrickRefusal::OnWall)
        );
        // A second brick stops at the first (CountBricksAsWalls).
        let b2 = c.drop_at((15, 8), 0, 0, 1001, &m, false).unwrap();
        assert_eq!((b2[0].y1, b2[0].y2), (6, 15));
        assert!(b2[0].start_time > b[0].start_time);
        assert_eq!(c.refused(BrickRefusal::OffMap), 2);
        assert_eq!(c.refused(BrickRefusal::OnWall), 2);
    }

    #[test]
    fn bricks_expire_after_brick_time_and_free_their_tiles() {
        let mut c = BrickCore::new(settings(BrickMode::Ahead), 0);
        let m = map(|_, _| false);
        c.drop_at((50, 50), 0, 0, 0, &m, false).unwrap();
        c.drop_at((60, 60), 0, 0, 50, &m, false).unwrap();
        assert_eq!(c.expire(110), 0);
        assert_eq!(c.expire(111), 1);
        assert!(!c.covers(50, 50) && c.covers(60, 60));
        assert_eq!(c.expire(161), 1);
        assert!(c.bricks.is_empty() && c.covered.is_empty());
        // The same tick twice: start times still differ.
        let a = c.drop_at((70, 70), 0, 0, 500, &m, false).unwrap();
        let b = c.drop_at((80, 80), 0, 0, 500, &m, false).unwrap();
        assert_eq!(b[0].start_time, a[0].start_time + 1);
    }
}
