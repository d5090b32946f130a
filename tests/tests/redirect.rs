//! Redirects (S2C 0x3B): `?redirect` by staff, and arena names the zone
//! sends elsewhere (`[Redirects]`).
//!
//! Real binaries (`cargo build --workspace --bins` first); every wait is
//! bounded.

use std::net::Ipv4Addr;

use anyhow::{ensure, Context, Result};
use ss_proto::game::{chat_type, client_feature, C2SPacket, Redirect, S2CPacket};
use ss_proto::transport::{Priority, Reliability};
use ss_tests::bot::Bot;
use ss_tests::scenario::*;
use ss_tests::session::go_arena;
use ss_tests::zone::TestZone;

/// A zone folder where `staff` is an smod and `[Redirects]` names
/// `elsewhere`.
fn redirect_zone_test(staff: &str, body: impl FnOnce(&TestZone) -> Result<()>) {
    in_temp_dir("redirect", |dir| {
        let zone_dir = init_zone_folder(dir)?;
        add_staff(&zone_dir, &[(staff, "smod")])?;
        let conf = zone_dir.join("conf");
        let mut global = std::fs::read_to_string(conf.join("global.conf"))?;
        global.push_str("\n[Redirects]\nelsewhere = 127.0.0.2:6100:duel\n");
        std::fs::write(conf.join("global.conf"), global)?;
        body(&zone_from_folder(&zone_dir)?)
    });
}

fn wait_redirect(bot: &mut Bot) -> Result<Redirect> {
    bot.wait_for(WAIT, |p| match p {
        S2CPacket::Redirect(r) => Some(r.clone()),
        _ => None,
    })
    .context("waiting for a redirect (0x3B)")
}

#[test]
fn staff_redirect_reaches_the_client() {
    redirect_zone_test("Boss", |zone| {
        let mut boss = bot_in(zone, "Boss", "0", 8)?;
        let mut target = bot_in(zone, "Target", "0", 8)?;
        let target_pid = pid_of(&target);
        // In public: the issuer himself, to a literal address.
        boss.chat(chat_type::PUBLIC, -1, "?redirect 127.0.0.1:5999:pub")?;
        let r = wait_redirect(&mut boss)?;
        ensure!(
            r == Redirect::to(Ipv4Addr::LOCALHOST, 5999, Some("pub")),
            "{r:?}"
        );
        // Privately, by name from [Redirects].
        boss.chat(chat_type::PRIVATE, target_pid, "?redirect elsewhere")?;
        let r = wait_redirect(&mut target)?;
        ensure!(
            r == Redirect::to(Ipv4Addr::new(127, 0, 0, 2), 6100, Some("duel")),
            "{r:?}"
        );
        // A name that is neither is refused with a message.
        boss.chat(chat_type::PUBLIC, -1, "?redirect nowhere")?;
        boss.wait_for(WAIT, |p| match p {
            S2CPacket::Chat(c) if c.text.contains("nowhere is neither") => Some(()),
            _ => None,
        })?;
        // Players without the right get no redirect.
        target.chat(chat_type::PUBLIC, -1, "?redirect elsewhere")?;
        target.expect_none_before(
            |p| matches!(p, S2CPacket::Chat(c) if c.text.contains("permission")).then_some(()),
            |p| matches!(p, S2CPacket::Redirect(_)),
        )?;
        Ok(())
    });
}

#[test]
fn arena_request_for_a_redirect_name_is_redirected() {
    redirect_zone_test("Nobody", |zone| {
        let mut bot = Bot::connect(zone.game_addr())?;
        bot.login_with_features("Traveller", PASSWORD, client_feature::REDIRECT)?;
        bot.send(
            &C2SPacket::GoArena(go_arena("Elsewhere", 8)),
            Reliability::Reliable,
            Priority::Normal,
        )?;
        let r = wait_redirect(&mut bot)?;
        ensure!(
            r == Redirect::to(Ipv4Addr::new(127, 0, 0, 2), 6100, Some("duel")),
            "{r:?}"
        );
        // A client that cannot follow redirects enters an arena of that
        // name instead.
        let mut plain = Bot::connect(zone.game_addr())?;
        plain.login("Plain", PASSWORD)?;
        plain.enter_arena("elsewhere", 8)?;
        plain.expect_none_received(|p| matches!(p, S2CPacket::Redirect(_)))?;
        Ok(())
    });
}
