//! When a connection's coalescable datagrams leave: the flush policy.
//!
//! Every datagram the supervisor sends costs far more in the kernel than in
//! our code (BENCHMARKS.md, "What bounds it"), so a player's relayed
//! positions should share datagrams — but every millisecond one waits is a
//! millisecond of latency. The policy here decides, per connection and per
//! loop pass, whether its queue goes out now or waits, and until when.
//! The rules are described for operators in `docs/protocol/core-transport.md`
//! §13.4; this module is sans-IO (fed `now`, returns decisions) so it is
//! tested with made-up times.
//!
//! A held queue does not need a wake-up of its own when the loop is about
//! to pass by anyway: a pass that comes within the expected gap to the next
//! pass of a queue's due time (at most half its hold early) sends it then,
//! so in steady traffic held queues ride the passes that arrivals cause and
//! the release timer only fires when the zone goes quiet.
//!
//! Only unreliable traffic waits: anything urgent (acks, reliable data, time
//! sync answers) and a queue that already fills most of a datagram go out at
//! the end of the pass, as does everything under [`FlushPolicy::Immediate`].

use std::time::{Duration, Instant};

/// Queued unreliable bytes at which a connection is sent at once: most of
/// one 512-byte datagram is already used, waiting gains nothing.
pub const FULL_ENOUGH: usize = 400;

/// How fast the per-connection rate estimate forgets (time constant).
const RATE_TAU: Duration = Duration::from_secs(1);

/// Coalescable packets per second from which a connection counts as one of
/// the receivers sharing the budget.
pub const RECEIVER_RATE: f64 = 20.0;

/// Holds shorter than this are not worth a timer: send now.
const MIN_HOLD: Duration = Duration::from_micros(500);

/// Release times are rounded up to this grid, so that the connections due
/// around the same moment leave together, in one `sendmmsg` and one wake-up.
pub const GRID: Duration = Duration::from_millis(1);

/// How long unreliable traffic may wait to share a datagram.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FlushPolicy {
    /// Send every connection's queue at the end of every loop pass
    /// (`Net:DatagramBudget = 0` and `Net:FlushDelayMillis = 0`).
    Immediate,
    /// Hold every queue for this long after its first packet
    /// (`Net:FlushDelayMillis` > 0, the operator's explicit choice).
    Fixed(Duration),
    /// Hold each queue only as long as it takes for the zone's coalescable
    /// datagrams to stay near `budget` per second in total, and never longer
    /// than `max_hold` (`Net:DatagramBudget`, `Net:MaxFlushDelayMillis`).
    Adaptive {
        /// Datagrams per second the zone aims at for coalescable traffic.
        budget: u32,
        /// The longest any packet waits.
        max_hold: Duration,
    },
}

impl FlushPolicy {
    /// The policy from the three settings: an explicit fixed delay wins,
    /// then a budget of 0 means no coalescing at all.
    pub fn from_settings(fixed: Duration, budget: u32, max_hold: Duration) -> Self {
        if !fixed.is_zero() {
            FlushPolicy::Fixed(fixed)
        } else if budget == 0 || max_hold.is_zero() {
            FlushPolicy::Immediate
        } else {
            FlushPolicy::Adaptive { budget, max_hold }
        }
    }

    /// How long a connection that receives `rate` coalescable packets per
    /// second should hold its queue, when `receivers` connections share the
    /// budget.
    ///
    /// Holding a queue for `h` after its first packet gives on average one
    /// datagram per `h + 1/rate` seconds, so a connection's share of the
    /// budget, `budget / receivers` datagrams per second, needs
    /// `h = receivers / budget - 1 / rate`: nothing when its traffic is
    /// already sparse enough, more as its traffic (or the zone) grows,
    /// capped by `max_hold`.
    pub fn hold(&self, rate: f64, receivers: usize) -> Duration {
        match *self {
            FlushPolicy::Immediate => Duration::ZERO,
            FlushPolicy::Fixed(d) => d,
            FlushPolicy::Adaptive { budget, max_hold } => {
                if rate <= 0.0 {
                    return Duration::ZERO;
                }
                let share = receivers.max(1) as f64 / f64::from(budget.max(1));
                let h = share - 1.0 / rate;
                if h <= 0.0 {
                    Duration::ZERO
                } else {
                    Duration::from_secs_f64(h).min(max_hold)
                }
            }
        }
    }
}

/// What to do with one connection's queue at the end of a pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlushDecision {
    /// Send what is queued now.
    SendNow,
    /// Keep it queued until this time (or until something urgent comes).
    HoldUntil(Instant),
}

/// What every connection's decision in one loop pass shares.
#[derive(Debug, Clone, Copy)]
pub struct Pass {
    /// When the pass flushes.
    pub now: Instant,
    /// The anchor of the release grid shared by all connections.
    pub epoch: Instant,
    /// Connections sharing the datagram budget ([`RECEIVER_RATE`]).
    pub receivers: usize,
    /// How soon the next pass is expected ([`PassGap`]).
    pub next_pass_in: Duration,
}

/// Estimates the time between two loop passes (exponentially weighted,
/// an eighth per pass), so that a queue nearly due can leave with this
/// pass instead of costing a timer wake-up of its own.
#[derive(Debug, Clone, Default)]
pub struct PassGap {
    last: Option<Instant>,
    mean: Duration,
}

impl PassGap {
    /// Counts a pass at `now`; returns the expected time to the next one.
    pub fn pass(&mut self, now: Instant) -> Duration {
        if let Some(last) = self.last.replace(now) {
            let gap = now.saturating_duration_since(last);
            // mean += (gap - mean) / 8, in signed nanoseconds.
            let m = self.mean.as_nanos() as i128;
            let g = gap.as_nanos() as i128;
            self.mean = Duration::from_nanos((m + (g - m) / 8).max(0) as u64);
        }
        self.mean
    }
}

/// One connection's coalescing state: how much coalescable traffic it gets
/// and until when its queue is held.
#[derive(Debug, Clone)]
pub struct Coalescer {
    /// Packets per second queued for this connection (exponentially
    /// weighted, time constant [`RATE_TAU`]).
    rate: f64,
    /// When `rate` was last brought up to date.
    rate_at: Instant,
    /// Packets queued since then.
    count: u32,
    /// When the packets now waiting are due, fixed when the first of them
    /// started waiting (`None`: nothing is held).
    due: Option<Instant>,
    /// How early a passing loop may take them along (half the hold; zero
    /// for the operator's fixed delay).
    early_cap: Duration,
    /// Whether the connection is on the zone's list of held connections.
    listed: bool,
}

impl Coalescer {
    /// A fresh state for a connection accepted at `now`.
    pub fn new(now: Instant) -> Self {
        Coalescer {
            rate: 0.0,
            rate_at: now,
            count: 0,
            due: None,
            early_cap: Duration::ZERO,
            listed: false,
        }
    }

    /// Counts one coalescable packet queued for this connection.
    pub fn queued(&mut self) {
        self.count = self.count.saturating_add(1);
    }

    /// The connection's coalescable packets per second, as of `now`.
    pub fn rate(&mut self, now: Instant) -> f64 {
        let dt = now.saturating_duration_since(self.rate_at);
        if dt.is_zero() && self.count == 0 {
            return self.rate;
        }
        let tau = RATE_TAU.as_secs_f64();
        let x = dt.as_secs_f64() / tau;
        // A busy connection comes here every few milliseconds, where the
        // series (to x³) is exact to 5e-10 and `exp` a measurable cost.
        let decay = if x < 0.01 {
            1.0 - x * (1.0 - x * (0.5 - x / 6.0))
        } else {
            (-x).exp()
        };
        self.rate = self.rate * decay + f64::from(self.count) / tau;
        self.count = 0;
        self.rate_at = now;
        self.rate
    }

    /// When the held packets are due, as the last decision found
    /// (`None` when nothing is held).
    pub fn due(&self) -> Option<Instant> {
        self.due
    }

    /// Puts the connection on the zone's held list; `false` if it already
    /// is (the list holds each connection once).
    pub fn list(&mut self) -> bool {
        !std::mem::replace(&mut self.listed, true)
    }

    /// Takes the connection off the held list (it left the list).
    pub fn unlist(&mut self) {
        self.listed = false;
    }

    /// Decides whether the queue leaves at the end of this pass. `urgent`
    /// means the connection has something that must not wait (acks,
    /// reliable data, time sync answers); `queued` is its unreliable bytes.
    pub fn decide(
        &mut self,
        policy: &FlushPolicy,
        pass: &Pass,
        urgent: bool,
        queued: usize,
    ) -> FlushDecision {
        let now = pass.now;
        if urgent || queued >= FULL_ENOUGH || *policy == FlushPolicy::Immediate {
            return self.send_now();
        }
        // A queue already waiting keeps the due time its first packet got:
        // a busy zone decides for each held connection on every pass, and
        // the rate, the hold and the grid need not be worked out again.
        if let Some(due) = self.due {
            return self.due_or_now(now, due, pass.next_pass_in.min(self.early_cap));
        }
        let rate = self.rate(now);
        let hold = policy.hold(rate, pass.receivers);
        if hold < MIN_HOLD {
            return self.send_now();
        }
        // Nothing is held yet: the first packet starts waiting now.
        let (due, early_cap) = match policy {
            // The operator's fixed delay is kept to the letter.
            FlushPolicy::Fixed(_) => (now + hold, Duration::ZERO),
            _ => (grid_ceil(pass.epoch, now + hold), hold / 2),
        };
        self.early_cap = early_cap;
        self.due = Some(due);
        self.due_or_now(now, due, pass.next_pass_in.min(early_cap))
    }

    /// Sends now if the queue is due by the time this pass, taken `early`,
    /// reaches it; otherwise keeps holding it until `due`.
    fn due_or_now(&mut self, now: Instant, due: Instant, early: Duration) -> FlushDecision {
        if now + early >= due {
            self.send_now()
        } else {
            FlushDecision::HoldUntil(due)
        }
    }

    /// Ends the hold: the queue leaves with this pass.
    fn send_now(&mut self) -> FlushDecision {
        self.due = None;
        FlushDecision::SendNow
    }
}

/// `t` rounded up to the next multiple of [`GRID`] after `epoch`.
pub fn grid_ceil(epoch: Instant, t: Instant) -> Instant {
    // In u64 nanoseconds (584 years): no 128-bit division on the hot path.
    let since = t.saturating_duration_since(epoch).as_nanos() as u64;
    let g = GRID.as_nanos() as u64;
    epoch + Duration::from_nanos(since.div_ceil(g) * g)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// A pass at `now` with no other pass expected soon.
    fn at(now: Instant, epoch: Instant, receivers: usize) -> Pass {
        Pass {
            now,
            epoch,
            receivers,
            next_pass_in: Duration::ZERO,
        }
    }

    /// The due time of a decision that must be a hold.
    fn hold_until(d: FlushDecision) -> Instant {
        match d {
            FlushDecision::HoldUntil(due) => due,
            other => panic!("expected a hold, got {other:?}"),
        }
    }

    const ADAPTIVE: FlushPolicy = FlushPolicy::Adaptive {
        budget: 7000,
        max_hold: Duration::from_millis(7),
    };

    /// A connection that has received 390 packets a second (forty players'
    /// positions) for about two seconds, and the time it got there.
    fn busy(epoch: Instant) -> (Coalescer, Instant) {
        let mut c = Coalescer::new(epoch);
        let mut t = epoch;
        for _ in 0..800 {
            t += Duration::from_micros(2564);
            c.queued();
            c.rate(t);
        }
        (c, t)
    }

    /// A busy connection ([`busy`]) whose next packet starts a hold in a
    /// pass 300 µs later: the state, that pass's time and the due time.
    fn busy_and_held(epoch: Instant) -> (Coalescer, Instant, Instant) {
        let (mut c, t) = busy(epoch);
        let start = t + Duration::from_micros(300);
        c.queued();
        let due = hold_until(c.decide(&ADAPTIVE, &at(start, epoch, 40), false, 40));
        (c, start, due)
    }

    #[test]
    fn settings_pick_the_policy() {
        assert_eq!(
            FlushPolicy::from_settings(ms(5), 7000, ms(7)),
            FlushPolicy::Fixed(ms(5))
        );
        assert_eq!(
            FlushPolicy::from_settings(Duration::ZERO, 0, ms(7)),
            FlushPolicy::Immediate
        );
        assert_eq!(
            FlushPolicy::from_settings(Duration::ZERO, 7000, ms(7)),
            ADAPTIVE
        );
    }

    #[test]
    fn the_hold_grows_with_traffic_and_population_and_is_capped() {
        // Four players at 10 Hz: each gets 30 positions/s, far under its
        // share of the budget: no holding at all.
        assert_eq!(ADAPTIVE.hold(30.0, 4), Duration::ZERO);
        // Forty players at 10 Hz: 390/s each, share 175/s → about 3.2 ms.
        let h40 = ADAPTIVE.hold(390.0, 40);
        assert!(h40 > ms(3) && h40 < ms(4), "{h40:?}");
        // Two hundred: the share is 35/s, far beyond the cap.
        assert_eq!(ADAPTIVE.hold(1990.0, 200), ms(7));
        // Nothing to hold for a connection without traffic.
        assert_eq!(ADAPTIVE.hold(0.0, 200), Duration::ZERO);
        assert_eq!(FlushPolicy::Immediate.hold(5000.0, 500), Duration::ZERO);
        assert_eq!(FlushPolicy::Fixed(ms(5)).hold(1.0, 1), ms(5));
    }

    #[test]
    fn the_rate_estimate_follows_the_traffic() {
        let t0 = Instant::now();
        let mut c = Coalescer::new(t0);
        // 400 packets a second, for three seconds, counted every 2.5 ms.
        let mut t = t0;
        for _ in 0..1200 {
            t += Duration::from_micros(2500);
            c.queued();
            c.rate(t);
        }
        let r = c.rate(t);
        assert!((r - 400.0).abs() < 25.0, "{r}");
        // Silence makes it fade.
        let r = c.rate(t + Duration::from_secs(5));
        assert!(r < 5.0, "{r}");
    }

    #[test]
    fn a_busy_connection_is_held_until_a_grid_point_then_sent() {
        let epoch = Instant::now();
        let (mut c, now, due) = busy_and_held(epoch);
        assert!(due > now && due <= now + ms(5), "{:?}", due - now);
        assert_eq!((due - epoch).as_nanos() % GRID.as_nanos(), 0);
        assert_eq!(c.due(), Some(due));
        // Before it is due, still held; at the due time, sent.
        assert_eq!(
            c.decide(
                &ADAPTIVE,
                &at(due - Duration::from_micros(1), epoch, 40),
                false,
                80
            ),
            FlushDecision::HoldUntil(due)
        );
        assert_eq!(
            c.decide(&ADAPTIVE, &at(due, epoch, 40), false, 80),
            FlushDecision::SendNow
        );
        assert_eq!(c.due(), None, "no longer holding");
    }

    #[test]
    fn a_held_queue_keeps_the_due_time_its_first_packet_got() {
        let epoch = Instant::now();
        let (mut c, now, due) = busy_and_held(epoch);
        // Five times the population would mean a longer hold for a queue
        // starting now, but this one was promised `due`.
        let later = now + ms(1);
        assert!(grid_ceil(epoch, later + ADAPTIVE.hold(c.rate(later), 200)) > due);
        assert_eq!(
            c.decide(&ADAPTIVE, &at(later, epoch, 200), false, 80),
            FlushDecision::HoldUntil(due)
        );
        // Switching to immediate sending (a reload) lets it go at once.
        assert_eq!(
            c.decide(&FlushPolicy::Immediate, &at(later, epoch, 200), false, 80),
            FlushDecision::SendNow
        );
        assert_eq!(c.due(), None);
    }

    #[test]
    fn urgent_or_full_queues_and_quiet_connections_go_at_once() {
        let epoch = Instant::now();
        let (mut c, t) = busy(epoch);
        assert_eq!(
            c.decide(&ADAPTIVE, &at(t, epoch, 40), true, 10),
            FlushDecision::SendNow
        );
        assert_eq!(
            c.decide(&ADAPTIVE, &at(t, epoch, 40), false, FULL_ENOUGH),
            FlushDecision::SendNow
        );
        // A quiet connection (a few packets a second) never waits.
        let mut q = Coalescer::new(epoch);
        q.queued();
        assert_eq!(
            q.decide(&ADAPTIVE, &at(epoch + ms(100), epoch, 40), false, 20),
            FlushDecision::SendNow
        );
        // Nothing waits under the immediate policy.
        assert_eq!(
            c.decide(&FlushPolicy::Immediate, &at(t, epoch, 40), false, 20),
            FlushDecision::SendNow
        );
    }

    #[test]
    fn a_fixed_delay_counts_from_the_first_packet() {
        let epoch = Instant::now();
        let mut c = Coalescer::new(epoch);
        let p = FlushPolicy::Fixed(ms(5));
        let t = epoch + Duration::from_micros(1234);
        assert_eq!(
            c.decide(&p, &at(t, epoch, 1), false, 20),
            FlushDecision::HoldUntil(t + ms(5))
        );
        assert_eq!(
            c.decide(&p, &at(t + ms(2), epoch, 1), false, 40),
            FlushDecision::HoldUntil(t + ms(5))
        );
        assert_eq!(
            c.decide(&p, &at(t + ms(5), epoch, 1), false, 40),
            FlushDecision::SendNow
        );
    }

    #[test]
    fn a_pass_due_before_the_next_one_takes_the_held_queue_along() {
        let epoch = Instant::now();
        let (mut c, start, due) = busy_and_held(epoch);
        let hold = ADAPTIVE.hold(c.rate(start), 40);
        let pass = |now: Instant, next_pass_in: Duration| Pass {
            next_pass_in,
            ..at(now, epoch, 40)
        };
        // The next pass is expected well before the due time: keep holding.
        let early = due - ms(2);
        assert_eq!(
            c.decide(
                &ADAPTIVE,
                &pass(early, Duration::from_micros(500)),
                false,
                80
            ),
            FlushDecision::HoldUntil(due)
        );
        // The next pass would come after it: go now, with this pass.
        let near = due - Duration::from_micros(400);
        assert_eq!(
            c.decide(
                &ADAPTIVE,
                &pass(near, Duration::from_micros(500)),
                false,
                80
            ),
            FlushDecision::SendNow
        );
        // However far off the next pass, a queue leaves at most half its
        // hold early.
        c.queued();
        let again = near + ms(1);
        // A fresh queue waits at least half its hold.
        let due2 = hold_until(c.decide(&ADAPTIVE, &pass(again, ms(100)), false, 40));
        assert!(due2 - again >= hold / 2, "{:?} {hold:?}", due2 - again);
        // The operator's fixed delay is never cut short.
        let fixed = FlushPolicy::Fixed(ms(5));
        let mut f = Coalescer::new(epoch);
        let t0 = epoch + ms(1);
        assert_eq!(
            f.decide(&fixed, &pass(t0, ms(100)), false, 20),
            FlushDecision::HoldUntil(t0 + ms(5))
        );
        assert_eq!(
            f.decide(&fixed, &pass(t0 + ms(4), ms(100)), false, 20),
            FlushDecision::HoldUntil(t0 + ms(5))
        );
    }

    #[test]
    fn the_pass_gap_estimate_follows_the_loop() {
        let t0 = Instant::now();
        let mut g = PassGap::default();
        assert_eq!(g.pass(t0), Duration::ZERO);
        let mut t = t0;
        for _ in 0..200 {
            t += Duration::from_micros(2500);
            g.pass(t);
        }
        let m = g.pass(t + Duration::from_micros(2500));
        assert!(
            m > Duration::from_micros(2300) && m < Duration::from_micros(2700),
            "{m:?}"
        );
        // Bursts pull it down quickly.
        let mut t = t + Duration::from_micros(2500);
        for _ in 0..30 {
            t += Duration::from_micros(50);
            g.pass(t);
        }
        assert!(g.pass(t) < Duration::from_micros(200));
    }

    #[test]
    fn the_held_list_takes_a_connection_once() {
        let mut c = Coalescer::new(Instant::now());
        assert!(c.list());
        assert!(!c.list());
        c.unlist();
        assert!(c.list());
    }

    #[test]
    fn grid_rounding() {
        let e = Instant::now();
        assert_eq!(grid_ceil(e, e), e);
        assert_eq!(grid_ceil(e, e + Duration::from_micros(1)), e + ms(1));
        assert_eq!(grid_ceil(e, e + ms(3)), e + ms(3));
        assert_eq!(grid_ceil(e, e + Duration::from_micros(3001)), e + ms(4));
    }

    #[test]
    fn the_rate_estimate_decays_as_the_exponential_does() {
        // Steps short enough for the series and long enough for `exp`:
        // after each, the estimate equals the exact exponential average.
        let t0 = Instant::now();
        let mut c = Coalescer::new(t0);
        let mut exact = 0.0f64;
        let mut t = t0;
        for step_us in [100u64, 2_564, 9_999, 10_001, 250_000, 3_000_000, 700] {
            for _ in 0..50 {
                t += Duration::from_micros(step_us);
                c.queued();
                let x = step_us as f64 / 1e6 / RATE_TAU.as_secs_f64();
                exact = exact * (-x).exp() + 1.0 / RATE_TAU.as_secs_f64();
                let got = c.rate(t);
                assert!(
                    (got - exact).abs() <= 1e-6 * exact,
                    "after {step_us} µs steps: {got} against {exact}"
                );
            }
        }
    }
}
