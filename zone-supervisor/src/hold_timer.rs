//! A timer with microsecond precision for held-back connections.
//!
//! tokio's timers round up to whole milliseconds and fire on the runtime's
//! millisecond tick, so a 3 ms hold (`crate::flush`) became 4–5 ms and the
//! 40-player latency bound was lost on the timer alone. A `timerfd` is
//! armed for the exact release time and read through the reactor like any
//! socket (readable only).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// A one-shot monotonic timer that the event loop can wait on.
#[derive(Debug)]
pub struct HoldTimer {
    fd: AsyncFd<OwnedFd>,
    armed: Option<Instant>,
}

impl HoldTimer {
    /// A disarmed timer.
    pub fn new() -> io::Result<HoldTimer> {
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
        Ok(HoldTimer { fd, armed: None })
    }

    /// When the timer fires next (`None`: disarmed).
    pub fn armed(&self) -> Option<Instant> {
        self.armed
    }

    /// Arms the timer for `at` (a time already past fires at once), or
    /// disarms it. Does nothing when it is already set so.
    pub fn set(&mut self, at: Option<Instant>) -> io::Result<()> {
        if at == self.armed {
            return Ok(());
        }
        let value = match at {
            // A zero it_value would disarm: a past time becomes 1 µs.
            Some(t) => t
                .saturating_duration_since(Instant::now())
                .max(Duration::from_micros(1)),
            None => Duration::ZERO,
        };
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: value.as_secs() as libc::time_t,
                tv_nsec: value.subsec_nanos() as libc::c_long,
            },
        };
        // SAFETY: a valid timerfd and a fully initialised itimerspec.
        let r =
            unsafe { libc::timerfd_settime(self.fd.as_raw_fd(), 0, &spec, std::ptr::null_mut()) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        self.armed = at;
        Ok(())
    }

    /// Waits until the armed time has passed, then disarms. Never returns
    /// while disarmed.
    pub async fn fired(&mut self) -> io::Result<()> {
        loop {
            let mut guard = self.fd.readable().await?;
            let mut count = [0u8; 8];
            // SAFETY: reading 8 bytes into an 8-byte buffer.
            let n = unsafe {
                libc::read(
                    guard.get_inner().as_raw_fd(),
                    count.as_mut_ptr() as *mut libc::c_void,
                    8,
                )
            };
            if n == 8 {
                self.armed = None;
                return Ok(());
            }
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::WouldBlock {
                guard.clear_ready();
                continue;
            }
            return Err(err);
        }
    }
}

impl AsRawFd for HoldTimer {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}
