//! Settings changed from the game (`docs/protocol/config.md` §4, §10):
//! `?seta`/`?setg` write the file the key comes from and take effect at
//! once, bad input is refused with a message and no file changes,
//! `?help Section:Key`, and the start-up warning for keys nothing reads.
//! Real `zone-supervisor` and `realm-worker` processes, bots over UDP.

use std::path::Path;

use anyhow::{ensure, Context, Result};
use ss_proto::game::{chat_type, ship, S2CPacket};
use ss_proto::settings::ArenaSettings;
use ss_tests::bot::Bot;
use ss_tests::scenario::*;
use ss_tests::zone::{TestZone, ZoneOptions};

/// A zone from the folder `zone_dir`.
fn start(zone_dir: &Path) -> Result<TestZone> {
    TestZone::start_with(ZoneOptions {
        zone_dir: Some(zone_dir.to_path_buf()),
        ..ZoneOptions::default()
    })
}

/// Waits for an arena settings packet whose `section:key` is `want`.
fn wait_setting(bot: &mut Bot, section: &str, key: &str, want: i32) -> Result<()> {
    bot.wait_for(WAIT, |p| match p {
        S2CPacket::ArenaSettings(bytes) => ArenaSettings::from_bytes(&bytes[..])
            .ok()
            .and_then(|s| s.field(section, key))
            .filter(|&v| v == want),
        _ => None,
    })
    .with_context(|| format!("waiting for settings with {section}:{key} = {want}"))?;
    Ok(())
}

/// Says `line` in public and waits for a server message containing
/// `needle`; returns it.
fn ask(bot: &mut Bot, line: &str, needle: &str) -> Result<String> {
    bot.chat(chat_type::PUBLIC, -1, line)?;
    wait_message(bot, needle).with_context(|| format!("after {line:?}"))
}

/// Runs `body` on `zone`; an error carries the zone's log.
fn with_log(zone: &TestZone, body: impl FnOnce() -> Result<()>) -> Result<()> {
    body().map_err(|e| e.context(format!("zone log:\n{}", zone.log_tail())))
}

/// The line number `n` (1-based) in `text`.
fn line(text: &str, n: usize) -> &str {
    text.lines().nth(n - 1).unwrap_or("")
}

#[test]
fn seta_writes_where_the_key_is_set_and_the_arena_gets_it_at_once() {
    in_temp_dir("seta", |dir| {
        let zone_dir = init_zone_folder(dir)?;
        add_staff(&zone_dir, &[("sysy", "sysop")])?;
        let shared = zone_dir.join("arenas").join("(default)").join("arena.conf");
        let before = std::fs::read_to_string(&shared)?;
        {
            let zone = start(&zone_dir)?;
            with_log(&zone, || seta_body(&zone, &shared, &before))?;
        }
        // The change survives a zone restart.
        let zone = start(&zone_dir)?;
        with_log(&zone, || {
            let mut fresh = Bot::connect(zone.game_addr())?;
            fresh.login("fresh", PASSWORD)?;
            let entry = fresh.enter_arena("0", ship::WARBIRD)?;
            let settings = entry.settings.context("no settings on entry")?;
            let speed = ArenaSettings::from_bytes(&settings[..])?.field("Warbird", "BulletSpeed");
            ensure!(speed == Some(3141), "{speed:?} after the restart");
            Ok(())
        })
    });
}

fn seta_body(zone: &TestZone, shared: &Path, before: &str) -> Result<()> {
    {
        let mut staff = bot_in(zone, "sysy", "0", ship::SPECTATOR)?;
        let mut pilot = bot_in(zone, "pilot", "0", ship::WARBIRD)?;

        let answer = ask(
            &mut staff,
            "?seta Warbird:BulletSpeed=3141",
            "Warbird:BulletSpeed = 3141",
        )?;
        wait_setting(&mut pilot, "Warbird", "BulletSpeed", 3141)?;
        // "… (was 2000), written to arenas/(default)/arena.conf:N."
        let place = answer
            .split("written to ")
            .nth(1)
            .and_then(|r| r.strip_suffix('.'))
            .with_context(|| format!("no file in {answer:?}"))?;
        let (file, n) = place.rsplit_once(':').context("file:line")?;
        ensure!(file == "arenas/(default)/arena.conf", "{answer}");
        let n: usize = n.parse()?;
        // That line changed and nothing else: comments and layout stay.
        let after = std::fs::read_to_string(shared)?;
        ensure!(
            line(&after, n) == "BulletSpeed = 3141",
            "{:?}",
            line(&after, n)
        );
        ensure!(after.lines().count() == before.lines().count());
        for (i, (a, b)) in before.lines().zip(after.lines()).enumerate() {
            ensure!(
                i + 1 == n || a == b,
                "line {} changed: {a:?} -> {b:?}",
                i + 1
            );
        }
        ensure!(before
            .lines()
            .nth(n - 1)
            .is_some_and(|l| l.starts_with("BulletSpeed")));
        ask(
            &mut staff,
            "?geta warbird:bulletspeed",
            &format!("=3141 (arenas/(default)/arena.conf:{n})"),
        )?;

        // -t: this arena only, in memory; a reload brings the file back.
        ask(
            &mut staff,
            "?seta -t Warbird:BulletSpeed=1000",
            "until its config is next reloaded",
        )?;
        wait_setting(&mut pilot, "Warbird", "BulletSpeed", 1000)?;
        ensure!(
            std::fs::read_to_string(shared)? == after,
            "-t wrote the file"
        );
        ask(&mut staff, "?reloadconf", "Reloading")?;
        wait_setting(&mut pilot, "Warbird", "BulletSpeed", 3141)?;

        // A key set nowhere is added to the arena's file, in a new
        // section, and read at once.
        ask(
            &mut staff,
            "?seta Owner:Name=sysy",
            "Owner:Name = sysy added to arenas/(default)/arena.conf:",
        )?;
        ask(&mut pilot, "?owner", "This arena is owned by sysy.")?;
        ensure!(std::fs::read_to_string(shared)?.ends_with("\n[Owner]\nName = sysy\n"));

        Ok(())
    }
}

#[test]
fn bad_settings_are_refused_with_a_message_and_no_file_changes() {
    in_temp_dir("setg-bad", |dir| {
        let zone_dir = init_zone_folder(dir)?;
        add_staff(&zone_dir, &[("sysy", "sysop")])?;
        // A key nothing reads: one warning at start naming file and line.
        let global = zone_dir.join("conf").join("global.conf");
        let mut text = std::fs::read_to_string(&global)?;
        text.push_str("\n[Net]\nLimitMaximum = 102400\n");
        std::fs::write(&global, &text)?;
        let unknown_line = text.lines().count();
        let zone = start(&zone_dir)?;
        with_log(&zone, || {
            bad_settings_body(&zone, &zone_dir, &global, &text, unknown_line)
        })
    });
}

fn bad_settings_body(
    zone: &TestZone,
    zone_dir: &Path,
    global: &Path,
    text: &str,
    unknown_line: usize,
) -> Result<()> {
    {
        let warning = format!(
            "conf/global.conf:{unknown_line}: Net:LimitMaximum is not a setting Subsumption knows"
        );
        let log = zone.log_tail();
        ensure!(
            log.matches(&warning).count() == 1,
            "{warning:?} not once in:\n{log}"
        );

        let shared = zone_dir.join("arenas").join("(default)").join("arena.conf");
        let arena_before = std::fs::read(&shared)?;
        let mut staff = bot_in(zone, "sysy", "0", ship::SPECTATOR)?;
        for (line, needle) in [
            (
                "?setg Net:NoSuchKey=1",
                "Net:NoSuchKey is not a setting Subsumption knows",
            ),
            ("?setg Nowhere:Thing=1", "?help : lists the sections"),
            (
                "?setg Net:MaxConnections=lots",
                "\"lots\" is not a whole number",
            ),
            (
                "?setg Net:MaxConnections=99999999",
                "outside the range 1..32000",
            ),
            ("?setg Security:SecurityKickoff=maybe", "is not yes/no"),
            (
                "?seta Net:MaxConnections=5",
                "is a global setting; use ?setg",
            ),
            (
                "?setg Warbird:BulletSpeed=5",
                "is an arena setting; use ?seta",
            ),
            (
                "?setg Realms:WorkerPath=/bin/sh",
                "only the operator changes it",
            ),
            ("?seta Soccer:KillerIgnorePassDelay=1", "does not implement"),
            // Valid alone, but a reload would refuse it: contradicts
            // Realms:HeartbeatMillis.
            (
                "?setg Realms:HeartbeatTimeoutMillis=300",
                "must be at least twice",
            ),
            ("?setg Net:MaxConnections", "Usage: ?setg"),
        ] {
            ask(&mut staff, line, needle)?;
        }
        ensure!(
            std::fs::read_to_string(global)? == text,
            "global.conf changed"
        );
        ensure!(
            std::fs::read(&shared)? == arena_before,
            "arena.conf changed"
        );

        // A file that cannot be written: the supervisor's temporary file
        // name is taken (by a folder), which stops root too.
        let blocker = zone_dir
            .join("conf")
            .join(format!(".global.conf.tmp-{}", zone.pid()));
        std::fs::create_dir(&blocker)?;
        ask(
            &mut staff,
            "?setg Chat:FloodLimit=8",
            "Chat:FloodLimit was not changed: cannot write",
        )?;
        ensure!(
            std::fs::read_to_string(global)? == text,
            "global.conf changed"
        );
        std::fs::remove_dir(&blocker)?;

        // Players without the capability cannot.
        let mut player = bot_in(zone, "player", "0", ship::SPECTATOR)?;
        ask(&mut player, "?setg Chat:FloodLimit=7", "permission")?;
        ensure!(
            std::fs::read_to_string(global)? == text,
            "global.conf changed"
        );

        // A good one goes where the key is and is read back at once.
        ask(
            &mut staff,
            "?setg Chat:FloodLimit=7",
            "Chat:FloodLimit = 7 (was 10), written to conf/global.conf:",
        )?;
        ask(
            &mut staff,
            "?getg Chat:FloodLimit",
            "Chat:FloodLimit=7 (conf/global.conf:",
        )?;
        // The harness sets this one with --set.
        ask(
            &mut staff,
            "?getg Lag:CheckInterval",
            "=60000 (--set on the zone's command line)",
        )?;
        // A section listed with values, defaults and where global keys are
        // read from.
        ask(
            &mut staff,
            "?listsettings kill",
            "[Kill] ((x) = default, [g] = global.conf):",
        )?;
        wait_message(&mut staff, "FixedKillReward=")?;
        ask(&mut staff, "?listsettings Chat", "[Chat]")?;
        wait_message(&mut staff, "FloodLimit=7 [g]")?;
        let now = std::fs::read_to_string(global)?;
        ensure!(now.contains("\nFloodLimit = 7\n"), "{now}");
        ensure!(now.lines().count() == text.lines().count());
        Ok(())
    }
}

#[test]
fn help_explains_a_setting_like_cfghelp() {
    let zone = TestZone::start(&[]).expect("zone");
    let mut bot = bot_in(&zone, "curious", "0", ship::SPECTATOR).expect("bot");
    let result = (|| -> Result<()> {
        ask(
            &mut bot,
            "?help Kill:FixedKillReward",
            "Help on setting Kill:FixedKillReward",
        )?;
        wait_message(&mut bot, "Location: arena")?;
        wait_message(&mut bot, "Default: -1")?;
        wait_message(&mut bot, "Points per kill")?;
        ask(
            &mut bot,
            "?help warbird:bulletspeed",
            "Help on setting Warbird:BulletSpeed",
        )?;
        wait_message(&mut bot, "Type: integer -32768..32767")?;
        ask(&mut bot, "?help Kill:", "Known keys in section Kill:")?;
        wait_message(&mut bot, "FixedKillReward")?;
        ask(
            &mut bot,
            "?help Nope:Nothing",
            "is not a setting Subsumption knows",
        )?;
        // No zone folder: settings cannot be saved, and the sysop-only
        // commands are refused to a player anyway.
        ask(&mut bot, "?setg Chat:FloodLimit=3", "permission")?;
        Ok(())
    })();
    if let Err(e) = result {
        panic!("{e:?}\nzone log:\n{}", zone.log_tail());
    }
}
