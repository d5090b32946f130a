//! LVZ object commands (`docs/protocol/game-protocol.md` §23a): `?objon`,
//! `?objoff`, `?objset`, `?objmove`, `?objimage`, `?objlayer`, `?objtimer`,
//! `?objmode` (public: the arena, whose state is kept; private: one
//! player; to a team: that freq), `?objinfo`, `?objlist`.

use ipc_proto::{Delivery, Target};
use ss_proto::game::objects::{
    change, LAYER_NAMES, MAX_OBJECT_ID, MAX_OBJECT_TIME, MODE_NAMES, OFFSET_LETTERS,
};
use ss_proto::game::{ObjectChange, ObjectToggle, S2CPacket};

use super::parse;
use super::{CmdError, CmdResult, CmdTarget, Ctx};
use crate::arena::Arena;

fn msg(text: String) -> CmdError {
    CmdError::Msg(text)
}

/// An object id: 0..=32767.
fn object_id(word: &str) -> Result<u16, CmdError> {
    let n = parse::int(word).ok_or(CmdError::Usage)?;
    u16::try_from(n)
        .ok()
        .filter(|&id| id <= MAX_OBJECT_ID)
        .ok_or_else(|| {
            msg(format!(
                "Object id {n} is out of range (0-{MAX_OBJECT_ID})."
            ))
        })
}

/// A number in `lo..=hi`, named `what` in the error.
fn ranged(word: &str, lo: i64, hi: i64, what: &str) -> Result<i64, CmdError> {
    let n = parse::int(word).ok_or(CmdError::Usage)?;
    if (lo..=hi).contains(&n) {
        Ok(n)
    } else {
        Err(msg(format!("The {what} {n} is out of range ({lo}-{hi}).")))
    }
}

/// A code given by name (case-insensitive) or by number.
fn code(word: &str, names: &[&str], what: &str) -> Result<u8, CmdError> {
    if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(word)) {
        return Ok(i as u8);
    }
    match parse::int(word) {
        Some(n) if (0..names.len() as i64).contains(&n) => Ok(n as u8),
        _ => Err(msg(format!(
            "Unknown {what} '{word}'; one of: {}.",
            names.join(" ")
        ))),
    }
}

/// Sends a packet to the command's target.
fn send(a: &mut Arena, target: CmdTarget, pkt: &S2CPacket) {
    match target {
        CmdTarget::Arena => a.send_packet(Target::Arena, Delivery::Reliable, pkt),
        t => {
            let pids = a.target_pids(t);
            a.send_to_pids(&pids, Delivery::Reliable, pkt);
        }
    }
}

fn toggle(a: &mut Arena, ctx: &Ctx, list: Vec<ObjectToggle>) {
    if ctx.target == CmdTarget::Arena {
        for t in &list {
            a.objects.toggle(t.id, t.on);
        }
    }
    send(a, ctx.target, &S2CPacket::ToggleObjects(list));
}

fn one_id(params: &str) -> Result<u16, CmdError> {
    let w = parse::words(params);
    match w.as_slice() {
        [id] => object_id(id),
        _ => Err(CmdError::Usage),
    }
}

pub(super) fn objon(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    let id = one_id(params)?;
    toggle(a, ctx, vec![ObjectToggle { id, on: true }]);
    Ok(())
}

pub(super) fn objoff(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    let id = one_id(params)?;
    toggle(a, ctx, vec![ObjectToggle { id, on: false }]);
    Ok(())
}

/// `?objset +id -id ...`: each id with its sign (`+` shows, `-` hides).
pub(super) fn objset(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    let mut list = Vec::new();
    for w in parse::words(params) {
        let on = match w.chars().next() {
            Some('+') => true,
            Some('-') => false,
            _ => return Err(CmdError::Usage),
        };
        list.push(ObjectToggle {
            id: object_id(&w[1..])?,
            on,
        });
    }
    if list.is_empty() {
        return Err(CmdError::Usage);
    }
    toggle(a, ctx, list);
    Ok(())
}

/// Sends (and, for the arena, keeps) one attribute change.
fn change_object(a: &mut Arena, ctx: &Ctx, id: u16, bits: u8, edit: impl Fn(&mut ObjectChange)) {
    let mut rec = ObjectChange {
        changes: bits,
        data: a.objects.current(id),
    };
    edit(&mut rec);
    if ctx.target == CmdTarget::Arena {
        a.objects.apply(rec);
    }
    send(a, ctx.target, &S2CPacket::MoveObjects(vec![rec]));
}

/// A screen coordinate with an optional offset letter (`C5`), or a plain
/// number: (offset code, value).
fn coordinate(word: &str) -> Result<(u8, &str), CmdError> {
    let first = word.chars().next().ok_or(CmdError::Usage)?;
    match OFFSET_LETTERS.find(first.to_ascii_uppercase()) {
        Some(i) if first.is_ascii_alphabetic() => Ok((i as u8 + 1, &word[1..])),
        _ => Ok((0, word)),
    }
}

/// `?objmove <id> <x> <y>`: map pixels, or screen pixels when either
/// coordinate has an offset letter.
pub(super) fn objmove(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    let w = parse::words(params);
    let [id, x, y] = w.as_slice() else {
        return Err(CmdError::Usage);
    };
    let id = object_id(id)?;
    let (rx, xs) = coordinate(x)?;
    let (ry, ys) = coordinate(y)?;
    let current = a.objects.current(id);
    let screen = rx != 0 || ry != 0 || (a.objects.is_changed(id) && !current.map_obj);
    let (lo, hi, what) = if screen {
        (-2048, 2047, "screen coordinate")
    } else {
        (i64::from(i16::MIN), i64::from(i16::MAX), "map coordinate")
    };
    let x = ranged(xs, lo, hi, what)? as i16;
    let y = ranged(ys, lo, hi, what)? as i16;
    change_object(a, ctx, id, change::XY, |r| {
        r.data.map_obj = !screen;
        r.data.x = x;
        r.data.y = y;
        r.data.rel_x = rx;
        r.data.rel_y = ry;
    });
    Ok(())
}

fn id_and_value(params: &str) -> Result<(u16, String), CmdError> {
    let w = parse::words(params);
    match w.as_slice() {
        [id, v] => Ok((object_id(id)?, v.clone())),
        _ => Err(CmdError::Usage),
    }
}

pub(super) fn objimage(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    let (id, v) = id_and_value(params)?;
    let image = ranged(&v, 0, 255, "image")? as u8;
    change_object(a, ctx, id, change::IMAGE, |r| r.data.image = image);
    Ok(())
}

pub(super) fn objlayer(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    let (id, v) = id_and_value(params)?;
    let layer = code(&v, &LAYER_NAMES, "layer")?;
    change_object(a, ctx, id, change::LAYER, |r| r.data.layer = layer);
    Ok(())
}

pub(super) fn objtimer(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    let (id, v) = id_and_value(params)?;
    let time = ranged(&v, 0, i64::from(MAX_OBJECT_TIME), "timer")? as u16;
    change_object(a, ctx, id, change::TIME, |r| r.data.time = time);
    Ok(())
}

pub(super) fn objmode(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    let (id, v) = id_and_value(params)?;
    let mode = code(&v, &MODE_NAMES, "mode")?;
    change_object(a, ctx, id, change::MODE, |r| r.data.mode = mode);
    Ok(())
}

/// `?objinfo <id>`: what the arena did with the object.
pub(super) fn objinfo(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    let id = one_id(params)?;
    let shown = match a.objects.shown(id) {
        Some(true) => "on",
        Some(false) => "off",
        None => "not toggled",
    };
    let mut lines = vec![format!("lvz: Id:{id} {shown}")];
    if a.objects.is_changed(id) {
        let d = a.objects.current(id);
        fn name(names: &[&'static str], i: u8) -> &'static str {
            names.get(usize::from(i)).copied().unwrap_or("?")
        }
        lines.push(format!(
            "lvz: Image:{} Layer:{} Mode:{} Timer:{}",
            d.image,
            name(&LAYER_NAMES, d.layer),
            name(&MODE_NAMES, d.mode),
            d.time
        ));
        let offset = |c: u8| match c {
            0 => "upper left".to_string(),
            c => OFFSET_LETTERS
                .chars()
                .nth(usize::from(c) - 1)
                .map_or("?".to_string(), |l| l.to_string()),
        };
        lines.push(if d.map_obj {
            format!("lvz: map object at ({}, {})", d.x, d.y)
        } else {
            format!(
                "lvz: screen object at ({}, {}), x from {}, y from {}",
                d.x,
                d.y,
                offset(d.rel_x),
                offset(d.rel_y)
            )
        });
    } else {
        lines.push("lvz: attributes not changed in this arena".into());
    }
    for l in lines {
        a.reply(&ctx.issuer, &l);
    }
    Ok(())
}

/// `?objlist`: the objects the arena toggled or changed.
pub(super) fn objlist(a: &mut Arena, ctx: &Ctx, _params: &str) -> CmdResult {
    let ids = a.objects.ids();
    let text = if ids.is_empty() {
        "No objects were toggled or changed in this arena.".to_string()
    } else {
        let list: Vec<String> = ids.iter().map(u16::to_string).collect();
        format!(
            "{} objects toggled or changed: {}",
            ids.len(),
            list.join(", ")
        )
    };
    a.reply(&ctx.issuer, &text);
    Ok(())
}
