//! The supervisor's settings: the zone's config (embedded or a folder),
//! command-line overrides, and the typed values the supervisor reads.

use std::collections::HashMap;
use std::net::IpAddr;
use std::ops::{Deref, DerefMut, RangeInclusive};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use conf::{ConfigFile, Origin, Warning, ZoneConfig};
use ss_proto::transport::{InitPolicy, TransportConfig};
use tracing::warn;

use crate::auth::LocalAuth;
use crate::billing::BillingConfig;
use crate::modules::ZoneModules;
use crate::state::RealmPolicy;
use crate::RunArgs;

/// One `Section:Key=Value` override from the command line.
#[derive(Clone, Debug)]
pub struct Override {
    /// Section name.
    pub section: String,
    /// Key name.
    pub key: String,
    /// Value text.
    pub value: String,
}

impl Override {
    /// Parses `Section:Key=Value`.
    pub fn parse(text: &str) -> Result<Override> {
        let (name, value) = text
            .split_once('=')
            .with_context(|| format!("override {text:?} is not Section:Key=Value"))?;
        let (section, key) = name
            .split_once(':')
            .with_context(|| format!("override {text:?} is not Section:Key=Value"))?;
        if section.trim().is_empty() || key.trim().is_empty() {
            bail!("override {text:?} has an empty section or key");
        }
        Ok(Override {
            section: section.trim().to_string(),
            key: key.trim().to_string(),
            value: value.trim().to_string(),
        })
    }
}

/// Everything the supervisor needs to run, read once at start. The fields
/// here are fixed for the life of the process (sockets, paths, billing, the
/// database); what a reload may change is in [`RuntimeSettings`], reachable
/// directly through `Deref` (`settings.max_connections`).
#[derive(Clone, Debug)]
pub struct Settings {
    /// The zone folder, or `None` for the embedded default zone.
    pub zone_dir: Option<PathBuf>,
    /// Command-line overrides (also passed to every realm worker).
    pub overrides: Vec<Override>,
    /// Bind address of the game and ping sockets.
    pub bind: IpAddr,
    /// Game port; 0 = pick a free pair.
    pub port: u16,
    /// The realm-worker binary.
    pub worker_path: PathBuf,
    /// Path of the control socket.
    pub control_path: PathBuf,
    /// Whether failing to bind the control socket stops the zone: when the
    /// operator chose its path (`--control`) or it is the zone folder's own.
    pub control_required: bool,
    /// Whether the control socket's folder is a default one, which must be
    /// this user's with mode 0700 (created so if absent).
    pub control_dir_private: bool,
    /// Interval of keepalive packets to players in arenas.
    pub keepalive: Duration,
    /// The billing server link (`[Billing]`).
    pub billing: BillingConfig,
    /// What the zone folder's `modules.conf` switches on.
    pub modules: ZoneModules,
    /// The metrics and dashboard listener (`[Metrics]`).
    pub web: crate::web::WebConfig,
    /// Where and how scores are kept.
    pub persist: PersistSettings,
    /// The chatnet listener (`Net:ChatListen` and its limits).
    pub chatnet: crate::chatnet::ChatnetConfig,
    /// The command line the settings came from (for reloads).
    pub args: RunArgs,
    /// What a reload re-reads and replaces as a whole.
    pub runtime: RuntimeSettings,
}

/// The settings a reload (`zone-supervisor reload`, SIGHUP) replaces: read
/// afresh, validated, then swapped in as one value.
#[derive(Clone, Debug)]
pub struct RuntimeSettings {
    /// Transport tunables for player connections.
    pub transport: TransportConfig,
    /// How connection requests are answered.
    pub init_policy: InitPolicy,
    /// How realms are watched, restarted and stopped.
    pub realm_policy: RealmPolicy,
    /// Most connections at once.
    pub max_connections: usize,
    /// Most connections from one IP address (0 = no limit).
    pub max_connections_per_ip: usize,
    /// Most connections that have not logged in yet; when full, the oldest
    /// one that has sent nothing since its connection request makes room.
    pub max_pending: usize,
    /// How long a connection may take to log in.
    pub login_timeout: Duration,
    /// How long a connection's unreliable packets may wait to be grouped
    /// with later ones into one datagram (`Net:FlushDelayMillis`,
    /// `Net:DatagramBudget`, `Net:MaxFlushDelayMillis`; see `crate::flush`).
    pub flush: crate::flush::FlushPolicy,
    /// The supervisor relays plain positions (and weapons where the realm
    /// allows) itself by the realms' rules (`Net:SupervisorRelay`; see
    /// `crate::fastpath`).
    pub supervisor_relay: bool,
    /// Threads that make the game socket's send system calls
    /// (`Net:SendThreads`, read at start; 0 = the zone thread sends;
    /// see `crate::outbox`).
    pub send_threads: usize,
    /// Local passwords (`passwd.conf`).
    pub auth: LocalAuth,
    /// The zone's config source (arena configs are read for score groups).
    pub zone: ZoneConfig,
    /// Directory servers to announce the zone to (`[Directory]`).
    pub directory: crate::directory::DirectoryConfig,
    /// The news file (`General:NewsFile`), re-read on reload.
    pub news: crate::news::News,
    /// Continuum's update file (`clients/update.exe`), re-read on reload.
    pub update: crate::update::UpdateFile,
    /// How often each player's lag figures go to his realm
    /// (`Lag:CheckInterval`, ticks of 10 ms as in ASSS).
    pub lag_check_interval: Duration,
}

impl Deref for Settings {
    type Target = RuntimeSettings;

    fn deref(&self) -> &RuntimeSettings {
        &self.runtime
    }
}

impl DerefMut for Settings {
    fn deref_mut(&mut self) -> &mut RuntimeSettings {
        &mut self.runtime
    }
}

/// The `[Persist]` settings.
#[derive(Clone, Debug)]
pub struct PersistSettings {
    /// Keep scores in the database (`Persist:Enabled`, default on).
    pub enabled: bool,
    /// The SQLite file (`Persist:DatabasePath`, default `data/zone.db` in
    /// the zone folder, or in the working folder for the embedded zone).
    pub path: PathBuf,
    /// End the "reset" interval of every score group this often
    /// (`Persist:ResetIntervalSeconds`; 0 = never).
    pub reset_every: Option<Duration>,
}

/// The label warnings give values that came from `--set`.
pub const OVERRIDE_ORIGIN: &str = "--set";

/// Applies overrides to a parsed config file.
pub fn apply_overrides(file: &mut ConfigFile, overrides: &[Override]) {
    for o in overrides {
        let origin = Origin {
            file: OVERRIDE_ORIGIN.into(),
            line: 0,
        };
        file.set_from(&o.section, &o.key, &o.value, origin);
    }
}

/// Opens the zone's config source.
pub fn open_zone(zone_dir: Option<&PathBuf>) -> Result<ZoneConfig> {
    match zone_dir {
        Some(dir) => ZoneConfig::open_dir(dir)
            .with_context(|| format!("reading the zone config in {}", dir.display())),
        None => ZoneConfig::embedded().context("reading the embedded default zone"),
    }
}

/// Reads typed settings from the global config, collecting one warning
/// per value that does not parse or is out of range (the default is used
/// instead).
pub struct Reader<'a> {
    file: &'a ConfigFile,
    /// Warnings so far.
    pub warnings: Vec<Warning>,
}

impl<'a> Reader<'a> {
    /// A reader of `file`.
    pub fn new(file: &'a ConfigFile) -> Reader<'a> {
        Reader {
            file,
            warnings: Vec::new(),
        }
    }

    /// An integer in `range`, else `default` (with a warning).
    pub fn int(
        &mut self,
        section: &str,
        key: &str,
        default: i64,
        range: RangeInclusive<i64>,
    ) -> i64 {
        let (v, w) = self.file.get_int_checked(section, key, default, range);
        self.warnings.extend(w);
        v
    }

    /// A yes/no setting.
    pub fn bool(&mut self, section: &str, key: &str, default: bool) -> bool {
        let (v, w) = self.file.get_bool_checked(section, key, default);
        self.warnings.extend(w);
        v
    }

    /// A count in `range` (which must not go below 0).
    pub fn count(
        &mut self,
        section: &str,
        key: &str,
        default: i64,
        range: RangeInclusive<i64>,
    ) -> usize {
        debug_assert!(*range.start() >= 0);
        self.int(section, key, default, range) as usize
    }

    /// A duration given in milliseconds, in `range`.
    pub fn millis(
        &mut self,
        section: &str,
        key: &str,
        default: i64,
        range: RangeInclusive<i64>,
    ) -> Duration {
        debug_assert!(*range.start() >= 0);
        Duration::from_millis(self.int(section, key, default, range) as u64)
    }

    /// A non-empty string setting.
    pub fn text(&self, section: &str, key: &str) -> Option<&'a str> {
        self.file
            .get_str(section, key)
            .filter(|s| !s.trim().is_empty())
    }

    /// `Section:Key = value` with where it was set, for error messages.
    pub fn describe(&self, section: &str, key: &str, value: impl std::fmt::Display) -> String {
        match self.file.origin(section, key) {
            Some(o) => format!("{o}: {section}:{key} = {value}"),
            None => format!("{section}:{key} = {value} (default)"),
        }
    }
}

/// A file with more unknown keys than this gets one warning line for all
/// of them instead of one each: ASSS's stock zone carries `conf/svs/`
/// files of the old subgame server with dozens of keys no server reads.
pub const UNKNOWN_KEYS_PER_FILE: usize = 5;

/// The log lines for the config warnings: each warning as it is, except a
/// file's unknown keys past [`UNKNOWN_KEYS_PER_FILE`], which are folded
/// into one line (at the place of the file's first) naming every key with
/// its line.
pub fn warning_lines(warnings: &[Warning]) -> Vec<String> {
    let mut per_file: HashMap<&str, Vec<(usize, &str)>> = HashMap::new();
    for w in warnings {
        if let Warning::UnknownSetting { file, line, name } = w {
            per_file.entry(file).or_default().push((*line, name));
        }
    }
    let mut lines = Vec::with_capacity(warnings.len());
    for w in warnings {
        let Warning::UnknownSetting { file, .. } = w else {
            lines.push(w.to_string());
            continue;
        };
        let Some(keys) = per_file.get(file.as_str()) else {
            // Folded into a line already written.
            continue;
        };
        if keys.len() <= UNKNOWN_KEYS_PER_FILE {
            lines.push(w.to_string());
            continue;
        }
        let named: Vec<String> = keys
            .iter()
            .map(|(line, name)| {
                if *line == 0 {
                    name.to_string()
                } else {
                    format!("{name} (line {line})")
                }
            })
            .collect();
        lines.push(format!(
            "{file}: {} keys are not settings Subsumption knows; nothing reads them: {}",
            keys.len(),
            named.join(", ")
        ));
        per_file.remove(file.as_str());
    }
    lines
}

impl Settings {
    /// Reads the settings for `zone-supervisor run` (and for a reload),
    /// logging every warning about the config. Fails on what cannot run:
    /// a zone folder without `global.conf`, settings that contradict each
    /// other, a bad bind address.
    pub fn load(args: &RunArgs) -> Result<Settings> {
        let (settings, warnings) = Settings::read(args)?;
        for line in warning_lines(&warnings) {
            warn!("config: {line}");
        }
        Ok(settings)
    }

    /// [`load`](Self::load) without logging: the settings and the
    /// warnings about the config.
    pub fn read(args: &RunArgs) -> Result<(Settings, Vec<Warning>)> {
        let overrides = args
            .overrides
            .iter()
            .map(|o| Override::parse(o))
            .collect::<Result<Vec<_>>>()?;
        let zone = open_zone(args.zone.as_ref())?;
        let mut global = (**zone.global()).clone();
        apply_overrides(&mut global, &overrides);
        let mut r = Reader::new(&global);
        r.warnings.extend(global.warnings().iter().cloned());
        let modules = ZoneModules::read(args.zone.as_deref())?;
        let mut persist = persist_settings(&mut r, args.zone.as_ref());
        persist.enabled &= modules.enabled("persist");

        let bind = match &args.bind {
            Some(text) => text
                .parse()
                .with_context(|| format!("--bind {text:?} is not an IP address"))?,
            None => match r.text("Listen", "BindAddress") {
                // Refused rather than defaulted: listening on every
                // interface is not a safe stand-in for a mistyped address.
                Some(text) => text.trim().parse().with_context(|| {
                    format!(
                        "{} is not an IP address",
                        r.describe("Listen", "BindAddress", text)
                    )
                })?,
                None => IpAddr::from([0, 0, 0, 0]),
            },
        };
        // The ping port is one above the game port.
        let port_setting = r.int("Listen", "Port", 5000, 0..=65534) as u16;
        let port = args.port.unwrap_or(port_setting);
        if port == u16::MAX {
            bail!("--port 65535 leaves no room for the ping port (one above)");
        }
        let worker_path = match &args.worker {
            Some(p) => p.clone(),
            None => match r.text("Realms", "WorkerPath") {
                Some(p) => PathBuf::from(p),
                None => std::env::current_exe()
                    .context("locating this binary")?
                    .with_file_name("realm-worker"),
            },
        };
        let ticks = |r: &mut Reader, key: &str, default: i64, range: RangeInclusive<i64>| {
            Duration::from_millis(r.int("Net", key, default, range) as u64 * 10)
        };
        let transport = TransportConfig {
            drop_timeout: ticks(&mut r, "DropTimeout", 3000, 10..=360_000),
            max_retries: r.int("Net", "MaxRetries", 15, 1..=1000) as u32,
            max_outgoing: r.count("Net", "MaxOutlistSize", 500, 10..=100_000),
            send_window: r.count("Net", "SendAtOnce", 30, 1..=255),
            max_big_packet: r.count("Net", "MaxBigPacket", 65536, 1024..=1 << 20),
            ..TransportConfig::default()
        };
        let init_policy = InitPolicy {
            allow_vie: r.bool("Listen", "AllowVIE", true),
            allow_continuum: r.bool("Listen", "AllowCont", true),
            vie_encrypt: r.bool("Net", "VIEEncryption", true),
            continuum_vie: r.bool("Net", "ContinuumVIE", false),
        };
        let realm_policy = realm_policy(&mut r)?;
        let news_file = r
            .text("General", "NewsFile")
            .unwrap_or("news.txt")
            .trim()
            .to_string();
        let (news, news_warning) = crate::news::News::load(&zone, &news_file);
        r.warnings.extend(news_warning);
        let (update, update_warning) = crate::update::UpdateFile::load(&zone);
        r.warnings.extend(update_warning);
        let lag_check_interval = r.millis("Lag", "CheckInterval", 300, 10..=60_000) * 10;
        let runtime = RuntimeSettings {
            news,
            update,
            lag_check_interval,
            transport,
            init_policy,
            max_connections: r.count("Net", "MaxConnections", 1000, 1..=32000),
            max_connections_per_ip: r.count("Net", "MaxConnectionsPerIp", 0, 0..=32000),
            max_pending: r.count("Net", "MaxPendingConnections", 200, 1..=32000),
            login_timeout: r.millis("Net", "LoginTimeoutMillis", 10_000, 100..=600_000),
            flush: crate::flush::FlushPolicy::from_settings(
                r.millis("Net", "FlushDelayMillis", 0, 0..=100),
                r.count("Net", "DatagramBudget", 8000, 0..=10_000_000) as u32,
                r.millis("Net", "MaxFlushDelayMillis", 6, 0..=100),
            ),
            supervisor_relay: r.bool("Net", "SupervisorRelay", true),
            send_threads: r.count(
                "Net",
                "SendThreads",
                0,
                0..=crate::outbox::MAX_SEND_THREADS as i64,
            ),
            // Without ASSS's `auth_file` module, passwd.conf is not read
            // (everyone may log in, unauthenticated, as ASSS would let them).
            auth: LocalAuth::new(
                zone.load_file("passwd.conf")
                    .ok()
                    .filter(|_| modules.enabled("auth_file"))
                    .inspect(|f| {
                        r.warnings.extend(f.warnings().iter().cloned());
                    }),
            ),
            zone: zone.clone(),
            realm_policy,
            directory: {
                let (mut d, w) = crate::directory::DirectoryConfig::read(&global);
                r.warnings.extend(w);
                // ASSS's modules.conf decides (see modules.rs).
                if !modules.enabled("directory") {
                    d.servers.clear();
                }
                d
            },
        };
        let (mut chatnet, w) = crate::chatnet::ChatnetConfig::read(&global);
        if !modules.enabled("chatnet") {
            chatnet.listen = None;
        }
        let mut warnings = r.warnings;
        warnings.extend(w);
        warnings.extend(check_arenas(
            &zone,
            args.zone.as_deref(),
            &runtime.realm_policy,
        ));
        warnings.extend(check_keys(
            &zone,
            args.zone.as_deref(),
            &runtime.realm_policy,
            &overrides,
        ));
        let settings = Settings {
            zone_dir: args.zone.clone(),
            overrides,
            bind,
            port,
            worker_path,
            control_path: match &args.control {
                Some(p) => p.clone(),
                None => crate::control::default_path(args.zone.as_deref()),
            },
            control_required: args.control.is_some() || args.zone.is_some(),
            control_dir_private: args.control.is_none(),
            keepalive: Duration::from_secs(5),
            persist,
            chatnet,
            args: args.clone(),
            billing: {
                let mut billing = BillingConfig::load(&global);
                if !modules.enabled("billing_ssc") {
                    billing.addr = None;
                }
                billing
            },
            modules,
            web: crate::web::WebConfig::read(&global)?,
            runtime,
        };
        Ok((settings, warnings))
    }
}

/// Problems with the zone's arenas that would otherwise only show when a
/// player enters one: every arena folder under `arenas/` and the default
/// arena.
fn check_arenas(zone: &ZoneConfig, zone_dir: Option<&Path>, policy: &RealmPolicy) -> Vec<Warning> {
    arena_names(zone_dir, policy)
        .iter()
        .flat_map(|n| zone.check_arena(n))
        .collect()
}

/// The arenas whose config the zone checks at start: every folder under
/// `arenas/` and the default arena.
fn arena_names(zone_dir: Option<&Path>, policy: &RealmPolicy) -> Vec<String> {
    let mut names = Vec::new();
    if let Some(dir) = zone_dir {
        if let Ok(entries) = std::fs::read_dir(dir.join("arenas")) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if e.path().is_dir() && name != "(default)" {
                    names.push(name);
                }
            }
        }
    }
    names.sort();
    let default_base = conf::base_name(&policy.default_arena);
    if !names.iter().any(|n| n == default_base) {
        names.push(policy.default_arena.clone());
    }
    names
}

/// Keys nothing reads (docs/protocol/config.md §10): in `global.conf`, in
/// every arena's config (each file and key once, however many arenas
/// include it) and in `--set`; one warning each, naming the file and line.
/// ASSS settings Subsumption does not implement are named together in
/// one warning.
fn check_keys(
    zone: &ZoneConfig,
    zone_dir: Option<&Path>,
    policy: &RealmPolicy,
    overrides: &[Override],
) -> Vec<Warning> {
    use conf::registry::{check_file, lookup, Scope, Status};
    let mut warnings: Vec<Warning> = Vec::new();
    let mut ignored: Vec<String> = Vec::new();
    let mut add = |(w, i): (Vec<Warning>, Vec<String>)| {
        for w in w {
            if !warnings.contains(&w) {
                warnings.push(w);
            }
        }
        for name in i {
            if !ignored.contains(&name) {
                ignored.push(name);
            }
        }
    };
    add(check_file(zone.global(), Scope::Global));
    for name in arena_names(zone_dir, policy) {
        if let Ok(arena) = zone.load_arena(&name) {
            add(check_file(arena.file(), Scope::Arena));
        }
    }
    for o in overrides {
        let name = format!("{}:{}", o.section, o.key);
        match lookup(&o.section, &o.key) {
            None => warnings.push(Warning::UnknownSetting {
                file: OVERRIDE_ORIGIN.to_string(),
                line: 0,
                name,
            }),
            Some(k) if k.status == Status::NotImplemented && !ignored.contains(&name) => {
                ignored.push(name)
            }
            Some(_) => {}
        }
    }
    if !ignored.is_empty() {
        warnings.push(Warning::NotImplemented { names: ignored });
    }
    warnings
}

/// Reads the `[Realms]` policy; fails if its timings contradict each
/// other.
fn realm_policy(r: &mut Reader) -> Result<RealmPolicy> {
    let policy = RealmPolicy {
        idle_stop: r.millis("Realms", "IdleStopMillis", 30_000, 0..=86_400_000),
        heartbeat: r.millis("Realms", "HeartbeatMillis", 500, 50..=60_000),
        heartbeat_timeout: r.millis("Realms", "HeartbeatTimeoutMillis", 3_000, 200..=600_000),
        restart_limit: r.int("Realms", "RestartLimit", 5, 0..=1000) as u32,
        restart_window: Duration::from_secs(
            r.int("Realms", "RestartWindowSeconds", 60, 1..=86_400) as u64,
        ),
        backoff_base: r.millis("Realms", "RestartBackoffMillis", 250, 0..=600_000),
        backoff_max: r.millis("Realms", "RestartBackoffMaxMillis", 10_000, 0..=3_600_000),
        default_arena: r
            .text("Realms", "DefaultArena")
            .map(crate::zone::sanitize_arena_name)
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "0".to_string()),
        max_ipc_bytes_per_sec: r.int(
            "Realms",
            "MaxIpcBytesPerSecond",
            64 << 20,
            1 << 16..=1 << 34,
        ) as u64,
        ipc_queue_max_bytes: r.int("Realms", "IpcQueueMaxBytes", 1 << 20, 1 << 12..=1 << 30) as u64,
    };
    // A healthy realm answers a heartbeat up to one interval after the
    // previous answer; a timeout under two intervals kills healthy realms.
    if policy.heartbeat_timeout < policy.heartbeat * 2 {
        bail!(
            "{} must be at least twice {} (realms would be killed while healthy)",
            r.describe(
                "Realms",
                "HeartbeatTimeoutMillis",
                policy.heartbeat_timeout.as_millis()
            ),
            r.describe("Realms", "HeartbeatMillis", policy.heartbeat.as_millis()),
        );
    }
    if policy.backoff_base > policy.backoff_max {
        bail!(
            "{} is longer than {}",
            r.describe(
                "Realms",
                "RestartBackoffMillis",
                policy.backoff_base.as_millis()
            ),
            r.describe(
                "Realms",
                "RestartBackoffMaxMillis",
                policy.backoff_max.as_millis()
            ),
        );
    }
    Ok(policy)
}

/// Reads the `[Persist]` settings.
pub fn persist_settings(r: &mut Reader, zone_dir: Option<&PathBuf>) -> PersistSettings {
    let base = zone_dir.cloned().unwrap_or_else(|| PathBuf::from("."));
    let path = match r.text("Persist", "DatabasePath") {
        Some(p) => {
            let p = PathBuf::from(p);
            if p.is_absolute() {
                p
            } else {
                base.join(p)
            }
        }
        None => base.join("data").join("zone.db"),
    };
    let every = r.int(
        "Persist",
        "ResetIntervalSeconds",
        0,
        0..=i64::from(i32::MAX),
    );
    PersistSettings {
        enabled: r.bool("Persist", "Enabled", true),
        path,
        reset_every: (every > 0).then(|| Duration::from_secs(every as u64)),
    }
}

/// The score group of an arena: `General:ScoreGroup`, else its base name
/// (`docs/protocol/persistence.md` §1.2).
pub fn score_group(zone: &ZoneConfig, arena: &str) -> String {
    zone.load_arena(arena)
        .ok()
        .and_then(|a| a.get_str("General", "ScoreGroup").map(str::to_string))
        .filter(|g| !g.is_empty())
        .unwrap_or_else(|| conf::base_name(arena).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(zone: Option<PathBuf>, overrides: &[&str]) -> RunArgs {
        RunArgs {
            zone,
            bind: None,
            port: None,
            overrides: overrides.iter().map(|s| s.to_string()).collect(),
            worker: Some(PathBuf::from("/nonexistent/realm-worker")),
            control: Some(PathBuf::from("/nonexistent/control.sock")),
        }
    }

    fn messages(warnings: &[Warning]) -> Vec<String> {
        warnings.iter().map(ToString::to_string).collect()
    }

    /// A copy of the default zone in a fresh folder.
    fn zone_folder(tag: &str) -> PathBuf {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "zs-config-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        conf::write_default_zone(&dir, false).expect("default zone");
        dir
    }

    fn append(path: &Path, text: &str) {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .expect("open");
        f.write_all(text.as_bytes()).expect("write");
    }

    #[test]
    fn defaults_read_cleanly() {
        let (s, warnings) = Settings::read(&args(None, &[])).expect("settings");
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(s.port, 5000);
        assert_eq!(s.max_connections, 1000);
        assert_eq!(s.realm_policy.heartbeat_timeout, Duration::from_secs(3));
    }

    /// The default flush policy is the one BENCHMARKS.md ("eighth
    /// session") settled on. In a 40-player arena at 10 Hz a receiver's
    /// hold stays under 2.5 ms: with the 1 ms grid and an independent
    /// client's own time, the p99 still has to come in under 5 ms. A
    /// 200-player arena waits the whole 6 ms cap, and 4 players never wait.
    #[test]
    fn the_default_flush_policy_keeps_small_zones_quick_and_caps_big_ones() {
        let (s, _) = Settings::read(&args(None, &[])).expect("settings");
        let forty = s.flush.hold(39.0 * 10.0, 40);
        assert!(
            forty > Duration::from_millis(2) && forty < Duration::from_micros(2500),
            "{forty:?}"
        );
        assert_eq!(s.flush.hold(199.0 * 10.0, 200), Duration::from_millis(6));
        assert_eq!(s.flush.hold(3.0 * 10.0, 4), Duration::ZERO);
    }

    #[test]
    fn bad_numbers_warn_and_use_the_default() {
        let (s, warnings) = Settings::read(&args(
            None,
            &[
                "Listen:Port=abc",
                "Net:MaxConnections=lots",
                "Realms:HeartbeatTimeoutMillis=abc",
                "Net:FlushDelayMillis=500",
                "Listen:AllowVIE=perhaps",
            ],
        ))
        .expect("settings");
        assert_eq!(s.port, 5000);
        assert_eq!(s.max_connections, 1000);
        assert_eq!(s.realm_policy.heartbeat_timeout, Duration::from_secs(3));
        assert!(matches!(
            s.flush,
            crate::flush::FlushPolicy::Adaptive { .. }
        ));
        assert!(s.init_policy.allow_vie);
        let mut got = messages(&warnings);
        got.sort();
        assert_eq!(
            got,
            [
                "--set: Listen:AllowVIE = \"perhaps\" is not yes or no; using yes",
                "--set: Listen:Port = \"abc\" is not a whole number; using 5000",
                "--set: Net:FlushDelayMillis = \"500\" is outside the range 0..=100; using 0",
                "--set: Net:MaxConnections = \"lots\" is not a whole number; using 1000",
                "--set: Realms:HeartbeatTimeoutMillis = \"abc\" is not a whole number; using 3000",
            ]
        );
    }

    #[test]
    fn warnings_name_the_file_and_line() {
        let dir = zone_folder("lines");
        let global = dir.join("conf").join("global.conf");
        let lines = std::fs::read_to_string(&global)
            .expect("read")
            .lines()
            .count();
        append(&global, "\n[Net]\nMaxConnections = lots\nthis is garbage\n");
        let (s, warnings) = Settings::read(&args(Some(dir.clone()), &[])).expect("settings");
        assert_eq!(s.max_connections, 1000);
        assert_eq!(
            messages(&warnings),
            [
                format!("conf/global.conf:{}: not a setting: \"this is garbage\"", lines + 4),
                format!(
                    "conf/global.conf:{}: Net:MaxConnections = \"lots\" is not a whole number; using 1000",
                    lines + 3
                ),
            ]
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn keys_nothing_reads_are_named_once_with_file_and_line() {
        let dir = zone_folder("unknown");
        // The zone as `init` writes it has none.
        let (_, warnings) = Settings::read(&args(Some(dir.clone()), &[])).expect("settings");
        assert!(warnings.is_empty(), "{warnings:?}");
        let global = dir.join("conf").join("global.conf");
        let lines = std::fs::read_to_string(&global)
            .expect("read")
            .lines()
            .count();
        append(&global, "\n[Net]\nLimitMaximum = 102400\n");
        // Two arenas share the default arena file; its key is named once.
        let shared = dir.join("arenas").join("(default)").join("arena.conf");
        append(
            &shared,
            "\n[Misc]\nBounceFactr = 22\n[Soccer]\nKillerIgnorePassDelay = 1\n",
        );
        std::fs::create_dir_all(dir.join("arenas").join("duel")).expect("mkdir");
        std::fs::write(
            dir.join("arenas").join("duel").join("arena.conf"),
            "#include arenas/(default)/arena.conf\n[Net]\nMaxConnections = 5\n",
        )
        .expect("write");
        let (_, warnings) = Settings::read(&args(
            Some(dir.clone()),
            &["Nonsense:Key=1", "Soccer:KillerIgnorePassDelay=2"],
        ))
        .expect("settings");
        let shared_lines = std::fs::read_to_string(&shared)
            .expect("read")
            .lines()
            .count();
        assert_eq!(
            messages(&warnings),
            [
                format!(
                    "conf/global.conf:{}: Net:LimitMaximum is not a setting Subsumption knows; nothing reads it",
                    lines + 3
                ),
                format!(
                    "arenas/(default)/arena.conf:{}: Misc:BounceFactr is not a setting Subsumption knows; nothing reads it",
                    shared_lines - 2
                ),
                "arenas/duel/arena.conf:3: Net:MaxConnections is a global setting; nothing reads it from this file".to_string(),
                "--set: Nonsense:Key is not a setting Subsumption knows; nothing reads it".to_string(),
                "1 ASSS setting(s) set in this zone are not implemented by Subsumption and have no effect: Soccer:KillerIgnorePassDelay".to_string(),
            ]
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn missing_map_and_arena_config_are_reported() {
        let dir = zone_folder("arenas");
        std::fs::create_dir_all(dir.join("arenas").join("duel")).expect("mkdir");
        std::fs::write(
            dir.join("arenas").join("duel").join("arena.conf"),
            "[General]\nMap = nowhere.lvl\n",
        )
        .expect("write");
        let (_, warnings) = Settings::read(&args(Some(dir.clone()), &[])).expect("settings");
        let got = messages(&warnings);
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(
            got[0].starts_with(
                "arenas/duel/arena.conf:2: arena 'duel': map file 'nowhere.lvl' not found"
            ),
            "{got:?}"
        );
        // Without any arena.conf the default arena cannot start.
        std::fs::remove_dir_all(dir.join("arenas")).expect("rm");
        let _ = std::fs::remove_file(dir.join("conf").join("arena.conf"));
        let (_, warnings) = Settings::read(&args(Some(dir.clone()), &[])).expect("settings");
        let got = messages(&warnings);
        assert!(
            got.iter()
                .any(|w| w.starts_with("arena '0': config file 'arena.conf' not found")),
            "{got:?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn contradicting_realm_timings_are_refused() {
        let err = Settings::read(&args(None, &["Realms:HeartbeatTimeoutMillis=400"]))
            .expect_err("refused");
        assert_eq!(
            format!("{err:#}"),
            "--set: Realms:HeartbeatTimeoutMillis = 400 must be at least twice \
             Realms:HeartbeatMillis = 500 (default) (realms would be killed while healthy)"
        );
        let err = Settings::read(&args(
            None,
            &[
                "Realms:RestartBackoffMillis=5000",
                "Realms:RestartBackoffMaxMillis=1000",
            ],
        ))
        .expect_err("refused");
        assert!(
            format!("{err:#}").contains("RestartBackoffMillis"),
            "{err:#}"
        );
        // Consistent values are fine.
        Settings::read(&args(
            None,
            &[
                "Realms:HeartbeatMillis=100",
                "Realms:HeartbeatTimeoutMillis=800",
            ],
        ))
        .expect("accepted");
    }

    #[test]
    fn a_bad_bind_address_is_refused() {
        let err =
            Settings::read(&args(None, &["Listen:BindAddress=localhost"])).expect_err("refused");
        assert!(
            format!("{err:#}").starts_with("--set: Listen:BindAddress = localhost is not an IP"),
            "{err:#}"
        );
    }

    #[test]
    fn runtime_settings_are_one_value() {
        let (mut s, _) = Settings::read(&args(None, &[])).expect("settings");
        let (fresh, _) = Settings::read(&args(
            None,
            &["Net:MaxConnections=7", "Net:LoginTimeoutMillis=500"],
        ))
        .expect("settings");
        s.runtime = fresh.runtime;
        assert_eq!(s.max_connections, 7);
        assert_eq!(s.login_timeout, Duration::from_millis(500));
    }

    #[test]
    fn a_files_many_unknown_keys_make_one_line_and_a_few_stay_apart() {
        let unknown = |file: &str, line: usize, name: &str| Warning::UnknownSetting {
            file: file.into(),
            line,
            name: name.into(),
        };
        let mut warnings = vec![unknown("conf/global.conf", 3, "Net:Typo")];
        for i in 0..=UNKNOWN_KEYS_PER_FILE {
            warnings.push(unknown("conf/svs/misc", 40 + i, &format!("Old:Key{i}")));
        }
        warnings.push(Warning::NotImplemented {
            names: vec!["Flag:GameType".into()],
        });
        let lines = warning_lines(&warnings);
        assert_eq!(lines.len(), 3, "{lines:#?}");
        assert_eq!(lines[0], warnings[0].to_string());
        assert!(
            lines[1].starts_with(&format!(
                "conf/svs/misc: {} keys are not settings Subsumption knows; nothing reads them: Old:Key0 (line 40), Old:Key1 (line 41)",
                UNKNOWN_KEYS_PER_FILE + 1
            )),
            "{}",
            lines[1]
        );
        assert_eq!(lines[2], warnings.last().unwrap().to_string());
        // At the limit, one line each.
        let few: Vec<Warning> = (0..UNKNOWN_KEYS_PER_FILE)
            .map(|i| unknown("arenas/a/arena.conf", i + 1, "X:Y"))
            .collect();
        assert_eq!(warning_lines(&few).len(), UNKNOWN_KEYS_PER_FILE);
    }
}
