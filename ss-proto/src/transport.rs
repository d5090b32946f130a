//! The SubSpace core transport (packets starting with `0x00`) as a sans-IO
//! state machine, for both the server and the client role.
//!
//! A [`Connection`] is fed received datagrams and the current time; it hands
//! back the game packets it decoded (through a callback, without copying),
//! events, the datagrams to send (from [`Connection::poll_transmit`]) and the
//! time it next needs attention ([`Connection::next_deadline`]). It never
//! touches a socket or reads a clock. Facts are from
//! `docs/protocol/core-transport.md`.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::crypto::{vie_server_key, Cipher};

/// Largest datagram this side builds (ASSS `MAXPACKET`).
pub const MAX_PACKET: usize = 512;
/// Largest datagram accepted; longer ones are dropped (SS.NET rule).
pub const MAX_RECV: usize = 520;
/// Largest payload carried in one reliable packet before it is split.
pub const MAX_RELIABLE_PAYLOAD: usize = MAX_PACKET - 6;
/// Data bytes per `00 08`/`00 09` and `00 0A` fragment.
pub const CHUNK_SIZE: usize = 480;
/// Largest item a cluster can hold (one length byte).
pub const MAX_CLUSTER_ITEM: usize = 255;
/// Client type byte of a SubSpace (VIE) connection request.
pub const CLIENT_TYPE_VIE: u8 = 0x01;
/// Client type byte of a Continuum connection request.
pub const CLIENT_TYPE_CONTINUUM: u8 = 0x11;
/// Sized streams (downloads) one connection may have queued at once.
pub const MAX_SIZED_QUEUE: usize = 4;
/// The core disconnect packet (`00 07`), sent plain to an address that has
/// no connection, or sealed by one that is closing.
pub const DISCONNECT: [u8; 2] = [0x00, 0x07];
/// Deepest nesting of reliable/cluster/big-data packets processed.
const MAX_NESTING: u8 = 8;

/// Signed difference `a - b` of two 31-bit tick values (wraps correctly).
pub fn tick_diff(a: u32, b: u32) -> i32 {
    ((a << 1).wrapping_sub(b << 1) as i32) >> 1
}

/// Maps instants onto the 31-bit, 10 ms server tick counter.
#[derive(Clone, Copy, Debug)]
pub struct TickClock {
    origin: Instant,
    origin_ticks: u32,
}

impl TickClock {
    /// A clock on which `origin` corresponds to `origin_ticks`.
    pub fn new(origin: Instant, origin_ticks: u32) -> TickClock {
        TickClock {
            origin,
            origin_ticks,
        }
    }

    /// Ticks (1/100 s, 31 bits) at `now`.
    pub fn ticks(&self, now: Instant) -> u32 {
        let elapsed = now.saturating_duration_since(self.origin).as_millis() / 10;
        (self.origin_ticks.wrapping_add(elapsed as u32)) & 0x7FFF_FFFF
    }
}

/// Tunables of one connection (the `[Net]` settings that concern transport).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct TransportConfig {
    /// Reliable receive window (ASSS 32 for players).
    pub recv_window: usize,
    /// Reliable packets in flight at once.
    pub send_window: usize,
    /// Sends of one reliable packet before the link is given up.
    pub max_retries: u32,
    /// Silence after which the peer counts as gone.
    pub drop_timeout: Duration,
    /// Largest reassembled `00 08`/`00 09` payload.
    pub max_big_packet: usize,
    /// Largest `00 0A` sized stream accepted.
    pub max_sized_receive: usize,
    /// `Net:MaxOutlistSize`: how much reliable data may wait beyond the
    /// send window before the link is dropped as unable to keep up, in
    /// full reliable packets' worth ([`MAX_RELIABLE_PAYLOAD`] bytes each).
    /// Only bytes count: sixty 64-byte packets weigh what eight full ones
    /// do, and packets in the window (bounded by `send_window`) are free.
    pub max_outgoing: usize,
    /// A floor under that byte limit; the zone raises it with the largest
    /// possible arena, so that an arena-entry burst always fits.
    pub min_outgoing_bytes: usize,
    /// Bytes of unreliable packets queued between flushes before further
    /// ones are discarded.
    pub max_unreliable_bytes: usize,
    /// How often a client re-sends its connection request while unanswered.
    pub init_retry: Duration,
}

impl Default for TransportConfig {
    fn default() -> Self {
        TransportConfig {
            recv_window: 32,
            send_window: 30,
            max_retries: 15,
            drop_timeout: Duration::from_secs(30),
            max_big_packet: 65536,
            max_sized_receive: 4 << 20,
            max_outgoing: 500,
            min_outgoing_bytes: 0,
            max_unreliable_bytes: 64 * 1024,
            init_retry: Duration::from_millis(500),
        }
    }
}

/// How a packet is to be delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reliability {
    /// Sent once; may be lost.
    Unreliable,
    /// Retransmitted until acknowledged, delivered in order.
    Reliable,
}

/// Priority of an unreliable packet in the send pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Priority {
    /// Score updates and the like.
    Low = 0,
    /// Ordinary traffic (positions).
    Normal = 1,
    /// Weapon fire and other urgent traffic.
    High = 2,
}

/// Why a connection ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum DisconnectReason {
    /// The peer sent `00 07`.
    Peer,
    /// Nothing received for the drop timeout.
    NoData,
    /// A reliable packet went unacknowledged too many times.
    TooManyRetries,
    /// Too many reliable packets queued.
    TooManyOutgoing,
    /// This side closed the connection.
    Local,
}

impl DisconnectReason {
    /// The text ASSS puts in its lag-out message, if this is a lag-out.
    pub fn lagout_text(self) -> Option<&'static str> {
        match self {
            DisconnectReason::NoData => Some("no data"),
            DisconnectReason::TooManyRetries => Some("too many reliable retries"),
            DisconnectReason::TooManyOutgoing => Some("too many outgoing packets"),
            _ => None,
        }
    }
}

/// Something that happened on a connection, other than a game packet.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Event {
    /// Client role: the server answered the connection request.
    Connected {
        /// Whether VIE encryption is in use (else none).
        encrypted: bool,
    },
    /// The connection is over; nothing more will be sent.
    Disconnected(DisconnectReason),
    /// Client role: a time sync answer arrived.
    TimeSynced {
        /// Round trip in ticks.
        rtt_ticks: u32,
    },
    /// Server role: a sized stream being sent was cancelled by the peer.
    SizedCancelled,
}

/// Counters of one connection.
#[derive(Clone, Copy, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct ConnStats {
    /// Datagrams received.
    pub datagrams_in: u64,
    /// Datagrams sent.
    pub datagrams_out: u64,
    /// Bytes received (datagram sizes).
    pub bytes_in: u64,
    /// Bytes sent (datagram sizes).
    pub bytes_out: u64,
    /// Reliable packets sent again.
    pub retransmits: u64,
    /// Duplicate reliable packets received.
    pub duplicates: u64,
    /// Packets dropped as malformed, unknown or out of window.
    pub dropped: u64,
    /// Unreliable packets discarded because the queue was full.
    pub unreliable_discarded: u64,
    /// From the peer's latest time sync request (`00 05`): datagrams it
    /// says it has sent, and received, and ours at that moment.
    pub sync: SyncCounts,
}

/// Packet counts of both sides at the peer's latest time sync request,
/// from which packet loss is worked out as ASSS does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SyncCounts {
    /// Datagrams the peer says it has sent.
    pub peer_sent: u32,
    /// Datagrams the peer says it has received.
    pub peer_received: u32,
    /// Datagrams we had sent.
    pub sent: u64,
    /// Datagrams we had received (the request included).
    pub received: u64,
}

/// Fewer datagrams than this on a side and its loss counts as 0 (ASSS).
pub const LOSS_MIN_PACKETS: u64 = 200;

impl SyncCounts {
    fn loss(sent: u64, received: u64) -> f64 {
        if sent > LOSS_MIN_PACKETS {
            sent.saturating_sub(received) as f64 / sent as f64
        } else {
            0.0
        }
    }

    /// Share (0–1) of our datagrams the peer did not get.
    pub fn loss_to_peer(&self) -> f64 {
        Self::loss(self.sent, u64::from(self.peer_received))
    }

    /// Share (0–1) of the peer's datagrams we did not get.
    pub fn loss_from_peer(&self) -> f64 {
        Self::loss(u64::from(self.peer_sent), self.received)
    }
}

/// The answer to a connection request from an unknown address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InitDecision {
    /// Accept: send `reply` raw, then create the connection with `cipher_key`
    /// (0 = no encryption).
    Accept {
        /// The 6-byte `00 02` reply.
        reply: [u8; 6],
        /// Key the connection's cipher uses (0 = none).
        cipher_key: u32,
        /// Whether the client announced itself as Continuum.
        continuum: bool,
    },
    /// Refuse with a `00 07`.
    Refuse,
    /// Not a connection request this side understands.
    Ignore,
}

/// Which client types a listening zone accepts and how it answers them.
#[derive(Clone, Copy, Debug)]
pub struct InitPolicy {
    /// Accept SubSpace (type 0x01) requests.
    pub allow_vie: bool,
    /// Answer SubSpace requests with VIE encryption (else with none).
    pub vie_encrypt: bool,
    /// Accept Continuum (type 0x11) requests.
    pub allow_continuum: bool,
    /// Answer Continuum requests with VIE encryption (SS.NET style) instead
    /// of the null answer (ASSS `enc_null` style).
    pub continuum_vie: bool,
}

impl Default for InitPolicy {
    fn default() -> Self {
        InitPolicy {
            allow_vie: true,
            vie_encrypt: true,
            allow_continuum: true,
            continuum_vie: false,
        }
    }
}

/// Whether a datagram is shaped like a connection request (`00 01`/`00 11`).
pub fn is_connection_request(datagram: &[u8]) -> bool {
    datagram.len() >= 2 && datagram[0] == 0 && (datagram[1] == 0x01 || datagram[1] == 0x11)
}

/// Decides how to answer a connection request; exactly one answer per
/// request (`docs/protocol/core-transport.md` §4).
pub fn decide_init(datagram: &[u8], policy: &InitPolicy) -> InitDecision {
    if datagram.len() != 8 || datagram[0] != 0 || datagram[1] != 0x01 || datagram[7] != 0 {
        return InitDecision::Ignore;
    }
    let key = u32::from_le_bytes([datagram[2], datagram[3], datagram[4], datagram[5]]);
    let (allowed, encrypt, continuum) = match datagram[6] {
        CLIENT_TYPE_VIE => (policy.allow_vie, policy.vie_encrypt, false),
        CLIENT_TYPE_CONTINUUM => (policy.allow_continuum, policy.continuum_vie, true),
        _ => return InitDecision::Ignore,
    };
    if !allowed {
        return InitDecision::Refuse;
    }
    let mut server_key = if encrypt { vie_server_key(key) } else { key };
    if encrypt && server_key == key {
        // 0 and 0x80000000 negate to themselves, which the client would read
        // as "no encryption"; answer those honestly as unencrypted.
        server_key = key;
    }
    let mut reply = [0u8, 0x02, 0, 0, 0, 0];
    reply[2..6].copy_from_slice(&server_key.to_le_bytes());
    InitDecision::Accept {
        reply,
        cipher_key: if server_key == key { 0 } else { server_key },
        continuum,
    }
}

/// Which end of the link this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Role {
    /// The zone side of a player connection.
    Server,
    /// A bot or a zone talking to a biller.
    Client,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
enum State {
    /// Client: connection request sent, no answer yet.
    AwaitingKey,
    Open,
    /// `00 07` queued; closed once it has been sent.
    Closing,
    Closed,
}

/// A reliable packet that has entered the send window.
struct InFlight {
    seq: i32,
    /// The whole `00 03 seq payload` packet.
    packet: Vec<u8>,
    last_sent: Option<Instant>,
    tries: u32,
    /// Set for packets queued with [`Connection::send_tracked`].
    ticket: Option<u64>,
}

/// A sized (`00 0A`) stream being sent.
struct SizedOut {
    data: Arc<[u8]>,
    offset: usize,
}

/// A sized stream being received.
struct SizedIn {
    total: usize,
    buf: Vec<u8>,
}

/// Unreliable packets queued between flushes, stored back to back so
/// that queuing does not allocate.
#[derive(Default)]
struct UnreliableQueue {
    /// The packets back to back, each behind its length: one byte for a
    /// packet that fits a cluster item (1..=255 bytes, so a run of them is
    /// already in cluster form), or a zero byte and a `u16` for a longer
    /// one.
    bytes: Vec<u8>,
}

impl UnreliableQueue {
    fn push(&mut self, pkt: &[u8]) {
        if (1..=MAX_CLUSTER_ITEM).contains(&pkt.len()) {
            self.bytes.push(pkt.len() as u8);
        } else {
            self.bytes.push(0);
            self.bytes
                .extend_from_slice(&(pkt.len() as u16).to_le_bytes());
        }
        self.bytes.extend_from_slice(pkt);
    }

    /// Where the packet at `pos` lies: (start, end).
    fn item_at(&self, pos: usize) -> Option<(usize, usize)> {
        let len = *self.bytes.get(pos)? as usize;
        let (start, len) = if len == 0 {
            let l = self.bytes.get(pos + 1..pos + 3)?;
            (pos + 3, u16::from_le_bytes([l[0], l[1]]) as usize)
        } else {
            (pos + 1, len)
        };
        (start + len <= self.bytes.len()).then_some((start, start + len))
    }

    fn iter(&self) -> impl Iterator<Item = &[u8]> {
        let mut pos = 0;
        std::iter::from_fn(move || {
            let (start, end) = self.item_at(pos)?;
            pos = end;
            Some(&self.bytes[start..end])
        })
    }

    /// The packets as a snapshot carries them (`snapshot::SNAPSHOT_FORMAT`
    /// 1): each behind a `u16` length, whatever the queue's own layout.
    fn to_framed(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.bytes.len() * 2);
        for pkt in self.iter() {
            out.extend_from_slice(&(pkt.len() as u16).to_le_bytes());
            out.extend_from_slice(pkt);
        }
        out
    }

    /// The queue back from [`UnreliableQueue::to_framed`]'s bytes; `None`
    /// if they do not hold together.
    fn from_framed(mut framed: &[u8]) -> Option<UnreliableQueue> {
        let mut q = UnreliableQueue::default();
        while !framed.is_empty() {
            let len = u16::from_le_bytes([*framed.first()?, *framed.get(1)?]) as usize;
            q.push(framed.get(2..2 + len)?);
            framed = &framed[2 + len..];
        }
        Some(q)
    }
}

/// Builds outgoing datagrams: clusters small packets, encrypts, emits.
#[derive(Default)]
struct Packer {
    cluster: Vec<u8>,
    items: usize,
    scratch: Vec<u8>,
    datagrams: u64,
    bytes: u64,
}

impl Packer {
    fn emit(&mut self, cipher: &Cipher, bytes: &[u8], out: &mut dyn FnMut(&[u8])) {
        self.scratch.clear();
        self.scratch.extend_from_slice(bytes);
        cipher.encrypt(&mut self.scratch);
        self.datagrams += 1;
        self.bytes += self.scratch.len() as u64;
        out(&self.scratch);
    }

    fn push(&mut self, cipher: &Cipher, pkt: &[u8], out: &mut dyn FnMut(&[u8])) {
        if pkt.len() > MAX_CLUSTER_ITEM {
            self.emit(cipher, pkt, out);
            return;
        }
        if self.items > 0 && self.cluster.len() + 1 + pkt.len() > MAX_PACKET {
            self.finish(cipher, out);
        }
        if self.items == 0 {
            self.cluster.clear();
            self.cluster.extend_from_slice(&[0x00, 0x0E]);
        }
        self.cluster.push(pkt.len() as u8);
        self.cluster.extend_from_slice(pkt);
        self.items += 1;
    }

    /// Encrypts a datagram the packer owns where it lies (no copy) and
    /// hands it out.
    fn emit_in_place(&mut self, cipher: &Cipher, datagram: &mut [u8], out: &mut dyn FnMut(&[u8])) {
        cipher.encrypt(datagram);
        self.datagrams += 1;
        self.bytes += datagram.len() as u64;
        out(datagram);
    }

    /// Packs every packet of a queue, in order, exactly as pushing them
    /// one by one would; but a run of short packets that fits the cluster
    /// being built is copied in one piece, as the queue already holds it
    /// in cluster form.
    fn push_queue(&mut self, cipher: &Cipher, q: &UnreliableQueue, out: &mut dyn FnMut(&[u8])) {
        let b = &q.bytes;
        let mut pos = 0;
        while pos < b.len() {
            if b[pos] == 0 {
                let Some((start, end)) = q.item_at(pos) else {
                    break;
                };
                self.push(cipher, &b[start..end], out);
                pos = end;
                continue;
            }
            let first = b[pos] as usize;
            if self.items > 0 && self.cluster.len() + 1 + first > MAX_PACKET {
                self.finish(cipher, out);
            }
            if self.items == 0 {
                self.cluster.clear();
                self.cluster.extend_from_slice(&[0x00, 0x0E]);
            }
            // The first packet fits (an empty cluster has room for any
            // short one); take as many more as still do.
            let room = MAX_PACKET - self.cluster.len();
            let start = pos;
            let mut n = 0;
            while let Some(&len) = b.get(pos) {
                let next = pos + 1 + len as usize;
                if len == 0 || next - start > room || next > b.len() {
                    break;
                }
                pos = next;
                n += 1;
            }
            if n == 0 {
                // A truncated entry (cannot happen: push writes whole ones).
                break;
            }
            self.cluster.extend_from_slice(&b[start..pos]);
            self.items += n;
        }
    }

    fn finish(&mut self, cipher: &Cipher, out: &mut dyn FnMut(&[u8])) {
        let mut cluster = std::mem::take(&mut self.cluster);
        match self.items {
            0 => {}
            // A lone item goes without the cluster header and its length.
            1 => self.emit_in_place(cipher, &mut cluster[3..], out),
            _ => self.emit_in_place(cipher, &mut cluster, out),
        }
        self.cluster = cluster;
        self.cluster.clear();
        self.items = 0;
    }
}

/// One end of a SubSpace core-transport link.
pub struct Connection {
    role: Role,
    state: State,
    cfg: TransportConfig,
    cipher: Cipher,
    clock: TickClock,
    continuum: bool,
    events: VecDeque<Event>,
    stats: ConnStats,
    last_recv: Instant,

    // client handshake
    client_key: u32,
    init_sent_at: Option<Instant>,
    server_tick_offset: Option<i32>,

    // reliable receive
    in_expected: i32,
    in_slots: Vec<Option<Vec<u8>>>,
    acks: Vec<i32>,

    // reliable send
    out_next_seq: i32,
    /// Reliable payloads waiting for the window, with their ticket if
    /// tracked.
    rel_unsent: VecDeque<(Vec<u8>, Option<u64>)>,
    /// Bytes of the payloads in `rel_unsent`.
    rel_unsent_bytes: usize,
    rel_inflight: VecDeque<InFlight>,
    next_ticket: u64,
    avg_rtt: u32,
    rtt_dev: u32,
    spare_bufs: Vec<Vec<u8>>,

    // unreliable send
    unrel: [UnreliableQueue; 3],
    unrel_bytes: usize,
    raw: UnreliableQueue,

    // big data and sized streams
    big_in: Vec<u8>,
    big_overflow: bool,
    sized_in: Option<SizedIn>,
    sized_skip: usize,
    sized_out: VecDeque<SizedOut>,

    packer: Packer,
}

impl Connection {
    fn new(role: Role, now: Instant, cfg: TransportConfig, clock: TickClock) -> Connection {
        let window = cfg.recv_window.max(1);
        Connection {
            role,
            state: State::Open,
            cfg,
            cipher: Cipher::Null,
            clock,
            continuum: false,
            events: VecDeque::new(),
            stats: ConnStats::default(),
            last_recv: now,
            client_key: 0,
            init_sent_at: None,
            server_tick_offset: None,
            in_expected: 0,
            in_slots: (0..window).map(|_| None).collect(),
            acks: Vec::new(),
            out_next_seq: 0,
            rel_unsent: VecDeque::new(),
            rel_unsent_bytes: 0,
            rel_inflight: VecDeque::new(),
            next_ticket: 0,
            avg_rtt: 200,
            rtt_dev: 100,
            spare_bufs: Vec::new(),
            unrel: Default::default(),
            unrel_bytes: 0,
            raw: UnreliableQueue::default(),
            big_in: Vec::new(),
            big_overflow: false,
            sized_in: None,
            sized_skip: 0,
            sized_out: VecDeque::new(),
            packer: Packer::default(),
        }
    }

    /// The server side of a connection accepted by [`decide_init`].
    pub fn server(
        now: Instant,
        cfg: TransportConfig,
        clock: TickClock,
        cipher_key: u32,
        continuum: bool,
    ) -> Connection {
        let mut c = Connection::new(Role::Server, now, cfg, clock);
        c.cipher = Cipher::for_key(cipher_key);
        c.continuum = continuum;
        c
    }

    /// A client connection; its first [`poll_transmit`](Self::poll_transmit)
    /// sends the connection request with `key` (bit 31 set, as clients do).
    pub fn client(now: Instant, cfg: TransportConfig, key: u32) -> Connection {
        let mut c = Connection::new(Role::Client, now, cfg, TickClock::new(now, 0));
        c.client_key = key | 0x8000_0000;
        c.state = State::AwaitingKey;
        c
    }

    /// Which end this is.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Whether the peer announced itself as a Continuum client.
    pub fn is_continuum(&self) -> bool {
        self.continuum
    }

    /// Whether VIE encryption is in use.
    pub fn is_encrypted(&self) -> bool {
        matches!(self.cipher, Cipher::Vie(_))
    }

    /// Whether the connection has ended.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// Whether the handshake is complete and the link open.
    pub fn is_open(&self) -> bool {
        self.state == State::Open
    }

    /// The connection's counters.
    pub fn stats(&self) -> &ConnStats {
        &self.stats
    }

    /// Reliable packets waiting to be sent or acknowledged.
    pub fn reliable_backlog(&self) -> usize {
        self.rel_unsent.len() + self.rel_inflight.len()
    }

    /// Bytes of reliable payloads waiting beyond the send window (what the
    /// outgoing limit counts).
    pub fn reliable_waiting_bytes(&self) -> usize {
        self.rel_unsent_bytes
    }

    /// The outgoing limit in bytes: `max_outgoing` full reliable packets,
    /// at least `min_outgoing_bytes`.
    pub fn outgoing_limit(&self) -> usize {
        self.cfg
            .max_outgoing
            .saturating_mul(MAX_RELIABLE_PAYLOAD)
            .max(self.cfg.min_outgoing_bytes)
    }

    /// Smoothed reliable round trip in milliseconds.
    pub fn rtt_ms(&self) -> u32 {
        self.avg_rtt
    }

    /// Time since the last datagram from the peer.
    pub fn silent_for(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.last_recv)
    }

    /// Next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Client role: estimated server ticks at `now`, once a time sync has
    /// been answered.
    pub fn server_ticks(&self, now: Instant) -> Option<u32> {
        self.server_tick_offset
            .map(|off| (self.clock.ticks(now).wrapping_add(off as u32)) & 0x7FFF_FFFF)
    }

    /// Local ticks at `now` (the server's clock on the server side).
    pub fn local_ticks(&self, now: Instant) -> u32 {
        self.clock.ticks(now)
    }

    /// Client role: queues a time sync request (`00 05`), sent unreliably.
    pub fn send_time_sync(&mut self, now: Instant) {
        let mut p = [0u8; 14];
        p[1] = 0x05;
        p[2..6].copy_from_slice(&self.clock.ticks(now).to_le_bytes());
        p[6..10].copy_from_slice(&(self.stats.datagrams_out as u32).to_le_bytes());
        p[10..14].copy_from_slice(&(self.stats.datagrams_in as u32).to_le_bytes());
        self.raw.push(&p);
    }

    /// Encrypts a datagram in place with this connection's cipher, for a
    /// packet sent outside the queues (e.g. a last message to a client
    /// whose connection has just ended).
    pub fn seal(&self, datagram: &mut [u8]) {
        self.cipher.encrypt(datagram);
    }

    /// Closes the connection: a `00 07` goes out with the next transmit.
    pub fn disconnect(&mut self) {
        if matches!(self.state, State::Open | State::AwaitingKey) {
            self.raw.push(&DISCONNECT);
            self.state = State::Closing;
            self.events
                .push_back(Event::Disconnected(DisconnectReason::Local));
        }
    }

    fn close(&mut self, reason: DisconnectReason) {
        if self.state != State::Closed {
            self.state = State::Closed;
            self.events.push_back(Event::Disconnected(reason));
        }
    }

    /// Queues a packet. Reliable payloads over [`MAX_RELIABLE_PAYLOAD`] are
    /// split into `00 08`/`00 09` fragments; an unreliable packet that large
    /// is sent reliably. Returns false if the packet was discarded.
    pub fn send(&mut self, payload: &[u8], reliability: Reliability, priority: Priority) -> bool {
        if !matches!(self.state, State::Open) || payload.is_empty() {
            return false;
        }
        if reliability == Reliability::Unreliable && payload.len() <= MAX_PACKET {
            if self.unrel_bytes + payload.len() > self.cfg.max_unreliable_bytes {
                self.stats.unreliable_discarded += 1;
                return false;
            }
            self.unrel_bytes += payload.len();
            self.unrel[priority as usize].push(payload);
            return true;
        }
        if payload.len() <= MAX_RELIABLE_PAYLOAD {
            self.queue_reliable(payload);
        } else {
            let mut chunks = payload.chunks(CHUNK_SIZE).peekable();
            while let Some(chunk) = chunks.next() {
                let kind = if chunks.peek().is_some() { 0x08 } else { 0x09 };
                let mut buf = self.spare_bufs.pop().unwrap_or_default();
                buf.clear();
                buf.extend_from_slice(&[0x00, kind]);
                buf.extend_from_slice(chunk);
                self.rel_unsent_bytes += buf.len();
                self.rel_unsent.push_back((buf, None));
            }
        }
        if self.rel_unsent_bytes > self.outgoing_limit() {
            self.close(DisconnectReason::TooManyOutgoing);
            return false;
        }
        true
    }

    fn queue_reliable(&mut self, payload: &[u8]) {
        let mut buf = self.spare_bufs.pop().unwrap_or_default();
        buf.clear();
        buf.extend_from_slice(payload);
        self.rel_unsent_bytes += buf.len();
        self.rel_unsent.push_back((buf, None));
    }

    /// Queues a reliable packet of at most [`MAX_RELIABLE_PAYLOAD`] bytes
    /// and returns a ticket for [`Connection::is_acked`], or `None` if the
    /// packet was not queued (link not open, empty or too large, queue
    /// full). Lets a caller learn which messages the peer has confirmed,
    /// e.g. to re-send only the unconfirmed ones on a new link.
    pub fn send_tracked(&mut self, payload: &[u8]) -> Option<u64> {
        if !matches!(self.state, State::Open)
            || payload.is_empty()
            || payload.len() > MAX_RELIABLE_PAYLOAD
            || self.rel_unsent_bytes + payload.len() > self.outgoing_limit()
        {
            return None;
        }
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        self.queue_reliable(payload);
        if let Some(last) = self.rel_unsent.back_mut() {
            last.1 = Some(ticket);
        }
        Some(ticket)
    }

    /// Whether the packet queued with `ticket` has been acknowledged by the
    /// peer. False while it waits or is in flight, and forever if the link
    /// closed before the acknowledgement came.
    pub fn is_acked(&self, ticket: u64) -> bool {
        ticket < self.next_ticket
            && !self.rel_unsent.iter().any(|(_, t)| *t == Some(ticket))
            && !self.rel_inflight.iter().any(|p| p.ticket == Some(ticket))
    }

    /// Queues a sized stream (`00 0A`), e.g. a map download. The data's first
    /// byte is the game packet type of the whole transfer.
    /// Returns false (and drops the stream) when the connection already has
    /// [`MAX_SIZED_QUEUE`] streams waiting: a client asking again and again
    /// cannot make the queue grow.
    pub fn send_sized(&mut self, data: Arc<[u8]>) -> bool {
        if !matches!(self.state, State::Open)
            || data.is_empty()
            || self.sized_out.len() >= MAX_SIZED_QUEUE
        {
            return false;
        }
        self.sized_out.push_back(SizedOut { data, offset: 0 });
        true
    }

    /// Sized streams queued (being sent or waiting).
    pub fn sized_queue_len(&self) -> usize {
        self.sized_out.len()
    }

    /// Whether a sized stream is still being sent.
    pub fn sized_pending(&self) -> bool {
        !self.sized_out.is_empty()
    }

    /// Processes one received datagram (decrypted in place). Game packets are
    /// passed to `on_packet` in the order the protocol delivers them.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        datagram: &mut [u8],
        on_packet: &mut dyn FnMut(&[u8]),
    ) {
        if self.state == State::Closed || datagram.is_empty() {
            return;
        }
        self.stats.datagrams_in += 1;
        self.stats.bytes_in += datagram.len() as u64;
        if datagram.len() > MAX_RECV {
            self.stats.dropped += 1;
            return;
        }
        if datagram.len() >= 2 && datagram[0] == 0 && datagram[1] == 0x02 {
            // key response: never encrypted
            self.last_recv = now;
            self.handle_key_response(datagram);
            return;
        }
        if self.state == State::AwaitingKey {
            self.stats.dropped += 1;
            return;
        }
        self.last_recv = now;
        if is_connection_request(datagram) {
            // The owner of the connection table decides what a repeated
            // request means; it is never part of an open link's stream.
            self.stats.dropped += 1;
            return;
        }
        self.cipher.decrypt(datagram);
        self.process(now, datagram, 0, on_packet);
    }

    fn handle_key_response(&mut self, datagram: &[u8]) {
        if self.role != Role::Client || self.state != State::AwaitingKey || datagram.len() != 6 {
            self.stats.dropped += 1;
            return;
        }
        let key = u32::from_le_bytes([datagram[2], datagram[3], datagram[4], datagram[5]]);
        // Only the answer to this request's key: the key itself (no
        // encryption) or its VIE server key. Anything else answers an
        // earlier request (a late or replayed reply) and would set a
        // cipher the server does not use (`docs/protocol/core-transport.md` §4.2).
        self.cipher = if key == self.client_key {
            Cipher::Null
        } else if key == vie_server_key(self.client_key) {
            Cipher::for_key(key)
        } else {
            self.stats.dropped += 1;
            return;
        };
        self.state = State::Open;
        self.events.push_back(Event::Connected {
            encrypted: self.is_encrypted(),
        });
    }

    fn process(&mut self, now: Instant, pkt: &[u8], depth: u8, on_packet: &mut dyn FnMut(&[u8])) {
        if depth > MAX_NESTING || pkt.is_empty() {
            self.stats.dropped += 1;
            return;
        }
        if pkt[0] != 0 {
            if pkt[0] < 0x40 {
                on_packet(pkt);
            } else {
                self.stats.dropped += 1;
            }
            return;
        }
        if pkt.len() < 2 {
            self.stats.dropped += 1;
            return;
        }
        match pkt[1] {
            0x03 => self.process_reliable(now, pkt, depth, on_packet),
            0x04 if pkt.len() == 6 => self.process_ack(now, read_i32(&pkt[2..6])),
            // Answered in either role: a biller asks the zone, its client,
            // too (docs/protocol/billing-udp.md §1.2).
            0x05 if pkt.len() == 14 => {
                self.stats.sync = SyncCounts {
                    peer_sent: read_u32(&pkt[6..10]),
                    peer_received: read_u32(&pkt[10..14]),
                    sent: self.stats.datagrams_out,
                    received: self.stats.datagrams_in,
                };
                let mut reply = [0u8; 10];
                reply[1] = 0x06;
                reply[2..6].copy_from_slice(&pkt[2..6]);
                reply[6..10].copy_from_slice(&self.clock.ticks(now).to_le_bytes());
                self.raw.push(&reply);
            }
            0x06 if pkt.len() >= 10 && self.role == Role::Client => {
                let sent = read_u32(&pkt[2..6]);
                let server = read_u32(&pkt[6..10]);
                let local = self.clock.ticks(now);
                let rtt = tick_diff(local, sent).max(0) as u32;
                let server_now = server.wrapping_add(rtt / 2);
                self.server_tick_offset = Some(server_now.wrapping_sub(local) as i32);
                self.events.push_back(Event::TimeSynced { rtt_ticks: rtt });
            }
            0x07 if pkt.len() == 2 => self.close(DisconnectReason::Peer),
            0x08 | 0x09 if pkt.len() >= 3 => self.process_big(pkt, depth, on_packet, now),
            0x0A if pkt.len() >= 7 => self.process_sized(pkt, on_packet),
            0x0B if pkt.len() == 2 => self.cancel_sized_out(),
            0x0C if pkt.len() == 2 => {
                self.sized_in = None;
            }
            0x0E if pkt.len() >= 4 => {
                let mut pos = 2;
                while pos < pkt.len() {
                    let len = pkt[pos] as usize;
                    if len == 0 || pos + 1 + len > pkt.len() {
                        break;
                    }
                    self.process(now, &pkt[pos + 1..pos + 1 + len], depth + 1, on_packet);
                    pos += 1 + len;
                }
            }
            _ => self.stats.dropped += 1,
        }
    }

    fn process_reliable(
        &mut self,
        now: Instant,
        pkt: &[u8],
        depth: u8,
        on_packet: &mut dyn FnMut(&[u8]),
    ) {
        if pkt.len() < 7 {
            self.stats.dropped += 1;
            return;
        }
        let seq = read_i32(&pkt[2..6]);
        let window = self.in_slots.len() as i32;
        let ahead = seq.wrapping_sub(self.in_expected);
        if ahead >= window {
            self.stats.dropped += 1;
            return;
        }
        self.acks.push(seq);
        if ahead < 0 {
            self.stats.duplicates += 1;
            return;
        }
        let slot = (seq as u32 as usize) % self.in_slots.len();
        if ahead > 0 {
            if self.in_slots[slot].is_some() {
                self.stats.duplicates += 1;
            } else {
                self.in_slots[slot] = Some(pkt[6..].to_vec());
            }
            return;
        }
        // In order: deliver without copying, then drain what was waiting.
        self.in_expected = self.in_expected.wrapping_add(1);
        self.process(now, &pkt[6..], depth + 1, on_packet);
        loop {
            let slot = (self.in_expected as u32 as usize) % self.in_slots.len();
            let Some(held) = self.in_slots[slot].take() else {
                break;
            };
            self.in_expected = self.in_expected.wrapping_add(1);
            self.process(now, &held, depth + 1, on_packet);
        }
    }

    fn process_ack(&mut self, now: Instant, seq: i32) {
        let Some(idx) = self.rel_inflight.iter().position(|p| p.seq == seq) else {
            return;
        };
        let Some(done) = self.rel_inflight.remove(idx) else {
            return;
        };
        if done.tries == 1 {
            if let Some(sent) = done.last_sent {
                let rtt = now.saturating_duration_since(sent).as_millis().min(60_000) as u32;
                let dev = self.avg_rtt.abs_diff(rtt);
                self.rtt_dev = (3 * self.rtt_dev + dev) / 4;
                self.avg_rtt = (7 * self.avg_rtt + rtt) / 8;
            }
        }
        self.recycle(done.packet);
    }

    fn recycle(&mut self, buf: Vec<u8>) {
        if self.spare_bufs.len() < 64 && buf.capacity() <= 1024 {
            self.spare_bufs.push(buf);
        }
    }

    fn process_big(
        &mut self,
        pkt: &[u8],
        depth: u8,
        on_packet: &mut dyn FnMut(&[u8]),
        now: Instant,
    ) {
        let data = &pkt[2..];
        if !self.big_overflow {
            if self.big_in.len() + data.len() > self.cfg.max_big_packet {
                self.big_overflow = true;
                self.big_in = Vec::new();
                self.stats.dropped += 1;
            } else {
                self.big_in.extend_from_slice(data);
            }
        }
        if pkt[1] == 0x09 {
            let whole = std::mem::take(&mut self.big_in);
            let overflowed = std::mem::replace(&mut self.big_overflow, false);
            if !overflowed && whole.first().is_some_and(|&t| t != 0) {
                self.process(now, &whole, depth + 1, on_packet);
            } else if !overflowed {
                self.stats.dropped += 1;
            }
        }
    }

    fn process_sized(&mut self, pkt: &[u8], on_packet: &mut dyn FnMut(&[u8])) {
        let total = read_u32(&pkt[2..6]) as usize;
        let data = &pkt[6..];
        if self.sized_skip > 0 {
            self.sized_skip = self.sized_skip.saturating_sub(data.len());
            return;
        }
        let fresh = self.sized_in.is_none();
        if fresh {
            if total == 0 || total > self.cfg.max_sized_receive || data[0] == 0 || data[0] >= 0x40 {
                // Refused without reserving anything; skip the rest of it.
                self.stats.dropped += 1;
                self.sized_skip = total.saturating_sub(data.len());
                return;
            }
            self.sized_in = Some(SizedIn {
                total,
                buf: Vec::with_capacity(total.min(64 * 1024)),
            });
        }
        let Some(transfer) = self.sized_in.as_mut() else {
            return;
        };
        if transfer.total != total || transfer.buf.len() + data.len() > total {
            self.stats.dropped += 1;
            self.sized_in = None;
            return;
        }
        transfer.buf.extend_from_slice(data);
        if transfer.buf.len() == total {
            if let Some(done) = self.sized_in.take() {
                on_packet(&done.buf);
            }
        }
    }

    fn cancel_sized_out(&mut self) {
        if self.sized_out.pop_front().is_some() {
            // Drop fragments of it that have not entered the window yet.
            self.rel_unsent
                .retain(|(p, _)| !(p.len() >= 2 && p[0] == 0 && p[1] == 0x0A));
            self.rel_unsent_bytes = self.rel_unsent.iter().map(|(p, _)| p.len()).sum();
            self.events.push_back(Event::SizedCancelled);
        }
        if self.state == State::Open {
            self.queue_reliable(&[0x00, 0x0C]);
        }
    }

    fn refill_sized(&mut self) {
        // A stream never takes more than half the outgoing limit, so other
        // reliable packets (keepalives, chat) always fit behind it; and it
        // is fed only a window's worth ahead of the window.
        let budget = (self.outgoing_limit() / 2).max(6 + CHUNK_SIZE);
        while self.rel_unsent.len() < self.cfg.send_window
            && self.rel_unsent_bytes + 6 + CHUNK_SIZE <= budget
        {
            let Some(transfer) = self.sized_out.front_mut() else {
                return;
            };
            let end = (transfer.offset + CHUNK_SIZE).min(transfer.data.len());
            let mut buf = Vec::with_capacity(6 + end - transfer.offset);
            buf.extend_from_slice(&[0x00, 0x0A]);
            buf.extend_from_slice(&(transfer.data.len() as u32).to_le_bytes());
            buf.extend_from_slice(&transfer.data[transfer.offset..end]);
            transfer.offset = end;
            if end >= transfer.data.len() {
                self.sized_out.pop_front();
            }
            self.rel_unsent_bytes += buf.len();
            self.rel_unsent.push_back((buf, None));
        }
    }

    /// How long a reliable packet sent now waits for its ack before it is
    /// sent again (the first try; later tries wait multiples of it):
    /// smoothed round trip plus four deviations, 250 ms to 2 s.
    pub fn retransmit_timeout(&self) -> Duration {
        let ms = (self.avg_rtt + 4 * self.rtt_dev).clamp(250, 2000);
        Duration::from_millis(ms as u64)
    }

    /// Checks timers: the no-data timeout and the reliable retry limit.
    fn check_timers(&mut self, now: Instant) {
        if self.state == State::AwaitingKey || self.state == State::Open {
            let silent = now.saturating_duration_since(self.last_recv);
            let limit = if self.state == State::AwaitingKey {
                self.cfg.drop_timeout.min(Duration::from_secs(10))
            } else {
                self.cfg.drop_timeout
            };
            if silent >= limit {
                self.close(DisconnectReason::NoData);
            }
        }
    }

    /// Builds and emits every datagram that is due: raw replies, acks,
    /// reliable packets in the window (new and retransmitted), then
    /// unreliable ones by priority, clustered and encrypted.
    pub fn poll_transmit(&mut self, now: Instant, out: &mut dyn FnMut(&[u8])) {
        self.check_timers(now);
        let mut packer = std::mem::take(&mut self.packer);
        let before = (packer.datagrams, packer.bytes);

        if self.state == State::AwaitingKey {
            let due = self
                .init_sent_at
                .is_none_or(|t| now.saturating_duration_since(t) >= self.cfg.init_retry);
            if due {
                let mut init = [0u8; 8];
                init[1] = 0x01;
                init[2..6].copy_from_slice(&self.client_key.to_le_bytes());
                init[6] = CLIENT_TYPE_VIE;
                packer.emit(&Cipher::Null, &init, out);
                self.init_sent_at = Some(now);
            }
        }

        for raw in self.raw.iter() {
            packer.emit(&self.cipher, raw, out);
        }
        self.raw.bytes.clear();
        if self.state == State::Closing {
            self.state = State::Closed;
        }
        if self.state != State::Open {
            self.finish_transmit(packer, before);
            return;
        }

        for &seq in &self.acks {
            let mut ack = [0u8, 0x04, 0, 0, 0, 0];
            ack[2..6].copy_from_slice(&seq.to_le_bytes());
            packer.push(&self.cipher, &ack, out);
        }
        self.acks.clear();

        self.refill_sized();
        // Move payloads into the send window.
        while self.rel_inflight.len() < self.cfg.send_window {
            let Some((payload, ticket)) = self.rel_unsent.pop_front() else {
                break;
            };
            self.rel_unsent_bytes -= payload.len();
            let mut packet = self.spare_bufs.pop().unwrap_or_default();
            packet.clear();
            packet.extend_from_slice(&[0x00, 0x03]);
            packet.extend_from_slice(&self.out_next_seq.to_le_bytes());
            packet.extend_from_slice(&payload);
            self.recycle(payload);
            self.rel_inflight.push_back(InFlight {
                seq: self.out_next_seq,
                packet,
                last_sent: None,
                tries: 0,
                ticket,
            });
            self.out_next_seq = self.out_next_seq.wrapping_add(1);
        }
        let rto = self.retransmit_timeout();
        let mut give_up = false;
        for p in self.rel_inflight.iter_mut() {
            let due = match p.last_sent {
                None => true,
                Some(t) => now.saturating_duration_since(t) > rto * p.tries.max(1),
            };
            if !due {
                continue;
            }
            if p.tries >= self.cfg.max_retries {
                give_up = true;
                break;
            }
            if p.tries > 0 {
                self.stats.retransmits += 1;
            }
            p.tries += 1;
            p.last_sent = Some(now);
            packer.push(&self.cipher, &p.packet, out);
        }
        if give_up {
            packer.finish(&self.cipher, out);
            self.close(DisconnectReason::TooManyRetries);
            self.finish_transmit(packer, before);
            return;
        }

        for pri in [Priority::High, Priority::Normal, Priority::Low] {
            let queue = std::mem::take(&mut self.unrel[pri as usize]);
            packer.push_queue(&self.cipher, &queue, out);
            self.unrel[pri as usize] = queue;
            self.unrel[pri as usize].bytes.clear();
        }
        self.unrel_bytes = 0;
        packer.finish(&self.cipher, out);
        self.finish_transmit(packer, before);
    }

    fn finish_transmit(&mut self, packer: Packer, before: (u64, u64)) {
        self.stats.datagrams_out += packer.datagrams - before.0;
        self.stats.bytes_out += packer.bytes - before.1;
        self.packer = packer;
    }

    /// Hands every queued game packet to `out` without transmitting it,
    /// for a peer that is not reached over UDP (a chat-protocol client of
    /// the same process): unreliable packets by priority, then reliable
    /// ones in order, with big-data fragments joined back into one packet.
    /// Sized streams and raw transport replies are dropped. The peer counts
    /// as heard from, so the connection never times out; a disconnect
    /// queued with [`disconnect`](Self::disconnect) closes it here.
    pub fn take_local(&mut self, now: Instant, out: &mut dyn FnMut(&[u8])) {
        self.last_recv = now;
        self.raw.bytes.clear();
        self.acks.clear();
        self.sized_out.clear();
        if self.state == State::Closing {
            self.state = State::Closed;
        }
        if self.state != State::Open {
            return;
        }
        for q in self.unrel.iter_mut().rev() {
            for pkt in q.iter() {
                out(pkt);
            }
            q.bytes.clear();
        }
        self.unrel_bytes = 0;
        // In-flight packets carry their `00 03 seq` header (none are, for a
        // connection that is never transmitted); queued ones are bare.
        let inflight = self.rel_inflight.drain(..).map(|p| (p.packet, 6));
        let queued = self.rel_unsent.drain(..).map(|(b, _)| (b, 0));
        let mut big = Vec::new();
        for (buf, skip) in inflight.chain(queued) {
            let pkt = buf.get(skip..).unwrap_or(&[]);
            match pkt.get(..2) {
                Some([0x00, 0x08]) => big.extend_from_slice(&pkt[2..]),
                Some([0x00, 0x09]) => {
                    big.extend_from_slice(&pkt[2..]);
                    out(&big);
                    big.clear();
                }
                _ => out(pkt),
            }
            self.spare_bufs.push(buf);
        }
    }

    /// Whether anything is waiting to be sent right away.
    pub fn has_pending(&self) -> bool {
        self.has_urgent() || self.unrel_bytes > 0
    }

    /// Whether something other than queued unreliable packets is waiting
    /// (raw replies, acks, reliable data), which a sender that delays
    /// flushes to coalesce unreliable traffic should not hold back.
    pub fn has_urgent(&self) -> bool {
        !self.raw.bytes.is_empty()
            || !self.acks.is_empty()
            || (!self.rel_unsent.is_empty() && self.rel_inflight.len() < self.cfg.send_window)
            || (!self.sized_out.is_empty() && self.rel_unsent.len() < self.cfg.send_window)
            || self.rel_inflight.iter().any(|p| p.last_sent.is_none())
    }

    /// Bytes of unreliable packets queued for the next transmit.
    pub fn unreliable_bytes(&self) -> usize {
        self.unrel_bytes
    }

    /// The next time [`poll_transmit`](Self::poll_transmit) has work that is
    /// not already pending: a retransmission or a timeout.
    pub fn next_deadline(&self) -> Option<Instant> {
        match self.state {
            State::Closed => None,
            State::Closing => Some(self.last_recv),
            State::AwaitingKey => Some(
                self.init_sent_at
                    .map_or(self.last_recv, |t| t + self.cfg.init_retry),
            ),
            State::Open => {
                let rto = self.retransmit_timeout();
                let retransmit = self
                    .rel_inflight
                    .iter()
                    .filter_map(|p| p.last_sent.map(|t| t + rto * p.tries.max(1)))
                    .min();
                let silence = self.last_recv + self.cfg.drop_timeout;
                Some(retransmit.map_or(silence, |r| r.min(silence)))
            }
        }
    }
}

fn read_u32(b: &[u8]) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[..4]);
    u32::from_le_bytes(w)
}

fn read_i32(b: &[u8]) -> i32 {
    read_u32(b) as i32
}

mod snapshot;
pub use snapshot::{ConnectionSnapshot, SNAPSHOT_FORMAT};

#[cfg(test)]
mod tests;
