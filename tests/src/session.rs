//! The client session both test clients share: the scripted [`crate::bot`]
//! (one thread per bot) and the load generator ([`crate::load`], many bots
//! per event loop).
//!
//! [`ClientSession`] is sans-IO, like the [`Connection`] it wraps: the
//! owner feeds it datagrams and the current time and sends what it hands
//! out. It does what every SubSpace client does the same way: the VIE
//! connection (client role), the first clock sync once the link is up and
//! the periodic re-syncs, the login (C2S 0x09) and arena entry (C2S 0x01)
//! packets, following the login and entry replies (S2C 0x0A, 0x01, 0x02)
//! and stamping positions (C2S 0x03) with the synced server time, always
//! later than the previous stamp.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use ss_proto::game::{
    s2c_type, C2SPacket, Chat, GoArena, Login, MapInfo, Position, S2CPacket, SecurityResponse,
};
use ss_proto::map::{self, Map};
use ss_proto::settings::ArenaSettings;
use ss_proto::transport::{tick_diff, Connection, Event, Priority, Reliability, TransportConfig};

/// How a session keeps its clock in sync.
#[derive(Clone, Copy, Debug)]
pub struct SyncPolicy {
    /// Time between re-syncs.
    pub interval: Duration,
    /// Whether re-syncs are scheduled from the moment the link is up;
    /// otherwise only once the owner calls [`ClientSession::schedule_sync`].
    pub from_connect: bool,
}

/// What the session has learnt from the zone's replies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SessionState {
    /// The link is up (`00 02` received).
    pub connected: bool,
    /// The link uses VIE encryption.
    pub encrypted: bool,
    /// A time sync reply has come.
    pub synced: bool,
    /// The login response: whether its code lets the login proceed.
    pub login_ok: Option<bool>,
    /// The pid of the last S2C 0x01 (who am I) since the last entry request.
    pub pid: Option<i16>,
    /// S2C 0x02 (entered arena) came after the who-am-I.
    pub entered: bool,
}

/// Why a packet was not sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendError {
    /// The connection is closed.
    Closed,
    /// The connection refused the packet (queue full, too large).
    Refused,
    /// A position needs a synced clock to be stamped.
    NotSynced,
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SendError::Closed => "the connection is closed",
            SendError::Refused => "the connection refused the packet",
            SendError::NotSynced => "no time sync yet",
        })
    }
}

impl std::error::Error for SendError {}

/// The C2S 0x01 asking for arena `name` in `ship`: the public-number form
/// for an all-digit name of at most 5 digits, else the named form.
pub fn go_arena(name: &str, ship: u8) -> GoArena {
    let number = if !name.is_empty() && name.len() <= 5 && name.bytes().all(|b| b.is_ascii_digit())
    {
        name.parse::<i16>().ok()
    } else {
        None
    };
    GoArena {
        ship,
        obscenity_filter: false,
        allow_audio: false,
        x_res: 1024,
        y_res: 768,
        arena_type: number.unwrap_or(GoArena::NAMED),
        arena_name: if number.is_some() {
            String::new()
        } else {
            name.to_owned()
        },
        optional_graphics: None,
    }
}

/// How a session answers security checksum requests (S2C 0x18 with a key).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SecurityAnswers {
    /// Like a real client: checksums of the settings and map it has.
    #[default]
    Correct,
    /// With a wrong map checksum.
    WrongMap,
    /// With a wrong settings checksum.
    WrongSettings,
    /// Not at all.
    Never,
}

/// Exe checksum the test client reports (the zone only records it).
pub const TEST_EXE_CHECKSUM: u32 = 0x5EC0_0001;

/// The maps every session knows without downloading: the default zone's
/// generated map and the one-tile emergency map, by file checksum.
fn known_maps() -> &'static HashMap<u32, Arc<Map>> {
    static MAPS: OnceLock<HashMap<u32, Arc<Map>>> = OnceLock::new();
    MAPS.get_or_init(|| {
        [map::default_map(), map::EMERGENCY_MAP.to_vec()]
            .into_iter()
            .filter_map(|lvl| Some((map::file_checksum(&lvl), Arc::new(Map::decode(&lvl).ok()?))))
            .collect()
    })
}

/// What a session keeps to answer security requests.
#[derive(Default)]
struct SecurityState {
    answers: SecurityAnswers,
    /// The last arena settings packet.
    settings: Option<ArenaSettings>,
    /// File checksum of the arena's map (S2C 0x29).
    map_crc: Option<u32>,
    /// Maps downloaded by the owner, by file checksum.
    maps: HashMap<u32, Arc<Map>>,
    /// A request to answer (its key).
    pending: Option<u32>,
    /// Requests answered.
    answered: u64,
}

impl SecurityState {
    fn follow(&mut self, pkt: &[u8]) {
        match pkt.first() {
            Some(&s2c_type::ARENA_SETTINGS) => {
                if let Ok(s) = ArenaSettings::from_bytes(pkt) {
                    self.settings = Some(s);
                }
            }
            Some(&s2c_type::MAP_INFO) => match S2CPacket::decode(pkt) {
                Ok(S2CPacket::MapInfo(MapInfo::Vie { checksum, .. })) => {
                    self.map_crc = Some(checksum);
                }
                Ok(S2CPacket::MapInfo(MapInfo::Continuum(files))) => {
                    self.map_crc = files.first().map(|f| f.checksum);
                }
                _ => {}
            },
            Some(&s2c_type::SECURITY) => {
                if let Ok(S2CPacket::Security(seeds)) = S2CPacket::decode(pkt) {
                    if seeds.checksum_key != 0 {
                        self.pending = Some(seeds.checksum_key);
                    }
                }
            }
            _ => {}
        }
    }

    /// The answer to the request with `key`, as the policy says.
    fn answer(&self, key: u32) -> Option<SecurityResponse> {
        let settings = self.settings.as_ref().map_or(0, |s| s.checksum(key));
        let map = self.map_crc.and_then(|crc| {
            self.maps
                .get(&crc)
                .or_else(|| known_maps().get(&crc))
                .map(|m| m.security_checksum(key))
        });
        let mut r = SecurityResponse {
            settings_checksum: settings,
            exe_checksum: TEST_EXE_CHECKSUM,
            map_checksum: map.unwrap_or(0),
            ..Default::default()
        };
        match self.answers {
            SecurityAnswers::Correct => {}
            SecurityAnswers::WrongMap => r.map_checksum = !r.map_checksum,
            SecurityAnswers::WrongSettings => r.settings_checksum = !r.settings_checksum,
            SecurityAnswers::Never => return None,
        }
        Some(r)
    }
}

/// A SubSpace client session over a sans-IO [`Connection`].
pub struct ClientSession {
    conn: Connection,
    security: SecurityState,
    sync: SyncPolicy,
    next_sync: Option<Instant>,
    state: SessionState,
    last_stamp: Option<u32>,
    decode_errors: u64,
    scratch: Vec<u8>,
}

impl ClientSession {
    /// A session whose connection request (with client key `key`) is
    /// queued: the first [`ClientSession::poll_transmit`] sends it.
    pub fn new(now: Instant, cfg: TransportConfig, key: u32, sync: SyncPolicy) -> ClientSession {
        ClientSession {
            conn: Connection::client(now, cfg, key),
            security: SecurityState::default(),
            sync,
            next_sync: None,
            state: SessionState::default(),
            last_stamp: None,
            decode_errors: 0,
            scratch: Vec::with_capacity(128),
        }
    }

    /// The connection.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// What the session has learnt so far.
    pub fn state(&self) -> &SessionState {
        &self.state
    }

    /// Login responses that failed to decode.
    pub fn decode_errors(&self) -> u64 {
        self.decode_errors
    }

    /// The estimated server time in ticks, from the last time sync.
    pub fn server_ticks(&self, now: Instant) -> Option<u32> {
        self.conn.server_ticks(now)
    }

    /// Feeds one received datagram. Every game packet goes to `on_packet`
    /// after the session has taken what it follows from it, with the state
    /// as updated.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        datagram: &mut [u8],
        on_packet: &mut dyn FnMut(&SessionState, &[u8]),
    ) {
        let state = &mut self.state;
        let decode_errors = &mut self.decode_errors;
        let security = &mut self.security;
        self.conn.handle_datagram(now, datagram, &mut |pkt| {
            follow(state, decode_errors, pkt);
            security.follow(pkt);
            on_packet(state, pkt);
        });
        if let Some(key) = self.security.pending.take() {
            if let Some(answer) = self.security.answer(key) {
                if self
                    .send_reliable(&C2SPacket::SecurityResponse(answer))
                    .is_ok()
                {
                    self.security.answered += 1;
                }
            }
        }
    }

    /// How security requests are answered from now on.
    pub fn set_security_answers(&mut self, answers: SecurityAnswers) {
        self.security.answers = answers;
    }

    /// Security requests answered so far.
    pub fn security_answered(&self) -> u64 {
        self.security.answered
    }

    /// Makes a downloaded map (`.lvl` bytes) known for the security map
    /// checksum.
    pub fn add_map(&mut self, lvl: &[u8]) {
        if let Ok(m) = Map::decode(lvl) {
            self.security
                .maps
                .insert(map::file_checksum(lvl), Arc::new(m));
        }
    }

    /// The next transport event. A link that comes up encrypted gets its
    /// first time sync (and, by the sync policy, its re-sync schedule)
    /// here; the owner decides what an unencrypted link means.
    pub fn poll_event(&mut self, now: Instant) -> Option<Event> {
        let ev = self.conn.poll_event()?;
        match ev {
            Event::Connected { encrypted } => {
                self.state.connected = true;
                self.state.encrypted = encrypted;
                if encrypted {
                    self.conn.send_time_sync(now);
                    if self.sync.from_connect {
                        self.next_sync = Some(now + self.sync.interval);
                    }
                }
            }
            Event::TimeSynced { .. } => self.state.synced = true,
            _ => {}
        }
        Some(ev)
    }

    /// Schedules the next re-sync (later ones follow the policy's interval).
    pub fn schedule_sync(&mut self, at: Instant) {
        self.next_sync = Some(at);
    }

    /// Sends a due re-sync, then every datagram the connection has due.
    pub fn poll_transmit(&mut self, now: Instant, out: &mut dyn FnMut(&[u8])) {
        if self.next_sync.is_some_and(|t| now >= t) && self.conn.is_open() {
            self.conn.send_time_sync(now);
            self.next_sync = Some(now + self.sync.interval);
        }
        self.conn.poll_transmit(now, out);
    }

    /// When the session next needs [`ClientSession::poll_transmit`] even if
    /// nothing arrives: a retransmission, a timeout or a re-sync.
    pub fn next_deadline(&self) -> Option<Instant> {
        match (self.conn.next_deadline(), self.next_sync) {
            (Some(d), Some(s)) => Some(d.min(s)),
            (d, s) => d.or(s),
        }
    }

    /// Closes the connection (`00 07` goes out with the next transmit).
    pub fn disconnect(&mut self) {
        self.conn.disconnect();
    }

    /// Queues an encoded game packet.
    pub fn send_raw(
        &mut self,
        bytes: &[u8],
        reliability: Reliability,
        priority: Priority,
    ) -> Result<(), SendError> {
        if !self.conn.is_open() {
            return Err(SendError::Closed);
        }
        if self.conn.send(bytes, reliability, priority) {
            Ok(())
        } else {
            Err(SendError::Refused)
        }
    }

    /// Queues `bytes` as a sized stream (`00 0A`), as a client sends a
    /// large file upload.
    pub fn send_sized(&mut self, bytes: &[u8]) -> Result<(), SendError> {
        if !self.conn.is_open() {
            return Err(SendError::Closed);
        }
        if self.conn.send_sized(bytes.into()) {
            Ok(())
        } else {
            Err(SendError::Refused)
        }
    }

    /// Encodes and queues a C2S packet.
    pub fn send(
        &mut self,
        pkt: &C2SPacket,
        reliability: Reliability,
        priority: Priority,
    ) -> Result<(), SendError> {
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        pkt.encode(&mut buf);
        let r = self.send_raw(&buf, reliability, priority);
        self.scratch = buf;
        r
    }

    /// Queues a reliable C2S packet at normal priority.
    pub fn send_reliable(&mut self, pkt: &C2SPacket) -> Result<(), SendError> {
        self.send(pkt, Reliability::Reliable, Priority::Normal)
    }

    /// Queues the login (C2S 0x09, the VIE form); the answer shows in
    /// [`SessionState::login_ok`].
    pub fn send_login(&mut self, name: &str, password: &str) -> Result<(), SendError> {
        self.send_login_with(name, password, 0)
    }

    /// [`send_login`](Self::send_login) declaring client feature bits
    /// (`ss_proto::game::client_feature`).
    pub fn send_login_with(
        &mut self,
        name: &str,
        password: &str,
        client_features: u16,
    ) -> Result<(), SendError> {
        self.state.login_ok = None;
        let mut login = Login::new(name, password, false);
        login.client_features = client_features;
        self.send_reliable(&C2SPacket::Login(Box::new(login)))
    }

    /// Queues the request to enter arena `name` in `ship` (see
    /// [`go_arena`]); forgets the previous arena's pid and stamps.
    pub fn send_go_arena(&mut self, name: &str, ship: u8) -> Result<(), SendError> {
        self.send_go(go_arena(name, ship))
    }

    /// Queues an arena entry request as given; forgets the previous
    /// arena's pid and stamps.
    pub fn send_go(&mut self, go: GoArena) -> Result<(), SendError> {
        self.state.pid = None;
        self.state.entered = false;
        self.last_stamp = None;
        self.send_reliable(&C2SPacket::GoArena(go))
    }

    /// Queues a chat message (C2S 0x06), reliable.
    pub fn send_chat(
        &mut self,
        chat_type: u8,
        target_pid: i16,
        text: &str,
    ) -> Result<(), SendError> {
        self.send_reliable(&C2SPacket::Chat(Chat {
            chat_type,
            sound: 0,
            pid: target_pid,
            text: text.to_owned(),
        }))
    }

    /// The time stamp for the next position: the estimated server time,
    /// but always later than the previous stamp (the server ignores
    /// positions that are not newer than the last one). `None` before the
    /// first time sync.
    pub fn next_stamp(&mut self, now: Instant) -> Option<u32> {
        let ticks = self.conn.server_ticks(now)?;
        let stamp = match self.last_stamp {
            Some(last) if tick_diff(ticks, last) <= 0 => last.wrapping_add(1) & 0x7FFF_FFFF,
            _ => ticks,
        };
        self.last_stamp = Some(stamp);
        Some(stamp)
    }

    /// Queues a position (C2S 0x03) stamped with the synced server time
    /// (`time` is overwritten; the encoder computes the checksum).
    /// Unreliable; high priority if it carries a weapon.
    pub fn send_position(&mut self, now: Instant, mut pos: Position) -> Result<(), SendError> {
        pos.time = self.next_stamp(now).ok_or(SendError::NotSynced)?;
        let priority = if pos.weapon.is_fired() {
            Priority::High
        } else {
            Priority::Normal
        };
        let mut buf = [0u8; Position::MAX_LEN];
        let len = pos.encode_into(&mut buf);
        self.send_raw(&buf[..len], Reliability::Unreliable, priority)
    }
}

/// Takes what the session follows from one game packet.
fn follow(state: &mut SessionState, decode_errors: &mut u64, pkt: &[u8]) {
    match pkt.first() {
        Some(&s2c_type::LOGIN_RESPONSE) => match S2CPacket::decode(pkt) {
            Ok(S2CPacket::LoginResponse(r)) => state.login_ok = Some(r.code.proceeds()),
            _ => *decode_errors += 1,
        },
        Some(&s2c_type::WHO_AM_I) if pkt.len() >= 3 => {
            state.pid = Some(i16::from_le_bytes([pkt[1], pkt[2]]));
            state.entered = false;
        }
        Some(&s2c_type::ENTERED_ARENA) if state.pid.is_some() => state.entered = true,
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ss_proto::game::{LoginCode, LoginResponse};

    fn session() -> ClientSession {
        ClientSession::new(
            Instant::now(),
            TransportConfig::default(),
            1,
            SyncPolicy {
                interval: Duration::from_secs(5),
                from_connect: true,
            },
        )
    }

    fn encoded(p: S2CPacket) -> Vec<u8> {
        let mut v = Vec::new();
        p.encode(&mut v);
        v
    }

    #[test]
    fn arena_names_pick_the_entry_form() {
        let g = go_arena("3", 1);
        assert_eq!((g.arena_type, g.arena_name.as_str(), g.ship), (3, "", 1));
        let g = go_arena("duel", 8);
        assert_eq!(
            (g.arena_type, g.arena_name.as_str()),
            (GoArena::NAMED, "duel")
        );
        let g = go_arena("123456", 0);
        assert_eq!(g.arena_type, GoArena::NAMED);
        let g = go_arena("", 0);
        assert_eq!(g.arena_type, GoArena::NAMED);
    }

    #[test]
    fn replies_are_followed() {
        let mut st = SessionState::default();
        let mut errors = 0;
        let ok = encoded(S2CPacket::LoginResponse(LoginResponse::vie(
            LoginCode::OK,
            0,
        )));
        follow(&mut st, &mut errors, &ok);
        assert_eq!(st.login_ok, Some(true));
        // 0x02 before a who-am-I does not count.
        follow(&mut st, &mut errors, &[s2c_type::ENTERED_ARENA]);
        assert!(!st.entered);
        follow(&mut st, &mut errors, &[s2c_type::WHO_AM_I, 7, 0]);
        assert_eq!(st.pid, Some(7));
        follow(&mut st, &mut errors, &[s2c_type::ENTERED_ARENA]);
        assert!(st.entered);
        follow(&mut st, &mut errors, &[s2c_type::LOGIN_RESPONSE]);
        assert_eq!(errors, 1);
    }

    #[test]
    fn nothing_is_stamped_or_sent_before_the_link_is_up() {
        let mut s = session();
        assert_eq!(s.next_stamp(Instant::now()), None);
        assert_eq!(
            s.send_chat(0, -1, "hi"),
            Err(SendError::Closed),
            "a connecting link takes no game packets"
        );
        let mut sent = 0;
        s.poll_transmit(Instant::now(), &mut |_| sent += 1);
        assert_eq!(sent, 1, "the connection request");
        assert!(s.next_deadline().is_some(), "the request is retried");
    }
}
