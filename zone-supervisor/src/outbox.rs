//! Where a loop pass's outgoing game datagrams go (`Net:SendThreads`).
//!
//! Every datagram for a game client is pushed here during a pass and leaves
//! when the pass ends ([`Outbox::flush`]). By default (0 send threads) the
//! zone thread hands them to the kernel itself with `sendmmsg`. With N send
//! threads, the datagrams are split by client address into N shards and
//! each shard's batch is handed to its own thread, which makes the system
//! calls on a duplicate of the game socket's descriptor. The kernel's send
//! path is the largest single cost of a loaded supervisor (BENCHMARKS.md,
//! "Past two cores"), so this moves it off the one thread that owns the
//! zone state and onto other cores, without moving any state.
//!
//! Ordering: a client's datagrams always go to the same shard, and a shard's
//! batches are sent in the order they were handed over, so each client
//! receives its datagrams in the order the zone produced them, exactly as
//! with inline sending. Nothing is promised across clients (nor is today).
//!
//! Back-pressure: a shard holds at most [`QUEUED_BATCHES`] batches; a zone
//! thread that outruns the kernel by that much waits for its send thread
//! rather than growing memory without bound.

use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::udp::SendBatch;

/// Batches one send thread may have queued before the zone thread waits.
pub const QUEUED_BATCHES: usize = 64;

/// Most send threads (`Net:SendThreads`).
pub const MAX_SEND_THREADS: usize = 64;

/// The pass's outgoing game datagrams and the way they leave.
pub struct Outbox {
    /// A duplicate of the game socket's descriptor (inline sending): the
    /// outbox's own, so it stays valid until the outbox is gone.
    socket: std::net::UdpSocket,
    /// One batch per shard: one when sending inline.
    shards: Vec<SendBatch>,
    /// The send threads, when there are any.
    threads: Option<SendThreads>,
}

impl Outbox {
    /// An outbox sending on the game socket `socket` with `threads` send
    /// threads (0: the zone thread sends itself).
    pub fn new(socket: &std::net::UdpSocket, threads: usize) -> std::io::Result<Outbox> {
        let threads = threads.min(MAX_SEND_THREADS);
        let send_threads = if threads == 0 {
            None
        } else {
            Some(SendThreads::start(socket, threads)?)
        };
        Ok(Outbox {
            socket: socket.try_clone()?,
            shards: (0..threads.max(1)).map(|_| SendBatch::default()).collect(),
            threads: send_threads,
        })
    }

    /// Queues one datagram for `addr`; it leaves with the next [`flush`](Self::flush).
    pub fn push(&mut self, addr: SocketAddr, datagram: &[u8]) {
        let shard = shard_of(&addr, self.shards.len());
        self.shards[shard].push(addr, datagram);
    }

    /// Sends (or hands to the send threads) everything queued.
    pub fn flush(&mut self) {
        match &mut self.threads {
            None => self.shards[0].flush(self.socket.as_raw_fd()),
            Some(threads) => {
                for (i, batch) in self.shards.iter_mut().enumerate() {
                    if !batch.is_empty() {
                        threads.hand_over(i, batch);
                    }
                }
            }
        }
    }

    /// Flushes, then waits until the send threads have handed every
    /// datagram to the kernel (before the process execs or exits).
    pub fn flush_and_wait(&mut self) {
        self.flush();
        if let Some(threads) = &mut self.threads {
            threads.wait_idle();
        }
    }

    /// Datagrams the kernel refused so far (buffer full or error).
    pub fn failed(&self) -> u64 {
        let inline: u64 = self.shards.iter().map(|b| b.failed).sum();
        inline
            + self
                .threads
                .as_ref()
                .map_or(0, |t| t.failed.load(Ordering::Relaxed))
    }

    /// How many send threads there are (0: inline).
    pub fn send_threads(&self) -> usize {
        self.threads.as_ref().map_or(0, |t| t.queues.len())
    }
}

impl Drop for Outbox {
    /// What was pushed and not flushed yet still leaves (a stopping zone's
    /// last goodbyes), and the send threads finish theirs.
    fn drop(&mut self) {
        self.flush_and_wait();
    }
}

/// The shard (send thread) a client's datagrams go to: stable for an
/// address, spread evenly over many.
fn shard_of(addr: &SocketAddr, shards: usize) -> usize {
    if shards <= 1 {
        return 0;
    }
    let ip = match addr {
        SocketAddr::V4(a) => u64::from(u32::from_be_bytes(a.ip().octets())),
        SocketAddr::V6(a) => {
            let o = a.ip().octets();
            let (hi, lo) = o.split_at(8);
            u64::from_be_bytes(hi.try_into().unwrap_or_default())
                ^ u64::from_be_bytes(lo.try_into().unwrap_or_default())
        }
    };
    let key = (ip << 16) ^ u64::from(addr.port());
    // Fibonacci hashing: the high bits of the product are well mixed.
    let mixed = key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
    (mixed % shards as u64) as usize
}

/// The send threads and the channels to them.
struct SendThreads {
    /// Full batches to each thread, in order.
    queues: Vec<SyncSender<SendBatch>>,
    /// Emptied batches coming back, reused so a pass does not allocate.
    returned: Receiver<SendBatch>,
    /// Batches handed over and not yet back.
    outstanding: usize,
    /// Datagrams the kernel refused, counted by the threads.
    failed: Arc<AtomicU64>,
    handles: Vec<JoinHandle<()>>,
}

impl SendThreads {
    fn start(socket: &std::net::UdpSocket, n: usize) -> std::io::Result<SendThreads> {
        let (return_tx, returned) = mpsc::channel();
        let failed = Arc::new(AtomicU64::new(0));
        let mut queues = Vec::with_capacity(n);
        let mut handles = Vec::with_capacity(n);
        for i in 0..n {
            // A duplicate descriptor of the same socket: the datagrams
            // leave from the game port, and the thread's copy stays valid
            // however the zone's own handle is moved. It is closed on exec.
            let sock = socket.try_clone()?;
            let (tx, rx) = mpsc::sync_channel::<SendBatch>(QUEUED_BATCHES);
            let back: Sender<SendBatch> = return_tx.clone();
            let failed = failed.clone();
            let handle = std::thread::Builder::new()
                .name(format!("send-{i}"))
                .spawn(move || send_thread(sock, rx, back, failed))?;
            queues.push(tx);
            handles.push(handle);
        }
        Ok(SendThreads {
            queues,
            returned,
            outstanding: 0,
            failed,
            handles,
        })
    }

    /// Hands shard `i`'s batch to its thread and leaves an empty one in
    /// its place.
    fn hand_over(&mut self, i: usize, batch: &mut SendBatch) {
        let empty = self.returned.try_recv().inspect(|_| self.outstanding -= 1);
        let full = std::mem::replace(batch, empty.unwrap_or_default());
        match self.queues[i].send(full) {
            Ok(()) => self.outstanding += 1,
            // The thread is gone (it only ends when its queue closes, so
            // it panicked): the datagrams are lost, and counted.
            Err(mpsc::SendError(lost)) => {
                self.failed.fetch_add(lost.len() as u64, Ordering::Relaxed);
            }
        }
    }

    /// Waits until every batch handed over has been sent.
    fn wait_idle(&mut self) {
        while self.outstanding > 0 {
            match self.returned.recv() {
                Ok(_) => self.outstanding -= 1,
                Err(_) => break,
            }
        }
    }
}

impl Drop for SendThreads {
    /// Closes the queues and waits for the threads: whatever was handed
    /// over still leaves (a zone stopping sends its goodbyes).
    fn drop(&mut self) {
        self.queues.clear();
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}

/// One send thread: sends each batch in turn and gives it back empty.
fn send_thread(
    sock: std::net::UdpSocket,
    queue: Receiver<SendBatch>,
    back: Sender<SendBatch>,
    failed: Arc<AtomicU64>,
) {
    let fd = sock.as_raw_fd();
    for mut batch in queue {
        batch.flush(fd);
        if batch.failed > 0 {
            failed.fetch_add(batch.failed, Ordering::Relaxed);
            batch.failed = 0;
        }
        // The zone may be gone already (shutting down): nothing to return to.
        let _ = back.send(batch);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;
    use std::time::Duration;

    #[test]
    fn a_clients_shard_is_stable_and_clients_spread_over_all_shards() {
        let mut seen = [0usize; 4];
        for port in 1000..1400u16 {
            let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
            let s = shard_of(&addr, 4);
            assert_eq!(s, shard_of(&addr, 4));
            seen[s] += 1;
        }
        assert!(seen.iter().all(|&n| n > 50), "uneven shards: {seen:?}");
        let v6: SocketAddr = "[::1]:5000".parse().unwrap();
        assert!(shard_of(&v6, 3) < 3);
        assert_eq!(shard_of(&v6, 1), 0);
    }

    /// Every datagram arrives, each client's in the order pushed, whether
    /// the zone thread sends or three send threads do.
    fn round_trip(threads: usize) {
        let game = UdpSocket::bind("127.0.0.1:0").unwrap();
        game.set_nonblocking(true).unwrap();
        let clients: Vec<UdpSocket> = (0..5)
            .map(|_| {
                let c = UdpSocket::bind("127.0.0.1:0").unwrap();
                c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                c
            })
            .collect();
        let mut outbox = Outbox::new(&game, threads).unwrap();
        assert_eq!(outbox.send_threads(), threads);
        // 40 passes of one small datagram per client, then a marker each.
        for pass in 0..40u8 {
            for (ci, c) in clients.iter().enumerate() {
                outbox.push(c.local_addr().unwrap(), &[ci as u8, pass]);
            }
            outbox.flush();
        }
        for c in &clients {
            outbox.push(c.local_addr().unwrap(), b"end");
        }
        outbox.flush_and_wait();
        for (ci, c) in clients.iter().enumerate() {
            let mut buf = [0u8; 16];
            let mut got = Vec::new();
            loop {
                let (n, from) = c.recv_from(&mut buf).unwrap();
                assert_eq!(from, game.local_addr().unwrap(), "sent from the game port");
                if &buf[..n] == b"end" {
                    break;
                }
                assert_eq!(buf[0], ci as u8);
                got.push(buf[1]);
            }
            assert_eq!(got, (0..40).collect::<Vec<u8>>(), "client {ci}");
        }
        assert_eq!(outbox.failed(), 0);
    }

    #[test]
    fn inline_sending_delivers_in_order() {
        round_trip(0);
    }

    #[test]
    fn send_threads_deliver_each_clients_datagrams_in_order_from_the_game_port() {
        round_trip(3);
    }

    #[test]
    fn what_was_handed_over_still_leaves_when_the_outbox_is_dropped() {
        let game = UdpSocket::bind("127.0.0.1:0").unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut outbox = Outbox::new(&game, 2).unwrap();
        outbox.push(client.local_addr().unwrap(), b"bye");
        outbox.flush();
        drop(outbox);
        let mut buf = [0u8; 8];
        let (n, _) = client.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"bye");
    }
}
