//! The arena's LVZ object state (`docs/protocol/game-protocol.md` §23a):
//! which objects were shown or hidden and which had their attributes
//! changed for the whole arena, so a player entering later sees the same.

use std::collections::BTreeMap;

use ss_proto::game::objects::change;
use ss_proto::game::{ObjectChange, ObjectData, ObjectToggle, S2CPacket};
use ss_proto::transport::MAX_RELIABLE_PAYLOAD;

/// Toggle entries per S2C 0x35 packet.
const TOGGLES_PER_PACKET: usize = (MAX_RELIABLE_PAYLOAD - 1) / ObjectToggle::LEN;
/// Records per S2C 0x36 packet.
const CHANGES_PER_PACKET: usize = (MAX_RELIABLE_PAYLOAD - 1) / ObjectChange::LEN;

/// What the arena changed about its objects.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub struct ObjectState {
    /// Object id → shown.
    toggled: BTreeMap<u16, bool>,
    /// Object id → (attributes changed so far, current record).
    changed: BTreeMap<u16, (u8, ObjectData)>,
}

impl ObjectState {
    /// An object was shown or hidden for the whole arena.
    pub fn toggle(&mut self, id: u16, on: bool) {
        self.toggled.insert(id, on);
    }

    /// Whether the arena showed (`Some(true)`) or hid an object.
    pub fn shown(&self, id: u16) -> Option<bool> {
        self.toggled.get(&id).copied()
    }

    /// An object's current record: as changed, else all zero but its id
    /// (we do not read the LVZ files' object sections).
    pub fn current(&self, id: u16) -> ObjectData {
        self.changed.get(&id).map_or(
            ObjectData {
                id,
                ..ObjectData::default()
            },
            |(_, d)| *d,
        )
    }

    /// Whether the arena changed an object's attributes.
    pub fn is_changed(&self, id: u16) -> bool {
        self.changed.contains_key(&id)
    }

    /// An attribute change for the whole arena.
    pub fn apply(&mut self, rec: ObjectChange) {
        let entry = self.changed.entry(rec.data.id).or_insert((0, rec.data));
        entry.0 |= rec.changes;
        entry.1 = rec.data;
    }

    /// Every object the arena toggled or changed, by id.
    pub fn ids(&self) -> Vec<u16> {
        let mut ids: Vec<u16> = self
            .toggled
            .keys()
            .chain(self.changed.keys())
            .copied()
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// The packets that bring a newcomer to the arena's state: the
    /// toggles (S2C 0x35), then the changes (S2C 0x36), each split to fit
    /// reliable packets. Empty when nothing was changed.
    pub fn entry_packets(&self) -> Vec<S2CPacket> {
        let toggles: Vec<ObjectToggle> = self
            .toggled
            .iter()
            .map(|(&id, &on)| ObjectToggle { id, on })
            .collect();
        let changes: Vec<ObjectChange> = self
            .changed
            .values()
            .map(|&(changes, data)| ObjectChange {
                changes: changes
                    & (change::XY | change::IMAGE | change::LAYER | change::TIME | change::MODE),
                data,
            })
            .collect();
        let mut out: Vec<S2CPacket> = toggles
            .chunks(TOGGLES_PER_PACKET)
            .map(|c| S2CPacket::ToggleObjects(c.to_vec()))
            .collect();
        out.extend(
            changes
                .chunks(CHANGES_PER_PACKET)
                .map(|c| S2CPacket::MoveObjects(c.to_vec())),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_is_replayed_in_fitting_packets() {
        let mut s = ObjectState::default();
        assert!(s.entry_packets().is_empty());
        s.toggle(3, true);
        s.toggle(3, false);
        s.toggle(1, true);
        let mut d = s.current(9);
        assert_eq!(d.id, 9);
        d.image = 4;
        s.apply(ObjectChange {
            changes: change::IMAGE,
            data: d,
        });
        d.layer = 2;
        s.apply(ObjectChange {
            changes: change::LAYER,
            data: d,
        });
        assert_eq!(s.ids(), vec![1, 3, 9]);
        assert_eq!(s.shown(3), Some(false));
        let pkts = s.entry_packets();
        assert_eq!(
            pkts,
            vec![
                S2CPacket::ToggleObjects(vec![
                    ObjectToggle { id: 1, on: true },
                    ObjectToggle { id: 3, on: false },
                ]),
                S2CPacket::MoveObjects(vec![ObjectChange {
                    changes: change::IMAGE | change::LAYER,
                    data: d,
                }]),
            ]
        );
        // Many toggles are split so every packet fits a reliable one.
        for id in 0..1000 {
            s.toggle(id, true);
        }
        for p in s.entry_packets() {
            let mut buf = Vec::new();
            p.encode(&mut buf);
            assert!(buf.len() <= MAX_RELIABLE_PAYLOAD);
        }
    }
}
