//! Staff commands the zone carries out for a realm ([`ZoneCall::Staff`],
//! `docs/protocol/commands-and-capabilities.md` §4): writing `staff.conf`
//! and `passwd.conf` (the zone owns the zone folder), timed kicks kept in
//! the database, `?lastlog`, `?uptime`, `?netstats`, `?listarena`,
//! `?recyclearena`, `?shutdown` / `?recyclezone` and `?endinterval`. The
//! realm has checked the issuer's capability and the "higher than" rule;
//! the zone checks that the players named belong to the calling realm.
//!
//! [`ZoneCall::Staff`]: ipc_proto::ZoneCall::Staff

use std::path::PathBuf;
use std::time::Instant;

use ipc_proto::{PasswordValue, StaffRequest, ToRealm};
use tracing::{info, warn};

use crate::bans::{epoch_now, minutes_seconds};
use crate::state::SlotId;
use crate::zone::{Zone, EXIT_RECYCLE};

/// Most `?lastlog` lines sent at once.
const MAX_LASTLOG: usize = 50;
/// Longest chat line the zone sends for lists.
const LINE_LEN: usize = 200;

/// "1 day, 2 hours, 3 minutes and 4 seconds" (ASSS `?uptime` wording).
pub fn uptime_text(secs: u64) -> String {
    let (days, hours, mins, secs) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    let unit = |n: u64, one: &str| {
        if n == 1 {
            format!("1 {one}")
        } else {
            format!("{n} {one}s")
        }
    };
    let mut parts = Vec::new();
    if days > 0 {
        parts.push(unit(days, "day"));
    }
    if days > 0 || hours > 0 {
        parts.push(unit(hours, "hour"));
    }
    if days > 0 || hours > 0 || mins > 0 {
        parts.push(unit(mins, "minute"));
    }
    let secs = unit(secs, "second");
    if parts.is_empty() {
        secs
    } else {
        format!("{} and {secs}", parts.join(", "))
    }
}

/// Names joined with ", " into lines of at most [`LINE_LEN`] bytes.
pub fn wrap_list(items: &[String]) -> Vec<String> {
    ss_proto::game::join_lines(items, LINE_LEN)
}

impl Zone {
    /// `conf/<name>` of the zone folder, or why there is none.
    fn conf_file(&self, name: &str) -> Result<PathBuf, String> {
        match &self.s.zone_dir {
            Some(dir) => Ok(dir.join("conf").join(name)),
            None => Err(format!(
                "This zone runs on its embedded config: there is no {name} to write (start it with --zone DIR)."
            )),
        }
    }

    /// Keeps a player of the zone out for `secs` (by name and machine id)
    /// and stores the kick.
    pub(crate) fn record_ban(&mut self, pid: i16, secs: u32, kicker: &str, reason: &str) {
        let Some(p) = self.players.get(pid) else {
            return;
        };
        let (name, mid) = (p.name.clone(), p.machine_id);
        let rec = self.bans.ban(&name, mid, epoch_now(), secs, kicker, reason);
        info!(%name, machine_id = mid, secs, %kicker, "timed kick");
        if let Some(k) = self.scores.as_ref() {
            k.persist.put_ban(rec);
        }
    }

    /// Forgets kicks that have ended (and deletes them from the database).
    pub(crate) fn bans_tick(&mut self) {
        let gone = self.bans.prune(epoch_now());
        if !gone.is_empty() {
            if let Some(k) = self.scores.as_ref() {
                k.persist.delete_bans(gone);
            }
        }
    }

    /// A [`StaffRequest`] from player `pid` of realm `slot`.
    pub(crate) fn call_staff(&mut self, now: Instant, slot: SlotId, pid: i16, req: StaffRequest) {
        if !self.player_in_realm(pid, slot) {
            return;
        }
        let reply = match req {
            StaffRequest::Uptime => {
                let secs = now.saturating_duration_since(self.started_at()).as_secs();
                vec![format!("uptime: {}", uptime_text(secs))]
            }
            StaffRequest::NetStats => self.netstats(now),
            StaffRequest::ListArena { arena, see_private } => {
                self.list_arena(slot, &arena, see_private)
            }
            StaffRequest::LastLog { count, filter } => {
                self.log.drain();
                let count = usize::from(count).clamp(1, MAX_LASTLOG);
                let lines = self.log.last(count, &filter);
                let mut out: Vec<String> = if lines.is_empty() {
                    vec!["No matching log lines.".to_string()]
                } else {
                    lines
                        .into_iter()
                        .map(|l| l.chars().take(240).collect())
                        .collect()
                };
                if self.log.dropped() > 0 {
                    out.push(format!(
                        "({} log lines were dropped while the zone was busy.)",
                        self.log.dropped()
                    ));
                }
                out
            }
            StaffRequest::RecycleArena => {
                let name = self.slot_name(slot).to_string();
                info!(realm = %name, pid, "arena recycled by staff");
                match self.operator_restart(now, &name) {
                    Ok(_) => vec![format!("Recycling arena {name}.")],
                    Err(e) => vec![format!("Arena recycle failed: {e}")],
                }
            }
            StaffRequest::Shutdown { recycle } => {
                let by = self.players.get(pid).map_or("?", |p| p.name.as_str());
                info!(by, recycle, "zone stop asked by staff");
                let text = if recycle {
                    "The zone is restarting. Please reconnect in a moment."
                } else {
                    "The zone is shutting down."
                };
                self.call_zone_message(text, 0);
                self.exit_request = Some(if recycle { EXIT_RECYCLE } else { 0 });
                Vec::new()
            }
            StaffRequest::TimedKick {
                target,
                text,
                secs,
                reason,
                kicker,
            } => {
                if self.player_in_realm(target, slot) && secs > 0 {
                    self.record_ban(target, secs, &kicker, &reason);
                    self.call_kick(now, slot, target, &text, 0);
                }
                Vec::new()
            }
            StaffRequest::ListBans => {
                let epoch = epoch_now();
                let mut lines = vec!["Active kicks (machine id bans):".to_string()];
                for b in self.bans.list().iter().filter(|b| b.expires > epoch) {
                    let reason = if b.reason.is_empty() { "-" } else { &b.reason };
                    lines.push(format!(
                        "  {} {} by {} ({reason}) ({} left)",
                        b.machine_id,
                        b.name,
                        b.kicker,
                        minutes_seconds(b.expires - epoch)
                    ));
                }
                if lines.len() == 1 {
                    lines.push("  none".to_string());
                }
                lines
            }
            StaffRequest::LiftBan { key } => {
                let lifted = self.bans.lift(&key);
                if lifted.is_empty() {
                    vec![format!("No kick in force for {key}.")]
                } else {
                    if let Some(k) = self.scores.as_ref() {
                        k.persist.delete_bans(lifted.iter().map(|b| b.id).collect());
                    }
                    info!(%key, count = lifted.len(), "kick lifted");
                    vec![format!("Lifted {} kick(s) for {key}.", lifted.len())]
                }
            }
            StaffRequest::SetGroup {
                target,
                group,
                section,
            } => self.set_group(slot, pid, target, &group, section.as_deref()),
            StaffRequest::RemoveGroup { target, section } => {
                self.remove_group(slot, pid, target, &section)
            }
            StaffRequest::Password { name, value } => self.password(slot, pid, &name, value),
            StaffRequest::EndInterval { interval, scope } => {
                self.staff_end_interval(slot, &interval, &scope)
            }
            StaffRequest::MakeArena { name } => vec![self.make_arena(&name)],
            StaffRequest::File(op) => self.file_op(pid, op),
            StaffRequest::SendFile(op) => self.send_file_op(pid, op),
            StaffRequest::LogFile { reopen } => {
                let text = match (self.log.file_command(reopen), reopen) {
                    (false, _) => "There is no log file (Log:File is not set).",
                    (true, true) => "Log file reopened.",
                    (true, false) => "Log file flushed.",
                };
                vec![text.to_string()]
            }
        };
        for line in reply {
            self.call_message_to(pid, 0, 0, &line);
        }
    }

    fn netstats(&self, now: Instant) -> Vec<String> {
        let r = self.report(now).zone;
        let secs = r.uptime_secs.max(1.0);
        let t = &r.traffic;
        vec![
            format!(
                "netstats: pkts sent={}  pkts recvd={}  resent={}  dropped={}",
                t.datagrams_out, r.counters.datagrams_in, t.retransmits, r.dropped
            ),
            format!(
                "netstats: bw out={:.0}  bw in={:.0} (bytes/s since start)",
                t.bytes_out as f64 / secs,
                t.bytes_in as f64 / secs
            ),
            format!(
                "netstats: connections={}  players in arenas={}  unreliable discarded={}",
                r.connections, r.players, t.unreliable_discarded
            ),
        ]
    }

    fn list_arena(&self, slot: SlotId, arena: &str, see_private: bool) -> Vec<String> {
        let name = if arena.trim().is_empty() {
            self.slot_name(slot).to_string()
        } else {
            arena.trim().to_string()
        };
        let found = self
            .state
            .registry
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(&name))
            .map(|s| (s.id, s.name.clone()));
        match found {
            Some((id, _)) if name.starts_with('#') && !see_private && id != slot => {
                vec!["You don't have permission to view private arenas.".to_string()]
            }
            Some((id, real)) => {
                let mut names = Vec::new();
                let mut playing = 0;
                for &p in self.state.members.players_in(id) {
                    if let Some(pl) = self.players.get(p) {
                        if pl.ship != ss_proto::game::ship::SPECTATOR {
                            playing += 1;
                        }
                        names.push(pl.name.clone());
                    }
                }
                let mut lines = vec![format!(
                    "Arena '{real}': {} total, {playing} playing",
                    names.len()
                )];
                lines.extend(wrap_list(&names));
                lines
            }
            None if name.starts_with('#') && !see_private => {
                vec!["You don't have permission to view private arenas.".to_string()]
            }
            None => vec![format!("Arena '{name}' doesn't exist.")],
        }
    }

    /// `?setgroup -p`: the line goes into `staff.conf` first; only when
    /// the file is written does the realm put the player in the group.
    fn set_group(
        &mut self,
        slot: SlotId,
        issuer: i16,
        target: i16,
        group: &str,
        section: Option<&str>,
    ) -> Vec<String> {
        if !self.player_in_realm(target, slot) {
            return vec!["That player has left.".to_string()];
        }
        let Some((name, verified)) = self
            .players
            .get(target)
            .map(|p| (p.name.clone(), p.authenticated))
        else {
            return Vec::new();
        };
        let path = match self.conf_file("staff.conf") {
            Ok(p) => p,
            Err(e) => return vec![e],
        };
        let section = section.unwrap_or("(global)");
        if let Err(e) = crate::conf_edit::edit_file(&path, section, &name, Some(group)) {
            warn!(%name, group, "setgroup: {e}");
            return vec![format!("{name} was not put in group {group}: {e}")];
        }
        info!(%name, group, section, "staff.conf: group set");
        self.staff_changed(slot, issuer, target, group);
        let mut lines = vec![format!(
            "{name} is now in group {group} ([{section}] in staff.conf)."
        )];
        if !verified {
            // Groups from staff.conf need a verified login (§2.2).
            lines.push(format!(
                "Note: {name} did not log in with a verified password; after this visit the group applies only to verified logins."
            ));
        }
        lines
    }

    /// `?rmgroup` of a group from `staff.conf`.
    fn remove_group(
        &mut self,
        slot: SlotId,
        issuer: i16,
        target: i16,
        section: &str,
    ) -> Vec<String> {
        if !self.player_in_realm(target, slot) {
            return vec!["That player has left.".to_string()];
        }
        let Some(name) = self.players.get(target).map(|p| p.name.clone()) else {
            return Vec::new();
        };
        let path = match self.conf_file("staff.conf") {
            Ok(p) => p,
            Err(e) => return vec![e],
        };
        if let Err(e) = crate::conf_edit::edit_file(&path, section, &name, None) {
            warn!(%name, "rmgroup: {e}");
            return vec![format!("{name} keeps his group: {e}")];
        }
        info!(%name, section, "staff.conf: group removed");
        self.staff_changed(slot, issuer, target, crate::staff::DEFAULT_GROUP);
        vec![format!(
            "{name} has been removed from his group ([{section}] in staff.conf)."
        )]
    }

    /// After a `staff.conf` change: the target's realm moves him, every
    /// realm re-reads the file.
    fn staff_changed(&mut self, slot: SlotId, issuer: i16, target: i16, group: &str) {
        let issuer_name = self
            .players
            .get(issuer)
            .map_or_else(String::new, |p| p.name.clone());
        for (_, worker) in self.state.registry.ready_workers() {
            self.queue_to_worker(worker, &ToRealm::StaffChanged);
        }
        self.queue_to_realm(
            slot,
            &ToRealm::SetGroup {
                pid: target,
                group: group.to_string(),
                issuer,
                issuer_name,
            },
        );
    }

    /// `?passwd` and friends: one `[Users]` line of `passwd.conf`, then the
    /// zone's password table is read again.
    fn password(
        &mut self,
        slot: SlotId,
        issuer: i16,
        name: &str,
        value: PasswordValue,
    ) -> Vec<String> {
        let path = match self.conf_file("passwd.conf") {
            Ok(p) => p,
            Err(e) => return vec![e],
        };
        // Whose line changes is the zone's decision, not the realm's: a
        // new password is always the issuer's own, a login password the
        // target's.
        let owner = match &value {
            PasswordValue::Set(_) => self.players.get(issuer).map(|p| p.name.clone()),
            PasswordValue::FromLogin { target } => self
                .players
                .get(*target)
                .filter(|_| self.player_in_realm(*target, slot))
                .map(|p| p.name.clone()),
            PasswordValue::Allow => Some(name.trim().to_string()),
        };
        let Some(owner) = owner.filter(|n| !n.is_empty()) else {
            return vec!["That player has left.".to_string()];
        };
        let name = owner.as_str();
        let (entry, only_if_absent, done) = match value {
            PasswordValue::Set(pw) => {
                if pw.is_empty() {
                    return vec!["You must specify a password.".to_string()];
                }
                let authenticated = self.players.get(issuer).is_some_and(|p| p.authenticated);
                if self.s.auth.require_auth_to_set_password() && !authenticated {
                    return vec![
                        "You must be authenticated to change your local password.".to_string()
                    ];
                }
                (
                    crate::auth::password_digest(name, &pw),
                    false,
                    "Password set.".to_string(),
                )
            }
            PasswordValue::Allow => (
                "any".to_string(),
                true,
                format!("Added {name} to the allowed player list."),
            ),
            PasswordValue::FromLogin { target } => {
                let digest = self
                    .players
                    .get(target)
                    .filter(|_| self.player_in_realm(target, slot))
                    .and_then(|p| p.login_digest.clone());
                match digest {
                    Some(d) => (d, true, format!("Set local password for {name}.")),
                    None => return vec!["Hashed password missing.".to_string()],
                }
            }
        };
        if only_if_absent && self.s.auth.has_entry(name) {
            return vec![format!("{name} has already set a local password.")];
        }
        if let Err(e) = crate::conf_edit::edit_file(&path, "Users", name, Some(&entry)) {
            warn!(%name, "passwd.conf: {e}");
            return vec![format!("The password was not changed: {e}")];
        }
        info!(%name, by = issuer, "passwd.conf: entry changed");
        // Read it back, so the next login sees it.
        match conf::ConfigFile::parse_str(&std::fs::read_to_string(&path).unwrap_or_default()) {
            Ok(file) => self.s.runtime.auth = crate::auth::LocalAuth::new(Some(file)),
            Err(e) => warn!("passwd.conf does not parse after the change: {e}"),
        }
        vec![done]
    }

    /// `?makearena`: `arenas/<name>/arena.conf` including the default
    /// arena's config; a folder that exists already is left alone.
    fn make_arena(&mut self, name: &str) -> String {
        if !valid_arena_name(name) {
            return "Illegal arena name.".to_string();
        }
        let Some(dir) = self.s.zone_dir.clone() else {
            return "This zone runs on its embedded config: there is no arenas folder (start it with --zone DIR).".to_string();
        };
        let folder = dir.join("arenas").join(name);
        if let Err(e) = std::fs::create_dir(&folder) {
            return format!("Error creating directory 'arenas/{name}': {e}");
        }
        let conf = folder.join("arena.conf");
        if let Err(e) =
            crate::conf_edit::write_atomic(&conf, "\n#include arenas/(default)/arena.conf\n")
        {
            let _ = std::fs::remove_dir(&folder);
            return format!("Error creating file 'arenas/{name}/arena.conf': {e}");
        }
        info!(arena = name, "arena folder created by staff");
        format!("Successfully created {name}.")
    }

    /// `?endinterval reset|game [scope]`.
    fn staff_end_interval(&mut self, slot: SlotId, interval: &str, scope: &str) -> Vec<String> {
        let Some(slot_info) = self.state.registry.get(slot) else {
            return Vec::new();
        };
        let (group, name) = (slot_info.score_group.clone(), slot_info.name.clone());
        let (i, scope) = match interval {
            "reset" => (
                zone_persist::interval::RESET,
                if scope.is_empty() {
                    group
                } else {
                    scope.to_string()
                },
            ),
            "game" => (
                zone_persist::interval::GAME,
                if scope.is_empty() {
                    name
                } else {
                    scope.to_string()
                },
            ),
            other => return vec![format!("Bad interval: {other} (reset or game).")],
        };
        if self.scores.is_none() {
            return vec!["This zone keeps no scores (Persist:Enabled = 0).".to_string()];
        }
        if i == zone_persist::interval::RESET {
            self.end_score_interval(vec![scope.clone()]);
        } else if let Some(k) = self.scores.as_mut() {
            k.persist.end_interval(vec![scope.clone()], i);
        }
        info!(%scope, interval = i, "interval ended by staff");
        vec![format!("Interval {interval} ended for {scope}.")]
    }
}

/// An arena name `?makearena` accepts: lower-case letters and digits, an
/// optional leading `#` (ASSS's rule).
pub fn valid_arena_name(name: &str) -> bool {
    let body = name.strip_prefix('#').unwrap_or(name);
    !body.is_empty()
        && body.len() <= 15
        && body
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// The group of players without one.
pub const DEFAULT_GROUP: &str = "default";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptime_reads_like_asss() {
        assert_eq!(uptime_text(5), "5 seconds");
        assert_eq!(uptime_text(61), "1 minute and 1 second");
        assert_eq!(uptime_text(3600), "1 hour, 0 minutes and 0 seconds");
        assert_eq!(
            uptime_text(2 * 86_400 + 7200 + 180 + 4),
            "2 days, 2 hours, 3 minutes and 4 seconds"
        );
    }

    #[test]
    fn arena_names_for_makearena() {
        assert!(valid_arena_name("duel2"));
        assert!(valid_arena_name("#secret"));
        assert!(!valid_arena_name("Duel"));
        assert!(!valid_arena_name("../x"));
        assert!(!valid_arena_name(""));
        assert!(!valid_arena_name("#"));
    }

    #[test]
    fn lists_wrap() {
        let names: Vec<String> = (0..60).map(|i| format!("player{i:02}")).collect();
        let lines = wrap_list(&names);
        assert!(lines.len() > 1);
        assert!(lines.iter().all(|l| l.len() <= LINE_LEN));
        assert_eq!(lines.join(", "), names.join(", "));
        assert!(wrap_list(&[]).is_empty());
    }
}
