//! Server-to-client game packets (§3).

use super::balls::BallPacket;
use super::objects::{ObjectChange, ObjectToggle};
use super::position::{LargePosition, SmallPosition};
use super::text::{byte_to_char, put_cstr, put_fixed_str, read_fixed_str, split_cstr};
use super::wire::{Reader, Sink};
use super::{check_len, game_type, s2c_type as t, Chat, Green, LoginCode, PacketError};

/// Length of the S2C 0x0F arena settings packet
/// (`docs/protocol/client-settings.md`).
pub const ARENA_SETTINGS_LEN: usize = 1428;

/// Whether `len` bytes hold a whole number of `record`-byte records.
// `usize::is_multiple_of` needs Rust 1.87; the workspace declares 1.85.
#[allow(clippy::manual_is_multiple_of)]
fn records_fit(len: usize, record: usize) -> bool {
    len % record == 0
}

/// A decoded server-to-client game packet.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum S2CPacket {
    /// 0x01: your player id (also forces clients out of a recycled arena).
    WhoAmI {
        /// The receiver's pid.
        pid: i16,
    },
    /// 0x02: arena entry complete.
    EnteredArena,
    /// 0x03: one or more player records, back to back.
    PlayerEntering(Vec<PlayerEntering>),
    /// 0x04: player left the arena.
    PlayerLeaving {
        /// Leaving player's pid.
        pid: i16,
    },
    /// 0x05: weapon / large position.
    LargePosition(LargePosition),
    /// 0x06: kill.
    Kill(Kill),
    /// 0x07: chat.
    Chat(Chat),
    /// 0x08: someone picked up a prize.
    Green {
        /// The pick-up.
        green: Green,
        /// Picker's pid.
        pid: i16,
    },
    /// 0x09: score update.
    ScoreUpdate(ScoreUpdate),
    /// 0x0A: login response.
    LoginResponse(LoginResponse),
    /// 0x0D: freq change.
    FreqChange {
        /// Player.
        pid: i16,
        /// New freq.
        freq: i16,
    },
    /// 0x0E: turret attach / detach.
    Turret {
        /// The turret.
        pid: i16,
        /// Player attached to (−1 = detached).
        attached_to: i16,
    },
    /// 0x0F: arena settings, the raw 1428 bytes (type byte included).
    ArenaSettings(Box<[u8; ARENA_SETTINGS_LEN]>),
    /// 0x10: incoming file (news, files).
    IncomingFile(FileData),
    /// 0x18: security seeds and checksum request.
    Security(SecuritySeeds),
    /// 0x1B: reset your ship.
    ShipReset,
    /// 0x1C: include (or stop including) extra data in your positions.
    SpectateData {
        /// True = send extra position data.
        extra: bool,
    },
    /// 0x1D: ship (and freq) change.
    ShipChange {
        /// New ship.
        ship: u8,
        /// Player.
        pid: i16,
        /// New freq.
        freq: i16,
    },
    /// 0x20: the server gives prizes.
    PrizeReceived {
        /// How many.
        count: i16,
        /// Prize number.
        prize: i16,
    },
    /// 0x21: bricks; empty is ASSS's 1-byte "brick clear".
    Bricks(Vec<Brick>),
    /// 0x27: keepalive.
    KeepAlive,
    /// 0x28: small position.
    SmallPosition(SmallPosition),
    /// 0x29: map (and LVZ) file names and checksums.
    MapInfo(MapInfo),
    /// 0x2A: map / LVZ file data.
    MapData(FileData),
    /// 0x2F: arena list.
    ArenaList(Vec<ArenaListEntry>),
    /// 0x32: warp to a tile.
    WarpTo {
        /// X, tiles.
        x: i16,
        /// Y, tiles.
        y: i16,
    },
    /// 0x33: login failure text (Continuum).
    LoginText(String),
    /// 0x34: current Continuum version.
    ContinuumVersion {
        /// Version ([`LoginResponse::CONTINUUM_VERSION`]).
        version: u16,
        /// Checksum of the Continuum executable.
        checksum: u32,
    },
    /// 0x12: a flag is on the map at (x, y) tiles, owned by `freq` (−1 none).
    FlagLocation {
        /// Flag id.
        fid: i16,
        /// X, tiles (−1 = off the map).
        x: i16,
        /// Y, tiles.
        y: i16,
        /// Owner freq (−1 = neutral).
        freq: i16,
    },
    /// 0x13: `pid` picked up (or, in a turf game, claimed) flag `fid`.
    FlagPickup {
        /// Flag id.
        fid: i16,
        /// Player.
        pid: i16,
    },
    /// 0x14: flag game over: `freq` won `points` (freq −1: reset, no winner).
    FlagVictory {
        /// Winning freq (−1 = reset).
        freq: i16,
        /// Points for each winner.
        points: i32,
    },
    /// 0x16: `pid` dropped all his flags.
    FlagDrop {
        /// Player.
        pid: i16,
    },
    /// 0x22: the owner freq of every turf flag, in flag id order.
    TurfFlags(Vec<i16>),
    /// 0x23: periodic reward: (freq, points) pairs.
    PeriodicReward(Vec<(i16, i16)>),
    /// 0x35: LVZ objects shown or hidden (§23a).
    ToggleObjects(Vec<ObjectToggle>),
    /// 0x36: LVZ object attributes changed (§23a).
    MoveObjects(Vec<ObjectChange>),
    /// 0x2E: where a ball is, or who carries it (§15).
    Ball(BallPacket),
    /// 0x0B: a goal: `freq` scored, each of its players gets `points` (§15).
    SoccerGoal {
        /// The scoring freq.
        freq: i16,
        /// Points for each player of the freq (0 = none).
        points: i32,
    },
    /// 0x3B: go to another zone (or arena) (`docs/protocol/game-protocol.md` §23).
    Redirect(Redirect),
    /// Any other type: the type byte and the bytes after it.
    Other {
        /// Type byte.
        ptype: u8,
        /// Body after the type byte.
        body: Vec<u8>,
    },
}

impl S2CPacket {
    /// Decodes one whole packet (type byte first).
    pub fn decode(b: &[u8]) -> Result<Self, PacketError> {
        let ptype = game_type(b)?;
        let len = b.len();
        let exact = |n: usize| check_len(ptype, len, len == n);
        let mut r = Reader::at(b, 1);
        let p = match ptype {
            t::WHO_AM_I => {
                exact(3)?;
                S2CPacket::WhoAmI { pid: r.i16() }
            }
            t::ENTERED_ARENA => {
                exact(1)?;
                S2CPacket::EnteredArena
            }
            t::PLAYER_ENTERING => S2CPacket::PlayerEntering(PlayerEntering::decode_all(b)?),
            t::PLAYER_LEAVING => {
                exact(3)?;
                S2CPacket::PlayerLeaving { pid: r.i16() }
            }
            t::LARGE_POSITION => S2CPacket::LargePosition(LargePosition::decode(b)?),
            t::KILL => {
                exact(10)?;
                S2CPacket::Kill(Kill::read(&mut r))
            }
            t::CHAT => S2CPacket::Chat(Chat::decode(b, ptype, Chat::S2C_MAX_LEN)?),
            t::GREEN => {
                exact(13)?;
                S2CPacket::Green {
                    green: Green::read(&mut r),
                    pid: r.i16(),
                }
            }
            t::SCORE_UPDATE => {
                exact(15)?;
                S2CPacket::ScoreUpdate(ScoreUpdate::read(&mut r))
            }
            t::LOGIN_RESPONSE => {
                exact(LoginResponse::LEN)?;
                S2CPacket::LoginResponse(LoginResponse::read(&mut r))
            }
            t::FREQ_CHANGE => {
                exact(6)?;
                S2CPacket::FreqChange {
                    pid: r.i16(),
                    freq: r.i16(),
                }
            }
            t::TURRET => {
                exact(5)?;
                S2CPacket::Turret {
                    pid: r.i16(),
                    attached_to: r.i16(),
                }
            }
            t::ARENA_SETTINGS => {
                exact(ARENA_SETTINGS_LEN)?;
                S2CPacket::ArenaSettings(Box::new(Reader::at(b, 0).array()))
            }
            t::INCOMING_FILE => S2CPacket::IncomingFile(FileData::decode(b)?),
            t::SECURITY => {
                exact(17)?;
                S2CPacket::Security(SecuritySeeds::read(&mut r))
            }
            t::SHIP_RESET => {
                exact(1)?;
                S2CPacket::ShipReset
            }
            t::SPECTATE_DATA => {
                exact(2)?;
                S2CPacket::SpectateData { extra: r.bool() }
            }
            t::SHIP_CHANGE => {
                exact(6)?;
                S2CPacket::ShipChange {
                    ship: r.u8(),
                    pid: r.i16(),
                    freq: r.i16(),
                }
            }
            t::PRIZE_RECEIVED => {
                exact(5)?;
                S2CPacket::PrizeReceived {
                    count: r.i16(),
                    prize: r.i16(),
                }
            }
            t::BRICK => {
                check_len(ptype, len, records_fit(len - 1, Brick::LEN))?;
                S2CPacket::Bricks((0..len / Brick::LEN).map(|_| Brick::read(&mut r)).collect())
            }
            t::KEEPALIVE => {
                exact(1)?;
                S2CPacket::KeepAlive
            }
            t::SMALL_POSITION => S2CPacket::SmallPosition(SmallPosition::decode(b)?),
            t::MAP_INFO => S2CPacket::MapInfo(MapInfo::decode(b)?),
            t::MAP_DATA => S2CPacket::MapData(FileData::decode(b)?),
            t::ARENA_LIST => S2CPacket::ArenaList(ArenaListEntry::decode_all(b)?),
            t::WARP_TO => {
                exact(5)?;
                S2CPacket::WarpTo {
                    x: r.i16(),
                    y: r.i16(),
                }
            }
            t::LOGIN_TEXT => {
                check_len(ptype, len, len >= 2)?;
                S2CPacket::LoginText(split_cstr(r.rest(), byte_to_char).0)
            }
            t::CONTINUUM_VERSION => {
                exact(7)?;
                S2CPacket::ContinuumVersion {
                    version: r.u16(),
                    checksum: r.u32(),
                }
            }
            t::FLAG_LOCATION => {
                exact(9)?;
                S2CPacket::FlagLocation {
                    fid: r.i16(),
                    x: r.i16(),
                    y: r.i16(),
                    freq: r.i16(),
                }
            }
            t::FLAG_CLAIM => {
                exact(5)?;
                S2CPacket::FlagPickup {
                    fid: r.i16(),
                    pid: r.i16(),
                }
            }
            t::FLAG_VICTORY => {
                exact(7)?;
                S2CPacket::FlagVictory {
                    freq: r.i16(),
                    points: r.i32(),
                }
            }
            t::FLAG_DROP => {
                exact(3)?;
                S2CPacket::FlagDrop { pid: r.i16() }
            }
            t::TURF_FLAGS => {
                check_len(ptype, len, records_fit(len - 1, 2))?;
                S2CPacket::TurfFlags((0..(len - 1) / 2).map(|_| r.i16()).collect())
            }
            t::PERIODIC_REWARD => {
                check_len(ptype, len, records_fit(len - 1, 4))?;
                S2CPacket::PeriodicReward((0..(len - 1) / 4).map(|_| (r.i16(), r.i16())).collect())
            }
            t::TOGGLE_OBJECTS => {
                check_len(
                    ptype,
                    len,
                    len > 1 && records_fit(len - 1, ObjectToggle::LEN),
                )?;
                S2CPacket::ToggleObjects(
                    (0..(len - 1) / ObjectToggle::LEN)
                        .map(|_| ObjectToggle::from_word(r.u16()))
                        .collect(),
                )
            }
            t::MOVE_OBJECTS => {
                check_len(
                    ptype,
                    len,
                    len > 1 && records_fit(len - 1, ObjectChange::LEN),
                )?;
                S2CPacket::MoveObjects(
                    b[1..]
                        .chunks_exact(ObjectChange::LEN)
                        .map(|c| {
                            let mut rec = [0u8; ObjectChange::LEN];
                            rec.copy_from_slice(c);
                            ObjectChange::from_bytes(&rec)
                        })
                        .collect(),
                )
            }
            t::BALL_POSITION => {
                exact(BallPacket::LEN)?;
                S2CPacket::Ball(BallPacket::read(&mut r))
            }
            t::SOCCER_GOAL => {
                exact(7)?;
                S2CPacket::SoccerGoal {
                    freq: r.i16(),
                    points: r.i32(),
                }
            }
            t::REDIRECT => {
                exact(Redirect::LEN)?;
                S2CPacket::Redirect(Redirect {
                    ip: std::net::Ipv4Addr::from(r.u32()),
                    port: r.u16(),
                    arena_type: r.i16(),
                    arena_name: read_fixed_str(r.bytes(16)),
                    login_id: r.u32(),
                })
            }
            _ => S2CPacket::Other {
                ptype,
                body: r.rest().to_vec(),
            },
        };
        Ok(p)
    }

    /// Appends the encoded packet to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let ptype = self.packet_type();
        match self {
            S2CPacket::WhoAmI { pid } | S2CPacket::PlayerLeaving { pid } => {
                out.put_u8(ptype);
                out.put_i16(*pid);
            }
            S2CPacket::EnteredArena | S2CPacket::ShipReset | S2CPacket::KeepAlive => {
                out.put_u8(ptype);
            }
            S2CPacket::PlayerEntering(list) => list.iter().for_each(|p| p.encode(out)),
            S2CPacket::LargePosition(p) => p.encode(out),
            S2CPacket::Kill(k) => k.write(out),
            S2CPacket::Chat(c) => c.write(out, ptype, Chat::S2C_MAX_LEN),
            S2CPacket::Green { green, pid } => {
                out.put_u8(ptype);
                green.write(out);
                out.put_i16(*pid);
            }
            S2CPacket::ScoreUpdate(s) => s.write(out),
            S2CPacket::LoginResponse(l) => l.write(out),
            S2CPacket::FreqChange { pid, freq } => {
                out.put_u8(ptype);
                out.put_i16(*pid);
                out.put_i16(*freq);
                out.put_u8(0xFF);
            }
            S2CPacket::Turret { pid, attached_to } => {
                out.put_u8(ptype);
                out.put_i16(*pid);
                out.put_i16(*attached_to);
            }
            S2CPacket::ArenaSettings(raw) => {
                out.put_u8(ptype);
                out.put(raw.get(1..).unwrap_or(&[]));
            }
            S2CPacket::IncomingFile(f) | S2CPacket::MapData(f) => f.write(out, ptype),
            S2CPacket::Security(s) => s.write(out),
            S2CPacket::SpectateData { extra } => {
                out.put_u8(ptype);
                out.put_bool(*extra);
            }
            S2CPacket::ShipChange { ship, pid, freq } => {
                out.put_u8(ptype);
                out.put_u8(*ship);
                out.put_i16(*pid);
                out.put_i16(*freq);
            }
            S2CPacket::PrizeReceived { count, prize } => {
                out.put_u8(ptype);
                out.put_i16(*count);
                out.put_i16(*prize);
            }
            S2CPacket::Bricks(bricks) => {
                out.put_u8(ptype);
                bricks.iter().for_each(|b| b.write(out));
            }
            S2CPacket::SmallPosition(p) => p.encode(out),
            S2CPacket::MapInfo(m) => m.write(out),
            S2CPacket::ArenaList(list) => {
                out.put_u8(ptype);
                for e in list {
                    put_cstr(out, &e.name, usize::MAX);
                    out.put_i16(e.players);
                }
            }
            S2CPacket::WarpTo { x, y } => {
                out.put_u8(ptype);
                out.put_i16(*x);
                out.put_i16(*y);
            }
            S2CPacket::LoginText(text) => {
                out.put_u8(ptype);
                put_cstr(out, text, usize::MAX);
            }
            S2CPacket::ContinuumVersion { version, checksum } => {
                out.put_u8(ptype);
                out.put_u16(*version);
                out.put_u32(*checksum);
            }
            S2CPacket::FlagLocation { fid, x, y, freq } => {
                out.put_u8(ptype);
                out.put_i16(*fid);
                out.put_i16(*x);
                out.put_i16(*y);
                out.put_i16(*freq);
            }
            S2CPacket::FlagPickup { fid, pid } => {
                out.put_u8(ptype);
                out.put_i16(*fid);
                out.put_i16(*pid);
            }
            S2CPacket::FlagVictory { freq, points } => {
                out.put_u8(ptype);
                out.put_i16(*freq);
                out.put_i32(*points);
            }
            S2CPacket::FlagDrop { pid } => {
                out.put_u8(ptype);
                out.put_i16(*pid);
            }
            S2CPacket::TurfFlags(owners) => {
                out.put_u8(ptype);
                owners.iter().for_each(|f| out.put_i16(*f));
            }
            S2CPacket::PeriodicReward(list) => {
                out.put_u8(ptype);
                for (freq, points) in list {
                    out.put_i16(*freq);
                    out.put_i16(*points);
                }
            }
            S2CPacket::ToggleObjects(list) => {
                out.put_u8(ptype);
                list.iter().for_each(|o| out.put_u16(o.word()));
            }
            S2CPacket::MoveObjects(list) => {
                out.put_u8(ptype);
                list.iter().for_each(|o| out.put(&o.to_bytes()));
            }
            S2CPacket::Ball(b) => {
                out.put_u8(ptype);
                b.write(out);
            }
            S2CPacket::SoccerGoal { freq, points } => {
                out.put_u8(ptype);
                out.put_i16(*freq);
                out.put_i32(*points);
            }
            S2CPacket::Redirect(rd) => {
                out.put_u8(ptype);
                out.put_u32(u32::from(rd.ip));
                out.put_u16(rd.port);
                out.put_i16(rd.arena_type);
                put_fixed_str(out, &rd.arena_name, 16);
                out.put_u32(rd.login_id);
            }
            S2CPacket::Other { body, .. } => {
                out.put_u8(ptype);
                out.put(body);
            }
        }
    }

    /// The type byte this packet encodes with.
    pub fn packet_type(&self) -> u8 {
        match self {
            S2CPacket::WhoAmI { .. } => t::WHO_AM_I,
            S2CPacket::EnteredArena => t::ENTERED_ARENA,
            S2CPacket::PlayerEntering(_) => t::PLAYER_ENTERING,
            S2CPacket::PlayerLeaving { .. } => t::PLAYER_LEAVING,
            S2CPacket::LargePosition(_) => t::LARGE_POSITION,
            S2CPacket::Kill(_) => t::KILL,
            S2CPacket::Chat(_) => t::CHAT,
            S2CPacket::Green { .. } => t::GREEN,
            S2CPacket::ScoreUpdate(_) => t::SCORE_UPDATE,
            S2CPacket::LoginResponse(_) => t::LOGIN_RESPONSE,
            S2CPacket::FreqChange { .. } => t::FREQ_CHANGE,
            S2CPacket::Turret { .. } => t::TURRET,
            S2CPacket::ArenaSettings(_) => t::ARENA_SETTINGS,
            S2CPacket::IncomingFile(_) => t::INCOMING_FILE,
            S2CPacket::Security(_) => t::SECURITY,
            S2CPacket::ShipReset => t::SHIP_RESET,
            S2CPacket::SpectateData { .. } => t::SPECTATE_DATA,
            S2CPacket::ShipChange { .. } => t::SHIP_CHANGE,
            S2CPacket::PrizeReceived { .. } => t::PRIZE_RECEIVED,
            S2CPacket::Bricks(_) => t::BRICK,
            S2CPacket::KeepAlive => t::KEEPALIVE,
            S2CPacket::SmallPosition(_) => t::SMALL_POSITION,
            S2CPacket::MapInfo(_) => t::MAP_INFO,
            S2CPacket::MapData(_) => t::MAP_DATA,
            S2CPacket::ArenaList(_) => t::ARENA_LIST,
            S2CPacket::WarpTo { .. } => t::WARP_TO,
            S2CPacket::LoginText(_) => t::LOGIN_TEXT,
            S2CPacket::ContinuumVersion { .. } => t::CONTINUUM_VERSION,
            S2CPacket::FlagLocation { .. } => t::FLAG_LOCATION,
            S2CPacket::FlagPickup { .. } => t::FLAG_CLAIM,
            S2CPacket::FlagVictory { .. } => t::FLAG_VICTORY,
            S2CPacket::FlagDrop { .. } => t::FLAG_DROP,
            S2CPacket::TurfFlags(_) => t::TURF_FLAGS,
            S2CPacket::PeriodicReward(_) => t::PERIODIC_REWARD,
            S2CPacket::ToggleObjects(_) => t::TOGGLE_OBJECTS,
            S2CPacket::MoveObjects(_) => t::MOVE_OBJECTS,
            S2CPacket::Ball(_) => t::BALL_POSITION,
            S2CPacket::SoccerGoal { .. } => t::SOCCER_GOAL,
            S2CPacket::Redirect(_) => t::REDIRECT,
            S2CPacket::Other { ptype, .. } => *ptype,
        }
    }
}

/// S2C 0x3B: where a redirected client goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Redirect {
    /// Zone address (the wire holds its numeric value little-endian).
    pub ip: std::net::Ipv4Addr,
    /// Zone game port.
    pub port: u16,
    /// Arena request as in C2S 0x01: −1 any public arena, −3 the named one.
    pub arena_type: i16,
    /// Arena name (for −3), at most 15 characters.
    pub arena_name: String,
    /// Echoed by the client in its next login (we send 0).
    pub login_id: u32,
}

impl Redirect {
    /// Length of the packet, type byte included.
    pub const LEN: usize = 29;

    /// A redirect to `ip:port`, to `arena` if given, else to any public
    /// arena.
    pub fn to(ip: std::net::Ipv4Addr, port: u16, arena: Option<&str>) -> Redirect {
        Redirect {
            ip,
            port,
            arena_type: if arena.is_some() { -3 } else { -1 },
            arena_name: arena.unwrap_or("").chars().take(15).collect(),
            login_id: 0,
        }
    }

    /// The redirect an alias names, as ASSS reads them
    /// (`docs/protocol/game-protocol.md` §23): `lookup(alias)` (the
    /// `[Redirects]` setting of that name), else the alias itself if it
    /// looks like an address (starts with 1–9, has a `.` and a `:`). The
    /// text is `ip:port[:arena]`; `None` if the IPv4 address or the port
    /// does not parse.
    pub fn from_alias<'a>(
        alias: &'a str,
        lookup: impl FnOnce(&str) -> Option<&'a str>,
    ) -> Option<Redirect> {
        let alias = alias.trim();
        let text = lookup(alias).or_else(|| {
            let literal = alias.starts_with(|c: char| ('1'..='9').contains(&c))
                && alias.contains('.')
                && alias.contains(':');
            literal.then_some(alias)
        })?;
        let mut parts = text.trim().splitn(3, ':');
        let ip = parts.next()?.trim().parse().ok()?;
        let port = parts.next()?.trim().parse().ok().filter(|&p| p != 0)?;
        let arena = parts.next().map(str::trim).filter(|a| !a.is_empty());
        Some(Redirect::to(ip, port, arena))
    }
}

/// One S2C 0x03 player record (64 bytes; §6.4).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct PlayerEntering {
    /// Ship (0–8).
    pub ship: u8,
    /// Accepts audio messages.
    pub accepts_audio: bool,
    /// Name (20-byte field).
    pub name: String,
    /// Squad (20-byte field).
    pub squad: String,
    /// Kill points.
    pub kill_points: i32,
    /// Flag points.
    pub flag_points: i32,
    /// Player id.
    pub pid: i16,
    /// Freq.
    pub freq: i16,
    /// Kills / wins.
    pub kills: u16,
    /// Deaths / losses.
    pub deaths: u16,
    /// Pid this player is attached to (−1 none).
    pub attached_to: i16,
    /// Flags carried.
    pub flags_carried: i16,
    /// Misc bits ([`PlayerEntering::HAS_CROWN`], [`PlayerEntering::SEND_DAMAGE`]).
    pub misc_bits: u8,
}

impl PlayerEntering {
    /// Size of one record.
    pub const LEN: usize = 64;
    /// Misc bit: has a crown.
    pub const HAS_CROWN: u8 = 0x01;
    /// Misc bit: clients should send damage for this player.
    pub const SEND_DAMAGE: u8 = 0x02;

    /// Whether the crown bit is set.
    pub fn has_crown(&self) -> bool {
        self.misc_bits & Self::HAS_CROWN != 0
    }

    fn decode_all(b: &[u8]) -> Result<Vec<Self>, PacketError> {
        check_len(
            t::PLAYER_ENTERING,
            b.len(),
            !b.is_empty() && records_fit(b.len(), Self::LEN),
        )?;
        b.chunks_exact(Self::LEN).map(Self::decode_one).collect()
    }

    fn decode_one(rec: &[u8]) -> Result<Self, PacketError> {
        let mut r = Reader::at(rec, 0);
        if r.u8() != t::PLAYER_ENTERING {
            let what = "record does not start with 0x03";
            return Err(PacketError::Malformed {
                ptype: t::PLAYER_ENTERING,
                what,
            });
        }
        Ok(PlayerEntering {
            ship: r.u8(),
            accepts_audio: r.bool(),
            name: read_fixed_str(r.bytes(20)),
            squad: read_fixed_str(r.bytes(20)),
            kill_points: r.i32(),
            flag_points: r.i32(),
            pid: r.i16(),
            freq: r.i16(),
            kills: r.u16(),
            deaths: r.u16(),
            attached_to: r.i16(),
            flags_carried: r.i16(),
            misc_bits: r.u8(),
        })
    }

    /// Appends this record as a 64-byte 0x03 packet (records may be
    /// concatenated into one packet).
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u8(t::PLAYER_ENTERING);
        out.put_u8(self.ship);
        out.put_bool(self.accepts_audio);
        put_fixed_str(out, &self.name, 20);
        put_fixed_str(out, &self.squad, 20);
        out.put_i32(self.kill_points);
        out.put_i32(self.flag_points);
        out.put_i16(self.pid);
        out.put_i16(self.freq);
        out.put_u16(self.kills);
        out.put_u16(self.deaths);
        out.put_i16(self.attached_to);
        out.put_i16(self.flags_carried);
        out.put_u8(self.misc_bits);
    }
}

/// S2C 0x06 kill (10 bytes; §11.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Kill {
    /// Death green: prize dropped at the death spot (0 none).
    pub green: u8,
    /// Killer's pid.
    pub killer: i16,
    /// Killed player's pid.
    pub killed: i16,
    /// Points awarded to the killer.
    pub points: i16,
    /// Flags the killed player carried.
    pub flags: i16,
}

impl Kill {
    fn read(r: &mut Reader<'_>) -> Self {
        Kill {
            green: r.u8(),
            killer: r.i16(),
            killed: r.i16(),
            points: r.i16(),
            flags: r.i16(),
        }
    }
    fn write(&self, out: &mut impl Sink) {
        out.put_u8(t::KILL);
        out.put_u8(self.green);
        out.put_i16(self.killer);
        out.put_i16(self.killed);
        out.put_i16(self.points);
        out.put_i16(self.flags);
    }
}

/// S2C 0x09 score update (15 bytes; §12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ScoreUpdate {
    /// Player.
    pub pid: i16,
    /// Kill points.
    pub kill_points: i32,
    /// Flag points.
    pub flag_points: i32,
    /// Kills.
    pub kills: u16,
    /// Deaths.
    pub deaths: u16,
}

impl ScoreUpdate {
    fn read(r: &mut Reader<'_>) -> Self {
        ScoreUpdate {
            pid: r.i16(),
            kill_points: r.i32(),
            flag_points: r.i32(),
            kills: r.u16(),
            deaths: r.u16(),
        }
    }
    fn write(&self, out: &mut impl Sink) {
        out.put_u8(t::SCORE_UPDATE);
        out.put_i16(self.pid);
        out.put_i32(self.kill_points);
        out.put_i32(self.flag_points);
        out.put_u16(self.kills);
        out.put_u16(self.deaths);
    }
}

/// S2C 0x0A login response (36 bytes; §5.4). Unused bytes encode as 0 and
/// are ignored when decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct LoginResponse {
    /// Result code.
    pub code: LoginCode,
    /// Server version ([`LoginResponse::SERVER_VERSION`]).
    pub server_version: u32,
    /// Is VIP.
    pub is_vip: bool,
    /// Exe checksum.
    pub exe_checksum: u32,
    /// Ask the client for registration data (C2S 0x17).
    pub registration_wanted: bool,
    /// Code checksum.
    pub code_checksum: u32,
    /// CRC-32 of news.txt (0 if none).
    pub news_checksum: u32,
}

impl LoginResponse {
    /// Packet length.
    pub const LEN: usize = 36;
    /// Server version ASSS sends.
    pub const SERVER_VERSION: u32 = 134;
    /// Exe checksum ASSS sends VIE clients.
    pub const VIE_EXE_CHECKSUM: u32 = 0xF142_9CE8;
    /// Code checksum ASSS sends VIE clients (= VIE exe checksum of key 0).
    pub const VIE_CODE_CHECKSUM: u32 = 0x281C_C948;
    /// Both checksums for staff (`seeprivfreq`), and "unknown" values.
    pub const STAFF_CHECKSUM: u32 = 0xFFFF_FFFF;
    /// Continuum version ASSS and SS.NET announce in S2C 0x34.
    pub const CONTINUUM_VERSION: u16 = 40;

    /// ASSS's response to a VIE client.
    pub fn vie(code: LoginCode, news_checksum: u32) -> Self {
        LoginResponse {
            code,
            server_version: Self::SERVER_VERSION,
            is_vip: false,
            exe_checksum: Self::VIE_EXE_CHECKSUM,
            registration_wanted: false,
            code_checksum: Self::VIE_CODE_CHECKSUM,
            news_checksum,
        }
    }

    fn read(r: &mut Reader<'_>) -> Self {
        let code = LoginCode(r.u8());
        let server_version = r.u32();
        let is_vip = r.bool();
        r.bytes(3);
        let exe_checksum = r.u32();
        r.bytes(5);
        let registration_wanted = r.bool();
        let code_checksum = r.u32();
        let news_checksum = r.u32();
        LoginResponse {
            code,
            server_version,
            is_vip,
            exe_checksum,
            registration_wanted,
            code_checksum,
            news_checksum,
        }
    }

    fn write(&self, out: &mut impl Sink) {
        out.put_u8(t::LOGIN_RESPONSE);
        out.put_u8(self.code.0);
        out.put_u32(self.server_version);
        out.put_bool(self.is_vip);
        out.put_zeros(3);
        out.put_u32(self.exe_checksum);
        out.put_zeros(5);
        out.put_bool(self.registration_wanted);
        out.put_u32(self.code_checksum);
        out.put_u32(self.news_checksum);
        out.put_zeros(8);
    }
}

/// A named file: S2C 0x10 incoming file and S2C 0x2A map/LVZ data
/// (`u8` type, 16-byte name, data).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct FileData {
    /// File name (16-byte field; empty for news and update.exe).
    pub name: String,
    /// File bytes (zlib-compressed for maps and news).
    pub data: Vec<u8>,
}

impl FileData {
    /// Header length (type byte + name).
    pub const HEADER_LEN: usize = 17;

    fn decode(b: &[u8]) -> Result<Self, PacketError> {
        let ptype = b.first().copied().unwrap_or(0);
        check_len(ptype, b.len(), b.len() >= Self::HEADER_LEN)?;
        let mut r = Reader::at(b, 1);
        Ok(FileData {
            name: read_fixed_str(r.bytes(16)),
            data: r.rest().to_vec(),
        })
    }

    fn write(&self, out: &mut impl Sink, ptype: u8) {
        out.put_u8(ptype);
        put_fixed_str(out, &self.name, 16);
        out.put(&self.data);
    }
}

/// S2C 0x18 security seeds and checksum request (17 bytes; §20.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SecuritySeeds {
    /// Prize (green) seed.
    pub green_seed: u32,
    /// Door seed.
    pub door_seed: u32,
    /// Server time, ticks.
    pub timestamp: u32,
    /// Checksum key (0 = no checksum request).
    pub checksum_key: u32,
}

impl SecuritySeeds {
    fn read(r: &mut Reader<'_>) -> Self {
        SecuritySeeds {
            green_seed: r.u32(),
            door_seed: r.u32(),
            timestamp: r.u32(),
            checksum_key: r.u32(),
        }
    }
    fn write(&self, out: &mut impl Sink) {
        out.put_u8(t::SECURITY);
        out.put_u32(self.green_seed);
        out.put_u32(self.door_seed);
        out.put_u32(self.timestamp);
        out.put_u32(self.checksum_key);
    }
}

/// One brick in S2C 0x21 (16 bytes after the type byte; §16).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Brick {
    /// Segment start x, tiles.
    pub x1: i16,
    /// Segment start y, tiles.
    pub y1: i16,
    /// Segment end x, tiles.
    pub x2: i16,
    /// Segment end y, tiles.
    pub y2: i16,
    /// Dropper's freq.
    pub freq: i16,
    /// Brick id.
    pub id: u16,
    /// Start time, server ticks.
    pub start_time: u32,
}

impl Brick {
    /// Size of one brick record.
    pub const LEN: usize = 16;

    fn read(r: &mut Reader<'_>) -> Self {
        Brick {
            x1: r.i16(),
            y1: r.i16(),
            x2: r.i16(),
            y2: r.i16(),
            freq: r.i16(),
            id: r.u16(),
            start_time: r.u32(),
        }
    }
    fn write(&self, out: &mut impl Sink) {
        out.put_i16(self.x1);
        out.put_i16(self.y1);
        out.put_i16(self.x2);
        out.put_i16(self.y2);
        out.put_i16(self.freq);
        out.put_u16(self.id);
        out.put_u32(self.start_time);
    }
}

/// S2C 0x29 map file info (§7.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MapInfo {
    /// 21-byte VIE form: the map only.
    Vie {
        /// Map file name (16-byte field).
        name: String,
        /// CRC-32 of the uncompressed file.
        checksum: u32,
    },
    /// 1 + 24·n form: the map first, then LVZ files.
    Continuum(Vec<MapFileEntry>),
}

/// One entry of the Continuum form of S2C 0x29.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct MapFileEntry {
    /// File name (16-byte field).
    pub name: String,
    /// CRC-32 of the uncompressed file.
    pub checksum: u32,
    /// Size of the S2C 0x2A packet carrying it (header + data).
    pub size: u32,
}

impl MapInfo {
    /// Length of the VIE form.
    pub const VIE_LEN: usize = 21;
    /// Size of one Continuum entry.
    pub const ENTRY_LEN: usize = 24;

    fn decode(b: &[u8]) -> Result<Self, PacketError> {
        let len = b.len();
        let mut r = Reader::at(b, 1);
        if len == Self::VIE_LEN {
            return Ok(MapInfo::Vie {
                name: read_fixed_str(r.bytes(16)),
                checksum: r.u32(),
            });
        }
        check_len(t::MAP_INFO, len, records_fit(len - 1, Self::ENTRY_LEN))?;
        let entries = (0..len / Self::ENTRY_LEN)
            .map(|_| MapFileEntry {
                name: read_fixed_str(r.bytes(16)),
                checksum: r.u32(),
                size: r.u32(),
            })
            .collect();
        Ok(MapInfo::Continuum(entries))
    }

    fn write(&self, out: &mut impl Sink) {
        out.put_u8(t::MAP_INFO);
        match self {
            MapInfo::Vie { name, checksum } => {
                put_fixed_str(out, name, 16);
                out.put_u32(*checksum);
            }
            MapInfo::Continuum(entries) => {
                for e in entries {
                    put_fixed_str(out, &e.name, 16);
                    out.put_u32(e.checksum);
                    out.put_u32(e.size);
                }
            }
        }
    }
}

/// One S2C 0x2F arena list entry (§6.6).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ArenaListEntry {
    /// Arena name.
    pub name: String,
    /// Player count, negated for the requester's current arena.
    pub players: i16,
}

impl ArenaListEntry {
    /// Whether this is the requester's arena (negative count).
    pub fn is_current(&self) -> bool {
        self.players < 0
    }

    fn decode_all(b: &[u8]) -> Result<Vec<Self>, PacketError> {
        let mut rest = b.get(1..).unwrap_or(&[]);
        let mut list = Vec::new();
        while !rest.is_empty() {
            let malformed = |what| PacketError::Malformed {
                ptype: t::ARENA_LIST,
                what,
            };
            let (name, used) = split_cstr(rest, byte_to_char);
            let used = used.ok_or(malformed("arena name not terminated"))?;
            let mut r = Reader::at(rest, used);
            if r.remaining() < 2 {
                return Err(malformed("arena entry truncated"));
            }
            list.push(ArenaListEntry {
                name,
                players: r.i16(),
            });
            rest = r.rest();
        }
        Ok(list)
    }
}
