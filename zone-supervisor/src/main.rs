//! `zone-supervisor`: the Subsumption zone process and its operator CLI.
//!
//! `run` serves a zone (embedded defaults, or a zone folder); `init` writes
//! the embedded default zone out for editing.

mod auth;
mod config;
mod ping;
mod players;
mod realms;
mod zone;

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

/// Command line of the zone supervisor.
#[derive(Parser, Debug)]
#[command(name = "zone-supervisor", version, about = "Subsumption SubSpace zone server")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the zone.
    Run(RunArgs),
    /// Write the embedded default zone (config files and map) into DIR.
    Init {
        /// Folder to create or fill.
        dir: PathBuf,
        /// Overwrite files that already exist.
        #[arg(long)]
        force: bool,
    },
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
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Init { dir, force } => {
            conf::write_default_zone(&dir, force)
                .with_context(|| format!("writing the default zone to {}", dir.display()))?;
            println!("default zone written to {}", dir.display());
            Ok(())
        }
        Command::Run(args) => {
            let settings = config::Settings::load(&args)?;
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("starting the event loop")?;
            rt.block_on(zone::run(settings))
        }
    }
}
