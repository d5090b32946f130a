//! Flag game and jackpot commands: `?flaginfo`, `?flagreset`, `?neutflag`,
//! `?moveflag`, `?jackpot`, `?setjackpot`.

use super::parse;
use super::{CmdError, CmdResult, Ctx};
use crate::arena::Arena;
use crate::modules::flagcore::FlagState;
use crate::modules::Pending;

fn no_flags() -> CmdError {
    CmdError::Msg("This arena has no flag game.".into())
}

pub(super) fn flaginfo(a: &mut Arena, ctx: &Ctx, _params: &str) -> CmdResult {
    let core = a.flags.as_ref().ok_or_else(no_flags)?;
    let mut lines = Vec::new();
    for (fid, f) in core.flags.iter().enumerate().take(core.current) {
        let line = match f.state {
            FlagState::None => format!("flag {fid}: not in play"),
            FlagState::OnMap { x, y } => {
                format!(
                    "flag {fid}: on the map at {x},{y}, owned by freq {}",
                    f.freq
                )
            }
            FlagState::Carried { pid } => {
                let name = a.players.get(&pid).map_or("?", |p| p.info.name.as_str());
                format!("flag {fid}: carried by {name} (freq {})", f.freq)
            }
        };
        lines.push(line);
    }
    if lines.is_empty() {
        lines.push("No flags in play.".into());
    }
    lines.push(format!(
        "Ignored flag touches: {}; bad flag settings: {}.",
        a.counters.flag_touches_refused, a.counters.bad_config
    ));
    for l in lines {
        a.reply(&ctx.issuer, &l);
    }
    Ok(())
}

pub(super) fn flagreset(a: &mut Arena, _ctx: &Ctx, _params: &str) -> CmdResult {
    if a.flags.is_none() {
        return Err(no_flags());
    }
    a.pending.push(Pending::FlagReset);
    a.each_module(|_, _| {});
    Ok(())
}

/// `?neutflag <fid>`: the flag goes back on the map, neutral, where it is
/// (or where its carrier is).
pub(super) fn neutflag(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    let fid = parse::int(params)
        .filter(|n| (0..=i64::from(i16::MAX)).contains(n))
        .ok_or(CmdError::Usage)? as i16;
    let core = a.flags.as_ref().ok_or_else(no_flags)?;
    let i = usize::try_from(fid)
        .ok()
        .filter(|&i| i < core.current.min(core.flags.len()));
    let f = core.flags[i.ok_or_else(|| CmdError::Msg(format!("There is no flag {fid}.")))?];
    let (x, y) = match f.state {
        FlagState::OnMap { x, y } => (x, y),
        FlagState::Carried { pid } => a
            .players
            .get(&pid)
            .map_or((core.settings.spawn.0, core.settings.spawn.1), |p| {
                (p.x / 16, p.y / 16)
            }),
        FlagState::None => (core.settings.spawn.0, core.settings.spawn.1),
    };
    move_to(a, fid, x, y, -1)?;
    a.reply(&ctx.issuer, &format!("Flag {fid} is neutral."));
    Ok(())
}

/// `?moveflag <fid> <freq> [<x> <y>]`.
pub(super) fn moveflag(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    let nums: Option<Vec<i64>> = parse::words(params).iter().map(|w| parse::int(w)).collect();
    let nums = nums
        .filter(|n| n.len() == 2 || n.len() == 4)
        .ok_or(CmdError::Usage)?;
    let (fid, freq) = (nums[0] as i16, nums[1].clamp(-1, 9999) as i16);
    let core = a.flags.as_ref().ok_or_else(no_flags)?;
    let (x, y) = if nums.len() == 4 {
        (nums[2].clamp(1, 1022) as i16, nums[3].clamp(1, 1022) as i16)
    } else {
        match core.flags.get(fid.max(0) as usize).map(|f| f.state) {
            Some(FlagState::OnMap { x, y }) => (x, y),
            _ => (core.settings.spawn.0, core.settings.spawn.1),
        }
    };
    move_to(a, fid, x, y, freq)?;
    a.reply(
        &ctx.issuer,
        &format!("Flag {fid} moved to {x},{y} for freq {freq}."),
    );
    Ok(())
}

fn move_to(a: &mut Arena, fid: i16, x: i16, y: i16, freq: i16) -> CmdResult {
    let now = ipc_proto::monotonic_ticks();
    let core = a.flags.as_mut().ok_or_else(no_flags)?;
    let outs = core
        .move_flag(fid, x, y, freq, now)
        .ok_or_else(|| CmdError::Msg(format!("There is no flag {fid}.")))?;
    a.send_flag_outs(None, &outs);
    Ok(())
}

pub(super) fn jackpot(a: &mut Arena, ctx: &Ctx, _params: &str) -> CmdResult {
    let jp = a
        .jackpot
        .ok_or_else(|| CmdError::Msg("This arena has no jackpot.".into()))?;
    a.reply(&ctx.issuer, &format!("The jackpot is {jp} points."));
    Ok(())
}

pub(super) fn setjackpot(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    let n = parse::int(params)
        .filter(|n| (0..=i64::from(i32::MAX)).contains(n))
        .ok_or(CmdError::Usage)? as i32;
    if a.jackpot.is_none() {
        return Err(CmdError::Msg("This arena has no jackpot.".into()));
    }
    a.jackpot = Some(n);
    a.reply(&ctx.issuer, &format!("The jackpot is now {n} points."));
    Ok(())
}
