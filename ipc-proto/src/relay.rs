//! The supervisor relay (`docs/protocol/core-transport.md`, "Supervisor
//! relay"): the per-player rules a realm installs so that the supervisor
//! can relay plain positions itself, and the receiver rule both sides
//! apply to a plain position (no weapon, no flash, no safe-zone change).
//!
//! The realm keeps its own copy of this rule inside its full relay (which
//! also handles weapons, regions and sends to all); its tests check that
//! both pick the same receivers with the same extra data.

use serde::{Deserialize, Serialize};

/// Beyond this distance (pixels) a receiver out of range never gets a
/// plain position as a radar dot; nearer, the chance falls with the
/// distance (the realm's own relay uses it too).
pub const RADAR_DOT_PIXELS: i32 = 8000;

/// Where a realm has one player (pixels; see
/// [`FromRealm::RelayRules`](crate::FromRealm::RelayRules)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayPlace {
    /// Player id.
    pub pid: i16,
    /// X, pixels.
    pub x: i16,
    /// Y, pixels.
    pub y: i16,
}

/// A receiver's energy viewing rule, as it applies to him now (his ship
/// decides whether the in-ship or the spectator rule counts).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum RelayEnergy {
    /// Nobody's energy.
    #[default]
    None,
    /// Everyone's.
    All,
    /// Teammates' only.
    Team,
    /// Only the player he spectates.
    Spec,
}

/// What the realm tells the supervisor about one player of the arena.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayPeer {
    /// Player id.
    pub pid: i16,
    /// The supervisor may relay this player's plain positions.
    pub sender: bool,
    /// Ship (8 = spectator: his positions are relayed to nobody).
    pub ship: u8,
    /// Frequency.
    pub freq: i16,
    /// His range for plain positions, pixels (screen x_res + y_res).
    pub range: i32,
    /// Whom he spectates (−1: nobody).
    pub spectating: i16,
    /// Whom he is attached to (−1: nobody).
    pub attached_to: i16,
    /// He gets every position in the arena (`?botfeature seeallposn`).
    pub see_all_posn: bool,
    /// He gets his own positions back (`?botfeature seeownposn`).
    pub see_own_posn: bool,
    /// Spectating someone, he gets that player's full extra data.
    pub sees_extra: bool,
    /// His energy viewing rule.
    pub energy: RelayEnergy,
}

impl RelayPeer {
    /// A Warbird pilot on freq 0 with a 1024×768 screen who may be relayed
    /// and sees nothing extra: the plain case, a starting point for tests
    /// and for rules built field by field.
    pub fn plain(pid: i16) -> RelayPeer {
        RelayPeer {
            pid,
            sender: true,
            ship: 0,
            freq: 0,
            range: 1024 + 768,
            spectating: -1,
            attached_to: -1,
            see_all_posn: false,
            see_own_posn: false,
            sees_extra: false,
            energy: RelayEnergy::None,
        }
    }
}

/// Extra bytes a receiver gets with a relayed plain position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RelayExtra {
    /// None.
    None,
    /// The sender's energy.
    Energy,
    /// The whole extra record.
    Full,
}

/// One step of the xorshift generator both sides use for radar dots.
pub fn xorshift(mut x: u64) -> u64 {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    x
}

/// The distance the relay compares with a range, pixels (truncated).
pub fn distance(ax: i16, ay: i16, bx: i16, by: i16) -> i32 {
    let dx = f64::from(i32::from(ax) - i32::from(bx));
    let dy = f64::from(i32::from(ay) - i32::from(by));
    (dx * dx + dy * dy).sqrt() as i32
}

/// Whether `receiver`, last seen at `at`, gets a plain position of
/// `sender` (freq `sender_freq`) at `from`, and with what extra bytes.
/// Out of range but within [`RADAR_DOT_PIXELS`], `rng` decides (a radar
/// dot: the farther, the rarer).
pub fn plain_receives(
    sender: i16,
    sender_freq: i16,
    from: (i16, i16),
    receiver: &RelayPeer,
    at: (i16, i16),
    rng: &mut u64,
) -> Option<RelayExtra> {
    if receiver.pid == sender {
        return receiver.see_own_posn.then_some(RelayExtra::None);
    }
    let watching = receiver.spectating == sender;
    if watching && receiver.sees_extra {
        return Some(RelayExtra::Full);
    }
    let d = distance(from.0, from.1, at.0, at.1);
    let send = if d <= receiver.range
        || receiver.see_all_posn
        || watching
        || receiver.attached_to == sender
    {
        true
    } else if d <= RADAR_DOT_PIXELS {
        *rng = xorshift(*rng);
        (*rng % RADAR_DOT_PIXELS as u64) as i32 > d
    } else {
        false
    };
    if !send {
        return None;
    }
    let energy = match receiver.energy {
        RelayEnergy::None => false,
        RelayEnergy::All => true,
        RelayEnergy::Team => receiver.freq == sender_freq,
        RelayEnergy::Spec => watching,
    };
    Some(if energy {
        RelayExtra::Energy
    } else {
        RelayExtra::None
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(pid: i16) -> RelayPeer {
        RelayPeer::plain(pid)
    }

    #[test]
    fn range_spectators_and_energy() {
        let mut rng = 1;
        let r = peer(2);
        assert_eq!(
            plain_receives(1, 0, (0, 0), &r, (1000, 1000), &mut rng),
            Some(RelayExtra::None)
        );
        // Far beyond the radar distance: never.
        assert_eq!(
            plain_receives(1, 0, (0, 0), &r, (9000, 9000), &mut rng),
            None
        );
        let spec = RelayPeer {
            spectating: 1,
            energy: RelayEnergy::Spec,
            ship: 8,
            ..peer(3)
        };
        assert_eq!(
            plain_receives(1, 0, (0, 0), &spec, (9000, 9000), &mut rng),
            Some(RelayExtra::Energy)
        );
        let extra = RelayPeer {
            sees_extra: true,
            ..spec
        };
        assert_eq!(
            plain_receives(1, 0, (0, 0), &extra, (9000, 9000), &mut rng),
            Some(RelayExtra::Full)
        );
        let team = RelayPeer {
            energy: RelayEnergy::Team,
            freq: 5,
            ..peer(4)
        };
        assert_eq!(
            plain_receives(1, 5, (0, 0), &team, (10, 10), &mut rng),
            Some(RelayExtra::Energy)
        );
        assert_eq!(
            plain_receives(1, 6, (0, 0), &team, (10, 10), &mut rng),
            Some(RelayExtra::None)
        );
        // Himself only with seeownposn.
        assert_eq!(
            plain_receives(1, 0, (0, 0), &peer(1), (0, 0), &mut rng),
            None
        );
    }
}
