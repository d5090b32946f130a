//! `loadgen`: a load generator for a Subsumption (or any SubSpace) zone.
//!
//! Connects `--bots` VIE bots spread over `--arenas` public arenas, lets
//! them fly at `--rate` positions per second for `--duration` seconds, and
//! reports logins per second, position relay latency, traffic, loss,
//! retransmissions, disconnects and — with `--control` or
//! `--supervisor-pid` — the zone processes' CPU and memory. A progress line
//! goes to stderr every second; the report goes to stdout (`--json` for
//! machines). See `ss_tests::load` for how things are measured.
//! `loadgen --summarize A.json B.json …` prints a markdown table of reports.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use clap::Parser;
use ss_tests::load::{self, LoadConfig, ServerProbe};

/// Command line of the load generator.
#[derive(Parser, Debug)]
#[command(
    name = "loadgen",
    version,
    about = "Load generator for a SubSpace zone"
)]
struct Args {
    /// Number of bots.
    #[arg(long, default_value_t = 50)]
    bots: usize,
    /// Number of arenas the bots are spread over (public arenas 0, 1, …).
    #[arg(long, default_value_t = 1)]
    arenas: usize,
    /// Positions per second each bot sends.
    #[arg(long, default_value_t = 10.0)]
    rate: f64,
    /// Length of the measurement window, seconds.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// The zone's game address (HOST:PORT).
    #[arg(long, default_value = "127.0.0.1:5000")]
    server: String,
    /// Print the final report as JSON.
    #[arg(long)]
    json: bool,
    /// The zone supervisor's pid (its realm workers are its children).
    #[arg(long)]
    supervisor_pid: Option<u32>,
    /// The zone's control socket (finds the supervisor and realm processes
    /// and reads the zone's counters).
    #[arg(long)]
    control: Option<PathBuf>,
    /// Event-loop threads (default: the cores, at most 4).
    #[arg(long)]
    threads: Option<usize>,
    /// Bots connecting and entering at the same time, at most.
    #[arg(long, default_value_t = 64)]
    login_concurrency: usize,
    /// Percentage of positions that carry a bullet.
    #[arg(long, default_value_t = 5)]
    weapon_percent: u32,
    /// Mean seconds between two public chat messages of a bot (0 = none).
    #[arg(long, default_value_t = 10.0)]
    chat_interval: f64,
    /// Login name prefix (names are the prefix and a 5-digit number).
    #[arg(long, default_value = "lg")]
    name_prefix: String,
    /// Password the bots log in with.
    #[arg(long, default_value = "load")]
    password: String,
    /// Seconds to wait after every bot entered before measuring.
    #[arg(long, default_value_t = 1.0)]
    settle: f64,
    /// Seconds to wait after the window for positions still in flight.
    #[arg(long, default_value_t = 1.0)]
    drain: f64,
    /// No progress line on stderr.
    #[arg(long)]
    quiet: bool,
    /// Kill (SIGKILL) the worker of realm 0 this many seconds into the
    /// window and report how long its bots took to be back in (needs
    /// --control or --supervisor-pid).
    #[arg(long, value_name = "SECS")]
    kill_realm: Option<f64>,
    /// Upgrade the zone this many seconds into the window: roll the realms
    /// (`upgrade realms`), then replace the supervisor in place (`upgrade
    /// supervisor`), and report the largest gap in relayed positions and
    /// the disconnects (needs --control).
    #[arg(long, value_name = "SECS")]
    upgrade: Option<f64>,
    /// With --upgrade: the new realm-worker binary.
    #[arg(long, value_name = "PATH")]
    upgrade_worker: Option<PathBuf>,
    /// With --upgrade: the new zone-supervisor binary (its CLI runs the
    /// upgrades; default: zone-supervisor next to loadgen).
    #[arg(long, value_name = "PATH")]
    upgrade_supervisor: Option<PathBuf>,
    /// Instead of running: print a markdown table of earlier `--json`
    /// reports (a `NAME.after.json` beside `NAME.json` adds the idle
    /// realms' memory).
    #[arg(long, value_name = "REPORT", num_args = 1..)]
    summarize: Vec<PathBuf>,
}

fn secs(v: f64, what: &str) -> Result<Duration> {
    Duration::try_from_secs_f64(v)
        .map_err(|_| anyhow!("{what} must be a non-negative number of seconds"))
}

fn main() -> Result<()> {
    let args = Args::parse();
    if !args.summarize.is_empty() {
        print!("{}", load::summarize(&args.summarize)?);
        return Ok(());
    }
    let server: SocketAddr = args
        .server
        .to_socket_addrs()
        .with_context(|| format!("resolving {}", args.server))?
        .next()
        .ok_or_else(|| anyhow!("{} resolves to no address", args.server))?;
    let mut cfg = LoadConfig::new(server, args.bots, args.arenas);
    cfg.rate_hz = args.rate;
    cfg.duration = secs(args.duration, "--duration")?;
    if let Some(t) = args.threads {
        cfg.threads = t.max(1);
    }
    cfg.login_concurrency = args.login_concurrency.max(1);
    cfg.weapon_percent = args.weapon_percent.min(100);
    cfg.chat_interval = secs(args.chat_interval, "--chat-interval")?;
    cfg.name_prefix = args.name_prefix;
    cfg.password = args.password;
    cfg.settle = secs(args.settle, "--settle")?;
    cfg.drain = secs(args.drain, "--drain")?;
    cfg.progress = !args.quiet;
    cfg.kill_realm_after = args
        .kill_realm
        .map(|v| secs(v, "--kill-realm"))
        .transpose()?;
    if let Some(after) = args.upgrade {
        let control = args
            .control
            .clone()
            .ok_or_else(|| anyhow!("--upgrade needs --control"))?;
        let cli = match &args.upgrade_supervisor {
            Some(p) => p.clone(),
            None => std::env::current_exe()
                .context("locating loadgen")?
                .with_file_name("zone-supervisor"),
        };
        cfg.upgrade = Some(load::UpgradePlan {
            after: secs(after, "--upgrade")?,
            cli,
            control,
            worker: args.upgrade_worker.clone(),
            supervisor: args.upgrade_supervisor.clone(),
        });
    }
    cfg.probe = match (args.control, args.supervisor_pid) {
        (Some(path), _) => ServerProbe::Control(path),
        (None, Some(pid)) => ServerProbe::Pid(pid),
        (None, None) => ServerProbe::None,
    };
    let report = load::run(cfg)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report.to_json())?);
    } else {
        print!("{}", report.to_text());
    }
    Ok(())
}
