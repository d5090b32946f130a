//! Soccer as pure state (no I/O, no clock): the balls of an arena, the
//! goal modes and the team scores (`docs/protocol/game-protocol.md` §15).
//! Every change returns the ball packets (S2C 0x2E) the arena sends; time
//! comes in as server ticks, so the rules are tested with a fake clock.
//!
//! Every ball has exactly one [`BallState`]; a carried ball's carrier is a
//! player the caller says is in the arena, and a player carries at most one
//! ball.

use conf::ArenaConfig;
use ss_proto::game::BallPacket;
use tracing::warn;

/// Most balls an arena may have (what Continuum supports).
pub const MAX_BALLS: usize = 8;
/// Team score slots (freqs 0–7, as ASSS keeps them).
pub const TEAM_SLOTS: usize = 8;
/// Where a removed or waiting ball is shown (pixels): off the map, so no
/// client can pick it up.
pub const PHASED_XY: i16 = 30000;
/// A fire packet's time further than this from the server's clock (ticks)
/// is replaced by the server's time (pickups quote it back).
const MAX_TIME_SKEW: u32 = 500;
/// Ticks of `PassDelay` forgiven: a client whose synced clock runs a
/// little ahead of ours picks up a passed ball a little early.
pub const PASS_DELAY_SLACK: u32 = 10;

/// Which goals a freq may score on, and who gets the point (`Soccer:Mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GoalMode {
    /// 0: any goal, by anyone; no team scores.
    All,
    /// 1: two teams (even and odd freqs); even freqs defend the goals on
    /// the left half (x < 512), odd ones those on the right.
    LeftRight,
    /// 2: as `LeftRight` with the top half (y < 512) for even freqs.
    TopBottom,
    /// 3: four teams (freq mod 4), each defending the goals of one map
    /// quadrant (0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right)
    /// and scoring on the other three.
    Corners31,
    /// 4: four teams; team t scores only on quadrant 3 − t's goals.
    Corners13,
    /// 5: as `Corners31` with the map cut by its diagonals into sides
    /// (0 left, 1 bottom, 2 top, 3 right).
    Sides31,
    /// 6: as `Corners13` with sides.
    Sides13,
}

/// The names `Soccer:Mode` accepts besides the numbers 0–6 (ASSS's).
pub const MODE_NAMES: &[(&str, i32)] = &[
    ("GOAL_ALL", 0),
    ("GOAL_LEFTRIGHT", 1),
    ("GOAL_TOPBOTTOM", 2),
    ("GOAL_CORNERS_3_1", 3),
    ("GOAL_CORNERS_1_3", 4),
    ("GOAL_SIDES_3_1", 5),
    ("GOAL_SIDES_1_3", 6),
];

/// The side of the map (cut along its diagonals) a tile is on: 0 left,
/// 1 bottom, 2 top, 3 right.
fn side(x: i32, y: i32) -> usize {
    let below_anti = x >= 1024 - y;
    match (x < y, below_anti) {
        (true, false) => 0,
        (true, true) => 1,
        (false, false) => 2,
        (false, true) => 3,
    }
}

impl GoalMode {
    /// The mode numbered `n`.
    pub fn from_number(n: i32) -> Option<GoalMode> {
        Some(match n {
            0 => GoalMode::All,
            1 => GoalMode::LeftRight,
            2 => GoalMode::TopBottom,
            3 => GoalMode::Corners31,
            4 => GoalMode::Corners13,
            5 => GoalMode::Sides31,
            6 => GoalMode::Sides13,
            _ => return None,
        })
    }

    /// Teams of this mode (0 = no teams).
    pub fn teams(self) -> usize {
        match self {
            GoalMode::All => 0,
            GoalMode::LeftRight | GoalMode::TopBottom => 2,
            _ => 4,
        }
    }

    /// The team `freq` plays for.
    pub fn team_of(self, freq: i16) -> Option<usize> {
        let n = self.teams();
        (n > 0 && freq >= 0).then(|| freq as usize % n)
    }

    /// The team defending the goal at tile (x, y) (`None` in mode 0).
    pub fn goal_owner(self, x: i32, y: i32) -> Option<usize> {
        Some(match self {
            GoalMode::All => return None,
            GoalMode::LeftRight => usize::from(x >= 512),
            GoalMode::TopBottom => usize::from(y >= 512),
            GoalMode::Corners31 | GoalMode::Corners13 => {
                usize::from(x >= 512) + 2 * usize::from(y >= 512)
            }
            GoalMode::Sides31 | GoalMode::Sides13 => side(x, y),
        })
    }

    /// Whether a player of `freq` may score on the goal at tile (x, y).
    pub fn may_score(self, freq: i16, x: i32, y: i32) -> bool {
        let Some(owner) = self.goal_owner(x, y) else {
            return true;
        };
        let Some(team) = self.team_of(freq) else {
            return false;
        };
        match self {
            GoalMode::Corners13 | GoalMode::Sides13 => owner == 3 - team,
            _ => owner != team,
        }
    }
}

/// What a goal did to the team scores.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GoalScore {
    /// The scorer's team (None in mode 0).
    pub team: Option<usize>,
    /// A capture goal on a team that had no points left: nothing moved.
    pub null_goal: bool,
    /// The game is over: this team won.
    pub winner: Option<usize>,
}

/// The team scores of a soccer game (`points_goal`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SoccerScoring {
    /// The goal mode.
    pub mode: GoalMode,
    /// `Soccer:CapturePoints`: > 0 every team starts with that many and a
    /// goal takes one from the defending team; < 0 a goal is worth one
    /// point and −CapturePoints win; 0 goals are only counted.
    pub capture: i32,
    /// `Soccer:WinBy`: the lead needed to win a first-to game.
    pub win_by: i32,
    /// Score of each team.
    pub scores: [i32; TEAM_SLOTS],
}

impl SoccerScoring {
    /// A fresh game.
    pub fn new(mode: GoalMode, capture: i32, win_by: i32) -> SoccerScoring {
        let mut s = SoccerScoring {
            mode,
            capture,
            win_by,
            scores: [0; TEAM_SLOTS],
        };
        s.reset();
        s
    }

    /// Whether goals take points from the defending team. The 1-3 modes
    /// always count goals (as ASSS).
    pub fn captures(&self) -> bool {
        self.capture > 0
            && matches!(
                self.mode,
                GoalMode::LeftRight | GoalMode::TopBottom | GoalMode::Corners31 | GoalMode::Sides31
            )
    }

    /// Scores back to the start of a game.
    pub fn reset(&mut self) {
        let start = if self.captures() { self.capture } else { 0 };
        self.scores = [0; TEAM_SLOTS];
        for s in self.scores.iter_mut().take(self.mode.teams()) {
            *s = start;
        }
    }

    /// A player of `freq` scored on the goal at tile (x, y).
    pub fn goal(&mut self, freq: i16, x: i32, y: i32) -> GoalScore {
        let Some(team) = self.mode.team_of(freq) else {
            return GoalScore::default();
        };
        let mut out = GoalScore {
            team: Some(team),
            ..GoalScore::default()
        };
        if self.captures() {
            let owner = self.mode.goal_owner(x, y).unwrap_or(team);
            if owner != team && self.scores[owner] > 0 {
                self.scores[owner] -= 1;
                self.scores[team] += 1;
            } else {
                out.null_goal = true;
            }
        } else {
            self.scores[team] = self.scores[team].saturating_add(1);
        }
        out.winner = self.winner();
        out
    }

    /// The team that has won, if the game is over.
    pub fn winner(&self) -> Option<usize> {
        let n = self.mode.teams();
        if n == 0 {
            return None;
        }
        let scores = &self.scores[..n];
        if self.captures() {
            let mut left = (0..n).filter(|&t| scores[t] > 0);
            let first = left.next()?;
            return left.next().is_none().then_some(first);
        }
        if self.capture >= 0 {
            return None;
        }
        let best = (0..n).max_by_key(|&t| scores[t])?;
        let lead = (0..n)
            .filter(|&t| t != best)
            .map(|t| scores[best] - scores[t])
            .min()?;
        (scores[best] >= -self.capture && lead > 0 && lead >= self.win_by).then_some(best)
    }
}

/// Where a ball is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BallState {
    /// On the map (still, or moving after a fire).
    OnMap,
    /// Carried by `carrier`.
    Carried,
    /// Out of play until `until` (after a goal or a game), then spawned.
    Waiting {
        /// When it spawns again (ticks).
        until: u32,
    },
}

/// One ball.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ball {
    /// Where it is.
    pub state: BallState,
    /// X, pixels.
    pub x: i16,
    /// Y, pixels.
    pub y: i16,
    /// X speed.
    pub x_speed: i16,
    /// Y speed.
    pub y_speed: i16,
    /// The carrier, or who fired (or dropped) it last (−1 = nobody).
    pub carrier: i16,
    /// The carrier's freq when it was picked up or fired (−1 = none).
    pub freq: i16,
    /// When it was fired or placed (ticks); 0 while carried. A pickup
    /// must quote it.
    pub time: u32,
}

impl Ball {
    /// The S2C 0x2E of this ball; a waiting ball is shown off the map.
    pub fn packet(&self, bid: usize) -> BallPacket {
        match self.state {
            BallState::Waiting { .. } => phased(bid),
            _ => BallPacket {
                ball: bid as u8,
                x: self.x,
                y: self.y,
                x_speed: self.x_speed,
                y_speed: self.y_speed,
                carrier: self.carrier,
                time: if self.state == BallState::Carried {
                    0
                } else {
                    self.time
                },
            },
        }
    }
}

/// The packet that takes ball `bid` out of play for the clients.
pub fn phased(bid: usize) -> BallPacket {
    BallPacket {
        ball: bid as u8,
        x: PHASED_XY,
        y: PHASED_XY,
        x_speed: 0,
        y_speed: 0,
        carrier: -1,
        time: 0,
    }
}

/// The `[Soccer]` settings the ball rules use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BallSettings {
    /// `BallCount` (0–8).
    pub count: usize,
    /// Spawn areas (x, y, radius in tiles): `SpawnX/SpawnY/SpawnRadius`
    /// and `SpawnX1`…`SpawnX7` (ball n uses spawn n mod their number).
    pub spawns: Vec<(i16, i16, i16)>,
    /// `SendTime`: ticks between periodic ball packets (25–500).
    pub send_time: u32,
    /// `PassDelay`: ticks after a fire before the ball may be picked up.
    pub pass_delay: u32,
    /// `GoalDelay`: ticks after a goal before the ball spawns again.
    pub goal_delay: u32,
    /// `NewGameDelay`: ticks between games (negative: random up to it).
    pub new_game_delay: i32,
    /// `AllowGoalByDeath`: a carrier killed on a goal tile scores.
    pub goal_by_death: bool,
    /// `Mode`.
    pub mode: GoalMode,
    /// `CapturePoints` (see [`SoccerScoring::capture`]).
    pub capture: i32,
    /// `Reward`: points for each goal to the scoring freq (negative = that
    /// many; positive = players² × Reward / 1000).
    pub reward: i32,
    /// `WinBy`.
    pub win_by: i32,
    /// `MinPlayers`: fewer players in ships get no reward.
    pub min_players: i32,
    /// `MinTeams`: fewer freqs with players in ships get no reward.
    pub min_teams: i32,
    /// `AllowBombs`: the carrier may fire bombs and mines.
    pub allow_bombs: bool,
    /// `AllowGuns`: the carrier may fire bullets.
    pub allow_guns: bool,
    /// `Misc:FrequencyShipTypes`: teams are named after ships (freq 0 the
    /// Warbirds, 1 the Javelins...) in the score line.
    pub ship_team_names: bool,
}

impl BallSettings {
    /// Reads `[Soccer]`; bad values are logged, counted in `bad` and
    /// replaced by the nearest good one.
    pub fn from_config(cfg: &ArenaConfig, bad: &mut u64) -> BallSettings {
        let int = |key: &str, def: i32| cfg.get_int("Soccer", key, def);
        let ticks = |key: &str, def: i32| int(key, def).max(0) as u32;
        let raw_count = int("BallCount", 0);
        if !(0..=MAX_BALLS as i32).contains(&raw_count) {
            *bad += 1;
            warn!(
                arena = cfg.name(),
                value = raw_count,
                "Soccer:BallCount outside 0-8; clamped"
            );
        }
        let tile = |v: i32| v.clamp(0, 1023) as i16;
        let first = (
            tile(int("SpawnX", 512)),
            tile(int("SpawnY", 512)),
            tile(int("SpawnRadius", 20)),
        );
        let mut spawns = vec![first];
        for i in 1..MAX_BALLS {
            let x = int(&format!("SpawnX{i}"), -1);
            let y = int(&format!("SpawnY{i}"), -1);
            if x == -1 && y == -1 {
                break;
            }
            let r = int(&format!("SpawnRadius{i}"), -1);
            spawns.push((
                if x == -1 { first.0 } else { tile(x) },
                if y == -1 { first.1 } else { tile(y) },
                if r == -1 { first.2 } else { tile(r) },
            ));
        }
        let mode_num = cfg.get_enum("Soccer", "Mode", MODE_NAMES, 0);
        let mode = GoalMode::from_number(mode_num).unwrap_or_else(|| {
            *bad += 1;
            warn!(
                arena = cfg.name(),
                value = mode_num,
                "Soccer:Mode is not a goal mode (0-6); any goal counts"
            );
            GoalMode::All
        });
        BallSettings {
            count: raw_count.clamp(0, MAX_BALLS as i32) as usize,
            spawns,
            send_time: int("SendTime", 100).clamp(25, 500) as u32,
            pass_delay: ticks("PassDelay", 0),
            goal_delay: ticks("GoalDelay", 0),
            new_game_delay: int("NewGameDelay", -3000),
            goal_by_death: int("AllowGoalByDeath", 0) != 0,
            mode,
            capture: int("CapturePoints", 1),
            reward: int("Reward", 0),
            win_by: int("WinBy", 0).max(0),
            min_players: int("MinPlayers", 0),
            min_teams: int("MinTeams", 0),
            allow_bombs: int("AllowBombs", 1) != 0,
            allow_guns: int("AllowGuns", 1) != 0,
            ship_team_names: cfg.get_int("Misc", "FrequencyShipTypes", 0) != 0,
        }
    }
}

/// What the rules need to know about a player.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Who {
    /// Player id.
    pub pid: i16,
    /// Freq.
    pub freq: i16,
    /// In a ship (not spectating).
    pub in_ship: bool,
    /// Last position, pixels.
    pub x: i16,
    /// Last position, pixels.
    pub y: i16,
}

/// Why a ball packet was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No ball with that id.
    NoSuchBall,
    /// The sender is spectating.
    Spectator,
    /// The ball is carried or waiting.
    NotOnMap,
    /// The pickup quotes another time than the ball's last packet.
    Stale,
    /// Picked up less than `PassDelay` after it was fired.
    TooSoon,
    /// The sender carries a ball already.
    HasBall,
    /// A fire of a ball the sender does not carry.
    NotCarrier,
    /// A goal with a ball the sender did not fire last.
    NotShooter,
    /// A goal (or fire) at a place that is not a goal tile (or is off the
    /// map).
    BadPlace,
    /// A goal on a goal the sender's freq may not score on.
    WrongGoal,
    /// Goal packets faster than the flood limit.
    Flood,
    /// The sender lags too much to carry balls (`[Lag]`).
    Lagging,
    /// A ball carrier fired a weapon `AllowGuns` / `AllowBombs` forbid
    /// (the weapon is dropped, the position relayed).
    CarrierWeapon,
}

impl Refusal {
    /// Every refusal, in counter order.
    pub const ALL: [Refusal; 13] = [
        Refusal::NoSuchBall,
        Refusal::Spectator,
        Refusal::NotOnMap,
        Refusal::Stale,
        Refusal::TooSoon,
        Refusal::HasBall,
        Refusal::NotCarrier,
        Refusal::NotShooter,
        Refusal::BadPlace,
        Refusal::WrongGoal,
        Refusal::Flood,
        Refusal::Lagging,
        Refusal::CarrierWeapon,
    ];

    /// A short name for `?ballinfo`.
    pub fn name(self) -> &'static str {
        match self {
            Refusal::NoSuchBall => "no-such-ball",
            Refusal::Spectator => "spectator",
            Refusal::NotOnMap => "not-on-map",
            Refusal::Stale => "stale",
            Refusal::TooSoon => "pass-delay",
            Refusal::HasBall => "has-ball",
            Refusal::NotCarrier => "not-carrier",
            Refusal::NotShooter => "not-shooter",
            Refusal::BadPlace => "bad-place",
            Refusal::WrongGoal => "wrong-goal",
            Refusal::Flood => "flood",
            Refusal::Lagging => "lagging",
            Refusal::CarrierWeapon => "carrier-weapon",
        }
    }

    fn index(self) -> usize {
        Refusal::ALL.iter().position(|&r| r == self).unwrap_or(0)
    }
}

/// A goal that counted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Goal {
    /// Who scored.
    pub pid: i16,
    /// His freq (the points go to it).
    pub freq: i16,
    /// What it did to the team scores.
    pub score: GoalScore,
    /// The ball packets it caused (the ball spawning or waiting).
    pub packets: Vec<BallPacket>,
}

/// Answers "may a ball be placed on this tile?" (the map).
pub type TileFree<'a> = &'a dyn Fn(i16, i16) -> bool;

/// The balls of one arena.
#[derive(Clone, Debug)]
pub struct BallCore {
    /// The settings.
    pub settings: BallSettings,
    /// The balls in play (index = ball id).
    pub balls: Vec<Ball>,
    /// The team scores.
    pub scoring: SoccerScoring,
    /// Refused packets, per [`Refusal::ALL`].
    pub refused: [u64; 13],
    /// Goals scored since the realm started.
    pub goals: u64,
    /// `points_goal` is attached: goals change team scores and pay.
    pub points_goal: bool,
    /// `?ballcount` set the count: a reload keeps it.
    pub count_overridden: bool,
    last_send: u32,
    rng: u64,
}

fn reached(now: u32, at: u32) -> bool {
    (now.wrapping_sub(at) as i32) >= 0
}

impl BallCore {
    /// A ball game with `settings.count` balls spawned at `now`.
    pub fn new(
        settings: BallSettings,
        now: u32,
        seed: u64,
        free: TileFree<'_>,
    ) -> (BallCore, Vec<BallPacket>) {
        let scoring = SoccerScoring::new(settings.mode, settings.capture, settings.win_by);
        let mut core = BallCore {
            balls: Vec::new(),
            scoring,
            refused: [0; 13],
            goals: 0,
            points_goal: false,
            count_overridden: false,
            last_send: now,
            rng: seed | 1,
            settings,
        };
        let n = core.settings.count;
        let out = core.set_count(n, now, free);
        (core, out)
    }

    fn random(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }

    /// Whether `pid` carries a ball and may not fire a weapon of `kind`
    /// (`ss_proto::game::weapon_type`) with it; counted when so.
    pub fn carrier_weapon_refused(&mut self, pid: i16, kind: u8) -> bool {
        use ss_proto::game::weapon_type as w;
        let forbidden = match kind {
            w::BULLET | w::BOUNCE_BULLET => !self.settings.allow_guns,
            w::BOMB | w::PROX_BOMB => !self.settings.allow_bombs,
            _ => false,
        };
        if forbidden && self.carried_by(pid).is_some() {
            self.refuse(Refusal::CarrierWeapon);
            return true;
        }
        false
    }

    /// Whether some carrier's weapon may be refused here
    /// (`Soccer:AllowGuns` or `Soccer:AllowBombs` off): then only the
    /// realm relays weapons, which knows who carries a ball.
    pub fn may_refuse_carrier_weapons(&self) -> bool {
        !self.settings.allow_guns || !self.settings.allow_bombs
    }

    /// Counts a refusal and returns it.
    pub fn refuse(&mut self, why: Refusal) -> Refusal {
        self.refused[why.index()] += 1;
        why
    }

    /// Refusals of one kind so far.
    pub fn refused(&self, why: Refusal) -> u64 {
        self.refused[why.index()]
    }

    /// The ball `pid` carries.
    pub fn carried_by(&self, pid: i16) -> Option<usize> {
        self.balls
            .iter()
            .position(|b| b.state == BallState::Carried && b.carrier == pid)
    }

    /// The packets a player entering the arena needs: every ball.
    pub fn entry_view(&self) -> Vec<BallPacket> {
        self.balls
            .iter()
            .enumerate()
            .map(|(i, b)| b.packet(i))
            .collect()
    }

    /// A free tile at or near (x, y) (rings of growing radius), else (x, y).
    fn free_near(x: i16, y: i16, free: TileFree<'_>) -> (i16, i16) {
        if free(x, y) {
            return (x, y);
        }
        for r in 1..=30i16 {
            for d in -r..=r {
                for (cx, cy) in [
                    (x + d, y - r),
                    (x + d, y + r),
                    (x - r, y + d),
                    (x + r, y + d),
                ] {
                    if free(cx, cy) {
                        return (cx, cy);
                    }
                }
            }
        }
        (x, y)
    }

    /// Puts ball `bid` on the map at a random place of its spawn area.
    pub fn spawn(&mut self, bid: usize, now: u32, free: TileFree<'_>) -> Option<BallPacket> {
        if bid >= self.balls.len() {
            return None;
        }
        let spawns = &self.settings.spawns;
        let (cx, cy, r) = spawns[bid % spawns.len().max(1)];
        let r = i32::from(r);
        let (dx, dy) = if r > 0 {
            let span = (2 * r + 1) as u64;
            loop {
                let dx = (self.random() % span) as i32 - r;
                let dy = (self.random() % span) as i32 - r;
                if dx * dx + dy * dy <= r * r {
                    break (dx, dy);
                }
            }
        } else {
            (0, 0)
        };
        let x = (i32::from(cx) + dx).rem_euclid(1024) as i16;
        let y = (i32::from(cy) + dy).rem_euclid(1024) as i16;
        let (x, y) = Self::free_near(x, y, free);
        let within = self.random() % 256;
        self.balls[bid] = Ball {
            state: BallState::OnMap,
            x: x * 16 + (within / 16) as i16,
            y: y * 16 + (within % 16) as i16,
            x_speed: 0,
            y_speed: 0,
            carrier: -1,
            freq: -1,
            time: now,
        };
        Some(self.balls[bid].packet(bid))
    }

    /// Changes the number of balls: new ones spawn, removed ones are shown
    /// off the map one last time.
    pub fn set_count(&mut self, n: usize, now: u32, free: TileFree<'_>) -> Vec<BallPacket> {
        let n = n.min(MAX_BALLS);
        let mut out = Vec::new();
        while self.balls.len() > n {
            let bid = self.balls.len() - 1;
            self.balls.pop();
            out.insert(0, phased(bid));
        }
        while self.balls.len() < n {
            let bid = self.balls.len();
            self.balls.push(Ball {
                state: BallState::Waiting { until: now },
                x: PHASED_XY,
                y: PHASED_XY,
                x_speed: 0,
                y_speed: 0,
                carrier: -1,
                freq: -1,
                time: now,
            });
            out.extend(self.spawn(bid, now, free));
        }
        out
    }

    /// New settings (a config reload): a changed goal mode or scoring
    /// starts the scores again; a changed `BallCount` applies unless
    /// `?ballcount` set the count. Returns the ball packets it caused.
    pub fn reconfigure(
        &mut self,
        settings: BallSettings,
        now: u32,
        free: TileFree<'_>,
    ) -> Vec<BallPacket> {
        let s = &self.scoring;
        if (s.mode, s.capture, s.win_by) != (settings.mode, settings.capture, settings.win_by) {
            self.scoring = SoccerScoring::new(settings.mode, settings.capture, settings.win_by);
        }
        let count = settings.count;
        self.settings = settings;
        if count != self.balls.len() && !self.count_overridden {
            return self.set_count(count, now, free);
        }
        Vec::new()
    }

    fn ball(&self, bid: usize) -> Result<Ball, Refusal> {
        self.balls.get(bid).copied().ok_or(Refusal::NoSuchBall)
    }

    /// C2S 0x20: `p` picks up ball `bid`, quoting `time`.
    pub fn pickup(
        &mut self,
        p: &Who,
        bid: usize,
        time: u32,
        now: u32,
    ) -> Result<BallPacket, Refusal> {
        let check = || -> Result<(), Refusal> {
            let b = self.ball(bid)?;
            if !p.in_ship {
                return Err(Refusal::Spectator);
            }
            if b.state != BallState::OnMap {
                return Err(Refusal::NotOnMap);
            }
            if time != b.time {
                return Err(Refusal::Stale);
            }
            // Signed: a fire stamped a little ahead of our clock has
            // its whole pass delay still to run.
            let since_fire = now.wrapping_sub(b.time) as i32;
            let delay = self.settings.pass_delay.saturating_sub(PASS_DELAY_SLACK);
            if b.carrier >= 0 && since_fire < delay.min(i32::MAX as u32) as i32 {
                return Err(Refusal::TooSoon);
            }
            if self.carried_by(p.pid).is_some() {
                return Err(Refusal::HasBall);
            }
            Ok(())
        };
        check().map_err(|why| self.refuse(why))?;
        self.balls[bid] = Ball {
            state: BallState::Carried,
            x: p.x,
            y: p.y,
            x_speed: 0,
            y_speed: 0,
            carrier: p.pid,
            freq: p.freq,
            time: 0,
        };
        Ok(self.balls[bid].packet(bid))
    }

    /// C2S 0x1F: the carrier `p` fires ball `pkt.ball`.
    pub fn fire(&mut self, p: &Who, pkt: &BallPacket, now: u32) -> Result<BallPacket, Refusal> {
        let bid = usize::from(pkt.ball);
        let check = || -> Result<(), Refusal> {
            let b = self.ball(bid)?;
            if !p.in_ship {
                return Err(Refusal::Spectator);
            }
            if b.state != BallState::Carried || b.carrier != p.pid {
                return Err(Refusal::NotCarrier);
            }
            if !(0..16384).contains(&pkt.x) || !(0..16384).contains(&pkt.y) {
                return Err(Refusal::BadPlace);
            }
            Ok(())
        };
        check().map_err(|why| self.refuse(why))?;
        let skew = now.wrapping_sub(pkt.time).min(pkt.time.wrapping_sub(now));
        let time = if skew > MAX_TIME_SKEW || pkt.time == 0 {
            now
        } else {
            pkt.time
        };
        self.balls[bid] = Ball {
            state: BallState::OnMap,
            x: pkt.x,
            y: pkt.y,
            x_speed: pkt.x_speed,
            y_speed: pkt.y_speed,
            carrier: p.pid,
            freq: p.freq,
            time,
        };
        Ok(self.balls[bid].packet(bid))
    }

    /// C2S 0x21: `p` says ball `bid` went into the goal at tile (x, y);
    /// `goal_tile` says whether that tile is a goal on the map.
    pub fn goal(
        &mut self,
        p: &Who,
        bid: usize,
        (x, y): (i16, i16),
        goal_tile: bool,
        now: u32,
        free: TileFree<'_>,
    ) -> Result<Goal, Refusal> {
        let check = || -> Result<Ball, Refusal> {
            let b = self.ball(bid)?;
            if b.state != BallState::OnMap {
                return Err(Refusal::NotOnMap);
            }
            if b.carrier != p.pid || b.carrier < 0 {
                return Err(Refusal::NotShooter);
            }
            if !goal_tile {
                return Err(Refusal::BadPlace);
            }
            if !self
                .settings
                .mode
                .may_score(b.freq, i32::from(x), i32::from(y))
            {
                return Err(Refusal::WrongGoal);
            }
            Ok(b)
        };
        let b = check().map_err(|why| self.refuse(why))?;
        Ok(self.score(bid, b, (x, y), now, free))
    }

    /// A goal that counts: the scores change and the ball spawns again
    /// (at once, or after `GoalDelay`).
    fn score(
        &mut self,
        bid: usize,
        b: Ball,
        (x, y): (i16, i16),
        now: u32,
        free: TileFree<'_>,
    ) -> Goal {
        self.goals += 1;
        let score = self.scoring.goal(b.freq, i32::from(x), i32::from(y));
        let mut packets = Vec::new();
        if self.settings.goal_delay == 0 {
            packets.extend(self.spawn(bid, now, free));
        } else {
            self.balls[bid].state = BallState::Waiting {
                until: now.wrapping_add(self.settings.goal_delay),
            };
            self.balls[bid].carrier = -1;
            packets.push(phased(bid));
        }
        Goal {
            pid: b.carrier,
            freq: b.freq,
            score,
            packets,
        }
    }

    /// `pid` loses his ball at (x, y) pixels: killed (`neut` false with
    /// `AllowGoalByDeath`: he stays its shooter), ship or freq change,
    /// leaving (`neut`). With `neut`, balls on the map he fired last are
    /// nobody's any more. Returns the changed balls.
    pub fn lose(&mut self, pid: i16, (x, y): (i16, i16), neut: bool, now: u32) -> Vec<BallPacket> {
        let mut out = Vec::new();
        for (bid, b) in self.balls.iter_mut().enumerate() {
            if b.state == BallState::Carried && b.carrier == pid {
                *b = Ball {
                    state: BallState::OnMap,
                    x,
                    y,
                    x_speed: 0,
                    y_speed: 0,
                    carrier: if neut { -1 } else { pid },
                    freq: if neut { -1 } else { b.freq },
                    time: now,
                };
                out.push(b.packet(bid));
            } else if neut && b.state == BallState::OnMap && b.carrier == pid {
                b.carrier = -1;
                out.push(b.packet(bid));
            }
        }
        out
    }

    /// A ball dropped on a goal tile by a killed carrier scores (with
    /// `AllowGoalByDeath`), for the scorer's freq if he may score there.
    pub fn goal_by_drop(
        &mut self,
        bid: usize,
        tile: (i16, i16),
        now: u32,
        free: TileFree<'_>,
    ) -> Option<Goal> {
        let b = self.ball(bid).ok()?;
        if b.state != BallState::OnMap || b.carrier < 0 {
            return None;
        }
        if !self
            .settings
            .mode
            .may_score(b.freq, i32::from(tile.0), i32::from(tile.1))
        {
            return None;
        }
        Some(self.score(bid, b, tile, now, free))
    }

    /// Time passes: waiting balls spawn. Returns their packets.
    pub fn respawn_due(&mut self, now: u32, free: TileFree<'_>) -> Vec<BallPacket> {
        let due: Vec<usize> = self
            .balls
            .iter()
            .enumerate()
            .filter(|(_, b)| matches!(b.state, BallState::Waiting { until } if reached(now, until)))
            .map(|(i, _)| i)
            .collect();
        due.into_iter()
            .filter_map(|bid| self.spawn(bid, now, free))
            .collect()
    }

    /// Every `SendTime`: the packets of the balls in play, carried ones
    /// moved to their carriers (`pos`). `None` when it is not time yet.
    pub fn periodic(
        &mut self,
        now: u32,
        pos: &dyn Fn(i16) -> Option<(i16, i16)>,
    ) -> Option<Vec<BallPacket>> {
        if self.balls.is_empty() || now.wrapping_sub(self.last_send) < self.settings.send_time {
            return None;
        }
        self.last_send = now;
        let mut out = Vec::new();
        for (bid, b) in self.balls.iter_mut().enumerate() {
            match b.state {
                BallState::OnMap => out.push(b.packet(bid)),
                BallState::Carried => {
                    if let Some((x, y)) = pos(b.carrier) {
                        b.x = x;
                        b.y = y;
                    }
                    out.push(b.packet(bid));
                }
                BallState::Waiting { .. } => {}
            }
        }
        Some(out)
    }

    /// The game is over (won or reset): every ball leaves play until the
    /// next game (`NewGameDelay`) and the scores start again.
    pub fn end_game(&mut self, now: u32) -> Vec<BallPacket> {
        let d = self.settings.new_game_delay;
        let delay = if d < 0 {
            (self.random() % (u64::from(d.unsigned_abs()) + 1)) as u32
        } else {
            d as u32
        };
        let until = now.wrapping_add(delay);
        let mut out = Vec::new();
        for (bid, b) in self.balls.iter_mut().enumerate() {
            b.state = BallState::Waiting { until };
            b.carrier = -1;
            b.freq = -1;
            out.push(phased(bid));
        }
        self.scoring.reset();
        out
    }

    /// Puts ball `bid` on the map at (x, y) pixels, nobody's, still.
    pub fn place(&mut self, bid: usize, (x, y): (i16, i16), now: u32) -> Option<BallPacket> {
        let b = self.balls.get_mut(bid)?;
        *b = Ball {
            state: BallState::OnMap,
            x,
            y,
            x_speed: 0,
            y_speed: 0,
            carrier: -1,
            freq: -1,
            time: now,
        };
        Some(b.packet(bid))
    }

    /// Makes `p` carry ball `bid` (a ball he carries already is dropped
    /// where he is).
    pub fn force_carry(&mut self, bid: usize, p: &Who, now: u32) -> Vec<BallPacket> {
        if bid >= self.balls.len() {
            return Vec::new();
        }
        let mut out = Vec::new();
        if let Some(other) = self.carried_by(p.pid).filter(|&o| o != bid) {
            out.extend(self.place(other, (p.x, p.y), now));
        }
        self.balls[bid] = Ball {
            state: BallState::Carried,
            x: p.x,
            y: p.y,
            x_speed: 0,
            y_speed: 0,
            carrier: p.pid,
            freq: p.freq,
            time: 0,
        };
        out.push(self.balls[bid].packet(bid));
        out
    }

    // ----- checkpoint -----------------------------------------------------

    /// The team scores, as bytes (the balls themselves respawn after a
    /// restart).
    pub fn checkpoint(&self, out: &mut Vec<u8>) {
        out.push(1);
        for s in self.scoring.scores {
            out.extend_from_slice(&s.to_le_bytes());
        }
    }

    /// Restores [`BallCore::checkpoint`] bytes; `None` (nothing changed)
    /// if they do not fit.
    pub fn restore(&mut self, b: &[u8]) -> Option<()> {
        if b.len() != 1 + 4 * TEAM_SLOTS || b[0] != 1 {
            return None;
        }
        for (i, c) in b[1..].chunks_exact(4).enumerate() {
            self.scoring.scores[i] = i32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        }
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FREE: TileFree<'static> = &|_, _| true;

    fn settings() -> BallSettings {
        BallSettings {
            count: 2,
            spawns: vec![(512, 512, 0)],
            send_time: 100,
            pass_delay: 50,
            goal_delay: 0,
            new_game_delay: 1000,
            goal_by_death: false,
            mode: GoalMode::LeftRight,
            capture: -3,
            reward: 0,
            win_by: 0,
            min_players: 0,
            min_teams: 0,
            allow_bombs: true,
            allow_guns: false,
            ship_team_names: false,
        }
    }

    fn who(pid: i16, freq: i16) -> Who {
        Who {
            pid,
            freq,
            in_ship: true,
            x: 8192,
            y: 8192,
        }
    }

    /// Every ball has one state; a carried ball's carrier carries no other.
    fn consistent(core: &BallCore) {
        for (i, b) in core.balls.iter().enumerate() {
            if b.state == BallState::Carried {
                assert!(b.carrier >= 0);
                assert_eq!(core.carried_by(b.carrier), Some(i));
                assert_eq!(b.time, 0);
            }
        }
        assert!(core.balls.len() <= MAX_BALLS);
    }

    #[test]
    fn goal_modes_decide_who_may_score_where() {
        use GoalMode::*;
        // Mode 0: anyone, anywhere.
        assert!(All.may_score(5, 10, 10) && All.may_score(-1, 1000, 1000));
        // Left/right: evens defend the left, odds the right.
        assert!(LeftRight.may_score(0, 900, 500));
        assert!(!LeftRight.may_score(0, 100, 500));
        assert!(LeftRight.may_score(1, 100, 500));
        assert!(LeftRight.may_score(3, 100, 500) && !LeftRight.may_score(2, 100, 500));
        // Top/bottom.
        assert!(TopBottom.may_score(0, 500, 900) && !TopBottom.may_score(0, 500, 100));
        // Quadrants, defend one: freq 1 owns the top-right.
        assert_eq!(Corners31.goal_owner(900, 100), Some(1));
        assert_eq!(Corners31.goal_owner(100, 900), Some(2));
        assert!(!Corners31.may_score(1, 900, 100));
        assert!([(100, 100), (100, 900), (900, 900)]
            .iter()
            .all(|&(x, y)| Corners31.may_score(1, x, y)));
        // Quadrants, defend three: freq 0 scores only bottom-right.
        assert!(Corners13.may_score(0, 900, 900));
        assert!(!Corners13.may_score(0, 900, 100) && !Corners13.may_score(0, 100, 100));
        assert!(Corners13.may_score(2, 900, 100));
        // Sides: left 0, bottom 1, top 2, right 3.
        assert_eq!(Sides31.goal_owner(10, 512), Some(0));
        assert_eq!(Sides31.goal_owner(512, 1010), Some(1));
        assert_eq!(Sides31.goal_owner(512, 10), Some(2));
        assert_eq!(Sides31.goal_owner(1010, 512), Some(3));
        assert!(!Sides31.may_score(2, 512, 10) && Sides31.may_score(2, 10, 512));
        assert!(Sides13.may_score(0, 1010, 512) && !Sides13.may_score(0, 512, 1010));
        // Spectator freqs and negative freqs never score in team modes.
        assert!(!LeftRight.may_score(-1, 900, 500));
        assert_eq!(GoalMode::from_number(7), None);
    }

    #[test]
    fn capture_games_move_points_and_end_when_one_team_has_all() {
        let mut s = SoccerScoring::new(GoalMode::LeftRight, 2, 0);
        assert_eq!(&s.scores[..2], &[2, 2]);
        let g = s.goal(1, 100, 500);
        assert_eq!((g.team, g.null_goal, g.winner), (Some(1), false, None));
        assert_eq!(&s.scores[..2], &[1, 3]);
        let g = s.goal(3, 100, 500);
        assert_eq!(g.winner, Some(1));
        // Four teams: a team with nothing left gives nothing.
        let mut s = SoccerScoring::new(GoalMode::Corners31, 1, 0);
        assert_eq!(&s.scores[..4], &[1, 1, 1, 1]);
        assert_eq!(s.goal(0, 900, 100).winner, None); // takes team 1's point
        let g = s.goal(2, 900, 100);
        assert!(g.null_goal);
        assert_eq!(&s.scores[..4], &[2, 0, 1, 1]);
        s.goal(0, 100, 900);
        assert_eq!(s.goal(0, 900, 900).winner, Some(0));
        // The 1-3 modes always count goals.
        let mut s = SoccerScoring::new(GoalMode::Sides13, 5, 0);
        assert!(!s.captures());
        s.goal(0, 1010, 512);
        assert_eq!(&s.scores[..4], &[1, 0, 0, 0]);
    }

    #[test]
    fn first_to_games_need_the_target_and_the_lead() {
        let mut s = SoccerScoring::new(GoalMode::TopBottom, -2, 2);
        s.goal(0, 500, 900);
        s.goal(1, 500, 100);
        s.goal(0, 500, 900);
        // 2 - 1: the target but not a lead of 2.
        assert_eq!(s.winner(), None);
        assert_eq!(s.goal(0, 500, 900).winner, Some(0));
        // CapturePoints 0: counted, never won.
        let mut s = SoccerScoring::new(GoalMode::LeftRight, 0, 0);
        for _ in 0..50 {
            assert_eq!(s.goal(0, 900, 10).winner, None);
        }
        // Mode 0 keeps no team scores.
        let mut s = SoccerScoring::new(GoalMode::All, -1, 0);
        assert_eq!(s.goal(0, 1, 1), GoalScore::default());
    }

    #[test]
    fn pickup_fire_pass_and_goal() {
        let (mut c, out) = BallCore::new(settings(), 1000, 7, FREE);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].time, 1000);
        let (a, b) = (who(1, 0), who(2, 0));
        // A pickup quoting another time, of a ball that does not exist,
        // or from a spectator is refused.
        assert_eq!(c.pickup(&a, 0, 999, 1001), Err(Refusal::Stale));
        assert_eq!(c.pickup(&a, 5, 1000, 1001), Err(Refusal::NoSuchBall));
        let spec = Who {
            in_ship: false,
            ..a
        };
        assert_eq!(c.pickup(&spec, 0, 1000, 1001), Err(Refusal::Spectator));
        let got = c.pickup(&a, 0, 1000, 1001).unwrap();
        assert_eq!((got.carrier, got.time), (1, 0));
        assert_eq!(c.pickup(&b, 0, 0, 1002), Err(Refusal::NotOnMap));
        assert_eq!(c.pickup(&a, 1, 1000, 1002), Err(Refusal::HasBall));
        // Only the carrier fires.
        let shot = BallPacket {
            ball: 0,
            x: 8000,
            y: 8000,
            x_speed: 100,
            y_speed: 0,
            carrier: 1,
            time: 1100,
        };
        assert_eq!(c.fire(&b, &shot, 1100), Err(Refusal::NotCarrier));
        let fired = c.fire(&a, &shot, 1100).unwrap();
        assert_eq!((fired.time, fired.carrier, fired.x_speed), (1100, 1, 100));
        // The pass: not before PassDelay (nor while the fire's stamp is
        // still ahead of our clock).
        assert_eq!(c.pickup(&b, 0, 1100, 1090), Err(Refusal::TooSoon));
        assert_eq!(c.pickup(&b, 0, 1100, 1120), Err(Refusal::TooSoon));
        // PassDelay 50, less the slack for clients' clocks.
        assert_eq!(c.pickup(&b, 0, 1100, 1139), Err(Refusal::TooSoon));
        assert!(c.pickup(&b, 0, 1100, 1140).is_ok());
        let shot = BallPacket {
            carrier: 2,
            time: 1200,
            ..shot
        };
        c.fire(&b, &shot, 1200).unwrap();
        // Goals: only the shooter, only on a goal tile, only the other
        // team's goal (freq 0 defends the left).
        assert_eq!(
            c.goal(&a, 0, (900, 500), true, 1210, FREE),
            Err(Refusal::NotShooter)
        );
        assert_eq!(
            c.goal(&b, 0, (900, 500), false, 1210, FREE),
            Err(Refusal::BadPlace)
        );
        assert_eq!(
            c.goal(&b, 0, (100, 500), true, 1210, FREE),
            Err(Refusal::WrongGoal)
        );
        let g = c.goal(&b, 0, (900, 500), true, 1210, FREE).unwrap();
        assert_eq!((g.pid, g.freq, g.score.team), (2, 0, Some(0)));
        assert_eq!(g.packets.len(), 1);
        assert_eq!(c.scoring.scores[0], 1);
        // The ball spawned again: a repeated goal packet is refused.
        assert_eq!(
            c.goal(&b, 0, (900, 500), true, 1211, FREE),
            Err(Refusal::NotShooter)
        );
        assert_eq!(c.refused(Refusal::NotShooter), 2);
        consistent(&c);
    }

    #[test]
    fn a_reload_changes_the_count_unless_ballcount_did_and_keeps_scores() {
        let (mut c, _) = BallCore::new(settings(), 0, 5, FREE);
        c.scoring.scores[0] = 2;
        let mut s = settings();
        s.count = 4;
        s.pass_delay = 7;
        assert_eq!(c.reconfigure(s.clone(), 10, FREE).len(), 2);
        assert_eq!((c.balls.len(), c.settings.pass_delay), (4, 7));
        assert_eq!(c.scoring.scores[0], 2, "same mode: scores kept");
        c.count_overridden = true;
        s.count = 1;
        s.mode = GoalMode::TopBottom;
        assert!(c.reconfigure(s, 20, FREE).is_empty());
        assert_eq!(c.balls.len(), 4);
        assert_eq!(c.scoring.scores[0], 0, "another mode: a new game");
    }

    #[test]
    fn carriers_fire_only_what_allow_guns_and_allow_bombs_permit() {
        use ss_proto::game::weapon_type as w;
        let (mut c, out) = BallCore::new(settings(), 0, 5, FREE);
        // Not carrying: anything goes.
        assert!(!c.carrier_weapon_refused(1, w::BULLET));
        c.pickup(&who(1, 0), 0, out[0].time, 1).unwrap();
        // AllowGuns = 0, AllowBombs = 1.
        assert!(c.carrier_weapon_refused(1, w::BULLET));
        assert!(c.carrier_weapon_refused(1, w::BOUNCE_BULLET));
        assert!(!c.carrier_weapon_refused(1, w::BOMB));
        assert!(!c.carrier_weapon_refused(1, w::REPEL));
        assert!(!c.carrier_weapon_refused(2, w::BULLET));
        assert_eq!(c.refused(Refusal::CarrierWeapon), 2);
    }

    #[test]
    fn carriers_lose_balls_where_they_are_and_games_end() {
        let (mut c, _) = BallCore::new(settings(), 0, 3, FREE);
        let a = who(1, 1);
        c.pickup(&a, 1, 0, 10).unwrap();
        let out = c.lose(1, (4000, 4100), true, 20);
        assert_eq!(out.len(), 1);
        assert_eq!(
            (out[0].ball, out[0].x, out[0].y, out[0].carrier),
            (1, 4000, 4100, -1)
        );
        assert_eq!(out[0].time, 20);
        assert_eq!(c.carried_by(1), None);
        // A neut drop has no shooter: it may be picked up at once.
        assert!(c.pickup(&who(2, 0), 1, 20, 21).is_ok());
        // Goal by death: the dead carrier stays the shooter.
        let out = c.lose(2, (900 * 16, 500 * 16), false, 30);
        assert_eq!(out[0].carrier, 2);
        let g = c.goal_by_drop(1, (900, 500), 30, FREE).unwrap();
        assert_eq!(g.freq, 0);
        // The game ends: every ball waits, then spawns again.
        let out = c.end_game(40);
        assert!(out.iter().all(|p| p.x == PHASED_XY && p.time == 0));
        assert!(c.respawn_due(500, FREE).is_empty());
        assert_eq!(c.respawn_due(1040, FREE).len(), 2);
        // Fewer balls: the removed one is phased.
        let out = c.set_count(1, 1100, FREE);
        assert_eq!(out, vec![phased(1)]);
        assert_eq!(c.balls.len(), 1);
        assert_eq!(c.set_count(20, 1100, FREE).len(), MAX_BALLS - 1);
        consistent(&c);
    }

    #[test]
    fn periodic_updates_follow_carriers_and_scores_survive_a_checkpoint() {
        let (mut c, _) = BallCore::new(settings(), 0, 3, FREE);
        assert!(c.periodic(50, &|_| None).is_none());
        c.pickup(&who(4, 1), 0, 0, 60).unwrap();
        let out = c
            .periodic(100, &|pid| (pid == 4).then_some((123, 456)))
            .unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!((out[0].x, out[0].y, out[0].carrier), (123, 456, 4));
        c.scoring.scores[1] = 4;
        let mut bytes = Vec::new();
        c.checkpoint(&mut bytes);
        let (mut again, _) = BallCore::new(settings(), 0, 9, FREE);
        assert_eq!(again.restore(&bytes), Some(()));
        assert_eq!(again.scoring.scores[1], 4);
        assert_eq!(again.restore(&bytes[..5]), None);
    }

    #[test]
    fn random_play_keeps_every_ball_in_one_consistent_state() {
        let mut s = settings();
        s.count = 3;
        s.pass_delay = 0;
        s.mode = GoalMode::All;
        let (mut c, _) = BallCore::new(s, 0, 11, FREE);
        let mut rng = 0x1234_5678_9abc_def1u64;
        let mut next = move |n: u64| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng % n
        };
        let mut now = 0u32;
        for _ in 0..5000 {
            now += 3;
            let p = who(next(5) as i16, next(2) as i16);
            let bid = next(5) as usize;
            match next(7) {
                0 => {
                    let time = c.balls.get(bid).map_or(0, |b| b.time);
                    let _ = c.pickup(&p, bid, time, now);
                }
                1 => {
                    let pkt = BallPacket {
                        ball: bid as u8,
                        x: next(20000) as i16,
                        y: 100,
                        time: now,
                        ..BallPacket::default()
                    };
                    let _ = c.fire(&p, &pkt, now);
                }
                2 => {
                    let _ = c.goal(&p, bid, (10, 10), next(2) == 0, now, FREE);
                }
                3 => {
                    c.lose(p.pid, (100, 100), next(2) == 0, now);
                }
                4 => {
                    c.set_count(next(9) as usize, now, FREE);
                }
                5 => {
                    c.end_game(now);
                    c.respawn_due(now + 2000, FREE);
                }
                _ => {
                    c.respawn_due(now, FREE);
                }
            }
            consistent(&c);
        }
    }
}
