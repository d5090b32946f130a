//! `game_timer`: timed games (`docs/protocol/game-protocol.md` §14.7).
//!
//! With `Misc:TimedGame` (ticks) the arena plays games of that length one
//! after the other; without it staff may start a one-off timer with
//! `?timer <minutes>[:<seconds>]`. When a game's time is up every player is
//! told ("NOTICE: Game over", with a sound), the best scorers of the game
//! are named, and the zone ends the arena's *game* score interval
//! (`docs/protocol/persistence.md` §1.1). `Misc:TimerWarnings` lists up to
//! five "seconds left" at which the arena is warned. `?time` shows the time
//! left; `?timereset` starts a timed game over; `?pausetimer` pauses or
//! resumes a `?timer` timer.

use std::collections::HashMap;

use ipc_proto::ZoneCall;
use ss_proto::game::chat_type;
use tracing::info;

use super::{tick_add, ticks_between, Module};
use crate::arena::Arena;
use crate::commands::{CmdError, CmdResult, Ctx};

/// Most warnings `Misc:TimerWarnings` may list.
const MAX_WARNINGS: usize = 5;
/// Sound of the game-over message (ASSS's "hallelujah").
const GAME_OVER_SOUND: u8 = 5;
/// How many of the game's best scorers are named at its end.
const WINNERS_NAMED: usize = 3;

/// Where the timer stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// No game is being timed.
    Off,
    /// Running: the game ends at this tick.
    Running { ends_at: u32 },
    /// Paused with this many ticks left (`?pausetimer`).
    Paused { left: u32 },
}

/// The game timer of one arena.
#[derive(Debug)]
pub struct GameTimer {
    /// `Misc:TimedGame` as last read (0 = no fixed game length).
    game_len: u32,
    state: State,
    /// `Misc:TimerWarnings`, seconds left.
    warnings: Vec<u32>,
    /// The last warning given (seconds left), so one is given once.
    warned: Option<u32>,
    /// Each player's points (kill + flag) when the game started or when he
    /// came in, by lower-case name: the game's scores are the growth.
    start_points: HashMap<String, i64>,
}

impl Default for GameTimer {
    fn default() -> Self {
        GameTimer {
            game_len: 0,
            state: State::Off,
            warnings: Vec::new(),
            warned: None,
            start_points: HashMap::new(),
        }
    }
}

/// "2 minutes and 5 seconds": a time given in ticks.
pub fn time_text(ticks: u32) -> String {
    let secs = ticks / 100;
    let (m, s) = (secs / 60, secs % 60);
    let mins = match m {
        0 => String::new(),
        1 => "1 minute and ".to_string(),
        n => format!("{n} minutes and "),
    };
    let secs = if s == 1 {
        "1 second".to_string()
    } else {
        format!("{s} seconds")
    };
    format!("{mins}{secs}")
}

/// `?timer` arguments: `<minutes>[:<seconds>]`, in ticks; `None` if
/// malformed or out of range (at most a week).
pub fn parse_timer(params: &str) -> Option<u32> {
    let p = params.trim();
    let (m, s) = match p.split_once(':') {
        Some((m, s)) => (m.trim(), s.trim()),
        None => (p, "0"),
    };
    let m: u32 = m.parse().ok()?;
    let s: u32 = s.parse().ok()?;
    let secs = m.checked_mul(60)?.checked_add(s)?;
    (secs <= 7 * 24 * 3600).then_some(secs * 100)
}

fn points_of(a: &Arena, name: &str) -> i64 {
    let s = a.scores.get(name);
    i64::from(s.kill_points) + i64::from(s.flag_points)
}

impl GameTimer {
    /// Reads `Misc:TimedGame` and `Misc:TimerWarnings`; a fixed game length
    /// appearing (at start or by a reload) starts a game.
    fn read_settings(&mut self, a: &mut Arena, now: u32) {
        let cfg = &a.assets.config;
        let len = cfg.get_int("Misc", "TimedGame", 0);
        let len = if len > 0 { len as u32 } else { 0 };
        self.warnings = cfg
            .get_str("Misc", "TimerWarnings")
            .unwrap_or("")
            .split([' ', ','])
            .filter_map(|w| w.trim().parse::<u32>().ok())
            .filter(|&w| w > 0)
            .take(MAX_WARNINGS)
            .collect();
        if len != self.game_len {
            let was = self.game_len;
            self.game_len = len;
            if was == 0 && len > 0 {
                self.start_game(a, now, len);
            }
        }
    }

    fn start_game(&mut self, a: &Arena, now: u32, len: u32) {
        self.state = State::Running {
            ends_at: tick_add(now, len),
        };
        self.warned = None;
        self.start_points = a
            .players
            .values()
            .map(|p| (p.info.name.to_ascii_lowercase(), points_of(a, &p.info.name)))
            .collect();
    }

    /// Ticks left, if a game is timed.
    fn left(&self, now: u32) -> Option<u32> {
        match self.state {
            State::Off => None,
            State::Running { ends_at } => Some(ticks_between(now, ends_at).max(0) as u32),
            State::Paused { left } => Some(left),
        }
    }

    /// The game's time is up.
    fn game_over(&mut self, a: &mut Arena, now: u32) {
        let everyone: Vec<i16> = a.players.keys().copied().collect();
        a.message_players(
            &everyone,
            chat_type::ARENA,
            GAME_OVER_SOUND,
            "NOTICE: Game over",
        );
        // The best scorers of this game (points gained since it started).
        let mut gains: Vec<(i64, String)> = a
            .players
            .values()
            .map(|p| {
                let key = p.info.name.to_ascii_lowercase();
                let start = self.start_points.get(&key).copied().unwrap_or(0);
                (points_of(a, &p.info.name) - start, p.info.name.clone())
            })
            .filter(|(g, _)| *g > 0)
            .collect();
        gains.sort_by(|x, y| y.0.cmp(&x.0).then_with(|| x.1.cmp(&y.1)));
        if !gains.is_empty() {
            let list: Vec<String> = gains
                .iter()
                .take(WINNERS_NAMED)
                .map(|(g, n)| format!("{n} ({g})"))
                .collect();
            a.message_players(
                &everyone,
                chat_type::ARENA,
                0,
                &format!("Best this game: {}", list.join(", ")),
            );
        }
        info!(realm = %a.name, best = ?gains.first(), "timed game over");
        a.zone_call(ZoneCall::EndGameInterval);
        if self.game_len > 0 {
            self.start_game(a, now, self.game_len);
        } else {
            self.state = State::Off;
            self.start_points.clear();
        }
    }

    fn reply_time(&self, a: &mut Arena, ctx: &Ctx, now: u32) {
        let text = match self.state {
            State::Running { .. } => {
                format!("Time left: {}.", time_text(self.left(now).unwrap_or(0)))
            }
            State::Paused { left } => format!("Timer paused at: {}.", time_text(left)),
            State::Off => "Time left: 0 seconds.".to_string(),
        };
        a.reply(&ctx.issuer, &text);
    }
}

impl Module for GameTimer {
    fn name(&self) -> &'static str {
        "game_timer"
    }

    fn on_attach(&mut self, a: &mut Arena, now: u32) {
        self.read_settings(a, now);
    }

    fn on_enter(&mut self, a: &mut Arena, pid: i16, _now: u32) {
        if self.state == State::Off {
            return;
        }
        if let Some(name) = a.players.get(&pid).map(|p| p.info.name.clone()) {
            let pts = points_of(a, &name);
            self.start_points
                .entry(name.to_ascii_lowercase())
                .or_insert(pts);
        }
    }

    fn on_tick(&mut self, a: &mut Arena, now: u32) {
        self.read_settings(a, now);
        let State::Running { ends_at } = self.state else {
            return;
        };
        if ticks_between(ends_at, now) >= 0 {
            self.game_over(a, now);
            return;
        }
        let secs = ticks_between(now, ends_at).max(0) as u32 / 100;
        if secs > 0 && self.warned != Some(secs) && self.warnings.contains(&secs) {
            self.warned = Some(secs);
            let (m, rest) = (secs / 60, secs % 60);
            let text = if rest == 0 {
                format!(
                    "NOTICE: {m} minute{} remaining.",
                    if m == 1 { "" } else { "s" }
                )
            } else {
                format!("NOTICE: {secs} seconds remaining.")
            };
            let everyone: Vec<i16> = a.players.keys().copied().collect();
            a.message_players(&everyone, chat_type::ARENA, 0, &text);
        }
    }

    /// The timer's state: kind (0 off, 1 running, 2 paused) and a `u32`
    /// (the end tick — the server clock is the same in every process of
    /// the zone — or the ticks left), so a restarted realm goes on with the
    /// same game. Nothing while off.
    fn checkpoint(&self, _a: &Arena, out: &mut Vec<u8>) {
        let (kind, value) = match self.state {
            State::Off => return,
            State::Running { ends_at } => (1u8, ends_at),
            State::Paused { left } => (2u8, left),
        };
        out.push(kind);
        out.extend_from_slice(&value.to_le_bytes());
    }

    fn restore(&mut self, a: &mut Arena, bytes: &[u8], _now: u32) {
        let state = match bytes {
            [1, v @ ..] => <[u8; 4]>::try_from(v).map(|v| State::Running {
                ends_at: u32::from_le_bytes(v) & 0x7FFF_FFFF,
            }),
            [2, v @ ..] => <[u8; 4]>::try_from(v).map(|v| State::Paused {
                left: u32::from_le_bytes(v),
            }),
            _ => {
                a.counters.bad_config += 1;
                return;
            }
        };
        match state {
            Ok(s) => {
                self.state = s;
                info!(realm = %a.name, state = ?s, "game timer restored");
            }
            Err(_) => a.counters.bad_config += 1,
        }
    }

    fn on_command(&mut self, a: &mut Arena, ctx: &Ctx, params: &str) -> Option<CmdResult> {
        let now = ipc_proto::monotonic_ticks();
        let result = match ctx.name {
            "time" => {
                self.reply_time(a, ctx, now);
                Ok(())
            }
            "timer" => {
                if self.game_len > 0 {
                    Err(CmdError::Msg(
                        "Timer is fixed to Misc:TimedGame setting.".into(),
                    ))
                } else {
                    match parse_timer(params) {
                        Some(0) => {
                            self.state = State::Off;
                            self.start_points.clear();
                            self.reply_time(a, ctx, now);
                            Ok(())
                        }
                        Some(ticks) => {
                            self.start_game(a, now, ticks);
                            self.reply_time(a, ctx, now);
                            Ok(())
                        }
                        None => Err(CmdError::Usage),
                    }
                }
            }
            "timereset" => {
                if self.game_len > 0 {
                    self.start_game(a, now, self.game_len);
                    self.reply_time(a, ctx, now);
                    Ok(())
                } else {
                    Err(CmdError::Msg(
                        "?timereset works only with Misc:TimedGame set.".into(),
                    ))
                }
            }
            "pausetimer" => {
                if self.game_len > 0 {
                    return Some(Err(CmdError::Msg(
                        "A Misc:TimedGame timer cannot be paused.".into(),
                    )));
                }
                match self.state {
                    State::Running { .. } => {
                        let left = self.left(now).unwrap_or(0);
                        self.state = State::Paused { left };
                        a.reply(
                            &ctx.issuer,
                            &format!("Timer paused at: {}.", time_text(left)),
                        );
                        Ok(())
                    }
                    State::Paused { left } => {
                        self.state = State::Running {
                            ends_at: tick_add(now, left),
                        };
                        a.reply(
                            &ctx.issuer,
                            &format!("Timer resumed at: {}.", time_text(left)),
                        );
                        Ok(())
                    }
                    State::Off => Err(CmdError::Msg("No timer is running.".into())),
                }
            }
            _ => return None,
        };
        Some(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_asss_writes_them() {
        assert_eq!(time_text(0), "0 seconds");
        assert_eq!(time_text(100), "1 second");
        assert_eq!(time_text(6_100), "1 minute and 1 second");
        assert_eq!(time_text(12_599), "2 minutes and 5 seconds");
    }

    #[test]
    fn timer_arguments_are_minutes_and_optional_seconds() {
        assert_eq!(parse_timer("2"), Some(12_000));
        assert_eq!(parse_timer(" 1:30 "), Some(9_000));
        assert_eq!(parse_timer("0:5"), Some(500));
        assert_eq!(parse_timer(""), None);
        assert_eq!(parse_timer("x"), None);
        assert_eq!(parse_timer("-1"), None);
        assert_eq!(parse_timer("1:x"), None);
        assert_eq!(parse_timer("99999999999"), None);
        assert_eq!(parse_timer("100000"), None, "more than a week");
    }
}
