//! End-to-end tests of the billing server connection (issue 6): a real
//! zone (`zone-supervisor` and `realm-worker` processes) linked to the test
//! biller of `ss_tests::biller`, which runs in this process on 127.0.0.1,
//! and bots over real UDP. Every wait is bounded.

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use ss_proto::game::{chat_type, ship, C2SPacket, Login, LoginCode, LoginResponse, S2CPacket};
use ss_proto::transport::{Priority, Reliability};
use ss_tests::biller::{self, FromZone, LoginAnswer, TestBiller};
use ss_tests::bot::Bot;
use ss_tests::scenario::{wait_for_player, WAIT};
use ss_tests::zone::{wait_until, TestZone};

/// How long an outage or a reconnection may take to be noticed with the
/// fast link timers below.
const LINK_WAIT: Duration = Duration::from_secs(15);

/// Runs `test` against a zone linked to `biller` (fast link timers plus
/// `extra` settings), after the zone has logged in to the biller. An
/// error becomes a panic while the zone lives, so its log is printed.
fn billing_test(
    biller: &TestBiller,
    extra: &[&str],
    test: impl FnOnce(&mut TestZone) -> Result<()>,
) {
    billing_test_with(biller, extra, true, test)
}

/// [`billing_test`], waiting for the zone to log in to the biller only if
/// `wait_up`.
fn billing_test_with(
    biller: &TestBiller,
    extra: &[&str],
    wait_up: bool,
    test: impl FnOnce(&mut TestZone) -> Result<()>,
) {
    let mut settings = biller.zone_settings();
    settings.extend(
        [
            "Billing:PingIntervalMillis=300",
            "Billing:NoDataTimeoutMillis=1500",
            "Billing:RetryMinimumMillis=200",
            "Billing:RetryInterval=1",
            "Billing:LoginTimeoutMillis=5000",
        ]
        .map(str::to_string),
    );
    settings.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = settings.iter().map(String::as_str).collect();
    let mut zone = TestZone::start(&refs).expect("starting the zone");
    let run = || -> Result<()> {
        if wait_up {
            wait_biller_state(&zone, "up").context("the zone logging in to the biller")?;
        }
        test(&mut zone)
    };
    if let Err(e) = run() {
        panic!("{e:?}");
    }
}

/// The zone's biller state in its stats.
fn biller_state(zone: &TestZone) -> String {
    zone.stats()
        .ok()
        .and_then(|s| s["zone"]["biller"].as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The link details of the zone's stats (`zone.billing`).
fn billing_stats(zone: &TestZone) -> serde_json::Value {
    zone.stats()
        .map(|s| s["zone"]["billing"].clone())
        .unwrap_or_default()
}

/// Logs a new bot in as `name` and into arena 0; returns the bot and the
/// name the zone gave it (the biller's spelling, or `^name` from the
/// local fallback).
fn entered_as(zone: &TestZone, name: &str) -> Result<(Bot, String)> {
    let mut bot = Bot::connect(zone.game_addr()).with_context(|| format!("{name}: connect"))?;
    bot.login(name, "secret")
        .with_context(|| format!("{name}: login"))?;
    let entry = bot
        .enter_arena("0", ship::SPECTATOR)
        .with_context(|| format!("{name}: enter arena 0"))?;
    let me = bot
        .player(entry.pid)
        .context("own player record")?
        .name
        .clone();
    Ok((bot, me))
}

/// A UDP port that was free a moment ago on 127.0.0.1.
fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("a free UDP port")
}

/// Waits for the stats to show the biller `state` (no event to wait on:
/// the stats are polled).
fn wait_biller_state(zone: &TestZone, state: &str) -> Result<()> {
    ensure!(
        wait_until(LINK_WAIT, || biller_state(zone) == state),
        "stats show the biller {:?}, not {state:?}",
        biller_state(zone)
    );
    Ok(())
}

/// Sends a login (C2S 0x09 with the given flags byte) and returns the
/// login response, whatever its code.
fn try_login(bot: &mut Bot, name: &str, password: &str, flags: u8) -> Result<LoginResponse> {
    let mut login = Login::new(name, password, false);
    login.flags = flags;
    bot.send(
        &C2SPacket::Login(Box::new(login)),
        Reliability::Reliable,
        Priority::Normal,
    )?;
    bot.wait_for(WAIT, |p| match p {
        S2CPacket::LoginResponse(r) => Some(*r),
        _ => None,
    })
    .with_context(|| format!("{name}: waiting for the login response"))
}

/// The pid the biller was given for `name`'s login.
fn login_seen(biller: &TestBiller, name: &str) -> Result<u32> {
    let want = name.to_owned();
    biller
        .wait_for(WAIT, |m| match m {
            FromZone::UserLogin { name, pid, .. } if name.eq_ignore_ascii_case(&want) => Some(*pid),
            _ => None,
        })
        .with_context(|| format!("the biller waiting for {name}'s login"))
}

/// A bot logged in through the biller and inside `arena`; with the pid
/// the biller saw.
fn biller_bot(zone: &TestZone, biller: &TestBiller, name: &str, arena: &str) -> Result<(Bot, u32)> {
    let mut bot = Bot::connect(zone.game_addr()).with_context(|| format!("{name}: connect"))?;
    bot.login(name, "secret")
        .with_context(|| format!("{name}: login"))?;
    let pid = login_seen(biller, name)?;
    let entry = bot
        .enter_arena(arena, ship::SPECTATOR)
        .with_context(|| format!("{name}: enter arena {arena}"))?;
    ensure!(
        entry.pid as u32 == pid,
        "{name}: arena pid {} but biller saw {pid}",
        entry.pid
    );
    Ok((bot, pid))
}

/// Waits for a chat message of `kind` whose text satisfies `pred`.
fn wait_chat(bot: &mut Bot, kind: u8, pred: impl Fn(&str) -> bool) -> Result<String> {
    bot.wait_for(WAIT, |p| match p {
        S2CPacket::Chat(c) if c.chat_type == kind && pred(&c.text) => Some(c.text.clone()),
        _ => None,
    })
}

#[test]
fn biller_decides_logins_name_squad_refusal_and_new_users() {
    let biller = TestBiller::start().unwrap();
    biller.answer_login("alice", LoginAnswer::accept("Alice", "Aces"));
    biller.answer_login("mallory", LoginAnswer::refuse(2));
    biller.answer_login(
        "newbie",
        LoginAnswer {
            only_if_make_new: Some(0),
            ..LoginAnswer::refuse(1)
        },
    );
    biller.answer_login("newbie", LoginAnswer::accept("Newbie", "Fresh"));
    biller.answer_login(
        "reggie",
        LoginAnswer {
            result: 8,
            ..LoginAnswer::accept("Reggie", "")
        },
    );
    billing_test(&biller, &[], |zone| {
        // The zone's own login, as configured, with its game port.
        let login = biller.wait_for(WAIT, |m| match m {
            FromZone::ServerConnect { .. } => Some(m.clone()),
            _ => None,
        })?;
        ensure!(
            login
                == FromZone::ServerConnect {
                    server_id: 7,
                    group_id: 1,
                    score_id: 0,
                    name: "Test Zone".into(),
                    port: zone.game_addr().port(),
                    password: "zonepw".into(),
                },
            "zone login {login:?}"
        );
        biller.wait_for(WAIT, |m| {
            matches!(m, FromZone::Capabilities(3)).then_some(())
        })?;

        // Accepted: the biller gets name and password as typed, the player
        // gets the biller's name and squad.
        let mut alice = Bot::connect(zone.game_addr())?;
        alice.login("alice", "pw-alice")?;
        let (password, ip, pid, version, extra) = biller.wait_for(WAIT, |m| match m {
            FromZone::UserLogin {
                name,
                password,
                ip,
                pid,
                client_version,
                extra_len,
                make_new: 0,
            } if name == "alice" => {
                Some((password.clone(), *ip, *pid, *client_version, *extra_len))
            }
            _ => None,
        })?;
        ensure!(
            password == "pw-alice" && ip == [127, 0, 0, 1],
            "login {password:?} {ip:?}"
        );
        ensure!(
            version == 134 && extra == 0,
            "VIE login: version {version}, {extra} extra bytes"
        );
        let entry = alice.enter_arena("0", ship::SPECTATOR)?;
        ensure!(entry.pid as u32 == pid, "pid {} vs {pid}", entry.pid);
        let me = alice.player(entry.pid).context("own record")?.clone();
        ensure!(
            me.name == "Alice" && me.squad == "Aces",
            "entered as {me:?}"
        );

        // Refused: the biller's reason is the login response's code.
        let mut mallory = Bot::connect(zone.game_addr())?;
        let resp = try_login(&mut mallory, "mallory", "guess", 0)?;
        ensure!(
            resp.code == LoginCode::BAD_PASSWORD,
            "mallory got {:#04x}",
            resp.code.0
        );
        login_seen(&biller, "mallory")?;

        // New user: refused as unknown, then created on request.
        let mut newbie = Bot::connect(zone.game_addr())?;
        let resp = try_login(&mut newbie, "newbie", "pw", 0)?;
        ensure!(
            resp.code == LoginCode::NEW_USER,
            "newbie got {:#04x}",
            resp.code.0
        );
        let resp = try_login(&mut newbie, "newbie", "pw", 1)?;
        ensure!(
            resp.code == LoginCode::OK,
            "newbie (make new) got {:#04x}",
            resp.code.0
        );
        biller.wait_for(WAIT, |m| {
            matches!(m, FromZone::UserLogin { name, make_new: 1, .. } if name == "newbie")
                .then_some(())
        })?;
        let entry = newbie.enter_arena("0", ship::SPECTATOR)?;
        let me = newbie.player(entry.pid).context("own record")?.clone();
        ensure!(
            me.name == "Newbie" && me.squad == "Fresh",
            "entered as {me:?}"
        );

        // The biller wants the registration form: the client is asked for
        // it, and the form goes to the biller.
        let mut reggie = Bot::connect(zone.game_addr())?;
        let resp = try_login(&mut reggie, "reggie", "pw", 0)?;
        ensure!(
            resp.code == LoginCode::ASK_DEMOGRAPHICS && resp.registration_wanted,
            "reggie got {:#04x} (form wanted: {})",
            resp.code.0,
            resp.registration_wanted
        );
        let reggie_pid = login_seen(&biller, "reggie")?;
        let mut form = vec![0x17];
        form.extend_from_slice(&[7u8; 40]);
        reggie.send_raw(&form, Reliability::Reliable, Priority::Normal)?;
        biller.wait_for(WAIT, |m| {
            matches!(m, FromZone::Demographics { pid, len: 40 } if *pid == reggie_pid).then_some(())
        })?;
        Ok(())
    });
}

#[test]
fn remote_messages_commands_and_channels_go_both_ways() {
    let biller = TestBiller::start().unwrap();
    biller.answer_login("alice", LoginAnswer::accept("Alice", "Aces"));
    billing_test(&biller, &[], |zone| {
        let (mut alice, alice_pid) = biller_bot(zone, &biller, "alice", "1")?;
        let (mut bob, bob_pid) = biller_bot(zone, &biller, "bob", "0")?;
        alice.clear_backlog();
        bob.clear_backlog();

        // From the biller to the right bot, in realm "1".
        biller.send(&biller::private_chat(0, ":alice:(Remote)>hi there"))?;
        wait_chat(&mut alice, chat_type::REMOTE_PRIVATE, |t| {
            t == "(Remote)>hi there"
        })?;
        // A later biller message to bob comes after anything the first
        // one could have caused.
        biller.send(&biller::command_chat(bob_pid, "marker 1"))?;
        bob.expect_none_before(
            |p| matches!(p, S2CPacket::Chat(c) if c.text == "marker 1").then_some(()),
            |p| matches!(p, S2CPacket::Chat(c) if c.text.contains("hi there")),
        )?;

        // A bot's remote message to a name not on the zone reaches the biller.
        alice.chat(chat_type::REMOTE_PRIVATE, -1, ":other:hello")?;
        let (id, group, sub, text) = biller.wait_for(WAIT, |m| match m {
            FromZone::PrivateChat {
                connection_id,
                group,
                sub_type,
                text,
                ..
            } if text.starts_with(":other:") => {
                Some((*connection_id, *group, *sub_type, text.clone()))
            }
            _ => None,
        })?;
        ensure!(text == ":other:(Alice)>hello", "remote message {text:?}");
        ensure!(
            (id, group, sub) == (u32::MAX, 1, 2),
            "header {id:#x} {group} {sub}"
        );

        // Squad messages go out through the biller and come back to the squad.
        alice.chat(chat_type::REMOTE_PRIVATE, -1, ":#Aces:squad hi")?;
        biller.wait_for(WAIT, |m| {
            matches!(m, FromZone::PrivateChat { text, .. } if text == ":#Aces:(Alice)>squad hi")
                .then_some(())
        })?;
        biller.send(&biller::private_chat(0, ":#aces:(Carl)>yo squad"))?;
        wait_chat(&mut alice, chat_type::REMOTE_PRIVATE, |t| {
            t == "(#aces)(Carl)>yo squad"
        })?;

        // A zone-wide message reaches everyone.
        biller.send(&biller::private_chat(0, "Network-wide notice"))?;
        for bot in [&mut alice, &mut bob] {
            wait_chat(bot, chat_type::ARENA, |t| t == "Network-wide notice")?;
        }
        biller.send(&biller::command_chat(bob_pid, "marker 2"))?;
        bob.expect_none_before(
            |p| matches!(p, S2CPacket::Chat(c) if c.text == "marker 2").then_some(()),
            |p| matches!(p, S2CPacket::Chat(c) if c.text.contains("yo squad")),
        )?;

        // Biller commands: forwarded as typed, the answer shown.
        alice.chat(chat_type::PUBLIC, -1, "?password=newpw")?;
        biller.wait_for(WAIT, |m| {
            matches!(m, FromZone::Command { pid, text } if *pid == alice_pid && text == "?password=newpw")
                .then_some(())
        })?;
        biller.send(&biller::command_chat(alice_pid, "Password changed"))?;
        wait_chat(&mut alice, chat_type::ARENA, |t| t == "Password changed")?;
        alice.chat(chat_type::PUBLIC, -1, "?squadjoin Aces:pw")?;
        biller.wait_for(WAIT, |m| {
            matches!(m, FromZone::Command { text, .. } if text == "?squadjoin Aces:pw")
                .then_some(())
        })?;

        // Chat channels.
        alice.chat(chat_type::CHANNEL, -1, "2;hello all")?;
        biller.wait_for(WAIT, |m| {
            matches!(m, FromZone::ChannelChat { pid, channel, text }
                if *pid == alice_pid && channel == "2" && text == "hello all")
            .then_some(())
        })?;
        biller.send(&biller::channel_chat(alice_pid, 2, "bob> hi"))?;
        wait_chat(&mut alice, chat_type::CHANNEL, |t| t == "2:bob> hi")?;

        // A banner the player sets goes to the biller too.
        let mut banner = vec![0x19];
        banner.extend_from_slice(&[3u8; 96]);
        alice.send_raw(&banner, Reliability::Reliable, Priority::Normal)?;
        biller.wait_for(WAIT, |m| {
            matches!(m, FromZone::Banner { pid } if *pid == alice_pid).then_some(())
        })?;
        Ok(())
    });
}

#[test]
fn zone_survives_a_biller_outage_and_delivers_the_logoffs_once() {
    let biller = TestBiller::start().unwrap();
    biller.hold_login("eve");
    billing_test(&biller, &[], |zone| {
        let (mut alice, alice_pid) = biller_bot(zone, &biller, "alice", "0")?;
        let (mut bob, bob_pid) = biller_bot(zone, &biller, "bob", "0")?;
        let (mut carol, carol_pid) = biller_bot(zone, &biller, "carol", "1")?;
        // Eve's login is in flight (the biller holds it) when the biller dies.
        let mut eve = Bot::connect(zone.game_addr())?;
        let login = Login::new("eve", "secret", false);
        eve.send(
            &C2SPacket::Login(Box::new(login)),
            Reliability::Reliable,
            Priority::Normal,
        )?;
        login_seen(&biller, "eve")?;

        biller.set_silent(true);
        bob.disconnect();
        carol.disconnect();
        wait_biller_state(zone, "down")?;
        wait_chat(&mut alice, chat_type::ARENA, |t| {
            t.contains("user database server lost")
        })?;

        // The login in flight is answered by the fallback (local, unknown
        // name: let in, marked with ^).
        let resp = eve
            .wait_for(LINK_WAIT, |p| match p {
                S2CPacket::LoginResponse(r) => Some(*r),
                _ => None,
            })
            .context("eve's pending login is answered")?;
        ensure!(resp.code == LoginCode::OK, "eve got {:#04x}", resp.code.0);
        let entry = eve.enter_arena("0", ship::SPECTATOR)?;
        let me = eve.player(entry.pid).context("eve's record")?.clone();
        ensure!(me.name == "^eve", "eve entered as {:?}", me.name);

        // New logins follow the fallback too.
        let mut dave = Bot::connect(zone.game_addr())?;
        dave.login("dave", "secret")?;
        let entry = dave.enter_arena("0", ship::SPECTATOR)?;
        let dave_pid = entry.pid as u32;
        ensure!(
            dave.player(entry.pid).is_some_and(|p| p.name == "^dave"),
            "dave's name"
        );
        dave.disconnect();

        // Nobody was disconnected by the outage.
        ensure!(
            !alice.is_disconnected() && !eve.is_disconnected(),
            "a player was dropped"
        );
        ensure!(biller.dropped_while_silent() > 0, "the zone kept trying");

        // The biller comes back: the zone logs in again by itself and the
        // logoffs of bob and carol arrive, once each.
        biller.set_silent(false);
        biller
            .wait_for(LINK_WAIT, |m| {
                matches!(m, FromZone::ServerConnect { .. }).then_some(())
            })
            .context("the zone logging in again")?;
        biller.wait_for(WAIT, |m| {
            matches!(m, FromZone::ServerConnect { .. }).then_some(())
        })?;
        for pid in [bob_pid, carol_pid] {
            biller
                .wait_for(WAIT, |m| {
                    matches!(m, FromZone::UserLogoff { pid: p, .. } if *p == pid).then_some(())
                })
                .with_context(|| format!("logoff of pid {pid}"))?;
        }
        wait_biller_state(zone, "up")?;
        wait_chat(&mut alice, chat_type::ARENA, |t| {
            t.contains("user database server restored")
        })?;
        // A player leaving now is reported at once.
        alice.disconnect();
        biller.wait_for(WAIT, |m| {
            matches!(m, FromZone::UserLogoff { pid, .. } if *pid == alice_pid).then_some(())
        })?;
        ensure!(
            wait_until(WAIT, || zone
                .stats()
                .is_ok_and(|s| s["zone"]["billing"]["queued_logoffs"] == 0)),
            "logoffs still unacknowledged"
        );
        // None doubled, none for the player the biller never saw: with
        // nothing left to acknowledge, a new player's login reaches the
        // biller after any logoff the zone had queued.
        let (_frank, _) = biller_bot(zone, &biller, "frank", "0").context("the marker login")?;
        let watched = [bob_pid, carol_pid, alice_pid, dave_pid];
        let extra = biller
            .take_all(|m| matches!(m, FromZone::UserLogoff { pid, .. } if watched.contains(pid)));
        ensure!(extra.is_empty(), "more logoffs: {extra:?}");
        Ok(())
    });
}

#[test]
fn logins_are_refused_during_an_outage_when_configured() {
    let biller = TestBiller::start().unwrap();
    billing_test(&biller, &["Billing:Fallback=refuse"], |zone| {
        let (alice, _) = biller_bot(zone, &biller, "alice", "0")?;
        biller.set_silent(true);
        wait_biller_state(zone, "down")?;
        let mut bob = Bot::connect(zone.game_addr())?;
        let resp = try_login(&mut bob, "bob", "secret", 0)?;
        ensure!(
            resp.code == LoginCode::SERVER_BUSY,
            "bob got {:#04x}",
            resp.code.0
        );
        ensure!(!alice.is_disconnected(), "alice was dropped");
        Ok(())
    });
}

#[test]
fn the_biller_kicks_a_player() {
    let biller = TestBiller::start().unwrap();
    billing_test(&biller, &[], |zone| {
        let (mut alice, alice_pid) = biller_bot(zone, &biller, "alice", "0")?;
        let (mut bob, bob_pid) = biller_bot(zone, &biller, "bob", "0")?;
        biller.send(&biller::kickout(alice_pid, 3))?;
        let why = wait_chat(&mut alice, 8, |t| t.contains("user database server"))?;
        ensure!(why.contains("reason 3"), "kick message {why:?}");
        alice.wait_disconnected(WAIT)?;
        biller.wait_for(WAIT, |m| {
            matches!(m, FromZone::UserLogoff { pid, .. } if *pid == alice_pid).then_some(())
        })?;
        // A biller message to bob after the kick is the marker.
        biller.send(&biller::command_chat(bob_pid, "marker"))?;
        bob.expect_none_before(
            |p| matches!(p, S2CPacket::Chat(c) if c.text == "marker").then_some(()),
            |p| matches!(p, S2CPacket::Chat(c) if c.chat_type == 8),
        )?;
        ensure!(!bob.is_disconnected(), "bob was dropped too");
        Ok(())
    });
}

#[test]
fn malformed_biller_messages_do_not_disturb_the_zone() {
    let biller = TestBiller::start().unwrap();
    billing_test(&biller, &[], |zone| {
        let (mut alice, alice_pid) = biller_bot(zone, &biller, "alice", "0")?;
        let pid = alice_pid.to_le_bytes();
        let mut oversized = vec![0x09, pid[0], pid[1], pid[2], pid[3]];
        oversized.extend(std::iter::repeat_n(b'x', 400));
        oversized.push(0);
        let mut huge = vec![0x09, pid[0], pid[1], pid[2], pid[3]];
        huge.extend(std::iter::repeat_n(b'y', 3000));
        huge.push(0);
        let bad: Vec<Vec<u8>> = vec![
            vec![0x01, 0, pid[0], pid[1], pid[2], pid[3]], // truncated login result
            oversized,                                     // text over 250 bytes
            huge,                                          // big data, far too long
            vec![0x3F, 1, 2, 3],                           // unknown type
            vec![0x03, 1, 0, 0, 0, 2, 0, b'n', b'o', b'n', b'u', b'l'], // no NUL
            vec![0x08, pid[0], pid[1]],                    // kick, truncated
            vec![0x31, 1, 0, 0, 0, 1, 0, 0, 0],            // score reset, bad check
            vec![0x34, 9, 1, 0, 0, 0, 1, b'x', 0],         // multicast, list too long
        ];
        for msg in &bad {
            biller.send(msg)?;
        }
        // Garbage outside the transport, too.
        for junk in [
            &[0xFFu8; 3][..],
            &[0x00, 0x03, 1],
            &[0x00; 600],
            &[0x00, 0x0E, 200, 1],
        ] {
            biller.send_datagram(junk)?;
        }
        // A type outside the game range is dropped by the transport itself.
        biller.send(&[0x77, 1, 2, 3])?;
        biller.send(&biller::command_chat(alice_pid, "still here"))?;
        // The last message is the marker: nothing of the malformed ones
        // reached alice before it.
        alice.expect_none_before(
            |p| {
                matches!(p, S2CPacket::Chat(c) if c.chat_type == chat_type::ARENA && c.text == "still here")
                    .then_some(())
            },
            |p| matches!(p, S2CPacket::Chat(c) if c.text.contains("xxxx") || c.text.contains("yyyy")),
        )?;
        ensure!(!alice.is_disconnected(), "alice was dropped");
        let stats = zone.stats()?;
        let malformed = stats["zone"]["billing"]["malformed"].as_u64().unwrap_or(0);
        ensure!(
            malformed >= bad.len() as u64,
            "{malformed} malformed counted"
        );
        ensure!(
            biller_state(zone) == "up",
            "biller link state {}",
            biller_state(zone)
        );
        // The zone still logs players in through the biller.
        let (_bob, _) = biller_bot(zone, &biller, "bob", "0")?;
        Ok(())
    });
}

#[test]
fn a_biller_score_reset_clears_the_public_scores() {
    let biller = TestBiller::start().unwrap();
    billing_test(&biller, &[], |zone| {
        let mut bots = Vec::new();
        for name in ["alice", "bob"] {
            let mut bot = Bot::connect(zone.game_addr())?;
            bot.login(name, "secret")?;
            bot.enter_arena("0", ship::WARBIRD)?;
            bots.push(bot);
        }
        let (alice, bob) = bots.split_at_mut(1);
        let (alice, bob) = (&mut alice[0], &mut bob[0]);
        let alice_pid = alice.pid().context("alice's pid")?;
        wait_for_player(bob, "alice")?;
        bob.send(
            &C2SPacket::Death {
                killer: alice_pid,
                bounty: 20,
            },
            Reliability::Reliable,
            Priority::Normal,
        )?;
        alice.wait_for(WAIT, |p| match p {
            S2CPacket::ScoreUpdate(u) if u.pid == alice_pid && u.kill_points == 20 => Some(()),
            _ => None,
        })?;
        // B2S 0x31: ScoreID, then its negation.
        let mut reset = vec![0x31u8];
        reset.extend_from_slice(&7i32.to_le_bytes());
        reset.extend_from_slice(&(-7i32).to_le_bytes());
        biller.send(&reset)?;
        alice.wait_for(WAIT, |p| match p {
            S2CPacket::ScoreUpdate(u)
                if u.pid == alice_pid && u.kill_points == 0 && u.kills == 0 =>
            {
                Some(())
            }
            _ => None,
        })?;
        Ok(())
    });
}

#[test]
fn a_replayed_old_key_reply_is_not_taken() {
    let biller = TestBiller::start().unwrap();
    // Every connection request is answered with the replies to the
    // earlier ones first, as a biller that was frozen and resumes does.
    biller.set_replay_key_replies(true);
    biller.answer_login("alice", LoginAnswer::accept("Alice", "Aces"));
    billing_test(&biller, &[], |zone| {
        biller.drop_link()?;
        ensure!(
            wait_until(LINK_WAIT, || biller.connections() >= 2),
            "the zone did not reconnect"
        );
        ensure!(
            wait_until(LINK_WAIT, || billing_stats(zone)["drops"].as_u64()
                >= Some(1)
                && biller_state(zone) == "up"),
            "the link is not up again: {}",
            billing_stats(zone)
        );
        // Messages flow both ways on the new connection: the biller reads
        // the player login and the zone reads its answer.
        let (_alice, name) = entered_as(zone, "alice")?;
        ensure!(name == "Alice", "alice entered as {name:?}");
        ensure!(
            biller.server_connects() >= 2,
            "zone logins read by the biller: {}",
            biller.server_connects()
        );
        Ok(())
    });
}

/// A biller that keeps a connection per address: after an outage the
/// zone must end up logged in for real, with logins answered by the
/// biller, not "up" on a connection the biller does not read.
fn stale_per_address_state(fixed_port: bool) {
    let biller = TestBiller::start().unwrap();
    biller.set_sticky(true);
    biller.set_encryption(false);
    biller.answer_login("bob", LoginAnswer::accept("Bob", ""));
    let port = if fixed_port { free_udp_port() } else { 0 };
    let port = format!("Net:InternalClientPort={port}");
    billing_test(&biller, &[&port, "Billing:WaitLoginMillis=1000"], |zone| {
        let (mut alice, _) = biller_bot(zone, &biller, "alice", "0")?;
        biller.set_silent(true);
        wait_biller_state(zone, "down")?;
        wait_chat(&mut alice, chat_type::ARENA, |t| {
            t.contains("user database server lost")
        })?;
        biller.set_silent(false);
        alice
            .wait_for(LINK_WAIT, |p| match p {
                S2CPacket::Chat(c) if c.text.contains("user database server restored") => Some(()),
                _ => None,
            })
            .context("the link coming back")?;
        ensure!(biller_state(zone) == "up", "stats: {}", billing_stats(zone));
        let (_bob, name) = entered_as(zone, "bob")?;
        ensure!(
            name == "Bob",
            "bob entered as {name:?}: the biller did not answer"
        );
        let stale = biller.stale_requests();
        if fixed_port {
            // The first attempt after the outage met the old state;
            // the zone's 00 07 after the unanswered login cleared it.
            ensure!(stale >= 1, "the biller saw no request from the old address");
            ensure!(
                billing_stats(zone)["failed_attempts"].as_u64() >= Some(1),
                "{}",
                billing_stats(zone)
            );
        } else {
            ensure!(stale == 0, "{stale} requests came from an old address");
        }
        Ok(())
    });
}

#[test]
fn stale_biller_state_is_left_behind_on_a_fresh_port() {
    stale_per_address_state(false);
}

#[test]
fn stale_biller_state_is_cleared_from_a_fixed_port() {
    stale_per_address_state(true);
}

#[test]
fn a_biller_ignoring_the_zone_login_leaves_the_link_down_not_up() {
    let biller = TestBiller::start().unwrap();
    biller.set_ignore_zone_login(true);
    biller.answer_login("dave", LoginAnswer::accept("Dave", ""));
    billing_test_with(
        &biller,
        &[
            "Billing:WaitLoginMillis=500",
            // far beyond the bot's wait: a login sent to this biller
            // could not be answered in time
            "Billing:LoginTimeoutMillis=120000",
        ],
        false,
        |zone| {
            ensure!(
                wait_until(LINK_WAIT, || biller.server_connects() >= 2),
                "the zone did not try again after its unanswered login"
            );
            wait_biller_state(zone, "down")?;
            let b = billing_stats(zone);
            ensure!(b["drops"] == 0, "the link counted as up: {b}");
            ensure!(b["failed_attempts"].as_u64() >= Some(1), "{b}");
            ensure!(b["last_message_ms"].is_null(), "{b}");
            ensure!(!b["last_heard_ms"].is_null(), "acks were heard: {b}");
            // Logins take the fallback at once; none goes to the biller.
            let (_carol, name) = entered_as(zone, "carol")?;
            ensure!(name == "^carol", "carol entered as {name:?}");
            let asked = biller.take_all(|m| matches!(m, FromZone::UserLogin { .. }));
            ensure!(asked.is_empty(), "logins sent to the biller: {asked:?}");
            // Once the biller answers, the link is up and logins go to it.
            biller.set_ignore_zone_login(false);
            wait_biller_state(zone, "up")?;
            let (_dave, name) = entered_as(zone, "dave")?;
            ensure!(name == "Dave", "dave entered as {name:?}");
            let b = billing_stats(zone);
            ensure!(!b["last_message_ms"].is_null(), "{b}");
            Ok(())
        },
    );
}

/// With `Billing:AssumeLoginAfterWait` (for billers that never speak
/// first), a biller that takes the zone login (acknowledges) and says
/// nothing is assumed to have accepted it after `WaitLogin`, as ASSS does;
/// the link is then truly up: logins go to the biller and answers come back.
#[test]
fn a_biller_that_takes_the_zone_login_silently_is_up_and_answers_logins() {
    let biller = TestBiller::start().unwrap();
    biller.set_ignore_zone_login(true);
    biller.answer_login("dave", LoginAnswer::accept("Dave", ""));
    billing_test_with(
        &biller,
        &[
            "Billing:WaitLoginMillis=500",
            "Billing:AssumeLoginAfterWait=1",
        ],
        false,
        |zone| {
            wait_biller_state(zone, "up")?;
            let b = billing_stats(zone);
            ensure!(
                b["last_message_ms"].is_null(),
                "the biller said nothing: {b}"
            );
            let (_dave, name) = entered_as(zone, "dave")?;
            ensure!(name == "Dave", "dave entered as {name:?}");
            let b = billing_stats(zone);
            ensure!(!b["last_message_ms"].is_null(), "{b}");
            ensure!(b["failed_attempts"] == 0, "{b}");
            Ok(())
        },
    );
}

#[test]
fn find_asks_the_biller_for_a_player_not_in_the_zone() {
    let biller = TestBiller::start().unwrap();
    billing_test(&biller, &[], |zone| {
        let (mut alice, alice_pid) = biller_bot(zone, &biller, "alice", "0")?;
        let (_bob, _) = biller_bot(zone, &biller, "bob", "1")?;
        alice.clear_backlog();
        // A player in the zone is found here.
        alice.chat(chat_type::PUBLIC, -1, "?find bob")?;
        wait_chat(&mut alice, chat_type::ARENA, |t| t == "bob is in arena 1.")?;
        // One who is not is looked for by the biller, which answers.
        alice.chat(chat_type::PUBLIC, -1, "?find carl")?;
        let asked = biller.wait_for(WAIT, |m| match m {
            FromZone::Command { pid, text } if *pid == alice_pid && text.starts_with("?find") => {
                Some(text.clone())
            }
            _ => None,
        })?;
        ensure!(
            asked == "?find carl",
            "the biller was asked {asked:?} first"
        );
        biller.send(&biller::command_chat(
            alice_pid,
            "carl is in Elsewhere Zone",
        ))?;
        alice.expect_none_before(
            |p| {
                matches!(p, S2CPacket::Chat(c) if c.text == "carl is in Elsewhere Zone")
                    .then_some(())
            },
            |p| matches!(p, S2CPacket::Chat(c) if c.text.contains("not online")),
        )?;
        Ok(())
    });
}

#[test]
fn a_biller_that_stops_answering_while_up_is_given_up() {
    let biller = TestBiller::start().unwrap();
    biller.answer_login("gina", LoginAnswer::accept("Gina", ""));
    billing_test(&biller, &["Billing:WaitLoginMillis=500"], |zone| {
        let (mut alice, _) = biller_bot(zone, &biller, "alice", "0")?;
        // The biller still acknowledges (pings keep the link alive) but
        // answers nothing, not even eve's login.
        biller.set_mute(true);
        let mut eve = Bot::connect(zone.game_addr())?;
        eve.send(
            &C2SPacket::Login(Box::new(Login::new("eve", "secret", false))),
            Reliability::Reliable,
            Priority::Normal,
        )?;
        login_seen(&biller, "eve")?;
        let resp = eve
            .wait_for(LINK_WAIT, |p| match p {
                S2CPacket::LoginResponse(r) => Some(*r),
                _ => None,
            })
            .context("eve's login is answered by the fallback")?;
        ensure!(resp.code == LoginCode::OK, "eve got {:#04x}", resp.code.0);
        // The link is not left "up": it is dropped and stays down while
        // the biller answers nothing.
        wait_biller_state(zone, "down")?;
        wait_chat(&mut alice, chat_type::ARENA, |t| {
            t.contains("user database server lost")
        })?;
        let (_frank, name) = entered_as(zone, "frank")?;
        ensure!(name == "^frank", "frank entered as {name:?}");
        let asked =
            biller.take_all(|m| matches!(m, FromZone::UserLogin { name, .. } if name == "frank"));
        ensure!(asked.is_empty(), "frank's login went to the biller");
        let b = billing_stats(zone);
        ensure!(b["drops"] == 1, "{b}");
        // The biller answers again: up, and logins go to it.
        biller.set_mute(false);
        wait_biller_state(zone, "up")?;
        let (_gina, name) = entered_as(zone, "gina")?;
        ensure!(name == "Gina", "gina entered as {name:?}");
        Ok(())
    });
}
