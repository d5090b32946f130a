//! The zone task: owns the game socket, every player connection and the
//! realm registry, and runs the event loop.
//!
//! One task holds all of this state, so nothing here locks. Each loop pass
//! handles whatever is ready (datagrams, realm messages, operator requests,
//! the housekeeping tick of `crate::tick`, the flush timer), then flushes
//! every connection and realm link it
//! touched: a packet relayed by a realm leaves in the same pass its IPC
//! message arrived.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use ipc_proto::PlayerInfo;
use ss_proto::game::{GoArena, S2CPacket};
use ss_proto::transport::{Priority, Reliability, TickClock};
use tokio::net::UdpSocket;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use crate::billing::Biller;
use crate::chatnet::Chatnet;
use crate::config::Settings;
use crate::control::{self, ControlRequest};
use crate::directory::Directory;
use crate::flush::{FlushDecision, Pass, PassGap};
use crate::hold_timer::HoldTimer;
use crate::outbox::Outbox;
use crate::ping::{self, Population};
use crate::players::{Player, PlayerTable};
use crate::realm_link::WorkerLinks;
use crate::realms::{RealmEvent, RealmSignal};
use crate::state::{Action, SlotId, ZoneState};
use crate::stats::{
    cpu_percent, read_proc, ProcSample, ProcessReport, StatsReport, TrafficCounters, ZoneCounters,
    ZoneReport,
};
use crate::tick::{periodic_due, TickSchedule};
use crate::udp::{GameSocket, RecvBatch};

/// Most `recvmmsg` calls per readiness event before other work gets a turn.
const RECV_BATCH: usize = 8;

/// Passes in a row the game socket may take before one pass asks every
/// other source of the event loop first and lets the runtime's other
/// tasks run (`Zone::event_loop`).
const HOT_PASSES: u32 = 8;

/// How long the ping port's population figures are reused.
const PING_REFRESH: Duration = Duration::from_secs(1);
/// How often process figures are sampled.
const SAMPLE_INTERVAL: Duration = Duration::from_secs(1);

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

/// Exit status after `?recyclezone` / `?shutdown -r`: the systemd unit
/// restarts the zone on it (`scripts/subsumption.service`,
/// `RestartForceExitStatus`).
pub const EXIT_RECYCLE: u8 = 75;

/// Runs the zone until it is told to stop; the exit status
/// (0, or [`EXIT_RECYCLE`] after a recycle).
pub async fn run(settings: Settings, mut log: crate::logring::LogRing) -> Result<u8> {
    // An in-place upgrade's new process finds the old one's state here
    // (docs/upgrades.md §3); one it cannot read ends the start.
    let inherited = crate::handoff::Inherited::take()?;
    if let Some(file) = settings
        .zone
        .global()
        .get_str("Log", "File")
        .filter(|f| !f.trim().is_empty())
    {
        let path = match &settings.zone_dir {
            Some(dir) => dir.join(file.trim()),
            None => std::path::PathBuf::from(file.trim()),
        };
        let max = settings
            .zone
            .global()
            .get_int("Log", "FileMaxBytes", 10_000_000)
            .max(0) as u64;
        log.open_file(path.clone(), max)
            .with_context(|| format!("opening the log file {} (Log:File)", path.display()))?;
    }
    let notes = crate::modules::notes(&settings.modules);
    if !notes.off.is_empty() {
        info!(
            "modules.conf leaves out: {}; those stay off",
            notes.off.join(", ")
        );
    }
    if !notes.not_implemented.is_empty() {
        warn!(
            "modules.conf lists ASSS modules Subsumption does not implement, which have no effect: {}",
            notes.not_implemented.join("; ")
        );
    }
    if !notes.unknown.is_empty() {
        warn!(
            "modules.conf lists modules that are not ASSS modules Subsumption knows (ignored): {}",
            notes.unknown.join(", ")
        );
    }
    let (game, ping) = match &inherited {
        Some(h) => h.sockets(),
        None => bind_sockets(settings.bind, settings.port)?,
    };
    tune_socket(&game);
    game.set_nonblocking(true)?;
    ping.set_nonblocking(true)?;
    let outbox = Outbox::new(&game, settings.send_threads).context("starting the send threads")?;
    if outbox.send_threads() > 0 {
        info!(
            threads = outbox.send_threads(),
            "game datagrams leave through send threads (Net:SendThreads)"
        );
    }
    let udp = GameSocket::new(game)?;
    let ping = UdpSocket::from_std(ping)?;
    // The database is opened before the zone announces itself, so a bad
    // one stops the start with a clear error.
    let (mut scores, db_rx) = match crate::scores::start(&settings.persist)? {
        Some((keeper, rx)) => (Some(keeper), Some(rx)),
        None => (None, None),
    };
    let stored_bans = scores
        .as_mut()
        .map(|k| std::mem::take(&mut k.initial_bans))
        .unwrap_or_default();
    let (control_tx, control_rx) = mpsc::unbounded_channel();
    let control_path = settings.control_path.clone();
    let private = settings.control_dir_private;
    let listened = match inherited.as_ref().and_then(|h| h.control_fd()) {
        Some(fd) => control::adopt(fd, control_tx),
        None => control::listen(&control_path, private, control_tx),
    };
    let control_fd = listened.as_ref().ok().copied();
    let control_bound = match listened {
        Ok(_) => true,
        // The embedded zone's default path may be taken by another zone on
        // this machine; serve players anyway, without a control socket.
        Err(e) if !settings.control_required => {
            warn!("no control socket: {e:#}");
            false
        }
        Err(e) => return Err(e),
    };
    let (chatnet, chat_addr) = Chatnet::start(&settings.chatnet)?;
    let (web_addr, web) = match crate::web::start(&settings.web, settings.zone.clone())? {
        Some((addr, state)) => (Some(addr), Some(state)),
        None => (None, None),
    };
    info!(
        game = %udp.local_addr()?,
        ping = %ping.local_addr()?,
        control = %control_path.display(),
        "zone listening"
    );
    // Handlers first: a stop asked for right after the announcement below
    // is a clean stop, not the default action of the signal.
    let signals = Signals::install()?;
    if let Some(h) = &inherited {
        info!(from = %h.previous_version(), "resuming the zone handed over by the previous supervisor process");
    }
    // Tests and scripts read this line to learn the ports.
    println!(
        "zone listening game={} ping={}{}{} control={}",
        udp.local_addr()?,
        ping.local_addr()?,
        chat_addr.map(|a| format!(" chat={a}")).unwrap_or_default(),
        web_addr
            .map(|a| format!(" metrics={a}"))
            .unwrap_or_default(),
        control_path.display()
    );
    let now = Instant::now();
    let biller = Biller::new(settings.billing.clone(), udp.local_addr()?.port(), now)?;
    let (events_tx, events_rx) = mpsc::unbounded_channel();
    let directory = Directory::start(settings.directory.clone(), udp.local_addr()?.port());
    let mut zone = Zone {
        clock: TickClock::new(now, ipc_proto::monotonic_ticks()),
        state: ZoneState::new(settings.realm_policy.clone(), scores.is_some()),
        links: WorkerLinks::new(),
        relay: Default::default(),
        relay_plan: Default::default(),
        checkpoints: Default::default(),
        upgrades: Default::default(),
        action_buf: Vec::new(),
        s: settings,
        udp,
        ping,
        players: PlayerTable::default(),
        events_tx,
        flush_list: Vec::new(),
        inbox: Vec::new(),
        stats: ZoneCounters::default(),
        retired: TrafficCounters::default(),
        scratch: Vec::new(),
        recv_batch: RecvBatch::default(),
        outbox,
        udp_backlog: false,
        held: Vec::new(),
        held_due: None,
        receivers: 1,
        flush_epoch: now,
        pass_gap: PassGap::default(),
        ping_cache: None,
        pending: VecDeque::new(),
        per_ip: HashMap::new(),
        handshakes: Default::default(),
        bans: crate::bans::Bans::from_stored(stored_bans),
        log,
        exit_request: None,
        biller,
        scores,
        directory,
        chatnet,
        file_work: Default::default(),
        web,
        started: now,
        tick: TickSchedule::new(now),
        last_keepalive: now,
        last_housekeeping: now,
        last_position_release: now,
        last_sample: now,
        self_prev: None,
        self_cpu_pct: 0.0,
        self_proc: ProcSample::default(),
        control_fd,
        exec: None,
        upgrade_error: None,
        upgrades_done: 0,
    };
    if let Some(h) = inherited {
        zone.import(h, Instant::now())?;
    }
    // Under systemd the main pid stays the same across an in-place upgrade
    // (exec); it is stated anyway.
    notify(&[
        sd_notify::NotifyState::Ready,
        sd_notify::NotifyState::MainPid(std::process::id()),
    ]);
    let result = zone.event_loop(signals, events_rx, control_rx, db_rx).await;
    if control_bound {
        let _ = std::fs::remove_file(&control_path);
    }
    result.map(|()| zone.exit_request.unwrap_or(0))
}

/// What a signal asks of the zone: SIGTERM and SIGINT stop it, SIGHUP
/// reloads the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ZoneSignal {
    Stop,
    Reload,
}

/// The signals the zone answers, as one channel: a task of their own
/// waits for the three, so the event loop polls one receiver (an atomic
/// load when empty) instead of three signal streams on every pass.
struct Signals {
    rx: mpsc::UnboundedReceiver<ZoneSignal>,
}

impl Signals {
    fn install() -> Result<Self> {
        let mut sigterm = signal(SignalKind::terminate()).context("installing SIGTERM handler")?;
        let mut sigint = signal(SignalKind::interrupt()).context("installing SIGINT handler")?;
        let mut sighup = signal(SignalKind::hangup()).context("installing SIGHUP handler")?;
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            loop {
                let sig = tokio::select! {
                    Some(()) = sigterm.recv() => ZoneSignal::Stop,
                    Some(()) = sigint.recv() => ZoneSignal::Stop,
                    Some(()) = sighup.recv() => ZoneSignal::Reload,
                    else => break,
                };
                if tx.send(sig).is_err() {
                    break;
                }
            }
        });
        Ok(Signals { rx })
    }
}

/// Tells systemd (if it is listening) about the service state.
pub(crate) fn notify(state: &[sd_notify::NotifyState]) {
    if let Err(e) = sd_notify::notify(false, state) {
        debug!("sd_notify failed: {e}");
    }
}

/// The zone's state, owned by the one zone task.
pub(crate) struct Zone {
    pub(crate) s: Settings,
    /// Realms and where every player is: the sans-IO zone state.
    pub(crate) state: ZoneState,
    /// Running worker processes and their IPC buffers.
    pub(crate) links: WorkerLinks,
    /// Realms' relay rules for the supervisor relay (`crate::fastpath`).
    pub(crate) relay: crate::fastpath::RelayTables,
    /// Reused receiver lists of the supervisor relay.
    pub(crate) relay_plan: crate::fastpath::Plan,
    /// The newest game-state checkpoint of each realm.
    pub(crate) checkpoints: crate::checkpoints::Checkpoints,
    /// Realm upgrades in progress (`docs/upgrades.md` §2).
    pub(crate) upgrades: crate::upgrade::Upgrades,
    /// Reused buffer for carrying out the zone state's actions.
    pub(crate) action_buf: Vec<Action>,
    pub(crate) udp: GameSocket,
    ping: UdpSocket,
    pub(crate) clock: TickClock,
    pub(crate) players: PlayerTable,
    pub(crate) events_tx: mpsc::UnboundedSender<RealmEvent>,
    pub(crate) flush_list: Vec<i16>,
    /// Game packets decoded from the datagram being handled, back to back
    /// as `u16` length + bytes (reused, so receiving does not allocate).
    pub(crate) inbox: Vec<u8>,
    /// Zone-wide event counters.
    pub(crate) stats: ZoneCounters,
    /// Transport totals of connections that have ended.
    pub(crate) retired: TrafficCounters,
    pub(crate) scratch: Vec<u8>,
    recv_batch: RecvBatch,
    /// This pass's outgoing game datagrams (`crate::outbox`).
    pub(crate) outbox: Outbox,
    /// The last drain of the game socket stopped before it was empty.
    udp_backlog: bool,
    /// Players whose unreliable packets are held back for grouping.
    held: Vec<i16>,
    /// The earliest time a held player is due (`None`: nobody held).
    held_due: Option<Instant>,
    /// Connections receiving coalescable traffic, among which the
    /// datagram budget is shared (recounted every second).
    receivers: usize,
    /// Anchor of the release grid (`crate::flush::GRID`).
    flush_epoch: Instant,
    /// Time between loop passes, for releasing held queues with a pass
    /// rather than a timer (`crate::flush`).
    pass_gap: PassGap,
    /// The ping port's last population count and when it was made.
    ping_cache: Option<(Instant, Population)>,
    /// Connections not logged in yet, oldest first (pid, accepted at);
    /// entries of players that have since logged in or left are skipped.
    pub(crate) pending: VecDeque<(i16, Instant)>,
    /// Open connections per IP address.
    pub(crate) per_ip: HashMap<IpAddr, usize>,
    /// Answered connection requests waiting for the client's next datagram.
    pub(crate) handshakes: crate::session::Handshakes,
    /// Names and machines kept out by timed kicks.
    pub(crate) bans: crate::bans::Bans,
    /// Recent log lines (`?lastlog`).
    pub(crate) log: crate::logring::LogRing,
    /// Set by `?shutdown` / `?recyclezone`: the loop ends after this pass
    /// with this exit status.
    pub(crate) exit_request: Option<u8>,
    /// The billing server link and what it knows of players.
    pub(crate) biller: Biller,
    /// Score keeping (`None` when `Persist:Enabled` is off).
    pub(crate) scores: Option<crate::scores::ScoreKeeper>,
    /// The directory announcing task.
    directory: Directory,
    /// Chat-protocol clients.
    pub(crate) chatnet: Chatnet,
    /// Uploads being saved or unpacked off this thread (`?putfile`,
    /// `?putmap`, `?putzip`) and files offered between players
    /// (`?sendfile`).
    pub(crate) file_work: crate::files::FileWork,
    /// The metrics and dashboard listener's zone side (`[Metrics]`).
    pub(crate) web: Option<crate::web::WebState>,
    pub(crate) started: Instant,
    /// When the housekeeping tick runs next (`crate::tick`).
    tick: TickSchedule,
    last_keepalive: Instant,
    last_housekeeping: Instant,
    /// When relayed positions were last passed on to the realms.
    last_position_release: Instant,
    last_sample: Instant,
    self_prev: Option<(ProcSample, Instant)>,
    self_cpu_pct: f64,
    self_proc: ProcSample,
    /// The control socket's fd (handed over on an in-place upgrade).
    pub(crate) control_fd: Option<std::os::fd::RawFd>,
    /// An in-place supervisor upgrade waiting for the realm writers.
    pub(crate) exec: Option<crate::handoff::ExecRequest>,
    /// Why the last supervisor upgrade was refused or abandoned.
    pub(crate) upgrade_error: Option<String>,
    /// In-place supervisor upgrades since the zone started.
    pub(crate) upgrades_done: u32,
}

/// How often the slower housekeeping runs: the realm registry's timers,
/// pending logins, timed kicks, lag reports.
const HOUSEKEEPING_INTERVAL: Duration = Duration::from_millis(100);

/// How often the positions the supervisor relayed itself are passed on to
/// their realms (which only update their state with them).
const POSITION_RELEASE_INTERVAL: Duration = Duration::from_millis(50);

impl Zone {
    async fn event_loop(
        &mut self,
        signals: Signals,
        mut events_rx: mpsc::UnboundedReceiver<RealmEvent>,
        mut control_rx: mpsc::UnboundedReceiver<ControlRequest>,
        mut db_rx: Option<mpsc::UnboundedReceiver<zone_persist::DbReply>>,
    ) -> Result<()> {
        // The housekeeping tick rides on passes that happen anyway (any pass
        // within tick::SLACK of its due time runs it), so its own timer
        // only wakes an otherwise idle supervisor; when it is due follows
        // the connections' deadlines (crate::tick).
        let mut tick_at = self.tick.next(self.players.len() > 0);
        let tick = tokio::time::sleep_until(tick_at.into());
        tokio::pin!(tick);
        let Signals { rx: mut signals } = signals;
        let mut chat_rx = self.chatnet.take_events();
        let mut upload_rx = self.file_work.take_receiver();
        // One precise timer for held-back connections, re-armed only when
        // the earliest due time changes (not on every pass).
        let mut held_timer = HoldTimer::new().context("creating the flush timer")?;
        // Passes since one that realm events, a timer or the tick took;
        // every `HOT_PASSES`-th of them in a row leaves the others a turn.
        let mut hot_passes = 0u32;
        loop {
            if let Err(e) = held_timer.set(self.held_due) {
                // Without the timer, held queues still leave on the next
                // housekeeping tick (at most 50 ms on, crate::tick); say
                // so once per failure.
                warn!("flush timer: {e}");
            }
            // The sources are asked in order, and the first one ready ends
            // the poll: the pass that a datagram brings stops at the game
            // socket instead of polling, registering and dropping a random
            // share of the eleven futures first. (The poll after it, which
            // finds nothing ready and parks, still asks them all.) At 40
            // players this took the select's share of the supervisor from
            // 6.4–7.5 % to 4.3–6.0 % (BENCHMARKS.md, "eleventh session").
            // So that a game socket that is ready on every pass cannot
            // starve the sources below it (a receive buffer large enough
            // to keep the backlog going), every `HOT_PASSES`-th pass in a
            // row skips it and its backlog and asks all the others. If
            // none of them is ready, its last branch yields to the
            // runtime once before ending the pass: the spawned tasks
            // (realm links, control connections, chatnet, the signal
            // forwarder) run only while this task is not running, and a
            // backlog that never runs dry would otherwise keep them from
            // ever filling the channels asked above (a control request
            // went unanswered for 15 s under a flood on busy cores). The
            // socket's readiness, still set, takes the next pass.
            let fair = hot_passes >= HOT_PASSES;
            hot_passes = if fair { 0 } else { hot_passes + 1 };
            tokio::select! {
                biased;
                r = self.udp.readable(), if !fair => {
                    // Cleared before reading: a datagram that arrives after
                    // this raises readiness again (edge-triggered).
                    r.context("game socket")?.clear_ready();
                    self.drain_game_socket();
                }
                _ = std::future::ready(()), if self.udp_backlog && !fair => self.drain_game_socket(),
                Some(ev) = events_rx.recv() => {
                    hot_passes = 0;
                    let now = Instant::now();
                    self.realm_event(now, ev);
                    while let Ok(ev) = events_rx.try_recv() {
                        self.realm_event(now, ev);
                    }
                }
                r = held_timer.fired(), if held_timer.armed().is_some() => {
                    hot_passes = 0;
                    r.context("flush timer")?;
                    self.release_held(Instant::now());
                }
                _ = &mut tick => hot_passes = 0,
                r = self.ping.readable() => {
                    r.context("ping socket")?;
                    self.drain_ping_socket();
                }
                Ok(()) = self.biller.readable() => self.drain_biller_socket(),
                Some(ev) = crate::chatnet::next_event(&mut chat_rx) => self.chat_event(Instant::now(), ev),
                Some(req) = control_rx.recv() => self.control_request(req),
                Some(done) = next_upload_done(&mut upload_rx) => self.upload_done(done),
                Some(reply) = next_reply(&mut db_rx) => self.db_reply(reply),
                Some(sig) = signals.recv() => match sig {
                    ZoneSignal::Reload => {
                        let _ = self.reload();
                    }
                    ZoneSignal::Stop => break,
                },
                _ = tokio::task::yield_now(), if fair => {}
            }
            if self.tick.is_due(Instant::now(), self.players.len() > 0) {
                self.on_tick();
            }
            self.flush();
            // The pass may have connected someone, or sent something that
            // is retransmitted unless acknowledged in time.
            let next = self.tick.next(self.players.len() > 0);
            if next != tick_at {
                tick_at = next;
                tick.as_mut().reset(tick_at.into());
            }
            if self.exit_request.is_some() {
                break;
            }
            if self.exec.is_some() {
                self.try_exec(&mut events_rx);
            }
        }
        self.shutdown(&mut events_rx).await;
        if let (Some(keeper), Some(rx)) = (self.scores.as_mut(), db_rx.as_mut()) {
            keeper.persist.close(rx).await;
        }
        Ok(())
    }

    // ----- game socket -------------------------------------------------

    /// Reads what the game socket holds, a batch at a time, until a batch
    /// comes back short (drained) or `RECV_BATCH` batches were read (then
    /// `udp_backlog` brings the loop back after other work had a turn).
    fn drain_game_socket(&mut self) {
        let fd = self.udp.as_raw_fd();
        let mut batch = std::mem::take(&mut self.recv_batch);
        self.udp_backlog = true;
        for _ in 0..RECV_BATCH {
            match batch.recv(fd) {
                Ok(n) => {
                    let now = Instant::now();
                    for i in 0..n {
                        if let Some((addr, data)) = batch.get(i) {
                            self.stats.datagrams_in += 1;
                            self.handle_datagram(now, addr, data);
                        }
                    }
                    if n < crate::udp::BATCH {
                        self.udp_backlog = false;
                        break;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    self.udp_backlog = false;
                    break;
                }
                // An error (a port unreachable report, say) is about one
                // datagram; the next call reads on.
                Err(e) => debug!("game socket receive error: {e}"),
            }
        }
        self.recv_batch = batch;
    }

    // ----- timers ---------------------------------------------------------

    fn on_tick(&mut self) {
        let now = Instant::now();
        let keepalive = periodic_due(now, self.last_keepalive, self.s.keepalive);
        if keepalive {
            self.last_keepalive = now;
        }
        let mut keepalive_bytes = std::mem::take(&mut self.scratch);
        keepalive_bytes.clear();
        S2CPacket::KeepAlive.encode(&mut keepalive_bytes);
        // Every deadline still ahead goes to the schedule (also that of a
        // connection flushed now for what it has queued); those already
        // due are flushed in this pass, which brings in what they become.
        self.tick.ran(now);
        for p in self.players.iter_mut() {
            if keepalive && self.state.members.entered(p.pid) {
                p.conn
                    .send(&keepalive_bytes, Reliability::Reliable, Priority::Normal);
            }
            let deadline = p.conn.next_deadline();
            let due = deadline.is_none_or(|d| d <= now) || p.conn.has_pending();
            if due && !p.dirty {
                p.dirty = true;
                self.flush_list.push(p.pid);
            }
            self.tick.deadline(deadline.filter(|&d| d > now));
        }
        self.scratch = keepalive_bytes;
        if periodic_due(now, self.last_position_release, POSITION_RELEASE_INTERVAL) {
            self.last_position_release = now;
            self.release_held_positions();
        }
        self.biller_tick(now);
        self.scores_tick(now);
        self.log.drain();
        self.web_tick(now);
        if periodic_due(now, self.last_housekeeping, HOUSEKEEPING_INTERVAL) {
            self.last_housekeeping = now;
            self.state.tick(now);
            self.run_actions(now);
            self.expire_pending(now);
            self.bans_tick();
            self.lag_reports(now);
        }
        if periodic_due(now, self.last_sample, SAMPLE_INTERVAL) {
            self.last_sample = now;
            self.receivers = self
                .players
                .iter_mut()
                .map(|p| p.coalescer.rate(now))
                .filter(|&r| r >= crate::flush::RECEIVER_RATE)
                .count()
                .max(1);
            self.sample_processes(now);
            let mut status = format!(
                "{} players, {} realms",
                self.players.len(),
                self.state.registry.len()
            );
            if self
                .scores
                .as_ref()
                .is_some_and(|k| k.persist.write_failing())
            {
                status.push_str("; DATABASE WRITES FAILING");
            }
            self.directory.set_population(self.players_in_arenas());
            notify(&[
                sd_notify::NotifyState::Status(&status),
                sd_notify::NotifyState::Watchdog,
            ]);
        }
    }

    fn sample_processes(&mut self, now: Instant) {
        if let Some(sample) = read_proc(std::process::id()) {
            if let Some((prev, at)) = self.self_prev {
                self.self_cpu_pct = cpu_percent(
                    &prev,
                    &sample,
                    now.saturating_duration_since(at).as_secs_f64(),
                );
            }
            self.self_prev = Some((sample, now));
            self.self_proc = sample;
        }
        self.sample_realm_processes(now);
    }

    /// Re-reads the configuration: the zone's own settings that can change
    /// while it runs (passwords, limits, realm policy, transport tunables for
    /// new connections, flush delay), then every realm's arena config. The
    /// sockets, the control path, billing and the database stay as started.
    pub(crate) fn reload(&mut self) -> Result<(), String> {
        info!("reloading configuration");
        let result = match Settings::load(&self.s.args) {
            Ok(fresh) => {
                self.s.runtime = fresh.runtime;
                self.directory.configure(self.s.directory.clone());
                // The registry applies the realm policy from now on, and
                // the realms learn its default arena.
                self.state.registry.policy = self.s.realm_policy.clone();
                self.tell_zone_info();
                Ok(())
            }
            Err(e) => {
                let msg = format!("reload failed, keeping the running settings: {e:#}");
                warn!("{msg}");
                Err(msg)
            }
        };
        self.state.reload_realms();
        self.run_actions(Instant::now());
        result
    }

    // ----- control socket -------------------------------------------------

    fn control_request(&mut self, req: ControlRequest) {
        let now = Instant::now();
        let mut written = Some(req.written);
        let mut words = req.command.split_whitespace();
        let answer = match (words.next(), words.next()) {
            (Some("stats"), None) => {
                self.sample_processes(now);
                serde_json::to_string(&self.report(now))
                    .unwrap_or_else(|e| error_json(&e.to_string()))
            }
            (Some("restart"), Some(name)) => match self.operator_restart(now, name) {
                Ok(msg) => ok_json(&msg),
                Err(msg) => error_json(&msg),
            },
            (Some("upgrade-realms"), path) => {
                // The path is the rest of the line (it may hold spaces).
                let path = path.map(|_| {
                    std::path::PathBuf::from(req.command["upgrade-realms".len()..].trim())
                });
                match self.start_realm_upgrade(now, path) {
                    Ok(msg) => ok_json(&msg),
                    Err(msg) => error_json(&msg),
                }
            }
            (Some("upgrade-status"), None) => self.upgrade_status(),
            (Some("upgrade-supervisor"), path) => {
                let path = path.map(|_| {
                    std::path::PathBuf::from(req.command["upgrade-supervisor".len()..].trim())
                });
                match self.request_supervisor_upgrade(now, path, written.take()) {
                    Ok(msg) => ok_json(&msg),
                    Err(msg) => error_json(&msg),
                }
            }
            (Some("reload"), None) => match self.reload() {
                Ok(()) => ok_json("reload requested"),
                Err(msg) => error_json(&msg),
            },
            _ => error_json(&format!("unknown command {:?}", req.command)),
        };
        let _ = req.reply.send(answer);
    }

    /// When the zone started.
    pub(crate) fn started_at(&self) -> Instant {
        self.started
    }

    /// The operator report: zone figures and every realm.
    pub(crate) fn report(&self, now: Instant) -> StatsReport {
        let mut traffic = self.retired;
        let mut players = 0;
        for p in self.players.iter() {
            traffic.absorb(p.conn.stats());
            if self.state.members.realm_of(p.pid).is_some() {
                players += 1;
            }
        }
        let zone = ZoneReport {
            version: ipc_proto::version::build_version().to_string(),
            upgrades: self.upgrades_done,
            upgrade_error: self.upgrade_error.clone(),
            process: ProcessReport {
                pid: std::process::id(),
                cpu_user_secs: self.self_proc.user_secs,
                cpu_system_secs: self.self_proc.system_secs,
                cpu_percent: self.self_cpu_pct,
                rss_bytes: self.self_proc.rss_bytes,
            },
            uptime_secs: now.saturating_duration_since(self.started).as_secs_f64(),
            connections: self.players.len() as u32,
            players,
            counters: self.stats,
            traffic,
            dropped: traffic.transport_dropped
                + self.stats.dropped_unknown
                + self.stats.dropped_game,
            send_failed: self.outbox.failed(),
            send_threads: self.outbox.send_threads() as u32,
            biller: self.biller.state_name().to_string(),
            billing: self.biller.report(now),
            persist: self.scores.as_ref().map(|k| crate::stats::PersistReport {
                path: self.s.persist.path.display().to_string(),
                pending_writes: k.persist.pending as u64,
                failed_writes: k.persist.failures,
                dropped_writes: k.persist.dropped,
                write_failing: k.persist.write_failing(),
                last_error: k.persist.failing.clone(),
                last_write_secs: k.persist.last_write_micros as f64 / 1e6,
            }),
        };
        StatsReport {
            zone,
            realms: self.realm_reports(now),
        }
    }

    /// Players inside an arena (the count directory servers are given).
    fn players_in_arenas(&self) -> usize {
        self.players
            .iter()
            .filter(|p| self.state.members.realm_of(p.pid).is_some())
            .count()
    }

    fn population(&self) -> Population {
        let mut pop = Population::default();
        let mut by_realm: HashMap<SlotId, (u16, u16)> = HashMap::new();
        for p in self.players.iter() {
            if let Some(r) = self.state.members.realm_of(p.pid) {
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
            if let Some(r) = self.state.registry.get(id) {
                pop.arenas.push((r.name.clone(), total, playing));
            }
        }
        pop.arenas.sort();
        pop
    }

    /// The ping socket's fd (handed over on an in-place upgrade).
    pub(crate) fn ping_fd(&self) -> std::os::fd::RawFd {
        self.ping.as_raw_fd()
    }

    fn drain_ping_socket(&mut self) {
        let mut buf = [0u8; 64];
        let mut out = Vec::new();
        for _ in 0..RECV_BATCH {
            match self.ping.try_recv_from(&mut buf) {
                Ok((n, addr)) => {
                    // Counted at most once a second however fast pings come.
                    let now = Instant::now();
                    let stale = self
                        .ping_cache
                        .as_ref()
                        .is_none_or(|(at, _)| now.saturating_duration_since(*at) >= PING_REFRESH);
                    if stale {
                        self.ping_cache = Some((now, self.population()));
                    }
                    let Some((_, pop)) = self.ping_cache.as_ref() else {
                        break;
                    };
                    if ping::answer(&buf[..n], pop, &mut out) {
                        let _ = self.ping.try_send_to(&out, addr);
                    }
                }
                Err(_) => break,
            }
        }
    }

    // ----- flushing and shutdown -----------------------------------------

    /// Puts the held-back connections due by `limit` on the flush list
    /// (they are decided again there, and sent); the others stay held, and
    /// `held_due` becomes the earliest of their due times.
    fn release_held(&mut self, limit: Instant) {
        let mut held = std::mem::take(&mut self.held);
        self.held_due = None;
        held.retain(|&pid| {
            let Some(p) = self.players.get_mut(pid) else {
                return false;
            };
            match p.coalescer.due() {
                Some(due) if due > limit => {
                    if self.held_due.is_none_or(|d| due < d) {
                        self.held_due = Some(due);
                    }
                    true
                }
                due => {
                    p.coalescer.unlist();
                    if due.is_some() && !std::mem::replace(&mut p.dirty, true) {
                        self.flush_list.push(pid);
                    }
                    false
                }
            }
        });
        self.held = held;
    }

    pub(crate) fn flush(&mut self) {
        let now = Instant::now();
        // What the zone state decided during this pass (entries, worker
        // starts, notices) is carried out before anything is sent.
        self.run_actions(now);
        // First: what the biller link sends or reports can queue packets
        // for players, which then leave in this same pass.
        self.flush_biller(now);
        self.tick.deadline(self.biller.next_deadline());
        // Held queues due before the next pass is likely leave with this
        // one rather than with a timer wake-up of their own.
        let next_pass_in = self.pass_gap.pass(now);
        if self.held_due.is_some_and(|d| d <= now + next_pass_in) {
            self.release_held(now + next_pass_in);
        }
        let mut list = std::mem::take(&mut self.flush_list);
        let mut ended = Vec::new();
        self.flush_chatnet(now, &mut list, &mut ended);
        let policy = self.s.flush;
        let pass = Pass {
            now,
            epoch: self.flush_epoch,
            receivers: self.receivers,
            next_pass_in,
        };
        for &pid in &list {
            let Some(p) = self.players.get_mut(pid) else {
                continue;
            };
            p.dirty = false;
            // Unreliable packets may wait a little to share a datagram
            // (crate::flush); acks and reliable data never wait.
            let urgent = p.conn.has_urgent();
            let queued = p.conn.unreliable_bytes();
            if let FlushDecision::HoldUntil(due) =
                p.coalescer.decide(&policy, &pass, urgent, queued)
            {
                if self.held_due.is_none_or(|d| due < d) {
                    self.held_due = Some(due);
                }
                if p.coalescer.list() {
                    self.held.push(pid);
                }
                continue;
            }
            let (out, addr) = (&mut self.outbox, p.addr);
            p.conn.poll_transmit(now, &mut |d| out.push(addr, d));
            if p.conn.is_closed() {
                ended.push(pid);
            }
            // A reliable packet it sent now is due again one retransmission
            // timeout from now: the tick comes no later than that. This is
            // cheaper than `next_deadline`, which walks the packets in
            // flight; if nothing new left, it costs at most a tick that
            // finds nothing to do. Silence timeouts only move later, and
            // every tick recomputes all deadlines (crate::tick).
            if p.conn.reliable_backlog() > 0 {
                self.tick.deadline(Some(now + p.conn.retransmit_timeout()));
            }
        }
        self.outbox.flush();
        list.clear();
        self.flush_list = list;
        for pid in ended {
            self.drain_conn_events(now, pid);
        }
        self.flush_realms();
    }

    async fn shutdown(&mut self, events_rx: &mut mpsc::UnboundedReceiver<RealmEvent>) {
        info!("shutting down");
        notify(&[sd_notify::NotifyState::Stopping]);
        // Upgrade successors get their stop like every worker.
        self.upgrades.release_all();
        let now = Instant::now();
        self.biller_shutdown(now);
        for p in self.players.iter_mut() {
            p.conn.disconnect();
            let (out, addr) = (&mut self.outbox, p.addr);
            p.conn.poll_transmit(now, &mut |d| out.push(addr, d));
        }
        // The goodbyes leave before the workers are waited for.
        self.outbox.flush_and_wait();
        self.state.stop_all();
        self.run_actions(now);
        self.flush_realms_all();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        while self.workers_running() {
            match tokio::time::timeout_at(deadline, events_rx.recv()).await {
                Ok(Some(RealmEvent {
                    worker,
                    signal: RealmSignal::Exited(_),
                })) => self.forget_worker(worker),
                // Last words of a stopping worker (score changes) still count.
                Ok(Some(ev)) => self.realm_event(Instant::now(), ev),
                _ => break,
            }
        }
        if self.workers_running() {
            warn!("realm workers did not stop in time; killing them");
            self.state.kill_all();
            self.run_actions(Instant::now());
        }
    }
}

/// The next database reply, or never when the zone keeps no scores.
/// The next upload saved or unpacked (never, without a receiver).
async fn next_upload_done(
    rx: &mut Option<mpsc::UnboundedReceiver<crate::files::UploadDone>>,
) -> Option<crate::files::UploadDone> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn next_reply(
    rx: &mut Option<mpsc::UnboundedReceiver<zone_persist::DbReply>>,
) -> Option<zone_persist::DbReply> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

fn ok_json(msg: &str) -> String {
    serde_json::json!({ "ok": true, "message": msg }).to_string()
}

fn error_json(msg: &str) -> String {
    serde_json::json!({ "ok": false, "error": msg }).to_string()
}

/// What a realm needs to know about an entering player.
pub(crate) fn player_info(p: &Player, reentry: bool) -> PlayerInfo {
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
        authenticated: p.authenticated,
        score: None,
        banner: p.banner.map(|b| b.to_vec()),
        chat_mask: p.chat_mask_left(Instant::now()),
        spawn: None,
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
