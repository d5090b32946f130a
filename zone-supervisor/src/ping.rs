//! The ping / population port (game port + 1, `docs/protocol/core-transport.md` §16).

/// Population figures the ping port reports.
#[derive(Clone, Debug, Default)]
pub struct Population {
    /// Players in arenas.
    pub total: u32,
    /// Players in ships.
    pub playing: u32,
    /// Per public arena: name, total, playing.
    pub arenas: Vec<(String, u16, u16)>,
}

/// Builds the answer to one ping request into `out`; returns false (and
/// leaves `out` empty) for a request of the wrong shape, which is ignored.
pub fn answer(request: &[u8], pop: &Population, out: &mut Vec<u8>) -> bool {
    out.clear();
    match request.len() {
        4 => {
            out.extend_from_slice(&pop.total.to_le_bytes());
            out.extend_from_slice(request);
            true
        }
        8 => {
            let wanted = u32::from_le_bytes([request[4], request[5], request[6], request[7]]);
            let included = wanted & 0x3;
            out.extend_from_slice(&request[..4]);
            out.extend_from_slice(&included.to_le_bytes());
            if included & 0x1 != 0 {
                out.extend_from_slice(&pop.total.to_le_bytes());
                out.extend_from_slice(&pop.playing.to_le_bytes());
            }
            if included & 0x2 != 0 {
                for (name, total, playing) in &pop.arenas {
                    if name.starts_with('#') || out.len() + name.len() + 6 > 500 {
                        continue;
                    }
                    out.extend_from_slice(name.as_bytes());
                    out.push(0);
                    out.extend_from_slice(&total.to_le_bytes());
                    out.extend_from_slice(&playing.to_le_bytes());
                }
                out.push(0);
            }
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_ping_echoes_and_counts() {
        let pop = Population {
            total: 7,
            ..Population::default()
        };
        let mut out = Vec::new();
        assert!(answer(&[1, 2, 3, 4], &pop, &mut out));
        assert_eq!(out, vec![7, 0, 0, 0, 1, 2, 3, 4]);
    }

    #[test]
    fn extended_ping_lists_public_arenas() {
        let pop = Population {
            total: 3,
            playing: 1,
            arenas: vec![("0".into(), 2, 1), ("#priv".into(), 1, 0)],
        };
        let mut out = Vec::new();
        assert!(answer(&[9, 9, 9, 9, 3, 0, 0, 0], &pop, &mut out));
        assert_eq!(
            out,
            vec![9, 9, 9, 9, 3, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, b'0', 0, 2, 0, 1, 0, 0]
        );
        assert!(!answer(&[1, 2, 3], &pop, &mut out));
    }
}
