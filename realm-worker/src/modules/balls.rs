//! `balls` (the ball game) and `points_goal` (its scoring): they set up
//! the arena's balls ([`Arena::balls`]) from `[Soccer]` and the map, feed
//! them the players' ball packets and events, and turn goals into team
//! scores, rewards and S2C 0x0B (`docs/protocol/game-protocol.md` §15).
//! The rules themselves are in [`super::ballcore`].

use std::collections::HashMap;

use ipc_proto::{Delivery, Target};
use ss_proto::game::{chat_type, ship, BallPacket, C2SPacket, S2CPacket};
use ss_proto::map::tile;
use tracing::{debug, info, warn};

use super::ballcore::{BallCore, BallSettings, Goal, GoalMode, Refusal, Who};
use super::flood::{Bucket, Rate};
use super::{KillEvent, Module};
use crate::arena::Arena;

/// Goal packets a player may send back to back, then one per interval
/// (Continuum repeats a goal a few times while it is not answered).
pub const GOAL_RATE: Rate = Rate {
    burst: 8,
    interval: 50,
};
/// ASSS's goal sound (chat sound byte).
const SOUND_GOAL: u8 = 104;
/// ASSS's "ding" (game over).
const SOUND_DING: u8 = 103;

/// The ball game module; `points_goal` makes it keep scores.
pub struct Soccer {
    /// `points_goal` is attached: goals score.
    scoring: bool,
    /// Goal flood buckets per player.
    goal_flood: HashMap<i16, Bucket>,
    /// Named in `AttachModules` (not only loaded zone-wide): an arena
    /// without balls is then worth a warning.
    named: bool,
}

impl Soccer {
    /// The module; `scoring` when `points_goal` is attached.
    pub fn new(scoring: bool) -> Soccer {
        Soccer {
            scoring,
            goal_flood: HashMap::new(),
            named: true,
        }
    }

    /// The module as `modules.conf` loads it for every arena
    /// ([`super::ZONE_WIDE`]): idle where `Soccer:BallCount` is 0.
    pub fn zone_wide(scoring: bool) -> Soccer {
        Soccer {
            named: false,
            ..Soccer::new(scoring)
        }
    }
}

impl Arena {
    /// The ball rules' view of a player.
    pub(crate) fn ball_who(&self, pid: i16) -> Option<Who> {
        let p = self.players.get(&pid)?;
        Some(Who {
            pid,
            freq: p.freq,
            in_ship: p.ship != ship::SPECTATOR,
            x: p.x,
            y: p.y,
        })
    }

    /// Sends ball packets: reliably to the arena (changes) or to one
    /// player.
    pub(crate) fn send_balls(&mut self, to: Option<i16>, packets: &[BallPacket]) {
        for p in packets {
            let target = to.map_or(Target::Arena, Target::Player);
            self.send_packet(target, Delivery::Reliable, &S2CPacket::Ball(*p));
        }
    }

    /// Whether `pid` carries a ball and may not fire this weapon kind with
    /// it (`Soccer:AllowGuns`, `AllowBombs`); counted when so.
    pub(crate) fn carrier_weapon_refused(&mut self, pid: i16, kind: u8) -> bool {
        self.balls
            .as_mut()
            .is_some_and(|c| c.carrier_weapon_refused(pid, kind))
    }

    /// Whether the map has a goal tile at (x, y).
    pub(crate) fn is_goal_tile(&self, x: i16, y: i16) -> bool {
        self.assets.map.tile(i32::from(x), i32::from(y)) == tile::GOAL
    }

    /// Players in ships: (pid, freq, in a safe zone).
    fn playing(&self) -> Vec<(i16, i16, bool)> {
        self.players
            .values()
            .filter(|p| p.ship != ship::SPECTATOR)
            .map(|p| (p.info.pid, p.freq, p.status & 0x20 != 0))
            .collect()
    }

    /// The `Soccer:Reward` points for one goal or game (0 when there are
    /// fewer than `MinPlayers` players or `MinTeams` freqs in ships).
    fn soccer_reward(&self, s: &BallSettings) -> i32 {
        let playing = self.playing();
        let players = playing.len() as i32;
        let mut freqs: Vec<i16> = playing.iter().map(|p| p.1).collect();
        freqs.sort_unstable();
        freqs.dedup();
        if players < s.min_players || (freqs.len() as i32) < s.min_teams {
            return 0;
        }
        if s.reward < 0 {
            s.reward.saturating_neg()
        } else {
            (i64::from(players) * i64::from(players) * i64::from(s.reward) / 1000)
                .clamp(0, i64::from(i32::MAX)) as i32
        }
    }

    /// A goal counted: the ball packets, and with `points_goal` the
    /// reward, S2C 0x0B, the messages, the team scores and a game over.
    pub(crate) fn soccer_goal(&mut self, g: Goal, at: (i16, i16)) {
        let Some(core) = self.balls.as_ref() else {
            return;
        };
        let (scoring, settings) = (core.points_goal, core.settings.clone());
        let scorer = self
            .players
            .get(&g.pid)
            .map_or_else(|| "?".to_string(), |p| p.info.name.clone());
        info!(realm = %self.name, pid = g.pid, freq = g.freq, x = at.0, y = at.1, "goal");
        if scoring {
            self.checkpoint_now();
        }
        self.send_balls(None, &g.packets);
        if !scoring {
            return;
        }
        let points = if settings.reward != 0 {
            self.soccer_reward(&settings)
        } else {
            0
        };
        if points != 0 {
            let winners: Vec<i16> = self
                .playing()
                .into_iter()
                .filter(|&(_, f, safe)| f == g.freq && !safe)
                .map(|(pid, _, _)| pid)
                .collect();
            for pid in winners {
                self.add_flag_points(pid, points);
            }
        }
        self.send_packet(
            Target::Arena,
            Delivery::Reliable,
            &S2CPacket::SoccerGoal {
                freq: g.freq,
                points,
            },
        );
        let team: Vec<i16> = self
            .players
            .values()
            .filter(|p| p.freq == g.freq)
            .map(|p| p.info.pid)
            .collect();
        let others: Vec<i16> = self
            .players
            .values()
            .filter(|p| p.freq != g.freq)
            .map(|p| p.info.pid)
            .collect();
        let reward = if points != 0 {
            format!("  Reward: {points}")
        } else {
            String::new()
        };
        self.message_players(
            &team,
            chat_type::ARENA,
            SOUND_GOAL,
            &format!("Team goal! by {scorer}{reward}"),
        );
        self.message_players(
            &others,
            chat_type::ARENA,
            SOUND_GOAL,
            &format!("Enemy goal! by {scorer}{reward}"),
        );
        if g.score.null_goal {
            self.send_arena_line("That goal's team had no points left to give.");
        }
        if settings.mode != GoalMode::All {
            let line = self.soccer_score_line();
            self.send_arena_line(&line);
        }
        if let Some(team) = g.score.winner {
            self.soccer_game_over(Some(team));
        }
    }

    /// A green message to the whole arena.
    fn send_arena_line(&mut self, text: &str) {
        let pids: Vec<i16> = self.players.keys().copied().collect();
        self.message_players(&pids, chat_type::ARENA, 0, text);
    }

    /// The score line of the team modes, worded as ASSS words it (bots
    /// read it): "SCORE: Evens:1 Odds:2" with two teams, "SCORE: Team0:1
    /// Team1:0 Team2:0 Team3:3" with four, or the ships' names with
    /// `Misc:FrequencyShipTypes` (game-protocol.md §15.3).
    pub(crate) fn soccer_score_line(&self) -> String {
        let Some(core) = self.balls.as_ref() else {
            return "This arena has no ball game.".into();
        };
        let s = &core.scoring;
        let n = s.mode.teams();
        if n == 0 {
            return "Soccer:Mode 0 keeps no team scores.".into();
        }
        let names: &[&str] = match (n, core.settings.ship_team_names) {
            (2, false) => &["Evens", "Odds"],
            (_, false) => &["Team0", "Team1", "Team2", "Team3"],
            (_, true) => &["Warbirds", "Javelins", "Spiders", "Leviathans"],
        };
        let parts: Vec<String> = names
            .iter()
            .zip(&s.scores)
            .take(n)
            .map(|(name, score)| format!("{name}:{score}"))
            .collect();
        format!("SCORE: {}", parts.join(" "))
    }

    /// The soccer game ends: `winner` (a team) gets `Soccer:Reward` as
    /// flag points (players in ships, outside safe zones), every ball
    /// leaves play until the next game and the scores start again.
    pub(crate) fn soccer_game_over(&mut self, winner: Option<usize>) {
        let now = ipc_proto::monotonic_ticks();
        let Some(core) = self.balls.as_ref() else {
            return;
        };
        let settings = core.settings.clone();
        let mode = core.scoring.mode;
        let points = match winner {
            Some(_) if settings.reward != 0 => self.soccer_reward(&settings),
            _ => 0,
        };
        if let Some(team) = winner {
            let winners: Vec<i16> = self
                .playing()
                .into_iter()
                .filter(|&(_, f, safe)| mode.team_of(f) == Some(team) && !safe)
                .map(|(pid, _, _)| pid)
                .collect();
            if points != 0 {
                for &pid in &winners {
                    self.add_flag_points(pid, points);
                }
            }
            info!(realm = %self.name, team, points, "soccer game won");
        }
        self.checkpoint_now();
        let pids: Vec<i16> = self.players.keys().copied().collect();
        let text = match winner {
            Some(team) if points != 0 => {
                format!("Soccer game over: team {team} wins {points} points.")
            }
            Some(team) => format!("Soccer game over: team {team} wins."),
            None => "Soccer game over.".to_string(),
        };
        self.message_players(&pids, chat_type::ARENA, SOUND_DING, &text);
        let Some(core) = self.balls.as_mut() else {
            return;
        };
        let out = core.end_game(now);
        self.send_balls(None, &out);
    }

    /// A config reload: the ball game and the bricks take the new
    /// `[Soccer]` and `[Brick]` settings (`docs/protocol/config.md` §8.11).
    pub(crate) fn reload_balls_and_bricks(&mut self) {
        let now = ipc_proto::monotonic_ticks();
        let mut bad = 0;
        if self.balls.is_some() {
            let settings = BallSettings::from_config(&self.assets.config, &mut bad);
            let map = &self.assets.map;
            let free = |x, y| crate::assets::tile_free(map, x, y);
            let out = self
                .balls
                .as_mut()
                .map(|core| core.reconfigure(settings, now, &free))
                .unwrap_or_default();
            self.send_balls(None, &out);
        }
        if self.bricks.is_some() {
            let settings =
                super::brickcore::BrickSettings::from_config(&self.assets.config, &mut bad);
            if let Some(core) = self.bricks.as_mut() {
                core.settings = settings;
            }
        }
        self.counters.bad_config += bad;
    }

    /// Spawn-tile test for balls: on the map and not solid.
    fn ball_tile_free(&self) -> impl Fn(i16, i16) -> bool + '_ {
        let map = &self.assets.map;
        move |x, y| crate::assets::tile_free(map, x, y)
    }
}

impl Module for Soccer {
    fn name(&self) -> &'static str {
        "balls"
    }

    fn on_attach(&mut self, a: &mut Arena, now: u32) {
        let mut bad = 0;
        let settings = BallSettings::from_config(&a.assets.config, &mut bad);
        a.counters.bad_config += bad;
        let seed = a.next_random();
        let free = a.ball_tile_free();
        let (mut core, _) = BallCore::new(settings, now, seed, &free);
        drop(free);
        core.points_goal = self.scoring;
        if core.balls.is_empty() && self.named {
            warn!(realm = %a.name, "balls attached but Soccer:BallCount is 0: no balls until ?ballcount");
        }
        info!(realm = %a.name, balls = core.balls.len(), mode = ?core.settings.mode, scoring = self.scoring, "ball game set up");
        a.balls = Some(core);
    }

    fn on_enter(&mut self, a: &mut Arena, pid: i16, _now: u32) {
        let Some(core) = &a.balls else {
            return;
        };
        let out = core.entry_view();
        a.send_balls(Some(pid), &out);
    }

    fn on_leave(&mut self, a: &mut Arena, pid: i16, now: u32) {
        self.goal_flood.remove(&pid);
        self.drop_ball(a, pid, true, now);
    }

    fn on_ship_freq(&mut self, a: &mut Arena, pid: i16, now: u32) {
        self.drop_ball(a, pid, true, now);
    }

    fn on_kill(&mut self, a: &mut Arena, k: &KillEvent, now: u32) -> Option<u32> {
        let by_death = a.balls.as_ref()?.settings.goal_by_death;
        let dropped = self.drop_ball(a, k.killed, !by_death, now);
        if !by_death {
            return None;
        }
        for (bid, (x, y)) in dropped {
            let tile = (x / 16, y / 16);
            if a.is_goal_tile(tile.0, tile.1) {
                let map = &a.assets.map;
                let free = |x, y| crate::assets::tile_free(map, x, y);
                let goal = a.balls.as_mut()?.goal_by_drop(bid, tile, now, &free);
                if let Some(g) = goal {
                    a.soccer_goal(g, tile);
                }
            }
        }
        None
    }

    fn on_tick(&mut self, a: &mut Arena, now: u32) {
        let Some(core) = a.balls.as_mut() else {
            return;
        };
        let map = &a.assets.map;
        let free = |x, y| crate::assets::tile_free(map, x, y);
        let spawned = core.respawn_due(now, &free);
        let players = &a.players;
        let pos = |pid: i16| players.get(&pid).map(|p| (p.x, p.y));
        let periodic = core.periodic(now, &pos).filter(|_| !players.is_empty());
        a.send_balls(None, &spawned);
        for p in periodic.unwrap_or_default() {
            a.send_packet(Target::Arena, Delivery::UnreliableHigh, &S2CPacket::Ball(p));
        }
    }

    fn on_packet(&mut self, a: &mut Arena, pid: i16, pkt: &C2SPacket, now: u32) {
        match *pkt {
            C2SPacket::PickupBall { ball, time } => {
                let lagging = a.is_lagging(pid);
                let Some(p) = a.ball_who(pid) else {
                    return;
                };
                let Some(core) = a.balls.as_mut() else {
                    return;
                };
                let res = if lagging {
                    Err(core.refuse(Refusal::Lagging))
                } else {
                    core.pickup(&p, usize::from(ball), time, now)
                };
                match res {
                    Ok(out) => {
                        info!(realm = %a.name, pid, ball, "ball picked up");
                        a.send_balls(None, &[out]);
                    }
                    Err(why) => debug!(realm = %a.name, pid, ball, ?why, "ball pickup refused"),
                }
            }
            C2SPacket::ShootBall(shot) => {
                let Some(p) = a.ball_who(pid) else {
                    return;
                };
                let Some(core) = a.balls.as_mut() else {
                    return;
                };
                match core.fire(&p, &shot, now) {
                    Ok(out) => {
                        debug!(realm = %a.name, pid, ball = shot.ball, "ball fired");
                        a.send_balls(None, &[out]);
                        // Fired onto a goal tile: a goal without waiting
                        // for the client's goal packet (as ASSS).
                        let tile = (out.x / 16, out.y / 16);
                        if a.is_goal_tile(tile.0, tile.1) {
                            self.try_goal(a, &p, usize::from(shot.ball), tile, now, false);
                        }
                    }
                    Err(why) => {
                        debug!(realm = %a.name, pid, ball = shot.ball, ?why, "ball fire refused");
                        // The client believes the ball left: tell it where
                        // the ball really is.
                        if let Some(b) = core.balls.get(usize::from(shot.ball)) {
                            let p = b.packet(usize::from(shot.ball));
                            a.send_balls(Some(pid), &[p]);
                        }
                    }
                }
            }
            C2SPacket::Goal { ball, x, y } => {
                let Some(p) = a.ball_who(pid) else {
                    return;
                };
                self.try_goal(a, &p, usize::from(ball), (x, y), now, true);
            }
            _ => {}
        }
    }

    fn checkpoint(&self, a: &Arena, out: &mut Vec<u8>) {
        if let Some(core) = a.balls.as_ref().filter(|c| c.points_goal) {
            core.checkpoint(out);
        }
    }

    fn restore(&mut self, a: &mut Arena, bytes: &[u8], _now: u32) {
        let Some(core) = a.balls.as_mut() else {
            return;
        };
        if core.restore(bytes).is_none() {
            warn!(realm = %a.name, "soccer checkpoint does not fit; ignored");
            a.counters.bad_config += 1;
            return;
        }
        info!(realm = %a.name, scores = ?core.scoring.scores, "soccer scores restored");
    }
}

impl Soccer {
    /// `pid` loses his ball (and, with `neut`, his claim on balls he
    /// fired); returns the balls dropped and where (pixels).
    fn drop_ball(
        &mut self,
        a: &mut Arena,
        pid: i16,
        neut: bool,
        now: u32,
    ) -> Vec<(usize, (i16, i16))> {
        let Some(p) = a.ball_who(pid) else {
            return Vec::new();
        };
        let Some(core) = a.balls.as_mut() else {
            return Vec::new();
        };
        let carried = core.carried_by(pid);
        // A carrier the arena never heard a position from leaves the ball
        // at the first spawn point rather than in the map's corner wall.
        let at = if (p.x, p.y) == (0, 0) {
            let (x, y, _) = core
                .settings
                .spawns
                .first()
                .copied()
                .unwrap_or((512, 512, 0));
            (x * 16 + 8, y * 16 + 8)
        } else {
            (p.x, p.y)
        };
        let out = core.lose(pid, at, neut, now);
        if !out.is_empty() {
            info!(realm = %a.name, pid, neut, "ball dropped");
        }
        a.send_balls(None, &out);
        carried.map(|bid| (bid, at)).into_iter().collect()
    }

    /// A goal claimed by `p` (a C2S 0x21 when `packet`, else a fire onto a
    /// goal tile): refused and counted, or scored.
    fn try_goal(
        &mut self,
        a: &mut Arena,
        p: &Who,
        bid: usize,
        at: (i16, i16),
        now: u32,
        packet: bool,
    ) {
        let goal_tile = a.is_goal_tile(at.0, at.1);
        let Some(core) = a.balls.as_mut() else {
            return;
        };
        let mode = core.settings.mode;
        if !packet && !mode.may_score(p.freq, i32::from(at.0), i32::from(at.1)) {
            // Fired onto a goal of his own team: nothing happens.
            return;
        }
        if packet {
            let bucket = self
                .goal_flood
                .entry(p.pid)
                .or_insert_with(|| Bucket::new(GOAL_RATE, now));
            if !bucket.take(GOAL_RATE, now) {
                core.refuse(Refusal::Flood);
                debug!(realm = %a.name, pid = p.pid, "goal packet flood");
                return;
            }
        }
        let map = &a.assets.map;
        let free = |x, y| crate::assets::tile_free(map, x, y);
        match core.goal(p, bid, at, goal_tile, now, &free) {
            Ok(g) => a.soccer_goal(g, at),
            Err(why) => {
                debug!(realm = %a.name, pid = p.pid, bid, x = at.0, y = at.1, ?why, "goal refused")
            }
        }
    }
}
