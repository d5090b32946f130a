//! A connection's whole state as plain data, for handing a live zone over
//! to a new supervisor process (`docs/upgrades.md` §3): serde-serializable,
//! with every `Instant` turned into an age (microseconds before the moment
//! of the snapshot) and the cipher into its key.
//!
//! [`Connection::snapshot`] and [`Connection::restore`] round-trip
//! everything that matters to the peer: addresses are the caller's, but
//! sequence numbers, the receive window with its out-of-order packets,
//! pending acks, reliable packets in flight (with their tries) and waiting,
//! unreliable queues, big-data and sized-stream reassembly, streams being
//! sent, round-trip estimates and counters. Scratch buffers are not kept.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{
    ConnStats, Connection, Event, InFlight, Packer, Role, SizedIn, SizedOut, State, TickClock,
    TransportConfig, UnreliableQueue,
};
use crate::crypto::Cipher;

/// Version of [`ConnectionSnapshot`]'s layout; bumped on every change.
pub const SNAPSHOT_FORMAT: u32 = 1;

/// A reliable packet in the send window.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct InFlightSnapshot {
    seq: i32,
    packet: Vec<u8>,
    sent_age_us: Option<u64>,
    tries: u32,
    ticket: Option<u64>,
}

/// Everything of a [`Connection`] worth keeping across processes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ConnectionSnapshot {
    role: Role,
    state: State,
    cfg: TransportConfig,
    cipher_key: u32,
    continuum: bool,
    events: Vec<Event>,
    stats: ConnStats,
    last_recv_age_us: u64,
    client_key: u32,
    init_sent_age_us: Option<u64>,
    server_tick_offset: Option<i32>,
    in_expected: i32,
    pub(super) in_slots: Vec<Option<Vec<u8>>>,
    acks: Vec<i32>,
    out_next_seq: i32,
    rel_unsent: Vec<(Vec<u8>, Option<u64>)>,
    rel_unsent_bytes: usize,
    rel_inflight: Vec<InFlightSnapshot>,
    next_ticket: u64,
    avg_rtt: u32,
    rtt_dev: u32,
    /// Each queue's packets behind `u16` lengths (not the queue's own
    /// layout, which may change without a new format).
    pub(super) unrel: [Vec<u8>; 3],
    unrel_bytes: usize,
    raw: Vec<u8>,
    big_in: Vec<u8>,
    big_overflow: bool,
    sized_in: Option<(usize, Vec<u8>)>,
    sized_skip: usize,
    sized_out: Vec<(Vec<u8>, usize)>,
    datagrams: u64,
    bytes: u64,
}

fn age_us(now: Instant, t: Instant) -> u64 {
    now.saturating_duration_since(t).as_micros() as u64
}

fn at_age(now: Instant, age_us: u64) -> Instant {
    now.checked_sub(Duration::from_micros(age_us))
        .unwrap_or(now)
}

impl Connection {
    /// The connection's state at `now`, as plain data.
    pub fn snapshot(&self, now: Instant) -> ConnectionSnapshot {
        ConnectionSnapshot {
            role: self.role,
            state: self.state,
            cfg: self.cfg.clone(),
            cipher_key: self.cipher.key(),
            continuum: self.continuum,
            events: self.events.iter().cloned().collect(),
            stats: self.stats,
            last_recv_age_us: age_us(now, self.last_recv),
            client_key: self.client_key,
            init_sent_age_us: self.init_sent_at.map(|t| age_us(now, t)),
            server_tick_offset: self.server_tick_offset,
            in_expected: self.in_expected,
            in_slots: self.in_slots.clone(),
            acks: self.acks.clone(),
            out_next_seq: self.out_next_seq,
            rel_unsent: self.rel_unsent.iter().cloned().collect(),
            rel_unsent_bytes: self.rel_unsent_bytes,
            rel_inflight: self
                .rel_inflight
                .iter()
                .map(|f| InFlightSnapshot {
                    seq: f.seq,
                    packet: f.packet.clone(),
                    sent_age_us: f.last_sent.map(|t| age_us(now, t)),
                    tries: f.tries,
                    ticket: f.ticket,
                })
                .collect(),
            next_ticket: self.next_ticket,
            avg_rtt: self.avg_rtt,
            rtt_dev: self.rtt_dev,
            unrel: [
                self.unrel[0].to_framed(),
                self.unrel[1].to_framed(),
                self.unrel[2].to_framed(),
            ],
            unrel_bytes: self.unrel_bytes,
            raw: self.raw.to_framed(),
            big_in: self.big_in.clone(),
            big_overflow: self.big_overflow,
            sized_in: self.sized_in.as_ref().map(|s| (s.total, s.buf.clone())),
            sized_skip: self.sized_skip,
            sized_out: self
                .sized_out
                .iter()
                .map(|s| (s.data.to_vec(), s.offset))
                .collect(),
            datagrams: self.packer.datagrams,
            bytes: self.packer.bytes,
        }
    }

    /// A connection carrying on from `snap`, taken at a moment that is
    /// `now` on this process's clock; `clock` is this process's tick clock
    /// (the same server time: both come from the system's monotonic clock).
    /// `None` if the snapshot does not hold together (a receive window of
    /// another size than its configuration says, a sized stream offset
    /// past its end, a queue cut inside a packet).
    pub fn restore(snap: ConnectionSnapshot, now: Instant, clock: TickClock) -> Option<Connection> {
        let window = snap.cfg.recv_window.max(1);
        if snap.in_slots.len() != window || snap.sized_out.iter().any(|(d, o)| *o > d.len()) {
            return None;
        }
        let [a, b, d] = &snap.unrel;
        let unrel = [
            UnreliableQueue::from_framed(a)?,
            UnreliableQueue::from_framed(b)?,
            UnreliableQueue::from_framed(d)?,
        ];
        let raw = UnreliableQueue::from_framed(&snap.raw)?;
        let mut c = Connection::new(snap.role, now, snap.cfg, clock);
        c.state = snap.state;
        c.cipher = Cipher::for_key(snap.cipher_key);
        c.continuum = snap.continuum;
        c.events = snap.events.into();
        c.stats = snap.stats;
        c.last_recv = at_age(now, snap.last_recv_age_us);
        c.client_key = snap.client_key;
        c.init_sent_at = snap.init_sent_age_us.map(|a| at_age(now, a));
        c.server_tick_offset = snap.server_tick_offset;
        c.in_expected = snap.in_expected;
        c.in_slots = snap.in_slots;
        c.acks = snap.acks;
        c.out_next_seq = snap.out_next_seq;
        c.rel_unsent = snap.rel_unsent.into();
        c.rel_unsent_bytes = snap.rel_unsent_bytes;
        c.rel_inflight = snap
            .rel_inflight
            .into_iter()
            .map(|f| InFlight {
                seq: f.seq,
                packet: f.packet,
                last_sent: f.sent_age_us.map(|a| at_age(now, a)),
                tries: f.tries,
                ticket: f.ticket,
            })
            .collect::<VecDeque<_>>();
        c.next_ticket = snap.next_ticket;
        c.avg_rtt = snap.avg_rtt;
        c.rtt_dev = snap.rtt_dev;
        c.unrel = unrel;
        c.unrel_bytes = snap.unrel_bytes;
        c.raw = raw;
        c.big_in = snap.big_in;
        c.big_overflow = snap.big_overflow;
        c.sized_in = snap.sized_in.map(|(total, buf)| SizedIn { total, buf });
        c.sized_skip = snap.sized_skip;
        c.sized_out = snap
            .sized_out
            .into_iter()
            .map(|(data, offset)| SizedOut {
                data: Arc::from(data),
                offset,
            })
            .collect();
        c.packer = Packer {
            datagrams: snap.datagrams,
            bytes: snap.bytes,
            ..Packer::default()
        };
        Some(c)
    }
}
