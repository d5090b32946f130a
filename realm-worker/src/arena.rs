//! The arena's game state and rules: who is here in which ship and freq,
//! the entry sequence, position relaying, chat routing, ship and freq
//! changes. It consumes [`ToRealm`] messages and produces framed
//! [`FromRealm`] messages in an output buffer; it does no I/O itself.

use std::collections::BTreeMap;

use ipc_proto::{push_pid, Delivery, FromRealm, PlayerInfo, Target, ToRealm, ZoneCall};
use ss_proto::game::{
    chat_type, position_latency, relay_position, ship, weapon_type, C2SPacket, Chat, ExtraLen,
    MapInfo, PlayerEntering, Position, S2CPacket, MAX_RELAY_LEN,
};
use ss_proto::transport::tick_diff;
use tracing::{debug, info, warn};

use crate::assets::{ArenaAssets, AssetSource};

/// Distance within which plain positions may reach a receiver as radar
/// dots (`Net:PositionExtraPixels`).
const POSITION_EXTRA_PIXELS: i32 = 8000;
/// Longest chat text relayed (characters).
const MAX_CHAT_TEXT: usize = 250;

/// One player in the arena.
#[derive(Debug)]
struct ArenaPlayer {
    info: PlayerInfo,
    ship: u8,
    freq: i16,
    x: i16,
    y: i16,
    /// Time stamp of the newest position stored.
    pos_time: u32,
    status: u8,
    /// Player being spectated (−1 none).
    spectating: i16,
}

/// Distance rules read from the config.
struct RelayRanges {
    weapon: i32,
    bullet: i32,
}

/// The realm's arena.
pub struct Arena {
    name: String,
    source: AssetSource,
    assets: ArenaAssets,
    players: BTreeMap<i16, ArenaPlayer>,
    spec_freq: i16,
    max_freq: i16,
    desired_teams: i16,
    ranges: RelayRanges,
    out: Vec<u8>,
    spare: Vec<u8>,
    pkt: Vec<u8>,
    targets: Vec<u8>,
    stop: bool,
    rng: u64,
}

/// Appends one message to the output buffer.
fn emit(out: &mut Vec<u8>, msg: &FromRealm<'_>) {
    if let Err(e) = ipc_proto::encode(msg, out) {
        warn!("could not encode a message to the supervisor: {e}");
    }
}

impl Arena {
    /// A new arena from its loaded assets.
    pub fn new(source: AssetSource, assets: ArenaAssets) -> Arena {
        let name = source.realm.clone();
        let cfg = &assets.config;
        let spec_freq = cfg.get_int("Team", "SpectatorFrequency", 8025) as i16;
        let max_freq = cfg.get_int("Team", "MaxFrequency", 10000).clamp(1, 10000) as i16;
        let desired_teams = cfg.get_int("Team", "DesiredTeams", 2).clamp(1, max_freq as i32) as i16;
        let ranges = RelayRanges {
            weapon: cfg.global().get_int("Net", "WeaponPixels", 2000),
            bullet: cfg.global().get_int("Net", "BulletPixels", 1500),
        };
        Arena {
            name,
            source,
            assets,
            players: BTreeMap::new(),
            spec_freq,
            max_freq,
            desired_teams,
            ranges,
            out: Vec::new(),
            spare: Vec::new(),
            pkt: Vec::new(),
            targets: Vec::new(),
            stop: false,
            rng: 0x9E37_79B9_7F4A_7C15,
        }
    }

    /// Announces the worker to the supervisor: hello, then ready.
    pub fn start(&mut self) {
        emit(
            &mut self.out,
            &FromRealm::Hello {
                version: ipc_proto::PROTOCOL_VERSION,
                realm: self.name.clone(),
            },
        );
        emit(&mut self.out, &FromRealm::Ready);
    }

    /// Output produced since the last call (framed messages).
    pub fn take_output(&mut self) -> Vec<u8> {
        let fresh = std::mem::take(&mut self.spare);
        std::mem::replace(&mut self.out, fresh)
    }

    /// Returns a written output buffer for reuse.
    pub fn give_back(&mut self, mut buf: Vec<u8>) {
        buf.clear();
        self.spare = buf;
    }

    /// Whether the supervisor asked the worker to stop.
    pub fn stopping(&self) -> bool {
        self.stop
    }

    /// Periodic work (every 100 ms).
    pub fn on_timer(&mut self) {}

    /// Handles one message from the supervisor.
    pub fn handle(&mut self, msg: ToRealm<'_>) {
        match msg {
            ToRealm::PlayerEnter(info) => self.player_enter(info),
            ToRealm::PlayerLeave { pid } => self.player_leave(pid),
            ToRealm::PlayerPacket { pid, bytes } => self.player_packet(pid, bytes),
            ToRealm::Heartbeat { seq } => emit(&mut self.out, &FromRealm::HeartbeatAck { seq }),
            ToRealm::ReloadConfig => self.reload(),
            ToRealm::Shutdown => self.stop = true,
            ToRealm::Deliver { pid, bytes } => {
                if self.players.contains_key(&pid) {
                    self.send_bytes(Target::Player(pid), Delivery::Reliable, bytes);
                }
            }
        }
    }

    /// Re-reads the arena's config and map; changed settings are sent to
    /// everyone in the arena at once (ASSS `Misc:SendUpdatedSettings`).
    fn reload(&mut self) {
        let fresh = match self.source.load() {
            Ok(a) => a,
            Err(e) => {
                warn!(realm = %self.name, "reload failed, keeping the old config: {e:#}");
                return;
            }
        };
        let changed = fresh.settings.as_bytes() != self.assets.settings.as_bytes();
        self.assets = fresh;
        info!(realm = %self.name, settings_changed = changed, "config reloaded");
        if changed && self.assets.config.get_int("Misc", "SendUpdatedSettings", 1) != 0 {
            let settings = *self.assets.settings.as_bytes();
            self.send_bytes(Target::Arena, Delivery::Reliable, &settings);
        }
    }

    // ----- output helpers ---------------------------------------------------

    fn send_bytes(&mut self, to: Target<'_>, delivery: Delivery, bytes: &[u8]) {
        emit(
            &mut self.out,
            &FromRealm::Send {
                to,
                delivery,
                bytes,
            },
        );
    }

    /// Encodes `pkt` and sends it.
    fn send_packet(&mut self, to: Target<'_>, delivery: Delivery, pkt: &S2CPacket) {
        self.pkt.clear();
        pkt.encode(&mut self.pkt);
        emit(
            &mut self.out,
            &FromRealm::Send {
                to,
                delivery,
                bytes: &self.pkt,
            },
        );
    }

    /// Encodes `pkt` and sends it to the pids in `self.targets`.
    fn send_to_targets(&mut self, delivery: Delivery, pkt: &S2CPacket) {
        if self.targets.is_empty() {
            return;
        }
        self.pkt.clear();
        pkt.encode(&mut self.pkt);
        emit(
            &mut self.out,
            &FromRealm::Send {
                to: Target::Players(&self.targets),
                delivery,
                bytes: &self.pkt,
            },
        );
    }

    fn arena_message(&mut self, pid: i16, text: &str) {
        let chat = S2CPacket::Chat(Chat {
            chat_type: chat_type::ARENA,
            sound: 0,
            pid: -1,
            text: text.to_string(),
        });
        self.send_packet(Target::Player(pid), Delivery::Reliable, &chat);
    }

    fn record(&self, p: &ArenaPlayer) -> PlayerEntering {
        PlayerEntering {
            ship: p.ship,
            accepts_audio: p.info.allow_audio,
            name: p.info.name.clone(),
            squad: p.info.squad.clone(),
            kill_points: 0,
            flag_points: 0,
            pid: p.info.pid,
            freq: p.freq,
            kills: 0,
            deaths: 0,
            attached_to: -1,
            flags_carried: 0,
            misc_bits: 0,
        }
    }

    // ----- entering and leaving ---------------------------------------------

    /// The freq with the fewest players in ships among the first
    /// `Team:DesiredTeams` freqs.
    fn balanced_freq(&self, except: i16) -> i16 {
        let mut counts = vec![0u32; self.desired_teams.max(1) as usize];
        for p in self.players.values() {
            if p.info.pid != except && p.ship != ship::SPECTATOR {
                if let Some(c) = usize::try_from(p.freq).ok().and_then(|f| counts.get_mut(f)) {
                    *c += 1;
                }
            }
        }
        counts
            .iter()
            .enumerate()
            .min_by_key(|(_, c)| **c)
            .map_or(0, |(f, _)| f as i16)
    }

    fn player_enter(&mut self, info: PlayerInfo) {
        let pid = info.pid;
        if self.players.contains_key(&pid) {
            self.player_leave(pid);
        }
        let (ship, freq) = if info.reentry && info.previous_ship <= ship::SPECTATOR {
            (info.previous_ship, info.previous_freq)
        } else if info.ship_request < ship::SPECTATOR {
            (info.ship_request, self.balanced_freq(pid))
        } else {
            (ship::SPECTATOR, self.spec_freq)
        };
        let now = ipc_proto::monotonic_ticks();
        let player = ArenaPlayer {
            info,
            ship,
            freq,
            x: 0,
            y: 0,
            // Positions stamped before entry are never "newer" (ASSS rule),
            // with half a second of slack for clients whose clock sync is
            // a little behind ours.
            pos_time: now.wrapping_sub(50) & 0x7FFF_FFFF,
            status: 0,
            spectating: -1,
        };
        info!(realm = %self.name, pid, name = %player.info.name, ship, freq, "player entering");

        // 1. who-am-I, 2. settings
        self.send_packet(Target::Player(pid), Delivery::Reliable, &S2CPacket::WhoAmI { pid });
        let settings = *self.assets.settings.as_bytes();
        self.send_bytes(Target::Player(pid), Delivery::Reliable, &settings);

        // 3. the others to the newcomer, the newcomer to the others
        let newcomer = self.record(&player);
        let others: Vec<PlayerEntering> = self.players.values().map(|p| self.record(p)).collect();
        for rec in others {
            self.send_packet(
                Target::Player(pid),
                Delivery::Reliable,
                &S2CPacket::PlayerEntering(vec![rec]),
            );
        }
        self.targets.clear();
        for &other in self.players.keys() {
            push_pid(&mut self.targets, other);
        }
        self.send_to_targets(
            Delivery::Reliable,
            &S2CPacket::PlayerEntering(vec![newcomer.clone()]),
        );
        // 4. own record, 5. map info, 6. brick clear, 7. entered
        self.send_packet(
            Target::Player(pid),
            Delivery::Reliable,
            &S2CPacket::PlayerEntering(vec![newcomer]),
        );
        let map_info = MapInfo::Vie {
            name: self.assets.map_name.clone(),
            checksum: self.assets.map_crc,
        };
        self.send_packet(Target::Player(pid), Delivery::Reliable, &S2CPacket::MapInfo(map_info));
        self.send_packet(Target::Player(pid), Delivery::Reliable, &S2CPacket::Bricks(Vec::new()));
        self.send_packet(Target::Player(pid), Delivery::Reliable, &S2CPacket::EnteredArena);

        self.players.insert(pid, player);
        emit(&mut self.out, &FromRealm::PlayerEntered { pid });
        emit(&mut self.out, &FromRealm::PlayerState { pid, ship, freq });
    }

    fn player_leave(&mut self, pid: i16) {
        let Some(gone) = self.players.remove(&pid) else {
            return;
        };
        info!(realm = %self.name, pid, name = %gone.info.name, "player left");
        for p in self.players.values_mut() {
            if p.spectating == pid {
                p.spectating = -1;
            }
        }
        self.targets.clear();
        for &other in self.players.keys() {
            push_pid(&mut self.targets, other);
        }
        self.send_to_targets(Delivery::Reliable, &S2CPacket::PlayerLeaving { pid });
    }

    // ----- player packets ---------------------------------------------------

    fn player_packet(&mut self, pid: i16, bytes: &[u8]) {
        if !self.players.contains_key(&pid) || bytes.is_empty() {
            return;
        }
        if bytes[0] == 0x03 {
            // The hot path: decoded without allocating.
            match Position::decode(bytes) {
                Ok(pos) => self.position(pid, &pos),
                Err(e) => debug!(pid, "bad position packet: {e}"),
            }
            return;
        }
        let pkt = match C2SPacket::decode(bytes) {
            Ok(p) => p,
            Err(e) => {
                debug!(pid, "malformed packet: {e}");
                return;
            }
        };
        match pkt {
            C2SPacket::Chat(chat) => self.chat(pid, chat),
            C2SPacket::SetShip { ship } => self.set_ship(pid, ship),
            C2SPacket::SetFreq { freq } => self.set_freq(pid, freq),
            C2SPacket::MapRequest { file_index } => self.map_request(pid, file_index),
            C2SPacket::SpectateRequest { pid: target } => self.spectate(pid, target),
            C2SPacket::Death { killer, bounty } => self.death(pid, killer, bounty),
            other => debug!(pid, ptype = other.packet_type(), "packet not handled in this arena"),
        }
    }

    fn next_random(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    fn position(&mut self, pid: i16, pos: &Position) {
        if pos.x == -1 && pos.y == -1 {
            return;
        }
        let now = ipc_proto::monotonic_ticks();
        let Some(sender) = self.players.get_mut(&pid) else {
            return;
        };
        let newer = tick_diff(pos.time, sender.pos_time) > 0;
        let old_status = sender.status;
        if newer {
            sender.x = pos.x;
            sender.y = pos.y;
            sender.pos_time = pos.time;
            sender.status = pos.status;
        }
        let sender_ship = sender.ship;
        if sender_ship == ship::SPECTATOR {
            return;
        }
        let weapon = pos.weapon;
        let fired = weapon.is_fired();
        if !newer && !fired {
            return;
        }
        let flash = pos.status & 0x10 != 0;
        let safe_changed = newer && (pos.status ^ old_status) & 0x20 != 0;
        let to_all = flash || safe_changed || weapon.is_mine();
        let range = if fired {
            match weapon.kind() {
                weapon_type::BULLET | weapon_type::BOUNCE_BULLET => self.ranges.bullet,
                weapon_type::THOR => 30_000,
                _ => self.ranges.weapon,
            }
        } else {
            0
        };

        let mut buf = [0u8; MAX_RELAY_LEN];
        let latency = position_latency(now, pos.time);
        let len = relay_position(pos, pid as u16, now, latency, ExtraLen::None, &mut buf);

        let mut targets = std::mem::take(&mut self.targets);
        targets.clear();
        let (sx, sy) = (pos.x as i32, pos.y as i32);
        let mut rolls = Vec::new();
        for (&other, r) in &self.players {
            if other == pid {
                continue;
            }
            let dx = (sx - r.x as i32) as f64;
            let dy = (sy - r.y as i32) as f64;
            let d = (dx * dx + dy * dy).sqrt() as i32;
            let in_range = if fired {
                d <= range
            } else {
                d <= r.info.x_res as i32 + r.info.y_res as i32
            };
            if to_all || in_range || r.spectating == pid {
                push_pid(&mut targets, other);
            } else if !fired && d <= POSITION_EXTRA_PIXELS {
                rolls.push((other, d));
            }
        }
        for (other, d) in rolls {
            // radar dots: the farther, the rarer
            let roll = (self.next_random() % POSITION_EXTRA_PIXELS as u64) as i32;
            if roll > d {
                push_pid(&mut targets, other);
            }
        }
        let delivery = if flash || safe_changed {
            Delivery::Reliable
        } else if fired {
            Delivery::UnreliableHigh
        } else {
            Delivery::Unreliable
        };
        if !targets.is_empty() {
            emit(
                &mut self.out,
                &FromRealm::Send {
                    to: Target::Players(&targets),
                    delivery,
                    bytes: &buf[..len],
                },
            );
        }
        self.targets = targets;
    }

    fn chat(&mut self, pid: i16, mut chat: Chat) {
        let Some(sender) = self.players.get(&pid) else {
            return;
        };
        let sender_freq = sender.freq;
        let sender_name = sender.info.name.clone();
        if chat.text.chars().count() > MAX_CHAT_TEXT {
            chat.text = chat.text.chars().take(MAX_CHAT_TEXT).collect();
        }
        let is_command = (chat.text.starts_with('?') || chat.text.starts_with('*'))
            && chat.text.len() > 1
            && matches!(chat.chat_type, 1..=5 | 7);
        if is_command {
            self.command(pid, &chat.text[1..]);
            return;
        }
        let relay = |chat_type: u8| {
            S2CPacket::Chat(Chat {
                chat_type,
                sound: 0,
                pid,
                text: chat.text.clone(),
            })
        };
        match chat.chat_type {
            chat_type::PUBLIC_MACRO | chat_type::PUBLIC => {
                let delivery = if chat.chat_type == chat_type::PUBLIC_MACRO {
                    Delivery::UnreliableLow
                } else {
                    Delivery::Reliable
                };
                self.send_packet(Target::ArenaExcept(pid), delivery, &relay(chat.chat_type));
            }
            chat_type::TEAM => {
                self.freq_targets(sender_freq, pid);
                self.send_to_targets(Delivery::Reliable, &relay(chat_type::TEAM));
            }
            chat_type::FREQ => {
                let Some(target_freq) = self.players.get(&chat.pid).map(|p| p.freq) else {
                    return;
                };
                self.freq_targets(target_freq, pid);
                let t = if target_freq == sender_freq {
                    chat_type::TEAM
                } else {
                    chat_type::FREQ
                };
                self.send_to_targets(Delivery::Reliable, &relay(t));
            }
            chat_type::PRIVATE => {
                if chat.pid != pid && self.players.contains_key(&chat.pid) {
                    self.send_packet(
                        Target::Player(chat.pid),
                        Delivery::Reliable,
                        &relay(chat_type::PRIVATE),
                    );
                }
            }
            chat_type::REMOTE_PRIVATE => {
                let Some((to_name, text)) = chat
                    .text
                    .strip_prefix(':')
                    .and_then(|rest| rest.split_once(':'))
                else {
                    return;
                };
                let local = self
                    .players
                    .values()
                    .find(|p| p.info.name.eq_ignore_ascii_case(to_name))
                    .map(|p| p.info.pid);
                match local {
                    Some(target) => {
                        let pkt = S2CPacket::Chat(Chat {
                            chat_type: chat_type::REMOTE_PRIVATE,
                            sound: 0,
                            pid: -1,
                            text: format!("({sender_name})>{text}"),
                        });
                        self.send_packet(Target::Player(target), Delivery::Reliable, &pkt);
                    }
                    None => emit(
                        &mut self.out,
                        &FromRealm::ZoneCall(ZoneCall::RemotePrivate {
                            from: pid,
                            to_name: to_name.to_string(),
                            text,
                        }),
                    ),
                }
            }
            _ => debug!(pid, chat_type = chat.chat_type, "chat type not accepted from players"),
        }
    }

    /// Fills `self.targets` with the players on `freq` except `except`.
    fn freq_targets(&mut self, freq: i16, except: i16) {
        self.targets.clear();
        for p in self.players.values() {
            if p.freq == freq && p.info.pid != except {
                push_pid(&mut self.targets, p.info.pid);
            }
        }
    }

    fn command(&mut self, pid: i16, line: &str) {
        let (name, args) = match line.find([' ', '=']) {
            Some(i) => (&line[..i], line[i + 1..].trim()),
            None => (line, ""),
        };
        match name.to_ascii_lowercase().as_str() {
            "go" => {
                let arena = if args.is_empty() { "0" } else { args };
                emit(
                    &mut self.out,
                    &FromRealm::ZoneCall(ZoneCall::MovePlayer {
                        pid,
                        arena: arena.to_string(),
                    }),
                );
            }
            "realms" => {
                if self.has_capability(pid, "cmd_realms") {
                    emit(&mut self.out, &FromRealm::ZoneCall(ZoneCall::RealmSummary { pid }));
                } else {
                    self.arena_message(pid, "You don't have permission to use ?realms.");
                }
            }
            "arena" => {
                let count = self.players.len();
                self.arena_message(pid, &format!("{}: {count} player(s)", self.name));
            }
            _ => self.arena_message(pid, &format!("Unknown command: {name}")),
        }
    }

    /// Whether a player's group has a capability.
    fn has_capability(&self, pid: i16, capability: &str) -> bool {
        self.players.get(&pid).is_some_and(|p| {
            let group = self.assets.caps.group_of(&p.info.name, p.info.authenticated);
            self.assets.caps.group_has(&group, capability)
        })
    }

    fn broadcast_ship_change(&mut self, pid: i16, ship: u8, freq: i16) {
        self.send_packet(
            Target::Arena,
            Delivery::Reliable,
            &S2CPacket::ShipChange { ship, pid, freq },
        );
        emit(&mut self.out, &FromRealm::PlayerState { pid, ship, freq });
    }

    fn set_ship(&mut self, pid: i16, new_ship: u8) {
        let spec_freq = self.spec_freq;
        let Some(p) = self.players.get(&pid) else {
            return;
        };
        if new_ship > ship::SPECTATOR || new_ship == p.ship {
            return;
        }
        let freq = if new_ship == ship::SPECTATOR {
            spec_freq
        } else if p.freq == spec_freq {
            self.balanced_freq(pid)
        } else {
            p.freq
        };
        if let Some(p) = self.players.get_mut(&pid) {
            p.ship = new_ship;
            p.freq = freq;
            p.spectating = -1;
        }
        self.broadcast_ship_change(pid, new_ship, freq);
    }

    fn set_freq(&mut self, pid: i16, freq: i16) {
        let (spec_freq, max_freq) = (self.spec_freq, self.max_freq);
        let Some(p) = self.players.get_mut(&pid) else {
            return;
        };
        let valid = (0..max_freq).contains(&freq) || freq == spec_freq;
        if !valid || freq == p.freq {
            let current = p.freq;
            let _ = current;
            self.arena_message(pid, "That frequency is not available.");
            return;
        }
        p.freq = freq;
        p.spectating = -1;
        let ship = p.ship;
        if ship == ship::SPECTATOR {
            self.send_packet(Target::Arena, Delivery::Reliable, &S2CPacket::FreqChange { pid, freq });
            emit(&mut self.out, &FromRealm::PlayerState { pid, ship, freq });
        } else {
            self.broadcast_ship_change(pid, ship, freq);
        }
    }

    fn map_request(&mut self, pid: i16, index: Option<u16>) {
        if index.unwrap_or(0) != 0 {
            return;
        }
        // A player who is downloading cannot fly: to spectator first (ASSS).
        let spec_freq = self.spec_freq;
        if self.players.get(&pid).is_some_and(|p| p.ship != ship::SPECTATOR) {
            if let Some(p) = self.players.get_mut(&pid) {
                p.ship = ship::SPECTATOR;
                p.freq = spec_freq;
            }
            self.broadcast_ship_change(pid, ship::SPECTATOR, spec_freq);
        }
        emit(
            &mut self.out,
            &FromRealm::SendSized {
                pid,
                bytes: &self.assets.map_packet,
            },
        );
    }

    fn spectate(&mut self, pid: i16, target: i16) {
        let target_ok = target == -1
            || self
                .players
                .get(&target)
                .is_some_and(|t| t.ship != ship::SPECTATOR && target != pid);
        if let Some(p) = self.players.get_mut(&pid) {
            if p.ship == ship::SPECTATOR && target_ok {
                p.spectating = target;
            }
        }
    }

    fn death(&mut self, pid: i16, killer: i16, bounty: i16) {
        if killer == pid || !self.players.contains_key(&killer) {
            return;
        }
        let kill = ss_proto::game::Kill {
            green: 0,
            killer,
            killed: pid,
            points: bounty.max(0),
            flags: 0,
        };
        self.send_packet(Target::Arena, Delivery::Reliable, &S2CPacket::Kill(kill));
    }
}
