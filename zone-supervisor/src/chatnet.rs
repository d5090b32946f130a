//! Chatnet: the text protocol for chat-only clients over TCP
//! (`docs/protocol/chatnet.md`).
//!
//! A chat client is a real player of the zone: it has a pid in the player
//! table, a place in `Membership`, logs in through the same login code as
//! game clients and enters arenas as a spectator, so realms, `?find` and the
//! population see it like any other player. What realms and the zone send
//! it is queued on an ordinary transport `Connection` that is never sent
//! over UDP: at flush time the packets are taken back whole
//! (`Connection::take_local`) and translated into chatnet lines.
//!
//! Sockets never touch the zone task: one accept task (with the connection
//! limits) and one task per connection move lines over channels. A
//! connection task paces received lines, bounds their length, closes an
//! idle client and sends `NOOP` after a silence; the zone hands it lines
//! with `try_send` on a bounded queue and drops a client that does not read.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use conf::{ConfigFile, Warning};
use ss_proto::game::{chat_type, C2SPacket, Chat, GoArena, Login, LoginCode, S2CPacket};
use ss_proto::transport::Connection;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use crate::state::Place;
use crate::zone::Zone;

/// Longest line a client may send (bytes, without the terminator).
pub const MAX_LINE: usize = 2035;
/// Longest line the server sends (characters, without the terminator).
pub const MAX_OUT_LINE: usize = 2033;
/// Lines waiting to be written to one client; a client that lets more
/// pile up is disconnected.
const OUT_QUEUE: usize = 1024;
/// Received lines waiting for their turn before reading pauses.
const IN_QUEUE: usize = 32;
/// Silence both ways after which the server sends `NOOP`.
const NOOP_AFTER: Duration = Duration::from_secs(180);
/// How long one write may take before the client is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest `SEND` body taken (after `SEND:`), as ASSS.
const MAX_SEND: usize = 500;
/// Machine id of chat clients' logins.
const CHAT_MACHINE_ID: u32 = 101;

/// The chatnet settings (`[Net]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChatnetConfig {
    /// Where to listen (`Net:ChatListen` = `port` for 127.0.0.1, or
    /// `ip:port`); `None`: off.
    pub listen: Option<SocketAddr>,
    /// Least time between two lines taken from one client
    /// (`Net:ChatMessageDelay`, ticks of 10 ms, default 20).
    pub line_delay: Duration,
    /// Most connections from one address (`Net:ChatMaxPerIp`, default 5).
    pub max_per_ip: usize,
    /// Most chat connections (`Net:ChatMaxConnections`, default 100).
    pub max_connections: usize,
    /// A client that sends nothing this long is closed
    /// (`Net:ChatIdleTimeoutSeconds`, default 600).
    pub idle_timeout: Duration,
}

impl ChatnetConfig {
    /// Reads the settings; a bad `Net:ChatListen` is a warning naming the
    /// key, and chatnet stays off.
    pub fn read(global: &ConfigFile) -> (ChatnetConfig, Vec<Warning>) {
        let mut warnings = Vec::new();
        let listen = match global.get_str("Net", "ChatListen").map(str::trim) {
            None | Some("") => None,
            Some(text) => {
                let parsed = match text.parse::<u16>() {
                    Ok(port) => Some(SocketAddr::from(([127, 0, 0, 1], port))),
                    Err(_) => text.parse::<SocketAddr>().ok(),
                };
                if parsed.is_none() {
                    warnings.push(global.bad_value(
                        "Net",
                        "ChatListen",
                        text,
                        "is not a port or ip:port".into(),
                        "no chatnet listener".into(),
                    ));
                }
                parsed
            }
        };
        let mut int = |key: &str, default: i64, range: std::ops::RangeInclusive<i64>| {
            let (v, w) = global.get_int_checked("Net", key, default, range);
            warnings.extend(w);
            v
        };
        let cfg = ChatnetConfig {
            listen,
            line_delay: Duration::from_millis(int("ChatMessageDelay", 20, 0..=1000) as u64 * 10),
            max_per_ip: int("ChatMaxPerIp", 5, 1..=1000) as usize,
            max_connections: int("ChatMaxConnections", 100, 1..=10_000) as usize,
            idle_timeout: Duration::from_secs(
                int("ChatIdleTimeoutSeconds", 600, 10..=86_400) as u64
            ),
        };
        (cfg, warnings)
    }
}

/// What connection tasks tell the zone.
#[derive(Debug)]
pub(crate) enum ChatEvent {
    /// A client connected; `lines` reaches its writer.
    Opened {
        conn: u64,
        addr: SocketAddr,
        lines: mpsc::Sender<String>,
    },
    /// One line from a client (paced, bounded, terminator removed).
    Line { conn: u64, line: String },
    /// The client is gone.
    Closed { conn: u64 },
}

/// One chat client as the zone task sees it.
struct ChatClient {
    conn: u64,
    out: mpsc::Sender<String>,
    addr: SocketAddr,
    /// Own pid as told by the arena (0x01).
    me: Option<i16>,
    /// Between 0x01 and 0x02: the arena's player list is being received.
    entering: bool,
    /// The arena's players: name, ship, freq.
    roster: BTreeMap<i16, (String, u8, i16)>,
}

/// The zone's chatnet part: the event channel and the clients by pid.
#[derive(Default)]
pub(crate) struct Chatnet {
    events: Option<mpsc::UnboundedReceiver<ChatEvent>>,
    pids: HashMap<u64, i16>,
    clients: HashMap<i16, ChatClient>,
    /// Reused list of packets taken from a client's connection.
    taken: Vec<Vec<u8>>,
}

impl Chatnet {
    /// Chat clients connected now.
    pub(crate) fn client_count(&self) -> usize {
        self.clients.len()
    }

    /// Whether `pid` is a chat client (a player with no UDP connection).
    pub(crate) fn is_client(&self, pid: i16) -> bool {
        self.clients.contains_key(&pid)
    }
}

impl Chatnet {
    /// Binds the listener (when configured) and starts the accept task;
    /// returns the bound address.
    pub(crate) fn start(cfg: &ChatnetConfig) -> Result<(Chatnet, Option<SocketAddr>)> {
        let Some(addr) = cfg.listen else {
            return Ok((Chatnet::default(), None));
        };
        let std = std::net::TcpListener::bind(addr)
            .with_context(|| format!("binding the chatnet listener Net:ChatListen = {addr}"))?;
        std.set_nonblocking(true)?;
        let listener = TcpListener::from_std(std)?;
        let bound = listener.local_addr()?;
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(accept_loop(listener, cfg.clone(), tx));
        info!(%bound, "chatnet listening");
        Ok((
            Chatnet {
                events: Some(rx),
                ..Chatnet::default()
            },
            Some(bound),
        ))
    }

    /// The receiver of the connection tasks' events, for the event loop.
    pub(crate) fn take_events(&mut self) -> Option<mpsc::UnboundedReceiver<ChatEvent>> {
        self.events.take()
    }
}

/// The next event from the connection tasks (never, when off).
pub(crate) async fn next_event(
    rx: &mut Option<mpsc::UnboundedReceiver<ChatEvent>>,
) -> Option<ChatEvent> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// A name as chatnet takes it: characters outside 32–126 and a first
/// character that is not a letter or digit become `_`; at most 31 bytes.
fn chat_name(raw: &str) -> String {
    raw.chars()
        .take(31)
        .enumerate()
        .map(|(i, c)| {
            if !(' '..='~').contains(&c) || (i == 0 && !c.is_ascii_alphanumeric()) {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// The `LOGINBAD` text of a refusing login code.
fn login_phrase(code: LoginCode) -> &'static str {
    const PHRASES: [&str; 19] = [
        "ok",
        "new user",
        "incorrect password",
        "arena full",
        "you have been locked out",
        "no permission",
        "you can spec only",
        "you have too many points",
        "too slow (?)",
        "no permission (2)",
        "the server is not accepting new connections",
        "bad player name",
        "offensive player name",
        "the server is not recordng scores",
        "the server is busy",
        "too low usage",
        "need demographics",
        "too many demo players",
        "no demo players allowed",
    ];
    PHRASES.get(usize::from(code.0)).copied().unwrap_or("???")
}

impl Zone {
    /// Handles one event of the chatnet tasks.
    pub(crate) fn chat_event(&mut self, now: Instant, ev: ChatEvent) {
        match ev {
            ChatEvent::Opened { conn, addr, lines } => self.chat_opened(now, conn, addr, lines),
            ChatEvent::Line { conn, line } => {
                if let Some(&pid) = self.chatnet.pids.get(&conn) {
                    self.chat_line(now, pid, &line);
                }
            }
            ChatEvent::Closed { conn } => {
                // Leaving the zone closes the client's connection
                // (`chat_player_gone`).
                if let Some(&pid) = self.chatnet.pids.get(&conn) {
                    info!(pid, "chat client closed");
                    self.remove_player(now, pid);
                }
            }
        }
    }

    fn chat_opened(
        &mut self,
        now: Instant,
        conn: u64,
        addr: SocketAddr,
        out: mpsc::Sender<String>,
    ) {
        if self.players.len() >= self.s.max_connections {
            let _ = out.try_send("LOGINBAD:the server is not accepting new connections".into());
            return;
        }
        // A stand-in address, unique per connection, that no datagram can
        // come from and none can be sent to (the broadcast address; the
        // game socket may not broadcast): the by-address index of the game
        // socket never leads to a chat client, and a stray send to it fails.
        let mut port = (conn % 65_535) as u16 + 1;
        let mut fake = SocketAddr::new(IpAddr::V4(Ipv4Addr::BROADCAST), port);
        while self.players.pid_at(&fake).is_some() {
            port = port.wrapping_add(1).max(1);
            fake.set_port(port);
        }
        let c = Connection::server(now, self.s.transport.clone(), self.clock, 0, false);
        let Some(pid) = self.players.insert(now, fake, c) else {
            let _ = out.try_send("LOGINBAD:the server is not accepting new connections".into());
            return;
        };
        self.state.connected(pid);
        info!(pid, %addr, "chat client connected");
        self.chatnet.pids.insert(conn, pid);
        self.chatnet.clients.insert(
            pid,
            ChatClient {
                conn,
                out,
                addr,
                me: None,
                entering: false,
                roster: BTreeMap::new(),
            },
        );
    }

    /// A player is leaving the zone: a chat client's socket is closed (its
    /// task ends when the line queue's sender is dropped) and its
    /// connection is closed here, so nothing is sent for it over UDP.
    pub(crate) fn chat_player_gone(&mut self, pid: i16) {
        if !self.chatnet.clients.contains_key(&pid) {
            return;
        }
        // Last words (a kick's reason) still reach the client, whether
        // queued or already "sent" by a caller that flushed the connection.
        let now = Instant::now();
        let mut last = Vec::new();
        if let Some(p) = self.players.get_mut(pid) {
            p.conn.take_local(now, &mut |pkt| last.push(pkt.to_vec()));
            p.conn.disconnect();
            p.conn.take_local(now, &mut |_| {});
        }
        for pkt in last {
            if let Ok(decoded) = S2CPacket::decode(&pkt) {
                self.chat_translate(pid, decoded);
            }
        }
        if let Some(c) = self.chatnet.clients.remove(&pid) {
            self.chatnet.pids.remove(&c.conn);
        }
    }

    /// Queues a line for a chat client; one that does not keep up is
    /// disconnected.
    fn chat_send(&mut self, pid: i16, mut line: String) {
        let Some(c) = self.chatnet.clients.get(&pid) else {
            return;
        };
        if line.len() > MAX_OUT_LINE {
            let mut end = MAX_OUT_LINE;
            while !line.is_char_boundary(end) {
                end -= 1;
            }
            line.truncate(end);
        }
        if let Err(mpsc::error::TrySendError::Full(_)) = c.out.try_send(line) {
            warn!(pid, addr = %c.addr, "chat client does not read its lines; disconnecting");
            if let Some(p) = self.players.get_mut(pid) {
                p.conn.disconnect();
            }
            self.mark_dirty(pid);
        }
    }

    /// One line from a chat client (`docs/protocol/chatnet.md` §2).
    fn chat_line(&mut self, now: Instant, pid: i16, line: &str) {
        let Some(place) = self.state.members.place(pid) else {
            return;
        };
        let (kind, rest) = line.split_once(':').unwrap_or((line, ""));
        match kind.to_ascii_uppercase().as_str() {
            "LOGIN" if place == Place::Connected => {
                let mut f = rest.splitn(3, ':');
                let (_version, name, password) = (
                    f.next().unwrap_or(""),
                    f.next().unwrap_or(""),
                    f.next().unwrap_or(""),
                );
                let mut login = Login::new(
                    &chat_name(name),
                    &password.chars().take(31).collect::<String>(),
                    false,
                );
                login.machine_id = CHAT_MACHINE_ID;
                let mut raw = Vec::new();
                C2SPacket::Login(Box::new(login.clone())).encode(&mut raw);
                self.login(now, pid, &login, &raw);
            }
            "GO" if place.logged_in() => {
                let name = rest.trim();
                let go = GoArena {
                    ship: 8,
                    obscenity_filter: false,
                    allow_audio: false,
                    x_res: 1024,
                    y_res: 768,
                    arena_type: if name.is_empty() { -1 } else { GoArena::NAMED },
                    arena_name: name.chars().take(15).collect(),
                    optional_graphics: None,
                };
                self.go_arena(now, pid, go);
            }
            "LEAVE" if place.realm().is_some() => self.state.leave_realm(pid),
            "CHANGEFREQ" if place.realm().is_some() => {
                if let Ok(freq) = rest.trim().parse::<i16>() {
                    self.chat_forward(pid, &C2SPacket::SetFreq { freq });
                }
            }
            "SEND" if place.realm().is_some() => self.chat_send_line(pid, rest),
            _ => debug!(pid, kind, "chat line ignored"),
        }
    }

    /// Hands a packet to the player's realm as if his client had sent it.
    fn chat_forward(&mut self, pid: i16, pkt: &C2SPacket) {
        let mut bytes = std::mem::take(&mut self.scratch);
        bytes.clear();
        pkt.encode(&mut bytes);
        self.forward_packet(pid, &bytes);
        self.scratch = bytes;
    }

    fn chat_message(&mut self, pid: i16, chat_type: u8, target: i16, text: &str) {
        let chat = Chat {
            chat_type,
            sound: 0,
            pid: target,
            text: text.to_string(),
        };
        self.chat_forward(pid, &C2SPacket::Chat(chat));
    }

    /// `SEND:<subtype>:…` (`docs/protocol/chatnet.md` §5).
    fn chat_send_line(&mut self, pid: i16, body: &str) {
        if body.len() > MAX_SEND {
            return;
        }
        let (sub, rest) = body.split_once(':').unwrap_or((body, ""));
        let roster_pid = |zone: &Zone, name: &str| {
            zone.chatnet.clients.get(&pid).and_then(|c| {
                c.roster
                    .iter()
                    .find(|(_, (n, _, _))| n.eq_ignore_ascii_case(name))
                    .map(|(&p, _)| p)
            })
        };
        match sub.to_ascii_uppercase().as_str() {
            "PUB" => self.chat_message(pid, chat_type::PUBLIC, -1, rest),
            "PUBM" => self.chat_message(pid, chat_type::PUBLIC_MACRO, -1, rest),
            "CMD" => {
                let cmd = if rest.starts_with(['?', '*']) {
                    rest.to_string()
                } else {
                    format!("?{rest}")
                };
                self.chat_message(pid, chat_type::PUBLIC, -1, &cmd);
            }
            "MOD" => self.chat_message(pid, chat_type::PUBLIC, -1, &format!("\\{rest}")),
            "CHAT" => self.chat_message(pid, chat_type::CHANNEL, -1, rest),
            "PRIV" | "PRIVCMD" => {
                let Some((name, msg)) = rest.split_once(':') else {
                    return;
                };
                let msg = if sub.eq_ignore_ascii_case("PRIVCMD") && !msg.starts_with(['?', '*']) {
                    format!("?{msg}")
                } else {
                    msg.to_string()
                };
                match roster_pid(self, name) {
                    Some(target) => self.chat_message(pid, chat_type::PRIVATE, target, &msg),
                    None => self.chat_message(
                        pid,
                        chat_type::REMOTE_PRIVATE,
                        -1,
                        &format!(":{name}:{msg}"),
                    ),
                }
            }
            "FREQ" => {
                let Some((freq, msg)) = rest.split_once(':') else {
                    return;
                };
                let Ok(freq) = freq.trim().parse::<i16>() else {
                    return;
                };
                let Some(c) = self.chatnet.clients.get(&pid) else {
                    return;
                };
                let own = c.me.and_then(|me| c.roster.get(&me)).map(|r| r.2);
                let member = c.roster.iter().find(|(_, r)| r.2 == freq).map(|(&p, _)| p);
                match (own == Some(freq), member) {
                    (true, _) => self.chat_message(pid, chat_type::TEAM, -1, msg),
                    (false, Some(target)) => self.chat_message(pid, chat_type::FREQ, target, msg),
                    (false, None) => {}
                }
            }
            _ => {}
        }
    }

    /// Takes the chat clients off the flush list and translates what was
    /// queued for them into lines; closed ones are added to `ended`.
    pub(crate) fn flush_chatnet(
        &mut self,
        now: Instant,
        list: &mut Vec<i16>,
        ended: &mut Vec<i16>,
    ) {
        if self.chatnet.clients.is_empty() {
            return;
        }
        let mut chat_pids = Vec::new();
        list.retain(|&pid| {
            let chat = self.chatnet.clients.contains_key(&pid);
            if chat {
                chat_pids.push(pid);
            }
            !chat
        });
        let mut taken = std::mem::take(&mut self.chatnet.taken);
        for pid in chat_pids {
            let Some(p) = self.players.get_mut(pid) else {
                continue;
            };
            p.dirty = false;
            let mut n = 0;
            p.conn.take_local(now, &mut |pkt| {
                if taken.len() <= n {
                    taken.push(Vec::new());
                }
                taken[n].clear();
                taken[n].extend_from_slice(pkt);
                n += 1;
            });
            let closed = p.conn.is_closed();
            for pkt in taken.iter().take(n) {
                if let Ok(decoded) = S2CPacket::decode(pkt) {
                    self.chat_translate(pid, decoded);
                }
            }
            if closed {
                ended.push(pid);
            }
        }
        self.chatnet.taken = taken;
    }

    fn player_name(&self, pid: i16, sender: i16) -> String {
        self.chatnet
            .clients
            .get(&pid)
            .and_then(|c| c.roster.get(&sender))
            .map(|r| r.0.clone())
            .or_else(|| self.players.get(sender).map(|p| p.name.clone()))
            .unwrap_or_default()
    }

    /// One packet for a chat client as chatnet lines
    /// (`docs/protocol/chatnet.md` §3, §4, §6).
    fn chat_translate(&mut self, pid: i16, pkt: S2CPacket) {
        let mut lines = Vec::new();
        let arena_name = self
            .state
            .members
            .realm_of(pid)
            .and_then(|id| self.state.registry.get(id))
            .map(|r| r.name.clone())
            .unwrap_or_default();
        let name_of = |zone: &Zone, sender: i16| zone.player_name(pid, sender);
        match pkt {
            S2CPacket::LoginResponse(r) => {
                if r.code.proceeds() {
                    let name = self
                        .players
                        .get(pid)
                        .map(|p| p.name.clone())
                        .unwrap_or_default();
                    lines.push(format!("LOGINOK:{name}"));
                } else {
                    lines.push(format!("LOGINBAD:{}", login_phrase(r.code)));
                }
            }
            S2CPacket::Chat(c) => {
                let line = match c.chat_type {
                    chat_type::ARENA => Some(format!("MSG:ARENA:{}", c.text)),
                    chat_type::PUBLIC_MACRO => {
                        Some(format!("MSG:PUBM:{}:{}", name_of(self, c.pid), c.text))
                    }
                    chat_type::PUBLIC => {
                        Some(format!("MSG:PUB:{}:{}", name_of(self, c.pid), c.text))
                    }
                    chat_type::TEAM | chat_type::FREQ => {
                        Some(format!("MSG:FREQ:{}:{}", name_of(self, c.pid), c.text))
                    }
                    chat_type::PRIVATE => {
                        Some(format!("MSG:PRIV:{}:{}", name_of(self, c.pid), c.text))
                    }
                    chat_type::REMOTE_PRIVATE => {
                        // "(name)> text" from another arena or zone.
                        let parsed = c.text.strip_prefix('(').and_then(|t| t.split_once(")> "));
                        Some(match parsed {
                            Some((from, text)) => format!("MSG:PRIV:{from}:{text}"),
                            None => format!("MSG:PRIV::{}", c.text),
                        })
                    }
                    chat_type::SYSOP_WARNING => Some(format!("MSG:SYSOP:{}", c.text)),
                    chat_type::CHANNEL => Some(format!("MSG:CHAT:{}", c.text)),
                    _ => None,
                };
                lines.extend(line);
            }
            S2CPacket::WhoAmI { pid: me } => {
                if let Some(c) = self.chatnet.clients.get_mut(&pid) {
                    c.me = Some(me);
                    c.entering = true;
                    c.roster.clear();
                }
            }
            S2CPacket::PlayerEntering(list) => {
                if let Some(c) = self.chatnet.clients.get_mut(&pid) {
                    for r in list {
                        if !c.entering && Some(r.pid) != c.me {
                            lines.push(format!("ENTERING:{}:{}:{}", r.name, r.ship, r.freq));
                        }
                        c.roster.insert(r.pid, (r.name, r.ship, r.freq));
                    }
                }
            }
            S2CPacket::EnteredArena => {
                if let Some(c) = self.chatnet.clients.get_mut(&pid) {
                    c.entering = false;
                    let own = c.me.and_then(|me| c.roster.get(&me)).map_or(0, |r| r.2);
                    lines.push(format!("INARENA:{arena_name}:{own}"));
                    for (&p, (name, ship, freq)) in &c.roster {
                        if Some(p) != c.me {
                            lines.push(format!("PLAYER:{name}:{ship}:{freq}"));
                        }
                    }
                }
            }
            S2CPacket::PlayerLeaving { pid: gone } => {
                if let Some(c) = self.chatnet.clients.get_mut(&pid) {
                    if let Some((name, _, _)) = c.roster.remove(&gone) {
                        lines.push(format!("LEAVING:{name}"));
                    }
                }
            }
            S2CPacket::ShipChange {
                ship,
                pid: who,
                freq,
            } => {
                if let Some(c) = self.chatnet.clients.get_mut(&pid) {
                    if let Some(r) = c.roster.get_mut(&who) {
                        (r.1, r.2) = (ship, freq);
                        lines.push(format!("SHIPFREQCHANGE:{}:{ship}:{freq}", r.0));
                    }
                }
            }
            S2CPacket::FreqChange { pid: who, freq } => {
                if let Some(c) = self.chatnet.clients.get_mut(&pid) {
                    if let Some(r) = c.roster.get_mut(&who) {
                        r.2 = freq;
                        lines.push(format!("SHIPFREQCHANGE:{}:{}:{freq}", r.0, r.1));
                    }
                }
            }
            S2CPacket::Kill(k) => {
                let (killer, killed) = (name_of(self, k.killer), name_of(self, k.killed));
                lines.push(format!("KILL:{killer}:{killed}:{}:{}", k.points, k.flags));
            }
            S2CPacket::ArenaList(list) => {
                for e in list {
                    lines.push(format!("MSG:ARENA:{} {}", e.name, e.players.unsigned_abs()));
                }
            }
            _ => {}
        }
        for line in lines {
            self.chat_send(pid, line);
        }
    }
}

/// Accepts connections within the limits and starts a task for each.
async fn accept_loop(
    listener: TcpListener,
    cfg: ChatnetConfig,
    events: mpsc::UnboundedSender<ChatEvent>,
) {
    let (closed_tx, mut closed_rx) = mpsc::unbounded_channel::<IpAddr>();
    let mut per_ip: HashMap<IpAddr, usize> = HashMap::new();
    let mut total = 0usize;
    let mut next_conn = 0u64;
    loop {
        tokio::select! {
            r = listener.accept() => {
                let (stream, addr) = match r {
                    Ok(x) => x,
                    Err(e) => {
                        // Out of descriptors and the like: try again soon.
                        debug!("chatnet accept: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let n = per_ip.entry(addr.ip()).or_default();
                if total >= cfg.max_connections || *n >= cfg.max_per_ip {
                    debug!(%addr, "chatnet connection refused: limit");
                    let _ = stream.try_write(b"LOGINBAD:the server is not accepting new connections\n");
                    continue;
                }
                *n += 1;
                total += 1;
                next_conn += 1;
                let (tx, rx) = mpsc::channel(OUT_QUEUE);
                if events.send(ChatEvent::Opened { conn: next_conn, addr, lines: tx }).is_err() {
                    return;
                }
                let _ = stream.set_nodelay(true);
                tokio::spawn(connection(
                    next_conn,
                    stream,
                    rx,
                    events.clone(),
                    cfg.clone(),
                    closed_tx.clone(),
                    addr.ip(),
                ));
            }
            Some(ip) = closed_rx.recv() => {
                total = total.saturating_sub(1);
                if let Some(n) = per_ip.get_mut(&ip) {
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        per_ip.remove(&ip);
                    }
                }
            }
        }
    }
}

/// Splits received bytes into lines (CR, LF or any run of them ends a
/// line); a line that grows past [`MAX_LINE`] is thrown away.
#[derive(Default)]
struct LineSplitter {
    buf: Vec<u8>,
    overflow: bool,
}

impl LineSplitter {
    fn feed(&mut self, data: &[u8], out: &mut std::collections::VecDeque<String>) {
        for &b in data {
            if b == b'\r' || b == b'\n' {
                if !self.overflow && !self.buf.is_empty() {
                    out.push_back(String::from_utf8_lossy(&self.buf).into_owned());
                }
                self.buf.clear();
                self.overflow = false;
            } else if self.buf.len() >= MAX_LINE {
                self.buf.clear();
                self.overflow = true;
            } else if !self.overflow {
                self.buf.push(b);
            }
        }
    }
}

/// One client's socket: reads and paces lines, writes what the zone sends.
async fn connection(
    conn: u64,
    stream: TcpStream,
    mut out: mpsc::Receiver<String>,
    events: mpsc::UnboundedSender<ChatEvent>,
    cfg: ChatnetConfig,
    closed: mpsc::UnboundedSender<IpAddr>,
    ip: IpAddr,
) {
    let (mut rd, mut wr) = stream.into_split();
    let mut split = LineSplitter::default();
    let mut pending = std::collections::VecDeque::new();
    let mut buf = [0u8; 1024];
    let start = tokio::time::Instant::now();
    let mut next_line = start;
    let mut last_recv = start;
    let mut last_any = start;
    loop {
        let reading = pending.len() < IN_QUEUE;
        tokio::select! {
            r = rd.read(&mut buf), if reading => {
                match r {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        split.feed(&buf[..n], &mut pending);
                        last_recv = tokio::time::Instant::now();
                        last_any = last_recv;
                    }
                }
            }
            _ = tokio::time::sleep_until(next_line), if !pending.is_empty() => {
                if let Some(line) = pending.pop_front() {
                    if events.send(ChatEvent::Line { conn, line }).is_err() {
                        break;
                    }
                }
                next_line = tokio::time::Instant::now() + cfg.line_delay;
            }
            line = out.recv() => {
                let Some(mut line) = line else { break };
                line.push('\n');
                match tokio::time::timeout(WRITE_TIMEOUT, wr.write_all(line.as_bytes())).await {
                    Ok(Ok(())) => last_any = tokio::time::Instant::now(),
                    _ => break,
                }
            }
            _ = tokio::time::sleep_until(last_any + NOOP_AFTER) => {
                if tokio::time::timeout(WRITE_TIMEOUT, wr.write_all(b"NOOP\n")).await.map_or(true, |r| r.is_err()) {
                    break;
                }
                last_any = tokio::time::Instant::now();
            }
            _ = tokio::time::sleep_until(last_recv + cfg.idle_timeout) => break,
        }
    }
    let _ = wr.shutdown().await;
    let _ = events.send(ChatEvent::Closed { conn });
    let _ = closed.send(ip);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_split_and_bounded() {
        let mut s = LineSplitter::default();
        let mut out = std::collections::VecDeque::new();
        s.feed(b"LOGIN:1;x:a:b\r\n\r\nGO:", &mut out);
        s.feed(b"duel\nSEND:PUB:hi\r", &mut out);
        assert_eq!(out, ["LOGIN:1;x:a:b", "GO:duel", "SEND:PUB:hi"]);
        out.clear();
        let long = vec![b'x'; MAX_LINE + 10];
        s.feed(&long, &mut out);
        s.feed(b"\nNOOP\n", &mut out);
        assert_eq!(out, ["NOOP"]);
    }

    #[test]
    fn names_and_settings() {
        assert_eq!(chat_name("*bot\u{7}x"), "_bot_x");
        assert_eq!(chat_name(&"n".repeat(40)).len(), 31);
        let (cfg, w) =
            ChatnetConfig::read(&ConfigFile::parse_str("[Net]\nChatListen = 5000\n").unwrap());
        assert!(w.is_empty());
        assert_eq!(cfg.listen, Some(SocketAddr::from(([127, 0, 0, 1], 5000))));
        let (cfg, w) =
            ChatnetConfig::read(&ConfigFile::parse_str("[Net]\nChatListen = nope\n").unwrap());
        assert!(cfg.listen.is_none());
        assert!(w[0].to_string().contains("Net:ChatListen"));
        let (cfg, _) = ChatnetConfig::read(&ConfigFile::parse_str("").unwrap());
        assert!(cfg.listen.is_none());
        assert_eq!(login_phrase(LoginCode(2)), "incorrect password");
    }
}
