//! The default zone compiled into the binary, and writing it out to disk.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use crate::error::ConfError;
use crate::source::EmbeddedSource;

/// Zone-relative path of the default map written by [`default_zone`]; the
/// default arena's `General:Map = default.lvl` finds it via `maps/`.
pub const DEFAULT_MAP_PATH: &str = "maps/default.lvl";

/// Zone-relative path of the example turf arena's map (the default map with
/// static flags), found by `arenas/turf/arena.conf`'s `Map = turf.lvl`.
pub const TURF_MAP_PATH: &str = "maps/turf.lvl";

/// Zone-relative path of the example soccer arena's map (a walled field
/// with two goals), found by `arenas/soccer/arena.conf`'s `Map = soccer.lvl`.
pub const SOCCER_MAP_PATH: &str = "maps/soccer.lvl";

/// The text files of the default zone: (zone-relative path, contents).
pub const DEFAULT_ZONE_FILES: &[(&str, &[u8])] = &[
    (
        "conf/global.conf",
        include_bytes!("../zone/conf/global.conf"),
    ),
    ("conf/staff.conf", include_bytes!("../zone/conf/staff.conf")),
    (
        "conf/passwd.conf",
        include_bytes!("../zone/conf/passwd.conf"),
    ),
    (
        "conf/groupdef.conf",
        include_bytes!("../zone/conf/groupdef.conf"),
    ),
    (
        "conf/groupdef.dir/default",
        include_bytes!("../zone/conf/groupdef.dir/default"),
    ),
    (
        "conf/groupdef.dir/mod",
        include_bytes!("../zone/conf/groupdef.dir/mod"),
    ),
    (
        "conf/groupdef.dir/smod",
        include_bytes!("../zone/conf/groupdef.dir/smod"),
    ),
    (
        "conf/groupdef.dir/sysop",
        include_bytes!("../zone/conf/groupdef.dir/sysop"),
    ),
    (
        "conf/groupdef.dir/objects",
        include_bytes!("../zone/conf/groupdef.dir/objects"),
    ),
    (
        "conf/groupdef.dir/sgcompat",
        include_bytes!("../zone/conf/groupdef.dir/sgcompat"),
    ),
    (
        "conf/groupdef.dir/bot",
        include_bytes!("../zone/conf/groupdef.dir/bot"),
    ),
    (
        "arenas/(default)/arena.conf",
        include_bytes!("../zone/arenas/(default)/arena.conf"),
    ),
    (
        "arenas/turf/arena.conf",
        include_bytes!("../zone/arenas/turf/arena.conf"),
    ),
    (
        "arenas/soccer/arena.conf",
        include_bytes!("../zone/arenas/soccer/arena.conf"),
    ),
    ("news.txt", include_bytes!("../zone/news.txt")),
];

/// The bytes of the generated default map (`.lvl`).
fn default_map_bytes() -> Vec<u8> {
    ss_proto::map::default_map()
}

/// The embedded default zone: every file of [`DEFAULT_ZONE_FILES`] plus the
/// generated maps at [`DEFAULT_MAP_PATH`], [`TURF_MAP_PATH`] and
/// [`SOCCER_MAP_PATH`].
pub fn default_zone() -> EmbeddedSource {
    let mut zone = EmbeddedSource::new();
    for &(path, data) in DEFAULT_ZONE_FILES {
        zone.insert(path, data);
    }
    zone.insert(DEFAULT_MAP_PATH, default_map_bytes());
    zone.insert(TURF_MAP_PATH, ss_proto::map::turf_map());
    zone.insert(SOCCER_MAP_PATH, ss_proto::map::soccer_map());
    zone
}

/// Writes every file of the default zone (map included) under `dir`,
/// creating directories as needed. Unless `force` is set, nothing is written
/// if any of the files already exists. Returns the paths written.
pub fn write_default_zone(dir: &Path, force: bool) -> Result<Vec<PathBuf>, ConfError> {
    let zone = default_zone();
    let targets: Vec<(PathBuf, &[u8])> = zone
        .files()
        .map(|(path, data)| (dir.join(path), data))
        .collect();
    if !force {
        for (path, _) in &targets {
            match fs::symlink_metadata(path) {
                Ok(_) => return Err(ConfError::WouldOverwrite(path.clone())),
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(ConfError::Write {
                        path: path.clone(),
                        source,
                    })
                }
            }
        }
    }
    let mut written = Vec::with_capacity(targets.len());
    for (path, data) in targets {
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|source| ConfError::Write {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        fs::write(&path, data).map_err(|source| ConfError::Write {
            path: path.clone(),
            source,
        })?;
        written.push(path);
    }
    Ok(written)
}
