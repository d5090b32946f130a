//! ASSS-format configuration for Subsumption.
//!
//! - [`ConfigFile`]: one parsed file (`#include`s expanded, last value
//!   wins), with typed lookups.
//! - [`FileSource`]: where files come from — a zone directory
//!   ([`DirSource`]) or memory ([`EmbeddedSource`]).
//! - [`ZoneConfig`] / [`ArenaConfig`]: the global config, arena configs
//!   found through the ASSS search path, staff files and maps.
//! - [`default_zone`] / [`write_default_zone`]: the embedded default zone.
//! - [`ZoneModules`]: what a zone's `conf/modules.conf` loads.
//!
//! Formats and rules: `docs/protocol/config.md`.

#![warn(missing_docs)]

mod edit;
mod embedded;
mod error;
mod file;
mod modules;
mod parse;
pub mod registry;
mod settings;
mod source;
mod value;
mod zone;

pub use edit::{edit_text, set_in_zone, write_atomic, ConfTarget, EditError, Written};
pub use embedded::{
    default_zone, write_default_zone, DEFAULT_MAP_PATH, DEFAULT_ZONE_FILES, SOCCER_MAP_PATH,
    TURF_MAP_PATH,
};
pub use error::{ConfError, Warning};
pub use file::{ConfigFile, Origin, Section, MAX_WARNINGS};
pub use modules::ZoneModules;
pub use parse::{INCLUDE_COST, MAX_INCLUDE_DEPTH, MAX_LINE, MAX_TOTAL_BYTES};
pub use source::{
    config_search_path, find_first, map_search_path, DirSource, EmbeddedSource, FileSource,
    FoundFile, MAX_FILE_BYTES,
};
pub use value::{parse_bool_strict, parse_enum, parse_int, parse_int_strict, strtol};
pub use zone::{base_name, ArenaConfig, ZoneConfig, PUBLIC_BASE};

#[cfg(test)]
mod tests;
