//! A per-player token bucket on the server tick clock, for packets that a
//! client sends rarely (goals, brick drops): a burst is allowed, then one
//! more every `interval` ticks. Pure: time comes in as ticks.

/// One player's bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bucket {
    /// Tokens left (at most the burst).
    tokens: u32,
    /// When the last token was added (ticks).
    at: u32,
}

/// The limit: `burst` at once, then one every `interval` ticks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    /// Packets allowed back to back.
    pub burst: u32,
    /// Ticks per extra packet.
    pub interval: u32,
}

impl Bucket {
    /// A full bucket.
    pub fn new(rate: Rate, now: u32) -> Bucket {
        Bucket {
            tokens: rate.burst,
            at: now,
        }
    }

    /// Takes one token if there is one (refilling first); `false` = flood.
    pub fn take(&mut self, rate: Rate, now: u32) -> bool {
        let elapsed = now.wrapping_sub(self.at);
        if (elapsed as i32) < 0 {
            // A clock that went backwards: start over.
            self.at = now;
        } else if let Some(add) = elapsed.checked_div(rate.interval) {
            if add > 0 {
                self.tokens = self.tokens.saturating_add(add).min(rate.burst);
                self.at = self.at.wrapping_add(add * rate.interval);
            }
        } else {
            self.tokens = rate.burst;
        }
        if self.tokens == 0 {
            return false;
        }
        self.tokens -= 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_one_per_interval() {
        let rate = Rate {
            burst: 3,
            interval: 50,
        };
        let mut b = Bucket::new(rate, 1000);
        assert!((0..3).all(|_| b.take(rate, 1000)));
        assert!(!b.take(rate, 1000));
        assert!(!b.take(rate, 1049));
        assert!(b.take(rate, 1050));
        assert!(!b.take(rate, 1060));
        // A long pause refills to the burst only.
        assert_eq!((0..10).filter(|_| b.take(rate, 9000)).count(), 3);
        // Wrapping tick clocks keep working.
        let mut w = Bucket::new(rate, u32::MAX - 10);
        assert!((0..3).all(|_| w.take(rate, u32::MAX - 10)));
        assert!(w.take(rate, 40));
    }
}
