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
    /// The decoded map, for the security map checksum (`None` if the file
    /// does not decode: the map checksum is then not checked).
    pub map: Option<map::Map>,
    /// The operator's exe checksum table (`scrty` in the zone folder):
    /// pairs of (checksum key, Continuum exe checksum).
    pub exe_table: Vec<(u32, u32)>,
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
}

fn parse_override(text: &str) -> Option<(&str, &str, &str)> {
    let (name, value) = text.split_once('=')?;
    let (section, key) = name.split_once(':')?;
    Some((section.trim(), key.trim(), value.trim()))
}

impl ArenaAssets {
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
        let mut file = (**loaded.file()).clone();
        let mut global = (**loaded.global()).clone();
        for o in overrides {
            let (section, key, value) =
                parse_override(o).with_context(|| format!("bad override {o:?}"))?;
            file.set(section, key, value);
            global.set(section, key, value);
        }
        let config = ArenaConfig::new(realm, Arc::new(file), Arc::new(global));
        let caps = Capabilities::load(&zone, config.base_name());
        let settings = ArenaSettings::build(&config);
        let (path, lvl) = match zone.load_map(&config).context("reading the map")? {
            Some(found) => (found.path, found.data),
            // No map anywhere: serve the one-tile emergency map, as ASSS does.
            None => (
                map::EMERGENCY_MAP_NAME.to_string(),
                map::EMERGENCY_MAP.to_vec(),
            ),
        };
        let mut map_name = path.rsplit('/').next().unwrap_or(&path).to_string();
        map_name.truncate(16);
        let map_packet = map::download_packet(&map_name, &lvl).context("compressing the map")?;
        let decoded = match map::Map::decode(&lvl) {
            Ok(m) => Some(m),
            Err(e) => {
                tracing::warn!(realm, map = %path, "map does not decode, its security checksum is not checked: {e}");
                None
            }
        };
        let exe_table = zone_dir
            .map(|d| load_exe_table(&d.join("scrty")))
            .unwrap_or_default();
        Ok(ArenaAssets {
            map: decoded,
            exe_table,
            config,
            settings,
            map_crc: map::file_checksum(&lvl),
            map_name,
            map_packet,
            caps,
        })
    }
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
