//! Player sessions: new connections, login, arena choice, and leaving.
//!
//! Everything a player does before and between arenas is handled here, in
//! the zone task; everything inside an arena goes to that arena's realm.

use std::net::SocketAddr;
use std::time::Instant;

use ss_proto::game::{
    chat_type, sanitize_login_name, ClientKind, GoArena, Login, LoginCode, LoginResponse,
    S2CPacket, ZonePacket,
};
use ss_proto::transport::{
    decide_init, is_connection_request, Connection, DisconnectReason, Event, InitDecision,
    Priority, Reliability, TransportConfig, DISCONNECT,
};
use tracing::{debug, info};

use crate::state::Place;
use crate::zone::{sanitize_arena_name, Zone};

/// Reliable bytes one player of an arena costs each other player when
/// entering (his 64-byte S2C 0x03 record, a 99-byte banner) and the same
/// again the other way, rounded up: the outgoing limit's floor per
/// `Net:MaxConnections`.
const ENTRY_BYTES_PER_PLAYER: usize = 384;
/// Answered connection requests remembered at most.
const HANDSHAKE_SLOTS: usize = 8192;
/// How long an answered request waits for the client's next datagram.
const HANDSHAKE_TTL: std::time::Duration = std::time::Duration::from_secs(10);

/// An answered connection request.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Handshake {
    cipher_key: u32,
    continuum: bool,
    at: Instant,
}

/// Answered connection requests, in a fixed-size table indexed by a keyed
/// hash of the address: a flood overwrites random slots instead of
/// growing anything.
pub(crate) struct Handshakes<S = std::collections::hash_map::RandomState> {
    slots: Vec<Option<(SocketAddr, Handshake)>>,
    hasher: S,
}

impl Default for Handshakes {
    fn default() -> Self {
        Handshakes::with_hasher(std::collections::hash_map::RandomState::new())
    }
}

impl<S: std::hash::BuildHasher> Handshakes<S> {
    /// A table hashing addresses with `hasher` (keyed at random in the zone,
    /// so that nobody can aim a flood at one slot).
    pub(crate) fn with_hasher(hasher: S) -> Self {
        Handshakes {
            slots: vec![None; HANDSHAKE_SLOTS],
            hasher,
        }
    }

    /// The two slots an address may use (two-way: a flood must hit both to
    /// push out a fresh request).
    fn slots_of(&self, addr: SocketAddr) -> [usize; 2] {
        let n = self.slots.len();
        [
            (self.hasher.hash_one(addr) as usize) % n,
            (self.hasher.hash_one((addr, 1u8)) as usize) % n,
        ]
    }

    /// Remembers an answered request: in its own earlier slot, else an
    /// empty one, else in place of the older of its two slots.
    pub(crate) fn remember(&mut self, addr: SocketAddr, hs: Handshake) {
        let [a, b] = self.slots_of(addr);
        let pick = match (self.slots[a], self.slots[b]) {
            (Some((x, _)), _) if x == addr => a,
            (_, Some((x, _))) if x == addr => b,
            (None, _) => a,
            (_, None) => b,
            (Some((_, ha)), Some((_, hb))) => {
                if ha.at <= hb.at {
                    a
                } else {
                    b
                }
            }
        };
        self.slots[pick] = Some((addr, hs));
    }

    /// The answered requests still waiting, as (address, cipher key,
    /// Continuum, microseconds since the answer), for the in-place upgrade.
    pub(crate) fn export(&self, now: Instant) -> Vec<(SocketAddr, u32, bool, u64)> {
        self.slots
            .iter()
            .flatten()
            .filter(|(_, hs)| now.saturating_duration_since(hs.at) < HANDSHAKE_TTL)
            .map(|(a, hs)| {
                let age = now.saturating_duration_since(hs.at).as_micros() as u64;
                (*a, hs.cipher_key, hs.continuum, age)
            })
            .collect()
    }

    /// Takes on answered requests handed over by the previous process.
    pub(crate) fn import(&mut self, list: Vec<(SocketAddr, u32, bool, u64)>, now: Instant) {
        for (addr, cipher_key, continuum, age) in list {
            let at = now
                .checked_sub(std::time::Duration::from_micros(age))
                .unwrap_or(now);
            self.remember(
                addr,
                Handshake {
                    cipher_key,
                    continuum,
                    at,
                },
            );
        }
    }

    /// Takes the answered request of `addr`, if it is there and recent.
    pub(crate) fn take(&mut self, addr: SocketAddr, now: Instant) -> Option<Handshake> {
        for i in self.slots_of(addr) {
            if let Some((a, hs)) = self.slots[i] {
                if a == addr {
                    self.slots[i] = None;
                    if now.saturating_duration_since(hs.at) < HANDSHAKE_TTL {
                        return Some(hs);
                    }
                }
            }
        }
        None
    }
}

impl Zone {
    /// Handles one datagram from the game socket.
    pub(crate) fn handle_datagram(&mut self, now: Instant, addr: SocketAddr, data: &mut [u8]) {
        let Some(pid) = self.players.pid_at(&addr) else {
            self.new_connection(now, addr, data);
            return;
        };
        if is_connection_request(data) {
            self.repeated_connection_request(now, pid, data);
            return;
        }
        let Some(player) = self.players.get_mut(pid) else {
            return;
        };
        let mut inbox = std::mem::take(&mut self.inbox);
        inbox.clear();
        player.conn.handle_datagram(now, data, &mut |pkt| {
            inbox.extend_from_slice(&(pkt.len() as u16).to_le_bytes());
            inbox.extend_from_slice(pkt);
        });
        self.mark_dirty(pid);
        let mut pos = 0;
        while pos + 2 <= inbox.len() {
            let len = u16::from_le_bytes([inbox[pos], inbox[pos + 1]]) as usize;
            let Some(pkt) = inbox.get(pos + 2..pos + 2 + len) else {
                break;
            };
            self.game_packet(now, pid, pkt);
            pos += 2 + len;
        }
        self.inbox = inbox;
        self.drain_conn_events(now, pid);
    }

    /// A datagram from an address without a connection. A connection
    /// request is answered without creating anything (a fixed-size table
    /// remembers the answer); the connection is created when the client's
    /// next datagram arrives. A flood of requests from spoofed addresses
    /// therefore never fills the connection table.
    fn new_connection(&mut self, now: Instant, addr: SocketAddr, data: &mut [u8]) {
        if !is_connection_request(data) {
            match self.handshakes.take(addr, now) {
                Some(hs) => self.open_connection(now, addr, hs, data),
                None => self.stats.dropped_unknown += 1,
            }
            return;
        }
        match decide_init(data, &self.s.init_policy) {
            InitDecision::Accept {
                reply,
                cipher_key,
                continuum,
            } => {
                self.handshakes.remember(
                    addr,
                    Handshake {
                        cipher_key,
                        continuum,
                        at: now,
                    },
                );
                self.outbox.push(addr, &reply);
            }
            InitDecision::Refuse => {
                self.stats.refused += 1;
                self.outbox.push(addr, &DISCONNECT);
            }
            InitDecision::Ignore => self.stats.dropped_unknown += 1,
        }
    }

    /// Transport settings of a player connection: the configured ones,
    /// with the outgoing limit raised so that entering (or watching others
    /// enter) an arena of `Net:MaxConnections` players never overflows it.
    fn player_transport(&self) -> TransportConfig {
        let mut cfg = self.s.transport.clone();
        cfg.min_outgoing_bytes = cfg.min_outgoing_bytes.max(
            self.s
                .max_connections
                .saturating_mul(ENTRY_BYTES_PER_PLAYER),
        );
        cfg
    }

    /// The client answered our key: the connection starts with the
    /// datagram that proved it.
    fn open_connection(&mut self, now: Instant, addr: SocketAddr, hs: Handshake, data: &mut [u8]) {
        if !self.admit(now, addr) {
            self.stats.refused += 1;
            self.outbox.push(addr, &DISCONNECT);
            return;
        }
        let conn = Connection::server(
            now,
            self.player_transport(),
            self.clock,
            hs.cipher_key,
            hs.continuum,
        );
        let Some(pid) = self.players.insert(now, addr, conn) else {
            self.stats.refused += 1;
            return;
        };
        if let Some(p) = self.players.get_mut(pid) {
            p.continuum = hs.continuum;
        }
        self.state.connected(pid);
        self.pending.push_back((pid, now));
        *self.per_ip.entry(addr.ip()).or_default() += 1;
        debug!(%addr, pid, continuum = hs.continuum, "new connection");
        self.handle_datagram(now, addr, data);
    }

    /// Whether a new connection from `addr` fits the limits: total, per IP,
    /// and not-yet-logged-in (where an idle one may be evicted for it).
    fn admit(&mut self, now: Instant, addr: SocketAddr) -> bool {
        let per_ip = self.per_ip.get(&addr.ip()).copied().unwrap_or(0);
        if self.s.max_connections_per_ip > 0 && per_ip >= self.s.max_connections_per_ip {
            self.stats.limit_per_ip += 1;
            return false;
        }
        self.expire_pending(now);
        if self.pending_count() >= self.s.max_pending && !self.evict_idle_pending(now) {
            self.stats.limit_pending += 1;
            return false;
        }
        if self.players.len() >= self.s.max_connections && !self.evict_idle_pending(now) {
            self.stats.limit_total += 1;
            return false;
        }
        true
    }

    fn is_pending(&self, pid: i16, since: Instant) -> bool {
        self.state.members.place(pid) == Some(Place::Connected)
            && self
                .players
                .get(pid)
                .is_some_and(|p| p.connected_at == since)
    }

    fn pending_count(&mut self) -> usize {
        // Drop entries of players that logged in or left.
        let mut kept = std::collections::VecDeque::with_capacity(self.pending.len());
        while let Some((pid, since)) = self.pending.pop_front() {
            if self.is_pending(pid, since) {
                kept.push_back((pid, since));
            }
        }
        self.pending = kept;
        self.pending.len()
    }

    /// Removes the oldest not-logged-in connection that has sent nothing
    /// since the datagram that opened it. Returns whether one was removed.
    fn evict_idle_pending(&mut self, now: Instant) -> bool {
        let idx = self.pending.iter().position(|&(pid, since)| {
            self.is_pending(pid, since)
                && self
                    .players
                    .get(pid)
                    .is_some_and(|p| p.conn.stats().datagrams_in == 0)
        });
        let Some(idx) = idx else {
            return false;
        };
        if let Some((pid, _)) = self.pending.remove(idx) {
            self.stats.evicted_pending += 1;
            self.remove_player(now, pid);
        }
        true
    }

    /// Drops connections that did not log in within the login timeout.
    pub(crate) fn expire_pending(&mut self, now: Instant) {
        while let Some(&(pid, since)) = self.pending.front() {
            if !self.is_pending(pid, since) {
                self.pending.pop_front();
                continue;
            }
            if now.saturating_duration_since(since) < self.s.login_timeout {
                break;
            }
            self.pending.pop_front();
            debug!(pid, "no login in time; dropping the connection");
            self.remove_player(now, pid);
        }
    }

    /// A connection request from a known address: the reply was lost (not
    /// logged in yet: answer again), or the client restarted (drop the old
    /// player; the client's retry then connects afresh).
    fn repeated_connection_request(&mut self, now: Instant, pid: i16, data: &[u8]) {
        let transport = self.player_transport();
        let Some(player) = self.players.get_mut(pid) else {
            return;
        };
        if self.state.members.place(pid) != Some(Place::Connected) {
            info!(pid, name = %player.name, "connection request from a logged-in address; dropping the old player");
            self.remove_player(now, pid);
            return;
        }
        if let InitDecision::Accept {
            reply,
            cipher_key,
            continuum,
        } = decide_init(data, &self.s.init_policy)
        {
            player.conn = Connection::server(now, transport, self.clock, cipher_key, continuum);
            player.continuum = continuum;
            self.outbox.push(player.addr, &reply);
        }
    }

    /// Puts what is queued for one player into this pass's outbox now
    /// (before a disconnect, so a last message still leaves).
    pub(crate) fn flush_player(&mut self, now: Instant, pid: i16) {
        if let Some(p) = self.players.get_mut(pid) {
            let (out, addr) = (&mut self.outbox, p.addr);
            p.conn.poll_transmit(now, &mut |d| out.push(addr, d));
        }
    }

    /// Puts a player on this pass's flush list.
    pub(crate) fn mark_dirty(&mut self, pid: i16) {
        if let Some(p) = self.players.get_mut(pid) {
            if !p.dirty {
                p.dirty = true;
                self.flush_list.push(pid);
            }
        }
    }

    /// Handles connection events; a disconnect removes the player.
    pub(crate) fn drain_conn_events(&mut self, now: Instant, pid: i16) {
        loop {
            let Some(player) = self.players.get_mut(pid) else {
                return;
            };
            let Some(ev) = player.conn.poll_event() else {
                if player.conn.is_closed() {
                    self.remove_player(now, pid);
                }
                return;
            };
            if let Event::Disconnected(reason) = ev {
                info!(pid, name = %player.name, ?reason, "player disconnected");
                match reason {
                    DisconnectReason::NoData => self.stats.lagout_no_data += 1,
                    DisconnectReason::TooManyRetries => self.stats.lagout_retries += 1,
                    DisconnectReason::TooManyOutgoing => self.stats.lagout_outgoing += 1,
                    _ => {}
                }
                if let Some(text) = reason.lagout_text() {
                    // Tell the client why, the way ASSS does, before it goes.
                    let mut msg = Vec::new();
                    S2CPacket::lagged_out(reason)
                        .unwrap_or_else(|| S2CPacket::server_chat(chat_type::SYSOP_WARNING, text))
                        .encode(&mut msg);
                    player.conn.seal(&mut msg);
                    self.outbox.push(player.addr, &msg);
                    self.outbox.push(player.addr, &DISCONNECT);
                }
                self.remove_player(now, pid);
                return;
            }
        }
    }

    /// Forgets a player: out of its realm, out of the table, `00 07` sent.
    pub(crate) fn remove_player(&mut self, now: Instant, pid: i16) {
        let last_arena = self
            .state
            .members
            .realm_of(pid)
            .and_then(|id| self.state.registry.get(id))
            .map(|s| s.name.clone());
        self.state.player_gone(pid);
        self.biller_player_left(now, pid);
        self.chat_player_gone(pid);
        self.file_offers_gone(pid);
        if let Some(mut p) = self.players.remove(now, pid) {
            if !p.name.is_empty() {
                self.scores_player_left(&p.name, last_arena.as_deref());
            }
            if !p.conn.is_closed() {
                p.conn.disconnect();
                let (out, addr) = (&mut self.outbox, p.addr);
                p.conn.poll_transmit(now, &mut |d| out.push(addr, d));
            }
            self.retired.absorb(p.conn.stats());
            if let Some(n) = self.per_ip.get_mut(&p.addr.ip()) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    self.per_ip.remove(&p.addr.ip());
                }
            }
        }
    }

    /// A game packet from a connected player. What the supervisor handles
    /// itself (login, arena choice, leaving, billing forms) is decoded and
    /// length-checked here; a malformed one is dropped and counted, never
    /// acted on. Everything else a player in a realm sends goes to the
    /// realm, which checks it the same way.
    fn game_packet(&mut self, now: Instant, pid: i16, pkt: &[u8]) {
        let (Some(place), Some(player)) = (self.state.members.place(pid), self.players.get(pid))
        else {
            return;
        };
        let client = ClientKind::from_continuum(player.continuum);
        let zone_packet = match ZonePacket::decode(pkt, client) {
            Ok(p) => p,
            Err(_) => {
                // One of ours with a length ASSS refuses: never acted on.
                self.stats.dropped_game += 1;
                return;
            }
        };
        match (zone_packet, place) {
            (None, place) if pkt.first() == Some(&ss_proto::game::c2s_type::UPLOAD_FILE) => {
                // Staff uploads are the zone folder's business, not a realm's.
                if place.logged_in() {
                    self.file_uploaded(pid, pkt);
                } else {
                    self.stats.dropped_game += 1;
                }
            }
            (None, place) if place.realm().is_some() => {
                let sent = match place.realm() {
                    Some(slot)
                        if pkt.first() == Some(&ss_proto::game::c2s_type::POSITION)
                            && place.known_to_realm() =>
                    {
                        self.position_packet(pid, slot, pkt)
                    }
                    _ => self.forward_packet(pid, pkt),
                };
                if !sent {
                    self.stats.dropped_game += 1;
                }
            }
            (Some(ZonePacket::Login(login)), Place::Connected) => self.login(now, pid, &login, pkt),
            (Some(ZonePacket::GoArena(go)), place) if place.logged_in() => {
                self.go_arena(now, pid, go)
            }
            (Some(ZonePacket::LeaveArena), place) if place.realm().is_some() => {
                self.state.leave_realm(pid)
            }
            (Some(ZonePacket::Registration(form)), place) if place.logged_in() => {
                if !self.biller_registration(pid, form) && !self.forward_packet(pid, pkt) {
                    self.stats.dropped_game += 1;
                }
            }
            (Some(ZonePacket::Banner(banner)), place) if place.logged_in() => {
                self.biller_banner(now, pid, &banner);
                // The realm shows it to the arena (and reports it back).
                if !self.forward_packet(pid, pkt) {
                    self.stats.dropped_game += 1;
                }
            }
            (Some(ZonePacket::NewsRequest), place) if place.logged_in() => self.send_news(pid),
            (Some(ZonePacket::UpdateRequest), place) if place.logged_in() => self.send_update(pid),
            _ => self.stats.dropped_game += 1,
        }
    }

    /// C2S 0x0D: the news file as a sized stream (S2C 0x10), within the
    /// connection's download limit.
    fn send_news(&mut self, pid: i16) {
        let Some(packet) = self.s.news.packet.clone() else {
            debug!(pid, "news requested, but there is no news file");
            return;
        };
        if let Some(p) = self.players.get_mut(pid) {
            if p.conn.sized_queue_len() < ss_proto::transport::MAX_SIZED_QUEUE {
                p.conn.send_sized(packet);
            } else {
                self.stats.refused_downloads += 1;
            }
        }
        self.mark_dirty(pid);
    }

    /// C2S 0x0B: the operator's update file as a sized stream (S2C 0x10),
    /// within the connection's download limit; without one, counted and
    /// ignored.
    fn send_update(&mut self, pid: i16) {
        let Some(packet) = self.s.update.packet.clone() else {
            self.stats.update_requests_ignored += 1;
            return;
        };
        if let Some(p) = self.players.get_mut(pid) {
            if p.conn.sized_queue_len() < ss_proto::transport::MAX_SIZED_QUEUE {
                p.conn.send_sized(packet);
                self.stats.update_requests_served += 1;
            } else {
                self.stats.refused_downloads += 1;
            }
        }
        self.mark_dirty(pid);
    }

    /// Queues a packet for one player.
    pub(crate) fn send_raw(&mut self, pid: i16, pkt: &[u8], reliability: Reliability) {
        if let Some(p) = self.players.get_mut(pid) {
            if p.queue(pkt, reliability, Priority::Normal) {
                self.flush_list.push(pid);
            }
        }
    }

    /// Encodes and queues a reliable packet for one player.
    pub(crate) fn send_packet(&mut self, pid: i16, pkt: &S2CPacket) {
        let mut bytes = std::mem::take(&mut self.scratch);
        bytes.clear();
        pkt.encode(&mut bytes);
        self.send_raw(pid, &bytes, Reliability::Reliable);
        self.scratch = bytes;
    }

    /// A green server message to one player.
    pub(crate) fn arena_message(&mut self, pid: i16, text: &str) {
        self.send_packet(pid, &S2CPacket::arena_message(text));
    }

    /// A login packet (already length-checked for the client kind).
    pub(crate) fn login(&mut self, now: Instant, pid: i16, login: &Login, raw: &[u8]) {
        let Some(player) = self.players.get(pid) else {
            return;
        };
        let continuum = player.continuum;
        if !continuum && login.client_version != Login::VIE_VERSION {
            self.login_response(pid, LoginCode::LOCKED_OUT);
            return;
        }
        let name = match sanitize_login_name(&login.name) {
            Ok(n) => n,
            Err(bad) => {
                if continuum {
                    self.send_packet(pid, &S2CPacket::LoginText(bad.continuum_text().to_string()));
                }
                self.login_response(pid, bad.code(continuum));
                return;
            }
        };
        let epoch = crate::bans::epoch_now();
        if let Some(ban) = self.bans.find(&name, login.machine_id, epoch) {
            let left = crate::bans::minutes_seconds(ban.expires - epoch);
            let text = if ban.reason.is_empty() {
                format!("You have been temporarily kicked. You may log in again in {left}.")
            } else {
                format!(
                    "You have been temporarily kicked for {}. You may log in again in {left}.",
                    ban.reason
                )
            };
            info!(pid, %name, machine_id = login.machine_id, "login refused: kicked with a timeout ({left} left)");
            if continuum {
                self.send_packet(pid, &S2CPacket::LoginText(text));
                self.login_response(pid, LoginCode::CUSTOM_TEXT);
            } else {
                self.login_response(pid, LoginCode::LOCKED_OUT);
            }
            return;
        }
        if let Some(p) = self.players.get_mut(pid) {
            p.machine_id = login.machine_id;
            p.client_features = login.client_features;
            // For `?set_local_password` (the password of this session).
            p.login_digest = Some(crate::auth::password_digest(&name, &login.password));
        }
        if self.biller_login(now, pid, login, raw, &name) {
            return;
        }
        let authenticated = match self.s.auth.check(&name, &login.password) {
            Ok(a) => a,
            Err(code) => {
                info!(pid, %name, code = code.0, "login refused");
                self.login_response(pid, code);
                return;
            }
        };
        self.finish_login(now, pid, name, String::new(), authenticated, LoginCode::OK);
    }

    /// Completes a login that was let in (locally or by the biller):
    /// name, squad, stage, and the login response with `code`.
    pub(crate) fn finish_login(
        &mut self,
        now: Instant,
        pid: i16,
        name: String,
        squad: String,
        authenticated: bool,
        code: LoginCode,
    ) {
        if let Some(old) = self.players.find_by_name(&name).map(|p| p.pid) {
            if old != pid {
                info!(pid = old, %name, "same name logged in again; dropping the old player");
                self.remove_player(now, old);
            }
        }
        let Some(p) = self.players.get_mut(pid) else {
            return;
        };
        p.name = name.clone();
        p.squad = squad;
        p.authenticated = authenticated;
        let continuum = p.continuum;
        self.state.set_login_state(pid, Place::LoggedIn);
        info!(pid, %name, continuum, "player logged in");
        if continuum {
            self.send_packet(
                pid,
                &S2CPacket::ContinuumVersion {
                    version: LoginResponse::CONTINUUM_VERSION,
                    checksum: self.s.update.continuum_checksum,
                },
            );
        }
        self.login_response(pid, code);
    }

    /// Sends the login response (S2C 0x0A) with `code`.
    pub(crate) fn login_response(&mut self, pid: i16, code: LoginCode) {
        let continuum = self.players.get(pid).is_some_and(|p| p.continuum);
        let code = if !continuum && code == LoginCode::CUSTOM_TEXT {
            LoginCode::LOCKED_OUT
        } else {
            code
        };
        let mut resp = LoginResponse::vie(code, self.s.news.checksum);
        resp.registration_wanted = code == LoginCode::ASK_DEMOGRAPHICS;
        if continuum {
            // The operator's clients/continuum.exe, else "unknown"; no
            // security file is served.
            resp.exe_checksum = self.s.update.continuum_checksum;
            resp.code_checksum = LoginResponse::STAFF_CHECKSUM;
        }
        self.send_packet(pid, &S2CPacket::LoginResponse(resp));
    }

    pub(crate) fn go_arena(&mut self, now: Instant, pid: i16, go: GoArena) {
        if go.ship > 8 {
            self.stats.dropped_game += 1;
            return;
        }
        let name = match go.arena_type {
            -1 | -2 => self.state.registry.policy.default_arena.clone(),
            -3 => sanitize_arena_name(&go.arena_name),
            n if n >= 0 => n.to_string(),
            _ => {
                self.stats.dropped_game += 1;
                return;
            }
        };
        // The name as asked (a literal address survives), as ASSS does.
        let asked = if go.arena_type == -3 {
            go.arena_name.as_str()
        } else {
            name.as_str()
        };
        if self.redirect_entrant(pid, asked) {
            return;
        }
        if let Some(p) = self.players.get_mut(pid) {
            p.go = Some(go);
        }
        self.move_to_arena(now, pid, &name);
    }

    /// Takes a player out of its realm (if any) and into the named one;
    /// he is told why if that arena cannot be entered.
    pub(crate) fn move_to_arena(&mut self, now: Instant, pid: i16, arena: &str) {
        let zone = &self.s.zone;
        let placed = self.state.go_to(now, pid, arena, |name| {
            crate::config::score_group(zone, name)
        });
        match placed {
            Ok(_) => debug!(pid, arena, "player assigned to realm"),
            Err(why) => self.arena_message(pid, &why),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hs(at: Instant) -> Handshake {
        Handshake {
            cipher_key: 7,
            continuum: false,
            at,
        }
    }

    /// A table with a fixed hash key, so the test is the same every run.
    fn fixed_table(
    ) -> Handshakes<std::hash::BuildHasherDefault<std::collections::hash_map::DefaultHasher>> {
        Handshakes::with_hasher(Default::default())
    }

    #[test]
    fn a_flood_rarely_pushes_out_a_fresh_request() {
        let t0 = Instant::now();
        let ms = std::time::Duration::from_millis;
        let mut table = fixed_table();
        let spoofed = |i: u32| SocketAddr::from(([127, 0, (i >> 8) as u8, i as u8], 9000));
        // A flood fills the table, a real request arrives, the flood goes on
        // while its client's next datagram is on the way: 200 more requests.
        for i in 0..5000 {
            table.remember(spoofed(i), hs(t0));
        }
        let mut survived = 0;
        for r in 0..100u16 {
            let real = SocketAddr::from(([10, 0, 0, 1], 20000 + r));
            let at = t0 + ms(1 + u64::from(r));
            table.remember(real, hs(at));
            for i in 0..200 {
                table.remember(spoofed(5000 + u32::from(r) * 200 + i), hs(at + ms(1)));
            }
            if table.take(real, at + ms(2)).is_some() {
                survived += 1;
            }
        }
        assert_eq!(survived, 100, "real requests pushed out by the flood");
    }

    #[test]
    fn requests_expire() {
        let now = Instant::now();
        let mut table = fixed_table();
        let a: SocketAddr = "10.0.0.1:5000".parse().unwrap();
        table.remember(a, hs(now));
        assert!(table.take(a, now + HANDSHAKE_TTL).is_none());
    }
}
