//! Realm processes an operator can run: crash restart without dropping
//! players, the hang watchdog, giving up on a realm that keeps crashing,
//! stats, systemd notifications, config reload and no orphaned workers.
//!
//! Real binaries, bots over UDP on 127.0.0.1; every wait is bounded.

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use nix::sys::signal::Signal;
use serde_json::Value;
use ss_proto::game::{ship, S2CPacket, WeaponInfo};
use ss_proto::settings::ArenaSettings;
use ss_tests::bot::Bot;
use ss_tests::scenario::*;
use ss_tests::zone::{wait_until, TestZone, ZoneOptions};

/// A realm's entry in `stats --json`.
fn realm<'a>(stats: &'a Value, name: &str) -> Option<&'a Value> {
    stats["realms"]
        .as_array()?
        .iter()
        .find(|r| r["name"].as_str() == Some(name))
}

fn realm_pid(stats: &Value, name: &str) -> Option<u32> {
    realm(stats, name)
        .and_then(|r| r["process"]["pid"].as_u64())
        .map(|p| p as u32)
        .filter(|&p| p != 0)
}

/// The worker pid of realm `name` as the supervisor reports it, once it is
/// running.
fn running_worker(zone: &TestZone, name: &str) -> Result<u32> {
    let mut pid = None;
    wait_until(WAIT, || {
        pid = zone.stats().ok().and_then(|s| {
            (realm(&s, name)?["state"].as_str() == Some("running"))
                .then(|| realm_pid(&s, name))
                .flatten()
        });
        pid.is_some()
    });
    pid.with_context(|| format!("realm {name} is not running"))
}

fn kill(pid: u32, sig: Signal) -> Result<()> {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), sig)
        .with_context(|| format!("kill -{sig} {pid}"))
}

/// Whether a process exists and is not a zombie.
fn alive(pid: u32) -> bool {
    proc_sample::read_stat(pid).is_some_and(|s| !s.is_zombie())
}

/// Waits for the arena re-entry that follows a realm restart: the
/// who-am-I that makes the client leave, then a full entry ending in 0x02.
fn wait_reentered(bot: &mut Bot) -> Result<()> {
    bot.wait_for(WAIT, |p| {
        matches!(p, S2CPacket::WhoAmI { .. }).then_some(())
    })
    .context("who-am-I of the re-entry")?;
    bot.wait_for(WAIT, |p| matches!(p, S2CPacket::EnteredArena).then_some(()))
        .context("entered-arena of the re-entry")?;
    Ok(())
}

#[test]
fn a_crashed_realm_comes_back_and_nobody_is_dropped() {
    zone_test(&[], |zone| {
        let mut a = bot_in(zone, "alice", "0", ship::WARBIRD)?;
        let mut b = bot_in(zone, "bob", "0", ship::WARBIRD)?;
        let mut c = bot_in(zone, "carol", "0", ship::SPECTATOR)?;
        let mut d = bot_in(zone, "dave", "1", ship::WARBIRD)?;
        let mut e = bot_in(zone, "erin", "1", ship::WARBIRD)?;
        let old = running_worker(zone, "0")?;
        running_worker(zone, "1")?;
        face_off(&mut d, &mut e)?;

        let killed_at = Instant::now();
        kill(old, Signal::SIGKILL)?;
        // Realm 1 keeps relaying while realm 0 is replaced.
        stream_until_seen(&mut d, &mut e, 8201, 8200).context("realm 1 after the crash")?;
        for bot in [&mut a, &mut b, &mut c] {
            wait_reentered(bot)?;
        }
        // For information only: how fast is measured by the benchmarks,
        // not asserted here.
        eprintln!(
            "players of realm 0 back {:?} after the kill",
            killed_at.elapsed()
        );
        let new = running_worker(zone, "0")?;
        ensure!(new != old, "realm 0 still has the old pid {old}");
        // The re-entered players see each other's positions again.
        face_off(&mut a, &mut b)?;
        // Realm 1 still relays, and its players were never sent through a
        // re-entry: no who-am-I before their own markers.
        stream_until_seen(&mut d, &mut e, 8202, 8200).context("realm 1 after the restart")?;
        for bot in [&mut d, &mut e] {
            bot.expect_none_before_marker(|p| matches!(p, S2CPacket::WhoAmI { .. }))
                .context("a player of realm 1 was moved")?;
        }
        for bot in [&a, &b, &c, &d, &e] {
            ensure!(!bot.is_disconnected(), "a bot was disconnected");
        }

        let stats = zone.stats()?;
        assert_eq!(realm(&stats, "0").unwrap()["restarts"], 1);
        assert_eq!(realm(&stats, "1").unwrap()["restarts"], 0);
        let cause = realm(&stats, "0").unwrap()["last_exit"]
            .as_str()
            .unwrap_or("");
        assert!(cause.contains("SIGKILL"), "last exit {cause:?}");
        Ok(())
    });
}

#[test]
fn a_hung_realm_is_replaced_after_the_heartbeat_timeout() {
    zone_test(
        &[
            "Realms:HeartbeatMillis=100",
            "Realms:HeartbeatTimeoutMillis=3000",
        ],
        |zone| {
            let mut a = bot_in(zone, "alice", "1", ship::WARBIRD)?;
            let mut b = bot_in(zone, "bob", "1", ship::WARBIRD)?;
            let old = running_worker(zone, "1")?;
            kill(old, Signal::SIGSTOP)?;
            for bot in [&mut a, &mut b] {
                wait_reentered(bot)?;
            }
            let new = running_worker(zone, "1")?;
            ensure!(new != old, "the hung worker was not replaced");
            ensure!(
                wait_until(WAIT, || !alive(old)),
                "the hung worker still exists"
            );
            let stats = zone.stats()?;
            let r = realm(&stats, "1").context("realm 1 in stats")?;
            assert_eq!(r["last_exit"], "unresponsive");
            assert_eq!(r["restarts"], 1);
            face_off(&mut a, &mut b)?;
            Ok(())
        },
    );
}

#[test]
fn a_realm_that_keeps_crashing_is_marked_failed_and_its_players_move() {
    let dir = TempDir::new("flaky");
    let worker = failing_worker(dir.path(), "bad").expect("stand-in worker");
    let mut zone = TestZone::start_with(ZoneOptions {
        overrides: vec![
            "Realms:RestartLimit=2".into(),
            "Realms:RestartBackoffMillis=20".into(),
        ],
        worker: Some(worker),
        ..ZoneOptions::default()
    })
    .expect("zone");
    let result = (|| -> Result<()> {
        let mut a = bot_in(&zone, "alice", "0", ship::WARBIRD)?;
        a.chat(2, -1, "?go bad")?;
        // The realm fails; alice is told and lands in the default arena.
        a.wait_for(WAIT, |p| match p {
            S2CPacket::Chat(m) if m.text.contains("keeps failing") => Some(()),
            _ => None,
        })?;
        a.wait_for(WAIT, |p| matches!(p, S2CPacket::EnteredArena).then_some(()))?;
        let stats = zone.stats()?;
        let bad = realm(&stats, "bad").context("realm bad in stats")?;
        assert_eq!(bad["state"], "failed");
        assert_eq!(bad["last_exit"], "exit code 3");
        assert!(bad["restarts"].as_u64().unwrap_or(0) >= 3);
        assert_eq!(realm(&stats, "0").unwrap()["players"], 1);
        // The zone still serves: a new player logs in and enters.
        let _b = bot_in(&zone, "bob", "0", ship::WARBIRD)?;
        // Entering a failed realm is refused with a message.
        a.chat(2, -1, "?go bad")?;
        a.wait_for(WAIT, |p| match p {
            S2CPacket::Chat(m) if m.text.contains("has failed") => Some(()),
            _ => None,
        })?;
        ensure!(zone.is_running());
        Ok(())
    })();
    if let Err(e) = result {
        panic!("{e:?}\nzone log:\n{}", zone.log_tail());
    }
}

#[test]
fn stats_report_live_workers_players_and_cpu() {
    zone_test(&[], |zone| {
        let mut a = bot_in(zone, "alice", "0", ship::WARBIRD)?;
        let mut b = bot_in(zone, "bob", "0", ship::WARBIRD)?;
        let _c = bot_in(zone, "carol", "1", ship::SPECTATOR)?;
        running_worker(zone, "0")?;
        running_worker(zone, "1")?;
        let before = zone.stats()?;
        assert_eq!(before["zone"]["connections"], 3);
        assert_eq!(before["zone"]["players"], 3);
        assert_eq!(realm(&before, "0").unwrap()["players"], 2);
        assert_eq!(realm(&before, "1").unwrap()["players"], 1);
        let children: Vec<u32> = zone.realm_workers().into_iter().map(|(p, _)| p).collect();
        for name in ["0", "1"] {
            let pid = realm_pid(&before, name).context("realm pid")?;
            ensure!(
                children.contains(&pid),
                "pid {pid} of {name} is not a child: {children:?}"
            );
        }
        // Load: positions back and forth until the realm has used CPU time.
        let cpu = |s: &Value, name: &str| {
            let p = &realm(s, name).unwrap()["process"];
            p["cpu_user_secs"].as_f64().unwrap_or(0.0)
                + p["cpu_system_secs"].as_f64().unwrap_or(0.0)
        };
        let start = cpu(&before, "0");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            face_off(&mut a, &mut b)?;
            for i in 0..50 {
                a.send_position(8200 + i, 8200, 0, 0, WeaponInfo::NONE)?;
                b.send_position(8300 - i, 8300, 0, 0, WeaponInfo::NONE)?;
            }
            let now = zone.stats()?;
            if cpu(&now, "0") > start {
                assert!(now["zone"]["process"]["cpu_user_secs"].as_f64().unwrap() > 0.0);
                assert!(now["zone"]["datagrams_in"].as_u64().unwrap() > 100);
                assert!(realm(&now, "0").unwrap()["packets_in"].as_u64().unwrap() > 100);
                break;
            }
            ensure!(Instant::now() < deadline, "realm CPU time never rose");
        }
        // The table form works too.
        let table = zone.cli(&["stats"])?;
        ensure!(
            table.contains("REALM") && table.contains("running"),
            "table: {table}"
        );
        Ok(())
    });
}

#[test]
fn operator_restart_re_enters_players() {
    zone_test(&[], |zone| {
        let mut a = bot_in(zone, "alice", "duel", ship::WARBIRD)?;
        let old = running_worker(zone, "duel")?;
        let out = zone.cli(&["realm", "restart", "duel"])?;
        ensure!(out.contains("restarting"), "answer {out:?}");
        wait_reentered(&mut a)?;
        let new = running_worker(zone, "duel")?;
        ensure!(new != old);
        let err = zone.cli(&["realm", "restart", "nosuch"]);
        ensure!(err.is_err(), "restarting an unknown realm must fail");
        Ok(())
    });
}

/// Waits for a notify message with the line `want`.
fn wait_notify(sock: &UnixDatagram, want: &str) -> Result<String> {
    wait_notify_line(sock, |l| l == want)
}

#[test]
fn systemd_notifications_and_clean_sigterm() {
    let dir = TempDir::new("notify");
    let (sock, path) = notify_socket(dir.path()).expect("notify socket");
    let mut zone = TestZone::start_with(ZoneOptions {
        env: vec![("NOTIFY_SOCKET".into(), path.display().to_string())],
        ..ZoneOptions::default()
    })
    .expect("zone");
    let result = (|| -> Result<()> {
        wait_notify(&sock, "READY=1")?;
        // READY means the game port answers.
        zone.ping_population()?;
        let mut bots = vec![
            bot_in(&zone, "alice", "0", ship::WARBIRD)?,
            bot_in(&zone, "bob", "1", ship::WARBIRD)?,
        ];
        zone.signal(Signal::SIGTERM)?;
        wait_notify(&sock, "STOPPING=1")?;
        let status = zone.wait_exit(WAIT)?;
        ensure!(status.success(), "supervisor exit status {status:?}");
        for bot in &mut bots {
            bot.wait_disconnected(WAIT)?;
        }
        Ok(())
    })();
    if let Err(e) = result {
        panic!("{e:?}\nzone log:\n{}", zone.log_tail());
    }
}

#[test]
fn sighup_sends_changed_settings_to_the_arena() {
    let dir = TempDir::new("reload");
    let zone_dir = init_zone_folder(dir.path()).expect("zone folder");
    let zone = zone_from_folder(&zone_dir).expect("zone");
    let result = (|| -> Result<()> {
        let mut a = bot_in(&zone, "alice", "0", ship::WARBIRD)?;
        let conf = zone_dir.join("arenas").join("(default)").join("arena.conf");
        let mut text = std::fs::read_to_string(&conf)?;
        text.push_str("\n[Warbird]\nMaximumSpeed = 4321\n");
        std::fs::write(&conf, text)?;
        zone.signal(Signal::SIGHUP)?;
        let speed = a.wait_for(WAIT, |p| match p {
            S2CPacket::ArenaSettings(bytes) => ArenaSettings::from_bytes(&bytes[..])
                .ok()
                .and_then(|s| s.field("Warbird", "MaximumSpeed")),
            _ => None,
        })?;
        assert_eq!(speed, 4321);
        Ok(())
    })();
    if let Err(e) = result {
        panic!("{e:?}\nzone log:\n{}", zone.log_tail());
    }
}

#[test]
fn killing_the_supervisor_leaves_no_worker_behind() {
    let mut zone = TestZone::start(&[]).expect("zone");
    let _a = bot_in(&zone, "alice", "0", ship::WARBIRD).expect("bot");
    let _b = bot_in(&zone, "bob", "1", ship::WARBIRD).expect("bot");
    let workers: Vec<u32> = zone.realm_workers().into_iter().map(|(p, _)| p).collect();
    assert_eq!(workers.len(), 2, "two workers before the kill");
    zone.signal(Signal::SIGKILL).expect("kill -9");
    zone.wait_exit(WAIT).expect("supervisor gone");
    assert!(
        wait_until(WAIT, || workers.iter().all(|&p| !alive(p))),
        "workers {workers:?} outlived the supervisor"
    );
}

#[test]
fn reload_rereads_the_zones_own_settings() {
    let dir = TempDir::new("reload-zone");
    let zone_dir = init_zone_folder(dir.path()).expect("zone folder");
    let zone = zone_from_folder(&zone_dir).expect("zone");
    let result = (|| -> Result<()> {
        let mut first = Bot::connect(zone.game_addr())?;
        first.login("mallory", "x")?;
        // The operator locks the name out and reloads.
        let passwd = zone_dir.join("conf").join("passwd.conf");
        let mut text = std::fs::read_to_string(&passwd)?;
        text.push_str("\nmallory = lock\n");
        std::fs::write(&passwd, text)?;
        let out = zone.cli(&["reload"])?;
        ensure!(out.contains("reload"), "answer {out:?}");
        let mut again = Bot::connect(zone.game_addr())?;
        let refused = again
            .login("mallory", "x")
            .err()
            .context("mallory logged in again")?;
        ensure!(format!("{refused:?}").contains("code 0x04"), "{refused:?}");
        Ok(())
    })();
    if let Err(e) = result {
        panic!("{e:?}\nzone log:\n{}", zone.log_tail());
    }
}

/// Regression (fault campaign: the IPC queue to a hung realm had no cap and
/// fed the realm 20-second-old positions when it resumed): while a worker
/// is stopped (and the watchdog is far away), the queue to it stays under
/// `Realms:IpcQueueMaxBytes` by dropping player packets, which are counted;
/// after SIGCONT the realm works again with the same players in it.
#[test]
fn the_queue_to_a_hung_realm_is_capped_and_the_realm_recovers() {
    const CAP: u64 = 65536;
    zone_test(
        &[
            "Realms:HeartbeatTimeoutMillis=600000",
            &format!("Realms:IpcQueueMaxBytes={CAP}"),
        ],
        |zone| {
            let mut a = bot_in(zone, "alice", "0", ship::WARBIRD)?;
            let mut b = bot_in(zone, "bob", "0", ship::WARBIRD)?;
            face_off(&mut a, &mut b)?;
            let worker = running_worker(zone, "0")?;
            kill(worker, Signal::SIGSTOP)?;
            let result = (|| -> Result<()> {
                // Positions until the zone reports dropping some (the
                // socket buffer to the worker fills first), bounded.
                let deadline = Instant::now() + Duration::from_secs(120);
                let mut max_queue = 0;
                loop {
                    for i in 0..500 {
                        a.send_position(8200 + (i % 50), 8200, 0, 0, WeaponInfo::NONE)?;
                    }
                    let stats = zone.stats()?;
                    let r = realm(&stats, "0").context("realm 0 in stats")?;
                    let queue = r["ipc_queue_bytes"].as_u64().context("ipc_queue_bytes")?;
                    max_queue = max_queue.max(queue);
                    ensure!(
                        queue <= CAP,
                        "{queue} bytes queued for the stopped realm: {r}"
                    );
                    if r["ipc_dropped"].as_u64().context("ipc_dropped")? > 1000 {
                        break;
                    }
                    ensure!(
                        Instant::now() < deadline,
                        "no packets dropped for the stopped realm: {r}"
                    );
                }
                eprintln!("largest queue to the stopped realm: {max_queue} bytes");
                Ok(())
            })();
            kill(worker, Signal::SIGCONT)?;
            result?;
            // The same worker serves the same players again.
            face_off(&mut a, &mut b).context("after SIGCONT")?;
            let stats = zone.stats()?;
            let r = realm(&stats, "0").context("realm 0 in stats")?;
            ensure!(
                realm_pid(&stats, "0") == Some(worker),
                "worker replaced: {r}"
            );
            ensure!(r["restarts"] == 0, "restarted: {r}");
            ensure!(r["players"] == 2, "players: {r}");
            for bot in [&mut a, &mut b] {
                ensure!(!bot.is_disconnected(), "a bot was disconnected");
                bot.expect_none_before_marker(|p| matches!(p, S2CPacket::WhoAmI { .. }))
                    .context("a player was sent through a re-entry")?;
            }
            Ok(())
        },
    );
}

/// The decision `realm-worker/build.rs` takes, from the same code.
#[path = "../../realm-worker/link_decision.rs"]
mod link_decision;

/// Whether `realm-worker/build.rs` links the realm with its own C library
/// on this machine (the test runs natively, where build.rs decides).
fn realm_links_static() -> bool {
    link_decision::static_link_wanted() && link_decision::static_c_archives().is_some()
}

#[test]
fn a_realm_carries_its_own_c_library_and_maps_no_shared_one() {
    zone_test(&[], |zone| {
        let mut a = bot_in(zone, "alice", "0", ship::WARBIRD)?;
        let mut b = bot_in(zone, "bob", "0", ship::WARBIRD)?;
        face_off(&mut a, &mut b)?;
        let worker = running_worker(zone, "0")?;
        let maps = std::fs::read_to_string(format!("/proc/{worker}/maps"))
            .with_context(|| format!("maps of realm worker {worker}"))?;
        let shared: Vec<&str> = maps.lines().filter(|l| l.contains(".so")).collect();
        if realm_links_static() {
            ensure!(
                shared.is_empty(),
                "the realm maps shared libraries: {shared:#?}"
            );
            // Nor does it resolve host names, which a static glibc can
            // only do through shared libraries of its own version
            // (ARCHITECTURE.md, "What every realm holds stays compact").
            let exe = std::fs::read_link(format!("/proc/{worker}/exe"))?;
            if let Ok(out) = std::process::Command::new("nm").arg(&exe).output() {
                let symbols = String::from_utf8_lossy(&out.stdout);
                let resolvers: Vec<&str> = symbols
                    .lines()
                    .filter(|l| {
                        let name = l.rsplit(' ').next().unwrap_or("");
                        ["getaddrinfo", "gethostbyname"].contains(&name)
                    })
                    .collect();
                ensure!(resolvers.is_empty(), "the static realm links {resolvers:?}");
            }
        } else {
            eprintln!("SKIPPED: this machine links the realm dynamically");
            ensure!(
                shared.iter().any(|l| l.contains("libc.so")),
                "a dynamically linked realm without libc.so: {maps}"
            );
        }
        Ok(())
    });
}
