//! The load generator's engine: many bot connections driven by a few
//! event-loop threads, and the measurements of a run.
//!
//! Bots are built directly on the sans-IO [`ClientSession`] (the session
//! logic the scripted [`crate::bot::Bot`] shares), not on the thread-per-bot
//! bot itself: each of `threads` OS threads
//! runs a single-threaded tokio runtime with one small task per bot (a UDP
//! socket, a connection and a timer). A bot connects with VIE encryption,
//! syncs its clock, logs in, enters its arena in a ship and then flies
//! around the map centre at the configured rate, now and then firing a
//! bullet or saying something in public chat.
//!
//! **Latency.** Every position a bot sends carries its send instant (micro
//! seconds since the run's epoch, 32 bits) in the x and y speed fields,
//! which the zone relays unchanged; the receiver subtracts it from its own
//! receive instant, both read from the same monotonic clock. So no table of
//! send times is shared between threads. The same positions are also timed
//! at the bot's socket: the kernel stamps each datagram as it arrives there
//! (`SO_TIMESTAMPNS`), and its age by the wall clock is taken off the
//! receive instant. The difference between the two figures is the bot's
//! own delay (its thread busy with other bots, or its CPU taken away by the
//! machine), which says how much of a p99 on a busy host is the zone's.
//!
//! **Loss.** The measurement window opens once every bot is in its arena.
//! A position sent inside the window is expected by every other bot of its
//! arena (sent × (members − 1)); received positions are counted by the send
//! instant they carry, so positions still in flight when the window closes
//! are waited for (the drain period) and counted.
//!
//! **Server figures.** CPU time and resident memory of the supervisor and
//! every realm process are read from `/proc` at the window's edges (the
//! processes are found through the zone's control socket or as children of
//! the supervisor's pid), and the zone's own counters are read through the
//! control socket.

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use proc_sample::{cpu_percent, read_machine_times, read_proc, MachineTimes, ProcSample};
use serde_json::{json, Value};
use ss_proto::game::{
    chat_type, s2c_type, ship, weapon_type, LargePosition, Position, S2CPacket, SmallPosition,
    WeaponInfo,
};
use ss_proto::transport::{DisconnectReason, Event, TransportConfig};
use tokio::net::UdpSocket;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::session::{ClientSession, SessionState, SyncPolicy};

/// Centre of the standard 1024×1024-tile map, in pixels.
pub const MAP_CENTRE: i16 = 8192;
/// Bots stay within this many pixels of [`MAP_CENTRE`] on each axis, so
/// that every bot is within every other bot's relay range.
pub const SPREAD: i16 = 300;
/// How often a flying bot re-syncs its clock with the server.
pub const RESYNC_INTERVAL: Duration = Duration::from_secs(10);
/// Longest one bot may take from starting to connect to being in its arena.
pub const BOT_RAMP_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest a bot sleeps without looking at the run's phase.
const MAX_IDLE: Duration = Duration::from_millis(250);

/// Which zone processes to watch for CPU and memory.
#[derive(Clone, Debug, Default)]
pub enum ServerProbe {
    /// Do not measure the server.
    #[default]
    None,
    /// The zone's control socket (`zone-supervisor run --control PATH`).
    Control(PathBuf),
    /// The supervisor's OS pid; realm workers are its children.
    Pid(u32),
}

/// What a load run does.
#[derive(Clone, Debug)]
pub struct LoadConfig {
    /// Number of bots.
    pub bots: usize,
    /// Number of arenas the bots are spread over (public arenas `0`, `1`, …).
    pub arenas: usize,
    /// Positions per second each bot sends.
    pub rate_hz: f64,
    /// Length of the measurement window.
    pub duration: Duration,
    /// The zone's game address.
    pub server: SocketAddr,
    /// Event-loop threads driving the bots.
    pub threads: usize,
    /// Bots connecting or entering at the same time, at most.
    pub login_concurrency: usize,
    /// Login names are this prefix and the bot's number.
    pub name_prefix: String,
    /// Password every bot logs in with.
    pub password: String,
    /// Percentage of positions that carry a bullet.
    pub weapon_percent: u32,
    /// Mean time between two public chat messages of one bot (zero: none).
    pub chat_interval: Duration,
    /// Wait after every bot has entered before the window opens.
    pub settle: Duration,
    /// Wait after the window closes for positions still in flight.
    pub drain: Duration,
    /// Print a progress line on stderr every second.
    pub progress: bool,
    /// Zone processes to measure.
    pub probe: ServerProbe,
    /// Kill (SIGKILL) the worker of realm `0` this long into the window
    /// and measure how long until its bots are back in their arena (needs
    /// a probe that finds the realm processes).
    pub kill_realm_after: Option<Duration>,
    /// Longest wait for every bot to be in (default: 30 s plus 20 ms per
    /// bot).
    pub ramp_timeout: Option<Duration>,
    /// Upgrade the zone this long into the window (`--upgrade`): roll the
    /// realms, then the supervisor, and measure the largest gap in relayed
    /// positions (`docs/upgrades.md`).
    pub upgrade: Option<UpgradePlan>,
}

/// What `--upgrade` does.
#[derive(Clone, Debug)]
pub struct UpgradePlan {
    /// When, into the window.
    pub after: Duration,
    /// The `zone-supervisor` binary whose CLI runs the upgrades.
    pub cli: std::path::PathBuf,
    /// The zone's control socket.
    pub control: std::path::PathBuf,
    /// The new realm-worker binary (`upgrade realms --worker`), if any.
    pub worker: Option<std::path::PathBuf>,
    /// The new zone-supervisor binary (`upgrade supervisor --binary`), if any.
    pub supervisor: Option<std::path::PathBuf>,
}

/// What `--upgrade` showed.
#[derive(Clone, Debug, Default)]
pub struct UpgradeReport {
    /// Seconds into the window the upgrades started.
    pub after_secs: f64,
    /// Each step: (name, succeeded, seconds it took, the CLI's last line).
    pub steps: Vec<(String, bool, f64, String)>,
}

impl LoadConfig {
    /// A configuration with the usual defaults for the given size.
    pub fn new(server: SocketAddr, bots: usize, arenas: usize) -> LoadConfig {
        LoadConfig {
            bots,
            arenas: arenas.max(1),
            rate_hz: 10.0,
            duration: Duration::from_secs(10),
            server,
            threads: default_threads(),
            login_concurrency: 64,
            name_prefix: "lg".to_string(),
            password: "load".to_string(),
            weapon_percent: 5,
            chat_interval: Duration::from_secs(10),
            settle: Duration::from_secs(1),
            drain: Duration::from_secs(1),
            progress: true,
            probe: ServerProbe::None,
            kill_realm_after: None,
            ramp_timeout: None,
            upgrade: None,
        }
    }

    /// Name of bot `idx` (at most 19 characters, as the zone allows).
    pub fn bot_name(&self, idx: usize) -> String {
        let mut name = format!("{}{idx:05}", self.name_prefix);
        name.truncate(19);
        name
    }

    /// The arena of bot `idx` (round robin).
    pub fn bot_arena(&self, idx: usize) -> usize {
        idx % self.arenas.max(1)
    }
}

/// Event-loop threads used when none are asked for: the cores, at most 4.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().clamp(1, 4))
}

// ---------------------------------------------------------------------------
// Histogram

/// Sub-buckets per power of two (relative error under 1/64).
const HIST_SUB_BITS: u32 = 6;
const HIST_SUB: u64 = 1 << HIST_SUB_BITS;
const HIST_BUCKETS: usize = (2 * HIST_SUB + (64 - HIST_SUB_BITS as u64) * HIST_SUB) as usize;

/// A log-linear histogram of durations in microseconds: exact below 128 µs,
/// then 64 buckets per power of two (under 1.6 % error).
#[derive(Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    count: u64,
    sum: u128,
    min: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; HIST_BUCKETS],
            count: 0,
            sum: 0,
            min: u64::MAX,
            max: 0,
        }
    }
}

impl std::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Histogram(n={}, p50={}, max={})",
            self.count,
            self.quantile(0.5),
            self.max
        )
    }
}

fn hist_index(v: u64) -> usize {
    if v < 2 * HIST_SUB {
        return v as usize;
    }
    let e = 63 - v.leading_zeros(); // >= HIST_SUB_BITS + 1
    let shift = e - HIST_SUB_BITS;
    let m = v >> shift; // in [HIST_SUB, 2 * HIST_SUB)
    (2 * HIST_SUB + (shift as u64 - 1) * HIST_SUB + (m - HIST_SUB)) as usize
}

/// Middle of a bucket's range.
fn hist_value(idx: usize) -> u64 {
    let idx = idx as u64;
    if idx < 2 * HIST_SUB {
        return idx;
    }
    let rest = idx - 2 * HIST_SUB;
    let shift = rest / HIST_SUB + 1;
    let m = rest % HIST_SUB + HIST_SUB;
    (m << shift) + (1u64 << shift) / 2
}

impl Histogram {
    /// Records one value (microseconds).
    pub fn record(&mut self, v: u64) {
        self.counts[hist_index(v)] += 1;
        self.count += 1;
        self.sum += v as u128;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }

    /// Adds another histogram's values.
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.count += other.count;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    /// Values recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Largest value recorded (0 if none).
    pub fn max(&self) -> u64 {
        self.max
    }

    /// Smallest value recorded (0 if none).
    pub fn min(&self) -> u64 {
        if self.count == 0 {
            0
        } else {
            self.min
        }
    }

    /// Mean (0 if none).
    pub fn mean(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum as f64 / self.count as f64
        }
    }

    /// The value below which a fraction `q` of the values lie (0 if none),
    /// clamped to the recorded range.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.count as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return hist_value(i).clamp(self.min, self.max);
            }
        }
        self.max
    }
}

// ---------------------------------------------------------------------------
// Shared state

/// Phases of a run, as seen by the bots.
const PHASE_RUN: u8 = 0;
const PHASE_STOP: u8 = 1;

/// Relay latencies of window positions (µs), as the bots read them and at
/// their sockets (the kernel's arrival stamp: the zone's share, without
/// the bot's own delays), each for the whole window and since the last
/// progress line.
#[derive(Default)]
struct WindowLatencies {
    read: Histogram,
    read_interval: Histogram,
    socket: Histogram,
    socket_interval: Histogram,
}

impl WindowLatencies {
    /// Records what a bot measured in one receive (`read` and `socket`
    /// values of the same positions).
    fn record(&mut self, read: &[u64], socket: &[u64]) {
        for &l in read {
            self.read.record(l);
            self.read_interval.record(l);
        }
        for &l in socket {
            self.socket.record(l);
            self.socket_interval.record(l);
        }
    }

    /// The interval histograms (read, socket), emptied for the next one.
    fn take_interval(&mut self) -> (Histogram, Histogram) {
        (
            std::mem::take(&mut self.read_interval),
            std::mem::take(&mut self.socket_interval),
        )
    }
}

/// Counters of one event-loop thread (written by it, read by the reporter).
#[derive(Default)]
struct ShardStats {
    started: AtomicU64,
    connected: AtomicU64,
    logged_in: AtomicU64,
    entered: AtomicU64,
    spectators: AtomicU64,
    failed: AtomicU64,
    login_refused: AtomicU64,
    disconnects: AtomicU64,
    disc_no_data: AtomicU64,
    disc_retries: AtomicU64,
    disc_outgoing: AtomicU64,
    disc_peer: AtomicU64,
    datagrams_out: AtomicU64,
    bytes_out: AtomicU64,
    datagrams_in: AtomicU64,
    bytes_in: AtomicU64,
    send_errors: AtomicU64,
    pos_sent: AtomicU64,
    pos_sent_window: AtomicU64,
    weapons_window: AtomicU64,
    expected_window: AtomicU64,
    pos_recv: AtomicU64,
    pos_recv_window: AtomicU64,
    bad_stamps: AtomicU64,
    chats_sent: AtomicU64,
    chats_recv: AtomicU64,
    retransmits: AtomicU64,
    duplicates: AtomicU64,
    decode_errors: AtomicU64,
    /// Latencies of window positions.
    latency: Mutex<WindowLatencies>,
    /// Connect-to-logged-in times.
    login_time: Mutex<Histogram>,
    /// Kill-to-back-in-the-arena times of bots whose realm was killed.
    reentry: Mutex<Histogram>,
    /// The largest gap between two relayed positions one bot received in
    /// the window (µs), and when it ended (µs since the epoch).
    max_gap: Mutex<(u64, u64)>,
}

macro_rules! sum_field {
    ($shards:expr, $f:ident) => {
        $shards
            .iter()
            .map(|s| s.$f.load(Ordering::Relaxed))
            .sum::<u64>()
    };
}

/// State every bot of the run sees.
struct Shared {
    cfg: LoadConfig,
    epoch: Instant,
    phase: AtomicU8,
    /// Window edges in µs since the epoch (`u64::MAX` until opened).
    window_start: AtomicU64,
    window_end: AtomicU64,
    /// Which pids belong to bots of this run (indexed by pid as u16).
    bot_pids: Vec<AtomicBool>,
    /// Bots flying in each arena.
    arena_members: Vec<AtomicU32>,
    permits: Arc<Semaphore>,
    shards: Vec<ShardStats>,
    /// First connect and last login, µs since the epoch.
    first_start: AtomicU64,
    last_login: AtomicU64,
    last_enter: AtomicU64,
    /// When the realm was killed, µs since the epoch (`u64::MAX`: not).
    killed_at: AtomicU64,
}

impl Shared {
    fn us(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.epoch).as_micros() as u64
    }

    fn in_window(&self, us: u64) -> bool {
        us >= self.window_start.load(Ordering::Relaxed)
            && us < self.window_end.load(Ordering::Relaxed)
    }
}

// ---------------------------------------------------------------------------
// One bot

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Waiting,
    Connecting,
    Syncing,
    LoggingIn,
    Entering,
    Flying,
    Done,
}

/// A bot's state apart from its session (so that the packet callback
/// can borrow it while the session is borrowed).
struct BotState {
    idx: usize,
    arena: usize,
    stage: Stage,
    rng: u64,
    started_at: Instant,
    login_sent_at: Instant,
    /// Latencies seen in the datagrams being handled (µs).
    lat: Vec<u64>,
    /// The same, to the kernel's arrival stamp (µs).
    lat_socket: Vec<u64>,
    /// The bot's ship as the zone last told it (8 = spectator).
    ship: u8,
    closed: Option<DisconnectReason>,
    /// When the bot last received a relayed position (µs since the epoch).
    last_pos_us: u64,
}

struct LoadBot {
    st: BotState,
    sock: UdpSocket,
    session: ClientSession,
    permit: Option<OwnedSemaphorePermit>,
    next_pos: Instant,
    next_chat: Instant,
    centre: (i32, i32),
    angle: f64,
    published_retx: u64,
    published_dups: u64,
    published_decode_errors: u64,
    pos_seq: u64,
    /// Whether this bot chats at all.
    chat: bool,
    /// Whether the bot is counted in its arena's members.
    member: bool,
}

fn xorshift(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

/// A uniformly random duration in [0.5, 1.5) × `mean`.
fn jitter(rng: &mut u64, mean: Duration) -> Duration {
    let f = 0.5 + (xorshift(rng) % 1000) as f64 / 1000.0;
    mean.mul_f64(f)
}

/// When a datagram reached a bot: when the bot read it, and when the
/// kernel put it in the bot's socket (µs since the run's epoch; `None`
/// without a kernel stamp).
#[derive(Clone, Copy)]
struct Arrival {
    now_us: u64,
    socket_us: Option<u64>,
}

/// Receives one datagram without waiting, with the kernel's arrival stamp
/// if the socket gives one (`SO_TIMESTAMPNS`, wall clock since the epoch).
fn recv_stamped(sock: &UdpSocket, buf: &mut [u8]) -> std::io::Result<(usize, Option<Duration>)> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    use std::os::fd::AsRawFd;
    sock.try_io(tokio::io::Interest::READABLE, || {
        let mut iov = [std::io::IoSliceMut::new(buf)];
        let mut space = nix::cmsg_space!(nix::sys::time::TimeSpec);
        let msg = recvmsg::<()>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_DONTWAIT,
        )
        .map_err(std::io::Error::from)?;
        let stamp = msg
            .cmsgs()
            .ok()
            .into_iter()
            .flatten()
            .find_map(|c| match c {
                ControlMessageOwned::ScmTimestampns(ts) => {
                    let secs = u64::try_from(ts.tv_sec()).ok()?;
                    Some(Duration::new(secs, u32::try_from(ts.tv_nsec()).ok()?))
                }
                _ => None,
            });
        Ok((msg.bytes, stamp))
    })
}

/// The instant a datagram stamped `stamp` (wall clock) reached the socket,
/// given that it is `now`: its age by the wall clock, taken off `now`.
/// A stamp from the future counts as just arrived.
fn socket_instant(now: Instant, stamp: Duration) -> Instant {
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    now.checked_sub(wall.saturating_sub(stamp)).unwrap_or(now)
}

impl BotState {
    /// Handles one game packet from the zone (the session has followed the
    /// login and entry replies in `session`).
    fn on_packet(
        &mut self,
        shared: &Shared,
        stats: &ShardStats,
        at: Arrival,
        session: &SessionState,
        pkt: &[u8],
    ) {
        let now_us = at.now_us;
        match pkt[0] {
            s2c_type::SMALL_POSITION => match SmallPosition::decode(pkt) {
                Ok(p) => self.on_position(shared, stats, at, p.pid as i16, p.x_speed, p.y_speed),
                Err(_) => {
                    stats.decode_errors.fetch_add(1, Ordering::Relaxed);
                }
            },
            s2c_type::LARGE_POSITION => match LargePosition::decode(pkt) {
                Ok(p) => self.on_position(shared, stats, at, p.pid as i16, p.x_speed, p.y_speed),
                Err(_) => {
                    stats.decode_errors.fetch_add(1, Ordering::Relaxed);
                }
            },
            s2c_type::PLAYER_ENTERING | s2c_type::SHIP_CHANGE if session.pid.is_some() => {
                match S2CPacket::decode(pkt) {
                    Ok(S2CPacket::PlayerEntering(list)) => {
                        if let Some(me) = list.iter().find(|r| Some(r.pid) == session.pid) {
                            self.ship = me.ship;
                        }
                    }
                    Ok(S2CPacket::ShipChange { ship, pid, .. }) if Some(pid) == session.pid => {
                        self.ship = ship;
                    }
                    Ok(_) => {}
                    Err(_) => {
                        stats.decode_errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            s2c_type::CHAT => {
                stats.chats_recv.fetch_add(1, Ordering::Relaxed);
            }
            // A flying bot entering again: its realm was restarted.
            s2c_type::ENTERED_ARENA if self.stage == Stage::Flying && session.entered => {
                if let Some(pid) = session.pid {
                    shared.bot_pids[pid as u16 as usize].store(true, Ordering::Relaxed);
                }
                let killed = shared.killed_at.load(Ordering::Relaxed);
                if now_us >= killed {
                    stats
                        .reentry
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .record(now_us - killed);
                }
            }
            _ => {}
        }
    }

    fn on_position(
        &mut self,
        shared: &Shared,
        stats: &ShardStats,
        at: Arrival,
        pid: i16,
        x_speed: i16,
        y_speed: i16,
    ) {
        let now_us = at.now_us;
        if !shared.bot_pids[pid as u16 as usize].load(Ordering::Relaxed) {
            return;
        }
        stats.pos_recv.fetch_add(1, Ordering::Relaxed);
        if shared.in_window(now_us) {
            let start = shared.window_start.load(Ordering::Relaxed);
            if self.last_pos_us >= start {
                let gap = now_us - self.last_pos_us;
                let mut m = stats.max_gap.lock().unwrap_or_else(|e| e.into_inner());
                if gap > m.0 {
                    *m = (gap, now_us);
                }
            }
            self.last_pos_us = now_us;
        }
        let sent = u32::from(x_speed as u16) | (u32::from(y_speed as u16) << 16);
        let lat = (now_us as u32).wrapping_sub(sent);
        if lat >= 1 << 31 || u64::from(lat) > now_us {
            stats.bad_stamps.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let sent_us = now_us - u64::from(lat);
        if shared.in_window(sent_us) {
            stats.pos_recv_window.fetch_add(1, Ordering::Relaxed);
            self.lat.push(u64::from(lat));
            if let Some(socket_us) = at.socket_us {
                self.lat_socket.push(socket_us.saturating_sub(sent_us));
            }
        }
    }
}

impl LoadBot {
    fn new(shared: &Shared, idx: usize, sock: UdpSocket, now: Instant) -> LoadBot {
        let mut rng =
            0x9E37_79B9_7F4A_7C15u64 ^ ((idx as u64 + 1).wrapping_mul(0xA076_1D64_78BD_642F));
        for _ in 0..4 {
            xorshift(&mut rng);
        }
        let span = i32::from(SPREAD) - 100;
        let cx = i32::from(MAP_CENTRE) + (xorshift(&mut rng) % (2 * span as u64 + 1)) as i32 - span;
        let cy = i32::from(MAP_CENTRE) + (xorshift(&mut rng) % (2 * span as u64 + 1)) as i32 - span;
        let angle = (xorshift(&mut rng) % 628) as f64 / 100.0;
        let key = xorshift(&mut rng) as u32;
        LoadBot {
            st: BotState {
                idx,
                arena: shared.cfg.bot_arena(idx),
                stage: Stage::Waiting,
                rng,
                started_at: now,
                login_sent_at: now,
                lat: Vec::new(),
                lat_socket: Vec::new(),
                last_pos_us: 0,
                ship: ship::SPECTATOR,
                closed: None,
            },
            sock,
            // Re-syncs start once the bot flies (see `progress`).
            session: ClientSession::new(
                now,
                TransportConfig::default(),
                key,
                SyncPolicy {
                    interval: RESYNC_INTERVAL,
                    from_connect: false,
                },
            ),
            permit: None,
            next_pos: now,
            next_chat: now,
            centre: (cx, cy),
            angle,
            published_retx: 0,
            published_dups: 0,
            published_decode_errors: 0,
            pos_seq: 0,
            chat: !shared.cfg.chat_interval.is_zero(),
            member: false,
        }
    }

    fn stats<'a>(&self, shared: &'a Shared, shard: usize) -> &'a ShardStats {
        &shared.shards[shard]
    }

    /// Sends everything the session has due.
    fn flush(&mut self, shared: &Shared, shard: usize, now: Instant) {
        let stats = &shared.shards[shard];
        let sock = &self.sock;
        self.session.poll_transmit(now, &mut |d| {
            stats.datagrams_out.fetch_add(1, Ordering::Relaxed);
            stats.bytes_out.fetch_add(d.len() as u64, Ordering::Relaxed);
            if sock.try_send(d).is_err() {
                stats.send_errors.fetch_add(1, Ordering::Relaxed);
            }
        });
        let cs = *self.session.connection().stats();
        if cs.retransmits != self.published_retx {
            stats
                .retransmits
                .fetch_add(cs.retransmits - self.published_retx, Ordering::Relaxed);
            self.published_retx = cs.retransmits;
        }
        if cs.duplicates != self.published_dups {
            stats
                .duplicates
                .fetch_add(cs.duplicates - self.published_dups, Ordering::Relaxed);
            self.published_dups = cs.duplicates;
        }
        let errors = self.session.decode_errors();
        if errors != self.published_decode_errors {
            stats
                .decode_errors
                .fetch_add(errors - self.published_decode_errors, Ordering::Relaxed);
            self.published_decode_errors = errors;
        }
    }

    /// Reads every datagram waiting on the socket into the connection.
    fn receive(&mut self, shared: &Shared, shard: usize, buf: &mut [u8]) {
        let stats = &shared.shards[shard];
        while let Ok((n, stamp)) = recv_stamped(&self.sock, buf) {
            let now = Instant::now();
            let now_us = shared.us(now);
            let at = Arrival {
                now_us,
                socket_us: stamp.map(|t| shared.us(socket_instant(now, t))),
            };
            stats.datagrams_in.fetch_add(1, Ordering::Relaxed);
            stats.bytes_in.fetch_add(n as u64, Ordering::Relaxed);
            let st = &mut self.st;
            self.session
                .handle_datagram(now, &mut buf[..n], &mut |session, pkt| {
                    st.on_packet(shared, stats, at, session, pkt);
                });
        }
        if !self.st.lat.is_empty() {
            stats
                .latency
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .record(&self.st.lat, &self.st.lat_socket);
            self.st.lat.clear();
            self.st.lat_socket.clear();
        }
    }

    /// Handles transport events (the session sends the first time sync).
    fn events(&mut self, shared: &Shared, shard: usize, now: Instant) {
        let stats = self.stats(shared, shard);
        while let Some(ev) = self.session.poll_event(now) {
            match ev {
                Event::Connected { encrypted } => {
                    if !encrypted {
                        // The run is about VIE; a zone answering without
                        // it is a misconfiguration worth failing loudly.
                        self.fail(shared, shard);
                        return;
                    }
                    stats.connected.fetch_add(1, Ordering::Relaxed);
                    self.st.stage = Stage::Syncing;
                }
                Event::TimeSynced { .. } if self.st.stage == Stage::Syncing => {
                    let _ = self
                        .session
                        .send_login(&shared.cfg.bot_name(self.st.idx), &shared.cfg.password);
                    self.st.login_sent_at = now;
                    self.st.stage = Stage::LoggingIn;
                }
                Event::Disconnected(reason) => {
                    self.st.closed = Some(reason);
                }
                _ => {}
            }
        }
    }

    fn fail(&mut self, shared: &Shared, shard: usize) {
        self.stats(shared, shard)
            .failed
            .fetch_add(1, Ordering::Relaxed);
        self.permit = None;
        self.session.disconnect();
        self.st.stage = Stage::Done;
    }

    /// Advances the login and entry steps.
    fn progress(&mut self, shared: &Shared, shard: usize, now: Instant) {
        let stats = self.stats(shared, shard);
        if self.st.stage == Stage::LoggingIn {
            match self.session.state().login_ok {
                Some(true) => {
                    stats.logged_in.fetch_add(1, Ordering::Relaxed);
                    shared
                        .last_login
                        .fetch_max(shared.us(now), Ordering::Relaxed);
                    let took = now.saturating_duration_since(self.st.started_at);
                    stats
                        .login_time
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .record(took.as_micros() as u64);
                    // Public arena N: the number form of the request.
                    let _ = self
                        .session
                        .send_go_arena(&self.st.arena.to_string(), (self.st.idx % 8) as u8);
                    self.st.stage = Stage::Entering;
                }
                Some(false) => {
                    stats.login_refused.fetch_add(1, Ordering::Relaxed);
                    self.fail(shared, shard);
                    return;
                }
                None => {}
            }
        }
        let session = *self.session.state();
        if self.st.stage == Stage::Entering && session.entered {
            if let Some(pid) = session.pid {
                shared.bot_pids[pid as u16 as usize].store(true, Ordering::Relaxed);
                shared.arena_members[self.st.arena].fetch_add(1, Ordering::Relaxed);
                self.member = true;
                stats.entered.fetch_add(1, Ordering::Relaxed);
                if self.st.ship == ship::SPECTATOR {
                    // E.g. General:MaxPlaying reached: its positions are
                    // not relayed, so they are not expected anywhere.
                    stats.spectators.fetch_add(1, Ordering::Relaxed);
                }
                shared
                    .last_enter
                    .fetch_max(shared.us(now), Ordering::Relaxed);
                self.permit = None;
                self.st.stage = Stage::Flying;
                let period = Duration::from_secs_f64(1.0 / shared.cfg.rate_hz.max(0.01));
                let phase = (xorshift(&mut self.st.rng) % 1000) as f64 / 1000.0;
                self.next_pos = now + period.mul_f64(phase);
                let first_sync = now + jitter(&mut self.st.rng, RESYNC_INTERVAL);
                self.session.schedule_sync(first_sync);
                if self.chat {
                    self.next_chat = now + jitter(&mut self.st.rng, shared.cfg.chat_interval);
                }
            }
        }
        if matches!(
            self.st.stage,
            Stage::Connecting | Stage::Syncing | Stage::LoggingIn | Stage::Entering
        ) && now.saturating_duration_since(self.st.started_at) > BOT_RAMP_TIMEOUT
        {
            self.fail(shared, shard);
        }
    }

    /// Timed actions of a flying bot: positions, chat, clock sync.
    fn fly(&mut self, shared: &Shared, shard: usize, now: Instant) {
        if self.st.stage != Stage::Flying {
            return;
        }
        let stats = self.stats(shared, shard);
        let period = Duration::from_secs_f64(1.0 / shared.cfg.rate_hz.max(0.01));
        if now >= self.next_pos {
            self.next_pos += period;
            if self.next_pos < now {
                // Fell behind (a stalled loop): skip rather than burst.
                self.next_pos = now + period;
            }
            // The session stamps positions once the clock is synced.
            if self.session.server_ticks(now).is_some() {
                self.send_position(shared, stats, now);
            }
        }
        if self.chat && now >= self.next_chat {
            self.next_chat = now + jitter(&mut self.st.rng, shared.cfg.chat_interval);
            let text = format!("load chat {} from bot {}", self.pos_seq, self.st.idx);
            let _ = self.session.send_chat(chat_type::PUBLIC, -1, &text);
            stats.chats_sent.fetch_add(1, Ordering::Relaxed);
        }
        // Clock re-syncs go out with the next flush (the session's).
    }

    fn send_position(&mut self, shared: &Shared, stats: &ShardStats, now: Instant) {
        self.pos_seq += 1;
        self.angle += 0.15;
        let r = 120.0;
        let x = self.centre.0 + (r * self.angle.cos()) as i32;
        let y = self.centre.1 + (r * self.angle.sin()) as i32;
        let fire = shared.cfg.weapon_percent > 0
            && xorshift(&mut self.st.rng) % 100 < u64::from(shared.cfg.weapon_percent);
        let weapon = if fire {
            WeaponInfo::new(weapon_type::BULLET, 0, false, 0, 0, false)
        } else {
            WeaponInfo::NONE
        };
        let now_us = shared.us(now);
        let sent = now_us as u32;
        let pos = Position {
            rotation: ((self.angle * 40.0 / std::f64::consts::TAU) as i64).rem_euclid(40) as i8,
            time: 0,
            x: x as i16,
            y: y as i16,
            x_speed: sent as u16 as i16,
            y_speed: (sent >> 16) as u16 as i16,
            status: 0,
            bounty: 0,
            energy: 1000,
            weapon,
            extra: None,
        };
        if self.session.send_position(now, pos).is_ok() {
            stats.pos_sent.fetch_add(1, Ordering::Relaxed);
            if shared.in_window(now_us) && self.st.ship != ship::SPECTATOR {
                stats.pos_sent_window.fetch_add(1, Ordering::Relaxed);
                if fire {
                    stats.weapons_window.fetch_add(1, Ordering::Relaxed);
                }
                let members = shared.arena_members[self.st.arena].load(Ordering::Relaxed);
                stats
                    .expected_window
                    .fetch_add(u64::from(members.saturating_sub(1)), Ordering::Relaxed);
            }
        }
    }

    /// When the bot next needs to act.
    fn next_wake(&self, now: Instant) -> Instant {
        let mut wake = now + MAX_IDLE;
        if let Some(d) = self.session.next_deadline() {
            wake = wake.min(d);
        }
        if self.st.stage == Stage::Flying {
            wake = wake.min(self.next_pos);
            if self.chat {
                wake = wake.min(self.next_chat);
            }
        }
        wake.max(now)
    }
}

/// Runs one bot until the run stops or its connection ends.
async fn run_bot(shared: Arc<Shared>, shard: usize, idx: usize) {
    let bind_ip = if shared.cfg.server.ip().is_loopback() {
        Ipv4Addr::LOCALHOST
    } else {
        Ipv4Addr::UNSPECIFIED
    };
    let stats = &shared.shards[shard];
    let sock = match UdpSocket::bind((bind_ip, 0)).await {
        Ok(s) => s,
        Err(_) => {
            stats.failed.fetch_add(1, Ordering::Relaxed);
            return;
        }
    };
    // Kernel arrival stamps separate the zone's latency from the bot's
    // own (`socket_latency`); without them only the latter is reported.
    let _ =
        nix::sys::socket::setsockopt(&sock, nix::sys::socket::sockopt::ReceiveTimestampns, &true);
    if sock.connect(shared.cfg.server).await.is_err() {
        stats.failed.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let permit = match Arc::clone(&shared.permits).acquire_owned().await {
        Ok(p) => p,
        Err(_) => return,
    };
    if shared.phase.load(Ordering::Relaxed) == PHASE_STOP {
        return;
    }
    let now = Instant::now();
    let mut bot = LoadBot::new(&shared, idx, sock, now);
    bot.permit = Some(permit);
    bot.st.stage = Stage::Connecting;
    stats.started.fetch_add(1, Ordering::Relaxed);
    shared
        .first_start
        .fetch_min(shared.us(now), Ordering::Relaxed);
    let mut buf = vec![0u8; 2048];
    // tokio learns a new socket's write readiness from its first event;
    // until then try_send refuses.
    let _ = bot.sock.writable().await;
    bot.flush(&shared, shard, Instant::now());
    loop {
        let now = Instant::now();
        let wake = bot.next_wake(now);
        tokio::select! {
            r = bot.sock.readable() => {
                if r.is_ok() {
                    bot.receive(&shared, shard, &mut buf);
                }
            }
            _ = tokio::time::sleep_until(wake.into()) => {}
        }
        let now = Instant::now();
        bot.events(&shared, shard, now);
        bot.progress(&shared, shard, now);
        bot.fly(&shared, shard, now);
        if shared.phase.load(Ordering::Relaxed) == PHASE_STOP && bot.st.stage != Stage::Done {
            bot.session.disconnect();
            bot.st.stage = Stage::Done;
        }
        bot.flush(&shared, shard, now);
        bot.events(&shared, shard, now);
        if let Some(reason) = bot.st.closed {
            if reason != DisconnectReason::Local {
                stats.disconnects.fetch_add(1, Ordering::Relaxed);
                let counter = match reason {
                    DisconnectReason::NoData => &stats.disc_no_data,
                    DisconnectReason::TooManyRetries => &stats.disc_retries,
                    DisconnectReason::TooManyOutgoing => &stats.disc_outgoing,
                    _ => &stats.disc_peer,
                };
                counter.fetch_add(1, Ordering::Relaxed);
                if bot.st.stage != Stage::Flying && bot.st.stage != Stage::Done {
                    stats.failed.fetch_add(1, Ordering::Relaxed);
                }
            }
            break;
        }
        if bot.st.stage == Stage::Done {
            break;
        }
    }
    if bot.member {
        shared.arena_members[bot.st.arena].fetch_sub(1, Ordering::Relaxed);
    }
}

/// One event-loop thread: a current-thread runtime running its bots.
fn run_shard(shared: Arc<Shared>, shard: usize, bots: Vec<usize>) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting a bot event loop")?;
    rt.block_on(async move {
        let mut set = tokio::task::JoinSet::new();
        for idx in bots {
            set.spawn(run_bot(Arc::clone(&shared), shard, idx));
        }
        while set.join_next().await.is_some() {}
    });
    Ok(())
}

// ---------------------------------------------------------------------------
// Server processes

/// One zone process being watched.
#[derive(Clone, Debug)]
struct ProcWatch {
    /// "supervisor" or the realm's name.
    name: String,
    pid: u32,
    start: Option<ProcSample>,
    end: Option<ProcSample>,
    rss_max: u64,
    /// CPU seconds by thread name at the window's start and end.
    threads_start: Vec<(String, f64)>,
    threads_end: Vec<(String, f64)>,
}

/// Asks the zone's control socket for its stats (one JSON line).
pub fn control_stats(path: &std::path::Path) -> Result<Value> {
    let mut stream = UnixStream::connect(path)
        .with_context(|| format!("connecting to the control socket {}", path.display()))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(b"stats\n")?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line)?;
    if line.trim().is_empty() {
        bail!("the zone closed the control connection without answering");
    }
    serde_json::from_str(line.trim()).context("the zone's stats are not JSON")
}

/// The zone's processes: the supervisor first, then realms by name.
fn discover(probe: &ServerProbe) -> Result<Vec<(String, u32)>> {
    match probe {
        ServerProbe::None => Ok(Vec::new()),
        ServerProbe::Control(path) => {
            let v = control_stats(path)?;
            let mut out = Vec::new();
            let zone_pid = v["zone"]["process"]["pid"]
                .as_u64()
                .ok_or_else(|| anyhow!("no zone pid in the stats"))?;
            out.push(("supervisor".to_string(), zone_pid as u32));
            if let Some(realms) = v["realms"].as_array() {
                for r in realms {
                    let pid = r["process"]["pid"].as_u64().unwrap_or(0) as u32;
                    if pid != 0 {
                        out.push((r["name"].as_str().unwrap_or("?").to_string(), pid));
                    }
                }
            }
            Ok(out)
        }
        ServerProbe::Pid(pid) => {
            let mut out = vec![("supervisor".to_string(), *pid)];
            for child in proc_sample::children_of(*pid) {
                let comm =
                    std::fs::read_to_string(format!("/proc/{child}/comm")).unwrap_or_default();
                let comm = comm.trim();
                let name = comm.strip_prefix("realm:").unwrap_or(comm).to_string();
                out.push((name, child));
            }
            Ok(out)
        }
    }
}

/// `--upgrade`: rolls the realms, then upgrades the supervisor, with the
/// real CLI; notes how each step went.
fn run_upgrades(plan: &UpgradePlan, after_secs: f64) -> UpgradeReport {
    let mut steps = Vec::new();
    let mut run = |name: &str, args: Vec<std::ffi::OsString>| {
        let t = Instant::now();
        let out = std::process::Command::new(&plan.cli)
            .args(&args)
            .arg("--control")
            .arg(&plan.control)
            .output();
        let secs = t.elapsed().as_secs_f64();
        let (ok, said) = match out {
            Ok(o) => {
                let text = format!(
                    "{}{}",
                    String::from_utf8_lossy(&o.stdout),
                    String::from_utf8_lossy(&o.stderr)
                );
                let last = text.lines().last().unwrap_or("").trim().to_string();
                (o.status.success(), last)
            }
            Err(e) => (false, e.to_string()),
        };
        eprintln!(
            "loadgen: {name}: {} in {secs:.2} s: {said}",
            if ok { "ok" } else { "FAILED" }
        );
        steps.push((name.to_string(), ok, secs, said));
        ok
    };
    let mut realms: Vec<std::ffi::OsString> = vec!["upgrade".into(), "realms".into()];
    if let Some(w) = &plan.worker {
        realms.push("--worker".into());
        realms.push(w.clone().into());
    }
    if run("realms", realms) {
        let mut sup: Vec<std::ffi::OsString> = vec!["upgrade".into(), "supervisor".into()];
        if let Some(b) = &plan.supervisor {
            sup.push("--binary".into());
            sup.push(b.clone().into());
        }
        run("supervisor", sup);
    }
    UpgradeReport { after_secs, steps }
}

/// Kills the worker of realm `0` (SIGKILL) and notes when; returns its pid
/// and how far into the window that was.
fn kill_realm(shared: &Shared, procs: &[ProcWatch]) -> Option<(u32, Duration)> {
    let Some(p) = procs.iter().skip(1).find(|p| p.name == "0") else {
        eprintln!("loadgen: no worker of realm 0 found to kill (is --control given?)");
        return None;
    };
    let now = Instant::now();
    let pid = nix::unistd::Pid::from_raw(p.pid as i32);
    if let Err(e) = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL) {
        eprintln!("loadgen: killing realm 0 (pid {}): {e}", p.pid);
        return None;
    }
    shared.killed_at.store(shared.us(now), Ordering::Relaxed);
    let start = shared.window_start.load(Ordering::Relaxed);
    Some((
        p.pid,
        Duration::from_micros(shared.us(now).saturating_sub(start)),
    ))
}

/// The zone's own counters, where the control socket is known.
fn zone_counters(probe: &ServerProbe) -> Option<Value> {
    match probe {
        ServerProbe::Control(path) => control_stats(path).ok().map(|v| v["zone"].clone()),
        _ => None,
    }
}

// ---------------------------------------------------------------------------
// Running and reporting

/// A snapshot of the summed shard counters.
#[derive(Clone, Copy, Debug, Default)]
struct Totals {
    connected: u64,
    logged_in: u64,
    entered: u64,
    spectators: u64,
    failed: u64,
    login_refused: u64,
    disconnects: u64,
    disc: [u64; 4],
    datagrams_out: u64,
    bytes_out: u64,
    datagrams_in: u64,
    bytes_in: u64,
    send_errors: u64,
    pos_sent: u64,
    pos_sent_window: u64,
    weapons_window: u64,
    expected_window: u64,
    pos_recv: u64,
    pos_recv_window: u64,
    bad_stamps: u64,
    chats_sent: u64,
    chats_recv: u64,
    retransmits: u64,
    duplicates: u64,
    decode_errors: u64,
}

fn totals(shards: &[ShardStats]) -> Totals {
    Totals {
        connected: sum_field!(shards, connected),
        logged_in: sum_field!(shards, logged_in),
        entered: sum_field!(shards, entered),
        spectators: sum_field!(shards, spectators),
        failed: sum_field!(shards, failed),
        login_refused: sum_field!(shards, login_refused),
        disconnects: sum_field!(shards, disconnects),
        disc: [
            sum_field!(shards, disc_no_data),
            sum_field!(shards, disc_retries),
            sum_field!(shards, disc_outgoing),
            sum_field!(shards, disc_peer),
        ],
        datagrams_out: sum_field!(shards, datagrams_out),
        bytes_out: sum_field!(shards, bytes_out),
        datagrams_in: sum_field!(shards, datagrams_in),
        bytes_in: sum_field!(shards, bytes_in),
        send_errors: sum_field!(shards, send_errors),
        pos_sent: sum_field!(shards, pos_sent),
        pos_sent_window: sum_field!(shards, pos_sent_window),
        weapons_window: sum_field!(shards, weapons_window),
        expected_window: sum_field!(shards, expected_window),
        pos_recv: sum_field!(shards, pos_recv),
        pos_recv_window: sum_field!(shards, pos_recv_window),
        bad_stamps: sum_field!(shards, bad_stamps),
        chats_sent: sum_field!(shards, chats_sent),
        chats_recv: sum_field!(shards, chats_recv),
        retransmits: sum_field!(shards, retransmits),
        duplicates: sum_field!(shards, duplicates),
        decode_errors: sum_field!(shards, decode_errors),
    }
}

/// Latency figures in milliseconds.
#[derive(Clone, Copy, Debug, Default)]
pub struct LatencySummary {
    /// Values measured.
    pub count: u64,
    /// Smallest.
    pub min_ms: f64,
    /// Mean.
    pub mean_ms: f64,
    /// Median.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Largest.
    pub max_ms: f64,
}

impl LatencySummary {
    /// Summarises a histogram of microseconds.
    pub fn of(h: &Histogram) -> LatencySummary {
        let ms = |us: u64| us as f64 / 1000.0;
        LatencySummary {
            count: h.count(),
            min_ms: ms(h.min()),
            mean_ms: h.mean() / 1000.0,
            p50_ms: ms(h.quantile(0.50)),
            p95_ms: ms(h.quantile(0.95)),
            p99_ms: ms(h.quantile(0.99)),
            max_ms: ms(h.max()),
        }
    }

    fn json(&self) -> Value {
        json!({
            "count": self.count,
            "min": round3(self.min_ms),
            "mean": round3(self.mean_ms),
            "p50": round3(self.p50_ms),
            "p95": round3(self.p95_ms),
            "p99": round3(self.p99_ms),
            "max": round3(self.max_ms),
        })
    }
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// CPU % of one core of each thread name (alive at the end) between two
/// samples taken `secs` apart.
fn thread_percents(
    start: &[(String, f64)],
    end: &[(String, f64)],
    secs: f64,
) -> Vec<(String, f64)> {
    if secs <= 0.0 {
        return Vec::new();
    }
    end.iter()
        .map(|(name, after)| {
            let before = start
                .iter()
                .find(|(n, _)| n == name)
                .map_or(0.0, |(_, b)| *b);
            (name.clone(), ((after - before) / secs * 100.0).max(0.0))
        })
        .collect()
}

/// CPU and memory of one zone process over the window.
#[derive(Clone, Debug, Default)]
pub struct ProcReport {
    /// "supervisor" or the realm's name.
    pub name: String,
    /// OS pid.
    pub pid: u32,
    /// CPU % of one core over the window.
    pub cpu_percent: f64,
    /// Resident memory at the end of the window, bytes.
    pub rss_bytes: u64,
    /// Largest resident memory seen during the run, bytes.
    pub rss_max_bytes: u64,
    /// CPU % of one core by thread name.
    pub threads: Vec<(String, f64)>,
}

/// The result of a load run.
#[derive(Clone, Debug, Default)]
pub struct LoadReport {
    /// Bots asked for.
    pub bots: usize,
    /// Arenas.
    pub arenas: usize,
    /// Positions per second per bot.
    pub rate_hz: f64,
    /// Measurement window actually run, seconds.
    pub window_secs: f64,
    /// Event-loop threads.
    pub threads: usize,
    /// The zone.
    pub server: String,
    /// Bots that connected (handshake done).
    pub connected: u64,
    /// Bots that logged in.
    pub logged_in: u64,
    /// Bots that entered their arena.
    pub entered: u64,
    /// Bots the zone put in spectator mode (e.g. `General:MaxPlaying`
    /// reached); their positions are not counted as sent.
    pub spectators: u64,
    /// Bots that never got into their arena.
    pub failed: u64,
    /// Logins refused by the zone.
    pub login_refused: u64,
    /// Seconds from the first connect to the last login.
    pub login_secs: f64,
    /// Logins per second over that time.
    pub logins_per_sec: f64,
    /// Seconds from the first connect to the last bot in its arena.
    pub enter_secs: f64,
    /// Connect-to-logged-in time of one bot.
    pub login_latency: LatencySummary,
    /// Positions sent during the window.
    pub positions_sent: u64,
    /// Of which carried a weapon.
    pub weapons_sent: u64,
    /// Relayed positions expected (sent × (members − 1)).
    pub positions_expected: u64,
    /// Relayed positions received (sent during the window).
    pub positions_received: u64,
    /// Expected but not received.
    pub positions_lost: u64,
    /// Lost, percent of expected.
    pub loss_percent: f64,
    /// Position relay latency, to when the bot read the position.
    pub latency: LatencySummary,
    /// The same positions' latency to the kernel's arrival stamp at the
    /// bot's socket: what the zone and the network took, without the bot's
    /// own scheduling (count 0 where the kernel gives no stamps).
    pub socket_latency: LatencySummary,
    /// Datagrams per second, bots → zone, during the window.
    pub datagrams_out_per_sec: f64,
    /// Datagrams per second, zone → bots.
    pub datagrams_in_per_sec: f64,
    /// Bytes per second, bots → zone.
    pub bytes_out_per_sec: f64,
    /// Bytes per second, zone → bots.
    pub bytes_in_per_sec: f64,
    /// Reliable packets the bots sent again (whole run).
    pub retransmits: u64,
    /// Duplicate reliable packets the bots received: the zone's
    /// retransmissions seen (whole run).
    pub duplicates_received: u64,
    /// Datagrams the bots could not hand to the OS.
    pub send_errors: u64,
    /// Connections that ended other than by the bot's own choice.
    pub disconnects: u64,
    /// Of which: no data, too many retries, too many outgoing, by the zone.
    pub disconnect_reasons: [u64; 4],
    /// Public chat messages sent and received (whole run).
    pub chats_sent: u64,
    /// Chat messages received.
    pub chats_received: u64,
    /// Packets that failed to decode; positions with unusable stamps.
    pub decode_errors: u64,
    /// Positions received whose embedded send instant made no sense.
    pub bad_stamps: u64,
    /// The supervisor over the window.
    pub supervisor: Option<ProcReport>,
    /// Each realm process over the window.
    pub realms: Vec<ProcReport>,
    /// Supervisor plus realms, CPU % of one core.
    pub server_cpu_percent: f64,
    /// The zone's counters over the window (datagrams, retransmits, …),
    /// where the control socket is known.
    pub zone_counters: Option<Value>,
    /// This process over the window.
    pub loadgen: ProcReport,
    /// The realm kill, if one was asked for and done.
    pub realm_kill: Option<RealmKillReport>,
    /// The largest gap between two relayed positions a bot received in
    /// the window, milliseconds, and when it ended (seconds into the window).
    pub max_position_gap: (f64, f64),
    /// The upgrades, if `--upgrade` was asked for.
    pub upgrade: Option<UpgradeReport>,
    /// Percent of the machine's CPU time over the window that a hypervisor
    /// gave to someone else (`steal` in `/proc/stat`). When it is high,
    /// every process here was stalled, the zone and this load generator
    /// alike: latency measured then is the host's as much as the zone's.
    pub steal_percent: f64,
}

/// What a realm kill (`--kill-realm`) showed.
#[derive(Clone, Debug, Default)]
pub struct RealmKillReport {
    /// The killed worker.
    pub pid: u32,
    /// Seconds into the window.
    pub after_secs: f64,
    /// Bots of the realm.
    pub bots: u64,
    /// Time from the kill to each bot being back in its arena (S2C 0x02).
    pub back: LatencySummary,
}

impl LoadReport {
    /// The report as JSON (latencies in milliseconds).
    pub fn to_json(&self) -> Value {
        let proc_json = |p: &ProcReport| {
            json!({
                "name": p.name,
                "pid": p.pid,
                "cpu_percent": round1(p.cpu_percent),
                "rss_bytes": p.rss_bytes,
                "rss_max_bytes": p.rss_max_bytes,
                "threads": p.threads.iter().map(|(n, c)| (n.clone(), json!(round1(*c)))).collect::<serde_json::Map<_, _>>(),
            })
        };
        json!({
            "config": {
                "bots": self.bots,
                "arenas": self.arenas,
                "rate_hz": self.rate_hz,
                "window_secs": round3(self.window_secs),
                "threads": self.threads,
                "server": self.server,
            },
            "logins": {
                "connected": self.connected,
                "logged_in": self.logged_in,
                "entered": self.entered,
                "spectators": self.spectators,
                "failed": self.failed,
                "refused": self.login_refused,
                "seconds": round3(self.login_secs),
                "per_sec": round1(self.logins_per_sec),
                "enter_seconds": round3(self.enter_secs),
                "latency_ms": self.login_latency.json(),
            },
            "positions": {
                "sent": self.positions_sent,
                "weapons": self.weapons_sent,
                "expected": self.positions_expected,
                "received": self.positions_received,
                "lost": self.positions_lost,
                "loss_percent": (self.loss_percent * 10000.0).round() / 10000.0,
            },
            "latency_ms": self.latency.json(),
            "socket_latency_ms": self.socket_latency.json(),
            "traffic": {
                "datagrams_out_per_sec": round1(self.datagrams_out_per_sec),
                "datagrams_in_per_sec": round1(self.datagrams_in_per_sec),
                "bytes_out_per_sec": round1(self.bytes_out_per_sec),
                "bytes_in_per_sec": round1(self.bytes_in_per_sec),
                "send_errors": self.send_errors,
            },
            "reliable": {
                "retransmits": self.retransmits,
                "duplicates_received": self.duplicates_received,
            },
            "disconnects": self.disconnects,
            "disconnect_reasons": {
                "no_data": self.disconnect_reasons[0],
                "too_many_retries": self.disconnect_reasons[1],
                "too_many_outgoing": self.disconnect_reasons[2],
                "by_zone": self.disconnect_reasons[3],
            },
            "chat": { "sent": self.chats_sent, "received": self.chats_received },
            "errors": { "decode": self.decode_errors, "bad_stamps": self.bad_stamps },
            "server": {
                "supervisor": self.supervisor.as_ref().map(proc_json),
                "realms": self.realms.iter().map(proc_json).collect::<Vec<_>>(),
                "total_cpu_percent": round1(self.server_cpu_percent),
                "zone_counters": self.zone_counters,
            },
            "loadgen": proc_json(&self.loadgen),
            "machine": { "steal_percent": round1(self.steal_percent) },
            "max_position_gap_ms": round1(self.max_position_gap.0),
            "max_position_gap_at_secs": round3(self.max_position_gap.1),
            "upgrade": self.upgrade.as_ref().map(|u| json!({
                "after_secs": round3(u.after_secs),
                "steps": u.steps.iter().map(|(name, ok, secs, said)| json!({
                    "step": name, "ok": ok, "secs": round3(*secs), "said": said,
                })).collect::<Vec<_>>(),
            })),
            "realm_kill": self.realm_kill.as_ref().map(|k| json!({
                "pid": k.pid,
                "after_secs": round3(k.after_secs),
                "bots": k.bots,
                "back_ms": k.back.json(),
            })),
        })
    }

    /// The report as text for people.
    pub fn to_text(&self) -> String {
        let mib = |b: u64| b as f64 / 1048576.0;
        let mut s = String::new();
        s.push_str(&format!(
            "load: {} bots in {} arena(s) at {} Hz for {:.1} s against {} ({} threads)\n",
            self.bots, self.arenas, self.rate_hz, self.window_secs, self.server, self.threads
        ));
        s.push_str(&format!(
            "logins: {} connected, {} logged in, {} entered ({} as spectators), {} failed ({} refused); {:.1} logins/s, all in after {:.2} s; login time p50 {:.1} ms p99 {:.1} ms\n",
            self.connected, self.logged_in, self.entered, self.spectators, self.failed, self.login_refused,
            self.logins_per_sec, self.enter_secs, self.login_latency.p50_ms, self.login_latency.p99_ms
        ));
        s.push_str(&format!(
            "positions: {} sent ({} with weapons), {} expected, {} received, {} lost ({:.3} %)\n",
            self.positions_sent,
            self.weapons_sent,
            self.positions_expected,
            self.positions_received,
            self.positions_lost,
            self.loss_percent
        ));
        let l = &self.latency;
        s.push_str(&format!(
            "relay latency ms: p50 {:.2}  p95 {:.2}  p99 {:.2}  max {:.2}  (mean {:.2}, min {:.2}, n={})\n",
            l.p50_ms, l.p95_ms, l.p99_ms, l.max_ms, l.mean_ms, l.min_ms, l.count
        ));
        let l = &self.socket_latency;
        s.push_str(&format!(
            "  at the bots' sockets: p50 {:.2}  p95 {:.2}  p99 {:.2}  max {:.2}  (n={})\n",
            l.p50_ms, l.p95_ms, l.p99_ms, l.max_ms, l.count
        ));
        s.push_str(&format!(
            "traffic: to zone {:.0} datagrams/s {:.1} KB/s; from zone {:.0} datagrams/s {:.1} KB/s; send errors {}\n",
            self.datagrams_out_per_sec,
            self.bytes_out_per_sec / 1000.0,
            self.datagrams_in_per_sec,
            self.bytes_in_per_sec / 1000.0,
            self.send_errors
        ));
        s.push_str(&format!(
            "reliable: {} retransmitted by bots, {} duplicates received; chat {} sent, {} received\n",
            self.retransmits, self.duplicates_received, self.chats_sent, self.chats_received
        ));
        s.push_str(&format!(
            "disconnects: {} (no data {}, retries {}, outgoing {}, by zone {}); decode errors {}, bad stamps {}\n",
            self.disconnects,
            self.disconnect_reasons[0],
            self.disconnect_reasons[1],
            self.disconnect_reasons[2],
            self.disconnect_reasons[3],
            self.decode_errors,
            self.bad_stamps
        ));
        if let Some(sup) = &self.supervisor {
            s.push_str(&format!(
                "server: total {:.1} % of a core; supervisor pid {} {:.1} % rss {:.1} MiB (max {:.1})\n",
                self.server_cpu_percent,
                sup.pid,
                sup.cpu_percent,
                mib(sup.rss_bytes),
                mib(sup.rss_max_bytes)
            ));
            if sup.threads.len() > 1 {
                let parts: Vec<String> = sup
                    .threads
                    .iter()
                    .map(|(n, c)| format!("{n} {c:.1} %"))
                    .collect();
                s.push_str(&format!("  supervisor threads: {}\n", parts.join(", ")));
            }
            for r in &self.realms {
                s.push_str(&format!(
                    "  realm {:<10} pid {:>7} {:>5.1} % rss {:.1} MiB (max {:.1})\n",
                    r.name,
                    r.pid,
                    r.cpu_percent,
                    mib(r.rss_bytes),
                    mib(r.rss_max_bytes)
                ));
            }
        }
        s.push_str(&format!(
            "loadgen: {:.1} % of a core, rss {:.1} MiB; machine: {:.1} % of its CPU time stolen by the hypervisor\n",
            self.loadgen.cpu_percent,
            mib(self.loadgen.rss_bytes),
            self.steal_percent
        ));
        s.push_str(&format!(
            "largest gap in relayed positions (any bot): {:.1} ms, ending {:.2} s into the window\n",
            self.max_position_gap.0, self.max_position_gap.1
        ));
        if let Some(u) = &self.upgrade {
            s.push_str(&format!(
                "upgrades from {:.1} s into the window:\n",
                u.after_secs
            ));
            for (name, ok, secs, said) in &u.steps {
                s.push_str(&format!(
                    "  {name}: {} in {secs:.2} s ({said})\n",
                    if *ok { "ok" } else { "FAILED" }
                ));
            }
        }
        if let Some(k) = &self.realm_kill {
            s.push_str(&format!(
                "realm 0 killed (pid {}) {:.1} s into the window: {} of {} bots back in, after p50 {:.1} ms, max {:.1} ms\n",
                k.pid, k.after_secs, k.back.count, k.bots, k.back.p50_ms, k.back.max_ms
            ));
        }
        s
    }
}

/// Runs a load test and returns its report. Blocks for the ramp-up, the
/// settle time, the window and the drain time.
pub fn run(cfg: LoadConfig) -> Result<LoadReport> {
    if cfg.bots == 0 {
        bail!("no bots asked for");
    }
    if cfg.bots > 30_000 {
        bail!("at most 30000 bots (the zone's pid space)");
    }
    if !cfg.rate_hz.is_finite() || cfg.rate_hz <= 0.0 {
        bail!("the position rate must be positive");
    }
    let threads = cfg.threads.clamp(1, cfg.bots);
    let epoch = Instant::now();
    let shared = Arc::new(Shared {
        epoch,
        phase: AtomicU8::new(PHASE_RUN),
        window_start: AtomicU64::new(u64::MAX),
        window_end: AtomicU64::new(u64::MAX),
        bot_pids: (0..65536).map(|_| AtomicBool::new(false)).collect(),
        arena_members: (0..cfg.arenas.max(1)).map(|_| AtomicU32::new(0)).collect(),
        permits: Arc::new(Semaphore::new(cfg.login_concurrency.max(1))),
        shards: (0..threads).map(|_| ShardStats::default()).collect(),
        first_start: AtomicU64::new(u64::MAX),
        last_login: AtomicU64::new(0),
        last_enter: AtomicU64::new(0),
        killed_at: AtomicU64::new(u64::MAX),
        cfg: cfg.clone(),
    });
    let mut handles = Vec::new();
    for shard in 0..threads {
        let bots: Vec<usize> = (0..cfg.bots).filter(|i| i % threads == shard).collect();
        let sh = Arc::clone(&shared);
        handles.push(
            std::thread::Builder::new()
                .name(format!("loadgen-{shard}"))
                .spawn(move || run_shard(sh, shard, bots))
                .context("starting a bot thread")?,
        );
    }
    let result = drive(&shared);
    shared.phase.store(PHASE_STOP, Ordering::Relaxed);
    shared.permits.close();
    for h in handles {
        match h.join() {
            Ok(r) => r?,
            Err(_) => bail!("a bot thread panicked"),
        }
    }
    result
}

/// The reporter: waits for the ramp, runs the window, samples, reports.
fn drive(shared: &Shared) -> Result<LoadReport> {
    let cfg = &shared.cfg;
    let bots = cfg.bots as u64;
    let mut progress = Progress::new(shared);
    // Ramp: until every bot is in (or failed), bounded.
    let ramp_limit = cfg
        .ramp_timeout
        .unwrap_or(BOT_RAMP_TIMEOUT + Duration::from_millis(20 * cfg.bots as u64));
    let ramp_deadline = Instant::now() + ramp_limit;
    loop {
        let t = totals(&shared.shards);
        if t.entered + t.failed >= bots {
            break;
        }
        if Instant::now() >= ramp_deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
        progress.tick("ramp");
    }
    let t = totals(&shared.shards);
    if t.entered == 0 {
        bail!(
            "no bot got into an arena ({} connected, {} logged in, {} failed)",
            t.connected,
            t.logged_in,
            t.failed
        );
    }
    let settle_end = Instant::now() + cfg.settle;
    while Instant::now() < settle_end {
        std::thread::sleep(Duration::from_millis(50));
        progress.tick("settle");
    }

    // Window.
    let mut procs: Vec<ProcWatch> = discover(&cfg.probe)
        .unwrap_or_else(|e| {
            eprintln!("loadgen: cannot find the zone's processes: {e:#}");
            Vec::new()
        })
        .into_iter()
        .map(|(name, pid)| ProcWatch {
            name,
            pid,
            start: None,
            end: None,
            rss_max: 0,
            threads_start: Vec::new(),
            threads_end: Vec::new(),
        })
        .collect();
    let counters_start = zone_counters(&cfg.probe);
    for p in &mut procs {
        p.start = read_proc(p.pid);
        p.threads_start = proc_sample::thread_cpu_secs(p.pid);
        p.rss_max = p.start.map_or(0, |s| s.rss_bytes);
    }
    let self_start = read_proc(std::process::id());
    let machine_start = read_machine_times();
    let t_start = totals(&shared.shards);
    let start = Instant::now();
    let start_us = shared.us(start);
    shared.window_end.store(
        start_us + cfg.duration.as_micros() as u64,
        Ordering::Relaxed,
    );
    shared.window_start.store(start_us, Ordering::Relaxed);
    for s in shared.shards.iter() {
        *s.latency.lock().unwrap_or_else(|e| e.into_inner()) = WindowLatencies::default();
    }
    progress.procs = procs.iter().map(|p| (p.pid, p.start)).collect();
    let end = start + cfg.duration;
    let mut kill_at = cfg.kill_realm_after.map(|after| start + after);
    let mut killed_realm = None;
    let mut upgrade_at = cfg.upgrade.as_ref().map(|u| start + u.after);
    let mut upgrading: Option<std::thread::JoinHandle<UpgradeReport>> = None;
    while Instant::now() < end {
        std::thread::sleep(
            Duration::from_millis(50).min(end.saturating_duration_since(Instant::now())),
        );
        if kill_at.is_some_and(|t| Instant::now() >= t) {
            kill_at = None;
            killed_realm = kill_realm(shared, &procs);
        }
        if let (Some(t), Some(plan)) = (upgrade_at, cfg.upgrade.clone()) {
            if Instant::now() >= t {
                upgrade_at = None;
                let after_secs = start.elapsed().as_secs_f64();
                upgrading = Some(std::thread::spawn(move || run_upgrades(&plan, after_secs)));
            }
        }
        if progress.tick("run") {
            for p in &mut procs {
                if let Some(s) = read_proc(p.pid) {
                    p.rss_max = p.rss_max.max(s.rss_bytes);
                }
            }
        }
    }
    let window = start.elapsed();
    let t_end = totals(&shared.shards);
    let upgrade = upgrading.map(|h| h.join().unwrap_or_default());
    let mut max_gap = (0u64, 0u64);
    for s in shared.shards.iter() {
        let g = *s.max_gap.lock().unwrap_or_else(|e| e.into_inner());
        if g.0 > max_gap.0 {
            max_gap = g;
        }
    }
    let max_position_gap = (
        max_gap.0 as f64 / 1000.0,
        max_gap.1.saturating_sub(start_us) as f64 / 1e6,
    );
    let mut reentry = Histogram::default();
    for s in shared.shards.iter() {
        reentry.merge(&s.reentry.lock().unwrap_or_else(|e| e.into_inner()));
    }
    let realm_kill = killed_realm.map(|(pid, after)| RealmKillReport {
        pid,
        after_secs: after.as_secs_f64(),
        bots: (0..cfg.bots).filter(|&i| cfg.bot_arena(i) == 0).count() as u64,
        back: LatencySummary::of(&reentry),
    });
    for p in &mut procs {
        p.end = read_proc(p.pid);
        p.threads_end = proc_sample::thread_cpu_secs(p.pid);
        if let Some(s) = p.end {
            p.rss_max = p.rss_max.max(s.rss_bytes);
        }
    }
    let self_end = read_proc(std::process::id());
    let machine_end = read_machine_times();
    let counters_end = zone_counters(&cfg.probe);
    // Drain: positions sent in the window still arriving.
    let drain_end = Instant::now() + cfg.drain;
    while Instant::now() < drain_end {
        std::thread::sleep(Duration::from_millis(50));
        progress.tick("drain");
    }
    let t = totals(&shared.shards);
    let secs = window.as_secs_f64();
    let rate = |a: u64, b: u64| (b.saturating_sub(a)) as f64 / secs;
    let mut latency = Histogram::default();
    let mut socket_latency = Histogram::default();
    let mut login_time = Histogram::default();
    for s in shared.shards.iter() {
        let h = s.latency.lock().unwrap_or_else(|e| e.into_inner());
        latency.merge(&h.read);
        socket_latency.merge(&h.socket);
        drop(h);
        login_time.merge(&s.login_time.lock().unwrap_or_else(|e| e.into_inner()));
    }
    let first = shared.first_start.load(Ordering::Relaxed);
    let last_login = shared.last_login.load(Ordering::Relaxed);
    let last_enter = shared.last_enter.load(Ordering::Relaxed);
    let login_secs = last_login.saturating_sub(first) as f64 / 1e6;
    let proc_report = |p: &ProcWatch| ProcReport {
        name: p.name.clone(),
        pid: p.pid,
        cpu_percent: match (p.start, p.end) {
            (Some(a), Some(b)) => cpu_percent(&a, &b, secs),
            _ => 0.0,
        },
        rss_bytes: p.end.map_or(0, |s| s.rss_bytes),
        rss_max_bytes: p.rss_max,
        threads: thread_percents(&p.threads_start, &p.threads_end, secs),
    };
    let supervisor = procs.first().map(proc_report);
    let realms: Vec<ProcReport> = procs.iter().skip(1).map(proc_report).collect();
    let server_cpu_percent = supervisor.as_ref().map_or(0.0, |s| s.cpu_percent)
        + realms.iter().map(|r| r.cpu_percent).sum::<f64>();
    let zone_delta = match (counters_start, counters_end) {
        (Some(a), Some(b)) => {
            let mut m = serde_json::Map::new();
            for key in [
                "datagrams_in",
                "datagrams_out",
                "bytes_in",
                "bytes_out",
                "retransmits",
                "dropped",
            ] {
                let d = b[key]
                    .as_u64()
                    .unwrap_or(0)
                    .saturating_sub(a[key].as_u64().unwrap_or(0));
                m.insert(format!("{key}_per_sec"), json!(round1(d as f64 / secs)));
                if key == "retransmits" || key == "dropped" {
                    m.insert(key.to_string(), json!(d));
                }
            }
            Some(Value::Object(m))
        }
        _ => None,
    };
    let expected = t.expected_window;
    let received = t.pos_recv_window;
    let lost = expected.saturating_sub(received);
    Ok(LoadReport {
        bots: cfg.bots,
        arenas: cfg.arenas,
        rate_hz: cfg.rate_hz,
        window_secs: secs,
        threads: shared.shards.len(),
        server: cfg.server.to_string(),
        connected: t.connected,
        logged_in: t.logged_in,
        entered: t.entered,
        spectators: t.spectators,
        failed: t.failed,
        login_refused: t.login_refused,
        login_secs,
        logins_per_sec: if login_secs > 0.0 {
            t.logged_in as f64 / login_secs
        } else {
            0.0
        },
        enter_secs: last_enter.saturating_sub(first) as f64 / 1e6,
        login_latency: LatencySummary::of(&login_time),
        positions_sent: t.pos_sent_window,
        weapons_sent: t.weapons_window,
        positions_expected: expected,
        positions_received: received,
        positions_lost: lost,
        loss_percent: if expected > 0 {
            lost as f64 / expected as f64 * 100.0
        } else {
            0.0
        },
        latency: LatencySummary::of(&latency),
        socket_latency: LatencySummary::of(&socket_latency),
        datagrams_out_per_sec: rate(t_start.datagrams_out, t_end.datagrams_out),
        datagrams_in_per_sec: rate(t_start.datagrams_in, t_end.datagrams_in),
        bytes_out_per_sec: rate(t_start.bytes_out, t_end.bytes_out),
        bytes_in_per_sec: rate(t_start.bytes_in, t_end.bytes_in),
        retransmits: t.retransmits,
        duplicates_received: t.duplicates,
        send_errors: t.send_errors,
        disconnects: t.disconnects,
        disconnect_reasons: t.disc,
        chats_sent: t.chats_sent,
        chats_received: t.chats_recv,
        decode_errors: t.decode_errors,
        bad_stamps: t.bad_stamps,
        supervisor,
        realms,
        server_cpu_percent,
        zone_counters: zone_delta,
        realm_kill,
        max_position_gap,
        upgrade,
        steal_percent: match (machine_start, machine_end) {
            (Some(a), Some(b)) => MachineTimes::steal_percent(&a, &b),
            _ => 0.0,
        },
        loadgen: ProcReport {
            name: "loadgen".to_string(),
            pid: std::process::id(),
            cpu_percent: match (self_start, self_end) {
                (Some(a), Some(b)) => cpu_percent(&a, &b, secs),
                _ => 0.0,
            },
            rss_bytes: self_end.map_or(0, |s| s.rss_bytes),
            rss_max_bytes: self_end.map_or(0, |s| s.rss_bytes),
            threads: Vec::new(),
        },
    })
}

/// The live progress line (stderr, once a second).
struct Progress<'a> {
    shared: &'a Shared,
    enabled: bool,
    last: Instant,
    prev: Totals,
    prev_self: Option<ProcSample>,
    prev_machine: Option<MachineTimes>,
    /// Watched zone processes and their previous samples.
    procs: Vec<(u32, Option<ProcSample>)>,
    started: Instant,
}

impl<'a> Progress<'a> {
    fn new(shared: &'a Shared) -> Progress<'a> {
        Progress {
            shared,
            enabled: shared.cfg.progress,
            last: Instant::now(),
            prev: Totals::default(),
            prev_self: read_proc(std::process::id()),
            prev_machine: read_machine_times(),
            procs: Vec::new(),
            started: Instant::now(),
        }
    }

    /// Prints a line if a second has passed; returns whether it did.
    fn tick(&mut self, phase: &str) -> bool {
        let now = Instant::now();
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        if dt < 1.0 {
            return false;
        }
        self.last = now;
        let t = totals(&self.shared.shards);
        let mut interval = Histogram::default();
        let mut socket_interval = Histogram::default();
        for s in self.shared.shards.iter() {
            let (read, socket) = s
                .latency
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take_interval();
            interval.merge(&read);
            socket_interval.merge(&socket);
        }
        let mut server_cpu = 0.0;
        let mut server_rss = 0;
        for (pid, prev) in self.procs.iter_mut() {
            let cur = read_proc(*pid);
            if let (Some(a), Some(b)) = (*prev, cur) {
                server_cpu += (b.cpu_secs() - a.cpu_secs()) / dt * 100.0;
                server_rss += b.rss_bytes;
            }
            if cur.is_some() {
                *prev = cur;
            }
        }
        let me = read_proc(std::process::id());
        let self_cpu = match (self.prev_self, me) {
            (Some(a), Some(b)) => (b.cpu_secs() - a.cpu_secs()) / dt * 100.0,
            _ => 0.0,
        };
        self.prev_self = me;
        let machine = read_machine_times();
        let steal = match (self.prev_machine, machine) {
            (Some(a), Some(b)) => MachineTimes::steal_percent(&a, &b),
            _ => 0.0,
        };
        self.prev_machine = machine;
        let p = &self.prev;
        let per = |a: u64, b: u64| b.saturating_sub(a) as f64 / dt;
        if self.enabled {
            let server = if self.procs.is_empty() {
                String::new()
            } else {
                format!(
                    " | zone cpu {:.0}% rss {:.0}MiB",
                    server_cpu,
                    server_rss as f64 / 1048576.0
                )
            };
            eprintln!(
                "[{:>5.1}s {phase:<6}] in {}/{} fail {} disc {} | pos out {:.0}/s in {:.0}/s | lat p50 {:.2} p99 {:.2} max {:.2} ms (at socket p99 {:.2}) | dgram out {:.0}/s in {:.0}/s | KB/s out {:.0} in {:.0} | loadgen cpu {:.0}%{server} | steal {steal:.0}%",
                now.saturating_duration_since(self.started).as_secs_f64(),
                t.entered,
                self.shared.cfg.bots,
                t.failed,
                t.disconnects,
                per(p.pos_sent, t.pos_sent),
                per(p.pos_recv, t.pos_recv),
                interval.quantile(0.5) as f64 / 1000.0,
                interval.quantile(0.99) as f64 / 1000.0,
                interval.max() as f64 / 1000.0,
                socket_interval.quantile(0.99) as f64 / 1000.0,
                per(p.datagrams_out, t.datagrams_out),
                per(p.datagrams_in, t.datagrams_in),
                per(p.bytes_out, t.bytes_out) / 1000.0,
                per(p.bytes_in, t.bytes_in) / 1000.0,
                self_cpu,
            );
        }
        self.prev = t;
        true
    }
}

/// Parses `zone listening game=ADDR ping=ADDR control=PATH` (the line a
/// zone prints when it is ready): the game address and the control path.
pub fn parse_listening_line(line: &str) -> Option<(SocketAddr, Option<PathBuf>)> {
    let mut game = None;
    let mut control = None;
    for word in line.split_whitespace() {
        if let Some(a) = word.strip_prefix("game=") {
            game = a.parse().ok();
        } else if let Some(p) = word.strip_prefix("control=") {
            control = Some(PathBuf::from(p));
        }
    }
    Some((game?, control))
}

/// A markdown table of `--json` reports read from `files`; the row label
/// is the file's stem. A `STEM.after.json` beside a report (the zone's
/// stats after the bots left) adds the largest idle realm's memory.
pub fn summarize(files: &[PathBuf]) -> Result<String> {
    let mib = |v: &Value| v.as_f64().unwrap_or(0.0) / 1048576.0;
    let mut s = String::new();
    s.push_str("| run | bots | arenas | logins/s | p50 ms | p95 ms | p99 ms | max ms | p99 at socket ms | loss % | disc | pos in/s | dgrams to bots/s | KB/s to bots | zone CPU % | supervisor CPU % | realms CPU % | supervisor RSS MiB | largest realm RSS MiB | idle realm RSS MiB | loadgen CPU % | steal % |\n");
    s.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for f in files {
        let text =
            std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?;
        let r: Value =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", f.display()))?;
        let stem = f
            .file_stem()
            .map_or_else(|| "?".to_string(), |s| s.to_string_lossy().into_owned());
        let realms = r["server"]["realms"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let realm_cpu: f64 = realms
            .iter()
            .filter_map(|x| x["cpu_percent"].as_f64())
            .sum();
        let realm_rss = realms
            .iter()
            .map(|x| mib(&x["rss_max_bytes"]))
            .fold(0.0, f64::max);
        let after = f.with_file_name(format!("{stem}.after.json"));
        let idle = std::fs::read_to_string(&after)
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .and_then(|a| {
                a["realms"].as_array().map(|rs| {
                    rs.iter()
                        .map(|x| mib(&x["process"]["rss_bytes"]))
                        .fold(0.0, f64::max)
                })
            });
        let window = r["config"]["window_secs"].as_f64().unwrap_or(0.0);
        let received = r["positions"]["received"].as_f64().unwrap_or(0.0);
        let pos_in = if window > 0.0 { received / window } else { 0.0 };
        let num = |v: &Value, digits: usize| match v.as_f64() {
            Some(x) => format!("{x:.digits$}"),
            None => "–".to_string(),
        };
        s.push_str(&format!(
            "| {stem} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {pos_in:.0} | {} | {:.0} | {} | {} | {realm_cpu:.1} | {:.1} | {realm_rss:.1} | {} | {} | {} |\n",
            r["config"]["bots"],
            r["config"]["arenas"],
            num(&r["logins"]["per_sec"], 0),
            num(&r["latency_ms"]["p50"], 2),
            num(&r["latency_ms"]["p95"], 2),
            num(&r["latency_ms"]["p99"], 2),
            num(&r["latency_ms"]["max"], 2),
            num(&r["socket_latency_ms"]["p99"], 2),
            num(&r["positions"]["loss_percent"], 3),
            r["disconnects"],
            num(&r["traffic"]["datagrams_in_per_sec"], 0),
            r["traffic"]["bytes_in_per_sec"].as_f64().unwrap_or(0.0) / 1000.0,
            num(&r["server"]["total_cpu_percent"], 1),
            num(&r["server"]["supervisor"]["cpu_percent"], 1),
            mib(&r["server"]["supervisor"]["rss_max_bytes"]),
            idle.map_or_else(|| "–".to_string(), |v| format!("{v:.1}")),
            num(&r["loadgen"]["cpu_percent"], 1),
            num(&r["machine"]["steal_percent"], 1),
        ));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_quantiles_are_close() {
        let mut h = Histogram::default();
        for v in 1..=100_000u64 {
            h.record(v);
        }
        for (q, want) in [(0.5, 50_000.0), (0.99, 99_000.0), (0.01, 1_000.0)] {
            let got = h.quantile(q) as f64;
            assert!((got - want).abs() / want < 0.02, "q{q}: {got} vs {want}");
        }
        assert_eq!(h.max(), 100_000);
        assert_eq!(h.min(), 1);
        assert_eq!(h.count(), 100_000);
    }

    #[test]
    fn histogram_index_is_monotonic_and_in_range() {
        let mut last = 0;
        for shift in 0..63 {
            for v in [
                1u64 << shift,
                (1u64 << shift) | (1u64 << shift >> 1),
                (1u64 << (shift + 1)) - 1,
            ] {
                let i = hist_index(v);
                assert!(i < HIST_BUCKETS);
                assert!(i >= last);
                last = i;
                let back = hist_value(i) as f64;
                assert!(
                    (back - v as f64).abs() <= v as f64 / 32.0 + 1.0,
                    "{v} -> {i} -> {back}"
                );
            }
        }
        assert!(hist_index(u64::MAX) < HIST_BUCKETS);
    }

    #[test]
    fn small_values_are_exact() {
        let mut h = Histogram::default();
        h.record(7);
        assert_eq!(h.quantile(0.5), 7);
    }

    #[test]
    fn listening_line_parses() {
        let (game, control) = parse_listening_line(
            "zone listening game=127.0.0.1:4000 ping=127.0.0.1:4001 control=/tmp/x.sock",
        )
        .unwrap();
        assert_eq!(game, "127.0.0.1:4000".parse().unwrap());
        assert_eq!(control, Some(PathBuf::from("/tmp/x.sock")));
    }
}
