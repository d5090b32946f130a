//! End-to-end tests of the game inside a realm: kills and scores, teams,
//! staff rights, cross-realm chat and moves, chat flood protection. Real
//! `zone-supervisor` and `realm-worker` processes, bots over UDP.

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use ss_proto::game::{chat_type, ship, C2SPacket, S2CPacket};
use ss_proto::transport::{Priority, Reliability};
use ss_tests::bot::Bot;
use ss_tests::scenario::*;
use ss_tests::zone::{wait_until, TestZone};

/// The freq of the bot itself right after entering.
fn own_freq(bot: &Bot) -> i16 {
    bot.player(pid_of(bot)).map_or(-1, |p| p.freq)
}

fn send_reliable(bot: &mut Bot, pkt: C2SPacket) -> Result<()> {
    bot.send(&pkt, Reliability::Reliable, Priority::Normal)
}

/// Runs `body` against a zone started from a fresh zone folder
/// (`zone-supervisor init`) in which each `(name, group)` is staff, with
/// [`PASSWORD`] as password.
fn staff_zone_test(staff: &[(&str, &str)], body: impl FnOnce(&TestZone) -> Result<()>) {
    in_temp_dir("game", |dir| {
        let zone_dir = init_zone_folder(dir)?;
        add_staff(&zone_dir, staff)?;
        body(&zone_from_folder(&zone_dir)?)
    });
}

#[test]
fn a_kill_reaches_everyone_with_its_points_and_scores_stay() {
    zone_test(&[], |zone| {
        let mut a = bot_in(zone, "alice", "0", ship::WARBIRD)?;
        let mut b = bot_in(zone, "bob", "0", ship::JAVELIN)?;
        let mut c = bot_in(zone, "carol", "0", ship::SPECTATOR)?;
        let a_pid = pid_of(&a);
        let b_pid = wait_for_player(&mut a, "bob")?;
        wait_for_player(&mut c, "bob")?;
        wait_for_player(&mut b, "carol")?;

        send_reliable(
            &mut b,
            C2SPacket::Death {
                killer: a_pid,
                bounty: 37,
            },
        )?;
        for (who, bot) in [("alice", &mut a), ("bob", &mut b), ("carol", &mut c)] {
            let kill = bot
                .wait_for(WAIT, |p| match p {
                    S2CPacket::Kill(k) => Some(*k),
                    _ => None,
                })
                .with_context(|| format!("{who} waits for the kill"))?;
            assert_eq!((kill.killer, kill.killed), (a_pid, b_pid), "{who}");
            assert_eq!(
                kill.points, 37,
                "{who}: the bounty is the reward by default"
            );
        }
        let score = c
            .wait_for(WAIT, |p| match p {
                S2CPacket::ScoreUpdate(u) if u.pid == a_pid => Some(*u),
                _ => None,
            })
            .context("alice's score update")?;
        assert_eq!((score.kill_points, score.kills, score.deaths), (37, 1, 0));

        // Leaving and coming back keeps the score (in the realm's memory).
        a.leave_arena()?;
        c.wait_for(WAIT, |p| {
            matches!(p, S2CPacket::PlayerLeaving { pid } if *pid == a_pid).then_some(())
        })?;
        let entry = a.enter_arena("0", ship::SPECTATOR)?;
        let me = entry
            .players
            .iter()
            .find(|r| r.pid == entry.pid)
            .context("own record")?;
        assert_eq!((me.kill_points, me.kills), (37, 1));
        Ok(())
    });
}

#[test]
fn kill_points_follow_the_arenas_kill_settings() {
    zone_test(&["Kill:FixedKillReward=25"], |zone| {
        let mut a = bot_in(zone, "alice", "0", ship::WARBIRD)?;
        let mut b = bot_in(zone, "bob", "0", ship::WARBIRD)?;
        let a_pid = wait_for_player(&mut b, "alice")?;
        send_reliable(
            &mut b,
            C2SPacket::Death {
                killer: a_pid,
                bounty: 400,
            },
        )?;
        let points = a.wait_for(WAIT, |p| match p {
            S2CPacket::Kill(k) => Some(k.points),
            _ => None,
        })?;
        assert_eq!(points, 25);
        Ok(())
    });
}

#[test]
fn a_full_freq_is_refused_and_entering_players_are_balanced() {
    zone_test(&["Team:MaxPerTeam=2"], |zone| {
        let mut a = bot_in(zone, "alice", "0", ship::WARBIRD)?;
        let mut b = bot_in(zone, "bob", "0", ship::WARBIRD)?;
        let c = bot_in(zone, "carol", "0", ship::WARBIRD)?;
        assert_eq!(own_freq(&a), 0);
        assert_eq!(own_freq(&b), 1, "bob goes to the emptier freq");
        assert_eq!(own_freq(&c), 0);
        let b_pid = pid_of(&b);
        wait_for_player(&mut a, "carol")?;

        b.set_freq(0)?;
        wait_message(&mut b, "Frequency 0 is full.")?;
        // Bob's next message reaches alice after anything his refused
        // change could have caused.
        b.chat(chat_type::PUBLIC, -1, "after the full freq")?;
        a.expect_none_before(
            |p| matches!(p, S2CPacket::Chat(m) if m.pid == b_pid && m.text == "after the full freq").then_some(()),
            |p| matches!(p, S2CPacket::ShipChange { pid, .. } | S2CPacket::FreqChange { pid, .. } if *pid == b_pid),
        )
        .context("nobody sees bob change")?;
        assert_eq!(a.player(b_pid).map(|p| p.freq), Some(1));

        let d = bot_in(zone, "dave", "0", ship::SHARK)?;
        assert_eq!(own_freq(&d), 1, "dave fills the emptier freq");
        Ok(())
    });
}

#[test]
fn kick_needs_the_right_and_the_kicked_bot_is_told_why() {
    staff_zone_test(&[("moddy", "mod")], |zone| {
        let mut pleb = bot_in(zone, "pleb", "0", ship::SPECTATOR)?;
        let mut victim = bot_in(zone, "victim", "0", ship::SPECTATOR)?;
        let mut moddy = bot_in(zone, "moddy", "0", ship::SPECTATOR)?;
        let victim_pid = wait_for_player(&mut pleb, "victim")?;
        wait_for_player(&mut moddy, "victim")?;

        pleb.chat(chat_type::PRIVATE, victim_pid, "?kick bye")?;
        let text = wait_message(&mut pleb, "permission")?;
        assert_eq!(text, "You don't have permission to use ?kick.");
        // The refusal is out, so the refused kick is done with: the
        // victim's own marker comes back, with no kick message before it.
        victim
            .expect_none_before_marker(
                |p| matches!(p, S2CPacket::Chat(c) if c.text.contains("kicked")),
            )
            .context("the victim must still be here")?;
        ensure!(!victim.is_disconnected(), "the victim must still be here");

        moddy.chat(chat_type::PRIVATE, victim_pid, "?kick spamming the arena")?;
        let told = wait_message(&mut victim, "kicked")?;
        assert_eq!(told, "You have been kicked for: spamming the arena");
        victim.wait_disconnected(WAIT)?;
        wait_message(&mut moddy, "Kicked 'victim'.")?;
        pleb.wait_for(WAIT, |p| {
            matches!(p, S2CPacket::PlayerLeaving { pid } if *pid == victim_pid).then_some(())
        })?;
        Ok(())
    });
}

#[test]
fn private_messages_and_find_cross_arenas() {
    zone_test(&[], |zone| {
        let mut a = bot_in(zone, "alice", "1", ship::SPECTATOR)?;
        let mut b = bot_in(zone, "bob", "0", ship::SPECTATOR)?;

        a.chat(chat_type::REMOTE_PRIVATE, -1, ":bob:hello from arena 1")?;
        let (kind, text) = b.wait_for(WAIT, |p| match p {
            S2CPacket::Chat(c) if c.text.contains("hello from arena 1") => {
                Some((c.chat_type, c.text.clone()))
            }
            _ => None,
        })?;
        assert_eq!(kind, chat_type::REMOTE_PRIVATE);
        assert_eq!(text, "(alice)>hello from arena 1");

        a.chat(chat_type::PUBLIC, -1, "?find bob")?;
        assert_eq!(wait_message(&mut a, "bob is")?, "bob is in arena 0.");
        b.chat(chat_type::PUBLIC, -1, "?find ALI")?;
        assert_eq!(wait_message(&mut b, "alice is")?, "alice is in arena 1.");
        b.chat(chat_type::PUBLIC, -1, "?find nobodyhere")?;
        wait_message(&mut b, "nobodyhere is not online.")?;
        Ok(())
    });
}

#[test]
fn go_starts_the_new_realm_and_moves_the_bot_into_it() {
    zone_test(&[], |zone| {
        let mut a = bot_in(zone, "alice", "0", ship::WARBIRD)?;
        let mut b = bot_in(zone, "bob", "0", ship::WARBIRD)?;
        let a_pid = wait_for_player(&mut b, "alice")?;
        ensure!(
            !zone
                .realm_workers()
                .iter()
                .any(|(_, cmd)| cmd.contains("--realm duel")),
            "no duel realm yet"
        );

        a.chat(chat_type::PUBLIC, -1, "?go duel")?;
        b.wait_for(WAIT, |p| {
            matches!(p, S2CPacket::PlayerLeaving { pid } if *pid == a_pid).then_some(())
        })
        .context("bob sees alice leave")?;
        a.wait_for(WAIT, |p| {
            matches!(p, S2CPacket::WhoAmI { .. }).then_some(())
        })
        .context("alice's new entry starts")?;
        a.wait_for(WAIT, |p| matches!(p, S2CPacket::EnteredArena).then_some(()))
            .context("alice's new entry ends")?;
        ensure!(
            wait_until(WAIT, || zone
                .realm_workers()
                .iter()
                .any(|(_, cmd)| cmd.contains("--realm duel"))),
            "a realm-worker process for duel"
        );

        a.chat(chat_type::PUBLIC, -1, "?arena")?;
        let list = a.wait_for(WAIT, |p| match p {
            S2CPacket::ArenaList(l) => Some(l.clone()),
            _ => None,
        })?;
        let duel = list
            .iter()
            .find(|e| e.name == "duel")
            .context("duel listed")?;
        assert_eq!(duel.players, -1, "alice's own arena, negated");
        let zero = list.iter().find(|e| e.name == "0").context("0 listed")?;
        assert_eq!(zero.players, 1);
        Ok(())
    });
}

#[test]
fn a_chat_flood_is_throttled_and_others_still_talk() {
    zone_test(&[], |zone| {
        let mut a = bot_in(zone, "flooder", "0", ship::SPECTATOR)?;
        let mut b = bot_in(zone, "listener", "0", ship::SPECTATOR)?;
        let mut c = bot_in(zone, "talker", "0", ship::SPECTATOR)?;
        let a_pid = wait_for_player(&mut b, "flooder")?;
        let c_pid = wait_for_player(&mut b, "talker")?;
        wait_for_player(&mut a, "talker")?;
        wait_for_player(&mut c, "listener")?;

        for i in 0..50 {
            a.chat(chat_type::PUBLIC, -1, &format!("flood {i}"))?;
        }
        let told = wait_message(&mut a, "for flooding")?;
        assert_eq!(told, "You have been shut up for 60 seconds for flooding.");

        // Chat of the others is unaffected; by the time the marker arrives
        // every relayed flood message has too (one realm, in order).
        c.chat(chat_type::PUBLIC, -1, "marker")?;
        b.wait_for(WAIT, |p| {
            matches!(p, S2CPacket::Chat(m) if m.pid == c_pid && m.text == "marker").then_some(())
        })?;
        let mut relayed = 0;
        while b
            .poll_for(Duration::ZERO, |p| {
                matches!(p, S2CPacket::Chat(m) if m.pid == a_pid).then_some(())
            })?
            .is_some()
        {
            relayed += 1;
        }
        // Chat:FloodLimit = 10; the count halves each second, so how many
        // pass depends on how the flood is spread over seconds (more on a
        // busy machine): at least the limit, and never the whole flood.
        assert!(
            (10..50).contains(&relayed),
            "{relayed} flood messages relayed"
        );
        // The flooder's ship change after the muted message is the marker.
        a.chat(chat_type::PUBLIC, -1, "am I muted?")?;
        a.set_ship(ship::WARBIRD)?;
        b.expect_none_before(
            |p| matches!(p, S2CPacket::ShipChange { pid, .. } if *pid == a_pid).then_some(()),
            |p| matches!(p, S2CPacket::Chat(m) if m.text == "am I muted?"),
        )?;
        Ok(())
    });
}

#[test]
fn staff_tools_work_across_realms() {
    staff_zone_test(&[("moddy", "mod"), ("smoddy", "smod")], |zone| {
        let mut moddy = bot_in(zone, "moddy", "0", ship::SPECTATOR)?;
        let mut smoddy = bot_in(zone, "smoddy", "1", ship::SPECTATOR)?;
        let mut pleb = bot_in(zone, "pleb", "1", ship::SPECTATOR)?;
        let pleb_pid = wait_for_player(&mut smoddy, "pleb")?;

        // ?z reaches every arena, signed.
        moddy.chat(chat_type::PUBLIC, -1, "?z hello zone")?;
        for bot in [&mut pleb, &mut smoddy] {
            assert_eq!(wait_message(bot, "hello zone")?, "hello zone  -moddy");
        }
        // Staff chat reaches staff in other arenas, not players.
        moddy.chat(chat_type::PUBLIC, -1, "\\staff only")?;
        let (kind, text) = smoddy.wait_for(WAIT, |p| match p {
            S2CPacket::Chat(c) if c.text.contains("staff only") => {
                Some((c.chat_type, c.text.clone()))
            }
            _ => None,
        })?;
        assert_eq!(
            (kind, text.as_str()),
            (chat_type::SYSOP_WARNING, "moddy> staff only")
        );
        // moddy's zone-wide message takes the staff message's path, later.
        moddy.chat(chat_type::PUBLIC, -1, "?z after staff")?;
        pleb.expect_none_before(
            |p| matches!(p, S2CPacket::Chat(c) if c.text.contains("after staff")).then_some(()),
            |p| matches!(p, S2CPacket::Chat(c) if c.text.contains("staff only")),
        )?;
        wait_message(&mut smoddy, "after staff")?;
        // ?listmod lists staff of every arena.
        pleb.chat(chat_type::PUBLIC, -1, "?listmod")?;
        // The realms answer in any order; "smoddy" contains "moddy".
        let line = pleb.wait_for(WAIT, |p| match p {
            S2CPacket::Chat(c)
                if c.pid == -1
                    && c.text
                        .trim_start_matches(':')
                        .trim_start()
                        .starts_with("moddy ") =>
            {
                Some(c.text.clone())
            }
            _ => None,
        })?;
        assert!(line.contains(" 0 ") && line.ends_with("mod"), "{line:?}");
        wait_message(&mut pleb, "smoddy")?;
        // ?lag for oneself, ?info on a player (smod only).
        pleb.chat(chat_type::PUBLIC, -1, "?lag")?;
        assert!(wait_message(&mut pleb, "lag: avg ping")?.contains("ploss"));
        smoddy.chat(chat_type::PRIVATE, pleb_pid, "?info")?;
        let info = wait_message(&mut smoddy, "pleb: pid=")?;
        assert!(info.contains("auth=n"), "{info:?}");
        wait_message(&mut smoddy, "pleb: arena=1")?;
        moddy.chat(chat_type::REMOTE_PRIVATE, -1, ":pleb:?info")?;
        wait_message(&mut moddy, "permission")?;
        Ok(())
    });
}

#[test]
fn realms_summary_is_for_staff_with_the_capability() {
    staff_zone_test(&[("smoddy", "smod")], |zone| {
        let mut smoddy = bot_in(zone, "smoddy", "0", ship::SPECTATOR)?;
        let mut pleb = bot_in(zone, "pleb", "1", ship::SPECTATOR)?;
        pleb.chat(chat_type::PUBLIC, -1, "?realms")?;
        wait_message(&mut pleb, "permission")?;
        smoddy.chat(chat_type::PUBLIC, -1, "?realms")?;
        let zone_line = wait_message(&mut smoddy, "zone: ")?;
        assert!(zone_line.contains("2 realms"), "{zone_line:?}");
        for name in ["0: running", "1: running"] {
            wait_message(&mut smoddy, name)?;
        }
        Ok(())
    });
}

#[test]
fn a_timed_kick_keeps_the_player_out() {
    staff_zone_test(&[("moddy", "mod")], |zone| {
        let mut victim = bot_in(zone, "victim", "0", ship::SPECTATOR)?;
        let mut moddy = bot_in(zone, "moddy", "0", ship::SPECTATOR)?;
        let victim_pid = wait_for_player(&mut moddy, "victim")?;
        moddy.chat(chat_type::PRIVATE, victim_pid, "?kick -t 60 cool off")?;
        assert_eq!(
            wait_message(&mut moddy, "Kicked")?,
            "Kicked 'victim' for 1 minute and 0 second(s).",
            "ASSS's wording"
        );
        victim.wait_disconnected(WAIT)?;
        // Coming back under the same name is refused while the time runs.
        let mut again = Bot::connect(zone.game_addr())?;
        let refused = again.login("victim", PASSWORD);
        let why = format!(
            "{:?}",
            refused.err().context("the kicked player logged in again")?
        );
        ensure!(
            why.contains("code 0x04"),
            "refused, but not as locked out: {why}"
        );
        // Others are not affected.
        let _other = bot_in(zone, "bystander", "0", ship::SPECTATOR)?;
        Ok(())
    });
}
