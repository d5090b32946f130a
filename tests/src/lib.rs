//! Test support for Subsumption: the scripted SubSpace client ([`bot`]) and
//! a harness that runs the real zone binaries ([`zone`]). The multi-process
//! end-to-end tests live in `tests/`.

#![warn(missing_docs)]

pub mod bot;
pub mod scenario;
pub mod zone;

pub use bot::{ArenaEntry, Bot, PlayerInfo};
pub use zone::{wait_until, TestZone};
