//! The flags of an arena as pure state (no I/O, no clock): carried flags
//! (warzone style, `fg_wz`) and static turf flags (`fg_turf`). Every change
//! returns the [`FlagOut`] events the arena turns into packets; time comes in
//! as server ticks (1/100 s), so the rules are tested with a fake clock.
//!
//! Every flag has exactly one [`FlagState`]; a carried flag's carrier is a
//! player the caller says is in the arena.

use conf::ArenaConfig;
use tracing::warn;

/// Most flags an arena may have (ASSS's limit).
pub const MAX_FLAGS: usize = 255;

/// Where a flag is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlagState {
    /// Not in play (before a game, or waiting to be placed again).
    None,
    /// On the map at (x, y) tiles.
    OnMap {
        /// X, tiles.
        x: i16,
        /// Y, tiles.
        y: i16,
    },
    /// Carried by a player.
    Carried {
        /// The carrier.
        pid: i16,
    },
}

/// One flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flag {
    /// Where it is.
    pub state: FlagState,
    /// Owner freq (−1 = neutral).
    pub freq: i16,
    /// When it was last put on the map (ticks): the blank delay runs from
    /// here.
    pub placed_at: u32,
}

/// How many flags a player may carry (`Flag:CarryFlags`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Carry {
    /// 0: flags are not carried (turf).
    Turf,
    /// 1: any number.
    All,
    /// n > 1: up to n − 1.
    Limit(u32),
}

impl Carry {
    fn from_setting(v: i32) -> Carry {
        match v {
            i32::MIN..=0 => Carry::Turf,
            1 => Carry::All,
            n => Carry::Limit(n as u32 - 1),
        }
    }

    fn max(self) -> u32 {
        match self {
            Carry::Turf => 0,
            Carry::All => MAX_FLAGS as u32,
            Carry::Limit(n) => n,
        }
    }
}

/// The `[Flag]` settings the flag rules use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlagSettings {
    /// `CarryFlags`.
    pub carry: Carry,
    /// `FlagCount` as a range (`5 - 7`).
    pub count: (u32, u32),
    /// `SpawnX`, `SpawnY`, `SpawnRadius` (tiles).
    pub spawn: (i16, i16, i16),
    /// `DropRadius` (tiles).
    pub drop_radius: i16,
    /// `NeutRadius` (tiles).
    pub neut_radius: i16,
    /// `DropOwned`: dropped flags keep the dropper's freq.
    pub drop_owned: bool,
    /// `NeutOwned`: neut-dropped flags keep the freq.
    pub neut_owned: bool,
    /// `SafeOwned`: flags dropped in a safe zone keep the freq.
    pub safe_owned: bool,
    /// `TKOwned`: flags dropped by a team kill keep the freq.
    pub tk_owned: bool,
    /// `FriendlyTransfer`: a team kill hands the flags to the killer.
    pub friendly_transfer: bool,
    /// `FlagBlankDelay` (ticks after a flag is placed when it cannot be
    /// touched).
    pub blank_delay: u32,
    /// `EnterGameFlaggingDelay` (ticks after entering the game).
    pub enter_delay: u32,
    /// `NoDataFlagDropDelay` (ticks without a position before a carrier's
    /// flags are neuted; 0 = never).
    pub no_data_delay: u32,
    /// `ResetDelay` (ticks between flag games).
    pub reset_delay: u32,
    /// `WinDelay` (ticks between a flag landing and the win check).
    pub win_delay: u32,
    /// `TouchDistance` (ours): farthest a player's last position may be
    /// from a flag he touches, tiles (0 = not checked).
    pub touch_distance: i32,
}

/// Parses a `FlagCount` value: `n` or `min - max`; `None` if malformed.
pub fn parse_count(text: &str) -> Option<(u32, u32)> {
    let text = text.trim();
    let (lo, hi) = match text.split_once('-') {
        Some((a, b)) => (a.trim().parse::<u32>().ok()?, b.trim().parse::<u32>().ok()?),
        None => {
            let n = text.parse::<u32>().ok()?;
            (n, n)
        }
    };
    let hi = hi.min(MAX_FLAGS as u32);
    (lo <= hi).then_some((lo, hi))
}

impl FlagSettings {
    /// Reads the `[Flag]` section; a malformed `FlagCount` is logged and
    /// counted in `bad`, and means no flags.
    pub fn from_config(cfg: &ArenaConfig, bad: &mut u64) -> FlagSettings {
        let int = |key: &str, def: i32| cfg.get_int("Flag", key, def);
        let ticks = |key: &str, def: i32| int(key, def).max(0) as u32;
        let count = match cfg.get_str("Flag", "FlagCount") {
            None => (0, 0),
            Some(text) => parse_count(text).unwrap_or_else(|| {
                *bad += 1;
                warn!(
                    arena = cfg.name(),
                    value = text,
                    "malformed Flag:FlagCount; no flags"
                );
                (0, 0)
            }),
        };
        let tile = |v: i32| v.clamp(0, 1023) as i16;
        FlagSettings {
            carry: Carry::from_setting(int("CarryFlags", 1)),
            count,
            spawn: (
                tile(int("SpawnX", 512)),
                tile(int("SpawnY", 512)),
                tile(int("SpawnRadius", 50)),
            ),
            drop_radius: tile(int("DropRadius", 2)),
            neut_radius: tile(int("NeutRadius", 2)),
            drop_owned: int("DropOwned", 1) != 0,
            neut_owned: int("NeutOwned", 0) != 0,
            safe_owned: int("SafeOwned", 1) != 0,
            tk_owned: int("TKOwned", 1) != 0,
            friendly_transfer: int("FriendlyTransfer", 1) != 0,
            blank_delay: ticks("FlagBlankDelay", 0),
            enter_delay: ticks("EnterGameFlaggingDelay", 0),
            no_data_delay: ticks("NoDataFlagDropDelay", 0),
            reset_delay: ticks("ResetDelay", 0),
            win_delay: ticks("WinDelay", 200),
            touch_distance: int("TouchDistance", 30).max(0),
        }
    }
}

/// What a change means for the players (turned into packets by the arena).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FlagOut {
    /// S2C 0x12.
    Location {
        /// Flag id.
        fid: i16,
        /// X, tiles.
        x: i16,
        /// Y, tiles.
        y: i16,
        /// Owner.
        freq: i16,
    },
    /// S2C 0x13.
    Pickup {
        /// Flag id.
        fid: i16,
        /// Player.
        pid: i16,
    },
    /// S2C 0x16.
    Drop {
        /// Player.
        pid: i16,
    },
    /// S2C 0x22 with every owner (turf).
    Turf,
    /// One freq owns every flag: the game is won (the arena pays and
    /// calls [`FlagCore::reset`]).
    Win {
        /// The winners.
        freq: i16,
    },
}

/// What the rules need to know about a player.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Toucher {
    /// Player id.
    pub pid: i16,
    /// Freq.
    pub freq: i16,
    /// In a ship (not spectating).
    pub in_ship: bool,
    /// Last position, tiles.
    pub x: i16,
    /// Last position, tiles.
    pub y: i16,
    /// When he entered the game (ship), ticks.
    pub since: u32,
    /// In a safe zone.
    pub safe: bool,
}

/// Why a flag touch was ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No such flag.
    NoSuchFlag,
    /// The flag is carried or not in play.
    NotOnMap,
    /// The player is spectating.
    Spectator,
    /// Too far from the flag.
    TooFar,
    /// The flag was placed less than the blank delay ago, or the player
    /// entered the game less than the entering delay ago.
    TooSoon,
    /// He carries all he may.
    CarryLimit,
}

/// How carried flags are lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loss {
    /// The flag timer ran out (C2S 0x15) outside a safe zone.
    Dropped,
    /// The flag timer ran out in a safe zone.
    InSafe,
    /// Ship or freq change, leaving, no position data: neut.
    Neut,
}

/// Which game the flags play.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Carried flags, one freq owning all of them wins (`fg_wz`).
    Warzone,
    /// Static flags claimed by touch (`fg_turf`).
    Turf,
}

/// Answers "may a flag stand on this tile?" (the map).
pub type TileFree<'a> = &'a dyn Fn(i16, i16) -> bool;

/// The flags of one arena.
#[derive(Clone, Debug)]
pub struct FlagCore {
    /// The game.
    pub kind: Kind,
    /// The settings.
    pub settings: FlagSettings,
    /// Every flag (index = flag id); in a warzone game only the first
    /// `current` are in play.
    pub flags: Vec<Flag>,
    /// Flags in the current warzone game (0 = between games).
    pub current: usize,
    /// When the next warzone game starts (ticks).
    pub next_game_at: u32,
    /// When to check for a win (ticks).
    pub win_check_at: Option<u32>,
    rng: u64,
}

/// `a` is at or after `b` on the wrapping tick clock.
fn reached(now: u32, at: u32) -> bool {
    (now.wrapping_sub(at) as i32) >= 0
}

impl FlagCore {
    /// A warzone game; the first flags appear at the first tick.
    pub fn warzone(settings: FlagSettings, now: u32, seed: u64) -> FlagCore {
        FlagCore {
            kind: Kind::Warzone,
            flags: Vec::new(),
            current: 0,
            next_game_at: now,
            win_check_at: None,
            rng: seed | 1,
            settings,
        }
    }

    /// A turf game on the map's static flags (tiles), all neutral.
    pub fn turf(settings: FlagSettings, tiles: &[(u16, u16)]) -> FlagCore {
        let flags = tiles
            .iter()
            .take(MAX_FLAGS)
            .map(|&(x, y)| Flag {
                state: FlagState::OnMap {
                    x: x as i16,
                    y: y as i16,
                },
                freq: -1,
                placed_at: 0,
            })
            .collect::<Vec<_>>();
        FlagCore {
            kind: Kind::Turf,
            current: flags.len(),
            flags,
            next_game_at: 0,
            win_check_at: None,
            rng: 1,
            settings,
        }
    }

    fn random(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }

    /// Flags `pid` carries.
    pub fn carried(&self, pid: i16) -> u32 {
        self.flags
            .iter()
            .filter(|f| f.state == FlagState::Carried { pid })
            .count() as u32
    }

    /// Flags owned by `freq` (on the map or carried).
    pub fn freq_flags(&self, freq: i16) -> u32 {
        self.flags[..self.current.min(self.flags.len())]
            .iter()
            .filter(|f| f.freq == freq && f.state != FlagState::None)
            .count() as u32
    }

    /// The freq owning every flag in play, on the map or carried (ASSS's
    /// "is winning", which `enf_flagwin` asks), in either kind of game.
    pub fn winning_freq(&self) -> Option<i16> {
        let in_play = self.current.min(self.flags.len());
        let first = self.flags.first()?.freq;
        (in_play > 0 && first >= 0 && self.freq_flags(first) as usize == in_play).then_some(first)
    }

    /// Turf owners in flag id order.
    pub fn owners(&self) -> Vec<i16> {
        self.flags.iter().map(|f| f.freq).collect()
    }

    /// The location packets a player entering the arena needs.
    pub fn entry_view(&self) -> Vec<FlagOut> {
        if self.kind == Kind::Turf {
            return vec![FlagOut::Turf];
        }
        self.flags
            .iter()
            .enumerate()
            .filter_map(|(fid, f)| match f.state {
                FlagState::OnMap { x, y } => Some(FlagOut::Location {
                    fid: fid as i16,
                    x,
                    y,
                    freq: f.freq,
                }),
                _ => None,
            })
            .collect()
    }

    /// A free tile near (cx, cy) within `r` (+ tries), not on another flag.
    fn find_spot(
        &mut self,
        fid: usize,
        cx: i16,
        cy: i16,
        r: i16,
        free: TileFree<'_>,
    ) -> (i16, i16) {
        for tries in 0..30i32 {
            let radius = i32::from(r) + tries;
            let (x, y) = if radius == 0 {
                (i32::from(cx), i32::from(cy))
            } else {
                let span = (2 * radius + 1) as u64;
                let dx = (self.random() % span) as i32 - radius;
                let dy = (self.random() % span) as i32 - radius;
                (i32::from(cx) + dx, i32::from(cy) + dy)
            };
            let (x, y) = (x.clamp(1, 1022) as i16, y.clamp(1, 1022) as i16);
            let taken = self
                .flags
                .iter()
                .enumerate()
                .any(|(i, f)| i != fid && f.state == FlagState::OnMap { x, y });
            if !taken && free(x, y) {
                return (x, y);
            }
        }
        (cx, cy)
    }

    /// Puts flag `fid` on the map near (cx, cy).
    fn place(
        &mut self,
        fid: usize,
        (cx, cy, r): (i16, i16, i16),
        freq: i16,
        now: u32,
        free: TileFree<'_>,
        out: &mut Vec<FlagOut>,
    ) {
        let (x, y) = self.find_spot(fid, cx, cy, r, free);
        self.flags[fid] = Flag {
            state: FlagState::OnMap { x, y },
            freq,
            placed_at: now,
        };
        out.push(FlagOut::Location {
            fid: fid as i16,
            x,
            y,
            freq,
        });
        self.win_check_at = Some(now.wrapping_add(self.settings.win_delay));
    }

    /// Time passes: a new game starts, a win is found.
    pub fn tick(&mut self, now: u32, free: TileFree<'_>) -> Vec<FlagOut> {
        let mut out = Vec::new();
        if self.kind == Kind::Turf {
            return out;
        }
        if self.current == 0 && reached(now, self.next_game_at) {
            let (lo, hi) = self.settings.count;
            if hi > 0 {
                let n = lo + (self.random() % u64::from(hi - lo + 1)) as u32;
                self.current = n as usize;
                self.flags = vec![
                    Flag {
                        state: FlagState::None,
                        freq: -1,
                        placed_at: now,
                    };
                    self.current
                ];
                for fid in 0..self.current {
                    self.place(fid, self.settings.spawn, -1, now, free, &mut out);
                }
            }
        }
        if let Some(at) = self.win_check_at {
            if reached(now, at) {
                self.win_check_at = None;
                if let Some(freq) = self.winner() {
                    out.push(FlagOut::Win { freq });
                }
            }
        }
        out
    }

    /// The freq owning every flag of the game, all on the map.
    pub fn winner(&self) -> Option<i16> {
        if self.kind != Kind::Warzone || self.current == 0 {
            return None;
        }
        let first = self.flags.first()?.freq;
        let all = self.flags[..self.current]
            .iter()
            .all(|f| f.freq == first && matches!(f.state, FlagState::OnMap { .. }));
        (all && first >= 0).then_some(first)
    }

    /// `p` touches flag `fid`.
    pub fn touch(&mut self, p: &Toucher, fid: i16, now: u32) -> Result<Vec<FlagOut>, Refusal> {
        let i = usize::try_from(fid).map_err(|_| Refusal::NoSuchFlag)?;
        let f = *self.flags[..self.current.min(self.flags.len())]
            .get(i)
            .ok_or(Refusal::NoSuchFlag)?;
        if !p.in_ship {
            return Err(Refusal::Spectator);
        }
        let FlagState::OnMap { x, y } = f.state else {
            return Err(Refusal::NotOnMap);
        };
        let d = self.settings.touch_distance;
        if d > 0
            && ((i32::from(p.x) - i32::from(x)).abs() > d
                || (i32::from(p.y) - i32::from(y)).abs() > d)
        {
            return Err(Refusal::TooFar);
        }
        let blank = if self.kind == Kind::Turf {
            0
        } else {
            self.settings.blank_delay
        };
        if !reached(now, f.placed_at.wrapping_add(blank))
            || !reached(now, p.since.wrapping_add(self.settings.enter_delay))
        {
            return Err(Refusal::TooSoon);
        }
        if self.kind == Kind::Turf {
            if f.freq == p.freq {
                return Ok(Vec::new());
            }
            self.flags[i].freq = p.freq;
            return Ok(vec![FlagOut::Pickup { fid, pid: p.pid }, FlagOut::Turf]);
        }
        if self.carried(p.pid) >= self.settings.carry.max() {
            return Err(Refusal::CarryLimit);
        }
        self.flags[i] = Flag {
            state: FlagState::Carried { pid: p.pid },
            freq: p.freq,
            placed_at: f.placed_at,
        };
        Ok(vec![FlagOut::Pickup { fid, pid: p.pid }])
    }

    /// `p` loses all his flags (`how`); they land near him (or at the
    /// spawn point if he has no position).
    pub fn lose(&mut self, p: &Toucher, how: Loss, now: u32, free: TileFree<'_>) -> Vec<FlagOut> {
        let mut out = Vec::new();
        if self.kind == Kind::Turf {
            return out;
        }
        let s = &self.settings;
        let (owned, r) = match how {
            Loss::Dropped => (s.drop_owned, s.drop_radius),
            Loss::InSafe => (s.safe_owned, s.drop_radius),
            Loss::Neut => (s.neut_owned, s.neut_radius),
        };
        let freq = if owned { p.freq } else { -1 };
        let at = if p.x == 0 && p.y == 0 {
            s.spawn
        } else {
            (p.x, p.y, r)
        };
        if how != Loss::Neut && self.carried(p.pid) > 0 {
            out.push(FlagOut::Drop { pid: p.pid });
        }
        for fid in 0..self.flags.len() {
            if self.flags[fid].state == (FlagState::Carried { pid: p.pid }) {
                self.place(fid, at, freq, now, free, &mut out);
            }
        }
        out
    }

    /// `killer` killed `killed`: the flags go to the killer up to his
    /// carry limit (not to a team-killer unless `FriendlyTransfer`), the
    /// rest land near the killed player. Returns the flags transferred.
    pub fn kill(
        &mut self,
        killer: &Toucher,
        killed: &Toucher,
        now: u32,
        free: TileFree<'_>,
    ) -> (u32, Vec<FlagOut>) {
        let mut out = Vec::new();
        if self.kind == Kind::Turf || self.carried(killed.pid) == 0 {
            return (0, out);
        }
        let team_kill = killer.freq == killed.freq;
        let room = self
            .settings
            .carry
            .max()
            .saturating_sub(self.carried(killer.pid));
        let mut moved = 0;
        if !team_kill || self.settings.friendly_transfer {
            for f in self.flags.iter_mut() {
                if moved < room && f.state == (FlagState::Carried { pid: killed.pid }) {
                    f.state = FlagState::Carried { pid: killer.pid };
                    f.freq = killer.freq;
                    moved += 1;
                }
            }
        }
        // What the killer cannot carry lands near the dead player.
        let owned = if team_kill {
            self.settings.tk_owned
        } else {
            self.settings.drop_owned
        };
        let freq = if owned { killed.freq } else { -1 };
        let at = if killed.x == 0 && killed.y == 0 {
            self.settings.spawn
        } else {
            (killed.x, killed.y, self.settings.drop_radius)
        };
        for fid in 0..self.flags.len() {
            if self.flags[fid].state == (FlagState::Carried { pid: killed.pid }) {
                self.place(fid, at, freq, now, free, &mut out);
            }
        }
        (moved, out)
    }

    /// The game ends (a win when `freq` ≥ 0, else a reset): every flag
    /// leaves play (warzone; the next game starts after `ResetDelay`) or
    /// turns neutral (turf).
    pub fn reset(&mut self, now: u32) -> Vec<FlagOut> {
        if self.kind == Kind::Turf {
            for f in &mut self.flags {
                f.freq = -1;
            }
            return vec![FlagOut::Turf];
        }
        for f in &mut self.flags {
            *f = Flag {
                state: FlagState::None,
                freq: -1,
                placed_at: now,
            };
        }
        self.current = 0;
        self.win_check_at = None;
        self.next_game_at = now.wrapping_add(self.settings.reset_delay);
        Vec::new()
    }

    /// Staff moves flag `fid` to (x, y) owned by `freq` (`?moveflag`).
    pub fn move_flag(
        &mut self,
        fid: i16,
        x: i16,
        y: i16,
        freq: i16,
        now: u32,
    ) -> Option<Vec<FlagOut>> {
        let i = usize::try_from(fid)
            .ok()
            .filter(|&i| i < self.current.min(self.flags.len()))?;
        if self.kind == Kind::Turf {
            self.flags[i].freq = freq;
            return Some(vec![FlagOut::Turf]);
        }
        let mut out = Vec::new();
        if let FlagState::Carried { pid } = self.flags[i].state {
            // The client cannot lose one flag: drop them all, give back
            // the others.
            out.push(FlagOut::Drop { pid });
            for (j, f) in self.flags.iter().enumerate() {
                if j != i && f.state == (FlagState::Carried { pid }) {
                    out.push(FlagOut::Pickup { fid: j as i16, pid });
                }
            }
        }
        self.flags[i] = Flag {
            state: FlagState::OnMap { x, y },
            freq,
            placed_at: now,
        };
        out.push(FlagOut::Location { fid, x, y, freq });
        self.win_check_at = Some(now.wrapping_add(self.settings.win_delay));
        Some(out)
    }

    /// Carried flags whose carrier is not `present` go back on the map
    /// (neutral) near the spawn point (after a restart).
    pub fn drop_absent(
        &mut self,
        present: &dyn Fn(i16) -> bool,
        now: u32,
        free: TileFree<'_>,
    ) -> Vec<FlagOut> {
        let mut out = Vec::new();
        for fid in 0..self.flags.len() {
            if let FlagState::Carried { pid } = self.flags[fid].state {
                if !present(pid) {
                    self.place(fid, self.settings.spawn, -1, now, free, &mut out);
                }
            }
        }
        out
    }

    // ----- checkpoint -----------------------------------------------------

    /// The state worth keeping across a realm restart, as bytes.
    pub fn checkpoint(&self, out: &mut Vec<u8>) {
        out.push(match self.kind {
            Kind::Warzone => 1,
            Kind::Turf => 2,
        });
        out.extend_from_slice(&(self.current as u16).to_le_bytes());
        out.extend_from_slice(&(self.flags.len() as u16).to_le_bytes());
        for f in &self.flags {
            let (tag, a, b) = match f.state {
                FlagState::None => (0u8, 0i16, 0i16),
                FlagState::OnMap { x, y } => (1, x, y),
                FlagState::Carried { pid } => (2, pid, 0),
            };
            out.push(tag);
            for v in [a, b, f.freq] {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
    }

    /// Restores [`FlagCore::checkpoint`] bytes if they fit this game;
    /// returns the bytes read, or `None` (nothing changed) if they do not.
    pub fn restore(&mut self, b: &[u8], now: u32) -> Option<usize> {
        let kind = match *b.first()? {
            1 => Kind::Warzone,
            2 => Kind::Turf,
            _ => return None,
        };
        let u16_at = |i: usize| Some(u16::from_le_bytes([*b.get(i)?, *b.get(i + 1)?]));
        let current = usize::from(u16_at(1)?);
        let n = usize::from(u16_at(3)?);
        if kind != self.kind || n > MAX_FLAGS || current > n {
            return None;
        }
        if kind == Kind::Turf && n != self.flags.len() {
            return None;
        }
        let mut flags = Vec::with_capacity(n);
        let mut at = 5;
        for _ in 0..n {
            let tag = *b.get(at)?;
            let a = u16_at(at + 1)? as i16;
            let c = u16_at(at + 3)? as i16;
            let freq = u16_at(at + 5)? as i16;
            at += 7;
            let state = match tag {
                0 => FlagState::None,
                1 => FlagState::OnMap { x: a, y: c },
                2 => FlagState::Carried { pid: a },
                _ => return None,
            };
            flags.push(Flag {
                state,
                freq,
                placed_at: now,
            });
        }
        if kind == Kind::Turf {
            // Positions come from the map; only the owners are kept.
            for (f, saved) in self.flags.iter_mut().zip(&flags) {
                f.freq = saved.freq;
            }
        } else {
            self.flags = flags;
            self.current = current;
            if current > 0 {
                self.win_check_at = Some(now.wrapping_add(self.settings.win_delay));
            }
        }
        Some(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> FlagSettings {
        FlagSettings {
            carry: Carry::All,
            count: (2, 2),
            spawn: (512, 512, 0),
            drop_radius: 0,
            neut_radius: 0,
            drop_owned: true,
            neut_owned: false,
            safe_owned: true,
            tk_owned: true,
            friendly_transfer: false,
            blank_delay: 100,
            enter_delay: 0,
            no_data_delay: 0,
            reset_delay: 500,
            win_delay: 0,
            touch_distance: 5,
        }
    }

    fn player(pid: i16, freq: i16, x: i16, y: i16) -> Toucher {
        Toucher {
            pid,
            freq,
            in_ship: true,
            x,
            y,
            since: 0,
            safe: false,
        }
    }

    const FREE: TileFree<'static> = &|_, _| true;

    /// Every flag has exactly one state and a carried flag's freq is its
    /// carrier's.
    fn consistent(fc: &FlagCore, freq_of: impl Fn(i16) -> i16) {
        for f in &fc.flags[..fc.current] {
            if let FlagState::Carried { pid } = f.state {
                assert_eq!(f.freq, freq_of(pid));
            }
        }
    }

    fn started() -> FlagCore {
        let mut fc = FlagCore::warzone(settings(), 1000, 7);
        let out = fc.tick(1000, FREE);
        assert_eq!(
            out.iter()
                .filter(|o| matches!(o, FlagOut::Location { .. }))
                .count(),
            2
        );
        // Two flags never share a tile.
        assert_ne!(fc.flags[0].state, fc.flags[1].state);
        fc
    }

    fn spot(fc: &FlagCore, fid: usize) -> (i16, i16) {
        match fc.flags[fid].state {
            FlagState::OnMap { x, y } => (x, y),
            other => panic!("flag {fid} is {other:?}"),
        }
    }

    #[test]
    fn flag_count_ranges_parse_and_bad_ones_are_refused() {
        assert_eq!(parse_count("5 - 7"), Some((5, 7)));
        assert_eq!(parse_count("3"), Some((3, 3)));
        assert_eq!(parse_count(" 2-300 "), Some((2, 255)));
        assert_eq!(parse_count("7 - 5"), None);
        assert_eq!(parse_count("many"), None);
        assert_eq!(parse_count("-3"), None);
    }

    #[test]
    fn pickup_is_refused_during_blank_delay_far_away_or_when_carried() {
        let mut fc = started();
        let (x, y) = spot(&fc, 0);
        let a = player(1, 0, x, y);
        assert_eq!(fc.touch(&a, 0, 1050), Err(Refusal::TooSoon));
        assert_eq!(
            fc.touch(&player(1, 0, x + 40, y), 0, 1200),
            Err(Refusal::TooFar)
        );
        assert_eq!(fc.touch(&a, 9, 1200), Err(Refusal::NoSuchFlag));
        assert_eq!(fc.touch(&a, -1, 1200), Err(Refusal::NoSuchFlag));
        let spec = Toucher {
            in_ship: false,
            ..a
        };
        assert_eq!(fc.touch(&spec, 0, 1200), Err(Refusal::Spectator));
        assert_eq!(
            fc.touch(&a, 0, 1200),
            Ok(vec![FlagOut::Pickup { fid: 0, pid: 1 }])
        );
        assert_eq!(
            fc.touch(&player(2, 1, x, y), 0, 1200),
            Err(Refusal::NotOnMap)
        );
        assert_eq!(fc.carried(1), 1);
        assert_eq!(fc.freq_flags(0), 1);
        consistent(&fc, |_| 0);
    }

    #[test]
    fn carry_limit_is_enforced() {
        let mut s = settings();
        s.carry = Carry::from_setting(2); // one flag
        let mut fc = FlagCore::warzone(s, 0, 3);
        fc.tick(0, FREE);
        let (x0, y0) = spot(&fc, 0);
        let (x1, y1) = spot(&fc, 1);
        assert!(fc.touch(&player(1, 0, x0, y0), 0, 500).is_ok());
        assert_eq!(
            fc.touch(&player(1, 0, x1, y1), 1, 500),
            Err(Refusal::CarryLimit)
        );
    }

    #[test]
    fn a_kill_transfers_to_the_killer_but_not_to_a_team_killer() {
        let mut fc = started();
        let (x, y) = spot(&fc, 0);
        fc.touch(&player(1, 0, x, y), 0, 1200).unwrap();
        let (moved, out) = fc.kill(&player(2, 1, 0, 0), &player(1, 0, 100, 100), 1300, FREE);
        assert_eq!(moved, 1);
        assert!(out.is_empty());
        assert_eq!(fc.carried(2), 1);
        assert_eq!(fc.flags[0].freq, 1);
        // A team kill without FriendlyTransfer: the flag lands near the
        // dead player, owned by his freq (TKOwned).
        let (moved, out) = fc.kill(&player(3, 1, 0, 0), &player(2, 1, 300, 300), 1400, FREE);
        assert_eq!(moved, 0);
        assert_eq!(
            out,
            vec![FlagOut::Location {
                fid: 0,
                x: 300,
                y: 300,
                freq: 1
            }]
        );
        assert_eq!(fc.carried(2), 0);
        consistent(&fc, |_| 1);
    }

    #[test]
    fn drops_are_owned_and_neuts_are_not() {
        let mut fc = started();
        let (x, y) = spot(&fc, 0);
        let a = player(1, 0, x, y);
        fc.touch(&a, 0, 1200).unwrap();
        let out = fc.lose(&player(1, 0, 200, 200), Loss::Dropped, 1300, FREE);
        assert_eq!(out[0], FlagOut::Drop { pid: 1 });
        assert_eq!(
            out[1],
            FlagOut::Location {
                fid: 0,
                x: 200,
                y: 200,
                freq: 0
            }
        );
        fc.touch(&player(1, 0, 200, 200), 0, 1400).unwrap();
        let out = fc.lose(&player(1, 0, 210, 210), Loss::Neut, 1500, FREE);
        assert_eq!(
            out,
            vec![FlagOut::Location {
                fid: 0,
                x: 210,
                y: 210,
                freq: -1
            }]
        );
        assert_eq!(fc.carried(1), 0);
    }

    #[test]
    fn one_freq_owning_every_flag_wins_and_the_next_game_waits() {
        let mut fc = started();
        for fid in 0..2 {
            let (x, y) = spot(&fc, fid);
            fc.touch(&player(1, 0, x, y), fid as i16, 1200).unwrap();
        }
        // Carried flags do not win; dropped owned ones do.
        assert_eq!(fc.tick(1250, FREE), vec![]);
        let out = fc.lose(&player(1, 0, 300, 300), Loss::Dropped, 1300, FREE);
        assert_eq!(out.len(), 3);
        assert_eq!(fc.tick(1300, FREE), vec![FlagOut::Win { freq: 0 }]);
        assert!(fc.reset(1300).is_empty());
        assert!(fc.flags.iter().all(|f| f.state == FlagState::None));
        assert_eq!(fc.tick(1700, FREE), vec![]);
        assert_eq!(fc.tick(1800, FREE).len(), 2);
    }

    #[test]
    fn turf_flags_change_owner_on_touch_and_survive_a_checkpoint() {
        let mut fc = FlagCore::turf(settings(), &[(10, 10), (20, 20)]);
        assert_eq!(fc.owners(), vec![-1, -1]);
        let out = fc.touch(&player(1, 3, 20, 20), 1, 0).unwrap();
        assert_eq!(out, vec![FlagOut::Pickup { fid: 1, pid: 1 }, FlagOut::Turf]);
        assert_eq!(fc.touch(&player(1, 3, 20, 20), 1, 0), Ok(vec![]));
        assert_eq!(fc.freq_flags(3), 1);
        let mut bytes = Vec::new();
        fc.checkpoint(&mut bytes);
        let mut again = FlagCore::turf(settings(), &[(10, 10), (20, 20)]);
        assert_eq!(again.restore(&bytes, 5), Some(bytes.len()));
        assert_eq!(again.owners(), vec![-1, 3]);
        // A checkpoint of another map's flags is refused.
        let mut other = FlagCore::turf(settings(), &[(10, 10)]);
        assert_eq!(other.restore(&bytes, 5), None);
        assert_eq!(other.restore(&bytes[..3], 5), None);
    }

    #[test]
    fn carried_flags_survive_a_checkpoint_and_absent_carriers_lose_them() {
        let mut fc = started();
        let (x, y) = spot(&fc, 1);
        fc.touch(&player(4, 2, x, y), 1, 1200).unwrap();
        let mut bytes = Vec::new();
        fc.checkpoint(&mut bytes);
        let mut again = FlagCore::warzone(settings(), 0, 9);
        again.restore(&bytes, 0).unwrap();
        assert_eq!(again.carried(4), 1);
        assert_eq!(again.flags[0].state, fc.flags[0].state);
        let out = again.drop_absent(&|pid| pid == 4, 10, FREE);
        assert!(out.is_empty());
        let out = again.drop_absent(&|_| false, 10, FREE);
        assert_eq!(out.len(), 1);
        assert_eq!(again.carried(4), 0);
    }

    #[test]
    fn random_play_keeps_every_flag_in_one_consistent_state() {
        let mut s = settings();
        s.count = (3, 6);
        s.carry = Carry::from_setting(3);
        s.blank_delay = 0;
        s.touch_distance = 0;
        s.spawn = (512, 512, 3);
        let mut fc = FlagCore::warzone(s, 0, 11);
        let mut rng = 0x1234_5678_9abc_def1u64;
        let mut next = move |n: u64| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng % n
        };
        let freq_of = |pid: i16| pid % 2;
        let mut now = 0u32;
        for _ in 0..5000 {
            now += 7;
            let pid = next(6) as i16;
            let p = player(
                pid,
                freq_of(pid),
                500 + next(30) as i16,
                500 + next(30) as i16,
            );
            match next(6) {
                0 => {
                    let _ = fc.touch(&p, next(8) as i16 - 1, now);
                }
                1 => {
                    fc.lose(&p, Loss::Dropped, now, FREE);
                }
                2 => {
                    fc.lose(&p, Loss::Neut, now, FREE);
                }
                3 => {
                    let k = next(6) as i16;
                    if k != pid {
                        let killer = player(k, freq_of(k), 0, 0);
                        fc.kill(&killer, &p, now, FREE);
                    }
                }
                4 => {
                    if fc
                        .tick(now, FREE)
                        .iter()
                        .any(|o| matches!(o, FlagOut::Win { .. }))
                    {
                        fc.reset(now);
                    }
                }
                _ => {
                    let _ = fc.move_flag(next(7) as i16, 400, 400 + next(3) as i16, -1, now);
                }
            }
            consistent(&fc, freq_of);
            let carried: u32 = (0..6).map(|pid| fc.carried(pid)).sum();
            let in_hands = fc
                .flags
                .iter()
                .filter(|f| matches!(f.state, FlagState::Carried { .. }))
                .count();
            assert_eq!(carried as usize, in_hands);
            assert!((0..6).all(|pid| fc.carried(pid) <= 2), "carry limit");
            assert!(fc.flags.len() <= MAX_FLAGS && fc.current <= fc.flags.len());
        }
    }
}
