//! Positions and weapons (§8): C2S 0x03, S2C 0x05 and 0x28, and relaying.
//!
//! Everything here encodes into fixed arrays as well as `Vec`s, so the
//! server's position hot path never allocates.

use super::wire::{xor_all, ArrayWriter, Reader, Sink};
use super::{c2s_type, s2c_type, weapon_type, PacketError};

/// The 16-bit weapon word (§8.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct WeaponInfo(pub u16);

impl WeaponInfo {
    /// No weapon fired.
    pub const NONE: WeaponInfo = WeaponInfo(0);

    /// Packs the fields; each is masked to its bit width.
    pub fn new(
        kind: u8,
        level: u8,
        shrap_bouncing: bool,
        shrap_level: u8,
        shrap: u8,
        alternate: bool,
    ) -> Self {
        let w = u16::from(kind & 0x1F)
            | u16::from(level & 0x3) << 5
            | u16::from(shrap_bouncing) << 7
            | u16::from(shrap_level & 0x3) << 8
            | u16::from(shrap & 0x1F) << 10
            | u16::from(alternate) << 15;
        WeaponInfo(w)
    }
    /// Bits 0–4: weapon type ([`weapon_type`]).
    pub fn kind(self) -> u8 {
        (self.0 & 0x1F) as u8
    }
    /// Bits 5–6: level (0 = L1).
    pub fn level(self) -> u8 {
        (self.0 >> 5 & 0x3) as u8
    }
    /// Bit 7: shrapnel bounces.
    pub fn shrap_bouncing(self) -> bool {
        self.0 & 0x80 != 0
    }
    /// Bits 8–9: shrapnel level.
    pub fn shrap_level(self) -> u8 {
        (self.0 >> 8 & 0x3) as u8
    }
    /// Bits 10–14: shrapnel count.
    pub fn shrap(self) -> u8 {
        (self.0 >> 10 & 0x1F) as u8
    }
    /// Bit 15: alternate fire (mine for bombs, multi-fire for bullets).
    pub fn alternate(self) -> bool {
        self.0 & 0x8000 != 0
    }
    /// Whether a weapon was fired (type ≠ 0).
    pub fn is_fired(self) -> bool {
        self.kind() != weapon_type::NONE
    }
    /// A bomb or proximity bomb with the alternate bit: a mine.
    pub fn is_mine(self) -> bool {
        self.alternate() && matches!(self.kind(), weapon_type::BOMB | weapon_type::PROX_BOMB)
    }
    /// How far from its sender this weapon is relayed, pixels (§8.4):
    /// `None` for a mine, which goes to everyone; `bullet` for bullets
    /// (`Net:BulletPixels`), [`THOR_RELAY_PIXELS`] for a thor, `other`
    /// (`Net:WeaponPixels`) for the rest.
    pub fn relay_reach(self, bullet: i32, other: i32) -> Option<i32> {
        if self.is_mine() {
            return None;
        }
        Some(match self.kind() {
            weapon_type::BULLET | weapon_type::BOUNCE_BULLET => bullet,
            weapon_type::THOR => THOR_RELAY_PIXELS,
            _ => other,
        })
    }
}

/// A thor is relayed this far from its sender (pixels): in practice to the
/// whole map, whatever `Net:WeaponPixels` says (§8.4).
pub const THOR_RELAY_PIXELS: i32 = 30_000;

/// The 10-byte extra position data (§8.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ExtraPositionData {
    /// Energy.
    pub energy: u16,
    /// Server-to-client ping, ticks.
    pub s2c_ping: u16,
    /// Timer.
    pub timer: u16,
    /// Item bits; see the accessors.
    pub items: u32,
}

impl ExtraPositionData {
    /// Wire size.
    pub const LEN: usize = 10;

    fn bits(self, shift: u32, width: u32) -> u8 {
        (self.items >> shift & ((1 << width) - 1)) as u8
    }
    /// Bit 0: shields on.
    pub fn shields(self) -> bool {
        self.bits(0, 1) != 0
    }
    /// Bit 1: super on.
    pub fn super_(self) -> bool {
        self.bits(1, 1) != 0
    }
    /// Bits 2–5: bursts.
    pub fn bursts(self) -> u8 {
        self.bits(2, 4)
    }
    /// Bits 6–9: repels.
    pub fn repels(self) -> u8 {
        self.bits(6, 4)
    }
    /// Bits 10–13: thors.
    pub fn thors(self) -> u8 {
        self.bits(10, 4)
    }
    /// Bits 14–17: bricks.
    pub fn bricks(self) -> u8 {
        self.bits(14, 4)
    }
    /// Bits 18–21: decoys.
    pub fn decoys(self) -> u8 {
        self.bits(18, 4)
    }
    /// Bits 22–25: rockets.
    pub fn rockets(self) -> u8 {
        self.bits(22, 4)
    }
    /// Bits 26–29: portals.
    pub fn portals(self) -> u8 {
        self.bits(26, 4)
    }

    fn read(r: &mut Reader<'_>) -> Self {
        ExtraPositionData {
            energy: r.u16(),
            s2c_ping: r.u16(),
            timer: r.u16(),
            items: r.u32(),
        }
    }

    fn write(&self, out: &mut impl Sink) {
        out.put_u16(self.energy);
        out.put_u16(self.s2c_ping);
        out.put_u16(self.timer);
        out.put_u32(self.items);
    }
}

/// Extra bytes at the end of an S2C position (0, 2 or 10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ExtraData {
    /// Nothing appended.
    #[default]
    None,
    /// Energy only (2 bytes).
    Energy(u16),
    /// The full 10-byte record.
    Full(ExtraPositionData),
}

impl ExtraData {
    /// Bytes this adds to the packet.
    pub fn len(&self) -> usize {
        match self {
            ExtraData::None => 0,
            ExtraData::Energy(_) => 2,
            ExtraData::Full(_) => ExtraPositionData::LEN,
        }
    }
    /// True for [`ExtraData::None`].
    pub fn is_empty(&self) -> bool {
        matches!(self, ExtraData::None)
    }

    fn valid_len(n: usize) -> bool {
        matches!(n, 0 | 2 | ExtraPositionData::LEN)
    }

    /// Reads `extra_len` (0, 2 or 10) extra bytes.
    fn read(r: &mut Reader<'_>, extra_len: usize) -> Self {
        match extra_len {
            0 => ExtraData::None,
            2 => ExtraData::Energy(r.u16()),
            _ => ExtraData::Full(ExtraPositionData::read(r)),
        }
    }

    fn write(&self, out: &mut impl Sink) {
        match self {
            ExtraData::None => {}
            ExtraData::Energy(e) => out.put_u16(*e),
            ExtraData::Full(x) => x.write(out),
        }
    }
}

/// C2S 0x03: the client's own position (22 bytes, 32 with extra data).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Position {
    /// Rotation (0–39 in practice).
    pub rotation: i8,
    /// The client's estimate of server time, ticks.
    pub time: u32,
    /// X, pixels.
    pub x: i16,
    /// Y, pixels.
    pub y: i16,
    /// X speed.
    pub x_speed: i16,
    /// Y speed.
    pub y_speed: i16,
    /// Status bits ([`super::status`]).
    pub status: u8,
    /// Bounty.
    pub bounty: u16,
    /// Energy.
    pub energy: i16,
    /// Weapon fired with this packet.
    pub weapon: WeaponInfo,
    /// Extra data (makes the packet 32 bytes).
    pub extra: Option<ExtraPositionData>,
}

impl Position {
    /// Length without extra data.
    pub const LEN: usize = 22;
    /// Length with extra data, the largest form.
    pub const MAX_LEN: usize = 32;

    /// Decodes a whole packet (type byte included); checks length and checksum.
    pub fn decode(b: &[u8]) -> Result<Self, PacketError> {
        let ptype = c2s_type::POSITION;
        if b.len() != Self::LEN && b.len() != Self::MAX_LEN {
            return Err(PacketError::BadLength {
                ptype,
                len: b.len(),
            });
        }
        if xor_all(b.get(..Self::LEN).unwrap_or(&[])) != 0 {
            return Err(PacketError::BadChecksum { ptype });
        }
        let mut r = Reader::at(b, 1);
        let rotation = r.i8();
        let time = r.u32();
        let x_speed = r.i16();
        let y = r.i16();
        let _checksum = r.u8();
        let status = r.u8();
        let x = r.i16();
        let y_speed = r.i16();
        let bounty = r.u16();
        let energy = r.i16();
        let weapon = WeaponInfo(r.u16());
        let extra =
            (r.remaining() == ExtraPositionData::LEN).then(|| ExtraPositionData::read(&mut r));
        Ok(Position {
            rotation,
            time,
            x,
            y,
            x_speed,
            y_speed,
            status,
            bounty,
            energy,
            weapon,
            extra,
        })
    }

    /// The 22 checksummed bytes.
    fn header(&self) -> [u8; Self::LEN] {
        let mut h = [0u8; Self::LEN];
        let mut w = ArrayWriter::new(&mut h);
        w.put_u8(c2s_type::POSITION);
        w.put_i8(self.rotation);
        w.put_u32(self.time);
        w.put_i16(self.x_speed);
        w.put_i16(self.y);
        w.put_u8(0); // checksum, below
        w.put_u8(self.status);
        w.put_i16(self.x);
        w.put_i16(self.y_speed);
        w.put_u16(self.bounty);
        w.put_i16(self.energy);
        w.put_u16(self.weapon.0);
        h[10] = xor_all(&h);
        h
    }

    fn write(&self, out: &mut impl Sink) {
        out.put(&self.header());
        if let Some(x) = &self.extra {
            x.write(out);
        }
    }

    /// Appends the packet to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        self.write(out);
    }

    /// Writes the packet into `buf`, returning its length (22 or 32).
    pub fn encode_into(&self, buf: &mut [u8; Self::MAX_LEN]) -> usize {
        let mut w = ArrayWriter::new(buf);
        self.write(&mut w);
        w.len()
    }
}

/// S2C 0x05: weapon / large position (21 bytes + 0/2/10 extra).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct LargePosition {
    /// Rotation.
    pub rotation: i8,
    /// Server time when relayed, low 16 bits.
    pub time: u16,
    /// X, pixels.
    pub x: i16,
    /// Y, pixels.
    pub y: i16,
    /// X speed.
    pub x_speed: i16,
    /// Y speed.
    pub y_speed: i16,
    /// Player id.
    pub pid: u16,
    /// Status bits.
    pub status: u8,
    /// Sender's latency, ticks.
    pub latency: u8,
    /// Bounty.
    pub bounty: u16,
    /// Weapon.
    pub weapon: WeaponInfo,
    /// Extra bytes.
    pub extra: ExtraData,
}

impl LargePosition {
    /// Length without extra bytes (and the checksummed part).
    pub const BASE_LEN: usize = 21;
    /// Largest form (with 10 extra bytes).
    pub const MAX_LEN: usize = 31;

    /// Decodes a whole packet; checks length and checksum.
    pub fn decode(b: &[u8]) -> Result<Self, PacketError> {
        let ptype = s2c_type::LARGE_POSITION;
        let bad_len = PacketError::BadLength {
            ptype,
            len: b.len(),
        };
        let extra_len = b.len().wrapping_sub(Self::BASE_LEN);
        if b.len() < Self::BASE_LEN || !ExtraData::valid_len(extra_len) {
            return Err(bad_len);
        }
        if xor_all(b.get(..Self::BASE_LEN).unwrap_or(&[])) != 0 {
            return Err(PacketError::BadChecksum { ptype });
        }
        let mut r = Reader::at(b, 1);
        let rotation = r.i8();
        let time = r.u16();
        let x = r.i16();
        let y_speed = r.i16();
        let pid = r.u16();
        let x_speed = r.i16();
        let _checksum = r.u8();
        let status = r.u8();
        let latency = r.u8();
        let y = r.i16();
        let bounty = r.u16();
        let weapon = WeaponInfo(r.u16());
        let extra = ExtraData::read(&mut r, extra_len);
        Ok(LargePosition {
            rotation,
            time,
            x,
            y,
            x_speed,
            y_speed,
            pid,
            status,
            latency,
            bounty,
            weapon,
            extra,
        })
    }

    fn header(&self) -> [u8; Self::BASE_LEN] {
        let mut h = [0u8; Self::BASE_LEN];
        let mut w = ArrayWriter::new(&mut h);
        w.put_u8(s2c_type::LARGE_POSITION);
        w.put_i8(self.rotation);
        w.put_u16(self.time);
        w.put_i16(self.x);
        w.put_i16(self.y_speed);
        w.put_u16(self.pid);
        w.put_i16(self.x_speed);
        w.put_u8(0); // checksum, below
        w.put_u8(self.status);
        w.put_u8(self.latency);
        w.put_i16(self.y);
        w.put_u16(self.bounty);
        w.put_u16(self.weapon.0);
        h[12] = xor_all(&h);
        h
    }

    fn write(&self, out: &mut impl Sink) {
        out.put(&self.header());
        self.extra.write(out);
    }

    /// Appends the packet to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        self.write(out);
    }

    /// Writes the packet into `buf`, returning its length (21, 23 or 31).
    pub fn encode_into(&self, buf: &mut [u8; Self::MAX_LEN]) -> usize {
        let mut w = ArrayWriter::new(buf);
        self.write(&mut w);
        w.len()
    }
}

/// S2C 0x28: small position without weapon (16 bytes + 0/2/10 extra).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SmallPosition {
    /// Rotation.
    pub rotation: i8,
    /// Server time when relayed, low 16 bits.
    pub time: u16,
    /// X, pixels.
    pub x: i16,
    /// Y, pixels.
    pub y: i16,
    /// X speed.
    pub x_speed: i16,
    /// Y speed.
    pub y_speed: i16,
    /// Player id, low 8 bits.
    pub pid: u8,
    /// Status bits.
    pub status: u8,
    /// Sender's latency, ticks.
    pub latency: u8,
    /// Bounty, low 8 bits.
    pub bounty: u8,
    /// Extra bytes.
    pub extra: ExtraData,
}

impl SmallPosition {
    /// Length without extra bytes.
    pub const BASE_LEN: usize = 16;
    /// Largest form (with 10 extra bytes).
    pub const MAX_LEN: usize = 26;

    /// Decodes a whole packet; checks the length.
    pub fn decode(b: &[u8]) -> Result<Self, PacketError> {
        let bad_len = PacketError::BadLength {
            ptype: s2c_type::SMALL_POSITION,
            len: b.len(),
        };
        let extra_len = b.len().wrapping_sub(Self::BASE_LEN);
        if b.len() < Self::BASE_LEN || !ExtraData::valid_len(extra_len) {
            return Err(bad_len);
        }
        let mut r = Reader::at(b, 1);
        let rotation = r.i8();
        let time = r.u16();
        let x = r.i16();
        let latency = r.u8();
        let bounty = r.u8();
        let pid = r.u8();
        let status = r.u8();
        let y_speed = r.i16();
        let y = r.i16();
        let x_speed = r.i16();
        let extra = ExtraData::read(&mut r, extra_len);
        Ok(SmallPosition {
            rotation,
            time,
            x,
            y,
            x_speed,
            y_speed,
            pid,
            status,
            latency,
            bounty,
            extra,
        })
    }

    fn write(&self, out: &mut impl Sink) {
        out.put_u8(s2c_type::SMALL_POSITION);
        out.put_i8(self.rotation);
        out.put_u16(self.time);
        out.put_i16(self.x);
        out.put_u8(self.latency);
        out.put_u8(self.bounty);
        out.put_u8(self.pid);
        out.put_u8(self.status);
        out.put_i16(self.y_speed);
        out.put_i16(self.y);
        out.put_i16(self.x_speed);
        self.extra.write(out);
    }

    /// Appends the packet to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        self.write(out);
    }

    /// Writes the packet into `buf`, returning its length (16, 18 or 26).
    pub fn encode_into(&self, buf: &mut [u8; Self::MAX_LEN]) -> usize {
        let mut w = ArrayWriter::new(buf);
        self.write(&mut w);
        w.len()
    }
}

/// How many extra bytes a recipient gets (§8.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ExtraLen {
    /// 0 bytes.
    #[default]
    None,
    /// 2 bytes: energy.
    Energy,
    /// 10 bytes: full extra data (falls back to 2 if the sender sent none).
    Full,
}

/// Largest relayed position packet (0x05 with 10 extra bytes).
pub const MAX_RELAY_LEN: usize = LargePosition::MAX_LEN;

/// Builds the S2C position a recipient gets for `src` (§8.4/§8.5) into
/// `out`, returning its length: 0x05 if a weapon was fired, bounty > 255 or
/// `pid` > 255, else 0x28. `server_time` is the current server time (the low
/// 16 bits are sent); the sender's energy goes first in the extra bytes.
pub fn relay_position(
    src: &Position,
    pid: u16,
    server_time: u32,
    latency: u8,
    extra_len: ExtraLen,
    out: &mut [u8; MAX_RELAY_LEN],
) -> usize {
    let energy = src.energy as u16;
    let extra = match (extra_len, src.extra) {
        (ExtraLen::None, _) => ExtraData::None,
        (ExtraLen::Energy, _) | (ExtraLen::Full, None) => ExtraData::Energy(energy),
        (ExtraLen::Full, Some(x)) => ExtraData::Full(ExtraPositionData { energy, ..x }),
    };
    let time = server_time as u16;
    let mut w = ArrayWriter::new(out);
    if src.weapon.is_fired() || src.bounty > 0xFF || pid > 0xFF {
        let p = LargePosition {
            rotation: src.rotation,
            time,
            x: src.x,
            y: src.y,
            x_speed: src.x_speed,
            y_speed: src.y_speed,
            pid,
            status: src.status,
            latency,
            bounty: src.bounty,
            weapon: src.weapon,
            extra,
        };
        p.write(&mut w);
    } else {
        let p = SmallPosition {
            rotation: src.rotation,
            time,
            x: src.x,
            y: src.y,
            x_speed: src.x_speed,
            y_speed: src.y_speed,
            pid: pid as u8,
            status: src.status,
            latency,
            bounty: src.bounty as u8,
            extra,
        };
        p.write(&mut w);
    }
    w.len()
}

/// Latency of a position stamped `stamp` arriving at server time `now`
/// (31-bit tick difference, clamped to 0–255; §8.3).
pub fn position_latency(now: u32, stamp: u32) -> u8 {
    let diff = ((now << 1).wrapping_sub(stamp << 1) as i32) >> 1;
    diff.clamp(0, 255) as u8
}
