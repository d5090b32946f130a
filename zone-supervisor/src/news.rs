//! The zone's news file (`General:NewsFile`, default `news.txt`): its
//! CRC-32 goes into the login response, and a client that asks for it
//! (C2S 0x0D) gets it as a compressed S2C 0x10 (`docs/protocol/game-protocol.md`
//! §7.5). Read at start and on every reload; a missing, unreadable,
//! oversized or binary file is a warning naming it, and there is then no
//! news (checksum 0).

use std::sync::Arc;

use conf::{Warning, ZoneConfig};

/// Largest news file served.
pub const MAX_NEWS_LEN: usize = 256 * 1024;

/// The loaded news.
#[derive(Clone, Debug, Default)]
pub struct News {
    /// CRC-32 of the file (0: no news).
    pub checksum: u32,
    /// The whole S2C 0x10 packet (`None`: no news).
    pub packet: Option<Arc<[u8]>>,
}

/// Why a file is not text: the offset of its first byte that no text file
/// has (NUL and the control characters other than tab, line feed, form
/// feed and carriage return).
fn first_binary_byte(data: &[u8]) -> Option<(usize, u8)> {
    data.iter()
        .enumerate()
        .find(|&(_, &b)| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0C | 0x1A))
        .map(|(i, &b)| (i, b))
}

impl News {
    /// Reads the news file named by `General:NewsFile` from the zone's
    /// source (the zone folder or the embedded zone).
    pub fn load(zone: &ZoneConfig, file_name: &str) -> (News, Option<Warning>) {
        let problem = |problem: String| {
            Some(Warning::File {
                path: file_name.to_string(),
                problem,
            })
        };
        let data = match zone.root().read(file_name) {
            Ok(Some(d)) => d,
            Ok(None) => {
                return (
                    News::default(),
                    problem("news file not found; players get no news".into()),
                )
            }
            Err(e) => {
                return (
                    News::default(),
                    problem(format!("news file unreadable ({e}); players get no news")),
                )
            }
        };
        if data.len() > MAX_NEWS_LEN {
            return (
                News::default(),
                problem(format!(
                    "news file is {} bytes, more than {MAX_NEWS_LEN}; players get no news",
                    data.len()
                )),
            );
        }
        if let Some((at, byte)) = first_binary_byte(&data) {
            return (
                News::default(),
                problem(format!(
                    "news file is not text (byte {byte:#04x} at offset {at}); players get no news"
                )),
            );
        }
        match ss_proto::map::incoming_file_packet("", &data) {
            Ok(packet) => (
                News {
                    checksum: ss_proto::map::file_checksum(&data),
                    packet: Some(Arc::from(packet)),
                },
                None,
            ),
            Err(e) => (News::default(), problem(format!("news file: {e}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use conf::EmbeddedSource;

    fn zone_with(news: Option<&'static [u8]>) -> ZoneConfig {
        let src = conf::default_zone();
        let mut fresh = EmbeddedSource::new();
        for (path, data) in src.files() {
            if path != "news.txt" {
                fresh.insert(path.to_string(), data.to_vec());
            }
        }
        if let Some(n) = news {
            fresh.insert("news.txt", n);
        }
        ZoneConfig::new(Arc::new(fresh)).expect("zone")
    }

    #[test]
    fn text_news_is_served_with_its_crc() {
        let (news, warning) = News::load(&zone_with(Some(b"Hello\r\nzone\r\n")), "news.txt");
        assert!(warning.is_none());
        assert_eq!(
            news.checksum,
            ss_proto::map::file_checksum(b"Hello\r\nzone\r\n")
        );
        let pkt = news.packet.expect("packet");
        assert_eq!(pkt[0], 0x10);
    }

    #[test]
    fn missing_binary_and_oversized_news_are_warnings_naming_the_file() {
        let big: &'static [u8] = Box::leak(vec![b'a'; MAX_NEWS_LEN + 1].into_boxed_slice());
        for (data, needle) in [
            (None, "not found"),
            (Some(&b"MZ\x90\x00\x03"[..]), "not text"),
            (Some(big), "more than"),
        ] {
            let (news, warning) = News::load(&zone_with(data), "news.txt");
            assert_eq!(news.checksum, 0);
            assert!(news.packet.is_none());
            let text = warning.expect("warning").to_string();
            assert!(text.contains("news.txt") && text.contains(needle), "{text}");
        }
    }
}
