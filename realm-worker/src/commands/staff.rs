//! Staff commands: messages, ships and freqs, locks, prizes, warps, kicks,
//! chat masks, scores, moving players.

use ipc_proto::{ReportKind, ZoneCall};
use ss_proto::game::{chat_type, ship, S2CPacket};

use super::{parse, CmdError, CmdResult, CmdTarget, Ctx};
use crate::arena::Arena;
use crate::chat::{mask_summary, msg};
use crate::scores::Score;

/// Sound of `?warn` (beep 1).
const SOUND_BEEP1: u8 = 1;

fn player_target(ctx: &Ctx) -> Result<i16, CmdError> {
    match ctx.target {
        CmdTarget::Player(p) => Ok(p),
        _ => Err(CmdError::NeedPlayer),
    }
}

fn name_of(a: &Arena, pid: i16) -> String {
    a.players
        .get(&pid)
        .map_or_else(|| "?".to_string(), |p| p.info.name.clone())
}

pub(super) fn a(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    if params.trim().is_empty() {
        return Err(CmdError::Usage);
    }
    let pids = a.target_pids(ctx.target);
    let text = format!("{params}  -{}", ctx.issuer.name);
    a.message_players(&pids, chat_type::ARENA, ctx.sound, &text);
    Ok(())
}

pub(super) fn aa(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    if params.trim().is_empty() {
        return Err(CmdError::Usage);
    }
    let pids = a.target_pids(ctx.target);
    a.message_players(&pids, chat_type::ARENA, ctx.sound, params);
    Ok(())
}

pub(super) fn z(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    if params.trim().is_empty() {
        return Err(CmdError::Usage);
    }
    a.zone_call(ZoneCall::ZoneMessage {
        text: format!("{params}  -{}", ctx.issuer.name),
        sound: ctx.sound,
    });
    Ok(())
}

pub(super) fn az(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    if params.trim().is_empty() {
        return Err(CmdError::Usage);
    }
    a.zone_call(ZoneCall::ZoneMessage {
        text: params.to_string(),
        sound: ctx.sound,
    });
    Ok(())
}

pub(super) fn warn(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    let t = player_target(ctx)?;
    if params.trim().is_empty() {
        return Err(CmdError::Usage);
    }
    let text = if a.issuer_can(&ctx.issuer, "isstaff") {
        format!("WARNING: {params}  -{}", ctx.issuer.name)
    } else {
        format!("WARNING: {params}")
    };
    a.message_players(&[t], chat_type::SYSOP_WARNING, SOUND_BEEP1, &text);
    a.reply(&ctx.issuer, "Player warned.");
    Ok(())
}

pub(super) fn info(a: &mut Arena, ctx: &Ctx, _params: &str) -> CmdResult {
    let t = player_target(ctx)?;
    a.zone_call(ZoneCall::PlayerReport {
        asker: ctx.issuer.pid,
        target: t,
        kind: ReportKind::Info,
    });
    if let Some(line) = a.security_info(t) {
        a.reply(&ctx.issuer, &line);
    }
    Ok(())
}

pub(super) fn kick(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    let t = player_target(ctx)?;
    if t == ctx.issuer.pid {
        return Err(CmdError::Msg("You can't kick yourself.".into()));
    }
    let name = name_of(a, t);
    if !a.may_act_on(&ctx.issuer, t) {
        let tried = format!("{} tried to use ?kick on you.", ctx.issuer.name);
        a.arena_message(t, &tried);
        return Err(CmdError::Msg(
            "You don't have permission to use ?kick on that player.".into(),
        ));
    }
    // [-s n | -t n | -m min | n] [reason]
    let p = params.trim();
    // A flag without a number (`*kill` is `?kick -m`) is no timeout.
    let (secs, rest) = if let Some(r) = p.strip_prefix("-s").or_else(|| p.strip_prefix("-t")) {
        split_number(r, 1).unwrap_or((0, r.trim_start()))
    } else if let Some(r) = p.strip_prefix("-m") {
        split_number(r, 60).unwrap_or((0, r.trim_start()))
    } else {
        match split_number(p, 1) {
            Ok(x) => x,
            Err(_) => (0, p),
        }
    };
    let reason = parse::unquote(rest);
    let text = if reason.is_empty() {
        "You have been kicked.".to_string()
    } else {
        format!("You have been kicked for: {reason}")
    };
    let ban_secs = u32::try_from(secs).unwrap_or(u32::MAX);
    if ban_secs > 0 {
        // Kept in the zone's database: the kick outlives a zone restart
        // (docs/protocol/commands-and-capabilities.md §4.2).
        // The call acts for a player of this realm: the target when the
        // issuer is elsewhere (a timed kick sends the issuer nothing).
        let pid = if ctx.issuer.remote { t } else { ctx.issuer.pid };
        a.zone_call(ZoneCall::Staff {
            pid,
            request: ipc_proto::StaffRequest::TimedKick {
                target: t,
                text,
                secs: ban_secs,
                reason: reason.to_string(),
                kicker: ctx.issuer.name.clone(),
            },
        });
    } else {
        a.zone_call(ZoneCall::KickWithMessage {
            pid: t,
            text,
            ban_secs: 0,
        });
    }
    let reply = match secs {
        0 => format!("Kicked '{name}'."),
        s if s > 119 => format!(
            "Kicked '{name}' for {} minutes and {} second(s).",
            s / 60,
            s % 60
        ),
        s if s > 59 => format!("Kicked '{name}' for 1 minute and {} second(s).", s % 60),
        s => format!("Kicked '{name}' for {s} seconds."),
    };
    a.reply(&ctx.issuer, &reply);
    Ok(())
}

/// A leading number (times `unit`) and the rest; usage error if the
/// number is missing.
fn split_number(s: &str, unit: i64) -> Result<(i64, &str), CmdError> {
    let s = s.trim_start();
    let end = s
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || (i == 0 && c == '-')))
        .map_or(s.len(), |(i, _)| i);
    let n = parse::int(&s[..end]).ok_or(CmdError::Usage)?;
    Ok((n.max(0).saturating_mul(unit), s[end..].trim_start()))
}

/// Splits a leading `-f` off.
fn force_flag(params: &str) -> (bool, &str) {
    let p = params.trim_start();
    match p.strip_prefix("-f") {
        Some(rest) => (true, rest.trim_start()),
        None => (false, p),
    }
}

pub(super) fn setship(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    let (force, rest) = force_flag(params);
    let n = parse::int(rest)
        .filter(|n| (1..=9).contains(n))
        .ok_or(CmdError::Usage)?;
    let new_ship = (n - 1) as u8;
    let force = force || a.issuer_can(&ctx.issuer, "forceshipfreqchange");
    for pid in a.actionable(ctx) {
        if let Some(err) = a.staff_set_ship(pid, new_ship, force) {
            let text = format!("{}: {err}", name_of(a, pid));
            a.reply(&ctx.issuer, &text);
        }
    }
    Ok(())
}

pub(super) fn setfreq(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    let (force, rest) = force_flag(params);
    let freq = parse::int(rest)
        .filter(|f| (0..=9999).contains(f))
        .ok_or(CmdError::Usage)? as i16;
    let force = force || a.issuer_can(&ctx.issuer, "forceshipfreqchange");
    for pid in a.actionable(ctx) {
        if let Some(err) = a.staff_set_freq(pid, freq, force) {
            let text = format!("{}: {err}", name_of(a, pid));
            a.reply(&ctx.issuer, &text);
        }
    }
    Ok(())
}

pub(super) fn specall(a: &mut Arena, ctx: &Ctx, _params: &str) -> CmdResult {
    let spec_freq = a.rules.freq.spec_freq;
    for pid in a.actionable(ctx) {
        a.set_ship_and_freq(pid, ship::SPECTATOR, spec_freq);
    }
    Ok(())
}

pub(super) fn lock(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    let notify = params.contains("-n");
    let spec = params.contains("-s");
    let timeout = match params.find("-t") {
        Some(i) => split_number(&params[i + 2..], 1)?.0 as u64,
        None => 0,
    };
    for pid in a.actionable(ctx) {
        a.lock_ship(pid, true, notify, spec, timeout);
    }
    Ok(())
}

pub(super) fn unlock(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    let notify = params.contains("-n");
    for pid in a.actionable(ctx) {
        a.lock_ship(pid, false, notify, false, 0);
    }
    Ok(())
}

/// Prize names (ASSS `?prize`); a word naming several matches the last.
const PRIZE_NAMES: &[(&str, i16)] = &[
    ("random", 0),
    ("charge", 13),
    ("x", 6),
    ("recharge", 1),
    ("energy", 2),
    ("rot", 3),
    ("stealth", 4),
    ("cloak", 5),
    ("warp", 7),
    ("gun", 8),
    ("bomb", 9),
    ("bounce", 10),
    ("thrust", 11),
    ("speed", 12),
    ("shutdown", 14),
    ("multi", 15),
    ("prox", 16),
    ("super", 17),
    ("shield", 18),
    ("shrap", 19),
    ("anti", 20),
    ("rep", 21),
    ("burst", 22),
    ("decoy", 23),
    ("thor", 24),
    ("mprize", 25),
    ("brick", 26),
    ("rocket", 27),
    ("port", 28),
];

/// Parses `?prize` arguments into (prize, count) pairs; a negative prize
/// number takes that prize away. `None` if nothing usable was given.
pub fn parse_prizes(params: &str) -> Option<Vec<(i16, i16)>> {
    let mut out = Vec::new();
    let mut count: i64 = 1;
    let mut last_was_count = false;
    for word in params.split([' ', ',']).filter(|w| !w.is_empty()) {
        if let Some(n) = parse::int(word).filter(|&n| n != 0) {
            count = n.clamp(-1000, 1000);
            last_was_count = true;
            continue;
        }
        last_was_count = false;
        if word.starts_with('-') {
            count = -count;
        }
        let lower = word.to_ascii_lowercase();
        let prize = match lower.strip_prefix('#') {
            Some(n) => parse::int(n)
                .filter(|n| (0..=28).contains(n))
                .map(|n| n as i16),
            None => PRIZE_NAMES
                .iter()
                .rev()
                .find(|(name, _)| lower.contains(name))
                .map(|&(_, t)| t),
        };
        let prize = prize?;
        let (prize, n) = if count < 0 {
            (-prize, -count)
        } else {
            (prize, count)
        };
        out.push((prize, n as i16));
        count = 1;
    }
    if last_was_count {
        out.push((0, count.abs() as i16));
    }
    (!out.is_empty()).then_some(out)
}

pub(super) fn prize(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    let prizes = parse_prizes(params).ok_or(CmdError::Usage)?;
    let pids = a.target_pids(ctx.target);
    for (prize, count) in prizes {
        a.give_prize(&pids, prize, count);
    }
    Ok(())
}

pub(super) fn warpto(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    let words: Vec<String> = params
        .split([' ', ','])
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    let coord = |i: usize| {
        words
            .get(i)
            .and_then(|w| parse::int(w))
            .filter(|v| (1..=1023).contains(v))
            .map(|v| v as i16)
    };
    let (Some(x), Some(y)) = (coord(0), coord(1)) else {
        return Err(CmdError::Usage);
    };
    let pids = a.target_pids(ctx.target);
    a.send_to_list(&pids, &S2CPacket::WarpTo { x, y });
    Ok(())
}

pub(super) fn shipreset(a: &mut Arena, ctx: &Ctx, _params: &str) -> CmdResult {
    let pids = a.target_pids(ctx.target);
    a.send_to_list(&pids, &S2CPacket::ShipReset);
    Ok(())
}

pub(super) fn send(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    let t = player_target(ctx)?;
    let arena = parse::unquote(params);
    if arena.is_empty() {
        return Err(CmdError::Usage);
    }
    if !a.may_act_on(&ctx.issuer, t) {
        return Err(CmdError::Msg(
            "You don't have permission to use ?send on that player.".into(),
        ));
    }
    let name = name_of(a, t);
    a.zone_call(ZoneCall::MovePlayer {
        pid: t,
        arena: arena.to_string(),
    });
    a.reply(&ctx.issuer, &format!("Sending {name} to arena {arena}."));
    Ok(())
}

pub(super) fn points(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    let n = parse::int(params)
        .filter(|n| n.unsigned_abs() <= 1_000_000_000)
        .ok_or(CmdError::Usage)? as i32;
    for pid in a.target_pids(ctx.target) {
        a.add_flag_points(pid, n);
    }
    Ok(())
}

pub(super) fn setscore(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    let t = player_target(ctx)?;
    let nums: Option<Vec<i64>> = parse::words(params).iter().map(|w| parse::int(w)).collect();
    let nums = nums
        .filter(|n| (1..=4).contains(&n.len()))
        .ok_or(CmdError::Usage)?;
    if nums
        .iter()
        .skip(2)
        .any(|&n| !(0..=i64::from(u16::MAX)).contains(&n))
    {
        return Err(CmdError::Usage);
    }
    if !a.may_act_on(&ctx.issuer, t) {
        return Err(CmdError::Msg(
            "You don't have permission to use ?setscore on that player.".into(),
        ));
    }
    let clamp = |n: i64| n.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
    let score = Score {
        kill_points: clamp(nums[0]),
        flag_points: nums.get(1).map_or(0, |&n| clamp(n)),
        kills: nums.get(2).map_or(0, |&n| n as u16),
        deaths: nums.get(3).map_or(0, |&n| n as u16),
    };
    a.set_score(t, score);
    let name = name_of(a, t);
    a.reply(
        &ctx.issuer,
        &format!(
            "{name}: kill points {} flag points {} kills {} deaths {}",
            score.kill_points, score.flag_points, score.kills, score.deaths
        ),
    );
    Ok(())
}

/// Parses `?setcm` arguments against `mask`; returns the new mask and a
/// timeout in seconds (0 = none). Words are `(+|-)(pub|pubmacro|freq|
/// nmefreq|priv|chat|modchat|all)` and `-t <seconds>`.
pub fn parse_chat_mask(params: &str, mut mask: u32) -> Result<(u32, u64), CmdError> {
    let mut timeout = 0;
    let mut any = false;
    let mut rest = params;
    while let Some(i) = rest.find(['+', '-']) {
        let allow = rest.as_bytes()[i] == b'+';
        let after = &rest[i + 1..];
        let end = after
            .find(|c: char| c.is_whitespace() || c == '+' || c == '-')
            .unwrap_or(after.len());
        let word = after[..end].to_ascii_lowercase();
        rest = &after[end..];
        let bits = match word.as_str() {
            "all" => msg::CHAT_KINDS,
            "pubmacro" => 1 << msg::PUBMACRO,
            "pub" => 1 << msg::PUB,
            "freq" => 1 << msg::FREQ,
            "nmefreq" => 1 << msg::NMEFREQ,
            "priv" => (1 << msg::PRIV) | (1 << msg::REMOTEPRIV),
            "chat" => 1 << msg::CHAT,
            "modchat" => 1 << msg::MODCHAT,
            w => {
                let digits = w.strip_prefix("time").or_else(|| w.strip_prefix('t'));
                match digits {
                    Some("") => {
                        let (n, r) = split_number(rest, 1)?;
                        rest = r;
                        timeout = n as u64;
                    }
                    Some(d) => timeout = parse::int(d).ok_or(CmdError::Usage)?.max(0) as u64,
                    None => return Err(CmdError::Usage),
                }
                any = true;
                continue;
            }
        };
        any = true;
        if allow {
            mask &= !bits;
        } else {
            mask |= bits;
        }
    }
    if !any {
        return Err(CmdError::Usage);
    }
    Ok((mask, timeout))
}

pub(super) fn setcm(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    match ctx.target {
        CmdTarget::Arena => {
            let (mask, _) = parse_chat_mask(params, a.arena_chat_mask)?;
            a.arena_chat_mask = mask;
            let text = format!("Arena {}: {}", a.name, mask_summary(mask));
            a.reply(&ctx.issuer, &text);
        }
        CmdTarget::Player(t) => {
            if !a.may_act_on(&ctx.issuer, t) {
                return Err(CmdError::Msg(
                    "You don't have permission to use ?setcm on that player.".into(),
                ));
            }
            let current = a.player_chat_mask(t);
            let (mask, timeout) = parse_chat_mask(params, current)?;
            a.set_player_chat_mask(t, mask, timeout);
            let text = format!("{}: {} -t {timeout}", name_of(a, t), mask_summary(mask));
            a.reply(&ctx.issuer, &text);
        }
        CmdTarget::Freq(_) => return Err(CmdError::Msg("Bad target!".into())),
    }
    Ok(())
}

pub(super) fn getcm(a: &mut Arena, ctx: &Ctx, _params: &str) -> CmdResult {
    let text = match ctx.target {
        CmdTarget::Arena => format!("Arena {}: {}", a.name, mask_summary(a.arena_chat_mask)),
        CmdTarget::Player(t) => {
            let mask = a.player_chat_mask(t);
            let left = a.player_chat_mask_secs(t);
            format!("{}: {} -t {left}", name_of(a, t), mask_summary(mask))
        }
        CmdTarget::Freq(_) => return Err(CmdError::Msg("Bad target!".into())),
    };
    a.reply(&ctx.issuer, &text);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prizes_parse_like_asss() {
        assert_eq!(parse_prizes("3 reps"), Some(vec![(21, 3)]));
        assert_eq!(parse_prizes("anti"), Some(vec![(20, 1)]));
        assert_eq!(parse_prizes("-prox"), Some(vec![(-16, 1)]));
        assert_eq!(parse_prizes("-3 bricks"), Some(vec![(-26, 3)]));
        assert_eq!(parse_prizes("5 -guns"), Some(vec![(-8, 5)]));
        assert_eq!(parse_prizes("recharge, xradar"), Some(vec![(1, 1), (6, 1)]));
        assert_eq!(parse_prizes("#24"), Some(vec![(24, 1)]));
        assert_eq!(
            parse_prizes("10"),
            Some(vec![(0, 10)]),
            "a count alone: random"
        );
        assert_eq!(parse_prizes(""), None);
        assert_eq!(parse_prizes("bananas"), None);
        assert_eq!(parse_prizes("#99"), None);
    }

    #[test]
    fn chat_masks_parse() {
        let pub_bit = 1 << msg::PUB;
        let priv_bits = (1 << msg::PRIV) | (1 << msg::REMOTEPRIV);
        assert_eq!(parse_chat_mask("-pub", 0), Ok((pub_bit, 0)));
        assert_eq!(parse_chat_mask("-priv -t 600", 0), Ok((priv_bits, 600)));
        assert_eq!(parse_chat_mask("+all", pub_bit | priv_bits), Ok((0, 0)));
        let (all, _) = parse_chat_mask("-all", 0).unwrap();
        assert_ne!(all & pub_bit, 0);
        assert_ne!(all & (1 << msg::MODCHAT), 0);
        assert_eq!(parse_chat_mask("-pubmacro", 0), Ok((1 << msg::PUBMACRO, 0)));
        assert_eq!(parse_chat_mask("hello", 0), Err(CmdError::Usage));
        assert_eq!(parse_chat_mask("-t", 0), Err(CmdError::Usage));
    }

    #[test]
    fn numbers_before_reasons() {
        assert_eq!(split_number(" 10 go away", 60), Ok((600, "go away")));
        assert_eq!(split_number("x", 1), Err(CmdError::Usage));
    }
}
