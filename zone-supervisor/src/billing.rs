//! The billing server ("biller") connection: one UDP link for the whole
//! zone, owned by the zone task (`docs/protocol/billing-udp.md`).
//!
//! The link itself (transport, zone login, pings, reconnecting with
//! back-off) is the sans-IO [`link::Link`]; the message codec is
//! `ss_proto::billing`. This module owns the link's socket and everything
//! the zone does with it:
//!
//! - player logins wait (stage `Authenticating`) for the biller's answer,
//!   which decides name, squad and whether the player may enter; when the
//!   link is not logged in, or the answer does not come in time, the
//!   configured fallback answers instead (local passwords, or a refusal);
//! - a player the biller was asked about gets a user logoff when he leaves.
//!   Logoffs that cannot be delivered (link down, or sent and not
//!   acknowledged before a drop) wait and go out, once each, right after
//!   the next zone login;
//! - remote private and squad messages, chat channels, unknown `?commands`
//!   and banners of players the biller accepted go to the biller; its
//!   messages, command replies, channel chat, kicks and zone-wide messages
//!   reach the right player in whatever realm he is.
//!
//! Unlike ASSS, a player the biller accepted stays known to it across a
//! link drop (ASSS forgets everyone): his logoff is still owed, and his
//! chat reaches the biller again once the link is back.

pub mod link;

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use conf::ConfigFile;
use ss_proto::billing::{
    login_result, BillerMessage, FirstLogin, LoginResult, PlayerScore, ServerConnect, UserLogin,
    ZoneMessage, DEFAULT_PORT, MAX_CLIENT_EXTRA, NO_CONNECTION,
};
use ss_proto::game::{chat_type, sanitize_login_name, Chat, Login, LoginCode, S2CPacket};
use ss_proto::transport::{Priority, Reliability, TransportConfig};
use tokio::net::UdpSocket;
use tracing::{debug, info, warn};

use crate::state::Place;
use crate::zone::Zone;
use link::{Link, LinkConfig, LinkEvent, LinkState, Ticket};

/// Logins waiting for the biller at once before new ones get "server busy"
/// (ASSS).
const MAX_PENDING_LOGINS: usize = 15;
/// Players who left while their login was pending, at which new logins get
/// "server busy" (ASSS); halved every [`INTERRUPTED_DAMPING`].
const MAX_INTERRUPTED: u32 = 20;
/// How often the interrupted-login count is halved.
const INTERRUPTED_DAMPING: Duration = Duration::from_secs(10);
/// Player logoffs kept for a biller that is away; beyond this the oldest
/// are dropped (and logged).
const MAX_QUEUED_LOGOFFS: usize = 65_536;
/// Banners forwarded at most once per this interval, zone-wide (ASSS).
const BANNER_INTERVAL: Duration = Duration::from_millis(200);
/// Datagrams read per readiness event.
const RECV_BATCH: usize = 64;

/// What answers logins while the biller is unreachable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fallback {
    /// Local passwords (`passwd.conf`); names without a local entry get a
    /// `^` prefix and are not authenticated (`docs/protocol/billing-udp.md` §8).
    Local,
    /// Refuse the login, saying why.
    Refuse,
}

/// The `[Billing]` settings.
#[derive(Clone, Debug)]
pub struct BillingConfig {
    /// The biller's address; `None` = billing off.
    pub addr: Option<SocketAddrV4>,
    /// Local UDP port of the link (`Net:InternalClientPort`, 0 = any).
    pub local_port: u16,
    /// `ServerName`.
    pub server_name: String,
    /// `Password`.
    pub password: String,
    /// `ServerID`.
    pub server_id: u32,
    /// `GroupID`.
    pub group_id: u32,
    /// `ScoreID`.
    pub score_id: u32,
    /// First wait before reconnecting (`RetryMinimumMillis`, 1000).
    pub retry_min: Duration,
    /// Longest wait before reconnecting (`RetryInterval` seconds, 180).
    pub retry_max: Duration,
    /// Keepalive interval (`PingIntervalMillis`, 60000).
    pub ping_interval: Duration,
    /// Silence after which the link counts as lost
    /// (`NoDataTimeoutMillis`, 65000).
    pub no_data_timeout: Duration,
    /// Wait for an answer to the zone login (`WaitLoginMillis`, 5000).
    pub waitlogin: Duration,
    /// Take an acknowledged zone login as accepted after the wait even if
    /// the biller said nothing (`AssumeLoginAfterWait`, default 0: ASSS's
    /// rule, for billers that never speak first).
    pub assume_login: bool,
    /// Reliable sends before the link is given up (`Net:MaxRetries`).
    pub max_retries: u32,
    /// Longest a player login waits for the biller (`LoginTimeoutMillis`,
    /// 10000) before the fallback answers.
    pub login_timeout: Duration,
    /// What answers logins while the biller is unreachable (`Fallback`:
    /// `local` or `refuse`).
    pub fallback: Fallback,
    /// Zone-local chat channel names (`LocalChats`).
    pub local_chats: Vec<String>,
    /// Secret prefix of local channels (`LocalChatPrefix`).
    pub local_chat_prefix: String,
    /// Staff chat channel names (`StaffChats`).
    pub staff_chats: Vec<String>,
    /// Secret prefix of staff channels (`StaffChatPrefix`).
    pub staff_chat_prefix: String,
    /// Send the public-arena score with logoffs (`SavePublicPlayerScores`).
    pub save_public_scores: bool,
    /// `HonorScoreResetRequests`: a biller-ordered score reset ends the
    /// reset interval of `score_reset_groups`.
    pub honor_score_resets: bool,
    /// `ScoreResetArenaGroups` (default `(public)`).
    pub score_reset_groups: Vec<String>,
    /// Channel numbers above 100 are reduced by 100
    /// (`EnableIsometryCompatibility`).
    pub isometry: bool,
}

impl BillingConfig {
    /// Reads `[Billing]` (and `Net:InternalClientPort`, `Net:MaxRetries`)
    /// from global.conf. A missing or non-IPv4 `IP` turns billing off.
    pub fn load(global: &ConfigFile) -> BillingConfig {
        let ip = global.get_str("Billing", "IP").map(str::trim).unwrap_or("");
        let port = global.get_int("Billing", "Port", i32::from(DEFAULT_PORT));
        let addr = if ip.is_empty() {
            None
        } else {
            match (ip.parse::<Ipv4Addr>(), u16::try_from(port)) {
                (Ok(ip), Ok(port)) if port != 0 => Some(SocketAddrV4::new(ip, port)),
                _ => {
                    warn!(ip, port, "Billing:IP must be a dotted IPv4 address and Billing:Port a port; billing disabled");
                    None
                }
            }
        };
        let int = |key: &str, default: i32| global.get_int("Billing", key, default);
        let millis = |key: &str, default: i32, min: u64| {
            Duration::from_millis((int(key, default).max(0) as u64).max(min))
        };
        let list = |key: &str| {
            global
                .get_str("Billing", key)
                .unwrap_or("")
                .split([',', '\t', ':', ';'])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        let text = |key: &str| global.get_str("Billing", key).unwrap_or("").to_string();
        let fallback = match global
            .get_str("Billing", "Fallback")
            .unwrap_or("local")
            .trim()
            .to_ascii_lowercase()
            .as_str()
        {
            "refuse" => Fallback::Refuse,
            "local" => Fallback::Local,
            other => {
                warn!(
                    value = other,
                    "Billing:Fallback is local or refuse; using local"
                );
                Fallback::Local
            }
        };
        let retry_min = millis("RetryMinimumMillis", 1000, 10);
        BillingConfig {
            addr,
            local_port: u16::try_from(global.get_int("Net", "InternalClientPort", 0)).unwrap_or(0),
            server_name: text("ServerName"),
            password: text("Password"),
            server_id: int("ServerID", 0) as u32,
            group_id: int("GroupID", 1) as u32,
            score_id: int("ScoreID", 0) as u32,
            retry_min,
            retry_max: Duration::from_secs(int("RetryInterval", 180).max(0) as u64).max(retry_min),
            ping_interval: millis("PingIntervalMillis", 60_000, 50),
            no_data_timeout: millis("NoDataTimeoutMillis", 65_000, 100),
            waitlogin: millis("WaitLoginMillis", 5_000, 10),
            assume_login: int("AssumeLoginAfterWait", 0) != 0,
            max_retries: global.get_int("Net", "MaxRetries", 15).clamp(1, 1000) as u32,
            login_timeout: millis("LoginTimeoutMillis", 10_000, 10),
            fallback,
            local_chats: list("LocalChats"),
            local_chat_prefix: text("LocalChatPrefix"),
            staff_chats: list("StaffChats"),
            staff_chat_prefix: text("StaffChatPrefix"),
            save_public_scores: global.get_bool("Billing", "SavePublicPlayerScores", true),
            honor_score_resets: global.get_bool("Billing", "HonorScoreResetRequests", true),
            score_reset_groups: global
                .get_str("Billing", "ScoreResetArenaGroups")
                .unwrap_or("(public)")
                .split([',', ' ', '\t'])
                .filter(|g| !g.is_empty())
                .map(str::to_string)
                .collect(),
            isometry: global.get_bool("Billing", "EnableIsometryCompatibility", false),
        }
    }
}

/// A login sent to the biller and not answered yet.
struct PendingLogin {
    sent_at: Instant,
    deadline: Instant,
    name: String,
    password: String,
}

/// The biller's player sessions and owed logoffs as handed over on an
/// in-place upgrade.
#[derive(Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct BillerExport {
    sessions: Vec<(i16, Session)>,
    logoffs: Vec<Logoff>,
}

/// What the zone keeps about a player the biller was asked about.
#[derive(Default, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct Session {
    /// The biller accepted the login (his chat and commands go there).
    accepted: bool,
    user_id: u32,
    seconds_played: u32,
    first_login: FirstLogin,
    demographics_sent: bool,
    /// Score of the reset interval in a public arena, for the logoff.
    score: Option<PlayerScore>,
}

/// A user logoff owed to the biller.
#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct Logoff {
    pid: u32,
    score: Option<PlayerScore>,
}

/// Counters of the billing module.
#[derive(Clone, Copy, Debug, Default)]
pub struct BillingCounters {
    /// Player logins sent to the biller.
    pub logins_sent: u64,
    /// Logins answered by the fallback (link down or answer too late).
    pub logins_fallback: u64,
    /// Logins refused as "server busy" by the throttle.
    pub logins_busy: u64,
    /// User logoffs the biller acknowledged.
    pub logoffs_delivered: u64,
}

/// The zone's billing state: socket, link and players.
pub struct Biller {
    cfg: BillingConfig,
    socket: Option<UdpSocket>,
    /// The link attempt the socket was (re)bound for.
    socket_attempt: u64,
    link: Link,
    pending: HashMap<i16, PendingLogin>,
    interrupted: u32,
    last_damping: Instant,
    sessions: HashMap<i16, Session>,
    /// Logoffs not sent on the current link yet, oldest first.
    logoffs: VecDeque<Logoff>,
    /// Logoffs sent on the current link and not acknowledged yet.
    logoffs_sent: Vec<(Ticket, Logoff)>,
    identity: Vec<u8>,
    last_banner: Option<Instant>,
    counters: BillingCounters,
}

impl Biller {
    /// Sets billing up: off when no biller is configured, else a socket
    /// (bound per `Net:InternalClientPort`, connected to the biller) and a
    /// link that connects at once. `game_port` goes into the zone login.
    pub fn new(cfg: BillingConfig, game_port: u16, now: Instant) -> Result<Biller> {
        let (socket, link) = match cfg.addr {
            None => (None, Link::disabled(now)),
            Some(addr) => {
                let sock = link_socket(addr, cfg.local_port)?;
                info!(biller = %addr, local = %sock.local_addr()?, "billing enabled");
                let link_cfg = LinkConfig {
                    retry_min: cfg.retry_min,
                    retry_max: cfg.retry_max,
                    ping_interval: cfg.ping_interval,
                    waitlogin: cfg.waitlogin,
                    assume_login: cfg.assume_login,
                    transport: TransportConfig {
                        drop_timeout: cfg.no_data_timeout,
                        max_retries: cfg.max_retries,
                        // SS.NET's window for client links.
                        recv_window: 255,
                        ..TransportConfig::default()
                    },
                };
                let login = ServerConnect {
                    server_id: cfg.server_id,
                    group_id: cfg.group_id,
                    score_id: cfg.score_id,
                    name: cfg.server_name.clone(),
                    port: game_port,
                    password: cfg.password.clone(),
                };
                (Some(sock), Link::new(link_cfg, login, now))
            }
        };
        Ok(Biller {
            cfg,
            socket,
            socket_attempt: 0,
            link,
            pending: HashMap::new(),
            interrupted: 0,
            last_damping: now,
            sessions: HashMap::new(),
            logoffs: VecDeque::new(),
            logoffs_sent: Vec::new(),
            identity: Vec::new(),
            last_banner: None,
            counters: BillingCounters::default(),
        })
    }

    /// Whether billing is configured.
    pub fn enabled(&self) -> bool {
        self.link.state() != LinkState::Disabled
    }

    /// When the link next has timed work (`Link::next_deadline`), for the
    /// zone's tick schedule.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.link.next_deadline()
    }

    /// `disabled`, `connecting`, `up` or `down`.
    pub fn state_name(&self) -> &'static str {
        self.link.state_name()
    }

    /// Waits until the link's socket has a datagram (never, when off).
    pub async fn readable(&self) -> std::io::Result<()> {
        match &self.socket {
            Some(s) => s.readable().await,
            None => std::future::pending().await,
        }
    }

    /// Figures for the operator report.
    pub fn report(&self, now: Instant) -> crate::stats::BillingReport {
        let c = self.link.counters();
        let millis = |d: Option<Duration>| d.map(|d| d.as_millis() as u64);
        crate::stats::BillingReport {
            state: self.state_name().to_string(),
            status: self.link.status_text().to_string(),
            last_heard_ms: millis(self.link.since_heard(now)),
            last_message_ms: millis(self.link.since_message(now)),
            connect_attempts: c.attempts,
            failed_attempts: c.failed_attempts,
            retransmits: c.retransmits,
            drops: c.drops,
            messages_in: c.messages_in,
            messages_out: c.messages_out,
            malformed: c.malformed,
            pending_logins: self.pending.len() as u32,
            queued_logoffs: (self.logoffs.len() + self.logoffs_sent.len()) as u32,
            logins_sent: self.counters.logins_sent,
            logins_fallback: self.counters.logins_fallback,
            logins_busy: self.counters.logins_busy,
            logoffs_delivered: self.counters.logoffs_delivered,
        }
    }

    /// A new connection attempt is starting: whatever is owed about the
    /// last one goes out on its socket, then (with `Net:InternalClientPort`
    /// 0) the link moves to a fresh local port, so that neither the biller
    /// nor a late datagram can mix the new connection up with the old.
    fn new_attempt(&mut self) {
        self.socket_attempt = self.link.attempt();
        let (Some(sock), Some(addr)) = (self.socket.as_ref(), self.cfg.addr) else {
            return;
        };
        if let Some(bye) = self.link.take_farewell() {
            let _ = sock.try_send(&bye);
        }
        if self.cfg.local_port != 0 || self.socket_attempt <= 1 {
            return;
        }
        match link_socket(addr, 0) {
            Ok(fresh) => {
                debug!(local = ?fresh.local_addr().ok(), "biller link on a fresh port");
                self.socket = Some(fresh);
            }
            Err(e) => warn!("no fresh port for the biller link, keeping the old one: {e:#}"),
        }
    }

    /// Moves acknowledged logoffs out of the sent list.
    fn prune_acked(&mut self) {
        let link = &self.link;
        let before = self.logoffs_sent.len();
        self.logoffs_sent.retain(|(t, _)| !link.is_acked(*t));
        self.counters.logoffs_delivered += (before - self.logoffs_sent.len()) as u64;
    }

    /// Sends queued logoffs while the link takes them.
    fn send_logoffs(&mut self) {
        while self.link.is_up() {
            let Some(off) = self.logoffs.pop_front() else {
                return;
            };
            let msg = ZoneMessage::UserLogoff {
                connection_id: off.pid,
                score: off.score,
            };
            match self.link.send_tracked(&msg) {
                Some(t) => self.logoffs_sent.push((t, off)),
                None => {
                    self.logoffs.push_front(off);
                    return;
                }
            }
        }
    }

    fn queue_logoff(&mut self, off: Logoff) {
        if self.logoffs.len() >= MAX_QUEUED_LOGOFFS {
            if let Some(lost) = self.logoffs.pop_front() {
                warn!(
                    pid = lost.pid,
                    "too many logoffs waiting for the biller; dropping the oldest"
                );
            }
        }
        self.logoffs.push_back(off);
        self.send_logoffs();
    }
}

/// A UDP socket for the biller link: bound to `local_port` (0 = any) on
/// the loopback address for a loopback biller, else on any address, and
/// connected to the biller.
fn link_socket(addr: SocketAddrV4, local_port: u16) -> Result<UdpSocket> {
    let local = if addr.ip().is_loopback() {
        Ipv4Addr::LOCALHOST
    } else {
        Ipv4Addr::UNSPECIFIED
    };
    let sock = std::net::UdpSocket::bind(SocketAddr::new(IpAddr::V4(local), local_port))
        .with_context(|| format!("binding the biller link's socket (port {local_port})"))?;
    sock.connect(addr)
        .with_context(|| format!("addressing the biller at {addr}"))?;
    sock.set_nonblocking(true)?;
    Ok(UdpSocket::from_std(sock)?)
}

/// The S2C login code for a biller login result.
fn login_code(result: u8) -> LoginCode {
    match result {
        login_result::OK => LoginCode::OK,
        login_result::NEW_USER => LoginCode::NEW_USER,
        login_result::INVALID_PASSWORD => LoginCode::BAD_PASSWORD,
        login_result::BANNED => LoginCode::LOCKED_OUT,
        login_result::NO_NEW_CONNECTIONS => LoginCode::NO_NEW_CONNECTIONS,
        login_result::BAD_USER_NAME => LoginCode::BAD_NAME,
        login_result::DEMO_VERSION | login_result::ASK_DEMOGRAPHICS => LoginCode::ASK_DEMOGRAPHICS,
        login_result::SERVER_BUSY => LoginCode::SERVER_BUSY,
        _ => LoginCode::NO_PERMISSION,
    }
}

/// Splits a chat channel message into channel and text (ASSS rules: a
/// leading `;` is dropped; a `;` within the first 10 characters ends the
/// channel; else channel 1).
fn split_channel(text: &str) -> (String, String) {
    let text = text.strip_prefix(';').unwrap_or(text);
    match text.find(';') {
        Some(i) if i < 10 => {
            let channel: String = text[..i].chars().take(31).collect();
            (channel, text[i + 1..].to_string())
        }
        _ => ("1".to_string(), text.to_string()),
    }
}

/// Rebuilds `?chat=a,b` with the local and staff channel prefixes
/// (`docs/protocol/billing-udp.md` §7.2). `args` is what follows `chat=`.
fn rewrite_chat(cfg: &BillingConfig, args: &str, modchat: bool) -> String {
    let mut out = String::from("?chat=");
    let mut first = true;
    for name in args.split(',') {
        let bare = name.split('/').next().unwrap_or("").trim();
        if bare.is_empty() || name.len() > 31 {
            continue;
        }
        let piece = if cfg.local_chats.iter().any(|c| c.eq_ignore_ascii_case(bare)) {
            format!("$l${}|{}", cfg.local_chat_prefix, name.trim())
        } else if modchat && cfg.staff_chats.iter().any(|c| c.eq_ignore_ascii_case(bare)) {
            format!("$s${}|{}", cfg.staff_chat_prefix, name.trim())
        } else {
            name.trim().to_string()
        };
        if out.len() + piece.len() + 1 > ss_proto::billing::MAX_TEXT - 1 {
            break;
        }
        if !first {
            out.push(',');
        }
        out.push_str(&piece);
        first = false;
    }
    out
}

/// How a biller command reply is shown: `$l$…|text` → `(local) text`,
/// `$s$…|text` → `(staff) text`.
fn command_reply_text(text: &str) -> String {
    for (tag, label) in [("$l$", "(local) "), ("$s$", "(staff) ")] {
        if let Some(rest) = text.strip_prefix(tag) {
            if let Some((_, after)) = rest.split_once('|') {
                return format!("{label}{after}");
            }
        }
    }
    text.to_string()
}

/// `H:MM:SS` of a number of seconds.
fn hms(secs: u64) -> String {
    format!("{}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

fn chat(chat_type: u8, sound: u8, text: String) -> S2CPacket {
    S2CPacket::Chat(Chat {
        chat_type,
        sound,
        pid: -1,
        text,
    })
}

impl Zone {
    // ----- link I/O ----------------------------------------------------------

    /// Reads what the biller sent and acts on it.
    pub(crate) fn drain_biller_socket(&mut self) {
        let mut buf = [0u8; 2048];
        for _ in 0..RECV_BATCH {
            let Some(sock) = self.biller.socket.as_ref() else {
                return;
            };
            match sock.try_recv(&mut buf) {
                Ok(n) => {
                    let now = Instant::now();
                    self.biller.link.handle_datagram(now, &mut buf[..n]);
                    self.biller_events(now);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    // e.g. "connection refused" from an ICMP report while
                    // the biller is down: the link's timers deal with it.
                    // The error is consumed; read on until nothing is left.
                    debug!("biller socket: {e}");
                }
            }
        }
    }

    /// Sends what the link has due (once per loop pass).
    pub(crate) fn flush_biller(&mut self, now: Instant) {
        if !self.biller.enabled() {
            return;
        }
        let b = &mut self.biller;
        if b.link.attempt() != b.socket_attempt {
            b.new_attempt();
        }
        if let Some(sock) = b.socket.as_ref() {
            b.link.transmit(now, &mut |d| {
                let _ = sock.try_send(d);
            });
        }
        self.biller_events(now);
    }

    /// The billing timers (every zone tick).
    pub(crate) fn biller_tick(&mut self, now: Instant) {
        if !self.biller.enabled() {
            return;
        }
        self.biller.link.poll(now);
        self.biller.prune_acked();
        if now.saturating_duration_since(self.biller.last_damping) >= INTERRUPTED_DAMPING {
            self.biller.last_damping = now;
            if self.biller.link.is_up() {
                self.biller.interrupted /= 2;
            }
        }
        let late: Vec<i16> = self
            .biller
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(&pid, _)| pid)
            .collect();
        // A login left unanswered by a biller that has said nothing at all
        // since it was sent: the link is not really up (the biller may
        // have lost the connection while its transport still acknowledges).
        // It is dropped and made again; every pending login takes the
        // fallback now rather than each waiting out its time.
        let link = &self.biller.link;
        let mute = link.is_up()
            && late.iter().any(|pid| {
                self.biller.pending.get(pid).is_some_and(|p| {
                    link.since_message(now)
                        .is_none_or(|d| d >= now.saturating_duration_since(p.sent_at))
                })
            });
        if mute {
            warn!("the biller has said nothing since a login it did not answer; reconnecting");
            self.biller.link.abandon(now);
            self.biller_events(now);
        }
        for pid in late {
            if let Some(p) = self.biller.pending.remove(&pid) {
                warn!(pid, name = %p.name, "the biller did not answer a login in time; using the fallback");
                self.login_fallback(now, pid, &p.name, &p.password);
            }
        }
        self.biller_events(now);
    }

    /// The biller's knowledge of players, for the supervisor's in-place
    /// upgrade (docs/upgrades.md §3): the new process takes it on as after
    /// a dropped link. Logins still waiting for the biller are answered
    /// now, by the fallback, exactly as when the link drops.
    pub(crate) fn biller_export(&mut self, now: Instant) -> BillerExport {
        let pending: Vec<(i16, PendingLogin)> = self.biller.pending.drain().collect();
        for (pid, p) in pending {
            info!(pid, name = %p.name, "supervisor upgrade during a biller login; using the fallback");
            self.login_fallback(now, pid, &p.name, &p.password);
        }
        let b = &mut self.biller;
        b.prune_acked();
        let mut logoffs: Vec<Logoff> = b.logoffs_sent.iter().map(|(_, off)| *off).collect();
        logoffs.extend(b.logoffs.iter().copied());
        BillerExport {
            sessions: b
                .sessions
                .iter()
                .map(|(&pid, s)| (pid, s.clone()))
                .collect(),
            logoffs,
        }
    }

    /// Takes on what the previous process knew (its link is made again).
    pub(crate) fn biller_import(&mut self, e: BillerExport) {
        let b = &mut self.biller;
        b.sessions.extend(e.sessions);
        b.logoffs.extend(e.logoffs);
    }

    /// Tells the biller the zone is going away.
    pub(crate) fn biller_shutdown(&mut self, now: Instant) {
        if !self.biller.enabled() {
            return;
        }
        // Logoffs for everyone still on, then the zone's own logoff.
        let pids: Vec<i16> = self.biller.sessions.keys().copied().collect();
        for pid in pids {
            self.biller_player_left(now, pid);
        }
        let b = &mut self.biller;
        if let Some(sock) = b.socket.as_ref() {
            b.link.shut_down(now, &mut |d| {
                let _ = sock.try_send(d);
            });
        }
    }

    fn biller_events(&mut self, now: Instant) {
        while let Some(ev) = self.biller.link.poll_event() {
            match ev {
                LinkEvent::Up => self.biller_up(),
                LinkEvent::Down { was_up } => self.biller_down(now, was_up),
                LinkEvent::Message(msg) => self.biller_message(now, msg),
            }
        }
    }

    fn biller_up(&mut self) {
        let b = &mut self.biller;
        b.identity.clear();
        b.logoffs_sent.clear();
        if !b.logoffs.is_empty() {
            info!(
                count = b.logoffs.len(),
                "sending the logoffs of players who left while the biller was away"
            );
        }
        b.send_logoffs();
        let pids: Vec<(i16, bool)> = self
            .players
            .iter()
            .filter(|p| self.state.members.realm_of(p.pid).is_some())
            .map(|p| {
                (
                    p.pid,
                    self.biller.sessions.get(&p.pid).is_some_and(|s| s.accepted),
                )
            })
            .collect();
        for (pid, known) in pids {
            let text = if known {
                "Notice: Connection to user database server restored."
            } else {
                "Notice: Connection to user database server restored. Log in again for full functionality"
            };
            self.arena_message(pid, text);
        }
    }

    fn biller_down(&mut self, now: Instant, was_up: bool) {
        // What the biller acknowledged is done; the rest goes out again,
        // in the original order, ahead of anything queued since.
        self.biller.prune_acked();
        let unacked = std::mem::take(&mut self.biller.logoffs_sent);
        for (_, off) in unacked.into_iter().rev() {
            self.biller.logoffs.push_front(off);
        }
        self.biller.interrupted = 0;
        // Logins in flight are answered now, never left hanging.
        let pending: Vec<(i16, PendingLogin)> = self.biller.pending.drain().collect();
        for (pid, p) in pending {
            info!(pid, name = %p.name, "biller link lost during a login; using the fallback");
            self.login_fallback(now, pid, &p.name, &p.password);
        }
        if was_up {
            let pids: Vec<i16> = self
                .players
                .iter()
                .filter(|p| self.state.members.realm_of(p.pid).is_some())
                .map(|p| p.pid)
                .collect();
            for pid in pids {
                self.arena_message(pid, "Notice: Connection to user database server lost");
            }
        }
    }

    // ----- player login and leave -------------------------------------------

    /// A player's login (name already cleaned). Returns false when billing
    /// is off and local authentication should decide; otherwise the login
    /// is sent to the biller (the player waits as `Authenticating`) or
    /// answered by the fallback.
    pub(crate) fn biller_login(
        &mut self,
        now: Instant,
        pid: i16,
        login: &Login,
        raw: &[u8],
        name: &str,
    ) -> bool {
        if !self.biller.enabled() {
            return false;
        }
        if !self.biller.link.is_up() {
            self.login_fallback(now, pid, name, &login.password);
            return true;
        }
        if self.biller.pending.len() >= MAX_PENDING_LOGINS
            || self.biller.interrupted >= MAX_INTERRUPTED
        {
            self.biller.counters.logins_busy += 1;
            self.login_response(pid, LoginCode::SERVER_BUSY);
            return true;
        }
        let Some(player) = self.players.get(pid) else {
            return true;
        };
        let ip = match player.addr.ip() {
            IpAddr::V4(v4) => v4.octets(),
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or([0; 4], |v4| v4.octets()),
        };
        let extra = raw.get(Login::VIE_LEN..).unwrap_or(&[]);
        let msg = ZoneMessage::UserLogin(UserLogin {
            make_new: login.flags,
            ip,
            name: name.to_string(),
            password: login.password.clone(),
            connection_id: pid as u16 as u32,
            machine_id: login.machine_id,
            timezone: i32::from(login.timezone_bias),
            client_version: login.client_version as u16,
            extra: extra[..extra.len().min(MAX_CLIENT_EXTRA)].to_vec(),
        });
        if !self.biller.link.send(&msg) {
            self.login_fallback(now, pid, name, &login.password);
            return true;
        }
        self.biller.counters.logins_sent += 1;
        debug!(pid, %name, "login sent to the biller");
        self.biller.pending.insert(
            pid,
            PendingLogin {
                sent_at: now,
                deadline: now + self.biller.cfg.login_timeout,
                name: name.to_string(),
                password: login.password.clone(),
            },
        );
        // Asked about: a logoff is owed when he leaves (ASSS rule).
        self.biller.sessions.entry(pid).or_default();
        self.state.set_login_state(pid, Place::Authenticating);
        true
    }

    /// Answers a login without the biller (`docs/protocol/billing-udp.md` §8).
    fn login_fallback(&mut self, now: Instant, pid: i16, name: &str, password: &str) {
        if self.players.get(pid).is_none() {
            return;
        }
        self.biller.counters.logins_fallback += 1;
        match self.biller.cfg.fallback {
            Fallback::Refuse => {
                info!(pid, %name, "user database unavailable; login refused");
                let continuum = self.players.get(pid).is_some_and(|p| p.continuum);
                if continuum {
                    self.send_packet(
                        pid,
                        &S2CPacket::LoginText(
                            "The user database server is unavailable. Please try again later."
                                .into(),
                        ),
                    );
                    self.refuse_login(pid, LoginCode::CUSTOM_TEXT);
                } else {
                    self.refuse_login(pid, LoginCode::SERVER_BUSY);
                }
            }
            Fallback::Local => match self.s.auth.check(name, password) {
                Ok(true) => self.finish_login(
                    now,
                    pid,
                    name.to_string(),
                    String::new(),
                    true,
                    LoginCode::OK,
                ),
                Ok(false) => {
                    // An unverified name is marked, so that it cannot pass
                    // for the registered one.
                    let shown = if self.s.auth.has_entry(name) {
                        name.to_string()
                    } else {
                        format!("^{name}")
                    };
                    self.finish_login(now, pid, shown, String::new(), false, LoginCode::OK);
                }
                Err(code) => self.refuse_login(pid, code),
            },
        }
    }

    /// A refused login: the response goes out and the player may try again.
    fn refuse_login(&mut self, pid: i16, code: LoginCode) {
        let Some(since) = self.players.get(pid).map(|p| p.connected_at) else {
            return;
        };
        self.state.set_login_state(pid, Place::Connected);
        // Back under the not-logged-in time limit.
        if !self.pending.contains(&(pid, since)) {
            self.pending.push_back((pid, since));
        }
        self.login_response(pid, code);
    }

    fn biller_login_result(&mut self, now: Instant, r: LoginResult) {
        let Ok(pid) = i16::try_from(r.connection_id) else {
            warn!(
                id = r.connection_id,
                "biller answered a login for an impossible pid"
            );
            return;
        };
        let Some(pending) = self.biller.pending.remove(&pid) else {
            warn!(pid, "biller answered a login that is not pending; ignored");
            return;
        };
        if self.state.members.place(pid) != Some(Place::Authenticating) {
            return;
        }
        let code = login_code(r.result);
        if !code.proceeds() {
            info!(pid, name = %pending.name, result = r.result, "biller refused the login");
            self.refuse_login(pid, code);
            return;
        }
        // The biller's spelling of the name, if it is a valid one.
        let name = sanitize_login_name(&r.name).unwrap_or(pending.name);
        let squad: String = r
            .squad
            .chars()
            .filter(|c| (' '..='~').contains(c))
            .take(23)
            .collect();
        let session = self.biller.sessions.entry(pid).or_default();
        session.accepted = true;
        session.user_id = r.user_id;
        session.seconds_played = r.seconds_played;
        session.first_login = r.first_login;
        info!(pid, %name, %squad, user_id = r.user_id, "biller accepted the login");
        // A banner the biller keeps for the player is his (and the zone's).
        if r.banner.len() == crate::players::BANNER_LEN && r.banner.iter().any(|&b| b != 0) {
            self.banner_changed(pid, &r.banner);
        }
        self.finish_login(now, pid, name, squad, true, code);
    }

    /// A player leaves the zone: a pending login is abandoned, and the
    /// biller gets his logoff (now, or when it is back).
    pub(crate) fn biller_player_left(&mut self, _now: Instant, pid: i16) {
        if !self.biller.enabled() {
            return;
        }
        if self.biller.pending.remove(&pid).is_some() {
            self.biller.interrupted += 1;
        }
        if let Some(s) = self.biller.sessions.remove(&pid) {
            let score = if self.biller.cfg.save_public_scores {
                s.score
            } else {
                None
            };
            self.biller.queue_logoff(Logoff {
                pid: pid as u16 as u32,
                score,
            });
        }
    }

    /// A realm reports a player's new score. In a public arena (a name of
    /// digits only) it is kept for his logoff (`docs/protocol/billing-udp.md` §3.5).
    pub(crate) fn biller_score_changed(
        &mut self,
        slot: crate::state::SlotId,
        pid: i16,
        kill_points: i32,
        flag_points: i32,
        kills: u16,
        deaths: u16,
    ) {
        if !self.biller.sessions.contains_key(&pid) || !self.player_in_realm(pid, slot) {
            return;
        }
        let public = self
            .state
            .registry
            .get(slot)
            .is_some_and(|r| !r.name.is_empty() && r.name.bytes().all(|b| b.is_ascii_digit()));
        if let (true, Some(s)) = (public, self.biller.sessions.get_mut(&pid)) {
            s.score = Some(PlayerScore {
                kills,
                deaths,
                flags: 0,
                score: kill_points as u32,
                flag_score: flag_points as u32,
            });
        }
    }

    /// Whether the player's chat and commands can go to the biller now.
    fn biller_takes(&self, pid: i16) -> bool {
        self.biller.link.is_up() && self.biller.sessions.get(&pid).is_some_and(|s| s.accepted)
    }

    // ----- from players to the biller ----------------------------------------

    /// A remote private (`:name:text`) or squad (`:#squad:text`) message to
    /// a name not on this zone. Returns false when the zone should answer
    /// "not in the zone" itself (billing off).
    pub(crate) fn biller_remote_private(
        &mut self,
        from: i16,
        to_name: &str,
        text: &str,
        sound: u8,
    ) -> bool {
        if !self.biller.enabled() {
            return false;
        }
        if self.biller_takes(from) {
            let sender = self
                .players
                .get(from)
                .map(|p| p.name.clone())
                .unwrap_or_default();
            let msg = ZoneMessage::UserPrivateChat {
                sound,
                text: format!(":{to_name}:({sender})>{text}"),
            };
            self.biller.link.send(&msg);
        } else if self.biller.sessions.get(&from).is_some_and(|s| s.accepted) {
            self.arena_message(
                from,
                "The user database server is unavailable; your message was not sent.",
            );
        } else if !to_name.starts_with('#') {
            return false;
        }
        true
    }

    /// A chat channel message (`;text` or `;n;text`).
    pub(crate) fn biller_channel_chat(&mut self, pid: i16, text: &str) {
        if !self.biller_takes(pid) {
            if self.biller.enabled() && self.biller.sessions.get(&pid).is_some_and(|s| s.accepted) {
                self.arena_message(
                    pid,
                    "The user database server is unavailable; chat channels are down.",
                );
            }
            return;
        }
        let (channel, text) = split_channel(text);
        self.biller.link.send(&ZoneMessage::UserChannelChat {
            connection_id: pid as u16 as u32,
            channel,
            text,
        });
    }

    /// A `?command` the realm does not know (`line` without the `?`).
    /// The billing module's own commands are answered here; the others go
    /// to the biller. Without a biller the player is told the command is
    /// unknown.
    pub(crate) fn biller_command(&mut self, pid: i16, line: &str, modchat: bool) {
        let line = line.strip_prefix('\\').unwrap_or(line);
        let (name, args) = match line.find([' ', '=', '#']) {
            Some(i) => (&line[..i], line[i + 1..].trim_start_matches([' ', '='])),
            None => (line, ""),
        };
        let lower = name.to_ascii_lowercase();
        if !self.biller.enabled() {
            self.arena_message(pid, &format!("Unknown command: ?{name}"));
            return;
        }
        match lower.as_str() {
            "usage" => return self.cmd_usage(pid),
            "userid" => {
                let text = match self.biller.sessions.get(&pid).filter(|s| s.accepted) {
                    Some(s) => format!("Your user id is {}.", s.user_id),
                    None => "user id unknown".to_string(),
                };
                return self.arena_message(pid, &text);
            }
            "userdbadm" => {
                let text = format!(
                    "user database status: {}  pending auths: {}",
                    self.biller.link.status_text(),
                    self.biller.pending.len()
                );
                return self.arena_message(pid, &text);
            }
            _ => {}
        }
        if !self.biller_takes(pid) {
            let text = if self.biller.link.is_up() {
                format!("Unknown command: ?{name}")
            } else {
                format!("?{name} needs the user database server, which is unavailable.")
            };
            self.arena_message(pid, &text);
            return;
        }
        let text = if lower == "chat" && line.len() > 4 {
            rewrite_chat(&self.biller.cfg, args, modchat)
        } else {
            format!("?{line}")
        };
        self.biller.link.send(&ZoneMessage::UserCommand {
            connection_id: pid as u16 as u32,
            text,
        });
    }

    /// `?find` for a name not in this zone: asked of the biller, as ASSS
    /// does (`?find name` as a UserCommand; its answer comes back as a
    /// command reply). False when the biller cannot take it (billing off,
    /// link down, or a player the biller has not accepted).
    pub(crate) fn biller_find(&mut self, pid: i16, query: &str) -> bool {
        if !self.biller_takes(pid) {
            return false;
        }
        self.biller.link.send(&ZoneMessage::UserCommand {
            connection_id: pid as u16 as u32,
            text: format!("?find {query}"),
        })
    }

    fn cmd_usage(&mut self, pid: i16) {
        let Some(p) = self.players.get(pid) else {
            return;
        };
        let session_secs = p.connected_at.elapsed().as_secs();
        let lines = match self.biller.sessions.get(&pid).filter(|s| s.accepted) {
            Some(s) => {
                let f = s.first_login;
                let first = if f.is_unknown() {
                    "unknown".to_string()
                } else {
                    format!(
                        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
                        f.year, f.month, f.day, f.hour, f.minute, f.second
                    )
                };
                vec![
                    format!("session: {}", hms(session_secs)),
                    format!(
                        "  total: {}",
                        hms(session_secs + u64::from(s.seconds_played))
                    ),
                    format!("first played: {first}"),
                ]
            }
            None => vec!["usage unknown".to_string()],
        };
        for line in lines {
            self.arena_message(pid, &line);
        }
    }

    /// A registration form (C2S 0x17 body): sent to the biller once per
    /// session. Returns whether the biller took it (billing is on).
    pub(crate) fn biller_registration(&mut self, pid: i16, form: Vec<u8>) -> bool {
        if !self.biller.enabled() {
            return false;
        }
        let Some(s) = self.biller.sessions.get_mut(&pid) else {
            return true;
        };
        if s.demographics_sent {
            warn!(pid, "second registration form; ignored");
        } else {
            s.demographics_sent = true;
            self.biller.link.send(&ZoneMessage::UserDemographics {
                connection_id: pid as u16 as u32,
                data: form,
            });
        }
        true
    }

    /// A banner change (C2S 0x19): forwarded to the biller, at most one
    /// banner per [`BANNER_INTERVAL`] zone-wide (the realm gets it too).
    pub(crate) fn biller_banner(
        &mut self,
        now: Instant,
        pid: i16,
        banner: &[u8; ss_proto::billing::BANNER_LEN],
    ) {
        if !self.biller.enabled() || !self.biller_takes(pid) {
            return;
        }
        let due = self
            .biller
            .last_banner
            .is_none_or(|t| now.saturating_duration_since(t) >= BANNER_INTERVAL);
        if due {
            self.biller.last_banner = Some(now);
            self.biller.link.send(&ZoneMessage::UserBanner {
                connection_id: pid as u16 as u32,
                banner: *banner,
            });
        }
    }

    // ----- from the biller to players ---------------------------------------

    /// A player the biller may address: one it was asked about.
    fn biller_player(&self, connection_id: u32) -> Option<i16> {
        let pid = i16::try_from(connection_id).ok()?;
        (self.players.get(pid).is_some() && self.biller.sessions.contains_key(&pid)).then_some(pid)
    }

    fn biller_message(&mut self, now: Instant, msg: BillerMessage) {
        match msg {
            BillerMessage::UserLogin(r) => self.biller_login_result(now, *r),
            BillerMessage::UserPrivateChat { sound, text, .. } => {
                self.biller_private_chat(sound, &text)
            }
            BillerMessage::UserKickout {
                connection_id,
                reason,
            } => match self.biller_player(connection_id) {
                Some(pid) => self.biller_kick(now, pid, reason),
                None => warn!(connection_id, reason, "biller kicked an unknown player"),
            },
            BillerMessage::UserCommandChat {
                connection_id,
                text,
            } => match self.biller_player(connection_id) {
                Some(pid) => self.arena_message(pid, &command_reply_text(&text)),
                None => debug!(connection_id, "biller reply for an unknown player"),
            },
            BillerMessage::UserChannelChat {
                connection_id,
                channel,
                text,
            } => self.biller_channel_to(connection_id, channel, &text),
            BillerMessage::UserMChannelChat { recipients, text } => {
                for (id, channel) in recipients {
                    self.biller_channel_to(id, channel, &text);
                }
            }
            BillerMessage::ScoreReset { score_id } => {
                if self.biller.cfg.honor_score_resets {
                    let groups = self.biller.cfg.score_reset_groups.clone();
                    info!(score_id, ?groups, "biller ordered a score reset");
                    self.end_score_interval(groups);
                } else {
                    info!(
                        score_id,
                        "biller asked for a score reset; not honoured by config"
                    );
                }
            }
            BillerMessage::UserPacket {
                connection_id,
                data,
            } => {
                let pid = (connection_id != NO_CONNECTION)
                    .then(|| self.biller_player(connection_id))
                    .flatten();
                match pid {
                    Some(pid) if data.first() == Some(&0x33) => {
                        self.send_raw(pid, &data, Reliability::Reliable);
                    }
                    _ => warn!(
                        connection_id,
                        kind = data.first().copied().unwrap_or(0),
                        "biller user packet dropped (only S2C 0x33 to one player is passed on)"
                    ),
                }
            }
            BillerMessage::BillingIdentity(id) => {
                debug!(len = id.len(), "biller identity received");
                self.biller.identity = id;
            }
        }
    }

    fn biller_channel_to(&mut self, connection_id: u32, channel: u8, text: &str) {
        let Some(pid) = self.biller_player(connection_id) else {
            debug!(connection_id, "channel message for an unknown player");
            return;
        };
        let channel = if self.biller.cfg.isometry && channel > 100 {
            channel - 100
        } else {
            channel
        };
        self.send_packet(
            pid,
            &chat(chat_type::CHANNEL, 0, format!("{channel}:{text}")),
        );
    }

    /// B2S private chat: `:name:(sender)>msg` to a player, `:#squad:…` to a
    /// squad, anything else to everyone in an arena.
    fn biller_private_chat(&mut self, sound: u8, text: &str) {
        let Some(rest) = text.strip_prefix(':') else {
            let pids: Vec<i16> = self
                .players
                .iter()
                .filter(|p| self.state.members.realm_of(p.pid).is_some())
                .map(|p| p.pid)
                .collect();
            for pid in pids {
                self.send_packet(pid, &chat(0, sound, text.to_string()));
            }
            return;
        };
        let Some((to, body)) = rest.split_once(':') else {
            debug!("biller private message without a recipient; dropped");
            return;
        };
        // The sender is between '(' and the first ")>" (at most 30 in).
        let well_formed = body.starts_with('(') && body.find(")>").is_some_and(|i| i <= 30);
        if !well_formed {
            debug!("malformed biller private message; dropped");
            return;
        }
        if let Some(squad) = to.strip_prefix('#') {
            if squad.is_empty() {
                return;
            }
            let pids: Vec<i16> = self
                .players
                .iter()
                .filter(|p| {
                    self.state.members.realm_of(p.pid).is_some()
                        && p.squad.eq_ignore_ascii_case(squad)
                })
                .map(|p| p.pid)
                .collect();
            for pid in pids {
                self.send_packet(
                    pid,
                    &chat(
                        chat_type::REMOTE_PRIVATE,
                        sound,
                        format!("(#{squad}){body}"),
                    ),
                );
            }
            return;
        }
        match self.players.find_by_name(to).map(|p| p.pid) {
            Some(pid) => self.send_packet(
                pid,
                &chat(chat_type::REMOTE_PRIVATE, sound, body.to_string()),
            ),
            None => debug!(to, "biller private message for a player not here"),
        }
    }

    /// The biller kicks a player: told why, then disconnected.
    fn biller_kick(&mut self, now: Instant, pid: i16, reason: u16) {
        let text =
            format!("You have been disconnected by the user database server (reason {reason}).");
        let mut bytes = Vec::new();
        chat(chat_type::SYSOP_WARNING, 0, text).encode(&mut bytes);
        if let Some(p) = self.players.get_mut(pid) {
            info!(pid, name = %p.name, reason, "biller kicked the player");
            p.conn.send(&bytes, Reliability::Reliable, Priority::High);
        }
        self.flush_player(now, pid);
        self.remove_player(now, pid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(text: &str) -> BillingConfig {
        BillingConfig::load(&ConfigFile::parse_str(text).unwrap())
    }

    #[test]
    fn config_defaults_and_keys() {
        let off = cfg("");
        assert!(off.addr.is_none());
        assert_eq!(off.fallback, Fallback::Local);
        assert_eq!(off.retry_max, Duration::from_secs(180));
        assert_eq!(off.group_id, 1);
        let on = cfg(
            "[Billing]\nIP = 127.0.0.1\nPort = 1900\nServerName = Zone\nPassword = pw\nServerID = 4\n\
             Fallback = refuse\nLocalChats = a, b\nStaffChats = mods;ops\nRetryInterval = 30\n",
        );
        assert_eq!(on.addr, Some("127.0.0.1:1900".parse().unwrap()));
        assert_eq!(
            (on.server_name.as_str(), on.password.as_str(), on.server_id),
            ("Zone", "pw", 4)
        );
        assert_eq!(on.fallback, Fallback::Refuse);
        assert_eq!(on.local_chats, ["a", "b"]);
        assert_eq!(on.staff_chats, ["mods", "ops"]);
        assert_eq!(on.retry_max, Duration::from_secs(30));
        assert!(
            cfg("[Billing]\nIP = biller.example.org\n").addr.is_none(),
            "no DNS"
        );
        assert_eq!(
            cfg("[Billing]\nIP = 10.0.0.1\n").addr.map(|a| a.port()),
            Some(1850)
        );
    }

    #[test]
    fn login_codes_follow_the_table() {
        assert_eq!(login_code(0), LoginCode::OK);
        assert_eq!(login_code(1), LoginCode::NEW_USER);
        assert_eq!(login_code(2), LoginCode::BAD_PASSWORD);
        assert_eq!(login_code(3), LoginCode::LOCKED_OUT);
        assert_eq!(login_code(4), LoginCode::NO_NEW_CONNECTIONS);
        assert_eq!(login_code(5), LoginCode::BAD_NAME);
        assert_eq!(login_code(6), LoginCode::ASK_DEMOGRAPHICS);
        assert_eq!(login_code(7), LoginCode::SERVER_BUSY);
        assert_eq!(login_code(8), LoginCode::ASK_DEMOGRAPHICS);
        assert_eq!(login_code(99), LoginCode::NO_PERMISSION);
    }

    #[test]
    fn channel_messages_split() {
        assert_eq!(split_channel("hello"), ("1".into(), "hello".into()));
        assert_eq!(split_channel("2;hello"), ("2".into(), "hello".into()));
        assert_eq!(
            split_channel(";3;hi;there"),
            ("3".into(), "hi;there".into())
        );
        assert_eq!(
            split_channel("a long sentence; then more"),
            ("1".into(), "a long sentence; then more".into())
        );
    }

    #[test]
    fn chat_command_rewrite() {
        let c = cfg("[Billing]\nIP=127.0.0.1\nLocalChats=zone\nLocalChatPrefix=zz\nStaffChats=mods\nStaffChatPrefix=ss\n");
        assert_eq!(
            rewrite_chat(&c, "pub,zone,mods", false),
            "?chat=pub,$l$zz|zone,mods"
        );
        assert_eq!(
            rewrite_chat(&c, "pub, Zone ,mods", true),
            "?chat=pub,$l$zz|Zone,$s$ss|mods"
        );
        assert_eq!(rewrite_chat(&c, "", true), "?chat=");
    }

    #[test]
    fn command_replies_and_times() {
        assert_eq!(command_reply_text("$l$zz|zone: hi"), "(local) zone: hi");
        assert_eq!(command_reply_text("$s$x|mods: hi"), "(staff) mods: hi");
        assert_eq!(command_reply_text("$l$no bar"), "$l$no bar");
        assert_eq!(command_reply_text("plain"), "plain");
        assert_eq!(hms(3 * 3600 + 5 * 60 + 7), "3:05:07");
    }
}
