//! Client-to-server game packets (§2).

use super::balls::BallPacket;
use super::position::Position;
use super::text::{put_fixed_str, read_fixed_str};
use super::wire::{Reader, Sink};
use super::{c2s_type as t, check_len, game_type, Chat, Green, PacketError};

/// A decoded client-to-server game packet.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum C2SPacket {
    /// 0x01: enter or change arena.
    GoArena(GoArena),
    /// 0x02: leave the current arena.
    LeaveArena,
    /// 0x03: position, maybe with a weapon.
    Position(Position),
    /// 0x05: "I was killed by `killer`".
    Death {
        /// Killer's pid.
        killer: i16,
        /// The dead player's bounty.
        bounty: i16,
    },
    /// 0x06: chat or command.
    Chat(Chat),
    /// 0x07: prize picked up.
    Green(Green),
    /// 0x08: spectate `pid` (−1 = stop).
    SpectateRequest {
        /// Player to watch.
        pid: i16,
    },
    /// 0x09 (VIE) or 0x24 (Continuum): login.
    Login(Box<Login>),
    /// 0x0C: map / LVZ request; `None` is the 1-byte form (the map).
    MapRequest {
        /// Index into the S2C 0x29 list (0 = map).
        file_index: Option<u16>,
    },
    /// 0x0D: news.txt request.
    NewsRequest,
    /// 0x0F: change freq.
    SetFreq {
        /// Requested freq.
        freq: i16,
    },
    /// 0x10: attach to `pid` as a turret (−1 = detach).
    Attach {
        /// Player to attach to.
        pid: i16,
    },
    /// 0x14: shake off turrets.
    TurretKickoff,
    /// 0x18: change ship.
    SetShip {
        /// Requested ship ([`super::ship`]).
        ship: u8,
    },
    /// 0x1A: security check response.
    SecurityResponse(SecurityResponse),
    /// 0x13: touch (pick up or claim) flag `fid`.
    TouchFlag {
        /// Flag id.
        fid: i16,
    },
    /// 0x15: the flag timer ran out: drop the carried flags.
    DropFlags,
    /// 0x1C: drop a brick at tile (x, y) (§16).
    DropBrick {
        /// X, tiles.
        x: i16,
        /// Y, tiles.
        y: i16,
    },
    /// 0x1F: the carrier fires (or loses) a ball (§15).
    ShootBall(BallPacket),
    /// 0x20: pick up a ball, quoting the time of its last ball packet (§15).
    PickupBall {
        /// Ball id.
        ball: u8,
        /// The `time` of the ball packet the client saw.
        time: u32,
    },
    /// 0x21: a ball the sender fired went into a goal at tile (x, y) (§15).
    Goal {
        /// Ball id.
        ball: u8,
        /// X, tiles.
        x: i16,
        /// Y, tiles.
        y: i16,
    },
    /// Any other type: the type byte and the bytes after it.
    Other {
        /// Type byte.
        ptype: u8,
        /// Body after the type byte.
        body: Vec<u8>,
    },
}

impl C2SPacket {
    /// Decodes one whole packet (type byte first).
    pub fn decode(b: &[u8]) -> Result<Self, PacketError> {
        let ptype = game_type(b)?;
        let len = b.len();
        let mut r = Reader::at(b, 1);
        let p = match ptype {
            t::GO_ARENA => C2SPacket::GoArena(GoArena::decode(b)?),
            t::LEAVE_ARENA => {
                check_len(ptype, len, len == 1)?;
                C2SPacket::LeaveArena
            }
            t::POSITION => C2SPacket::Position(Position::decode(b)?),
            t::DEATH => {
                check_len(ptype, len, len == 5)?;
                C2SPacket::Death {
                    killer: r.i16(),
                    bounty: r.i16(),
                }
            }
            t::CHAT => C2SPacket::Chat(Chat::decode(b, ptype, Chat::C2S_MAX_LEN)?),
            t::GREEN => {
                check_len(ptype, len, len == 11)?;
                C2SPacket::Green(Green::read(&mut r))
            }
            t::SPECTATE_REQUEST => {
                check_len(ptype, len, len == 3)?;
                C2SPacket::SpectateRequest { pid: r.i16() }
            }
            t::LOGIN | t::CONTINUUM_LOGIN => C2SPacket::Login(Box::new(Login::decode(b)?)),
            t::MAP_REQUEST => {
                check_len(ptype, len, len == 1 || len == 3)?;
                C2SPacket::MapRequest {
                    file_index: (len == 3).then(|| r.u16()),
                }
            }
            t::NEWS_REQUEST => {
                check_len(ptype, len, len == 1)?;
                C2SPacket::NewsRequest
            }
            t::SET_FREQ => {
                check_len(ptype, len, len == 3)?;
                C2SPacket::SetFreq { freq: r.i16() }
            }
            t::ATTACH => {
                check_len(ptype, len, len == 3)?;
                C2SPacket::Attach { pid: r.i16() }
            }
            // ASSS does not check this length; extra bytes are ignored.
            t::TURRET_KICKOFF => C2SPacket::TurretKickoff,
            t::SET_SHIP => {
                check_len(ptype, len, len == 2)?;
                C2SPacket::SetShip { ship: r.u8() }
            }
            t::SECURITY_RESPONSE => C2SPacket::SecurityResponse(SecurityResponse::decode(b)?),
            t::TOUCH_FLAG => {
                check_len(ptype, len, len == 3)?;
                C2SPacket::TouchFlag { fid: r.i16() }
            }
            t::DROP_FLAGS => {
                check_len(ptype, len, len == 1)?;
                C2SPacket::DropFlags
            }
            t::DROP_BRICK => {
                check_len(ptype, len, len == 5)?;
                C2SPacket::DropBrick {
                    x: r.i16(),
                    y: r.i16(),
                }
            }
            t::SHOOT_BALL => {
                check_len(ptype, len, len == BallPacket::LEN)?;
                C2SPacket::ShootBall(BallPacket::read(&mut r))
            }
            t::PICKUP_BALL => {
                check_len(ptype, len, len == 6)?;
                C2SPacket::PickupBall {
                    ball: r.u8(),
                    time: r.u32(),
                }
            }
            t::GOAL => {
                check_len(ptype, len, len == 6)?;
                C2SPacket::Goal {
                    ball: r.u8(),
                    x: r.i16(),
                    y: r.i16(),
                }
            }
            _ => C2SPacket::Other {
                ptype,
                body: r.rest().to_vec(),
            },
        };
        Ok(p)
    }

    /// Appends the encoded packet to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            C2SPacket::GoArena(g) => g.write(out),
            C2SPacket::LeaveArena => out.put_u8(t::LEAVE_ARENA),
            C2SPacket::Position(p) => p.encode(out),
            C2SPacket::Death { killer, bounty } => {
                out.put_u8(t::DEATH);
                out.put_i16(*killer);
                out.put_i16(*bounty);
            }
            C2SPacket::Chat(c) => c.write(out, t::CHAT, Chat::C2S_MAX_LEN),
            C2SPacket::Green(g) => {
                out.put_u8(t::GREEN);
                g.write(out);
            }
            C2SPacket::SpectateRequest { pid } => {
                out.put_u8(t::SPECTATE_REQUEST);
                out.put_i16(*pid);
            }
            C2SPacket::Login(l) => l.write(out),
            C2SPacket::MapRequest { file_index } => {
                out.put_u8(t::MAP_REQUEST);
                if let Some(i) = file_index {
                    out.put_u16(*i);
                }
            }
            C2SPacket::NewsRequest => out.put_u8(t::NEWS_REQUEST),
            C2SPacket::SetFreq { freq } => {
                out.put_u8(t::SET_FREQ);
                out.put_i16(*freq);
            }
            C2SPacket::Attach { pid } => {
                out.put_u8(t::ATTACH);
                out.put_i16(*pid);
            }
            C2SPacket::TurretKickoff => out.put_u8(t::TURRET_KICKOFF),
            C2SPacket::SetShip { ship } => {
                out.put_u8(t::SET_SHIP);
                out.put_u8(*ship);
            }
            C2SPacket::SecurityResponse(s) => s.write(out),
            C2SPacket::TouchFlag { fid } => {
                out.put_u8(t::TOUCH_FLAG);
                out.put_i16(*fid);
            }
            C2SPacket::DropFlags => out.put_u8(t::DROP_FLAGS),
            C2SPacket::DropBrick { x, y } => {
                out.put_u8(t::DROP_BRICK);
                out.put_i16(*x);
                out.put_i16(*y);
            }
            C2SPacket::ShootBall(b) => {
                out.put_u8(t::SHOOT_BALL);
                b.write(out);
            }
            C2SPacket::PickupBall { ball, time } => {
                out.put_u8(t::PICKUP_BALL);
                out.put_u8(*ball);
                out.put_u32(*time);
            }
            C2SPacket::Goal { ball, x, y } => {
                out.put_u8(t::GOAL);
                out.put_u8(*ball);
                out.put_i16(*x);
                out.put_i16(*y);
            }
            C2SPacket::Other { ptype, body } => {
                out.put_u8(*ptype);
                out.put(body);
            }
        }
    }

    /// The type byte this packet encodes with.
    pub fn packet_type(&self) -> u8 {
        match self {
            C2SPacket::GoArena(_) => t::GO_ARENA,
            C2SPacket::LeaveArena => t::LEAVE_ARENA,
            C2SPacket::Position(_) => t::POSITION,
            C2SPacket::Death { .. } => t::DEATH,
            C2SPacket::Chat(_) => t::CHAT,
            C2SPacket::Green(_) => t::GREEN,
            C2SPacket::SpectateRequest { .. } => t::SPECTATE_REQUEST,
            C2SPacket::Login(l) if l.is_continuum() => t::CONTINUUM_LOGIN,
            C2SPacket::Login(_) => t::LOGIN,
            C2SPacket::MapRequest { .. } => t::MAP_REQUEST,
            C2SPacket::NewsRequest => t::NEWS_REQUEST,
            C2SPacket::SetFreq { .. } => t::SET_FREQ,
            C2SPacket::Attach { .. } => t::ATTACH,
            C2SPacket::TurretKickoff => t::TURRET_KICKOFF,
            C2SPacket::SetShip { .. } => t::SET_SHIP,
            C2SPacket::SecurityResponse(_) => t::SECURITY_RESPONSE,
            C2SPacket::TouchFlag { .. } => t::TOUCH_FLAG,
            C2SPacket::DropFlags => t::DROP_FLAGS,
            C2SPacket::DropBrick { .. } => t::DROP_BRICK,
            C2SPacket::ShootBall(_) => t::SHOOT_BALL,
            C2SPacket::PickupBall { .. } => t::PICKUP_BALL,
            C2SPacket::Goal { .. } => t::GOAL,
            C2SPacket::Other { ptype, .. } => *ptype,
        }
    }
}

/// C2S 0x01 go to arena (26 bytes VIE, 27 Continuum; §6.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
pub struct GoArena {
    /// Desired ship (0–8).
    pub ship: u8,
    /// Obscenity filter on (byte 2, ASSS order).
    pub obscenity_filter: bool,
    /// Accepts audio messages (byte 3, ASSS order).
    pub allow_audio: bool,
    /// Screen width, pixels.
    pub x_res: i16,
    /// Screen height, pixels.
    pub y_res: i16,
    /// [`GoArena::ANY_PUBLIC`], [`GoArena::NAMED`] or a public arena number.
    pub arena_type: i16,
    /// Arena name (16-byte field), used with [`GoArena::NAMED`].
    pub arena_name: String,
    /// Continuum's optional-graphics byte; `Some` makes the 27-byte form.
    pub optional_graphics: Option<bool>,
}

impl GoArena {
    /// Length of the VIE form.
    pub const VIE_LEN: usize = 26;
    /// Length of the Continuum form.
    pub const CONTINUUM_LEN: usize = 27;
    /// Arena type: any public arena (the server picks).
    pub const ANY_PUBLIC: i16 = -1;
    /// Arena type: the arena named in `arena_name`.
    pub const NAMED: i16 = -3;

    pub(super) fn decode(b: &[u8]) -> Result<Self, PacketError> {
        let len = b.len();
        check_len(
            t::GO_ARENA,
            len,
            len == Self::VIE_LEN || len == Self::CONTINUUM_LEN,
        )?;
        let mut r = Reader::at(b, 1);
        Ok(GoArena {
            ship: r.u8(),
            obscenity_filter: r.bool(),
            allow_audio: r.bool(),
            x_res: r.i16(),
            y_res: r.i16(),
            arena_type: r.i16(),
            arena_name: read_fixed_str(r.bytes(16)),
            optional_graphics: (len == Self::CONTINUUM_LEN).then(|| r.bool()),
        })
    }

    pub(super) fn write(&self, out: &mut impl Sink) {
        out.put_u8(t::GO_ARENA);
        out.put_u8(self.ship);
        out.put_bool(self.obscenity_filter);
        out.put_bool(self.allow_audio);
        out.put_i16(self.x_res);
        out.put_i16(self.y_res);
        out.put_i16(self.arena_type);
        put_fixed_str(out, &self.arena_name, 16);
        if let Some(g) = self.optional_graphics {
            out.put_bool(g);
        }
    }
}

/// C2S 0x09 (VIE, 101 bytes) / 0x24 (Continuum, 165 bytes) login (§5.1).
///
/// Decoding accepts either type byte with either length (ASSS checks the
/// length against the connection's client type, not the type byte); the
/// Continuum form is the one with `continuum_id`, and encodes as 0x24.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Login {
    /// Flags: 1 = the player asked to create a new account.
    pub flags: u8,
    /// Name (32-byte field, unsanitised; see [`super::sanitize_login_name`]).
    pub name: String,
    /// Password (32-byte field).
    pub password: String,
    /// Machine id.
    pub machine_id: u32,
    /// Connection type.
    pub connection_type: u8,
    /// Time-zone bias, minutes from UTC.
    pub timezone_bias: i16,
    /// Unknown field at offset 73.
    pub unknown73: u16,
    /// Client version (VIE must be [`Login::VIE_VERSION`]).
    pub client_version: i16,
    /// Unknown field at offset 77 (low half of ASSS's "field 444").
    pub unknown77: u16,
    /// Client feature bits at offset 79 ([`super::client_feature`]).
    pub client_features: u16,
    /// ASSS "field 555".
    pub field555: u32,
    /// Permission id ("D2").
    pub permission_id: u32,
    /// Bytes 89–100 (SS.NET: server IP, port, login id, unknown).
    pub reserved: [u8; 12],
    /// Continuum id (the 64 extra bytes of the 0x24 form).
    pub continuum_id: Option<[u8; 64]>,
}

impl Login {
    /// Length of the VIE form.
    pub const VIE_LEN: usize = 101;
    /// Length of the Continuum form.
    pub const CONTINUUM_LEN: usize = 165;
    /// The only client version a VIE client may have.
    pub const VIE_VERSION: i16 = 134;

    /// A login with the given name and password and everything else zero;
    /// `continuum` selects the 0x24 form (with an all-zero Continuum id).
    pub fn new(name: &str, password: &str, continuum: bool) -> Self {
        Login {
            flags: 0,
            name: name.to_owned(),
            password: password.to_owned(),
            machine_id: 0,
            connection_type: 0,
            timezone_bias: 0,
            unknown73: 0,
            client_version: Self::VIE_VERSION,
            unknown77: 0,
            client_features: 0,
            field555: 0,
            permission_id: 0,
            reserved: [0; 12],
            continuum_id: continuum.then_some([0; 64]),
        }
    }

    /// Whether this is the Continuum (165-byte, 0x24) form.
    pub fn is_continuum(&self) -> bool {
        self.continuum_id.is_some()
    }

    pub(super) fn decode(b: &[u8]) -> Result<Self, PacketError> {
        let len = b.len();
        let ptype = b.first().copied().unwrap_or(t::LOGIN);
        check_len(
            ptype,
            len,
            len == Self::VIE_LEN || len == Self::CONTINUUM_LEN,
        )?;
        let mut r = Reader::at(b, 1);
        Ok(Login {
            flags: r.u8(),
            name: read_fixed_str(r.bytes(32)),
            password: read_fixed_str(r.bytes(32)),
            machine_id: r.u32(),
            connection_type: r.u8(),
            timezone_bias: r.i16(),
            unknown73: r.u16(),
            client_version: r.i16(),
            unknown77: r.u16(),
            client_features: r.u16(),
            field555: r.u32(),
            permission_id: r.u32(),
            reserved: r.array(),
            continuum_id: (len == Self::CONTINUUM_LEN).then(|| r.array()),
        })
    }

    pub(super) fn write(&self, out: &mut impl Sink) {
        out.put_u8(if self.is_continuum() {
            t::CONTINUUM_LOGIN
        } else {
            t::LOGIN
        });
        out.put_u8(self.flags);
        put_fixed_str(out, &self.name, 32);
        put_fixed_str(out, &self.password, 32);
        out.put_u32(self.machine_id);
        out.put_u8(self.connection_type);
        out.put_i16(self.timezone_bias);
        out.put_u16(self.unknown73);
        out.put_i16(self.client_version);
        out.put_u16(self.unknown77);
        out.put_u16(self.client_features);
        out.put_u32(self.field555);
        out.put_u32(self.permission_id);
        out.put(&self.reserved);
        if let Some(id) = &self.continuum_id {
            out.put(id);
        }
    }
}

/// C2S 0x1A security response (≥ 40 bytes; §20.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct SecurityResponse {
    /// Weapon packets received.
    pub weapon_count: u32,
    /// Settings checksum.
    pub settings_checksum: u32,
    /// Exe checksum.
    pub exe_checksum: u32,
    /// Map checksum.
    pub map_checksum: u32,
    /// S2C slow packets, total.
    pub s2c_slow_total: u32,
    /// S2C fast packets, total.
    pub s2c_fast_total: u32,
    /// S2C slow packets, current.
    pub s2c_slow_current: u16,
    /// S2C fast packets, current.
    pub s2c_fast_current: u16,
    /// Unknown (SS.NET: S2C average current).
    pub unknown29: u16,
    /// Last ping.
    pub last_ping: u16,
    /// Average ping.
    pub average_ping: u16,
    /// Lowest ping.
    pub lowest_ping: u16,
    /// Highest ping.
    pub highest_ping: u16,
    /// Slow frames.
    pub slow_frames: u8,
    /// Bytes after offset 40, raw (Continuum: timer drift `i16`, map CRC `u32`).
    pub tail: Vec<u8>,
}

impl SecurityResponse {
    /// Shortest accepted length.
    pub const MIN_LEN: usize = 40;

    fn decode(b: &[u8]) -> Result<Self, PacketError> {
        check_len(t::SECURITY_RESPONSE, b.len(), b.len() >= Self::MIN_LEN)?;
        let mut r = Reader::at(b, 1);
        Ok(SecurityResponse {
            weapon_count: r.u32(),
            settings_checksum: r.u32(),
            exe_checksum: r.u32(),
            map_checksum: r.u32(),
            s2c_slow_total: r.u32(),
            s2c_fast_total: r.u32(),
            s2c_slow_current: r.u16(),
            s2c_fast_current: r.u16(),
            unknown29: r.u16(),
            last_ping: r.u16(),
            average_ping: r.u16(),
            lowest_ping: r.u16(),
            highest_ping: r.u16(),
            slow_frames: r.u8(),
            tail: r.rest().to_vec(),
        })
    }

    fn write(&self, out: &mut impl Sink) {
        out.put_u8(t::SECURITY_RESPONSE);
        out.put_u32(self.weapon_count);
        out.put_u32(self.settings_checksum);
        out.put_u32(self.exe_checksum);
        out.put_u32(self.map_checksum);
        out.put_u32(self.s2c_slow_total);
        out.put_u32(self.s2c_fast_total);
        out.put_u16(self.s2c_slow_current);
        out.put_u16(self.s2c_fast_current);
        out.put_u16(self.unknown29);
        out.put_u16(self.last_ping);
        out.put_u16(self.average_ping);
        out.put_u16(self.lowest_ping);
        out.put_u16(self.highest_ping);
        out.put_u8(self.slow_frames);
        out.put(&self.tail);
    }
}
