//! One arena full of players: 800 load-generator bots (many per thread)
//! enter arena `0` and none is dropped for a full outgoing queue.
//!
//! Regression (fault campaign): with `Net:MaxOutlistSize` 500 counted in
//! packets, every player entering an arena of ~500 was disconnected as
//! "lag (too many outgoing packets)" by the arena-entry burst. Time limits
//! are generous (a debug build on a shared machine); nothing is timed.

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use ss_tests::load::{self, LoadConfig, ServerProbe};
use ss_tests::zone::TestZone;

/// Bots in the arena.
const BOTS: usize = 800;

#[test]
fn eight_hundred_players_fit_in_one_arena() {
    // A debug-build realm relaying for 800 players can be slow to answer
    // its heartbeat; the watchdog is not what this test is about.
    let zone =
        TestZone::start(&["Realms:HeartbeatTimeoutMillis=120000"]).expect("starting the zone");
    let result = (|| -> Result<()> {
        let mut cfg = LoadConfig::new(zone.game_addr(), BOTS, 1);
        cfg.threads = 2;
        cfg.rate_hz = 0.5;
        cfg.duration = Duration::from_secs(2);
        cfg.chat_interval = Duration::ZERO;
        cfg.weapon_percent = 0;
        cfg.progress = false;
        cfg.settle = Duration::from_secs(1);
        cfg.probe = ServerProbe::Control(zone.control_path().to_path_buf());
        cfg.ramp_timeout = Some(Duration::from_secs(150));
        let r = load::run(cfg).context("load run")?;
        let stats = zone.stats().context("zone stats")?;
        let z = &stats["zone"];
        let ctx = || {
            format!(
                "entered {} of {BOTS}, failed {}, disconnects {} {:?}; zone: {z}",
                r.entered, r.failed, r.disconnects, r.disconnect_reasons
            )
        };
        ensure!(
            z["lagout_outgoing"].as_u64() == Some(0),
            "players dropped for a full outgoing queue; {}",
            ctx()
        );
        ensure!(r.entered == BOTS as u64, "not every bot entered; {}", ctx());
        ensure!(r.failed == 0, "failed bots; {}", ctx());
        ensure!(r.disconnects == 0, "bots disconnected; {}", ctx());
        for key in ["lagout_no_data", "lagout_retries"] {
            ensure!(z[key].as_u64() == Some(0), "{key}; {}", ctx());
        }
        Ok(())
    })();
    if let Err(e) = result {
        panic!("{e:?}\n{}", zone.log_tail());
    }
}
