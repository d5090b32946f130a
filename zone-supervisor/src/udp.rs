//! Batched UDP I/O: many datagrams per system call (`recvmmsg`/`sendmmsg`).
//!
//! A loop pass may send hundreds of datagrams (one clustered datagram per
//! player who got something); sending them with one `sendmmsg` instead of
//! one `sendto` each is most of the supervisor's syscall budget under load.

use std::io;
use std::mem::MaybeUninit;
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, RawFd};

use tokio::io::unix::{AsyncFd, AsyncFdReadyGuard};
use tokio::io::Interest;

/// Most datagrams per system call.
pub const BATCH: usize = 64;
/// Largest datagram received (larger ones are truncated and then dropped
/// by the transport as oversized).
pub const RECV_SIZE: usize = 2048;

/// The game socket, registered with the reactor for reading only.
///
/// tokio's `UdpSocket` also registers for writability, and over loopback
/// every datagram we send reports write space again, which costs an extra
/// `epoll_wait` round per pass for nothing. Sends never wait here: a full
/// send buffer drops the datagram (counted), as UDP would anyway.
#[derive(Debug)]
pub struct GameSocket {
    inner: AsyncFd<std::net::UdpSocket>,
}

impl GameSocket {
    /// Registers a bound socket (made non-blocking here) for reading.
    pub fn new(sock: std::net::UdpSocket) -> io::Result<GameSocket> {
        sock.set_nonblocking(true)?;
        if let Err(e) = set_dont_fragment(sock.as_raw_fd()) {
            // Only a saving is lost: datagrams go out as before.
            tracing::debug!("game socket: IP_MTU_DISCOVER not set: {e}");
        }
        // SAFETY: the UdpSocket owns its descriptor, which stays open and
        // refers to the same socket until the AsyncFd is dropped.
        let inner = unsafe { AsyncFd::register_with_interest(sock, Interest::READABLE) }?;
        Ok(GameSocket { inner })
    }

    /// Waits until datagrams may be waiting. The caller clears the
    /// readiness (`clear_ready`) and then reads until a short batch.
    pub async fn readable(&self) -> io::Result<AsyncFdReadyGuard<'_, std::net::UdpSocket>> {
        self.inner.readable().await
    }

    /// Sends one datagram now, without waiting (the zone sends through
    /// `crate::outbox`; this is for tests).
    #[cfg(test)]
    pub fn try_send_to(&self, buf: &[u8], addr: SocketAddr) -> io::Result<usize> {
        self.inner.get_ref().send_to(buf, addr)
    }

    /// The address the socket is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }
}

/// Marks the socket's IPv4 datagrams "don't fragment" without letting a
/// learned path MTU refuse them (`IP_PMTUDISC_PROBE`).
///
/// A datagram that may be fragmented needs an IP identification, which
/// Linux draws per datagram from a keyed hash and a random number, about
/// 1.5 % of the supervisor's time under load (BENCHMARKS.md, fifth
/// session); one marked "don't fragment" gets 0. Nothing we send needs
/// fragmenting: a datagram is at most 512 bytes (`MAX_PACKET`,
/// core-transport.md §2), under the 576 bytes every IPv4 path carries.
/// On an IPv6 socket this sets the option for its IPv4-mapped traffic, or
/// fails harmlessly.
fn set_dont_fragment(fd: RawFd) -> io::Result<()> {
    let probe: libc::c_int = libc::IP_PMTUDISC_PROBE;
    // SAFETY: `fd` is an open socket; the option value is a c_int that
    // lives across the call, and its size is passed with it.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::IPPROTO_IP,
            libc::IP_MTU_DISCOVER,
            (&probe as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

impl AsRawFd for GameSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }
}

/// Outgoing datagrams collected during a loop pass.
#[derive(Default)]
pub struct SendBatch {
    bytes: Vec<u8>,
    msgs: Vec<(SocketAddr, usize, usize)>,
    /// Datagrams the kernel refused (buffer full or error).
    pub failed: u64,
}

fn to_sockaddr(addr: &SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: an all-zero sockaddr_storage is a valid value.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than sockaddr_in and suitably aligned.
            unsafe { std::ptr::write(&mut storage as *mut _ as *mut libc::sockaddr_in, sin) };
            std::mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: as above, for sockaddr_in6.
            unsafe { std::ptr::write(&mut storage as *mut _ as *mut libc::sockaddr_in6, sin6) };
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

fn from_sockaddr(storage: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match storage.ss_family as libc::c_int {
        libc::AF_INET => {
            // SAFETY: the family says this storage holds a sockaddr_in.
            let sin = unsafe { &*(storage as *const _ as *const libc::sockaddr_in) };
            let ip = std::net::Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
            Some(SocketAddr::V4(SocketAddrV4::new(
                ip,
                u16::from_be(sin.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says this storage holds a sockaddr_in6.
            let sin6 = unsafe { &*(storage as *const _ as *const libc::sockaddr_in6) };
            Some(SocketAddr::V6(SocketAddrV6::new(
                sin6.sin6_addr.s6_addr.into(),
                u16::from_be(sin6.sin6_port),
                sin6.sin6_flowinfo,
                sin6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

impl SendBatch {
    /// Datagrams queued.
    pub fn len(&self) -> usize {
        self.msgs.len()
    }

    /// Nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.msgs.is_empty()
    }

    /// Queues one datagram.
    pub fn push(&mut self, addr: SocketAddr, datagram: &[u8]) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(datagram);
        self.msgs.push((addr, start, datagram.len()));
    }

    /// Sends everything queued on `fd` (a non-blocking UDP socket) and
    /// empties the batch. Datagrams the kernel refuses are counted and
    /// dropped: UDP gives no delivery promise and a full send buffer must
    /// not stall the zone.
    pub fn flush(&mut self, fd: RawFd) {
        let mut next = 0;
        while next < self.msgs.len() {
            let chunk = &self.msgs[next..(next + BATCH).min(self.msgs.len())];
            let mut addrs: [MaybeUninit<(libc::sockaddr_storage, libc::socklen_t)>; BATCH] =
                [const { MaybeUninit::uninit() }; BATCH];
            let mut iovs: [MaybeUninit<libc::iovec>; BATCH] =
                [const { MaybeUninit::uninit() }; BATCH];
            // SAFETY: an all-zero mmsghdr array is valid; each used entry is filled below.
            let mut hdrs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
            for (i, (addr, start, len)) in chunk.iter().enumerate() {
                addrs[i].write(to_sockaddr(addr));
                iovs[i].write(libc::iovec {
                    iov_base: self.bytes[*start..].as_ptr() as *mut libc::c_void,
                    iov_len: *len,
                });
                // SAFETY: both were just written.
                let (sa, sa_len) = unsafe { addrs[i].assume_init_mut() };
                hdrs[i].msg_hdr.msg_name = sa as *mut _ as *mut libc::c_void;
                hdrs[i].msg_hdr.msg_namelen = *sa_len;
                hdrs[i].msg_hdr.msg_iov = iovs[i].as_mut_ptr();
                hdrs[i].msg_hdr.msg_iovlen = 1;
            }
            // SAFETY: hdrs[..chunk.len()] point at live buffers owned by self and the arrays above.
            let sent =
                unsafe { libc::sendmmsg(fd, hdrs.as_mut_ptr(), chunk.len() as libc::c_uint, 0) };
            if sent <= 0 {
                let err = io::Error::last_os_error();
                if err.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                // Skip the datagram that failed (e.g. unreachable address).
                self.failed += 1;
                next += 1;
            } else {
                next += sent as usize;
            }
        }
        self.bytes.clear();
        self.msgs.clear();
    }
}

/// Buffers for receiving a batch of datagrams with one `recvmmsg`.
pub struct RecvBatch {
    bufs: Vec<[u8; RECV_SIZE]>,
    addrs: Vec<libc::sockaddr_storage>,
    lens: Vec<usize>,
    count: usize,
}

/// An empty batch without buffers: cheap to create (`mem::take` leaves one
/// behind); the buffers are allocated by the first [`RecvBatch::recv`].
impl Default for RecvBatch {
    fn default() -> Self {
        RecvBatch {
            bufs: Vec::new(),
            addrs: Vec::new(),
            lens: Vec::new(),
            count: 0,
        }
    }
}

impl RecvBatch {
    /// A batch with its buffers allocated.
    fn allocated() -> Self {
        RecvBatch {
            bufs: vec![[0u8; RECV_SIZE]; BATCH],
            // SAFETY: all-zero sockaddr_storage values are valid.
            addrs: vec![unsafe { std::mem::zeroed() }; BATCH],
            lens: vec![0; BATCH],
            count: 0,
        }
    }
}

impl RecvBatch {
    /// Receives up to a batch of datagrams from `fd` (non-blocking).
    /// Returns how many arrived; `WouldBlock` when none was waiting.
    pub fn recv(&mut self, fd: RawFd) -> io::Result<usize> {
        if self.bufs.len() < BATCH {
            *self = RecvBatch::allocated();
        }
        let mut iovs = [libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        }; BATCH];
        for (iov, buf) in iovs.iter_mut().zip(self.bufs.iter_mut()) {
            iov.iov_base = buf.as_mut_ptr() as *mut libc::c_void;
            iov.iov_len = RECV_SIZE;
        }
        // SAFETY: an all-zero mmsghdr array is valid; entries are filled below.
        let mut hdrs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
        for i in 0..BATCH {
            hdrs[i].msg_hdr.msg_name = &mut self.addrs[i] as *mut _ as *mut libc::c_void;
            hdrs[i].msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as u32;
            hdrs[i].msg_hdr.msg_iov = &mut iovs[i];
            hdrs[i].msg_hdr.msg_iovlen = 1;
        }
        // SAFETY: every header points at buffers owned by self that outlive the call.
        let n = unsafe {
            libc::recvmmsg(
                fd,
                hdrs.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            self.count = 0;
            return Err(io::Error::last_os_error());
        }
        self.count = n as usize;
        for (i, h) in hdrs.iter().take(self.count).enumerate() {
            self.lens[i] = h.msg_len as usize;
        }
        Ok(self.count)
    }

    /// Datagram `i` of the last batch: sender and bytes (mutable, so it
    /// can be decrypted in place).
    pub fn get(&mut self, i: usize) -> Option<(SocketAddr, &mut [u8])> {
        if i >= self.count {
            return None;
        }
        let addr = from_sockaddr(&self.addrs[i])?;
        let len = self.lens[i].min(RECV_SIZE);
        Some((addr, &mut self.bufs[i][..len]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    fn mtu_discover(fd: RawFd) -> libc::c_int {
        let mut v: libc::c_int = -1;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: `fd` is an open socket; `v` and `len` outlive the call.
        let rc = unsafe {
            libc::getsockopt(
                fd,
                libc::IPPROTO_IP,
                libc::IP_MTU_DISCOVER,
                (&mut v as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        assert_eq!(rc, 0, "{}", io::Error::last_os_error());
        v
    }

    #[test]
    fn the_game_socket_sends_dont_fragment_datagrams_that_still_arrive() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .unwrap();
        let _guard = rt.enter();
        let plain = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        assert_ne!(mtu_discover(plain.as_raw_fd()), libc::IP_PMTUDISC_PROBE);
        let game = GameSocket::new(plain).unwrap();
        assert_eq!(mtu_discover(game.as_raw_fd()), libc::IP_PMTUDISC_PROBE);
        // A datagram larger than any we build still arrives whole.
        let peer = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        peer.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let big = [7u8; 520];
        game.try_send_to(&big, peer.local_addr().unwrap()).unwrap();
        let mut buf = [0u8; 2048];
        let (n, from) = peer.recv_from(&mut buf).unwrap();
        assert_eq!((n, from), (520, game.local_addr().unwrap()));
        assert_eq!(&buf[..n], &big[..]);
    }

    #[test]
    fn batches_round_trip_over_loopback() {
        let a = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let b_addr = b.local_addr().unwrap();
        let mut out = SendBatch::default();
        for i in 0..150u8 {
            out.push(b_addr, &[i, i, i]);
        }
        out.flush(a.as_raw_fd());
        assert_eq!(out.failed, 0);
        assert!(out.msgs.is_empty());
        let mut rx = RecvBatch::default();
        let mut got = Vec::new();
        b.set_read_timeout(Some(std::time::Duration::from_secs(2)))
            .unwrap();
        while got.len() < 150 {
            match rx.recv(b.as_raw_fd()) {
                Ok(n) => {
                    for i in 0..n {
                        let (from, bytes) = rx.get(i).unwrap();
                        assert_eq!(from, a.local_addr().unwrap());
                        got.push(bytes[0]);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    // wait for more with a blocking peek, bounded by the timeout
                    let mut one = [0u8; 8];
                    b.peek(&mut one).expect("datagrams within 2 s");
                }
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(got, (0..150u8).collect::<Vec<_>>());
    }
}
