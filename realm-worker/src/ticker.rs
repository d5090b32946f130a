//! The arena's 100 ms tick, from a periodic `timerfd`.
//!
//! tokio's `interval` sits in a hierarchical timer wheel: a deadline more
//! than 64 ms away is parked in a coarse slot, and the runtime wakes at
//! that slot's start to move it down, and again (its waits rounded to
//! whole milliseconds) before it is due. A realm with 40 players woke
//! 64 times a second; with this timer 55, each of the 9 saved costing
//! about as much as a real wake-up (BENCHMARKS.md, "fifteenth session").
//! A periodic `timerfd` wakes the reactor once per period; reading its
//! expiry count (which re-arms it) costs one system call per tick.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// A periodic monotonic timer the event loop can wait on.
#[derive(Debug)]
pub struct Ticker {
    fd: AsyncFd<OwnedFd>,
}

impl Ticker {
    /// A timer that first fires one `period` from now, then every
    /// `period`.
    pub fn every(period: Duration) -> io::Result<Ticker> {
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
        let period = period.max(Duration::from_micros(1));
        let ts = libc::timespec {
            tv_sec: period.as_secs() as libc::time_t,
            tv_nsec: period.subsec_nanos() as libc::c_long,
        };
        let spec = libc::itimerspec {
            it_interval: ts,
            it_value: ts,
        };
        // SAFETY: a valid timerfd and a fully initialised itimerspec.
        let r = unsafe { libc::timerfd_settime(owned.as_raw_fd(), 0, &spec, std::ptr::null_mut()) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the OwnedFd keeps the descriptor open, and referring to
        // the same timer, for as long as the AsyncFd holds it.
        let fd = unsafe { AsyncFd::register_with_interest(owned, Interest::READABLE) }?;
        Ok(Ticker { fd })
    }

    /// Waits for the next expiry. Expiries missed while the loop was busy
    /// make one tick, not a burst (as `MissedTickBehavior::Skip`).
    ///
    /// The expiry count must be read: the kernel re-arms a periodic
    /// `timerfd` only when it is read, so an unread one fires once.
    pub async fn tick(&self) -> io::Result<()> {
        loop {
            let mut guard = self.fd.readable().await?;
            let mut count = [0u8; 8];
            // SAFETY: reads at most 8 bytes into an 8-byte buffer from a
            // descriptor the AsyncFd keeps open.
            let n =
                unsafe { libc::read(self.fd.as_raw_fd(), count.as_mut_ptr().cast(), count.len()) };
            if n < 0 {
                let err = io::Error::last_os_error();
                if err.kind() != io::ErrorKind::WouldBlock {
                    return Err(err);
                }
            }
            // Read (re-armed) or nothing expired since the last read:
            // either way the next expiry raises a new edge. No expiry can
            // be recorded between the read and this clear, as the reactor
            // only runs while this task waits.
            guard.clear_ready();
            if n == 8 {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .unwrap()
    }

    #[test]
    fn ticks_come_no_sooner_than_each_period() {
        runtime().block_on(async {
            let period = Duration::from_millis(5);
            let start = Instant::now();
            let t = Ticker::every(period).unwrap();
            for n in 1..=4u32 {
                t.tick().await.unwrap();
                assert!(start.elapsed() >= period * n, "tick {n} early");
            }
        });
    }

    /// The kernel re-arms a periodic timerfd only when its count is read:
    /// a ticker that did not read it fired once and then never again.
    #[test]
    fn ticks_go_on_after_the_loop_was_busy_for_several_periods() {
        runtime().block_on(async {
            let period = Duration::from_millis(2);
            let t = Ticker::every(period).unwrap();
            t.tick().await.unwrap();
            std::thread::sleep(period * 5);
            for _ in 0..3 {
                t.tick().await.unwrap();
            }
        });
    }
}
