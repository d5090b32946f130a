//! The client-to-server packets a zone handles itself rather than passing
//! to an arena: login, arena changes, and the two packets the billing
//! server wants (registration form and banner).
//!
//! [`ZonePacket::decode`] applies the length rules ASSS applies to each of
//! them; a packet of one of these types with any other length is a
//! [`PacketError::BadLength`] and must be dropped, not acted on.

use super::c2s::{GoArena, Login};
use super::s2c::S2CPacket;
use super::{c2s_type as t, chat_type, check_len, game_type, Chat, PacketError};
use crate::billing::{BANNER_LEN, MAX_DEMOGRAPHICS};
use crate::transport::DisconnectReason;

/// Which client a connection speaks for; it fixes the login length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientKind {
    /// SubSpace (VIE) client: 101-byte login.
    Vie,
    /// Continuum client: 165-byte login.
    Continuum,
}

impl ClientKind {
    /// [`ClientKind::Continuum`] if `continuum`, else [`ClientKind::Vie`].
    pub fn from_continuum(continuum: bool) -> Self {
        if continuum {
            ClientKind::Continuum
        } else {
            ClientKind::Vie
        }
    }

    /// The only login length ASSS accepts from this client.
    pub fn login_len(self) -> usize {
        match self {
            ClientKind::Vie => Login::VIE_LEN,
            ClientKind::Continuum => Login::CONTINUUM_LEN,
        }
    }
}

/// A C2S packet the zone handles itself, decoded and length-checked.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ZonePacket {
    /// 0x09 or 0x24: login, exactly [`ClientKind::login_len`] bytes (either
    /// type byte; the connection's client kind decides the length).
    Login(Box<Login>),
    /// 0x01: go to arena, [`GoArena::VIE_LEN`] or [`GoArena::CONTINUUM_LEN`]
    /// bytes from either client.
    GoArena(GoArena),
    /// 0x02: leave the arena, exactly 1 byte.
    LeaveArena,
    /// 0x17: registration form for the biller, 1 to 1 +
    /// [`MAX_DEMOGRAPHICS`] bytes; the body after the type byte.
    Registration(Vec<u8>),
    /// 0x19: set banner, exactly 1 + [`BANNER_LEN`] bytes; the bitmap.
    Banner(Box<[u8; BANNER_LEN]>),
    /// 0x0D: news.txt request, exactly 1 byte.
    NewsRequest,
    /// 0x0B: Continuum asks for its update file, exactly 1 byte.
    UpdateRequest,
}

impl ZonePacket {
    /// Length of a C2S 0x19 banner packet.
    pub const BANNER_PACKET_LEN: usize = 1 + BANNER_LEN;
    /// Longest C2S 0x17 registration packet.
    pub const MAX_REGISTRATION_LEN: usize = 1 + MAX_DEMOGRAPHICS;

    /// Whether packets of type `ptype` are ones the zone handles itself
    /// (and [`ZonePacket::decode`] decodes).
    pub fn handles(ptype: u8) -> bool {
        matches!(
            ptype,
            t::GO_ARENA
                | t::LEAVE_ARENA
                | t::LOGIN
                | t::CONTINUUM_LOGIN
                | t::REGISTRATION
                | t::BANNER
                | t::NEWS_REQUEST
                | t::UPDATE_REQUEST
        )
    }

    /// Decodes one whole packet (type byte first) from a `client`
    /// connection.
    ///
    /// `Ok(None)`: a type the zone does not handle (pass it on).
    /// `Err`: empty, a core packet, or one of the zone's types with a length
    /// ASSS refuses (drop it).
    pub fn decode(b: &[u8], client: ClientKind) -> Result<Option<Self>, PacketError> {
        let ptype = game_type(b)?;
        let len = b.len();
        let p = match ptype {
            t::LOGIN | t::CONTINUUM_LOGIN => {
                check_len(ptype, len, len == client.login_len())?;
                ZonePacket::Login(Box::new(Login::decode(b)?))
            }
            t::GO_ARENA => ZonePacket::GoArena(GoArena::decode(b)?),
            t::LEAVE_ARENA => {
                check_len(ptype, len, len == 1)?;
                ZonePacket::LeaveArena
            }
            t::REGISTRATION => {
                check_len(ptype, len, len <= Self::MAX_REGISTRATION_LEN)?;
                ZonePacket::Registration(b[1..].to_vec())
            }
            t::BANNER => {
                check_len(ptype, len, len == Self::BANNER_PACKET_LEN)?;
                let mut banner = Box::new([0u8; BANNER_LEN]);
                banner.copy_from_slice(&b[1..]);
                ZonePacket::Banner(banner)
            }
            t::NEWS_REQUEST => {
                check_len(ptype, len, len == 1)?;
                ZonePacket::NewsRequest
            }
            t::UPDATE_REQUEST => {
                check_len(ptype, len, len == 1)?;
                ZonePacket::UpdateRequest
            }
            _ => return Ok(None),
        };
        Ok(Some(p))
    }

    /// The type byte of the packet (0x24 for a Continuum-length login).
    pub fn packet_type(&self) -> u8 {
        match self {
            ZonePacket::Login(l) if l.is_continuum() => t::CONTINUUM_LOGIN,
            ZonePacket::Login(_) => t::LOGIN,
            ZonePacket::GoArena(_) => t::GO_ARENA,
            ZonePacket::LeaveArena => t::LEAVE_ARENA,
            ZonePacket::Registration(_) => t::REGISTRATION,
            ZonePacket::Banner(_) => t::BANNER,
            ZonePacket::NewsRequest => t::NEWS_REQUEST,
            ZonePacket::UpdateRequest => t::UPDATE_REQUEST,
        }
    }

    /// Appends the encoded packet to `out` (a registration body longer than
    /// [`MAX_DEMOGRAPHICS`] is cut).
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            ZonePacket::Login(l) => l.write(out),
            ZonePacket::GoArena(g) => g.write(out),
            ZonePacket::LeaveArena => out.push(t::LEAVE_ARENA),
            ZonePacket::Registration(body) => {
                out.push(t::REGISTRATION);
                out.extend_from_slice(&body[..body.len().min(MAX_DEMOGRAPHICS)]);
            }
            ZonePacket::Banner(banner) => {
                out.push(t::BANNER);
                out.extend_from_slice(&banner[..]);
            }
            ZonePacket::NewsRequest => out.push(t::NEWS_REQUEST),
            ZonePacket::UpdateRequest => out.push(t::UPDATE_REQUEST),
        }
    }
}

impl S2CPacket {
    /// S2C 0x01 "who am I": `01`, pid (3 bytes). Sent on login, and again
    /// to move a client out of an arena it can no longer be in.
    pub fn who_am_i(pid: i16) -> S2CPacket {
        S2CPacket::WhoAmI { pid }
    }

    /// A chat message from the server (sender pid −1), of type `chat_type`
    /// ([`chat_type`]).
    pub fn server_chat(chat_type: u8, text: impl Into<String>) -> S2CPacket {
        S2CPacket::Chat(Chat {
            chat_type,
            sound: 0,
            pid: -1,
            text: text.into(),
        })
    }

    /// A green arena message from the server.
    pub fn arena_message(text: impl Into<String>) -> S2CPacket {
        S2CPacket::server_chat(chat_type::ARENA, text)
    }

    /// A remote private message as a zone delivers it: type
    /// [`chat_type::REMOTE_PRIVATE`], no sender pid, `(from)>text`.
    pub fn remote_private(from: &str, text: &str) -> S2CPacket {
        S2CPacket::server_chat(chat_type::REMOTE_PRIVATE, format!("({from})>{text}"))
    }

    /// The message ASSS sends a client it drops for lag, just before
    /// `00 07`: a sysop warning (type 8, sound 0, pid 0) "You have been
    /// disconnected because of lag (reason)." `None` if `reason` is not a
    /// lag-out. ASSS sends it unreliably.
    pub fn lagged_out(reason: DisconnectReason) -> Option<S2CPacket> {
        let why = reason.lagout_text()?;
        Some(S2CPacket::Chat(Chat {
            chat_type: chat_type::SYSOP_WARNING,
            sound: 0,
            pid: 0,
            text: format!("You have been disconnected because of lag ({why})."),
        }))
    }
}
