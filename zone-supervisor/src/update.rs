//! Continuum's update request (C2S 0x0B, `docs/protocol/game-protocol.md`
//! §7.6). When the operator puts a `clients/update.exe` in the zone
//! folder, a client that asks gets it as an S2C 0x10 sized stream with an
//! empty file name, as ASSS sends it. Without one the request is counted
//! and ignored. Read at start and on every reload.

use std::sync::Arc;

use conf::{Warning, ZoneConfig};
use ss_proto::game::{s2c_type, LoginResponse};

/// Where the operator puts the update file, in the zone folder.
pub const UPDATE_FILE: &str = "clients/update.exe";
/// The current Continuum executable, whose checksum Continuum clients are
/// told (S2C 0x34, login response).
pub const CONTINUUM_FILE: &str = "clients/continuum.exe";
/// Largest update file served.
pub const MAX_UPDATE_LEN: usize = 16 << 20;

/// The loaded update file.
#[derive(Clone, Debug)]
pub struct UpdateFile {
    /// The whole S2C 0x10 packet (`None`: no update file).
    pub packet: Option<Arc<[u8]>>,
    /// CRC-32 of [`CONTINUUM_FILE`], or 0xFFFFFFFF without one (ASSS's
    /// value for "unknown"): Continuum clients compare it with their own.
    pub continuum_checksum: u32,
}

impl Default for UpdateFile {
    fn default() -> Self {
        UpdateFile {
            packet: None,
            continuum_checksum: LoginResponse::STAFF_CHECKSUM,
        }
    }
}

impl UpdateFile {
    /// Reads [`UPDATE_FILE`] from the zone's source. Its absence is the
    /// ordinary case (no warning); an unreadable or oversized file is a
    /// warning naming it.
    pub fn load(zone: &ZoneConfig) -> (UpdateFile, Option<Warning>) {
        let continuum_checksum = match zone.root().read(CONTINUUM_FILE) {
            Ok(Some(d)) if d.len() <= MAX_UPDATE_LEN => ss_proto::map::file_checksum(&d),
            _ => LoginResponse::STAFF_CHECKSUM,
        };
        let (file, warning) = Self::load_update(zone);
        (
            UpdateFile {
                continuum_checksum,
                ..file
            },
            warning,
        )
    }

    fn load_update(zone: &ZoneConfig) -> (UpdateFile, Option<Warning>) {
        let problem = |problem: String| {
            Some(Warning::File {
                path: UPDATE_FILE.to_string(),
                problem,
            })
        };
        let data = match zone.root().read(UPDATE_FILE) {
            Ok(Some(d)) => d,
            Ok(None) => return (UpdateFile::default(), None),
            Err(e) => {
                return (
                    UpdateFile::default(),
                    problem(format!("unreadable ({e}); update requests are ignored")),
                )
            }
        };
        if data.len() > MAX_UPDATE_LEN {
            return (
                UpdateFile::default(),
                problem(format!(
                    "{} bytes, more than {MAX_UPDATE_LEN}; update requests are ignored",
                    data.len()
                )),
            );
        }
        (
            UpdateFile {
                packet: Some(Arc::from(incoming_file(&data))),
                ..UpdateFile::default()
            },
            None,
        )
    }
}

/// S2C 0x10 with a 16-byte empty name and the file as it is.
fn incoming_file(data: &[u8]) -> Vec<u8> {
    let mut packet = Vec::with_capacity(17 + data.len());
    packet.push(s2c_type::INCOMING_FILE);
    packet.extend_from_slice(&[0u8; 16]);
    packet.extend_from_slice(data);
    packet
}

#[cfg(test)]
mod tests {
    use super::*;
    use conf::EmbeddedSource;

    fn zone_with(update: Option<&'static [u8]>) -> ZoneConfig {
        zone_with_files(update, None)
    }

    fn zone_with_files(
        update: Option<&'static [u8]>,
        continuum: Option<&'static [u8]>,
    ) -> ZoneConfig {
        let src = conf::default_zone();
        let mut fresh = EmbeddedSource::new();
        for (path, data) in src.files() {
            fresh.insert(path.to_string(), data.to_vec());
        }
        if let Some(u) = update {
            fresh.insert(UPDATE_FILE, u);
        }
        if let Some(c) = continuum {
            fresh.insert(CONTINUUM_FILE, c);
        }
        ZoneConfig::new(Arc::new(fresh)).expect("zone")
    }

    #[test]
    fn an_update_file_is_served_raw_with_an_empty_name() {
        let (u, warning) = UpdateFile::load(&zone_with(Some(b"MZ\x90\x00exe")));
        assert!(warning.is_none());
        let packet = u.packet.expect("packet");
        assert_eq!(packet[0], 0x10);
        assert_eq!(&packet[1..17], &[0u8; 16]);
        assert_eq!(&packet[17..], b"MZ\x90\x00exe");
    }

    #[test]
    fn no_update_file_is_no_packet_and_no_warning() {
        let (u, warning) = UpdateFile::load(&zone_with(None));
        assert!(u.packet.is_none());
        assert!(warning.is_none());
    }

    #[test]
    fn continuum_clients_are_told_the_crc_of_continuum_exe_or_unknown() {
        let (u, _) = UpdateFile::load(&zone_with(None));
        assert_eq!(u.continuum_checksum, 0xFFFF_FFFF);
        let (u, _) = UpdateFile::load(&zone_with_files(None, Some(b"123456789")));
        // The CRC-32 check value.
        assert_eq!(u.continuum_checksum, 0xCBF4_3926);
        assert!(u.packet.is_none());
    }
}
