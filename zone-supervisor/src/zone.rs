//! The zone task: owns the game socket, every player connection and the
//! realm registry, and runs the event loop.
//!
//! One task holds all of this state, so nothing here locks. Each loop pass
//! handles whatever is ready (datagrams, realm messages, the 10 ms timer),
//! then flushes every connection and realm link it touched: a packet relayed
//! by a realm leaves in the same pass its IPC message arrived.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use ipc_proto::{Delivery, FrameReader, FromRealm, PlayerInfo, Target, ToRealm, ZoneCall};
use ss_proto::game::{
    sanitize_login_name, C2SPacket, Chat, GoArena, Login, LoginCode, LoginResponse, S2CPacket,
};
use ss_proto::transport::{
    decide_init, is_connection_request, Connection, Event, InitDecision, Priority, Reliability,
    TickClock,
};
use tokio::net::UdpSocket;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use crate::config::Settings;
use crate::ping::{self, Population};
use crate::players::{Player, PlayerTable, Stage};
use crate::realms::{spawn_worker, RealmEvent, RealmId, RealmSignal, WorkerProcess};

/// Most datagrams handled per readiness event before other work gets a turn.
const RECV_BATCH: usize = 256;
/// Largest packet a realm may ask to send (the reassembly limit of clients).
const MAX_REALM_PACKET: usize = 65536;
/// How long a stopping worker gets before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Zone-wide counters.
#[derive(Default, Debug)]
pub struct ZoneStats {
    /// Datagrams received on the game port.
    pub datagrams_in: u64,
    /// Datagrams from unknown addresses that were not connection requests.
    pub dropped_unknown: u64,
    /// Connection requests refused (full, or client type not allowed).
    pub refused: u64,
    /// Game packets dropped (wrong state, malformed).
    pub dropped_game: u64,
    /// Realm send requests refused (target not in that realm, too large).
    pub refused_realm_sends: u64,
}

/// One realm and its worker process.
struct Realm {
    id: RealmId,
    name: String,
    worker: WorkerProcess,
    /// The worker said hello with the right version.
    hello: bool,
    /// The worker loaded its arena.
    ready: bool,
    /// Players assigned to this realm (entered or waiting for `ready`).
    players: Vec<i16>,
    reader: FrameReader,
    out: Vec<u8>,
    empty_since: Option<Instant>,
    stopping_since: Option<Instant>,
}

impl Realm {
    fn send(&mut self, msg: &ToRealm<'_>) {
        if let Err(e) = ipc_proto::encode(msg, &mut self.out) {
            warn!(realm = %self.name, "could not encode message for realm: {e}");
        }
    }
}

/// Binds the game socket and the ping socket one port above it.
fn bind_sockets(ip: IpAddr, port: u16) -> Result<(std::net::UdpSocket, std::net::UdpSocket)> {
    let tries = if port == 0 { 64 } else { 1 };
    let mut last_err = None;
    for _ in 0..tries {
        let game = std::net::UdpSocket::bind(SocketAddr::new(ip, port))
            .with_context(|| format!("binding the game port {ip}:{port}"))?;
        let game_port = game.local_addr()?.port();
        let Some(ping_port) = game_port.checked_add(1) else {
            continue;
        };
        match std::net::UdpSocket::bind(SocketAddr::new(ip, ping_port)) {
            Ok(ping) => return Ok((game, ping)),
            Err(e) => last_err = Some(e),
        }
    }
    Err(anyhow::anyhow!(
        "binding the ping port next to game port {port}: {}",
        last_err.map_or_else(|| "no port pair free".to_string(), |e| e.to_string())
    ))
}

fn tune_socket(sock: &std::net::UdpSocket) {
    use nix::sys::socket::{setsockopt, sockopt};
    let _ = setsockopt(sock, sockopt::RcvBuf, &(4 << 20));
    let _ = setsockopt(sock, sockopt::SndBuf, &(4 << 20));
}

/// Runs the zone until SIGTERM or SIGINT.
pub async fn run(settings: Settings) -> Result<()> {
    let (game, ping) = bind_sockets(settings.bind, settings.port)?;
    tune_socket(&game);
    game.set_nonblocking(true)?;
    ping.set_nonblocking(true)?;
    let udp = UdpSocket::from_std(game)?;
    let ping = UdpSocket::from_std(ping)?;
    info!(
        game = %udp.local_addr()?,
        ping = %ping.local_addr()?,
        "zone listening"
    );
    // Tests and scripts read this line to learn the ports.
    println!(
        "zone listening game={} ping={}",
        udp.local_addr()?,
        ping.local_addr()?
    );
    let now = Instant::now();
    let (events_tx, events_rx) = mpsc::unbounded_channel();
    let mut zone = Zone {
        clock: TickClock::new(now, ipc_proto::monotonic_ticks()),
        s: settings,
        udp,
        ping,
        players: PlayerTable::default(),
        realms: HashMap::new(),
        realm_by_name: HashMap::new(),
        next_realm_id: 1,
        events_tx,
        flush_list: Vec::new(),
        inbox: Vec::new(),
        stats: ZoneStats::default(),
        scratch: Vec::new(),
        last_keepalive: now,
        last_housekeeping: now,
    };
    zone.event_loop(events_rx).await
}

struct Zone {
    s: Settings,
    udp: UdpSocket,
    ping: UdpSocket,
    clock: TickClock,
    players: PlayerTable,
    realms: HashMap<RealmId, Realm>,
    realm_by_name: HashMap<String, RealmId>,
    next_realm_id: RealmId,
    events_tx: mpsc::UnboundedSender<RealmEvent>,
    flush_list: Vec<i16>,
    /// Game packets decoded from the datagram being handled, back to back
    /// as `u16` length + bytes (reused, so receiving does not allocate).
    inbox: Vec<u8>,
    stats: ZoneStats,
    scratch: Vec<u8>,
    last_keepalive: Instant,
    last_housekeeping: Instant,
}

impl Zone {
    async fn event_loop(&mut self, mut events_rx: mpsc::UnboundedReceiver<RealmEvent>) -> Result<()> {
        let mut tick = tokio::time::interval(Duration::from_millis(10));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut sigterm = signal(SignalKind::terminate()).context("installing SIGTERM handler")?;
        let mut sigint = signal(SignalKind::interrupt()).context("installing SIGINT handler")?;
        loop {
            tokio::select! {
                r = self.udp.readable() => {
                    r.context("game socket")?;
                    self.drain_game_socket();
                }
                r = self.ping.readable() => {
                    r.context("ping socket")?;
                    self.drain_ping_socket();
                }
                Some(ev) = events_rx.recv() => {
                    self.realm_event(ev);
                    while let Ok(ev) = events_rx.try_recv() {
                        self.realm_event(ev);
                    }
                }
                _ = tick.tick() => self.on_tick(),
                _ = sigterm.recv() => break,
                _ = sigint.recv() => break,
            }
            self.flush();
        }
        self.shutdown(&mut events_rx).await;
        Ok(())
    }

    fn now(&self) -> Instant {
        Instant::now()
    }

    // ----- game socket -------------------------------------------------

    fn drain_game_socket(&mut self) {
        let mut buf = [0u8; 2048];
        for _ in 0..RECV_BATCH {
            match self.udp.try_recv_from(&mut buf) {
                Ok((n, addr)) => {
                    self.stats.datagrams_in += 1;
                    let now = self.now();
                    self.handle_datagram(now, addr, &mut buf[..n]);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    debug!("game socket receive error: {e}");
                    break;
                }
            }
        }
    }

    fn handle_datagram(&mut self, now: Instant, addr: SocketAddr, data: &mut [u8]) {
        let Some(pid) = self.players.pid_at(&addr) else {
            self.new_connection(now, addr, data);
            return;
        };
        if is_connection_request(data) {
            self.repeated_connection_request(now, pid, data);
            return;
        }
        let Some(player) = self.players.get_mut(pid) else {
            return;
        };
        let mut inbox = std::mem::take(&mut self.inbox);
        inbox.clear();
        player.conn.handle_datagram(now, data, &mut |pkt| {
            inbox.extend_from_slice(&(pkt.len() as u16).to_le_bytes());
            inbox.extend_from_slice(pkt);
        });
        self.mark_dirty(pid);
        let mut pos = 0;
        while pos + 2 <= inbox.len() {
            let len = u16::from_le_bytes([inbox[pos], inbox[pos + 1]]) as usize;
            let Some(pkt) = inbox.get(pos + 2..pos + 2 + len) else {
                break;
            };
            self.game_packet(now, pid, pkt);
            pos += 2 + len;
        }
        self.inbox = inbox;
        self.drain_conn_events(now, pid);
    }

    fn new_connection(&mut self, now: Instant, addr: SocketAddr, data: &[u8]) {
        if !is_connection_request(data) {
            self.stats.dropped_unknown += 1;
            return;
        }
        match decide_init(data, &self.s.init_policy) {
            InitDecision::Accept {
                reply,
                cipher_key,
                continuum,
            } => {
                if self.players.len() >= self.s.max_connections {
                    self.stats.refused += 1;
                    let _ = self.udp.try_send_to(&[0x00, 0x07], addr);
                    return;
                }
                let conn = Connection::server(
                    now,
                    self.s.transport.clone(),
                    self.clock,
                    cipher_key,
                    continuum,
                );
                match self.players.insert(now, addr, conn) {
                    Some(pid) => {
                        if let Some(p) = self.players.get_mut(pid) {
                            p.continuum = continuum;
                        }
                        debug!(%addr, pid, continuum, "new connection");
                        let _ = self.udp.try_send_to(&reply, addr);
                    }
                    None => {
                        self.stats.refused += 1;
                        let _ = self.udp.try_send_to(&[0x00, 0x07], addr);
                    }
                }
            }
            InitDecision::Refuse => {
                self.stats.refused += 1;
                let _ = self.udp.try_send_to(&[0x00, 0x07], addr);
            }
            InitDecision::Ignore => self.stats.dropped_unknown += 1,
        }
    }

    /// A connection request from a known address: the reply was lost (not
    /// logged in yet: answer again), or the client restarted (drop the old
    /// player; the client's retry then connects afresh).
    fn repeated_connection_request(&mut self, now: Instant, pid: i16, data: &[u8]) {
        let Some(player) = self.players.get_mut(pid) else {
            return;
        };
        if player.stage != Stage::Connected {
            info!(pid, name = %player.name, "connection request from a logged-in address; dropping the old player");
            self.remove_player(now, pid);
            return;
        }
        if let InitDecision::Accept {
            reply,
            cipher_key,
            continuum,
        } = decide_init(data, &self.s.init_policy)
        {
            player.conn = Connection::server(
                now,
                self.s.transport.clone(),
                self.clock,
                cipher_key,
                continuum,
            );
            player.continuum = continuum;
            let _ = self.udp.try_send_to(&reply, player.addr);
        }
    }

    fn mark_dirty(&mut self, pid: i16) {
        if let Some(p) = self.players.get_mut(pid) {
            if !p.dirty {
                p.dirty = true;
                self.flush_list.push(pid);
            }
        }
    }

    fn drain_conn_events(&mut self, now: Instant, pid: i16) {
        loop {
            let Some(player) = self.players.get_mut(pid) else {
                return;
            };
            let Some(ev) = player.conn.poll_event() else {
                return;
            };
            if let Event::Disconnected(reason) = ev {
                info!(pid, name = %player.name, ?reason, "player disconnected");
                if let Some(text) = reason.lagout_text() {
                    // Tell the client why, the way ASSS does, before it goes.
                    let mut msg = vec![0x07, 0x08, 0x00, 0x00, 0x00];
                    msg.extend_from_slice(
                        format!("You have been disconnected because of lag ({text}).").as_bytes(),
                    );
                    msg.push(0);
                    let _ = self.udp.try_send_to(&msg, player.addr);
                    let _ = self.udp.try_send_to(&[0x00, 0x07], player.addr);
                }
                self.remove_player(now, pid);
                return;
            }
        }
    }

    /// Forgets a player: out of its realm, out of the table.
    fn remove_player(&mut self, now: Instant, pid: i16) {
        self.leave_realm(now, pid);
        if let Some(mut p) = self.players.remove(now, pid) {
            if !p.conn.is_closed() {
                p.conn.disconnect();
                let (udp, addr) = (&self.udp, p.addr);
                p.conn.poll_transmit(now, &mut |d| {
                    let _ = udp.try_send_to(d, addr);
                });
            }
        }
    }

    // ----- game packets the zone handles itself --------------------------

    fn game_packet(&mut self, now: Instant, pid: i16, pkt: &[u8]) {
        let Some(player) = self.players.get(pid) else {
            return;
        };
        let stage = player.stage;
        match (stage, pkt[0]) {
            (Stage::Connected, 0x09 | 0x24) => self.login(now, pid, pkt),
            (Stage::LoggedIn | Stage::InRealm { .. }, 0x01) => match C2SPacket::decode(pkt) {
                Ok(C2SPacket::GoArena(go)) => self.go_arena(now, pid, go),
                _ => self.stats.dropped_game += 1,
            },
            (Stage::InRealm { .. }, 0x02) => {
                self.leave_realm(now, pid);
                if let Some(p) = self.players.get_mut(pid) {
                    p.stage = Stage::LoggedIn;
                }
            }
            (Stage::InRealm { realm, .. }, t) if t != 0x09 && t != 0x24 => {
                match self.realms.get_mut(&realm) {
                    Some(r) if r.ready => r.send(&ToRealm::PlayerPacket { pid, bytes: pkt }),
                    _ => self.stats.dropped_game += 1,
                }
            }
            _ => self.stats.dropped_game += 1,
        }
    }

    fn send_to(&mut self, pid: i16, pkt: &[u8], reliability: Reliability) {
        if let Some(p) = self.players.get_mut(pid) {
            p.conn.send(pkt, reliability, Priority::Normal);
        }
        self.mark_dirty(pid);
    }

    fn login(&mut self, now: Instant, pid: i16, pkt: &[u8]) {
        let Some(player) = self.players.get(pid) else {
            return;
        };
        let continuum = player.continuum;
        let expected_len = if continuum {
            Login::CONTINUUM_LEN
        } else {
            Login::VIE_LEN
        };
        if pkt.len() != expected_len {
            self.stats.dropped_game += 1;
            return;
        }
        let login = match C2SPacket::decode(pkt) {
            Ok(C2SPacket::Login(l)) => l,
            _ => {
                self.stats.dropped_game += 1;
                return;
            }
        };
        if !continuum && login.client_version != Login::VIE_VERSION {
            self.login_response(pid, LoginCode::LOCKED_OUT);
            return;
        }
        let name = match sanitize_login_name(&login.name) {
            Ok(n) => n,
            Err(bad) => {
                if continuum {
                    let mut text = vec![0x33];
                    text.extend_from_slice(bad.continuum_text().as_bytes());
                    text.push(0);
                    self.send_to(pid, &text, Reliability::Reliable);
                }
                self.login_response(pid, bad.code(continuum));
                return;
            }
        };
        if let Some(code) = self.s.auth.check(&name, &login.password) {
            self.login_response(pid, code);
            return;
        }
        if let Some(old) = self.players.find_by_name(&name).map(|p| p.pid) {
            if old != pid {
                info!(pid = old, %name, "same name logged in again; dropping the old player");
                self.remove_player(now, old);
            }
        }
        if let Some(p) = self.players.get_mut(pid) {
            p.name = name.clone();
            p.stage = Stage::LoggedIn;
        }
        info!(pid, %name, continuum, "player logged in");
        if continuum {
            // Continuum version packet: version 40, no executable checksum.
            let mut v = vec![0x34, 40, 0];
            v.extend_from_slice(&0xFFFF_FFFFu32.to_le_bytes());
            self.send_to(pid, &v, Reliability::Reliable);
        }
        self.login_response(pid, LoginCode::OK);
    }

    fn login_response(&mut self, pid: i16, code: LoginCode) {
        let continuum = self.players.get(pid).is_some_and(|p| p.continuum);
        let code = if !continuum && code == LoginCode::CUSTOM_TEXT {
            LoginCode::LOCKED_OUT
        } else {
            code
        };
        let mut resp = LoginResponse::vie(code, 0);
        if continuum {
            // No Continuum executable or security file is served: "unknown".
            resp.exe_checksum = LoginResponse::STAFF_CHECKSUM;
            resp.code_checksum = LoginResponse::STAFF_CHECKSUM;
        }
        self.scratch.clear();
        S2CPacket::LoginResponse(resp).encode(&mut self.scratch);
        let bytes = std::mem::take(&mut self.scratch);
        self.send_to(pid, &bytes, Reliability::Reliable);
        self.scratch = bytes;
    }

    fn go_arena(&mut self, now: Instant, pid: i16, go: GoArena) {
        if go.ship > 8 {
            self.stats.dropped_game += 1;
            return;
        }
        let name = match go.arena_type {
            -1 | -2 => "0".to_string(),
            -3 => sanitize_arena_name(&go.arena_name),
            n if n >= 0 => n.to_string(),
            _ => {
                self.stats.dropped_game += 1;
                return;
            }
        };
        if let Some(p) = self.players.get_mut(pid) {
            p.go = Some(go);
        }
        self.move_to_arena(now, pid, &name);
    }

    /// Takes a player out of its realm (if any) and into the named one.
    fn move_to_arena(&mut self, now: Instant, pid: i16, arena: &str) {
        self.leave_realm(now, pid);
        let realm_id = match self.realm_by_name.get(arena) {
            Some(&id) if self.realms.get(&id).is_some_and(|r| r.stopping_since.is_none()) => id,
            _ => match self.start_realm(arena) {
                Ok(id) => id,
                Err(e) => {
                    warn!(arena, "could not start realm: {e:#}");
                    self.arena_message(pid, &format!("Arena {arena} is unavailable right now."));
                    if let Some(p) = self.players.get_mut(pid) {
                        p.stage = Stage::LoggedIn;
                    }
                    return;
                }
            },
        };
        let info = match self.players.get_mut(pid) {
            Some(p) => {
                p.stage = Stage::InRealm {
                    realm: realm_id,
                    entered: false,
                };
                player_info(p, false)
            }
            None => return,
        };
        if let Some(realm) = self.realms.get_mut(&realm_id) {
            realm.players.push(pid);
            realm.empty_since = None;
            if realm.ready {
                realm.send(&ToRealm::PlayerEnter(info));
            }
            debug!(pid, arena, "player assigned to realm");
        }
    }

    fn leave_realm(&mut self, now: Instant, pid: i16) {
        let Some(realm_id) = self.players.get(pid).and_then(Player::realm) else {
            return;
        };
        if let Some(p) = self.players.get_mut(pid) {
            p.stage = Stage::LoggedIn;
        }
        if let Some(realm) = self.realms.get_mut(&realm_id) {
            realm.players.retain(|&p| p != pid);
            if realm.ready {
                realm.send(&ToRealm::PlayerLeave { pid });
            }
            if realm.players.is_empty() {
                realm.empty_since = Some(now);
            }
        }
    }

    fn arena_message(&mut self, pid: i16, text: &str) {
        self.scratch.clear();
        S2CPacket::Chat(Chat {
            chat_type: 0,
            sound: 0,
            pid: -1,
            text: text.to_string(),
        })
        .encode(&mut self.scratch);
        let bytes = std::mem::take(&mut self.scratch);
        self.send_to(pid, &bytes, Reliability::Reliable);
        self.scratch = bytes;
    }

    // ----- realms ---------------------------------------------------------

    fn start_realm(&mut self, name: &str) -> Result<RealmId> {
        let id = self.next_realm_id;
        self.next_realm_id += 1;
        let worker = spawn_worker(&self.s, name, id, self.events_tx.clone())?;
        info!(realm = name, os_pid = worker.os_pid, "realm worker started");
        self.realms.insert(
            id,
            Realm {
                id,
                name: name.to_string(),
                worker,
                hello: false,
                ready: false,
                players: Vec::new(),
                reader: FrameReader::new(),
                out: Vec::new(),
                empty_since: None,
                stopping_since: None,
            },
        );
        self.realm_by_name.insert(name.to_string(), id);
        Ok(id)
    }

    fn realm_event(&mut self, ev: RealmEvent) {
        let now = self.now();
        match ev.signal {
            RealmSignal::Data(bytes) => {
                let Some(realm) = self.realms.get_mut(&ev.realm) else {
                    return;
                };
                let mut reader = std::mem::take(&mut realm.reader);
                reader.extend(&bytes);
                let mut broken = None;
                loop {
                    match reader.next_frame() {
                        Ok(Some(frame)) => match ipc_proto::decode::<FromRealm>(frame) {
                            Ok(msg) => self.realm_message(now, ev.realm, msg),
                            Err(e) => {
                                broken = Some(e.to_string());
                                break;
                            }
                        },
                        Ok(None) => break,
                        Err(e) => {
                            broken = Some(e.to_string());
                            break;
                        }
                    }
                }
                if let Some(realm) = self.realms.get_mut(&ev.realm) {
                    realm.reader = reader;
                }
                if let Some(why) = broken {
                    self.kill_realm(ev.realm, &format!("sent an invalid message: {why}"));
                }
            }
            RealmSignal::Closed => {}
            RealmSignal::Exited(cause) => self.realm_exited(now, ev.realm, &cause),
        }
    }

    fn kill_realm(&mut self, id: RealmId, why: &str) {
        if let Some(realm) = self.realms.get(&id) {
            warn!(realm = %realm.name, "killing realm worker: {why}");
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(realm.worker.os_pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }

    fn realm_message(&mut self, now: Instant, id: RealmId, msg: FromRealm<'_>) {
        let Some(realm) = self.realms.get_mut(&id) else {
            return;
        };
        if !realm.hello {
            match msg {
                FromRealm::Hello { version, .. } if version == ipc_proto::PROTOCOL_VERSION => {
                    realm.hello = true;
                }
                _ => {
                    self.kill_realm(id, "no valid hello (built from other sources?)");
                }
            }
            return;
        }
        match msg {
            FromRealm::Hello { .. } => {}
            FromRealm::Ready => {
                realm.ready = true;
                info!(realm = %realm.name, "realm ready");
                let pids = realm.players.clone();
                for pid in pids {
                    if let Some(p) = self.players.get(pid) {
                        let info = player_info(p, false);
                        if let Some(realm) = self.realms.get_mut(&id) {
                            realm.send(&ToRealm::PlayerEnter(info));
                        }
                    }
                }
            }
            FromRealm::Send {
                to,
                delivery,
                bytes,
            } => self.realm_send(id, to, delivery, bytes),
            FromRealm::SendSized { pid, bytes } => {
                if self.player_in_realm(pid, id) && bytes.len() <= 16 << 20 {
                    if let Some(p) = self.players.get_mut(pid) {
                        p.conn.send_sized(Arc::from(bytes));
                    }
                    self.mark_dirty(pid);
                } else {
                    self.stats.refused_realm_sends += 1;
                }
            }
            FromRealm::PlayerEntered { pid } => {
                if let Some(p) = self.players.get_mut(pid) {
                    if p.realm() == Some(id) {
                        p.stage = Stage::InRealm {
                            realm: id,
                            entered: true,
                        };
                    }
                }
            }
            FromRealm::PlayerState { pid, ship, freq } => {
                if let Some(p) = self.players.get_mut(pid) {
                    if p.realm() == Some(id) {
                        p.ship = ship;
                        p.freq = freq;
                    }
                }
            }
            FromRealm::HeartbeatAck { .. } => {}
            FromRealm::ZoneCall(call) => self.zone_call(now, id, call),
        }
    }

    fn player_in_realm(&self, pid: i16, realm: RealmId) -> bool {
        self.players
            .get(pid)
            .is_some_and(|p| p.realm() == Some(realm))
    }

    fn realm_send(&mut self, id: RealmId, to: Target<'_>, delivery: Delivery, bytes: &[u8]) {
        if bytes.is_empty() || bytes.len() > MAX_REALM_PACKET {
            self.stats.refused_realm_sends += 1;
            return;
        }
        let (reliability, priority) = match delivery {
            Delivery::Reliable => (Reliability::Reliable, Priority::Normal),
            Delivery::Unreliable => (Reliability::Unreliable, Priority::Normal),
            Delivery::UnreliableHigh => (Reliability::Unreliable, Priority::High),
            Delivery::UnreliableLow => (Reliability::Unreliable, Priority::Low),
        };
        let send_one = |zone: &mut Zone, pid: i16| {
            let Some(p) = zone.players.get_mut(pid) else {
                zone.stats.refused_realm_sends += 1;
                return;
            };
            if p.realm() != Some(id) {
                zone.stats.refused_realm_sends += 1;
                return;
            }
            p.conn.send(bytes, reliability, priority);
            if !p.dirty {
                p.dirty = true;
                zone.flush_list.push(pid);
            }
        };
        match to {
            Target::Player(pid) => send_one(self, pid),
            Target::Players(list) => {
                for pid in Target::list(list) {
                    send_one(self, pid);
                }
            }
            Target::Arena | Target::ArenaExcept(_) => {
                let except = match to {
                    Target::ArenaExcept(p) => Some(p),
                    _ => None,
                };
                let Some(realm) = self.realms.get_mut(&id) else {
                    return;
                };
                let pids = std::mem::take(&mut realm.players);
                for &pid in &pids {
                    if Some(pid) != except {
                        send_one(self, pid);
                    }
                }
                if let Some(realm) = self.realms.get_mut(&id) {
                    realm.players = pids;
                }
            }
        }
    }

    fn zone_call(&mut self, now: Instant, id: RealmId, call: ZoneCall<'_>) {
        match call {
            ZoneCall::MovePlayer { pid, arena } => {
                if self.player_in_realm(pid, id) {
                    let arena = sanitize_arena_name(&arena);
                    self.move_to_arena(now, pid, &arena);
                }
            }
            ZoneCall::RemotePrivate { from, to_name, text } => {
                let Some(sender) = self.players.get(from).filter(|p| p.realm() == Some(id))
                else {
                    return;
                };
                let sender_name = sender.name.clone();
                match self.players.find_by_name(&to_name).map(|p| p.pid) {
                    Some(target) => {
                        self.scratch.clear();
                        S2CPacket::Chat(Chat {
                            chat_type: 7,
                            sound: 0,
                            pid: -1,
                            text: format!("({sender_name})>{text}"),
                        })
                        .encode(&mut self.scratch);
                        let bytes = std::mem::take(&mut self.scratch);
                        self.send_to(target, &bytes, Reliability::Reliable);
                        self.scratch = bytes;
                    }
                    None => self.arena_message(from, &format!("{to_name} is not in the zone.")),
                }
            }
            ZoneCall::Kick { pid } => {
                if self.player_in_realm(pid, id) {
                    self.remove_player(now, pid);
                }
            }
        }
    }

    fn realm_exited(&mut self, now: Instant, id: RealmId, cause: &str) {
        let Some(realm) = self.realms.remove(&id) else {
            return;
        };
        if self.realm_by_name.get(&realm.name) == Some(&id) {
            self.realm_by_name.remove(&realm.name);
        }
        if realm.stopping_since.is_some() && realm.players.is_empty() {
            info!(realm = %realm.name, %cause, "realm worker stopped");
            return;
        }
        warn!(realm = %realm.name, %cause, players = realm.players.len(), "realm worker died; restarting it");
        // Make the clients leave the arena (the arena-recycle trick), then
        // put them into a fresh worker.
        let pids = realm.players.clone();
        for &pid in &pids {
            if let Some(p) = self.players.get_mut(pid) {
                p.stage = Stage::LoggedIn;
            }
        }
        let new_id = match self.start_realm(&realm.name) {
            Ok(id) => id,
            Err(e) => {
                warn!(realm = %realm.name, "could not restart realm: {e:#}");
                for pid in pids {
                    self.arena_message(pid, "Your arena failed and could not be restarted.");
                }
                return;
            }
        };
        for pid in pids {
            self.arena_message(
                pid,
                &format!("Arena {} had a problem and was restarted.", realm.name),
            );
            let mut who = [0x01u8, 0, 0];
            who[1..3].copy_from_slice(&pid.to_le_bytes());
            self.send_to(pid, &who, Reliability::Reliable);
            let info = match self.players.get_mut(pid) {
                Some(p) => {
                    p.stage = Stage::InRealm {
                        realm: new_id,
                        entered: false,
                    };
                    player_info(p, true)
                }
                None => continue,
            };
            let _ = info;
            if let Some(r) = self.realms.get_mut(&new_id) {
                r.players.push(pid);
            }
        }
        let _ = now;
    }

    // ----- timers ---------------------------------------------------------

    fn on_tick(&mut self) {
        let now = self.now();
        let keepalive = now.saturating_duration_since(self.last_keepalive) >= self.s.keepalive;
        if keepalive {
            self.last_keepalive = now;
        }
        let mut due = Vec::new();
        for p in self.players.iter_mut() {
            if keepalive && matches!(p.stage, Stage::InRealm { entered: true, .. }) {
                p.conn.send(&[0x27], Reliability::Reliable, Priority::Normal);
            }
            if p.conn.next_deadline().is_none_or(|d| d <= now) || p.conn.has_pending() {
                due.push(p.pid);
            }
        }
        for pid in due {
            self.mark_dirty(pid);
        }
        if now.saturating_duration_since(self.last_housekeeping) >= Duration::from_millis(200) {
            self.last_housekeeping = now;
            self.stop_idle_realms(now);
        }
    }

    fn stop_idle_realms(&mut self, now: Instant) {
        let idle = self.s.realm_idle;
        let mut to_kill = Vec::new();
        for realm in self.realms.values_mut() {
            match (realm.stopping_since, realm.empty_since) {
                (None, Some(since)) if realm.players.is_empty() && now.saturating_duration_since(since) >= idle => {
                    info!(realm = %realm.name, "realm idle; stopping its worker");
                    realm.send(&ToRealm::Shutdown);
                    realm.stopping_since = Some(now);
                }
                (Some(since), _) if now.saturating_duration_since(since) >= STOP_GRACE => {
                    to_kill.push(realm.id);
                }
                _ => {}
            }
        }
        for id in to_kill {
            self.kill_realm(id, "did not stop in time");
        }
        // A stopping realm's name is free for a new worker at once.
        let stopping: Vec<String> = self
            .realms
            .values()
            .filter(|r| r.stopping_since.is_some())
            .map(|r| r.name.clone())
            .collect();
        for name in stopping {
            if let Some(&id) = self.realm_by_name.get(&name) {
                if self.realms.get(&id).is_some_and(|r| r.stopping_since.is_some()) {
                    self.realm_by_name.remove(&name);
                }
            }
        }
    }

    // ----- ping port ------------------------------------------------------

    fn population(&self) -> Population {
        let mut pop = Population::default();
        let mut by_realm: HashMap<RealmId, (u16, u16)> = HashMap::new();
        for p in self.players.iter() {
            if let Some(r) = p.realm() {
                pop.total += 1;
                let e = by_realm.entry(r).or_default();
                e.0 += 1;
                if p.ship < 8 {
                    pop.playing += 1;
                    e.1 += 1;
                }
            }
        }
        for (id, (total, playing)) in by_realm {
            if let Some(r) = self.realms.get(&id) {
                pop.arenas.push((r.name.clone(), total, playing));
            }
        }
        pop.arenas.sort();
        pop
    }

    fn drain_ping_socket(&mut self) {
        let mut buf = [0u8; 64];
        let mut out = Vec::new();
        for _ in 0..RECV_BATCH {
            match self.ping.try_recv_from(&mut buf) {
                Ok((n, addr)) => {
                    let pop = self.population();
                    if ping::answer(&buf[..n], &pop, &mut out) {
                        let _ = self.ping.try_send_to(&out, addr);
                    }
                }
                Err(_) => break,
            }
        }
    }

    // ----- flushing and shutdown -----------------------------------------

    fn flush(&mut self) {
        let now = self.now();
        let list = std::mem::take(&mut self.flush_list);
        let mut closed = Vec::new();
        for &pid in &list {
            let Some(p) = self.players.get_mut(pid) else {
                continue;
            };
            p.dirty = false;
            let (udp, addr) = (&self.udp, p.addr);
            p.conn.poll_transmit(now, &mut |d| {
                let _ = udp.try_send_to(d, addr);
            });
            if p.conn.is_closed() || p.conn.poll_event().is_some_and(|e| {
                matches!(e, Event::Disconnected(_))
            }) {
                closed.push(pid);
            }
        }
        let mut list = list;
        list.clear();
        self.flush_list = list;
        for pid in closed {
            self.drain_conn_events(now, pid);
            if self.players.get(pid).is_some_and(|p| p.conn.is_closed()) {
                info!(pid, "connection closed");
                self.remove_player(now, pid);
            }
        }
        for realm in self.realms.values_mut() {
            if !realm.out.is_empty() {
                let batch = std::mem::take(&mut realm.out);
                let _ = realm.worker.writer.send(batch);
            }
        }
    }

    async fn shutdown(&mut self, events_rx: &mut mpsc::UnboundedReceiver<RealmEvent>) {
        info!("shutting down");
        let now = self.now();
        for p in self.players.iter_mut() {
            p.conn.disconnect();
            let (udp, addr) = (&self.udp, p.addr);
            p.conn.poll_transmit(now, &mut |d| {
                let _ = udp.try_send_to(d, addr);
            });
        }
        for realm in self.realms.values_mut() {
            realm.send(&ToRealm::Shutdown);
            let batch = std::mem::take(&mut realm.out);
            let _ = realm.worker.writer.send(batch);
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        while !self.realms.is_empty() {
            match tokio::time::timeout_at(deadline, events_rx.recv()).await {
                Ok(Some(RealmEvent {
                    realm,
                    signal: RealmSignal::Exited(_),
                })) => {
                    self.realms.remove(&realm);
                }
                Ok(Some(_)) => {}
                _ => break,
            }
        }
        let ids: Vec<RealmId> = self.realms.keys().copied().collect();
        for id in ids {
            self.kill_realm(id, "still running at shutdown");
        }
    }
}

/// What a realm needs to know about an entering player.
fn player_info(p: &Player, reentry: bool) -> PlayerInfo {
    let go = p.go.clone().unwrap_or(GoArena {
        ship: 8,
        obscenity_filter: false,
        allow_audio: false,
        x_res: 1024,
        y_res: 768,
        arena_type: -1,
        arena_name: String::new(),
        optional_graphics: None,
    });
    PlayerInfo {
        pid: p.pid,
        name: p.name.clone(),
        squad: p.squad.clone(),
        ship_request: if reentry { p.ship } else { go.ship },
        obscenity_filter: go.obscenity_filter,
        allow_audio: go.allow_audio,
        x_res: go.x_res,
        y_res: go.y_res,
        continuum: p.continuum,
        optional_graphics: go.optional_graphics.unwrap_or(false),
        reentry,
        previous_ship: p.ship,
        previous_freq: p.freq,
    }
}

/// Arena names: lower case, letters and digits, other characters become
/// `x` (a leading `#` marks a private arena); at most 15 characters.
pub fn sanitize_arena_name(raw: &str) -> String {
    let mut out = String::new();
    for (i, c) in raw.chars().take(15).enumerate() {
        if i == 0 && c == '#' {
            out.push('#');
        } else if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else {
            out.push('x');
        }
    }
    if out.is_empty() || out == "#" {
        "0".to_string()
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arena_names_are_sanitised() {
        assert_eq!(sanitize_arena_name("Duel"), "duel");
        assert_eq!(sanitize_arena_name("#Priv ate"), "#privxate");
        assert_eq!(sanitize_arena_name(""), "0");
        assert_eq!(sanitize_arena_name("a#b"), "axb");
    }
}
