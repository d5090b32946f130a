//! The SubSpace wire protocol as a sans-IO library.
//!
//! Nothing in this crate opens a socket or reads a clock: callers feed bytes
//! and the current time in, and get bytes to send, events and deadlines out.
//! The same code serves the zone (server role) and bots (client role).

pub mod billing;
pub mod crypto;
pub mod game;
pub mod map;
pub mod settings;
pub mod transport;
