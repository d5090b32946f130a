//! Scenario helpers shared by the multi-process tests: a bot in an arena,
//! two bots within sight of each other, waiting for a position or a player.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
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
    bot.login(name, "secret")
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
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        from.send_position(x, y, 0, 0, WeaponInfo::NONE)?;
        let seen = to.poll_for(STREAM_STEP, |p| {
            position_of(p, pid).filter(|&xy| xy == (x, y))
        })?;
        if seen.is_some() {
            return Ok(());
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

/// ASSS `passwd.conf` digest: MD5 over the lowercased name NUL-padded to
/// 24 bytes and the password NUL-padded to 32.
pub fn passwd_digest(name: &str, password: &str) -> String {
    use md5::{Digest, Md5};
    let mut block = [0u8; 56];
    let lower = name.to_ascii_lowercase();
    let n = lower.len().min(24);
    block[..n].copy_from_slice(&lower.as_bytes()[..n]);
    let m = password.len().min(32);
    block[24..24 + m].copy_from_slice(&password.as_bytes()[..m]);
    Md5::digest(block)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Makes each `(name, group)` staff of the zone folder `zone_dir` (written
/// by [`init_zone_folder`]), with `password`.
pub fn add_staff(zone_dir: &std::path::Path, staff: &[(&str, &str)], password: &str) -> Result<()> {
    let conf = zone_dir.join("conf");
    let mut passwd = std::fs::read_to_string(conf.join("passwd.conf"))?;
    let mut staff_conf = std::fs::read_to_string(conf.join("staff.conf"))?;
    for (name, group) in staff {
        passwd.push_str(&format!("\n{name} = {}\n", passwd_digest(name, password)));
        staff_conf.push_str(&format!("\n{name} = {group}\n"));
    }
    std::fs::write(conf.join("passwd.conf"), passwd)?;
    std::fs::write(conf.join("staff.conf"), staff_conf)?;
    Ok(())
}
