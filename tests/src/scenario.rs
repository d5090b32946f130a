//! Scenario helpers shared by the multi-process tests: a bot in an arena,
//! two bots within sight of each other, waiting for a position or a player.

use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use md5::{Digest, Md5};
use ss_proto::game::{S2CPacket, WeaponInfo};

use crate::bot::Bot;
use crate::zone::TestZone;

/// Timeout of single waits: how long to wait for something that must
/// happen before giving up (generous, so that a busy machine does not fail
/// a test; not a claim on the zone's speed).
pub const WAIT: Duration = Duration::from_secs(15);
/// Interval between positions while streaming.
pub const STREAM_STEP: Duration = Duration::from_millis(40);

/// Runs `test` against a fresh zone started with `overrides`. An error is
/// turned into a panic while the zone is still alive, so that the zone's
/// log is printed with the failure.
pub fn zone_test(overrides: &[&str], test: impl FnOnce(&mut TestZone) -> Result<()>) {
    let mut zone = TestZone::start(overrides).expect("starting the zone");
    if let Err(e) = test(&mut zone) {
        panic!("{e:?}");
    }
}

/// A bot connected, logged in as `name` and inside `arena` in `ship`.
pub fn bot_in(zone: &TestZone, name: &str, arena: &str, ship: u8) -> Result<Bot> {
    let mut bot = Bot::connect(zone.game_addr()).with_context(|| format!("{name}: connect"))?;
    bot.login(name, PASSWORD)
        .with_context(|| format!("{name}: login"))?;
    bot.enter_arena(arena, ship)
        .with_context(|| format!("{name}: enter arena {arena:?}"))?;
    Ok(bot)
}

/// The pid of a bot that is in an arena.
pub fn pid_of(bot: &Bot) -> i16 {
    bot.pid().expect("bot is in an arena")
}

/// Waits until `bot` has `name` in its player list (the 0x03 may have come
/// during its own entry, or later).
pub fn wait_for_player(bot: &mut Bot, name: &str) -> Result<i16> {
    if let Some(p) = bot.player_by_name(name) {
        return Ok(p.pid);
    }
    let want = name.to_owned();
    bot.wait_for(WAIT, |p| match p {
        S2CPacket::PlayerEntering(list) => list
            .iter()
            .find(|r| r.name.eq_ignore_ascii_case(&want))
            .map(|r| r.pid),
        _ => None,
    })
    .with_context(|| format!("waiting for {name} to enter"))
}

/// Streams positions from `from` at (`x`, `y`) until `to` receives one of
/// them (with `from`'s pid and those coordinates), or `WAIT` passes.
pub fn stream_until_seen(from: &mut Bot, to: &mut Bot, x: i16, y: i16) -> Result<()> {
    let pid = pid_of(from);
    stream_until(from, to, x, y, |p| {
        position_of(p, pid).filter(|&xy| xy == (x, y))
    })
    .map(drop)
}

/// Streams plain positions from `from` at (`x`, `y`) until `to` receives a
/// packet `pick` accepts, and returns what it picked; fails after `WAIT`.
pub fn stream_until<T>(
    from: &mut Bot,
    to: &mut Bot,
    x: i16,
    y: i16,
    mut pick: impl FnMut(&S2CPacket) -> Option<T>,
) -> Result<T> {
    let pid = pid_of(from);
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        from.send_position(x, y, 0, 0, WeaponInfo::NONE)?;
        if let Some(v) = to.poll_for(STREAM_STEP, &mut pick)? {
            return Ok(v);
        }
    }
    anyhow::bail!("no position ({x}, {y}) of pid {pid} arrived within {WAIT:?}")
}

/// `(x, y)` of a relayed position (0x28 or 0x05) of player `pid`.
pub fn position_of(p: &S2CPacket, pid: i16) -> Option<(i16, i16)> {
    match p {
        S2CPacket::SmallPosition(s) if i16::from(s.pid) == pid & 0xFF => Some((s.x, s.y)),
        S2CPacket::LargePosition(l) if l.pid as i16 == pid => Some((l.x, l.y)),
        _ => None,
    }
}

/// Both bots in ships next to each other at the map centre, each having
/// seen a position of the other. Plain positions reach only players whose
/// own last position is near the sender's, so both keep sending until both
/// have seen one.
pub fn face_off(a: &mut Bot, b: &mut Bot) -> Result<()> {
    let (a_pid, b_pid) = (pid_of(a), pid_of(b));
    let (mut a_saw, mut b_saw) = (false, false);
    let deadline = Instant::now() + WAIT;
    while !(a_saw && b_saw) {
        anyhow::ensure!(
            Instant::now() < deadline,
            "no face-off within {WAIT:?} (a saw b: {a_saw}, b saw a: {b_saw})"
        );
        a.send_position(8200, 8200, 0, 0, WeaponInfo::NONE)?;
        b.send_position(8300, 8300, 0, 0, WeaponInfo::NONE)?;
        let step = STREAM_STEP / 2;
        a_saw |= a.poll_for(step, |p| position_of(p, b_pid))?.is_some();
        b_saw |= b.poll_for(step, |p| position_of(p, a_pid))?.is_some();
    }
    Ok(())
}

/// A fresh, empty folder under the system temp dir, removed when dropped.
pub struct TempDir {
    path: std::path::PathBuf,
}

impl TempDir {
    /// Creates `<tmp>/ss-tests-<tag>-<pid>-<n>`.
    pub fn new(tag: &str) -> TempDir {
        static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "ss-tests-{tag}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("creating a temp dir");
        TempDir { path }
    }

    /// The folder.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Runs a test body in a fresh temp folder; an error fails the test. Zones
/// the body starts are stopped before the folder is removed.
pub fn in_temp_dir(tag: &str, body: impl FnOnce(&std::path::Path) -> Result<()>) {
    let dir = TempDir::new(tag);
    if let Err(e) = body(dir.path()) {
        panic!("{e:?}");
    }
}

/// Writes the embedded default zone into `<dir>/zone` with the real
/// `zone-supervisor init`, for tests that edit config files; returns the
/// zone folder.
pub fn init_zone_folder(dir: &std::path::Path) -> Result<std::path::PathBuf> {
    let zone_dir = dir.join("zone");
    let out = std::process::Command::new(crate::zone::bin_dir()?.join("zone-supervisor"))
        .arg("init")
        .arg(&zone_dir)
        .output()
        .context("running zone-supervisor init")?;
    anyhow::ensure!(out.status.success(), "zone-supervisor init failed: {out:?}");
    Ok(zone_dir)
}

/// Starts a zone serving the zone folder `zone_dir`.
pub fn zone_from_folder(zone_dir: &std::path::Path) -> Result<TestZone> {
    TestZone::start_with(crate::zone::ZoneOptions {
        zone_dir: Some(zone_dir.to_path_buf()),
        ..crate::zone::ZoneOptions::default()
    })
}

/// A stand-in worker binary in `dir`: exits at once (status 3) when
/// started for `realm`, runs the real `realm-worker` for every other realm.
pub fn failing_worker(dir: &std::path::Path, realm: &str) -> Result<std::path::PathBuf> {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    let real = crate::zone::bin_dir()?.join("realm-worker");
    let path = dir.join(format!("worker-failing-{realm}"));
    let mut f = std::fs::File::create(&path)?;
    writeln!(
        f,
        "#!/bin/sh\ncase \" $* \" in *\" --realm {realm} \"*) exit 3;; esac\nexec '{}' \"$@\"",
        real.display()
    )?;
    drop(f);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
    Ok(path)
}

/// The password [`bot_in`] logs in with.
pub const PASSWORD: &str = "secret";

/// Waits for a green (or red) server message containing `needle`.
pub fn wait_message(bot: &mut Bot, needle: &str) -> Result<String> {
    let want = needle.to_owned();
    bot.wait_for(WAIT, |p| match p {
        S2CPacket::Chat(c) if c.pid == -1 && c.text.contains(&want) => Some(c.text.clone()),
        _ => None,
    })
    .with_context(|| format!("waiting for a message containing {needle:?}"))
}

/// ASSS `passwd.conf` digest: MD5 over the lowercased name NUL-padded to
/// 24 bytes and the password NUL-padded to 32.
pub fn digest(name: &str, password: &str) -> String {
    let mut block = [0u8; 56];
    let lower = name.to_ascii_lowercase();
    block[..lower.len()].copy_from_slice(lower.as_bytes());
    block[24..24 + password.len()].copy_from_slice(password.as_bytes());
    Md5::digest(block)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Makes each `(name, group)` staff of the zone folder `dir`.
pub fn add_staff(dir: &std::path::Path, staff: &[(&str, &str)]) -> Result<()> {
    let conf = dir.join("conf");
    let mut passwd = std::fs::read_to_string(conf.join("passwd.conf"))?;
    let mut staff_conf = std::fs::read_to_string(conf.join("staff.conf"))?;
    // [Users] and [(global)] are the last sections of the shipped files.
    ensure!(
        passwd.trim_end().ends_with("[Users]"),
        "unexpected passwd.conf layout"
    );
    ensure!(
        staff_conf.trim_end().ends_with("[(global)]"),
        "unexpected staff.conf layout"
    );
    for (name, group) in staff {
        passwd.push_str(&format!("\n{name} = {}\n", digest(name, PASSWORD)));
        staff_conf.push_str(&format!("\n{name} = {group}\n"));
    }
    std::fs::write(conf.join("passwd.conf"), passwd)?;
    std::fs::write(conf.join("staff.conf"), staff_conf)?;
    Ok(())
}

/// A datagram socket standing in for systemd's notify socket (pass its
/// path to the zone as `NOTIFY_SOCKET`).
pub fn notify_socket(
    dir: &std::path::Path,
) -> Result<(std::os::unix::net::UnixDatagram, std::path::PathBuf)> {
    let path = dir.join("notify.sock");
    let sock = std::os::unix::net::UnixDatagram::bind(&path)?;
    sock.set_read_timeout(Some(Duration::from_millis(200)))?;
    Ok((sock, path))
}

/// Waits (at most [`WAIT`]) for a notify message with a line for which
/// `want` holds; returns that line.
pub fn wait_notify_line(
    sock: &std::os::unix::net::UnixDatagram,
    mut want: impl FnMut(&str) -> bool,
) -> Result<String> {
    let deadline = Instant::now() + WAIT;
    let mut buf = [0u8; 1024];
    while Instant::now() < deadline {
        if let Ok(n) = sock.recv(&mut buf) {
            let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
            if let Some(line) = msg.lines().find(|l| want(l)) {
                return Ok(line.to_string());
            }
        }
    }
    anyhow::bail!("no such line on the notify socket within {WAIT:?}")
}

/// The pid of the running worker of `realm`, as the zone reports it.
pub fn worker_of(zone: &TestZone, realm: &str) -> Result<u32> {
    let mut found = None;
    crate::zone::wait_until(WAIT, || {
        found = zone.stats().ok().and_then(|s| {
            let r = s["realms"]
                .as_array()?
                .iter()
                .find(|r| r["name"].as_str() == Some(realm))?;
            (r["state"].as_str() == Some("running"))
                .then(|| r["process"]["pid"].as_u64())
                .flatten()
                .map(|p| p as u32)
                .filter(|&p| p != 0)
        });
        found.is_some()
    });
    found.with_context(|| format!("realm {realm} is not running"))
}

/// `victim` reports being killed by `killer_pid` with `bounty`; returns
/// once the victim has seen the kill announced (the realm has scored it).
pub fn kill(victim: &mut Bot, killer_pid: i16, bounty: i16) -> Result<()> {
    victim.send(
        &ss_proto::game::C2SPacket::Death {
            killer: killer_pid,
            bounty,
        },
        ss_proto::transport::Reliability::Reliable,
        ss_proto::transport::Priority::Normal,
    )?;
    let victim_pid = pid_of(victim);
    victim
        .wait_for(WAIT, |p| match p {
            S2CPacket::Kill(k) if k.killer == killer_pid && k.killed == victim_pid => Some(()),
            _ => None,
        })
        .context("the kill announcement")
}
