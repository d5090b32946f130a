//! Chatnet: a chat-protocol client over TCP is a player of the zone: it
//! logs in, enters an arena, exchanges chat with game clients, and is
//! found by `?find`.
//!
//! Real binaries (`cargo build --workspace --bins` first); every wait is
//! bounded.

use anyhow::{ensure, Context, Result};
use ss_proto::game::{chat_type, S2CPacket};
use ss_tests::chatnet::ChatClient;
use ss_tests::scenario::*;
use ss_tests::zone::TestZone;

/// Settings for a zone with chatnet on a free loopback port and no pacing
/// delay worth waiting for.
const CHAT: &[&str] = &["Net:ChatListen=127.0.0.1:0", "Net:ChatMessageDelay=1"];

fn chat_client(zone: &TestZone) -> Result<ChatClient> {
    ChatClient::connect(zone.chat_addr().context("no chat= in the listening line")?)
}

#[test]
fn chat_client_talks_with_a_game_client() {
    zone_test(CHAT, |zone| {
        let mut bot = bot_in(zone, "Gamer", "duel", 8)?;
        let mut chat = chat_client(zone)?;
        chat.send("LOGIN:1;test client 1.0:Chatter:secret")?;
        chat.expect(WAIT, "LOGINOK:Chatter")?;
        chat.send("GO:duel")?;
        chat.wait_line(WAIT, |l| l.starts_with("INARENA:duel:"))?;
        chat.wait_line(WAIT, |l| l.starts_with("PLAYER:Gamer:8:"))?;
        // The game client sees the chat client enter.
        let chatter = wait_for_player(&mut bot, "Chatter")?;

        bot.chat(chat_type::PUBLIC, -1, "hello chat")?;
        chat.expect(WAIT, "MSG:PUB:Gamer:hello chat")?;

        chat.send("SEND:PUB:hello game")?;
        let got = bot.wait_for(WAIT, |p| match p {
            S2CPacket::Chat(c) if c.chat_type == chat_type::PUBLIC => Some((c.pid, c.text.clone())),
            _ => None,
        })?;
        ensure!(got == (chatter, "hello game".to_string()), "{got:?}");

        bot.chat(chat_type::PRIVATE, chatter, "psst")?;
        chat.expect(WAIT, "MSG:PRIV:Gamer:psst")?;

        // ?find from the game client finds the chat client.
        bot.chat(chat_type::PUBLIC, -1, "?find Chatter")?;
        bot.wait_for(WAIT, |p| match p {
            S2CPacket::Chat(c) if c.text.contains("Chatter") && c.text.contains("duel") => Some(()),
            _ => None,
        })
        .context("?find Chatter")?;
        // And commands run for the chat client; the reply is a MSG:ARENA line.
        chat.send("SEND:CMD:find Gamer")?;
        chat.wait_line(WAIT, |l| l.starts_with("MSG:ARENA:") && l.contains("Gamer"))?;

        // A player entering and leaving is announced.
        let late = bot_in(zone, "Latecomer", "duel", 8)?;
        chat.wait_line(WAIT, |l| l.starts_with("ENTERING:Latecomer:8:"))?;
        drop(late);
        chat.expect(WAIT, "LEAVING:Latecomer")?;

        // The chat client leaving is seen by the arena.
        drop(chat);
        bot.wait_for(WAIT, |p| match p {
            S2CPacket::PlayerLeaving { pid } if *pid == chatter => Some(()),
            _ => None,
        })
        .context("the chat client's leaving")?;
        Ok(())
    });
}

#[test]
fn chat_login_is_checked_and_bounded() {
    zone_test(
        &[
            "Net:ChatListen=127.0.0.1:0",
            "Net:ChatMessageDelay=1",
            "Net:ChatMaxPerIp=2",
        ],
        |zone| {
            let mut a = chat_client(zone)?;
            // Lines before LOGIN are ignored; a too-long line is dropped.
            a.send("SEND:PUB:not yet")?;
            a.send(&"x".repeat(3000))?;
            a.send("LOGIN:1;c:Alpha:pw")?;
            a.expect(WAIT, "LOGINOK:Alpha")?;
            let _b = chat_client(zone)?;
            // A third connection from the same address is refused.
            let mut c = chat_client(zone)?;
            c.wait_line(WAIT, |l| l.starts_with("LOGINBAD:"))?;
            Ok(())
        },
    );
}

#[test]
fn chat_client_sees_ship_changes_and_is_replaced_by_a_new_login() {
    zone_test(CHAT, |zone| {
        let mut chat = chat_client(zone)?;
        chat.send("LOGIN:1;c:Twin:pw")?;
        chat.expect(WAIT, "LOGINOK:Twin")?;
        chat.send("GO:")?;
        chat.wait_line(WAIT, |l| l.starts_with("INARENA:0:"))?;
        let mut bot = bot_in(zone, "Pilot", "0", 8)?;
        chat.wait_line(WAIT, |l| l.starts_with("ENTERING:Pilot:8:"))?;
        bot.set_ship(1)?;
        chat.wait_line(WAIT, |l| l.starts_with("SHIPFREQCHANGE:Pilot:1:"))?;
        // A game client logging in with the same name replaces the chat
        // client, whose connection is closed.
        let _twin = bot_in(zone, "Twin", "0", 8)?;
        let err = chat
            .wait_line(WAIT, |_| false)
            .expect_err("the chat connection stays open");
        ensure!(err.to_string().contains("connection closed"), "{err:#}");
        Ok(())
    });
}

#[test]
fn a_kicked_chat_client_reads_why_and_is_closed() {
    in_temp_dir("chatnet", |dir| {
        let zone_dir = init_zone_folder(dir)?;
        add_staff(&zone_dir, &[("Warden", "smod")])?;
        let zone = ss_tests::zone::TestZone::start_with(ss_tests::zone::ZoneOptions {
            zone_dir: Some(zone_dir),
            overrides: CHAT.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        })?;
        let mut warden = bot_in(&zone, "Warden", "0", 8)?;
        let mut chat = chat_client(&zone)?;
        chat.send("LOGIN:1;c:Rowdy:pw")?;
        chat.expect(WAIT, "LOGINOK:Rowdy")?;
        chat.send("GO:0")?;
        chat.wait_line(WAIT, |l| l.starts_with("INARENA:0:"))?;
        let rowdy = wait_for_player(&mut warden, "Rowdy")?;
        warden.chat(chat_type::PRIVATE, rowdy, "?kick too loud")?;
        chat.wait_line(WAIT, |l| {
            l.starts_with("MSG:SYSOP:") && l.contains("too loud")
        })?;
        let err = chat
            .wait_line(WAIT, |_| false)
            .expect_err("the chat connection stays open");
        ensure!(err.to_string().contains("connection closed"), "{err:#}");
        Ok(())
    });
}

#[test]
fn malformed_chat_lines_change_nothing() {
    zone_test(CHAT, |zone| {
        let mut bot = bot_in(zone, "Watcher", "0", 8)?;
        let mut bad = chat_client(zone)?;
        bad.send_raw(&[0xff, 0xfe, 0, 1, 2, b'\n'])?;
        for line in [
            "LOGIN",
            "LOGIN:",
            "GO",
            "LOGIN:1;x::",
            "LOGIN:1;x:\u{1}\u{2}:pw",
        ] {
            bad.send(line)?;
        }
        bad.send("LOGIN:1;x:Odd One:pw")?;
        bad.expect(WAIT, "LOGINOK:Odd One")?;
        // A second LOGIN once logged in is ignored.
        bad.send("LOGIN:1;x:Other:pw")?;
        for line in [
            "GO:",
            "SEND:PRIV:",
            "SEND:PRIV:nobody",
            "SEND:FREQ:abc:x",
            "SEND:FREQ:9999:x",
            "CHANGEFREQ:99999",
            "SEND:NOSUCH:x",
            "WHATEVER:1:2:3",
        ] {
            bad.send(line)?;
        }
        bad.send_raw(&vec![b'A'; 10_000])?;
        bad.send("")?;
        bad.send("SEND:PUB:still here")?;
        let got = bot.wait_for(WAIT, |p| match p {
            S2CPacket::Chat(c) if c.chat_type == chat_type::PUBLIC => Some(c.text.clone()),
            _ => None,
        })?;
        ensure!(got == "still here", "{got:?}");
        ensure!(
            bot.player_by_name("Other").is_none(),
            "the second LOGIN changed the name"
        );
        Ok(())
    });
}
