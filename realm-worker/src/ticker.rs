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
use std::time::Duration;

use ipc_proto::timerfd::TimerFd;

/// A periodic monotonic timer the event loop can wait on.
#[derive(Debug)]
pub struct Ticker {
    fd: TimerFd,
}

impl Ticker {
    /// A timer that first fires one `period` from now, then every
    /// `period`.
    pub fn every(period: Duration) -> io::Result<Ticker> {
        let fd = TimerFd::new()?;
        let period = period.max(Duration::from_micros(1));
        fd.arm(period, period)?;
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
            let expired = self.fd.read_count()?.is_some();
            // Read (re-armed) or nothing expired since the last read:
            // either way the next expiry raises a new edge. No expiry can
            // be recorded between the read and this clear, as the reactor
            // only runs while this task waits.
            guard.clear_ready();
            if expired {
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
