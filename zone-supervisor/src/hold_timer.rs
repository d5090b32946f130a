//! A timer with microsecond precision for held-back connections.
//!
//! tokio's timers round up to whole milliseconds and fire on the runtime's
//! millisecond tick, so a 3 ms hold (`crate::flush`) became 4–5 ms and the
//! 40-player latency bound was lost on the timer alone. A `timerfd` is
//! armed for the exact release time and waited on through the reactor like
//! any socket (readable only); its expiry count is never read (see
//! [`HoldTimer::fired`]).

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

use ipc_proto::timerfd::TimerFd;

/// A one-shot monotonic timer that the event loop can wait on.
#[derive(Debug)]
pub struct HoldTimer {
    fd: TimerFd,
    armed: Option<Instant>,
}

impl HoldTimer {
    /// A disarmed timer.
    pub fn new() -> io::Result<HoldTimer> {
        Ok(HoldTimer {
            fd: TimerFd::new()?,
            armed: None,
        })
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
        let first = match at {
            // A zero first expiry would disarm: a past time becomes 1 µs.
            Some(t) => t
                .saturating_duration_since(Instant::now())
                .max(Duration::from_micros(1)),
            None => Duration::ZERO,
        };
        self.fd.arm(first, Duration::ZERO)?;
        self.armed = at;
        Ok(())
    }

    /// Waits until the armed time has passed, then disarms. Never returns
    /// while disarmed.
    ///
    /// The expiry count is never read. Re-arming resets it, and every
    /// expiry after that raises readiness anew (the reactor is
    /// edge-triggered), so a read would be one more system call per firing
    /// and one per stale readiness for nothing. Readiness left from a
    /// firing the loop did not take (its queues rode another pass and the
    /// timer was re-armed since) is told apart by the clock instead.
    pub async fn fired(&mut self) -> io::Result<()> {
        loop {
            let mut guard = self.fd.readable().await?;
            // Clearing keeps any readiness newer than this one (tokio
            // compares the reactor's tick), so an expiry that lands now is
            // not lost.
            guard.clear_ready();
            if let Some(at) = self.armed {
                // The kernel's expiry and `Instant` read the same monotonic
                // clock, and `set` armed at or after `at`.
                if Instant::now() >= at {
                    self.armed = None;
                    return Ok(());
                }
            }
        }
    }
}

impl AsRawFd for HoldTimer {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn fires_once_the_armed_time_has_passed_and_disarms() {
        runtime().block_on(async {
            let mut t = HoldTimer::new().unwrap();
            let at = Instant::now() + Duration::from_millis(3);
            t.set(Some(at)).unwrap();
            t.fired().await.unwrap();
            assert!(Instant::now() >= at);
            assert_eq!(t.armed(), None);
        });
    }

    #[test]
    fn fires_again_after_re_arming_without_reading_the_count() {
        runtime().block_on(async {
            let mut t = HoldTimer::new().unwrap();
            for _ in 0..5 {
                let at = Instant::now() + Duration::from_millis(1);
                t.set(Some(at)).unwrap();
                t.fired().await.unwrap();
                assert!(Instant::now() >= at);
            }
        });
    }

    #[test]
    fn readiness_from_a_firing_not_taken_does_not_fire_a_later_arming_early() {
        runtime().block_on(async {
            let mut t = HoldTimer::new().unwrap();
            t.set(Some(Instant::now())).unwrap();
            // Wait for the first arming's expiry to reach the reactor, and
            // leave its readiness there (a guard dropped without clearing).
            drop(t.fd.readable().await.unwrap());
            let later = Instant::now() + Duration::from_millis(20);
            t.set(Some(later)).unwrap();
            t.fired().await.unwrap();
            assert!(Instant::now() >= later);
            assert_eq!(t.armed(), None);
        });
    }
}
