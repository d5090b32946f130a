//! Game packets: everything whose first byte is not 0x00
//! (`docs/protocol/game-protocol.md`).
//!
//! [`C2SPacket`] and [`S2CPacket`] decode whole packets (type byte included)
//! from a slice and append their encoding to a caller-owned `Vec<u8>`, so a
//! buffer can be reused. Positions also encode into fixed arrays (see
//! [`relay_position`]). Decoding never panics: bad lengths, bad checksums and
//! malformed bodies are [`PacketError`]s; unknown types come back as `Other`.
//!
//! Text is single-byte Windows-1252 ([`byte_to_char`], [`char_to_byte`]).
//! Encoders truncate over-long text to the field or packet limit.

mod balls;
mod c2s;
pub mod koth;
pub mod objects;
mod position;
mod s2c;
mod text;
mod wire;
mod zone;

#[cfg(test)]
mod tests;

pub use balls::BallPacket;
pub use c2s::{C2SPacket, GoArena, Login, SecurityResponse};
pub use objects::{ObjectChange, ObjectData, ObjectToggle};
pub use position::{
    position_latency, relay_position, ExtraData, ExtraLen, ExtraPositionData, LargePosition,
    Position, SmallPosition, WeaponInfo, MAX_RELAY_LEN, THOR_RELAY_PIXELS,
};
pub use s2c::{
    ArenaListEntry, Brick, FileData, Kill, LoginResponse, MapFileEntry, MapInfo, PlayerEntering,
    Redirect, S2CPacket, ScoreUpdate, SecuritySeeds, ARENA_SETTINGS_LEN,
};
pub use text::{
    byte_to_char, char_to_byte, decode_bytes, join_lines, read_fixed_str, sanitize_login_name,
    write_fixed_str, BadName, MAX_LOGIN_NAME_CHARS,
};
pub use zone::{ClientKind, ZonePacket};

use wire::{Reader, Sink};

/// Why a game packet could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    /// Zero-length input.
    #[error("empty packet")]
    Empty,
    /// First byte 0x00: a core transport packet, not a game packet.
    #[error("type byte 0x00 is a core packet, not a game packet")]
    CorePacket,
    /// Length not allowed for this type.
    #[error("packet type {ptype:#04x}: bad length {len}")]
    BadLength {
        /// Packet type byte.
        ptype: u8,
        /// Length received.
        len: usize,
    },
    /// Position checksum mismatch (§8.2).
    #[error("packet type {ptype:#04x}: bad checksum")]
    BadChecksum {
        /// Packet type byte.
        ptype: u8,
    },
    /// Body does not parse (e.g. a truncated list entry).
    #[error("packet type {ptype:#04x}: {what}")]
    Malformed {
        /// Packet type byte.
        ptype: u8,
        /// What is wrong.
        what: &'static str,
    },
}

/// Checks `len` against `ok` for packet type `ptype`.
fn check_len(ptype: u8, len: usize, ok: bool) -> Result<(), PacketError> {
    if ok {
        Ok(())
    } else {
        Err(PacketError::BadLength { ptype, len })
    }
}

/// The type byte of a game packet, rejecting empty and core packets.
fn game_type(b: &[u8]) -> Result<u8, PacketError> {
    match b.first() {
        None => Err(PacketError::Empty),
        Some(0) => Err(PacketError::CorePacket),
        Some(&t) => Ok(t),
    }
}

/// C2S packet type bytes (§2).
pub mod c2s_type {
    /// Go to arena.
    pub const GO_ARENA: u8 = 0x01;
    /// Leave arena.
    pub const LEAVE_ARENA: u8 = 0x02;
    /// Position.
    pub const POSITION: u8 = 0x03;
    /// Death.
    pub const DEATH: u8 = 0x05;
    /// Chat.
    pub const CHAT: u8 = 0x06;
    /// Green (prize) pick-up.
    pub const GREEN: u8 = 0x07;
    /// Spectate request.
    pub const SPECTATE_REQUEST: u8 = 0x08;
    /// Login (VIE).
    pub const LOGIN: u8 = 0x09;
    /// Rebroadcast (a bot asks the server to forward a packet).
    pub const REBROADCAST: u8 = 0x0A;
    /// Update request (Continuum asks for its update).
    pub const UPDATE_REQUEST: u8 = 0x0B;
    /// Map / LVZ request.
    pub const MAP_REQUEST: u8 = 0x0C;
    /// News request.
    pub const NEWS_REQUEST: u8 = 0x0D;
    /// Voice message.
    pub const VOICE: u8 = 0x0E;
    /// Set freq.
    pub const SET_FREQ: u8 = 0x0F;
    /// Attach.
    pub const ATTACH: u8 = 0x10;
    /// Touch (pick up or claim) a flag.
    pub const TOUCH_FLAG: u8 = 0x13;
    /// Turret kick-off.
    pub const TURRET_KICKOFF: u8 = 0x14;
    /// Drop flags (the flag timer ran out).
    pub const DROP_FLAGS: u8 = 0x15;
    /// Upload file (answer to a file request).
    pub const UPLOAD_FILE: u8 = 0x16;
    /// Registration form (demographics) for the biller.
    pub const REGISTRATION: u8 = 0x17;
    /// Set ship.
    pub const SET_SHIP: u8 = 0x18;
    /// Set banner.
    pub const BANNER: u8 = 0x19;
    /// Security response.
    pub const SECURITY_RESPONSE: u8 = 0x1A;
    /// Security violation reported by the client.
    pub const SECURITY_VIOLATION: u8 = 0x1B;
    /// Drop a brick.
    pub const DROP_BRICK: u8 = 0x1C;
    /// Arena settings change (staff).
    pub const SETTINGS_CHANGE: u8 = 0x1D;
    /// Crown (king of the hill) timer expired.
    pub const CROWN_EXPIRED: u8 = 0x1E;
    /// Shoot a ball.
    pub const SHOOT_BALL: u8 = 0x1F;
    /// Pick up a ball.
    pub const PICKUP_BALL: u8 = 0x20;
    /// Goal scored.
    pub const GOAL: u8 = 0x21;
    /// Login (Continuum).
    pub const CONTINUUM_LOGIN: u8 = 0x24;
    /// Damage report (watch damage).
    pub const DAMAGE_REPORT: u8 = 0x32;
}

/// S2C packet type bytes (§3).
pub mod s2c_type {
    /// Who am I (player id).
    pub const WHO_AM_I: u8 = 0x01;
    /// Entered arena.
    pub const ENTERED_ARENA: u8 = 0x02;
    /// Player entering.
    pub const PLAYER_ENTERING: u8 = 0x03;
    /// Player leaving.
    pub const PLAYER_LEAVING: u8 = 0x04;
    /// Weapon / large position.
    pub const LARGE_POSITION: u8 = 0x05;
    /// Kill.
    pub const KILL: u8 = 0x06;
    /// Chat.
    pub const CHAT: u8 = 0x07;
    /// Green (someone got a prize).
    pub const GREEN: u8 = 0x08;
    /// Score update.
    pub const SCORE_UPDATE: u8 = 0x09;
    /// Login response.
    pub const LOGIN_RESPONSE: u8 = 0x0A;
    /// Soccer goal.
    pub const SOCCER_GOAL: u8 = 0x0B;
    /// Voice message.
    pub const VOICE: u8 = 0x0C;
    /// Freq change.
    pub const FREQ_CHANGE: u8 = 0x0D;
    /// Turret (attach).
    pub const TURRET: u8 = 0x0E;
    /// Arena settings.
    pub const ARENA_SETTINGS: u8 = 0x0F;
    /// Incoming file.
    pub const INCOMING_FILE: u8 = 0x10;
    /// Flag location.
    pub const FLAG_LOCATION: u8 = 0x12;
    /// Flag picked up or claimed.
    pub const FLAG_CLAIM: u8 = 0x13;
    /// Flag game victory or reset.
    pub const FLAG_VICTORY: u8 = 0x14;
    /// Turret kick-off (a player shook off his turrets).
    pub const TURRET_KICKOFF: u8 = 0x15;
    /// Flags dropped.
    pub const FLAG_DROP: u8 = 0x16;
    /// Security seeds and checksum request.
    pub const SECURITY: u8 = 0x18;
    /// Request a file from the client.
    pub const REQUEST_FILE: u8 = 0x19;
    /// Score reset (SS.NET; not sent by ASSS).
    pub const SCORE_RESET: u8 = 0x1A;
    /// Ship reset.
    pub const SHIP_RESET: u8 = 0x1B;
    /// Spectate data request.
    pub const SPECTATE_DATA: u8 = 0x1C;
    /// Ship change.
    pub const SHIP_CHANGE: u8 = 0x1D;
    /// A player's banner.
    pub const BANNER: u8 = 0x1F;
    /// Prize received.
    pub const PRIZE_RECEIVED: u8 = 0x20;
    /// Brick.
    pub const BRICK: u8 = 0x21;
    /// Turf flag owners.
    pub const TURF_FLAGS: u8 = 0x22;
    /// Periodic reward.
    pub const PERIODIC_REWARD: u8 = 0x23;
    /// Keepalive.
    pub const KEEPALIVE: u8 = 0x27;
    /// Small position.
    pub const SMALL_POSITION: u8 = 0x28;
    /// Map file name(s) and checksum(s).
    pub const MAP_INFO: u8 = 0x29;
    /// Map / LVZ file data.
    pub const MAP_DATA: u8 = 0x2A;
    /// Crown on or off (king of the hill).
    pub const CROWN: u8 = 0x2C;
    /// Ball position.
    pub const BALL_POSITION: u8 = 0x2E;
    /// Arena list.
    pub const ARENA_LIST: u8 = 0x2F;
    /// Warp to.
    pub const WARP_TO: u8 = 0x32;
    /// Login text (Continuum).
    pub const LOGIN_TEXT: u8 = 0x33;
    /// Continuum version.
    pub const CONTINUUM_VERSION: u8 = 0x34;
    /// Toggle LVZ objects.
    pub const TOGGLE_OBJECTS: u8 = 0x35;
    /// Change LVZ objects.
    pub const MOVE_OBJECTS: u8 = 0x36;
    /// Redirect to another zone or arena.
    pub const REDIRECT: u8 = 0x3B;
}

/// Ship numbers (§1).
pub mod ship {
    /// Warbird.
    pub const WARBIRD: u8 = 0;
    /// Javelin.
    pub const JAVELIN: u8 = 1;
    /// Spider.
    pub const SPIDER: u8 = 2;
    /// Leviathan.
    pub const LEVIATHAN: u8 = 3;
    /// Terrier.
    pub const TERRIER: u8 = 4;
    /// Weasel.
    pub const WEASEL: u8 = 5;
    /// Lancaster.
    pub const LANCASTER: u8 = 6;
    /// Shark.
    pub const SHARK: u8 = 7;
    /// Spectator mode.
    pub const SPECTATOR: u8 = 8;
}

/// Chat message types (§9.2).
pub mod chat_type {
    /// Arena (green server message).
    pub const ARENA: u8 = 0;
    /// Public macro.
    pub const PUBLIC_MACRO: u8 = 1;
    /// Public.
    pub const PUBLIC: u8 = 2;
    /// Team (own freq).
    pub const TEAM: u8 = 3;
    /// Enemy team (another freq).
    pub const FREQ: u8 = 4;
    /// Private (same arena).
    pub const PRIVATE: u8 = 5;
    /// Remote private (`:name:message`).
    pub const REMOTE_PRIVATE: u8 = 7;
    /// Sysop warning (red).
    pub const SYSOP_WARNING: u8 = 8;
    /// Chat channel.
    pub const CHANNEL: u8 = 9;
    /// Fuchsia text (Continuum only, server use).
    pub const FUCHSIA: u8 = 79;
}

/// Status bits of position packets (§8.1).
pub mod status {
    /// Stealth on.
    pub const STEALTH: u8 = 0x01;
    /// Cloak on.
    pub const CLOAK: u8 = 0x02;
    /// X-radar on.
    pub const XRADAR: u8 = 0x04;
    /// Antiwarp on.
    pub const ANTIWARP: u8 = 0x08;
    /// Flash (warp/portal effect).
    pub const FLASH: u8 = 0x10;
    /// In a safe zone.
    pub const SAFEZONE: u8 = 0x20;
    /// UFO.
    pub const UFO: u8 = 0x40;
    /// SS.NET "inert" (unverified).
    pub const INERT: u8 = 0x80;
}

/// Weapon types, bits 0–4 of [`WeaponInfo`] (§8.1).
pub mod weapon_type {
    /// No weapon.
    pub const NONE: u8 = 0;
    /// Bullet.
    pub const BULLET: u8 = 1;
    /// Bouncing bullet.
    pub const BOUNCE_BULLET: u8 = 2;
    /// Bomb.
    pub const BOMB: u8 = 3;
    /// Proximity bomb.
    pub const PROX_BOMB: u8 = 4;
    /// Repel.
    pub const REPEL: u8 = 5;
    /// Decoy.
    pub const DECOY: u8 = 6;
    /// Burst.
    pub const BURST: u8 = 7;
    /// Thor.
    pub const THOR: u8 = 8;
}

/// Client feature bits a bot may declare in [`Login::client_features`]
/// (SS.NET, §5.1).
pub mod client_feature {
    /// Watch-damage packets.
    pub const WATCH_DAMAGE: u16 = 1;
    /// Batched positions 0x39/0x3A.
    pub const BATCHED_POSITIONS: u16 = 2;
    /// Warp-to.
    pub const WARP_TO: u16 = 4;
    /// LVZ objects.
    pub const LVZ: u16 = 8;
    /// Redirect 0x3B.
    pub const REDIRECT: u16 = 16;
    /// Select box 0x3C.
    pub const SELECT_BOX: u16 = 32;
}

/// Login response code (§5.3); any byte value may appear on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct LoginCode(pub u8);

impl LoginCode {
    /// OK.
    pub const OK: Self = Self(0x00);
    /// Unregistered name (new user).
    pub const NEW_USER: Self = Self(0x01);
    /// Bad password.
    pub const BAD_PASSWORD: Self = Self(0x02);
    /// Arena full.
    pub const ARENA_FULL: Self = Self(0x03);
    /// Locked out.
    pub const LOCKED_OUT: Self = Self(0x04);
    /// No permission.
    pub const NO_PERMISSION: Self = Self(0x05);
    /// Spectate only (login proceeds).
    pub const SPECTATE_ONLY: Self = Self(0x06);
    /// Too many points.
    pub const TOO_MANY_POINTS: Self = Self(0x07);
    /// Connection too slow.
    pub const TOO_SLOW: Self = Self(0x08);
    /// No permission (2).
    pub const NO_PERMISSION2: Self = Self(0x09);
    /// Server not accepting new connections.
    pub const NO_NEW_CONNECTIONS: Self = Self(0x0A);
    /// Bad name.
    pub const BAD_NAME: Self = Self(0x0B);
    /// Offensive name.
    pub const OFFENSIVE_NAME: Self = Self(0x0C);
    /// Server not recording scores (login proceeds).
    pub const NO_SCORES: Self = Self(0x0D);
    /// Server busy.
    pub const SERVER_BUSY: Self = Self(0x0E);
    /// Usage too low.
    pub const TOO_LOW_USAGE: Self = Self(0x0F);
    /// OK, send registration data (login proceeds).
    pub const ASK_DEMOGRAPHICS: Self = Self(0x10);
    /// Too many demo players.
    pub const TOO_MANY_DEMO: Self = Self(0x11);
    /// No demo players allowed.
    pub const NO_DEMO: Self = Self(0x12);
    /// Custom text sent first in S2C 0x33 (Continuum only).
    pub const CUSTOM_TEXT: Self = Self(0x13);

    /// Whether the login proceeds with this code.
    pub fn proceeds(self) -> bool {
        matches!(
            self,
            Self::OK | Self::SPECTATE_ONLY | Self::NO_SCORES | Self::ASK_DEMOGRAPHICS
        )
    }
}

/// A chat message (C2S 0x06, S2C 0x07; §9.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Chat {
    /// Message type ([`chat_type`]).
    pub chat_type: u8,
    /// Sound code.
    pub sound: u8,
    /// C2S: target pid; S2C: sender pid (−1 = none).
    pub pid: i16,
    /// Text; control characters read as `_`.
    pub text: String,
}

impl Chat {
    /// Shortest chat packet (empty text + NUL).
    pub const MIN_LEN: usize = 6;
    /// Longest C2S chat packet ASSS accepts.
    pub const C2S_MAX_LEN: usize = 500;
    /// Longest S2C chat packet.
    pub const S2C_MAX_LEN: usize = 508;

    /// Decodes a chat packet of type `ptype` whose maximum length is `max`.
    /// The text ends at the first NUL or the end of the packet, and is
    /// capped so that re-encoding (text + NUL) fits in `max`.
    fn decode(b: &[u8], ptype: u8, max: usize) -> Result<Self, PacketError> {
        check_len(ptype, b.len(), (Self::MIN_LEN..=max).contains(&b.len()))?;
        let mut r = Reader::at(b, 1);
        let chat_type = r.u8();
        let sound = r.u8();
        let pid = r.i16();
        let (text, _) = text::split_cstr(r.rest(), text::chat_char);
        let text = text.chars().take(max - Self::MIN_LEN).collect();
        Ok(Chat {
            chat_type,
            sound,
            pid,
            text,
        })
    }

    fn write(&self, out: &mut impl Sink, ptype: u8, max: usize) {
        out.put_u8(ptype);
        out.put_u8(self.chat_type);
        out.put_u8(self.sound);
        out.put_i16(self.pid);
        text::put_cstr(out, &self.text, max - Self::MIN_LEN);
    }
}

/// A prize pick-up (C2S 0x07; S2C 0x08 adds the picker's pid; §11.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Green {
    /// Time, ticks.
    pub time: u32,
    /// X as sent by the client.
    pub x: i16,
    /// Y as sent by the client.
    pub y: i16,
    /// Prize number.
    pub prize: i16,
}

impl Green {
    fn read(r: &mut Reader<'_>) -> Self {
        Green {
            time: r.u32(),
            x: r.i16(),
            y: r.i16(),
            prize: r.i16(),
        }
    }
    fn write(&self, out: &mut impl Sink) {
        out.put_u32(self.time);
        out.put_i16(self.x);
        out.put_i16(self.y);
        out.put_i16(self.prize);
    }
}
