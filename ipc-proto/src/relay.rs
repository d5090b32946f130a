//! The supervisor relay (`docs/protocol/core-transport.md`, "Supervisor
//! relay"): the per-player rules a realm installs so that the supervisor
//! can relay positions itself, and the receiver rules both sides apply:
//! [`plain_receives`] for a plain position (no weapon, no flash, no
//! safe-zone change), [`weapon_receives`] for one that carries a weapon.
//!
//! The realm keeps its own copy of these rules inside its full relay
//! (which also handles regions, lag drops, ball carriers and sends to
//! all); its tests check that both pick the same receivers with the same
//! extra data.

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
    /// It may relay his weapons too (where the arena lets it, see
    /// [`WeaponRanges`]): false while the lag rules drop a share of them.
    pub weapons: bool,
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
            weapons: true,
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

/// How far the weapons of an arena are relayed (`Net:BulletPixels`,
/// `Net:WeaponPixels`), sent with the rules when the supervisor may relay
/// weapons there: when no region can remove a weapon and no ball carrier
/// may be refused one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeaponRanges {
    /// Bullets and bouncing bullets, pixels.
    pub bullet: i32,
    /// Every other weapon but thors and mines, pixels.
    pub other: i32,
}

/// Extra bytes a receiver gets with a relayed position.
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
    send.then(|| energy_extra(receiver, sender_freq, watching))
}

/// Whether `receiver`, last seen at `at`, gets a position of `sender`
/// (freq `sender_freq`) at `from` that carries a weapon reaching `reach`
/// pixels (`None`: a mine, for everyone; see
/// `ss_proto::game::WeaponInfo::relay_reach`), and with what extra bytes.
/// No radar dots: beyond its reach a weapon goes only to those who watch,
/// are attached to, or see every position of its sender.
pub fn weapon_receives(
    sender: i16,
    sender_freq: i16,
    from: (i16, i16),
    receiver: &RelayPeer,
    at: (i16, i16),
    reach: Option<i32>,
) -> Option<RelayExtra> {
    if receiver.pid == sender {
        return receiver.see_own_posn.then_some(RelayExtra::None);
    }
    let watching = receiver.spectating == sender;
    if watching && receiver.sees_extra {
        return Some(RelayExtra::Full);
    }
    let send = reach.is_none_or(|r| distance(from.0, from.1, at.0, at.1) <= r)
        || receiver.see_all_posn
        || watching
        || receiver.attached_to == sender;
    send.then(|| energy_extra(receiver, sender_freq, watching))
}

/// The extra bytes a receiver who gets a position has the right to: the
/// sender's energy if his viewing rule allows it, else none.
fn energy_extra(receiver: &RelayPeer, sender_freq: i16, watching: bool) -> RelayExtra {
    let energy = match receiver.energy {
        RelayEnergy::None => false,
        RelayEnergy::All => true,
        RelayEnergy::Team => receiver.freq == sender_freq,
        RelayEnergy::Spec => watching,
    };
    if energy {
        RelayExtra::Energy
    } else {
        RelayExtra::None
    }
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

    #[test]
    fn weapons_reach_their_range_and_mines_everyone() {
        let r = peer(2);
        let near = (1000, 0);
        let far = (3000, 0);
        assert_eq!(
            weapon_receives(1, 0, (0, 0), &r, near, Some(1500)),
            Some(RelayExtra::None)
        );
        // Beyond the reach, though within radar distance: no dot.
        assert_eq!(weapon_receives(1, 0, (0, 0), &r, far, Some(1500)), None);
        // Within reach beyond his screen: a weapon's range is the sender's.
        let small_screen = RelayPeer {
            range: 500,
            ..peer(2)
        };
        assert_eq!(
            weapon_receives(1, 0, (0, 0), &small_screen, near, Some(1500)),
            Some(RelayExtra::None)
        );
        // A mine: everyone, however far.
        assert_eq!(
            weapon_receives(1, 0, (0, 0), &r, (30_000, 30_000), None),
            Some(RelayExtra::None)
        );
        // Watchers, the attached and seeallposn whatever the distance,
        // with the extra bytes they have the right to.
        let watcher = RelayPeer {
            spectating: 1,
            energy: RelayEnergy::Spec,
            ship: 8,
            ..peer(3)
        };
        assert_eq!(
            weapon_receives(1, 0, (0, 0), &watcher, far, Some(1500)),
            Some(RelayExtra::Energy)
        );
        let full = RelayPeer {
            sees_extra: true,
            ..watcher
        };
        assert_eq!(
            weapon_receives(1, 0, (0, 0), &full, far, Some(1500)),
            Some(RelayExtra::Full)
        );
        let attached = RelayPeer {
            attached_to: 1,
            ..peer(4)
        };
        assert_eq!(
            weapon_receives(1, 0, (0, 0), &attached, far, Some(1500)),
            Some(RelayExtra::None)
        );
        let all = RelayPeer {
            see_all_posn: true,
            energy: RelayEnergy::Team,
            ..peer(5)
        };
        assert_eq!(
            weapon_receives(1, 0, (0, 0), &all, far, Some(1500)),
            Some(RelayExtra::Energy)
        );
        // The sender himself only with seeownposn.
        assert_eq!(weapon_receives(1, 0, (0, 0), &peer(1), (0, 0), None), None);
        let own = RelayPeer {
            see_own_posn: true,
            ..peer(1)
        };
        assert_eq!(
            weapon_receives(1, 0, (0, 0), &own, (0, 0), None),
            Some(RelayExtra::None)
        );
    }
}
