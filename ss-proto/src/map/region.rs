//! Regions of extended maps (`REGN` chunks) and the `rTIL` run-length
//! tile encoding (`docs/protocol/lvl-format.md` §6).

use super::lvl::chunks;
use super::MAP_SIZE;

/// A horizontal run of region tiles: `len` cells starting at (x, y).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TileRun {
    /// Row.
    pub y: u16,
    /// First column.
    pub x: u16,
    /// Number of cells (≥ 1).
    pub len: u16,
}

/// Target of an auto-warp region (`rAWP`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoWarp {
    /// Destination x in tiles; 0 = default, −1 = keep the current one.
    pub x: i16,
    /// Destination y in tiles; 0 = default, −1 = keep the current one.
    pub y: i16,
    /// Destination arena, if the chunk names one.
    pub arena: Option<String>,
}

/// A named region of an extended map with its properties.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Region {
    /// The region's name (`rNAM`).
    pub name: String,
    /// Its tiles as runs sorted by (y, x) (`rTIL`; empty if absent).
    pub runs: Vec<TileRun>,
    /// `rBSE`: the region is a base.
    pub is_base: bool,
    /// `rNAW`: antiwarp does not work inside.
    pub no_antiwarp: bool,
    /// `rNWP`: weapons do not work inside.
    pub no_weapons: bool,
    /// `rNFL`: flags dropped inside re-spawn elsewhere.
    pub no_flag_drops: bool,
    /// `rNRA`: players inside do not receive others' antiwarp (ASSS).
    pub no_receive_antiwarp: bool,
    /// `rNRW`: players inside do not receive weapons (ASSS).
    pub no_receive_weapons: bool,
    /// `rAWP`: auto-warp destination.
    pub auto_warp: Option<AutoWarp>,
}

impl Region {
    /// Whether tile (x, y) belongs to the region.
    pub fn contains(&self, x: i32, y: i32) -> bool {
        let (Ok(x), Ok(y)) = (u16::try_from(x), u16::try_from(y)) else {
            return false;
        };
        let after = self.runs.partition_point(|r| (r.y, r.x) <= (y, x));
        after > 0 && {
            let r = self.runs[after - 1];
            r.y == y && u32::from(x) < u32::from(r.x) + u32::from(r.len)
        }
    }
}

/// Result of decoding one `REGN` chunk.
pub(super) enum RegionOutcome {
    Ok(Region),
    Bad,
}

/// Decodes the sub-chunks of a `REGN` chunk. `run_budget` is the number of
/// tile runs all regions may still use; it is reduced by this region's.
pub(super) fn decode_region(data: &[u8], run_budget: &mut usize) -> RegionOutcome {
    let mut region = Region::default();
    let mut named = false;
    for sub in chunks(data) {
        match &sub.kind {
            b"rNAM" if !named => {
                named = true;
                region.name = String::from_utf8_lossy(sub.data).into_owned();
            }
            b"rTIL" => match decode_rtil(sub.data, *run_budget) {
                Some(runs) => {
                    *run_budget -= runs.len();
                    region.runs = runs;
                }
                None => return RegionOutcome::Bad,
            },
            b"rBSE" => region.is_base = true,
            b"rNAW" => region.no_antiwarp = true,
            b"rNWP" => region.no_weapons = true,
            b"rNFL" => region.no_flag_drops = true,
            b"rNRA" => region.no_receive_antiwarp = true,
            b"rNRW" => region.no_receive_weapons = true,
            b"rAWP" if sub.data.len() >= 4 => {
                let name = &sub.data[4..];
                let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
                let arena = (end > 0).then(|| String::from_utf8_lossy(&name[..end]).into_owned());
                region.auto_warp = Some(AutoWarp {
                    x: i16::from_le_bytes([sub.data[0], sub.data[1]]),
                    y: i16::from_le_bytes([sub.data[2], sub.data[3]]),
                    arena,
                });
            }
            // rPYC (embedded Python) and unknown sub-chunks are ignored.
            _ => {}
        }
    }
    if named {
        RegionOutcome::Ok(region)
    } else {
        RegionOutcome::Bad
    }
}

/// Decodes `rTIL` data into runs sorted by (y, x), or `None` if the data
/// is malformed or would need more than `max_runs` runs.
pub fn decode_rtil(data: &[u8], max_runs: usize) -> Option<Vec<TileRun>> {
    let size = u32::from(MAP_SIZE);
    let mut runs: Vec<TileRun> = Vec::new();
    let (mut x, mut y) = (0u32, 0u32);
    let mut i = 0;
    while i < data.len() {
        if x >= size || y >= size {
            return None;
        }
        let b = data[i];
        i += 1;
        let mut n = u32::from(b & 0x1F) + 1;
        if b & 0x20 != 0 {
            n = (u32::from(b & 0x1F) << 8) + u32::from(*data.get(i)?) + 1;
            i += 1;
        }
        match b >> 6 {
            0 => x += n,
            1 => {
                if x + n > size || runs.len() >= max_runs {
                    return None;
                }
                // x + n ≤ 1024 and y < 1024, so the casts are exact.
                runs.push(TileRun {
                    y: y as u16,
                    x: x as u16,
                    len: n as u16,
                });
                x += n;
            }
            2 if x == 0 => y += n,
            3 if x == 0 && y > 0 => {
                if y + n > size {
                    return None;
                }
                let prev = (y - 1) as u16;
                let first = runs.partition_point(|r| r.y < prev);
                let row_len = runs.len() - first;
                if runs.len() + row_len * n as usize > max_runs {
                    return None;
                }
                for k in 0..n {
                    for j in first..first + row_len {
                        let r = runs[j];
                        runs.push(TileRun {
                            y: (y + k) as u16,
                            ..r
                        });
                    }
                }
                y += n;
            }
            _ => return None,
        }
        if x == size {
            x = 0;
            y += 1;
        }
    }
    (y == size).then_some(runs)
}

/// Encodes a set of runs (sorted by (y, x), non-overlapping, inside the
/// grid) as `rTIL` data, using the repeat and empty-row codes. Returns
/// `None` if the runs are not in that form.
pub fn encode_rtil(runs: &[TileRun]) -> Option<Vec<u8>> {
    fn code(out: &mut Vec<u8>, kind: u8, n: u32) {
        let m = n - 1;
        if m < 32 {
            out.push((kind << 6) | m as u8);
        } else {
            out.push((kind << 6) | 0x20 | (m >> 8) as u8);
            out.push(m as u8);
        }
    }
    let size = u32::from(MAP_SIZE);
    if runs.iter().any(|r| r.y >= MAP_SIZE) {
        return None;
    }
    let mut out = Vec::new();
    let mut rows = runs.chunk_by(|a, b| a.y == b.y).peekable();
    let mut y = 0u32;
    let mut prev: Option<&[TileRun]> = None;
    while y < size {
        let row = match rows.peek() {
            Some(r) if u32::from(r[0].y) == y => rows.next()?,
            Some(r) if u32::from(r[0].y) < y => return None,
            next => {
                // Empty rows up to the next occupied one (or the end).
                let until = next.map_or(size, |r| u32::from(r[0].y));
                code(&mut out, 2, until - y);
                y = until;
                prev = None;
                continue;
            }
        };
        let same_as_prev = prev.is_some_and(|p| {
            p.len() == row.len() && p.iter().zip(row).all(|(a, b)| a.x == b.x && a.len == b.len)
        });
        if same_as_prev {
            let mut count = 1;
            while rows.peek().is_some_and(|r| {
                u32::from(r[0].y) == y + count
                    && r.len() == row.len()
                    && r.iter().zip(row).all(|(a, b)| a.x == b.x && a.len == b.len)
            }) {
                rows.next();
                count += 1;
            }
            code(&mut out, 3, count);
            y += count;
            continue;
        }
        let mut x = 0u32;
        for r in row {
            let (rx, len) = (u32::from(r.x), u32::from(r.len));
            if rx < x || len == 0 || rx + len > size {
                return None;
            }
            if rx > x {
                code(&mut out, 0, rx - x);
            }
            code(&mut out, 1, len);
            x = rx + len;
        }
        if x < size {
            code(&mut out, 0, size - x);
        }
        prev = Some(row);
        y += 1;
    }
    // Runs left over were out of order.
    rows.next().is_none().then_some(out)
}
