//! The IPC socket as both processes drive it: a Unix stream registered with
//! tokio's reactor for *reading only*.
//!
//! tokio's own `UnixStream` registers for writability too. On a socket pair
//! that is costly: every time one side reads, the kernel reports write space
//! to the other side, and a process asleep in `epoll_wait` is woken for
//! nothing — one spurious wake-up per message in each direction, measured
//! as half of a realm's wake-ups (BENCHMARKS.md, "Fewer wake-ups").
//! [`IpcStream`] writes without waiting and registers for writability only
//! for the rare write that finds the socket full.

use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// A non-blocking Unix stream socket for IPC frames, woken only when there
/// is something to read. Share it between a reader and a writer task with
/// an `Arc`: every method takes `&self`.
#[derive(Debug)]
pub struct IpcStream {
    inner: AsyncFd<UnixStream>,
}

impl IpcStream {
    /// Registers `stream` (made non-blocking here) for reading.
    pub fn new(stream: UnixStream) -> io::Result<IpcStream> {
        stream.set_nonblocking(true)?;
        Ok(IpcStream {
            inner: register(stream, Interest::READABLE)?,
        })
    }

    /// Reads what is available (at least one byte, or 0 at end of stream)
    /// into `buf`'s spare capacity, reserving `want` bytes first.
    pub async fn read_buf(&self, buf: &mut Vec<u8>, want: usize) -> io::Result<usize> {
        loop {
            let mut guard = self.inner.readable().await?;
            match read_spare(self.inner.get_ref(), buf, want) {
                Ok(n) => {
                    // A short read emptied the socket: forget the readiness
                    // now instead of finding out with one more `read`. Data
                    // that came after the guard was taken is not forgotten
                    // (tokio only clears the readiness the guard saw).
                    if n > 0 && n < want {
                        guard.clear_ready();
                    }
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => guard.clear_ready(),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Writes all of `bytes`. Without waiting while the socket has room;
    /// when it is full, waits for room through a short-lived registration
    /// for writability.
    pub async fn write_all(&self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            match self.inner.get_ref().write(bytes) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => bytes = &bytes[n..],
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.wait_writable().await?,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    async fn wait_writable(&self) -> io::Result<()> {
        let dup = self.inner.get_ref().try_clone()?;
        let waiter = register(dup, Interest::WRITABLE)?;
        let mut guard = waiter.writable().await?;
        guard.clear_ready();
        Ok(())
    }
}

/// Registers an owned socket with the reactor for `interest`.
fn register(stream: UnixStream, interest: Interest) -> io::Result<AsyncFd<UnixStream>> {
    // SAFETY: `UnixStream` owns its descriptor, which stays open and refers
    // to the same socket until the `AsyncFd` (and so the stream) is dropped.
    Ok(unsafe { AsyncFd::register_with_interest(stream, interest) }?)
}

/// One `read` of at most `want` bytes into `buf`'s spare capacity.
fn read_spare(s: &UnixStream, buf: &mut Vec<u8>, want: usize) -> io::Result<usize> {
    buf.reserve(want);
    let spare = buf.spare_capacity_mut();
    // SAFETY: `read` only writes into the spare bytes, and exactly `n` of
    // them are marked initialised afterwards.
    let n = unsafe {
        libc::read(
            s.as_raw_fd(),
            spare.as_mut_ptr() as *mut libc::c_void,
            spare.len().min(want),
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let n = n as usize;
    // SAFETY: the kernel initialised `n` bytes past the old length.
    unsafe { buf.set_len(buf.len() + n) };
    Ok(n)
}
