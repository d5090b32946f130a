//! A harness that runs the real zone binaries: [`TestZone`] starts
//! `zone-supervisor run` on ephemeral ports of 127.0.0.1, learns its ports
//! from its first stdout line and kills it when dropped.
//!
//! The supervisor's stderr (its log) goes to a file; if the owning thread is
//! panicking when the zone is dropped (a failed test), the log's tail is
//! printed so that the test output shows what the server did. Set
//! `SS_TESTS_KEEP_LOGS=1` to keep every log file.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};

/// How long [`TestZone::start`] waits for the "zone listening" line
/// (generous, for busy machines).
pub const START_TIMEOUT: Duration = Duration::from_secs(30);
/// Ping requests [`ping_population`] sends before giving up (UDP: a
/// request or its answer may be lost).
pub const PING_TRIES: usize = 5;
/// How long [`ping_population`] waits for each answer.
pub const PING_TRY_WAIT: Duration = Duration::from_secs(2);
/// Poll interval of [`wait_until`].
pub const POLL_INTERVAL: Duration = Duration::from_millis(20);
/// Bytes of the log printed when a test fails.
const LOG_TAIL: u64 = 16 * 1024;

/// Environment variable naming the folder holding `zone-supervisor` and
/// `realm-worker`, overriding the search next to the test executable.
pub const BIN_DIR_ENV: &str = "SUBSUMPTION_BIN_DIR";
/// Environment variable that, when set, keeps every zone's log file
/// (normally deleted unless the test failed).
pub const KEEP_LOGS_ENV: &str = "SS_TESTS_KEEP_LOGS";

static ZONE_COUNTER: AtomicU32 = AtomicU32::new(0);

/// A running `zone-supervisor` (and its realm workers).
pub struct TestZone {
    child: Child,
    game: SocketAddr,
    ping: SocketAddr,
    chat: Option<SocketAddr>,
    metrics: Option<SocketAddr>,
    log_path: PathBuf,
    control_path: PathBuf,
    bin_dir: PathBuf,
}

/// How to start a [`TestZone`] beyond the defaults.
#[derive(Clone, Debug, Default)]
pub struct ZoneOptions {
    /// `Section:Key=Value` overrides.
    pub overrides: Vec<String>,
    /// A zone folder (`--zone`); none = the embedded zone.
    pub zone_dir: Option<PathBuf>,
    /// The realm-worker binary (`--worker`); none = the built one.
    pub worker: Option<PathBuf>,
    /// Extra environment variables for the supervisor.
    pub env: Vec<(String, String)>,
    /// Let the supervisor choose its default control socket (no
    /// `--control`); its path is read from the listening line.
    pub default_control: bool,
}

/// The folder holding the zone binaries: `$SUBSUMPTION_BIN_DIR`, else the
/// folder of the test executable or its parent (`target/debug/deps` →
/// `target/debug`), whichever has `zone-supervisor`.
pub fn bin_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os(BIN_DIR_ENV) {
        return Ok(PathBuf::from(dir));
    }
    let exe = std::env::current_exe().context("locating the test executable")?;
    let mut dir = exe.parent();
    while let Some(d) = dir {
        if d.join("zone-supervisor").is_file() {
            return Ok(d.to_path_buf());
        }
        if d.file_name().is_some_and(|n| n == "target") {
            break;
        }
        dir = d.parent();
    }
    bail!(
        "zone-supervisor not found next to {} (build it: cargo build -p zone-supervisor -p realm-worker, or set {BIN_DIR_ENV})",
        exe.display()
    )
}

impl TestZone {
    /// Starts `zone-supervisor run --bind 127.0.0.1 --port 0` with
    /// `--set` for each of `overrides` (`Section:Key=Value`) and waits for
    /// its listening line.
    pub fn start(overrides: &[&str]) -> Result<TestZone> {
        TestZone::start_with(ZoneOptions {
            overrides: overrides.iter().map(|s| s.to_string()).collect(),
            ..ZoneOptions::default()
        })
    }

    /// Starts a zone with the given options (see [`TestZone::start`]).
    pub fn start_with(opts: ZoneOptions) -> Result<TestZone> {
        let dir = bin_dir()?;
        let exe = dir.join("zone-supervisor");
        let n = ZONE_COUNTER.fetch_add(1, Ordering::Relaxed);
        let log_path = std::env::temp_dir().join(format!(
            "ss-tests-zone-{}-{n}-{}.log",
            std::process::id(),
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis())
        ));
        let log =
            File::create(&log_path).with_context(|| format!("creating {}", log_path.display()))?;
        let control_path = log_path.with_extension("sock");
        let mut cmd = Command::new(&exe);
        cmd.arg("run")
            .arg("--bind")
            .arg("127.0.0.1")
            .arg("--port")
            .arg("0")
            .arg("--worker")
            .arg(
                opts.worker
                    .clone()
                    .unwrap_or_else(|| dir.join("realm-worker")),
            );
        if !opts.default_control {
            cmd.arg("--control").arg(&control_path);
        }
        if let Some(zone_dir) = &opts.zone_dir {
            cmd.arg("--zone").arg(zone_dir);
        }
        // Each zone gets its own score database unless the test names one.
        let db_path = log_path.with_extension("db");
        if !opts
            .overrides
            .iter()
            .any(|o| o.to_ascii_lowercase().starts_with("persist:databasepath="))
        {
            cmd.arg("--set")
                .arg(format!("Persist:DatabasePath={}", db_path.display()));
        }
        // Scripted bots are not clients: they fall silent for seconds and
        // flood tests overload the loopback. Lag figures go to the realms
        // only every 600 s unless the test sets `Lag:CheckInterval` (a
        // later `--set` wins).
        cmd.arg("--set").arg("Lag:CheckInterval=60000");
        for o in &opts.overrides {
            cmd.arg("--set").arg(o);
        }
        for (k, v) in &opts.env {
            cmd.env(k, v);
        }
        // Plain text in the log file.
        if std::env::var_os("NO_COLOR").is_none() {
            cmd.env("NO_COLOR", "1");
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log));
        let mut child = cmd
            .spawn()
            .with_context(|| format!("starting {}", exe.display()))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow!("no stdout pipe"))?;
        let (tx, rx) = mpsc::channel();
        // Reads stdout to the end so the pipe never fills; the first
        // listening line goes to the starter.
        std::thread::Builder::new()
            .name("zone-stdout".into())
            .spawn(move || {
                let mut tx = Some(tx);
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if line.starts_with("zone listening") {
                        if let Some(tx) = tx.take() {
                            let _ = tx.send(line);
                        }
                    }
                }
            })
            .context("starting the stdout reader")?;
        let mut zone = TestZone {
            child,
            game: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            ping: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            chat: None,
            metrics: None,
            log_path,
            control_path,
            bin_dir: dir.clone(),
        };
        let line = match rx.recv_timeout(START_TIMEOUT) {
            Ok(line) => line,
            Err(_) => {
                let status = zone.child.try_wait().ok().flatten();
                bail!(
                    "zone-supervisor did not print its listening line within {START_TIMEOUT:?} (exit status {status:?}); log:\n{}",
                    zone.log_tail()
                );
            }
        };
        let (game, ping) = parse_listening(&line).with_context(|| format!("parsing {line:?}"))?;
        zone.game = game;
        zone.ping = ping;
        zone.chat = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("chat="))
            .and_then(|a| a.parse().ok());
        zone.metrics = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("metrics="))
            .and_then(|a| a.parse().ok());
        if opts.default_control {
            zone.control_path = line
                .split_whitespace()
                .find_map(|w| w.strip_prefix("control="))
                .map(PathBuf::from)
                .ok_or_else(|| anyhow!("no control= path in {line:?}"))?;
        }
        Ok(zone)
    }

    /// The game port's address.
    pub fn game_addr(&self) -> SocketAddr {
        self.game
    }

    /// The ping port's address.
    pub fn ping_addr(&self) -> SocketAddr {
        self.ping
    }

    /// The chatnet listener's address, when `Net:ChatListen` is set.
    pub fn chat_addr(&self) -> Option<SocketAddr> {
        self.chat
    }

    /// The metrics and dashboard listener's address, when
    /// `Metrics:Listen` is set.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics
    }

    /// The supervisor's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The control socket's path.
    pub fn control_path(&self) -> &Path {
        &self.control_path
    }

    /// Runs the real operator CLI (`zone-supervisor ARGS --control PATH`)
    /// and returns its standard output; fails if it exits non-zero.
    pub fn cli(&self, args: &[&str]) -> Result<String> {
        let out = Command::new(self.bin_dir.join("zone-supervisor"))
            .args(args)
            .arg("--control")
            .arg(&self.control_path)
            .output()
            .context("running zone-supervisor CLI")?;
        if !out.status.success() {
            bail!(
                "zone-supervisor {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `zone-supervisor stats --json`, parsed.
    pub fn stats(&self) -> Result<serde_json::Value> {
        let text = self.cli(&["stats", "--json"])?;
        serde_json::from_str(text.trim()).with_context(|| format!("stats output {text:?}"))
    }

    /// Sends a signal to the supervisor.
    pub fn signal(&self, sig: nix::sys::signal::Signal) -> Result<()> {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.child.id() as i32), sig)
            .context("signalling the supervisor")
    }

    /// Waits (bounded) for the supervisor to exit and returns its status.
    pub fn wait_exit(&mut self, timeout: Duration) -> Result<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if std::time::Instant::now() >= deadline {
                bail!("the supervisor did not exit within {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Where the supervisor's stderr goes.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The last part of the supervisor's log.
    pub fn log_tail(&self) -> String {
        read_tail(&self.log_path, LOG_TAIL).unwrap_or_else(|e| format!("(log unreadable: {e})"))
    }

    /// Whether the supervisor is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The supervisor's live child processes (zombies excluded): pid and
    /// command line (arguments joined by spaces).
    pub fn children(&self) -> Vec<(u32, String)> {
        children_of(self.pid())
    }

    /// The supervisor's live `realm-worker` children.
    pub fn realm_workers(&self) -> Vec<(u32, String)> {
        self.children()
            .into_iter()
            .filter(|(_, cmd)| {
                cmd.split(' ')
                    .next()
                    .is_some_and(|exe| exe.ends_with("realm-worker"))
            })
            .collect()
    }

    /// Asks the ping port for the population (8-byte request with option
    /// bit 1, `docs/protocol/core-transport.md` §16): `(total, playing)`.
    pub fn ping_population(&self) -> Result<(u32, u32)> {
        ping_population(self.ping)
    }
}

impl Drop for TestZone {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "---- zone-supervisor log ({}) ----\n{}\n---- end of log ----",
                self.log_path.display(),
                self.log_tail()
            );
        } else if std::env::var_os(KEEP_LOGS_ENV).is_some() {
            eprintln!("zone-supervisor log kept: {}", self.log_path.display());
        } else {
            let _ = std::fs::remove_file(&self.log_path);
        }
        for ext in ["db", "db-wal", "db-shm"] {
            let _ = std::fs::remove_file(self.log_path.with_extension(ext));
        }
    }
}

fn parse_listening(line: &str) -> Result<(SocketAddr, SocketAddr)> {
    let mut game = None;
    let mut ping = None;
    for word in line.split_whitespace() {
        if let Some(a) = word.strip_prefix("game=") {
            game = Some(a.parse::<SocketAddr>()?);
        } else if let Some(a) = word.strip_prefix("ping=") {
            ping = Some(a.parse::<SocketAddr>()?);
        }
    }
    Ok((
        game.ok_or_else(|| anyhow!("no game= address"))?,
        ping.ok_or_else(|| anyhow!("no ping= address"))?,
    ))
}

fn read_tail(path: &Path, max: u64) -> std::io::Result<String> {
    let mut f = File::open(path)?;
    let len = f.metadata()?.len();
    f.seek(SeekFrom::Start(len.saturating_sub(max)))?;
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Live (non-zombie) child processes of `parent`: pid and command line
/// (arguments joined by spaces).
pub fn children_of(parent: u32) -> Vec<(u32, String)> {
    proc_sample::children_of(parent)
        .into_iter()
        .map(|pid| (pid, proc_sample::cmdline(pid)))
        .collect()
}

/// Asks a ping port for `(total, playing)`: an 8-byte request with option
/// bit 1; up to [`PING_TRIES`] tries of [`PING_TRY_WAIT`] each.
pub fn ping_population(ping: SocketAddr) -> Result<(u32, u32)> {
    let sock = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).context("binding a ping socket")?;
    sock.set_read_timeout(Some(PING_TRY_WAIT))?;
    let stamp = rand::random::<u32>();
    let mut req = [0u8; 8];
    req[..4].copy_from_slice(&stamp.to_le_bytes());
    req[4..].copy_from_slice(&1u32.to_le_bytes());
    let mut buf = [0u8; 1024];
    for _ in 0..PING_TRIES {
        sock.send_to(&req, ping).context("sending a ping request")?;
        let deadline = Instant::now() + PING_TRY_WAIT;
        while Instant::now() < deadline {
            let Ok((n, from)) = sock.recv_from(&mut buf) else {
                break;
            };
            let r = &buf[..n];
            if from != ping || n < 16 || r[..4] != req[..4] {
                continue;
            }
            let word = |i: usize| u32::from_le_bytes([r[i], r[i + 1], r[i + 2], r[i + 3]]);
            if word(4) & 1 == 0 {
                bail!(
                    "the ping reply does not include the population (options {:#x})",
                    word(4)
                );
            }
            return Ok((word(8), word(12)));
        }
    }
    bail!("no answer from the ping port {ping}")
}

/// Polls `cond` every [`POLL_INTERVAL`] until it holds (true) or `timeout`
/// passes (false). For conditions with no event to wait on, such as the
/// process table.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        std::thread::sleep(POLL_INTERVAL.min(deadline - now));
    }
}
