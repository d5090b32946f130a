//! Player membership: the one record of where each player is — connected,
//! logging in, logged in, entering a realm, in a realm.
//!
//! The per-realm player lists are an index over the same records, kept
//! here and nowhere else, so "which realm is this player in" and "who is
//! in this realm" can never disagree. Sans-IO: plain data, no clock.

use std::collections::HashMap;

use super::registry::SlotId;

/// Where a player is in its life on the zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Place {
    /// Connected, not logged in.
    Connected,
    /// Login sent to the billing server; waiting for its answer.
    Authenticating,
    /// Logged in, in no arena.
    LoggedIn,
    /// Assigned to a realm, not confirmed in it yet.
    Entering {
        /// The realm slot.
        realm: SlotId,
        /// The player's scores are at hand (or none are kept).
        scores_ready: bool,
        /// `PlayerEnter` went to the realm's current worker.
        enter_sent: bool,
        /// The entry is a re-entry after the realm's worker was replaced.
        reentry: bool,
    },
    /// The realm confirmed the entry.
    InRealm {
        /// The realm slot.
        realm: SlotId,
    },
}

impl Place {
    /// The realm the player belongs to (entering or in it).
    pub fn realm(self) -> Option<SlotId> {
        match self {
            Place::Entering { realm, .. } | Place::InRealm { realm } => Some(realm),
            _ => None,
        }
    }

    /// Whether the player is logged in (in an arena or not).
    pub fn logged_in(self) -> bool {
        !matches!(self, Place::Connected | Place::Authenticating)
    }

    /// Whether the realm's worker knows the player (its `PlayerEnter` was
    /// sent), so packets may go to it and it must be told of a leave.
    pub fn known_to_realm(self) -> bool {
        matches!(
            self,
            Place::InRealm { .. }
                | Place::Entering {
                    enter_sent: true,
                    ..
                }
        )
    }
}

/// Every player's place, by pid, with a by-realm index.
#[derive(Default, Debug)]
pub struct Membership {
    places: Vec<Option<Place>>,
    by_realm: HashMap<SlotId, Vec<i16>>,
}

impl Membership {
    /// Every player and his place, by pid.
    pub fn all(&self) -> impl Iterator<Item = (i16, Place)> + '_ {
        self.places
            .iter()
            .enumerate()
            .filter_map(|(i, p)| Some((i as i16, (*p)?)))
    }

    /// Records a new connection.
    pub fn add(&mut self, pid: i16) {
        let Ok(idx) = usize::try_from(pid) else {
            return;
        };
        if idx >= self.places.len() {
            self.places.resize(idx + 1, None);
        }
        self.unindex(pid);
        self.places[idx] = Some(Place::Connected);
    }

    /// Forgets a player (left the zone). Returns the realm it was in.
    pub fn remove(&mut self, pid: i16) -> Option<Place> {
        self.unindex(pid);
        self.places.get_mut(usize::try_from(pid).ok()?)?.take()
    }

    /// Where the player is (`None`: unknown pid).
    pub fn place(&self, pid: i16) -> Option<Place> {
        *self.places.get(usize::try_from(pid).ok()?)?
    }

    /// The realm the player belongs to (entering or in it).
    pub fn realm_of(&self, pid: i16) -> Option<SlotId> {
        self.place(pid)?.realm()
    }

    /// Whether the player belongs to this realm.
    pub fn in_realm(&self, pid: i16, realm: SlotId) -> bool {
        self.realm_of(pid) == Some(realm)
    }

    /// Whether the player's realm has confirmed the entry.
    pub fn entered(&self, pid: i16) -> bool {
        matches!(self.place(pid), Some(Place::InRealm { .. }))
    }

    /// The players of a realm (entering or in it), in arrival order.
    pub fn players_in(&self, realm: SlotId) -> &[i16] {
        self.by_realm.get(&realm).map_or(&[], Vec::as_slice)
    }

    /// How many players belong to a realm.
    pub fn count_in(&self, realm: SlotId) -> usize {
        self.players_in(realm).len()
    }

    /// Moves a player to a new place, keeping the index in step. Unknown
    /// pids are ignored.
    pub fn set(&mut self, pid: i16, place: Place) {
        let Some(slot) = usize::try_from(pid)
            .ok()
            .and_then(|i| self.places.get_mut(i))
        else {
            return;
        };
        let Some(old) = slot.as_mut() else {
            return;
        };
        let (before, after) = (old.realm(), place.realm());
        *old = place;
        if before != after {
            if let Some(r) = before {
                self.drop_from(r, pid);
            }
            if let Some(r) = after {
                self.by_realm.entry(r).or_default().push(pid);
            }
        }
    }

    /// Changes the place of a player to what `f` makes of his current one
    /// (`None`: leave it), for answers that may come after he moved on.
    pub fn update(&mut self, pid: i16, f: impl FnOnce(Place) -> Option<Place>) {
        if let Some(new) = self.place(pid).and_then(f) {
            self.set(pid, new);
        }
    }

    fn unindex(&mut self, pid: i16) {
        if let Some(r) = self.realm_of(pid) {
            self.drop_from(r, pid);
        }
    }

    fn drop_from(&mut self, realm: SlotId, pid: i16) {
        if let Some(list) = self.by_realm.get_mut(&realm) {
            list.retain(|&p| p != pid);
            if list.is_empty() {
                self.by_realm.remove(&realm);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entering(realm: SlotId) -> Place {
        Place::Entering {
            realm,
            scores_ready: true,
            enter_sent: false,
            reentry: false,
        }
    }

    #[test]
    fn the_index_follows_every_move() {
        let mut m = Membership::default();
        m.add(0);
        m.add(3);
        m.set(0, Place::LoggedIn);
        m.set(3, Place::LoggedIn);
        m.set(0, entering(1));
        m.set(3, entering(1));
        assert_eq!(m.players_in(1), &[0, 3]);
        m.set(0, Place::InRealm { realm: 1 });
        assert_eq!(m.players_in(1), &[0, 3], "entering to in: same realm");
        m.set(0, entering(2));
        assert_eq!(m.players_in(1), &[3]);
        assert_eq!(m.players_in(2), &[0]);
        assert_eq!(m.remove(3).and_then(Place::realm), Some(1));
        assert!(m.players_in(1).is_empty());
        assert_eq!(m.realm_of(0), Some(2));
        m.set(0, Place::LoggedIn);
        assert!(m.players_in(2).is_empty());
        assert_eq!(m.place(3), None);
    }

    #[test]
    fn a_reused_pid_starts_connected_in_no_realm() {
        let mut m = Membership::default();
        m.add(5);
        m.set(5, Place::LoggedIn);
        m.set(5, entering(9));
        m.add(5);
        assert_eq!(m.place(5), Some(Place::Connected));
        assert!(m.players_in(9).is_empty());
    }

    #[test]
    fn unknown_and_negative_pids_are_ignored() {
        let mut m = Membership::default();
        m.set(4, Place::LoggedIn);
        m.add(-1);
        assert_eq!(m.place(4), None);
        assert_eq!(m.place(-1), None);
    }
}
