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
mod ticker;

use std::os::fd::FromRawFd;
use std::path::PathBuf;

use anyhow::{Context, Result};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Command line of a realm worker (set by the supervisor, `realms.rs`).
#[derive(Debug, Default, PartialEq)]
struct Args {
    /// Realm (arena) name.
    realm: String,
    /// Inherited file descriptor of the IPC socket.
    ipc_fd: i32,
    /// Zone folder; without it the embedded default zone.
    zone: Option<PathBuf>,
    /// `Section:Key=Value` overrides, as given to the supervisor.
    overrides: Vec<String>,
}

/// What `--help` prints.
const USAGE: &str = "\
One Subsumption arena (started by zone-supervisor, not by hand)

Usage: realm-worker --realm NAME --ipc-fd FD [--zone DIR] [--set SECTION:KEY=VALUE]...

Options:
      --realm NAME               Realm (arena) name
      --ipc-fd FD                Inherited file descriptor of the IPC socket
      --zone DIR                 Zone folder; without it the embedded default zone
      --set SECTION:KEY=VALUE    Override a setting (repeatable)
  -h, --help                     Print help
  -V, --version                  Print the build version
";

/// What the command line asks for.
#[derive(Debug, PartialEq)]
enum Invocation {
    Run(Args),
    Help,
    Version,
}

/// Parses the command line (without the program name). Hand-written
/// rather than derived with clap: four options do not need it, and clap's
/// code is a sixth of this binary's, resident in every realm (BENCHMARKS.md,
/// "Realm memory"). Accepts `--opt value` and `--opt=value`.
fn parse_args_from<I: IntoIterator<Item = std::ffi::OsString>>(
    argv: I,
) -> Result<Invocation, String> {
    let mut args = Args::default();
    let (mut realm, mut ipc_fd) = (None, None);
    let mut argv = argv.into_iter();
    while let Some(arg) = argv.next() {
        let arg = arg
            .into_string()
            .map_err(|a| format!("argument {a:?} is not UTF-8"))?;
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (arg, None),
        };
        let mut value = |what: &str| -> Result<std::ffi::OsString, String> {
            match &inline {
                Some(v) => Ok(v.into()),
                None => argv
                    .next()
                    .ok_or_else(|| format!("{name} needs a value ({what})")),
            }
        };
        match name.as_str() {
            "-h" | "--help" => return Ok(Invocation::Help),
            "-V" | "--version" => return Ok(Invocation::Version),
            "--realm" => {
                let v = value("NAME")?;
                realm = Some(v.into_string().map_err(|_| "--realm is not UTF-8")?);
            }
            "--ipc-fd" => {
                let v = value("FD")?;
                let v = v.to_string_lossy();
                ipc_fd = Some(
                    v.parse::<i32>()
                        .map_err(|_| format!("--ipc-fd {v:?} is not a file descriptor number"))?,
                );
            }
            "--zone" => args.zone = Some(PathBuf::from(value("DIR")?)),
            "--set" => {
                let v = value("SECTION:KEY=VALUE")?;
                args.overrides
                    .push(v.into_string().map_err(|_| "--set is not UTF-8")?);
            }
            other => return Err(format!("unexpected argument {other:?}")),
        }
    }
    args.realm = realm.ok_or("--realm NAME is required")?;
    args.ipc_fd = ipc_fd.ok_or("--ipc-fd FD is required")?;
    Ok(Invocation::Run(args))
}

fn set_process_name(realm: &str) {
    // Shows as `realm:<name>` in ps/top (15 bytes at most).
    let mut name: Vec<u8> = format!("realm:{realm}").into_bytes();
    name.truncate(15);
    name.push(0);
    // SAFETY: PR_SET_NAME reads a NUL-terminated string we own.
    unsafe { libc::prctl(libc::PR_SET_NAME, name.as_ptr() as libc::c_ulong, 0, 0, 0) };
}

/// The command line; `--help` and `--version` (the build version,
/// `docs/upgrades.md` §1) print and exit, a bad command line exits with 2.
fn parse_args() -> Args {
    match parse_args_from(std::env::args_os().skip(1)) {
        Ok(Invocation::Run(args)) => args,
        Ok(Invocation::Help) => {
            print!("{USAGE}");
            std::process::exit(0);
        }
        Ok(Invocation::Version) => {
            println!("realm-worker {}", ipc_proto::version::build_version());
            std::process::exit(0);
        }
        Err(e) => {
            eprintln!("error: {e}\n\n{USAGE}");
            std::process::exit(2);
        }
    }
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
    // I/O only: the arena's tick is a timerfd (`ticker.rs`), and without a
    // time driver a park is a plain wait on the reactor.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .context("starting the event loop")?;
    let source = assets::AssetSource {
        realm: args.realm.clone(),
        zone_dir: args.zone.clone(),
        overrides: args.overrides.clone(),
    };
    rt.block_on(link::run(stream, arena::Arena::new(source, assets), args))
}

#[cfg(test)]
mod args_tests {
    use super::*;

    fn parse(argv: &[&str]) -> Result<Invocation, String> {
        parse_args_from(argv.iter().map(std::ffi::OsString::from))
    }

    #[test]
    fn the_supervisors_command_line_parses_in_both_spellings() {
        let want = Invocation::Run(Args {
            realm: "pub 1".into(),
            ipc_fd: 3,
            zone: Some(PathBuf::from("/srv/zone")),
            overrides: vec!["Misc:A=1".into(), "Net:B=x=y".into()],
        });
        let spaced = [
            "--realm",
            "pub 1",
            "--ipc-fd",
            "3",
            "--zone",
            "/srv/zone",
            "--set",
            "Misc:A=1",
            "--set",
            "Net:B=x=y",
        ];
        assert_eq!(parse(&spaced), Ok(want));
        let joined = parse(&[
            "--realm=pub 1",
            "--ipc-fd=3",
            "--zone=/srv/zone",
            "--set=Misc:A=1",
            "--set",
            "Net:B=x=y",
        ]);
        assert!(
            matches!(joined, Ok(Invocation::Run(a)) if a.overrides[1] == "Net:B=x=y" && a.realm == "pub 1")
        );
    }

    #[test]
    fn help_and_version_win_and_mistakes_are_named() {
        assert_eq!(parse(&["--version"]), Ok(Invocation::Version));
        assert_eq!(parse(&["--realm", "0", "-h"]), Ok(Invocation::Help));
        let err = |argv: &[&str]| parse(argv).unwrap_err();
        assert!(err(&["--ipc-fd", "3"]).contains("--realm"));
        assert!(err(&["--realm", "0"]).contains("--ipc-fd"));
        assert!(err(&["--realm", "0", "--ipc-fd", "three"]).contains("three"));
        assert!(err(&["--realm"]).contains("needs a value"));
        assert!(err(&["--realm", "0", "--ipc-fd", "3", "--bogus"]).contains("--bogus"));
        assert!(err(&["--realm", "0", "--ipc-fd", "3", "extra"]).contains("extra"));
    }
}
