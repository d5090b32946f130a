//! The zone task's side of the web listener: publishing snapshots and
//! turning radar requests into `WatchPositions` for the realms.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use ipc_proto::ToRealm;
use tokio::sync::{mpsc, watch};

use super::{RadarDot, Snapshot, WebRequest, PUBLISH_EVERY, WATCH_LEASE};
use crate::state::{RealmSlot, SlotId, WorkerId};
use crate::zone::Zone;

/// What the zone keeps for the web listener.
pub struct WebState {
    snapshots: watch::Sender<Arc<Snapshot>>,
    requests: mpsc::UnboundedReceiver<WebRequest>,
    /// Arenas someone watches, until when.
    watched: HashMap<String, Instant>,
    /// Realms whose current worker was told to send positions.
    told: HashMap<SlotId, WorkerId>,
    last_publish: Option<Instant>,
}

impl WebState {
    /// The zone's ends of the channels.
    pub fn new(
        snapshots: watch::Sender<Arc<Snapshot>>,
        requests: mpsc::UnboundedReceiver<WebRequest>,
    ) -> Self {
        WebState {
            snapshots,
            requests,
            watched: HashMap::new(),
            told: HashMap::new(),
            last_publish: None,
        }
    }
}

impl Zone {
    /// Called every tick: every [`PUBLISH_EVERY`], radar watches are
    /// renewed or ended and a fresh snapshot is published.
    pub(crate) fn web_tick(&mut self, now: Instant) {
        let Some(mut web) = self.web.take() else {
            return;
        };
        let due = web
            .last_publish
            .is_none_or(|t| now.saturating_duration_since(t) >= PUBLISH_EVERY);
        if due {
            web.last_publish = Some(now);
            while let Ok(WebRequest::Watch { realm }) = web.requests.try_recv() {
                web.watched.insert(realm, now + WATCH_LEASE);
            }
            web.watched.retain(|_, until| *until > now);
            self.steer_radar(&mut web);
            let snapshot = Snapshot {
                at_ms: SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as u64),
                report: self.report(now),
                radar: self.radar_dots(&web),
            };
            web.snapshots.send_replace(Arc::new(snapshot));
        }
        self.web = Some(web);
    }

    /// Tells realms to start or stop sending positions, so only watched
    /// realms do (a replaced worker is told again).
    fn steer_radar(&mut self, web: &mut WebState) {
        let mut changes = Vec::new();
        for slot in self.state.registry.iter() {
            let want = web.watched.contains_key(&slot.name);
            let worker = slot.ready_worker();
            let told = web.told.get(&slot.id).copied();
            match (want, worker, told) {
                (true, Some(w), t) if t != Some(w) => changes.push((slot.id, w, true)),
                (false, Some(w), Some(t)) if t == w => changes.push((slot.id, w, false)),
                _ => {}
            }
        }
        for (slot, worker, on) in changes {
            self.queue_to_worker(worker, &ToRealm::WatchPositions { on });
            if on {
                web.told.insert(slot, worker);
            } else {
                web.told.remove(&slot);
            }
        }
        let registry = &self.state.registry;
        web.told.retain(|slot, _| {
            registry
                .get(*slot)
                .is_some_and(|s| s.ready_worker().is_some())
        });
    }

    /// The radar dots of the watched realms, from their latest snapshots.
    fn radar_dots(&self, web: &WebState) -> BTreeMap<String, Vec<RadarDot>> {
        let mut out = BTreeMap::new();
        for slot in self.state.registry.iter() {
            if !web.watched.contains_key(&slot.name) {
                continue;
            }
            out.insert(slot.name.clone(), self.dots_of(slot));
        }
        out
    }

    fn dots_of(&self, slot: &RealmSlot) -> Vec<RadarDot> {
        slot.radar
            .iter()
            .filter(|e| self.state.members.in_realm(e.pid, slot.id))
            .filter_map(|e| {
                let p = self.players.get(e.pid)?;
                Some(RadarDot {
                    pid: e.pid,
                    name: p.name.clone(),
                    x: e.x,
                    y: e.y,
                    ship: e.ship,
                    freq: e.freq,
                })
            })
            .collect()
    }
}
