//! Feeding the arena settings packet builder (`ss_proto::settings`).
//!
//! The packet reads every field with "integer, default 0"
//! (docs/protocol/client-settings.md §7), so these impls use
//! [`ConfigFile::get_int`] with default 0.

use ss_proto::settings::{ArenaSettings, SettingsLookup};

use crate::file::ConfigFile;
use crate::zone::ArenaConfig;

impl SettingsLookup for ConfigFile {
    fn get_int(&self, section: &str, key: &str) -> i32 {
        ConfigFile::get_int(self, section, key, 0)
    }
}

impl SettingsLookup for ArenaConfig {
    fn get_int(&self, section: &str, key: &str) -> i32 {
        ArenaConfig::get_int(self, section, key, 0)
    }
}

impl ArenaConfig {
    /// Builds this arena's settings packet (S2C 0x0F) from its config.
    pub fn client_settings(&self) -> ArenaSettings {
        ArenaSettings::build(self)
    }
}
