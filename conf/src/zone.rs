//! A zone's configuration: the global file, arena files, the staff files
//! and maps, all found through the ASSS search paths.

use std::path::Path;
use std::sync::Arc;

use crate::embedded::default_zone;
use crate::error::{ConfError, Warning};
use crate::file::ConfigFile;
use crate::source::{find_first, map_search_path, DirSource, FileSource, FoundFile};

/// The base name ASSS gives arena groups whose name is all digits.
pub const PUBLIC_BASE: &str = "(public)";

/// An arena's base name (docs/protocol/config.md §1.1): its name with trailing
/// ASCII digits removed; if nothing is left, `(public)`.
///
/// `smallpb2` → `smallpb`, `duel` → `duel`, `0` → `(public)`.
pub fn base_name(arena: &str) -> &str {
    let trimmed = arena.trim_end_matches(|c: char| c.is_ascii_digit());
    if trimmed.is_empty() {
        PUBLIC_BASE
    } else {
        trimmed
    }
}

/// The configuration of one arena: its `arena.conf` (found through the
/// search path, so possibly `arenas/(default)/arena.conf`) plus the zone's
/// global file.
///
/// Lookups through [`get_str`](Self::get_str) and friends read the arena
/// file **only**. docs/protocol/config.md §2.1: every setting has a fixed
/// scope, and an arena setting missing from the arena file falls back to the
/// reader's built-in default, *not* to `global.conf`; `(default)` is a
/// whole-file fallback, not a per-key one. Global settings are read with
/// [`global`](Self::global).
#[derive(Debug, Clone)]
pub struct ArenaConfig {
    name: String,
    base: String,
    file: Arc<ConfigFile>,
    global: Arc<ConfigFile>,
}

impl ArenaConfig {
    /// Wraps an already parsed arena file.
    pub fn new(name: &str, file: Arc<ConfigFile>, global: Arc<ConfigFile>) -> Self {
        Self {
            name: name.to_string(),
            base: base_name(name).to_string(),
            file,
            global,
        }
    }

    /// The arena name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The arena's base name (config directory, staff.conf section).
    pub fn base_name(&self) -> &str {
        &self.base
    }

    /// The parsed arena file.
    pub fn file(&self) -> &Arc<ConfigFile> {
        &self.file
    }

    /// The zone's global config (for settings of global scope).
    pub fn global(&self) -> &Arc<ConfigFile> {
        &self.global
    }

    /// An arena setting's string value.
    pub fn get_str(&self, section: &str, key: &str) -> Option<&str> {
        self.file.get_str(section, key)
    }

    /// An arena text setting, trimmed; `None` if missing or blank.
    pub fn get_text(&self, section: &str, key: &str) -> Option<&str> {
        self.file.get_text(section, key)
    }

    /// An arena integer setting (ASSS `GetInt` rules), `default` if missing.
    pub fn get_int(&self, section: &str, key: &str, default: i32) -> i32 {
        self.file.get_int(section, key, default)
    }

    /// An arena boolean setting, `default` if missing.
    pub fn get_bool(&self, section: &str, key: &str, default: bool) -> bool {
        self.file.get_bool(section, key, default)
    }

    /// An arena enum setting (see [`crate::parse_enum`]).
    pub fn get_enum(&self, section: &str, key: &str, names: &[(&str, i32)], default: i32) -> i32 {
        self.file.get_enum(section, key, names, default)
    }

    /// `General:Map`, the arena's map file name, if set and non-empty.
    pub fn map_name(&self) -> Option<&str> {
        self.get_str("General", "Map").filter(|m| !m.is_empty())
    }
}

/// A zone's configuration root: where files come from, and the parsed
/// global config.
#[derive(Debug, Clone)]
pub struct ZoneConfig {
    root: Arc<dyn FileSource>,
    global: Arc<ConfigFile>,
}

impl ZoneConfig {
    /// Opens a zone on `root` and loads its global config.
    pub fn new(root: Arc<dyn FileSource>) -> Result<Self, ConfError> {
        let global = Arc::new(ConfigFile::load(root.as_ref(), None, "global.conf")?);
        Ok(Self { root, global })
    }

    /// Opens the zone in directory `dir`.
    pub fn open_dir(dir: impl AsRef<Path>) -> Result<Self, ConfError> {
        Self::new(Arc::new(DirSource::new(dir.as_ref())))
    }

    /// Opens the embedded default zone (no files needed).
    pub fn embedded() -> Result<Self, ConfError> {
        Self::new(Arc::new(default_zone()))
    }

    /// Where files are read from.
    pub fn root(&self) -> &Arc<dyn FileSource> {
        &self.root
    }

    /// The global config loaded when this zone was opened (or last
    /// reloaded).
    pub fn global(&self) -> &Arc<ConfigFile> {
        &self.global
    }

    /// Parses `global.conf` again from the source (does not replace the
    /// stored one; see [`reload_global`](Self::reload_global)).
    pub fn load_global(&self) -> Result<ConfigFile, ConfError> {
        ConfigFile::load(self.root.as_ref(), None, "global.conf")
    }

    /// Re-reads `global.conf` and stores it.
    pub fn reload_global(&mut self) -> Result<(), ConfError> {
        self.global = Arc::new(self.load_global()?);
        Ok(())
    }

    /// Loads the config of arena `arena`: `arena.conf` searched as
    /// `arenas/<base>/`, `conf/`, the root, then `arenas/(default)/`.
    pub fn load_arena(&self, arena: &str) -> Result<ArenaConfig, ConfError> {
        let file = ConfigFile::load(self.root.as_ref(), Some(base_name(arena)), "arena.conf")?;
        Ok(ArenaConfig::new(arena, Arc::new(file), self.global.clone()))
    }

    /// Loads another global file by name (`staff.conf`, `groupdef.conf`,
    /// `passwd.conf`, `modules.conf`) through the global search path.
    pub fn load_file(&self, name: &str) -> Result<ConfigFile, ConfError> {
        ConfigFile::load(self.root.as_ref(), None, name)
    }

    /// Finds and reads an arena's map (docs/protocol/config.md §2.3):
    /// `General:Map` through `arenas/<base>/`, `maps/`, the root,
    /// `arenas/<base>/<base>.lvl`, `maps/<base>.lvl`, `arenas/(default)/`;
    /// without `General:Map` only the two `<base>.lvl` candidates. `None` if no
    /// map file exists (the realm then serves the one-tile emergency map,
    /// docs/protocol/lvl-format.md §9).
    pub fn load_map(&self, arena: &ArenaConfig) -> Result<Option<FoundFile>, ConfError> {
        let candidates = map_search_path(arena.base_name(), arena.map_name());
        find_first(self.root.as_ref(), &candidates)
    }

    /// Everything wrong with arena `arena`'s configuration that would
    /// otherwise only show when (or after) it starts: its `arena.conf` is
    /// missing or unreadable ([`Warning::ArenaConfig`]), the warnings of
    /// parsing it (garbage lines, missing includes, ...), and a
    /// `General:Map` that names no existing file ([`Warning::MapNotFound`]).
    pub fn check_arena(&self, arena: &str) -> Vec<Warning> {
        let config = match self.load_arena(arena) {
            Ok(c) => c,
            Err(e) => {
                return vec![Warning::ArenaConfig {
                    arena: arena.to_string(),
                    error: e.to_string(),
                }]
            }
        };
        let mut out = config.file().warnings().to_vec();
        match (config.map_name(), self.load_map(&config)) {
            (Some(map), Ok(None)) => {
                let (file, line) = match config.file().origin("General", "Map") {
                    Some(o) => (o.file.to_string(), o.line),
                    None => (config.file().path().to_string(), 0),
                };
                out.push(Warning::MapNotFound {
                    file,
                    line,
                    arena: arena.to_string(),
                    map: map.to_string(),
                    tried: map_search_path(config.base_name(), Some(map)),
                });
            }
            (_, Err(e)) => out.push(Warning::ArenaConfig {
                arena: arena.to_string(),
                error: format!("reading its map: {e}"),
            }),
            _ => {}
        }
        out
    }
}
