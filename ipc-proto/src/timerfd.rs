//! A monotonic `timerfd` registered with tokio's reactor for reading, as
//! both processes use one: the supervisor's flush timer
//! (`zone-supervisor/src/hold_timer.rs`, one-shot, microsecond precision)
//! and the realm's arena tick (`realm-worker/src/ticker.rs`, periodic).
//! tokio's own timers round to whole milliseconds and wake early around
//! their wheel's coarse slots; a `timerfd` wakes the reactor when it
//! expires and not otherwise.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use tokio::io::unix::{AsyncFd, AsyncFdReadyGuard};
use tokio::io::Interest;

/// A non-blocking `CLOCK_MONOTONIC` timer the event loop can wait on.
#[derive(Debug)]
pub struct TimerFd {
    fd: AsyncFd<OwnedFd>,
}

fn timespec(d: Duration) -> libc::timespec {
    libc::timespec {
        tv_sec: d.as_secs() as libc::time_t,
        tv_nsec: d.subsec_nanos() as libc::c_long,
    }
}

impl TimerFd {
    /// A disarmed timer, registered with the current runtime's reactor.
    pub fn new() -> io::Result<TimerFd> {
        // SAFETY: plain syscall; the result is checked and owned at once.
        let raw = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a new descriptor nobody else owns.
        let owned = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: the OwnedFd keeps the descriptor open, and referring to
        // the same timer, for as long as the AsyncFd holds it.
        let fd = unsafe { AsyncFd::register_with_interest(owned, Interest::READABLE) }?;
        Ok(TimerFd { fd })
    }

    /// Arms the timer to expire `first` from now and then every `every`
    /// (zero: once), or disarms it when `first` is zero. The kernel
    /// re-arms a periodic timer only when its count is read
    /// ([`TimerFd::read_count`]).
    pub fn arm(&self, first: Duration, every: Duration) -> io::Result<()> {
        let spec = libc::itimerspec {
            it_interval: timespec(every),
            it_value: timespec(first),
        };
        // SAFETY: a valid timerfd and a fully initialised itimerspec.
        let r =
            unsafe { libc::timerfd_settime(self.fd.as_raw_fd(), 0, &spec, std::ptr::null_mut()) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Waits until the reactor reports the timer readable (an expiry since
    /// readiness was last cleared).
    pub async fn readable(&self) -> io::Result<AsyncFdReadyGuard<'_, OwnedFd>> {
        self.fd.readable().await
    }

    /// Reads the expiry count: `Some(n)` after `n` expiries, `None` when
    /// none happened since the last read. Reading re-arms a periodic timer.
    pub fn read_count(&self) -> io::Result<Option<u64>> {
        let mut count = [0u8; 8];
        // SAFETY: reads at most 8 bytes into an 8-byte buffer from a
        // descriptor the AsyncFd keeps open.
        let n = unsafe { libc::read(self.fd.as_raw_fd(), count.as_mut_ptr().cast(), count.len()) };
        if n == 8 {
            return Ok(Some(u64::from_ne_bytes(count)));
        }
        let err = io::Error::last_os_error();
        if n < 0 && err.kind() == io::ErrorKind::WouldBlock {
            return Ok(None);
        }
        Err(if n < 0 {
            err
        } else {
            io::Error::new(io::ErrorKind::UnexpectedEof, "short timerfd read")
        })
    }
}

impl AsRawFd for TimerFd {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}
