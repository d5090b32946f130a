//! Small modules operators expect (`docs/protocol/game-protocol.md`
//! §24a): `messages` (greeting and periodic messages), `idle` (idle
//! players to spectator mode, `?idles`, `?actives`, `?specactives`), `buy`
//! (`?buy` prizes for points) and `enf_shipchange` (ship change limits).

use std::collections::HashMap;

use ss_proto::game::{chat_type, ship, status};

use super::{tick_add, ticks_between, Module};
use crate::arena::Arena;
use crate::commands::{CmdError, CmdResult, Ctx};

/// Most periodic messages (`Misc:PeriodicMessage0` … `9`).
const PERIODIC_MESSAGES: usize = 10;
/// Ticks in a minute: periodic messages count minutes.
const MINUTE: u32 = 6000;
/// Seconds without activity after which a spectator counts as idle in
/// `?idles` and `?actives` (ASSS's fixed two minutes).
const IDLE_LIST_SECS: u32 = 120;

/// `messages`: `Misc:GreetMessage` to each player entering, and
/// `Misc:PeriodicMessageN = <interval> <delay> <text>` (minutes) to the
/// arena: first after `delay` minutes, then every `interval` minutes.
#[derive(Debug, Default)]
pub struct Messages {
    /// Minutes since the arena started.
    minutes: u32,
    /// When the next minute is counted (ticks).
    next_minute: Option<u32>,
}

/// One `Misc:PeriodicMessageN` value: (interval, delay, text); `None` if
/// malformed or with a zero interval.
pub fn parse_periodic(value: &str) -> Option<(u32, u32, &str)> {
    let mut rest = value.trim_start();
    let mut number = || {
        let end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let n = rest[..end].parse::<u32>().ok();
        rest = rest[end..].trim_start();
        n
    };
    let interval = number()?;
    let delay = number()?;
    let text = rest.trim_end();
    (interval > 0 && !text.is_empty()).then_some((interval, delay, text))
}

impl Module for Messages {
    fn name(&self) -> &'static str {
        "messages"
    }

    fn on_enter(&mut self, a: &mut Arena, pid: i16, _now: u32) {
        if let Some(text) = a.assets.config.get_str("Misc", "GreetMessage") {
            let text = text.to_string();
            if !text.is_empty() {
                a.arena_message(pid, &text);
            }
        }
    }

    fn on_tick(&mut self, a: &mut Arena, now: u32) {
        let Some(at) = self.next_minute else {
            self.next_minute = Some(tick_add(now, MINUTE));
            return;
        };
        if ticks_between(at, now) < 0 {
            return;
        }
        self.next_minute = Some(tick_add(at, MINUTE));
        self.minutes += 1;
        let mut due = Vec::new();
        for i in 0..PERIODIC_MESSAGES {
            let key = format!("PeriodicMessage{i}");
            let Some((interval, delay, text)) = a
                .assets
                .config
                .get_str("Misc", &key)
                .and_then(parse_periodic)
            else {
                continue;
            };
            if let Some(since) = self.minutes.checked_sub(delay) {
                if since % interval == 0 {
                    due.push(text.to_string());
                }
            }
        }
        let everyone: Vec<i16> = a.players.keys().copied().collect();
        for text in due {
            a.message_players(&everyone, chat_type::ARENA, 0, &text);
        }
    }
}

/// `idle`: with `Idle:SpecAfter` (seconds; 0 = off, our own setting) a
/// player in a ship who does nothing that long (no move, no weapon, no
/// packet but positions) is put in spectator mode. `?idles` lists the
/// spectators idle for two minutes; `?actives` everyone else;
/// `?specactives` the spectators who are not idle; the last two leave out
/// who said `?notavailable` (until `?available`).
#[derive(Debug, Default)]
pub struct Idle {
    next_check: Option<u32>,
    /// Players who said `?notavailable` (left out of `?actives` and
    /// `?specactives` until `?available` or they leave).
    not_available: std::collections::HashSet<i16>,
}

impl Idle {
    fn idle_secs(p: &crate::arena::ArenaPlayer, now: u32) -> u32 {
        ticks_between(p.active_at, now).max(0) as u32 / 100
    }

    /// Lists the players for whom `keep(spectator, idle, available)` holds.
    fn list(&self, a: &mut Arena, ctx: &Ctx, what: &str, keep: impl Fn(bool, bool, bool) -> bool) {
        let now = ipc_proto::monotonic_ticks();
        let names: Vec<String> = a
            .players
            .values()
            .filter(|p| {
                let spec = p.ship == ship::SPECTATOR;
                let idle = Self::idle_secs(p, now) >= IDLE_LIST_SECS;
                keep(spec, idle, !self.not_available.contains(&p.info.pid))
            })
            .map(|p| p.info.name.clone())
            .collect();
        let head = format!("Arena '{}': {} {what}", a.name, names.len());
        a.reply(&ctx.issuer, &head);
        if !names.is_empty() {
            a.reply(&ctx.issuer, &names.join(", "));
        }
    }
}

impl Module for Idle {
    fn name(&self) -> &'static str {
        "idle"
    }

    fn on_tick(&mut self, a: &mut Arena, now: u32) {
        if self.next_check.is_some_and(|at| ticks_between(at, now) < 0) {
            return;
        }
        self.next_check = Some(tick_add(now, 100));
        let limit = a.assets.config.get_int("Idle", "SpecAfter", 0);
        if limit <= 0 {
            return;
        }
        let idle: Vec<i16> = a
            .players
            .values()
            .filter(|p| p.ship != ship::SPECTATOR && Self::idle_secs(p, now) >= limit as u32)
            .map(|p| p.info.pid)
            .collect();
        for pid in idle {
            tracing::info!(realm = %a.name, pid, "idle player moved to spectator mode");
            a.arena_message(pid, "You were moved to spectator mode for being idle.");
            a.pending.push(super::Pending::ToSpectator(pid));
        }
    }

    fn on_leave(&mut self, _a: &mut Arena, pid: i16, _now: u32) {
        self.not_available.remove(&pid);
    }

    fn on_command(&mut self, a: &mut Arena, ctx: &Ctx, _params: &str) -> Option<CmdResult> {
        let name = match ctx.name {
            "av" => "available",
            "nav" => "notavailable",
            n => n,
        };
        match name {
            "idles" => self.list(a, ctx, "idle", |spec, idle, _| spec && idle),
            "actives" => self.list(a, ctx, "active", |spec, idle, av| av && (!spec || !idle)),
            "specactives" => self.list(a, ctx, "active in spec", |spec, idle, av| {
                av && spec && !idle
            }),
            "available" | "notavailable" => {
                if ctx.issuer.remote || !a.players.contains_key(&ctx.issuer.pid) {
                    return Some(Err(CmdError::Msg(format!(
                        "?{name} marks only yourself, in this arena."
                    ))));
                }
                let text = if name == "available" {
                    self.not_available.remove(&ctx.issuer.pid);
                    "Marked as Available."
                } else {
                    self.not_available.insert(ctx.issuer.pid);
                    "Marked as Not Available."
                };
                a.reply(&ctx.issuer, text);
            }
            _ => return None,
        }
        Some(Ok(()))
    }
}

/// What `?buy` sells: (word typed, `[Cost]` key, prize number).
pub const ITEMS: &[(&str, &str, i16)] = &[
    ("x", "XRadar", 6),
    ("recharge", "Recharge", 1),
    ("energy", "Energy", 2),
    ("rot", "Rotation", 3),
    ("stealth", "Stealth", 4),
    ("cloak", "Cloak", 5),
    ("gun", "Gun", 8),
    ("bomb", "Bomb", 9),
    ("bounce", "Bounce", 10),
    ("thrust", "Thrust", 11),
    ("speed", "Speed", 12),
    ("multi", "MultiFire", 15),
    ("prox", "Prox", 16),
    ("super", "Super", 17),
    ("shield", "Shield", 18),
    ("shrap", "Shrap", 19),
    ("anti", "AntiWarp", 20),
    ("rep", "Repel", 21),
    ("burst", "Burst", 22),
    ("decoy", "Decoy", 23),
    ("thor", "Thor", 24),
    ("brick", "Brick", 26),
    ("rocket", "Rocket", 27),
    ("port", "Portal", 28),
];

/// The item `?buy <params>` names: a word or `[Cost]` key typed exactly
/// (any case), else, as ASSS, the last item whose word the text contains.
pub fn find_item(params: &str) -> Option<&'static (&'static str, &'static str, i16)> {
    let p = params.trim().to_ascii_lowercase();
    if p.is_empty() {
        return None;
    }
    ITEMS
        .iter()
        .find(|(word, key, _)| p == *word || p == key.to_ascii_lowercase())
        .or_else(|| ITEMS.iter().rev().find(|(word, _, _)| p.contains(word)))
}

/// `buy`: `?buy` lists what `[Cost]` prices (0 = not for sale);
/// `?buy <item>` takes the price from the buyer's flag points and gives
/// the prize. Only in a ship, and only in a safe zone unless
/// `Cost:PurchaseAnytime`.
pub struct Buy;

impl Module for Buy {
    fn name(&self) -> &'static str {
        "buy"
    }

    fn on_command(&mut self, a: &mut Arena, ctx: &Ctx, params: &str) -> Option<CmdResult> {
        if ctx.name != "buy" {
            return None;
        }
        Some(buy(a, ctx, params))
    }
}

fn buy(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    let cost_of = |a: &Arena, key: &str| a.assets.config.get_int("Cost", key, 0);
    if params.trim().is_empty() {
        let lines: Vec<String> = ITEMS
            .iter()
            .filter_map(|(_, key, _)| {
                let c = cost_of(a, key);
                (c > 0).then(|| format!("buy: {key:<9} {c:>6}"))
            })
            .collect();
        if lines.is_empty() {
            a.reply(
                &ctx.issuer,
                "There are no items available to purchase in this arena.",
            );
        }
        for l in lines {
            a.reply(&ctx.issuer, &l);
        }
        return Ok(());
    }
    let &(_, key, prize) = find_item(params)
        .ok_or_else(|| CmdError::Msg("Invalid item specified for purchase.".into()))?;
    let cost = cost_of(a, key);
    if cost <= 0 {
        return Err(CmdError::Msg(
            "That item isn't available for purchase.".into(),
        ));
    }
    let pid = ctx.issuer.pid;
    let Some(p) = a.players.get(&pid).filter(|_| !ctx.issuer.remote) else {
        return Err(CmdError::Msg("You must be in this arena to buy.".into()));
    };
    if p.ship == ship::SPECTATOR {
        return Err(CmdError::Msg("Spectators cannot purchase items.".into()));
    }
    let anywhere = a.assets.config.get_int("Cost", "PurchaseAnytime", 0) != 0;
    if !anywhere && p.status & status::SAFEZONE == 0 {
        return Err(CmdError::Msg(
            "You must be in a safe zone to purchase items.".into(),
        ));
    }
    let s = a.scores.get(&p.info.name);
    if i64::from(s.kill_points) + i64::from(s.flag_points) < i64::from(cost) {
        return Err(CmdError::Msg(
            "You don't have enough points to purchase that item.".into(),
        ));
    }
    // From flag points, so the kill average stays (ASSS).
    a.add_flag_points(pid, -cost);
    a.give_prize(&[pid], prize, 1);
    a.reply(&ctx.issuer, &format!("Bought {key}."));
    tracing::info!(realm = %a.name, pid, item = key, cost, "bought");
    Ok(())
}

/// `enf_shipchange`: a player who changed ship less than
/// `Misc:ShipChangeInterval` ticks ago (default 500) may not change again
/// (spectator mode excepted); with `Misc:AntiwarpShipChange` (players
/// without flags) or `Misc:AntiwarpFlagShipChange` (flag carriers) a player
/// under an enemy's antiwarp may not change either.
#[derive(Debug, Default)]
pub struct ShipChange {
    /// When each player last changed to another ship (ticks).
    last_change: HashMap<i16, u32>,
}

/// Whether an enemy in a ship with antiwarp on is within
/// `Toggle:AntiwarpPixels` of `pid`.
fn antiwarped(a: &Arena, pid: i16) -> bool {
    let Some(me) = a.players.get(&pid) else {
        return false;
    };
    if me.regions.no_antiwarp {
        return false;
    }
    let range = i64::from(a.assets.config.get_int("Toggle", "AntiwarpPixels", 1));
    let no_safe = a.rules.regions.no_safe_antiwarp;
    a.players.values().any(|o| {
        o.freq != me.freq
            && o.ship != ship::SPECTATOR
            && o.status & status::ANTIWARP != 0
            && !o.regions.no_antiwarp
            && (o.status & status::SAFEZONE == 0 || !no_safe)
            && {
                let dx = i64::from(o.x) - i64::from(me.x);
                let dy = i64::from(o.y) - i64::from(me.y);
                dx * dx + dy * dy < range * range
            }
    })
}

impl Module for ShipChange {
    fn name(&self) -> &'static str {
        "enf_shipchange"
    }

    fn on_leave(&mut self, _a: &mut Arena, pid: i16, _now: u32) {
        self.last_change.remove(&pid);
    }

    fn refuse_ship(&mut self, a: &mut Arena, pid: i16, new_ship: u8, now: u32) -> Option<String> {
        if new_ship == ship::SPECTATOR {
            return None;
        }
        let cfg = &a.assets.config;
        let interval = cfg.get_int("Misc", "ShipChangeInterval", 500);
        if interval > 0 {
            if let Some(&at) = self.last_change.get(&pid) {
                if ticks_between(at, now) < interval {
                    return Some("You've changed ship too recently. Please wait.".into());
                }
            }
        }
        let (plain, carrier) = (
            cfg.get_int("Misc", "AntiwarpShipChange", 0) != 0,
            cfg.get_int("Misc", "AntiwarpFlagShipChange", 0) != 0,
        );
        let in_ship = a
            .players
            .get(&pid)
            .is_some_and(|p| p.ship != ship::SPECTATOR);
        if in_ship && (plain || carrier) && antiwarped(a, pid) {
            let flags = a.flags.as_ref().map_or(0, |f| f.carried(pid));
            if (flags > 0 && carrier) || (flags == 0 && plain) {
                return Some("You are antiwarped!".into());
            }
        }
        None
    }

    fn on_ship_freq_changed(
        &mut self,
        a: &mut Arena,
        pid: i16,
        old_ship: u8,
        _old_freq: i16,
        now: u32,
    ) {
        let Some(p) = a.players.get(&pid) else {
            return;
        };
        if p.ship != old_ship && p.ship != ship::SPECTATOR {
            self.last_change.insert(pid, now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periodic_messages_parse_as_interval_delay_text() {
        assert_eq!(parse_periodic("10 20 Visit us"), Some((10, 20, "Visit us")));
        assert_eq!(parse_periodic("  5 0   hi  "), Some((5, 0, "hi")));
        assert_eq!(parse_periodic("0 1 never"), None);
        assert_eq!(parse_periodic("5 1"), None);
        assert_eq!(parse_periodic("five 1 x"), None);
        assert_eq!(parse_periodic(""), None);
    }

    #[test]
    fn buy_finds_items_by_word_key_or_contained_word() {
        assert_eq!(find_item("rep").map(|i| i.2), Some(21));
        assert_eq!(find_item("Repel").map(|i| i.2), Some(21));
        assert_eq!(find_item("x").map(|i| i.2), Some(6));
        assert_eq!(find_item("some prox please").map(|i| i.2), Some(16));
        assert_eq!(find_item("xradar now").map(|i| i.2), Some(6));
        assert!(find_item("zzz").is_none());
        assert!(find_item("  ").is_none());
    }
}
