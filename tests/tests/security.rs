//! End-to-end tests of what every client is sent and checked for: security
//! seeds and checksum requests (S2C 0x18 / C2S 0x1A). Real
//! `zone-supervisor` and `realm-worker` processes, bots over UDP.

use std::path::Path;

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use ss_proto::game::{chat_type, ship, S2CPacket, SecuritySeeds, WeaponInfo};
use ss_proto::transport::{Priority, Reliability};
use ss_tests::bot::Bot;
use ss_tests::scenario::*;
use ss_tests::session::SecurityAnswers;
use ss_tests::zone::{wait_until, TestZone, ZoneOptions};

/// The password staff bots log in with ([`bot_in`] uses it too).
const PASSWORD: &str = "secret";

/// Checksum requests every second in these tests.
const FAST_REQUESTS: &str = "Security:SecurityIntervalMillis=1000";

fn seeds(bot: &mut Bot) -> Result<SecuritySeeds> {
    bot.wait_for(WAIT, |p| match p {
        S2CPacket::Security(s) => Some(*s),
        _ => None,
    })
    .context("waiting for the security seeds (S2C 0x18)")
}

/// A zone from a fresh folder with a sysop `sysy`, started with
/// `overrides`.
fn staff_zone(dir: &Path, overrides: &[&str]) -> Result<TestZone> {
    let zone_dir = init_zone_folder(dir)?;
    add_staff(&zone_dir, &[("sysy", "sysop")])?;
    TestZone::start_with(ZoneOptions {
        zone_dir: Some(zone_dir),
        overrides: overrides.iter().map(|s| s.to_string()).collect(),
        ..ZoneOptions::default()
    })
}

/// Sends positions until the bot has answered `n` checksum requests.
fn fly_until_answered(bot: &mut Bot, n: u64) -> Result<()> {
    let ok = wait_until(WAIT, || {
        let _ = bot.send_position(8200, 8200, 0, 0, WeaponInfo::NONE);
        bot.pump();
        bot.security_answered() >= n
    });
    ensure!(ok, "no checksum request was answered");
    Ok(())
}

#[test]
fn seeds_arrive_on_entry_and_are_the_same_for_everyone() {
    zone_test(&[], |zone| {
        let mut a = bot_in(zone, "alpha", "0", ship::WARBIRD)?;
        let mut b = bot_in(zone, "bravo", "0", ship::SPECTATOR)?;
        let (sa, sb) = (seeds(&mut a)?, seeds(&mut b)?);
        ensure!(sa == sb, "different seeds: {sa:?} vs {sb:?}");
        ensure!(sa.checksum_key == 0, "no checksum request on entry: {sa:?}");
        ensure!(
            sa.green_seed != 0 || sa.door_seed != 0,
            "seeds look unset: {sa:?}"
        );
        Ok(())
    });
}

#[test]
fn right_answers_pass_and_a_wrong_map_checksum_shows_in_info() {
    in_temp_dir("security", |dir| {
        let zone = staff_zone(dir, &[FAST_REQUESTS])?;
        let mut staff = bot_in(&zone, "sysy", "0", ship::SPECTATOR)?;
        let mut good = bot_in(&zone, "good", "0", ship::WARBIRD)?;
        let mut bad = bot_in(&zone, "bad", "0", ship::JAVELIN)?;
        bad.set_security_answers(SecurityAnswers::WrongMap);
        fly_until_answered(&mut good, 1)?;
        fly_until_answered(&mut bad, 1)?;
        // The answers went out before these commands: the realm has
        // checked them when it runs the command.
        let good_pid = wait_for_player(&mut staff, "good")?;
        let bad_pid = wait_for_player(&mut staff, "bad")?;
        staff.chat(chat_type::PRIVATE, good_pid, "*info")?;
        let line = wait_message(&mut staff, "good: security:")?;
        ensure!(line.contains("violations=0"), "{line}");
        staff.chat(chat_type::PRIVATE, bad_pid, "*info")?;
        let line = wait_message(&mut staff, "bad: security:")?;
        ensure!(
            !line.contains("violations=0") && line.contains("map checksum mismatch"),
            "{line}"
        );
        // Without kickoff he stays.
        bad.expect_none_before_marker(|_| false)?;
        Ok(())
    });
}

#[test]
fn with_kickoff_a_wrong_map_checksum_kicks() {
    zone_test(&[FAST_REQUESTS, "Security:SecurityKickoff=1"], |zone| {
        let mut good = bot_in(zone, "good", "0", ship::WARBIRD)?;
        let mut bad = bot_in(zone, "bad", "0", ship::JAVELIN)?;
        bad.set_security_answers(SecurityAnswers::WrongMap);
        fly_until_answered(&mut bad, 1)?;
        bad.wait_disconnected(WAIT)
            .context("the bad bot was not kicked")?;
        // The good one answered as well and is still in.
        fly_until_answered(&mut good, 2)?;
        good.expect_none_before_marker(|_| false)?;
        ensure!(!good.is_disconnected(), "the good bot was kicked");
        Ok(())
    });
}

#[test]
fn news_arrives_compressed_matches_news_txt_and_follows_a_reload() {
    in_temp_dir("news", |dir| {
        let zone_dir = init_zone_folder(dir)?;
        let first = b"Welcome to the test zone.\r\nNo spawn killing.\r\n".to_vec();
        std::fs::write(zone_dir.join("news.txt"), &first)?;
        let zone = zone_from_folder(&zone_dir)?;
        let mut bot = Bot::connect(zone.game_addr())?;
        let resp = bot.login("reader", PASSWORD)?;
        ensure!(
            resp.news_checksum == ss_proto::map::file_checksum(&first),
            "login response news checksum {:#x}",
            resp.news_checksum
        );
        ensure!(
            bot.download_news()? == first,
            "the news differs from news.txt"
        );

        let second = b"New season starts today.\r\n".to_vec();
        std::fs::write(zone_dir.join("news.txt"), &second)?;
        zone.cli(&["reload"])?;
        ensure!(bot.download_news()? == second, "the news was not re-read");
        let mut late = Bot::connect(zone.game_addr())?;
        let resp = late.login("latecomer", PASSWORD)?;
        ensure!(resp.news_checksum == ss_proto::map::file_checksum(&second));

        // A binary file: a warning naming it, and no news (checksum 0).
        std::fs::write(zone_dir.join("news.txt"), b"\x00\x01\x02binary")?;
        zone.cli(&["reload"])?;
        let mut third = Bot::connect(zone.game_addr())?;
        let resp = third.login("third", PASSWORD)?;
        ensure!(resp.news_checksum == 0, "checksum of refused news");
        let logged = wait_until(WAIT, || {
            zone.log_tail().contains("news.txt: news file is not text")
        });
        ensure!(logged, "no warning naming news.txt:\n{}", zone.log_tail());
        Ok(())
    });
}

#[test]
fn a_bot_losing_forty_percent_is_moved_to_spectator_and_told_why() {
    // Lag figures every 100 ms so the test does not wait out the default
    // 3 s; no spike rule (the bots are silent while the test waits).
    zone_test(
        &["Lag:CheckInterval=10", "Lag:SpikeToSpec=600000"],
        |zone| {
            let mut lossy = bot_in(zone, "lossy", "0", ship::WARBIRD)?;
            let mut fine = bot_in(zone, "fine", "0", ship::JAVELIN)?;
            let me = pid_of(&lossy);
            lossy.set_send_loss(40);
            let mut told = None;
            for _ in 0..100 {
                // Enough datagrams for a loss figure (ASSS counts none below
                // 200), then a time sync request carrying the counts.
                for _ in 0..30 {
                    lossy.send_position(8200, 8200, 0, 0, WeaponInfo::NONE)?;
                    lossy.pump();
                }
                lossy.sync_now();
                told = lossy.poll_for(Duration::from_millis(200), |p| match p {
                    S2CPacket::Chat(c) if c.pid == -1 && c.text.contains("C2S packetloss") => {
                        Some(c.text.clone())
                    }
                    _ => None,
                })?;
                if told.is_some() {
                    break;
                }
            }
            let told = told.context("the lossy bot was never told it was specced")?;
            ensure!(
                told.starts_with("You have been specced for excessive C2S packetloss ("),
                "{told}"
            );
            lossy
                .wait_for(WAIT, |p| match p {
                    S2CPacket::ShipChange { ship: s, pid, .. }
                        if *pid == me && *s == ship::SPECTATOR =>
                    {
                        Some(())
                    }
                    _ => None,
                })
                .context("no ship change to spectator")?;
            // He may not take a ship while his figures stay over the limit.
            lossy.set_ship(ship::WARBIRD)?;
            wait_message(&mut lossy, "You are too lagged to play in this arena.")?;
            // The other bot, without loss, keeps its ship.
            let fine_pid = pid_of(&fine);
            fine.expect_none_before_marker(|p| {
                matches!(p, S2CPacket::ShipChange { ship: s, pid, .. }
                if *pid == fine_pid && *s == ship::SPECTATOR)
            })?;
            ensure!(
                fine.player(fine_pid)
                    .is_some_and(|p| p.ship == ship::JAVELIN),
                "the bot without loss lost its ship"
            );
            Ok(())
        },
    );
}

#[test]
fn an_arena_serves_its_lvz_files_with_matching_checksums() {
    in_temp_dir("lvz", |dir| {
        let zone_dir = init_zone_folder(dir)?;
        // Any bytes: the zone serves LVZ files as they are.
        let lvz: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 251) as u8).collect();
        let extra = b"CONT\x00optional".to_vec();
        std::fs::write(zone_dir.join("maps/test.lvz"), &lvz)?;
        std::fs::write(zone_dir.join("maps/extra.lvz"), &extra)?;
        let conf = zone_dir.join("arenas/(default)/arena.conf");
        let mut text = std::fs::read_to_string(&conf)?;
        text.push_str("\n[General]\nLevelFiles = test.lvz, +extra.lvz, missing.lvz\n");
        std::fs::write(&conf, text)?;
        let zone = zone_from_folder(&zone_dir)?;

        // A client asking for optional graphics gets the list form.
        let mut bot = Bot::connect(zone.game_addr())?;
        bot.login("viewer", PASSWORD)?;
        let entry = bot.enter_arena_with_lvz("0", ship::SPECTATOR)?;
        let Some(ss_proto::game::MapInfo::Continuum(files)) = entry.map_info else {
            anyhow::bail!("no list form of the map info: {:?}", entry.map_info);
        };
        let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
        ensure!(
            names == ["default.lvl", "test.lvz", "extra.lvz"],
            "announced files {names:?} (the missing one is left out)"
        );
        ensure!(files[1].checksum == ss_proto::map::file_checksum(&lvz));
        ensure!(
            files[1].size as usize == 17 + lvz.len(),
            "size {}",
            files[1].size
        );
        let (name, data) = bot.download_file(1)?;
        ensure!(name == "test.lvz" && data == lvz, "file 1 is {name:?}");
        ensure!(ss_proto::map::file_checksum(&data) == files[1].checksum);
        let (name, data) = bot.download_file(2)?;
        ensure!(name == "extra.lvz" && data == extra, "file 2 is {name:?}");
        // No file 3: nothing comes (the marker arrives first).
        bot.send(
            &ss_proto::game::C2SPacket::MapRequest {
                file_index: Some(3),
            },
            ss_proto::transport::Reliability::Reliable,
            ss_proto::transport::Priority::Normal,
        )?;
        bot.expect_none_before_marker(|p| matches!(p, S2CPacket::MapData(_)))?;

        // A plain SubSpace client gets the 21-byte form, map only.
        let mut plain = bot_in(&zone, "plain", "0", ship::SPECTATOR)?;
        ensure!(
            matches!(plain.map_info(), Some(ss_proto::game::MapInfo::Vie { .. })),
            "{:?}",
            plain.map_info()
        );
        let (name, _) = plain.download_file(0)?;
        ensure!(name == "default.lvl");
        let warned = wait_until(WAIT, || {
            let log = zone.log_tail();
            log.contains("LVZ file not found") && log.contains("missing.lvz")
        });
        ensure!(
            warned,
            "no warning naming missing.lvz:\n{}",
            zone.log_tail()
        );
        Ok(())
    });
}

#[test]
fn floods_of_security_answers_and_news_requests_are_counted_not_fatal() {
    in_temp_dir("secflood", |dir| {
        let zone = staff_zone(dir, &[])?;
        let mut staff = bot_in(&zone, "sysy", "0", ship::SPECTATOR)?;
        let mut flooder = bot_in(&zone, "flooder", "0", ship::WARBIRD)?;
        // 600 answers nobody asked for, of every size from 1 to 300 bytes
        // (the short ones are malformed).
        const ANSWERS: usize = 600;
        // As fast as the bot's own reliable window allows (its transport
        // closes a connection whose outgoing queue overflows).
        let send = |bot: &mut Bot, pkt: &[u8]| -> Result<()> {
            let room = wait_until(WAIT, || {
                bot.pump();
                bot.reliable_backlog() < 100
            });
            ensure!(room, "the zone stopped acknowledging");
            bot.send_raw(pkt, Reliability::Reliable, Priority::Normal)
        };
        for i in 0..ANSWERS {
            let mut pkt = vec![0x5Au8; 1 + i % 300];
            pkt[0] = 0x1A;
            send(&mut flooder, &pkt)?;
        }
        // And news requests far beyond the four queued downloads allowed.
        for _ in 0..200 {
            send(&mut flooder, &[0x0D])?;
        }
        // Everything before the marker has been handled by the realm.
        flooder.expect_none_before_marker(|_| false)?;
        let pid = wait_for_player(&mut staff, "flooder")?;
        staff.chat(chat_type::PRIVATE, pid, "*info")?;
        let line = wait_message(&mut staff, "flooder: security:")?;
        ensure!(
            line.contains(&format!("violations={ANSWERS}")),
            "every bad answer counted: {line}"
        );
        ensure!(
            !flooder.is_disconnected(),
            "flooder dropped without kickoff"
        );
        ensure!(zone.stats().is_ok(), "the zone still answers");
        Ok(())
    });
}

#[test]
fn a_missing_answer_is_flagged_after_fifteen_seconds_and_kicks_with_kickoff() {
    zone_test(&[FAST_REQUESTS, "Security:SecurityKickoff=1"], |zone| {
        let mut mute = bot_in(zone, "mute", "0", ship::WARBIRD)?;
        mute.set_security_answers(SecurityAnswers::Never);
        mute.send_position(8200, 8200, 0, 0, WeaponInfo::NONE)?;
        // The realm gives an unanswered request 15 s.
        let reason = mute
            .wait_disconnected(Duration::from_secs(40))
            .context("the bot that never answers was not kicked")?;
        let logged = wait_until(WAIT, || {
            zone.log_tail().contains("security packet not returned")
        });
        ensure!(logged, "no log line ({reason:?}):\n{}", zone.log_tail());
        Ok(())
    });
}
