//! Directory publishing: the zone announces itself to every directory
//! server in `[Directory]` with its current player count; a server that is
//! down or a malformed setting disturbs nothing else.
//!
//! Real binaries (`cargo build --workspace --bins` first); every wait is
//! bounded.

use std::net::UdpSocket;

use anyhow::{ensure, Result};
use ss_tests::directory::TestDirectory;
use ss_tests::scenario::*;
use ss_tests::zone::TestZone;

/// Waits for an announcement, made after the first `after`, carrying
/// `players`; returns how many announcements there were then.
fn wait_count(dir: &TestDirectory, after: usize, players: u16) -> Result<usize> {
    dir.wait_for(after, WAIT, |a| a.players == players)?;
    Ok(dir.announcements().len())
}

#[test]
fn zone_is_listed_with_its_player_count() {
    let dir = TestDirectory::start().expect("directory server");
    // A directory server that is down: its port is held (so no other
    // test can take it) and never read.
    let down_socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let down = down_socket.local_addr().unwrap().port();
    let port1 = format!("Directory:Port1={}", dir.addr().port());
    let port2 = format!("Directory:Port2={down}");
    zone_test(
        &[
            "Directory:Name=Test Zone",
            "Directory:Description=Reached from the tests",
            "Directory:Password=secretpw",
            // A name, resolved at start (from the hosts file).
            "Directory:Server1=localhost",
            &port1,
            "Directory:Server2=127.0.0.1",
            &port2,
            "Directory:Server3=not a host",
            "Directory:FirstAnnounceMillis=0",
            "Directory:AnnounceMillis=200",
        ],
        |zone: &mut TestZone| {
            ensure!(
                zone.log_tail().contains("Directory:Server3"),
                "the malformed server is reported by key"
            );
            let first = dir.wait_for(0, WAIT, |_| true)?;
            ensure!(first.name == "Test Zone", "{first:?}");
            ensure!(first.description == "Reached from the tests", "{first:?}");
            ensure!(first.password == "secretpw", "{first:?}");
            ensure!(first.port == zone.game_addr().port(), "{first:?}");
            ensure!(first.from.ip().is_loopback(), "{first:?}");
            let n = wait_count(&dir, 0, 0)?;

            let mut a = bot_in(zone, "Dir A", "0", 8)?;
            let n = wait_count(&dir, n, 1)?;
            let b = bot_in(zone, "Dir B", "duel", 8)?;
            let n = wait_count(&dir, n, 2)?;
            a.disconnect();
            let n = wait_count(&dir, n, 1)?;
            drop(b);
            wait_count(&dir, n, 0)?;
            let _ = &down_socket;
            ensure!(dir.errors().is_empty(), "malformed: {:?}", dir.errors());
            Ok(())
        },
    );
}

#[test]
fn missing_name_is_reported_at_start() {
    zone_test(
        &["Directory:Server1=127.0.0.1", "Directory:Port=1"],
        |zone: &mut TestZone| {
            let log = zone.log_tail();
            ensure!(
                log.contains("Directory:Name") && log.contains("Directory:Server1"),
                "missing name not reported: {log}"
            );
            // The zone runs anyway.
            bot_in(zone, "Nameless", "0", 8)?;
            Ok(())
        },
    );
}

#[test]
fn reload_applies_new_directory_settings() {
    let dir = TestDirectory::start().expect("directory server");
    in_temp_dir("directory", |tmp| {
        let zone_dir = init_zone_folder(tmp)?;
        let global = zone_dir.join("conf").join("global.conf");
        let original = std::fs::read_to_string(&global)?;
        let section = |name: &str| {
            format!(
                "{original}\n[Directory]\nName = {name}\nServer1 = 127.0.0.1\nPort1 = {}\nFirstAnnounceMillis = 0\nAnnounceMillis = 200\n",
                dir.addr().port()
            )
        };
        std::fs::write(&global, section("Before"))?;
        let zone = zone_from_folder(&zone_dir)?;
        dir.wait_for(0, WAIT, |a| a.name == "Before")?;
        std::fs::write(&global, section("After"))?;
        zone.cli(&["reload"])?;
        let n = dir.announcements().len();
        dir.wait_for(n, WAIT, |a| a.name == "After")?;
        Ok(())
    });
}
