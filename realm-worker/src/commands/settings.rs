//! Settings from the game (`docs/protocol/config.md` §4, §10): `?geta`,
//! `?getg`, `?seta`, `?setg`, `?reloadconf`, `?listsettings`, the
//! settings part of `?help` (`?help Section:Key`, `?help Section:`,
//! `?help :`), and `?quickfix` with the client's settings editor (the
//! `server.set` file out, C2S 0x1D changes back).
//!
//! Reading is answered here from the realm's own copy of the config.
//! Changes are checked against the settings registry here (so a typo is
//! answered at once) and then go to the supervisor, which owns the zone
//! folder, writes the file and reloads every realm; `?seta -t` changes
//! this arena in memory only.

use conf::registry::{self, Kind, Scope, Status};
use conf::{ArenaConfig, ConfigFile};
use ipc_proto::{FromRealm, ZoneCall};
use ss_proto::game::{FileData, S2CPacket};

use super::{CmdError, CmdResult, Ctx};
use crate::arena::Arena;

/// Longest chat line the listings build.
const LINE: usize = 200;

/// Joins `items` with `, ` into lines of at most [`LINE`] bytes.
fn join(items: &[String]) -> Vec<String> {
    ss_proto::game::join_lines(items, LINE)
}

/// `Section:Key` → (section, key), both non-empty and trimmed.
fn name(text: &str) -> Option<(&str, &str)> {
    let (s, k) = text.trim().split_once(':')?;
    let (s, k) = (s.trim(), k.trim());
    (!s.is_empty() && !k.is_empty()).then_some((s, k))
}

/// `[-t] Section:Key=Value` (or `Section:Key:Value`, as ASSS takes it):
/// (temporary, section, key, value).
fn assignment(params: &str) -> Option<(bool, &str, &str, &str)> {
    let p = params.trim();
    let (temporary, p) = match p.strip_prefix("-t") {
        Some(rest) if rest.is_empty() || rest.starts_with(' ') => (true, rest.trim_start()),
        _ => (false, p),
    };
    let (section, rest) = p.split_once(':')?;
    let cut = rest.find(['=', ':'])?;
    let (key, value) = (&rest[..cut], &rest[cut + 1..]);
    let (section, key) = (section.trim(), key.trim());
    (!section.is_empty() && !key.is_empty()).then_some((temporary, section, key, value.trim()))
}

/// One `Section:Key=value (file:line)` answer, or why there is none.
fn describe(file: &ConfigFile, section: &str, key: &str) -> String {
    match file.get_str(section, key) {
        Some(v) => match file.origin(section, key) {
            Some(o) if o.line == 0 => {
                format!("{section}:{key}={v} ({o} on the zone's command line)")
            }
            Some(o) => format!("{section}:{key}={v} ({o})"),
            None => format!("{section}:{key}={v} (set in memory)"),
        },
        None => {
            match registry::lookup(section, key) {
                Some(k) if k.status == Status::NotImplemented => {
                    format!("{section}:{key} is not set (an ASSS setting Subsumption does not implement).")
                }
                Some(k) if k.default.is_empty() => format!("{section}:{key} is not set."),
                Some(k) => format!("{section}:{key} is not set (default {}).", k.default),
                None => format!("{section}:{key} is not set; nothing reads it."),
            }
        }
    }
}

fn get(a: &mut Arena, ctx: &Ctx, params: &str, global: bool) -> CmdResult {
    let Some((section, key)) = name(params) else {
        return Err(CmdError::Usage);
    };
    let text = if global {
        describe(a.assets.config.global(), section, key)
    } else {
        describe(a.assets.config.file(), section, key)
    };
    a.reply(&ctx.issuer, &text);
    Ok(())
}

/// `?geta Section:Key`: the arena setting's value and where it is set.
pub(super) fn geta(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    get(a, ctx, params, false)
}

/// `?getg Section:Key`: the global setting's value and where it is set.
pub(super) fn getg(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    get(a, ctx, params, true)
}

fn set(a: &mut Arena, ctx: &Ctx, params: &str, global: bool) -> CmdResult {
    let Some((temporary, section, key, value)) = assignment(params) else {
        return Err(CmdError::Usage);
    };
    let scope = if global { Scope::Global } else { Scope::Arena };
    registry::check_set(scope, section, key, value).map_err(CmdError::Msg)?;
    if temporary {
        if global {
            return Err(CmdError::Msg(
                "?setg -t is not supported: global settings are changed in global.conf (use ?setg)."
                    .into(),
            ));
        }
        a.set_temporary(section, key, value);
        a.reply(
            &ctx.issuer,
            &format!("{section}:{key} = {value} in this arena until its config is next reloaded (not saved)."),
        );
        return Ok(());
    }
    a.zone_call(ZoneCall::SetSetting {
        pid: ctx.issuer.pid,
        global,
        section: section.to_string(),
        key: key.to_string(),
        value: value.to_string(),
    });
    Ok(())
}

/// `?seta [-t] Section:Key=Value`: changes an arena setting in the file it
/// comes from (through the supervisor); `-t` only in this arena's memory.
pub(super) fn seta(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    set(a, ctx, params, false)
}

/// `?setg Section:Key=Value`: changes a global setting in the file it
/// comes from (through the supervisor).
pub(super) fn setg(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    set(a, ctx, params, true)
}

/// `?reloadconf`: the supervisor reloads the zone's settings and every
/// arena's config (ASSS's `-f` and path arguments are accepted and mean
/// the same: everything is re-read).
pub(super) fn reloadconf(a: &mut Arena, ctx: &Ctx, _params: &str) -> CmdResult {
    a.zone_call(ZoneCall::ReloadConfig {
        pid: ctx.issuer.pid,
    });
    Ok(())
}

/// `?listsettings <section>`: every key of a section with its value here
/// (arena keys from the arena's file, global ones from global.conf), or
/// its default when unset.
pub(super) fn listsettings(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    let section = params.trim().trim_end_matches(':');
    if section.is_empty() || section.contains([' ', ':']) {
        return Err(CmdError::Usage);
    }
    let arena = a.assets.config.file().clone();
    let global = a.assets.config.global().clone();
    let mut keys = registry::keys(section);
    keys.retain(|k| !k.contains(['#', '*']));
    for file in [&arena, &global] {
        if let Some(s) = file.section(section) {
            for k in s.keys() {
                if !keys.iter().any(|x| x.eq_ignore_ascii_case(k)) {
                    keys.push(k.to_string());
                }
            }
        }
    }
    if keys.is_empty() {
        return Err(CmdError::Msg(format!(
            "No settings in section {section}; ?help : lists the sections."
        )));
    }
    let items: Vec<String> = keys
        .iter()
        .map(|k| {
            let known = registry::lookup(section, k);
            let from_global = known.as_ref().is_some_and(|k| !k.read_in(Scope::Arena));
            let file = if from_global { &global } else { &arena };
            let mark = if from_global { " [g]" } else { "" };
            match file.get_str(section, k) {
                Some(v) => format!("{k}={v}{mark}"),
                None => match known {
                    Some(kn) if !kn.default.is_empty() => format!("{k}=({}){mark}", kn.default),
                    _ => format!("{k}=(unset){mark}"),
                },
            }
        })
        .collect();
    let canonical = registry::canonical_section(section);
    a.reply(
        &ctx.issuer,
        &format!("[{canonical}] ((x) = default, [g] = global.conf):"),
    );
    for line in join(&items) {
        a.reply(&ctx.issuer, &line);
    }
    Ok(())
}

/// `?help` with a `:` in it: help on settings, as ASSS's `cfghelp` gives
/// it. `:` lists the sections, `Section:` its keys, `Section:Key` the
/// setting.
pub(super) fn setting_help(a: &mut Arena, ctx: &Ctx, text: &str) {
    let (section, key) = text.split_once(':').unwrap_or((text, ""));
    let (section, key) = (section.trim(), key.trim());
    let lines = if section.is_empty() {
        let mut v = vec!["Known config file sections:".to_string()];
        v.extend(join(&registry::sections()));
        v
    } else if key.is_empty() {
        let keys = registry::keys(section);
        if keys.is_empty() {
            vec![format!("I don't know anything about section {section}.")]
        } else {
            let mut v = vec![format!(
                "Known keys in section {}:",
                registry::canonical_section(section)
            )];
            v.extend(join(&keys));
            v
        }
    } else {
        registry::help_lines(section, key)
    };
    for line in lines {
        a.reply(&ctx.issuer, &line);
    }
}

/// What `?quickfix` refuses a player without `changesettings` (ASSS's
/// words).
const NOT_AUTHORIZED: &str = "You are not authorized to view or change settings in this arena.";

/// The `server.set` file of `?quickfix` (ASSS's format, which the
/// client's settings editor reads): one line `Section:Key:Value:Min:Max:Help`
/// per arena setting the server or the clients use whose section or key
/// contains `filter` (any case; an empty filter takes every one), with
/// `<unset>` for a value the arena's config does not set.
pub(crate) fn server_set(config: &ArenaConfig, filter: &str) -> String {
    let filter = filter.to_ascii_lowercase();
    let matches = |name: &str| filter.is_empty() || name.to_ascii_lowercase().contains(&filter);
    let mut out = String::new();
    for section in registry::sections() {
        let section_matches = matches(&section);
        for key in registry::keys(&section) {
            if key.contains(['#', '*']) || !(section_matches || matches(&key)) {
                continue;
            }
            let Some(known) = registry::lookup(&section, &key) else {
                continue;
            };
            if known.status == Status::NotImplemented || !known.read_in(Scope::Arena) {
                continue;
            }
            let value = config.get_str(&section, &key).unwrap_or("<unset>");
            let (min, max) = match known.kind {
                Kind::Int { min, max } => (min.to_string(), max.to_string()),
                Kind::Bool => ("0".to_string(), "1".to_string()),
                _ => (String::new(), String::new()),
            };
            let help = known.help.replace(['\r', '\n'], " ");
            out.push_str(&format!("{section}:{key}:{value}:{min}:{max}:{help}\r\n"));
        }
    }
    out
}

/// `?quickfix [text]` (also `?getsettings`): the arena settings matching
/// `text` go to the asker as `server.set` (S2C 0x10), which opens his
/// client's settings editor; what he changes there comes back as C2S 0x1D
/// ([`settings_change`]). Needs `changesettings`.
pub(super) fn quickfix(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    if ctx.issuer.remote {
        return Err(CmdError::Msg("Use ?quickfix in the arena itself.".into()));
    }
    if !a.issuer_can(&ctx.issuer, "changesettings") {
        return Err(CmdError::Msg(NOT_AUTHORIZED.into()));
    }
    let text = server_set(&a.assets.config, params.trim());
    if text.is_empty() {
        return Err(CmdError::Msg("No settings matched your query.".into()));
    }
    a.reply(&ctx.issuer, "Sending settings...");
    let mut bytes = Vec::new();
    S2CPacket::IncomingFile(FileData {
        name: "server.set".into(),
        data: text.into_bytes(),
    })
    .encode(&mut bytes);
    crate::arena::emit(
        &mut a.out,
        &FromRealm::SendSized {
            pid: ctx.issuer.pid,
            bytes: &bytes,
        },
    );
    Ok(())
}

/// C2S 0x1D from the settings editor: NUL-ended `Section:Key:Value`
/// strings up to an empty one. `__pragma:perm:0` makes the changes after
/// it temporary (this arena's memory, as `?seta -t`); the others are
/// written as `?seta` writes them, all in one request to the supervisor
/// (`ZoneCall::SetArenaSettings`, at most `MAX_SETTINGS_AT_ONCE`: each
/// is a file write on the supervisor's thread). Each is checked against
/// the registry first; a refused one is answered and skipped. A malformed
/// string ends the packet, as in ASSS. Needs `changesettings`.
pub(crate) fn settings_change(a: &mut Arena, pid: i16, body: &[u8]) {
    let Some(issuer) = a.local_issuer(pid) else {
        return;
    };
    if !a.issuer_can(&issuer, "changesettings") {
        a.reply(&issuer, NOT_AUTHORIZED);
        return;
    }
    let mut permanent = true;
    let mut changes = Vec::new();
    for item in body.split(|&b| b == 0) {
        if item.is_empty() {
            break;
        }
        let Some((section, key, value)) = std::str::from_utf8(item).ok().and_then(|t| {
            let mut parts = t.splitn(3, ':');
            Some((parts.next()?, parts.next()?, parts.next()?))
        }) else {
            tracing::info!(pid, "malformed settings change (C2S 0x1D)");
            break;
        };
        if section == "__pragma" {
            // `flush` asks ASSS to write its changes out: ours are
            // written at once.
            if key == "perm" {
                permanent = value.trim().parse::<i64>().unwrap_or(0) != 0;
            }
            continue;
        }
        if let Err(e) = registry::check_set(Scope::Arena, section, key, value) {
            a.reply(&issuer, &e);
            continue;
        }
        tracing::info!(
            pid,
            section,
            key,
            value,
            permanent,
            "setting changed with ?quickfix"
        );
        if permanent {
            if changes.len() == ipc_proto::MAX_SETTINGS_AT_ONCE {
                a.reply(
                    &issuer,
                    &format!(
                        "At most {} settings are written at once; {section}:{key} and the rest were not.",
                        ipc_proto::MAX_SETTINGS_AT_ONCE
                    ),
                );
                break;
            }
            changes.push((section.to_string(), key.to_string(), value.to_string()));
        } else {
            a.set_temporary(section, key, value);
        }
    }
    if !changes.is_empty() {
        a.zone_call(ZoneCall::SetArenaSettings { pid, changes });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignments_parse_as_asss_takes_them() {
        assert_eq!(
            assignment("Warbird:BulletSpeed=3000"),
            Some((false, "Warbird", "BulletSpeed", "3000"))
        );
        assert_eq!(
            assignment("-t Misc:BounceFactor:20"),
            Some((true, "Misc", "BounceFactor", "20"))
        );
        assert_eq!(
            assignment("Chat:Obscene = a b=c"),
            Some((false, "Chat", "Obscene", "a b=c"))
        );
        assert_eq!(
            assignment("Misc:Thing="),
            Some((false, "Misc", "Thing", ""))
        );
        assert_eq!(assignment("-tMisc:X=1").map(|a| a.0), Some(false));
        assert_eq!(assignment("nothing"), None);
        assert_eq!(assignment(":Key=1"), None);
        assert_eq!(assignment("Sec:=1"), None);
        assert_eq!(
            name("Kill:FixedKillReward"),
            Some(("Kill", "FixedKillReward"))
        );
        assert_eq!(name("Kill:"), None);
    }

    #[test]
    fn lists_wrap_under_the_line_length() {
        let items: Vec<String> = (0..100).map(|i| format!("Key{i}=value")).collect();
        let lines = join(&items);
        assert!(lines.len() > 1);
        assert!(lines.iter().all(|l| l.len() <= LINE));
        assert_eq!(lines.join(", "), items.join(", "));
    }
}
