//! Staff tooling (`docs/protocol/commands-and-capabilities.md` §4): groups
//! and passwords, timed kicks, the zone log, arena and zone control, and
//! small informational commands. What touches files, the database or the
//! whole zone is asked of the supervisor ([`ZoneCall::Staff`]); the realm
//! checks capabilities and the "higher than" rule first.

use ipc_proto::{FileOp, PasswordValue, SendFileOp, StaffRequest, ZoneCall};
use ss_proto::game::{chat_type, ship, Chat, S2CPacket};
use tracing::info;

use super::{parse, CmdError, CmdResult, CmdTarget, Ctx, COMMANDS};
use crate::arena::Arena;
use crate::caps::DEFAULT_GROUP;

/// Sound of `?sheep` (ASSS: sound 24, the sheep).
const SOUND_SHEEP: u8 = 24;
/// Lines `?lastlog` shows without a count.
const LASTLOG_DEFAULT: u16 = 10;

fn player_target(ctx: &Ctx) -> Result<i16, CmdError> {
    match ctx.target {
        CmdTarget::Player(p) => Ok(p),
        _ => Err(CmdError::NeedPlayer),
    }
}

/// Commands the zone carries out act for a player of this arena.
fn local(ctx: &Ctx) -> CmdResult {
    if ctx.issuer.remote {
        return Err(CmdError::Msg(format!(
            "?{} works only in your own arena.",
            ctx.name
        )));
    }
    Ok(())
}

fn staff(a: &mut Arena, ctx: &Ctx, request: StaffRequest) -> CmdResult {
    local(ctx)?;
    a.zone_call(ZoneCall::Staff {
        pid: ctx.issuer.pid,
        request,
    });
    Ok(())
}

fn name_of(a: &Arena, pid: i16) -> String {
    a.players
        .get(&pid)
        .map_or_else(|| "?".to_string(), |p| p.info.name.clone())
}

// ----- groups and passwords ---------------------------------------------------

/// `?setgroup [-a] [-p] <group>`: flags and the group name.
pub fn parse_setgroup(params: &str) -> Option<(bool, bool, String)> {
    let (mut arena_only, mut permanent) = (false, false);
    let mut group = None;
    for w in params.split_whitespace() {
        match w {
            "-a" | "arena" => arena_only = true,
            "-p" | "perm" => permanent = true,
            g if group.is_none() && !g.starts_with('-') => group = Some(g.to_ascii_lowercase()),
            _ => return None,
        }
    }
    group.map(|g| (arena_only, permanent, g))
}

pub(super) fn setgroup(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    let t = player_target(ctx)?;
    let (arena_only, permanent, group) = parse_setgroup(params).ok_or(CmdError::Usage)?;
    if !a.assets.caps.group_exists(&group) {
        return Err(CmdError::Msg(format!("There is no group {group}.")));
    }
    if !a.issuer_can(&ctx.issuer, &format!("higher_than_{group}")) {
        info!(realm = %a.name, issuer = %ctx.issuer.name, group, "setgroup refused: not higher than the group");
        return Err(CmdError::Msg(format!(
            "You don't have permission to give people group {group}."
        )));
    }
    let (name, current) = match a.players.get(&t) {
        Some(p) => (p.info.name.clone(), p.group.clone()),
        None => return Err(CmdError::NeedPlayer),
    };
    if current != DEFAULT_GROUP {
        return Err(CmdError::Msg(format!(
            "Player {name} already has a group. You need to use ?rmgroup first."
        )));
    }
    if permanent {
        // The file first; the zone tells this realm when it is written.
        let section = arena_only.then(|| a.assets.caps.base().to_string());
        return staff(
            a,
            ctx,
            StaffRequest::SetGroup {
                target: t,
                group,
                section,
            },
        );
    }
    if let Some(p) = a.players.get_mut(&t) {
        p.group = group.clone();
        p.group_temp = true;
    }
    a.reply(
        &ctx.issuer,
        &format!("{name} is now temporarily in group {group}."),
    );
    let text = format!(
        "You have temporarily been assigned to group {group} by {}.",
        ctx.issuer.name
    );
    a.arena_message(t, &text);
    Ok(())
}

pub(super) fn rmgroup(a: &mut Arena, ctx: &Ctx, _params: &str) -> CmdResult {
    let t = player_target(ctx)?;
    let (name, group, temp) = match a.players.get(&t) {
        Some(p) => (p.info.name.clone(), p.group.clone(), p.group_temp),
        None => return Err(CmdError::NeedPlayer),
    };
    if group == DEFAULT_GROUP {
        return Err(CmdError::Msg(format!("{name} is not in a group.")));
    }
    if !a.issuer_can(&ctx.issuer, &format!("higher_than_{group}")) {
        return Err(CmdError::Msg(format!(
            "You don't have permission to take away group {group}."
        )));
    }
    let section = if temp {
        None
    } else {
        a.assets.caps.staff_section(&name)
    };
    match section {
        Some(section) => staff(a, ctx, StaffRequest::RemoveGroup { target: t, section }),
        None => {
            a.group_set_by_zone(
                t,
                DEFAULT_GROUP.to_string(),
                ctx.issuer.pid,
                &ctx.issuer.name,
            );
            a.reply(
                &ctx.issuer,
                &format!("{name} has been removed from group {group}."),
            );
            Ok(())
        }
    }
}

pub(super) fn grplogin(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    local(ctx)?;
    let mut words = params.trim().splitn(2, ' ');
    let group = words.next().unwrap_or("").to_ascii_lowercase();
    let password = words.next().unwrap_or("");
    if group.is_empty() || password.is_empty() {
        return Err(CmdError::Msg(
            "You must specify a group name and password.".into(),
        ));
    }
    if a.assets.caps.group_password(&group) != Some(password) {
        info!(realm = %a.name, name = %ctx.issuer.name, group, "grplogin: bad password");
        return Err(CmdError::Msg(format!("Bad password for group {group}.")));
    }
    if let Some(p) = a.players.get_mut(&ctx.issuer.pid) {
        p.group = group.clone();
        p.group_temp = true;
    }
    info!(realm = %a.name, name = %ctx.issuer.name, group, "grplogin");
    a.reply(&ctx.issuer, &format!("You are now in group {group}."));
    Ok(())
}

pub(super) fn passwd(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    let pw = params.trim();
    if pw.is_empty() {
        return Err(CmdError::Msg("You must specify a password.".into()));
    }
    staff(
        a,
        ctx,
        StaffRequest::Password {
            name: ctx.issuer.name.clone(),
            value: PasswordValue::Set(pw.to_string()),
        },
    )
}

pub(super) fn addallowed(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    let name = parse::unquote(params);
    if name.is_empty() {
        return Err(CmdError::Msg("You must specify a player name.".into()));
    }
    staff(
        a,
        ctx,
        StaffRequest::Password {
            name: name.to_string(),
            value: PasswordValue::Allow,
        },
    )
}

pub(super) fn set_local_password(a: &mut Arena, ctx: &Ctx, _params: &str) -> CmdResult {
    let t = player_target(ctx)?;
    let name = name_of(a, t);
    staff(
        a,
        ctx,
        StaffRequest::Password {
            name,
            value: PasswordValue::FromLogin { target: t },
        },
    )
}

impl Arena {
    /// `staff.conf` changed: read it again; players not in a temporary
    /// group follow it.
    pub(crate) fn reload_staff(&mut self) {
        match self.source.load_caps(self.assets.caps.base()) {
            Ok(caps) => {
                for p in self.players.values_mut().filter(|p| !p.group_temp) {
                    p.group = caps.group_of(&p.info.name, p.info.authenticated);
                }
                self.assets.caps = caps;
            }
            Err(e) => tracing::warn!(realm = %self.name, "re-reading staff.conf failed: {e:#}"),
        }
    }

    /// The zone wrote a group change for `pid` (or a temporary one was
    /// dropped): he is in `group` now, and is told so.
    pub(crate) fn group_set_by_zone(
        &mut self,
        pid: i16,
        group: String,
        _issuer: i16,
        issuer_name: &str,
    ) {
        let Some(p) = self.players.get_mut(&pid) else {
            return;
        };
        let old = std::mem::replace(&mut p.group, group.clone());
        p.group_temp = false;
        p.sees_extra = self.rules.spec_see_extra || self.assets.caps.group_has(&group, "seeepd");
        info!(realm = %self.name, pid, old, group, by = issuer_name, "group changed");
        let text = if group == DEFAULT_GROUP {
            format!("You have been removed from group {old}.")
        } else {
            format!("You have been assigned to group {group} by {issuer_name}.")
        };
        self.arena_message(pid, &text);
    }
}

// ----- timed kicks --------------------------------------------------------------

pub(super) fn listkick(a: &mut Arena, ctx: &Ctx, _params: &str) -> CmdResult {
    staff(a, ctx, StaffRequest::ListBans)
}

pub(super) fn liftkick(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    let key = parse::unquote(params);
    if key.is_empty() || key == "0" {
        return Err(CmdError::Msg("Invalid machine id.".into()));
    }
    staff(
        a,
        ctx,
        StaffRequest::LiftBan {
            key: key.to_string(),
        },
    )
}

// ----- logs and staff messages ----------------------------------------------------

/// `?lastlog [count] [filter]`.
pub fn parse_lastlog(params: &str) -> (u16, String) {
    let p = params.trim();
    let (first, rest) = p.split_once(' ').unwrap_or((p, ""));
    match first.parse::<u16>() {
        Ok(n) => (n.max(1), rest.trim().to_string()),
        Err(_) => (LASTLOG_DEFAULT, p.to_string()),
    }
}

pub(super) fn lastlog(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    let (count, filter) = parse_lastlog(params);
    staff(a, ctx, StaffRequest::LastLog { count, filter })
}

pub(super) fn cheater(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    alert(a, ctx, ctx.name, params)
}

/// An alert command (`?cheater`, or the names `Notify:AlertCommand` gives):
/// the message goes to every staff member online, headed with the word the
/// player typed (`docs/protocol/commands-and-capabilities.md` §3).
pub(super) fn alert(a: &mut Arena, ctx: &Ctx, word: &str, params: &str) -> CmdResult {
    local(ctx)?;
    let text = params.trim();
    if text.is_empty() {
        let reply = a
            .assets
            .config
            .global()
            .get_text("Notify", "EmptyReply")
            .unwrap_or("Please include a message to send to online staff.");
        return Err(CmdError::Msg(reply.to_string()));
    }
    let public = a.name.chars().all(|c| c.is_ascii_digit());
    let line = if public {
        format!("{word}: ({}) (Public {}): {text}", ctx.issuer.name, a.name)
    } else {
        format!("{word}: ({}) ({}): {text}", ctx.issuer.name, a.name)
    };
    a.zone_call(ZoneCall::StaffChat {
        from: ctx.issuer.pid,
        text: line,
    });
    a.reply(&ctx.issuer, "Message has been sent to online staff.");
    Ok(())
}

pub(super) fn reply(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    let t = player_target(ctx)?;
    if params.trim().is_empty() {
        return Err(CmdError::Usage);
    }
    if ctx.issuer.remote {
        a.zone_call(ZoneCall::MessageTo {
            pid: t,
            chat_type: chat_type::ARENA,
            sound: 0,
            text: format!("{}> {params}", ctx.issuer.name),
        });
    } else {
        let pkt = S2CPacket::Chat(Chat {
            chat_type: chat_type::PRIVATE,
            sound: 0,
            pid: ctx.issuer.pid,
            text: params.to_string(),
        });
        a.send_to_list(&[t], &pkt);
    }
    a.reply(&ctx.issuer, "Private message sent to player.");
    Ok(())
}

// ----- arena and zone control -------------------------------------------------------

fn flags(params: &str) -> impl Fn(&str) -> bool + '_ {
    move |f| params.split_whitespace().any(|w| w == f)
}

pub(super) fn lockarena(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    let has = flags(params);
    let (notify, only_state, initial, spec) = (has("-n"), has("-a"), has("-i"), has("-s"));
    a.arena_lock = Some(initial);
    if !only_state {
        let pids: Vec<i16> = a.players.keys().copied().collect();
        for pid in pids {
            a.lock_ship(pid, true, notify, spec, 0);
        }
    }
    info!(realm = %a.name, by = %ctx.issuer.name, initial, "arena locked");
    let how = if initial {
        "in their ships"
    } else {
        "in spectator mode"
    };
    a.reply(
        &ctx.issuer,
        &format!("Arena locked: entering players stay {how}."),
    );
    Ok(())
}

pub(super) fn unlockarena(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    let has = flags(params);
    a.arena_lock = None;
    if !has("-a") {
        let pids: Vec<i16> = a.players.keys().copied().collect();
        for pid in pids {
            a.lock_ship(pid, false, has("-n"), false, 0);
        }
    }
    info!(realm = %a.name, by = %ctx.issuer.name, "arena unlocked");
    a.reply(&ctx.issuer, "Arena unlocked.");
    Ok(())
}

pub(super) fn recyclearena(a: &mut Arena, ctx: &Ctx, _params: &str) -> CmdResult {
    staff(a, ctx, StaffRequest::RecycleArena)
}

pub(super) fn shutdown(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    let recycle = match params.trim() {
        "" => false,
        "-r" => true,
        _ => return Err(CmdError::Usage),
    };
    staff(a, ctx, StaffRequest::Shutdown { recycle })
}

pub(super) fn recyclezone(a: &mut Arena, ctx: &Ctx, _params: &str) -> CmdResult {
    staff(a, ctx, StaffRequest::Shutdown { recycle: true })
}

pub(super) fn uptime(a: &mut Arena, ctx: &Ctx, _params: &str) -> CmdResult {
    staff(a, ctx, StaffRequest::Uptime)
}

pub(super) fn netstats(a: &mut Arena, ctx: &Ctx, _params: &str) -> CmdResult {
    staff(a, ctx, StaffRequest::NetStats)
}

pub(super) fn listarena(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    let see_private = a.issuer_can(&ctx.issuer, "seeprivarena");
    staff(
        a,
        ctx,
        StaffRequest::ListArena {
            arena: parse::unquote(params).to_string(),
            see_private,
        },
    )
}

/// `?endinterval [-g] [-a <group>] <reset|game>`: interval and scope
/// (`(global)` for -g; empty = this arena's).
pub fn parse_endinterval(params: &str) -> Result<(String, String), String> {
    let mut interval = None;
    let mut scope = String::new();
    let mut words = params.split_whitespace();
    while let Some(w) = words.next() {
        match w {
            "-g" => scope = "(global)".into(),
            "-a" => {
                scope = words
                    .next()
                    .ok_or("You must specify an arena group name after -a.")?
                    .to_string()
            }
            "reset" | "game" => interval = Some(w.to_string()),
            "maprotation" => return Err("The maprotation interval is not kept here.".into()),
            other => return Err(format!("Bad argument: {other}")),
        }
    }
    let interval = interval.ok_or("You must specify an interval to reset.")?;
    Ok((interval, scope))
}

pub(super) fn endinterval(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    let (interval, scope) = parse_endinterval(params).map_err(CmdError::Msg)?;
    staff(a, ctx, StaffRequest::EndInterval { interval, scope })
}

pub(super) fn makearena(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    let name = params.trim();
    if name.is_empty() {
        return Err(CmdError::Usage);
    }
    staff(
        a,
        ctx,
        StaffRequest::MakeArena {
            name: name.to_string(),
        },
    )
}

pub(super) fn admlogfile(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    let reopen = match params.trim().to_ascii_lowercase().as_str() {
        "flush" => false,
        "reopen" => true,
        _ => return Err(CmdError::Usage),
    };
    staff(a, ctx, StaffRequest::LogFile { reopen })
}

// ----- files of the zone folder (§4.7) ---------------------------------------------

pub(super) fn cd(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    let dir = params.trim().to_string();
    staff(a, ctx, StaffRequest::File(FileOp::Cd(dir)))
}

pub(super) fn pwd(a: &mut Arena, ctx: &Ctx, _params: &str) -> CmdResult {
    staff(a, ctx, StaffRequest::File(FileOp::Pwd))
}

pub(super) fn getfile(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    let name = params.trim();
    if name.is_empty() {
        return Err(CmdError::Usage);
    }
    staff(a, ctx, StaffRequest::File(FileOp::Get(name.to_string())))
}

/// `?putfile <client file>[:<server file>]`: the supervisor asks the
/// client for the file and saves it (ASSS also needs `uploadfile`).
pub(super) fn putfile(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    put(a, ctx, params, |from, to| FileOp::Put { from, to })
}

/// `?putzip <client file>[:<server directory>]`: the same for a zip
/// archive the supervisor unpacks.
pub(super) fn putzip(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    put(a, ctx, params, |from, to| FileOp::PutZip { from, to })
}

/// An upload of `<client file>[:<server name>]`: `op` makes the request
/// from the two names (the second empty when not given).
fn put(
    a: &mut Arena,
    ctx: &Ctx,
    params: &str,
    op: impl FnOnce(String, String) -> FileOp,
) -> CmdResult {
    may_upload(a, ctx)?;
    let (from, to) = split_client_path(params.trim());
    let from = from.trim();
    if from.is_empty() {
        return Err(CmdError::Usage);
    }
    staff(
        a,
        ctx,
        StaffRequest::File(op(from.to_string(), to.trim().to_string())),
    )
}

/// `?putmap <map file>`: the same for this arena's map.
pub(super) fn putmap(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    may_upload(a, ctx)?;
    let from = params.trim();
    if from.is_empty() {
        return Err(CmdError::Usage);
    }
    staff(
        a,
        ctx,
        StaffRequest::File(FileOp::PutMap {
            from: from.to_string(),
        }),
    )
}

/// `<client file>[:<server file>]` split at the colon, a drive letter's
/// (`C:\\stuff\\notes.txt`) not counting.
fn split_client_path(params: &str) -> (&str, &str) {
    let b = params.as_bytes();
    let drive =
        b.len() > 2 && b[0].is_ascii_alphabetic() && b[1] == b':' && matches!(b[2], b'\\' | b'/');
    let skip = if drive { 2 } else { 0 };
    match params[skip..].find(':') {
        Some(i) => (&params[..skip + i], &params[skip + i + 1..]),
        None => (params, ""),
    }
}

/// `?sendfile <file>` to a player (ASSS's `sendfile`): both must be
/// spectators here; the supervisor keeps the offer and, once accepted,
/// carries the file from one client to the other. Uploading it needs
/// `uploadfile` as any upload does.
pub(super) fn sendfile(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    let to = player_target(ctx)?;
    let path = params.trim();
    if path.is_empty() {
        return Err(CmdError::Usage);
    }
    may_upload(a, ctx)?;
    let spectating = |pid: i16| {
        a.players
            .get(&pid)
            .is_some_and(|p| p.ship == ship::SPECTATOR)
    };
    if ctx.issuer.remote || !spectating(ctx.issuer.pid) {
        return Err(CmdError::Msg(
            "You must be in spectator mode to offer files.".into(),
        ));
    }
    if to == ctx.issuer.pid {
        return Err(CmdError::Msg("You cannot send files to yourself.".into()));
    }
    if !spectating(to) {
        return Err(CmdError::Msg(
            "You must offer files to another player in spectator mode.".into(),
        ));
    }
    staff(
        a,
        ctx,
        StaffRequest::SendFile(SendFileOp::Offer {
            to,
            path: path.to_string(),
        }),
    )
}

/// `?acceptfile`: takes the file offered to the asker.
pub(super) fn acceptfile(a: &mut Arena, ctx: &Ctx, _params: &str) -> CmdResult {
    staff(a, ctx, StaffRequest::SendFile(SendFileOp::Accept))
}

/// `?cancelfile`: withdraws the asker's offers, made or received.
pub(super) fn cancelfile(a: &mut Arena, ctx: &Ctx, _params: &str) -> CmdResult {
    staff(a, ctx, StaffRequest::SendFile(SendFileOp::Cancel))
}

/// Uploads need the `uploadfile` capability besides the command's own.
fn may_upload(a: &Arena, ctx: &Ctx) -> CmdResult {
    if a.issuer_can(&ctx.issuer, "uploadfile") {
        Ok(())
    } else {
        Err(CmdError::Msg(
            "You may not upload files (uploadfile capability).".into(),
        ))
    }
}

pub(super) fn delfile(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    let name = params.trim();
    if name.is_empty() {
        return Err(CmdError::Usage);
    }
    staff(a, ctx, StaffRequest::File(FileOp::Delete(name.to_string())))
}

pub(super) fn renfile(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    let (from, to) = params
        .split_once(':')
        .filter(|(f, t)| !f.trim().is_empty() && !t.trim().is_empty())
        .ok_or_else(|| CmdError::Msg("Bad syntax.".into()))?;
    staff(
        a,
        ctx,
        StaffRequest::File(FileOp::Rename {
            from: from.trim().to_string(),
            to: to.trim().to_string(),
        }),
    )
}

// ----- information ------------------------------------------------------------------

pub(super) fn mapinfo(a: &mut Arena, ctx: &Ctx, _params: &str) -> CmdResult {
    let attr = |k: &str| a.assets.map.attribute(k).unwrap_or("<not set>").to_string();
    let lines = vec![
        format!(
            "LVL file: '{}' (crc {:08x}, {}).",
            a.assets.map_name,
            a.assets.map_crc,
            if a.assets.map_decoded {
                "decoded"
            } else {
                "not decoded"
            }
        ),
        format!("name: {}, version: {},", attr("NAME"), attr("VERSION")),
        format!(
            "map creator: {}, tileset creator: {}, program: {},",
            attr("MAPCREATOR"),
            attr("TILESETCREATOR"),
            attr("PROGRAM")
        ),
        format!(
            "regions: {}  flags: {}  download: {} bytes.",
            a.assets.map.regions().len(),
            a.assets.map.flags().len(),
            a.assets.map_packet.len()
        ),
    ];
    for l in lines {
        a.reply(&ctx.issuer, &l);
    }
    Ok(())
}

pub(super) fn stats(a: &mut Arena, ctx: &Ctx, _params: &str) -> CmdResult {
    let t = match ctx.target {
        CmdTarget::Player(p) => p,
        _ if !ctx.issuer.remote => ctx.issuer.pid,
        _ => return Err(CmdError::NeedPlayer),
    };
    let name = a
        .players
        .get(&t)
        .map(|p| p.info.name.clone())
        .ok_or(CmdError::NeedPlayer)?;
    let s = a.scores.get(&name);
    let text = format!(
        "{name} in {}: kill points {}, flag points {}, kills {}, deaths {}",
        a.name, s.kill_points, s.flag_points, s.kills, s.deaths
    );
    a.reply(&ctx.issuer, &text);
    Ok(())
}

pub(super) fn sheep(a: &mut Arena, ctx: &Ctx, _params: &str) -> CmdResult {
    if ctx.target != CmdTarget::Arena {
        return Ok(());
    }
    let text = a
        .assets
        .config
        .get_str("Misc", "SheepMessage")
        .filter(|m| !m.is_empty())
        .unwrap_or("Sheep successfully cloned -- hello Dolly")
        .to_string();
    if ctx.issuer.remote {
        a.reply(&ctx.issuer, &text);
    } else {
        a.message_players(&[ctx.issuer.pid], chat_type::ARENA, SOUND_SHEEP, &text);
    }
    Ok(())
}

/// The arena modules this server has, with a line about each.
pub const MODULES: &[(&str, &str)] = &[
    (
        "fg_wz",
        "carried flags: a freq that holds them all wins (warzone)",
    ),
    ("fg_turf", "turf flags: touch a flag to own it"),
    (
        "jackpot",
        "the jackpot paid to the winners of the flag game",
    ),
    (
        "periodic",
        "points every Periodic:RewardDelay for flags owned",
    ),
    ("points_flag", "the reward of a flag game win"),
    ("points_kill", "kill points (always on)"),
    (
        "points_periodic",
        "periodic points (always on with periodic)",
    ),
    (
        "balls",
        "the ball game: Soccer:BallCount balls to carry and fire",
    ),
    (
        "points_goal",
        "the ball game with team scores and goal rewards (the balls module, scoring)",
    ),
    ("bricks", "brick drops laid across the map as walls"),
    (
        "koth",
        "king of the hill: crowns, and a reward for the last crowned players",
    ),
    ("buy", "?buy: prizes for points at the [Cost] prices"),
    (
        "enf_shipchange",
        "limits ship changes (Misc:ShipChangeInterval, under antiwarp)",
    ),
    (
        "enf_lockspec",
        "a spectators-only arena: nobody leaves spectator mode",
    ),
    (
        "enf_flagwin",
        "nobody joins the freq holding every flag (Flag:TeamChangeGrace)",
    ),
    (
        "game_timer",
        "timed games (Misc:TimedGame) and ?timer (runs in every arena)",
    ),
    (
        "autowarp",
        "warps players who enter an autowarp region (runs in every arena)",
    ),
    (
        "messages",
        "the greeting and periodic arena messages (runs in every arena)",
    ),
    (
        "idle",
        "?idles, ?actives, ?available; Idle:SpecAfter (runs in every arena)",
    ),
];

/// The module an `?attmod`/`?detmod` name stands for: `points_goal` is
/// the ball game (`balls`) keeping scores.
fn module_name(name: &str) -> &str {
    if name == "points_goal" {
        "balls"
    } else {
        name
    }
}

pub(super) fn lsmod(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    let has = flags(params);
    let only_attached = has("-a");
    let text = params
        .split_whitespace()
        .find(|w| !w.starts_with('-'))
        .unwrap_or("")
        .to_ascii_lowercase();
    let attached: Vec<String> = a
        .modules
        .iter()
        .map(|m| m.name().to_ascii_lowercase())
        .collect();
    let names: Vec<String> = MODULES
        .iter()
        .map(|(n, _)| *n)
        .filter(|n| n.contains(text.as_str()))
        .filter(|n| !only_attached || attached.iter().any(|m| m == n))
        .map(|n| {
            if attached.iter().any(|m| m == n) {
                format!("{n} (attached)")
            } else {
                n.to_string()
            }
        })
        .collect();
    a.reply(&ctx.issuer, &format!("Modules: {}", names.join(", ")));
    Ok(())
}

pub(super) fn attmod(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    let p = params.trim();
    if let Some(rest) = p.strip_prefix("-d") {
        return detmod(a, ctx, rest);
    }
    let name = p.to_ascii_lowercase();
    if name.is_empty() {
        return Err(CmdError::Usage);
    }
    if name.starts_with("fg_") {
        return Err(CmdError::Msg(format!(
            "Attaching module {name} failed: flag games are chosen with Modules:AttachModules (then ?recyclearena)."
        )));
    }
    if a.modules.iter().any(|m| m.name() == module_name(&name)) {
        return Err(CmdError::Msg(format!("Module {name} is already attached.")));
    }
    // `attach` also builds the modules every arena runs; take the one
    // named (an always-on module detached earlier comes back this way).
    let (mods, _) = crate::modules::attach(&name, &a.name, &[]);
    let Some(mut m) = mods.into_iter().find(|m| m.name() == module_name(&name)) else {
        let text = if MODULES.iter().any(|(n, _)| *n == name) {
            format!("Module {name} is always on.")
        } else {
            format!("Attaching module {name} failed: no such module.")
        };
        return Err(CmdError::Msg(text));
    };
    m.on_attach(a, ipc_proto::monotonic_ticks());
    a.modules.push(m);
    info!(realm = %a.name, by = %ctx.issuer.name, module = name, "module attached");
    a.reply(
        &ctx.issuer,
        &format!("Module {name} attached (until the arena restarts)."),
    );
    Ok(())
}

pub(super) fn detmod(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    let name = params.trim().to_ascii_lowercase();
    if name.is_empty() {
        return Err(CmdError::Usage);
    }
    if name.starts_with("fg_") {
        return Err(CmdError::Msg(format!(
            "Detaching module {name} failed: flag games are chosen with Modules:AttachModules (then ?recyclearena)."
        )));
    }
    let Some(i) = a
        .modules
        .iter()
        .position(|m| m.name() == module_name(&name))
    else {
        return Err(CmdError::Msg(format!(
            "Detaching module {name} failed: it is not attached."
        )));
    };
    let mut m = a.modules.remove(i);
    m.on_detach(a);
    info!(realm = %a.name, by = %ctx.issuer.name, module = name, "module detached");
    a.reply(&ctx.issuer, &format!("Module {name} detached."));
    Ok(())
}

/// `?botfeature [+|-]seeallposn [+|-]seeownposn`.
pub fn parse_botfeature(params: &str) -> Result<Vec<(&str, bool)>, String> {
    let mut out = Vec::new();
    for w in params.split([' ', ',']).filter(|w| !w.is_empty()) {
        let (on, name) = match w.split_at(1) {
            ("+", n) => (true, n),
            ("-", n) => (false, n),
            _ => return Err("Bad syntax!".into()),
        };
        match name {
            "seeallposn" | "seeownposn" => out.push((name, on)),
            _ => return Err("Unknown bot feature!".into()),
        }
    }
    if out.is_empty() {
        return Err("Bad syntax!".into());
    }
    Ok(out)
}

pub(super) fn botfeature(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    local(ctx)?;
    let features = parse_botfeature(params).map_err(CmdError::Msg)?;
    let p = a
        .players
        .get_mut(&ctx.issuer.pid)
        .ok_or(CmdError::NeedPlayer)?;
    for (name, on) in features {
        match name {
            "seeallposn" => p.see_all_posn = on,
            _ => p.see_own_posn = on,
        }
    }
    let text = format!(
        "seeallposn {}, seeownposn {}",
        if p.see_all_posn { "on" } else { "off" },
        if p.see_own_posn { "on" } else { "off" }
    );
    a.reply(&ctx.issuer, &text);
    Ok(())
}

pub(super) fn modinfo(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    let name = params.trim().to_ascii_lowercase();
    if name.is_empty() {
        return Err(CmdError::Usage);
    }
    let text = match MODULES.iter().find(|(n, _)| *n == name) {
        Some((n, about)) => format!("Module: {n}. Info: {about}."),
        None => format!("No information available for module '{name}'."),
    };
    a.reply(&ctx.issuer, &text);
    Ok(())
}

pub(super) fn allcommands(a: &mut Arena, ctx: &Ctx, _params: &str) -> CmdResult {
    let names: Vec<String> = COMMANDS.iter().map(|c| c.name.to_string()).collect();
    a.reply(&ctx.issuer, "All commands:");
    for line in ss_proto::game::join_lines(&names, 200) {
        a.reply(&ctx.issuer, &line);
    }
    Ok(())
}

pub(super) fn cmdlist(a: &mut Arena, ctx: &Ctx, _params: &str) -> CmdResult {
    let names: Vec<String> = a
        .usable_commands(&ctx.issuer)
        .into_iter()
        .map(str::to_string)
        .collect();
    a.reply(&ctx.issuer, "Commands you may use:");
    for line in ss_proto::game::join_lines(&names, 200) {
        a.reply(&ctx.issuer, &line);
    }
    Ok(())
}

// ----- subgame compatibility (ASSS sgcompat) ------------------------------------------

/// The player a `sg_` command is about: the target player, else the issuer.
fn sg_subject(a: &Arena, ctx: &Ctx) -> Result<i16, CmdError> {
    match ctx.target {
        CmdTarget::Player(p) => Ok(p),
        _ if !ctx.issuer.remote && a.players.contains_key(&ctx.issuer.pid) => Ok(ctx.issuer.pid),
        _ => Err(CmdError::NeedPlayer),
    }
}

pub(super) fn sg_where(a: &mut Arena, ctx: &Ctx, _params: &str) -> CmdResult {
    let t = sg_subject(a, ctx)?;
    let p = a.players.get(&t).ok_or(CmdError::NeedPlayer)?;
    let (x, y) = (i32::from(p.x) >> 4, i32::from(p.y) >> 4);
    let text = format!(
        "{}: {}{}",
        p.info.name,
        (b'A' + (x * 20 / 1024).clamp(0, 19) as u8) as char,
        (y * 20 / 1024).clamp(0, 19) + 1
    );
    a.reply(&ctx.issuer, &text);
    Ok(())
}

pub(super) fn sg_einfo(a: &mut Arena, ctx: &Ctx, _params: &str) -> CmdResult {
    let t = sg_subject(a, ctx)?;
    let p = a.players.get(&t).ok_or(CmdError::NeedPlayer)?;
    let text = format!(
        "{}: UserId: -1  Res: {}x{}  Client: {}",
        p.info.name,
        p.info.x_res,
        p.info.y_res,
        if p.info.continuum {
            "Continuum"
        } else {
            "SubSpace"
        }
    );
    a.reply(&ctx.issuer, &text);
    Ok(())
}

pub(super) fn sg_info(a: &mut Arena, ctx: &Ctx, _params: &str) -> CmdResult {
    let t = sg_subject(a, ctx)?;
    a.zone_call(ZoneCall::PlayerReport {
        asker: ctx.issuer.pid,
        target: t,
        kind: ipc_proto::ReportKind::Info,
    });
    if let Some(line) = a.security_info(t) {
        a.reply(&ctx.issuer, &line);
    }
    Ok(())
}

pub(super) fn sg_lag(a: &mut Arena, ctx: &Ctx, _params: &str) -> CmdResult {
    let t = sg_subject(a, ctx)?;
    a.zone_call(ZoneCall::PlayerReport {
        asker: ctx.issuer.pid,
        target: t,
        kind: ipc_proto::ReportKind::Lag,
    });
    Ok(())
}

pub(super) fn sg_listmod(a: &mut Arena, ctx: &Ctx, _params: &str) -> CmdResult {
    let see_private = a.issuer_can(&ctx.issuer, "seeprivarena");
    a.zone_call(ZoneCall::ListStaff {
        pid: ctx.issuer.pid,
        see_private,
        see_all_staff: true,
    });
    Ok(())
}

pub(super) fn sg_spec(a: &mut Arena, ctx: &Ctx, _params: &str) -> CmdResult {
    let t = match ctx.target {
        CmdTarget::Player(p) => p,
        _ => {
            return Err(CmdError::Msg(
                "This command can only be sent to a player".into(),
            ))
        }
    };
    if !a.may_act_on(&ctx.issuer, t) {
        return Err(CmdError::Msg(format!(
            "You don't have permission to use ?{} on that player.",
            ctx.name
        )));
    }
    if a.players.get(&t).is_some_and(|p| p.lock.is_some()) {
        a.lock_ship(t, false, false, false, 0);
        a.reply(&ctx.issuer, "Player free to enter arena");
    } else {
        a.lock_ship(t, true, false, true, 0);
        a.reply(&ctx.issuer, "Player locked in spectator mode");
    }
    Ok(())
}

pub(super) fn sg_lock(a: &mut Arena, ctx: &Ctx, _params: &str) -> CmdResult {
    if ctx.target != CmdTarget::Arena {
        return Err(CmdError::Msg(
            "This command can only be sent to an arena".into(),
        ));
    }
    if a.arena_lock.is_some() {
        unlockarena(a, ctx, "")?;
        a.reply(&ctx.issuer, "Arena UNLOCKED");
    } else {
        lockarena(a, ctx, "")?;
        a.reply(&ctx.issuer, "Arena LOCKED");
    }
    Ok(())
}

pub(super) fn sg_scorereset(a: &mut Arena, ctx: &Ctx, _params: &str) -> CmdResult {
    for pid in a.actionable(ctx) {
        a.reset_score(pid);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn putfile_splits_at_the_colon_but_not_a_drive_letters() {
        assert_eq!(split_client_path("a.txt:b.txt"), ("a.txt", "b.txt"));
        assert_eq!(split_client_path("a.txt"), ("a.txt", ""));
        assert_eq!(
            split_client_path("C:\\stuff\\a.txt:conf/b.txt"),
            ("C:\\stuff\\a.txt", "conf/b.txt")
        );
        assert_eq!(split_client_path("C:/a.txt"), ("C:/a.txt", ""));
        assert_eq!(split_client_path("x:y"), ("x", "y"));
    }

    #[test]
    fn setgroup_arguments() {
        assert_eq!(parse_setgroup("-p mod"), Some((false, true, "mod".into())));
        assert_eq!(
            parse_setgroup("-a -p SMod"),
            Some((true, true, "smod".into()))
        );
        assert_eq!(
            parse_setgroup("sysop"),
            Some((false, false, "sysop".into()))
        );
        assert_eq!(parse_setgroup(""), None);
        assert_eq!(parse_setgroup("-x mod"), None);
        assert_eq!(parse_setgroup("mod extra"), None);
    }

    #[test]
    fn botfeature_arguments() {
        assert_eq!(
            parse_botfeature("+seeallposn -seeownposn"),
            Ok(vec![("seeallposn", true), ("seeownposn", false)])
        );
        assert!(parse_botfeature("seeallposn").is_err());
        assert!(parse_botfeature("+flying").is_err());
        assert!(parse_botfeature("").is_err());
    }

    #[test]
    fn lastlog_arguments() {
        assert_eq!(parse_lastlog(""), (LASTLOG_DEFAULT, String::new()));
        assert_eq!(parse_lastlog("5"), (5, String::new()));
        assert_eq!(parse_lastlog("20 logged in"), (20, "logged in".into()));
        assert_eq!(parse_lastlog("kick"), (LASTLOG_DEFAULT, "kick".into()));
    }

    #[test]
    fn endinterval_arguments() {
        assert_eq!(
            parse_endinterval("reset"),
            Ok(("reset".into(), String::new()))
        );
        assert_eq!(
            parse_endinterval("-a duel game"),
            Ok(("game".into(), "duel".into()))
        );
        assert_eq!(
            parse_endinterval("-g reset"),
            Ok(("reset".into(), "(global)".into()))
        );
        assert!(parse_endinterval("-a").is_err());
        assert!(parse_endinterval("").is_err());
        assert!(parse_endinterval("weekly").is_err());
    }
}
