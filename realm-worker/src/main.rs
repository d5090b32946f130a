//! `realm-worker`: one arena ("realm") in its own single-threaded process.
//!
//! Started by the zone supervisor with its IPC socket on an inherited file
//! descriptor. It loads the arena's settings and map, then turns player
//! packets into packets for other players until told to stop. It exits when
//! its socket closes, and dies with the supervisor (parent-death signal set
//! before exec).

mod arena;
mod assets;
mod caps;
mod chat;
mod commands;
mod energy;
mod freqman;
mod game;
mod handover;
mod lag;
mod link;
mod modules;
mod objects;
mod obscene;
mod regions;
mod relay_rules;
mod rules;
mod scores;
mod security;
#[cfg(test)]
mod tests;

use std::os::fd::FromRawFd;
use std::path::PathBuf;

use anyhow::{Context, Result};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Command line of a realm worker (set by the supervisor).
#[derive(clap::Parser, Debug)]
#[command(name = "realm-worker", version, about = "One Subsumption arena")]
struct Args {
    /// Realm (arena) name.
    #[arg(long)]
    realm: String,
    /// Inherited file descriptor of the IPC socket.
    #[arg(long)]
    ipc_fd: i32,
    /// Zone folder; without it the embedded default zone.
    #[arg(long)]
    zone: Option<PathBuf>,
    /// `Section:Key=Value` overrides, as given to the supervisor.
    #[arg(long = "set", value_name = "SECTION:KEY=VALUE")]
    overrides: Vec<String>,
}

fn set_process_name(realm: &str) {
    // Shows as `realm:<name>` in ps/top (15 bytes at most).
    let mut name: Vec<u8> = format!("realm:{realm}").into_bytes();
    name.truncate(15);
    name.push(0);
    // SAFETY: PR_SET_NAME reads a NUL-terminated string we own.
    unsafe { libc::prctl(libc::PR_SET_NAME, name.as_ptr() as libc::c_ulong, 0, 0, 0) };
}

/// The command line, with `--version` showing the build version
/// (`docs/upgrades.md` §1).
fn parse_args() -> Args {
    use clap::{CommandFactory, FromArgMatches};
    let matches = Args::command()
        .version(ipc_proto::version::build_version())
        .get_matches();
    Args::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

fn main() -> Result<()> {
    let args = parse_args();
    // Worked out while the arena loads (docs/upgrades.md §1).
    ipc_proto::version::warm_up();
    // `RUST_LOG` as a list of `target=level` directives (or one level).
    // `Targets` rather than `EnvFilter`: it needs no regular expressions,
    // which keeps an idle realm's memory down (BENCHMARKS.md, "Realm
    // memory").
    let filter: tracing_subscriber::filter::Targets = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            tracing_subscriber::filter::Targets::new()
                .with_default(tracing_subscriber::filter::LevelFilter::INFO)
        });
    tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .with(filter)
        .init();
    set_process_name(&args.realm);
    if args.ipc_fd < 3 {
        anyhow::bail!("--ipc-fd must name an inherited socket (3 or above)");
    }
    // SAFETY: the supervisor passes us this descriptor and nothing else owns it.
    let stream = unsafe { std::os::unix::net::UnixStream::from_raw_fd(args.ipc_fd) };
    stream.set_nonblocking(true).context("IPC socket")?;
    let assets = assets::ArenaAssets::load(&args.realm, args.zone.as_ref(), &args.overrides)
        .with_context(|| format!("loading arena {:?}", args.realm))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the event loop")?;
    let source = assets::AssetSource {
        realm: args.realm.clone(),
        zone_dir: args.zone.clone(),
        overrides: args.overrides.clone(),
    };
    rt.block_on(link::run(stream, arena::Arena::new(source, assets), args))
}
