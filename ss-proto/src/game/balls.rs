//! The soccer ball record shared by C2S 0x1F (fire) and S2C 0x2E (ball
//! position) (`docs/protocol/game-protocol.md` §15).

use super::wire::{Reader, Sink};

/// One ball's state on the wire: 15 bytes after the type byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct BallPacket {
    /// Ball id (0–7 on the clients we know).
    pub ball: u8,
    /// X, pixels.
    pub x: i16,
    /// Y, pixels.
    pub y: i16,
    /// X speed (pixels per 10 s).
    pub x_speed: i16,
    /// Y speed.
    pub y_speed: i16,
    /// Carrier, or the player who fired it last (−1 = nobody).
    pub carrier: i16,
    /// Server ticks when it was fired (0 = carried); a pickup must quote it.
    pub time: u32,
}

impl BallPacket {
    /// Whole packet length, type byte included.
    pub const LEN: usize = 16;

    pub(super) fn read(r: &mut Reader<'_>) -> Self {
        BallPacket {
            ball: r.u8(),
            x: r.i16(),
            y: r.i16(),
            x_speed: r.i16(),
            y_speed: r.i16(),
            carrier: r.i16(),
            time: r.u32(),
        }
    }

    pub(super) fn write(&self, out: &mut impl Sink) {
        out.put_u8(self.ball);
        out.put_i16(self.x);
        out.put_i16(self.y);
        out.put_i16(self.x_speed);
        out.put_i16(self.y_speed);
        out.put_i16(self.carrier);
        out.put_u32(self.time);
    }
}
