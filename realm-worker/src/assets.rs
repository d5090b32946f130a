//! What a realm loads at start (and on reload): its config, the arena
//! settings packet built from it, and the map with its download packet.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use conf::{ArenaConfig, ZoneConfig};
use ss_proto::map;
use ss_proto::settings::ArenaSettings;

use crate::caps::Capabilities;

/// The arena's config-derived data.
pub struct ArenaAssets {
    /// The arena config (overrides applied).
    pub config: ArenaConfig,
    /// The 1428-byte settings packet.
    pub settings: ArenaSettings,
    /// Map file name as sent in S2C 0x29 (at most 16 bytes).
    pub map_name: String,
    /// CRC-32 of the map file.
    pub map_crc: u32,
    /// The whole S2C 0x2A packet (zlib-compressed map).
    pub map_packet: Vec<u8>,
    /// Staff groups and capabilities.
    pub caps: Capabilities,
    /// Setup problems the operator should see (reported to the zone).
    pub problems: Vec<String>,
    /// The decoded map (flag tiles, free tiles for flags); empty if the
    /// file does not decode.
    pub map: map::Map,
    /// Whether the map file decoded (else `map` is empty and the security
    /// map checksum is not checked).
    pub map_decoded: bool,
    /// The operator's exe checksum table (`scrty` in the zone folder):
    /// pairs of (checksum key, Continuum exe checksum).
    pub exe_table: Vec<(u32, u32)>,
    /// The arena's LVZ files (`General:LevelFiles`), in list order.
    pub lvz: Vec<LevelFile>,
}

/// One LVZ file the arena serves after its map.
#[derive(Clone, Debug)]
pub struct LevelFile {
    /// File name as announced (at most 16 bytes).
    pub name: String,
    /// CRC-32 of the file.
    pub checksum: u32,
    /// The whole S2C 0x2A packet: header, then the file as stored (LVZ
    /// files are compressed already).
    pub packet: Vec<u8>,
    /// Listed with a `+`: only for clients that ask for optional graphics.
    pub optional: bool,
}

/// Most LVZ files an arena lists (ASSS's limit).
pub const MAX_LVZ_FILES: usize = 16;
/// Largest LVZ file served (its packet must fit one IPC frame).
pub const MAX_LVZ_LEN: usize = ipc_proto::MAX_FRAME - 64 * 1024;

/// The LVZ file names of `General:LevelFiles` (or `Misc:LevelFiles`) and
/// `General:LevelFiles1` … up to `General:ExtraLevelFilesKeys`, separated
/// by commas, colons or spaces; at most [`MAX_LVZ_FILES`].
fn level_file_names(config: &ArenaConfig) -> Vec<String> {
    let extra = config
        .get_int("General", "ExtraLevelFilesKeys", 0)
        .clamp(0, MAX_LVZ_FILES as i32 - 1) as usize;
    let mut names = Vec::new();
    for i in 0..=extra {
        let list = if i == 0 {
            config
                .get_str("General", "LevelFiles")
                .or_else(|| config.get_str("Misc", "LevelFiles"))
        } else {
            config.get_str("General", &format!("LevelFiles{i}"))
        };
        let Some(list) = list else { continue };
        names.extend(
            list.split([',', ':', ' ', '\t'])
                .filter(|n| !n.is_empty())
                .map(str::to_string),
        );
    }
    names.truncate(MAX_LVZ_FILES);
    names
}

/// Finds and reads the arena's LVZ files: each name through
/// `arenas/<base>/`, `maps/`, the zone root and `arenas/(default)/`. A
/// file that is missing, too large or whose name does not fit the 16-byte
/// field is left out with a warning naming it.
fn load_level_files(zone: &ZoneConfig, config: &ArenaConfig) -> Vec<LevelFile> {
    let base = config.base_name();
    let mut files = Vec::new();
    for listed in level_file_names(config) {
        let (optional, name) = match listed.strip_prefix('+') {
            Some(n) => (true, n.to_string()),
            None => (false, listed.clone()),
        };
        let candidates = [
            format!("arenas/{base}/{name}"),
            format!("maps/{name}"),
            name.clone(),
            format!("arenas/(default)/{name}"),
        ];
        let found = match conf::find_first(zone.root().as_ref(), &candidates) {
            Ok(Some(f)) => f,
            Ok(None) => {
                tracing::warn!(arena = config.name(), file = %name, "LVZ file not found (tried: {}), not served", candidates.join(", "));
                continue;
            }
            Err(e) => {
                tracing::warn!(arena = config.name(), file = %name, "LVZ file unreadable, not served: {e}");
                continue;
            }
        };
        if found.data.len() > MAX_LVZ_LEN {
            tracing::warn!(arena = config.name(), file = %found.path, len = found.data.len(), "LVZ file larger than {MAX_LVZ_LEN} bytes, not served");
            continue;
        }
        let short = found
            .path
            .rsplit('/')
            .next()
            .unwrap_or(&found.path)
            .to_string();
        if short.len() > map::FILE_NAME_LEN {
            tracing::warn!(arena = config.name(), file = %found.path, "LVZ file name longer than {} bytes, not served", map::FILE_NAME_LEN);
            continue;
        }
        let mut packet = Vec::with_capacity(1 + map::FILE_NAME_LEN + found.data.len());
        packet.push(map::MAP_DATA_PACKET_TYPE);
        packet.extend_from_slice(short.as_bytes());
        packet.resize(1 + map::FILE_NAME_LEN, 0);
        packet.extend_from_slice(&found.data);
        files.push(LevelFile {
            checksum: map::file_checksum(&found.data),
            name: short,
            packet,
            optional,
        });
    }
    files
}

/// Where the assets come from, kept for reloads.
#[derive(Clone, Debug)]
pub struct AssetSource {
    /// Realm name.
    pub realm: String,
    /// Zone folder (or embedded).
    pub zone_dir: Option<PathBuf>,
    /// Command-line overrides.
    pub overrides: Vec<String>,
}

impl AssetSource {
    /// Loads the assets again.
    pub fn load(&self) -> Result<ArenaAssets> {
        ArenaAssets::load(&self.realm, self.zone_dir.as_ref(), &self.overrides)
    }

    /// Reads `staff.conf` and `groupdef.conf` again (after `?setgroup -p`
    /// or `?rmgroup` changed `staff.conf`).
    pub fn load_caps(&self, base: &str) -> Result<Capabilities> {
        let zone = match self.zone_dir.as_ref() {
            Some(dir) => ZoneConfig::open_dir(dir)
                .with_context(|| format!("reading zone config in {}", dir.display()))?,
            None => ZoneConfig::embedded().context("reading the embedded zone")?,
        };
        Ok(Capabilities::load(&zone, base))
    }
}

fn parse_override(text: &str) -> Option<(&str, &str, &str)> {
    let (name, value) = text.split_once('=')?;
    let (section, key) = name.split_once(':')?;
    Some((section.trim(), key.trim(), value.trim()))
}

impl ArenaAssets {
    /// The decoded map, if the file decoded.
    pub fn decoded_map(&self) -> Option<&map::Map> {
        self.map_decoded.then_some(&self.map)
    }

    /// Loads the arena `realm` from the zone folder (or the embedded zone).
    pub fn load(
        realm: &str,
        zone_dir: Option<&PathBuf>,
        overrides: &[String],
    ) -> Result<ArenaAssets> {
        let zone = match zone_dir {
            Some(dir) => ZoneConfig::open_dir(dir)
                .with_context(|| format!("reading zone config in {}", dir.display()))?,
            None => ZoneConfig::embedded().context("reading the embedded zone")?,
        };
        let loaded = zone.load_arena(realm).context("reading the arena config")?;
        // Shared with `loaded` (dropped below), copied only if an override
        // changes them: an idle realm keeps one parsed copy of each file.
        let mut file = Arc::clone(loaded.file());
        let mut global = Arc::clone(loaded.global());
        drop(loaded);
        for o in overrides {
            let (section, key, value) =
                parse_override(o).with_context(|| format!("bad override {o:?}"))?;
            // Labelled so that `?geta`/`?getg` show where the value is from.
            let origin = conf::Origin {
                file: "--set".into(),
                line: 0,
            };
            Arc::make_mut(&mut file).set_from(section, key, value, origin.clone());
            Arc::make_mut(&mut global).set_from(section, key, value, origin);
        }
        let config = ArenaConfig::new(realm, file, global);
        let caps = Capabilities::load(&zone, config.base_name());
        let settings = ArenaSettings::build(&config);
        let mut problems = Vec::new();
        let (path, lvl) = match zone.load_map(&config).context("reading the map")? {
            Some(found) => (found.path, found.data),
            // No map anywhere: serve the one-tile emergency map, as ASSS does.
            None => {
                let wanted = config.get_str("General", "Map").unwrap_or("(none set)");
                problems.push(format!(
                    "map {wanted} not found; serving the one-tile emergency map"
                ));
                (
                    map::EMERGENCY_MAP_NAME.to_string(),
                    map::EMERGENCY_MAP.to_vec(),
                )
            }
        };
        for p in &problems {
            tracing::warn!(realm, "{p}");
        }
        let mut map_name = path.rsplit('/').next().unwrap_or(&path).to_string();
        map_name.truncate(16);
        let map_packet = map::download_packet(&map_name, &lvl).context("compressing the map")?;
        let (decoded, map_decoded) = match map::Map::decode(&lvl) {
            Ok(m) => (m, true),
            Err(e) => {
                tracing::warn!(realm, map = %map_name, "map does not decode ({e}); flags see an empty map and its security checksum is not checked");
                (map::Map::new(), false)
            }
        };
        let exe_table = zone_dir
            .map(|d| load_exe_table(&d.join("scrty")))
            .unwrap_or_default();
        let lvz = load_level_files(&zone, &config);
        Ok(ArenaAssets {
            lvz,
            map_decoded,
            exe_table,
            config,
            settings,
            map_crc: map::file_checksum(&lvl),
            map_name,
            map_packet,
            caps,
            problems,
            map: decoded,
        })
    }
}

/// "May a flag stand on tile (x, y)?": inside the map, not a wall.
pub fn tile_free(map: &map::Map, x: i16, y: i16) -> bool {
    (1..1023).contains(&x) && (1..1023).contains(&y) && !map.is_solid(i32::from(x), i32::from(y))
}

/// Size of an exe checksum table file: 1000 little-endian `u32`s.
const EXE_TABLE_LEN: usize = 4000;

/// Reads the exe checksum table (`docs/protocol/game-protocol.md` §20):
/// 1000 `u32`s, the first two unused, then (key, checksum) pairs. A missing
/// file is no table; a file of another size is refused with a warning.
fn load_exe_table(path: &std::path::Path) -> Vec<(u32, u32)> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => {
            tracing::warn!(file = %path.display(), "exe checksum table unreadable, not used: {e}");
            return Vec::new();
        }
    };
    if bytes.len() != EXE_TABLE_LEN {
        tracing::warn!(
            file = %path.display(),
            len = bytes.len(),
            "exe checksum table must be {EXE_TABLE_LEN} bytes, not used"
        );
        return Vec::new();
    }
    let words: Vec<u32> = bytes
        .chunks_exact(4)
        .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
        .collect();
    words[2..].chunks_exact(2).map(|p| (p[0], p[1])).collect()
}
