//! Staff tooling over UDP with the real binaries
//! (`docs/protocol/commands-and-capabilities.md` §4): groups written to
//! `staff.conf` and timed kicks kept in the database survive a zone
//! restart, a locked arena keeps newcomers in spectator mode, a recycled
//! arena takes its players back, `?shutdown` saves scores, `?lastlog` shows
//! the zone's log.

use std::path::Path;

use anyhow::{ensure, Context, Result};
use nix::sys::signal::Signal;
use ss_proto::game::{chat_type, ship, C2SPacket, S2CPacket};
use ss_proto::transport::{Priority, Reliability};
use ss_tests::bot::Bot;
use ss_tests::scenario::*;
use ss_tests::zone::{bin_dir, TestZone, ZoneOptions};

/// A zone folder with `boss` as sysop and passwords for `others` (so that
/// they log in authenticated, as staff groups need).
fn staff_zone(dir: &Path, others: &[&str]) -> Result<std::path::PathBuf> {
    let zone_dir = init_zone_folder(dir)?;
    add_staff(&zone_dir, &[("boss", "sysop")])?;
    let passwd = zone_dir.join("conf/passwd.conf");
    let mut text = std::fs::read_to_string(&passwd)?;
    for name in others {
        text.push_str(&format!("{name} = {}\n", digest(name, PASSWORD)));
    }
    std::fs::write(&passwd, text)?;
    Ok(zone_dir)
}

/// Serves `zone_dir` with its database in `zone_dir/data/zone.db` (the
/// same file across restarts).
fn serve(zone_dir: &Path) -> Result<TestZone> {
    TestZone::start_with(ZoneOptions {
        zone_dir: Some(zone_dir.to_path_buf()),
        overrides: vec![format!(
            "Persist:DatabasePath={}",
            zone_dir.join("data/zone.db").display()
        )],
        ..ZoneOptions::default()
    })
}

/// Stops a zone with SIGTERM and checks it exited cleanly.
fn stop(zone: &mut TestZone) -> Result<()> {
    zone.signal(Signal::SIGTERM)?;
    ensure!(zone.wait_exit(WAIT)?.success(), "clean exit");
    Ok(())
}

/// A private command from `from` to `to`.
fn private_cmd(from: &mut Bot, to_name: &str, line: &str) -> Result<()> {
    let pid = wait_for_player(from, to_name)?;
    from.chat(chat_type::PRIVATE, pid, line)
}

#[test]
fn a_permanent_group_survives_a_zone_restart() {
    in_temp_dir("setgroup", |dir| {
        let zone_dir = staff_zone(dir, &["helper"])?;
        let mut zone = serve(&zone_dir)?;
        {
            let mut boss = bot_in(&zone, "boss", "0", ship::SPECTATOR)?;
            let mut helper = bot_in(&zone, "helper", "0", ship::SPECTATOR)?;
            // Bad input first: no such group; nothing is written.
            private_cmd(&mut boss, "helper", "?setgroup -p wizard")?;
            wait_message(&mut boss, "There is no group wizard.")?;
            // A default player may not hand out groups.
            private_cmd(&mut helper, "boss", "?setgroup -p mod")?;
            wait_message(
                &mut helper,
                "You don't have permission to give people group mod.",
            )?;
            // A file that cannot be written: the temporary file's name is
            // taken by a folder (refused even to root). Clear message,
            // staff.conf untouched, no group.
            let before = std::fs::read(zone_dir.join("conf/staff.conf"))?;
            let blocker = zone_dir.join(format!("conf/.staff.conf.tmp{}", zone.pid()));
            std::fs::create_dir(&blocker)?;
            private_cmd(&mut boss, "helper", "?setgroup -p mod")?;
            let err = wait_message(&mut boss, "helper was not put in group mod")?;
            ensure!(err.contains("cannot write"), "{err}");
            ensure!(
                std::fs::read(zone_dir.join("conf/staff.conf"))? == before,
                "staff.conf untouched"
            );
            helper.chat(chat_type::PUBLIC, -1, "?getgroup")?;
            wait_message(&mut helper, "You are in group default.")?;
            std::fs::remove_dir(&blocker)?;
            private_cmd(&mut boss, "helper", "?setgroup -p mod")?;
            wait_message(&mut helper, "You have been assigned to group mod by boss.")?;
            wait_message(&mut boss, "helper is now in group mod")?;
            helper.chat(chat_type::PUBLIC, -1, "?getgroup")?;
            wait_message(&mut helper, "You are in group mod.")?;
            let staff = std::fs::read_to_string(zone_dir.join("conf/staff.conf"))?;
            ensure!(staff.contains("helper = mod"), "staff.conf: {staff}");
            ensure!(
                staff.contains("; Staff: which players belong"),
                "comments kept: {staff}"
            );
            ensure!(!staff.contains("wizard"), "nothing half-written: {staff}");
            stop(&mut zone)?;
        }
        let zone = serve(&zone_dir)?;
        let mut helper = bot_in(&zone, "helper", "0", ship::SPECTATOR)?;
        helper.chat(chat_type::PUBLIC, -1, "?getgroup")?;
        wait_message(&mut helper, "You are in group mod.")?;
        // And has a moderator's powers.
        helper.chat(chat_type::PUBLIC, -1, "?lockarena")?;
        wait_message(&mut helper, "Arena locked")?;
        // Other zone files: ?makearena writes an arena folder.
        let mut boss = bot_in(&zone, "boss", "0", ship::SPECTATOR)?;
        boss.chat(chat_type::PUBLIC, -1, "?makearena Bad/Name")?;
        wait_message(&mut boss, "Illegal arena name.")?;
        boss.chat(chat_type::PUBLIC, -1, "?makearena newarena")?;
        wait_message(&mut boss, "Successfully created newarena.")?;
        let conf = std::fs::read_to_string(zone_dir.join("arenas/newarena/arena.conf"))?;
        ensure!(
            conf.contains("#include arenas/(default)/arena.conf"),
            "{conf}"
        );
        boss.chat(chat_type::PUBLIC, -1, "?makearena newarena")?;
        wait_message(&mut boss, "Error creating directory 'arenas/newarena'")?;
        Ok(())
    });
}

#[test]
fn a_timed_kick_survives_a_zone_restart_until_lifted() {
    in_temp_dir("kick", |dir| {
        let zone_dir = staff_zone(dir, &[])?;
        let mut zone = serve(&zone_dir)?;
        {
            let mut boss = bot_in(&zone, "boss", "0", ship::SPECTATOR)?;
            let mut victim = bot_in(&zone, "victim", "0", ship::WARBIRD)?;
            // Nobody may kick himself, and a default player nobody.
            victim.chat(chat_type::PRIVATE, pid_of(&victim), "?kick")?;
            wait_message(&mut victim, "You don't have permission to use ?kick.")?;
            private_cmd(&mut boss, "victim", "?kick -t 600 spamming")?;
            wait_message(&mut boss, "Kicked 'victim' for 10 minutes")?;
            victim.wait_disconnected(WAIT)?;
            stop(&mut zone)?;
        }
        let zone = serve(&zone_dir)?;
        let mut again = Bot::connect(zone.game_addr())?;
        let refused = again.login("victim", PASSWORD);
        ensure!(refused.is_err(), "the kick outlived the restart");
        let mut boss = bot_in(&zone, "boss", "0", ship::SPECTATOR)?;
        boss.chat(chat_type::PUBLIC, -1, "?listkick")?;
        let line = wait_message(&mut boss, "victim by boss")?;
        ensure!(line.contains("(spamming)"), "{line}");
        boss.chat(chat_type::PUBLIC, -1, "?liftkick victim")?;
        wait_message(&mut boss, "Lifted 1 kick(s) for victim.")?;
        let mut back = Bot::connect(zone.game_addr())?;
        back.login("victim", PASSWORD)
            .context("the lifted kick lets him in")?;
        boss.chat(chat_type::PUBLIC, -1, "?listkick")?;
        wait_message(&mut boss, "  none")?;
        Ok(())
    });
}

#[test]
fn a_locked_arena_keeps_a_newcomer_in_spectator_mode() {
    in_temp_dir("lockarena", |dir| {
        let zone_dir = staff_zone(dir, &[])?;
        let zone = serve(&zone_dir)?;
        let mut boss = bot_in(&zone, "boss", "0", ship::SPECTATOR)?;
        boss.chat(chat_type::PUBLIC, -1, "?lockarena")?;
        wait_message(&mut boss, "Arena locked")?;
        let mut late = Bot::connect(zone.game_addr())?;
        late.login("late", PASSWORD)?;
        let entry = late.enter_arena("0", ship::WARBIRD)?;
        let me = entry
            .players
            .iter()
            .find(|r| r.pid == entry.pid)
            .context("own record")?;
        ensure!(me.ship == ship::SPECTATOR, "entered in ship {}", me.ship);
        late.send(
            &C2SPacket::SetShip { ship: 1 },
            Reliability::Reliable,
            Priority::Normal,
        )?;
        wait_message(&mut late, "You have been locked in spectator mode.")?;
        boss.chat(chat_type::PUBLIC, -1, "?unlockarena")?;
        wait_message(&mut boss, "Arena unlocked.")?;
        late.send(
            &C2SPacket::SetShip { ship: 1 },
            Reliability::Reliable,
            Priority::Normal,
        )?;
        let pid = entry.pid;
        late.wait_for(WAIT, |p| match p {
            S2CPacket::ShipChange { pid: who, ship, .. } if *who == pid && *ship == 1 => Some(()),
            _ => None,
        })
        .context("free to play once unlocked")?;
        Ok(())
    });
}

#[test]
fn a_recycled_arena_takes_its_players_back() {
    in_temp_dir("recycle", |dir| {
        let zone_dir = staff_zone(dir, &[])?;
        let zone = serve(&zone_dir)?;
        let mut boss = bot_in(&zone, "boss", "0", ship::SPECTATOR)?;
        let mut pilot = bot_in(&zone, "pilot", "0", ship::WARBIRD)?;
        wait_for_player(&mut boss, "pilot")?;
        boss.chat(chat_type::PUBLIC, -1, "?recyclearena")?;
        wait_message(&mut boss, "Recycling arena 0.")?;
        for bot in [&mut boss, &mut pilot] {
            bot.wait_for(WAIT, |p| {
                matches!(p, S2CPacket::WhoAmI { .. }).then_some(())
            })
            .context("who-am-I of the re-entry")?;
            bot.wait_for(WAIT, |p| matches!(p, S2CPacket::EnteredArena).then_some(()))
                .context("entered-arena of the re-entry")?;
        }
        ensure!(!pilot.is_disconnected(), "nobody was dropped");
        // Both are in the new worker's arena: public chat gets through.
        pilot.chat(chat_type::PUBLIC, -1, "back again")?;
        boss.wait_for(WAIT, |p| match p {
            S2CPacket::Chat(c) if c.chat_type == chat_type::PUBLIC && c.text == "back again" => {
                Some(())
            }
            _ => None,
        })
        .context("the marker after the recycle")?;
        let stats = zone.stats()?;
        let restarts = stats["realms"]
            .as_array()
            .and_then(|rs| rs.iter().find(|r| r["name"] == "0"))
            .map(|r| r["restarts"].clone());
        ensure!(restarts == Some(1.into()), "restarts: {restarts:?}");
        Ok(())
    });
}

/// Kill points of `player` in the reset interval, from the database.
fn stored_points(db: &Path, player: &str) -> Result<Option<i64>> {
    let out = std::process::Command::new(bin_dir()?.join("zone-supervisor"))
        .args(["db", "export", "--json", "--db"])
        .arg(db)
        .output()?;
    ensure!(
        out.status.success(),
        "db export: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    Ok(v["players"][player].as_array().and_then(|rows| {
        rows.iter()
            .find(|r| r["interval"] == 1 && r["stat"] == 0)
            .and_then(|r| r["value"].as_i64())
    }))
}

#[test]
fn shutdown_saves_scores_and_recyclezone_asks_for_a_restart() {
    in_temp_dir("shutdown", |dir| {
        let zone_dir = staff_zone(dir, &[])?;
        let db = zone_dir.join("data/zone.db");
        let mut zone = serve(&zone_dir)?;
        {
            let mut boss = bot_in(&zone, "boss", "0", ship::SPECTATOR)?;
            let _alice = bot_in(&zone, "alice", "0", ship::WARBIRD)?;
            let mut bob = bot_in(&zone, "bob", "0", ship::WARBIRD)?;
            let alice = wait_for_player(&mut bob, "alice")?;
            bob.send(
                &C2SPacket::Death {
                    killer: alice,
                    bounty: 33,
                },
                Reliability::Reliable,
                Priority::Normal,
            )?;
            let bob_pid = pid_of(&bob);
            bob.wait_for(WAIT, |p| match p {
                S2CPacket::Kill(k) if k.killed == bob_pid => Some(()),
                _ => None,
            })?;
            // Right after the kill: the shutdown must save it.
            boss.chat(chat_type::PUBLIC, -1, "?shutdown")?;
            wait_message(&mut bob, "The zone is shutting down.")?;
            let status = zone.wait_exit(WAIT)?;
            ensure!(status.code() == Some(0), "?shutdown exit: {status:?}");
        }
        ensure!(
            stored_points(&db, "alice")? == Some(33),
            "the kill is in zone.db after ?shutdown"
        );
        let mut zone = serve(&zone_dir)?;
        let mut boss = bot_in(&zone, "boss", "0", ship::SPECTATOR)?;
        boss.chat(chat_type::PUBLIC, -1, "?recyclezone")?;
        wait_message(&mut boss, "The zone is restarting.")?;
        let status = zone.wait_exit(WAIT)?;
        ensure!(
            status.code() == Some(75),
            "?recyclezone exits for a restart: {status:?}"
        );
        Ok(())
    });
}

#[test]
fn lastlog_shows_recent_zone_log_lines() {
    in_temp_dir("lastlog", |dir| {
        let zone_dir = staff_zone(dir, &[])?;
        let zone = serve(&zone_dir)?;
        let mut boss = bot_in(&zone, "boss", "0", ship::SPECTATOR)?;
        let _noted = bot_in(&zone, "notedbot", "0", ship::SPECTATOR)?;
        wait_for_player(&mut boss, "notedbot")?;
        boss.chat(chat_type::PUBLIC, -1, "?lastlog 5 logged in")?;
        let line = wait_message(&mut boss, "name=notedbot")?;
        ensure!(line.contains("player logged in"), "{line}");
        // Realm lines come through the worker's stderr, on their own path:
        // ask again until the command's line is in (or the wait ends).
        boss.chat(chat_type::PUBLIC, -1, "?lockarena")?;
        wait_message(&mut boss, "Arena locked")?;
        let deadline = std::time::Instant::now() + WAIT;
        let realm_line = loop {
            ensure!(
                std::time::Instant::now() < deadline,
                "the realm's command line never reached ?lastlog"
            );
            boss.chat(chat_type::PUBLIC, -1, "?lastlog 3 ): lockarena")?;
            let answer = boss.wait_for(WAIT, |p| match p {
                S2CPacket::Chat(c)
                    if c.pid == -1
                        && (c.text.contains("[realm 0]") || c.text == "No matching log lines.") =>
                {
                    Some(c.text.clone())
                }
                _ => None,
            })?;
            if answer.contains("[realm 0]") {
                break answer;
            }
        };
        ensure!(realm_line.contains("name=boss"), "{realm_line}");
        // A player without the capability gets nothing of the log.
        let mut pleb = bot_in(&zone, "pleb", "0", ship::SPECTATOR)?;
        pleb.chat(chat_type::PUBLIC, -1, "?lastlog")?;
        wait_message(&mut pleb, "You don't have permission to use ?lastlog.")?;
        // ?cheater reaches the staff online.
        pleb.chat(chat_type::PUBLIC, -1, "?cheater someone is warping")?;
        wait_message(&mut pleb, "Message has been sent to online staff.")?;
        wait_message(&mut boss, "cheater: (pleb) (Public 0): someone is warping")?;
        Ok(())
    });
}

#[test]
fn file_commands_stay_in_the_zone_folder() {
    in_temp_dir("files", |dir| {
        let zone_dir = staff_zone(dir, &[])?;
        std::fs::write(dir.join("outside.txt"), "not yours")?;
        let zone = serve(&zone_dir)?;
        let mut boss = bot_in(&zone, "boss", "0", ship::SPECTATOR)?;
        boss.chat(chat_type::PUBLIC, -1, "?cd conf")?;
        wait_message(&mut boss, "Changed working directory.")?;
        boss.chat(chat_type::PUBLIC, -1, "?pwd")?;
        wait_message(&mut boss, "Current working directory: conf")?;
        boss.chat(chat_type::PUBLIC, -1, "?getfile staff.conf")?;
        let (name, data) = boss.wait_file()?;
        ensure!(name == "staff.conf", "name {name:?}");
        ensure!(
            data == std::fs::read(zone_dir.join("conf/staff.conf"))?,
            "the file's bytes"
        );
        boss.chat(chat_type::PUBLIC, -1, "?getfile ../../outside.txt")?;
        wait_message(&mut boss, "Invalid path or filename.")?;
        boss.chat(chat_type::PUBLIC, -1, "?cd /etc")?;
        wait_message(&mut boss, "Invalid path or filename.")?;
        std::fs::write(zone_dir.join("conf/scratch.txt"), "x")?;
        boss.chat(chat_type::PUBLIC, -1, "?renfile scratch.txt:renamed.txt")?;
        wait_message(&mut boss, "Renamed.")?;
        ensure!(zone_dir.join("conf/renamed.txt").exists());
        boss.chat(chat_type::PUBLIC, -1, "?delfile renamed.txt")?;
        wait_message(&mut boss, "Deleted.")?;
        ensure!(!zone_dir.join("conf/renamed.txt").exists());
        ensure!(dir.join("outside.txt").exists());
        // Players without the capability may not read the zone's files.
        let mut pleb = bot_in(&zone, "pleb", "0", ship::SPECTATOR)?;
        pleb.chat(chat_type::PUBLIC, -1, "?getfile conf/passwd.conf")?;
        wait_message(&mut pleb, "You don't have permission to use ?getfile.")?;
        Ok(())
    });
}

/// C2S 0x16 as a client sends it: the type, a 16-byte name, the bytes.
fn upload(name: &str, data: &[u8]) -> Vec<u8> {
    let mut packet = vec![0x16];
    let mut field = [0u8; 16];
    field[..name.len()].copy_from_slice(name.as_bytes());
    packet.extend_from_slice(&field);
    packet.extend_from_slice(data);
    packet
}

/// Sends C2S 0x16 of `data` under `name`, reliably (reassembled from big
/// packets when large).
fn send_upload(bot: &mut Bot, name: &str, data: &[u8]) -> Result<()> {
    bot.send_raw(&upload(name, data), Reliability::Reliable, Priority::Normal)
}

/// Waits for the zone's request for a file (S2C 0x19); returns the path
/// it asks for.
fn wait_file_request(bot: &mut Bot) -> Result<String> {
    bot.wait_for(WAIT, |p| match p {
        S2CPacket::Other { ptype: 0x19, body } if body.len() == 272 => {
            let path = &body[..256];
            let end = path.iter().position(|&b| b == 0).unwrap_or(256);
            Some(String::from_utf8_lossy(&path[..end]).into_owned())
        }
        _ => None,
    })
    .context("the request for a file (S2C 0x19)")
}

/// `?putfile`, `?putzip` and `?putmap` (commands-and-capabilities.md
/// §4.7): the zone asks the client for the file and saves its upload (a
/// big packet, or a sized stream), an archive unpacked, a map becoming
/// the arena's; an upload nobody asked for is dropped and counted.
#[test]
fn staff_uploads_land_in_the_zone_folder_only_when_asked_for() {
    in_temp_dir("uploads", |dir| {
        let zone_dir = staff_zone(dir, &[])?;
        let zone = serve(&zone_dir)?;
        let mut boss = bot_in(&zone, "boss", "0", ship::SPECTATOR)?;
        // Unasked: dropped. The reliable command after it is the marker.
        send_upload(&mut boss, "sneaky.txt", b"unasked")?;
        boss.chat(chat_type::PUBLIC, -1, "?cd conf")?;
        wait_message(&mut boss, "Changed working directory.")?;
        ensure!(zone.stats()?["zone"]["uploads_refused"] == 1);
        ensure!(
            !zone_dir.join("sneaky.txt").exists() && !zone_dir.join("conf/sneaky.txt").exists()
        );

        // Asked for: saved under the server name, in the working directory.
        boss.chat(
            chat_type::PUBLIC,
            -1,
            "?putfile C:\\stuff\\notes.txt:uploaded.txt",
        )?;
        ensure!(wait_file_request(&mut boss)? == "C:\\stuff\\notes.txt");
        let notes: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
        send_upload(&mut boss, "notes.txt", &notes)?;
        wait_message(&mut boss, "File received: conf/uploaded.txt")?;
        ensure!(std::fs::read(zone_dir.join("conf/uploaded.txt"))? == notes);
        // Once: the same upload again is not asked for.
        send_upload(&mut boss, "notes.txt", b"again")?;
        boss.chat(chat_type::PUBLIC, -1, "?pwd")?;
        wait_message(&mut boss, "Current working directory: conf")?;
        ensure!(zone.stats()?["zone"]["uploads_refused"] == 2);
        ensure!(std::fs::read(zone_dir.join("conf/uploaded.txt"))? == notes);

        // An archive, unpacked into the working directory without its
        // folders.
        let pack = {
            use std::io::Write;
            let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
            let opts = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated);
            for (name, data) in [("lvz/one.lvz", &b"one"[..]), ("two.txt", b"two")] {
                w.start_file(name, opts)?;
                w.write_all(data)?;
            }
            w.finish()?.into_inner()
        };
        boss.chat(chat_type::PUBLIC, -1, "?putzip pack.zip")?;
        ensure!(wait_file_request(&mut boss)? == "pack.zip");
        send_upload(&mut boss, "pack.zip", &pack)?;
        wait_message(&mut boss, "Unpacked 2 files into conf.")?;
        ensure!(std::fs::read(zone_dir.join("conf/one.lvz"))? == b"one");
        ensure!(std::fs::read(zone_dir.join("conf/two.txt"))? == b"two");

        // A map, sent as a sized stream, becomes this arena's map.
        let mut map = ss_proto::map::Map::new();
        for x in 0..200 {
            map.set_tile(x, 300, 1);
        }
        let lvl = map.encode();
        boss.chat(chat_type::PUBLIC, -1, "?putmap mine.lvl")?;
        ensure!(wait_file_request(&mut boss)? == "mine.lvl");
        boss.send_sized(&upload("mine.lvl", &lvl))?;
        // Arena 0's base name is "(public)", as in ASSS.
        wait_message(&mut boss, "File received: maps/uploads/(public).lvl")?;
        ensure!(std::fs::read(zone_dir.join("maps/uploads/(public).lvl"))? == lvl);
        let mut newcomer = Bot::connect(zone.game_addr())?;
        newcomer.login("newcomer", PASSWORD)?;
        let entry = newcomer.enter_arena("0", ship::SPECTATOR)?;
        let name = match entry.map_info {
            Some(ss_proto::game::MapInfo::Vie { name, .. }) => name,
            Some(ss_proto::game::MapInfo::Continuum(files)) => {
                files.into_iter().next().map(|f| f.name).unwrap_or_default()
            }
            None => String::new(),
        };
        ensure!(name == "(public).lvl", "the newcomer got map {name:?}");

        // Nobody else may upload.
        newcomer.chat(chat_type::PUBLIC, -1, "?putfile x.txt")?;
        wait_message(&mut newcomer, "You don't have permission to use ?putfile.")?;
        Ok(())
    });
}

/// `?sendfile`, `?acceptfile`, `?cancelfile` (commands-and-capabilities.md
/// §4.7): a spectator offers another a file; once he accepts, the
/// sender's upload reaches him as S2C 0x10 under its own name. Offers can
/// be withdrawn, and a pilot may not offer.
#[test]
fn players_offer_each_other_files() {
    zone_test(&[], |zone| {
        let mut alice = bot_in(zone, "alice", "0", ship::SPECTATOR)?;
        let mut bob = bot_in(zone, "bob", "0", ship::SPECTATOR)?;
        private_cmd(&mut alice, "bob", "?sendfile C:\\pics\\ship.bmp")?;
        wait_message(&mut alice, "Waiting for bob to accept your file.")?;
        wait_message(
            &mut bob,
            "alice wants to send you the file \"C:\\pics\\ship.bmp\". To accept it, type ?acceptfile.",
        )?;
        // One offer at a time.
        private_cmd(&mut alice, "bob", "?sendfile other.bmp")?;
        wait_message(&mut alice, "You are currently sending a file.")?;

        bob.chat(chat_type::PUBLIC, -1, "?acceptfile")?;
        wait_message(&mut bob, "File accepted. Transferring...")?;
        wait_message(&mut alice, "bob is accepting your file.")?;
        ensure!(wait_file_request(&mut alice)? == "C:\\pics\\ship.bmp");
        let picture: Vec<u8> = (0..2000u32).map(|i| (i * 7 % 256) as u8).collect();
        send_upload(&mut alice, "ship.bmp", &picture)?;
        let (name, data) = bob.wait_file().context("the offered file")?;
        ensure!(name == "ship.bmp", "name {name:?}");
        ensure!(data == picture, "the file's bytes");
        wait_message(&mut alice, "File sent.")?;
        bob.chat(chat_type::PUBLIC, -1, "?acceptfile")?;
        wait_message(&mut bob, "Nobody has offered any files to you.")?;

        // Withdrawn before it was accepted.
        private_cmd(&mut alice, "bob", "?sendfile again.bmp")?;
        wait_message(&mut alice, "Waiting for bob to accept your file.")?;
        alice.chat(chat_type::PUBLIC, -1, "?cancelfile")?;
        wait_message(&mut alice, "Your file offers have been canceled.")?;
        bob.chat(chat_type::PUBLIC, -1, "?acceptfile")?;
        wait_message(&mut bob, "Nobody has offered any files to you.")?;

        // Only spectators offer.
        let mut carol = bot_in(zone, "carol", "0", ship::WARBIRD)?;
        private_cmd(&mut carol, "bob", "?sendfile x.bmp")?;
        wait_message(&mut carol, "You must be in spectator mode to offer files.")?;
        Ok(())
    });
}

/// `?quickfix` end to end (config.md §4): the settings file reaches the
/// client's editor, and the change it sends back (C2S 0x1D) is written to
/// the arena's file and applies.
#[test]
fn quickfix_changes_reach_the_arenas_file() {
    in_temp_dir("quickfix", |dir| {
        let zone_dir = staff_zone(dir, &[])?;
        let zone = serve(&zone_dir)?;
        let mut boss = bot_in(&zone, "boss", "0", ship::SPECTATOR)?;
        boss.chat(chat_type::PUBLIC, -1, "?quickfix passdelay")?;
        let (name, data) = boss.wait_file().context("server.set")?;
        ensure!(name == "server.set", "name {name:?}");
        let text = String::from_utf8(data)?;
        ensure!(text.starts_with("Soccer:PassDelay:"), "{text}");
        let mut change = vec![0x1D];
        change.extend_from_slice(b"Soccer:PassDelay:33\0\0");
        boss.send_raw(&change, Reliability::Reliable, Priority::Normal)?;
        wait_message(&mut boss, "1 arena settings written.")?;
        boss.chat(chat_type::PUBLIC, -1, "?geta Soccer:PassDelay")?;
        wait_message(
            &mut boss,
            "Soccer:PassDelay=33 (arenas/(default)/arena.conf:",
        )?;
        // Nobody else may.
        let mut pleb = bot_in(&zone, "pleb", "0", ship::SPECTATOR)?;
        pleb.chat(chat_type::PUBLIC, -1, "?quickfix")?;
        wait_message(&mut pleb, "You don't have permission to use ?quickfix.")?;
        Ok(())
    });
}

#[test]
fn passwords_are_written_to_passwd_conf() {
    in_temp_dir("passwd", |dir| {
        let zone_dir = staff_zone(dir, &["helper"])?;
        let passwd = zone_dir.join("conf/passwd.conf");
        let zone = serve(&zone_dir)?;
        let mut boss = bot_in(&zone, "boss", "0", ship::SPECTATOR)?;
        let mut helper = bot_in(&zone, "helper", "0", ship::SPECTATOR)?;
        helper.chat(chat_type::PUBLIC, -1, "?passwd newsecret")?;
        wait_message(&mut helper, "Password set.")?;
        let text = std::fs::read_to_string(&passwd)?;
        ensure!(
            text.contains(&format!("helper = {}", digest("helper", "newsecret"))),
            "{text}"
        );
        ensure!(text.contains("; Local passwords"), "comments kept: {text}");
        let mut old = Bot::connect(zone.game_addr())?;
        ensure!(
            old.login("helper", PASSWORD).is_err(),
            "the old password no longer works"
        );
        let mut new = Bot::connect(zone.game_addr())?;
        new.login("helper", "newsecret")
            .context("the new password works at once")?;
        // Without a verified login nobody sets a password.
        let mut guest = bot_in(&zone, "guest", "0", ship::SPECTATOR)?;
        guest.chat(chat_type::PUBLIC, -1, "?passwd mine")?;
        wait_message(
            &mut guest,
            "You must be authenticated to change your local password.",
        )?;
        // But a sysop may keep the password he logged in with.
        private_cmd(&mut boss, "guest", "?set_local_password")?;
        wait_message(&mut boss, "Set local password for guest.")?;
        boss.chat(chat_type::PUBLIC, -1, "?addallowed newbie")?;
        wait_message(&mut boss, "Added newbie to the allowed player list.")?;
        boss.chat(chat_type::PUBLIC, -1, "?addallowed newbie")?;
        wait_message(&mut boss, "newbie has already set a local password.")?;
        let text = std::fs::read_to_string(&passwd)?;
        ensure!(
            text.contains(&format!("guest = {}", digest("guest", PASSWORD))),
            "{text}"
        );
        ensure!(text.contains("newbie = any"), "{text}");
        Ok(())
    });
}
