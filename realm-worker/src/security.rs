//! Security checks (`docs/protocol/game-protocol.md` §20): the seeds every
//! player of the arena shares (S2C 0x18 on entry, without a checksum
//! request), the periodic checksum request to players who are playing, and
//! the check of their answers (C2S 0x1A) against the settings and map
//! checksums for the request's key.
//!
//! A missing answer, a wrong checksum or an answer nobody asked for is a
//! violation: logged (target `malicious`), counted per player and shown in
//! `?info`; with `Security:SecurityKickoff` the player is kicked.

use std::time::{Duration, Instant};

use ipc_proto::{Delivery, Target, ZoneCall};
use ss_proto::game::{S2CPacket, SecurityResponse, SecuritySeeds};
use tracing::{debug, info, warn};

use crate::arena::Arena;

/// How long a player has to answer a checksum request.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(15);
/// Default time between checksum requests.
const DEFAULT_INTERVAL_MILLIS: i32 = 60_000;
/// Shortest accepted time between checksum requests.
const MIN_INTERVAL_MILLIS: i32 = 500;
/// Violations of one player are logged at most this often after the first
/// few (a client flooding answers must not flood the log).
const LOG_EVERY: Duration = Duration::from_secs(10);
/// Violations of one player logged before the rate limit applies.
const LOG_FREE: u32 = 5;

/// Capability: not kicked for violations.
const CAP_BYPASS: &str = "bypasssecurity";
/// Capability: violations are not logged.
const CAP_SUPPRESS: &str = "suppresssecurity";

/// What went wrong in a security check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Violation {
    /// No answer within [`RESPONSE_TIMEOUT`].
    NoResponse,
    /// An answer when none was asked for.
    Unsolicited,
    /// The answer is shorter than the packet.
    BadLength,
    /// Settings checksum mismatch.
    Settings,
    /// Map checksum mismatch.
    Map,
    /// Exe checksum mismatch (only with an exe checksum table).
    Exe,
}

impl Violation {
    /// How it is logged and shown.
    pub fn describe(self) -> &'static str {
        match self {
            Violation::NoResponse => "security packet not returned",
            Violation::Unsolicited => "security response without a request",
            Violation::BadLength => "security response of a bad length",
            Violation::Settings => "settings checksum mismatch",
            Violation::Map => "map checksum mismatch",
            Violation::Exe => "exe checksum mismatch",
        }
    }

    /// Whether `Security:SecurityKickoff` kicks for it (a short packet is
    /// only logged, as in ASSS).
    fn kicks(self) -> bool {
        self != Violation::BadLength
    }
}

/// One player's security state.
#[derive(Clone, Debug, Default)]
pub struct PlayerSecurity {
    /// He has sent a position: he has the map and settings, so he is asked.
    pub sent_position: bool,
    /// The open request: when it was sent and its key.
    pub awaiting: Option<(Instant, u32)>,
    /// Violations so far in this arena.
    pub violations: u32,
    /// The latest violation.
    pub last_violation: Option<Violation>,
    /// Answers checked.
    pub responses: u32,
    /// Exe checksum of his latest answer.
    pub last_exe: Option<u32>,
    /// When a violation of his was last logged.
    logged_at: Option<Instant>,
    /// A kick has been asked for.
    kicked: bool,
}

/// The arena's security state: the current seeds and request schedule.
#[derive(Clone, Debug)]
pub struct ArenaSecurity {
    /// The current seeds and key.
    pub seeds: SecuritySeeds,
    /// When the next request goes out.
    next_send: Instant,
    /// Time between requests (`Security:SecurityIntervalMillis`).
    interval: Duration,
    /// `Security:SecurityKickoff`.
    kickoff: bool,
}

/// Reads `[Security]` settings (zone-wide, from `global.conf`).
fn settings(global: &conf::ConfigFile) -> (Duration, bool) {
    let millis = global
        .get_int(
            "Security",
            "SecurityIntervalMillis",
            DEFAULT_INTERVAL_MILLIS,
        )
        .max(MIN_INTERVAL_MILLIS);
    let kickoff = global.get_int("Security", "SecurityKickoff", 0) != 0;
    (Duration::from_millis(millis as u64), kickoff)
}

impl ArenaSecurity {
    /// A state with fresh seeds from `random`, the first request one
    /// interval after `now`.
    pub fn new(now: Instant, global: &conf::ConfigFile, mut random: impl FnMut() -> u32) -> Self {
        let (interval, kickoff) = settings(global);
        ArenaSecurity {
            seeds: SecuritySeeds {
                green_seed: random(),
                door_seed: random(),
                timestamp: ipc_proto::monotonic_ticks(),
                checksum_key: random(),
            },
            next_send: now + interval,
            interval,
            kickoff,
        }
    }

    /// Takes new settings after a reload.
    pub fn reconfigure(&mut self, now: Instant, global: &conf::ConfigFile) {
        let (interval, kickoff) = settings(global);
        if interval != self.interval {
            self.next_send = self.next_send.min(now + interval);
        }
        self.interval = interval;
        self.kickoff = kickoff;
    }

    /// Whether violations kick.
    pub fn kickoff(&self) -> bool {
        self.kickoff
    }
}

impl Arena {
    /// S2C 0x18 to a player entering: the arena's seeds, key 0 (no
    /// checksum request: he has no map yet).
    pub(crate) fn security_on_enter(&mut self, pid: i16) {
        let seeds = SecuritySeeds {
            checksum_key: 0,
            ..self.security.seeds
        };
        self.send_packet(
            Target::Player(pid),
            Delivery::Reliable,
            &S2CPacket::Security(seeds),
        );
    }

    /// Periodic work: overdue answers, and a new round of seeds and
    /// requests when it is due.
    pub(crate) fn security_tick(&mut self, now: Instant) {
        let overdue: Vec<i16> = self
            .players
            .iter()
            .filter(|(_, p)| {
                p.security.awaiting.is_some_and(|(sent, _)| {
                    now.saturating_duration_since(sent) >= RESPONSE_TIMEOUT
                })
            })
            .map(|(&pid, _)| pid)
            .collect();
        for pid in overdue {
            if let Some(p) = self.players.get_mut(&pid) {
                p.security.awaiting = None;
            }
            self.security_violation(now, pid, Violation::NoResponse);
        }
        if now < self.security.next_send {
            return;
        }
        self.security.next_send = now + self.security.interval;
        self.new_security_round(now);
    }

    /// New seeds and key for everyone; the key is asked of every player who
    /// has sent a position and has no open request.
    pub(crate) fn new_security_round(&mut self, now: Instant) {
        let green_seed = self.next_random() as u32;
        let door_seed = self.next_random() as u32;
        let checksum_key = if self.assets.exe_table.is_empty() {
            self.next_random() as u32
        } else {
            let i = (self.next_random() % self.assets.exe_table.len() as u64) as usize;
            self.assets.exe_table[i].0
        };
        self.security.seeds = SecuritySeeds {
            green_seed,
            door_seed,
            timestamp: ipc_proto::monotonic_ticks(),
            checksum_key,
        };
        let mut asked = Vec::new();
        for (&pid, p) in &mut self.players {
            if p.security.sent_position && p.security.awaiting.is_none() {
                p.security.awaiting = Some((now, checksum_key));
                asked.push(pid);
            }
        }
        debug!(realm = %self.name, players = asked.len(), "security request sent");
        let seeds = self.security.seeds;
        self.send_to_list(&asked, &S2CPacket::Security(seeds));
    }

    /// C2S 0x1A, raw (its length is checked here).
    pub(crate) fn security_response(&mut self, pid: i16, bytes: &[u8]) {
        let now = Instant::now();
        let resp = match ss_proto::game::C2SPacket::decode(bytes) {
            Ok(ss_proto::game::C2SPacket::SecurityResponse(r)) => r,
            _ => {
                self.security_violation(now, pid, Violation::BadLength);
                return;
            }
        };
        let Some(p) = self.players.get_mut(&pid) else {
            return;
        };
        let continuum = p.info.continuum;
        p.security.last_exe = Some(resp.exe_checksum);
        // The client's own ping figure is in ticks.
        p.lag.client_ping = u32::from(resp.average_ping) * 10;
        let Some((_, key)) = p.security.awaiting.take() else {
            self.security_violation(now, pid, Violation::Unsolicited);
            return;
        };
        p.security.responses += 1;
        for v in self.check_response(&resp, key, continuum) {
            self.security_violation(now, pid, v);
        }
    }

    /// The mismatches of an answer to the request with `key`.
    pub(crate) fn check_response(
        &self,
        resp: &SecurityResponse,
        key: u32,
        continuum: bool,
    ) -> Vec<Violation> {
        let mut found = Vec::new();
        if resp.settings_checksum != self.assets.settings.checksum(key) {
            found.push(Violation::Settings);
        }
        if let Some(map) = self.assets.decoded_map() {
            if resp.map_checksum != map.security_checksum(key) {
                found.push(Violation::Map);
            }
        }
        // The exe checksum is checked only against the operator's table
        // (Continuum clients); otherwise it is recorded.
        if continuum {
            let expected = self
                .assets
                .exe_table
                .iter()
                .find(|(k, _)| *k == key)
                .map(|&(_, sum)| sum);
            if expected.is_some_and(|sum| sum != resp.exe_checksum) {
                found.push(Violation::Exe);
            }
        }
        found
    }

    /// Logs and counts a violation; kicks with `Security:SecurityKickoff`.
    fn security_violation(&mut self, now: Instant, pid: i16, v: Violation) {
        let kickoff = self.security.kickoff();
        let Some(p) = self.players.get_mut(&pid) else {
            return;
        };
        p.security.violations = p.security.violations.saturating_add(1);
        p.security.last_violation = Some(v);
        let caps = &self.assets.caps;
        let suppress = caps.group_has(&p.group, CAP_SUPPRESS);
        let log_due = p.security.violations <= LOG_FREE
            || p.security
                .logged_at
                .is_none_or(|t| now.saturating_duration_since(t) >= LOG_EVERY);
        if !suppress && log_due {
            p.security.logged_at = Some(now);
            warn!(
                target: "malicious",
                realm = %self.name,
                pid,
                name = %p.info.name,
                violations = p.security.violations,
                "security: {}",
                v.describe()
            );
        }
        let kick =
            kickoff && v.kicks() && !p.security.kicked && !caps.group_has(&p.group, CAP_BYPASS);
        if kick {
            p.security.kicked = true;
            info!(realm = %self.name, pid, name = %p.info.name, "kicking off due to security violation");
            self.zone_call(ZoneCall::KickWithMessage {
                pid,
                text: format!("You have been kicked: {}.", v.describe()),
                ban_secs: 0,
            });
        }
    }

    /// The `?info` line about a player's security checks.
    pub(crate) fn security_info(&self, pid: i16) -> Option<String> {
        let p = self.players.get(&pid)?;
        let s = &p.security;
        let last = s.last_violation.map_or("none", Violation::describe);
        let exe = s
            .last_exe
            .map_or_else(|| "-".to_string(), |e| format!("{e:#010x}"));
        Some(format!(
            "{}: security: violations={}  last={}  answers={}  exe={}",
            p.info.name, s.violations, last, s.responses, exe
        ))
    }
}
