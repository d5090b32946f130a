//! Chat inside the arena (`docs/protocol/game-protocol.md` §9): routing by chat
//! type, commands, staff chat, chat masks (`?setcm`), flood control and the
//! obscenity filter.

use std::time::{Duration, Instant};

use ipc_proto::{Delivery, ZoneCall};
use ss_proto::game::{chat_type, Chat, S2CPacket};
use tracing::debug;

use crate::arena::Arena;
use crate::commands::{CmdTarget, Issuer};

/// Chat mask bits: bit n blocks message kind n (the table in
/// `docs/protocol/game-protocol.md` §9.2).
pub mod msg {
    /// Public macro.
    pub const PUBMACRO: u32 = 1;
    /// Public.
    pub const PUB: u32 = 2;
    /// Own team.
    pub const FREQ: u32 = 3;
    /// Another team.
    pub const NMEFREQ: u32 = 4;
    /// Private.
    pub const PRIV: u32 = 5;
    /// Remote private.
    pub const REMOTEPRIV: u32 = 7;
    /// Chat channel.
    pub const CHAT: u32 = 9;
    /// Staff chat.
    pub const MODCHAT: u32 = 10;
    /// Commands.
    pub const COMMAND: u32 = 11;
    /// Commands for the billing server.
    pub const BCOMMAND: u32 = 12;
    /// The kinds `?setcm all` covers.
    pub const CHAT_KINDS: u32 = 1 << PUBMACRO
        | 1 << PUB
        | 1 << FREQ
        | 1 << NMEFREQ
        | 1 << PRIV
        | 1 << REMOTEPRIV
        | 1 << CHAT
        | 1 << MODCHAT;
    /// What a flooder loses.
    pub const FLOOD: u32 = CHAT_KINDS | 1 << BCOMMAND;
}

/// `+pub -priv ...`: how `?setcm`/`?getcm` show a mask.
pub fn mask_summary(mask: u32) -> String {
    let sign = |bit: u32| if mask & (1 << bit) != 0 { '-' } else { '+' };
    format!(
        "{}pub {}pubmacro {}freq {}nmefreq {}priv {}chat {}modchat",
        sign(msg::PUB),
        sign(msg::PUBMACRO),
        sign(msg::FREQ),
        sign(msg::NMEFREQ),
        sign(msg::PRIV),
        sign(msg::CHAT),
        sign(msg::MODCHAT)
    )
}

/// A player's chat mask and flood counter.
#[derive(Clone, Debug)]
pub struct ChatState {
    mask: u32,
    /// When the mask ends; `None` = for as long as he stays in the arena.
    expires: Option<Instant>,
    /// Recent messages; halves every second.
    msgs: u32,
    last_decay: Instant,
}

impl ChatState {
    /// A clean state.
    pub fn new(now: Instant) -> ChatState {
        ChatState {
            mask: 0,
            expires: None,
            msgs: 0,
            last_decay: now,
        }
    }

    fn expire(&mut self, now: Instant) {
        if self.expires.is_some_and(|t| now >= t) {
            self.mask = 0;
            self.expires = None;
        }
        let secs = now.saturating_duration_since(self.last_decay).as_secs();
        if secs > 0 {
            self.msgs = self.msgs.checked_shr(secs.min(32) as u32).unwrap_or(0);
            self.last_decay += Duration::from_secs(secs);
        }
    }

    /// The player's own mask now.
    pub fn mask(&mut self, now: Instant) -> u32 {
        self.expire(now);
        self.mask
    }

    /// Seconds until the mask ends (0 = no end set).
    pub fn remaining_secs(&self, now: Instant) -> u64 {
        self.expires
            .map_or(0, |t| t.saturating_duration_since(now).as_secs())
    }

    /// Sets the mask; `timeout_secs` 0 = until he leaves the arena.
    pub fn set_mask(&mut self, now: Instant, mask: u32, timeout_secs: u64) {
        self.mask = mask;
        self.expires = (timeout_secs > 0).then(|| now + Duration::from_secs(timeout_secs));
    }

    /// Counts one message. When the count reaches `limit` (0 = no limit)
    /// the player is shut up for `shutup` (or longer, if he already is)
    /// and `true` is returned.
    pub fn note_message(&mut self, now: Instant, limit: u32, shutup: Duration) -> bool {
        self.expire(now);
        self.msgs = self.msgs.saturating_add(1);
        if limit == 0 || self.msgs < limit {
            return false;
        }
        self.msgs >>= 1;
        match self.expires {
            Some(t) => self.expires = Some(t + shutup),
            None if self.mask == 0 => self.expires = Some(now + shutup),
            None => {}
        }
        self.mask |= msg::FLOOD;
        true
    }
}

/// `true` if the text is a command: `?` or `*` and at least one more
/// character.
fn is_command(text: &str) -> bool {
    let mut c = text.chars();
    matches!(c.next(), Some('?' | '*')) && c.next().is_some()
}

impl Arena {
    /// Whether `pid` may send a message of kind `bit` (his mask and the
    /// arena's).
    fn chat_allowed(&mut self, pid: i16, now: Instant, bit: u32) -> bool {
        let arena_mask = self.arena_chat_mask;
        self.players
            .get_mut(&pid)
            .is_some_and(|p| (p.chat.mask(now) | arena_mask) & (1 << bit) == 0)
    }

    /// A player's own chat mask.
    pub(crate) fn player_chat_mask(&mut self, pid: i16) -> u32 {
        let now = Instant::now();
        self.players.get_mut(&pid).map_or(0, |p| p.chat.mask(now))
    }

    /// Seconds left on a player's chat mask.
    pub(crate) fn player_chat_mask_secs(&self, pid: i16) -> u64 {
        let now = Instant::now();
        self.players
            .get(&pid)
            .map_or(0, |p| p.chat.remaining_secs(now))
    }

    /// Sets a player's chat mask (`timeout_secs` 0 = while in the arena).
    pub(crate) fn set_player_chat_mask(&mut self, pid: i16, mask: u32, timeout_secs: u64) {
        let now = Instant::now();
        if let Some(p) = self.players.get_mut(&pid) {
            p.chat.set_mask(now, mask, timeout_secs);
        }
        self.report_chat_mask(pid);
    }

    /// Handles a chat packet from a player.
    pub(crate) fn chat(&mut self, pid: i16, chat: Chat) {
        let now = Instant::now();
        let Some(issuer) = self.local_issuer(pid) else {
            return;
        };
        let mut text = chat.text;
        if text.chars().count() > self.rules.chat.max_length {
            text = text.chars().take(self.rules.chat.max_length).collect();
        }
        let sound = if self.issuer_can(&issuer, "sendsoundmessages") {
            chat.sound
        } else {
            0
        };
        let own_freq = self.players.get(&pid).map_or(-1, |p| p.freq);
        let exempt = self.issuer_can(&issuer, "unlimitedchat");
        match chat.chat_type {
            chat_type::PUBLIC_MACRO | chat_type::PUBLIC => {
                let macro_ = chat.chat_type == chat_type::PUBLIC_MACRO;
                if let Some(staff) = text.strip_prefix('\\') {
                    self.staff_chat(&issuer, now, staff);
                } else if is_command(&text) {
                    self.command_line(issuer, now, CmdTarget::Arena, &text, sound);
                } else {
                    let bit = if macro_ { msg::PUBMACRO } else { msg::PUB };
                    if self.chat_allowed(pid, now, bit) {
                        let to: Vec<i16> =
                            self.players.keys().copied().filter(|&p| p != pid).collect();
                        let delivery = if macro_ {
                            Delivery::UnreliableLow
                        } else {
                            self.chat_delivery()
                        };
                        self.relay_chat(&to, chat.chat_type, sound, pid, &text, delivery);
                    }
                }
            }
            chat_type::TEAM => self.freq_chat(issuer, now, own_freq, &text, sound),
            chat_type::FREQ => {
                if let Some(freq) = self.players.get(&chat.pid).map(|p| p.freq) {
                    self.freq_chat(issuer, now, freq, &text, sound);
                }
            }
            chat_type::PRIVATE => {
                if !self.players.contains_key(&chat.pid) {
                    return;
                }
                if is_command(&text) {
                    self.command_line(issuer, now, CmdTarget::Player(chat.pid), &text, sound);
                } else if chat.pid != pid && self.chat_allowed(pid, now, msg::PRIV) {
                    let d = self.chat_delivery();
                    self.relay_chat(&[chat.pid], chat_type::PRIVATE, sound, pid, &text, d);
                }
            }
            chat_type::REMOTE_PRIVATE => self.remote_private(issuer, now, &text, sound),
            // Chat channels live on the billing server.
            chat_type::CHANNEL => {
                if self.chat_allowed(pid, now, msg::CHAT) {
                    self.zone_call(ZoneCall::ChatChannel {
                        pid,
                        text: text.clone(),
                    });
                }
            }
            other => debug!(
                pid,
                chat_type = other,
                "chat type not accepted from players"
            ),
        }
        // Every message counts toward the flood limit, refused ones too.
        let limit = self.rules.chat.flood_limit;
        let shutup = Duration::from_secs(self.rules.chat.flood_shutup_secs);
        if exempt {
            return;
        }
        let flooded = self
            .players
            .get_mut(&pid)
            .is_some_and(|p| p.chat.note_message(now, limit, shutup));
        if flooded {
            let secs = shutup.as_secs();
            self.arena_message(
                pid,
                &format!("You have been shut up for {secs} seconds for flooding."),
            );
            tracing::info!(realm = %self.name, pid, "flooded chat, shut up for {secs} seconds");
            self.report_chat_mask(pid);
        }
    }

    fn chat_delivery(&self) -> Delivery {
        if self.rules.chat.reliable {
            Delivery::Reliable
        } else {
            Delivery::Unreliable
        }
    }

    /// Runs a command line if the sender's mask allows commands.
    fn command_line(
        &mut self,
        issuer: Issuer,
        now: Instant,
        target: CmdTarget,
        text: &str,
        sound: u8,
    ) {
        if !self.chat_allowed(issuer.pid, now, msg::COMMAND) {
            return;
        }
        let star = text.starts_with('*');
        self.run_commands(issuer, target, &text[1..], star, sound);
    }

    fn freq_chat(&mut self, issuer: Issuer, now: Instant, freq: i16, text: &str, sound: u8) {
        let pid = issuer.pid;
        let own = self.players.get(&pid).is_some_and(|p| p.freq == freq);
        if is_command(text) {
            self.command_line(issuer, now, CmdTarget::Freq(freq), text, sound);
            return;
        }
        let (kind, bit) = if own {
            (chat_type::TEAM, msg::FREQ)
        } else {
            (chat_type::FREQ, msg::NMEFREQ)
        };
        if self.chat_allowed(pid, now, bit) {
            let to: Vec<i16> = self
                .players
                .values()
                .filter(|p| p.freq == freq && p.info.pid != pid)
                .map(|p| p.info.pid)
                .collect();
            let d = self.chat_delivery();
            self.relay_chat(&to, kind, sound, pid, text, d);
        }
    }

    fn remote_private(&mut self, issuer: Issuer, now: Instant, text: &str, sound: u8) {
        let pid = issuer.pid;
        let Some((to_name, body)) = text.strip_prefix(':').and_then(|r| r.split_once(':')) else {
            debug!(pid, "malformed remote private message");
            return;
        };
        if to_name.is_empty() || to_name.len() > 24 {
            return;
        }
        let local = self
            .players
            .values()
            .find(|p| p.info.name.eq_ignore_ascii_case(to_name))
            .map(|p| p.info.pid);
        if is_command(body) {
            if !self.chat_allowed(pid, now, msg::COMMAND) {
                return;
            }
            match local {
                Some(target) => {
                    self.command_line(issuer, now, CmdTarget::Player(target), body, sound)
                }
                None => self.zone_call(ZoneCall::RemoteCommand {
                    from: pid,
                    to_name: to_name.to_string(),
                    line: body[1..].to_string(),
                    star: body.starts_with('*'),
                }),
            }
            return;
        }
        if !self.chat_allowed(pid, now, msg::REMOTEPRIV) {
            return;
        }
        match local {
            Some(target) => {
                let line = format!("({})>{body}", issuer.name);
                let d = self.chat_delivery();
                self.relay_chat(&[target], chat_type::REMOTE_PRIVATE, sound, -1, &line, d);
            }
            None => {
                self.zone_call(ZoneCall::RemotePrivate {
                    from: pid,
                    to_name: to_name.to_string(),
                    text: body,
                });
            }
        }
    }

    /// `\text` in public: staff chat, zone-wide.
    fn staff_chat(&mut self, issuer: &Issuer, now: Instant, text: &str) {
        if self.issuer_can(issuer, "sendmodchat")
            && self.chat_allowed(issuer.pid, now, msg::MODCHAT)
        {
            self.zone_call(ZoneCall::StaffChat {
                from: issuer.pid,
                text: format!("{}> {text}", issuer.name),
            });
        } else {
            self.arena_message(
                issuer.pid,
                "You aren't allowed to use the staff chat. If you need to send a message to the zone staff, use ?cheater.",
            );
        }
    }

    /// Staff chat from anywhere in the zone: to this arena's staff.
    pub(crate) fn deliver_staff_chat(&mut self, from: i16, text: &str) {
        let to: Vec<i16> = self
            .players
            .values()
            .filter(|p| p.info.pid != from && self.assets.caps.group_has(&p.group, "seemodchat"))
            .map(|p| p.info.pid)
            .collect();
        self.message_players(&to, chat_type::SYSOP_WARNING, 0, text);
    }

    /// `?listmod` from anywhere in the zone: this arena's staff, to `asker`.
    pub(crate) fn list_staff(&mut self, asker: i16, see_private: bool, see_all_staff: bool) {
        let asker_here = self.players.contains_key(&asker);
        let arena = if self.name.starts_with('#') && !see_private && !asker_here {
            "(private)".to_string()
        } else {
            self.name.clone()
        };
        let mut lines = Vec::new();
        for p in self.players.values() {
            let caps = &self.assets.caps;
            if caps.group_has(&p.group, "isstaff") {
                lines.push(format!(
                    ": {:>20} {:>10} {:>10}",
                    p.info.name, arena, p.group
                ));
            } else if see_all_staff && p.group != crate::caps::DEFAULT_GROUP {
                lines.push(format!(": {:>20} {:>10} ({})", p.info.name, arena, p.group));
            }
        }
        for text in lines {
            if asker_here {
                self.arena_message(asker, &text);
            } else {
                self.zone_call(ZoneCall::MessageTo {
                    pid: asker,
                    chat_type: chat_type::ARENA,
                    sound: 0,
                    text,
                });
            }
        }
    }

    /// Sends player chat to `to`: players with the obscenity filter on get
    /// the filtered text (or nothing, with `Chat:FilterMode` = 0).
    fn relay_chat(
        &mut self,
        to: &[i16],
        kind: u8,
        sound: u8,
        from: i16,
        text: &str,
        delivery: Delivery,
    ) {
        if to.is_empty() {
            return;
        }
        let force = self.rules.chat.force_filter;
        let filtered_text = self.obscene.filter(text);
        let (plain, filtered): (Vec<i16>, Vec<i16>) = match &filtered_text {
            None => (to.to_vec(), Vec::new()),
            Some(_) => to.iter().partition(|pid| {
                !(force || self.players.get(pid).is_some_and(|p| p.obscenity_filter))
            }),
        };
        let pkt = |t: &str| {
            S2CPacket::Chat(Chat {
                chat_type: kind,
                sound,
                pid: from,
                text: t.to_string(),
            })
        };
        self.send_to_pids(&plain, delivery, &pkt(text));
        if let Some(clean) = filtered_text {
            if self.rules.chat.filter_replaces {
                self.send_to_pids(&filtered, delivery, &pkt(&clean));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flooding_shuts_up_and_the_count_halves_each_second() {
        let t0 = Instant::now();
        let shutup = Duration::from_secs(60);
        let mut s = ChatState::new(t0);
        for i in 1..10 {
            assert!(!s.note_message(t0, 10, shutup), "message {i}");
        }
        assert!(s.note_message(t0, 10, shutup), "the 10th message floods");
        assert_eq!(s.mask(t0) & (1 << msg::PUB), 1 << msg::PUB);
        assert_eq!(s.mask(t0) & (1 << msg::COMMAND), 0, "commands still work");
        assert_eq!(s.remaining_secs(t0), 60);
        // Flooding again adds time.
        for _ in 0..5 {
            s.note_message(t0, 10, shutup);
        }
        assert_eq!(s.remaining_secs(t0), 120);
        assert_eq!(s.mask(t0 + Duration::from_secs(121)), 0, "expired");

        // Slow chat never floods: the count halves every second.
        let mut slow = ChatState::new(t0);
        for i in 0..100u64 {
            assert!(!slow.note_message(t0 + Duration::from_millis(300 * i), 10, shutup));
        }
        // No limit: never.
        let mut free = ChatState::new(t0);
        assert!((0..1000).all(|_| !free.note_message(t0, 0, shutup)));
    }

    #[test]
    fn masks_expire_or_last() {
        let t0 = Instant::now();
        let mut s = ChatState::new(t0);
        s.set_mask(t0, 1 << msg::PUB, 0);
        assert_eq!(s.mask(t0 + Duration::from_secs(10_000)), 1 << msg::PUB);
        s.set_mask(t0, 1 << msg::PRIV, 5);
        assert_eq!(s.mask(t0 + Duration::from_secs(4)), 1 << msg::PRIV);
        assert_eq!(s.mask(t0 + Duration::from_secs(5)), 0);
    }

    #[test]
    fn summaries_and_commands() {
        assert_eq!(
            mask_summary(1 << msg::PUB | 1 << msg::PRIV),
            "-pub +pubmacro +freq +nmefreq -priv +chat +modchat"
        );
        assert!(is_command("?go"));
        assert!(is_command("*arena hi"));
        assert!(!is_command("?"));
        assert!(!is_command("hello?"));
    }
}
