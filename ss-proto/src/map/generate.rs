//! Our own deterministic map generator and the embedded default map.

use super::{tile, Map, MAP_SIZE};

/// Parameters of [`generate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenParams {
    /// Seed of the obstacle placement (0 is replaced by a fixed value).
    pub seed: u64,
    /// Put a wall ([`tile::BORDER`]) along all four edges of the grid.
    pub border: bool,
    /// Half the side of the square safe zone centred on (512, 512)
    /// (0 = no safe zone).
    pub safe_half_size: u16,
    /// No obstacle comes within this many tiles of the centre.
    pub clear_radius: u16,
    /// Number of asteroids (tiny and big) to scatter.
    pub asteroids: u16,
    /// Number of rectangular wall blocks (2–6 tiles a side) to scatter.
    pub wall_blocks: u16,
}

impl Default for GenParams {
    /// The parameters of [`default_map`].
    fn default() -> Self {
        GenParams {
            seed: 0x5375_6273_756D,
            border: true,
            safe_half_size: 8,
            clear_radius: 40,
            asteroids: 120,
            wall_blocks: 24,
        }
    }
}

/// Minimal xorshift64 generator: deterministic, good enough for scenery.
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: u16) -> u16 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        // The remainder is < n ≤ u16::MAX.
        (x % u64::from(n.max(1))) as u16
    }
}

/// Generates a map from `params`. Deterministic: the same parameters give
/// the same map.
pub fn generate(params: &GenParams) -> Map {
    let mut map = Map::new();
    let last = MAP_SIZE - 1;
    if params.border {
        for i in 0..MAP_SIZE {
            map.set_tile(i, 0, tile::BORDER);
            map.set_tile(i, last, tile::BORDER);
            map.set_tile(0, i, tile::BORDER);
            map.set_tile(last, i, tile::BORDER);
        }
    }
    let centre = MAP_SIZE / 2;
    let half = params.safe_half_size.min(centre - 1);
    for y in centre - half..centre + half {
        for x in centre - half..centre + half {
            map.set_tile(x, y, tile::SAFE);
        }
    }
    let mut rng = XorShift(if params.seed == 0 {
        0x9E37_79B9_7F4A_7C15
    } else {
        params.seed
    });
    // A square of side `size` at (x, y) may be placed if it stays off the
    // border and clear of the centre (Chebyshev distance).
    let clear = i32::from(params.clear_radius);
    let fits = |x: u16, y: u16, size: u16| {
        let near = |a: u16| {
            let (lo, hi) = (i32::from(a), i32::from(a + size) - 1);
            let c = i32::from(centre);
            lo <= c + clear && hi >= c - clear
        };
        !(near(x) && near(y))
    };
    let mut place = |rng: &mut XorShift, w: u16, h: u16, t: u8| {
        for _ in 0..16 {
            let x = 2 + rng.below(MAP_SIZE - 4 - w);
            let y = 2 + rng.below(MAP_SIZE - 4 - h);
            if fits(x, y, w.max(h)) {
                if tile::object_size(t) > 1 {
                    map.set_tile(x, y, t);
                } else {
                    for cy in y..y + h {
                        for cx in x..x + w {
                            map.set_tile(cx, cy, t);
                        }
                    }
                }
                return;
            }
        }
    };
    for _ in 0..params.asteroids {
        let t = [
            tile::TINY_ASTEROID,
            tile::BIG_ASTEROID,
            tile::TINY_ASTEROID_2,
        ][usize::from(rng.below(3))];
        let size = tile::object_size(t);
        place(&mut rng, size, size, t);
    }
    for _ in 0..params.wall_blocks {
        let (w, h) = (2 + rng.below(5), 2 + rng.below(5));
        place(&mut rng, w, h, tile::FIRST_WALL);
    }
    map
}

/// The `.lvl` bytes of the embedded default map: a border wall, a 16 × 16
/// safe zone (spawn area) in the centre and scattered asteroids and wall
/// blocks, generated with [`GenParams::default`].
pub fn default_map() -> Vec<u8> {
    generate(&GenParams::default()).encode()
}

/// Turf flag tiles of [`turf_map`]: around the safe zone, inside the clear
/// area; in flag id order (by y, then x).
pub const TURF_FLAG_TILES: [(u16, u16); 4] = [(512, 490), (490, 512), (534, 512), (512, 534)];

/// The `.lvl` bytes of the example turf map: the default map with four
/// static flags ([`TURF_FLAG_TILES`], tile 170) around the centre.
pub fn turf_map() -> Vec<u8> {
    let mut map = generate(&GenParams::default());
    for (x, y) in TURF_FLAG_TILES {
        map.set_tile(x, y, tile::FLAG);
    }
    map.encode()
}

/// The walled field of [`soccer_map`]: (left, top, right, bottom) tiles of
/// its walls; gaps in the top and bottom walls (x 508–516) let ships in.
pub const SOCCER_FIELD: (u16, u16, u16, u16) = (400, 472, 624, 552);

/// The goals of [`soccer_map`]: columns of goal tiles (x, first y, last y),
/// the left one (x < 512, even freqs defend it in `Soccer:Mode` 1) first.
pub const SOCCER_GOALS: [(u16, u16, u16); 2] = [(403, 500, 524), (621, 500, 524)];

/// The `.lvl` bytes of the example soccer map: a border wall, an empty
/// walled field around the centre ([`SOCCER_FIELD`]) and a goal at each
/// end ([`SOCCER_GOALS`], tile 172). Deterministic.
pub fn soccer_map() -> Vec<u8> {
    let mut map = generate(&GenParams {
        asteroids: 0,
        wall_blocks: 0,
        safe_half_size: 0,
        ..GenParams::default()
    });
    let (left, top, right, bottom) = SOCCER_FIELD;
    for x in left..=right {
        if !(508..=516).contains(&x) {
            map.set_tile(x, top, tile::FIRST_WALL);
            map.set_tile(x, bottom, tile::FIRST_WALL);
        }
    }
    for y in top..=bottom {
        map.set_tile(left, y, tile::FIRST_WALL);
        map.set_tile(right, y, tile::FIRST_WALL);
    }
    for (x, y1, y2) in SOCCER_GOALS {
        for y in y1..=y2 {
            map.set_tile(x, y, tile::GOAL);
        }
    }
    map.encode()
}
