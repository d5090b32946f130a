//! Zone calls of the game inside realms that cross realm boundaries:
//! `?find`, `?arena`, zone-wide and staff messages, `?listmod`, `?kick`
//! with a reason, `?lag`/`?info`, remote commands and replies to players in
//! other realms. The realm has checked the caller's capabilities; the
//! supervisor checks that the players named belong to the calling realm
//! where that matters.

use std::time::Instant;

use ipc_proto::{ReportKind, ToRealm};
use ss_proto::game::{chat_type, ArenaListEntry, Chat, S2CPacket};
use ss_proto::transport::{Priority, Reliability};
use tracing::info;

use crate::state::{Membership, RealmState, SlotId};
use crate::zone::Zone;

/// Largest S2C 0x2F the list is cut to (ASSS: a packet minus the reliable
/// header).
const MAX_ARENA_LIST: usize = 506;

fn chat(chat_type: u8, sound: u8, text: &str) -> S2CPacket {
    S2CPacket::Chat(Chat {
        chat_type,
        sound,
        pid: -1,
        text: text.to_string(),
    })
}

/// The realm of a player whose entry the realm has confirmed.
fn arena_of(members: &Membership, pid: i16) -> Option<SlotId> {
    members
        .entered(pid)
        .then(|| members.realm_of(pid))
        .flatten()
}

impl Zone {
    /// Sends `msg` to every realm that accepts messages.
    fn send_to_every_realm(&mut self, msg: &ToRealm<'_>) {
        for (_, worker) in self.state.registry.ready_workers() {
            self.queue_to_worker(worker, msg);
        }
    }

    /// `?find`: the best match for `query` among players in arenas; with
    /// none, the biller is asked when it can be (its reply reaches the
    /// player as a command reply), else "not online".
    pub(crate) fn call_find_player(
        &mut self,
        slot: SlotId,
        pid: i16,
        query: &str,
        see_private: bool,
    ) {
        if !self.player_in_realm(pid, slot) || query.is_empty() {
            return;
        }
        let lower = query.to_ascii_lowercase();
        let mut best: Option<(usize, String, SlotId)> = None;
        for p in self.players.iter() {
            let Some(realm) = arena_of(&self.state.members, p.pid) else {
                continue;
            };
            if p.name.eq_ignore_ascii_case(query) {
                best = Some((0, p.name.clone(), realm));
                break;
            }
            if let Some(pos) = p.name.to_ascii_lowercase().find(&lower) {
                // Substring matches rank by position, after exact ones.
                let score = pos + 1;
                if best.as_ref().is_none_or(|(s, _, _)| score < *s) {
                    best = Some((score, p.name.clone(), realm));
                }
            }
        }
        let text = match best {
            Some((_, name, realm)) => {
                let arena = self.slot_name(realm);
                if arena.starts_with('#') && !see_private && realm != slot {
                    format!("{name} is in a private arena.")
                } else {
                    format!("{name} is in arena {arena}.")
                }
            }
            None if self.biller_find(pid, query) => return,
            None => format!("{query} is not online."),
        };
        self.arena_message(pid, &text);
    }

    /// `?arena`: the running arenas and their populations, the asker's own
    /// with a negative count.
    pub(crate) fn call_arena_list(
        &mut self,
        slot: SlotId,
        pid: i16,
        see_private: bool,
        text: bool,
    ) {
        if !self.player_in_realm(pid, slot) {
            return;
        }
        let mut arenas: Vec<(String, usize, bool)> = self
            .state
            .registry
            .iter()
            .filter(|s| {
                matches!(
                    s.state,
                    RealmState::Running | RealmState::Starting | RealmState::Restarting
                )
            })
            .filter(|s| !s.name.starts_with('#') || see_private || s.id == slot)
            .map(|s| {
                (
                    s.name.clone(),
                    self.state.members.count_in(s.id),
                    s.id == slot,
                )
            })
            .collect();
        arenas.sort();
        if text {
            for (name, count, own) in arenas {
                let mark = if own { "  (current)" } else { "" };
                self.arena_message(pid, &format!("{name}: {count}{mark}"));
            }
            return;
        }
        let mut list = Vec::new();
        let mut len = 1;
        for (name, count, own) in arenas {
            len += name.len() + 3;
            if len > MAX_ARENA_LIST {
                break;
            }
            let count = count.min(i16::MAX as usize) as i16;
            list.push(ArenaListEntry {
                name,
                players: if own { -count } else { count },
            });
        }
        self.send_packet(pid, &S2CPacket::ArenaList(list));
    }

    /// `?z`/`?az`: a green message to everyone in an arena.
    pub(crate) fn call_zone_message(&mut self, text: &str, sound: u8) {
        let pkt = chat(chat_type::ARENA, sound, text);
        let pids: Vec<i16> = self
            .players
            .iter()
            .filter(|p| self.state.members.entered(p.pid))
            .map(|p| p.pid)
            .collect();
        for pid in pids {
            self.send_packet(pid, &pkt);
        }
    }

    /// Staff chat: to every realm, which shows it to its staff.
    pub(crate) fn call_staff_chat(&mut self, slot: SlotId, from: i16, text: String) {
        if self.player_in_realm(from, slot) {
            self.send_to_every_realm(&ToRealm::StaffChat { from, text });
        }
    }

    /// `?listmod`: every realm lists its staff to the asker.
    pub(crate) fn call_list_staff(
        &mut self,
        slot: SlotId,
        pid: i16,
        see_private: bool,
        see_all_staff: bool,
    ) {
        if self.player_in_realm(pid, slot) {
            self.send_to_every_realm(&ToRealm::ListStaff {
                asker: pid,
                see_private,
                see_all_staff,
            });
        }
    }

    /// A chat message to a player wherever he is.
    pub(crate) fn call_message_to(&mut self, pid: i16, chat_type: u8, sound: u8, text: &str) {
        if self.state.members.place(pid).is_some_and(|p| p.logged_in()) {
            self.send_packet(pid, &chat(chat_type, sound, text));
        }
    }

    /// `?kick`: the reason goes out at once, then the disconnect.
    pub(crate) fn call_kick(
        &mut self,
        now: Instant,
        slot: SlotId,
        pid: i16,
        text: &str,
        ban_secs: u32,
    ) {
        if !self.player_in_realm(pid, slot) {
            return;
        }
        if ban_secs > 0 {
            self.record_ban(pid, ban_secs, "", "");
        }
        let mut bytes = Vec::new();
        chat(chat_type::SYSOP_WARNING, 0, text).encode(&mut bytes);
        if let Some(p) = self.players.get_mut(pid) {
            info!(pid, name = %p.name, reason = text, "player kicked");
            p.conn.send(&bytes, Reliability::Reliable, Priority::High);
        }
        self.flush_player(now, pid);
        self.remove_player(now, pid);
    }

    /// `?lag`/`?info` about a player of the calling realm, to the asker.
    pub(crate) fn call_player_report(
        &mut self,
        now: Instant,
        slot: SlotId,
        asker: i16,
        target: i16,
        kind: ReportKind,
    ) {
        if !self.player_in_realm(target, slot) {
            return;
        }
        let Some(t) = self.players.get(target) else {
            return;
        };
        let arena = self.slot_name(slot).to_string();
        let s = t.conn.stats();
        let pct = |part: u64, whole: u64| {
            if whole == 0 {
                0.0
            } else {
                100.0 * part as f64 / whole as f64
            }
        };
        let prefix = if asker == target && kind != ReportKind::Info {
            "lag".to_string()
        } else {
            t.name.clone()
        };
        let rtt = t.conn.rtt_ms();
        let resent = pct(s.retransmits, s.datagrams_out);
        // Loss as ASSS works it out: the counts in the client's latest
        // time sync request against ours.
        let s2c_loss = 100.0 * s.sync.loss_to_peer();
        let c2s_loss = 100.0 * s.sync.loss_from_peer();
        let onfor = now.saturating_duration_since(t.connected_at).as_secs();
        let mut lines = Vec::new();
        match kind {
            ReportKind::Lag => lines.push(format!(
                "{prefix}: avg ping: {rtt}  ploss: s2c: {s2c_loss:.2} c2s: {c2s_loss:.2}"
            )),
            ReportKind::LagVerbose => {
                lines.push(format!(
                    "{prefix}: rel ping: {rtt} (reliable round trip, ms)"
                ));
                lines.push(format!(
                    "{prefix}: ploss: s2c: {s2c_loss:.2} c2s: {c2s_loss:.2}  reliable dups: {}  resends: {}",
                    s.duplicates, s.retransmits
                ));
                lines.push(format!(
                    "{prefix}: in: {} pkts {} bytes  out: {} pkts {} bytes  waiting: {}  onfor: {onfor}s",
                    s.datagrams_in,
                    s.bytes_in,
                    s.datagrams_out,
                    s.bytes_out,
                    t.conn.reliable_backlog()
                ));
            }
            ReportKind::Info => {
                let (x, y) = t.go.as_ref().map_or((0, 0), |g| (g.x_res, g.y_res));
                let client = if t.continuum { "Continuum" } else { "VIE" };
                lines.push(format!(
                    "{prefix}: pid={}  name='{}'  squad='{}'  auth={}  ship={}  freq={}",
                    t.pid,
                    t.name,
                    t.squad,
                    if t.authenticated { 'y' } else { 'n' },
                    t.ship,
                    t.freq
                ));
                lines.push(format!(
                    "{prefix}: arena={arena}  client={client}  res={x}x{y}  onfor={onfor}"
                ));
                lines.push(format!(
                    "{prefix}: ip={}  port={}  ping={rtt}  in={} out={} pkts  resent={resent:.2}%",
                    t.addr.ip(),
                    t.addr.port(),
                    s.datagrams_in,
                    s.datagrams_out
                ));
            }
        }
        for line in lines {
            self.call_message_to(asker, 0, 0, &line);
        }
    }

    /// `:name:?cmd` to a player in another realm: run by the target's realm.
    pub(crate) fn call_remote_command(
        &mut self,
        slot: SlotId,
        from: i16,
        to_name: &str,
        line: String,
        star: bool,
    ) {
        let Some(sender) = self
            .players
            .get(from)
            .filter(|p| self.player_in_realm(p.pid, slot))
        else {
            return;
        };
        let (from_name, from_authenticated) = (sender.name.clone(), sender.authenticated);
        let target = self
            .players
            .find_by_name(to_name)
            .and_then(|p| Some((p.pid, arena_of(&self.state.members, p.pid)?)));
        let Some((target, realm)) = target else {
            self.arena_message(from, &format!("{to_name} is not online."));
            return;
        };
        self.queue_to_realm(
            realm,
            &ToRealm::RemoteCommand {
                from,
                from_name,
                from_authenticated,
                target,
                line,
                star,
            },
        );
    }
}
