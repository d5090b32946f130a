//! Zero-drop upgrades (`docs/upgrades.md`): the realms are rolled to a
//! rebuilt worker while 40 bots fly in two arenas; nobody is disconnected,
//! every numbered reliable chat message arrives exactly once and in order,
//! scores stay, positions keep being relayed after each step, and `stats`
//! shows the new builds. A worker that exits at start leaves its realm on
//! the old worker and stops the roll with a report. With send threads
//! (`Net:SendThreads`) the supervisor upgrade drops nobody either, and the
//! new process runs its own. (What the threads hold when the process execs
//! is waited for; a datagram lost there would only cost a retransmission,
//! so no test here can tell that wait is missing.)
//!
//! (Not Continuum's client update: that is `update.rs`.)
//!
//! Real binaries, bots over UDP on 127.0.0.1; every wait is bounded and
//! "nothing more" checks wait for a marker, never for time.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use serde_json::Value;
use ss_proto::game::{chat_type, ship, C2SPacket, S2CPacket, WeaponInfo};
use ss_proto::transport::{Priority, Reliability};
use ss_tests::bot::Bot;
use ss_tests::scenario::*;
use ss_tests::zone::{bin_dir, TestZone, ZoneOptions};

/// Bots per arena (two arenas: 40 in all).
const BOTS_PER_ARENA: usize = 20;
/// The arenas.
const ARENAS: [&str; 2] = ["0", "duel"];
/// Pause between flying rounds.
const ROUND: Duration = Duration::from_millis(40);

/// A copy of a real binary with bytes appended: the same program, a
/// different build (its build id covers the whole file).
fn rebuilt(dir: &Path, name: &str) -> Result<PathBuf> {
    use std::io::Write;
    let path = dir.join(format!("{name}-rebuilt"));
    std::fs::copy(bin_dir()?.join(name), &path).with_context(|| format!("copying {name}"))?;
    let mut f = std::fs::OpenOptions::new().append(true).open(&path)?;
    f.write_all(b"\0rebuilt for the upgrade test\0")?;
    Ok(path)
}

/// The build version a binary reports with `--version` (`NAME VERSION`).
fn version_of(binary: &Path) -> Result<String> {
    let out = Command::new(binary).arg("--version").output()?;
    ensure!(out.status.success(), "{binary:?} --version failed");
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .nth(1)
        .map(str::to_string)
        .context("no version in --version output")
}

/// A realm's entry in `stats --json`.
fn realm<'a>(stats: &'a Value, name: &str) -> Result<&'a Value> {
    stats["realms"]
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["name"] == name))
        .with_context(|| format!("realm {name} in stats"))
}

/// Runs the operator CLI on another thread (the bots keep flying).
fn cli_in_background(zone: &TestZone, args: &[&str]) -> std::thread::JoinHandle<Result<Output>> {
    let bin = bin_dir().expect("bin dir").join("zone-supervisor");
    let mut cmd = Command::new(bin);
    cmd.args(args).arg("--control").arg(zone.control_path());
    std::thread::spawn(move || cmd.output().context("running the CLI"))
}

/// Runs the operator CLI with `args` while every arena keeps flying (a
/// round each `ROUND`), and returns its output once it succeeded.
fn cli_while_flying(
    zone: &TestZone,
    arenas: &mut [Arena],
    round: &mut u32,
    args: &[&str],
) -> Result<Output> {
    let cli = cli_in_background(zone, args);
    while !cli.is_finished() {
        *round += 1;
        for a in arenas.iter_mut() {
            a.fly(*round)?;
        }
        std::thread::sleep(ROUND);
    }
    let out = cli.join().expect("CLI thread")?;
    ensure!(
        out.status.success(),
        "{} failed: {}{}",
        args[..2].join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(out)
}

/// One arena's bots: `bots[0]` talks (numbered public messages) and
/// scored a kill on `bots[1]`; every other bot listens.
struct Arena {
    name: &'static str,
    bots: Vec<Bot>,
    talker: i16,
    /// Messages sent so far (numbered from 1).
    sent: u32,
    /// The numbers each bot received from the talker, in order.
    seen: Vec<Vec<u32>>,
}

/// The number of a talker's message.
fn seq_of(p: &S2CPacket, talker: i16) -> Option<u32> {
    match p {
        S2CPacket::Chat(c) if c.pid == talker && c.chat_type == chat_type::PUBLIC => {
            c.text.strip_prefix("seq ")?.parse().ok()
        }
        _ => None,
    }
}

impl Arena {
    fn join(zone: &TestZone, name: &'static str, tag: &str) -> Result<Arena> {
        let mut bots = Vec::new();
        for i in 0..BOTS_PER_ARENA {
            bots.push(bot_in(zone, &format!("{tag}{i}"), name, ship::WARBIRD)?);
        }
        let talker = pid_of(&bots[0]);
        // Everyone knows the talker before he starts.
        for b in bots.iter_mut().skip(1) {
            wait_for_player(b, &format!("{tag}0"))?;
        }
        Ok(Arena {
            name,
            seen: vec![Vec::new(); bots.len()],
            bots,
            talker,
            sent: 0,
        })
    }

    /// One round: every bot sends a position near the centre (so that all
    /// see each other), the talker a numbered message; what arrived is
    /// taken in (the message numbers kept, the rest dropped).
    fn fly(&mut self, round: u32) -> Result<()> {
        for (i, b) in self.bots.iter_mut().enumerate() {
            let x = 8192 + (i as i16) * 4;
            let y = 8192 + (round % 64) as i16;
            b.send_position(x, y, 0, 0, WeaponInfo::NONE)?;
        }
        self.sent += 1;
        let text = format!("seq {}", self.sent);
        self.bots[0].chat(chat_type::PUBLIC, -1, &text)?;
        self.take_in()
    }

    /// Moves the talker's messages each bot has received into `seen` and
    /// drops everything else it received. Every packet is taken one by one
    /// (never a bulk clear, which could drop a message that arrived in
    /// between).
    fn take_in(&mut self) -> Result<()> {
        let talker = self.talker;
        for (b, seen) in self.bots.iter_mut().zip(&mut self.seen).skip(1) {
            while let Some(item) = b.poll_for(Duration::ZERO, |p| Some(seq_of(p, talker)))? {
                seen.extend(item);
            }
        }
        Ok(())
    }

    /// Every listener received 1..=sent exactly once, in order, and no
    /// message of the talker follows before its own marker.
    fn check_messages(&mut self) -> Result<()> {
        let (talker, sent) = (self.talker, self.sent);
        for (i, (b, seen)) in self.bots.iter_mut().zip(&mut self.seen).enumerate().skip(1) {
            while seen.last().copied() != Some(sent) {
                let n = b
                    .wait_for(WAIT, |p| seq_of(p, talker))
                    .with_context(|| format!("{} bot {i}: message {sent}", self.name))?;
                seen.push(n);
                ensure!(n <= sent, "bot {i} got message {n} never sent");
            }
            let want: Vec<u32> = (1..=sent).collect();
            ensure!(
                *seen == want,
                "{} bot {i}: messages not exactly once in order: {seen:?}",
                self.name
            );
            b.expect_none_before_marker(|p| seq_of(p, talker).is_some())
                .with_context(|| format!("{} bot {i}: a message after the last", self.name))?;
        }
        Ok(())
    }

    /// A position of `bots[2]` with fresh coordinates reaches `bots[3]`.
    fn positions_relayed(&mut self, x: i16) -> Result<()> {
        let (a, b) = self.bots.split_at_mut(3);
        stream_until_seen(&mut a[2], &mut b[0], x, 8190)
            .with_context(|| format!("positions in {}", self.name))?;
        self.take_in()
    }

    fn nobody_disconnected(&self) -> Result<()> {
        for (i, b) in self.bots.iter().enumerate() {
            ensure!(
                !b.is_disconnected(),
                "{} bot {i} was disconnected: {:?}",
                self.name,
                b.disconnect_reason()
            );
        }
        Ok(())
    }
}

/// The talker kills the second bot: kill points 37, one kill, one death.
fn score_a_kill(a: &mut Arena) -> Result<()> {
    let killer = a.talker;
    let victim = &mut a.bots[1];
    let victim_pid = pid_of(victim);
    victim.send(
        &C2SPacket::Death { killer, bounty: 37 },
        Reliability::Reliable,
        Priority::Normal,
    )?;
    victim
        .wait_for(WAIT, |p| match p {
            S2CPacket::Kill(k) if k.killer == killer && k.killed == victim_pid => Some(()),
            _ => None,
        })
        .context("the kill announcement")?;
    a.take_in()
}

/// A newcomer's entry shows the talker's and the victim's scores as they
/// were before the upgrade.
fn scores_kept(zone: &TestZone, a: &Arena, newcomer: &str) -> Result<Bot> {
    let mut bot = Bot::connect(zone.game_addr())?;
    bot.login(newcomer, PASSWORD)?;
    let entry = bot.enter_arena(a.name, ship::SPECTATOR)?;
    let rec = |pid: i16| entry.players.iter().find(|r| r.pid == pid).cloned();
    let killer = rec(a.talker).context("the talker's record")?;
    let victim = rec(pid_of(&a.bots[1])).context("the victim's record")?;
    ensure!(
        (killer.kill_points, killer.kills, killer.deaths) == (37, 1, 0),
        "{}: killer's score changed: {killer:?}",
        a.name
    );
    ensure!(
        (victim.kills, victim.deaths) == (0, 1),
        "{}: victim's score changed: {victim:?}",
        a.name
    );
    Ok(bot)
}

#[test]
fn realms_then_the_supervisor_upgrade_without_dropping_anyone() {
    in_temp_dir("upgrade-roll", |dir| {
        let new_worker = rebuilt(dir, "realm-worker")?;
        let new_version = version_of(&new_worker)?;
        let old_version = version_of(&bin_dir()?.join("realm-worker"))?;
        ensure!(
            new_version != old_version,
            "the rebuilt worker is a new build"
        );
        let zone = TestZone::start_with(ZoneOptions {
            overrides: vec!["Chat:FloodLimit=0".into()],
            ..ZoneOptions::default()
        })?;
        let mut arenas = vec![
            Arena::join(&zone, ARENAS[0], "pub")?,
            Arena::join(&zone, ARENAS[1], "duel")?,
        ];
        let stats = zone.stats()?;
        for name in ARENAS {
            ensure!(realm(&stats, name)?["version"] == old_version.as_str());
        }
        ensure!(stats["zone"]["version"]
            .as_str()
            .is_some_and(|v| !v.is_empty()));
        let old_pids: Vec<u64> = ARENAS
            .iter()
            .map(|n| realm(&stats, n).map(|r| r["process"]["pid"].as_u64().unwrap_or(0)))
            .collect::<Result<_>>()?;
        let mut round = 0;
        for a in &mut arenas {
            score_a_kill(a)?;
            for _ in 0..5 {
                round += 1;
                a.fly(round)?;
            }
        }

        // The roll, while everyone flies and talks.
        let out = cli_while_flying(
            &zone,
            &mut arenas,
            &mut round,
            &[
                "upgrade",
                "realms",
                "--worker",
                new_worker.to_str().context("path")?,
            ],
        )?;
        ensure!(
            String::from_utf8_lossy(&out.stdout).contains("upgrade finished"),
            "{out:?}"
        );

        // Positions are relayed by the new workers.
        for (i, a) in arenas.iter_mut().enumerate() {
            a.positions_relayed(8000 + i as i16)?;
        }
        for _ in 0..5 {
            round += 1;
            for a in &mut arenas {
                a.fly(round)?;
            }
        }
        let stats = zone.stats()?;
        for (name, old_pid) in ARENAS.iter().zip(&old_pids) {
            let r = realm(&stats, name)?;
            ensure!(r["version"] == new_version.as_str(), "{name}: {r}");
            ensure!(
                r["process"]["pid"].as_u64() != Some(*old_pid),
                "{name}: same process"
            );
            ensure!(r["players"] == BOTS_PER_ARENA as u64, "realm {name}: {r}");
        }
        for a in &mut arenas {
            a.check_messages()?;
            a.nobody_disconnected()?;
        }
        for (i, a) in arenas.iter().enumerate() {
            scores_kept(&zone, a, &format!("late{i}"))?;
        }

        // Then the supervisor, in place, while everyone flies and talks.
        let new_zone = rebuilt(dir, "zone-supervisor")?;
        let new_zone_version = version_of(&new_zone)?;
        let old_zone_version = stats["zone"]["version"].as_str().unwrap_or("").to_string();
        ensure!(new_zone_version != old_zone_version);
        let worker_pids: Vec<Value> = ARENAS
            .iter()
            .map(|n| realm(&stats, n).map(|r| r["process"]["pid"].clone()))
            .collect::<Result<_>>()?;
        cli_while_flying(
            &zone,
            &mut arenas,
            &mut round,
            &[
                "upgrade",
                "supervisor",
                "--binary",
                new_zone.to_str().context("path")?,
            ],
        )?;
        for (i, a) in arenas.iter_mut().enumerate() {
            a.positions_relayed(7800 + i as i16)?;
        }
        for _ in 0..5 {
            round += 1;
            for a in &mut arenas {
                a.fly(round)?;
            }
        }
        let stats = zone.stats()?;
        ensure!(
            stats["zone"]["version"] == new_zone_version.as_str(),
            "{}",
            stats["zone"]
        );
        ensure!(stats["zone"]["upgrades"] == 1, "{}", stats["zone"]);
        ensure!(
            stats["zone"]["process"]["pid"] == zone.pid(),
            "the supervisor keeps its pid"
        );
        for (name, pid) in ARENAS.iter().zip(&worker_pids) {
            let r = realm(&stats, name)?;
            ensure!(
                r["process"]["pid"] == *pid,
                "{name}: the worker kept running: {r}"
            );
            ensure!(r["version"] == new_version.as_str(), "{name}: {r}");
            // (The late joiners have left again.)
            ensure!(r["players"] == BOTS_PER_ARENA as u64, "realm {name}: {r}");
        }
        for a in &mut arenas {
            a.check_messages()?;
            a.nobody_disconnected()?;
        }
        for (i, a) in arenas.iter().enumerate() {
            scores_kept(&zone, a, &format!("after{i}"))?;
        }
        // ?version names both new builds.
        let asker = &mut arenas[0].bots[5];
        asker.chat(chat_type::PUBLIC, -1, "?version")?;
        let text = wait_message(asker, "Subsumption")?;
        ensure!(
            text.contains(&new_version) && text.contains(&new_zone_version),
            "?version: {text}"
        );
        Ok(())
    });
}

#[test]
fn a_state_of_another_format_version_is_refused_and_the_old_supervisor_serves_on() {
    // The test knob makes the running supervisor claim format 999 for its
    // state; the real new binary reads only its own format.
    let zone = TestZone::start_with(ZoneOptions {
        env: vec![(
            "SUBSUMPTION_TEST_UPGRADE_STATE_VERSION".into(),
            "999".into(),
        )],
        ..ZoneOptions::default()
    })
    .expect("zone");
    let result = (|| -> Result<()> {
        let mut a = bot_in(&zone, "alice", "0", ship::WARBIRD)?;
        let mut b = bot_in(&zone, "bob", "0", ship::WARBIRD)?;
        face_off(&mut a, &mut b)?;
        let out = Command::new(bin_dir()?.join("zone-supervisor"))
            .args(["upgrade", "supervisor", "--binary"])
            .arg(bin_dir()?.join("zone-supervisor"))
            .arg("--control")
            .arg(zone.control_path())
            .output()?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        ensure!(!out.status.success(), "the upgrade must be refused");
        ensure!(
            stderr.contains("refuses this zone's state (format 999)")
                && stderr.contains("keeps serving"),
            "{stderr}"
        );
        // A binary that does not exist is refused the same way.
        let out = Command::new(bin_dir()?.join("zone-supervisor"))
            .args([
                "upgrade",
                "supervisor",
                "--binary",
                "/nonexistent/zone-supervisor",
            ])
            .arg("--control")
            .arg(zone.control_path())
            .output()?;
        ensure!(!out.status.success(), "a missing binary must be refused");
        let stats = zone.stats()?;
        ensure!(stats["zone"]["upgrades"] == 0);
        ensure!(stats["zone"]["process"]["pid"] == zone.pid());
        ensure!(stats["zone"]["upgrade_error"]
            .as_str()
            .is_some_and(|e| e.contains("format 999")));
        // Still serving: positions relayed, nobody dropped.
        stream_until_seen(&mut a, &mut b, 8250, 8250)?;
        ensure!(!a.is_disconnected() && !b.is_disconnected());
        Ok(())
    })();
    if let Err(e) = result {
        panic!("{e:?}");
    }
}

#[test]
fn a_worker_that_exits_at_start_leaves_the_realm_on_its_old_worker() {
    in_temp_dir("upgrade-fail", |dir| {
        // "0" comes first and is upgraded; "duel"'s new worker exits at once.
        let failing = failing_worker(dir, "duel")?;
        let zone = TestZone::start(&["Chat:FloodLimit=0"])?;
        let mut a = bot_in(&zone, "pub0", "0", ship::WARBIRD)?;
        let mut a2 = bot_in(&zone, "pub1", "0", ship::WARBIRD)?;
        let mut b = bot_in(&zone, "duel0", "duel", ship::WARBIRD)?;
        let mut c = bot_in(&zone, "duel1", "duel", ship::WARBIRD)?;
        wait_for_player(&mut c, "duel0")?;
        let before = zone.stats()?;
        let duel_pid = realm(&before, "duel")?["process"]["pid"].clone();
        let pub_pid = realm(&before, "0")?["process"]["pid"].clone();

        let out = Command::new(bin_dir()?.join("zone-supervisor"))
            .args(["upgrade", "realms", "--worker"])
            .arg(&failing)
            .arg("--control")
            .arg(zone.control_path())
            .output()?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        ensure!(!out.status.success(), "the roll must report the failure");
        ensure!(
            stderr.contains("realm duel keeps its old worker") && stderr.contains("exit code 3"),
            "{stderr}"
        );
        let after = zone.stats()?;
        ensure!(realm(&after, "duel")?["process"]["pid"] == duel_pid);
        ensure!(realm(&after, "duel")?["state"] == "running");
        ensure!(
            realm(&after, "0")?["process"]["pid"] != pub_pid,
            "0 was upgraded"
        );
        // The old worker still serves duel: positions and chat go through.
        face_off(&mut b, &mut c)?;
        stream_until_seen(&mut b, &mut c, 8100, 8100)?;
        b.chat(chat_type::PUBLIC, -1, "still here")?;
        let b_pid = pid_of(&b);
        c.wait_for(WAIT, |p| match p {
            S2CPacket::Chat(m) if m.pid == b_pid && m.text == "still here" => Some(()),
            _ => None,
        })?;
        // The upgraded realm relays too.
        face_off(&mut a, &mut a2)?;
        stream_until_seen(&mut a, &mut a2, 8050, 8050)?;
        for bot in [&a, &a2, &b, &c] {
            ensure!(!bot.is_disconnected());
        }
        Ok(())
    });
}

/// The biller link is made again by the new supervisor process as after a
/// dropped link: the player logged in through the biller stays, and his
/// logoff still reaches the biller.
#[test]
fn the_biller_link_is_made_again_and_owed_logoffs_arrive() {
    use ss_tests::biller::{FromZone, TestBiller};
    use ss_tests::zone::wait_until;
    let biller = TestBiller::start().expect("test biller");
    let mut settings = biller.zone_settings();
    settings.extend(
        [
            "Billing:PingIntervalMillis=300",
            "Billing:NoDataTimeoutMillis=1500",
            "Billing:RetryMinimumMillis=200",
            "Billing:RetryInterval=1",
        ]
        .map(str::to_string),
    );
    let zone = TestZone::start_with(ZoneOptions {
        overrides: settings,
        ..ZoneOptions::default()
    })
    .expect("zone");
    let biller_up = |zone: &TestZone| {
        zone.stats()
            .ok()
            .is_some_and(|s| s["zone"]["biller"] == "up")
    };
    let result = (|| -> Result<()> {
        ensure!(
            wait_until(WAIT, || biller_up(&zone)),
            "the biller link never came up"
        );
        let mut a = Bot::connect(zone.game_addr())?;
        a.login("alice", "secret")?;
        let pid = biller
            .wait_for(WAIT, |m| match m {
                FromZone::UserLogin { name, pid, .. } if name.eq_ignore_ascii_case("alice") => {
                    Some(*pid)
                }
                _ => None,
            })
            .context("alice's login at the biller")?;
        a.enter_arena("0", ship::WARBIRD)?;
        let mut b = bot_in(&zone, "bob", "0", ship::WARBIRD)?;
        face_off(&mut a, &mut b)?;
        let connects = biller.server_connects();
        let out = Command::new(bin_dir()?.join("zone-supervisor"))
            .args(["upgrade", "supervisor"])
            .arg("--control")
            .arg(zone.control_path())
            .output()?;
        ensure!(
            out.status.success(),
            "upgrade supervisor failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        ensure!(
            wait_until(WAIT, || biller.server_connects() > connects
                && biller_up(&zone)),
            "the new process did not log in to the biller again"
        );
        stream_until_seen(&mut a, &mut b, 8222, 8222)?;
        ensure!(!a.is_disconnected() && !b.is_disconnected());
        a.disconnect();
        biller
            .wait_for(WAIT, |m| {
                matches!(m, FromZone::UserLogoff { pid: p, .. } if *p == pid).then_some(())
            })
            .context("alice's logoff at the biller after the upgrade")?;
        Ok(())
    })();
    if let Err(e) = result {
        panic!("{e:?}");
    }
}

/// A new binary that passes the format check but fails after the exec
/// leaves a zone process that has exited with an error (what systemd's
/// `Restart=on-failure` restarts) and no orphaned realm workers.
#[test]
fn a_binary_failing_after_the_exec_ends_the_zone_for_a_restart() {
    in_temp_dir("upgrade-broken", |dir| {
        use std::os::unix::fs::PermissionsExt;
        let broken = dir.join("zone-supervisor-broken");
        std::fs::write(
            &broken,
            format!(
                "#!/bin/sh\nif [ \"$1\" = --check-upgrade-state-version ]; then echo 'ok ipc={}'; exit 0; fi\nexit 1\n",
                ipc_proto::PROTOCOL_VERSION
            ),
        )?;
        std::fs::set_permissions(&broken, std::fs::Permissions::from_mode(0o755))?;
        let mut zone = TestZone::start(&[])?;
        let mut a = bot_in(&zone, "alice", "0", ship::WARBIRD)?;
        let mut b = bot_in(&zone, "bob", "duel", ship::WARBIRD)?;
        wait_for_player(&mut a, "alice")?;
        wait_for_player(&mut b, "bob")?;
        let workers = zone.realm_workers();
        ensure!(workers.len() == 2, "two realm workers: {workers:?}");
        let out = Command::new(bin_dir()?.join("zone-supervisor"))
            .args(["upgrade", "supervisor", "--binary"])
            .arg(&broken)
            .arg("--control")
            .arg(zone.control_path())
            .output()?;
        ensure!(
            !out.status.success(),
            "the CLI reports that the zone did not come back"
        );
        let status = zone.wait_exit(WAIT)?;
        ensure!(
            !status.success(),
            "the zone exits with an error: {status:?}"
        );
        for (pid, _) in &workers {
            let gone = ss_tests::zone::wait_until(WAIT, || {
                !std::path::Path::new(&format!("/proc/{pid}")).exists()
                    || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                        .is_ok_and(|s| s.contains(") Z "))
            });
            ensure!(gone, "realm worker {pid} outlived its supervisor");
        }
        Ok(())
    });
}

/// Chatnet clients' TCP connections are not carried across the exec: the
/// upgrade is refused while one is connected, and the zone serves on.
#[test]
fn the_supervisor_upgrade_is_refused_while_chat_clients_are_connected() {
    let zone =
        TestZone::start(&["Net:ChatListen=127.0.0.1:0", "Net:ChatMessageDelay=1"]).expect("zone");
    let result = (|| -> Result<()> {
        let mut chat = ss_tests::chatnet::ChatClient::connect(
            zone.chat_addr().context("no chat= in the listening line")?,
        )?;
        chat.send("LOGIN:1;test client 1.0:Chatter:secret")?;
        chat.expect(WAIT, "LOGINOK:Chatter")?;
        let out = Command::new(bin_dir()?.join("zone-supervisor"))
            .args(["upgrade", "supervisor"])
            .arg("--control")
            .arg(zone.control_path())
            .output()?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        ensure!(!out.status.success(), "refused");
        ensure!(
            stderr.contains("chat (chatnet) clients are connected"),
            "{stderr}"
        );
        ensure!(zone.stats()?["zone"]["upgrades"] == 0);
        chat.send("GO:duel")?;
        chat.wait_line(WAIT, |l| l.starts_with("INARENA:duel:"))?;
        Ok(())
    })();
    if let Err(e) = result {
        panic!("{e:?}");
    }
}

/// A new binary of another realm IPC protocol is refused before anything
/// stops: the running workers could not talk to it.
#[test]
fn a_binary_of_another_ipc_protocol_is_refused() {
    in_temp_dir("upgrade-ipc", |dir| {
        use std::os::unix::fs::PermissionsExt;
        let other = dir.join("zone-supervisor-other-ipc");
        std::fs::write(
            &other,
            format!(
                "#!/bin/sh\nif [ \"$1\" = --check-upgrade-state-version ]; then echo 'ok ipc={}'; exit 0; fi\nexit 1\n",
                ipc_proto::PROTOCOL_VERSION + 1
            ),
        )?;
        std::fs::set_permissions(&other, std::fs::Permissions::from_mode(0o755))?;
        let zone = TestZone::start(&[])?;
        let mut a = bot_in(&zone, "alice", "0", ship::WARBIRD)?;
        let mut b = bot_in(&zone, "bob", "0", ship::WARBIRD)?;
        let out = Command::new(bin_dir()?.join("zone-supervisor"))
            .args(["upgrade", "supervisor", "--binary"])
            .arg(&other)
            .arg("--control")
            .arg(zone.control_path())
            .output()?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        ensure!(!out.status.success(), "refused");
        ensure!(stderr.contains("another realm IPC protocol"), "{stderr}");
        face_off(&mut a, &mut b)?;
        stream_until_seen(&mut a, &mut b, 8240, 8240)?;
        ensure!(zone.stats()?["zone"]["upgrades"] == 0);
        Ok(())
    });
}

/// The score cache crosses the exec: a kill after the supervisor upgrade
/// is kept, and a player entering again starts from both kills.
#[test]
fn scores_made_after_the_supervisor_upgrade_are_kept() {
    zone_test(&[], |zone| {
        let mut a = bot_in(zone, "alice", "0", ship::WARBIRD)?;
        let mut b = bot_in(zone, "bob", "0", ship::JAVELIN)?;
        let a_pid = pid_of(&a);
        wait_for_player(&mut b, "alice")?;
        let kill = |victim: &mut Bot, bounty: i16| -> Result<()> {
            let victim_pid = pid_of(victim);
            victim.send(
                &C2SPacket::Death {
                    killer: a_pid,
                    bounty,
                },
                Reliability::Reliable,
                Priority::Normal,
            )?;
            victim
                .wait_for(WAIT, |p| match p {
                    S2CPacket::Kill(k) if k.killer == a_pid && k.killed == victim_pid => Some(()),
                    _ => None,
                })
                .context("the kill announcement")
        };
        kill(&mut b, 37)?;
        let out = Command::new(bin_dir()?.join("zone-supervisor"))
            .args(["upgrade", "supervisor"])
            .arg("--control")
            .arg(zone.control_path())
            .output()?;
        ensure!(
            out.status.success(),
            "upgrade supervisor failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        kill(&mut b, 20)?;
        // Alice's score changes reach the zone before her leave does (the
        // realm reports them in order); then she comes back.
        a.leave_arena()?;
        b.wait_for(WAIT, |p| {
            matches!(p, S2CPacket::PlayerLeaving { pid } if *pid == a_pid).then_some(())
        })?;
        let entry = a.enter_arena("0", ship::SPECTATOR)?;
        let me = entry
            .players
            .iter()
            .find(|r| r.pid == entry.pid)
            .context("own record")?;
        ensure!(
            (me.kill_points, me.kills) == (57, 2),
            "alice's score after the upgrade: {me:?}"
        );
        Ok(())
    });
}

/// Asks `?lastlog` until a line containing every one of `needles` shows
/// (worker lines come through their stderr, on a path of their own), or
/// the wait ends; returns the line.
fn lastlog_line(boss: &mut Bot, query: &str, needles: &[&str]) -> Result<String> {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        ensure!(
            std::time::Instant::now() < deadline,
            "no ?lastlog line with {needles:?}"
        );
        boss.chat(chat_type::PUBLIC, -1, &format!("?lastlog {query}"))?;
        let answer = boss.wait_for(WAIT, |p| match p {
            S2CPacket::Chat(c)
                if c.pid == -1
                    && (needles.iter().all(|n| c.text.contains(n))
                        || c.text == "No matching log lines.") =>
            {
                Some(c.text.clone())
            }
            _ => None,
        })?;
        if answer != "No matching log lines." {
            return Ok(answer);
        }
    }
}

/// What the staff tools keep crosses both upgrades: a timed kick (here
/// with the database off, so that only the hand-over can carry it), the
/// `?lastlog` ring and the realm workers' log lines (their stderr pipe is
/// handed over too) across the supervisor's exec; `?lockarena` across a
/// realm's hand-over to a new worker.
#[test]
fn kicks_the_log_and_an_arena_lock_survive_the_upgrades() {
    in_temp_dir("upgrade-staff", |dir| {
        let zone_dir = init_zone_folder(dir)?;
        add_staff(&zone_dir, &[("boss", "sysop")])?;
        let zone = TestZone::start_with(ZoneOptions {
            zone_dir: Some(zone_dir.clone()),
            overrides: vec!["Persist:Enabled=0".into()],
            ..ZoneOptions::default()
        })?;
        let mut boss = bot_in(&zone, "boss", "0", ship::SPECTATOR)?;
        let mut victim = bot_in(&zone, "victim", "0", ship::WARBIRD)?;
        let victim_pid = wait_for_player(&mut boss, "victim")?;
        boss.chat(chat_type::PRIVATE, victim_pid, "?kick -t 600 spamming")?;
        wait_message(&mut boss, "Kicked 'victim' for 10 minutes")?;
        victim.wait_disconnected(WAIT)?;
        let _noted = bot_in(&zone, "notedbot", "0", ship::SPECTATOR)?;
        wait_for_player(&mut boss, "notedbot")?;

        let out = Command::new(bin_dir()?.join("zone-supervisor"))
            .args(["upgrade", "supervisor"])
            .arg("--control")
            .arg(zone.control_path())
            .output()?;
        ensure!(
            out.status.success(),
            "upgrade supervisor failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        ensure!(zone.stats()?["zone"]["upgrades"] == 1);

        // The kick holds in the new process.
        let mut again = Bot::connect(zone.game_addr())?;
        ensure!(
            again.login("victim", PASSWORD).is_err(),
            "the kick outlived the supervisor upgrade"
        );
        // The ring still has the line from before the exec.
        let line = lastlog_line(&mut boss, "5 logged in", &["name=notedbot"])?;
        ensure!(line.contains("player logged in"), "{line}");
        // The worker's new lines still reach the ring.
        boss.chat(chat_type::PUBLIC, -1, "?lockarena")?;
        wait_message(&mut boss, "Arena locked")?;
        let line = lastlog_line(&mut boss, "3 ): lockarena", &["[realm 0]"])?;
        ensure!(line.contains("name=boss"), "{line}");

        // The locked arena is handed to a new worker with its lock.
        let new_worker = rebuilt(dir, "realm-worker")?;
        let out = Command::new(bin_dir()?.join("zone-supervisor"))
            .args(["upgrade", "realms", "--worker"])
            .arg(&new_worker)
            .arg("--control")
            .arg(zone.control_path())
            .output()?;
        ensure!(
            out.status.success()
                && String::from_utf8_lossy(&out.stdout).contains("upgrade finished"),
            "upgrade realms failed: {out:?}"
        );
        ensure!(
            realm(&zone.stats()?, "0")?["version"] == version_of(&new_worker)?,
            "arena 0 runs the new worker"
        );
        let mut late = Bot::connect(zone.game_addr())?;
        late.login("late", PASSWORD)?;
        let entry = late.enter_arena("0", ship::WARBIRD)?;
        let me = entry
            .players
            .iter()
            .find(|r| r.pid == entry.pid)
            .context("own record")?;
        ensure!(
            me.ship == ship::SPECTATOR,
            "the lock held after the hand-over: entered in ship {}",
            me.ship
        );
        Ok(())
    });
}

#[test]
fn with_send_threads_the_supervisor_upgrade_drops_nobody() {
    in_temp_dir("upgrade-send-threads", |dir| {
        let zone = TestZone::start_with(ZoneOptions {
            overrides: vec!["Chat:FloodLimit=0".into(), "Net:SendThreads=2".into()],
            ..ZoneOptions::default()
        })?;
        ensure!(zone.stats()?["zone"]["send_threads"] == 2);
        let mut arena = Arena::join(&zone, ARENAS[0], "pub")?;
        let mut round = 0;
        for _ in 0..5 {
            round += 1;
            arena.fly(round)?;
        }
        let new_zone = rebuilt(dir, "zone-supervisor")?;
        let new_zone_version = version_of(&new_zone)?;
        cli_while_flying(
            &zone,
            std::slice::from_mut(&mut arena),
            &mut round,
            &[
                "upgrade",
                "supervisor",
                "--binary",
                new_zone.to_str().context("path")?,
            ],
        )?;
        arena.positions_relayed(7800)?;
        for _ in 0..5 {
            round += 1;
            arena.fly(round)?;
        }
        let stats = zone.stats()?;
        ensure!(stats["zone"]["version"] == new_zone_version.as_str());
        ensure!(
            stats["zone"]["send_threads"] == 2,
            "the new process starts its own send threads: {}",
            stats["zone"]
        );
        arena.check_messages()?;
        arena.nobody_disconnected()?;
        Ok(())
    });
}
