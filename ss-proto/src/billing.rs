//! The UDP billing ("biller") protocol: the messages a zone and a billing
//! server exchange over the core transport, where the zone is the client
//! (`docs/protocol/billing-udp.md`). Sans-IO like the rest of this crate:
//! encoding into byte buffers and bounds-checked decoding, nothing else.
//!
//! Zone → biller messages are [`ZoneMessage`] (encode only: a zone never
//! reads them); biller → zone messages are [`BillerMessage`] (decode only).
//! All integers are little-endian; text is Windows-1252, one byte per
//! character; fixed fields are NUL-padded and keep a terminating NUL.

use crate::game::{byte_to_char, char_to_byte};

/// The biller's default UDP port (`Billing:Port`).
pub const DEFAULT_PORT: u16 = 1850;
/// Longest text field, including its terminating NUL.
pub const MAX_TEXT: usize = 250;
/// Bytes of a banner bitmap.
pub const BANNER_LEN: usize = 96;
/// Most bytes of login-packet extra data forwarded in a user login.
pub const MAX_CLIENT_EXTRA: usize = 256;
/// Most bytes of a registration form forwarded (C2S 0x17 without its type).
pub const MAX_DEMOGRAPHICS: usize = 765;
/// Most bytes of a raw game packet in a B2S user packet.
pub const MAX_USER_PACKET: usize = 1024;
/// Bytes of a billing identity kept.
pub const MAX_IDENTITY: usize = 256;
/// Capability bit: the zone understands multicast channel chat (B2S 0x34).
pub const CAP_MULTICAST_CHAT: u32 = 0x1;
/// Capability bit: the zone forwards registration forms.
pub const CAP_DEMOGRAPHICS: u32 = 0x2;
/// ConnectionID of zone→biller private chat ("not one player").
pub const NO_CONNECTION: u32 = 0xFFFF_FFFF;

/// Message type bytes, zone → biller.
pub mod s2b_type {
    /// Keepalive.
    pub const PING: u8 = 0x01;
    /// Zone login.
    pub const SERVER_CONNECT: u8 = 0x02;
    /// Zone logoff.
    pub const SERVER_DISCONNECT: u8 = 0x03;
    /// Player login request.
    pub const USER_LOGIN: u8 = 0x04;
    /// Player left.
    pub const USER_LOGOFF: u8 = 0x05;
    /// Remote private or squad message.
    pub const USER_PRIVATE_CHAT: u8 = 0x07;
    /// Registration form.
    pub const USER_DEMOGRAPHICS: u8 = 0x0D;
    /// Banner set by a player.
    pub const USER_BANNER: u8 = 0x10;
    /// Score (declared, never sent).
    pub const USER_SCORE: u8 = 0x11;
    /// A `?command` for the biller.
    pub const USER_COMMAND: u8 = 0x13;
    /// A chat channel message.
    pub const USER_CHANNEL_CHAT: u8 = 0x14;
    /// What the zone understands.
    pub const SERVER_CAPABILITIES: u8 = 0x15;
}

/// Message type bytes, biller → zone.
pub mod b2s_type {
    /// Player login result.
    pub const USER_LOGIN: u8 = 0x01;
    /// Remote private / squad message / zone-wide broadcast.
    pub const USER_PRIVATE_CHAT: u8 = 0x03;
    /// Disconnect a player.
    pub const USER_KICKOUT: u8 = 0x08;
    /// Reply text for a player.
    pub const USER_COMMAND_CHAT: u8 = 0x09;
    /// Chat channel message for one player.
    pub const USER_CHANNEL_CHAT: u8 = 0x0A;
    /// End the reset score interval.
    pub const SCORE_RESET: u8 = 0x31;
    /// A raw game packet for one player.
    pub const USER_PACKET: u8 = 0x32;
    /// Opaque identity of the biller.
    pub const BILLING_IDENTITY: u8 = 0x33;
    /// Chat channel message for several players.
    pub const USER_MCHANNEL_CHAT: u8 = 0x34;
}

/// Why a biller message could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BillingError {
    /// Zero bytes.
    #[error("empty message")]
    Empty,
    /// A type this zone does not handle.
    #[error("unsupported message type {0:#04x}")]
    UnknownType(u8),
    /// Shorter than its type requires.
    #[error("message type {kind:#04x} too short ({len} bytes)")]
    Truncated {
        /// Type byte.
        kind: u8,
        /// Length received.
        len: usize,
    },
    /// Longer than its type allows.
    #[error("message type {kind:#04x} too long ({len} bytes)")]
    Oversized {
        /// Type byte.
        kind: u8,
        /// Length received.
        len: usize,
    },
    /// A text field without its terminating NUL.
    #[error("message type {0:#04x}: text not NUL-terminated")]
    Unterminated(u8),
    /// A field holds a value the protocol does not allow.
    #[error("message type {kind:#04x}: {what}")]
    Invalid {
        /// Type byte.
        kind: u8,
        /// What is wrong.
        what: &'static str,
    },
}

/// Score figures carried by a user logoff (and a login result).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct PlayerScore {
    /// Kills.
    pub kills: u16,
    /// Deaths.
    pub deaths: u16,
    /// Flag pickups.
    pub flags: u16,
    /// Kill points.
    pub score: u32,
    /// Flag points.
    pub flag_score: u32,
}

impl PlayerScore {
    /// Encoded size.
    pub const LEN: usize = 14;

    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.kills.to_le_bytes());
        out.extend_from_slice(&self.deaths.to_le_bytes());
        out.extend_from_slice(&self.flags.to_le_bytes());
        out.extend_from_slice(&self.score.to_le_bytes());
        out.extend_from_slice(&self.flag_score.to_le_bytes());
    }

    fn read(b: &[u8]) -> Option<PlayerScore> {
        Some(PlayerScore {
            kills: u16_at(b, 0)?,
            deaths: u16_at(b, 2)?,
            flags: u16_at(b, 4)?,
            score: u32_at(b, 6)?,
            flag_score: u32_at(b, 10)?,
        })
    }
}

/// S2B 0x02: the zone logs in to the biller.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServerConnect {
    /// `Billing:ServerID`.
    pub server_id: u32,
    /// `Billing:GroupID`.
    pub group_id: u32,
    /// `Billing:ScoreID`.
    pub score_id: u32,
    /// `Billing:ServerName` (126-byte field).
    pub name: String,
    /// The zone's game port.
    pub port: u16,
    /// `Billing:Password` (32-byte field).
    pub password: String,
}

/// S2B 0x04: a player's login, to be decided by the biller.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserLogin {
    /// The login packet's flags byte (1 = "create new user").
    pub make_new: u8,
    /// The player's IPv4 address, first octet first.
    pub ip: [u8; 4],
    /// Name as typed (32-byte field).
    pub name: String,
    /// Password as typed (32-byte field).
    pub password: String,
    /// The player's pid.
    pub connection_id: u32,
    /// The login packet's machine id.
    pub machine_id: u32,
    /// Time-zone bias (the login's signed 16-bit value, widened).
    pub timezone: i32,
    /// The client version.
    pub client_version: u16,
    /// Login-packet bytes from offset 101 on (Continuum id), at most
    /// [`MAX_CLIENT_EXTRA`].
    pub extra: Vec<u8>,
}

/// A message from the zone to the biller (`docs/protocol/billing-udp.md` §3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZoneMessage {
    /// 0x01 keepalive.
    Ping,
    /// 0x02 zone login.
    ServerConnect(ServerConnect),
    /// 0x03 zone logoff.
    ServerDisconnect,
    /// 0x04 player login.
    UserLogin(UserLogin),
    /// 0x05 player left; with the score block when known.
    UserLogoff {
        /// Pid.
        connection_id: u32,
        /// Score of the reset interval in public arenas.
        score: Option<PlayerScore>,
    },
    /// 0x07 remote private or squad message,
    /// text `:<dest>:(<sender>)><message>`.
    UserPrivateChat {
        /// The chat packet's sound.
        sound: u8,
        /// The whole text.
        text: String,
    },
    /// 0x0D registration form (C2S 0x17 without its type byte).
    UserDemographics {
        /// Pid.
        connection_id: u32,
        /// The form.
        data: Vec<u8>,
    },
    /// 0x10 a banner the player set.
    UserBanner {
        /// Pid.
        connection_id: u32,
        /// The bitmap.
        banner: [u8; BANNER_LEN],
    },
    /// 0x13 a `?command` line (with its `?`).
    UserCommand {
        /// Pid.
        connection_id: u32,
        /// `?` + the line.
        text: String,
    },
    /// 0x14 a chat channel message.
    UserChannelChat {
        /// Pid.
        connection_id: u32,
        /// Channel (normally a number, 32-byte field).
        channel: String,
        /// The message.
        text: String,
    },
    /// 0x15 capability bits ([`CAP_MULTICAST_CHAT`], [`CAP_DEMOGRAPHICS`]).
    ServerCapabilities {
        /// The bits.
        bits: u32,
    },
}

impl ZoneMessage {
    /// Appends the encoded message to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            ZoneMessage::Ping => out.push(s2b_type::PING),
            ZoneMessage::ServerConnect(c) => {
                out.push(s2b_type::SERVER_CONNECT);
                out.extend_from_slice(&c.server_id.to_le_bytes());
                out.extend_from_slice(&c.group_id.to_le_bytes());
                out.extend_from_slice(&c.score_id.to_le_bytes());
                put_fixed(out, &c.name, 126);
                out.extend_from_slice(&c.port.to_le_bytes());
                put_fixed(out, &c.password, 32);
            }
            ZoneMessage::ServerDisconnect => out.push(s2b_type::SERVER_DISCONNECT),
            ZoneMessage::UserLogin(l) => {
                out.push(s2b_type::USER_LOGIN);
                out.push(l.make_new);
                out.extend_from_slice(&l.ip);
                put_fixed(out, &l.name, 32);
                put_fixed(out, &l.password, 32);
                out.extend_from_slice(&l.connection_id.to_le_bytes());
                out.extend_from_slice(&l.machine_id.to_le_bytes());
                out.extend_from_slice(&l.timezone.to_le_bytes());
                out.push(0); // unused
                out.push(0); // sysop
                out.extend_from_slice(&l.client_version.to_le_bytes());
                let n = l.extra.len().min(MAX_CLIENT_EXTRA);
                out.extend_from_slice(&l.extra[..n]);
            }
            ZoneMessage::UserLogoff {
                connection_id,
                score,
            } => {
                out.push(s2b_type::USER_LOGOFF);
                out.extend_from_slice(&connection_id.to_le_bytes());
                // Disconnect reason, latency, ping, loss both ways: both
                // reference zones send zeros.
                out.extend_from_slice(&[0u8; 10]);
                if let Some(s) = score {
                    s.write(out);
                }
            }
            ZoneMessage::UserPrivateChat { sound, text } => {
                out.push(s2b_type::USER_PRIVATE_CHAT);
                out.extend_from_slice(&NO_CONNECTION.to_le_bytes());
                out.extend_from_slice(&1u32.to_le_bytes()); // group
                out.push(2); // sub type
                out.push(*sound);
                put_text(out, text);
            }
            ZoneMessage::UserDemographics {
                connection_id,
                data,
            } => {
                out.push(s2b_type::USER_DEMOGRAPHICS);
                out.extend_from_slice(&connection_id.to_le_bytes());
                let n = data.len().min(MAX_DEMOGRAPHICS);
                out.extend_from_slice(&data[..n]);
            }
            ZoneMessage::UserBanner {
                connection_id,
                banner,
            } => {
                out.push(s2b_type::USER_BANNER);
                out.extend_from_slice(&connection_id.to_le_bytes());
                out.extend_from_slice(banner);
            }
            ZoneMessage::UserCommand {
                connection_id,
                text,
            } => {
                out.push(s2b_type::USER_COMMAND);
                out.extend_from_slice(&connection_id.to_le_bytes());
                put_text(out, text);
            }
            ZoneMessage::UserChannelChat {
                connection_id,
                channel,
                text,
            } => {
                out.push(s2b_type::USER_CHANNEL_CHAT);
                out.extend_from_slice(&connection_id.to_le_bytes());
                put_fixed(out, channel, 32);
                put_text(out, text);
            }
            ZoneMessage::ServerCapabilities { bits } => {
                out.push(s2b_type::SERVER_CAPABILITIES);
                out.extend_from_slice(&bits.to_le_bytes());
            }
        }
    }

    /// The encoded message as a new buffer.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

/// The first-login date in a login result (all zero = unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct FirstLogin {
    /// Year.
    pub year: u16,
    /// Month.
    pub month: u16,
    /// Day.
    pub day: u16,
    /// Hour.
    pub hour: u16,
    /// Minute.
    pub minute: u16,
    /// Second.
    pub second: u16,
}

impl FirstLogin {
    /// Whether the biller gave no date.
    pub fn is_unknown(&self) -> bool {
        *self == FirstLogin::default()
    }
}

/// Login result codes of a B2S 0x01 (`docs/protocol/billing-udp.md` §4.1).
pub mod login_result {
    /// Accepted.
    pub const OK: u8 = 0;
    /// Name not registered; the client may ask to create it.
    pub const NEW_USER: u8 = 1;
    /// Wrong password.
    pub const INVALID_PASSWORD: u8 = 2;
    /// Banned.
    pub const BANNED: u8 = 3;
    /// No new connections.
    pub const NO_NEW_CONNECTIONS: u8 = 4;
    /// Name not allowed.
    pub const BAD_USER_NAME: u8 = 5;
    /// Demo version (accepted, registration wanted).
    pub const DEMO_VERSION: u8 = 6;
    /// Biller busy.
    pub const SERVER_BUSY: u8 = 7;
    /// Accepted; registration form wanted.
    pub const ASK_DEMOGRAPHICS: u8 = 8;
}

/// B2S 0x01: the biller's answer to a user login.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LoginResult {
    /// One of [`login_result`].
    pub result: u8,
    /// Pid from the request.
    pub connection_id: u32,
    /// The name the biller assigns.
    pub name: String,
    /// Squad.
    pub squad: String,
    /// Stored banner (all zero = none).
    pub banner: Vec<u8>,
    /// Total usage, seconds.
    pub seconds_played: u32,
    /// First login date.
    pub first_login: FirstLogin,
    /// The biller's account id.
    pub user_id: u32,
    /// Optional score block.
    pub score: Option<PlayerScore>,
}

impl LoginResult {
    /// Length without the score block.
    pub const LEN: usize = 178;
    /// Length with the score block.
    pub const LEN_WITH_SCORE: usize = 192;

    /// Appends the encoded message (for billers and tests).
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(b2s_type::USER_LOGIN);
        out.push(self.result);
        out.extend_from_slice(&self.connection_id.to_le_bytes());
        put_fixed(out, &self.name, 24);
        put_fixed(out, &self.squad, 24);
        let mut banner = [0u8; BANNER_LEN];
        let n = self.banner.len().min(BANNER_LEN);
        banner[..n].copy_from_slice(&self.banner[..n]);
        out.extend_from_slice(&banner);
        out.extend_from_slice(&self.seconds_played.to_le_bytes());
        let f = &self.first_login;
        for v in [f.year, f.month, f.day, f.hour, f.minute, f.second] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&[0u8; 4]);
        out.extend_from_slice(&self.user_id.to_le_bytes());
        out.extend_from_slice(&[0u8; 4]);
        if let Some(s) = &self.score {
            s.write(out);
        }
    }
}

/// A message from the biller to the zone (`docs/protocol/billing-udp.md` §4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BillerMessage {
    /// 0x01 login result.
    UserLogin(Box<LoginResult>),
    /// 0x03 remote private / squad message (text starts with `:`) or a
    /// zone-wide broadcast (any other text).
    UserPrivateChat {
        /// The sending zone's server id.
        source_server: u32,
        /// Sound.
        sound: u8,
        /// Text.
        text: String,
    },
    /// 0x08 disconnect a player.
    UserKickout {
        /// Pid.
        connection_id: u32,
        /// Reason code (only logged).
        reason: u16,
    },
    /// 0x09 reply text for a player.
    UserCommandChat {
        /// Pid.
        connection_id: u32,
        /// Text.
        text: String,
    },
    /// 0x0A chat channel message for one player.
    UserChannelChat {
        /// Pid.
        connection_id: u32,
        /// The player's number for the channel.
        channel: u8,
        /// Text (normally `<sender>> <message>`).
        text: String,
    },
    /// 0x34 chat channel message for several players.
    UserMChannelChat {
        /// (pid, channel number) for each recipient.
        recipients: Vec<(u32, u8)>,
        /// Text.
        text: String,
    },
    /// 0x31 end the reset score interval.
    ScoreReset {
        /// The score realm.
        score_id: u32,
    },
    /// 0x32 a raw game packet for one player (or [`NO_CONNECTION`] = all).
    UserPacket {
        /// Pid.
        connection_id: u32,
        /// The game packet.
        data: Vec<u8>,
    },
    /// 0x33 opaque identity (at most [`MAX_IDENTITY`] bytes kept).
    BillingIdentity(Vec<u8>),
}

impl BillerMessage {
    /// Decodes one biller message, checking every length and field the
    /// protocol constrains.
    pub fn decode(b: &[u8]) -> Result<BillerMessage, BillingError> {
        let kind = *b.first().ok_or(BillingError::Empty)?;
        let len = b.len();
        let truncated = BillingError::Truncated { kind, len };
        let oversized = BillingError::Oversized { kind, len };
        let need = |min: usize, max: usize| {
            if len < min {
                Err(truncated)
            } else if len > max {
                Err(oversized)
            } else {
                Ok(())
            }
        };
        Ok(match kind {
            b2s_type::USER_LOGIN => {
                need(LoginResult::LEN, LoginResult::LEN_WITH_SCORE)?;
                let fl = |i: usize| u16_at(b, 154 + 2 * i).unwrap_or(0);
                let score = if len >= LoginResult::LEN_WITH_SCORE {
                    b.get(178..192).and_then(PlayerScore::read)
                } else {
                    None
                };
                BillerMessage::UserLogin(Box::new(LoginResult {
                    result: b[1],
                    connection_id: u32_at(b, 2).ok_or(truncated)?,
                    name: fixed_at(b, 6, 24),
                    squad: fixed_at(b, 30, 24),
                    banner: b.get(54..150).map(<[u8]>::to_vec).unwrap_or_default(),
                    seconds_played: u32_at(b, 150).unwrap_or(0),
                    first_login: FirstLogin {
                        year: fl(0),
                        month: fl(1),
                        day: fl(2),
                        hour: fl(3),
                        minute: fl(4),
                        second: fl(5),
                    },
                    user_id: u32_at(b, 170).unwrap_or(0),
                    score,
                }))
            }
            b2s_type::USER_PRIVATE_CHAT => {
                need(8, 7 + MAX_TEXT)?;
                if b[5] != 2 {
                    return Err(BillingError::Invalid {
                        kind,
                        what: "sub type is not 2",
                    });
                }
                BillerMessage::UserPrivateChat {
                    source_server: u32_at(b, 1).ok_or(truncated)?,
                    sound: b[6],
                    text: text_at(b, 7, kind)?,
                }
            }
            b2s_type::USER_KICKOUT => {
                // The reason is 16 bits (ASSS) or 32 (another source).
                need(7, 9)?;
                BillerMessage::UserKickout {
                    connection_id: u32_at(b, 1).ok_or(truncated)?,
                    reason: u16_at(b, 5).ok_or(truncated)?,
                }
            }
            b2s_type::USER_COMMAND_CHAT => {
                need(6, 5 + MAX_TEXT)?;
                BillerMessage::UserCommandChat {
                    connection_id: u32_at(b, 1).ok_or(truncated)?,
                    text: text_at(b, 5, kind)?,
                }
            }
            b2s_type::USER_CHANNEL_CHAT => {
                need(7, 6 + MAX_TEXT)?;
                BillerMessage::UserChannelChat {
                    connection_id: u32_at(b, 1).ok_or(truncated)?,
                    channel: b[5],
                    text: text_at(b, 6, kind)?,
                }
            }
            b2s_type::USER_MCHANNEL_CHAT => {
                let count = usize::from(*b.get(1).ok_or(truncated)?);
                if count == 0 {
                    return Err(BillingError::Invalid {
                        kind,
                        what: "no recipients",
                    });
                }
                let text_start = 2 + 5 * count;
                need(text_start + 1, text_start + MAX_TEXT)?;
                let recipients = (0..count)
                    .filter_map(|i| {
                        let at = 2 + 5 * i;
                        Some((u32_at(b, at)?, *b.get(at + 4)?))
                    })
                    .collect();
                BillerMessage::UserMChannelChat {
                    recipients,
                    text: text_at(b, text_start, kind)?,
                }
            }
            b2s_type::SCORE_RESET => {
                need(9, 9)?;
                let id = u32_at(b, 1).ok_or(truncated)?;
                let neg = u32_at(b, 5).ok_or(truncated)?;
                if (id as i32).wrapping_neg() != neg as i32 {
                    return Err(BillingError::Invalid {
                        kind,
                        what: "score id check does not match",
                    });
                }
                BillerMessage::ScoreReset { score_id: id }
            }
            b2s_type::USER_PACKET => {
                need(6, 5 + MAX_USER_PACKET)?;
                BillerMessage::UserPacket {
                    connection_id: u32_at(b, 1).ok_or(truncated)?,
                    data: b[5..].to_vec(),
                }
            }
            b2s_type::BILLING_IDENTITY => {
                let end = len.min(1 + MAX_IDENTITY);
                BillerMessage::BillingIdentity(b[1..end].to_vec())
            }
            other => return Err(BillingError::UnknownType(other)),
        })
    }
}

/// Appends `s` as an `n`-byte NUL-padded field that keeps a terminating
/// NUL (at most `n - 1` characters).
fn put_fixed(out: &mut Vec<u8>, s: &str, n: usize) {
    let start = out.len();
    out.extend(
        s.chars()
            .take_while(|&c| c != '\0')
            .take(n - 1)
            .map(char_to_byte),
    );
    out.resize(start + n, 0);
}

/// Appends text cut to [`MAX_TEXT`]` - 1` characters and its NUL.
fn put_text(out: &mut Vec<u8>, s: &str) {
    out.extend(
        s.chars()
            .take_while(|&c| c != '\0')
            .take(MAX_TEXT - 1)
            .map(char_to_byte),
    );
    out.push(0);
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([s[0], s[1]]))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// A fixed field at `at` of `n` bytes (shorter if the packet ends), up to
/// its first NUL.
fn fixed_at(b: &[u8], at: usize, n: usize) -> String {
    let field = b.get(at..).unwrap_or(&[]);
    let field = &field[..field.len().min(n)];
    field
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| byte_to_char(c))
        .collect()
}

/// NUL-terminated text from `at` to the end of the packet; the NUL must be
/// there.
fn text_at(b: &[u8], at: usize, kind: u8) -> Result<String, BillingError> {
    let rest = b.get(at..).unwrap_or(&[]);
    let end = rest
        .iter()
        .position(|&c| c == 0)
        .ok_or(BillingError::Unterminated(kind))?;
    Ok(rest[..end].iter().map(|&c| byte_to_char(c)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn server_connect_layout() {
        let bytes = ZoneMessage::ServerConnect(ServerConnect {
            server_id: 7,
            group_id: 1,
            score_id: 3,
            name: "Test Zone".into(),
            port: 5000,
            password: "pw".into(),
        })
        .to_bytes();
        assert_eq!(bytes.len(), 173);
        assert_eq!(bytes[0], 0x02);
        assert_eq!(bytes[1..5], 7u32.to_le_bytes());
        assert_eq!(bytes[5..9], 1u32.to_le_bytes());
        assert_eq!(bytes[9..13], 3u32.to_le_bytes());
        assert_eq!(&bytes[13..22], b"Test Zone");
        assert!(bytes[22..139].iter().all(|&b| b == 0));
        assert_eq!(bytes[139..141], 5000u16.to_le_bytes());
        assert_eq!(&bytes[141..143], b"pw");
        assert!(bytes[143..].iter().all(|&b| b == 0));
    }

    #[test]
    fn long_fixed_fields_keep_a_nul() {
        let bytes = ZoneMessage::ServerConnect(ServerConnect {
            password: "x".repeat(40),
            ..ServerConnect::default()
        })
        .to_bytes();
        assert_eq!(bytes.len(), 173);
        assert!(bytes[141..172].iter().all(|&b| b == b'x'));
        assert_eq!(bytes[172], 0);
    }

    #[test]
    fn user_login_layout() {
        let login = UserLogin {
            make_new: 1,
            ip: [127, 0, 0, 1],
            name: "Bob".into(),
            password: "secret".into(),
            connection_id: 5,
            machine_id: 0xDEAD_BEEF,
            timezone: -240,
            client_version: 134,
            extra: vec![],
        };
        let b = ZoneMessage::UserLogin(login.clone()).to_bytes();
        assert_eq!(b.len(), 86);
        assert_eq!(b[..2], [0x04, 1]);
        assert_eq!(b[2..6], [127, 0, 0, 1]);
        assert_eq!(&b[6..9], b"Bob");
        assert_eq!(&b[38..44], b"secret");
        assert_eq!(b[70..74], 5u32.to_le_bytes());
        assert_eq!(b[74..78], 0xDEAD_BEEFu32.to_le_bytes());
        assert_eq!(b[78..82], (-240i32).to_le_bytes());
        assert_eq!(b[82..84], [0, 0]);
        assert_eq!(b[84..86], 134u16.to_le_bytes());
        let cont = ZoneMessage::UserLogin(UserLogin {
            extra: vec![9; 300],
            ..login
        })
        .to_bytes();
        assert_eq!(cont.len(), 86 + MAX_CLIENT_EXTRA);
    }

    #[test]
    fn logoff_chat_command_and_small_messages() {
        let off = ZoneMessage::UserLogoff {
            connection_id: 3,
            score: None,
        }
        .to_bytes();
        assert_eq!(off, [5, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        let with = ZoneMessage::UserLogoff {
            connection_id: 3,
            score: Some(PlayerScore {
                kills: 1,
                deaths: 2,
                flags: 3,
                score: 400,
                flag_score: 500,
            }),
        }
        .to_bytes();
        assert_eq!(with.len(), 29);
        assert_eq!(with[15..17], [1, 0]);
        assert_eq!(with[17..19], [2, 0]);
        assert_eq!(with[19..21], [3, 0]);
        assert_eq!(with[21..25], 400u32.to_le_bytes());
        assert_eq!(with[25..29], 500u32.to_le_bytes());

        let chat = ZoneMessage::UserPrivateChat {
            sound: 4,
            text: ":bob:(alice)>hi".into(),
        }
        .to_bytes();
        assert_eq!(chat[..11], [7, 0xFF, 0xFF, 0xFF, 0xFF, 1, 0, 0, 0, 2, 4]);
        assert_eq!(&chat[11..], b":bob:(alice)>hi\0");
        let long = ZoneMessage::UserCommand {
            connection_id: 1,
            text: "?".repeat(400),
        }
        .to_bytes();
        assert_eq!(long.len(), 5 + MAX_TEXT);
        assert_eq!(long.last(), Some(&0));

        let chan = ZoneMessage::UserChannelChat {
            connection_id: 2,
            channel: "1".into(),
            text: "yo".into(),
        }
        .to_bytes();
        assert_eq!(chan.len(), 37 + 3);
        assert_eq!(chan[5], b'1');
        assert_eq!(&chan[37..], b"yo\0");
        assert_eq!(ZoneMessage::Ping.to_bytes(), [1]);
        assert_eq!(ZoneMessage::ServerDisconnect.to_bytes(), [3]);
        assert_eq!(
            ZoneMessage::ServerCapabilities { bits: 3 }.to_bytes(),
            [0x15, 3, 0, 0, 0]
        );
        assert_eq!(
            ZoneMessage::UserBanner {
                connection_id: 1,
                banner: [7; BANNER_LEN]
            }
            .to_bytes()
            .len(),
            101
        );
        assert_eq!(
            ZoneMessage::UserDemographics {
                connection_id: 1,
                data: vec![1; 1000]
            }
            .to_bytes()
            .len(),
            5 + MAX_DEMOGRAPHICS
        );
    }

    fn login_result_bytes(score: bool) -> Vec<u8> {
        // Built by offsets from the document, independently of `encode`.
        let mut b = vec![0u8; if score { 192 } else { 178 }];
        b[0] = 0x01;
        b[1] = 0;
        b[2..6].copy_from_slice(&9u32.to_le_bytes());
        b[6..11].copy_from_slice(b"Alice");
        b[30..33].copy_from_slice(b"Sqd");
        b[54] = 0xAA;
        b[150..154].copy_from_slice(&3600u32.to_le_bytes());
        b[154..156].copy_from_slice(&2001u16.to_le_bytes());
        b[156..158].copy_from_slice(&2u16.to_le_bytes());
        b[158..160].copy_from_slice(&3u16.to_le_bytes());
        b[170..174].copy_from_slice(&4242u32.to_le_bytes());
        if score {
            b[178..180].copy_from_slice(&10u16.to_le_bytes());
            b[184..188].copy_from_slice(&999u32.to_le_bytes());
        }
        b
    }

    #[test]
    fn login_result_decodes() {
        let BillerMessage::UserLogin(r) =
            BillerMessage::decode(&login_result_bytes(false)).unwrap()
        else {
            panic!("wrong kind");
        };
        assert_eq!(r.result, 0);
        assert_eq!(r.connection_id, 9);
        assert_eq!(r.name, "Alice");
        assert_eq!(r.squad, "Sqd");
        assert_eq!(r.banner.len(), 96);
        assert_eq!(r.banner[0], 0xAA);
        assert_eq!(r.seconds_played, 3600);
        assert_eq!(
            (r.first_login.year, r.first_login.month, r.first_login.day),
            (2001, 2, 3)
        );
        assert_eq!(r.user_id, 4242);
        assert_eq!(r.score, None);
        let BillerMessage::UserLogin(s) = BillerMessage::decode(&login_result_bytes(true)).unwrap()
        else {
            panic!("wrong kind");
        };
        assert_eq!(s.score.map(|s| (s.kills, s.score)), Some((10, 999)));
        // encode agrees with the hand-built layout
        let mut again = Vec::new();
        s.encode(&mut again);
        assert_eq!(again, login_result_bytes(true));
    }

    #[test]
    fn malformed_messages_are_refused() {
        let short = &login_result_bytes(false)[..177];
        assert!(matches!(
            BillerMessage::decode(short),
            Err(BillingError::Truncated { kind: 1, len: 177 })
        ));
        let mut long = login_result_bytes(true);
        long.push(0);
        assert!(matches!(
            BillerMessage::decode(&long),
            Err(BillingError::Oversized { kind: 1, .. })
        ));
        assert_eq!(BillerMessage::decode(&[]), Err(BillingError::Empty));
        assert_eq!(
            BillerMessage::decode(&[0x77, 1, 2]),
            Err(BillingError::UnknownType(0x77))
        );
        // private chat: bad sub type, no NUL, too long
        assert!(matches!(
            BillerMessage::decode(&[3, 0, 0, 0, 0, 1, 0, b'a', 0]),
            Err(BillingError::Invalid { .. })
        ));
        assert_eq!(
            BillerMessage::decode(&[3, 0, 0, 0, 0, 2, 0, b'a']),
            Err(BillingError::Unterminated(3))
        );
        let mut huge = vec![3, 0, 0, 0, 0, 2, 0];
        huge.extend(std::iter::repeat_n(b'a', 300));
        huge.push(0);
        assert!(matches!(
            BillerMessage::decode(&huge),
            Err(BillingError::Oversized { kind: 3, .. })
        ));
        // kickout too short; score reset with a bad check value
        assert!(BillerMessage::decode(&[8, 1, 0, 0, 0, 1]).is_err());
        let mut reset = vec![0x31];
        reset.extend_from_slice(&5u32.to_le_bytes());
        reset.extend_from_slice(&5u32.to_le_bytes());
        assert!(BillerMessage::decode(&reset).is_err());
        // multicast: no recipients; list longer than the packet
        assert!(BillerMessage::decode(&[0x34, 0, b'a', 0]).is_err());
        assert!(BillerMessage::decode(&[0x34, 3, 1, 0, 0, 0, 1, b'a', 0]).is_err());
        // user packet without data
        assert!(BillerMessage::decode(&[0x32, 1, 0, 0, 0]).is_err());
    }

    #[test]
    fn other_biller_messages_decode() {
        assert_eq!(
            BillerMessage::decode(b"\x03\x01\x00\x00\x00\x02\x05:bob:(al)>hi\0").unwrap(),
            BillerMessage::UserPrivateChat {
                source_server: 1,
                sound: 5,
                text: ":bob:(al)>hi".into()
            }
        );
        assert_eq!(
            BillerMessage::decode(&[8, 4, 0, 0, 0, 9, 0]).unwrap(),
            BillerMessage::UserKickout {
                connection_id: 4,
                reason: 9
            }
        );
        assert_eq!(
            BillerMessage::decode(b"\x09\x02\x00\x00\x00ok\0").unwrap(),
            BillerMessage::UserCommandChat {
                connection_id: 2,
                text: "ok".into()
            }
        );
        assert_eq!(
            BillerMessage::decode(b"\x0A\x02\x00\x00\x00\x03al> yo\0").unwrap(),
            BillerMessage::UserChannelChat {
                connection_id: 2,
                channel: 3,
                text: "al> yo".into()
            }
        );
        assert_eq!(
            BillerMessage::decode(b"\x34\x02\x01\x00\x00\x00\x04\x02\x00\x00\x00\x05t\0").unwrap(),
            BillerMessage::UserMChannelChat {
                recipients: vec![(1, 4), (2, 5)],
                text: "t".into()
            }
        );
        let mut reset = vec![0x31];
        reset.extend_from_slice(&5u32.to_le_bytes());
        reset.extend_from_slice(&(-5i32).to_le_bytes());
        assert_eq!(
            BillerMessage::decode(&reset).unwrap(),
            BillerMessage::ScoreReset { score_id: 5 }
        );
        assert_eq!(
            BillerMessage::decode(&[0x32, 1, 0, 0, 0, 0x33, b'x', 0]).unwrap(),
            BillerMessage::UserPacket {
                connection_id: 1,
                data: vec![0x33, b'x', 0]
            }
        );
        let mut ident = vec![0x33];
        ident.extend(std::iter::repeat_n(1u8, 400));
        assert_eq!(
            BillerMessage::decode(&ident).unwrap(),
            BillerMessage::BillingIdentity(vec![1; MAX_IDENTITY])
        );
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = BillerMessage::decode(&bytes);
        }

        #[test]
        fn arbitrary_typed_bytes_never_panic(
            kind in prop::sample::select(vec![1u8, 3, 8, 9, 0x0A, 0x31, 0x32, 0x33, 0x34]),
            rest in proptest::collection::vec(any::<u8>(), 0..300),
        ) {
            let mut b = vec![kind];
            b.extend(rest);
            let _ = BillerMessage::decode(&b);
        }
    }
}
