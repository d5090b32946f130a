//! End-to-end test of Continuum's update request (C2S 0x0B): ignored and
//! counted without an update file, answered with the file (S2C 0x10, empty
//! name) once the operator adds `clients/update.exe` and reloads. Real
//! `zone-supervisor` and `realm-worker` processes, a bot over UDP.

use anyhow::ensure;
use ss_proto::game::{c2s_type, ship, S2CPacket};
use ss_proto::transport::{Priority, Reliability};
use ss_tests::scenario::*;
use ss_tests::zone::wait_until;

fn counter(zone: &ss_tests::zone::TestZone, key: &str) -> u64 {
    zone.stats()
        .map(|s| s["zone"][key].as_u64().unwrap_or(0))
        .unwrap_or(0)
}

#[test]
fn an_update_request_is_counted_without_a_file_and_answered_with_one() {
    in_temp_dir("update", |dir| {
        let zone_dir = init_zone_folder(dir)?;
        let zone = zone_from_folder(&zone_dir)?;
        let mut bot = bot_in(&zone, "patcher", "0", ship::SPECTATOR)?;

        // No update file: nothing comes back, the request is counted.
        bot.send_raw(
            &[c2s_type::UPDATE_REQUEST],
            Reliability::Reliable,
            Priority::Normal,
        )?;
        let counted = wait_until(WAIT, || counter(&zone, "update_requests_ignored") == 1);
        ensure!(counted, "the ignored request was not counted");
        bot.expect_none_before_marker(|p| matches!(p, S2CPacket::IncomingFile(_)))?;
        ensure!(
            !zone.log_tail().contains("update"),
            "an ignored update request was logged:\n{}",
            zone.log_tail()
        );

        // The operator adds one and reloads: the next request gets it.
        let exe: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::create_dir_all(zone_dir.join("clients"))?;
        std::fs::write(zone_dir.join("clients/update.exe"), &exe)?;
        zone.cli(&["reload"])?;
        let (name, data) = bot.download_update()?;
        ensure!(name.is_empty(), "update file named {name:?}");
        ensure!(data == exe, "got {} bytes, not the update file", data.len());
        ensure!(counter(&zone, "update_requests_served") == 1);
        Ok(())
    });
}
