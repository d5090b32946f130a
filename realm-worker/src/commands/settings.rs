//! Settings from the game (`docs/protocol/config.md` §4, §10): `?geta`,
//! `?getg`, `?seta`, `?setg`, `?reloadconf`, `?listsettings` and the
//! settings part of `?help` (`?help Section:Key`, `?help Section:`,
//! `?help :`).
//!
//! Reading is answered here from the realm's own copy of the config.
//! Changes are checked against the settings registry here (so a typo is
//! answered at once) and then go to the supervisor, which owns the zone
//! folder, writes the file and reloads every realm; `?seta -t` changes
//! this arena in memory only.

use conf::registry::{self, Scope, Status};
use conf::ConfigFile;
use ipc_proto::ZoneCall;

use super::{CmdError, CmdResult, Ctx};
use crate::arena::Arena;

/// Longest chat line the listings build.
const LINE: usize = 200;

/// Joins `items` with `, ` into lines of at most [`LINE`] characters.
fn wrap(items: &[String]) -> Vec<String> {
    let mut lines = Vec::new();
    let mut cur = String::new();
    for item in items {
        if !cur.is_empty() && cur.len() + 2 + item.len() > LINE {
            lines.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push_str(", ");
        }
        cur.push_str(item);
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines
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
    for line in wrap(&items) {
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
        v.extend(wrap(&registry::sections()));
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
            v.extend(wrap(&keys));
            v
        }
    } else {
        registry::help_lines(section, key)
    };
    for line in lines {
        a.reply(&ctx.issuer, &line);
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
        let lines = wrap(&items);
        assert!(lines.len() > 1);
        assert!(lines.iter().all(|l| l.len() <= LINE));
        assert_eq!(lines.join(", "), items.join(", "));
    }
}
