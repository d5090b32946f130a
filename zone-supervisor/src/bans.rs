//! Timed kicks (`?kick -t`): names and machine ids kept out until a time,
//! kept in the database so that they outlive a zone restart
//! (`docs/protocol/commands-and-capabilities.md` §4.2,
//! `docs/protocol/persistence.md` §2). The zone task holds the list; every
//! change is also handed to the database thread.

use zone_persist::BanRecord;

/// The timed kicks in force.
pub struct Bans {
    list: Vec<BanRecord>,
    next_id: i64,
}

/// Seconds since the Unix epoch, now.
pub fn epoch_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl Bans {
    /// Starts from the kicks read from the database at start.
    pub fn from_stored(list: Vec<BanRecord>) -> Bans {
        let next_id = list.iter().map(|b| b.id).max().unwrap_or(0) + 1;
        Bans { list, next_id }
    }

    /// Keeps `name` (and `machine_id`, unless 0 = unknown) out for `secs`
    /// from `now`; returns the record to store.
    pub fn ban(
        &mut self,
        name: &str,
        machine_id: u32,
        now: i64,
        secs: u32,
        kicker: &str,
        reason: &str,
    ) -> BanRecord {
        let rec = BanRecord {
            id: self.next_id,
            name: name.to_ascii_lowercase(),
            machine_id,
            expires: now + i64::from(secs),
            kicker: kicker.to_string(),
            reason: reason.chars().take(64).collect(),
            created: now,
        };
        self.next_id += 1;
        self.list.push(rec.clone());
        rec
    }

    /// The kick keeping out a login with this name or machine id, if any.
    pub fn find(&self, name: &str, machine_id: u32, now: i64) -> Option<&BanRecord> {
        self.list.iter().find(|b| {
            b.expires > now
                && (b.name.eq_ignore_ascii_case(name)
                    || (machine_id != 0 && b.machine_id == machine_id))
        })
    }

    /// Removes the kicks that have ended; returns their ids (to delete from
    /// the database).
    pub fn prune(&mut self, now: i64) -> Vec<i64> {
        let gone: Vec<i64> = self
            .list
            .iter()
            .filter(|b| b.expires <= now)
            .map(|b| b.id)
            .collect();
        self.list.retain(|b| b.expires > now);
        gone
    }

    /// Lifts the kicks of a machine id (a number) or a name; returns the
    /// lifted records.
    pub fn lift(&mut self, key: &str) -> Vec<BanRecord> {
        let key = key.trim();
        let mid = key.parse::<u32>().ok().filter(|&m| m != 0);
        let (lifted, kept): (Vec<BanRecord>, Vec<BanRecord>) =
            std::mem::take(&mut self.list).into_iter().partition(|b| {
                mid.map_or_else(|| b.name.eq_ignore_ascii_case(key), |m| b.machine_id == m)
            });
        self.list = kept;
        lifted
    }

    /// The kicks in force, oldest first.
    pub fn list(&self) -> &[BanRecord] {
        &self.list
    }

    /// The list as plain data, for the supervisor's in-place upgrade
    /// (`docs/upgrades.md` §3.2). Times are wall-clock (epoch seconds), so
    /// they mean the same in the next process.
    pub fn export(&self) -> Vec<BanCarry> {
        self.list
            .iter()
            .map(|b| BanCarry {
                id: b.id,
                name: b.name.clone(),
                machine_id: b.machine_id,
                expires: b.expires,
                kicker: b.kicker.clone(),
                reason: b.reason.clone(),
                created: b.created,
            })
            .collect()
    }

    /// Takes the list handed over by the previous supervisor process in
    /// place of the one read from the database at start: a kick the old
    /// process's database thread had not stored yet (or a lift it had not
    /// deleted) is then not lost. Returns what the database must be told
    /// to match: the kicks to store (again) and the ids to delete.
    pub fn import(&mut self, carried: Vec<BanCarry>) -> (Vec<BanRecord>, Vec<i64>) {
        let list: Vec<BanRecord> = carried
            .into_iter()
            .map(|b| BanRecord {
                id: b.id,
                name: b.name.to_ascii_lowercase(),
                machine_id: b.machine_id,
                expires: b.expires,
                kicker: b.kicker,
                reason: b.reason.chars().take(64).collect(),
                created: b.created,
            })
            .collect();
        let gone: Vec<i64> = self
            .list
            .iter()
            .filter(|old| !list.iter().any(|b| b.id == old.id))
            .map(|b| b.id)
            .collect();
        let next_id = list.iter().map(|b| b.id).max().unwrap_or(0) + 1;
        self.next_id = self.next_id.max(next_id);
        self.list = list;
        (self.list.clone(), gone)
    }
}

/// A timed kick as handed over on an in-place upgrade ([`BanRecord`] as
/// serde data).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BanCarry {
    /// Number given by the zone (unique).
    pub id: i64,
    /// Player name, lower case.
    pub name: String,
    /// Machine id (0 = unknown).
    pub machine_id: u32,
    /// End, seconds since the epoch.
    pub expires: i64,
    /// Who kicked.
    pub kicker: String,
    /// Why (may be empty).
    pub reason: String,
    /// When, seconds since the epoch.
    pub created: i64,
}

/// "3m20s" for a number of seconds.
pub fn minutes_seconds(secs: i64) -> String {
    let secs = secs.max(0);
    format!("{}m{}s", secs / 60, secs % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kicks_match_name_or_machine_and_end() {
        let mut b = Bans::from_stored(Vec::new());
        b.ban("Alice", 77, 100, 60, "sysop", "spam");
        assert!(b.find("alice", 1, 120).is_some(), "by name");
        assert!(b.find("bob", 77, 120).is_some(), "by machine id");
        assert!(b.find("bob", 0, 120).is_none(), "machine id 0 is unknown");
        assert!(b.find("alice", 1, 160).is_none(), "ended");
        assert_eq!(b.prune(160), vec![1]);
        assert!(b.list().is_empty());
    }

    #[test]
    fn lifting_by_name_or_machine_id() {
        let mut b = Bans::from_stored(Vec::new());
        b.ban("alice", 77, 0, 60, "s", "");
        b.ban("bob", 88, 0, 60, "s", "");
        assert_eq!(b.lift("88").len(), 1);
        assert_eq!(b.lift("ALICE").len(), 1);
        assert!(b.lift("carol").is_empty());
        assert!(b.list().is_empty());
        let again = Bans::from_stored(vec![BanRecord {
            id: 41,
            name: "x".into(),
            machine_id: 0,
            expires: 10,
            kicker: String::new(),
            reason: String::new(),
            created: 0,
        }]);
        assert_eq!(again.next_id, 42, "ids continue after the stored ones");
        assert_eq!(minutes_seconds(200), "3m20s");
    }

    #[test]
    fn a_handed_over_list_replaces_the_stored_one() {
        let mut old = Bans::from_stored(Vec::new());
        old.ban("alice", 77, 100, 60, "s", "spam");
        old.ban("bob", 0, 100, 60, "s", "");
        let carried = old.export();
        // The new process read a database the old one had not finished
        // writing: bob's kick is missing and a lifted kick (id 9) is back.
        let mut new = Bans::from_stored(vec![BanRecord {
            id: 9,
            name: "carol".into(),
            machine_id: 0,
            expires: 1000,
            kicker: String::new(),
            reason: String::new(),
            created: 0,
        }]);
        let (store, delete) = new.import(carried);
        assert_eq!(store.len(), 2);
        assert_eq!(delete, vec![9]);
        assert!(new.find("bob", 0, 120).is_some());
        assert!(new.find("carol", 0, 120).is_none());
        assert_eq!(new.ban("dave", 0, 100, 60, "s", "").id, 10, "ids go on");
    }
}
