//! The map download (S2C 0x2A): zlib compression in `compress()` format
//! and a size-limited decompressor for the client role.

use std::io::{Read, Write};

use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;
use flate2::Compression;

use super::MapError;

/// Packet type of S2C 0x2A (map/LVZ data).
pub const MAP_DATA_PACKET_TYPE: u8 = 0x2A;
/// Size of the NUL-padded file name field in S2C 0x29 and 0x2A.
pub const FILE_NAME_LEN: usize = 16;
/// The emergency map ASSS serves when the real one cannot be loaded: one
/// tile of type 1 at (0, 0).
pub const EMERGENCY_MAP: [u8; 4] = [0x00, 0x00, 0x00, 0x01];
/// File name of [`EMERGENCY_MAP`].
pub const EMERGENCY_MAP_NAME: &str = "tinymap.lvl";

/// Compresses a `.lvl` file as zlib's `compress()` does (zlib header
/// `78 9c`, default level 6, Adler-32 trailer). Deterministic.
pub fn compress_for_download(lvl: &[u8]) -> Vec<u8> {
    let mut encoder = ZlibEncoder::new(Vec::new(), Compression::default());
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(lvl);
    encoder.finish().unwrap_or_default()
}

/// Decompresses zlib data, refusing output longer than `max_len` bytes.
pub fn decompress_download(data: &[u8], max_len: usize) -> Result<Vec<u8>, MapError> {
    let mut out = Vec::new();
    let limit = u64::try_from(max_len).unwrap_or(u64::MAX).saturating_add(1);
    ZlibDecoder::new(data)
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|e| MapError::Corrupt(e.to_string()))?;
    if out.len() > max_len {
        return Err(MapError::TooLarge {
            len: out.len(),
            limit: max_len,
        });
    }
    Ok(out)
}

/// Builds the complete S2C 0x2A packet for a map: type byte, file name
/// NUL-padded to 16 bytes, then the compressed file. Its length is the
/// size to announce in S2C 0x29.
pub fn download_packet(file_name: &str, lvl: &[u8]) -> Result<Vec<u8>, MapError> {
    let name = file_name.as_bytes();
    if name.len() > FILE_NAME_LEN {
        return Err(MapError::FileNameTooLong(file_name.to_owned()));
    }
    let mut packet = Vec::with_capacity(1 + FILE_NAME_LEN + lvl.len() / 4 + 16);
    packet.push(MAP_DATA_PACKET_TYPE);
    packet.extend_from_slice(name);
    packet.resize(1 + FILE_NAME_LEN, 0);
    packet.extend_from_slice(&compress_for_download(lvl));
    Ok(packet)
}

/// Packet type of S2C 0x10 (incoming file: news.txt and other files).
pub const INCOMING_FILE_PACKET_TYPE: u8 = 0x10;

/// Builds the complete S2C 0x10 packet for a file the client asked for
/// outside an arena: type byte, file name NUL-padded to 16 bytes (empty for
/// news.txt), then the file compressed as for the map download.
pub fn incoming_file_packet(file_name: &str, data: &[u8]) -> Result<Vec<u8>, MapError> {
    let mut packet = download_packet(file_name, data)?;
    packet[0] = INCOMING_FILE_PACKET_TYPE;
    Ok(packet)
}
