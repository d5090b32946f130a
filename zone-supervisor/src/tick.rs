//! When the housekeeping tick (`Zone::on_tick`) runs: the tick schedule.
//!
//! The tick retransmits, sends keepalives, passes relayed positions on to
//! the realms and runs the slower housekeeping. A fixed 10 ms tick woke a
//! lightly loaded supervisor a hundred times a second for nothing: most
//! ticks found no transport deadline due, and at 4 players those wake-ups
//! were a third of the zone's CPU (BENCHMARKS.md, "ninth session").
//!
//! So the tick follows what actually needs it
//! (`docs/protocol/core-transport.md` §13.4, last part):
//! - the earliest transport deadline of any connection (a retransmission,
//!   a silence timeout, the biller link's timers), kept as a lower bound
//!   that every connection sending reliable data lowers and every tick
//!   recomputes;
//! - otherwise [`MAX_GAP`] after the last tick while anyone is connected
//!   (the 50 ms cadence of the position hand-over and the 100 ms
//!   housekeeping), or [`IDLE_GAP`] in an empty zone;
//! - never sooner than [`MIN_GAP`] after the last tick, so a deadline that
//!   stays in the past (a connection closing) cannot spin the loop.
//!
//! A pass that comes within [`SLACK`] of the due time runs the tick early,
//! so in steady traffic the tick rides passes that arrivals cause. This
//! module is sans-IO: it is fed times and tested with made-up ones.

use std::time::{Duration, Instant};

/// The shortest time between two ticks (the old fixed tick).
pub const MIN_GAP: Duration = Duration::from_millis(10);

/// The longest time between two ticks while there is any connection
/// (pending logins included).
pub const MAX_GAP: Duration = Duration::from_millis(50);

/// The time between two ticks of a zone without connections: nothing
/// there has a transport deadline, and what remains (the biller link,
/// scores, the log ring, the 100 ms housekeeping) does not need more.
pub const IDLE_GAP: Duration = Duration::from_millis(100);

/// A pass this close to the tick's due time runs the tick early instead
/// of leaving it a wake-up of its own.
pub const SLACK: Duration = Duration::from_millis(3);

/// When the next tick is due.
#[derive(Debug, Clone, Copy)]
pub struct TickSchedule {
    /// When the last tick ran.
    last: Instant,
    /// No transport deadline is earlier than this (`None`: none known).
    /// It may be early (a deadline that has since moved on); the tick
    /// then runs for nothing and recomputes it.
    transport_due: Option<Instant>,
}

impl TickSchedule {
    /// A schedule whose first tick is measured from `now`.
    pub fn new(now: Instant) -> TickSchedule {
        TickSchedule {
            last: now,
            transport_due: None,
        }
    }

    /// Records a tick that runs at `now`; it forgets the deadlines known
    /// so far, and gives those it finds still ahead to [`Self::deadline`].
    pub fn ran(&mut self, now: Instant) {
        self.last = now;
        self.transport_due = None;
    }

    /// A deadline that may be new since the last tick (a reliable packet
    /// just sent, the biller link's timers): the tick comes no later.
    pub fn deadline(&mut self, due: Option<Instant>) {
        if let Some(d) = due {
            if self.transport_due.is_none_or(|t| d < t) {
                self.transport_due = Some(d);
            }
        }
    }

    /// When the next tick is due; `connected`: whether anyone is.
    pub fn next(&self, connected: bool) -> Instant {
        let gap = if connected { MAX_GAP } else { IDLE_GAP };
        let latest = self.last + gap;
        let wanted = self.transport_due.map_or(latest, |d| d.min(latest));
        wanted.max(self.last + MIN_GAP)
    }

    /// Whether a pass at `now` runs the tick.
    pub fn is_due(&self, now: Instant, connected: bool) -> bool {
        now + SLACK >= self.next(connected)
    }
}

/// Whether something done every `every`, last at `last`, is due in a tick
/// at `now`. A tick may run up to [`SLACK`] early, which counts as on time:
/// otherwise a 50 ms task on a tick that came 1 ms early would wait for the
/// next tick and run every 100 ms.
pub fn periodic_due(now: Instant, last: Instant, every: Duration) -> bool {
    now + SLACK >= last + every
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn without_deadlines_a_connected_zone_ticks_every_max_gap() {
        let t0 = Instant::now();
        let s = TickSchedule::new(t0);
        assert_eq!(s.next(true), t0 + MAX_GAP);
        assert!(!s.is_due(t0 + MAX_GAP - SLACK - ms(1), true));
        assert!(s.is_due(t0 + MAX_GAP - SLACK, true));
    }

    #[test]
    fn an_empty_zone_ticks_every_idle_gap() {
        let t0 = Instant::now();
        let s = TickSchedule::new(t0);
        assert_eq!(s.next(false), t0 + IDLE_GAP);
        // The first connection brings the tick forward at once.
        assert_eq!(s.next(true), t0 + MAX_GAP);
    }

    #[test]
    fn a_transport_deadline_brings_the_tick_forward_but_not_under_the_min_gap() {
        let t0 = Instant::now();
        let mut s = TickSchedule::new(t0);
        s.deadline(Some(t0 + ms(23)));
        assert_eq!(s.next(true), t0 + ms(23));
        // A later deadline does not push it back.
        s.deadline(Some(t0 + ms(40)));
        assert_eq!(s.next(true), t0 + ms(23));
        // A deadline already past (a closing connection) waits MIN_GAP.
        s.deadline(Some(t0));
        assert_eq!(s.next(true), t0 + MIN_GAP);
        s.deadline(None);
        assert_eq!(s.next(true), t0 + MIN_GAP);
    }

    #[test]
    fn a_tick_replaces_the_deadline_with_what_it_found() {
        let t0 = Instant::now();
        let mut s = TickSchedule::new(t0);
        s.deadline(Some(t0 + ms(12)));
        // The packet was acknowledged: the tick finds no deadline left.
        s.ran(t0 + ms(12));
        assert_eq!(s.next(true), t0 + ms(12) + MAX_GAP);
        s.ran(t0 + ms(20));
        s.deadline(Some(t0 + ms(200)));
        assert_eq!(s.next(true), t0 + ms(20) + MAX_GAP);
        s.ran(t0 + ms(30));
        s.deadline(Some(t0 + ms(45)));
        assert_eq!(s.next(true), t0 + ms(45));
        assert_eq!(s.next(false), t0 + ms(45));
    }

    #[test]
    fn periodic_work_counts_a_slightly_early_tick_as_on_time() {
        let t0 = Instant::now();
        assert!(periodic_due(t0 + ms(50), t0, ms(50)));
        assert!(periodic_due(t0 + ms(48), t0, ms(50)));
        assert!(!periodic_due(t0 + ms(46), t0, ms(50)));
    }
}
