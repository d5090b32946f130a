//! The zone's player table: one entry per connection, indexed by player id:
//! the connection and what the zone knows of the player. Where the player
//! is (logging in, which realm) is kept by `state::Membership` alone.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ss_proto::game::GoArena;
use ss_proto::transport::{Connection, Priority, Reliability};

/// A freed player id is not handed out again for this long (ASSS rule), so
/// late packets about the old player cannot be mistaken for the new one.
const PID_REUSE_DELAY: Duration = Duration::from_secs(10);

/// One connected player.
pub struct Player {
    /// Player id.
    pub pid: i16,
    /// UDP address of the client.
    pub addr: SocketAddr,
    /// The core-transport connection.
    pub conn: Connection,
    /// Name (set when the login finishes; empty before).
    pub name: String,
    /// Squad (after login).
    pub squad: String,
    /// Continuum client.
    pub continuum: bool,
    /// Client feature bits declared at login (`client_feature`).
    pub client_features: u16,
    /// The last arena request, kept for re-entries.
    pub go: Option<GoArena>,
    /// Ship as last reported by the realm.
    pub ship: u8,
    /// Freq as last reported by the realm.
    pub freq: i16,
    /// Queued on the flush list this pass.
    pub dirty: bool,
    /// Logged in with a verified password.
    pub authenticated: bool,
    /// When the connection was accepted.
    pub connected_at: Instant,
    /// When his lag figures last went to his realm.
    pub lag_reported_at: Instant,
    /// Whether and how long his unreliable packets wait to share a
    /// datagram (`crate::flush`).
    pub coalescer: crate::flush::Coalescer,
    /// The machine id from the login packet (0 = unknown).
    pub machine_id: u32,
    /// The player's banner (96-byte bitmap).
    pub banner: Option<[u8; BANNER_LEN]>,
    /// A timed chat mask and when it ends.
    pub chat_mask: Option<(u32, Instant)>,
    /// The player's zone data (banner, chat mask) was loaded from the
    /// database (or there is none to load).
    pub zone_data_loaded: bool,
    /// An auto-warp region sent him to this arena, to this tile: the
    /// realm warps him there on entry (taken at his next entry).
    pub spawn_in: Option<(String, i16, i16)>,
    /// `passwd.conf` digest of the name and the password he logged in with
    /// (`?set_local_password`).
    pub login_digest: Option<String>,
    /// Working directory of staff file commands (`?cd`), relative to the
    /// zone folder; empty = the zone folder.
    pub cwd: String,
    /// The file his client was asked for (`?putfile`, `?putmap`): where
    /// it goes when his upload (C2S 0x16) arrives. Not carried across a
    /// supervisor upgrade.
    pub upload: Option<crate::files::Upload>,
}

/// Bytes of a banner bitmap.
pub const BANNER_LEN: usize = 96;

impl Player {
    /// Queues a game packet for him: counted for the flush policy when it
    /// is unreliable (`crate::flush`). Returns `true` when he was not yet
    /// on this pass's flush list — the caller pushes him there.
    pub fn queue(&mut self, bytes: &[u8], reliability: Reliability, priority: Priority) -> bool {
        self.conn.send(bytes, reliability, priority);
        if reliability == Reliability::Unreliable {
            self.coalescer.queued();
        }
        !std::mem::replace(&mut self.dirty, true)
    }

    /// A timed chat mask still running: (mask, whole seconds left).
    pub fn chat_mask_left(&self, now: Instant) -> Option<(u32, u32)> {
        let (mask, until) = self.chat_mask?;
        let left = until.saturating_duration_since(now).as_secs();
        (left > 0).then_some((mask, left.min(u32::MAX as u64) as u32))
    }
}

/// All players, by pid and by address.
#[derive(Default)]
pub struct PlayerTable {
    slots: Vec<Option<Player>>,
    freed_at: Vec<Option<Instant>>,
    by_addr: HashMap<SocketAddr, i16>,
    count: usize,
}

impl PlayerTable {
    /// Number of players (connections).
    pub fn len(&self) -> usize {
        self.count
    }

    /// Allocates the lowest usable pid for a new connection.
    pub fn insert(&mut self, now: Instant, addr: SocketAddr, conn: Connection) -> Option<i16> {
        let idx = (0..self.slots.len())
            .find(|&i| {
                self.slots[i].is_none()
                    && self.freed_at[i]
                        .is_none_or(|t| now.saturating_duration_since(t) >= PID_REUSE_DELAY)
            })
            .unwrap_or(self.slots.len());
        if idx > i16::MAX as usize {
            return None;
        }
        if idx == self.slots.len() {
            self.slots.push(None);
            self.freed_at.push(None);
        }
        let pid = idx as i16;
        self.slots[idx] = Some(Player {
            pid,
            addr,
            conn,
            name: String::new(),
            squad: String::new(),
            continuum: false,
            client_features: 0,
            go: None,
            ship: 8,
            freq: 0,
            dirty: false,
            authenticated: false,
            connected_at: now,
            lag_reported_at: now,
            coalescer: crate::flush::Coalescer::new(now),
            machine_id: 0,
            banner: None,
            login_digest: None,
            cwd: String::new(),
            upload: None,
            chat_mask: None,
            zone_data_loaded: false,
            spawn_in: None,
        });
        self.by_addr.insert(addr, pid);
        self.count += 1;
        Some(pid)
    }

    /// Removes a player, returning it.
    pub fn remove(&mut self, now: Instant, pid: i16) -> Option<Player> {
        let idx = usize::try_from(pid).ok()?;
        let p = self.slots.get_mut(idx)?.take()?;
        self.freed_at[idx] = Some(now);
        self.by_addr.remove(&p.addr);
        self.count -= 1;
        Some(p)
    }

    /// The player with this pid.
    pub fn get(&self, pid: i16) -> Option<&Player> {
        self.slots.get(usize::try_from(pid).ok()?)?.as_ref()
    }

    /// The player with this pid, mutably.
    pub fn get_mut(&mut self, pid: i16) -> Option<&mut Player> {
        self.slots.get_mut(usize::try_from(pid).ok()?)?.as_mut()
    }

    /// The pid of the player at this address.
    pub fn pid_at(&self, addr: &SocketAddr) -> Option<i16> {
        self.by_addr.get(addr).copied()
    }

    /// All players.
    pub fn iter(&self) -> impl Iterator<Item = &Player> {
        self.slots.iter().flatten()
    }

    /// All players, mutably.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Player> {
        self.slots.iter_mut().flatten()
    }

    /// Freed pids still resting, with how long ago each was freed
    /// (for the in-place upgrade).
    pub fn resting(&self, now: Instant) -> Vec<(i16, Duration)> {
        self.freed_at
            .iter()
            .enumerate()
            .filter(|(i, _)| self.slots[*i].is_none())
            .filter_map(|(i, t)| {
                let age = now.saturating_duration_since((*t)?);
                (age < PID_REUSE_DELAY).then_some((i as i16, age))
            })
            .collect()
    }

    /// Puts a player taken over from the previous supervisor process back
    /// under his pid; `false` if the pid is taken or out of range.
    pub fn restore(&mut self, p: Player) -> bool {
        let Ok(idx) = usize::try_from(p.pid) else {
            return false;
        };
        if idx >= self.slots.len() {
            self.slots.resize_with(idx + 1, || None);
            self.freed_at.resize(idx + 1, None);
        }
        if self.slots[idx].is_some() || self.by_addr.contains_key(&p.addr) {
            return false;
        }
        self.by_addr.insert(p.addr, p.pid);
        self.slots[idx] = Some(p);
        self.count += 1;
        true
    }

    /// Marks a pid as freed at `at` (restored resting pids).
    pub fn rest(&mut self, pid: i16, at: Instant) {
        let Ok(idx) = usize::try_from(pid) else {
            return;
        };
        if idx >= self.slots.len() {
            self.slots.resize_with(idx + 1, || None);
            self.freed_at.resize(idx + 1, None);
        }
        if self.slots[idx].is_none() {
            self.freed_at[idx] = Some(at);
        }
    }

    /// The logged-in player with this name (case-insensitive). Only a
    /// finished login gives a player a name.
    pub fn find_by_name(&self, name: &str) -> Option<&Player> {
        self.iter()
            .find(|p| !p.name.is_empty() && p.name.eq_ignore_ascii_case(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ss_proto::transport::{TickClock, TransportConfig};

    fn conn(now: Instant) -> Connection {
        Connection::server(
            now,
            TransportConfig::default(),
            TickClock::new(now, 0),
            0,
            false,
        )
    }

    #[test]
    fn pids_are_lowest_free_and_not_reused_at_once() {
        let now = Instant::now();
        let mut t = PlayerTable::default();
        let a: SocketAddr = "127.0.0.1:1000".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:1001".parse().unwrap();
        let c: SocketAddr = "127.0.0.1:1002".parse().unwrap();
        assert_eq!(t.insert(now, a, conn(now)), Some(0));
        assert_eq!(t.insert(now, b, conn(now)), Some(1));
        t.remove(now, 0);
        assert_eq!(t.insert(now, c, conn(now)), Some(2), "pid 0 is resting");
        t.remove(now, 2);
        let later = now + Duration::from_secs(11);
        assert_eq!(t.insert(later, c, conn(later)), Some(0));
        assert_eq!(t.pid_at(&c), Some(0));
        assert_eq!(t.pid_at(&a), None);
        assert_eq!(t.len(), 2);
    }
}
