//! What an operator sees of the zone's configuration and control socket:
//! one control socket per zone folder (found with `--zone DIR`), one-line
//! start errors, warnings for bad values, reloads refused when settings
//! contradict each other.
//!
//! Real binaries (`cargo build --workspace --bins` first); every wait is
//! bounded.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use ss_tests::bot::Bot;
use ss_tests::scenario::*;
use ss_tests::zone::{bin_dir, wait_until, TestZone, ZoneOptions};

/// Runs the real `zone-supervisor` with `args` and returns its output.
fn supervisor(args: &[&str]) -> Result<Output> {
    Command::new(bin_dir()?.join("zone-supervisor"))
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .env("NO_COLOR", "1")
        .env_remove("RUNTIME_DIRECTORY")
        .output()
        .context("running zone-supervisor")
}

/// `zone-supervisor run ARGS` must fail (within a bound) with one line on
/// stderr that contains every one of `expect`, and exit status 1.
fn fails_in_one_line(args: &[&str], expect: &[&str]) -> Result<()> {
    let mut child = Command::new(bin_dir()?.join("zone-supervisor"))
        .arg("run")
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .env("NO_COLOR", "1")
        .env_remove("RUNTIME_DIRECTORY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting zone-supervisor")?;
    let exited = wait_until(Duration::from_secs(20), || {
        matches!(child.try_wait(), Ok(Some(_)))
    });
    if !exited {
        let _ = child.kill();
        let _ = child.wait();
        bail!("{args:?}: the zone started instead of failing");
    }
    let out = child.wait_with_output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(
        out.status.code() == Some(1),
        "{args:?}: exit {:?}, stderr {stderr:?}",
        out.status
    );
    ensure!(
        stderr.lines().count() == 1,
        "{args:?}: stderr is not one line: {stderr:?}"
    );
    ensure!(!stderr.contains("backtrace"), "{args:?}: {stderr:?}");
    for e in expect {
        ensure!(stderr.contains(e), "{args:?}: {stderr:?} lacks {e:?}");
    }
    ensure!(out.stdout.is_empty(), "{args:?}: stdout {:?}", out.stdout);
    Ok(())
}

/// A zone serving `zone_dir` on its default control socket.
fn zone_on_default_socket(zone_dir: &Path) -> Result<TestZone> {
    TestZone::start_with(ZoneOptions {
        zone_dir: Some(zone_dir.to_path_buf()),
        default_control: true,
        env: vec![("RUNTIME_DIRECTORY".into(), String::new())],
        ..ZoneOptions::default()
    })
}

/// `zone-supervisor stats --json --zone DIR`, parsed.
fn stats_by_zone(zone_dir: &Path) -> Result<serde_json::Value> {
    let dir = zone_dir.to_str().context("path")?;
    let out = supervisor(&["stats", "--json", "--zone", dir])?;
    ensure!(out.status.success(), "stats --zone failed: {out:?}");
    Ok(serde_json::from_str(
        String::from_utf8_lossy(&out.stdout).trim(),
    )?)
}

#[test]
fn two_zone_folders_have_their_own_control_sockets() {
    in_temp_dir("two-zones", |dir| {
        let a = init_zone_folder(&dir.join("a"))?;
        let b = init_zone_folder(&dir.join("b"))?;
        let zone_a = zone_on_default_socket(&a)?;
        let zone_b = zone_on_default_socket(&b)?;
        ensure!(
            zone_a.control_path() != zone_b.control_path(),
            "both zones use {}",
            zone_a.control_path().display()
        );
        ensure!(
            zone_a.control_path().starts_with(a.canonicalize()?),
            "{} is not in the zone folder",
            zone_a.control_path().display()
        );
        // One player in zone A only: each zone reports its own figures.
        let mut bot = Bot::connect(zone_a.game_addr())?;
        bot.login("alice", "x")?;
        let sa = stats_by_zone(&a)?;
        let sb = stats_by_zone(&b)?;
        ensure!(
            sa["zone"]["process"]["pid"].as_u64() == Some(u64::from(zone_a.pid())),
            "zone A answered with {sa}"
        );
        ensure!(
            sb["zone"]["process"]["pid"].as_u64() == Some(u64::from(zone_b.pid())),
            "zone B answered with {sb}"
        );
        ensure!(sa["zone"]["connections"].as_u64() == Some(1), "{sa}");
        ensure!(sb["zone"]["connections"].as_u64() == Some(0), "{sb}");
        // `realm restart` and `reload` find the zone the same way.
        let adir = a.to_str().context("path")?;
        let out = supervisor(&["reload", "--zone", adir])?;
        ensure!(out.status.success(), "reload --zone: {out:?}");
        let out = supervisor(&["realm", "restart", "nosuch", "--zone", adir])?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        ensure!(
            !stderr.contains("connecting to the zone's control socket"),
            "realm restart did not reach the zone: {stderr:?}"
        );
        // A second zone on the same folder does not take its socket.
        let second = zone_on_default_socket(&a);
        ensure!(second.is_err(), "a second zone started on folder A");
        ensure!(
            stats_by_zone(&a)?["zone"]["process"]["pid"].as_u64() == Some(u64::from(zone_a.pid()))
        );
        Ok(())
    });
}

#[test]
fn start_errors_are_one_line_with_status_1() {
    in_temp_dir("start-errors", |dir| {
        let missing = dir.join("no-such-zone");
        let db = dir.join("z.db");
        let set_db = format!("Persist:DatabasePath={}", db.display());
        let ctl = dir.join("control.sock");
        let ctl = ctl.to_str().context("path")?;
        let base = ["--port", "0", "--set", &set_db, "--control", ctl];
        let with = |extra: &[&'static str]| {
            let mut v: Vec<&str> = base.to_vec();
            v.extend_from_slice(extra);
            v
        };
        let missing = missing.to_str().context("path")?;
        fails_in_one_line(
            &[&with(&["--bind", "127.0.0.1"])[..], &["--zone", missing]].concat(),
            &["global.conf", "no-such-zone"],
        )?;
        fails_in_one_line(
            &with(&[
                "--bind",
                "127.0.0.1",
                "--set",
                "Realms:HeartbeatTimeoutMillis=400",
            ]),
            &[
                "Realms:HeartbeatTimeoutMillis = 400",
                "Realms:HeartbeatMillis",
            ],
        )?;
        fails_in_one_line(
            &with(&["--set", "Listen:BindAddress=somewhere"]),
            &["Listen:BindAddress", "somewhere", "not an IP address"],
        )?;
        fails_in_one_line(&["--port", "abc"], &["--port", "abc"])?;
        // A port someone else holds.
        let taken = std::net::UdpSocket::bind("127.0.0.1:0")?;
        let port = taken.local_addr()?.port().to_string();
        fails_in_one_line(
            &[
                "--bind",
                "127.0.0.1",
                "--port",
                &port,
                "--set",
                &set_db,
                "--control",
                ctl,
            ],
            &["binding", &port],
        )?;
        Ok(())
    });
}

#[test]
fn a_bad_number_is_one_warning_and_the_default() {
    in_temp_dir("bad-number", |dir| {
        let zone_dir = init_zone_folder(dir)?;
        let global = zone_dir.join("conf").join("global.conf");
        let mut text = std::fs::read_to_string(&global)?;
        text.push_str("\n[Net]\nMaxConnections = lots\n");
        std::fs::write(&global, text)?;
        let zone = zone_from_folder(&zone_dir)?;
        // The default (1000) applies: a second player is admitted.
        let mut one = Bot::connect(zone.game_addr())?;
        one.login("one", "x")?;
        let mut two = Bot::connect(zone.game_addr())?;
        two.login("two", "x")?;
        let log = std::fs::read_to_string(zone.log_path())?;
        let warnings: Vec<_> = log
            .lines()
            .filter(|l| l.contains("Net:MaxConnections"))
            .collect();
        ensure!(warnings.len() == 1, "warnings: {warnings:?}");
        ensure!(
            warnings[0].contains("conf/global.conf:")
                && warnings[0].contains("\"lots\" is not a whole number; using 1000"),
            "{warnings:?}"
        );
        Ok(())
    });
}

#[test]
fn a_contradicting_reload_is_refused_and_reported() {
    in_temp_dir("bad-reload", |dir| {
        let zone_dir = init_zone_folder(dir)?;
        let zone = zone_from_folder(&zone_dir)?;
        let global = zone_dir.join("conf").join("global.conf");
        let mut text = std::fs::read_to_string(&global)?;
        text.push_str("\n[Realms]\nHeartbeatTimeoutMillis = 400\n");
        std::fs::write(&global, text)?;
        let err = zone.cli(&["reload"]).expect_err("reload accepted");
        let msg = format!("{err:#}");
        ensure!(
            msg.contains("reload failed") && msg.contains("HeartbeatTimeoutMillis = 400"),
            "{msg}"
        );
        // Still serving, with the running settings.
        let mut bot = Bot::connect(zone.game_addr())?;
        bot.login("still", "x")?;
        Ok(())
    });
}

#[test]
fn a_planted_control_folder_is_refused() {
    in_temp_dir("planted", |dir| {
        // Someone else made the per-user folder first, open to all.
        let runtime = dir.join("xdg");
        let planted = runtime.join("subsumption");
        std::fs::create_dir_all(&planted)?;
        std::fs::set_permissions(&planted, std::fs::Permissions::from_mode(0o777))?;
        let zone = TestZone::start_with(ZoneOptions {
            default_control: true,
            env: vec![
                ("RUNTIME_DIRECTORY".into(), String::new()),
                ("XDG_RUNTIME_DIR".into(), runtime.display().to_string()),
            ],
            ..ZoneOptions::default()
        })?;
        ensure!(
            zone.control_path() == planted.join("control.sock"),
            "{}",
            zone.control_path().display()
        );
        // The embedded zone serves players but puts no socket there.
        let mut bot = Bot::connect(zone.game_addr())?;
        bot.login("alice", "x")?;
        ensure!(
            !zone.control_path().exists(),
            "socket made in a planted folder"
        );
        let log = std::fs::read_to_string(zone.log_path())?;
        ensure!(
            log.contains("refusing control folder") && log.contains("mode 0777"),
            "{log}"
        );
        Ok(())
    });
}

#[test]
fn other_users_are_refused_on_the_control_socket() {
    use std::os::unix::fs::MetadataExt;
    if std::fs::metadata("/proc/self").map_or(true, |m| m.uid() != 0) {
        // Needs root to run the CLI as another user.
        return;
    }
    zone_test(&[], |zone| {
        // Even if the socket's mode were opened up, the zone checks who
        // connects.
        std::fs::set_permissions(zone.control_path(), std::fs::Permissions::from_mode(0o666))?;
        let out = Command::new(bin_dir()?.join("zone-supervisor"))
            .args(["stats", "--json", "--control"])
            .arg(zone.control_path())
            .uid(65534)
            .gid(65534)
            .output()?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        ensure!(!out.status.success(), "uid 65534 got stats: {out:?}");
        // Closed unanswered (the CLI sees a closed or reset connection).
        ensure!(stderr.contains("control"), "{stderr:?}");
        ensure!(out.stdout.is_empty(), "{out:?}");
        // Root (and the zone's own user) still get answers.
        zone.stats()?;
        let log = std::fs::read_to_string(zone.log_path())?;
        ensure!(log.contains("refused a connection from uid 65534"), "{log}");
        Ok(())
    });
}

/// An ASSS zone folder's `modules.conf` decides which zone features run:
/// with `billing_ssc` left out, a filled-in `[Billing]` starts no link;
/// listed, the same folder connects.
#[test]
fn modules_conf_leaving_out_billing_ssc_keeps_the_biller_link_off() {
    in_temp_dir("modules", |dir| {
        let zone_dir = init_zone_folder(dir)?;
        let global = zone_dir.join("conf/global.conf");
        let mut text = std::fs::read_to_string(&global)?;
        // A biller address nobody answers on: only the link state matters.
        text.push_str("\n[Billing]\nIP = 127.0.0.1\nPort = 9\n");
        std::fs::write(&global, text)?;
        let modules = zone_dir.join("conf/modules.conf");
        std::fs::write(
            &modules,
            "net\ncore\nauth_file\n; billing_ssc\nfunky:autowarp\nfunky:fake\nmine:custom\n",
        )?;
        {
            let zone = zone_from_folder(&zone_dir)?;
            let stats = zone.stats()?;
            ensure!(stats["zone"]["biller"] == "disabled", "{}", stats["zone"]);
            let log = zone.log_tail();
            ensure!(
                log.contains("modules.conf leaves out: billing_ssc"),
                "no note about billing_ssc:\n{log}"
            );
            // autowarp is ours too (map regions); fake is not; custom is
            // nobody's.
            ensure!(
                log.contains("does not implement, which have no effect: fake (fake players"),
                "no warning about fake:\n{log}"
            );
            ensure!(
                log.contains("not ASSS modules Subsumption knows (ignored): custom"),
                "no warning about custom:\n{log}"
            );
            ensure!(!log.contains("autowarp"), "autowarp named:\n{log}");
        }
        std::fs::write(&modules, "net\ncore\nauth_file\nbilling_ssc\n")?;
        let zone = zone_from_folder(&zone_dir)?;
        let stats = zone.stats()?;
        ensure!(stats["zone"]["biller"] != "disabled", "{}", stats["zone"]);
        Ok(())
    });
}

/// Junk in the operator's config is named with file and line in the log at
/// start, and the zone runs on what it could read.
#[test]
fn junk_config_lines_are_warned_with_file_and_line() {
    in_temp_dir("junk", |dir| {
        let zone_dir = init_zone_folder(dir)?;
        let global = zone_dir.join("conf/global.conf");
        let mut text = std::fs::read_to_string(&global)?;
        let first = text.lines().count() + 1;
        text.push_str("this line is junk\n[Unterminated\n#include nothere.conf\n");
        std::fs::write(&global, text)?;
        let zone = zone_from_folder(&zone_dir)?;
        let _a = bot_in(&zone, "alice", "0", ss_proto::game::ship::WARBIRD)?;
        let log = zone.log_tail();
        for line in first..first + 3 {
            let at = format!("global.conf:{line}");
            ensure!(log.contains(&at), "no warning naming {at}:\n{log}");
        }
        Ok(())
    });
}

/// A bot logged in as `name` that asked to enter `arena` in a warbird,
/// and the map file of the arena it was let into (S2C 0x29).
fn enter_for_map(zone: &TestZone, name: &str, arena: &str) -> Result<(Bot, String)> {
    let mut bot = Bot::connect(zone.game_addr())?;
    bot.login(name, PASSWORD)?;
    let entry = bot.enter_arena(arena, ss_proto::game::ship::WARBIRD)?;
    let map = match entry.map_info {
        Some(ss_proto::game::MapInfo::Vie { name, .. }) => name,
        Some(ss_proto::game::MapInfo::Continuum(files)) => {
            files.into_iter().next().map(|f| f.name).unwrap_or_default()
        }
        None => String::new(),
    };
    Ok((bot, map))
}

/// `General:NeedCap` (ASSS's arenaperm): the turf arena needs a
/// moderator's capability; a player without it is told so and lands in
/// the default arena, a moderator gets in.
#[test]
fn need_cap_keeps_an_arena_to_the_groups_that_have_the_capability() {
    in_temp_dir("needcap", |dir| {
        let zone_dir = init_zone_folder(dir)?;
        add_staff(&zone_dir, &[("boss", "mod")])?;
        let arena = zone_dir.join("arenas/turf/arena.conf");
        let mut text = std::fs::read_to_string(&arena)?;
        text.push_str("\n[General]\nNeedCap = seeprivarena\n");
        std::fs::write(&arena, text)?;
        let zone = zone_from_folder(&zone_dir)?;

        let (mut pleb, map) = enter_for_map(&zone, "pleb", "turf")?;
        wait_message(&mut pleb, "You don't have permission to enter arena turf!")?;
        ensure!(
            map == "default.lvl",
            "pleb entered {map:?}, not the default arena"
        );
        let (_boss, map) = enter_for_map(&zone, "boss", "turf")?;
        ensure!(map == "turf.lvl", "boss entered {map:?}, not turf");
        // The default arena itself is open to everyone.
        let (_other, map) = enter_for_map(&zone, "other", "0")?;
        ensure!(map == "default.lvl", "other entered {map:?}");
        Ok(())
    });
}
