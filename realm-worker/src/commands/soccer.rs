//! Ball, soccer score and brick commands: `?ballcount`, `?ballinfo`,
//! `?giveball`, `?moveball`, `?spawnball`, `?score`, `?resetgame`,
//! `?setsoccerscore`, `?brickwrite`, `?brickinfo`
//! (`docs/protocol/commands-and-capabilities.md` §3,
//! `docs/protocol/game-protocol.md` §15–16).

use super::parse;
use super::{CmdError, CmdResult, CmdTarget, Ctx};
use crate::arena::Arena;
use crate::modules::ballcore::{BallState, Refusal, MAX_BALLS, TEAM_SLOTS};
use crate::modules::brickcore::BrickRefusal;
use crate::modules::bricks::brickwrite_segments;

fn no_balls() -> CmdError {
    CmdError::Msg("This arena has no ball game.".into())
}

fn no_bricks() -> CmdError {
    CmdError::Msg("This arena has no bricks.".into())
}

/// A ball id argument that names an existing ball (`0` if empty).
fn ball_id(a: &Arena, word: Option<&str>) -> Result<usize, CmdError> {
    let core = a.balls.as_ref().ok_or_else(no_balls)?;
    let n = match word {
        None | Some("") => 0,
        Some(w) => parse::int(w).ok_or_else(|| CmdError::Msg("Invalid ball id.".into()))?,
    };
    usize::try_from(n)
        .ok()
        .filter(|&b| b < core.balls.len())
        .ok_or_else(|| {
            CmdError::Msg(format!(
                "Ball {n} doesn't exist. Use ?ballcount to add more balls to the arena."
            ))
        })
}

/// `?ballcount [n | +n | -n]`.
pub(super) fn ballcount(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    let core = a.balls.as_ref().ok_or_else(no_balls)?;
    let have = core.balls.len() as i64;
    let p = params.trim();
    if p.is_empty() {
        a.reply(&ctx.issuer, &format!("{have} balls."));
        return Ok(());
    }
    let n = parse::int(p).ok_or(CmdError::Usage)?;
    let want = if p.starts_with('+') || p.starts_with('-') {
        have + n
    } else {
        n
    };
    if !(0..=MAX_BALLS as i64).contains(&want) {
        return Err(CmdError::Msg(format!(
            "An arena has 0 to {MAX_BALLS} balls."
        )));
    }
    let now = ipc_proto::monotonic_ticks();
    let map = &a.assets.map;
    let free = |x, y| crate::assets::tile_free(map, x, y);
    let Some(core) = a.balls.as_mut() else {
        return Err(no_balls());
    };
    core.count_overridden = true;
    let out = core.set_count(want as usize, now, &free);
    a.send_balls(None, &out);
    a.reply(&ctx.issuer, &format!("{want} balls."));
    Ok(())
}

/// `?ballinfo`: every ball, then the refusal counters.
pub(super) fn ballinfo(a: &mut Arena, ctx: &Ctx, _params: &str) -> CmdResult {
    let core = a.balls.as_ref().ok_or_else(no_balls)?;
    let name = |pid: i16| {
        a.players
            .get(&pid)
            .map_or_else(|| format!("pid {pid}"), |p| p.info.name.clone())
    };
    let mut lines = Vec::new();
    for (bid, b) in core.balls.iter().enumerate() {
        let (tx, ty) = (b.x / 16, b.y / 16);
        lines.push(match b.state {
            BallState::Carried => format!(
                "ball {bid}: carried by {} (freq {}) at {tx},{ty}",
                name(b.carrier),
                b.freq
            ),
            BallState::OnMap if b.carrier >= 0 => format!(
                "ball {bid}: fired by {} (freq {}), last seen at {tx},{ty}",
                name(b.carrier),
                b.freq
            ),
            BallState::OnMap => format!("ball {bid}: on the map at {tx},{ty}"),
            BallState::Waiting { .. } => format!("ball {bid}: waiting to spawn"),
        });
    }
    if lines.is_empty() {
        lines.push("No balls in play.".into());
    }
    let refused: Vec<String> = Refusal::ALL
        .iter()
        .map(|&r| (r, core.refused(r)))
        .filter(|&(_, n)| n > 0)
        .map(|(r, n)| format!("{}={n}", r.name()))
        .collect();
    lines.push(format!(
        "Goals: {}. Refused ball packets: {}.",
        core.goals,
        if refused.is_empty() {
            "none".to_string()
        } else {
            refused.join(" ")
        }
    ));
    for l in lines {
        a.reply(&ctx.issuer, &l);
    }
    Ok(())
}

/// `?giveball [-f] [ball]`: to the target player, or to the issuer.
pub(super) fn giveball(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    let words = parse::words(params);
    let force = words.first().is_some_and(|w| w == "-f");
    let bid = ball_id(a, words.get(usize::from(force)).map(String::as_str))?;
    let to = match ctx.target {
        CmdTarget::Player(p) => p,
        CmdTarget::Arena if !ctx.issuer.remote => ctx.issuer.pid,
        _ => return Err(CmdError::NeedPlayer),
    };
    let who = a
        .ball_who(to)
        .ok_or_else(|| CmdError::Msg("That player is not in this arena.".into()))?;
    if !who.in_ship {
        return Err(CmdError::Msg("That player is in spectator mode.".into()));
    }
    let now = ipc_proto::monotonic_ticks();
    let core = a.balls.as_mut().ok_or_else(no_balls)?;
    let out = if force {
        core.force_carry(bid, &who, now)
    } else {
        core.place(bid, (who.x, who.y), now).into_iter().collect()
    };
    a.send_balls(None, &out);
    a.reply(&ctx.issuer, &format!("Gave ball {bid}."));
    Ok(())
}

/// `?moveball <ball> <x> <y>` (tiles).
pub(super) fn moveball(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    let words = parse::words(params);
    if words.len() != 3 {
        return Err(CmdError::Usage);
    }
    let bid = ball_id(a, Some(&words[0]))?;
    let tile = |w: &str| parse::int(w).filter(|v| (0..1024).contains(v));
    let (Some(x), Some(y)) = (tile(&words[1]), tile(&words[2])) else {
        return Err(CmdError::Msg("Coordinates are tiles, 0 to 1023.".into()));
    };
    let now = ipc_proto::monotonic_ticks();
    let core = a.balls.as_mut().ok_or_else(no_balls)?;
    let out = core.place(bid, (x as i16 * 16 + 8, y as i16 * 16 + 8), now);
    a.send_balls(None, &out.into_iter().collect::<Vec<_>>());
    a.reply(&ctx.issuer, &format!("Moved ball {bid} to {x},{y}."));
    Ok(())
}

/// `?spawnball [ball]`.
pub(super) fn spawnball(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    let bid = ball_id(a, Some(params.trim()))?;
    let now = ipc_proto::monotonic_ticks();
    let map = &a.assets.map;
    let free = |x, y| crate::assets::tile_free(map, x, y);
    let Some(core) = a.balls.as_mut() else {
        return Err(no_balls());
    };
    let out = core.spawn(bid, now, &free);
    a.send_balls(None, &out.into_iter().collect::<Vec<_>>());
    a.reply(&ctx.issuer, &format!("Respawned ball {bid}."));
    Ok(())
}

/// `?score`: the team scores.
pub(super) fn score(a: &mut Arena, ctx: &Ctx, _params: &str) -> CmdResult {
    a.balls.as_ref().ok_or_else(no_balls)?;
    let line = a.soccer_score_line();
    a.reply(&ctx.issuer, &line);
    Ok(())
}

/// `?resetgame`: ends the soccer game with no winner.
pub(super) fn resetgame(a: &mut Arena, ctx: &Ctx, _params: &str) -> CmdResult {
    a.balls.as_ref().ok_or_else(no_balls)?;
    let pids: Vec<i16> = a.players.keys().copied().collect();
    let text = format!("Resetting the soccer game. -{}", ctx.issuer.name);
    a.message_players(&pids, ss_proto::game::chat_type::ARENA, 0, &text);
    a.soccer_game_over(None);
    Ok(())
}

/// `?setsoccerscore <team 0> [<team 1> ...]` (ASSS's soccer `?setscore`).
pub(super) fn setsoccerscore(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    let nums: Option<Vec<i64>> = parse::words(params).iter().map(|w| parse::int(w)).collect();
    let nums = nums
        .filter(|n| !n.is_empty() && n.len() <= TEAM_SLOTS)
        .ok_or(CmdError::Usage)?;
    let core = a.balls.as_mut().ok_or_else(no_balls)?;
    let teams = core.scoring.mode.teams();
    if teams == 0 {
        return Err(CmdError::Msg("Soccer:Mode 0 keeps no team scores.".into()));
    }
    for (slot, &n) in core.scoring.scores.iter_mut().zip(nums.iter()).take(teams) {
        *slot = n.clamp(0, i64::from(i32::MAX)) as i32;
    }
    let winner = core.scoring.winner();
    a.checkpoint_now();
    let line = a.soccer_score_line();
    a.reply(&ctx.issuer, &line);
    if winner.is_some() {
        a.soccer_game_over(winner);
    }
    Ok(())
}

/// `?brickwrite <text>`: the text in bricks, centred on the issuer.
pub(super) fn brickwrite(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    let text = params.trim();
    if text.is_empty() {
        return Err(CmdError::Usage);
    }
    a.bricks.as_ref().ok_or_else(no_bricks)?;
    let (x, y, freq) = a
        .players
        .get(&ctx.issuer.pid)
        .filter(|_| !ctx.issuer.remote)
        .map(|p| (p.x / 16, p.y / 16, p.freq))
        .ok_or_else(|| CmdError::Msg("You must be in this arena.".into()))?;
    let now = ipc_proto::monotonic_ticks();
    let core = a.bricks.as_mut().ok_or_else(no_bricks)?;
    core.expire(now);
    let bricks: Vec<_> = brickwrite_segments(text, (x, y))
        .into_iter()
        .filter_map(|seg| core.add_raw(seg, freq, now))
        .collect();
    a.send_bricks(None, &bricks);
    a.reply(&ctx.issuer, &format!("Wrote {} bricks.", bricks.len()));
    Ok(())
}

/// `?brickinfo`: live bricks and refused drops.
pub(super) fn brickinfo(a: &mut Arena, ctx: &Ctx, _params: &str) -> CmdResult {
    let now = ipc_proto::monotonic_ticks();
    let core = a.bricks.as_mut().ok_or_else(no_bricks)?;
    core.expire(now);
    let refused: Vec<String> = BrickRefusal::ALL
        .iter()
        .map(|&r| (r, core.refused(r)))
        .filter(|&(_, n)| n > 0)
        .map(|(r, n)| format!("{}={n}", r.name()))
        .collect();
    let line = format!(
        "Live bricks: {}. Dropped: {}. Refused drops: {}.",
        core.bricks.len(),
        core.dropped,
        if refused.is_empty() {
            "none".to_string()
        } else {
            refused.join(" ")
        }
    );
    a.reply(&ctx.issuer, &line);
    Ok(())
}
