//! King of the hill: the crown packet S2C 0x2C
//! (`docs/protocol/game-protocol.md` §17). It travels as
//! [`super::S2CPacket::Other`]; this module gives it a typed form.

use super::{s2c_type, PacketError};

/// S2C 0x2C: a crown put on or taken off.
///
/// "On" carries the crown's time left in ticks and pid −1 (sent to each
/// crowned player himself); "off" carries time 0 and the pid of the player
/// who lost it (sent to the whole arena).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CrownToggle {
    /// True: crown on (or its timer restarted); false: crown off.
    pub on: bool,
    /// Ticks until the crown runs out (0 when off).
    pub time: u32,
    /// The player (−1 = the receiver himself).
    pub pid: i16,
}

impl CrownToggle {
    /// Length of the packet, type byte included.
    pub const LEN: usize = 8;

    /// The packet's bytes.
    pub fn encode(&self) -> [u8; Self::LEN] {
        let mut b = [0u8; Self::LEN];
        b[0] = s2c_type::CROWN;
        b[1] = u8::from(self.on);
        b[2..6].copy_from_slice(&self.time.to_le_bytes());
        b[6..8].copy_from_slice(&self.pid.to_le_bytes());
        b
    }

    /// Decodes the body of an `Other { ptype: 0x2C, body }` (the bytes
    /// after the type byte): exactly 7 bytes.
    pub fn decode_body(body: &[u8]) -> Result<CrownToggle, PacketError> {
        let b: [u8; Self::LEN - 1] = body.try_into().map_err(|_| PacketError::BadLength {
            ptype: s2c_type::CROWN,
            len: body.len() + 1,
        })?;
        Ok(CrownToggle {
            on: b[0] != 0,
            time: u32::from_le_bytes([b[1], b[2], b[3], b[4]]),
            pid: i16::from_le_bytes([b[5], b[6]]),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crown_toggle_round_trips_with_the_asss_layout() {
        let c = CrownToggle {
            on: true,
            time: 3000,
            pid: -1,
        };
        let b = c.encode();
        assert_eq!(b, [0x2C, 1, 0xB8, 0x0B, 0, 0, 0xFF, 0xFF]);
        assert_eq!(CrownToggle::decode_body(&b[1..]), Ok(c));
        assert!(CrownToggle::decode_body(&b[1..7]).is_err());
        assert!(CrownToggle::decode_body(&[0; 9]).is_err());
    }
}
