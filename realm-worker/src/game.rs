//! The game rules of the arena (`docs/protocol/game-protocol.md` §8.8, §10,
//! §11, §12, §13): ship and freq changes through the freq manager, staff locks,
//! deaths and kill points, greens and prizes, scores, turrets and spectating.

use std::time::{Duration, Instant};

use ipc_proto::{Delivery, FromRealm, Target};
use ss_proto::game::{ship, Green, Kill, S2CPacket, ScoreUpdate};
use tracing::{debug, info};

use crate::arena::{emit, member_of, Arena, ShipLock};
use crate::freqman::{Change, Enforcement, FreqMan, Outcome};
use crate::scores::{kill_points, KillFacts, Score};

impl Arena {
    /// True (and the player is told) if a lock keeps him from this change.
    fn locked(&mut self, pid: i16, to_spec: bool) -> bool {
        let now = Instant::now();
        let Some(p) = self.players.get_mut(&pid) else {
            return true;
        };
        if p.lock.and_then(|l| l.expires).is_some_and(|t| now >= t) {
            p.lock = None;
        }
        if p.lock.is_none() || to_spec {
            return false;
        }
        let in_spec = p.ship == ship::SPECTATOR;
        if self.assets.caps.group_has(&p.group, "bypasslock") {
            return false;
        }
        let text = if in_spec {
            "You have been locked in spectator mode."
        } else {
            "You have been locked in your ship."
        };
        self.arena_message(pid, text);
        true
    }

    /// The freq manager's answer for one player.
    fn decide(
        &self,
        pid: i16,
        f: impl FnOnce(&FreqMan<'_>, &crate::freqman::Member) -> Outcome,
    ) -> Option<Outcome> {
        let p = self.players.get(&pid)?;
        let who = member_of(p);
        let members = self.members();
        let fm = FreqMan::new(&self.rules.freq, &members).enforcing(self.enforcement(&p.info.name));
        Some(f(&fm, &who))
    }

    /// What the attached enforcer modules allow the player called `name`
    /// now (`crate::modules::Module::enforce`).
    pub(crate) fn enforcement(&self, name: &str) -> Enforcement {
        let now = ipc_proto::monotonic_ticks();
        let mut e = Enforcement::default();
        for m in &self.modules {
            m.enforce(self, name, now, &mut e);
        }
        e
    }

    /// Makes the change (if any); returns the message for the player.
    fn carry_out(&mut self, pid: i16, outcome: Outcome) -> Option<String> {
        match outcome.change {
            Some(Change::ShipAndFreq { ship, freq }) => self.set_ship_and_freq(pid, ship, freq),
            Some(Change::Freq(freq)) => self.set_freq_only(pid, freq),
            None => {}
        }
        outcome.message
    }

    /// C2S 0x18: the player asks for a ship.
    pub(crate) fn ship_request(&mut self, pid: i16, new_ship: u8) {
        let Some(p) = self.players.get(&pid) else {
            return;
        };
        if new_ship > ship::SPECTATOR || new_ship == p.ship {
            return;
        }
        if self.locked(pid, new_ship == ship::SPECTATOR) {
            return;
        }
        // Modules may refuse (`enf_shipchange`).
        let ticks = ipc_proto::monotonic_ticks();
        let mut refused = None;
        self.each_module(|m, a| {
            if refused.is_none() {
                refused = m.refuse_ship(a, pid, new_ship, ticks);
            }
        });
        if let Some(why) = refused {
            self.arena_message(pid, &why);
            return;
        }
        let Some(out) = self.decide(pid, |fm, who| fm.ship_change(who, new_ship)) else {
            return;
        };
        if let Some(msg) = self.carry_out(pid, out) {
            self.arena_message(pid, &msg);
        }
    }

    /// C2S 0x0F: the player asks for a freq.
    pub(crate) fn freq_request(&mut self, pid: i16, freq: i16) {
        if !self.players.contains_key(&pid) || self.locked(pid, false) {
            return;
        }
        let Some(out) = self.decide(pid, |fm, who| fm.freq_change(who, freq)) else {
            return;
        };
        if let Some(msg) = self.carry_out(pid, out) {
            self.arena_message(pid, &msg);
        }
    }

    /// `?setship`: through the freq manager unless forced. Returns why it
    /// did not (fully) happen.
    pub(crate) fn staff_set_ship(&mut self, pid: i16, new_ship: u8, force: bool) -> Option<String> {
        let p = self.players.get(&pid)?;
        let spec_freq = self.rules.freq.spec_freq;
        if !force {
            let out = self.decide(pid, |fm, who| fm.ship_change(who, new_ship))?;
            return self.carry_out(pid, out);
        }
        let freq = if new_ship == ship::SPECTATOR {
            spec_freq
        } else if p.freq == spec_freq {
            let who = member_of(p);
            let members = self.members();
            FreqMan::new(&self.rules.freq, &members)
                .entry_freq(&who)
                .unwrap_or(0)
        } else {
            p.freq
        };
        self.set_ship_and_freq(pid, new_ship, freq);
        None
    }

    /// `?setfreq`: through the freq manager unless forced.
    pub(crate) fn staff_set_freq(&mut self, pid: i16, freq: i16, force: bool) -> Option<String> {
        let p = self.players.get(&pid)?;
        if !force {
            let out = self.decide(pid, |fm, who| fm.freq_change(who, freq))?;
            return self.carry_out(pid, out);
        }
        if p.ship == ship::SPECTATOR {
            self.set_freq_only(pid, freq);
        } else {
            self.set_ship_and_freq(pid, p.ship, freq);
        }
        None
    }

    /// Puts a player in a ship and freq and tells everyone (S2C 0x1D).
    pub(crate) fn set_ship_and_freq(&mut self, pid: i16, new_ship: u8, freq: i16) {
        let Some(p) = self.players.get(&pid) else {
            return;
        };
        if p.ship == new_ship && p.freq == freq {
            return;
        }
        self.stop_spectating(pid);
        let ticks = ipc_proto::monotonic_ticks();
        self.each_module(|m, a| m.on_ship_freq(a, pid, ticks));
        for other in self.players.values_mut() {
            if other.attached_to == pid {
                other.attached_to = -1;
            }
        }
        let (old_ship, old_freq) = self
            .players
            .get(&pid)
            .map_or((new_ship, freq), |p| (p.ship, p.freq));
        if let Some(p) = self.players.get_mut(&pid) {
            p.ship = new_ship;
            p.freq = freq;
            p.attached_to = -1;
            p.in_game_since = ticks;
        }
        if new_ship == ship::SPECTATOR {
            self.forget_regions(pid);
        }
        info!(realm = %self.name, pid, ship = new_ship, freq, "ship/freq change");
        self.send_packet(
            Target::Arena,
            Delivery::Reliable,
            &S2CPacket::ShipChange {
                ship: new_ship,
                pid,
                freq,
            },
        );
        emit(
            &mut self.out,
            &FromRealm::PlayerState {
                pid,
                ship: new_ship,
                freq,
            },
        );
        self.each_module(|m, a| m.on_ship_freq_changed(a, pid, old_ship, old_freq, ticks));
    }

    /// Changes only the freq (S2C 0x0D): a spectator changing teams.
    pub(crate) fn set_freq_only(&mut self, pid: i16, freq: i16) {
        let Some(p) = self.players.get(&pid) else {
            return;
        };
        if p.freq == freq {
            return;
        }
        let (ship, old_freq) = (p.ship, p.freq);
        self.stop_spectating(pid);
        if let Some(p) = self.players.get_mut(&pid) {
            p.freq = freq;
        }
        self.send_packet(
            Target::Arena,
            Delivery::Reliable,
            &S2CPacket::FreqChange { pid, freq },
        );
        emit(&mut self.out, &FromRealm::PlayerState { pid, ship, freq });
        let ticks = ipc_proto::monotonic_ticks();
        self.each_module(|m, a| m.on_ship_freq_changed(a, pid, ship, old_freq, ticks));
    }

    /// `?lock`/`?unlock` of one player.
    pub(crate) fn lock_ship(
        &mut self,
        pid: i16,
        lock: bool,
        notify: bool,
        spec: bool,
        timeout_secs: u64,
    ) {
        let spec_freq = self.rules.freq.spec_freq;
        if spec
            && lock
            && self
                .players
                .get(&pid)
                .is_some_and(|p| p.ship != ship::SPECTATOR)
        {
            self.set_ship_and_freq(pid, ship::SPECTATOR, spec_freq);
        }
        let now = Instant::now();
        let Some(p) = self.players.get_mut(&pid) else {
            return;
        };
        let was = p.lock.is_some();
        p.lock = lock.then(|| ShipLock {
            expires: (timeout_secs > 0).then(|| now + Duration::from_secs(timeout_secs)),
        });
        let in_spec = p.ship == ship::SPECTATOR;
        if notify && was != lock {
            let text = match (lock, in_spec) {
                (true, true) => "You have been locked to spectator mode.",
                (true, false) => "You have been locked to your ship.",
                (false, _) => "Your ship has been unlocked.",
            };
            self.arena_message(pid, text);
        }
    }

    // ----- spectating and turrets --------------------------------------------

    /// C2S 0x08: a spectator watches `target` (−1 = nobody).
    pub(crate) fn spectate(&mut self, pid: i16, target: i16) {
        if self
            .players
            .get(&pid)
            .is_none_or(|p| p.ship != ship::SPECTATOR)
        {
            return;
        }
        self.stop_spectating(pid);
        let valid = target != pid
            && self
                .players
                .get(&target)
                .is_some_and(|t| t.ship != ship::SPECTATOR);
        if !valid {
            return;
        }
        let Some(p) = self.players.get_mut(&pid) else {
            return;
        };
        p.spectating = target;
        if !p.sees_extra {
            return;
        }
        let first = self.players.get_mut(&target).is_some_and(|t| {
            t.extra_watchers += 1;
            t.extra_watchers == 1
        });
        if first {
            // Ask the watched player to include extra data in positions.
            self.send_packet(
                Target::Player(target),
                Delivery::Reliable,
                &S2CPacket::SpectateData { extra: true },
            );
        }
    }

    /// Ends whatever `pid` is spectating.
    pub(crate) fn stop_spectating(&mut self, pid: i16) {
        let Some(p) = self.players.get_mut(&pid) else {
            return;
        };
        let old = std::mem::replace(&mut p.spectating, -1);
        if old < 0 || !p.sees_extra {
            return;
        }
        let last = self.players.get_mut(&old).is_some_and(|t| {
            t.extra_watchers = t.extra_watchers.saturating_sub(1);
            t.extra_watchers == 0
        });
        if last {
            self.send_packet(
                Target::Player(old),
                Delivery::Reliable,
                &S2CPacket::SpectateData { extra: false },
            );
        }
    }

    /// C2S 0x10: attach to a teammate as a turret (−1 = detach), within
    /// the arena's `TurretLimit` and `AttachBounty`.
    pub(crate) fn attach(&mut self, pid: i16, to: i16) {
        let Some(p) = self.players.get(&pid) else {
            return;
        };
        if to != -1 {
            let Some(t) = self.players.get(&to) else {
                debug!(pid, to, "attach to an unknown player");
                return;
            };
            if to == pid
                || t.freq != p.freq
                || p.ship == ship::SPECTATOR
                || t.ship == ship::SPECTATOR
            {
                debug!(pid, to, "attach refused");
                return;
            }
            let settings = &self.assets.settings;
            let limit = settings
                .ship_field(t.ship as usize, "TurretLimit")
                .unwrap_or(0);
            let turrets = self
                .players
                .values()
                .filter(|x| x.attached_to == to && x.info.pid != pid)
                .count() as i32;
            let need = settings
                .ship_field(p.ship as usize, "AttachBounty")
                .unwrap_or(0);
            let refusal = if turrets >= limit {
                Some(format!(
                    "{} already carries the most turrets allowed.",
                    t.info.name
                ))
            } else if i32::from(p.bounty) < need {
                Some(format!("You need a bounty of {need} to attach."))
            } else {
                None
            };
            if let Some(text) = refusal {
                self.arena_message(pid, &text);
                return;
            }
        }
        if p.attached_to == to {
            return;
        }
        if let Some(p) = self.players.get_mut(&pid) {
            p.attached_to = to;
        }
        self.send_packet(
            Target::Arena,
            Delivery::Reliable,
            &S2CPacket::Turret {
                pid,
                attached_to: to,
            },
        );
    }

    /// C2S 0x14: shake off the turrets.
    pub(crate) fn turret_kickoff(&mut self, pid: i16) {
        if self
            .players
            .get(&pid)
            .is_none_or(|p| p.ship == ship::SPECTATOR)
        {
            return;
        }
        for p in self.players.values_mut() {
            if p.attached_to == pid {
                p.attached_to = -1;
            }
        }
        let mut body = Vec::with_capacity(2);
        body.extend_from_slice(&pid.to_le_bytes());
        let pkt = S2CPacket::Other {
            ptype: ss_proto::game::s2c_type::TURRET_KICKOFF,
            body,
        };
        self.send_packet(Target::Arena, Delivery::Reliable, &pkt);
    }

    // ----- deaths, greens and prizes ------------------------------------------

    /// C2S 0x05: `pid` was killed by `killer` with `bounty` on his head.
    pub(crate) fn death(&mut self, pid: i16, killer: i16, bounty: i16) {
        let (Some(dead), Some(k)) = (self.players.get(&pid), self.players.get(&killer)) else {
            debug!(pid, killer, "death reported with a bad killer");
            return;
        };
        if killer == pid || dead.ship == ship::SPECTATOR {
            debug!(pid, killer, "death refused");
            return;
        }
        let team_kill = dead.freq == k.freq;
        let carried = |a: &Arena, pid: i16| a.flags.as_ref().map_or(0, |f| f.carried(pid)) as i32;
        let killed_flags = carried(self, pid);
        let facts = KillFacts {
            bounty: i32::from(bounty.max(0)),
            killer_bounty: i32::from(k.bounty),
            team_kill,
            killed_flags,
            killer_flags: carried(self, killer),
            team_flags: self.flags.as_ref().map_or(0, |f| f.freq_flags(k.freq)) as i32,
        };
        let (killer_name, dead_name) = (k.info.name.clone(), dead.info.name.clone());
        let points = kill_points(&self.rules.kill, &facts);
        let prizes = &self.rules.prize;
        let green = if team_kill && prizes.use_teamkill_prize {
            prizes.teamkill_prize.clamp(0, 255) as u8
        } else {
            let roll = self.next_random();
            self.rules.prize.death_green(roll)
        };
        self.scores.record_kill(&killer_name, &dead_name, points);
        let event = crate::modules::KillEvent {
            killer,
            killed: pid,
            bounty: i32::from(bounty.max(0)),
        };
        let ticks = ipc_proto::monotonic_ticks();
        let mut moved = None;
        self.each_module(|m, a| {
            if let Some(n) = m.on_kill(a, &event, ticks) {
                moved = Some(n);
            }
        });
        let sent_flags = moved.map_or(killed_flags, |n| n as i32);
        let kill = Kill {
            green,
            killer,
            killed: pid,
            points: points.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16,
            flags: sent_flags.clamp(0, i32::from(i16::MAX)) as i16,
        };
        self.send_packet(Target::Arena, Delivery::Reliable, &S2CPacket::Kill(kill));
        info!(realm = %self.name, killed = %dead_name, killer = %killer_name, bounty, flags = killed_flags, points, "kill");
        self.send_score(killer);
        self.send_score(pid);

        // Too many deaths without firing: to spectator mode.
        let limit = self.rules.max_death_without_firing;
        let spec_freq = self.rules.freq.spec_freq;
        let Some(dead) = self.players.get_mut(&pid) else {
            return;
        };
        if dead.fired {
            dead.deaths_without_firing = 0;
        } else {
            dead.deaths_without_firing += 1;
        }
        dead.fired = false;
        if limit > 0 && dead.deaths_without_firing > limit {
            dead.deaths_without_firing = 0;
            info!(realm = %self.name, pid, "specced for too many deaths without firing");
            self.set_ship_and_freq(pid, ship::SPECTATOR, spec_freq);
        }
    }

    /// C2S 0x07: the player picked up a green; the others see it unless
    /// the arena keeps that prize personal.
    pub(crate) fn green(&mut self, pid: i16, green: Green) {
        if self
            .players
            .get(&pid)
            .is_none_or(|p| p.ship == ship::SPECTATOR)
        {
            return;
        }
        if self.rules.prize.shared(green.prize) {
            self.send_packet(
                Target::ArenaExcept(pid),
                Delivery::Unreliable,
                &S2CPacket::Green { green, pid },
            );
        }
    }

    /// Gives (negative `prize`: takes) prizes (S2C 0x20).
    pub(crate) fn give_prize(&mut self, pids: &[i16], prize: i16, count: i16) {
        self.send_to_list(pids, &S2CPacket::PrizeReceived { count, prize });
    }

    // ----- scores -------------------------------------------------------------

    /// Tells the arena (S2C 0x09) and the supervisor a player's score.
    pub(crate) fn send_score(&mut self, pid: i16) {
        self.send_score_change(pid, false);
    }

    /// Tells the arena and the supervisor a player's score; `reset` says
    /// the change was a score reset.
    pub(crate) fn send_score_change(&mut self, pid: i16, reset: bool) {
        let Some(p) = self.players.get(&pid) else {
            return;
        };
        let s = self.scores.get(&p.info.name);
        let update = ScoreUpdate {
            pid,
            kill_points: s.kill_points,
            flag_points: s.flag_points,
            kills: s.kills,
            deaths: s.deaths,
        };
        self.send_packet(
            Target::Arena,
            Delivery::UnreliableLow,
            &S2CPacket::ScoreUpdate(update),
        );
        emit(
            &mut self.out,
            &FromRealm::ScoreChanged {
                reset,
                pid,
                kill_points: s.kill_points,
                flag_points: s.flag_points,
                kills: s.kills,
                deaths: s.deaths,
            },
        );
    }

    /// Resets a player's score and tells everyone.
    pub(crate) fn reset_score(&mut self, pid: i16) {
        if let Some(name) = self.players.get(&pid).map(|p| p.info.name.clone()) {
            self.scores.reset(&name);
            self.send_score_change(pid, true);
        }
    }

    /// The zone ended the score interval: everyone starts from zero.
    pub(crate) fn reset_all_scores(&mut self) {
        let pids: Vec<i16> = self.players.keys().copied().collect();
        for pid in pids {
            self.reset_score(pid);
        }
    }

    /// Adds flag points to a player's score and tells everyone.
    pub(crate) fn add_flag_points(&mut self, pid: i16, points: i32) {
        if let Some(name) = self.players.get(&pid).map(|p| p.info.name.clone()) {
            self.scores.add_flag_points(&name, points);
            self.send_score(pid);
        }
    }

    /// Sets a player's score and tells everyone.
    pub(crate) fn set_score(&mut self, pid: i16, score: Score) {
        if let Some(name) = self.players.get(&pid).map(|p| p.info.name.clone()) {
            self.scores.set(&name, score);
            self.send_score(pid);
        }
    }
}
