//! SubSpace maps: the `.lvl` file format, the tile grid a game server
//! queries, the two map checksums, our built-in map generator and the zlib
//! helpers used for the map download (S2C 0x2A).
//!
//! See `docs/protocol/lvl-format.md` for the format. The grid is 1024 × 1024
//! tiles, one tile type (`u8`) per cell, stored sparsely in 8 × 8 blocks so
//! that a typical map costs well under a hundred KiB.

mod download;
mod generate;
mod lvl;
mod region;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;

pub use download::{
    compress_for_download, decompress_download, download_packet, incoming_file_packet,
    EMERGENCY_MAP, EMERGENCY_MAP_NAME, FILE_NAME_LEN, INCOMING_FILE_PACKET_TYPE,
    MAP_DATA_PACKET_TYPE,
};
pub use generate::{
    default_map, generate, soccer_map, turf_map, GenParams, SOCCER_FIELD, SOCCER_GOALS,
    TURF_FLAG_TILES,
};
pub use region::{decode_rtil, encode_rtil, AutoWarp, Region, TileRun};

/// Width and height of every map, in tiles.
pub const MAP_SIZE: u16 = 1024;
/// Largest `.lvl` file [`Map::decode`] accepts, in bytes (16 MiB; a file
/// listing every cell of the grid is 4 MiB plus its tileset).
pub const MAX_LVL_SIZE: usize = 16 << 20;
/// Largest metadata chunk accepted, in bytes (the limit ASSS and SS.NET use).
pub const MAX_CHUNK_SIZE: usize = 128 << 10;
/// Upper bound on the tile runs held by all regions of one map together;
/// regions that would exceed it are skipped (hostile-input guard).
pub const MAX_REGION_RUNS: usize = 1 << 20;

/// Tile type numbers with a meaning to the server
/// (`docs/protocol/lvl-format.md` §4).
pub mod tile {
    /// Empty space.
    pub const EMPTY: u8 = 0;
    /// First normal (solid wall) tile.
    pub const FIRST_WALL: u8 = 1;
    /// Last normal (solid wall) tile.
    pub const LAST_WALL: u8 = 160;
    /// The map border tile of the standard tileset (a normal wall tile).
    pub const BORDER: u8 = 20;
    /// First vertical door tile.
    pub const FIRST_DOOR: u8 = 162;
    /// Last door tile (horizontal doors are 166–169).
    pub const LAST_DOOR: u8 = 169;
    /// A static (turf) flag.
    pub const FLAG: u8 = 170;
    /// Safe zone.
    pub const SAFE: u8 = 171;
    /// Soccer goal.
    pub const GOAL: u8 = 172;
    /// First fly-over tile (173–175).
    pub const FIRST_FLY_OVER: u8 = 173;
    /// First fly-under tile (176–190).
    pub const FIRST_FLY_UNDER: u8 = 176;
    /// Last fly-under tile.
    pub const LAST_FLY_UNDER: u8 = 190;
    /// Tiny asteroid.
    pub const TINY_ASTEROID: u8 = 216;
    /// Big asteroid, 2 × 2 tiles.
    pub const BIG_ASTEROID: u8 = 217;
    /// Tiny asteroid, second kind.
    pub const TINY_ASTEROID_2: u8 = 218;
    /// Space station, 6 × 6 tiles.
    pub const STATION: u8 = 219;
    /// Wormhole, 5 × 5 tiles.
    pub const WORMHOLE: u8 = 220;
    /// A dropped brick (server-internal, never in files).
    pub const BRICK: u8 = 250;

    /// Side length of the square a tile type covers: 2, 6 or 5 for the
    /// multi-tile objects, 1 for everything else.
    pub const fn object_size(t: u8) -> u16 {
        match t {
            BIG_ASTEROID => 2,
            STATION => 6,
            WORMHOLE => 5,
            _ => 1,
        }
    }

    /// Whether ships and weapons collide with this tile type: walls,
    /// doors (conservatively: their open/closed state is client-side),
    /// asteroids, the space station and bricks.
    pub const fn is_solid(t: u8) -> bool {
        matches!(t, FIRST_WALL..=LAST_WALL | FIRST_DOOR..=LAST_DOOR | TINY_ASTEROID..=STATION | BRICK)
    }

    /// Whether the tile type counts in the security map checksum
    /// (normal walls and safe zones).
    pub const fn in_security_checksum(t: u8) -> bool {
        matches!(t, FIRST_WALL..=LAST_WALL | SAFE)
    }
}

/// Everything that can go wrong decoding a map or a map download.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MapError {
    /// The input is larger than the accepted limit.
    #[error("input is {len} bytes, over the {limit}-byte limit")]
    TooLarge {
        /// Size of the input.
        len: usize,
        /// The limit that was exceeded.
        limit: usize,
    },
    /// The bitmap header's `bfSize` points past the end of the file.
    #[error("tile data offset {offset} is past the end of the {len}-byte file")]
    BadTileOffset {
        /// `bfSize` from the header.
        offset: u32,
        /// File length.
        len: usize,
    },
    /// A metadata-first ("elvl") file whose section size is invalid.
    #[error("metadata section size {size} does not fit the {len}-byte file")]
    BadMetadataSize {
        /// Total size from the metadata header.
        size: u32,
        /// File length.
        len: usize,
    },
    /// A metadata-first ("elvl") file without a `TILE` chunk.
    #[error("metadata-first map file has no TILE chunk")]
    MissingTileChunk,
    /// A download file name longer than 16 bytes.
    #[error("file name {0:?} is longer than 16 bytes")]
    FileNameTooLong(String),
    /// The zlib stream is corrupt or truncated.
    #[error("corrupt zlib data: {0}")]
    Corrupt(String),
}

/// Which lookup rule the security checksum uses for the negative start
/// coordinates that keys ≥ `0x8000_0000` produce (`docs/protocol/lvl-format.md`
/// §8.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NegativeKeyRule {
    /// ASSS: coordinates wrap modulo 1024 (−1 reads column/row 1023).
    #[default]
    Wrap,
    /// SS.NET: negative coordinates read as empty.
    Skip,
}

const BLOCK: usize = 8;
const BLOCKS_PER_SIDE: usize = MAP_SIZE as usize / BLOCK;
const BLOCK_CELLS: usize = BLOCK * BLOCK;

/// Sparse 1024 × 1024 grid of tile types, stored in 8 × 8 blocks: an index
/// of 16,384 two-byte slots (0 = an empty block, else 1 + the block's place
/// in `cells`) and the non-empty blocks' cells, 64 bytes each. Real maps are
/// mostly empty space with walls in thin lines, so small blocks waste little:
/// the default map's 4,800 tiles take 75 KiB here against 254 KiB in 32 × 32
/// blocks (every realm holds its map; BENCHMARKS.md, "Realm memory").
#[derive(Clone)]
struct Grid {
    index: Vec<u16>,
    cells: Vec<[u8; BLOCK_CELLS]>,
}

impl Grid {
    fn new() -> Self {
        Grid {
            index: vec![0; BLOCKS_PER_SIDE * BLOCKS_PER_SIDE],
            cells: Vec::new(),
        }
    }

    fn split(x: u16, y: u16) -> (usize, usize) {
        let (x, y) = (usize::from(x), usize::from(y));
        let block = (y / BLOCK) * BLOCKS_PER_SIDE + x / BLOCK;
        (block, (y % BLOCK) * BLOCK + x % BLOCK)
    }

    /// Caller guarantees x, y < 1024.
    fn get(&self, x: u16, y: u16) -> u8 {
        let (b, i) = Self::split(x, y);
        match self.index[b] {
            0 => tile::EMPTY,
            slot => self.cells[usize::from(slot) - 1][i],
        }
    }

    /// Caller guarantees x, y < 1024.
    fn set(&mut self, x: u16, y: u16, t: u8) {
        let (b, i) = Self::split(x, y);
        match self.index[b] {
            0 if t == tile::EMPTY => {}
            0 => {
                let mut blk = [tile::EMPTY; BLOCK_CELLS];
                blk[i] = t;
                self.cells.push(blk);
                // At most 16,384 blocks, so the slot fits a u16.
                self.index[b] = self.cells.len() as u16;
            }
            slot => self.cells[usize::from(slot) - 1][i] = t,
        }
    }

    /// Gives back the spare capacity the block list grew while loading.
    fn shrink_to_fit(&mut self) {
        self.cells.shrink_to_fit();
    }

    /// Non-empty cells in (y, x) order.
    fn iter(&self) -> impl Iterator<Item = (u16, u16, u8)> + '_ {
        (0..MAP_SIZE).flat_map(move |y| {
            let by = usize::from(y) / BLOCK;
            let row = (usize::from(y) % BLOCK) * BLOCK;
            (0..BLOCKS_PER_SIDE).flat_map(move |bx| {
                let blk = match self.index[by * BLOCKS_PER_SIDE + bx] {
                    0 => None,
                    slot => Some(&self.cells[usize::from(slot) - 1]),
                };
                blk.into_iter().flat_map(move |blk| {
                    blk[row..row + BLOCK]
                        .iter()
                        .enumerate()
                        .filter(|(_, &t)| t != tile::EMPTY)
                        // bx * 8 + i < 1024, so the cast cannot truncate.
                        .map(move |(i, &t)| ((bx * BLOCK + i) as u16, y, t))
                })
            })
        })
    }
}

/// A decoded map: the tile grid plus the metadata an extended `.lvl` file
/// may carry (attributes, regions, unknown chunks).
#[derive(Clone)]
pub struct Map {
    grid: Grid,
    /// Top-left corners (y, x) of multi-tile objects, so that encoding
    /// writes one record per object rather than one per covered cell.
    objects: BTreeSet<(u16, u16)>,
    attributes: Vec<(String, String)>,
    regions: Vec<Region>,
    extra_chunks: Vec<([u8; 4], Vec<u8>)>,
    flag_records: u32,
    bad_records: u32,
    bad_regions: u32,
}

impl Default for Map {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Map {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Map")
            .field("tiles", &self.grid.iter().count())
            .field("attributes", &self.attributes)
            .field("regions", &self.regions.len())
            .field("bad_records", &self.bad_records)
            .finish_non_exhaustive()
    }
}

fn in_bounds(x: i32, y: i32) -> Option<(u16, u16)> {
    let range = 0..i32::from(MAP_SIZE);
    if range.contains(&x) && range.contains(&y) {
        // Both are in 0..1024 here.
        Some((x as u16, y as u16))
    } else {
        None
    }
}

impl Map {
    /// An empty map (no tiles, no metadata).
    pub fn new() -> Self {
        Map {
            grid: Grid::new(),
            objects: BTreeSet::new(),
            attributes: Vec::new(),
            regions: Vec::new(),
            extra_chunks: Vec::new(),
            flag_records: 0,
            bad_records: 0,
            bad_regions: 0,
        }
    }

    /// The tile type at (x, y); [`tile::EMPTY`] outside the grid.
    pub fn tile(&self, x: i32, y: i32) -> u8 {
        in_bounds(x, y).map_or(tile::EMPTY, |(x, y)| self.grid.get(x, y))
    }

    /// Whether (x, y) blocks ships (see [`tile::is_solid`]). Everything
    /// outside the grid is solid: the client surrounds the map with a border.
    pub fn is_solid(&self, x: i32, y: i32) -> bool {
        in_bounds(x, y).is_none_or(|(x, y)| tile::is_solid(self.grid.get(x, y)))
    }

    /// Whether (x, y) is a safe-zone tile (type 171).
    pub fn is_safe_zone(&self, x: i32, y: i32) -> bool {
        self.tile(x, y) == tile::SAFE
    }

    /// Places a tile as one file record would: multi-tile objects (217,
    /// 219, 220) cover a square whose top-left corner is (x, y); cells past
    /// the right/bottom edge are dropped. Type 0 clears the cell. Returns
    /// false (and changes nothing) if (x, y) is outside the grid.
    pub fn set_tile(&mut self, x: u16, y: u16, t: u8) -> bool {
        if x >= MAP_SIZE || y >= MAP_SIZE {
            return false;
        }
        let size = tile::object_size(t);
        for cy in y..(y + size).min(MAP_SIZE) {
            for cx in x..(x + size).min(MAP_SIZE) {
                // An object whose corner gets covered loses its record.
                self.objects.remove(&(cy, cx));
                self.grid.set(cx, cy, t);
            }
        }
        if size > 1 {
            self.objects.insert((y, x));
        }
        true
    }

    /// All non-empty cells as (x, y, type), in (y, x) order; multi-tile
    /// objects appear once per covered cell.
    pub fn tiles(&self) -> impl Iterator<Item = (u16, u16, u8)> + '_ {
        self.grid.iter()
    }

    /// Positions of the static flags (type 170) sorted by y then x; a flag's
    /// index in this list is its flag id (`docs/protocol/lvl-format.md` §7.1).
    pub fn flags(&self) -> Vec<(u16, u16)> {
        self.tiles()
            .filter(|&(_, _, t)| t == tile::FLAG)
            .map(|(x, y, _)| (x, y))
            .collect()
    }

    /// Number of flag records in the decoded file (ASSS's flag count,
    /// which counts duplicated records twice).
    pub fn flag_records(&self) -> u32 {
        self.flag_records
    }

    /// Tile records skipped while decoding because x or y was ≥ 1024.
    pub fn bad_records(&self) -> u32 {
        self.bad_records
    }

    /// Regions skipped while decoding (no name, bad `rTIL`, or over
    /// [`MAX_REGION_RUNS`]).
    pub fn bad_regions(&self) -> u32 {
        self.bad_regions
    }

    /// `ATTR` chunks as (key, value) pairs, in file order.
    pub fn attributes(&self) -> &[(String, String)] {
        &self.attributes
    }

    /// The value of the first attribute named `key` (case-insensitive).
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    /// The named regions of an extended map.
    pub fn regions(&self) -> &[Region] {
        &self.regions
    }

    /// The regions containing tile (x, y).
    pub fn regions_at(&self, x: i32, y: i32) -> impl Iterator<Item = &Region> + '_ {
        self.regions.iter().filter(move |r| r.contains(x, y))
    }

    /// Metadata chunks of unknown type as (type, data), kept unmodified.
    pub fn extra_chunks(&self) -> &[([u8; 4], Vec<u8>)] {
        &self.extra_chunks
    }

    /// The security map checksum for `key` with ASSS's wrap rule
    /// (`docs/protocol/lvl-format.md` §8.2).
    pub fn security_checksum(&self, key: u32) -> u32 {
        self.security_checksum_with(key, NegativeKeyRule::Wrap)
    }

    /// The security map checksum for `key` with an explicit rule for
    /// negative start coordinates.
    pub fn security_checksum_with(&self, key: u32, rule: NegativeKeyRule) -> u32 {
        let signed = key as i32;
        let mut sum = key;
        let mut y = signed % 32;
        while y < i32::from(MAP_SIZE) {
            let mut x = signed % 31;
            while x < i32::from(MAP_SIZE) {
                let t = match rule {
                    NegativeKeyRule::Wrap => self.tile(x & 1023, y & 1023),
                    NegativeKeyRule::Skip => self.tile(x, y),
                };
                if tile::in_security_checksum(t) {
                    sum = sum.wrapping_add((signed ^ i32::from(t)) as u32);
                }
                x += 31;
            }
            y += 32;
        }
        sum
    }
}

/// The file checksum sent in S2C 0x29: CRC-32 (zlib/IEEE) of the complete
/// `.lvl` (or `.lvz`) file as stored, uncompressed.
pub fn file_checksum(file: &[u8]) -> u32 {
    crc32fast::hash(file)
}
