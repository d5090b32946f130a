//! The scripted test client: a [`Bot`] speaks the SubSpace protocol to a zone
//! over real UDP, the way a VIE client does.
//!
//! Each bot owns a UDP socket and one background thread. The thread blocks
//! in `recv_from` until a datagram arrives or the session's next deadline
//! (retransmission, time sync, timeout) is due — it never spins — feeds the
//! datagram to the sans-IO [`ClientSession`] (the session logic the load
//! generator shares), flushes what it wants to send and forwards every game
//! packet to the owner through a channel. Sends from the owner lock the
//! session, queue the packet and flush right away on the owner's thread, so
//! nothing waits for the background thread.
//!
//! Received packets are decoded on the owner's side, when the owner waits
//! for something ([`Bot::wait_for`] and friends). Every packet received
//! updates the bot's view of the arena (own pid, player list with names,
//! ships and freqs, map info) and, unless a wait consumed it, is kept in a
//! backlog that later waits search first, oldest first. The backlog is
//! bounded ([`MAX_BACKLOG`], oldest dropped) and can be cleared with
//! [`Bot::clear_backlog`].

use std::collections::{BTreeMap, VecDeque};
use std::io::ErrorKind;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, ensure, Context, Result};
use ss_proto::game::{
    chat_type, BallPacket, C2SPacket, GoArena, LoginResponse, MapInfo, PlayerEntering, Position,
    S2CPacket, WeaponInfo, ARENA_SETTINGS_LEN,
};
use ss_proto::map::{decompress_download, file_checksum, MAX_LVL_SIZE};
use ss_proto::transport::{DisconnectReason, Event, Priority, Reliability, TransportConfig};

use crate::session::{ClientSession, SecurityAnswers, SyncPolicy};

/// How often the bot re-syncs its clock with the server (also keeps the
/// link from timing out while the bot is otherwise silent).
pub const TIME_SYNC_INTERVAL: Duration = Duration::from_secs(5);
/// Default timeout of the waits in [`Bot::connect`], [`Bot::login`],
/// [`Bot::enter_arena`] and [`Bot::download_map`] (generous: a bound on a
/// wait on a busy machine, not a claim on the zone's speed).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);
/// Received packets kept unconsumed at most; older ones are dropped.
pub const MAX_BACKLOG: usize = 10_000;
/// Packets the background thread queues for the owner at most; further ones
/// are dropped (and counted) so that a bot nobody reads cannot grow without
/// bound.
pub const MAX_INBOX: usize = 65_536;
/// Longest [`Bot::expect_none_before`] waits for its marker (a bound on a
/// wait, not a claim on the zone's speed).
pub const MARKER_TIMEOUT: Duration = Duration::from_secs(20);
/// Numbers the self-markers of [`Bot::expect_none_before_marker`].
static MARKER_SEQ: AtomicU64 = AtomicU64::new(0);
/// Longest the background thread blocks in one receive call.
const MAX_RECV_WAIT: Duration = Duration::from_secs(1);

/// What the background thread tells the owner.
enum Incoming {
    /// A game packet (type byte first), as delivered by the transport.
    Packet(Vec<u8>),
    /// A transport event.
    Event(Event),
}

/// State shared by the owner and the background thread.
struct Shared {
    session: Mutex<ClientSession>,
    socket: UdpSocket,
    server: SocketAddr,
    stop: AtomicBool,
    closed: AtomicBool,
    inbox_dropped: AtomicU64,
    /// Simulated loss: percent of outgoing datagrams not sent.
    send_loss: AtomicU32,
    /// Loss accumulator: a datagram is dropped each time it passes 100.
    loss_acc: AtomicU32,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, ClientSession> {
        // A panic while holding the lock leaves the session usable.
        self.session.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends everything the session has due (caller holds the lock).
    fn flush(&self, session: &mut ClientSession, now: Instant) {
        let socket = &self.socket;
        let server = self.server;
        let loss = self.send_loss.load(Ordering::Relaxed).min(100);
        session.poll_transmit(now, &mut |datagram| {
            if loss > 0 {
                // Evenly spread, exactly `loss` in every 100.
                let acc = self.loss_acc.load(Ordering::Relaxed) + loss;
                if acc >= 100 {
                    self.loss_acc.store(acc - 100, Ordering::Relaxed);
                    return;
                }
                self.loss_acc.store(acc, Ordering::Relaxed);
            }
            // Send errors (e.g. a full buffer) look like packet loss.
            let _ = socket.send_to(datagram, server);
        });
    }
}

/// One player of the bot's current arena.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlayerInfo {
    /// Player id.
    pub pid: i16,
    /// Name.
    pub name: String,
    /// Squad.
    pub squad: String,
    /// Ship (8 = spectator).
    pub ship: u8,
    /// Freq.
    pub freq: i16,
}

impl From<&PlayerEntering> for PlayerInfo {
    fn from(p: &PlayerEntering) -> Self {
        PlayerInfo {
            pid: p.pid,
            name: p.name.clone(),
            squad: p.squad.clone(),
            ship: p.ship,
            freq: p.freq,
        }
    }
}

/// What the server sent while the bot entered an arena.
#[derive(Clone, Debug)]
pub struct ArenaEntry {
    /// The bot's own pid (S2C 0x01).
    pub pid: i16,
    /// The arena settings packet (S2C 0x0F), if one came.
    pub settings: Option<Box<[u8; ARENA_SETTINGS_LEN]>>,
    /// The S2C 0x03 records, in arrival order (the bot's own included).
    pub players: Vec<PlayerEntering>,
    /// The map file info (S2C 0x29), if one came.
    pub map_info: Option<MapInfo>,
}

/// A scripted SubSpace client connected to a zone.
pub struct Bot {
    shared: Arc<Shared>,
    rx: Receiver<Incoming>,
    thread: Option<JoinHandle<()>>,
    encrypted: bool,
    backlog: VecDeque<S2CPacket>,
    players: BTreeMap<i16, PlayerInfo>,
    pid: Option<i16>,
    map_info: Option<MapInfo>,
    disconnect_reason: Option<DisconnectReason>,
    decode_errors: u64,
}

impl Bot {
    /// Connects to the zone at `server`: completes the handshake (VIE
    /// encryption required) and the first time sync, waiting at most
    /// [`DEFAULT_TIMEOUT`].
    pub fn connect(server: SocketAddr) -> Result<Bot> {
        Self::connect_with(server, TransportConfig::default(), DEFAULT_TIMEOUT)
    }

    /// [`Bot::connect`] with explicit transport settings and timeout.
    pub fn connect_with(
        server: SocketAddr,
        cfg: TransportConfig,
        timeout: Duration,
    ) -> Result<Bot> {
        let bind_ip = if server.ip().is_loopback() {
            Ipv4Addr::LOCALHOST
        } else {
            Ipv4Addr::UNSPECIFIED
        };
        let socket = UdpSocket::bind((bind_ip, 0)).context("binding the bot's UDP socket")?;
        let now = Instant::now();
        let key = rand::random::<u32>();
        let session = ClientSession::new(
            now,
            cfg,
            key,
            SyncPolicy {
                interval: TIME_SYNC_INTERVAL,
                from_connect: true,
            },
        );
        let shared = Arc::new(Shared {
            session: Mutex::new(session),
            socket,
            server,
            stop: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            inbox_dropped: AtomicU64::new(0),
            send_loss: AtomicU32::new(0),
            loss_acc: AtomicU32::new(0),
        });
        let (tx, rx) = mpsc::sync_channel(MAX_INBOX);
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("bot-io".into())
            .spawn(move || io_thread(&thread_shared, &tx))
            .context("starting the bot's I/O thread")?;
        let mut bot = Bot {
            shared,
            rx,
            thread: Some(thread),
            encrypted: false,
            backlog: VecDeque::new(),
            players: BTreeMap::new(),
            pid: None,
            map_info: None,
            disconnect_reason: None,
            decode_errors: 0,
        };
        let deadline = Instant::now() + timeout;
        let encrypted = bot
            .wait_event(deadline, |e| match e {
                Event::Connected { encrypted } => Some(*encrypted),
                _ => None,
            })
            .context("waiting for the connection reply (00 02)")?;
        ensure!(encrypted, "the zone answered without VIE encryption");
        bot.encrypted = encrypted;
        bot.wait_event(deadline, |e| {
            matches!(e, Event::TimeSynced { .. }).then_some(())
        })
        .context("waiting for the time sync reply (00 06)")?;
        Ok(bot)
    }

    /// Whether the link uses VIE encryption.
    pub fn is_encrypted(&self) -> bool {
        self.encrypted
    }

    /// The bot's own UDP address.
    pub fn local_addr(&self) -> SocketAddr {
        self.shared
            .socket
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)))
    }

    /// The bot's pid in its current arena (from the last S2C 0x01).
    pub fn pid(&self) -> Option<i16> {
        self.pid
    }

    /// The players of the current arena as the bot knows them (the bot
    /// itself included), by pid. Updated by every packet received.
    pub fn players(&self) -> &BTreeMap<i16, PlayerInfo> {
        &self.players
    }

    /// A player of the current arena by pid.
    pub fn player(&self, pid: i16) -> Option<&PlayerInfo> {
        self.players.get(&pid)
    }

    /// A player of the current arena by name (case-insensitive).
    pub fn player_by_name(&self, name: &str) -> Option<&PlayerInfo> {
        self.players
            .values()
            .find(|p| p.name.eq_ignore_ascii_case(name))
    }

    /// The map info (S2C 0x29) of the current arena.
    pub fn map_info(&self) -> Option<&MapInfo> {
        self.map_info.as_ref()
    }

    /// Whether the connection has ended (either side closed it, or it
    /// timed out).
    pub fn is_disconnected(&self) -> bool {
        self.disconnect_reason.is_some() || self.shared.closed.load(Ordering::Acquire)
    }

    /// Why the connection ended, once the owner has seen the event (any
    /// wait processes it).
    pub fn disconnect_reason(&self) -> Option<DisconnectReason> {
        self.disconnect_reason
    }

    /// The estimated server time in ticks, from the last time sync.
    pub fn server_ticks(&self) -> Option<u32> {
        self.shared.lock().server_ticks(Instant::now())
    }

    /// Received packets that failed to decode (they are dropped).
    pub fn decode_errors(&self) -> u64 {
        self.decode_errors
    }

    /// Packets dropped because the owner did not read them fast enough
    /// (more than [`MAX_INBOX`] queued).
    pub fn inbox_dropped(&self) -> u64 {
        self.shared.inbox_dropped.load(Ordering::Relaxed)
    }

    /// Drops every received packet not yet consumed (after processing what
    /// has arrived so far, so the player list stays current).
    pub fn clear_backlog(&mut self) {
        self.pump();
        self.backlog.clear();
    }

    /// Processes every packet that has arrived so far into the backlog,
    /// without waiting.
    pub fn pump(&mut self) {
        while let Ok(msg) = self.rx.try_recv() {
            if let Some(p) = self.process(msg) {
                self.push_backlog(p);
            }
        }
    }

    // ---- sending -------------------------------------------------------

    /// Sends an encoded game packet.
    pub fn send_raw(
        &mut self,
        bytes: &[u8],
        reliability: Reliability,
        priority: Priority,
    ) -> Result<()> {
        self.with_session(|s| s.send_raw(bytes, reliability, priority))
    }

    /// Sends `bytes` as a sized stream (`00 0A`), as a client sends a
    /// large file upload.
    pub fn send_sized(&mut self, bytes: &[u8]) -> Result<()> {
        self.with_session(|s| s.send_sized(bytes))
    }

    /// Runs a send on the locked session and flushes right away.
    fn with_session(
        &mut self,
        f: impl FnOnce(&mut ClientSession) -> Result<(), crate::session::SendError>,
    ) -> Result<()> {
        let shared = &*self.shared;
        let mut session = shared.lock();
        f(&mut session)?;
        shared.flush(&mut session, Instant::now());
        Ok(())
    }

    /// Encodes and sends a C2S packet.
    pub fn send(
        &mut self,
        pkt: &C2SPacket,
        reliability: Reliability,
        priority: Priority,
    ) -> Result<()> {
        self.with_session(|s| s.send(pkt, reliability, priority))
    }

    fn send_reliable(&mut self, pkt: &C2SPacket) -> Result<()> {
        self.with_session(|s| s.send_reliable(pkt))
    }

    /// Logs in (C2S 0x09, the VIE form) and waits for the login response.
    /// A response whose code does not let the login proceed is an error.
    pub fn login(&mut self, name: &str, password: &str) -> Result<LoginResponse> {
        self.login_with_features(name, password, 0)
    }

    /// [`login`](Self::login) declaring client feature bits
    /// (`ss_proto::game::client_feature`).
    pub fn login_with_features(
        &mut self,
        name: &str,
        password: &str,
        features: u16,
    ) -> Result<LoginResponse> {
        self.with_session(|s| s.send_login_with(name, password, features))?;
        let resp = self
            .wait_for(DEFAULT_TIMEOUT, |p| match p {
                S2CPacket::LoginResponse(r) => Some(*r),
                _ => None,
            })
            .context("waiting for the login response (0x0A)")?;
        ensure!(
            resp.code.proceeds(),
            "login as {name:?} refused with code {:#04x}",
            resp.code.0
        );
        Ok(resp)
    }

    /// Enters arena `name` asking for `ship` (C2S 0x01: the public-number
    /// form for an all-digit name, else the named form) and collects the
    /// entry sequence up to S2C 0x02. The entry packets (0x01, 0x0F, 0x03,
    /// 0x29, 0x21) are consumed; anything else that arrives meanwhile stays
    /// in the backlog.
    pub fn enter_arena(&mut self, name: &str, ship: u8) -> Result<ArenaEntry> {
        self.enter_arena_with(crate::session::go_arena(name, ship))
    }

    /// [`Bot::enter_arena`] asking for optional graphics (the 27-byte
    /// form of C2S 0x01): the map info then lists the LVZ files.
    pub fn enter_arena_with_lvz(&mut self, name: &str, ship: u8) -> Result<ArenaEntry> {
        let mut go = crate::session::go_arena(name, ship);
        go.optional_graphics = Some(true);
        self.enter_arena_with(go)
    }

    /// Enters an arena with the given C2S 0x01.
    pub fn enter_arena_with(&mut self, go: GoArena) -> Result<ArenaEntry> {
        let name = if go.arena_type == GoArena::NAMED {
            go.arena_name.clone()
        } else {
            go.arena_type.to_string()
        };
        self.pid = None;
        self.map_info = None;
        self.with_session(|s| s.send_go(go))?;
        let deadline = Instant::now() + DEFAULT_TIMEOUT;
        let mut entry = ArenaEntry {
            pid: -1,
            settings: None,
            players: Vec::new(),
            map_info: None,
        };
        let mut saw_who_am_i = false;
        loop {
            let p = self
                .next_packet(deadline)
                .with_context(|| format!("entering arena {name:?} (waiting for S2C 0x02)"))?;
            match p {
                S2CPacket::WhoAmI { pid } => {
                    saw_who_am_i = true;
                    entry.pid = pid;
                    entry.players.clear();
                }
                S2CPacket::ArenaSettings(s) => entry.settings = Some(s),
                S2CPacket::PlayerEntering(list) => entry.players.extend(list),
                S2CPacket::MapInfo(m) => entry.map_info = Some(m),
                S2CPacket::Bricks(ref b) if b.is_empty() => {}
                S2CPacket::EnteredArena if saw_who_am_i => return Ok(entry),
                other => self.push_backlog(other),
            }
        }
    }

    /// Leaves the current arena (C2S 0x02).
    pub fn leave_arena(&mut self) -> Result<()> {
        self.send_reliable(&C2SPacket::LeaveArena)?;
        self.pid = None;
        self.players.clear();
        self.map_info = None;
        Ok(())
    }

    /// Downloads the current arena's map (C2S 0x0C → S2C 0x2A), decompresses
    /// it and checks its CRC-32 against the map info (S2C 0x29). Returns the
    /// `.lvl` file. Note that asking for the map puts the bot in spectator
    /// mode (`docs/protocol/game-protocol.md` §7.2).
    pub fn download_map(&mut self) -> Result<Vec<u8>> {
        let info = self
            .map_info
            .clone()
            .ok_or_else(|| anyhow!("no map info (S2C 0x29) received; enter an arena first"))?;
        let (want_name, want_crc) = match &info {
            MapInfo::Vie { name, checksum } => (name.clone(), *checksum),
            MapInfo::Continuum(entries) => {
                let e = entries.first().ok_or_else(|| anyhow!("empty map info"))?;
                (e.name.clone(), e.checksum)
            }
        };
        self.send_reliable(&C2SPacket::MapRequest { file_index: None })?;
        let file = self
            .wait_for(DEFAULT_TIMEOUT, |p| match p {
                S2CPacket::MapData(f) => Some(f.clone()),
                _ => None,
            })
            .context("waiting for the map data (0x2A)")?;
        ensure!(
            file.name == want_name,
            "map data is named {:?}, the map info said {want_name:?}",
            file.name
        );
        let lvl = decompress_download(&file.data, MAX_LVL_SIZE).context("decompressing the map")?;
        let crc = file_checksum(&lvl);
        ensure!(
            crc == want_crc,
            "map CRC-32 {crc:#010x} differs from the map info's {want_crc:#010x}"
        );
        self.shared.lock().add_map(&lvl);
        Ok(lvl)
    }

    /// Asks for file `index` of the map info (0 = the map, then the LVZ
    /// files) with the 3-byte C2S 0x0C; returns the S2C 0x2A's file name
    /// and data as sent (LVZ files are not compressed again).
    pub fn download_file(&mut self, index: u16) -> Result<(String, Vec<u8>)> {
        self.send_reliable(&C2SPacket::MapRequest {
            file_index: Some(index),
        })?;
        let file = self
            .wait_for(DEFAULT_TIMEOUT, |p| match p {
                S2CPacket::MapData(f) => Some(f.clone()),
                _ => None,
            })
            .with_context(|| format!("waiting for file {index} (0x2A)"))?;
        Ok((file.name, file.data))
    }

    /// Asks for the zone's news (C2S 0x0D) and returns the decompressed
    /// file of the S2C 0x10 answer.
    pub fn download_news(&mut self) -> Result<Vec<u8>> {
        self.send_reliable(&C2SPacket::NewsRequest)?;
        let (name, data) = self.wait_file().context("the news file")?;
        ensure!(name.is_empty(), "news file named {name:?}");
        decompress_download(&data, MAX_LVL_SIZE).context("decompressing the news")
    }

    /// Asks for Continuum's update file (C2S 0x0B) and returns the S2C
    /// 0x10 answer's file (name and data as sent).
    pub fn download_update(&mut self) -> Result<(String, Vec<u8>)> {
        self.send_raw(
            &[ss_proto::game::c2s_type::UPDATE_REQUEST],
            Reliability::Reliable,
            Priority::Normal,
        )?;
        self.wait_file().context("the update file")
    }

    /// Waits for a file the zone sends (S2C 0x10): its name and bytes.
    pub fn wait_file(&mut self) -> Result<(String, Vec<u8>)> {
        let file = self
            .wait_for(DEFAULT_TIMEOUT, |p| match p {
                S2CPacket::IncomingFile(f) => Some(f.clone()),
                _ => None,
            })
            .context("waiting for a file (0x10)")?;
        Ok((file.name, file.data))
    }

    /// How the bot answers security checksum requests (S2C 0x18 with a
    /// key); by default correctly, like a real client. The I/O thread
    /// answers as soon as a request arrives.
    pub fn set_security_answers(&self, answers: SecurityAnswers) {
        self.shared.lock().set_security_answers(answers);
    }

    /// Reliable packets the bot has queued or in flight (not acknowledged
    /// yet).
    pub fn reliable_backlog(&self) -> usize {
        self.shared.lock().connection().reliable_backlog()
    }

    /// Simulates packet loss: from now on `percent` of the bot's outgoing
    /// datagrams (evenly spread) are not sent. 0 turns it off.
    pub fn set_send_loss(&self, percent: u32) {
        self.shared
            .send_loss
            .store(percent.min(100), Ordering::Relaxed);
    }

    /// Sends a time sync request (with the bot's packet counts) now.
    pub fn sync_now(&self) {
        let now = Instant::now();
        let mut session = self.shared.lock();
        session.schedule_sync(now);
        self.shared.flush(&mut session, now);
    }

    /// Security requests the bot has answered.
    pub fn security_answered(&self) -> u64 {
        self.shared.lock().security_answered()
    }

    /// Sends a position (C2S 0x03) stamped with the synced server time
    /// (always later than the previous stamp); `time` is overwritten, the
    /// checksum is computed by the encoder. Unreliable; high priority if it
    /// carries a weapon.
    pub fn send_position_packet(&mut self, pos: Position) -> Result<()> {
        self.with_session(|s| s.send_position(Instant::now(), pos))
    }

    /// Sends a position at (`x`, `y`) pixels with the given speeds and
    /// weapon (energy 1000, everything else zero).
    pub fn send_position(
        &mut self,
        x: i16,
        y: i16,
        x_speed: i16,
        y_speed: i16,
        weapon: WeaponInfo,
    ) -> Result<()> {
        self.send_position_packet(Position {
            rotation: 0,
            time: 0,
            x,
            y,
            x_speed,
            y_speed,
            status: 0,
            bounty: 0,
            energy: 1000,
            weapon,
            extra: None,
        })
    }

    /// Sends a chat message (C2S 0x06); `target_pid` matters for private and
    /// enemy-freq messages.
    pub fn chat(&mut self, chat_type: u8, target_pid: i16, text: &str) -> Result<()> {
        self.with_session(|s| s.send_chat(chat_type, target_pid, text))
    }

    /// Asks for a ship (C2S 0x18; 8 = spectator).
    pub fn set_ship(&mut self, ship: u8) -> Result<()> {
        self.send_reliable(&C2SPacket::SetShip { ship })
    }

    /// Asks for a freq (C2S 0x0F).
    pub fn set_freq(&mut self, freq: i16) -> Result<()> {
        self.send_reliable(&C2SPacket::SetFreq { freq })
    }

    /// Picks up ball `ball` (C2S 0x20), quoting the `time` of the last
    /// ball packet (S2C 0x2E) seen for it. Reliable.
    pub fn pickup_ball(&mut self, ball: u8, time: u32) -> Result<()> {
        self.send_reliable(&C2SPacket::PickupBall { ball, time })
    }

    /// Fires (or drops) a carried ball (C2S 0x1F). Reliable.
    pub fn fire_ball(&mut self, shot: BallPacket) -> Result<()> {
        self.send_reliable(&C2SPacket::ShootBall(shot))
    }

    /// Reports a goal with ball `ball` at tile (`x`, `y`) (C2S 0x21).
    /// Reliable.
    pub fn goal(&mut self, ball: u8, x: i16, y: i16) -> Result<()> {
        self.send_reliable(&C2SPacket::Goal { ball, x, y })
    }

    /// Drops a brick at tile (`x`, `y`) (C2S 0x1C). Reliable.
    pub fn drop_brick(&mut self, x: i16, y: i16) -> Result<()> {
        self.send_reliable(&C2SPacket::DropBrick { x, y })
    }

    /// Closes the connection (`00 07`) and stops the background thread.
    /// Idempotent; dropping the bot does the same.
    pub fn disconnect(&mut self) {
        {
            let shared = &*self.shared;
            let mut session = shared.lock();
            session.disconnect();
            shared.flush(&mut session, Instant::now());
        }
        self.shared.closed.store(true, Ordering::Release);
        if self.disconnect_reason.is_none() {
            self.disconnect_reason = Some(DisconnectReason::Local);
        }
        self.stop_thread();
    }

    fn stop_thread(&mut self) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        self.shared.stop.store(true, Ordering::Release);
        // Wake the thread out of its receive call with an empty datagram to
        // its own socket.
        if let Ok(me) = self.shared.socket.local_addr() {
            let wake = if me.ip().is_unspecified() {
                SocketAddr::from((Ipv4Addr::LOCALHOST, me.port()))
            } else {
                me
            };
            let _ = self.shared.socket.send_to(&[], wake);
        }
        let _ = thread.join();
    }

    // ---- receiving -----------------------------------------------------

    /// Waits up to `timeout` for a packet `pred` maps to `Some`, searching
    /// the backlog first (oldest first), then new packets. The matching
    /// packet is consumed; non-matching new packets go to the backlog. Fails
    /// on timeout or if the connection ends first.
    pub fn wait_for<T>(
        &mut self,
        timeout: Duration,
        mut pred: impl FnMut(&S2CPacket) -> Option<T>,
    ) -> Result<T> {
        if let Some(v) = self.take_from_backlog(&mut pred) {
            return Ok(v);
        }
        let deadline = Instant::now() + timeout;
        loop {
            let p = self.next_packet(deadline)?;
            if let Some(v) = pred(&p) {
                return Ok(v);
            }
            self.push_backlog(p);
        }
    }

    /// Like [`Bot::wait_for`], but a timeout is `Ok(None)` instead of an
    /// error (a closed connection is still an error).
    pub fn poll_for<T>(
        &mut self,
        timeout: Duration,
        mut pred: impl FnMut(&S2CPacket) -> Option<T>,
    ) -> Result<Option<T>> {
        if let Some(v) = self.take_from_backlog(&mut pred) {
            return Ok(Some(v));
        }
        let deadline = Instant::now() + timeout;
        loop {
            match self.next_packet_or_timeout(deadline)? {
                None => return Ok(None),
                Some(p) => {
                    if let Some(v) = pred(&p) {
                        return Ok(Some(v));
                    }
                    self.push_backlog(p);
                }
            }
        }
    }

    /// Asserts that nothing matching `unwanted` arrives before a packet
    /// `marker` maps to `Some`, and returns that value. The caller makes
    /// something happen that must reach this bot *after* anything the
    /// unwanted packet would have followed (a later chat from the same
    /// sender, a message through the same path); no time is waited out.
    ///
    /// The backlog is searched first, oldest first: an unwanted packet
    /// there fails, a marker there ends the search (a packet matching
    /// both is the marker). Then new packets are
    /// read until the marker, for at most [`MARKER_TIMEOUT`] (an error: the
    /// marker never came). The marker is consumed; other packets, unwanted
    /// ones included, stay in the backlog.
    pub fn expect_none_before<T>(
        &mut self,
        mut marker: impl FnMut(&S2CPacket) -> Option<T>,
        mut unwanted: impl FnMut(&S2CPacket) -> bool,
    ) -> Result<T> {
        self.pump();
        for i in 0..self.backlog.len() {
            let p = &self.backlog[i];
            if let Some(v) = marker(p) {
                self.backlog.remove(i);
                return Ok(v);
            }
            if unwanted(p) {
                bail!("unexpected packet received before the marker: {p:?}");
            }
        }
        let deadline = Instant::now() + MARKER_TIMEOUT;
        loop {
            let p = self
                .next_packet(deadline)
                .context("waiting for the marker")?;
            if let Some(v) = marker(&p) {
                return Ok(v);
            }
            if unwanted(&p) {
                let shown = format!("{p:?}");
                self.push_backlog(p);
                bail!("unexpected packet received before the marker: {shown}");
            }
            self.push_backlog(p);
        }
    }

    /// Asserts that nothing matching `unwanted` arrives before the answer
    /// to a marker the bot sends itself: a private command to itself that
    /// no handler knows (`?ssmarkerN`), which its realm answers with
    /// "Unknown command: ?ssmarkerN". Everything the realm or the zone
    /// queued for this bot before handling the marker arrives before the
    /// answer. The bot must be in an arena; the marker counts as one
    /// message toward `Chat:FloodLimit`.
    pub fn expect_none_before_marker(
        &mut self,
        unwanted: impl FnMut(&S2CPacket) -> bool,
    ) -> Result<()> {
        let pid = self
            .pid
            .ok_or_else(|| anyhow!("a self-marker needs the bot in an arena"))?;
        let n = MARKER_SEQ.fetch_add(1, Ordering::Relaxed);
        let name = format!("ssmarker{n}");
        self.chat(chat_type::PRIVATE, pid, &format!("?{name}"))?;
        let answer = format!("Unknown command: ?{name}");
        self.expect_none_before(
            |p| matches!(p, S2CPacket::Chat(c) if c.text == answer).then_some(()),
            unwanted,
        )
        .with_context(|| format!("self-marker ?{name}"))
    }

    /// Asserts that nothing matching `pred` has been received so far
    /// (after processing what has arrived, without waiting): for checks
    /// right after a wait for a marker that [`Bot::expect_none_before`]
    /// does not fit. Matching packets stay in the backlog.
    pub fn expect_none_received(&mut self, mut pred: impl FnMut(&S2CPacket) -> bool) -> Result<()> {
        self.pump();
        if let Some(p) = self.backlog.iter().find(|p| pred(p)) {
            bail!("unexpected packet received: {p:?}");
        }
        Ok(())
    }

    /// Waits up to `timeout` for the connection to end; returns its reason.
    pub fn wait_disconnected(&mut self, timeout: Duration) -> Result<DisconnectReason> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(r) = self.disconnect_reason {
                return Ok(r);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(msg) => {
                    if let Some(p) = self.process(msg) {
                        self.push_backlog(p);
                    }
                }
                Err(RecvTimeoutError::Timeout) => bail!("still connected after {timeout:?}"),
                Err(RecvTimeoutError::Disconnected) => {
                    return Ok(self.disconnect_reason.unwrap_or(DisconnectReason::Local));
                }
            }
        }
    }

    fn take_from_backlog<T>(
        &mut self,
        pred: &mut impl FnMut(&S2CPacket) -> Option<T>,
    ) -> Option<T> {
        let mut found = None;
        for (i, p) in self.backlog.iter().enumerate() {
            if let Some(v) = pred(p) {
                found = Some((i, v));
                break;
            }
        }
        let (i, v) = found?;
        self.backlog.remove(i);
        Some(v)
    }

    fn push_backlog(&mut self, p: S2CPacket) {
        if self.backlog.len() >= MAX_BACKLOG {
            self.backlog.pop_front();
        }
        self.backlog.push_back(p);
    }

    /// The next decoded packet, or an error on timeout or disconnect.
    fn next_packet(&mut self, deadline: Instant) -> Result<S2CPacket> {
        match self.next_packet_or_timeout(deadline)? {
            Some(p) => Ok(p),
            None => bail!("timed out"),
        }
    }

    /// The next decoded packet; `None` once `deadline` passes; an error if
    /// the connection ended.
    fn next_packet_or_timeout(&mut self, deadline: Instant) -> Result<Option<S2CPacket>> {
        loop {
            if let Some(reason) = self.disconnect_reason {
                // Deliver what arrived before the end first.
                if let Ok(msg) = self.rx.try_recv() {
                    if let Some(p) = self.process(msg) {
                        return Ok(Some(p));
                    }
                    continue;
                }
                bail!("disconnected ({reason:?})");
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let msg = if left.is_zero() {
                match self.rx.try_recv() {
                    Ok(m) => m,
                    Err(_) => return Ok(None),
                }
            } else {
                match self.rx.recv_timeout(left) {
                    Ok(m) => m,
                    Err(RecvTimeoutError::Timeout) => return Ok(None),
                    Err(RecvTimeoutError::Disconnected) => {
                        self.disconnect_reason
                            .get_or_insert(DisconnectReason::Local);
                        continue;
                    }
                }
            };
            if let Some(p) = self.process(msg) {
                return Ok(Some(p));
            }
        }
    }

    /// Waits for a transport event `pred` accepts; packets meanwhile go to
    /// the backlog.
    fn wait_event<T>(
        &mut self,
        deadline: Instant,
        mut pred: impl FnMut(&Event) -> Option<T>,
    ) -> Result<T> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let msg = match self.rx.recv_timeout(left) {
                Ok(m) => m,
                Err(RecvTimeoutError::Timeout) => bail!("timed out"),
                Err(RecvTimeoutError::Disconnected) => bail!("the bot's I/O thread ended"),
            };
            if let Incoming::Event(e) = &msg {
                if let Some(v) = pred(e) {
                    return Ok(v);
                }
            }
            if let Some(p) = self.process(msg) {
                self.push_backlog(p);
            }
            if let Some(r) = self.disconnect_reason {
                bail!("disconnected ({r:?})");
            }
        }
    }

    /// Decodes a message and updates the bot's state from it; returns the
    /// packet for the caller to match or keep.
    fn process(&mut self, msg: Incoming) -> Option<S2CPacket> {
        let bytes = match msg {
            Incoming::Packet(b) => b,
            Incoming::Event(Event::Disconnected(reason)) => {
                self.disconnect_reason.get_or_insert(reason);
                return None;
            }
            Incoming::Event(_) => return None,
        };
        let p = match S2CPacket::decode(&bytes) {
            Ok(p) => p,
            Err(_) => {
                self.decode_errors += 1;
                return None;
            }
        };
        self.track(&p);
        Some(p)
    }

    /// Keeps the pid, player list and map info current.
    fn track(&mut self, p: &S2CPacket) {
        match p {
            S2CPacket::WhoAmI { pid } => {
                self.pid = Some(*pid);
                self.players.clear();
            }
            S2CPacket::PlayerEntering(list) => {
                for rec in list {
                    self.players.insert(rec.pid, PlayerInfo::from(rec));
                }
            }
            S2CPacket::PlayerLeaving { pid } => {
                self.players.remove(pid);
            }
            S2CPacket::ShipChange { ship, pid, freq } => {
                if let Some(pl) = self.players.get_mut(pid) {
                    pl.ship = *ship;
                    pl.freq = *freq;
                }
            }
            S2CPacket::FreqChange { pid, freq } => {
                if let Some(pl) = self.players.get_mut(pid) {
                    pl.freq = *freq;
                }
            }
            S2CPacket::MapInfo(m) => self.map_info = Some(m.clone()),
            _ => {}
        }
    }
}

impl Drop for Bot {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.disconnect();
        }
    }
}

/// The background thread: receive, feed, forward, flush, until told to stop
/// or the connection is closed. The session sends the time syncs.
fn io_thread(shared: &Shared, tx: &SyncSender<Incoming>) {
    let mut buf = vec![0u8; 2048];
    let forward = |msg: Incoming| match tx.try_send(msg) {
        Ok(()) => {}
        Err(TrySendError::Full(_)) => {
            shared.inbox_dropped.fetch_add(1, Ordering::Relaxed);
        }
        Err(TrySendError::Disconnected(_)) => {}
    };
    // Send the connection request.
    {
        let mut session = shared.lock();
        shared.flush(&mut session, Instant::now());
    }
    loop {
        if shared.stop.load(Ordering::Acquire) {
            return;
        }
        let wait = {
            let session = shared.lock();
            let now = Instant::now();
            session
                .next_deadline()
                .map_or(MAX_RECV_WAIT, |d| d.saturating_duration_since(now))
                .clamp(Duration::from_millis(1), MAX_RECV_WAIT)
        };
        let _ = shared.socket.set_read_timeout(Some(wait));
        let received = match shared.socket.recv_from(&mut buf) {
            Ok((n, from)) if from == shared.server => Some(n),
            Ok(_) => None, // a wake-up or a stranger
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) =>
            {
                None
            }
            Err(_) => None, // e.g. an ICMP error report; keep going
        };
        if shared.stop.load(Ordering::Acquire) {
            return;
        }
        let now = Instant::now();
        let mut session = shared.lock();
        if let Some(n) = received {
            session.handle_datagram(now, &mut buf[..n], &mut |_, pkt| {
                forward(Incoming::Packet(pkt.to_vec()));
            });
        }
        // Twice: poll_transmit may close the connection (timeouts, retries).
        for flush in [true, false] {
            while let Some(ev) = session.poll_event(now) {
                if matches!(ev, Event::Disconnected(_)) {
                    shared.closed.store(true, Ordering::Release);
                }
                forward(Incoming::Event(ev));
            }
            if flush {
                shared.flush(&mut session, now);
            }
        }
        if session.connection().is_closed() {
            return;
        }
    }
}

#[cfg(test)]
#[path = "bot_tests.rs"]
mod tests;
