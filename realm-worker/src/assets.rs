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
        let decoded = map::Map::decode(&lvl).unwrap_or_else(|e| {
            tracing::warn!(realm, map = %map_name, "map does not decode ({e}); flags see an empty map");
            map::Map::new()
        });
        Ok(ArenaAssets {
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
