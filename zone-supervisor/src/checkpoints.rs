//! Realm checkpoints: the game state a realm wants back if its worker dies
//! (flag owners, carried flags, jackpot; opaque bytes to the zone). The
//! newest one per realm name is kept in memory and handed to the realm's
//! next worker when it is ready, before its players enter again.

use std::collections::HashMap;

use ipc_proto::{ToRealm, MAX_CHECKPOINT_LEN};
use tracing::debug;

use crate::state::{SlotId, WorkerId};
use crate::zone::Zone;

/// The newest checkpoint of each realm, by realm name.
#[derive(Debug, Default)]
pub(crate) struct Checkpoints {
    by_realm: HashMap<String, Vec<u8>>,
}

impl Checkpoints {
    /// Every realm's checkpoint (for the supervisor's in-place upgrade).
    pub(crate) fn export(&self) -> Vec<(String, Vec<u8>)> {
        self.by_realm
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Takes on the checkpoints handed over.
    pub(crate) fn import(&mut self, list: Vec<(String, Vec<u8>)>) {
        self.by_realm.extend(list);
    }
}

impl Zone {
    /// `FromRealm::ArenaCheckpoint`: keeps the bytes for the realm's next
    /// worker. A checkpoint over the size limit is a misbehaving worker.
    pub(crate) fn keep_checkpoint(&mut self, slot: SlotId, bytes: &[u8]) -> Result<(), String> {
        if bytes.len() > MAX_CHECKPOINT_LEN {
            return Err(format!("sent a checkpoint of {} bytes", bytes.len()));
        }
        let name = self.slot_name(slot).to_string();
        debug!(realm = %name, len = bytes.len(), "realm checkpoint");
        let kept = self.checkpoints.by_realm.entry(name).or_default();
        kept.clear();
        kept.extend_from_slice(bytes);
        Ok(())
    }

    /// A realm's worker is ready: it gets the realm's last checkpoint.
    pub(crate) fn hand_back_checkpoint(&mut self, slot: SlotId, worker: WorkerId) {
        let name = self.slot_name(slot).to_string();
        let Some(bytes) = self.checkpoints.by_realm.remove(&name) else {
            return;
        };
        self.queue_to_worker(worker, &ToRealm::ArenaCheckpoint { bytes: &bytes });
        self.checkpoints.by_realm.insert(name, bytes);
    }
}
