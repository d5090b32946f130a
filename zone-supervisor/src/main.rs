//! `zone-supervisor`: the Subsumption zone process and its operator CLI.
//!
//! `run` serves a zone (embedded defaults, or a zone folder); `init` writes
//! the embedded default zone out for editing.

mod auth;
mod bans;
mod billing;
mod chatnet;
mod checkpoints;
mod conf_edit;
mod config;
mod control;
mod directory;
mod fastpath;
mod files;
mod flush;
mod game_calls;
mod handoff;
mod hold_timer;
mod lag;
mod logring;
mod modules;
mod news;
mod outbox;
mod ping;
mod players;
mod realm_link;
mod realms;
mod redirect;
mod scores;
mod session;
mod settings_cmd;
mod staff;
mod state;
mod stats;
mod tick;
mod udp;
mod update;
mod upgrade;
mod web;
mod zone;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

/// Command line of the zone supervisor.
#[derive(Parser, Debug)]
#[command(
    name = "zone-supervisor",
    version,
    about = "Subsumption SubSpace zone server"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the zone.
    Run(RunArgs),
    /// Show per-realm and zone statistics of a running zone.
    Stats {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Refresh every N seconds until interrupted.
        #[arg(long, value_name = "SECONDS", num_args = 0..=1, default_missing_value = "2")]
        watch: Option<u64>,
        #[command(flatten)]
        target: ControlTarget,
    },
    /// Operate on one realm of a running zone.
    Realm {
        #[command(subcommand)]
        action: RealmAction,
        #[command(flatten)]
        target: ControlTarget,
    },
    /// Upgrade a running zone without dropping players (docs/upgrades.md).
    Upgrade {
        #[command(subcommand)]
        action: UpgradeAction,
        #[command(flatten)]
        target: ControlTarget,
    },
    /// Make a running zone re-read its configuration (like SIGHUP).
    Reload {
        #[command(flatten)]
        target: ControlTarget,
    },
    /// Check or export the zone's score database.
    Db {
        #[command(subcommand)]
        action: DbAction,
        /// The zone folder (to find `Persist:DatabasePath`).
        #[arg(long, global = true)]
        zone: Option<PathBuf>,
        /// Overrides, as for `run` (e.g. `Persist:DatabasePath=...`).
        #[arg(long = "set", global = true, value_name = "SECTION:KEY=VALUE")]
        overrides: Vec<String>,
        /// The database file itself (instead of the zone's setting).
        #[arg(long, global = true)]
        db: Option<PathBuf>,
    },
    /// Write the embedded default zone (config files and map) into DIR.
    Init {
        /// Folder to create or fill.
        dir: PathBuf,
        /// Overwrite files that already exist.
        #[arg(long)]
        force: bool,
    },
}

/// Database operations.
#[derive(Subcommand, Debug)]
enum DbAction {
    /// Verify the database's integrity (read-only).
    Check,
    /// Dump everything for operators.
    Export {
        /// As JSON (the only format).
        #[arg(long)]
        json: bool,
    },
}

/// The database file `db` commands work on.
fn database_path(
    zone: Option<PathBuf>,
    overrides: &[String],
    db: Option<PathBuf>,
) -> Result<PathBuf> {
    if let Some(db) = db {
        return Ok(db);
    }
    let overrides = overrides
        .iter()
        .map(|o| config::Override::parse(o))
        .collect::<Result<Vec<_>>>()?;
    let zone_cfg = config::open_zone(zone.as_ref())?;
    let mut global = (**zone_cfg.global()).clone();
    config::apply_overrides(&mut global, &overrides);
    let mut reader = config::Reader::new(&global);
    let path = config::persist_settings(&mut reader, zone.as_ref()).path;
    for w in &reader.warnings {
        tracing::warn!("config: {w}");
    }
    Ok(path)
}

/// Which running zone an operator command talks to.
#[derive(clap::Args, Debug)]
struct ControlTarget {
    /// The zone's control socket.
    #[arg(long, global = true, conflicts_with = "zone")]
    control: Option<PathBuf>,
    /// The zone's folder (as given to `run --zone`): talk to the control
    /// socket that zone uses by default.
    #[arg(long, global = true)]
    zone: Option<PathBuf>,
}

impl ControlTarget {
    /// The control socket path: `--control`, else the default of the zone
    /// folder (or of the embedded zone).
    fn path(&self) -> PathBuf {
        self.control
            .clone()
            .unwrap_or_else(|| control::default_path(self.zone.as_deref()))
    }
}

/// Realm operations.
#[derive(Subcommand, Debug)]
enum RealmAction {
    /// Restart a realm's worker (players are entered again), or bring a
    /// failed realm back.
    Restart {
        /// Realm (arena) name.
        name: String,
    },
}

/// Upgrade operations.
#[derive(Subcommand, Debug)]
enum UpgradeAction {
    /// Replace every realm's worker process with a new binary, one realm at
    /// a time, handing the players over; stops at the first realm whose new
    /// worker does not become ready (that realm keeps its old worker).
    Realms {
        /// The new realm-worker binary (default: the zone's worker path,
        /// where the new build was installed).
        #[arg(long)]
        worker: Option<PathBuf>,
    },
    /// Replace the supervisor process in place with a new binary (same pid;
    /// players, realms and sockets are handed over; `systemctl reload`
    /// stays SIGHUP = re-read the config).
    Supervisor {
        /// The new zone-supervisor binary (default: the path this zone was
        /// started from, where the new build was installed).
        #[arg(long)]
        binary: Option<PathBuf>,
    },
}

/// `upgrade realms`: starts the roll, then follows it until it ends.
fn upgrade_realms(path: &std::path::Path, worker: Option<PathBuf>) -> Result<()> {
    let command = match worker {
        Some(w) => {
            let w = std::path::absolute(&w).unwrap_or(w);
            format!("upgrade-realms {}", w.display())
        }
        None => "upgrade-realms".to_string(),
    };
    print_answer(&control::request(path, &command)?)?;
    loop {
        std::thread::sleep(std::time::Duration::from_millis(200));
        let answer = control::request(path, "upgrade-status")?;
        let value: serde_json::Value =
            serde_json::from_str(&answer).context("the zone's answer is not JSON")?;
        if value.get("finished").and_then(|v| v.as_bool()) == Some(true) {
            return print_answer(&answer);
        }
    }
}

/// `upgrade supervisor`: asks for the exec, then waits until the zone
/// answers as the new process (its upgrade count went up) or reports why
/// it gave up.
fn upgrade_supervisor(path: &std::path::Path, binary: Option<PathBuf>) -> Result<()> {
    let stats = |p: &std::path::Path| -> Result<serde_json::Value> {
        serde_json::from_str(&control::request(p, "stats")?)
            .context("the zone's stats are not JSON")
    };
    let first = stats(path)?;
    let before = first["zone"]["upgrades"].as_u64().unwrap_or(0);
    let zone_pid = first["zone"]["process"]["pid"].as_u64().unwrap_or(0);
    // Whether the zone's process has ended (gone, or a zombie).
    let zone_ended = || {
        zone_pid != 0
            && std::fs::read_to_string(format!("/proc/{zone_pid}/stat")).map_or(true, |s| {
                s.rsplit(')')
                    .next()
                    .is_some_and(|r| r.trim_start().starts_with('Z'))
            })
    };
    let command = match binary {
        Some(b) => {
            let b = std::path::absolute(&b).unwrap_or(b);
            format!("upgrade-supervisor {}", b.display())
        }
        None => "upgrade-supervisor".to_string(),
    };
    print_answer(&control::request(path, &command)?)?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        std::thread::sleep(std::time::Duration::from_millis(200));
        // During the exec the socket is not answered for a moment.
        let Ok(now) = stats(path) else {
            anyhow::ensure!(
                !zone_ended(),
                "the zone process {zone_pid} ended during the upgrade: the new binary failed after the exec (under systemd the zone is restarted; see docs/upgrades.md §3.3)"
            );
            anyhow::ensure!(
                std::time::Instant::now() < deadline,
                "the zone did not answer after the upgrade"
            );
            continue;
        };
        let zone = &now["zone"];
        if zone["upgrades"].as_u64().unwrap_or(0) > before {
            println!(
                "supervisor upgraded in place: version {} (pid {})",
                zone["version"].as_str().unwrap_or("?"),
                zone["process"]["pid"]
            );
            return Ok(());
        }
        if let Some(err) = zone["upgrade_error"].as_str() {
            anyhow::bail!("{err}");
        }
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "the supervisor upgrade did not happen within a minute"
        );
    }
}

/// Options of `zone-supervisor run`.
#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// Zone folder in the ASSS layout (conf/, arenas/, maps/); without it the
    /// embedded default zone is used.
    #[arg(long)]
    pub zone: Option<PathBuf>,
    /// Address to bind the game and ping sockets to (overrides Listen:BindAddress).
    #[arg(long)]
    pub bind: Option<String>,
    /// Game port (overrides Listen:Port); the ping port is one above it.
    /// 0 picks a free pair of ports.
    #[arg(long)]
    pub port: Option<u16>,
    /// Override a setting: `Section:Key=Value` (repeatable). Applies to the
    /// global config and, through fallback, to every arena.
    #[arg(long = "set", value_name = "SECTION:KEY=VALUE")]
    pub overrides: Vec<String>,
    /// Path of the realm-worker binary (default: next to this binary).
    #[arg(long)]
    pub worker: Option<PathBuf>,
    /// Path of the control socket (default: $RUNTIME_DIRECTORY/control.sock
    /// under systemd, else ZONE_FOLDER/run/control.sock, else for the
    /// embedded zone $XDG_RUNTIME_DIR/subsumption/control.sock or
    /// /tmp/subsumption-UID/control.sock).
    #[arg(long)]
    pub control: Option<PathBuf>,
}

/// Prints a control answer; fails if the zone reported an error.
fn print_answer(answer: &str) -> Result<()> {
    let value: serde_json::Value =
        serde_json::from_str(answer).context("the zone's answer is not JSON")?;
    if value.get("ok").and_then(|v| v.as_bool()) == Some(false) {
        let err = value
            .get("error")
            .and_then(|v| v.as_str())
            .unwrap_or("unknown error");
        anyhow::bail!("{err}");
    }
    println!(
        "{}",
        value
            .get("message")
            .and_then(|v| v.as_str())
            .unwrap_or(answer)
    );
    Ok(())
}

fn show_stats(path: &std::path::Path, json: bool) -> Result<()> {
    let answer = control::request(path, "stats")?;
    if json {
        println!("{answer}");
    } else {
        let report: stats::StatsReport = serde_json::from_str(&answer)
            .context("the zone's stats are not in the expected form")?;
        print!("{}", stats::render_table(&report));
    }
    Ok(())
}

/// The command line, with `--version` showing the build version
/// (`docs/upgrades.md` §1).
fn parse_cli() -> Result<Cli, clap::Error> {
    use clap::{CommandFactory, FromArgMatches};
    let matches = Cli::command()
        .version(ipc_proto::version::build_version())
        .try_get_matches()?;
    Cli::from_arg_matches(&matches)
}

/// Runs the command; an error is printed as one line (the whole chain of
/// causes, no backtrace) and the exit status is 1.
fn main() -> ExitCode {
    // Asked by a running supervisor before it execs this binary
    // (docs/upgrades.md §3); answered before anything else.
    let mut raw = std::env::args();
    if raw.nth(1).as_deref() == Some("--check-upgrade-state-version") {
        return handoff::check_version_cli(raw.next().as_deref());
    }
    let cli = match parse_cli() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help, --version.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let text = e.render().to_string();
            let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            let first = first.strip_prefix("error: ").unwrap_or(first);
            eprintln!("zone-supervisor: {first} (see --help)");
            return ExitCode::FAILURE;
        }
    };
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("zone-supervisor: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// An error and its causes on one line.
fn one_line(e: &anyhow::Error) -> String {
    format!("{e:#}")
        .split(['\n', '\r'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs the command; the exit status on success (the zone's
/// [`zone::EXIT_RECYCLE`] after `?recyclezone`, else 0).
fn run(cli: Cli) -> Result<u8> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    // Log lines go to stderr and, for `?lastlog`, into the zone's ring.
    let (ring_layer, ring) = logring::channel();
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .with(ring_layer)
        .init();
    run_command(cli, ring).map(|exit| exit.unwrap_or(0))
}

fn run_command(cli: Cli, ring: logring::LogRing) -> Result<Option<u8>> {
    let result: Result<()> = match cli.command {
        Command::Init { dir, force } => {
            conf::write_default_zone(&dir, force)
                .with_context(|| format!("writing the default zone to {}", dir.display()))?;
            println!("default zone written to {}", dir.display());
            Ok(())
        }
        Command::Stats {
            json,
            watch,
            target,
        } => {
            let path = target.path();
            match watch {
                None => show_stats(&path, json),
                Some(secs) => loop {
                    if !json {
                        print!("\x1b[2J\x1b[H");
                    }
                    show_stats(&path, json)?;
                    std::thread::sleep(std::time::Duration::from_secs(secs.max(1)));
                },
            }
        }
        Command::Realm { action, target } => {
            let path = target.path();
            match action {
                RealmAction::Restart { name } => {
                    print_answer(&control::request(&path, &format!("restart {name}"))?)
                }
            }
        }
        Command::Db {
            action,
            zone,
            overrides,
            db,
        } => {
            let path = database_path(zone, &overrides, db)?;
            if !path.exists() {
                anyhow::bail!("no database at {}", path.display());
            }
            let store = zone_persist::Store::open_read_only(&path)
                .with_context(|| format!("opening {}", path.display()))?;
            match action {
                DbAction::Check => {
                    let report = store.integrity_check()?;
                    if report == ["ok"] {
                        println!("{}: ok", path.display());
                        Ok(())
                    } else {
                        for line in &report {
                            eprintln!("{line}");
                        }
                        anyhow::bail!("{} failed its integrity check", path.display())
                    }
                }
                DbAction::Export { json: _ } => {
                    println!("{}", serde_json::to_string_pretty(&store.export()?)?);
                    Ok(())
                }
            }
        }
        Command::Upgrade { action, target } => match action {
            UpgradeAction::Realms { worker } => upgrade_realms(&target.path(), worker),
            UpgradeAction::Supervisor { binary } => upgrade_supervisor(&target.path(), binary),
        },
        Command::Reload { target } => print_answer(&control::request(&target.path(), "reload")?),
        Command::Run(args) => {
            // Worked out while the zone starts (docs/upgrades.md §1).
            ipc_proto::version::warm_up();
            let settings = config::Settings::load(&args)?;
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("starting the event loop")?;
            return rt.block_on(zone::run(settings, ring)).map(Some);
        }
    };
    result.map(|()| None)
}
