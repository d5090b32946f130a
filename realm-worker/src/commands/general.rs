//! Commands every player has (in the default `groupdef.conf`): help,
//! arenas, finding players, lag, scores and the like.

use ipc_proto::{ReportKind, ZoneCall};
use ss_proto::game::ship;

use super::{find_command, parse, CmdError, CmdResult, CmdTarget, Ctx};
use crate::arena::Arena;

/// The player a command is about: the target player, else the issuer
/// (who must then be in this arena).
fn subject(arena: &Arena, ctx: &Ctx) -> Result<i16, CmdError> {
    match ctx.target {
        CmdTarget::Player(p) => Ok(p),
        _ if !ctx.issuer.remote && arena.players.contains_key(&ctx.issuer.pid) => {
            Ok(ctx.issuer.pid)
        }
        _ => Err(CmdError::NeedPlayer),
    }
}

pub(super) fn help(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    let name = params.trim().trim_start_matches(['?', '*']);
    if name.contains(':') {
        super::settings::setting_help(a, ctx, name);
        return Ok(());
    }
    if name.is_empty() {
        let list = a.usable_commands(&ctx.issuer).join(", ");
        a.reply(&ctx.issuer, "Usage: ?help <command>. You may use:");
        a.reply(&ctx.issuer, &list);
        return Ok(());
    }
    let Some(spec) = find_command(name) else {
        return Err(CmdError::Msg(format!(
            "No help for ?{name}: no such command."
        )));
    };
    for line in Arena::help_lines(spec) {
        a.reply(&ctx.issuer, &line);
    }
    Ok(())
}

pub(super) fn commands(a: &mut Arena, ctx: &Ctx, _params: &str) -> CmdResult {
    let list = a.usable_commands(&ctx.issuer).join(", ");
    a.reply(&ctx.issuer, &format!("Commands: {list}"));
    Ok(())
}

pub(super) fn arena(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    let see_private = a.issuer_can(&ctx.issuer, "seeprivarena");
    a.zone_call(ZoneCall::ArenaList {
        pid: ctx.issuer.pid,
        see_private,
        text: params.contains("-t") || ctx.issuer.remote,
    });
    Ok(())
}

pub(super) fn go(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    if ctx.issuer.remote {
        return Err(CmdError::Msg("?go only moves yourself.".into()));
    }
    let name = parse::unquote(params);
    let arena = if name.is_empty() { "0" } else { name };
    a.zone_call(ZoneCall::MovePlayer {
        pid: ctx.issuer.pid,
        arena: arena.to_string(),
    });
    Ok(())
}

pub(super) fn find(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    let name = parse::unquote(params);
    if name.is_empty() {
        return Err(CmdError::Usage);
    }
    let see_private = a.issuer_can(&ctx.issuer, "seeprivarena");
    a.zone_call(ZoneCall::FindPlayer {
        pid: ctx.issuer.pid,
        name: name.to_string(),
        see_private,
    });
    Ok(())
}

pub(super) fn lag(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    let target = subject(a, ctx)?;
    let kind = if params.contains("-v") {
        ReportKind::LagVerbose
    } else {
        ReportKind::Lag
    };
    a.zone_call(ZoneCall::PlayerReport {
        asker: ctx.issuer.pid,
        target,
        kind,
    });
    if kind == ReportKind::LagVerbose {
        if let Some(line) = a.lag_info(target) {
            a.reply(&ctx.issuer, &line);
        }
    }
    Ok(())
}

/// `?laghist [-r]`: the target's (or your own) position ping histogram,
/// or with `-r` his reliable round trips'.
pub(super) fn laghist(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    let target = subject(a, ctx)?;
    let reliable = match params.trim() {
        "" => false,
        "-r" => true,
        _ => return Err(CmdError::Usage),
    };
    let lines = a
        .lag_histogram(target, reliable)
        .ok_or(CmdError::NeedPlayer)?;
    for l in lines {
        a.reply(&ctx.issuer, &l);
    }
    Ok(())
}

pub(super) fn listmod(a: &mut Arena, ctx: &Ctx, _params: &str) -> CmdResult {
    let see_private = a.issuer_can(&ctx.issuer, "seeprivarena");
    let see_all_staff = a.issuer_can(&ctx.issuer, "seeallstaff");
    a.zone_call(ZoneCall::ListStaff {
        pid: ctx.issuer.pid,
        see_private,
        see_all_staff,
    });
    Ok(())
}

pub(super) fn getgroup(a: &mut Arena, ctx: &Ctx, _params: &str) -> CmdResult {
    let text = match ctx.target {
        CmdTarget::Player(p) => {
            let t = a.players.get(&p).ok_or(CmdError::NeedPlayer)?;
            format!("{} is in group {}.", t.info.name, t.group)
        }
        _ => format!("You are in group {}.", ctx.issuer.group),
    };
    a.reply(&ctx.issuer, &text);
    Ok(())
}

pub(super) fn obscene(a: &mut Arena, ctx: &Ctx, _params: &str) -> CmdResult {
    let p = a
        .players
        .get_mut(&ctx.issuer.pid)
        .filter(|_| !ctx.issuer.remote)
        .ok_or(CmdError::NeedPlayer)?;
    p.obscenity_filter = !p.obscenity_filter;
    let text = if p.obscenity_filter {
        "Obscene filter ON"
    } else {
        "Obscene filter OFF"
    };
    a.reply(&ctx.issuer, text);
    Ok(())
}

pub(super) fn owner(a: &mut Arena, ctx: &Ctx, _params: &str) -> CmdResult {
    let text = match a
        .assets
        .config
        .get_str("Owner", "Name")
        .filter(|o| !o.is_empty())
    {
        Some(o) => format!("This arena is owned by {o}."),
        None => "This arena has no listed owner.".to_string(),
    };
    a.reply(&ctx.issuer, &text);
    Ok(())
}

pub(super) fn zone(a: &mut Arena, ctx: &Ctx, _params: &str) -> CmdResult {
    let g = a.assets.config.global();
    let name = g
        .get_str("Billing", "ServerName")
        .or_else(|| g.get_str("Directory", "Name"))
        .filter(|n| !n.is_empty())
        .unwrap_or("(none)")
        .to_string();
    a.reply(&ctx.issuer, &format!("Zone: {name}."));
    Ok(())
}

pub(super) fn version(a: &mut Arena, ctx: &Ctx, _params: &str) -> CmdResult {
    let text = format!(
        "Subsumption {} (realm {}; zone {})",
        ipc_proto::version::build_version(),
        a.name,
        a.zone_version.as_deref().unwrap_or("unknown")
    );
    a.reply(&ctx.issuer, &text);
    Ok(())
}

pub(super) fn realms(a: &mut Arena, ctx: &Ctx, _params: &str) -> CmdResult {
    a.zone_call(ZoneCall::RealmSummary {
        pid: ctx.issuer.pid,
    });
    Ok(())
}

pub(super) fn scorereset(a: &mut Arena, ctx: &Ctx, _params: &str) -> CmdResult {
    match ctx.target {
        CmdTarget::Player(p) => {
            if !a.may_act_on(&ctx.issuer, p) {
                return Err(CmdError::Msg(
                    "You don't have permission to use ?scorereset on that player.".into(),
                ));
            }
            let name = a
                .players
                .get(&p)
                .ok_or(CmdError::NeedPlayer)?
                .info
                .name
                .clone();
            a.reset_score(p);
            a.reply(
                &ctx.issuer,
                &format!("Player '{name}' has had their score reset."),
            );
        }
        _ => {
            let me = subject(a, ctx)?;
            if !a.rules.self_score_reset {
                return Err(CmdError::Msg(
                    "This arena doesn't allow you to reset your own scores.".into(),
                ));
            }
            a.reset_score(me);
            a.reply(&ctx.issuer, "Your score has been reset.");
        }
    }
    Ok(())
}

pub(super) fn spec(a: &mut Arena, ctx: &Ctx, _params: &str) -> CmdResult {
    let t = subject(a, ctx)?;
    let mut names = Vec::new();
    for p in a.players.values() {
        if p.spectating != t {
            continue;
        }
        let hidden = a.assets.caps.group_has(&p.group, "invisiblespectator")
            && !a.assets.caps.higher_than(&ctx.issuer.group, &p.group);
        if !hidden {
            names.push(p.info.name.clone());
        }
    }
    let you = t == ctx.issuer.pid;
    let text = match names.len() {
        0 if you => "No players are spectating you.".to_string(),
        0 => format!(
            "No players are spectating {}.",
            a.players.get(&t).map_or("?", |p| p.info.name.as_str())
        ),
        1 => format!("1 spectator: {}", names[0]),
        n => format!("{n} spectators: {}", names.join(", ")),
    };
    a.reply(&ctx.issuer, &text);
    Ok(())
}

pub(super) fn where_(a: &mut Arena, ctx: &Ctx, _params: &str) -> CmdResult {
    let t = subject(a, ctx)?;
    let p = a.players.get(&t).ok_or(CmdError::NeedPlayer)?;
    let (who, verb) = if t == ctx.issuer.pid {
        ("You".to_string(), "are")
    } else {
        (p.info.name.clone(), "is")
    };
    let text = if p.ship == ship::SPECTATOR && p.x == 0 && p.y == 0 {
        format!("{who} {verb} in spectator mode.")
    } else {
        let (x, y) = (i32::from(p.x) >> 4, i32::from(p.y) >> 4);
        let col = (b'A' + (x * 20 / 1024).clamp(0, 19) as u8) as char;
        format!(
            "{who} {verb} at {col}{} ({x},{y})",
            (y * 20 / 1024).clamp(0, 19) + 1
        )
    };
    a.reply(&ctx.issuer, &text);
    Ok(())
}
