//! Reading and writing `.lvl` files (`docs/protocol/lvl-format.md` §1–§7).

use super::region::{decode_region, encode_rtil, Region, RegionOutcome};
use super::{tile, Map, MapError, MAP_SIZE, MAX_CHUNK_SIZE, MAX_LVL_SIZE};

/// The metadata section magic, "elvl".
const ELVL_MAGIC: [u8; 4] = *b"elvl";
const METADATA_HEADER_LEN: usize = 12;
const BMP_FILE_HEADER_LEN: usize = 14;

fn u32_at(data: &[u8], off: usize) -> Option<u32> {
    let bytes = data.get(off..off.checked_add(4)?)?;
    Some(u32::from_le_bytes(bytes.try_into().ok()?))
}

/// One metadata chunk: its 4-character type and its data (padding excluded).
pub(super) struct Chunk<'a> {
    pub(super) kind: [u8; 4],
    pub(super) data: &'a [u8],
}

/// Iterates the chunks of `data`, stopping at the first one that is
/// larger than [`MAX_CHUNK_SIZE`] or does not fit (ASSS's behaviour).
pub(super) fn chunks(data: &[u8]) -> impl Iterator<Item = Chunk<'_>> + '_ {
    let mut pos = 0usize;
    std::iter::from_fn(move || {
        let header = data.get(pos..pos.checked_add(8)?)?;
        let kind: [u8; 4] = header[..4].try_into().ok()?;
        let size = usize::try_from(u32::from_le_bytes(header[4..].try_into().ok()?)).ok()?;
        if size > MAX_CHUNK_SIZE {
            return None;
        }
        let start = pos + 8;
        let chunk = data.get(start..start.checked_add(size)?)?;
        // Skip the data and its zero padding to a multiple of 4.
        pos = start + size.next_multiple_of(4);
        Some(Chunk { kind, data: chunk })
    })
}

impl Map {
    /// Decodes a `.lvl` file: plain or extended, with or without a leading
    /// BMP tileset, or metadata-first ("elvl", tiles in a `TILE` chunk).
    ///
    /// Out-of-range tile records are skipped and counted, a trailing
    /// fragment under 4 bytes is ignored, later records overwrite earlier
    /// ones, and multi-tile objects are expanded (clipped at the edges).
    /// Broken metadata in a BMP-fronted file is ignored as ASSS does;
    /// broken regions are skipped and counted.
    pub fn decode(file: &[u8]) -> Result<Map, MapError> {
        if file.len() > MAX_LVL_SIZE {
            return Err(MapError::TooLarge {
                len: file.len(),
                limit: MAX_LVL_SIZE,
            });
        }
        let mut map = Map::new();
        let tile_records: &[u8];
        if file.len() >= BMP_FILE_HEADER_LEN && file.starts_with(b"BM") {
            let bf_size = u32_at(file, 2).unwrap_or(0);
            let metadata_offset = u32_at(file, 6).unwrap_or(0);
            if let Some(section) = metadata_section(file, metadata_offset) {
                map.read_metadata(section);
            }
            tile_records = usize::try_from(bf_size)
                .ok()
                .and_then(|off| file.get(off..))
                .ok_or(MapError::BadTileOffset {
                    offset: bf_size,
                    len: file.len(),
                })?;
        } else if file.starts_with(&ELVL_MAGIC) {
            let size = u32_at(file, 4).unwrap_or(0);
            let section = metadata_section(file, 0).ok_or(MapError::BadMetadataSize {
                size,
                len: file.len(),
            })?;
            if !map.read_metadata(section) {
                return Err(MapError::MissingTileChunk);
            }
            tile_records = &[];
        } else {
            tile_records = file;
        }
        map.read_tile_records(tile_records);
        map.grid.shrink_to_fit();
        Ok(map)
    }

    /// Applies plain tile records (§3) in order.
    fn read_tile_records(&mut self, data: &[u8]) {
        for record in data.chunks_exact(4) {
            let w = u32::from_le_bytes([record[0], record[1], record[2], record[3]]);
            let x = (w & 0xFFF) as u16;
            let y = ((w >> 12) & 0xFFF) as u16;
            let t = (w >> 24) as u8;
            if x >= MAP_SIZE || y >= MAP_SIZE {
                self.bad_records = self.bad_records.saturating_add(1);
                continue;
            }
            if t == tile::FLAG {
                self.flag_records = self.flag_records.saturating_add(1);
            }
            self.set_tile(x, y, t);
        }
    }

    /// Reads the chunks of a metadata section (header excluded). Returns
    /// whether a `TILE` chunk was present.
    fn read_metadata(&mut self, section: &[u8]) -> bool {
        let mut saw_tiles = false;
        let mut run_budget = super::MAX_REGION_RUNS;
        for chunk in chunks(section) {
            match &chunk.kind {
                b"ATTR" => {
                    let text = String::from_utf8_lossy(chunk.data);
                    let (key, value) = text.split_once('=').unwrap_or((&text, ""));
                    self.attributes.push((key.to_owned(), value.to_owned()));
                }
                b"REGN" => match decode_region(chunk.data, &mut run_budget) {
                    RegionOutcome::Ok(region) => self.regions.push(region),
                    RegionOutcome::Bad => self.bad_regions = self.bad_regions.saturating_add(1),
                },
                b"TILE" => {
                    saw_tiles = true;
                    self.read_tile_records(chunk.data);
                }
                // The tileset is of no use to a server.
                b"TSET" => {}
                kind => self.extra_chunks.push((*kind, chunk.data.to_vec())),
            }
        }
        saw_tiles
    }

    /// Encodes the tile grid as a plain `.lvl` file: tile records only,
    /// sorted by (y, x), type 0 omitted, one record per multi-tile object.
    /// Metadata (attributes, regions) is not written. Deterministic.
    ///
    /// Decoding the result gives the same grid unless objects overlap
    /// other tiles in a way no record order can reproduce.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (x, y, t) in self.tiles() {
            if tile::object_size(t) > 1 && !self.objects.contains(&(y, x)) {
                continue; // a cell covered by an object recorded at its corner
            }
            let w = u32::from(x) | (u32::from(y) << 12) | (u32::from(t) << 24);
            out.extend_from_slice(&w.to_le_bytes());
        }
        out
    }

    /// Encodes the map as a metadata-first extended file (§1, §5): an
    /// `elvl` section holding one `REGN` chunk per region (name, tiles,
    /// flags, auto-warp) and a `TILE` chunk with the tile records of
    /// [`Map::encode`]. A region whose runs cannot be encoded is left out
    /// (see [`encode_rtil`]). Used to build test maps with regions.
    pub fn encode_with_regions(&self, regions: &[Region]) -> Vec<u8> {
        let mut body = Vec::new();
        for r in regions {
            let Some(rtil) = encode_rtil(&r.runs) else {
                continue;
            };
            let mut sub = Vec::new();
            put_chunk(&mut sub, b"rNAM", r.name.as_bytes());
            put_chunk(&mut sub, b"rTIL", &rtil);
            for (on, kind) in [
                (r.is_base, b"rBSE"),
                (r.no_antiwarp, b"rNAW"),
                (r.no_weapons, b"rNWP"),
                (r.no_flag_drops, b"rNFL"),
                (r.no_receive_antiwarp, b"rNRA"),
                (r.no_receive_weapons, b"rNRW"),
            ] {
                if on {
                    put_chunk(&mut sub, kind, &[]);
                }
            }
            if let Some(w) = &r.auto_warp {
                let mut d = Vec::new();
                d.extend_from_slice(&w.x.to_le_bytes());
                d.extend_from_slice(&w.y.to_le_bytes());
                if let Some(arena) = &w.arena {
                    let mut name = [0u8; 16];
                    let n = arena.len().min(15);
                    name[..n].copy_from_slice(&arena.as_bytes()[..n]);
                    d.extend_from_slice(&name);
                }
                put_chunk(&mut sub, b"rAWP", &d);
            }
            put_chunk(&mut body, b"REGN", &sub);
        }
        put_chunk(&mut body, b"TILE", &self.encode());
        let mut out = Vec::with_capacity(METADATA_HEADER_LEN + body.len());
        out.extend_from_slice(&ELVL_MAGIC);
        out.extend_from_slice(&((METADATA_HEADER_LEN + body.len()) as u32).to_le_bytes());
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&body);
        out
    }
}

/// Appends one chunk (type, size, data, zero padding to 4).
fn put_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(kind);
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(data);
    out.resize(out.len().next_multiple_of(4), 0);
}

/// The chunk area of the metadata section at `offset`, if the section is
/// valid: magic present, size at least the header, and inside the file.
fn metadata_section(file: &[u8], offset: u32) -> Option<&[u8]> {
    if offset == 0 && !file.starts_with(&ELVL_MAGIC) {
        return None;
    }
    let start = usize::try_from(offset).ok()?;
    if file.get(start..start.checked_add(4)?)? != ELVL_MAGIC {
        return None;
    }
    let size = usize::try_from(u32_at(file, start + 4)?).ok()?;
    if size < METADATA_HEADER_LEN {
        return None;
    }
    file.get(start + METADATA_HEADER_LEN..start.checked_add(size)?)
}
