//! The supervisor's in-place upgrade (`docs/upgrades.md` §3): the running
//! process writes its whole state into a memfd and execs the new binary
//! (same pid) with the game and ping sockets, the control socket and every
//! realm's IPC socket inherited; the new process reads the state back and
//! carries on. Realm workers keep running and never notice; clients see a
//! pause.
//!
//! Before anything is stopped the new binary is asked whether it reads
//! this state's format (`NEW --check-upgrade-state-version N`); a refusal
//! leaves the old process serving. The state begins with a magic and the
//! format version, which the new process checks again before decoding.

use std::io::{Read, Seek, Write};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use ss_proto::game::GoArena;
use ss_proto::transport::{Connection, ConnectionSnapshot};
use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::players::{Player, BANNER_LEN};
use crate::realm_link::WorkerLink;
use crate::realms::{adopt_worker, set_cloexec, RealmEvent};
use crate::state::{Place, SlotId, WorkerId, ZoneState, ZoneStateExport};
use crate::stats::{TrafficCounters, ZoneCounters};
use crate::zone::Zone;

/// Version of the handed-over state's format; bumped on every change to
/// [`ZoneHandoff`] or anything in it.
pub const UPGRADE_STATE_VERSION: u32 = 2;
/// The first bytes of a handed-over state.
const MAGIC: &[u8; 8] = b"SSZONEUP";
/// Environment variable naming the inherited memfd that holds the state.
pub const STATE_FD_ENV: &str = "SUBSUMPTION_UPGRADE_STATE_FD";
/// Test knob: the format version the running supervisor claims for its
/// state when it asks the new binary (to test a refusal). Never set it in
/// production.
pub const TEST_VERSION_ENV: &str = "SUBSUMPTION_TEST_UPGRADE_STATE_VERSION";
/// How long the old process waits for its realm writers to drain before it
/// gives the upgrade up.
const DRAIN_LIMIT: Duration = Duration::from_secs(5);

/// One player as handed over.
#[derive(Serialize, Deserialize)]
struct PlayerHandoff {
    pid: i16,
    addr: SocketAddr,
    conn: ConnectionSnapshot,
    name: String,
    squad: String,
    continuum: bool,
    client_features: u16,
    go: Option<GoArena>,
    ship: u8,
    freq: i16,
    authenticated: bool,
    connected_age_us: u64,
    machine_id: u32,
    banner: Option<Vec<u8>>,
    /// A timed chat mask and the microseconds it has left.
    chat_mask: Option<(u32, u64)>,
    zone_data_loaded: bool,
    /// The spawn tile an auto-warp gave him for his next entry.
    spawn_in: Option<(String, i16, i16)>,
    /// His `passwd.conf` digest (`?set_local_password`).
    login_digest: Option<String>,
    /// Working directory of staff file commands (`?cd`).
    cwd: String,
}

/// One realm worker's link as handed over.
#[derive(Serialize, Deserialize)]
struct LinkHandoff {
    worker: WorkerId,
    slot: SlotId,
    os_pid: u32,
    /// The inherited IPC socket.
    fd: RawFd,
    /// The inherited read end of the worker's stderr pipe (its log lines).
    stderr_fd: Option<RawFd>,
    /// Bytes received from the worker not yet decoded (a partial frame).
    unread: Vec<u8>,
    /// Framed messages for the worker not yet written.
    out: Vec<u8>,
    droppable: Vec<(usize, usize)>,
    version: Option<String>,
}

/// Everything the next supervisor process needs.
#[derive(Serialize, Deserialize)]
struct ZoneHandoff {
    from_version: String,
    upgrades_done: u32,
    game_fd: RawFd,
    ping_fd: RawFd,
    control_fd: Option<RawFd>,
    uptime_us: u64,
    counters: ZoneCounters,
    retired: TrafficCounters,
    worker_path: PathBuf,
    state: ZoneStateExport,
    players: Vec<PlayerHandoff>,
    resting: Vec<(i16, u64)>,
    links: Vec<LinkHandoff>,
    checkpoints: Vec<(String, Vec<u8>)>,
    scores: Option<Vec<(zone_persist::StatsKey, zone_persist::StatMap)>>,
    /// Timed kicks (also in the database, but a write the old database
    /// thread had not finished would be lost).
    bans: Vec<crate::bans::BanCarry>,
    /// Answered connection requests waiting for the client's next datagram.
    handshakes: Vec<(SocketAddr, u32, bool, u64)>,
    /// The biller's sessions and owed logoffs (its link is made again).
    biller: crate::billing::BillerExport,
    /// The `?lastlog` ring's lines.
    log_lines: Vec<String>,
}

/// `now` plus `us` microseconds, at most a year ahead (a handed-over time
/// is never trusted to fit the clock).
pub(crate) fn later(now: Instant, us: u64) -> Instant {
    let d = Duration::from_micros(us).min(Duration::from_secs(365 * 86_400));
    now.checked_add(d).unwrap_or(now)
}

/// The format version this process's state is written in (the test knob
/// may claim another).
fn claimed_version() -> u32 {
    std::env::var(TEST_VERSION_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(UPGRADE_STATE_VERSION)
}

/// `zone-supervisor --check-upgrade-state-version N`: exit 0 and
/// `ok ipc=P` (P: the realm IPC protocol this binary speaks) if it reads
/// state format `N`, else a reason and exit 2.
pub fn check_version_cli(arg: Option<&str>) -> std::process::ExitCode {
    match arg.and_then(|a| a.parse::<u32>().ok()) {
        Some(v) if v == UPGRADE_STATE_VERSION => {
            println!("ok ipc={}", ipc_proto::PROTOCOL_VERSION);
            std::process::ExitCode::SUCCESS
        }
        Some(v) => {
            println!(
                "refused: this binary reads upgrade state format {UPGRADE_STATE_VERSION}, not {v}"
            );
            std::process::ExitCode::from(2)
        }
        None => {
            println!("refused: --check-upgrade-state-version needs a number");
            std::process::ExitCode::from(2)
        }
    }
}

/// Encodes a state with its magic and format version.
fn encode(h: &ZoneHandoff, version: u32) -> Result<Vec<u8>> {
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&postcard::to_allocvec(h).context("encoding the zone state")?);
    Ok(out)
}

/// Decodes a state, refusing another format version.
fn decode(bytes: &[u8]) -> Result<ZoneHandoff> {
    if bytes.len() < 12 || &bytes[..8] != MAGIC {
        bail!("the handed-over state is not a zone state");
    }
    let version = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
    if version != UPGRADE_STATE_VERSION {
        bail!(
            "the handed-over state has format {version}; this binary reads {UPGRADE_STATE_VERSION}"
        );
    }
    postcard::from_bytes(&bytes[12..]).context("decoding the handed-over state")
}

/// The state handed over by the previous process, if this process was
/// exec'd by an in-place upgrade. The variable is removed so that realm
/// workers started later do not see it.
fn take_inherited() -> Result<Option<ZoneHandoff>> {
    let Some(fd) = std::env::var_os(STATE_FD_ENV) else {
        return Ok(None);
    };
    // SAFETY: called once at the start of the zone, before any thread
    // that reads or writes the environment exists (the only other thread
    // then works out the build version and does not touch it).
    unsafe { std::env::remove_var(STATE_FD_ENV) };
    let fd: RawFd = fd
        .to_str()
        .and_then(|s| s.parse().ok())
        .context("the upgrade state fd is not a number")?;
    // SAFETY: the previous process handed us this memfd and nothing else
    // owns it.
    let mut file = unsafe { std::fs::File::from_raw_fd(fd) };
    file.rewind().context("reading the upgrade state")?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .context("reading the upgrade state")?;
    decode(&bytes).map(Some)
}

/// What the new process inherits, read before the zone is built.
pub(crate) struct Inherited {
    state: ZoneHandoff,
}

impl Inherited {
    /// Reads the handed-over state, if any.
    pub(crate) fn take() -> Result<Option<Inherited>> {
        Ok(take_inherited()?.map(|state| Inherited { state }))
    }

    /// The game and ping sockets.
    pub(crate) fn sockets(&self) -> (std::net::UdpSocket, std::net::UdpSocket) {
        let (g, p) = (self.state.game_fd, self.state.ping_fd);
        set_cloexec(g, true);
        set_cloexec(p, true);
        // SAFETY: inherited from the previous process for exactly this use.
        unsafe {
            (
                std::net::UdpSocket::from_raw_fd(g),
                std::net::UdpSocket::from_raw_fd(p),
            )
        }
    }

    /// The control socket, if the previous process had one.
    pub(crate) fn control_fd(&self) -> Option<RawFd> {
        let fd = self.state.control_fd?;
        set_cloexec(fd, true);
        Some(fd)
    }

    /// The build the state came from.
    pub(crate) fn previous_version(&self) -> &str {
        &self.state.from_version
    }
}

/// An operator's request to upgrade the supervisor, waiting for the realm
/// writers to drain.
pub(crate) struct ExecRequest {
    binary: PathBuf,
    asked_at: Instant,
    /// Fires when the operator has the answer to the request.
    answered: Option<tokio::sync::oneshot::Receiver<()>>,
}

/// The binary this process was started from (the path, even if the file
/// was replaced since: that is where the new build was installed).
fn own_binary() -> Result<PathBuf> {
    let link = std::fs::read_link("/proc/self/exe").context("reading /proc/self/exe")?;
    let text = link.to_string_lossy();
    Ok(PathBuf::from(
        text.strip_suffix(" (deleted)").unwrap_or(&text).to_string(),
    ))
}

impl Zone {
    /// Operator request: upgrade the supervisor in place to `binary`
    /// (default: the path this one was started from). Checks that the new
    /// binary reads this state's format, then schedules the exec for when
    /// the realm writers have drained. `Ok` says what is being done.
    pub(crate) fn request_supervisor_upgrade(
        &mut self,
        now: Instant,
        binary: Option<PathBuf>,
        answered: Option<tokio::sync::oneshot::Receiver<()>>,
    ) -> Result<String, String> {
        if self.exec.is_some() {
            return Err("a supervisor upgrade is under way already".into());
        }
        self.state.export(now)?;
        if self.chatnet.client_count() > 0 {
            return Err(format!(
                "{} chat (chatnet) clients are connected; their TCP connections are not carried over",
                self.chatnet.client_count()
            ));
        }
        let binary = match binary {
            Some(b) => b,
            None => own_binary().map_err(|e| format!("{e:#}"))?,
        };
        let version = claimed_version();
        let out = std::process::Command::new(&binary)
            .arg("--check-upgrade-state-version")
            .arg(version.to_string())
            .output()
            .map_err(|e| format!("running {}: {e}", binary.display()))?;
        let said = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let ipc_ok = said
            .strip_prefix("ok ipc=")
            .is_some_and(|p| p == ipc_proto::PROTOCOL_VERSION.to_string());
        if out.status.success() && said.starts_with("ok") && !ipc_ok {
            let msg = format!(
                "{} speaks another realm IPC protocol ({said}; the running workers speak {}): the workers could not stay; the running supervisor keeps serving (restart the realms after a plain restart instead)",
                binary.display(),
                ipc_proto::PROTOCOL_VERSION
            );
            warn!("{msg}");
            self.upgrade_error = Some(msg.clone());
            return Err(msg);
        }
        if !out.status.success() || !ipc_ok {
            let why = if said.is_empty() {
                format!("{}", out.status)
            } else {
                said
            };
            let msg = format!(
                "{} refuses this zone's state (format {version}): {why}; the running supervisor keeps serving",
                binary.display()
            );
            warn!("{msg}");
            self.upgrade_error = Some(msg.clone());
            return Err(msg);
        }
        info!(binary = %binary.display(), "supervisor upgrade: the new binary reads our state; handing over");
        self.upgrade_error = None;
        let msg = format!("upgrading the supervisor to {}", binary.display());
        self.exec = Some(ExecRequest {
            binary,
            asked_at: now,
            answered,
        });
        Ok(msg)
    }

    /// Called at the end of every loop pass while an exec is asked for:
    /// once no realm writer holds unwritten bytes, takes in every event
    /// already read, writes the state and execs. Returns only if the exec
    /// must wait or failed (the zone then keeps serving).
    pub(crate) fn try_exec(&mut self, events_rx: &mut mpsc::UnboundedReceiver<RealmEvent>) {
        let Some((binary, asked_at)) = self.exec.as_ref().map(|r| (r.binary.clone(), r.asked_at))
        else {
            return;
        };
        let now = Instant::now();
        if let Some(rx) = self.exec.as_mut().and_then(|r| r.answered.as_mut()) {
            if matches!(
                rx.try_recv(),
                Err(tokio::sync::oneshot::error::TryRecvError::Empty)
            ) {
                // The operator does not have the answer yet.
                return;
            }
        }
        let busy = self.links.values().any(WorkerLink::writer_busy);
        if busy {
            if now.saturating_duration_since(asked_at) > DRAIN_LIMIT {
                self.give_up_exec("the realm links did not drain".into());
            }
            return;
        }
        // Everything the link tasks have read is taken in now; what the
        // zone queues from here on stays in the links' buffers and goes
        // into the state.
        self.upgrades.frozen = true;
        while let Ok(ev) = events_rx.try_recv() {
            self.realm_event(now, ev);
        }
        self.flush();
        // Send threads end with the exec: what they hold leaves first.
        self.outbox.flush_and_wait();
        match self.exec_into(now, &binary) {
            Ok(never) => match never {},
            Err(e) => self.give_up_exec(format!("{e:#}")),
        }
    }

    fn give_up_exec(&mut self, why: String) {
        let msg = format!("supervisor upgrade abandoned, still serving: {why}");
        warn!("{msg}");
        self.upgrade_error = Some(msg);
        self.exec = None;
        self.upgrades.frozen = false;
        crate::zone::notify(&[sd_notify::NotifyState::Ready]);
    }

    /// The zone as plain data.
    fn export(&mut self, now: Instant) -> Result<ZoneHandoff> {
        let biller = self.biller_export(now);
        // What the fallback logins decided is carried out before the
        // state is taken.
        self.run_actions(now);
        let state = self.state.export(now).map_err(anyhow::Error::msg)?;
        let players = self
            .players
            .iter()
            .map(|p| PlayerHandoff {
                pid: p.pid,
                addr: p.addr,
                conn: p.conn.snapshot(now),
                name: p.name.clone(),
                squad: p.squad.clone(),
                continuum: p.continuum,
                client_features: p.client_features,
                go: p.go.clone(),
                ship: p.ship,
                freq: p.freq,
                authenticated: p.authenticated,
                connected_age_us: now.saturating_duration_since(p.connected_at).as_micros() as u64,
                machine_id: p.machine_id,
                banner: p.banner.map(|b| b.to_vec()),
                chat_mask: p
                    .chat_mask
                    .map(|(m, until)| (m, until.saturating_duration_since(now).as_micros() as u64)),
                zone_data_loaded: p.zone_data_loaded,
                spawn_in: p.spawn_in.clone(),
                login_digest: p.login_digest.clone(),
                cwd: p.cwd.clone(),
            })
            .collect();
        let links = self
            .links
            .iter()
            .map(|(&worker, l)| LinkHandoff {
                worker,
                slot: l.slot,
                os_pid: l.process.os_pid,
                fd: l.process.fd,
                stderr_fd: l.process.stderr_fd,
                unread: l.reader.unread().to_vec(),
                out: [l.out.as_slice(), l.held.as_slice()].concat(),
                droppable: l.droppable.clone(),
                version: l.version.clone(),
            })
            .collect();
        Ok(ZoneHandoff {
            from_version: ipc_proto::version::build_version().to_string(),
            upgrades_done: self.upgrades_done,
            game_fd: self.udp.as_raw_fd(),
            ping_fd: self.ping_fd(),
            control_fd: self.control_fd,
            uptime_us: now.saturating_duration_since(self.started).as_micros() as u64,
            counters: self.stats,
            retired: self.retired,
            worker_path: self.s.worker_path.clone(),
            state,
            players,
            resting: self
                .players
                .resting(now)
                .into_iter()
                .map(|(pid, age)| (pid, age.as_micros() as u64))
                .collect(),
            links,
            checkpoints: self.checkpoints.export(),
            scores: self.scores.as_ref().map(|k| k.persist.export_cache()),
            bans: self.bans.export(),
            handshakes: self.handshakes.export(now),
            biller,
            // The log file gets every line before the exec ends its thread.
            log_lines: self.log.hand_over(Duration::from_secs(1)),
        })
    }

    /// Writes the state into a memfd, lets the sockets survive exec and
    /// execs `binary` with this process's arguments. Returns only on
    /// failure, with every socket as it was.
    fn exec_into(
        &mut self,
        now: Instant,
        binary: &std::path::Path,
    ) -> Result<std::convert::Infallible> {
        let h = self.export(now)?;
        let bytes = encode(&h, claimed_version())?;
        let mut file = self.state_file()?;
        let memfd = file.as_raw_fd();
        file.write_all(&bytes).context("writing the state")?;
        if !set_cloexec(memfd, false) {
            bail!("could not keep the state file open across exec");
        }
        let mut fds: Vec<RawFd> = vec![h.game_fd, h.ping_fd];
        fds.extend(h.control_fd);
        fds.extend(h.links.iter().map(|l| l.fd));
        fds.extend(h.links.iter().filter_map(|l| l.stderr_fd));
        for &fd in &fds {
            if !set_cloexec(fd, false) {
                for &fd in &fds {
                    set_cloexec(fd, true);
                }
                bail!("could not keep fd {fd} open across exec");
            }
        }
        info!(
            players = h.players.len(),
            realms = h.links.len(),
            state_bytes = bytes.len(),
            binary = %binary.display(),
            "supervisor upgrade: exec"
        );
        // systemd: the service is reloading until the new process says
        // READY=1 (same main pid); the watchdog is fed just before.
        let mut states = vec![
            sd_notify::NotifyState::Watchdog,
            sd_notify::NotifyState::Reloading,
            sd_notify::NotifyState::Status("upgrading the supervisor in place"),
        ];
        if let Ok(m) = sd_notify::NotifyState::monotonic_usec_now() {
            states.push(m);
        }
        crate::zone::notify(&states);
        let mut cmd = std::process::Command::new(binary);
        use std::os::unix::process::CommandExt;
        cmd.args(std::env::args_os().skip(1))
            .env(STATE_FD_ENV, memfd.to_string());
        let err = cmd.exec();
        // Still here: the exec failed; everything goes back as it was.
        for &fd in &fds {
            set_cloexec(fd, true);
        }
        drop(file);
        Err(err).with_context(|| format!("exec {}", binary.display()))
    }

    /// A file for the state that survives exec: a memfd, or where that
    /// system call is not allowed, a file in the control socket's folder
    /// (private to the zone's user), unlinked at once.
    fn state_file(&self) -> Result<std::fs::File> {
        // SAFETY: memfd_create takes a NUL-terminated name and flags.
        let memfd = unsafe { libc::memfd_create(c"subsumption-upgrade".as_ptr(), 0) };
        if memfd >= 0 {
            // SAFETY: memfd_create just returned this fd.
            return Ok(unsafe { std::fs::File::from_raw_fd(memfd) });
        }
        let dir = self
            .s
            .control_path
            .parent()
            .map(std::path::Path::to_path_buf)
            .unwrap_or_else(std::env::temp_dir);
        let path = dir.join(format!("upgrade-state-{}", std::process::id()));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .with_context(|| format!("creating {}", path.display()))?;
        let _ = std::fs::remove_file(&path);
        Ok(file)
    }

    /// The new process: takes on the state handed over.
    pub(crate) fn import(&mut self, inherited: Inherited, now: Instant) -> Result<()> {
        let h = inherited.state;
        self.upgrades_done = h.upgrades_done + 1;
        self.started = now
            .checked_sub(Duration::from_micros(h.uptime_us))
            .unwrap_or(now);
        self.stats = h.counters;
        self.retired = h.retired;
        self.s.worker_path = h.worker_path;
        let policy = self.s.realm_policy.clone();
        let keeps_scores = self.scores.is_some();
        self.state = ZoneState::import(h.state, now, policy, keeps_scores);
        for p in h.players {
            let Some(conn) = Connection::restore(p.conn, now, self.clock) else {
                warn!(
                    pid = p.pid,
                    "a handed-over connection does not hold together; dropped"
                );
                self.state.player_gone(p.pid);
                continue;
            };
            let banner = p.banner.and_then(|b| <[u8; BANNER_LEN]>::try_from(b).ok());
            let player = Player {
                pid: p.pid,
                addr: p.addr,
                conn,
                name: p.name,
                squad: p.squad,
                continuum: p.continuum,
                client_features: p.client_features,
                go: p.go,
                ship: p.ship,
                freq: p.freq,
                dirty: false,
                authenticated: p.authenticated,
                connected_at: now
                    .checked_sub(Duration::from_micros(p.connected_age_us))
                    .unwrap_or(now),
                lag_reported_at: now,
                // The flush policy's view of him starts afresh.
                coalescer: crate::flush::Coalescer::new(now),
                machine_id: p.machine_id,
                banner,
                chat_mask: p.chat_mask.map(|(m, us)| (m, later(now, us))),
                zone_data_loaded: p.zone_data_loaded,
                spawn_in: p.spawn_in,
                login_digest: p.login_digest,
                cwd: p.cwd,
                // A pending upload request is not carried: asked again.
                upload: None,
            };
            let (pid, addr) = (player.pid, player.addr);
            if !self.players.restore(player) {
                warn!(pid, "a handed-over player clashes with another; dropped");
                self.state.player_gone(pid);
                continue;
            }
            *self.per_ip.entry(addr.ip()).or_default() += 1;
            if !self.state.members.place(pid).is_some_and(Place::logged_in) {
                self.pending.push_back((pid, now));
            }
            self.mark_dirty(pid);
        }
        for (pid, age) in h.resting {
            self.players.rest(
                pid,
                now.checked_sub(Duration::from_micros(age)).unwrap_or(now),
            );
        }
        for l in h.links {
            let realm = self
                .state
                .registry
                .get(l.slot)
                .map(|s| s.name.clone())
                .unwrap_or_default();
            let process = adopt_worker(
                l.os_pid,
                l.fd,
                l.worker,
                self.events_tx.clone(),
                l.stderr_fd,
                &realm,
                self.log.tap(),
            )
            .with_context(|| format!("taking on realm worker {}", l.os_pid))?;
            let mut link = WorkerLink::new(l.slot, process);
            link.reader.extend(&l.unread);
            // Only ranges that lie inside `out`, in order, are kept (the
            // queue drops packets by them).
            let mut end = 0;
            link.droppable = l
                .droppable
                .into_iter()
                .filter(|&(off, len)| {
                    let ok = off >= end && off.checked_add(len).is_some_and(|e| e <= l.out.len());
                    if ok {
                        end = off + len;
                    }
                    ok
                })
                .collect();
            link.out = l.out;
            link.version = l.version;
            self.links.insert(l.worker, link);
        }
        self.checkpoints.import(h.checkpoints);
        let (store, delete) = self.bans.import(h.bans);
        if let Some(keeper) = self.scores.as_ref() {
            for ban in store {
                keeper.persist.put_ban(ban);
            }
            keeper.persist.delete_bans(delete);
        }
        self.handshakes.import(h.handshakes, now);
        self.biller_import(h.biller);
        self.log.take_over(h.log_lines);
        if let (Some(keeper), Some(cache)) = (self.scores.as_mut(), h.scores) {
            keeper.persist.import_cache(cache);
        }
        // Every ready realm learns the new build.
        self.tell_zone_info();
        self.run_actions(now);
        info!(
            from = %h.from_version,
            to = %ipc_proto::version::build_version(),
            players = self.players.len(),
            realms = self.links.len(),
            "supervisor upgraded in place; carrying on"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::RealmPolicy;

    fn sample() -> ZoneHandoff {
        let now = Instant::now();
        let conn = Connection::server(
            now,
            ss_proto::transport::TransportConfig::default(),
            ss_proto::transport::TickClock::new(now, 0),
            0x1234,
            false,
        );
        ZoneHandoff {
            from_version: "0.1.0+test".into(),
            upgrades_done: 2,
            game_fd: 3,
            ping_fd: 4,
            control_fd: Some(5),
            uptime_us: 7,
            counters: ZoneCounters::default(),
            retired: TrafficCounters::default(),
            worker_path: "/usr/local/bin/realm-worker".into(),
            state: ZoneState::new(RealmPolicy::default(), true)
                .export(now)
                .expect("exports"),
            players: vec![PlayerHandoff {
                pid: 3,
                addr: "127.0.0.1:4000".parse().expect("addr"),
                conn: conn.snapshot(now),
                name: "alice".into(),
                squad: String::new(),
                continuum: false,
                client_features: 0,
                go: None,
                ship: 1,
                freq: 2,
                authenticated: true,
                connected_age_us: 9,
                machine_id: 11,
                banner: None,
                chat_mask: Some((1, 500)),
                zone_data_loaded: true,
                spawn_in: Some(("soccer".into(), 512, 512)),
                login_digest: None,
                cwd: "arenas".into(),
            }],
            resting: vec![(1, 20)],
            links: Vec::new(),
            checkpoints: vec![("0".into(), vec![1, 2, 3])],
            scores: Some(Vec::new()),
            bans: vec![crate::bans::BanCarry {
                id: 1,
                name: "mallory".into(),
                machine_id: 0,
                expires: 1 << 40,
                kicker: "sysop".into(),
                reason: String::new(),
                created: 0,
            }],
            handshakes: Vec::new(),
            biller: Default::default(),
            log_lines: vec!["12:00:00 INFO zone: a line".into()],
        }
    }

    #[test]
    fn the_state_round_trips_and_another_format_is_refused() {
        let bytes = encode(&sample(), UPGRADE_STATE_VERSION).expect("encodes");
        let back = decode(&bytes).expect("decodes");
        assert_eq!(back.players.len(), 1);
        assert_eq!(back.players[0].name, "alice");
        assert_eq!(back.upgrades_done, 2);
        assert_eq!(back.checkpoints, vec![("0".to_string(), vec![1, 2, 3])]);
        assert_eq!(back.players[0].cwd, "arenas");
        assert_eq!(
            back.players[0].spawn_in,
            Some(("soccer".to_string(), 512, 512))
        );
        assert_eq!(back.bans, sample().bans);
        assert_eq!(back.log_lines, sample().log_lines);
        let other = encode(&sample(), UPGRADE_STATE_VERSION + 1).expect("encodes");
        let err = decode(&other).err().expect("refused");
        assert!(
            format!("{err:#}").contains(&format!("format {}", UPGRADE_STATE_VERSION + 1)),
            "{err:#}"
        );
        assert!(decode(b"not a state at all").is_err());
        let mut cut = bytes.clone();
        cut.truncate(bytes.len() / 2);
        assert!(decode(&cut).is_err(), "a truncated state is refused");
    }

    #[test]
    fn garbled_states_are_refused_never_a_panic() {
        let good = encode(&sample(), UPGRADE_STATE_VERSION).expect("encodes");
        let mut rng = 0x2545_F491_4F6C_DD1Du64;
        for round in 0..2000 {
            let mut bytes = good.clone();
            for _ in 0..(1 + round % 8) {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let i = 12 + (rng as usize) % (bytes.len() - 12);
                bytes[i] = (rng >> 32) as u8;
            }
            if round % 3 == 0 {
                bytes.truncate(12 + (rng as usize) % (bytes.len() - 12));
            }
            let _ = decode(&bytes);
        }
        assert!(later(Instant::now(), u64::MAX) > Instant::now());
    }

    #[test]
    fn the_version_check_answers_ok_only_for_its_own_format() {
        assert_eq!(
            check_version_cli(Some(&UPGRADE_STATE_VERSION.to_string())),
            std::process::ExitCode::SUCCESS
        );
        assert_ne!(
            check_version_cli(Some("999")),
            std::process::ExitCode::SUCCESS
        );
        assert_ne!(
            check_version_cli(Some("x")),
            std::process::ExitCode::SUCCESS
        );
        assert_ne!(check_version_cli(None), std::process::ExitCode::SUCCESS);
    }
}
