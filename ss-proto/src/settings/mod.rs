//! The arena settings packet (S2C 0x0F, "client settings"): building it
//! from an arena's configuration, reading fields back, and its security
//! checksum. See `docs/protocol/client-settings.md`.

mod layout;
#[cfg(test)]
mod tests;

use std::collections::HashMap;

pub use layout::{
    fields, FieldKind, FieldSpec, PRIZE_WEIGHTS, PRIZE_WEIGHT_SECTION, SETTINGS_LEN, SHIPS_OFFSET,
    SHIP_BLOCK_LEN, SHIP_NAMES,
};

/// Packet type byte of the arena settings packet.
pub const SETTINGS_PACKET_TYPE: u8 = 0x0F;

/// Source of integer config values (`Section:Key`); a missing key is 0.
pub trait SettingsLookup {
    /// The integer value of `section:key`, or 0 if it is not set.
    fn get_int(&self, section: &str, key: &str) -> i32;
}

/// Exact-match lookup in a map keyed by (section, key).
impl SettingsLookup for HashMap<(String, String), i32> {
    fn get_int(&self, section: &str, key: &str) -> i32 {
        self.get(&(section.to_owned(), key.to_owned()))
            .copied()
            .unwrap_or(0)
    }
}

impl<T: SettingsLookup + ?Sized> SettingsLookup for &T {
    fn get_int(&self, section: &str, key: &str) -> i32 {
        (**self).get_int(section, key)
    }
}

/// Adapts a closure `Fn(section, key) -> i32` to [`SettingsLookup`].
pub struct FnLookup<F>(pub F);

impl<F: Fn(&str, &str) -> i32> SettingsLookup for FnLookup<F> {
    fn get_int(&self, section: &str, key: &str) -> i32 {
        (self.0)(section, key)
    }
}

/// Errors reading a settings packet received from the wire.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// The packet is not 1428 bytes long.
    #[error("settings packet is {0} bytes, expected {SETTINGS_LEN}")]
    BadLength(usize),
    /// The first byte is not 0x0F.
    #[error("settings packet type byte is {0:#04x}, expected 0x0f")]
    BadType(u8),
}

/// A complete arena settings packet (1428 bytes, type byte included).
#[derive(Clone, PartialEq, Eq)]
pub struct ArenaSettings {
    bytes: [u8; SETTINGS_LEN],
}

impl std::fmt::Debug for ArenaSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArenaSettings")
            .field(
                "crc32",
                &format_args!("{:#010x}", crc32fast::hash(&self.bytes)),
            )
            .finish()
    }
}

impl ArenaSettings {
    /// Builds the packet from config values: every field of [`fields`] is
    /// looked up, multiplied by its scale (×1000 for five long settings),
    /// truncated to its width; `Radar:MapZoomFactor` 0 becomes 1; the type
    /// byte is 0x0F and padding and unused bits are 0.
    pub fn build(lookup: &dyn SettingsLookup) -> ArenaSettings {
        let mut settings = ArenaSettings {
            bytes: [0; SETTINGS_LEN],
        };
        settings.bytes[0] = SETTINGS_PACKET_TYPE;
        for spec in fields() {
            let mut value = lookup
                .get_int(spec.section, spec.key)
                .wrapping_mul(spec.scale);
            if value == 0 && (spec.section, spec.key) == ("Radar", "MapZoomFactor") {
                value = 1; // 0 crashes Continuum
            }
            settings.write(&spec, value);
        }
        settings
    }

    /// Wraps a packet received from the wire (client role).
    pub fn from_bytes(bytes: &[u8]) -> Result<ArenaSettings, SettingsError> {
        let bytes: [u8; SETTINGS_LEN] = bytes
            .try_into()
            .map_err(|_| SettingsError::BadLength(bytes.len()))?;
        if bytes[0] != SETTINGS_PACKET_TYPE {
            return Err(SettingsError::BadType(bytes[0]));
        }
        Ok(ArenaSettings { bytes })
    }

    /// The packet bytes, ready to send.
    pub fn as_bytes(&self) -> &[u8; SETTINGS_LEN] {
        &self.bytes
    }

    /// The settings checksum for the security check
    /// (`docs/protocol/client-settings.md` §6): the wrapping sum of every
    /// little-endian `u32` word XOR `key`.
    pub fn checksum(&self, key: u32) -> u32 {
        self.bytes
            .chunks_exact(4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]) ^ key)
            .fold(0u32, u32::wrapping_add)
    }

    /// The value stored for `section:key` (case-insensitive), as in the
    /// packet: after scaling and truncation, `i16` sign-extended, bytes and
    /// bit-fields unsigned. For names that occur twice, the first place.
    pub fn field(&self, section: &str, key: &str) -> Option<i32> {
        find(section, key).map(|spec| self.read(&spec))
    }

    /// Stores `value` (a packet value: no scaling is applied) into
    /// `section:key`, truncated to the field's width, as an override would.
    /// Returns false if there is no such field.
    pub fn set_field(&mut self, section: &str, key: &str, value: i32) -> bool {
        let mut found = false;
        for spec in fields().filter(|s| matches(s, section, key)) {
            self.write(&spec, value);
            found = true;
        }
        found
    }

    /// The value of ship field `key` for ship `ship` (0 = Warbird … 7 =
    /// Shark), like [`ArenaSettings::field`].
    pub fn ship_field(&self, ship: usize, key: &str) -> Option<i32> {
        self.field(SHIP_NAMES.get(ship)?, key)
    }

    /// The 28 prize weights; entry i is for prize number i + 1.
    pub fn prize_weights(&self) -> [u8; 28] {
        let start = SETTINGS_LEN - PRIZE_WEIGHTS.len();
        let mut weights = [0; 28];
        weights.copy_from_slice(&self.bytes[start..]);
        weights
    }

    fn write(&mut self, spec: &FieldSpec, value: i32) {
        let at = spec.offset;
        match spec.kind {
            FieldKind::I32 => self.bytes[at..at + 4].copy_from_slice(&value.to_le_bytes()),
            FieldKind::I16 => self.bytes[at..at + 2].copy_from_slice(&(value as i16).to_le_bytes()),
            FieldKind::U8 => self.bytes[at] = value as u8,
            FieldKind::Bits { shift, width } => {
                let mask = ((1u64 << width) - 1) as u32;
                let word = self.word(at) & !(mask << shift) | ((value as u32 & mask) << shift);
                self.bytes[at..at + 4].copy_from_slice(&word.to_le_bytes());
            }
        }
    }

    fn read(&self, spec: &FieldSpec) -> i32 {
        let at = spec.offset;
        match spec.kind {
            FieldKind::I32 => self.word(at) as i32,
            FieldKind::I16 => i32::from(i16::from_le_bytes([self.bytes[at], self.bytes[at + 1]])),
            FieldKind::U8 => i32::from(self.bytes[at]),
            FieldKind::Bits { shift, width } => {
                let mask = ((1u64 << width) - 1) as u32;
                ((self.word(at) >> shift) & mask) as i32
            }
        }
    }

    fn word(&self, at: usize) -> u32 {
        u32::from_le_bytes([
            self.bytes[at],
            self.bytes[at + 1],
            self.bytes[at + 2],
            self.bytes[at + 3],
        ])
    }
}

fn matches(spec: &FieldSpec, section: &str, key: &str) -> bool {
    spec.section.eq_ignore_ascii_case(section) && spec.key.eq_ignore_ascii_case(key)
}

fn find(section: &str, key: &str) -> Option<FieldSpec> {
    fields().find(|s| matches(s, section, key))
}
