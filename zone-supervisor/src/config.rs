//! The supervisor's settings: the zone's config (embedded or a folder),
//! command-line overrides, and the typed values the supervisor reads.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use conf::{ConfigFile, ZoneConfig};
use ss_proto::transport::{InitPolicy, TransportConfig};

use crate::auth::LocalAuth;
use crate::billing::BillingConfig;
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

/// Everything the supervisor needs to run, read once at start (and again on
/// reload).
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
    /// Transport tunables for player connections.
    pub transport: TransportConfig,
    /// How connection requests are answered.
    pub init_policy: InitPolicy,
    /// How realms are watched, restarted and stopped.
    pub realm_policy: RealmPolicy,
    /// Path of the control socket.
    pub control_path: PathBuf,
    /// Whether the operator chose the control path (then failing to bind
    /// it stops the zone).
    pub control_path_given: bool,
    /// Most connections at once.
    pub max_connections: usize,
    /// Most connections from one IP address (0 = no limit).
    pub max_connections_per_ip: usize,
    /// Most connections that have not logged in yet; when full, the oldest
    /// one that has sent nothing since its connection request makes room.
    pub max_pending: usize,
    /// How long a connection may take to log in.
    pub login_timeout: Duration,
    /// Interval of keepalive packets to players in arenas.
    pub keepalive: Duration,
    /// How long a connection's unreliable packets may wait to be grouped
    /// with later ones into one datagram (`Net:FlushDelayMillis`; 0 = send
    /// at the end of every loop pass).
    pub flush_delay: Duration,
    /// Local passwords (`passwd.conf`).
    pub auth: LocalAuth,
    /// The billing server link (`[Billing]`).
    pub billing: BillingConfig,
    /// Where and how scores are kept.
    pub persist: PersistSettings,
    /// The zone's config source (arena configs are read for score groups).
    pub zone: ZoneConfig,
    /// The command line the settings came from (for reloads).
    pub args: RunArgs,
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

/// Applies overrides to a parsed config file.
pub fn apply_overrides(file: &mut ConfigFile, overrides: &[Override]) {
    for o in overrides {
        file.set(&o.section, &o.key, &o.value);
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

impl Settings {
    /// Reads the settings for `zone-supervisor run`.
    pub fn load(args: &RunArgs) -> Result<Settings> {
        let overrides = args
            .overrides
            .iter()
            .map(|o| Override::parse(o))
            .collect::<Result<Vec<_>>>()?;
        let zone = open_zone(args.zone.as_ref())?;
        let mut global = (**zone.global()).clone();
        apply_overrides(&mut global, &overrides);
        let persist = persist_settings(&global, args.zone.as_ref());

        let bind_text = args
            .bind
            .clone()
            .or_else(|| global.get_str("Listen", "BindAddress").map(str::to_string))
            .unwrap_or_else(|| "0.0.0.0".to_string());
        let bind: IpAddr = bind_text
            .parse()
            .with_context(|| format!("bind address {bind_text:?} is not an IP address"))?;
        let port_setting = global.get_int("Listen", "Port", 5000);
        let port = match args.port {
            Some(p) => p,
            None => u16::try_from(port_setting)
                .with_context(|| format!("Listen:Port {port_setting} is not a port number"))?,
        };
        let worker_path = match &args.worker {
            Some(p) => p.clone(),
            None => match global.get_str("Realms", "WorkerPath") {
                Some(p) if !p.is_empty() => PathBuf::from(p),
                _ => std::env::current_exe()
                    .context("locating this binary")?
                    .with_file_name("realm-worker"),
            },
        };
        let ticks = |key: &str, default: i32| {
            Duration::from_millis(global.get_int("Net", key, default).max(1) as u64 * 10)
        };
        let transport = TransportConfig {
            drop_timeout: ticks("DropTimeout", 3000),
            max_retries: global.get_int("Net", "MaxRetries", 15).clamp(1, 1000) as u32,
            max_outgoing: global
                .get_int("Net", "MaxOutlistSize", 500)
                .clamp(10, 100_000) as usize,
            send_window: global.get_int("Net", "SendAtOnce", 30).clamp(1, 255) as usize,
            max_big_packet: global
                .get_int("Net", "MaxBigPacket", 65536)
                .clamp(1024, 1 << 20) as usize,
            ..TransportConfig::default()
        };
        let init_policy = InitPolicy {
            allow_vie: global.get_bool("Listen", "AllowVIE", true),
            allow_continuum: global.get_bool("Listen", "AllowCont", true),
            vie_encrypt: global.get_bool("Net", "VIEEncryption", true),
            continuum_vie: global.get_bool("Net", "ContinuumVIE", false),
        };
        Ok(Settings {
            zone_dir: args.zone.clone(),
            overrides,
            bind,
            port,
            worker_path,
            transport,
            init_policy,
            realm_policy: realm_policy(&global),
            control_path: args
                .control
                .clone()
                .unwrap_or_else(crate::control::default_path),
            control_path_given: args.control.is_some(),
            max_connections: global
                .get_int("Net", "MaxConnections", 1000)
                .clamp(1, 32000) as usize,
            max_connections_per_ip: global.get_int("Net", "MaxConnectionsPerIp", 0).max(0) as usize,
            max_pending: global
                .get_int("Net", "MaxPendingConnections", 200)
                .clamp(1, 32000) as usize,
            login_timeout: Duration::from_millis(
                global.get_int("Net", "LoginTimeoutMillis", 10_000).max(100) as u64,
            ),
            keepalive: Duration::from_secs(5),
            flush_delay: Duration::from_millis(
                global.get_int("Net", "FlushDelayMillis", 0).clamp(0, 100) as u64,
            ),
            auth: LocalAuth::new(zone.load_file("passwd.conf").ok()),
            persist,
            zone: zone.clone(),
            args: args.clone(),
            billing: BillingConfig::load(&global),
        })
    }
}

/// Reads the `[Realms]` policy.
fn realm_policy(global: &ConfigFile) -> RealmPolicy {
    let millis = |key: &str, default: i32| {
        Duration::from_millis(global.get_int("Realms", key, default).max(0) as u64)
    };
    RealmPolicy {
        idle_stop: millis("IdleStopMillis", 30_000),
        heartbeat: millis("HeartbeatMillis", 500).max(Duration::from_millis(50)),
        heartbeat_timeout: millis("HeartbeatTimeoutMillis", 3_000).max(Duration::from_millis(200)),
        restart_limit: global.get_int("Realms", "RestartLimit", 5).max(0) as u32,
        restart_window: Duration::from_secs(
            global.get_int("Realms", "RestartWindowSeconds", 60).max(1) as u64,
        ),
        backoff_base: millis("RestartBackoffMillis", 250),
        backoff_max: millis("RestartBackoffMaxMillis", 10_000),
        default_arena: global
            .get_str("Realms", "DefaultArena")
            .filter(|s| !s.is_empty())
            .map(crate::zone::sanitize_arena_name)
            .unwrap_or_else(|| "0".to_string()),
        max_ipc_bytes_per_sec: global
            .get_int("Realms", "MaxIpcBytesPerSecond", 64 << 20)
            .max(1 << 16) as u64,
        ipc_queue_max_bytes: global
            .get_int("Realms", "IpcQueueMaxBytes", 1 << 20)
            .max(1 << 12) as u64,
    }
}

/// Reads the `[Persist]` settings.
pub fn persist_settings(global: &ConfigFile, zone_dir: Option<&PathBuf>) -> PersistSettings {
    let base = zone_dir.cloned().unwrap_or_else(|| PathBuf::from("."));
    let path = match global.get_str("Persist", "DatabasePath") {
        Some(p) if !p.is_empty() => {
            let p = PathBuf::from(p);
            if p.is_absolute() {
                p
            } else {
                base.join(p)
            }
        }
        _ => base.join("data").join("zone.db"),
    };
    let every = global.get_int("Persist", "ResetIntervalSeconds", 0);
    PersistSettings {
        enabled: global.get_bool("Persist", "Enabled", true),
        path,
        reset_every: (every > 0).then(|| Duration::from_secs(every as u64)),
    }
}

/// The score group of an arena: `General:ScoreGroup`, else its base name
/// (`persistence.md` §1.2).
pub fn score_group(zone: &ZoneConfig, arena: &str) -> String {
    zone.load_arena(arena)
        .ok()
        .and_then(|a| a.get_str("General", "ScoreGroup").map(str::to_string))
        .filter(|g| !g.is_empty())
        .unwrap_or_else(|| conf::base_name(arena).to_string())
}
