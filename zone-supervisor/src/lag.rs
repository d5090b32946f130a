//! Lag figures for the realms: every `Lag:CheckInterval` each player in a
//! realm has his ping, loss and silence sent to it
//! ([`ToRealm::LagReport`]); the realm applies the `[Lag]` rules.

use std::time::Instant;

use ipc_proto::ToRealm;

use crate::zone::Zone;

/// A share (0–1) in tenths of a percent.
fn permille(share: f64) -> u16 {
    (share * 1000.0).round().clamp(0.0, 1000.0) as u16
}

impl Zone {
    /// Sends the lag figures of every player in a realm whose last report
    /// is older than `Lag:CheckInterval`.
    pub(crate) fn lag_reports(&mut self, now: Instant) {
        let interval = self.s.lag_check_interval;
        let mut due = Vec::new();
        for p in self.players.iter_mut() {
            if now.saturating_duration_since(p.lag_reported_at) < interval {
                continue;
            }
            let Some(realm) = self.state.members.realm_of(p.pid) else {
                continue;
            };
            if !self.state.members.entered(p.pid) {
                continue;
            }
            p.lag_reported_at = now;
            let sync = p.conn.stats().sync;
            due.push((
                realm,
                ToRealm::LagReport {
                    pid: p.pid,
                    ping_ms: p.conn.rtt_ms(),
                    s2c_loss: permille(sync.loss_to_peer()),
                    c2s_loss: permille(sync.loss_from_peer()),
                    silent_ms: p.conn.silent_for(now).as_millis().min(u32::MAX as u128) as u32,
                },
            ));
        }
        for (realm, msg) in due {
            self.queue_to_realm(realm, &msg);
        }
    }
}
