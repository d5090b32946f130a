//! Test support for Subsumption: the client session both test clients share
//! ([`session`]), the scripted SubSpace client ([`bot`]), a
//! harness that runs the real zone binaries ([`zone`]) and the load
//! generator's engine ([`load`], driven by the `loadgen` binary). The
//! multi-process end-to-end tests live in `tests/`.

#![warn(missing_docs)]

pub mod biller;
pub mod bot;
pub mod chatnet;
pub mod directory;
pub mod load;
pub mod scenario;
pub mod session;
pub mod zone;

pub use bot::{ArenaEntry, Bot, PlayerInfo};
pub use zone::{wait_until, TestZone};
